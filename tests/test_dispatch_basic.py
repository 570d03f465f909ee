"""The dispatch core: onnx_funcify / onnx_typify, make_value_info and GraphBuilder."""

import gc
from contextlib import contextmanager

import numpy as np
import onnx
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytest
from onnx import TensorProto, helper, numpy_helper
from pytensor.compile.mode import Mode
from pytensor.graph.basic import Apply
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.op import Op

from pytensor_onnx import GraphBuilder, ONNXLinker, make_value_info, onnx_funcify, onnx_typify
from pytensor_onnx.dispatch.basic import fgraph_to_onnx
from pytensor_onnx.dtypes import PYTENSOR_TO_ONNX
from tests.custom_ops import UnaryTestOp
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types


class FakeOp(UnaryTestOp):
    """An op no converter is registered for."""


class SoftClip(UnaryTestOp):
    """A custom op with a custom converter: x / (1 + |x|)."""

    @staticmethod
    def compute(x):
        return x / (1 + np.abs(x))


def onnx_funcify_SoftClip(op, node, builder, inputs, **kwargs):
    (x,) = inputs
    one = builder.constant(np.asarray(1, dtype=node.inputs[0].dtype))
    denominator = builder.add_node("Add", [one, builder.add_node("Abs", [x])])
    return builder.add_node("Div", [x, denominator], hint="softclip")


@contextmanager
def registered_converter(op_class, converter):
    """Register ``converter`` for ``op_class`` for the duration of a ``with`` block.

    The registry is global and other tests check that it holds the package's converters
    only (the README's op table). ``singledispatch`` has no way to unregister, so the
    entry is removed from the dict behind its read-only ``registry`` view.
    """
    onnx_funcify.register(op_class)(converter)
    try:
        yield
    finally:
        (registry,) = [r for r in gc.get_referents(onnx_funcify.registry) if isinstance(r, dict)]
        del registry[op_class]
        onnx_funcify._clear_cache()


# -- onnx_funcify ----------------------------------------------------------------------
def test_onnx_funcify_unregistered_op_raises():
    x = pt.vector("x")
    node = FakeOp()(x).owner
    with pytest.raises(NotImplementedError) as excinfo:
        onnx_funcify(node.op, node=node, builder=GraphBuilder(), inputs=["x"])
    message = str(excinfo.value)
    assert "No ONNX conversion available" in message
    assert "FakeOp" in message
    assert "@onnx_funcify.register(FakeOp)" in message


def test_onnx_funcify_function_graph_returns_valid_model():
    x = pt.vector("x")
    model = onnx_funcify(FunctionGraph([x], [pt.exp(x)], clone=False))
    assert isinstance(model, onnx.ModelProto)
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Exp", "Identity"]


def test_custom_converter_end_to_end():
    x = pt.vector("x", dtype="float32")
    y = SoftClip()(x) * 2
    x_val = np.array([-3.0, -0.5, 0.0, 0.5, 10.0], dtype="float32")
    with pytest.raises(NotImplementedError, match="SoftClip"):
        pytensor.function([x], y, mode="ONNX")
    with registered_converter(SoftClip, onnx_funcify_SoftClip):
        fn, _ = compare_onnx_and_py([x], y, [x_val], onnx_mode="ONNX")
    assert SoftClip not in onnx_funcify.registry  # unregistered again
    with pytest.raises(NotImplementedError, match="SoftClip"):
        pytensor.function([x], y, mode="ONNX")
    assert_same(fn(x_val), np.asarray(x_val / (1 + np.abs(x_val)) * 2))  # still runs
    assert fn.maker.linker.onnx_model.graph.node[-1].op_type == "Identity"
    assert "Div" in get_onnx_node_types(fn)
    assert "softclip" in [out for n in fn.maker.linker.onnx_model.graph.node for out in n.output]


