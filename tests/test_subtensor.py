"""Indexing ops (Subtensor, AdvancedSubtensor(1), IncSubtensor and friends): onnxruntime
against PyTensor's Python linker (NumPy).

Most tests compile without rewrites (``RAW``) so that the op PyTensor builds for an index
expression reaches its converter as written; gradient and model tests also use the
default ONNX mode, whose rewrites produce ``AdvancedSubtensor1``/``AdvancedIncSubtensor1``.
Values of ``x`` are distinct, so that a wrong position shows as a wrong value; values
written by ``set_subtensor`` are compared exactly (with repeated indices NumPy's last
write wins, and the converter must pick the same one).
"""

import os

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import graph_inputs
from pytensor.tensor.subtensor import (
    AdvancedIncSubtensor,
    AdvancedIncSubtensor1,
    AdvancedSubtensor,
    AdvancedSubtensor1,
    IncSubtensor,
    Subtensor,
    advanced_inc_subtensor1,
    advanced_set_subtensor1,
)

from pytensor_onnx import ONNXLinker
from pytensor_onnx.dispatch import fgraph_to_onnx
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types, py_mode

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
PYTENSOR_3 = int(pytensor.__version__.split(".")[0]) >= 3

DTYPES = ("float32", "float64", "int32", "int64", "uint8", "bool")


def values(shape, dtype="float64", start=1):
    """Distinct values of alternating sign (bool: a pattern; uint8: wrapped), so that a
    wrong position shows as a wrong value."""
    data = np.arange(start, start + int(np.prod(shape))).reshape(shape)
    if dtype == "bool":
        return data % 3 == 0
    if dtype == "uint8":
        return (data % 251).astype(dtype)
    return (data * (-1) ** data).astype(dtype)


def assert_exact(onnx_value, py_value):
    assert_same(onnx_value, py_value)
    np.testing.assert_array_equal(onnx_value, py_value)


def compare(inputs, outputs, test_values, *, mode=RAW, assert_fn=assert_exact):
    """compare_onnx_and_py without rewrites by default, on the inputs the outputs use."""
    used = set(graph_inputs(outputs if isinstance(outputs, list) else [outputs]))
    inputs, test_values = zip(*((i, v) for i, v in zip(inputs, test_values) if i in used))
    fn, _ = compare_onnx_and_py(inputs, outputs, test_values, onnx_mode=mode, assert_fn=assert_fn)
    return fn


def op_classes(fn):
    return {type(node.op) for node in fn.maker.fgraph.apply_nodes}


def tensor(name, shape, dtype="float64", static=True):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


