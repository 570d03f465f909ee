"""Tensor construction (Alloc, AllocEmpty, ARange, Eye, Join, Split, MakeVector, ...) and
runtime checks (Assert, PyMC's CheckParameterValue), against PyTensor's Python linker.

Most tests compile without rewrites (``RAW``) so that the op under test reaches its
converter; ``mode=None`` runs the default ONNX mode (with PyTensor's rewrites).
"""

import logging

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytensor.raise_op import Assert, CheckAndRaise
from pytensor.tensor.basic import (
    Alloc,
    AllocDiag,
    AllocEmpty,
    ARange,
    Choose,
    ExtractDiag,
    Eye,
    Join,
    MakeVector,
    Nonzero,
    PermuteRowElements,
    Split,
    alloc_diag,
    choose,
    permute_row_elements,
    scalar_from_tensor,
    tensor_from_scalar,
)
from pytensor.tensor.shape import Shape_i

from pytensor_onnx import onnx_mode
from pytensor_onnx.dispatch.tensor_basic import (
    ASSERT_BEHAVIORS,
    assert_behavior,
    get_assert_behavior,
    set_assert_behavior,
)
from tests.test_basic import assert_same, get_onnx_node_types, py_mode
from tests.test_shape import PROPERTY_SETTINGS, RAW, assert_exact, compare, values

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint32")
DTYPES = ("float32", "float64", "int8", "int32", "int64", "uint8", "bool")


# -- Alloc, AllocEmpty, MakeVector ---------------------------------------------------------------
def assert_alloc(onnx_value, py_value):
    """Exact, but for the sign of zeros: PyTensor's Python Alloc writes np.zeros for any
    one-element value equal to 0, so it turns a -0.0 value into 0.0 (its C code, and ONNX's
    Expand, copy the value)."""
    assert_same(onnx_value, py_value)
    np.testing.assert_array_equal(onnx_value, py_value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_alloc_scalar_to_symbolic_shape(dtype):
    value = pt.scalar("value", dtype=dtype)
    n = pt.lscalar("n")
    m = pt.iscalar("m")  # an int32 dimension: shapes are cast to int64
    out = Alloc()(value, n, 3, m)
    for size in (2, 0):
        test_values = [values((), dtype), np.int64(size), np.int32(4)]
        fn = compare([value, n, m], out, test_values, assert_fn=assert_alloc)
    assert "Expand" in get_onnx_node_types(fn)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "bool"])
def test_alloc_broadcasts_a_tensor(dtype):
    value = pt.tensor("value", dtype=dtype, shape=(None, 1, 3))
    n, k = pt.lscalars("n", "k")
    out = Alloc()(value, n, value.shape[0], k, 3)
    compare([value, n, k], out, [values((2, 1, 3), dtype), np.int64(4), np.int64(5)], mode=None)
    out = Alloc()(value, n, Shape_i(0)(value), k, 3)
    compare([value, n, k], out, [values((2, 1, 3), dtype), np.int64(4), np.int64(5)])
    compare([value, n, k], out, [values((0, 1, 3), dtype), np.int64(2), np.int64(0)])


