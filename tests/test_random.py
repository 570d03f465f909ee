"""Random variables on the Philox generator: known answers, state handling, statistics.

The ONNX streams differ from NumPy's, so draws are not compared with PyTensor's values:
the generator is checked against Philox's known-answer vectors, the samplers by goodness
of fit (Kolmogorov-Smirnov or chi-square, p > 1e-4) and moments (within 5 standard errors)
at fixed seeds, which makes every test deterministic. Shapes and dtypes are compared with
PyTensor's own draws.
"""

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
import pytensor.tensor.random.basic as rb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from pytensor.compile.mode import Mode
from pytensor.tensor.random.op import RandomVariableWithCoreShape
from pytensor.tensor.random.type import RandomGeneratorType
from scipy import stats

from pytensor_onnx import export_onnx
from pytensor_onnx.builder import GraphBuilder
from pytensor_onnx.dispatch import fgraph_to_onnx, onnx_typify
from pytensor_onnx.dispatch.philox import emit_philox, philox4x32_reference
from pytensor_onnx.dispatch.random import (
    STATE_MARKER,
    generator_to_state,
    is_rng_type,
    rng_value_info,
    state_to_generator,
    with_rng_states_as_tensors,
)

py_mode = Mode(linker="py", optimizer=None)
N = 20_000
P_MIN = 1e-4


# -- helpers -----------------------------------------------------------------------------------
def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def make_rv(rv, params, size=None, dtype=None, rng=None):
    """``(rng, next_rng, draws)`` for ``rv(*params)`` with an explicit generator input."""
    rng = RandomGeneratorType()("rng") if rng is None else rng
    kwargs = dict(size=size, rng=rng)
    if dtype is not None:
        kwargs["dtype"] = dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pytensor 3: hidden rng output
        draws = rv(*params, **kwargs)
    return rng, draws.owner.outputs[0], draws


def to_model(inputs, outputs):
    new_inputs, new_outputs, nodes = with_rng_states_as_tensors(inputs, outputs)
    model = fgraph_to_onnx(new_inputs, new_outputs, nodes)
    onnx.checker.check_model(model, full_check=True)
    return model


def sample(rv, params, size=(N,), dtype=None, seed=1):
    """``(next_state, draws)`` from an ONNX model of ``rv``, seeded with ``seed``."""
    rng, next_rng, draws = make_rv(rv, params, size, dtype)
    model = to_model([rng], [next_rng, draws])
    state = generator_to_state(np.random.default_rng(seed))
    return session(model).run(None, {"rng": state})


def assert_fits(draws, dist):
    """KS test against ``dist`` (a frozen scipy distribution) and the mean within 5 s.e."""
    draws = np.asarray(draws, dtype=np.float64)
    assert np.isfinite(draws).all()
    p_value = stats.kstest(draws, dist.cdf).pvalue
    assert p_value > P_MIN, f"KS p-value {p_value}"
    if np.isfinite(dist.var()):
        error = abs(draws.mean() - dist.mean()) / np.sqrt(dist.var() / draws.size)
        assert error < 5, f"mean {draws.mean()} vs {dist.mean()}: {error:.1f} s.e."


def assert_discrete_fits(draws, pmf, support):
    """Chi-square test of integer draws against ``pmf`` on ``support`` (tails pooled)."""
    draws = np.asarray(draws)
    assert set(np.unique(draws)) <= set(support)
    observed = np.array([(draws == k).sum() for k in support], dtype=np.float64)
    expected = pmf(np.asarray(support)) * draws.size
    keep = expected >= 20
    if expected[~keep].sum() > 0:  # the pooled tails
        observed = np.append(observed[keep], observed[~keep].sum())
        expected = np.append(expected[keep], expected[~keep].sum())
    else:
        observed, expected = observed[keep], expected[keep]
    expected *= observed.sum() / expected.sum()
    p_value = stats.chisquare(observed, expected).pvalue
    assert p_value > P_MIN, f"chi-square p-value {p_value}"


