"""``pytensor.tensor.extra_ops`` (CumOp, Repeat, SearchsortedOp, Unique, FillDiagonal(Offset),
RavelMultiIndex, UnravelIndex, Bartlett, CpuContiguous) and the graphs of helpers built from
other ops (roll, diff, tile, bincount, linspace, ...), against PyTensor's Python linker.

Most tests compile without rewrites (``RAW``) so that the op under test reaches its
converter; ``OPT`` runs the default ONNX mode (with PyTensor's rewrites).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytensor.tensor import extra_ops
from pytensor.tensor.extra_ops import CpuContiguous, CumOp, Repeat, SearchsortedOp, Unique

from pytensor_onnx import onnx_mode
from tests.test_basic import assert_same, get_onnx_node_types
from tests.test_shape import PROPERTY_SETTINGS, RAW, assert_exact, compare, values

OPT = onnx_mode(intra_op_num_threads=1)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def tensor(name, dtype, shape, static):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


def op_types(fn):
    return {type(node.op) for node in fn.maker.fgraph.apply_nodes}


def assert_declared_dtype(onnx_value, py_value):
    """Exact, in the output's declared dtype: PyTensor's Python CumOp returns NumPy's int64
    for small integer inputs although the output type is the input's dtype (its C code,
    and ONNX, keep that dtype and wrap)."""
    assert_exact(onnx_value, np.asarray(py_value).astype(onnx_value.dtype))


def assert_scan(onnx_value, py_value):
    """Cumulative products are grouped differently from NumPy's left-to-right ones: floats
    agree to the default tolerance (measured: 2e-16 relative in float64, 1 ulp in float32),
    zeros have the same sign. Integers are exact in the declared dtype (see
    :func:`assert_declared_dtype`)."""
    onnx_value, py_value = np.asarray(onnx_value), np.asarray(py_value)
    if onnx_value.dtype.kind != "f":
        return assert_declared_dtype(onnx_value, py_value)
    assert_same(onnx_value, py_value)
    zeros = py_value == 0
    np.testing.assert_array_equal(np.signbit(onnx_value[zeros]), np.signbit(py_value[zeros]))


# -- CumOp ---------------------------------------------------------------------------------
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_cumsum_cumprod(dtype, axis, static):
    shape = (5, 6)
    x = tensor("x", dtype, shape, static)
    data = values(shape, dtype, seed=1)
    if dtype.startswith("int"):
        data = data % 7 - 3  # products that stay within range
    outputs = [pt.cumsum(x, axis=axis), pt.cumprod(x, axis=axis)]
    fn = compare([x], outputs, [data], assert_fn=assert_scan)
    assert CumOp in op_types(fn)
    assert "CumSum" in get_onnx_node_types(fn)
    # A symbolic length makes the cumulative product a Loop; a static one is unrolled.
    assert ("Loop" in get_onnx_node_types(fn)) == (not static)


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 8, 17])
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_cumprod_lengths(length, static):
    # Every count of Hillis-Steele steps, 0 to 5; float tolerance: products are grouped
    # differently from NumPy's left-to-right ones (measured error below 2 ulp).
    x = tensor("x", "float64", (length, 2), static)
    data = np.random.default_rng(length).uniform(0.5, 1.5, (length, 2))
    compare([x], pt.cumprod(x, axis=0), [data], assert_fn=assert_same)
    y = tensor("y", "int64", (2, length), static)
    data = np.arange(2 * length).reshape(2, length) % 5 - 2
    compare([y], pt.cumprod(y, axis=1), [data], assert_fn=assert_declared_dtype)


def test_cumsum_cumprod_edge_values():
    x = pt.vector("x")
    data = np.array([1.0, -0.0, np.inf, 2.0, -np.inf, 0.0, np.nan, 3.0])
    compare([x], [pt.cumsum(x), pt.cumprod(x)], [data], assert_fn=assert_same)
    compare([x], [pt.cumsum(x), pt.cumprod(x)], [data[:3]])


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint8", "uint16", "uint32", "uint64"])
def test_cumsum_cumprod_small_and_unsigned_ints_wrap(dtype):
    x = pt.vector("x", dtype=dtype)
    info = np.iinfo(dtype)
    data = np.array([info.max, 3, info.max, 2, 1, 0, 7], dtype=dtype)
    compare([x], [pt.cumsum(x), pt.cumprod(x)], [data], assert_fn=assert_declared_dtype)


def test_cumsum_float32_accumulates_in_float32():
    x = pt.vector("x", dtype="float32")
    data = np.full(1000, 0.1, dtype="float32")
    compare([x], pt.cumsum(x), [data], assert_fn=assert_same)


@pytest.mark.parametrize("mode", [RAW, OPT], ids=["raw", "rewritten"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_of_cumsum_and_cumprod(dtype, mode):
    # cumsum's gradient is a reversed cumsum (x[::-1] slices around a CumOp).
    x = pt.matrix("x", dtype=dtype)
    weights = pt.arange(1, 5).astype(dtype)
    data = np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)).astype(dtype)
    grads = [
        pt.grad((pt.cumsum(x, axis=1) * weights).sum(), x),
        pt.grad((pt.cumsum(x) ** 2).sum(), x),
        pt.grad((pt.cumprod(x, axis=0) * weights).sum(), x),
    ]
    tolerance = {} if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    compare([x], grads, [data], mode=mode, assert_fn=lambda o, p: assert_same(o, p, **tolerance))


def test_cpu_contiguous_is_identity():
    x = pt.matrix("x")
    fn = compare([x], CpuContiguous()(x), [values((3, 2), "float64")])
    assert get_onnx_node_types(fn) == ["Identity"]


# -- Repeat --------------------------------------------------------------------------------
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("axis", [0, 1, -1, None])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "bool"])
def test_repeat_per_element(dtype, axis, static):
    x = tensor("x", dtype, (3, 4), static)
    length = 12 if axis is None else (3, 4)[axis]
    repeats = pt.tensor("repeats", dtype="int64", shape=(length if static else None,))
    counts = np.arange(length) % 4  # zero counts included, first and last
    counts[-1] = 0
    fn = compare([x, repeats], pt.repeat(x, repeats, axis=axis), [values((3, 4), dtype), counts])
    assert Repeat in op_types(fn)


@pytest.mark.parametrize("repeats_dtype", ["int8", "int32", "uint32"])
def test_repeat_counts_dtypes_and_broadcast(repeats_dtype):
    x = pt.vector("x")
    repeats = pt.vector("repeats", dtype=repeats_dtype)
    data = values((5,), "float64")
    compare([x, repeats], Repeat(0)(x, repeats), [data, np.array([1, 0, 3, 2, 1], repeats_dtype)])
    # A single count (of unknown static length) repeats every element.
    compare([x, repeats], Repeat(0)(x, repeats), [data, np.array([3], repeats_dtype)])


@pytest.mark.parametrize("shape", [(0, 3), (2, 3)], ids=str)
def test_repeat_empty(shape):
    x = pt.matrix("x")
    repeats = pt.lvector("repeats")
    counts = np.zeros(shape[0], "int64")
    compare([x, repeats], Repeat(0)(x, repeats), [np.ones(shape), counts])


@pytest.mark.parametrize("mode", [RAW, OPT], ids=["raw", "rewritten"])
def test_repeat_scalar_and_constant_counts(mode):
    x = pt.matrix("x")
    n = pt.lscalar("n")
    outputs = [pt.repeat(x, n, axis=1), pt.repeat(x, 2), pt.repeat(x, [2, 0, 1], axis=0)]
    compare([x, n], outputs, [values((3, 2), "float64"), np.int64(3)], mode=mode)
    compare([x, n], outputs, [values((3, 2), "float64"), np.int64(0)], mode=mode)


@pytest.mark.parametrize("mode", [RAW, OPT], ids=["raw", "rewritten"])
def test_gradient_of_repeat(mode):
    x = pt.matrix("x")
    repeats = pt.lvector("repeats")
    cost = (pt.repeat(x, repeats, axis=0) * pt.arange(2)).sum()
    data = np.random.default_rng(1).normal(size=(3, 2))
    compare([x, repeats], pt.grad(cost, x), [data, np.array([2, 0, 3])], mode=mode)


@st.composite
def repeat_case(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    counts = draw(st.lists(st.integers(0, 3), min_size=shape[axis], max_size=shape[axis]))
    return shape, axis, counts


@PROPERTY_SETTINGS
@given(case=repeat_case(), static=st.booleans())
def test_property_repeat(case, static):
    shape, axis, counts = case
    x = tensor("x", "float64", shape, static)
    repeats = pt.lvector("repeats")
    compare(
        [x, repeats],
        pt.repeat(x, repeats, axis=axis),
        [values(shape, "float64"), np.array(counts, "int64")],
    )


# -- SearchsortedOp ------------------------------------------------------------------------
SORTED = np.array([-np.inf, -1.0, 0.0, 0.0, 2.5, 2.5, 2.5, 7.0, np.inf, np.nan, np.nan])
PROBES = np.array([[-np.inf, -2.0, 0.0, -0.0], [2.5, 3.0, np.inf, np.nan], [7.0, 8.0, -1.0, 1.0]])


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_searchsorted_ties_infinities_nan(dtype, side, static):
    x = tensor("x", dtype, SORTED.shape, static)
    v = tensor("v", dtype, PROBES.shape, static)
    fn = compare(
        [x, v], pt.searchsorted(x, v, side=side), [SORTED.astype(dtype), PROBES.astype(dtype)]
    )
    assert SearchsortedOp in op_types(fn)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(
    "x_dtype, v_dtype",
    [("int64", "int64"), ("int8", "int32"), ("uint64", "uint64"), ("int32", "float64")],
)
def test_searchsorted_dtypes(x_dtype, v_dtype, side):
    x = pt.vector("x", dtype=x_dtype)
    v = pt.vector("v", dtype=v_dtype)
    x_data = np.array([0, 1, 1, 3, 5, 5, 9], dtype=x_dtype)
    v_data = np.array([0, 1, 2, 5, 9, 10, 3], dtype=v_dtype)
    if x_dtype == "uint64":
        x_data[-1] = v_data[-2] = 2**64 - 2
    compare([x, v], pt.searchsorted(x, v, side=side), [x_data, v_data])


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_with_sorter_and_scalar_value(side):
    x = pt.vector("x")
    v = pt.scalar("v")
    sorter = pt.ivector("sorter")
    x_data = np.array([3.0, 1.0, 2.0, 2.0, np.nan, -1.0])
    sorter_data = np.argsort(x_data, kind="stable").astype("int32")
    for v_data in (2.0, -5.0, np.nan, 3.0):
        compare(
            [x, v, sorter],
            pt.searchsorted(x, v, side=side, sorter=sorter),
            [x_data, np.float64(v_data), sorter_data],
        )


@pytest.mark.parametrize("x_length, v_shape", [(0, (3,)), (4, (0,)), (0, (0, 2))])
def test_searchsorted_empty(x_length, v_shape):
    x = pt.vector("x")
    v = pt.tensor("v", shape=(None,) * len(v_shape))
    outputs = [pt.searchsorted(x, v), pt.searchsorted(x, v, side="right")]
    compare([x, v], outputs, [np.arange(float(x_length)), np.ones(v_shape)])


@PROPERTY_SETTINGS
@given(
    x_data=st.lists(st.integers(-4, 4), max_size=12),
    v_data=st.lists(st.integers(-5, 5), max_size=8),
    side=st.sampled_from(["left", "right"]),
)
def test_property_searchsorted(x_data, v_data, side):
    x = pt.lvector("x")
    v = pt.lvector("v")
    compare(
        [x, v],
        pt.searchsorted(x, v, side=side),
        [np.sort(np.array(x_data, "int64")), np.array(v_data, "int64")],
    )


# -- Unique --------------------------------------------------------------------------------
FLAGS = [(False, False, False), (True, True, True), (True, False, True), (False, True, False)]


def assert_unique(onnx_value, py_value):
    """Exact but for the sign of zeros among unique values: NumPy picks whichever zero its
    (unstable) sort puts first when it does not return indices; ONNX, the first one."""
    assert_same(onnx_value, py_value)
    np.testing.assert_array_equal(onnx_value, py_value)


@pytest.mark.parametrize("flags", FLAGS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "uint16", "bool"])
def test_unique_flat(dtype, flags):
    x = pt.matrix("x", dtype=dtype)
    data = np.random.default_rng(0).choice(values((6,), dtype), (4, 5))
    outputs = extra_ops.unique(x, *flags)
    fn = compare([x], outputs, [data], assert_fn=assert_unique)
    assert Unique in op_types(fn)


def test_unique_nan_infinities_zeros():
    x = pt.vector("x")
    data = np.array([3.0, np.nan, 1.0, np.nan, 3.0, -0.0, 0.0, np.inf, 1.0, -np.inf])
    fn = compare([x], extra_ops.unique(x, True, True, True), [data])
    uniques, index, inverse, counts = fn(data)
    # NumPy 2 (equal_nan=True): one NaN group, last; the first zero's sign
    np.testing.assert_array_equal(uniques, [-np.inf, -0.0, 1.0, 3.0, np.inf, np.nan])
    np.testing.assert_array_equal(counts, [1, 2, 2, 2, 1, 2])


def test_unique_uint64_and_empty():
    x = pt.vector("x", dtype="uint64")
    data = np.array([2**64 - 1, 0, 2**63, 2**64 - 1, 5], dtype="uint64")
    compare([x], extra_ops.unique(x, True, True, True), [data])
    compare([x], extra_ops.unique(x, True, True, True), [data[:0]])
    s = pt.scalar("s")
    compare([s], extra_ops.unique(s, True, True, True), [np.float64(2.0)])


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize(
    "dtype", ["float64", "float32", "int64", "int32", "uint8", "uint64", "bool"]
)
def test_unique_along_axis(dtype, axis):
    # Slices with NaN are left out: onnxruntime's Unique may merge them, NumPy does not.
    x = pt.matrix("x", dtype=dtype)
    rows = np.array([[1, 0, 0], [1, 0, 0], [0, 2, 3], [0, 1, 5], [0, 2, 3]])
    data = (rows if axis == 0 else rows.T.copy()).astype(dtype)
    if dtype == "uint64":
        data[data == 5] = 2**64 - 1
    outputs = extra_ops.unique(x, True, True, True, axis=axis)
    compare([x], outputs, [data])
    compare([x], extra_ops.unique(x, axis=axis), [data])


@PROPERTY_SETTINGS
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
    flags=st.sampled_from(FLAGS),
)
def test_property_unique(shape, seed, flags):
    x = pt.tensor("x", shape=(None,) * len(shape))
    rng = np.random.default_rng(seed)
    data = rng.choice(np.array([0.0, 1.0, -2.0, np.nan, np.inf, 1.5]), shape)
    compare([x], extra_ops.unique(x, *flags), [data], assert_fn=assert_unique)


# -- FillDiagonal, FillDiagonalOffset --------------------------------------------------------
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (3, 3, 3), (0, 2)], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int16", "uint64", "bool"])
def test_fill_diagonal(dtype, shape, static):
    a = tensor("a", dtype, shape, static)
    value = pt.scalar("value", dtype=dtype)
    test_values = [values(shape, dtype), values((), dtype, seed=5)]
    compare([a, value], extra_ops.fill_diagonal(a, value), test_values, assert_fn=assert_same)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (0, 3)], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_fill_diagonal_offset(dtype, shape):
    a = pt.matrix("a", dtype=dtype)
    value = pt.scalar("value", dtype=dtype)
    offset = pt.iscalar("offset")
    out = extra_ops.fill_diagonal_offset(a, value, offset)
    # Beyond these offsets PyTensor's perform slices with a negative end, which wraps
    # around and fills part of another diagonal; ONNX fills nothing there.
    for k in range(-shape[0], shape[1] + 1):
        test_values = [values(shape, dtype), np.asarray(9, dtype), np.int32(k)]
        compare([a, value, offset], out, test_values, assert_fn=assert_same)


# -- RavelMultiIndex, UnravelIndex -----------------------------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
def test_ravel_multi_index(mode, order):
    i = pt.lvector("i")
    j = pt.ivector("j")
    k = pt.bvector("k")
    dims = pt.lvector("dims")
    out = extra_ops.ravel_multi_index((i, j, k), dims, mode=mode, order=order)
    in_range = [
        np.array([0, 1, 2, 2]),
        np.array([3, 0, 1, 2], "int32"),
        np.array([0, 1, 1, 0], "int8"),
    ]
    compare([i, j, k, dims], out, [*in_range, np.array([3, 4, 2])])
    if mode != "raise":
        outside = [
            np.array([-1, 5, 2, -7]),
            np.array([4, -1, 9, 2], "int32"),
            np.array([2, -3, 1, 0], "int8"),
        ]
        compare([i, j, k, dims], out, [*outside, np.array([3, 4, 2])])


@pytest.mark.parametrize("order", ["C", "F"])
def test_unravel_index(order):
    indices = pt.imatrix("indices")
    dims = pt.lvector("dims")
    out = extra_ops.unravel_index(indices, pt.stack([dims[0], dims[1], 4]), order=order)
    data = np.array([[0, 5, 23], [11, 12, 7]], "int32")
    compare([indices, dims], list(out), [data, np.array([2, 3])], mode=OPT)
    constant = extra_ops.unravel_index(indices, (4, 6), order=order)
    compare([indices], list(constant), [data])
    compare([indices], list(constant), [np.zeros((0, 2), "int32")])


# -- Bartlett -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_bartlett(dtype):
    m = pt.scalar("m", dtype=dtype)
    for size in [0, 1, 2, 3, 4, 7, 10]:
        compare([m], extra_ops.bartlett(m), [np.asarray(size, dtype)], assert_fn=assert_same)
    if dtype != "uint8":
        compare([m], extra_ops.bartlett(m), [np.asarray(-3, dtype)])


# -- graphs of other ops -------------------------------------------------------------------
MATRIX = np.arange(12.0).reshape(3, 4) - 5.5


def graph_cases():
    m = pt.matrix("m")
    v = pt.vector("v")
    s = pt.lscalar("s")
    idx = pt.lvector("idx")
    counts = pt.lvector("counts")
    return {
        "roll": (
            [m, s],
            [pt.roll(m, s, axis=1), pt.roll(m, 2), pt.roll(m, -1, axis=0)],
            [MATRIX, np.int64(3)],
        ),
        "diff": ([m], [pt.diff(m), pt.diff(m, n=2, axis=0)], [MATRIX]),
        "tile": ([m], [pt.tile(m, (2, 3)), pt.tile(m, (2, 1, 2))], [MATRIX]),
        "bincount": (
            [counts, v],
            [pt.bincount(counts), pt.bincount(counts, minlength=9), pt.bincount(counts, weights=v)],
            [np.array([0, 2, 2, 5, 1, 0]), np.arange(6.0)],
        ),
        "trace": ([m], [pt.trace(m), pt.trace(m, 1), pt.linalg.trace(m)], [MATRIX]),
        "linspace": (
            [s],
            [pt.linspace(0.0, 1.0, s), pt.linspace(2.0, -3.0, 7, endpoint=False)],
            [np.int64(5)],
        ),
        "geomspace": ([s], [pt.geomspace(1.0, 100.0, s)], [np.int64(5)]),
        "logspace": ([s], [pt.logspace(0.0, 2.0, s)], [np.int64(5)]),
        "triu_tril": (
            [m, s],
            [pt.triu(m, s), pt.tril(m, s), pt.triu(m), pt.tril(m, -1), pt.tri(3, 4, s)],
            [MATRIX, np.int64(1)],
        ),
        "flip": ([m], [pt.flip(m), pt.flip(m, 0), pt.flip(m, -1)], [MATRIX]),
        "take": (
            [m, idx],
            [pt.take(m, idx), pt.take(m, idx, axis=1), pt.take(m, idx, axis=0)],
            [MATRIX, np.array([0, 2, -1])],
        ),
        "take_along_axis": (
            [m],
            [pt.take_along_axis(m, pt.argsort(-m, axis=1), axis=1)],
            [MATRIX],
        ),
        "broadcast_to": (
            [v, s],
            [pt.broadcast_to(v, (s, 4)), pt.broadcast_to(v, (2, 3, 4))],
            [np.arange(4.0), np.int64(3)],
        ),
        "diagonal": ([m], [pt.diagonal(m), pt.diagonal(m, -1), pt.diag(m, 2)], [MATRIX]),
        "compress": (
            [m, idx],
            [extra_ops.compress(idx, m, axis=1)],
            [MATRIX, np.array([1, 0, 0, 2])],
        ),
    }


@pytest.mark.parametrize("mode", [RAW, OPT], ids=["raw", "rewritten"])
@pytest.mark.parametrize("name", list(graph_cases()))
def test_graphs_of_other_ops(name, mode):
    inputs, outputs, test_values = graph_cases()[name]
    compare(inputs, outputs, test_values, mode=mode, assert_fn=assert_same)


@pytest.mark.parametrize("mode", [RAW, OPT], ids=["raw", "rewritten"])
def test_broadcast_arrays(mode):
    # Static shapes: PyTensor's own Python Second rejects the runtime broadcast otherwise.
    v = pt.tensor("v", shape=(4,))
    m = pt.tensor("m", shape=(3, 4))
    column = pt.tensor("column", shape=(3, 1))
    outputs = list(pt.broadcast_arrays(v, m, column))
    compare([v, m, column], outputs, [np.arange(4.0), MATRIX, MATRIX[:, :1]], mode=mode)


def test_symbolic_linspace_count_of_zero_fails_as_in_pytensor():
    # PyTensor's linspace sets x[-1] = stop inside a Switch whose branches are both
    # computed: with n = 0 that index is out of bounds, and PyTensor itself raises
    # IndexError (with or without rewrites); onnxruntime's ScatterND raises too.
    from pytensor.compile.mode import Mode

    n = pt.lscalar("n")
    out = pt.linspace(0.0, 1.0, n)
    for optimizer in (None, "fast_run"):
        reference = pytensor.function([n], out, mode=Mode(linker="py", optimizer=optimizer))
        with pytest.raises(IndexError):
            reference(np.int64(0))
    for mode in (RAW, OPT):
        with pytest.raises(Exception, match="ScatterND"):
            pytensor.function([n], out, mode=mode)(np.int64(0))


def test_cumsum_survives_rewrites():
    # PyTensor's rewrites keep CumOp: it reaches the converter, which emits CumSum.
    x = pt.vector("x")
    fn = pytensor.function([x], pt.cumsum(x), mode=OPT)
    assert "CumSum" in get_onnx_node_types(fn)