def test_alloc_to_a_scalar_and_constant_shape():
    value = pt.scalar("value")
    fn = compare([value], [Alloc()(value), Alloc()(value, 2, 3)], [np.float64(-1.5)])
    # An all-constant shape is one initializer: no Unsqueeze/Concat to build it.
    assert "Concat" not in get_onnx_node_types(fn)
    assert all(np.signbit(out).all() for out in fn(np.float64(-0.0)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
def test_alloc_empty_is_zeros(dtype):
    # NumPy's empty leaves memory uninitialised, so only the dtype and shape are compared;
    # ONNX has no uninitialised memory and gives zeros.
    n = pt.lscalar("n")
    out = AllocEmpty(dtype)(n, 3)
    fn = pytensor.function([n], out, mode=RAW)
    for size in (0, 4):
        result = fn(np.int64(size))
        expected = pytensor.function([n], out, mode=py_mode)(np.int64(size))
        assert result.dtype == expected.dtype and result.shape == expected.shape
        np.testing.assert_array_equal(result, np.zeros((size, 3), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_make_vector(dtype):
    a, b = pt.scalar("a", dtype=dtype), pt.scalar("b", dtype=dtype)
    c = pt.constant(np.ones((), dtype=dtype))
    outputs = [
        MakeVector(dtype)(a, b, a),
        MakeVector(dtype)(c, a, c, c, b),  # runs of constants
        MakeVector(dtype)(c, c),
        MakeVector(dtype)(),
    ]
    compare([a, b], outputs, [values((), dtype, seed=1), values((), dtype, seed=2)])


def test_make_vector_upcasts_and_stack_of_scalars():
    a = pt.scalar("a", dtype="int8")
    b = pt.scalar("b", dtype="float32")
    c = pt.lscalar("c")
    outputs = [MakeVector("float64")(a, b, c), pt.stack([a, c]), pt.stack([b])]
    compare([a, b, c], outputs, [np.int8(-3), np.float32(-0.0), np.int64(2**40 + 1)])


# -- scalars and 0-d tensors ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_scalar_from_tensor_and_back(dtype):
    x = pt.scalar("x", dtype=dtype)
    s = ps.get_scalar_type(dtype)("s")
    outputs = [tensor_from_scalar(scalar_from_tensor(x)), scalar_from_tensor(x)]
    compare([x], outputs, [values((), dtype)])
    compare([s], [tensor_from_scalar(s) * 2], [values((), dtype).item()])


# -- ARange ---------------------------------------------------------------------------------------
ARANGE_CASES = [
    (0, 5, 1),
    (5, 0, -1),
    (-3, 7, 3),
    (4, 4, 1),
    (5, 0, 1),  # empty
    (0.5, 3.25, 0.25),
    (1.0, -1.0, -0.3),
    (0.1, 2.3, 0.3),
    (-2.5, 10, 0.7),
    (0, 1, 0.1),
]


ARANGE_DTYPES = [
    ("int64", "int64"),
    ("int32", "int64"),
    ("int64", "float64"),
    ("int8", "float32"),
    ("float64", "float64"),
    ("float32", "float32"),
    ("float64", "float32"),
    ("float64", "int64"),
    ("float32", "int16"),
    ("int64", "uint8"),
]


@pytest.mark.parametrize(
    ("start", "stop", "step", "in_dtype", "out_dtype"),
    [
        (*bounds, in_dtype, out_dtype)
        for bounds in ARANGE_CASES
        for in_dtype, out_dtype in ARANGE_DTYPES
        # integer inputs take integer bounds; unsigned output, non-negative values
        if np.dtype(in_dtype).kind == "f" or all(isinstance(b, int) for b in bounds)
        if np.dtype(out_dtype).kind != "u" or min(bounds[:2]) >= 0
    ],
    ids=str,
)
def test_arange_symbolic_bounds(start, stop, step, in_dtype, out_dtype):
    bounds = [start, stop, step]
    variables = [pt.scalar(name, dtype=in_dtype) for name in ("start", "stop", "step")]
    out = ARange(out_dtype)(*variables)
    compare(variables, out, [np.asarray(b, dtype=in_dtype) for b in bounds])


def test_arange_dtype_rules_and_constant_bounds():
    # pt.arange infers its dtype (int64 for ints, float64 for floats); mixed constants and
    # variables.
    n = pt.lscalar("n")
    x = pt.scalar("x", dtype="float32")
    outputs = [pt.arange(n), pt.arange(2, n, 2), pt.arange(x), pt.arange(0.5, x, 0.5)]
    assert [o.dtype for o in outputs[:3]] == ["int64", "int64", "float32"]
    compare([n, x], outputs, [np.int64(9), np.float32(3.7)])
    compare([n, x], outputs, [np.int64(-1), np.float32(-0.0)])


@st.composite
def arange_bounds(draw):
    in_dtype = draw(st.sampled_from(["int8", "int32", "int64", "float32", "float64"]))
    out_dtype = draw(st.sampled_from(["int32", "int64", "float32", "float64"]))
    if np.dtype(in_dtype).kind == "f":
        start = draw(st.floats(-100, 100))
        step = draw(st.floats(0.01, 20)) * draw(st.sampled_from([1, -1]))
        stop = start + step * draw(st.floats(-2, 150))
    else:
        start = draw(st.integers(-60, 60))
        step = draw(st.integers(1, 9)) * draw(st.sampled_from([1, -1]))
        stop = draw(st.integers(-60, 60))
    return in_dtype, out_dtype, [np.asarray(v, dtype=in_dtype) for v in (start, stop, step)]


@PROPERTY_SETTINGS
@given(arange_bounds())
def test_arange_property(case):
    in_dtype, out_dtype, bounds = case
    variables = [pt.scalar(name, dtype=in_dtype) for name in ("start", "stop", "step")]
    compare(variables, ARange(out_dtype)(*variables), bounds)


# -- Eye and triangles -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "bool"])
def test_eye_symbolic(dtype):
    n, m, k = pt.lscalar("n"), pt.iscalar("m"), pt.lscalar("k")
    out = Eye(dtype)(n, m, k)
    for n_, m_, k_ in [(3, 3, 0), (3, 5, 1), (4, 2, -1), (3, 4, 7), (3, 4, -5), (0, 3, 0)]:
        compare([n, m, k], out, [np.int64(n_), np.int32(m_), np.int64(k_)])


def test_eye_constant():
    n = pt.lscalar("n")
    compare([n], [pt.eye(4), pt.eye(3, 5, k=-2), pt.eye(n, k=1)], [np.int64(3)])
    compare([n], [pt.eye(4), pt.eye(n, dtype="int32")], [np.int64(2)], mode=None)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_tri_tril_triu(dtype):
    # pt.tri is ARange and Elemwise; tril/triu multiply by it (no op of their own).
    n, m, k = pt.lscalars("n", "m", "k")
    x = pt.tensor("x", dtype=dtype, shape=(None, None, None))
    tri = pt.tri(n, m, k, dtype=dtype)
    compare([n, m, k], tri, [np.int64(3), np.int64(4), np.int64(-1)])
    compare([n, m, k], tri, [np.int64(4), np.int64(2), np.int64(1)])
    outputs = [tri, pt.tril(x), pt.triu(x, 1), pt.tril(x, -2)]
    test_values = [np.int64(3), np.int64(5), np.int64(0), values((2, 4, 3), dtype)]
    compare([n, m, k, x], outputs, test_values, mode=None)


# -- Join, Stack, Split ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_join(dtype, axis):
    x = pt.tensor("x", dtype=dtype, shape=(None, None, None))
    y = pt.tensor("y", dtype=dtype, shape=(2, 3, 4))
    shape_x = [2, 3, 4]
    shape_x[axis] = 5
    out = pt.join(axis, x, y, x)
    fn = compare([x, y], out, [values(shape_x, dtype), values((2, 3, 4), dtype, seed=1)])
    assert "Concat" in get_onnx_node_types(fn)
    shape_x[axis] = 0
    compare([x, y], out, [values(shape_x, dtype), values((2, 3, 4), dtype, seed=1)])


def test_join_mixed_dtypes_and_single_input():
    a = pt.vector("a", dtype="int8")
    b = pt.vector("b", dtype="float32")
    c = pt.vector("c", dtype="uint8")
    outputs = [pt.concatenate([a, b]), pt.concatenate([a, c]), pt.join(0, b)]
    assert [o.dtype for o in outputs] == ["float32", "int16", "float32"]
    compare([a, b, c], outputs, [np.int8([-128, 5]), np.float32([-0.0, np.nan]), np.uint8([255])])


def test_join_symbolic_axis_is_not_supported():
    axis = pt.lscalar("axis")
    x, y = pt.matrix("x"), pt.matrix("y")
    with pytest.raises(NotImplementedError, match=r"Join with a symbolic axis \(axis\)"):
        pytensor.function([axis, x, y], Join()(axis, x, y), mode=RAW)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_stack(dtype, axis):
    x, y = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype)
    out = pt.stack([x, y, x], axis=axis)
    for mode in (RAW, None):
        compare([x, y], out, [values((2, 3), dtype), values((2, 3), dtype, seed=3)], mode=mode)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_split(dtype):
    x = pt.tensor("x", dtype=dtype, shape=(None, None))
    sizes = pt.lvector("sizes", shape=(3,))
    symbolic_sizes = pt.split(x, sizes, n_splits=3, axis=1)
    constant_sizes = pt.split(x, [1, 0, 2], n_splits=3, axis=0)
    fn = compare(
        [x, sizes],
        [*symbolic_sizes, *constant_sizes],
        [values((3, 6), dtype), np.array([2, 0, 4])],
    )
    assert get_onnx_node_types(fn).count("Split") == 2


def test_split_single_output_negative_axis_and_int32_sizes():
    x = pt.tensor3("x")
    sizes = pt.ivector("sizes", shape=(2,))
    outputs = [*pt.split(x, sizes, n_splits=2, axis=-1), pt.split(x, [2], n_splits=1, axis=0)]
    compare([x, sizes], outputs, [values((2, 3, 5), "float64"), np.int32([5, 0])])


def test_split_symbolic_axis_is_not_supported():
    axis = pt.lscalar("axis")
    x = pt.matrix("x")
    with pytest.raises(NotImplementedError, match=r"Split with a symbolic axis \(axis\)"):
        pytensor.function([axis, x], Split(2)(x, axis, [1, 1]), mode=RAW)


@st.composite
def join_split_cases(draw):
    ndim = draw(st.integers(1, 3))
    axis = draw(st.integers(-ndim, ndim - 1))
    base = draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim))
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    dtypes = [draw(st.sampled_from(["float32", "float64", "int32", "bool"])) for _ in sizes]
    static = draw(st.booleans())
    symbolic_sizes = draw(st.booleans())
    return axis, base, sizes, dtypes, static, symbolic_sizes


@PROPERTY_SETTINGS
@given(join_split_cases())
def test_join_split_property(case):
    axis, base, sizes, dtypes, static, symbolic_sizes = case
    shapes = []
    for size in sizes:
        shape = list(base)
        shape[axis] = size
        shapes.append(tuple(shape))
    parts = [
        pt.tensor(f"x{i}", dtype=dtype, shape=shape if static else (None,) * len(shape))
        for i, (dtype, shape) in enumerate(zip(dtypes, shapes))
    ]
    joined = pt.join(axis, *parts)
    inputs = list(parts)
    test_values = [
        values(shape, dtype, seed=i) for i, (dtype, shape) in enumerate(zip(dtypes, shapes))
    ]
    if symbolic_sizes:
        split_sizes = pt.lvector("sizes", shape=(len(sizes),))
        inputs.append(split_sizes)
        test_values.append(np.array(sizes, dtype="int64"))
    else:
        split_sizes = sizes
    pieces = pt.split(joined, split_sizes, n_splits=len(sizes), axis=axis)
    pieces = [pieces] if len(sizes) == 1 else pieces  # one output: a variable, not a list
    compare(inputs, [joined, *pieces], test_values)


# -- Alloc broadcasting, property ------------------------------------------------------------------
@st.composite
def alloc_cases(draw):
    target = draw(st.lists(st.integers(0, 4), max_size=4))
    value_ndim = draw(st.integers(0, len(target)))
    trailing = target[len(target) - value_ndim :]
    value_shape = [d if draw(st.booleans()) else 1 for d in trailing]
    static_value = draw(st.booleans())
    symbolic_dims = [draw(st.booleans()) for _ in target]
    dtype = draw(st.sampled_from(["float32", "float64", "int8", "int64", "bool"]))
    return target, value_shape, static_value, symbolic_dims, dtype


@PROPERTY_SETTINGS
@given(alloc_cases())
def test_alloc_property(case):
    target, value_shape, static_value, symbolic_dims, dtype = case
    # PyTensor only broadcasts dims it knows are 1.
    type_shape = [d if static_value or d == 1 else None for d in value_shape]
    value = pt.tensor("value", dtype=dtype, shape=type_shape)
    inputs, test_values, dims = [value], [values(value_shape, dtype)], []
    for i, (size, is_symbolic) in enumerate(zip(target, symbolic_dims)):
        if is_symbolic:
            dim = pt.lscalar(f"d{i}")
            inputs.append(dim)
            test_values.append(np.int64(size))
            dims.append(dim)
        else:
            dims.append(size)
    compare(inputs, Alloc()(value, *dims), test_values, assert_fn=assert_alloc)


# -- zeros_like / ones_like / zeros ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_zeros_like_ones_like(dtype):
    # Before rewriting these are `second` (Elemwise); the ONNX mode makes them Alloc.
    x = pt.tensor("x", dtype=dtype, shape=(None, 3))
    outputs = [
        pt.zeros_like(x),
        pt.ones_like(x),
        pt.zeros_like(x, dtype="float32"),
        pt.ones_like(x, dtype="int8"),
        pt.full_like(x, 7, dtype="int64"),
        pt.ones((Shape_i(0)(x), 2), dtype=dtype),
    ]
    for mode in (RAW, None):
        for shape in [(2, 3), (0, 3)]:
            compare([x], outputs, [values(shape, dtype)], mode=mode)


# -- runtime checks -----------------------------------------------------------------------------
class ParameterValueError(ValueError):
    pass


class CheckParameterValue(CheckAndRaise):
    """PyMC's op (pymc.logprob.utils), which the converter recognises by its name."""

    __props__ = ("msg", "exc_type", "can_be_replaced_by_ninf")

    def __init__(self, msg="", can_be_replaced_by_ninf=False):
        super().__init__(ParameterValueError, msg)
        self.can_be_replaced_by_ninf = can_be_replaced_by_ninf


def onnx_records(caplog):
    return [r for r in caplog.records if r.name == "pytensor_onnx"]


def test_assert_behavior_settings():
    assert get_assert_behavior() == "warn"
    assert get_assert_behavior("parameter") == "nan"
    assert set(ASSERT_BEHAVIORS) == {"warn", "ignore", "nan", "error"}
    with assert_behavior("error", kind="parameter"):
        assert get_assert_behavior("parameter") == "error"
        assert get_assert_behavior("assert") == "warn"
    assert get_assert_behavior("parameter") == "nan"
    assert set_assert_behavior("ignore") == "warn"
    assert set_assert_behavior("warn") == "ignore"
    with pytest.raises(ValueError, match="behavior must be one of"):
        set_assert_behavior("raise")
    with pytest.raises(ValueError, match="kind must be one of"):
        set_assert_behavior("nan", kind="check")


def test_assert_default_drops_the_check_and_warns_once_per_conversion(caplog):
    x = pt.vector("x")
    out = Assert("x is short")(x, x.size < 3) * 2
    out = Assert("x is positive")(out, pt.all(x > 0))
    with caplog.at_level(logging.WARNING, logger="pytensor_onnx"):
        fn = compare([x], out, [np.array([1.0, 2.0])])
        assert len(onnx_records(caplog)) == 1
        assert "'x is short'" in onnx_records(caplog)[0].getMessage()
        # The check is gone: a value it rejects gives the unchecked result.
        np.testing.assert_array_equal(fn(np.array([-1.0, 2.0, 3.0])), [-2.0, 4.0, 6.0])
        pytensor.function([x], out, mode=onnx_mode())  # it keeps Assert: warns again
        assert len(onnx_records(caplog)) == 2


def test_assert_ignore_is_silent(caplog):
    x = pt.vector("x")
    with assert_behavior("ignore"), caplog.at_level(logging.WARNING, logger="pytensor_onnx"):
        compare([x], Assert()(x, pt.all(x > 0)), [np.array([1.0, 2.0])])
    assert onnx_records(caplog) == []


def test_assert_error_refuses_to_convert():
    x = pt.vector("x")
    with assert_behavior("error"):
        with pytest.raises(NotImplementedError, match="ONNX models cannot raise errors"):
            pytensor.function([x], Assert("checked")(x, pt.all(x > 0)), mode=RAW)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_assert_nan_marks_failure(dtype):
    x = pt.vector("x", dtype=dtype)
    n = pt.lscalar("n")
    out = Assert("checked")(x, pt.all(x > -5), n)  # two conditions, one of them int
    good = np.array([-0.0, 0.0, np.inf, -4.5, 1.5], dtype=dtype)
    with assert_behavior("nan"):
        fn = compare([x, n], out, [good, np.int64(1)])
        for bad in [(good, np.int64(0)), (np.array([-6.0, 1.0], dtype=dtype), np.int64(3))]:
            with pytest.raises(AssertionError, match="checked"):
                pytensor.function([x, n], out, mode=py_mode)(*bad)
            result = fn(*bad)
            assert result.dtype == dtype and result.shape == bad[0].shape
            assert np.isnan(result).all()


def test_assert_nan_on_integers_is_not_supported():
    x = pt.lvector("x")
    with assert_behavior("nan"):
        with pytest.raises(NotImplementedError, match="on a int64 value cannot mark failure"):
            pytensor.function([x], Assert()(x, pt.all(x > 0)), mode=RAW)


def test_check_parameter_value_defaults_to_nan(caplog):
    x = pt.vector("x")
    sigma = pt.scalar("sigma")
    logp = -0.5 * (x / sigma) ** 2 - pt.log(sigma)
    checked = CheckParameterValue("sigma > 0")(logp, pt.all(sigma > 0))
    with caplog.at_level(logging.WARNING, logger="pytensor_onnx"):
        for mode in (RAW, None):
            fn = compare([x, sigma], checked, [np.array([0.0, 1.0, -2.0]), np.float64(1.5)], mode)
            np.testing.assert_array_equal(fn(np.array([0.0, 1.0]), np.float64(-1.0)), [np.nan] * 2)
    assert onnx_records(caplog) == []
    with pytest.raises(ParameterValueError):
        pytensor.function([x, sigma], checked, mode=py_mode)(np.zeros(2), np.float64(-1.0))


def test_check_parameter_value_that_pymc_replaces_by_ninf_gives_ninf():
    # PyMC's logp checks (can_be_replaced_by_ninf) become -inf, as PyMC's own rewrite
    # local_check_parameter_to_ninf_switch makes them.
    x = pt.vector("x")
    mu, sigma = pt.scalars("mu", "sigma")
    logp = pt.sum(-0.5 * ((x - mu) / sigma) ** 2 - pt.log(sigma))
    checked = CheckParameterValue("sigma > 0", can_be_replaced_by_ninf=True)(
        logp, pt.all(sigma > 0), pt.lt(mu, 10)
    )
    for mode in (RAW, None):
        test_values = [np.array([0.5, 2.0]), np.float64(1), np.float64(2)]
        fn = compare([x, mu, sigma], checked, test_values, mode=mode)
        assert fn(np.array([0.5]), np.float64(0.0), np.float64(-1.0)) == -np.inf
        assert fn(np.array([0.5]), np.float64(np.nan), np.float64(1.0)) == -np.inf
    with assert_behavior("warn", kind="parameter"):
        fn = pytensor.function([x, mu, sigma], checked, mode=RAW)
        assert np.isnan(fn(np.array([0.5]), np.float64(0.0), np.float64(-1.0)))


def test_check_parameter_value_behavior_is_separate_from_assert():
    x = pt.vector("x")
    out = CheckParameterValue("p")(Assert("a")(x, pt.all(x > 0)), pt.all(x < 10))
    with assert_behavior("error", kind="assert"):
        with pytest.raises(NotImplementedError, match="Assert"):
            pytensor.function([x], out, mode=RAW)
    with assert_behavior("error", kind="parameter"), assert_behavior("ignore"):
        with pytest.raises(NotImplementedError, match="CheckParameterValue"):
            pytensor.function([x], out, mode=RAW)
    with assert_behavior("ignore"):
        fn = pytensor.function([x], out, mode=RAW)
    np.testing.assert_array_equal(fn(np.array([-1.0, 2.0])), [-1.0, 2.0])
    assert np.isnan(fn(np.array([11.0, 2.0]))).all()
    assert_exact(fn(np.array([-0.0, 2.0])), np.array([-0.0, 2.0]))


def test_docstring_examples_run():
    import doctest

    import pytensor_onnx.dispatch.tensor_basic as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_alloc_to_a_constant_empty_shape(dtype):
    # onnxruntime's ExpandElimination would keep the length-1 value's shape.
    s = pt.scalar("s", dtype=dtype)
    for value in (s, s[None], pt.stack([s])):
        compare([s], pt.alloc(value, 0), [np.asarray(2, dtype=dtype)])
        compare([s], pt.alloc(value, 3, 0), [np.asarray(2, dtype=dtype)])


# -- ExtractDiag, AllocDiag, Nonzero, PermuteRowElements, Choose ---------------------------
def _tensor(name, dtype, shape, static):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


def _op_classes(fn):
    return {type(node.op) for node in fn.maker.fgraph.apply_nodes}


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (0, 4), (2, 3, 4), (2, 3, 1, 4)], ids=str)
def test_extract_diag_offsets_and_axes(shape, static):
    x = _tensor("x", "float64", shape, static)
    ndim = len(shape)
    outputs = [
        ExtractDiag(offset, axis1, axis2)(x)
        for offset in (-6, -2, -1, 0, 1, 3, 6)
        for axis1, axis2 in {(0, 1), (ndim - 2, ndim - 1), (0, ndim - 1), (ndim - 1, 0)}
    ]
    fn = compare([x], outputs, [values(shape, "float64")])
    assert ExtractDiag in _op_classes(fn)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extract_diag_dtypes_and_trace(dtype):
    x = pt.tensor3("x", dtype=dtype)
    outputs = [pt.diagonal(x, 1, -1, 0), pt.diagonal(x, -1, axis1=1, axis2=2)]
    compare([x], outputs, [values((3, 4, 5), dtype)])
    # A sum: rounding may differ from NumPy's (measured 1.5e-16 relative in float64).
    trace = pt.trace(x, axis1=1, axis2=2)
    compare([x], trace, [values((3, 4, 5), dtype)], mode=None, assert_fn=assert_same)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("shape", [(3,), (0,), (2, 3), (2, 0, 3)], ids=str)
