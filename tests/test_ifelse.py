"""IfElse -> ONNX If, compared with PyTensor; and the laziness of the branches."""

import numpy as np
import onnx
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from pytensor.ifelse import IfElse, ifelse

from pytensor_onnx import ONNXLinker
from pytensor_onnx.dispatch.ifelse import sink_into_branches
from pytensor_onnx.mode import onnx_mode
from tests.test_basic import compare_onnx_and_py

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
REWRITE = onnx_mode(intra_op_num_threads=1)
MODES = pytest.mark.parametrize("mode", [RAW, REWRITE], ids=["raw", "rewrite"])
DTYPES = pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])


def if_nodes(graph):
    """The If nodes of an ONNX graph, nested ones (in branches and Loop bodies) included."""
    found = []
    for node in graph.node:
        if node.op_type == "If":
            found.append(node)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                found += if_nodes(attribute.g)
    return found


def branch(node, name):
    return next(a.g for a in node.attribute if a.name == name)


def op_types(graph):
    return [node.op_type for node in graph.node]


def compare(inputs, outputs, values, mode):
    fn, result = compare_onnx_and_py(inputs, outputs, values, onnx_mode=mode)
    if mode is RAW:
        assert any(isinstance(node.op, IfElse) for node in fn.maker.fgraph.apply_nodes)
        assert if_nodes(fn.maker.linker.onnx_model.graph)
    return fn, result


@MODES
@DTYPES
def test_scalar_condition_from_a_comparison(mode, dtype):
    x = pt.vector("x", dtype=dtype)
    a = pt.scalar("a", dtype=dtype)
    out = ifelse(a > 0, x * 2 + a, x - a)
    values = np.array([0, -3, 5, 7], dtype=dtype)
    for a_value in (1, 0, -2):
        compare([a, x], [out], [np.asarray(a_value, dtype), values], mode)


@MODES
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_edge_values_pass_through(mode, dtype):
    x = pt.vector("x", dtype=dtype)
    a = pt.scalar("a", dtype=dtype)
    out = ifelse(a < 1, pt.exp(x), pt.log(x))
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0], dtype=dtype)
    for a_value in (0.0, 2.0, np.nan):
        compare([a, x], [out], [np.asarray(a_value, dtype), values], mode)


@MODES
@pytest.mark.parametrize("cond_dtype", ["float64", "int8", "bool"])
def test_condition_is_true_when_nonzero(mode, cond_dtype):
    # PyTensor takes the then branch for any nonzero condition, NaN included.
    c = pt.scalar("c", dtype=cond_dtype)
    x = pt.vector("x")
    out = ifelse(c, x + 1, x - 1)
    conds = [0, 1] if cond_dtype == "bool" else [0, -3, 0.5, np.nan, -0.0]
    for value in conds:
        if cond_dtype == "int8" and not float(value).is_integer():
            continue
        compare([c, x], [out], [np.asarray(value, cond_dtype), np.arange(3.0)], mode)


@MODES
def test_branches_of_different_shapes(mode):
    x = pt.matrix("x")
    a = pt.scalar("a")
    out = ifelse(a > 0, x.sum(axis=0, keepdims=True), x[1:, :2] * 3)
    values = np.arange(12.0).reshape(3, 4)
    for a_value in (1.0, -1.0):
        compare([a, x], [out], [np.asarray(a_value), values], mode)
    # empty arrays in either branch
    for a_value in (1.0, -1.0):
        compare([a, x], [out], [np.asarray(a_value), np.zeros((0, 4))], mode)


@MODES
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_several_outputs(mode, dtype):
    x = pt.vector("x", dtype=dtype, shape=(3,))
    y = pt.matrix("y", dtype=dtype)
    a = pt.scalar("a", dtype=dtype)
    outs = ifelse(a >= 2, [x + 1, y * a, x.sum()], [x * 0, y.T, y.sum()])
    for a_value in (2, 1):
        compare(
            [a, x, y],
            outs,
            [np.asarray(a_value, dtype), np.arange(3, dtype=dtype), np.ones((2, 2), dtype)],
            mode,
        )


@MODES
def test_nested_ifelse(mode):
    x = pt.vector("x")
    a = pt.scalar("a")
    b = pt.scalar("b")
    inner = ifelse(b > 0, pt.exp(x), pt.sin(x))
    out = ifelse(a > 0, inner * 2, pt.cos(x))
    for a_value, b_value in [(1, 1), (1, -1), (-1, 1), (-1, -1)]:
        fn, _ = compare(
            [a, b, x],
            [out],
            [np.asarray(a_value, "float64"), np.asarray(b_value, "float64"), np.arange(3.0)],
            mode,
        )
    if mode is RAW:
        outer, inner_if = if_nodes(fn.maker.linker.onnx_model.graph)
        # the inner If, and what only it needs, moved into the outer then branch
        assert "If" in op_types(branch(outer, "then_branch"))
        assert "Exp" in op_types(branch(inner_if, "then_branch"))
        assert "Sin" in op_types(branch(inner_if, "else_branch"))
        assert "Cos" in op_types(branch(outer, "else_branch"))


