"""Scan -> ONNX Loop, compared with PyTensor's Python implementation of Scan.

Every graph runs in two modes: ``RAW`` (no rewrites: the Scan node PyTensor built reaches
the converter as it is) and the default ONNX mode (rewrites, among them scan_save_mem, which
shrinks buffers to the entries used, and the scan push-outs).
"""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode
from pytensor.scan.op import Scan
from pytensor.scan.utils import until

from pytensor_onnx import ONNXLinker
from pytensor_onnx.mode import ONNX_REWRITES, ONNXMode, onnx_mode
from tests.test_basic import assert_same, compare_onnx_and_py

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
REWRITE = onnx_mode(intra_op_num_threads=1)
# What PyTensor's JAX and Numba modes run, and the ONNX mode: scan_save_mem without
# preallocation (the scan outputs' buffers shortened to the entries that are read).
SAVE_MEM = ONNXMode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=ONNX_REWRITES)
MODES = pytest.mark.parametrize("mode", [RAW, REWRITE], ids=["raw", "rewrite"])
FLOATS = pytest.mark.parametrize("dtype", ["float32", "float64"])


def scan(*args, **kwargs):
    return pytensor.scan(*args, return_updates=False, **kwargs)


def scan_nodes(fn):
    return [node for node in fn.maker.fgraph.apply_nodes if isinstance(node.op, Scan)]


def loop_nodes(graph):
    """Every Loop node of an ONNX graph, nested ones included."""
    found = []
    for node in graph.node:
        if node.op_type == "Loop":
            found.append(node)
        for attribute in node.attribute:
            if attribute.type == attribute.GRAPH:
                found += loop_nodes(attribute.g)
    return found


def compare(inputs, outputs, values, mode, loop=True, **kwargs):
    """Compare with PyTensor. In RAW mode, also check that the Scan reached the converter
    and became a Loop (``loop``) or, for a map, vectorised ONNX without any Loop."""
    fn, result = compare_onnx_and_py(inputs, outputs, values, onnx_mode=mode, **kwargs)
    if mode is RAW:
        assert scan_nodes(fn)
        assert bool(loop_nodes(fn.maker.linker.onnx_model.graph)) == loop
    return fn, result


def edge_vector(dtype):
    return np.array([0.0, -1.5, 2.0, np.inf, -np.inf, np.nan, 3.25, -0.0], dtype=dtype)


@MODES
@FLOATS
def test_cumsum(mode, dtype):
    x = pt.vector("x", dtype=dtype)
    ys = scan(lambda a, s: s + a, sequences=[x], outputs_info=[pt.zeros((), dtype=dtype)])
    compare([x], [ys], [np.arange(1, 7, dtype=dtype)], mode)
    compare([x], [ys], [edge_vector(dtype)], mode)
    compare([x], [ys], [np.zeros(0, dtype)], mode)


@MODES
@FLOATS
def test_cumprod_of_static_shape_rows(mode, dtype):
    x = pt.matrix("x", dtype=dtype, shape=(4, 3))
    ys = scan(lambda a, p: p * a, sequences=[x], outputs_info=[pt.ones((3,), dtype=dtype)])
    values = np.array([[1, -2, 0.5], [3, np.inf, -1], [0, 2, np.nan], [-0.5, 1.5, 2]], dtype=dtype)
    compare([x], [ys, ys[-1]], [values], mode)


@MODES
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_fibonacci_mit_sot_with_symbolic_n_steps(mode, dtype):
    init = pt.vector("init", dtype=dtype)
    k = pt.scalar("k", dtype="int64")
    fib = scan(
        lambda older, old: older + old,
        outputs_info=[{"initial": init, "taps": [-2, -1]}],
        n_steps=k,
    )
    for steps in (0, 1, 2, 10):
        compare([init, k], [fib], [np.array([1, 1], dtype=dtype), np.array(steps)], mode)