# -- the generator ---------------------------------------------------------------------------
# Random123's kat_vectors for philox4x32_10: (counter, key) -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def philox_model():
    builder = GraphBuilder()
    words = emit_philox(builder, "key", "even", "odd")
    builder.nodes.append(helper.make_node("Identity", [words], ["words"]))
    graph = helper.make_graph(
        builder.nodes,
        "philox",
        [
            helper.make_tensor_value_info(n, TensorProto.UINT64, None)
            for n in ("key", "even", "odd")
        ],
        [helper.make_tensor_value_info("words", TensorProto.UINT64, None)],
        initializer=builder.initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def run_philox(key, counters):
    counters = np.asarray(counters, dtype=np.uint64)
    feed = {
        "key": np.array(key, dtype=np.uint64).reshape(2, 1),
        "even": counters[:, [0, 2]].T.copy(),
        "odd": counters[:, [1, 3]].T.copy(),
    }
    return session(philox_model()).run(None, feed)[0].T


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    np.testing.assert_array_equal(philox4x32_reference(key, [counter])[0], expected)
    np.testing.assert_array_equal(run_philox(key, [counter])[0], expected)


def test_philox_onnx_matches_reference_on_random_counters():
    rng = np.random.default_rng(0)
    counters = rng.integers(0, 2**32, size=(2000, 4), dtype=np.uint64)
    for key in [(0, 0), (0xFFFFFFFF, 0xFFFFFFFF), (123456789, 0xDEADBEEF)]:
        np.testing.assert_array_equal(
            run_philox(key, counters), philox4x32_reference(key, counters)
        )


def test_philox_words_are_uniform():
    words = philox4x32_reference((7, 11), np.c_[np.arange(5000), np.zeros((5000, 3))])
    bits = np.unpackbits(words.astype(">u4").view(np.uint8)).reshape(-1, 32)
    # every bit position is a fair coin: 20000 words each
    error = np.abs(bits.mean(0) - 0.5) / np.sqrt(0.25 / bits.shape[0])
    assert error.max() < 5


# -- generator state ---------------------------------------------------------------------------
def test_generator_state_round_trip():
    state = np.array([2**64 - 1, 12345], dtype=np.uint64)
    generator = state_to_generator(state)
    assert isinstance(generator, np.random.Generator)
    assert int(generator.bit_generator.state["state"]["key"][1]) == STATE_MARKER
    np.testing.assert_array_equal(generator_to_state(generator), state)
    generator.normal(size=3)  # still a working NumPy generator
    assert generator_to_state(generator)[0] == state[0]


def test_generator_state_from_seed_is_deterministic_and_does_not_advance():
    generator = np.random.default_rng(42)
    before = generator.bit_generator.state
    state = generator_to_state(generator)
    assert generator.bit_generator.state == before
    assert state.dtype == np.uint64 and state.shape == (2,) and state[1] == 0
    np.testing.assert_array_equal(state, generator_to_state(np.random.default_rng(42)))
    assert generator_to_state(np.random.default_rng(43))[0] != state[0]
    generator.random()  # a generator that has advanced is another state
    assert generator_to_state(generator)[0] != state[0]
    # also other bit generators
    assert generator_to_state(np.random.Generator(np.random.MT19937(1)))[1] == 0


def test_generator_state_rejects_other_objects():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        generator_to_state(np.random.RandomState(0))


def test_onnx_typify_generator_and_value_info():
    tensor = onnx_typify(np.random.default_rng(3), name="rng")
    assert tensor.name == "rng" and tensor.data_type == TensorProto.UINT64
    np.testing.assert_array_equal(
        onnx.numpy_helper.to_array(tensor), generator_to_state(np.random.default_rng(3))
    )
    info = rng_value_info("rng")
    assert info.type.tensor_type.elem_type == TensorProto.UINT64
    assert [d.dim_value for d in info.type.tensor_type.shape.dim] == [2]
    assert is_rng_type(RandomGeneratorType()) and not is_rng_type(pt.vector().type)


# -- reproducibility and the next state -----------------------------------------------------------
def test_same_state_same_draws_in_two_sessions_and_states_advance():
    rng, next_rng, draws = make_rv(rb.normal, (0.0, 1.0), size=(1000,))
    model = to_model([rng], [next_rng, draws])
    serialized = onnx.load_from_string(model.SerializeToString())
    state = generator_to_state(np.random.default_rng(5))
    first = session(model).run(None, {"rng": state})
    second = session(serialized).run(None, {"rng": state})
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[0], second[0])
    next_state = first[0]
    # 1000 normals take 2000 uniforms of two words: 1000 blocks of 4 words.
    assert next_state[0] == state[0] and next_state[1] == state[1] + 1000
    following = session(model).run(None, {"rng": next_state})[1]
    assert not np.isin(following, first[1]).any()
    other_seed = session(model).run(None, {"rng": generator_to_state(np.random.default_rng(6))})
    assert not np.isin(other_seed[1], first[1]).any()