@MODES
def test_ifelse_inside_a_scan_body(mode):
    x = pt.vector("x")

    def step(v, total):
        return ifelse(v > 0, total + pt.log(v), total - v)

    totals = pytensor.scan(step, sequences=[x], outputs_info=[pt.zeros(())], return_updates=False)
    fn, _ = compare_onnx_and_py(
        [x], [totals], [np.array([1.0, -2.0, 3.0, 0.0, 0.5])], onnx_mode=mode
    )
    (if_node,) = if_nodes(fn.maker.linker.onnx_model.graph)
    if mode is RAW:
        # log(v) of a negative v is never computed (with rewrites, PyTensor's scan
        # push-out computes log(x) of the whole sequence before the loop: its choice).
        assert "Log" in op_types(branch(if_node, "then_branch"))


def test_untaken_branch_is_not_evaluated():
    # An out-of-bounds index in the untaken branch: onnxruntime raises if it runs it.
    # PyTensor's Python linker is not lazy (it would raise too), so compare with NumPy.
    x = pt.vector("x")
    i = pt.scalar("i", dtype="int64")
    out = ifelse(i < x.shape[0], x[i] * 10, pt.constant(-1.0, dtype=x.dtype))
    fn = pytensor.function([x, i], out, mode=RAW)
    values = np.array([1.0, 2.0, 3.0])
    assert fn(values, np.int64(1)) == 20.0
    assert fn(values, np.int64(7)) == -1.0
    graph = fn.maker.linker.onnx_model.graph
    # outside the If: only the condition, from x's shape
    assert op_types(graph) == ["Shape", "Gather", "Less", "If", "Identity"]
    (if_node,) = if_nodes(graph)
    assert {"Gather", "Mul"} <= set(op_types(branch(if_node, "then_branch")))


def test_expensive_branch_is_inside_the_if():
    # A 10^12-step Loop (a scan) in the untaken branch: the call returns at once only
    # because the Loop is inside the branch.
    x = pt.scalar("x")
    n = pt.scalar("n", dtype="int64")
    walk = pytensor.scan(lambda s: s * 0.5 + 1, outputs_info=[x], n_steps=n, return_updates=False)
    out = ifelse(n < 100, walk[-1], x)
    fn = pytensor.function([x, n], out, mode=RAW)
    assert fn(np.asarray(3.0), np.int64(10**12)) == 3.0
    expected = 3.0
    for _ in range(5):
        expected = expected * 0.5 + 1
    assert fn(np.asarray(3.0), np.int64(5)) == pytest.approx(expected)
    graph = fn.maker.linker.onnx_model.graph
    assert "Loop" not in op_types(graph)
    (if_node,) = if_nodes(graph)
    assert "Loop" in op_types(branch(if_node, "then_branch"))


def test_values_both_branches_read_are_computed_once_outside():
    x = pt.vector("x")
    a = pt.scalar("a")
    shared_work = pt.exp(x)
    out = ifelse(a > 0, shared_work + 1, shared_work * 2)
    fn, _ = compare([a, x], [out], [np.asarray(1.0), np.arange(3.0)], RAW)
    graph = fn.maker.linker.onnx_model.graph
    assert op_types(graph).count("Exp") == 1
    (if_node,) = if_nodes(graph)
    assert "Add" in op_types(branch(if_node, "then_branch"))
    assert "Mul" in op_types(branch(if_node, "else_branch"))


def test_values_used_after_the_if_stay_outside():
    x = pt.vector("x")
    a = pt.scalar("a")
    work = pt.exp(x)
    out = ifelse(a > 0, work.sum(), a)
    fn, _ = compare([a, x], [out, work], [np.asarray(-1.0), np.arange(3.0)], RAW)
    graph = fn.maker.linker.onnx_model.graph
    assert "Exp" in op_types(graph)
    (if_node,) = if_nodes(graph)
    assert "ReduceSum" in op_types(branch(if_node, "then_branch"))


def test_sink_into_branches_on_a_hand_made_graph():
    # Chains move whole and in order; values read by two consumers, by a Loop body or as
    # graph outputs stay where they are.
    from onnx import TensorProto, helper

    def branch_graph(name, value):
        return helper.make_graph(
            [helper.make_node("Identity", [value], [f"{name}_out"])],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, None)],
        )

    nodes = [
        helper.make_node("Exp", ["x"], ["e"]),
        helper.make_node("Neg", ["e"], ["ne"]),  # chain: only the then branch reads ne
        helper.make_node("Sin", ["x"], ["s"]),  # read by both branches
        helper.make_node("Cos", ["x"], ["c"]),  # read by the else branch and an output
        helper.make_node(
            "If",
            ["cond"],
            ["y"],
            then_branch=branch_graph("then", "ne"),
            else_branch=helper.make_graph(
                [helper.make_node("Add", ["s", "c"], ["else_out"])],
                "else",
                [],
                [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, None)],
            ),
        ),
        helper.make_node("Mul", ["y", "s"], ["z"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("c", TensorProto.FLOAT, [2]),
        ],
    )
    sink_into_branches(graph)
    assert op_types(graph) == ["Sin", "Cos", "If", "Mul"]
    assert op_types(branch(graph.node[2], "then_branch")) == ["Exp", "Neg", "Identity"]
    assert op_types(branch(graph.node[2], "else_branch")) == ["Add"]
