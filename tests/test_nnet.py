"""Neural-network patterns: activations, softmax and its gradient, logsumexp, an MLP.

No converter is specific to these: each pattern is the graph PyTensor builds from its
elementwise, reduction, softmax and BLAS ops (``SoftmaxGrad`` on pytensor 2.x, an
elementwise graph on 3.0). Each runs in float32 and float64, through the default ONNX
mode (PyTensor's rewrites: stabilisations, fusions, BLAS) and without rewrites (``RAW``),
on values including 0, +-large, +-inf and NaN.
"""

import numpy as np
import onnxruntime
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode

from pytensor_onnx import export_function_onnx
from pytensor_onnx.mode import onnx_mode
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types, py_mode
from tests.test_slinalg import FLOAT_DTYPES, RAW

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FAST = onnx_mode(intra_op_num_threads=1)
# The rewritten graph is checked against the same rewrites run by PyTensor's Python
# linker: the stabilisations (log(sigmoid), logsumexp) change results at the extremes.
PY_FAST = Mode(linker="py", optimizer="fast_run")
MODES = {"rewritten": (FAST, PY_FAST), "raw": (RAW, py_mode)}


def edge_values(dtype):
    big = np.finfo(dtype).max
    values = [0.0, -0.0, 1.0, -1.0, 0.5, -3.0, 7.0, 30.0, -30.0, 100.0, -100.0, 800.0, -800.0]
    return np.array([*values, big, -big, np.inf, -np.inf, np.nan], dtype=dtype)


def tolerance(dtype, factor=1.0):
    """Elementwise chains: a few ulps (float64 Erf/Tanh are composed in float64 here)."""
    eps = np.finfo(dtype).eps
    return dict(rtol=8 * eps * factor, atol=8 * eps * factor)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _c(value, x):
    """A constant of x's dtype (a Python float that float32 cannot hold upcasts)."""
    return np.asarray(value, dtype=x.dtype)


ACTIVATIONS = {
    "relu_maximum": lambda x: pt.maximum(x, 0),
    "relu_switch": lambda x: pt.switch(x > 0, x, 0),
    "elu": lambda x: pt.switch(x > 0, x, 1.0 * pt.expm1(x)),
    "elu_exp": lambda x: pt.switch(x > 0, x, 0.5 * (pt.exp(x) - 1)),
    "selu": lambda x: _c(SELU_SCALE, x) * pt.switch(x > 0, x, _c(SELU_ALPHA, x) * pt.expm1(x)),
    "gelu_erf": lambda x: 0.5 * x * (1 + pt.erf(x / _c(np.sqrt(2.0), x))),
    "gelu_tanh": lambda x: (
        0.5 * x * (1 + pt.tanh(_c(np.sqrt(2 / np.pi), x) * (x + _c(0.044715, x) * x**3)))
    ),
    "softplus": pt.softplus,
    "sigmoid": pt.sigmoid,
    "log_sigmoid": lambda x: -pt.softplus(-x),
    "log_of_sigmoid": lambda x: pt.log(pt.sigmoid(x)),  # rewritten to the stable form
    "silu": lambda x: x * pt.sigmoid(x),
}


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(name, dtype, mode):
    x = pt.vector("x", dtype=dtype)
    onnx_mode_, reference_mode = MODES[mode]
    out = ACTIVATIONS[name](x)
    assert out.dtype == dtype
    # gelu_tanh's x**3 loses a few more ulps near the tanh's saturation.
    factor = 4.0 if name.startswith("gelu") else 1.0
    compare_onnx_and_py(
        [x],
        out,
        [edge_values(dtype)],
        onnx_mode=onnx_mode_,
        py_mode=reference_mode,
        assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, factor)),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_activation_gradients(dtype):
    x = pt.vector("x", dtype=dtype)
    costs = [ACTIVATIONS[name](x).sum() for name in ("elu", "selu", "gelu_erf", "softplus")]
    grads = [pytensor.grad(cost, x) for cost in costs]
    grads.append(pytensor.grad(pt.maximum(x, 0).sum(), x))
    values = np.linspace(-6, 6, 25).astype(dtype)
    compare_onnx_and_py(
        [x],
        grads,
        [values],
        onnx_mode=FAST,
        assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, 4.0)),
    )


def test_softplus_float64_does_not_overflow():
    # onnxruntime's float64 Softplus is log(exp(x) + 1): inf above ~709.
    x = pt.vector("x")
    values = np.array([700.0, 710.0, 1e5, 1e308, -1e308, -745.0])
    _, result = compare_onnx_and_py([x], pt.softplus(x), [values], onnx_mode=FAST)
    assert np.isfinite(result[:5]).all()


# -- softmax family ----------------------------------------------------------------------
AXES = [None, 0, 1, -1, (0, 2)]


