"""The dispatch core: ``onnx_funcify``/``onnx_typify`` and FunctionGraph -> ONNX model.

A converter is a small function registered for an ``Op`` class::

    @onnx_funcify.register(MyOp)
    def onnx_funcify_MyOp(op, node, builder, inputs, **kwargs):
        return builder.add_node("Relu", inputs)

It receives the op, its PyTensor ``Apply`` node, the :class:`~pytensor_onnx.builder.GraphBuilder`
and the ONNX names of ``node.inputs``; it emits ONNX nodes through the builder and returns
the ONNX name of each of ``node.outputs`` (a single name for single-output ops).
Scalar ops are dispatched the same way: the ``Elemwise`` converter calls ``onnx_funcify``
on its ``scalar_op``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import singledispatch

import numpy as np
import onnx
from onnx import numpy_helper
from pytensor.compile.ops import DeepCopyOp, ViewOp
from pytensor.graph.fg import FunctionGraph

from pytensor_onnx.builder import ONNX_OPSET_VERSION, GraphBuilder, make_value_info
from pytensor_onnx.dtypes import onnx_dtype

__all__ = [
    "ONNX_OPSET_VERSION",
    "fgraph_to_onnx",
    "make_value_info",
    "onnx_funcify",
    "onnx_typify",
]


# How the default onnx_funcify's error starts: the op has no converter at all.
_NO_CONVERTER = "No ONNX conversion available"


@singledispatch
def onnx_funcify(op, node=None, builder=None, inputs=None, **kwargs):
    """Convert a PyTensor ``Op`` (or a whole ``FunctionGraph``) to ONNX.

    For an op, emit its ONNX nodes into ``builder`` and return the ONNX names of
    ``node.outputs``. For a ``FunctionGraph``, return an ``onnx.ModelProto``
    (see :func:`fgraph_to_onnx` for the keyword arguments).

    Raises
    ------
    NotImplementedError
        If no converter is registered for the op's class.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from pytensor.graph.fg import FunctionGraph
    >>> x = pt.vector("x")
    >>> model = onnx_funcify(FunctionGraph([x], [pt.exp(x)], clone=False))
    >>> [n.op_type for n in model.graph.node]
    ['Exp', 'Identity']
    """
    name = type(op).__name__
    raise NotImplementedError(
        f"{_NO_CONVERTER} for: {name} (op {op}).\n"
        f"To add support, register a converter:\n"
        f"    from pytensor_onnx import onnx_funcify\n\n"
        f"    @onnx_funcify.register({name})\n"
        f"    def onnx_funcify_{name}(op, node, builder, inputs, **kwargs):\n"
        f"        return builder.add_node(...)  # the ONNX name of each node output"
    )


@singledispatch
def onnx_typify(data, dtype=None, name: str = "", **kwargs) -> onnx.TensorProto:
    """Convert Python/NumPy data to an ONNX ``TensorProto``.

    Parameters
    ----------
    data : array_like
        A NumPy array, NumPy scalar or Python number/bool.
    dtype : str, optional
        Cast to this dtype first.
    name : str
        The tensor's name.

    Examples
    --------
    >>> import numpy as np
    >>> onnx_typify(np.array([1.0, 2.0]), name="w").dims
    [2]
    """
    array = np.asarray(data, dtype=dtype)
    if array.dtype == object:
        raise TypeError(f"Cannot convert {type(data).__name__} to an ONNX tensor")
    return onnx_typify(array, name=name)


@onnx_typify.register(np.ndarray)
def onnx_typify_ndarray(data, dtype=None, name: str = "", **kwargs) -> onnx.TensorProto:
    if dtype is not None:
        data = data.astype(dtype)
    onnx_dtype(data.dtype, what=f"tensor {name!r}" if name else "tensor")
    return numpy_helper.from_array(data, name=name)


@onnx_funcify.register(DeepCopyOp)
@onnx_funcify.register(ViewOp)
def onnx_funcify_passthrough(op, node, builder, inputs, **kwargs):
    # ONNX values are immutable, so copies and views are the value itself.
    return inputs


def describe_op(op) -> str:
    """A short name for an op in error messages: its class, and the op it wraps.

    The wrapped op is what tells ops of the same class apart: the scalar op of an
    ``Elemwise``, the core op of a ``Blockwise`` (``pt.linalg.inv`` and ``pt.linalg.det``
    are both ``Blockwise`` before rewriting).
    """
    for attribute in ("scalar_op", "core_op"):
        inner = getattr(op, attribute, None)
        if inner is not None:
            return f"{type(op).__name__}({attribute}={type(inner).__name__})"
    return type(op).__name__


def _converter_target(op) -> str:
    """The class to register a converter for, to support ``op``: Elemwise dispatches to its
    scalar op, Blockwise to its core op."""
    for attribute in ("scalar_op", "core_op"):
        inner = getattr(op, attribute, None)
        if inner is not None:
            return type(inner).__name__
    return type(op).__name__


def _default_names(variables, prefix: str, builder: GraphBuilder) -> list[str]:
    return [
        builder.fresh_name(var.name if var.name else f"{prefix}_{i}")
        for i, var in enumerate(variables)
    ]


def _claim_names(names: Sequence[str], expected: int, what: str, builder: GraphBuilder):
    names = list(names)
    if len(names) != expected:
        raise ValueError(f"Got {len(names)} {what} names for {expected} {what}s: {names}")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} names must be non-empty strings, got {name!r}")
        builder.reserve(name)
    return names


def fgraph_to_onnx(
    inputs: Sequence,
    outputs: Sequence,
    nodes: Sequence,
    *,
    opset_version: int = ONNX_OPSET_VERSION,
    model_name: str = "pytensor_graph",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    doc_string: str = "",
    constants: dict | None = None,
    output_name_hints: Sequence[str | None] | None = None,
    origins: dict | None = None,
) -> onnx.ModelProto:
    """Convert a PyTensor graph, given as inputs, outputs and topologically ordered nodes.

    ``constants`` maps root variables that are not model inputs (e.g. shared variables)
    to the values stored for them in the model. Every node is converted even after one
    fails, so that a graph with unsupported ops raises a single ``NotImplementedError``
    that lists all of them.

    Without ``output_names``, outputs are named after ``output_name_hints`` (default: the
    outputs' own names) where set and not an input's name, else ``output_{i}``. Callers
    that rewrote the graph pass the names of the user's variables as hints: rewriting
    replaces outputs by new, unnamed variables (``(exp(x) + 0)`` by ``exp(x)``).

    ``origins``, if given, is filled with ``{ONNX node name: the PyTensor Apply node it
    was converted from}``, to report onnxruntime's errors in PyTensor's terms.
    """
    inputs, outputs, nodes, constants = _random_generators_as_states(
        inputs, outputs, nodes, constants or {}
    )
    builder = GraphBuilder(opset_version)
    if input_names is None:
        input_names = _default_names(inputs, "input", builder)
    else:
        input_names = _claim_names(input_names, len(inputs), "input", builder)
    # Inputs and shared values that are not tensors (random generators) have no ONNX
    # value. They are bound to None, and an input of that kind is reported only after
    # the nodes: the ops that use it (random variables) are what the user must know of.
    non_tensor_inputs = []
    for var, name in zip(inputs, input_names, strict=True):
        if hasattr(var.type, "dtype"):
            builder.add_input(var, name)
        else:
            non_tensor_inputs.append((var, name))
            builder.bind(var, None)
    for var, value in (constants or {}).items():
        if hasattr(var.type, "dtype"):
            # Named after the variable (a shared weight "w"), so users find it in the file.
            value = np.asarray(value, dtype=var.type.dtype)
            builder.bind(var, builder.constant(value, hint=var.name))
        else:
            builder.bind(var, None)

    if output_names is None:
        taken = set(input_names)
        if output_name_hints is None:
            output_name_hints = [var.name for var in outputs]
        output_names = [
            builder.fresh_name(hint if hint and hint not in taken else f"output_{i}")
            for i, hint in enumerate(output_name_hints)
        ]
    else:
        output_names = _claim_names(output_names, len(outputs), "output", builder)

    unsupported: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    targets: dict[str, str] = {}
    for node in nodes:
        try:
            convert_node(builder, node)
        except NotImplementedError as err:
            key = describe_op(node.op)
            unsupported[key] += 1
            reasons.setdefault(key, str(err).split("\n", 1)[0])
            targets.setdefault(key, _converter_target(node.op))
            for var in node.outputs:
                builder.bind(var, f"<unconverted {key}>")

    if unsupported:
        raise NotImplementedError(_unsupported_message(unsupported, reasons, targets))
    for var, name in non_tensor_inputs:
        make_value_info(var, name)  # raises the TypeError that names the input

    for var, name in zip(outputs, output_names, strict=True):
        builder.add_output(var, name)
    if origins is not None:
        origins.update(builder.origins)
    return builder.make_model(graph_name=model_name, doc_string=doc_string)


def convert_node(builder: GraphBuilder, node) -> None:
    """Convert one Apply ``node`` and bind its outputs to the ONNX values made for them.

    Its inputs must be bound already (or be constants). Inner graphs (OpFromGraph, Scan
    bodies, per-element Blockwise) convert their nodes with it too.
    """
    outer = builder.converting
    # Nodes of inner graphs (OpFromGraph, Scan bodies) are credited to the outer Apply node:
    # the one in the user's graph.
    builder.converting = node if outer is None else outer
    try:
        results = onnx_funcify(
            node.op, node=node, builder=builder, inputs=[builder.value(v) for v in node.inputs]
        )
    finally:
        builder.converting = outer
    if isinstance(results, str):
        results = [results]
    if len(results) != len(node.outputs):
        raise RuntimeError(
            f"The ONNX converter of {describe_op(node.op)} returned {len(results)} values "
            f"for {len(node.outputs)} outputs"
        )
    for var, name in zip(node.outputs, results):
        builder.bind(var, name)


def _random_generators_as_states(inputs, outputs, nodes, constants):
    """The graph with its random generators as ONNX states (uint64 ``[key, counter]``
    tensors, see :mod:`pytensor_onnx.dispatch.random`): generator inputs become state
    inputs, next generators state outputs, shared generators constant states."""
    from pytensor_onnx.dispatch.random import (
        generator_to_state,
        is_rng_type,
        with_rng_states_as_tensors,
    )

    nodes, roots = list(nodes), [*inputs, *constants]
    if not any(
        is_rng_type(var.type) for node in nodes for var in (*node.inputs, *node.outputs)
    ) and not any(is_rng_type(var.type) for var in (*roots, *outputs)):
        return inputs, outputs, nodes, constants
    new_roots, new_outputs, new_nodes = with_rng_states_as_tensors(roots, outputs)
    new_constants = {
        new: generator_to_state(value) if is_rng_type(old.type) else value
        for old, new, value in zip(
            constants, new_roots[len(inputs) :], constants.values(), strict=True
        )
    }
    return new_roots[: len(inputs)], new_outputs, new_nodes, new_constants


def _unsupported_message(
    unsupported: Counter, reasons: dict[str, str], targets: dict[str, str]
) -> str:
    missing = [key for key in unsupported if reasons[key].startswith(_NO_CONVERTER)]
    lines = [
        f"Cannot convert the graph to ONNX: {len(unsupported)} kind(s) of op cannot be converted:"
    ]
    for key, count in unsupported.most_common():
        detail = "no converter" if key in missing else reasons[key]
        lines.append(f"  - {key}: {count} node{'s' if count > 1 else ''} ({detail})")
    if missing:
        # Not parsed back out of the description: "Blockwise(core_op=X)" names no class to
        # register, and a Blockwise is converted by a converter for Blockwise.
        example = targets[missing[0]]
        lines += [
            "To support an op without converter, register one for its class (for Elemwise, "
            "for its scalar op's class):",
            "    from pytensor_onnx import onnx_funcify",
            "",
            f"    @onnx_funcify.register({example})",
            f"    def onnx_funcify_{example}(op, node, builder, inputs, **kwargs):",
            '        return builder.add_node("<ONNX op>", inputs)  # ONNX name of each output',
        ]
    return "\n".join(lines)


@onnx_funcify.register(FunctionGraph)
def onnx_funcify_FunctionGraph(fgraph: FunctionGraph, node=None, **kwargs) -> onnx.ModelProto:
    return fgraph_to_onnx(fgraph.inputs, fgraph.outputs, fgraph.toposort(), **kwargs)