def test_rejection_sampler_state_advance_does_not_depend_on_values():
    # Gamma takes a data-dependent number of rounds; the state advances by a fixed amount.
    shape = pt.dscalar("shape")
    rng, next_rng, draws = make_rv(rb._gamma, (shape, 1.0), size=(100,))
    model = to_model([rng, shape], [next_rng, draws])
    state = np.array([9, 40], dtype=np.uint64)
    states = [
        session(model).run(None, {"rng": state, "shape": np.array(s)})[0] for s in (0.3, 1.0, 50.0)
    ]
    for s in states:
        np.testing.assert_array_equal(s, [9, 40 + 200])  # 100 x 4 uniforms x 2 words / 4


def test_chained_draws_use_the_next_state():
    rng = RandomGeneratorType()("rng")
    _, next_rng, first = make_rv(rb.uniform, (0.0, 1.0), size=(100,), rng=rng)
    _, last_rng, second = make_rv(rb.uniform, (0.0, 1.0), size=(100,), rng=next_rng)
    model = to_model([rng], [last_rng, first, second])
    state = np.array([1, 0], dtype=np.uint64)
    final, a, b = session(model).run(None, {"rng": state})
    assert not np.isin(a, b).any()
    np.testing.assert_array_equal(final, [1, 100])  # 2 x 100 uniforms of 2 words


def test_float32_uniforms_use_one_word():
    next_state, draws = sample(rb.uniform, (0.0, 1.0), size=(10,), dtype="float32")
    assert draws.dtype == np.float32
    assert next_state[1] == 3  # 10 words: 3 blocks
    assert ((draws * 2**24) == np.round(draws * 2**24)).all()  # 24-bit uniforms


