"""SortOp and ArgSortOp (``pt.sort``, ``pt.argsort``) against PyTensor's Python linker (NumPy).

The stable kinds ("stable", "mergesort") fix the order of ties, so their indices must match
NumPy exactly; NumPy's "quicksort" leaves ties in any order, so its indices are checked to
sort the input (the ONNX lowering is always stable). NaN sorts last, as in NumPy.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytensor.tensor.sort import ArgSortOp, SortOp

from pytensor_onnx import onnx_mode
from tests.test_basic import assert_same, get_onnx_node_types
from tests.test_shape import PROPERTY_SETTINGS, RAW, assert_exact, compare, values

DTYPES = (
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
)
STABLE_KINDS = ("stable", "mergesort")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def tensor(name, dtype, shape, static):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


def tied_values(shape, dtype, seed=0):
    """Values with many ties; for floats also NaN, infinities and zeros of both signs."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        pool = np.array([0.0, -0.0, 1.5, -2.0, np.nan, np.inf, -np.inf, 1.5, 3.0])
    elif dtype == "bool":
        pool = np.array([False, True])
    elif np.dtype(dtype).kind == "u":
        info = np.iinfo(dtype)
        pool = np.array([0, 1, 7, int(info.max), int(info.max) - 1, 1 << (info.bits - 1)])
    else:
        info = np.iinfo(dtype)
        pool = np.array([0, 1, -1, 7, int(info.min), int(info.max)])
    return rng.choice(pool, size).astype(dtype).reshape(shape)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sort_and_stable_argsort_match_numpy(dtype, static):
    shape = (5, 7)
    x = tensor("x", dtype, shape, static)
    outputs = [
        pt.sort(x, axis=-1, kind="stable"),
        pt.argsort(x, axis=-1, kind="stable"),
        pt.sort(x, axis=0, kind="mergesort"),
        pt.argsort(x, axis=0, kind="mergesort"),
    ]
    fn = compare([x], outputs, [tied_values(shape, dtype)])
    assert "TopK" in get_onnx_node_types(fn)


def test_nan_sorts_last_and_ties_keep_index_order():
    x = pt.vector("x")
    data = np.array([3.0, np.nan, 1.0, -0.0, 0.0, np.inf, 1.0, np.nan, -np.inf, 0.0, -0.0])
    fn = compare([x], [pt.sort(x, kind="stable"), pt.argsort(x, stable=True)], [data])
    sorted_, order = fn(data)
    np.testing.assert_array_equal(order, [8, 3, 4, 9, 10, 2, 6, 0, 5, 1, 7])
    assert np.isnan(sorted_[-2:]).all()


def test_uint64_above_int64_range():
    x = pt.vector("x", dtype="uint64")
    data = np.array([2**64 - 1, 0, 2**63, 2**63 - 1, 5], dtype="uint64")
    compare([x], [pt.sort(x), pt.argsort(x, kind="stable")], [data])


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_quicksort_indices_sort_the_input(dtype):
    x = pt.matrix("x", dtype=dtype)
    data = tied_values((6, 40), dtype, seed=3)
    fn = compare([x], pt.sort(x, axis=1, kind="quicksort"), [data], assert_fn=assert_same)
    order = pytensor.function([x], pt.argsort(x, axis=1), mode=RAW)(data)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(order, axis=1), np.broadcast_to(np.arange(40), (6, 40)))
    np.testing.assert_array_equal(np.take_along_axis(data, order, axis=1), np.sort(data, axis=1))
    assert "TopK" in get_onnx_node_types(fn)


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -3])
def test_axes_of_a_3d_tensor(axis):
    x = pt.tensor3("x")
    data = values((3, 4, 5), "float64")
    compare(
        [x], [pt.sort(x, axis=axis, stable=True), pt.argsort(x, axis=axis, stable=True)], [data]
    )


@pytest.mark.parametrize("shape", [(0,), (0, 4), (3, 0)], ids=str)
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_empty_inputs(shape, static):
    x = tensor("x", "float64", shape, static)
    outputs = [pt.sort(x, axis=0), pt.argsort(x, axis=-1, kind="stable")]
    compare([x], outputs, [np.zeros(shape)])


def test_symbolic_axis_raises():
    x = pt.matrix("x")
    axis = pt.lscalar("axis")
    with pytest.raises(NotImplementedError, match="SortOp with a symbolic axis"):
        pytensor.function([x, axis], SortOp("quicksort")(x, axis), mode=RAW)
    with pytest.raises(NotImplementedError, match="ArgSortOp with a symbolic axis"):
        pytensor.function([x, axis], ArgSortOp("stable")(x, axis), mode=RAW)


@pytest.mark.parametrize("mode", [RAW, None], ids=["raw", "rewritten"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_of_sort(dtype, mode):
    # sort's gradient is an argsort of an argsort, then advanced indexing.
    x = pt.matrix("x", dtype=dtype)
    weights = pt.arange(5).astype(dtype)
    cost = (pt.sort(x, axis=1, kind="stable") * weights).sum()
    data = values((3, 5), dtype, seed=2)
    data[~np.isfinite(data)] = 4.0  # distinct finite values: a well-defined gradient
    compare([x], pt.grad(cost, x), [data], mode=mode or onnx_mode(intra_op_num_threads=1))


def test_descending_sort_via_negation():
    x = pt.vector("x")
    data = np.array([1.0, 3.0, 3.0, -2.0, 0.5])
    compare([x], [pt.sort(-x, kind="stable"), pt.argsort(-x, stable=True)], [data])


@st.composite
def sort_case(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    dtype = draw(st.sampled_from(["float32", "float64", "int8", "int64", "uint32", "bool"]))
    return shape, axis, dtype


@PROPERTY_SETTINGS
@given(case=sort_case(), static=st.booleans(), seed=st.integers(0, 2**16))
def test_property_stable_sort(case, static, seed):
    shape, axis, dtype = case
    x = tensor("x", dtype, shape, static)
    outputs = [pt.sort(x, axis=axis, stable=True), pt.argsort(x, axis=axis, stable=True)]
    compare([x], outputs, [tied_values(shape, dtype, seed)], assert_fn=assert_exact)