# -- basic indexing: Subtensor ---------------------------------------------------------
BASIC_INDICES = {
    "int": lambda x: x[1],
    "negative int": lambda x: x[-1],
    "ints": lambda x: x[0, -2],
    "all ints": lambda x: x[2, -1, 0],
    "slice": lambda x: x[1:3],
    "open slices": lambda x: x[:2, 1:],
    "negative bounds": lambda x: x[-2:, :-1],
    "step": lambda x: x[::2, 1::2],
    "negative step": lambda x: x[::-1],
    "negative step and bounds": lambda x: x[-1:0:-2, 3:0:-1],
    "start below -n, stepping back": lambda x: x[-10::-1],
    "bounds past the end": lambda x: x[1:100, -100:2],
    "empty": lambda x: x[2:1],
    "empty stepping back": lambda x: x[1:2:-1],
    "slice, int, slice": lambda x: x[1:, 2, ::-3],
    "int last": lambda x: x[:, :, -5],
    "full": lambda x: x[:, :],
}


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("index", BASIC_INDICES.values(), ids=BASIC_INDICES.keys())
def test_subtensor_constant_indices(index, static):
    x = tensor("x", (3, 4, 5), static=static)
    out = index(x)
    assert isinstance(out.owner.op, Subtensor)
    compare([x], out, [values((3, 4, 5))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_subtensor_dtypes(dtype):
    x = tensor("x", (3, 4), dtype, static=False)
    compare([x], [x[1], x[::-2, 1:3], x[-1, -1]], [values((3, 4), dtype)])


def test_subtensor_empty_input():
    x = tensor("x", (0, 3), static=False)
    compare([x], [x[1:], x[::-1, 1], x[:, ::-2]], [np.zeros((0, 3))])


def test_subtensor_int_index_out_of_bounds_raises():
    x = tensor("x", (3,), static=False)
    i = ps.int64("i")
    fn = pytensor.function([x, i], x[i], mode=RAW)
    assert fn(np.arange(3.0), -3) == 0.0
    with pytest.raises(Exception, match="out of"):
        fn(np.arange(3.0), 3)
    with pytest.raises(Exception, match="out of"):
        fn(np.arange(3.0), -4)


LENGTHS = (0, 1, 2, 5)
BOUNDS = (-7, -5, -2, -1, 0, 1, 2, 4, 5, 7)
STEPS = (-3, -1, 1, 2)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_slice_symbolic_bounds_exhaustive(static):
    # One function, every start/stop/step combination: ONNX's Slice clamps bounds
    # differently from Python for negative steps, which this catches.
    start, stop, step = (ps.int64(n) for n in ("start", "stop", "step"))
    for length in LENGTHS:
        x = tensor("x", (length,), static=static)
        onnx_fn = pytensor.function([x, start, stop, step], x[start:stop:step], mode=RAW)
        data = values((length,))
        for a in BOUNDS:
            for b in BOUNDS:
                for c in STEPS:
                    assert_exact(onnx_fn(data, a, b, c), data[a:b:c])


@pytest.mark.parametrize(
    "make",
    [
        lambda x, s: x[s:],
        lambda x, s: x[:s],
        lambda x, s: x[::s],
        lambda x, s: x[s::-1],
        lambda x, s: x[:s:-1],
        lambda x, s: x[s:s:s],
        lambda x, s: x[1::s],
        lambda x, s: x[:-2:s],
    ],
    ids=["start", "stop", "step", "start back", "stop back", "all", "step, start", "step, stop"],
)
def test_slice_symbolic_bounds_with_defaults(make):
    # A None bound's default depends on the sign of a symbolic step.
    s = ps.int64("s")
    for length in LENGTHS:
        x = tensor("x", (length,), static=False)
        onnx_fn = pytensor.function([x, s], make(x, s), mode=RAW)
        data = values((length,))
        for value in (b for b in BOUNDS if b != 0):  # 0 is an invalid step
            assert_exact(onnx_fn(data, value), make(data, value))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "uint32", "uint64"])
def test_subtensor_index_dtypes(dtype):
    x = tensor("x", (4, 5), static=False)
    i = ps.get_scalar_type(dtype)("i")
    j = pt.scalar("j", dtype=dtype)  # as a tensor: ScalarFromTensor feeds Subtensor
    compare([x, i, j], [x[i], x[i:, j], x[::i]], [values((4, 5)), np.asarray(2, dtype), 3])


def test_subtensor_tensor_bounds():
    x = tensor("x", (6, 4), static=False)
    a, b = pt.lscalars("a", "b")
    compare([x, a, b], [x[a:b, b], x[b:a:-1]], [values((6, 4)), np.int64(-5), np.int64(3)])


def test_subtensor_node_types():
    x = tensor("x", (6, 4), static=False)
    fn = compare([x], x[1, ::2], [values((6, 4))])
    assert sorted(get_onnx_node_types(fn)) == ["Gather", "Identity", "Slice"]


# -- reading with integer arrays and masks ---------------------------------------------
def test_advanced_subtensor1_vector_uses_gather_elements():
    x = tensor("x", (5,), static=False)
    idx = pt.lvector("idx")
    fn = compare([x, idx], x[idx], [values((5,)), np.array([4, -1, 0, 0, -5, 2])], mode=None)
    assert AdvancedSubtensor1 in op_classes(fn)
    assert "GatherElements" in get_onnx_node_types(fn)


@pytest.mark.parametrize("dtype", DTYPES)
def test_advanced_subtensor1_matrix(dtype):
    x = tensor("x", (4, 3), dtype, static=False)
    idx = pt.lvector("idx")
    out = AdvancedSubtensor1()(x, idx)
    fn = compare([x, idx], out, [values((4, 3), dtype), np.array([3, -4, 1, 3])])
    assert "Gather" in get_onnx_node_types(fn)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "uint32", "uint64"])