@MODES
def test_mit_sot_with_distant_taps(mode):
    # taps [-3, -1]: the window carries three values; the middle one is never read.
    init = pt.vector("init")
    k = pt.scalar("k", dtype="int64")
    seq = scan(
        lambda a, c: 0.5 * a - c,
        outputs_info=[{"initial": init, "taps": [-3, -1]}],
        n_steps=k,
    )
    for steps in (0, 5):
        compare([init, k], [seq], [np.array([1.0, -2.0, 3.0]), np.array(steps)], mode)


@MODES
@FLOATS
def test_map_with_non_sequences(mode, dtype):
    x = pt.matrix("x", dtype=dtype)
    w = pt.vector("w", dtype=dtype)
    b = pt.scalar("b", dtype=dtype)
    ys = scan(lambda row, w, b: pt.tanh(row * w).sum() + b, sequences=[x], non_sequences=[w, b])
    rng = np.random.default_rng(0)
    compare(
        [x, w, b],
        [ys],
        [
            rng.normal(size=(5, 3)).astype(dtype),
            rng.normal(size=3).astype(dtype),
            dtype_(1.5, dtype),
        ],
        mode,
        loop=False,  # a map is computed for all rows at once
    )
    # no rows: PyTensor returns an empty nit-sot of shape (0,)
    compare(
        [x, w, b],
        [ys],
        [np.zeros((0, 3), dtype), np.ones(3, dtype), dtype_(0.0, dtype)],
        mode,
        loop=False,
    )


def dtype_(value, dtype):
    return np.asarray(value, dtype=dtype)


@MODES
def test_map_of_two_sequences_truncated_with_a_constant_output(mode):
    # Two sequences of different lengths and ranks, n_steps shorter than both, and an
    # output that is the same for every step (broadcast over the steps).
    x = pt.matrix("x")
    y = pt.vector("y", dtype="float32")
    k = pt.scalar("k", dtype="int64")
    w = pt.vector("w")
    ys, same, ints = scan(
        lambda row, v, w: (row @ w + v, w.sum(), pt.argmax(row)),
        sequences=[x, y],
        non_sequences=[w],
        n_steps=k,
    )
    values = [np.arange(12.0).reshape(4, 3), np.arange(6, dtype="float32"), None, np.ones(3)]
    for steps in (0, 2, 4):
        values[2] = np.array(steps)
        compare([x, y, k, w], [ys, same, ints], values, mode, loop=False)


@settings(max_examples=8, deadline=None)
@given(
    rows=st.integers(0, 5),
    shape=st.lists(st.integers(0, 3), min_size=0, max_size=2),
    axis=st.integers(0, 2),
)
def test_vectorised_map_property(rows, shape, axis):
    # Any row shape (empty ones too), reduced over any of its axes or not at all. The
    # reference is NumPy: PyTensor's Python Scan once returned its input row here (a
    # (1, 1) input, after other examples), which we could not reproduce alone.
    x = pt.tensor("x", shape=(None,) * (1 + len(shape)))
    reduce = axis < len(shape)

    def step(row):
        out = pt.exp(row) - row
        return out.sum(axis=axis) if reduce else out

    ys = scan(step, sequences=[x])
    values = np.random.default_rng(rows).normal(size=(rows, *shape))
    fn = pytensor.function([x], ys, mode=RAW)
    expected = np.exp(values) - values
    if reduce:
        expected = expected.sum(axis=axis + 1)
    if rows == 0:  # PyTensor's 0-step nit-sot shape
        expected = expected.reshape((0,) * expected.ndim)
    assert_same(fn(values), expected)
    assert not loop_nodes(fn.maker.linker.onnx_model.graph)


@MODES
def test_matrix_nit_sot_of_an_empty_scan_has_pytensors_shape(mode):
    # PyTensor's Scan.perform gives every nit-sot of a 0-step scan the shape (0, 0, ...).
    x = pt.matrix("x")
    ys = scan(lambda row: pt.outer(row, row), sequences=[x])
    compare([x], [ys], [np.zeros((0, 2))], mode, loop=False)
    compare([x], [ys], [np.arange(6.0).reshape(3, 2)], mode, loop=False)


