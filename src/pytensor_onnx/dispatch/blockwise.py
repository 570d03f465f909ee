"""Blockwise: a core op applied over leading batch dimensions.

The protocol every core converter relies on: the Blockwise converter broadcasts the batch
dimensions of all inputs to one common batch shape, then calls the core op's converter with
the *Blockwise* node and those broadcast inputs, for core ops declared with
:func:`register_batch_aware`. Such a core converter sees inputs with leading batch dims
(``node.inputs`` all have the same number of them, PyTensor pads them on the left) and works
on the trailing core dims (negative axes, or ops that treat leading dims as batch, like
MatMul). Core ops whose lowering also broadcasts batch dims (MatMul does) register with
:func:`register_batch_broadcasting`, so that no Expand copies their inputs.

Any other core op is converted for one batch element (a node of the core op's own ranks)
and applied to each: unrolled for a small static batch, else in an ONNX ``Loop`` over the
flattened batch. That is always correct, and slower than a batch-aware lowering.
"""

from __future__ import annotations

import math

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.tensor.blockwise import Blockwise

from pytensor_onnx.dispatch.basic import convert_node, onnx_funcify
from pytensor_onnx.dispatch.shape import reshape, unsqueeze

# Core op classes whose converters handle leading batch dims (of equal shape in every
# input), and those of them that also broadcast batch dims themselves.
_BATCH_AWARE: set[type] = set()
_BATCH_BROADCASTING: set[type] = set()

# The largest static batch size unrolled (one core conversion per batch element) when the
# core converter does not handle batch dims: beyond it the ONNX graph grows too large.
MAX_UNROLLED_BATCH = 16


def register_batch_aware(*core_op_classes: type) -> None:
    """Declare that the converters of ``core_op_classes`` handle leading batch dims.

    The Blockwise converter then calls them once with its own node, whose inputs carry the
    batch dims (broadcast to one shape). Core ops not declared are converted per batch
    element: a converter written for the core op's own ranks would misread batch dims.
    """
    _BATCH_AWARE.update(core_op_classes)


def register_batch_broadcasting(*core_op_classes: type) -> None:
    """Declare that the converters of ``core_op_classes`` handle batch dims and broadcast
    them natively (as MatMul does): their inputs are passed without expanded batch dims."""
    _BATCH_AWARE.update(core_op_classes)
    _BATCH_BROADCASTING.update(core_op_classes)


def _handles_batch_dims(core_op) -> bool:
    return isinstance(core_op, tuple(_BATCH_AWARE))


def _broadcasts_natively(core_op) -> bool:
    return isinstance(core_op, tuple(_BATCH_BROADCASTING))


def batch_ndim(op: Blockwise, node) -> int:
    """The number of batch dims of the node (the same for every input and output)."""
    return node.outputs[0].type.ndim - len(op.outputs_sig[0])


def batch_shape(builder, node, inputs, n_batch: int) -> str:
    """The common batch shape of ``node``'s inputs, as a 1-D int64 value.

    Each dim is read from an input that does not broadcast along it (PyTensor requires a
    dim that broadcasts to be statically 1), or is a constant where the output's static
    shape knows it.
    """
    static = node.outputs[0].type.shape[:n_batch]
    if None not in static:
        return builder.constant(np.array(static, dtype="int64"))
    parts = []
    for d, size in enumerate(static):
        if size is not None:
            parts.append(builder.constant(np.array([size], dtype="int64")))
            continue
        source = next(
            i for i, inp in enumerate(node.inputs) if inp.type.shape[d] != 1
        )  # exists: the output dim is not statically 1
        parts.append(builder.add_node("Shape", [inputs[source]], start=d, end=d + 1))
    return parts[0] if len(parts) == 1 else builder.add_node("Concat", parts, axis=0)


def broadcast_batch_dims(builder, node, inputs, n_batch: int) -> list[str]:
    """``inputs`` with their batch dims expanded to the common batch shape.

    Only inputs with a statically-1 batch dim where the output's is not 1 get an Expand.
    """
    out_batch = node.outputs[0].type.shape[:n_batch]
    needs = [
        any(d == 1 and o != 1 for d, o in zip(inp.type.shape[:n_batch], out_batch))
        for inp in node.inputs
    ]
    if not any(needs):
        return list(inputs)
    shape = batch_shape(builder, node, inputs, n_batch)
    result = []
    for name, inp, need in zip(inputs, node.inputs, needs):
        if need:
            core_ones = builder.constant(np.ones(inp.type.ndim - n_batch, dtype="int64"))
            name = builder.add_node(
                "Expand", [name, builder.add_node("Concat", [shape, core_ones], axis=0)]
            )
        result.append(name)
    return result