# -- distributions --------------------------------------------------------------------------------
CONTINUOUS = [
    (rb.uniform, (2.0, 5.0), stats.uniform(2.0, 3.0)),
    (rb.normal, (1.0, 2.0), stats.norm(1.0, 2.0)),
    (rb.halfnormal, (1.0, 2.0), stats.halfnorm(1.0, 2.0)),
    (rb.lognormal, (0.5, 0.75), stats.lognorm(0.75, scale=np.exp(0.5))),
    (rb.exponential, (2.5,), stats.expon(scale=2.5)),
    (rb.cauchy, (1.0, 3.0), stats.cauchy(1.0, 3.0)),
    (rb._gamma, (0.3, 2.0), stats.gamma(0.3, scale=2.0)),
    (rb._gamma, (1.0, 1.0), stats.gamma(1.0)),
    (rb._gamma, (7.5, 0.5), stats.gamma(7.5, scale=0.5)),
    (rb.beta, (0.5, 0.5), stats.beta(0.5, 0.5)),
    (rb.beta, (2.0, 7.0), stats.beta(2.0, 7.0)),
    (rb.t, (3.0, 1.0, 2.0), stats.t(3.0, 1.0, 2.0)),
    (rb.t, (30.0, 0.0, 1.0), stats.t(30.0)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "rv, params, dist", CONTINUOUS, ids=[f"{c[0].name}{c[1]}" for c in CONTINUOUS]
)
def test_continuous_distribution(rv, params, dist, dtype):
    _, draws = sample(rv, params, dtype=dtype, seed=11)
    assert draws.dtype == dtype and draws.shape == (N,)
    assert_fits(draws, dist)


DISCRETE = [
    (rb.bernoulli, (0.3,), stats.bernoulli(0.3)),
    (rb.poisson, (0.2,), stats.poisson(0.2)),
    (rb.poisson, (4.5,), stats.poisson(4.5)),
    (rb.poisson, (10.0,), stats.poisson(10.0)),  # PTRS from 10 on
    (rb.poisson, (400.0,), stats.poisson(400.0)),
    (rb.binomial, (20, 0.3), stats.binom(20, 0.3)),
    (rb.binomial, (15, 0.9), stats.binom(15, 0.9)),
    (rb.binomial, (200, 0.4), stats.binom(200, 0.4)),  # BTRS
    (rb.binomial, (5000, 0.995), stats.binom(5000, 0.995)),  # BTRS, flipped
]


@pytest.mark.parametrize("rv, params, dist", DISCRETE, ids=[f"{c[0].name}{c[1]}" for c in DISCRETE])
def test_discrete_distribution(rv, params, dist):
    _, draws = sample(rv, params, seed=12)
    assert draws.dtype == np.int64 and draws.shape == (N,)
    low, high = dist.ppf(1e-9), dist.ppf(1 - 1e-9)
    assert_discrete_fits(draws, dist.pmf, np.arange(low, high + 1))
    error = abs(draws.mean() - dist.mean()) / np.sqrt(dist.var() / N)
    assert error < 5


def test_categorical_distribution():
    p = np.array([0.1, 0.0, 0.45, 0.05, 0.4])
    _, draws = sample(rb.categorical, (p,), seed=13)
    assert draws.dtype == np.int64 and draws.shape == (N,)
    assert (draws != 1).all()
    assert_discrete_fits(draws, lambda k: p[k], np.arange(5))


def test_categorical_batched_unnormalised():
    p = np.array([[1.0, 3.0], [3.0, 1.0]])  # unnormalised weights: as NumPy, scaled by total
    _, draws = sample(rb.categorical, (p / p.sum(-1, keepdims=True),), size=(N, 2), seed=3)
    assert draws.shape == (N, 2)
    for column, p_one in zip(draws.T, (0.75, 0.25)):
        assert abs(column.mean() - p_one) < 5 * np.sqrt(p_one * (1 - p_one) / N)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dirichlet_distribution(dtype):
    alpha = np.array([0.2, 1.0, 4.0])
    _, draws = sample(rb.dirichlet, (alpha,), dtype=dtype, seed=14)
    assert draws.shape == (N, 3) and draws.dtype == dtype
    np.testing.assert_allclose(draws.sum(-1), 1.0, rtol=1e-5 if dtype == "float32" else 1e-12)
    for i, a in enumerate(alpha):
        assert_fits(draws[:, i], stats.beta(a, alpha.sum() - a))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multivariate_normal_distribution(dtype):
    mean = np.array([1.0, -2.0, 0.5])
    a = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.4], [0.0, -0.4, 0.8]])
    cov = a @ a.T
    _, draws = sample(rb.multivariate_normal, (mean, cov), dtype=dtype, seed=15)
    assert draws.shape == (N, 3) and draws.dtype == dtype
    whitened = np.linalg.solve(np.linalg.cholesky(cov), (draws - mean).T)
    for row in whitened:
        assert_fits(row, stats.norm())
    # standard error of a sample covariance: sqrt((s_ii s_jj + s_ij^2) / N)
    standard_error = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / N)
    assert (np.abs(np.cov(draws.T) - cov) < 5 * standard_error).all()


def test_multivariate_normal_batched_covariances():
    covs = np.stack([np.eye(2), np.array([[4.0, 1.0], [1.0, 1.0]])])
    means = np.array([[0.0, 0.0], [10.0, -10.0]])
    _, draws = sample(rb.multivariate_normal, (means, covs), size=(N, 2), seed=2)
    assert draws.shape == (N, 2, 2)
    for i in range(2):
        np.testing.assert_allclose(draws[:, i].mean(0), means[i], atol=5 * 2 / np.sqrt(N))
        np.testing.assert_allclose(np.cov(draws[:, i].T), covs[i], atol=0.1)


def test_invalid_parameters_give_nan_or_minus_one():
    _, g = sample(rb._gamma, (np.array([-1.0, np.nan, 0.0, 2.0]), 1.0), size=None)
    assert np.isnan(g[:2]).all() and g[2] == 0.0 and g[3] > 0
    _, k = sample(rb.poisson, (np.array([-1.0, np.nan, 3.0]),), size=None)
    assert list(k[:2]) == [-1, -1] and k[2] >= 0
    _, k = sample(rb.binomial, (np.array([5, 5, -1]), np.array([1.5, np.nan, 0.5])), size=None)
    assert list(k) == [-1, -1, -1]
    _, k = sample(rb.bernoulli, (np.array([-0.1, 0.0, 1.0]),), size=None)
    assert list(k) == [-1, 0, 1]
    _, k = sample(rb.binomial, (np.array([0, 7, 7]), np.array([0.5, 0.0, 1.0])), size=None)
    assert list(k) == [0, 0, 7]