@MODES
@FLOATS
def test_several_outputs_of_mixed_kinds(mode, dtype):
    x = pt.vector("x", dtype=dtype)
    c = pt.scalar("c", dtype=dtype)

    def step(a, older, old, total, c):
        new = 0.5 * older + old * c + a
        return new, total + new, new * a  # mit-sot, sit-sot, nit-sot

    (seq, totals, products) = scan(
        step,
        sequences=[x],
        outputs_info=[
            {"initial": pt.zeros((2,), dtype=dtype), "taps": [-2, -1]},
            pt.zeros((), dtype=dtype),
            None,
        ],
        non_sequences=[c],
    )
    values = [np.array([1, -2, 3, 0.5, 2], dtype=dtype), dtype_(0.25, dtype)]
    compare([x, c], [seq, totals, products], values, mode)
    # Partially used outputs: scan_save_mem keeps the entries used (one of `totals`).
    for partial_mode in (mode, SAVE_MEM):
        compare([x, c], [totals[-1], products[-2:]], values, partial_mode)
        compare([x, c], [seq[-3]], values, partial_mode)


@pytest.mark.parametrize("used", ["last", "last_three", "all"])
def test_buffers_shortened_by_scan_save_mem(used):
    # With scan_save_mem a buffer keeps only the entries used after the scan, written
    # circularly by PyTensor: the converter must return the same last entries.
    x = pt.vector("x")
    k = pt.scalar("k", dtype="int64")

    def step(a, older, old, total):
        new = older - 0.5 * old + a
        return new, total + new * new

    seq, totals = scan(
        step,
        sequences=[x],
        outputs_info=[{"initial": pt.as_tensor([1.0, 2.0]), "taps": [-2, -1]}, pt.zeros(())],
        n_steps=k,
    )
    outputs = {
        "last": [seq[-1], totals[-1]],
        "last_three": [seq[-3:], totals[-3:]],
        "all": [seq, totals],
    }[used]
    for steps in (1, 2, 6):
        fn, _ = compare([x, k], outputs, [np.linspace(-1, 1, 6), np.array(steps)], SAVE_MEM)
    (node,) = scan_nodes(fn)
    buffer_length = pytensor.function(
        fn.maker.fgraph.inputs,
        node.inputs[2].shape[0],  # the mit-sot's buffer
        mode=Mode(linker="py", optimizer=None),
        on_unused_input="ignore",
    )(np.zeros(6), np.array(6))
    assert buffer_length == (8 if used == "all" else {"last": 2, "last_three": 3}[used])


@MODES
@FLOATS
def test_while_scan_trims_outputs_to_the_steps_run(mode, dtype):
    x0 = pt.scalar("x0", dtype=dtype)
    limit = pt.scalar("limit", dtype=dtype)

    def step(x, limit):
        new = x * 2
        return (new, new + 1), until(new > limit)

    (doubled, plus_one) = scan(step, outputs_info=[x0, None], non_sequences=[limit], n_steps=10)
    for start, stop in [(1.0, 20.0), (1.0, 1e6), (5.0, 0.0), (np.nan, 1.0), (-1.0, 0.0)]:
        compare([x0, limit], [doubled, plus_one], [dtype_(start, dtype), dtype_(stop, dtype)], mode)


@MODES
def test_while_scan_with_sequence_and_mit_sot(mode):
    x = pt.vector("x")

    def step(a, older, old):
        new = older + old + a
        return new, until(new > 10)

    ys = scan(step, sequences=[x], outputs_info=[{"initial": pt.ones(2), "taps": [-2, -1]}])
    compare([x], [ys], [np.arange(8.0)], mode)
    compare([x], [ys], [np.zeros(3)], mode)  # never stops early