@onnx_funcify.register(Blockwise)
def onnx_funcify_Blockwise(op, node, builder, inputs, **kwargs):
    n_batch = batch_ndim(op, node)
    if not n_batch or not _has_converter(op.core_op):  # (the latter raises "no converter")
        return onnx_funcify(op.core_op, node=node, builder=builder, inputs=inputs, **kwargs)
    if not _handles_batch_dims(op.core_op):
        return _per_batch_element(op, node, builder, inputs, n_batch, **kwargs)
    if not _broadcasts_natively(op.core_op):
        inputs = broadcast_batch_dims(builder, node, inputs, n_batch)
    return onnx_funcify(op.core_op, node=node, builder=builder, inputs=inputs, **kwargs)


def _has_converter(core_op) -> bool:
    return onnx_funcify.dispatch(type(core_op)) is not onnx_funcify.dispatch(object)


def _per_batch_element(op, node, builder, inputs, n_batch: int, **kwargs):
    """The core op converted for one batch element and applied to each: unrolled for a
    static batch of at most :data:`MAX_UNROLLED_BATCH` elements, else an ONNX ``Loop`` over
    the flattened batch (whose outputs it stacks)."""
    inputs = broadcast_batch_dims(builder, node, inputs, n_batch)
    static = node.outputs[0].type.shape[:n_batch]
    size = math.prod(static) if None not in static else None
    if size is not None and size <= MAX_UNROLLED_BATCH:
        size_name = builder.constant(np.array([size], dtype="int64"))
    else:
        shape = batch_shape(builder, node, inputs, n_batch)
        size_name = builder.add_node("ReduceProd", [shape], keepdims=1)
    # Per input: a constant shared by every batch element, or the batch-flattened value.
    core_variables, constants, flats = [], [], []
    for name, inp in zip(inputs, node.inputs):
        if isinstance(inp, Constant) and all(d == 1 for d in inp.type.shape[:n_batch]):
            # Kept a constant, for converters that read constant inputs (modes, axes).
            data = np.asarray(inp.data).reshape(inp.type.shape[n_batch:] or ())
            core_variables.append(Constant(inp.type.clone(shape=data.shape), data))
            constants.append(builder.constant(data))
            flats.append(None)
            continue
        core_variables.append(inp.type.clone(shape=inp.type.shape[n_batch:])())
        constants.append(None)
        flats.append(
            reshape(builder, name, [size_name, builder.add_node("Shape", [name], start=n_batch)])
        )
    core_node = op.core_op.make_node(*core_variables)

    def convert_element(index: str) -> list[str]:
        core_inputs = [
            constant or builder.add_node("Gather", [flat, index], axis=0)
            for constant, flat in zip(constants, flats)
        ]
        with builder.scoped_bindings([*core_node.inputs, *core_node.outputs]):
            for var, name in zip(core_node.inputs, core_inputs):
                builder.bind(var, name)
            try:
                convert_node(builder, core_node)
            except NotImplementedError as err:
                raise NotImplementedError(
                    f"Blockwise({type(op.core_op).__name__}): cannot convert the core op ({err})"
                ) from err
            return [builder.value(out) for out in core_node.outputs]

    if size is not None and size <= MAX_UNROLLED_BATCH:
        per_element = [convert_element(builder.constant(np.int64(b))) for b in range(size)]
        stacked = [
            builder.add_node("Concat", [unsqueeze(builder, r, [0]) for r in results], axis=0)
            for results in zip(*per_element)
        ]
    else:
        stacked = _loop_over_elements(builder, node, size_name, convert_element)
    batch = batch_shape(builder, node, inputs, n_batch)
    return [
        reshape(builder, joined, [batch, builder.add_node("Shape", [joined], start=1)])
        for joined in stacked
    ]


def _loop_over_elements(builder, node, size: str, convert_element) -> list[str]:
    """An ONNX ``Loop`` of ``size`` (a 1-element int64 value) iterations whose body is
    ``convert_element(index)``; its scan outputs stack the results on a new first axis."""
    return builder.loop(
        builder.add_node("Squeeze", [size]),
        "",
        [],
        lambda index, state: (None, [], convert_element(index)),
        scan_dtypes=[out.type.dtype for out in node.outputs],
        hint="batch",
    )