def test_alloc_diag(shape, static):
    x = _tensor("x", "float64", shape, static)
    ndim = len(shape) + 1
    outputs = [
        alloc_diag(x, offset, axis1, axis2)
        for offset in (-2, 0, 1)
        for axis1, axis2 in {(0, 1), (ndim - 2, ndim - 1), (0, ndim - 1)}
    ]
    fn = compare([x], outputs, [values(shape, "float64")])
    assert AllocDiag in _op_classes(fn)


@pytest.mark.parametrize("dtype", ["float32", "int16", "uint16", "uint64", "bool"])
def test_alloc_diag_dtypes(dtype):
    x = pt.vector("x", dtype=dtype)
    outputs = [pt.diag(x), pt.diag(x, 2), pt.diag(x, -1)]
    compare([x], outputs, [values((4,), dtype)])
    compare([x], outputs, [values((4,), dtype)], mode=None)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "uint64", "bool"])
def test_nonzero(dtype, static):
    x = _tensor("x", dtype, (3, 4), static)
    data = values((3, 4), dtype) * np.asarray(np.arange(12).reshape(3, 4) % 3 > 0, dtype)
    outputs = [*pt.nonzero(x), pt.flatnonzero(x), *pt.where(x), pt.nonzero(x, return_matrix=True)]
    fn = compare([x], outputs, [data])
    assert Nonzero in _op_classes(fn)
    compare([x], outputs, [np.zeros((3, 4), dtype)])
    compare([x], pt.nonzero_values(x), [data], mode=None)