def logits_value(rng, dtype, shape=(3, 4, 5)):
    value = rng.normal(size=shape) * 10
    value[0, 0] = 0  # a row of equal entries
    value[1, 1, :2] = -np.inf  # some impossible classes
    value[2, 2, 1] = 1e4  # overflows a naive exp
    return value.astype(dtype)


def _axis_id(axis):
    return str(axis)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=_axis_id)
def test_softmax_log_softmax_and_gradients(dtype, axis):
    rng = np.random.default_rng(50)
    x = pt.tensor3("x", dtype=dtype)
    w = pt.tensor3("w", dtype=dtype)
    sm = pt.special.softmax(x, axis=axis)
    lsm = pt.special.log_softmax(x, axis=axis)
    # Weighted sums: the gradients' non-trivial part (a plain sum has zero gradient).
    grads = pytensor.grad((sm * w).sum() + (pt.exp(lsm) * w).sum(), x)
    value = rng.normal(size=(3, 4, 5)).astype(dtype) * 5
    value[0, 0] = 0
    weights = rng.normal(size=(3, 4, 5)).astype(dtype)
    for mode, reference in MODES.values():
        compare_onnx_and_py(
            [x, w],
            [sm, lsm, grads],
            [value, weights],
            onnx_mode=mode,
            py_mode=reference,
            assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, 16.0)),
        )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_extreme_values(dtype):
    # Rows with -inf entries, a 1e4 outlier and all-equal entries: the max-shifted forms
    # stay finite. Rows that are all -inf are NaN in PyTensor too.
    rng = np.random.default_rng(51)
    x = pt.tensor3("x", dtype=dtype)
    value = logits_value(rng, dtype)
    value[2, 0] = -np.inf
    outs = [pt.special.softmax(x, axis=-1), pt.special.log_softmax(x, axis=-1)]
    for mode, reference in MODES.values():
        _, (sm, lsm) = compare_onnx_and_py(
            [x],
            outs,
            [value],
            onnx_mode=mode,
            py_mode=reference,
            assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, 16.0)),
        )
        assert np.isfinite(sm[:2]).all()
        assert np.isnan(sm[2, 0]).all()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("axis", AXES, ids=_axis_id)
def test_logsumexp(dtype, axis):
    rng = np.random.default_rng(52)
    x = pt.tensor3("x", dtype=dtype)
    value = logits_value(rng, dtype)
    big = np.finfo(dtype).max
    value[0, 1] = big / 2  # 1e308 in float64: exp overflows without the shift
    value[0, 2, 0] = big
    value[1, 2] = -np.inf  # log(0) = -inf, no NaN
    out = pt.logsumexp(x, axis=axis)
    for mode, reference in MODES.values():
        _, result = compare_onnx_and_py(
            [x],
            out,
            [value],
            onnx_mode=mode,
            py_mode=reference,
            assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, 4.0)),
        )
        assert not np.isnan(result).any()


def test_logsumexp_keepdims_and_grad():
    rng = np.random.default_rng(53)
    x = pt.matrix("x")
    out = pt.logsumexp(x, axis=1, keepdims=True)
    grad = pytensor.grad(pt.logsumexp(x, axis=1).sum(), x)  # the softmax of each row
    value = rng.normal(size=(4, 6)) * 300
    compare_onnx_and_py([x], [out, grad], [value], onnx_mode=FAST)


_SOFTMAX_FUNCTIONS = {}


def _softmax_functions(axis):
    """ONNX and reference functions for one axis (compiled once: rewriting is slow)."""
    if axis not in _SOFTMAX_FUNCTIONS:
        x = pt.tensor3("x")
        outs = [
            pt.special.softmax(x, axis=axis),
            pt.special.log_softmax(x, axis=axis),
            pt.logsumexp(x, axis=axis),
        ]
        _SOFTMAX_FUNCTIONS[axis] = (
            pytensor.function([x], outs, mode=FAST),
            pytensor.function([x], outs, mode=PY_FAST),
        )
    return _SOFTMAX_FUNCTIONS[axis]


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
    axis=st.sampled_from([0, 1, 2, -1, -2, -3]),
    scale=st.sampled_from([1.0, 100.0, 1e6]),
    seed=st.integers(0, 2**16),
)
def test_softmax_property(shape, axis, scale, seed):
    # Any axis of (symbolic) shapes, at scales where exp overflows unshifted.
    value = np.random.default_rng(seed).normal(size=shape) * scale
    onnx_fn, py_fn = _softmax_functions(axis)
    for got, expected in zip(onnx_fn(value), py_fn(value), strict=True):
        # log_softmax at scale 1e6: entries ~1e6, absolute error ~eps * 1e6.
        assert_same(got, expected, rtol=1e-12, atol=1e-14 * scale)