@pytest.mark.parametrize("mode", [RAW, REWRITE], ids=["raw", "rewrite"])
def test_shared_variable_updates(mode):
    def build(mode):
        counter = pytensor.shared(np.int64(0), name="counter")
        total = pytensor.shared(np.float64(1.0), name="total")
        x = pt.vector("x")

        def step(a):
            return {counter: counter + 1, total: total * 2 + a}

        with warnings.catch_warnings():
            # pytensor 3 deprecates returning updates; shared updates still need them.
            warnings.simplefilter("ignore", DeprecationWarning)
            _, updates = pytensor.scan(step, sequences=[x], return_updates=True)
        return pytensor.function([x], [], updates=updates, mode=mode), counter, total

    onnx_fn, onnx_counter, onnx_total = build(mode)
    py_fn, py_counter, py_total = build(Mode(linker="py", optimizer=None))
    if mode is RAW:
        assert scan_nodes(onnx_fn)
    for values in (np.arange(3.0), np.array([-1.0, 0.5])):
        onnx_fn(values)
        py_fn(values)
        assert_same(onnx_counter.get_value(), py_counter.get_value())
        assert_same(onnx_total.get_value(), py_total.get_value())
    assert onnx_counter.get_value() == 5


@MODES
def test_symbolic_n_steps_without_sequences(mode):
    k = pt.scalar("k", dtype="int32")
    x0 = pt.vector("x0", shape=(2,))
    ys = scan(lambda x: pt.stack([x[1], -x[0]]) * 0.5, outputs_info=[x0], n_steps=k)
    for steps in (0, 1, 7):
        compare([k, x0], [ys], [np.array(steps, "int32"), np.array([1.0, 2.0])], mode)


@MODES
def test_n_steps_shorter_than_the_sequence(mode):
    # A truncated scan: only the first n_steps rows of the sequence are used.
    x = pt.vector("x")
    k = pt.scalar("k", dtype="int64")
    ys = scan(lambda a, s: s + a * a, sequences=[x], outputs_info=[pt.zeros(())], n_steps=k)
    compare([x, k], [ys], [np.arange(6.0), np.array(3)], mode)


def ar1_logp(dtype):
    y = pt.vector("y", dtype=dtype)
    rho = pt.scalar("rho", dtype=dtype)
    sigma = pt.scalar("sigma", dtype=dtype)

    def step(y_t, y_prev, rho, sigma):
        resid = (y_t - rho * y_prev) / sigma
        return -0.5 * resid**2 - pt.log(sigma) - 0.5 * np.log(2 * np.pi).astype(dtype)

    terms = scan(step, sequences=[y[1:], y[:-1]], non_sequences=[rho, sigma])
    return [y, rho, sigma], terms.sum()


@MODES
@FLOATS
def test_ar1_logp_and_its_gradient(mode, dtype):
    (y, rho, sigma), logp = ar1_logp(dtype)
    grads = pt.grad(logp, [rho, sigma, y])
    rng = np.random.default_rng(1)
    values = [
        np.cumsum(rng.normal(size=30)).astype(dtype),
        dtype_(0.7, dtype),
        dtype_(1.3, dtype),
    ]
    # float32: the sums over 29 steps differ from PyTensor's by up to ~2e-6 relative
    # (measured 1.1e-6), summed in another order.
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {}
    fn, _ = compare(
        [y, rho, sigma],
        [logp, *grads],
        values,
        mode,
        assert_fn=lambda o, p: assert_same(o, p, **tolerance),
    )


def test_gradient_scan_has_mit_mot():
    # The gradient of a recurrence is a Scan with mit-mot outputs (PyTensor's backward
    # pass): the Loop carries their buffers.
    x0 = pt.scalar("x0")
    w = pt.scalar("w")
    ys = scan(lambda x, w: pt.sin(x * w), outputs_info=[x0], non_sequences=[w], n_steps=6)
    cost = ys.sum()
    grads = pt.grad(cost, [x0, w])
    fn, _ = compare([x0, w], [cost, *grads], [np.array(0.3), np.array(1.7)], RAW)
    assert any(node.op.info.n_mit_mot > 0 for node in scan_nodes(fn))
    compare([x0, w], [cost, *grads], [np.array(0.3), np.array(1.7)], REWRITE)


