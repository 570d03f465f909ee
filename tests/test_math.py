"""Reductions (CAReduce and its subclasses), Argmax, mean and the softmax ops: onnxruntime
against PyTensor's Python linker (NumPy/SciPy).

Most tests compile without rewrites (``RAW``), so that the op under test reaches its
converter as built; each compiles one function whose outputs reduce over many axis sets.
"""

import functools

import numpy as np
import onnx
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytest
import scipy.special
from pytensor.compile.mode import Mode
from pytensor.tensor.elemwise import CAReduce
from pytensor.tensor.math import All, Any, Argmax, Max, Min, Prod, ProdWithoutZeros, Sum

from pytensor_onnx import ONNXLinker
from pytensor_onnx.mode import onnx_mode
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types, py_mode

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
ONNX = onnx_mode(intra_op_num_threads=1)

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
ALL_DTYPES = (*FLOAT_DTYPES, *INT_DTYPES, "bool")

SHAPE = (2, 3, 4)
AXES = [None, 0, 1, 2, -1, (0, 2), (2, 0), (1, 2), (0, 1, 2), ()]

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def values_of(dtype, shape=SHAPE, seed=0) -> np.ndarray:
    """Random values of ``dtype``: for floats with NaN, infinities and zeros of both signs
    in some groups; for integers over the whole range (so that sums and products wrap)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "f":
        values = rng.normal(size=shape) * 3
        flat = values.reshape(-1)
        specials = {0: np.nan, 5: np.inf, 11: -np.inf, 13: 0.0, 17: -0.0, 20: np.inf, 22: 0.0}
        for position, special in specials.items():
            if position < flat.size:
                flat[position] = special
        return values.astype(dtype)
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    flat = values.reshape(-1)
    flat[: min(4, flat.size)] = [info.min, info.max, 0, 1][: min(4, flat.size)]
    return values


def tensor(dtype, shape=SHAPE, static=True, name="x"):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


def compare(inputs, outputs, values, *, mode=RAW, assert_fn=assert_same):
    fn, _ = compare_onnx_and_py(inputs, outputs, values, onnx_mode=mode, assert_fn=assert_fn)
    return fn


def run_onnx(inputs, outputs, values, mode=RAW):
    fn = pytensor.function(inputs, outputs, mode=mode)
    onnx.checker.check_model(fn.maker.linker.onnx_model, full_check=True)
    return fn, fn(*values)


# -- every reduction, dtype and axis set -----------------------------------------------------
REDUCTIONS = {"sum": Sum, "prod": Prod, "max": Max, "min": Min, "all": All, "any": Any}


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("reduction", sorted(REDUCTIONS))
def test_reduction(reduction, dtype, static):
    x = tensor(dtype, static=static)
    outputs = [REDUCTIONS[reduction](axis=axis)(x) for axis in AXES]
    fn = compare([x], outputs, [values_of(dtype)])
    types = get_onnx_node_types(fn)
    if reduction == "sum" and dtype not in FLOAT_DTYPES:
        # onnxruntime's integer ReduceSum runs in double (inexact above 2**53, saturating)
        assert "ReduceSum" not in types and "MatMul" in types
    if reduction == "prod" and dtype not in FLOAT_DTYPES:
        assert "Loop" in types  # a pairwise Mul tree (ReduceProd runs in double too)


@pytest.mark.parametrize(
    "in_dtype, kwargs, out_dtype",
    [
        ("bool", {}, "int64"),
        ("int8", {}, "int64"),
        ("uint8", {}, "uint64"),
        ("uint32", {}, "uint64"),
        ("int8", {"dtype": "int8"}, "int8"),
        ("uint16", {"dtype": "int16"}, "int16"),
        ("int32", {"dtype": "float64"}, "float64"),
        ("int64", {"acc_dtype": "float64"}, "int64"),
        ("int16", {"acc_dtype": "float32"}, "int64"),
        ("float32", {}, "float32"),
        ("float32", {"acc_dtype": "float32"}, "float32"),
        ("float64", {"dtype": "float32"}, "float32"),
        ("float32", {"dtype": "float64"}, "float64"),
    ],
)
@pytest.mark.parametrize("reduction", [pt.sum, pt.prod])
def test_sum_prod_dtype_and_acc_dtype(reduction, in_dtype, kwargs, out_dtype):
    x = tensor(in_dtype, static=False)
    value = values_of(in_dtype)
    if "acc_dtype" in kwargs and kwargs["acc_dtype"].startswith("float"):
        value = (value % 16).astype(in_dtype)  # exact in the float accumulator
    outputs = [reduction(x, axis=axis, **kwargs) for axis in (None, 1, (0, 2))]
    assert all(out.dtype == out_dtype for out in outputs)
    compare([x], outputs, [value])


def test_float32_sum_accumulates_in_float64_like_pytensor():
    # float32 addition would round 1e8 + 1 back to 1e8, making the sum 0.
    x = pt.vector("x", dtype="float32")
    fn = compare([x], pt.sum(x), [np.array([1e8, 1, -1e8], "float32")])
    assert fn(np.array([1e8, 1, -1e8], "float32")) == 1
    cast_to_double = [
        node
        for node in fn.maker.linker.onnx_model.graph.node
        if node.op_type == "Cast" and node.attribute[0].i == onnx.TensorProto.DOUBLE
    ]
    assert cast_to_double


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32"])
def test_integer_sum_is_exact_and_wraps(dtype):
    x = pt.matrix("x", dtype=dtype)
    outputs = [pt.sum(x, axis=axis, dtype=dtype) for axis in (None, 0, 1)]
    info = np.iinfo(dtype)
    big = [min(2**53, info.max // 3), 1, info.max, info.max // 2, info.max // 2 + 3]
    value = np.array([big, [big[0], 1, *big[:1:-1]]], dtype=dtype)
    fn = compare([x], outputs, [value])
    # onnxruntime's ReduceSum (in double) gives 2**53 for 2**53 + 1
    np.testing.assert_array_equal(fn(value[:, :2])[2], [big[0] + 1] * 2)


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint64"])
def test_integer_prod_is_exact_and_wraps_for_any_length(dtype):
    # The pairwise tree has odd and even row counts at every level for these lengths.
    x = pt.vector("x", dtype=dtype)
    fn = compare([x], pt.prod(x, dtype=dtype), [np.array([3], dtype)])
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    for n in range(0, 12):
        value = rng.integers(info.min, info.max, size=n, dtype=dtype, endpoint=True)
        assert_same(fn(value), np.multiply.reduce(value, dtype=dtype))
    value = np.array([3**20, 3**20, 7], dtype=np.int64).astype(dtype)
    assert_same(fn(value), np.multiply.reduce(value, dtype=dtype))


# -- empty inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "uint64", "bool"])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_sum_prod_all_any_of_empty_arrays(dtype, shape):
    x = pt.matrix("x", dtype=dtype)
    outputs = [
        reduction(x, axis=axis)
        for reduction in (pt.sum, pt.prod, pt.all, pt.any)
        for axis in (None, 0, 1)
    ]
    compare([x], outputs, [np.zeros(shape, dtype)])


@pytest.mark.parametrize(
    "dtype, expected_max, expected_min",
    [
        ("float64", -np.inf, np.inf),
        ("float32", -np.inf, np.inf),
        ("int64", np.iinfo("int64").min, np.iinfo("int64").max),
        ("int8", -128, 127),
        ("uint64", 0, np.iinfo("uint64").max),
    ],
)
def test_max_min_of_empty_axis_give_the_reduction_identity(dtype, expected_max, expected_min):
    # NumPy (so PyTensor) raises on a max over an empty axis; the ONNX model cannot raise
    # and returns the identity of the reduction instead (documented in dispatch/math.py).
    x = pt.matrix("x", dtype=dtype)
    value = np.zeros((0, 3), dtype)
    with pytest.raises(ValueError, match="zero-size array"):
        pytensor.function([x], Max(axis=(0,))(x), mode=py_mode)(value)
    _, (top, bottom) = run_onnx([x], [Max(axis=(0,))(x), Min(axis=(0,))(x)], [value])
    assert top.dtype == dtype and bottom.dtype == dtype
    np.testing.assert_array_equal(top, np.full(3, expected_max, dtype))
    np.testing.assert_array_equal(bottom, np.full(3, expected_min, dtype))


def test_argmax_of_empty_axis_raises_like_numpy():
    x = pt.matrix("x")
    fn, result = run_onnx([x], pt.argmax(x, axis=1), [np.zeros((0, 3))])
    assert result.shape == (0,)  # an empty group count is fine
    with pytest.raises(Exception, match="ArgMax"):
        fn(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="empty sequence"):
        pytensor.function([x], pt.argmax(x, axis=1), mode=py_mode)(np.zeros((3, 0)))


# -- NaN ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_max_min_argmax_propagate_nan_at_any_position(dtype):
    # onnxruntime's ReduceMax/ReduceMin/ArgMax skip a NaN unless it comes first.
    x = pt.vector("x", dtype=dtype)
    outputs = [Max(axis=None)(x), Min(axis=None)(x), pt.argmax(x), pt.argmin(x)]
    fn = compare([x], outputs, [np.array([np.nan, 1.0], dtype)])
    py_fn = pytensor.function([x], outputs, mode=py_mode)
    for n in (2, 3, 8, 17, 100):
        for position in sorted({0, 1, n // 2, n - 1}):
            value = np.arange(n, dtype=dtype)
            value[position] = np.nan
            for onnx_value, py_value in zip(fn(value), py_fn(value), strict=True):
                assert_same(onnx_value, py_value)
            value[-1] = np.nan  # the first of two NaNs
            assert fn(value)[2] == position


def test_nan_only_in_some_groups():
    x = pt.matrix("x")
    value = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -np.inf], [np.nan, np.nan, 0.0]])
    outputs = [f(x, axis=axis) for f in (pt.max, pt.min, pt.argmax) for axis in (0, 1)]
    compare([x], outputs, [value])


# -- Argmax ---------------------------------------------------------------------------------
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_argmax(dtype, static):
    x = tensor(dtype, static=static)
    outputs = [Argmax(axis)(x) for axis in (None, (0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2))]
    outputs.append(pt.argmax(x, axis=-1, keepdims=True))
    value = values_of(dtype)
    compare([x], outputs, [value])


def test_argmax_over_no_axes_is_zero():
    x = pt.matrix("x")
    compare([x], Argmax(())(x), [np.ones((2, 3))])


@pytest.mark.parametrize("dtype", ["float64", "int64", "uint64", "uint8", "int16", "bool"])
def test_argmin(dtype):
    # pt.argmin is an Argmax of -x (of max - x for unsigned ints, of ~x for bools).
    x = pt.matrix("x", dtype=dtype)
    outputs = [pt.argmin(x, axis=axis) for axis in (None, 0, 1)]
    compare([x], outputs, [values_of(dtype, (3, 4))])


def test_argmax_ties_pick_the_first():
    x = pt.matrix("x")
    value = np.array([[1.0, 3.0, 3.0], [-np.inf, -np.inf, -np.inf], [2.0, 2.0, 1.0]])
    compare([x], [pt.argmax(x, axis=1), pt.argmin(x, axis=1), pt.argmax(x, axis=0)], [value])


def test_uint64_max_min_argmax_keep_the_unsigned_order():
    x = pt.vector("x", dtype="uint64")
    value = np.array([2**63 - 1, 2**63, 2**64 - 1, 0, 1, 2**63 + 5], dtype="uint64")
    outputs = [Max(axis=None)(x), Min(axis=None)(x), pt.argmax(x), Argmax(None)(-x)]
    compare([x], outputs, [value])


# -- shapes ---------------------------------------------------------------------------------
def test_keepdims():
    x = pt.tensor3("x")
    outputs = [
        f(x, axis=axis, keepdims=True)
        for f in (pt.sum, pt.prod, pt.max, pt.all, pt.argmax)
        for axis in (None, 1, (0, 2))
    ]
    compare([x], outputs, [values_of("float64")])


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_reductions_of_a_scalar(dtype):
    x = pt.tensor("x", dtype=dtype, shape=())
    outputs = [op(axis=None)(x) for op in (Sum, Prod, Max, Min, All, Any, Argmax)]
    compare([x], outputs, [np.asarray(values_of(dtype, (1,))[0])])


# -- other scalar ops -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int16"])
def test_prod_without_zeros(dtype):
    x = pt.matrix("x", dtype=dtype)
    value = np.array([[0, 2, 0, 3], [0, 0, 0, 0], [3, 0, 4, 5], [-2, -1, 0, 7]], dtype)
    outputs = [ProdWithoutZeros(axis=axis)(x) for axis in (None, (0,), (1,), ())]
    compare([x], outputs, [value])
    compare([x], ProdWithoutZeros(axis=(0,))(x), [np.zeros((0, 2), dtype)])


def test_gradient_of_prod_with_zeros():
    # ProdWithoutZeros appears in the gradient of prod, for groups with a single zero.
    x = pt.matrix("x")
    grad = pytensor.grad(pt.prod(x, axis=1).sum(), x)
    value = np.array([[1.0, 2.0, 3.0], [0.0, 2.0, 5.0], [0.0, 0.0, 4.0]])
    fn = compare([x], grad, [value], mode=ONNX)
    assert "Loop" not in get_onnx_node_types(fn)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8"])
def test_careduce_of_a_plain_scalar_op(dtype):
    # CAReduce built directly: no upcast of the output, and the accumulator dtype is kept.
    x = pt.matrix("x", dtype=dtype)
    outputs = [
        CAReduce(scalar_op, axis=(1,))(x) for scalar_op in (ps.add, ps.mul, ps.maximum, ps.minimum)
    ]
    compare([x], outputs, [values_of(dtype, (3, 5))])


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64", "uint64"])
def test_bitwise_and_logical_reductions(dtype):
    # No ONNX reduction for bitwise ops (nor xor of bools): a pairwise tree of the scalar
    # op's own converter.
    x = pt.matrix("x", dtype=dtype)
    outputs = [
        CAReduce(scalar_op, axis=axis)(x)
        for scalar_op in (ps.and_, ps.or_, ps.xor)
        for axis in (None, (0,), (1,))
    ]
    fn = compare([x], outputs, [values_of(dtype, (5, 7))])
    assert "Loop" in get_onnx_node_types(fn)
    compare([x], outputs, [np.zeros((0, 3), dtype)])  # the identity of each op


def test_float16_reductions():
    x = pt.matrix("x", dtype="float16")
    outputs = [
        pt.sum(x, axis=1),  # accumulates in float32
        pt.prod(x, axis=0),
        Max(axis=(1,))(x),
        Min(axis=None)(x),
        pt.argmax(x, axis=1),
        pt.all(x),
    ]
    value = np.array([[1, 2, np.nan, 4], [3, -1, 0.5, 1e4], [7, 1e4, 1e4, 0]], "float16")
    compare([x], outputs, [value])
    compare([x], pt.mean(x, axis=0), [value], mode=ONNX)


def _composite_op():
    # (1 + a)(1 + b) - 1: commutative and associative, with no ONNX reduction.
    a, b = ps.float64("a"), ps.float64("b")
    return ps.Composite([a, b], [a + b + a * b])


def test_careduce_of_a_composite_reduces_pairwise():
    # PyTensor's Python implementation cannot run it (the Composite has no identity):
    # compare with a sequential reduce in NumPy.
    x = pt.matrix("x")
    fn, _ = run_onnx([x], CAReduce(_composite_op(), axis=(1,))(x), [np.ones((1, 1))])
    assert "Loop" in get_onnx_node_types(fn)
    rng = np.random.default_rng(2)
    for n in range(1, 10):
        value = rng.uniform(-0.5, 0.5, size=(3, n))
        expected = [functools.reduce(lambda a, b: a + b + a * b, row) for row in value]
        # Pairwise against sequential order: measured within 12 eps64 (absolute) on 4500
        # rows; results near 0 make relative errors large.
        np.testing.assert_allclose(fn(value), expected, rtol=0, atol=1e-14)
    # No identity: reducing an empty axis fails, as NumPy raises.
    with pytest.raises(Exception, match="Reshape"):
        fn(np.zeros((3, 0)))


def test_careduce_of_a_composite_over_several_axes():
    x = pt.tensor3("x")
    fn, _ = run_onnx([x], CAReduce(_composite_op(), axis=(0, 2))(x), [np.ones((1, 1, 1))])
    value = np.random.default_rng(3).uniform(-0.5, 0.5, size=(3, 2, 5))
    groups = np.moveaxis(value, 1, 0).reshape(2, -1)
    expected = [functools.reduce(lambda a, b: a + b + a * b, group) for group in groups]
    np.testing.assert_allclose(fn(value), expected, rtol=0, atol=1e-14)


class _NoConverterOp(ps.BinaryScalarOp):
    commutative = True
    associative = True

    def impl(self, x, y):
        return x + y


def test_careduce_of_a_scalar_op_without_converter_raises():
    x = pt.matrix("x")
    scalar_op = _NoConverterOp(ps.upcast_out, name="no_converter")
    with pytest.raises(NotImplementedError, match=r"CAReduce\(scalar_op=_NoConverterOp\)"):
        pytensor.function([x], CAReduce(scalar_op, axis=(1,))(x), mode=RAW)


# -- mean, logsumexp, softmax -----------------------------------------------------------------
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_mean(dtype, static):
    # pt.mean is a Sum divided by the product of the reduced dims (read from the shape).
    x = tensor(dtype, static=static)
    outputs = [pt.mean(x, axis=axis) for axis in (None, 0, -1, (0, 2))]
    outputs.append(pt.mean(x, axis=1, keepdims=True))
    value = values_of(dtype)
    if dtype.startswith("float"):
        value = np.nan_to_num(value, posinf=5.0, neginf=-5.0)
    compare([x], outputs, [value], mode=ONNX)


def test_mean_of_empty_axis_is_nan():
    x = pt.matrix("x")
    compare([x], [pt.mean(x, axis=0), pt.mean(x)], [np.zeros((0, 3))], mode=ONNX)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_logsumexp_is_stable(dtype):
    x = pt.matrix("x", dtype=dtype)
    value = np.array([[1000.0, 1000.0], [-1000.0, 5.0], [-np.inf, -np.inf]], dtype)
    outputs = [pt.logsumexp(x, axis=1), pt.logsumexp(x, axis=1, keepdims=True)]
    _, (result, kept) = run_onnx([x], outputs, [value], mode=ONNX)
    expected = scipy.special.logsumexp(value.astype("float64"), axis=1)
    assert result.dtype == dtype
    assert np.isfinite(result[:2]).all()
    rtol = 8 * np.finfo(dtype).eps  # against SciPy in float64
    np.testing.assert_allclose(result, expected, rtol=rtol)
    np.testing.assert_allclose(kept[:, 0], expected, rtol=rtol)


def softmax_values(dtype):
    return np.array(
        [
            [1000.0, 1000.0, 999.0, -5.0],
            [-1000.0, 5.0, 0.5, 2.0],
            [-np.inf, -np.inf, -np.inf, -np.inf],
            [np.inf, 1.0, 2.0, 3.0],
            [1.0, np.nan, 2.0, 3.0],
            [-np.inf, 0.0, -0.0, 1e-300],
        ],
        dtype,
    )


SOFTMAX_OPS = {"softmax": pt.special.softmax, "log_softmax": pt.special.log_softmax}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", sorted(SOFTMAX_OPS))
def test_softmax(name, dtype):
    x = pt.matrix("x", dtype=dtype)
    outputs = [SOFTMAX_OPS[name](x, axis=axis) for axis in (-1, 0, None)]
    fn = compare([x], outputs, [softmax_values(dtype)])
    # One max, exp and sum pass per output: no ONNX Softmax/ReduceLogSumExp (slow in ORT).
    types = get_onnx_node_types(fn)
    assert types.count("ReduceMax") == 3 and types.count("ReduceSum") == 3
    assert types.count("Exp") == 3 and "Softmax" not in types and "LogSoftmax" not in types
    finite = pytensor.function([x], outputs, mode=RAW)(softmax_values(dtype)[:2])
    assert all(np.isfinite(out).all() for out in finite)


@pytest.mark.parametrize("name", sorted(SOFTMAX_OPS))
def test_softmax_in_onnx_mode(name):
    x = pt.tensor3("x")
    value = np.random.default_rng(4).normal(size=(2, 3, 4)) * 300
    compare([x], SOFTMAX_OPS[name](x, axis=1), [value], mode=ONNX)


def test_softmax_of_integers_raises():
    x = pt.vector("x", dtype="int64")
    if pt.special.softmax(x).dtype == "int64":  # pytensor 2.38
        with pytest.raises(NotImplementedError, match="Softmax of int64 input"):
            pytensor.function([x], pt.special.softmax(x), mode=RAW)
    else:  # pytensor 3's Softmax is a graph, which casts to float
        compare([x], pt.special.softmax(x), [np.array([1, 2, 3])])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_gradient(dtype):
    # pytensor 2.38 has a SoftmaxGrad op; pytensor 3 builds the gradient from Sum & co.
    x, w = pt.matrix("x", dtype=dtype), pt.matrix("w", dtype=dtype)
    sm = pt.special.softmax(x, axis=-1)
    outputs = pytensor.grad((sm * w).sum(), x)
    rng = np.random.default_rng(5)
    values = [(rng.normal(size=(3, 4)) * 100).astype(dtype), rng.normal(size=(3, 4)).astype(dtype)]
    compare([x, w], outputs, values, mode=ONNX)
    compare([x, w], outputs, values, mode=RAW)
