"""IfElse: ONNX ``If``, with the work only one branch needs moved into that branch.

PyTensor's IfElse is lazy: the branch not taken is not computed. Converted node by node,
every branch input would be computed before the ``If``; :func:`sink_into_branches` then
moves each node whose values only one branch reads into that branch, so an untaken branch
costs nothing (and cannot fail, or produce inf/NaN warnings, on values it never sees).
"""

from __future__ import annotations

from collections import defaultdict

import onnx
from onnx import helper
from pytensor.ifelse import IfElse

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dtypes import onnx_dtype

_BRANCHES = ("then_branch", "else_branch")


def _outer_reads(graph: onnx.GraphProto) -> set[str]:
    """The names ``graph`` (and the graphs nested in it) reads without defining them."""
    defined = {value.name for value in graph.input} | {t.name for t in graph.initializer}
    read = set()
    for node in graph.node:
        read.update(name for name in node.input if name and name not in defined)
        for attribute in node.attribute:
            for sub in _subgraphs(attribute):
                read.update(name for name in _outer_reads(sub) if name not in defined)
        defined.update(node.output)
    return read


def _subgraphs(attribute: onnx.AttributeProto):
    if attribute.type == onnx.AttributeProto.GRAPH:
        return [attribute.g]
    if attribute.type == onnx.AttributeProto.GRAPHS:
        return list(attribute.graphs)
    return []


def sink_into_branches(graph: onnx.GraphProto) -> None:
    """Move, in place, each node whose outputs only one ``If`` branch reads into that branch.

    Nodes are visited from last to first, so that a chain of nodes feeding one branch moves
    whole (each node's readers have moved before it is visited), and keeps its order. Then
    the same is done inside every subgraph (nested ``If``\\s, ``Loop`` bodies).
    """
    nodes = list(graph.node)
    # value name -> who reads it: "output", (node index, None) or (If index, branch)
    readers: dict[str, set] = defaultdict(set)
    reads_of = []  # per node: the names it reads, with the reader key of each
    for index, node in enumerate(nodes):
        reads = [(name, (index, None)) for name in node.input if name]
        for attribute in node.attribute:
            branch = attribute.name if node.op_type == "If" else None
            for sub in _subgraphs(attribute):
                reads += [(name, (index, branch)) for name in _outer_reads(sub)]
        reads_of.append(reads)
        for name, key in reads:
            readers[name].add(key)
    for value in graph.output:
        readers[value.name].add("output")

    sunk = defaultdict(list)  # (If index, branch) -> nodes moved there, in order
    moved = set()
    for index in reversed(range(len(nodes))):
        keys = set().union(*(readers[name] for name in nodes[index].output if name))
        if len(keys) != 1:
            continue
        (key,) = keys
        if key == "output" or key[1] is None:
            continue
        sunk[key].insert(0, nodes[index])
        moved.add(index)
        for name, _ in reads_of[index]:
            readers[name] = {k for k in readers[name] if k == "output" or k[0] != index}
            readers[name].add(key)

    for (index, branch), branch_nodes in sunk.items():
        attribute = next(a for a in nodes[index].attribute if a.name == branch)
        kept = list(attribute.g.node)
        del attribute.g.node[:]
        attribute.g.node.extend([*branch_nodes, *kept])
    remaining = [node for index, node in enumerate(nodes) if index not in moved]
    del graph.node[:]
    graph.node.extend(remaining)
    for node in graph.node:
        for attribute in node.attribute:
            for sub in _subgraphs(attribute):
                sink_into_branches(sub)


def _branch(builder, names, variables, hint: str) -> onnx.GraphProto:
    """A branch graph returning ``names`` (values of the enclosing graph) as ``variables``."""
    with builder.subgraph() as nodes:
        # A branch output must be computed in the branch: the sinking pass moves the
        # nodes behind these Identities into the branch.
        outputs = [builder.add_node("Identity", [name]) for name in names]
    return helper.make_graph(
        nodes,
        builder.fresh_name(hint),
        [],
        [
            helper.make_tensor_value_info(name, onnx_dtype(var.type.dtype), [None] * var.type.ndim)
            for name, var in zip(outputs, variables)
        ],
    )


@onnx_funcify.register(IfElse)
def onnx_funcify_IfElse(op, node, builder, inputs, **kwargs):
    cond, *values = inputs
    n_outs = op.n_outs
    outputs = node.outputs
    # PyTensor takes the then branch for any nonzero condition (NaN included), as Cast does.
    cond = builder.cast(cond, node.inputs[0].type.dtype, "bool")
    then_values = [
        builder.cast(name, var.type.dtype, out.type.dtype)
        for name, var, out in zip(values[:n_outs], node.inputs[1 : 1 + n_outs], outputs)
    ]
    else_values = [
        builder.cast(name, var.type.dtype, out.type.dtype)
        for name, var, out in zip(values[n_outs:], node.inputs[1 + n_outs :], outputs)
    ]
    then_branch = _branch(builder, then_values, outputs, "then")
    else_branch = _branch(builder, else_values, outputs, "else")
    builder.add_model_pass(sink_into_branches)
    results = builder.add_node(
        "If",
        [cond],
        n_outputs=n_outs,
        hint="ifelse",
        then_branch=then_branch,
        else_branch=else_branch,
    )
    return [results] if n_outs == 1 else list(results)