def test_advanced_subtensor1_index_dtypes(dtype):
    x = tensor("x", (300,), static=False)
    idx = pt.vector("idx", dtype=dtype)
    compare([x, idx], AdvancedSubtensor1()(x, idx), [values((300,)), np.array([0, 5, 2, 5], dtype)])


def test_advanced_subtensor1_empty():
    x = tensor("x", (4, 3), static=False)
    idx = pt.lvector("idx")
    compare([x, idx], AdvancedSubtensor1()(x, idx), [values((4, 3)), np.zeros(0, "int64")])
    compare([x, idx], AdvancedSubtensor1()(x, idx), [np.zeros((0, 3)), np.zeros(0, "int64")])


def test_advanced_subtensor1_out_of_bounds_raises():
    x = tensor("x", (3,), static=False)
    idx = pt.lvector("idx")
    fn = pytensor.function([x, idx], AdvancedSubtensor1()(x, idx), mode=RAW)
    with pytest.raises(Exception, match="GatherElements"):
        fn(np.arange(3.0), np.array([0, 3]))


I0 = np.array([2, -1, 0, 2])  # repeats and negative indices
I1 = np.array([-3, 1, 3, 1])

ADVANCED_INDICES = {
    "vector": lambda x, i, j: x[i],
    "vector on axis 1": lambda x, i, j: x[:, j],
    "two vectors": lambda x, i, j: x[i, j],
    "two vectors, slice between": lambda x, i, j: x[i[:2], :, j[:2]],
    "two vectors after a slice": lambda x, i, j: x[1:, i, j],
    "int then vector, adjacent": lambda x, i, j: x[:, 0, j],
    "int and vector apart": lambda x, i, j: x[-1, :, j],
    "broadcast vectors": lambda x, i, j: x[i[:, None], j],
    "matrix index": lambda x, i, j: x[:, i.reshape((2, 2))],
    "three arrays": lambda x, i, j: x[i, j, j[::-1]],
    "slices with steps": lambda x, i, j: x[::-1, i, 1::2],
    "ellipsis": lambda x, i, j: x[..., i],
    "newaxis before": lambda x, i, j: x[None, i],
    "newaxis between": lambda x, i, j: x[i, None, j],
    "newaxis after": lambda x, i, j: x[i, :, None],
    "empty vector": lambda x, i, j: x[i[:0], :, j[:0]],
    "scalar tensor index": lambda x, i, j: x[i[0], j],
}


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("index", ADVANCED_INDICES.values(), ids=ADVANCED_INDICES.keys())
def test_advanced_subtensor(index, static):
    x = tensor("x", (3, 4, 6), static=static)
    i, j = pt.lvectors("i", "j")
    out = index(x, i, j)
    assert isinstance(out.owner.op, AdvancedSubtensor)
    compare([x, i, j], out, [values((3, 4, 6)), I0, I1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_advanced_subtensor_dtypes(dtype):
    x = tensor("x", (3, 4), dtype, static=False)
    i, j = pt.lvectors("i", "j")
    compare([x, i, j], [x[i, j], x[:, j]], [values((3, 4), dtype), I0, I1])


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize(
    "index",
    [
        lambda x, m: x[m[0]],
        lambda x, m: x[:, m[1]],
        lambda x, m: x[1:, m[1], ::-1],
        lambda x, m: x[m],
        lambda x, m: x[m, 2:],
        lambda x, m: x[0, m[:, 1:]],
        lambda x, m: x[m[0], -1],
    ],
    ids=["1-D", "1-D on axis 1", "with slices", "2-D", "2-D then slice", "int, 2-D", "1-D, int"],
)
def test_boolean_mask(index, static):
    x = tensor("x", (4, 4, 3), static=static)
    m = tensor("m", (4, 4), "bool", static=static)
    mask = values((4, 4), "bool")
    compare([x, m], index(x, m), [values((4, 4, 3)), mask])
    compare([x, m], index(x, m), [values((4, 4, 3)), np.zeros_like(mask)])


@pytest.mark.parametrize("set_", [None, True, False], ids=["get", "set", "inc"])
def test_statically_empty_region(set_):
    # Static shapes make the region's shape a constant holding a 0, where onnxruntime's
    # ExpandElimination wrongly drops Expands (the result kept a length of 1).
    x = pt.tensor("x", shape=(3, 4, None))
    i = pt.lvector("i", shape=(1,))
    j = pt.lvector("j", shape=(0,))
    s = ps.int64("s")
    indices = [x[i, j], x[s, s, :0], x[i, :0, j], x[s, 1:1]]
    if set_ is None:
        outs = indices
    else:
        fn = pt.set_subtensor if set_ else pt.inc_subtensor
        outs = [fn(index, pt.ones((1,) * index.ndim)) for index in indices]
    compare(
        [x, i, j, s],
        outs,
        [values((3, 4, 2)), np.array([1]), np.zeros(0, "int64"), 0],
    )


def test_boolean_mask_with_integer_array():
    x = tensor("x", (4, 5), static=False)
    m = pt.vector("m", dtype="bool")
    i = pt.lvector("i")
    mask = np.array([True, False, True, False, True])
    compare([x, m, i], x[i[:3], m], [values((4, 5)), mask, np.array([0, -1, 2])])


def test_boolean_mask_uses_compress():
    x = tensor("x", (4, 5), static=False)
    m = pt.vector("m", dtype="bool")
    fn = compare([x, m], x[:, m], [values((4, 5)), np.array([True, False, True, False, True])])
    assert "Compress" in get_onnx_node_types(fn)


# -- writing: set_subtensor and inc_subtensor ------------------------------------------
BASIC_SETS = {
    "int": (lambda x: x[1], ()),
    "negative int": (lambda x: x[-1, 2], (5,)),
    "slice": (lambda x: x[1:], (2, 4, 5)),
    "inner axis": (lambda x: x[:, 1:3], (1, 5)),
    "steps": (lambda x: x[::-2, 1::2, -1], (2,)),
    "start below -n": (lambda x: x[-9::-1], (4, 5)),
    "empty": (lambda x: x[2:1, 0], (5,)),
    "all ints": (lambda x: x[0, -1, 3], ()),
    "whole": (lambda x: x[:], (4, 1)),
}


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("case", BASIC_SETS.values(), ids=BASIC_SETS.keys())
def test_inc_subtensor_basic(case, set_, static):
    index, y_shape = case
    x = tensor("x", (3, 4, 5), static=static)
    y = tensor("y", y_shape, static=True)
    out = (pt.set_subtensor if set_ else pt.inc_subtensor)(index(x), y)
    assert isinstance(out.owner.op, IncSubtensor)
    compare([x, y], out, [values((3, 4, 5)), values(y_shape, start=100)])


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize(
    "index", [lambda x, a, b: x[a:b:-1, b], lambda x, a, b: x[a::b, 1]], ids=["back", "step"]
)
def test_inc_subtensor_symbolic_bounds(index, set_):
    x = tensor("x", (6, 5), static=False)
    a, b = ps.int64("a"), ps.int64("b")
    y = pt.vector("y")
    out = (pt.set_subtensor if set_ else pt.inc_subtensor)(index(x, a, b), y)
    onnx_fn = pytensor.function([x, a, b, y], out, mode=RAW)
    py_fn = pytensor.function([x, a, b, y], out, mode=py_mode)
    for a_val, b_val in [(4, 1), (-1, -5), (-9, 2), (5, 2), (-9, -2), (3, -1)]:
        region = index(values((6, 5)), a_val, b_val)
        test_values = [values((6, 5)), a_val, b_val, values(region.shape, start=50)]
        assert_exact(onnx_fn(*test_values), py_fn(*test_values))


def test_set_subtensor_value_with_leading_length_1_dims():
    # NumPy drops them: x[0] = y with y of shape (1, 5). set_subtensor refuses a y of
    # more dims than x[0], the op itself only one of more dims than x.
    x = tensor("x", (3, 5), static=False)
    y = pt.tensor("y", shape=(1, None))
    node = pt.set_subtensor(x[0], y[0]).owner
    out = node.op.make_node(x, y, *node.inputs[2:]).outputs[0]
    compare([x, y], out, [values((3, 5)), values((1, 5), start=40)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_values_pass_through(dtype):
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-300, -1.5], dtype=dtype)
    x = tensor("x", (7,), dtype, static=False)
    y = tensor("y", (3,), dtype, static=False)
    idx = pt.lvector("idx")
    outs = [
        x[::-2],
        x[idx],
        pt.set_subtensor(x[idx], y),
        pt.set_subtensor(x[1:4], y),
        pt.inc_subtensor(x[idx], y),
    ]

    def assert_bits(onnx_value, py_value):  # NaN, infinities and the sign of zeros
        assert_exact(onnx_value, py_value)
        np.testing.assert_array_equal(np.signbit(onnx_value), np.signbit(py_value))

    compare(
        [x, y, idx],
        outs,
        [special, special[[3, 0, 1]], np.array([4, 3, 3])],
        assert_fn=assert_bits,
    )
    compare(
        [x, y, idx],
        outs,
        [special[::-1], special[[4, 2, 3]], np.array([0, -1, 5])],
        assert_fn=assert_bits,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_inc_subtensor_dtypes(dtype):
    x = tensor("x", (3, 4), dtype, static=False)
    y = tensor("y", (2,), dtype)
    outs = [pt.set_subtensor(x[1:, 0], y), pt.inc_subtensor(x[-1, ::2], y)]
    compare([x, y], outs, [values((3, 4), dtype), values((2,), dtype, start=7)])


def test_inc_subtensor_converts_the_value():
    # x[...] = y stores y in x's dtype; float to int truncates as the Cast does.
    x = tensor("x", (4,), "int32", static=False)
    y = tensor("y", (2,), "float64")
    compare([x, y], pt.set_subtensor(x[1:3], y), [values((4,), "int32"), np.array([2.75, -3.5])])


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
def test_advanced_inc_subtensor1_vector(set_):
    x = tensor("x", (5,), static=False)
    y = pt.vector("y")
    idx = pt.lvector("idx")
    op = advanced_set_subtensor1 if set_ else advanced_inc_subtensor1
    fn = compare(
        [x, y, idx],
        op(x, y, idx),
        [values((5,)), values((7,), start=10), np.array([4, -1, 0, 0, -5, 2, 4])],
    )
    if not set_:  # the gradient of x[idx]: one scatter-add, without reshapes
        assert get_onnx_node_types(fn) == ["ScatterElements", "Identity"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
def test_advanced_inc_subtensor1_matrix(set_, dtype):
    x = tensor("x", (4, 3), dtype, static=False)
    y = pt.matrix("y", dtype=dtype)
    idx = pt.lvector("idx")
    op = advanced_set_subtensor1 if set_ else advanced_inc_subtensor1
    compare(
        [x, y, idx],
        op(x, y, idx),
        [values((4, 3), dtype), values((5, 3), dtype, start=20), np.array([3, -4, 1, 3, 0])],
    )


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
def test_advanced_inc_subtensor1_broadcast_value(set_):
    x = tensor("x", (4, 3), static=False)
    y = pt.tensor("y", shape=(1, 3))
    s = pt.scalar("s")
    idx = pt.lvector("idx")
    op = advanced_set_subtensor1 if set_ else advanced_inc_subtensor1
    compare(
        [x, y, s, idx],
        [op(x, y, idx), op(x, s, idx)],
        [values((4, 3)), values((1, 3), start=9), np.float64(0.5), np.array([1, 1, -1])],
    )


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "uint32", "uint64"])
@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
def test_advanced_inc_subtensor1_index_dtypes(set_, dtype):
    x = tensor("x", (300,), static=False)
    y = pt.vector("y")
    idx = pt.vector("idx", dtype=dtype)
    op = advanced_set_subtensor1 if set_ else advanced_inc_subtensor1
    compare(
        [x, y, idx], op(x, y, idx), [values((300,)), values((4,)), np.array([0, 5, 2, 5], dtype)]
    )


def test_advanced_inc_subtensor1_empty_index():
    x = tensor("x", (4, 3), static=False)
    y = pt.matrix("y")
    idx = pt.lvector("idx")
    for op in (advanced_set_subtensor1, advanced_inc_subtensor1):
        compare(
            [x, y, idx], op(x, y, idx), [values((4, 3)), np.zeros((0, 3)), np.zeros(0, "int64")]
        )


def test_advanced_inc_subtensor1_out_of_bounds_raises():
    x = tensor("x", (3,), static=False)
    y = pt.vector("y")
    idx = pt.lvector("idx")
    for op in (advanced_set_subtensor1, advanced_inc_subtensor1):
        fn = pytensor.function([x, y, idx], op(x, y, idx), mode=RAW)
        for bad in ([0, 3], [-4, 0]):
            with pytest.raises(Exception, match="indices element out of data bounds"):
                fn(np.arange(3.0), np.ones(2), np.array(bad))


ADVANCED_SETS = {
    "vector": (lambda x, i, j: x[i], (4, 4, 6)),
    "vector, broadcast value": (lambda x, i, j: x[i], (6,)),
    "axis 1": (lambda x, i, j: x[:, j], (3, 4, 6)),
    "two vectors": (lambda x, i, j: x[i, j], (4, 6)),
    "two vectors apart": (lambda x, i, j: x[i, :, j], (4, 4)),
    "after a slice": (lambda x, i, j: x[::-1, i, j], (3, 4)),
    "int and vector apart": (lambda x, i, j: x[0, 1:, j], (4, 3)),
    "broadcast vectors": (lambda x, i, j: x[i[:, None], j], (4, 4, 6)),
    "newaxis": (lambda x, i, j: x[i, None, j], (4, 1, 6)),
    "matrix index": (lambda x, i, j: x[1, i.reshape((2, 2)), ::2], (2, 2, 3)),
    "scalar index": (lambda x, i, j: x[i[0], j], (4, 6)),
}


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("case", ADVANCED_SETS.values(), ids=ADVANCED_SETS.keys())
def test_advanced_inc_subtensor(case, set_, static):
    index, y_shape = case
    x = tensor("x", (3, 4, 6), static=static)
    y = tensor("y", y_shape)
    i, j = pt.lvectors("i", "j")
    out = (pt.set_subtensor if set_ else pt.inc_subtensor)(index(x, i, j), y)
    assert isinstance(out.owner.op, AdvancedIncSubtensor)
    compare([x, y, i, j], out, [values((3, 4, 6)), values(y_shape, start=100), I0, I1])


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
def test_advanced_inc_subtensor_boolean_mask(set_):
    x = tensor("x", (4, 4, 3), static=False)
    m = tensor("m", (4, 4), "bool", static=False)
    y = pt.vector("y")
    fn = pt.set_subtensor if set_ else pt.inc_subtensor
    outs = [fn(x[m], y), fn(x[1:, m[0]], y), fn(x[:, m[1], 0], y[:1])]
    compare([x, m, y], outs, [values((4, 4, 3)), values((4, 4), "bool"), values((3,), start=70)])


def test_advanced_inc_subtensor_ignore_duplicates():
    # x[i] += y without np.add.at: repeats read x before any write, the last write wins.
    x = tensor("x", (5, 2), static=False)
    y = pt.matrix("y")
    i = pt.lvector("i")
    # PyTensor 3 takes the index structure, 2.38 has no idx_list.
    op = (
        AdvancedIncSubtensor((0,), ignore_duplicates=True)
        if PYTENSOR_3
        else AdvancedIncSubtensor(ignore_duplicates=True)
    )
    out = op(x, y, i)
    compare([x, y, i], out, [values((5, 2)), values((4, 2), start=10), np.array([1, -4, 0, 3])])


def test_advanced_inc_subtensor_constant_unique_indices_skip_deduplication():
    x = tensor("x", (5, 2), static=True)
    y = pt.matrix("y")
    fn = compare(
        [x, y],
        [pt.set_subtensor(x[[3, 0, -1]], y), pt.set_subtensor(x[[0, 0, 2]], y)],
        [values((5, 2)), values((3, 2), start=10)],
    )
    types = get_onnx_node_types(fn)
    # The first has no repeats (-1 is 4 here): one plain ScatterND; the second needs the
    # search for the last write (a ScatterElements with reduction max).
    assert types.count("ScatterND") == 2
    assert types.count("ScatterElements") == 1


def test_set_with_repeats_is_deterministic_with_threads():
    # onnxruntime parallelises ScatterND over index rows; with repeated rows the winner
    # (and with reduction="add" the sum) was then random. Large enough to use threads.
    rng = np.random.default_rng(0)
    n_rows, n_updates, width = 50, 20000, 64
    x = pt.matrix("x")
    y = pt.matrix("y")
    idx = pt.lvector("idx")
    threaded = Mode(linker=ONNXLinker(intra_op_num_threads=2), optimizer=None)
    outs = [advanced_set_subtensor1(x, y, idx), advanced_inc_subtensor1(x, y, idx)]
    onnx_fn = pytensor.function([x, y, idx], outs, mode=threaded)
    py_fn = pytensor.function([x, y, idx], outs, mode=py_mode)
    data = [
        np.zeros((n_rows, width)),
        rng.normal(size=(n_updates, width)),
        rng.integers(-n_rows, n_rows, n_updates),
    ]
    expected_set, expected_inc = py_fn(*data)
    for _ in range(3):
        got_set, got_inc = onnx_fn(*data)
        assert_exact(got_set, expected_set)
        # Summation order of np.add.at (the ScatterElements kernel adds in the same order).
        np.testing.assert_array_equal(got_inc, expected_inc)


# -- gradients -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [RAW, None], ids=["raw", "rewritten"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_of_indexing(dtype, mode):
    a = tensor("a", (5,), dtype, static=False)
    m = tensor("m", (4, 3), dtype, static=False)
    idx = pt.lvector("idx")
    s = ps.int64("s")
    costs = [
        pt.sum(a[idx] ** 2),
        pt.sum(m[idx[:3], 1:] ** 2) + pt.sum(m[1:, s] * 3),
        pt.sum(m[idx[:2], :][:, idx[2:]] ** 3),
        pt.sum(a[1:-1] * a[:-2]) + a[s] ** 2,
        pt.sum(pt.exp(m[:, ::-1][idx[1]])),
    ]
    wrt = [a, m, m, a, m]
    grads = [pytensor.grad(cost, w) for cost, w in zip(costs, wrt)]
    test_values = [
        values((5,), dtype) / 7,
        values((4, 3), dtype) / 11,
        np.array([0, -1, 2, 0, 2, -3]),
        -2,
    ]
    compare(
        [a, m, idx, s],
        grads,
        test_values,
        mode=mode,
        assert_fn=assert_same,
    )


def test_gradient_of_indexing_rewritten_uses_scatter_elements():
    a = tensor("a", (5,), static=False)
    idx = pt.lvector("idx")
    grad = pytensor.grad(pt.sum(a[idx] ** 2), a)
    fn = compare([a, idx], grad, [values((5,)), np.array([4, -1, 0, 0])], mode=None)
    assert AdvancedIncSubtensor1 in op_classes(fn)
    assert "ScatterElements" in get_onnx_node_types(fn)
    assert "ScatterND" not in get_onnx_node_types(fn)


# -- what cannot be converted ----------------------------------------------------------
@pytest.mark.skipif(PYTENSOR_3, reason="PyTensor 3 has no symbolic slice inputs in indexing")
def test_symbolic_slice_input_raises():
    from pytensor.tensor.type_other import SliceType

    x = pt.vector("x")
    sl = SliceType()("sl")
    out = AdvancedSubtensor()(x, sl)
    with pytest.raises(NotImplementedError, match="symbolic slice input"):
        fgraph_to_onnx([x, sl], [out], FunctionGraph([x, sl], [out], clone=False).toposort())


# -- property tests --------------------------------------------------------------------
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PYTENSOR_ONNX_EXAMPLES", 60)),
    deadline=None,  # each example compiles two functions
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

bounds = st.one_of(st.none(), st.integers(-7, 7))


@st.composite
def basic_index(draw):
    """A shape, and per axis a slice or an integer (in bounds), each bound constant or a
    symbolic scalar input."""
    shape = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
    n_indexed = draw(st.integers(1, len(shape)))
    entries = []
    for length in shape[:n_indexed]:
        if length and draw(st.booleans()):
            entries.append(draw(st.integers(-length, length - 1)))
        else:
            step = draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
            entries.append(slice(draw(bounds), draw(bounds), step))
    return shape, entries


def symbolic_index(entries, symbolic):
    """Replace each int of ``entries`` where ``symbolic`` says so by an int64 scalar
    input; return the index, the inputs and their values."""
    inputs, input_values, flags = [], [], iter(symbolic)

    def part(value):
        if value is None or not next(flags, False):
            return value
        var = ps.int64(f"i{len(inputs)}")
        inputs.append(var)
        input_values.append(value)
        return var

    index = tuple(
        slice(part(e.start), part(e.stop), part(e.step)) if isinstance(e, slice) else part(e)
        for e in entries
    )
    return index, inputs, input_values


@PROPERTY_SETTINGS
@given(case=basic_index(), static=st.booleans(), rewritten=st.booleans(), data=st.data())
def test_property_basic_indexing(case, static, rewritten, data):
    mode = None if rewritten else RAW  # the default ONNX mode rewrites the graph
    shape, entries = case
    dtype = data.draw(st.sampled_from(["float64", "float32", "int64"]))
    index, inputs, input_values = symbolic_index(
        entries, data.draw(st.lists(st.booleans(), min_size=12))
    )
    x = tensor("x", shape, dtype, static=static)
    out = x[index]
    x_val = values(shape, dtype)
    compare([x, *inputs], out, [x_val, *input_values], mode=mode)
    # and writing to that region
    region = x_val[tuple(entries)]
    y = pt.tensor("y", dtype=dtype, shape=(None,) * region.ndim)
    y_val = values(region.shape, dtype, start=500)
    compare(
        [x, y, *inputs],
        [pt.set_subtensor(out, y), pt.inc_subtensor(out, y)],
        [x_val, y_val, *input_values],
        mode=mode,
    )


@st.composite
def advanced_index(draw):
    """A shape, and per axis a slice or an integer array (negative and repeated values
    in bounds, arrays of broadcastable shapes); or slices and one boolean mask."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    n_indexed = draw(st.integers(1, len(shape)))
    array_shape = draw(st.sampled_from([(), (3,), (2, 1), (1, 3), (0,)]))
    entries = []
    for length in shape[:n_indexed]:
        if draw(st.booleans()):
            step = draw(st.one_of(st.none(), st.integers(-2, 2).filter(bool)))
            entries.append(slice(draw(bounds), draw(bounds), step))
        else:
            own_shape = draw(st.sampled_from([array_shape, array_shape[-1:]]))
            size = int(np.prod(own_shape))
            ints = draw(st.lists(st.integers(-length, length - 1), min_size=size, max_size=size))
            entries.append(np.array(ints, dtype="int64").reshape(own_shape))
    arrays = [k for k, e in enumerate(entries) if isinstance(e, np.ndarray)]
    if not arrays:
        entries[0] = np.array([0, -1, 0])
    elif draw(st.booleans()):  # the first array becomes a mask, the others slices
        first = arrays[0]
        n_axes = draw(st.integers(1, len(shape) - first))
        mask_shape = shape[first : first + n_axes]
        size = int(np.prod(mask_shape))
        mask = draw(st.lists(st.booleans(), min_size=size, max_size=size))
        rest = [e if isinstance(e, slice) else slice(None) for e in entries[first + n_axes :]]
        entries = [*entries[:first], np.array(mask).reshape(mask_shape), *rest]
    return shape, entries


@PROPERTY_SETTINGS
@given(case=advanced_index(), static=st.booleans(), rewritten=st.booleans(), data=st.data())
def test_property_advanced_indexing(case, static, rewritten, data):
    mode = None if rewritten else RAW  # rewrites make AdvancedSubtensor1 and friends
    shape, entries = case
    dtype = data.draw(st.sampled_from(["float64", "float32", "int32"]))
    x = tensor("x", shape, dtype, static=static)
    arrays = [
        pt.tensor(f"i{k}", dtype=e.dtype, shape=(None,) * e.ndim)
        for k, e in enumerate(entries)
        if isinstance(e, np.ndarray)
    ]
    it = iter(arrays)
    index = tuple(next(it) if isinstance(e, np.ndarray) else e for e in entries)
    array_values = [e for e in entries if isinstance(e, np.ndarray)]
    x_val = values(shape, dtype)
    out = x[index]
    compare([x, *arrays], out, [x_val, *array_values], mode=mode)

    region = x_val[tuple(entries)]
    y = pt.tensor("y", dtype=dtype, shape=(None,) * region.ndim)
    y_val = values(region.shape, dtype, start=500)
    compare(
        [x, y, *arrays],
        [pt.set_subtensor(out, y), pt.inc_subtensor(out, y)],
        [x_val, y_val, *array_values],
        mode=mode,
    )