@MODES
@FLOATS
def test_gaussian_random_walk(mode, dtype):
    innovations = pt.vector("innovations", dtype=dtype)
    mu = pt.scalar("mu", dtype=dtype)
    sigma = pt.scalar("sigma", dtype=dtype)
    init = pt.scalar("init", dtype=dtype)
    walk = scan(
        lambda eps, x, mu, sigma: x + mu + sigma * eps,
        sequences=[innovations],
        outputs_info=[init],
        non_sequences=[mu, sigma],
    )
    walk = pt.concatenate([init[None], walk])
    logp = (-0.5 * ((walk[1:] - walk[:-1] - mu) / sigma) ** 2).sum()
    rng = np.random.default_rng(2)
    values = [
        rng.normal(size=50).astype(dtype),
        dtype_(0.1, dtype),
        dtype_(0.5, dtype),
        dtype_(-1.0, dtype),
    ]
    # float32: the walk accumulates 50 roundings; measured relative error 3e-6.
    tolerance = {"rtol": 2e-5, "atol": 2e-5} if dtype == "float32" else {}
    compare(
        [innovations, mu, sigma, init],
        [walk, logp, pt.grad(logp, mu)],
        values,
        mode,
        assert_fn=lambda o, p: assert_same(o, p, **tolerance),
    )


@MODES
def test_nested_scan(mode):
    x = pt.matrix("x")

    def row_cumsum(row):
        return scan(lambda a, s: s + a, sequences=[row], outputs_info=[pt.zeros(())])

    def outer_step(row, acc):
        return acc + row_cumsum(row)

    ys = scan(outer_step, sequences=[x], outputs_info=[pt.zeros((x.shape[1],))])
    fn, _ = compare([x], [ys], [np.arange(12.0).reshape(3, 4)], mode)
    if mode is RAW:
        assert len(loop_nodes(fn.maker.linker.onnx_model.graph)) == 2


def test_unsupported_inner_op_is_named():
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class Opaque(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, outputs):
            outputs[0][0] = inputs[0]

    x = pt.vector("x")
    ys = scan(lambda a: Opaque()(a), sequences=[x])
    with pytest.raises(NotImplementedError, match="Scan.*Opaque"):
        pytensor.function([x], ys, mode=RAW)


@settings(max_examples=8, deadline=None)
@given(
    taps=st.sets(st.integers(-4, -1), min_size=1, max_size=3).map(sorted),
    n_steps=st.integers(0, 6),
    keep=st.integers(1, 4),
)
def test_mit_sot_taps_and_kept_entries_property(taps, n_steps, keep):
    # Any taps, any number of steps, and only the last `keep` entries used (rewrites make
    # the buffer that short, when it is shorter than the full trace).
    init = pt.vector("init")
    k = pt.scalar("k", dtype="int64")

    def step(*args):
        return sum((0.5 + i) * a for i, a in enumerate(args)) - 1

    seq = scan(step, outputs_info=[{"initial": init, "taps": taps}], n_steps=k)
    values = [np.linspace(-1, 2, -taps[0]), np.array(n_steps)]
    compare([init, k], [seq[-keep:]] if keep <= n_steps else [seq], values, SAVE_MEM)


def test_scan_carrying_a_random_generator():
    # A random walk drawn inside the scan, its generator a shared (untraced) state of the
    # loop, as PyMC's AR and random-walk samplers build: the ONNX state is carried by the
    # Loop and returned as the shared generator's update.
    rng = pytensor.shared(np.random.default_rng(0), name="rng")

    def step(previous, rng):
        next_rng, noise = pt.random.normal(0.0, 1.0, rng=rng).owner.outputs
        return previous + noise, {rng: next_rng}

    walk, updates = pytensor.scan(
        step, outputs_info=[pt.constant(0.0, dtype="float64")], non_sequences=[rng], n_steps=4000
    )
    fn = pytensor.function([], walk, updates=updates, mode=REWRITE)
    first, second = fn(), fn()
    steps = np.diff(first, prepend=0.0)
    assert first.shape == (4000,)
    assert abs(steps.mean()) < 5 / np.sqrt(4000) and abs(steps.std() - 1) < 5 / np.sqrt(2 * 4000)
    assert not np.allclose(first, second)  # the generator advanced
    rng.set_value(np.random.default_rng(0))
    np.testing.assert_array_equal(fn(), first)