def test_unsupported_blockwise_ops_are_told_apart():
    # Before rewriting, pt.linalg.schur and pt.linalg.expm are both Blockwise: the error
    # must still list them as two kinds of op, by their core op, and suggest registering
    # the core op (the Blockwise converter calls it).
    X = pt.matrix("X")
    outputs = [pt.linalg.schur(X)[0], pt.linalg.expm(X), pt.linalg.schur(X + 1)[0]]
    fgraph = FunctionGraph([X], outputs, clone=False)
    with pytest.raises(NotImplementedError) as excinfo:
        fgraph_to_onnx(fgraph.inputs, fgraph.outputs, fgraph.toposort())
    message = str(excinfo.value)
    assert "2 kind(s) of op" in message
    assert "Blockwise(core_op=Schur): 2 nodes" in message
    assert "Blockwise(core_op=Expm): 1 node" in message
    # The suggested registration is valid Python naming a class.
    assert "@onnx_funcify.register(Schur)" in message


def test_converter_returning_wrong_number_of_outputs():
    class TwoOutputs(Op):
        __props__ = ()

        def make_node(self, x):
            x = pt.as_tensor_variable(x)
            return Apply(self, [x], [x.type(), x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = output_storage[1][0] = inputs[0]

    def converter(op, node, builder, inputs, **kwargs):
        return builder.add_node("Identity", inputs)  # one name for two outputs

    x = pt.vector("x")
    a, b = TwoOutputs()(x)
    with registered_converter(TwoOutputs, converter):
        with pytest.raises(RuntimeError, match="returned 1 values for 2 outputs"):
            fgraph_to_onnx([x], [a, b], [a.owner])


# -- onnx_typify -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype="float32").reshape(2, 3),
        np.array([1.5, -2.0]),
        np.array([[1, 2]], dtype="int16"),
        np.array([True, False]),
        np.zeros((0, 3), dtype="uint8"),
        np.array(7, dtype="int64"),
    ],
    ids=lambda a: f"{a.dtype}{list(a.shape)}",
)
def test_onnx_typify_ndarray_round_trip(array):
    proto = onnx_typify(array, name="w")
    assert isinstance(proto, onnx.TensorProto)
    assert proto.name == "w"
    assert proto.data_type == helper.np_dtype_to_tensor_dtype(array.dtype)
    back = numpy_helper.to_array(proto)
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize(
    "value, dtype",
    [
        (np.float32(1.25), "float32"),
        (np.int8(-3), "int8"),
        (np.bool_(True), "bool"),
        (2.5, "float64"),
        (7, "int64"),
        (True, "bool"),
    ],
    ids=repr,
)
def test_onnx_typify_scalars(value, dtype):
    proto = onnx_typify(value, name="s")
    back = numpy_helper.to_array(proto)
    assert proto.name == "s"
    assert back.shape == ()
    assert back.dtype == np.dtype(dtype)
    assert back == np.asarray(value)


def test_onnx_typify_dtype_argument():
    back = numpy_helper.to_array(onnx_typify(np.array([1.5, 2.5]), dtype="float32"))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, np.array([1.5, 2.5], dtype="float32"))
    back = numpy_helper.to_array(onnx_typify(3, dtype="int8"))
    assert back.dtype == np.int8 and back == 3
    back = numpy_helper.to_array(onnx_typify([1, 2], dtype="float16"))
    assert back.dtype == np.float16


@pytest.mark.parametrize("value", [np.array([1 + 2j]), 1j, np.complex64(1), "text", None], ids=repr)
def test_onnx_typify_rejects_unsupported_data(value):
    with pytest.raises(TypeError):
        onnx_typify(value, name="bad")


# -- make_value_info -------------------------------------------------------------------
def _dims(info):
    return [
        d.dim_value if d.HasField("dim_value") else d.dim_param
        for d in info.type.tensor_type.shape.dim
    ]


def test_make_value_info_float32_vector():
    info = make_value_info(pt.vector("x", dtype="float32"), "x")
    assert isinstance(info, onnx.ValueInfoProto)
    assert info.name == "x"
    assert info.type.tensor_type.elem_type == TensorProto.FLOAT
    assert _dims(info) == ["x_dim0"]


def test_make_value_info_static_and_symbolic_dims():
    var = pt.tensor("m", dtype="float64", shape=(None, 3, None, 1))
    info = make_value_info(var, "m")
    assert info.type.tensor_type.elem_type == TensorProto.DOUBLE
    assert _dims(info) == ["m_dim0", 3, "m_dim2", 1]
    anonymous = make_value_info(var, "m", symbolic_dims=False)
    dims = anonymous.type.tensor_type.shape.dim
    assert [d.HasField("dim_value") or d.HasField("dim_param") for d in dims] == [
        False,
        True,
        False,
        True,
    ]