# -- losses and a small network ----------------------------------------------------------
def cross_entropy(logits, labels):
    """Mean negative log-likelihood of integer labels (advanced indexing)."""
    log_p = pt.special.log_softmax(logits, axis=-1)
    return -log_p[pt.arange(labels.shape[0]), labels].mean()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("label_dtype", ["int64", "int32"])
def test_cross_entropy_with_integer_labels(dtype, label_dtype):
    rng = np.random.default_rng(54)
    logits = pt.matrix("logits", dtype=dtype)
    labels = pt.vector("labels", dtype=label_dtype)
    loss = cross_entropy(logits, labels)
    grad = pytensor.grad(loss, logits)
    value = (rng.normal(size=(7, 5)) * 4).astype(dtype)
    value[0] = [1e4, 0, 0, 0, -1e4]  # confident: the stable form keeps log p finite
    label_values = np.array([4, 0, 1, 2, 3, 4, -1], dtype=label_dtype)  # -1: last class
    for mode, reference in MODES.values():
        _, (loss_value, _) = compare_onnx_and_py(
            [logits, labels],
            [loss, grad],
            [value, label_values],
            onnx_mode=mode,
            py_mode=reference,
            assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, 64.0)),
        )
        assert np.isfinite(loss_value)


def mlp(dtype):
    """A 2-layer MLP (tanh hidden layer, softmax output) and its loss and gradients."""
    x = pt.matrix("x", dtype=dtype)
    y = pt.vector("y", dtype="int64")
    w1 = pt.matrix("w1", dtype=dtype)
    b1 = pt.vector("b1", dtype=dtype)
    w2 = pt.matrix("w2", dtype=dtype)
    b2 = pt.vector("b2", dtype=dtype)
    hidden = pt.tanh(x @ w1 + b1)
    loss = cross_entropy(hidden @ w2 + b2, y) + 1e-3 * ((w1**2).sum() + (w2**2).sum())
    grads = pytensor.grad(loss, [w1, b1, w2, b2])
    return [x, y, w1, b1, w2, b2], [loss, *grads]


def mlp_values(rng, dtype, n=32, d=6, h=10, k=4):
    return [
        rng.normal(size=(n, d)).astype(dtype),
        rng.integers(0, k, size=n).astype("int64"),
        (rng.normal(size=(d, h)) / np.sqrt(d)).astype(dtype),
        rng.normal(size=h).astype(dtype) * 0.1,
        (rng.normal(size=(h, k)) / np.sqrt(h)).astype(dtype),
        rng.normal(size=k).astype(dtype) * 0.1,
    ]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_mlp_loss_and_gradients_exported(dtype):
    # A function compiled with the FAST_RUN rewrites (BLAS Gemm/Dot22 ops, fused
    # elementwise Composites; the Python linker: the suite runs without a C compiler)
    # exported as it was compiled, then run in a plain onnxruntime session.
    rng = np.random.default_rng(55)
    inputs, outputs = mlp(dtype)
    values = mlp_values(rng, dtype)
    fast_fn = pytensor.function(inputs, outputs, mode=PY_FAST)
    expected = fast_fn(*values)
    model = export_function_onnx(fast_fn)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feed = {i.name: v for i, v in zip(model.graph.input, values, strict=True)}
    got = session.run(None, feed)
    for g, e in zip(got, expected, strict=True):
        assert_same(g, np.asarray(e), **tolerance(dtype, 256.0))
    # The same graph compiled by the ONNX backend, against the reference.
    fn, _ = compare_onnx_and_py(
        inputs,
        outputs,
        values,
        onnx_mode=FAST,
        assert_fn=lambda o, p: assert_same(o, p, **tolerance(dtype, 256.0)),
    )
    assert "MatMul" in get_onnx_node_types(fn) or "Gemm" in get_onnx_node_types(fn)


def test_mlp_training_steps_match():
    # Ten gradient steps in float64: the weights stay within rounding of the reference.
    rng = np.random.default_rng(56)
    inputs, outputs = mlp("float64")
    values = mlp_values(rng, "float64")
    onnx_fn = pytensor.function(inputs, outputs, mode=FAST)
    py_fn = pytensor.function(inputs, outputs, mode=PY_FAST)
    params_onnx, params_py = list(values[2:]), list(values[2:])
    for _ in range(10):
        _, *g_onnx = onnx_fn(*values[:2], *params_onnx)
        _, *g_py = py_fn(*values[:2], *params_py)
        params_onnx = [p - 0.5 * g for p, g in zip(params_onnx, g_onnx, strict=True)]
        params_py = [p - 0.5 * g for p, g in zip(params_py, g_py, strict=True)]
    for a, b in zip(params_onnx, params_py, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
