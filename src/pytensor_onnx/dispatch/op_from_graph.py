"""OpFromGraph: its inner graph, inlined into the outer ONNX graph.

Many PyTensor ops are OpFromGraph subclasses (Einsum, KroneckerProduct, Pad, AllocDiag,
BlockwiseWithCoreShape, the SymbolicOps of pytensor 3, ...); those without a converter of
their own are inlined by this one. The inner values live in a mapping local to one
application, so an op applied several times, or nested in another, never mixes its values
with the outer graph's.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytensor.compile.builders import OpFromGraph

from pytensor_onnx.dispatch.basic import convert_node, describe_op, onnx_funcify


def convert_nodes(builder, nodes: Sequence) -> None:
    """Convert ``nodes`` (in topological order), binding their outputs in ``builder``.

    Their inputs must be bound already (or be constants). Raises the first
    NotImplementedError, naming the op that cannot be converted.

    ``fgraph_to_onnx`` instead collects every unsupported op of the outer graph.
    """
    for node in nodes:
        try:
            convert_node(builder, node)
        except NotImplementedError as err:
            first_line = str(err).split("\n", 1)[0]
            raise NotImplementedError(f"{describe_op(node.op)}: {first_line}") from err


def inline_graph(builder, fgraph, input_names: Sequence) -> list:
    """The ONNX names of ``fgraph``'s outputs, with its inputs bound to ``input_names``."""
    nodes = fgraph.toposort()
    inner = [*fgraph.inputs, *(out for node in nodes for out in node.outputs)]
    with builder.scoped_bindings(inner):
        for var, name in zip(fgraph.inputs, input_names, strict=True):
            builder.bind(var, name)
        convert_nodes(builder, nodes)
        return [builder.value(out) for out in fgraph.outputs]


@onnx_funcify.register(OpFromGraph)
def onnx_funcify_OpFromGraph(op, node, builder, inputs, **kwargs):
    try:
        return inline_graph(builder, op.fgraph, inputs)
    except NotImplementedError as err:
        raise NotImplementedError(
            f"{type(op).__name__} (an OpFromGraph, inlined): its inner op {err}"
        ) from err