def test_make_value_info_zero_dim():
    for var in (pt.scalar("s", dtype="int32"), ps.float32("p")):
        info = make_value_info(var, "v")
        assert info.type.tensor_type.HasField("shape")
        assert len(info.type.tensor_type.shape.dim) == 0
        expected = helper.np_dtype_to_tensor_dtype(np.dtype(var.type.dtype))
        assert info.type.tensor_type.elem_type == expected


@pytest.mark.parametrize("dtype", sorted(PYTENSOR_TO_ONNX))
def test_make_value_info_every_dtype(dtype):
    info = make_value_info(pt.tensor("t", dtype=dtype, shape=(None, 2)), "t")
    # Compare against onnx's own NumPy mapping, not against our table.
    assert info.type.tensor_type.elem_type == helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    assert _dims(info) == ["t_dim0", 2]


def test_make_value_info_rejects_complex():
    with pytest.raises(TypeError, match="'z'.*complex"):
        make_value_info(pt.vector("z", dtype="complex128"), "z")


def test_make_value_info_rejects_non_tensor_types():
    from pytensor.tensor.random.type import random_generator_type

    with pytest.raises(TypeError, match="'rng'"):
        make_value_info(random_generator_type("rng"), "rng")


def test_graph_inputs_never_share_dim_params():
    x, y = pt.vector("x"), pt.vector("x")  # same PyTensor name
    z = pt.matrix()  # no name
    model = fgraph_to_onnx([x, y, z], [x, y, z], [])
    onnx.checker.check_model(model, full_check=True)
    params = [d.dim_param for i in model.graph.input for d in i.type.tensor_type.shape.dim]
    assert len(params) == 4
    assert len(set(params)) == 4
    assert [i.name for i in model.graph.input] == ["x", "x_1", "input_2"]


# -- GraphBuilder ----------------------------------------------------------------------
def test_constants_are_deduplicated():
    b = GraphBuilder()
    first = b.constant(np.float64(2.0))
    assert b.constant(2.0) == first
    assert b.constant(np.array(2.0)) == first
    assert len(b.initializers) == 1
    as_float32 = b.constant(2.0, dtype="float32")
    assert as_float32 != first
    as_vector = b.constant(np.array([2.0]))
    assert as_vector not in (first, as_float32)
    negative_zero = b.constant(-0.0)  # equal to 0.0 but not the same constant
    assert b.constant(0.0) != negative_zero
    assert len(b.initializers) == 5
    names = [t.name for t in b.initializers]
    assert len(set(names)) == len(names)
    np.testing.assert_array_equal(numpy_helper.to_array(b.initializers[0]), 2.0)
    assert numpy_helper.to_array(b.initializers[1]).dtype == np.float32


def test_constant_rejects_complex():
    with pytest.raises(TypeError):
        GraphBuilder().constant(np.array([1j]))


def test_pytensor_constants_become_shared_initializers():
    b = GraphBuilder()
    c1, c2 = pt.constant(np.array([1.0, 2.0])), pt.constant(np.array([1.0, 2.0]))
    assert b.value(c1) == b.value(c2)
    assert len(b.initializers) == 1
    with pytest.raises(KeyError):
        b.value(pt.vector("unbound"))


def test_non_tensor_constants_have_no_onnx_value():
    from pytensor.tensor.type_other import NoneConst, SliceConstant, slicetype

    b = GraphBuilder()
    assert b.value(NoneConst) is None
    assert b.value(SliceConstant(slicetype, slice(1, None, None))) is None
    assert b.initializers == []


def test_fresh_name_is_unique():
    b = GraphBuilder()
    hints = ["a", "a", "a_1", "a", "a_1", "b", "a_2", "a"] * 3
    names = [b.fresh_name(h) for h in hints]
    assert len(set(names)) == len(names)
    assert names[:3] == ["a", "a_1", "a_1_1"]
    b.reserve("taken")
    assert b.fresh_name("taken") != "taken"
    with pytest.raises(ValueError, match="'a'"):
        b.reserve("a")


