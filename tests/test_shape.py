"""Shape ops (Shape, Shape_i, SpecifyShape, Reshape) and the shape graphs rewrites leave.

Most tests compile without rewrites (``RAW``) so that the op under test reaches its
converter; the ``onnx_mode`` tests check the graphs PyTensor's rewrites make of common
shape arithmetic (``x.shape[0]`` becomes Shape_i, ``pt.zeros(...)`` an Alloc).
"""

import os

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode
from pytensor.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape

from pytensor_onnx import ONNXLinker
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types, py_mode

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)

DTYPES = ("float32", "float64", "int8", "int32", "int64", "uint8", "bool")

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PYTENSOR_ONNX_EXAMPLES", 60)),
    deadline=None,  # compiling two functions per example takes 20-100 ms
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_exact(onnx_value, py_value):
    """Same dtype, shape and values, NaN equal to NaN and zeros of the same sign."""
    assert_same(onnx_value, py_value)
    onnx_value, py_value = np.asarray(onnx_value), np.asarray(py_value)
    np.testing.assert_array_equal(onnx_value, py_value)
    if py_value.dtype.kind == "f":
        np.testing.assert_array_equal(np.signbit(onnx_value), np.signbit(py_value))


def values(shape, dtype, seed=0):
    """Distinct-looking values of ``dtype``: negatives, -0.0, inf and NaN for floats."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if dtype == "bool":
        return rng.integers(0, 2, size).astype(bool).reshape(shape)
    if np.dtype(dtype).kind == "f":
        data = rng.normal(size=size) * 10
        special = [-0.0, np.inf, -np.inf, np.nan]
        data[: min(size, 4)] = special[: min(size, 4)]
        return data.astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), size).astype(dtype).reshape(shape)


def compare(inputs, outputs, test_values, mode=RAW, assert_fn=assert_exact):
    """compare_onnx_and_py, by default without rewrites and exact; returns the ONNX function."""
    fn, _ = compare_onnx_and_py(inputs, outputs, test_values, onnx_mode=mode, assert_fn=assert_fn)
    return fn


def symbolic(name, dtype, shape, static):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


# -- Shape and Shape_i ---------------------------------------------------------------------
@pytest.mark.parametrize("static", [False, True], ids=["symbolic", "static"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 0, 4), (1, 5, 2)], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "int8", "bool"])
def test_shape(dtype, shape, static):
    x = symbolic("x", dtype, shape, static)
    fn = compare([x], Shape()(x), [values(shape, dtype)])
    # Statically known shapes are constants; unknown ones are read at runtime.
    assert ("Shape" in get_onnx_node_types(fn)) == (not static and len(shape) > 0)


@pytest.mark.parametrize("static", [False, True], ids=["symbolic", "static"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_shape_i(dtype, static):
    shape = (3, 0, 5)
    x = symbolic("x", dtype, shape, static)
    outputs = [Shape_i(i)(x) for i in range(len(shape))]
    fn = compare([x], outputs, [values(shape, dtype)])
    assert ("Shape" in get_onnx_node_types(fn)) == (not static)


def test_shape_i_of_partly_static_shape():
    x = pt.tensor("x", shape=(None, 4))
    fn = compare([x], [Shape_i(0)(x), Shape_i(1)(x)], [values((7, 4), "float64")])
    assert get_onnx_node_types(fn).count("Shape") == 1


# -- SpecifyShape ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_specify_shape(dtype):
    x = pt.tensor("x", dtype=dtype, shape=(None, None))
    n = pt.lscalar("n")
    out = SpecifyShape()(x, n, None)
    fn = compare([x, n], [out, out.shape], [values((3, 2), dtype), np.int64(3)])
    assert "Shape" in get_onnx_node_types(fn)  # dimension 1 is still unknown


def test_specify_shape_is_not_checked():
    # ONNX cannot raise: the shape is a promise, passed through unchecked (onnxruntime
    # logs a warning when a declared output shape is not met).
    x = pt.vector("x")
    out = pt.specify_shape(x, (3,)) * 2
    fn = pytensor.function([x], out, mode=RAW)
    np.testing.assert_array_equal(fn(np.ones(4)), np.full(4, 2.0))
    with pytest.raises(AssertionError, match="SpecifyShape"):
        pytensor.function([x], out, mode=py_mode)(np.ones(4))


# -- Reshape ----------------------------------------------------------------------------------
RESHAPES = [
    ((2, 3, 4), (6, 4)),
    ((2, 3, 4), (-1,)),
    ((2, 3, 4), (4, -1)),
    ((2, 3, 4), (2, -1, 3)),
    ((2, 3, 4), (1, 24, 1)),
    ((1, 1), ()),
    ((), (1, 1, 1)),
    ((), (-1,)),
    ((0, 3), (3, 0)),  # a 0 is a dimension of size 0 in NumPy, not "copy" as in ONNX
    ((0, 3), (-1, 3)),
    ((2, 0, 3), (0, 5, 7)),
    ((5,), (5, 1)),
]


@pytest.mark.parametrize(("in_shape", "new_shape"), RESHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "bool"])
def test_reshape_constant_shape(dtype, in_shape, new_shape):
    for static in (False, True):
        x = symbolic("x", dtype, in_shape, static)
        compare([x], x.reshape(new_shape), [values(in_shape, dtype)])


@pytest.mark.parametrize(("in_shape", "new_shape"), RESHAPES, ids=str)
@pytest.mark.parametrize("shape_dtype", ["int64", "int32", "int8"])
def test_reshape_symbolic_shape(in_shape, new_shape, shape_dtype):
    x = pt.tensor("x", shape=(None,) * len(in_shape))
    shape = pt.vector("shape", dtype=shape_dtype, shape=(len(new_shape),))
    out = Reshape(len(new_shape))(x, shape)
    compare([x, shape], out, [values(in_shape, "float64"), np.array(new_shape, shape_dtype)])


def test_reshape_to_scalars_from_other_tensor():
    # The new shape is another tensor's shape and a computed dimension.
    x = pt.matrix("x")
    y = pt.tensor3("y")
    n = pt.lscalar("n")
    out = x.reshape((Shape_i(0)(y), n, -1))
    compare([x, y, n], out, [values((6, 4), "float64"), np.zeros((3, 1, 1)), np.int64(2)])


def test_reshape_zero_is_size_zero_not_copy():
    # With ONNX's default allowzero=0 the 0 would copy x's dimension 1 (here 4).
    x = pt.matrix("x")
    shape = pt.lvector("shape", shape=(2,))
    out = Reshape(2)(x, shape)
    fn = compare([x, shape], out, [np.zeros((0, 4)), np.array([4, 0])])
    assert fn(np.zeros((0, 4)), np.array([4, 0])).shape == (4, 0)


def test_reshape_static_output_uses_a_constant_shape():
    x = pt.tensor("x", shape=(2, 3, 4))
    fn = compare([x], x.reshape((-1, 4)), [values((2, 3, 4), "float64")])
    reshape = next(n for n in fn.maker.linker.onnx_model.graph.node if n.op_type == "Reshape")
    shape_name = reshape.input[1]
    initializers = {i.name for i in fn.maker.linker.onnx_model.graph.initializer}
    assert shape_name in initializers


@st.composite
def reshapes(draw):
    """A shape, a new shape of the same size (maybe with one -1), and how each is typed."""
    dims = draw(st.lists(st.integers(0, 4), min_size=0, max_size=4))
    # Regroup a shuffled list of the dims (and some 1s): every product is the same size.
    pool = draw(st.permutations(dims + [1] * draw(st.integers(0, 2))))
    cuts = sorted(draw(st.lists(st.integers(0, len(pool)), max_size=4)))
    groups = [pool[a:b] for a, b in zip([0, *cuts], [*cuts, len(pool)])]
    new_shape = [int(np.prod(g)) for g in groups if g or draw(st.booleans())]
    others = [int(np.prod(new_shape[:i] + new_shape[i + 1 :])) for i in range(len(new_shape))]
    candidates = [i for i, other in enumerate(others) if other != 0]
    if candidates and draw(st.booleans()):
        new_shape[draw(st.sampled_from(candidates))] = -1
    static_x = draw(st.booleans())
    symbolic_shape = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64", "int32", "bool"]))
    return tuple(dims), tuple(new_shape), static_x, symbolic_shape, dtype


@PROPERTY_SETTINGS
@given(reshapes())
def test_reshape_property(case):
    in_shape, new_shape, static_x, symbolic_shape, dtype = case
    x = symbolic("x", dtype, in_shape, static_x)
    inputs, test_values = [x], [values(in_shape, dtype)]
    if symbolic_shape:
        shape = pt.lvector("shape", shape=(len(new_shape),))
        out = Reshape(len(new_shape))(x, shape)
        inputs.append(shape)
        test_values.append(np.array(new_shape, dtype="int64"))
    else:
        out = x.reshape(new_shape)
    compare(inputs, out, test_values)


# -- graphs that PyTensor builds from these ops ------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_squeeze_expand_dims_flatten(dtype):
    # pt.squeeze / pt.expand_dims build DimShuffle (there is no Squeeze or ExpandDims tensor
    # op in PyTensor 2.38 or 3.0); flatten builds Reshape of a shape that, before
    # rewriting, slices x.shape (Subtensor, not tested here).
    x = pt.tensor("x", dtype=dtype, shape=(None, 1, None, 1))
    raw_outputs = [pt.squeeze(x), pt.squeeze(x, axis=1), pt.expand_dims(x, (0, 3))]
    outputs = [*raw_outputs, x.flatten(), x.flatten(2)]
    for shape in [(3, 1, 0, 1), (2, 1, 4, 1)]:
        compare([x], raw_outputs, [values(shape, dtype)])
        compare([x], outputs, [values(shape, dtype)], mode=None)


def test_shape_arithmetic_after_rewrites():
    # The ONNX mode rewrites x.shape[0] to Shape_i and pt.zeros / pt.ones to Alloc.
    x = pt.matrix("x")
    y = pt.tensor3("y")
    outputs = [
        x.shape[0],
        x.shape[-1] * y.shape[0],
        pt.zeros((x.shape[0], 3)),
        pt.ones((y.shape[2], x.shape[1]), dtype="int32"),
        x.reshape((x.shape[1], x.shape[0])),
        y.reshape((y.shape[0] * y.shape[1], -1)),
        pt.zeros_like(x) + x.shape[1],
    ]
    fn = compare([x, y], outputs, [values((2, 5), "float64"), values((3, 4, 2), "float64")], None)
    compare([x, y], outputs, [np.zeros((0, 5)), np.zeros((3, 4, 0))], None)
    assert "Shape" in get_onnx_node_types(fn)