# -- shapes: size and broadcasting as PyTensor ------------------------------------------------
SHAPE_CASES = [
    (rb.normal, (np.zeros(3), np.ones((2, 1))), None),
    (rb.normal, (np.zeros(3), 1.0), (4, 3)),
    (rb.uniform, (0.0, 1.0), ()),
    (rb.uniform, (0.0, 1.0), None),
    (rb.poisson, (np.array([1.0, 30.0]),), (0, 2)),
    (rb._gamma, (np.array([0.5, 3.0]), 1.0), (3, 2)),
    (rb.binomial, (np.array([[10], [300]]), np.array([0.2, 0.5])), None),
    (rb.beta, (np.array([1.0, 2.0]), 3.0), (2, 2)),
    (rb.categorical, (np.full((2, 3), 1 / 3),), None),
    (rb.categorical, (np.full(3, 1 / 3),), (4, 2)),
    (rb.dirichlet, (np.ones((2, 3)),), None),
    (rb.dirichlet, (np.ones(3),), (0,)),
    (rb.multivariate_normal, (np.zeros(2), np.eye(2)), (5,)),
    (rb.multivariate_normal, (np.zeros((3, 2)), np.eye(2)), None),
    (rb.t, (np.array([3.0, 4.0]), 0.0, np.ones((2, 1))), None),
]


@pytest.mark.parametrize("rv, params, size", SHAPE_CASES)
def test_shape_and_dtype_match_pytensor(rv, params, size):
    rng, next_rng, draws = make_rv(rv, params, size)
    expected = pytensor.function([rng], draws, mode=py_mode)(np.random.default_rng(0))
    next_state, got = session(to_model([rng], [next_rng, draws])).run(
        None, {"rng": np.array([1, 0], dtype=np.uint64)}
    )
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert (next_state[1] > 0) == (got.size > 0)
    assert not np.isnan(got).any() if got.dtype.kind == "f" else (got >= 0).all()


def test_symbolic_size_and_parameters():
    size = pt.tensor("size", dtype="int64", shape=(2,))  # a size's length must be known
    loc = pt.dvector("loc")
    rng, next_rng, draws = make_rv(rb.normal, (loc, 1.0), size=size)
    model = to_model([rng, size, loc], [next_rng, draws])
    run = session(model).run
    state = np.array([3, 0], dtype=np.uint64)
    for shape in [(2, 3), (0, 3), (5, 1)]:
        loc_value = np.arange(shape[-1], dtype=np.float64) * 100
        next_state, got = run(None, {"rng": state, "size": np.array(shape), "loc": loc_value})
        assert got.shape == shape
        assert next_state[1] == np.prod(shape)  # 2 uniforms of 2 words per draw
        if got.size:
            assert np.abs(got - loc_value).max() < 7


@settings(max_examples=15, deadline=None)
@given(
    shapes=st.lists(st.lists(st.integers(0, 3), min_size=0, max_size=3), min_size=2, max_size=2),
)
def test_broadcast_shapes_property(shapes):
    shapes = [tuple(s) for s in shapes]
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        return
    loc = pt.tensor("loc", shape=(None,) * len(shapes[0]))
    scale = pt.tensor("scale", shape=(None,) * len(shapes[1]))
    rng, next_rng, draws = make_rv(rb.normal, (loc, scale))
    model = to_model([rng, loc, scale], [next_rng, draws])
    _, got = session(model).run(
        None,
        {
            "rng": np.array([0, 0], np.uint64),
            "loc": np.zeros(shapes[0]),
            "scale": np.ones(shapes[1]),
        },
    )
    assert got.shape == expected