def test_cast():
    b = GraphBuilder()
    assert b.cast("x", "float32", "float32") == "x"
    assert b.nodes == []
    y = b.cast("x", "float32", "int64")
    (node,) = b.nodes
    assert node.op_type == "Cast"
    assert list(node.input) == ["x"] and list(node.output) == [y]
    assert helper.get_attribute_value(node.attribute[0]) == TensorProto.INT64


def test_add_node():
    b = GraphBuilder()
    out = b.add_node("Relu", ["x"])
    first, second = b.add_node("Split", ["x"], n_outputs=2, axis=0)
    assert len({out, first, second}) == 3
    assert b.nodes[1].attribute[0].name == "axis"
    assert len({n.name for n in b.nodes}) == 2


def test_make_model_versions():
    b = GraphBuilder(opset_version=19)
    x = pt.vector("x")
    b.reserve("x")
    b.add_input(x, "x")
    b.reserve("y")
    b.add_output(x, "y")
    model = b.make_model(doc_string="hello")
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 10
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 19)]
    assert model.doc_string == "hello"
    assert model.producer_name == "pytensor-onnx"


def test_output_of_input_gets_its_own_name():
    x = pt.vector("x")
    fn = pytensor.function([x], [x, x], mode="ONNX")
    graph = fn.maker.linker.onnx_model.graph
    names = [o.name for o in graph.output]
    assert len(set(names)) == 2 and "x" not in names
    result = fn(np.array([1.0, 2.0]))
    for r in result:
        np.testing.assert_array_equal(r, [1.0, 2.0])


def test_builder_reuses_casts_and_folds_casts_of_constants():
    b = GraphBuilder()
    first = b.cast("x", "int8", "float64")
    assert b.cast("x", "int8", "float64") == first
    assert [n.op_type for n in b.nodes] == ["Cast"]
    folded = b.cast(b.constant(np.array([1, -2], dtype="int8")), "int8", "float32")
    assert [n.op_type for n in b.nodes] == ["Cast"]  # no node for the constant
    np.testing.assert_array_equal(b.constant_value(folded), np.array([1.0, -2.0], "float32"))
    assert b.constant_value("x") is None


def test_dimshuffle_of_constant_is_folded():
    # Without rewrites, `x + 1.0` and `x * int8(2)` hold DimShuffles and Casts of constants.
    x = pt.matrix("x", dtype="float64")
    raw = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
    two = pt.constant(np.asarray(2, dtype="int8"))
    fn, _ = compare_onnx_and_py([x], (x + 1.0) * two, [np.ones((2, 3))], onnx_mode=raw)
    assert get_onnx_node_types(fn) == ["Add", "Mul", "Identity"]


def test_make_model_leaves_out_dead_nodes_and_unused_initializers():
    x = pt.vector("x")
    b = GraphBuilder()
    b.add_input(x, "x")
    unused = b.constant(np.array([5.0, 6.0]))
    dead = b.add_node("Exp", [b.add_node("Mul", ["x", unused])])
    live = b.add_node("Add", ["x", b.constant(np.float64(1.0))])
    y = x + 1
    b.bind(y, live)
    b.add_output(y, "y")
    model = b.make_model()
    assert [n.op_type for n in model.graph.node] == ["Add", "Identity"]
    assert [t.name for t in model.graph.initializer] == [model.graph.node[0].input[1]]
    assert dead not in {name for n in model.graph.node for name in n.output}
    onnx.checker.check_model(model, full_check=True)


def test_subgraph_values_stay_in_the_subgraph():
    b = GraphBuilder()
    outer_cast = b.cast("x", "int32", "float64")
    with b.subgraph() as body_nodes:
        assert b.cast("x", "int32", "float64") == outer_cast  # outer values are visible
        body_cast = b.cast("y", "int32", "float64")
        constant = b.constant(np.float64(3.0))
    # A cast made in a body is not visible outside it: the outer graph casts again.
    assert b.cast("y", "int32", "float64") != body_cast
    assert [n.op_type for n in body_nodes] == ["Cast"]
    assert [n.op_type for n in b.nodes] == ["Cast", "Cast"]
    assert constant in {t.name for t in b.initializers}  # constants are main-graph values
