"""Property tests of reductions: random shapes (zero-size dims included), axis subsets
(negative axes too), keepdims, dtypes, and static or symbolic shapes.

Each example runs the reduction with onnxruntime and with PyTensor's Python linker
(NumPy). Integer sums and products wrap identically and selections (max, min, argmax,
all, any) are exact, so those compare bit for bit; float sums and products depend on the
order of the operations, so they compare to a tolerance scaled by the terms' magnitude.
"""

import numpy as np
import pytensor.tensor as pt
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pytensor.tensor.math import Min

from tests.test_basic import assert_same, compare_onnx_and_py
from tests.test_elemwise_properties import PROPERTY_SETTINGS, symbolic_type_shape, values_of
from tests.test_math import RAW, run_onnx

# NumPy warns about the invalid values (inf * 0, inf - inf) the tests provoke.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint32", "uint64"]


@st.composite
def reduction_input(draw, dtypes=DTYPES, elements=None):
    """A tensor variable, its value, a reduction axis (None, an int or a tuple, possibly
    negative) and keepdims."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    dtype = draw(st.sampled_from(dtypes))
    ndim = len(shape)
    if draw(st.booleans()) or ndim == 0:
        axis = None
    else:
        dims = draw(st.lists(st.sampled_from(range(ndim)), unique=True, max_size=ndim))
        axis = tuple(d - ndim if draw(st.booleans()) else d for d in dims)
        if len(axis) == 1 and draw(st.booleans()):
            axis = axis[0]
    static = draw(st.booleans())
    x = pt.tensor("x", dtype=dtype, shape=symbolic_type_shape(shape, static))
    if elements is not None and np.dtype(dtype).kind == "f":
        value = draw(hnp.arrays(dtype, shape, elements=elements(dtype)))
    elif dtype == "bool":
        value = draw(hnp.arrays(dtype, shape))
    else:
        value = draw(values_of(dtype, shape))
    return x, value, axis, draw(st.booleans())


def reduced_size(shape, axis) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def _special_floats(dtype):
    return st.sampled_from([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])


def bounded_sum_terms(dtype):
    # Below 1e6, no partial sum overflows, whatever the order it is taken in.
    width = np.dtype(dtype).itemsize * 8
    return st.one_of(_special_floats(dtype), st.floats(-1e6, 1e6, width=width))


def quarter_factors(dtype):
    # Multiples of 1/4 up to 4: at most 256 of them neither overflow nor underflow.
    return st.one_of(
        _special_floats(dtype), st.integers(-16, 16).map(lambda q: np.asarray(q / 4, dtype))
    )


def within_scale(scale, dtype):
    """Equal up to a few rounding errors of float64 terms of magnitude ``scale``.

    Float reductions accumulate in float64 on both sides, in different orders: on 2000
    sums of up to 256 terms, onnxruntime and NumPy differed by at most 0.97 * eps64 times
    the sum of the magnitudes. Allow 8, plus one float32 rounding of the result (the two
    float64 sums may round to neighbouring float32 values).
    """
    atol = 8 * np.finfo("float64").eps * scale
    if dtype == "float32":
        atol += np.finfo("float32").eps * scale

    def check(onnx_value, py_value):
        # Products (scale 0): measured exact on multiples of 1/4; allow 4 ulps.
        assert_same(onnx_value, py_value, rtol=4 * np.finfo(dtype).eps, atol=atol)

    return check


@PROPERTY_SETTINGS
@given(case=reduction_input(elements=bounded_sum_terms))
def test_sum(case):
    x, value, axis, keepdims = case
    out = pt.sum(x, axis=axis, keepdims=keepdims)
    check = assert_same
    if np.dtype(x.dtype).kind == "f":
        finite = np.where(np.isfinite(value), value, 0).astype("float64")
        check = within_scale(float(np.abs(finite).sum()), x.dtype)
    compare_onnx_and_py([x], out, [value], onnx_mode=RAW, assert_fn=check)


@PROPERTY_SETTINGS
@given(case=reduction_input(elements=quarter_factors))
def test_prod(case):
    x, value, axis, keepdims = case
    out = pt.prod(x, axis=axis, keepdims=keepdims)
    check = assert_same
    if np.dtype(x.dtype).kind == "f":
        check = within_scale(0.0, x.dtype)  # no cancellation: relative error only
    compare_onnx_and_py([x], out, [value], onnx_mode=RAW, assert_fn=check)


SELECTIONS = {
    "max": lambda x, axis, keepdims: pt.max(x, axis=axis, keepdims=keepdims),
    "min": lambda x, axis, keepdims: pt.min(x, axis=axis, keepdims=keepdims),
    "min_op": lambda x, axis, keepdims: _keep(Min(axis=axis)(x), x, axis, keepdims),
    "argmax": lambda x, axis, keepdims: pt.argmax(x, axis=axis, keepdims=keepdims),
    "argmin": lambda x, axis, keepdims: pt.argmin(x, axis=axis, keepdims=keepdims),
}


def _keep(out, x, axis, keepdims):
    return pt.math.makeKeepDims(x, out, axis) if keepdims else out


@PROPERTY_SETTINGS
@given(case=reduction_input(dtypes=[*DTYPES, "bool"]), name=st.sampled_from(sorted(SELECTIONS)))
def test_selections(case, name):
    # Exact, NaN propagated (the first NaN for argmax); NumPy raises on empty groups.
    x, value, axis, keepdims = case
    assume(reduced_size(value.shape, axis) > 0)
    out = SELECTIONS[name](x, axis, keepdims)
    compare_onnx_and_py([x], out, [value], onnx_mode=RAW, assert_fn=assert_same)


@PROPERTY_SETTINGS
@given(case=reduction_input(dtypes=[*DTYPES, "bool"]), reduce_all=st.booleans())
def test_all_any(case, reduce_all):
    x, value, axis, keepdims = case
    out = (pt.all if reduce_all else pt.any)(x, axis=axis, keepdims=keepdims)
    compare_onnx_and_py([x], out, [value], onnx_mode=RAW, assert_fn=assert_same)


@PROPERTY_SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
    dtype=st.sampled_from(["float32", "float64"]),
    data=st.data(),
    log=st.booleans(),
)
def test_softmax(shape, dtype, data, log):
    # Against SciPy, which PyTensor 2.38's ops call: pytensor 3's Softmax is a graph that
    # its Python linker compiles with numba on every new input type (~0.5 s an example).
    # The two agree on finite values (see test_math.test_softmax for non-finite ones).
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    x = pt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    width = np.dtype(dtype).itemsize * 8
    value = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-1e4, 1e4, width=width)))
    reference = scipy.special.log_softmax if log else scipy.special.softmax
    out = (pt.special.log_softmax if log else pt.special.softmax)(x, axis=axis)
    _, result = run_onnx([x], out, [value])
    # Measured against SciPy on values up to 1e4: softmax within 1 eps (absolute),
    # log-softmax within 128 eps in float64 and 4 eps in float32. Allow 8 and 1024.
    eps = np.finfo(dtype).eps
    atol = (1024 if log else 8) * eps
    assert_same(result, reference(value, axis=axis), rtol=8 * eps, atol=atol)
