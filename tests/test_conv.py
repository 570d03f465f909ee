"""Convolve1d / Convolve2d (``pytensor.tensor.signal``) against NumPy's and SciPy's results.

The tolerance is relative to the convolution of the absolute values (the scale of the
terms summed), since the ONNX lowering sums in another order than NumPy (and SciPy's
"auto" method may use an FFT in 2-D): measured errors were below 2 ulps of that scale.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode
from pytensor.tensor.signal import convolve1d, convolve2d
from pytensor.tensor.signal.conv import Convolve1d

from pytensor_onnx import ONNXLinker
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
RNG = np.random.default_rng(0)


def scaled_tolerance(x_val, y_val):
    """assert_fn allowing 16 ulps of a bound on the summed terms, max|x| * sum|y| (exact
    equality for integers)."""
    dtype = np.result_type(x_val, y_val)
    eps = np.finfo(dtype).eps if dtype.kind == "f" else 0
    scale = np.max(np.abs(x_val), initial=0.0) * np.sum(np.abs(y_val))

    def assert_fn(onnx_value, py_value):
        assert_same(onnx_value, py_value, rtol=0, atol=np.inf)  # dtype and shape
        np.testing.assert_allclose(onnx_value, py_value, rtol=0, atol=16 * eps * scale)

    return assert_fn


def compare(inputs, out, vals, ndim=1, mode=RAW):
    x_val, y_val = vals[0], vals[1]
    fn, _ = compare_onnx_and_py(
        inputs, out, vals, onnx_mode=mode, assert_fn=scaled_tolerance(x_val, y_val)
    )
    return fn


def values(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return RNG.integers(max(info.min, -50), min(info.max, 50), size=shape).astype(dtype)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int8"])
@pytest.mark.parametrize("n, k", [(9, 3), (3, 9), (5, 5), (1, 4), (6, 1), (60, 7)])
def test_convolve1d(n, k, dtype, mode, static):
    x = pt.vector("x", dtype=dtype, shape=(n if static else None,))
    y = pt.vector("y", dtype=dtype, shape=(k if static else None,))
    compare([x, y], convolve1d(x, y, mode=mode), [values(n, dtype), values(k, dtype)])


def test_convolve1d_int_wraps():
    x, y = pt.vector("x", dtype="int8"), pt.vector("y", dtype="int8")
    x_val, y_val = np.array([100, 120, -128, 5], "int8"), np.array([3, 127], "int8")
    compare([x, y], convolve1d(x, y), [x_val, y_val])


def test_convolve1d_edge_values():
    x, y = pt.vector("x"), pt.vector("y")
    x_val = np.array([1.0, np.inf, 0.0, -2.0, np.nan, 3.0, 0.0, 0.0, 1e300])
    y_val = np.array([0.5, 0.0, -1.0])
    fn, _ = compare_onnx_and_py([x, y], convolve1d(x, y), [x_val, y_val], onnx_mode=RAW)
    compare_onnx_and_py([x, y], convolve1d(x, y, mode="valid"), [x_val, y_val], onnx_mode=RAW)


def test_convolve1d_float32_uses_conv():
    x, y = pt.vector("x", dtype="float32"), pt.vector("y", dtype="float32")
    fn = compare([x, y], convolve1d(x, y), [values(8, "float32"), values(3, "float32")])
    assert "Conv" in get_onnx_node_types(fn)
    x, y = pt.vector("x"), pt.vector("y")
    fn = compare([x, y], convolve1d(x, y), [values(8, "float64"), values(3, "float64")])
    assert "Conv" not in get_onnx_node_types(fn)  # onnxruntime has no float64 Conv


def test_convolve1d_symbolic_mode():
    x, y = pt.vector("x"), pt.vector("y")
    full = pytensor.scalar.bool("full")
    out = Convolve1d()(x, y, full)
    for full_val in (True, False):
        for n, k in ((7, 3), (3, 7)):
            compare([x, y, full], out, [values(n, "float64"), values(k, "float64"), full_val])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "x_shape, y_shape",
    [
        ((4, 10), (3,)),  # batched data
        ((10,), (4, 3)),  # batched kernels
        ((4, 10), (4, 3)),  # both: grouped Conv in float32
        ((2, 1, 10), (1, 3, 4)),  # both, broadcasting
    ],
)
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_convolve1d_batched(x_shape, y_shape, dtype, static):
    def tensor(name, shape):
        return pt.tensor(
            name, dtype=dtype, shape=tuple(d if static or d == 1 else None for d in shape)
        )

    x, y = tensor("x", x_shape), tensor("y", y_shape)
    for mode in ("full", "valid"):
        compare(
            [x, y], convolve1d(x, y, mode=mode), [values(x_shape, dtype), values(y_shape, dtype)]
        )


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "x_shape, y_shape",
    [((6, 5), (3, 2)), ((2, 3), (4, 4)), ((3, 6, 5), (2, 2)), ((2, 5, 4), (2, 3, 3))],
)
def test_convolve2d(x_shape, y_shape, dtype, mode, static):
    if mode == "same" and len(x_shape) < len(y_shape):
        pytest.skip("PyTensor's 'same' pads in1 along the kernel's batch dims too")
    x = pt.tensor("x", dtype=dtype, shape=x_shape if static else (None,) * len(x_shape))
    y = pt.tensor("y", dtype=dtype, shape=y_shape if static else (None,) * len(y_shape))
    compare(
        [x, y],
        convolve2d(x, y, mode=mode),
        [values(x_shape, dtype), values(y_shape, dtype)],
        ndim=2,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 40),
    mode=st.sampled_from(["full", "valid"]),
    dtype=st.sampled_from(["float32", "float64", "int32"]),
    static=st.booleans(),
)
def test_convolve1d_property(n, k, mode, dtype, static):
    x = pt.vector("x", dtype=dtype, shape=(n if static else None,))
    y = pt.vector("y", dtype=dtype, shape=(k if static else None,))
    compare([x, y], convolve1d(x, y, mode=mode), [values(n, dtype), values(k, dtype)])