def test_core_shape_wrapper_converts_as_the_random_variable():
    rng, next_rng, draws = make_rv(rb.dirichlet, (np.ones(3),), size=(4,))
    node = draws.owner
    core_shape = pt.as_tensor(np.array([3], dtype="int64"))
    wrapped = RandomVariableWithCoreShape([core_shape, *node.inputs], node.outputs).make_node(
        core_shape, *node.inputs
    )
    model = to_model([rng], wrapped.outputs)
    state = np.array([5, 0], dtype=np.uint64)
    got = session(model).run(None, {"rng": state})
    direct = session(to_model([rng], [next_rng, draws])).run(None, {"rng": state})
    np.testing.assert_array_equal(got[1], direct[1])
    np.testing.assert_array_equal(got[0], direct[0])


# -- refusals ---------------------------------------------------------------------------------
def test_unsupported_random_variable_message():
    rng, next_rng, draws = make_rv(rb.hypergeometric, (10, 5, 3))
    with pytest.raises(NotImplementedError, match="'hypergeometric'.*no ONNX sampler.*NormalRV"):
        to_model([rng], [next_rng, draws])


def test_fgraph_to_onnx_makes_generators_state_tensors():
    # fgraph_to_onnx converts every generator to a uint64 [key, counter] state: a generator
    # input is a state input named after it, a next generator a state output.
    rng, next_rng, draws = make_rv(rb.normal, (0.0, 1.0), size=(4,))
    model = fgraph_to_onnx([rng], [next_rng, draws], [draws.owner])
    (state_input,) = model.graph.input
    assert state_input.name == "rng"
    assert state_input.type.tensor_type.elem_type == onnx.TensorProto.UINT64
    assert [d.dim_value for d in state_input.type.tensor_type.shape.dim] == [2]
    state = generator_to_state(np.random.default_rng(3))
    next_state, values = session(model).run(None, {"rng": state})
    assert next_state[0] == state[0] and next_state[1] > state[1]
    assert values.shape == (4,) and np.isfinite(values).all()


def test_onnx_mode_function_with_a_shared_generator():
    # pytensor.function(mode="ONNX"): the shared Generator is fed as its state and its
    # update comes back as a Generator; draws advance across calls and repeat after reset.
    shared_rng = pytensor.shared(np.random.default_rng(7), name="rng")
    next_rng, draws = rb.normal(0.0, 1.0, size=(5,), rng=shared_rng).owner.outputs
    fn = pytensor.function([], draws, updates={shared_rng: next_rng}, mode="ONNX")
    first, second = fn(), fn()
    assert isinstance(shared_rng.get_value(), np.random.Generator)
    assert not np.allclose(first, second)
    shared_rng.set_value(np.random.default_rng(7))
    np.testing.assert_array_equal(fn(), first)
    # Without an update (PyTensor's own behaviour) every call draws the same numbers.
    same = pytensor.function([], draws, mode="ONNX")
    np.testing.assert_array_equal(same(), same())


def test_export_with_the_generator_as_an_input():
    # A generator listed in inputs is a state input; its next state can be an output.
    # A shared generator that is not listed is stored in the model as a constant state.
    shared_rng = pytensor.shared(np.random.default_rng(7), name="rng")
    mu = pt.dscalar("mu")
    next_rng, draws = rb.normal(mu, 1.0, size=(3,), rng=shared_rng).owner.outputs
    model = export_onnx([mu, shared_rng], [draws, next_rng], output_names=["draws", "rng_next"])
    assert [i.name for i in model.graph.input] == ["mu", "rng"]
    feed = {"mu": np.array(10.0), "rng": generator_to_state(np.random.default_rng(1))}
    draws1, state1 = session(model).run(None, feed)
    draws2, _ = session(model).run(None, feed)
    np.testing.assert_array_equal(draws1, draws2)
    draws3, _ = session(model).run(None, {**feed, "rng": state1})
    assert not np.allclose(draws1, draws3)
    baked = export_onnx([mu], draws)
    assert [i.name for i in baked.graph.input] == ["mu"]
    assert np.isfinite(session(baked).run(None, {"mu": np.array(0.0)})[0]).all()


def test_float16_draws_are_computed_in_float32():
    _, draws = sample(rb.normal, (0.0, 1.0), dtype="float16", seed=4)
    assert draws.dtype == np.float16 and draws.shape == (N,)
    assert_fits(draws, stats.norm())