def test_nonzero_of_nan_and_empty():
    x = pt.vector("x")
    compare([x], pt.flatnonzero(x), [np.array([0.0, -0.0, np.nan, np.inf, 0.0, 1e-300])])
    compare([x], pt.flatnonzero(x), [np.zeros(0)])
    y = pt.tensor3("y")
    compare([y], list(pt.nonzero(y)), [values((2, 0, 3), "float64")])


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_permute_row_elements(dtype, inverse):
    x = pt.matrix("x", dtype=dtype)
    perms = pt.lmatrix("perms")
    perm = pt.ivector("perm")
    data = values((2, 4), dtype)
    perms_data = np.array([[2, 0, 3, 1], [1, 2, 3, 0]])
    outputs = [permute_row_elements(x, perms, inverse), permute_row_elements(x, perm, inverse)]
    fn = compare([x, perms, perm], outputs, [data, perms_data, perms_data[1].astype("int32")])
    assert PermuteRowElements in _op_classes(fn)
    # A vector against several permutations: one row per permutation.
    v = pt.vector("v", dtype=dtype)
    compare([v, perms], permute_row_elements(v, perms, inverse), [data[0], perms_data])


def test_inverse_permutation():
    p = pt.lvector("p")
    compare([p], pt.inverse_permutation(p), [np.array([3, 0, 4, 1, 2])])
    compare([p], pt.inverse_permutation(p), [np.zeros(0, "int64")])


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_choose(dtype, mode):
    a = pt.lmatrix("a")
    choices = pt.tensor3("choices", dtype=dtype)
    a_data = np.array([[0, 1, 2, 0], [2, 1, 0, 1], [1, 1, 2, 2]])
    if mode != "raise":
        a_data = a_data * 3 - 2  # out of range: wrapped or clipped
    choices_data = values((3, 3, 4), dtype)
    fn = compare([a, choices], choose(a, choices, mode=mode), [a_data, choices_data])
    assert Choose in _op_classes(fn)
    # Broadcasting: a row of choices against a matrix of indices, and the reverse.
    rows = pt.matrix("rows", dtype=dtype)
    compare([a, rows], choose(a, rows, mode=mode), [a_data, choices_data[:, 0]])
    b = pt.lvector("b")
    compare([b, choices], choose(b, choices, mode=mode), [a_data[0], choices_data])


def test_choose_from_a_list_of_tensors_raises():
    a = pt.lvector("a")
    x, y = pt.vectors("x", "y")
    with pytest.raises(NotImplementedError, match="TypedList"):
        pytensor.function([a, x, y], choose(a, [x, y]), mode=RAW)
