"""Blockwise: a core op applied over leading batch dimensions.

The protocol every core converter relies on: the Blockwise converter broadcasts the batch
dimensions of all inputs to one common batch shape, then calls the core op's converter with
the *Blockwise* node and those broadcast inputs. A core converter thus sees inputs with
leading batch dims (``node.inputs`` all have the same number of them, PyTensor pads them on
the left) and works on the trailing core dims (negative axes, or ops that treat leading dims
as batch, like MatMul). A converter that cannot handle batch dims raises
``NotImplementedError``; for a small static batch shape the Blockwise is then unrolled into
one core conversion per batch element.

Core ops whose ONNX lowering broadcasts batch dims by itself (MatMul does) register with
:func:`register_batch_broadcasting`, so that no Expand copies their inputs.
"""

from __future__ import annotations

import math

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.tensor.blockwise import Blockwise

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.shape import reshape, unsqueeze

# Core op classes whose converters broadcast batch dims themselves.
_BATCH_BROADCASTING: set[type] = set()

# The largest static batch size unrolled (one core conversion per batch element) when the
# core converter does not handle batch dims: beyond it the ONNX graph grows too large.
MAX_UNROLLED_BATCH = 16


def register_batch_broadcasting(*core_op_classes: type) -> None:
    """Declare that the converters of ``core_op_classes`` broadcast batch dims natively.

    The Blockwise converter then passes them its inputs without expanding their batch dims.
    """
    _BATCH_BROADCASTING.update(core_op_classes)


def _broadcasts_natively(core_op) -> bool:
    return any(isinstance(core_op, cls) for cls in _BATCH_BROADCASTING)


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
    if n_batch and not _broadcasts_natively(op.core_op):
        inputs = broadcast_batch_dims(builder, node, inputs, n_batch)
    try:
        return onnx_funcify(op.core_op, node=node, builder=builder, inputs=inputs, **kwargs)
    except NotImplementedError as err:
        if not n_batch or not _has_converter(op.core_op):
            raise
        unrolled = _unroll(op, node, builder, inputs, n_batch, err, **kwargs)
        if unrolled is None:
            shape = tuple(node.outputs[0].type.shape[:n_batch])
            raise NotImplementedError(
                f"Blockwise({type(op.core_op).__name__}): the core op's converter does not "
                f"handle batch dims ({err}), and the batch shape {shape} is not static and at "
                f"most {MAX_UNROLLED_BATCH} elements, which unrolling needs"
            ) from err
        return unrolled


def _has_converter(core_op) -> bool:
    return onnx_funcify.dispatch(type(core_op)) is not onnx_funcify.dispatch(object)


def _unroll(op, node, builder, inputs, n_batch: int, err, **kwargs):
    """Convert the core op once per batch element and stack the results.

    For a core converter that cannot handle batch dims, when the batch shape is static and
    at most :data:`MAX_UNROLLED_BATCH`. Returns None where that does not apply; raises a
    NotImplementedError naming Blockwise and the core op if the core conversion fails.
    """
    shape = node.outputs[0].type.shape[:n_batch]
    if None in shape:
        return None
    size = math.prod(shape)
    if size == 0 or size > MAX_UNROLLED_BATCH:
        return None
    if _broadcasts_natively(op.core_op):  # inputs were not expanded above
        inputs = broadcast_batch_dims(builder, node, inputs, n_batch)
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
        core_shape = builder.add_node("Shape", [name], start=n_batch)
        constants.append(None)
        flats.append(
            reshape(builder, name, [builder.constant(np.array([size], "int64")), core_shape])
        )
    core_node = op.core_op.make_node(*core_variables)
    per_output: list[list[str]] = [[] for _ in node.outputs]
    for b in range(size):
        index = builder.constant(np.int64(b))  # a 0-d index drops the axis
        core_inputs = [
            constant or builder.add_node("Gather", [flat, index], axis=0)
            for constant, flat in zip(constants, flats)
        ]
        try:
            results = onnx_funcify(
                op.core_op, node=core_node, builder=builder, inputs=core_inputs, **kwargs
            )
        except NotImplementedError as core_err:
            raise NotImplementedError(
                f"Blockwise({type(op.core_op).__name__}): cannot convert the core op over "
                f"batch dims ({err}), nor per batch element ({core_err})"
            ) from core_err
        if isinstance(results, str):
            results = [results]
        for stacked, result in zip(per_output, results):
            stacked.append(unsqueeze(builder, result, [0]))
    outputs = []
    for stacked in per_output:
        joined = stacked[0] if size == 1 else builder.add_node("Concat", stacked, axis=0)
        core_shape = builder.add_node("Shape", [joined], start=1)
        outputs.append(
            reshape(builder, joined, [builder.constant(np.array(shape, dtype="int64")), core_shape])
        )
    return outputs
