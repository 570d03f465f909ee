"""Elemwise (dispatches to its scalar op) and DimShuffle."""

from __future__ import annotations

import numpy as np
from pytensor.tensor.elemwise import DimShuffle, Elemwise

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.shape import squeeze, unsqueeze


@onnx_funcify.register(Elemwise)
def onnx_funcify_Elemwise(op, node, builder, inputs, **kwargs):
    # ONNX ops broadcast like NumPy, so an Elemwise is its scalar op applied to tensors.
    return onnx_funcify(op.scalar_op, node=node, builder=builder, inputs=inputs, **kwargs)


def dimshuffle_plan(op: DimShuffle) -> tuple[list[int], list[int], list[int]]:
    """A DimShuffle as (axes to drop, permutation of the rest, new axes to insert)."""
    new_order = tuple(op.new_order)
    kept = [d for d in new_order if d != "x"]
    dropped = [d for d in range(op.input_ndim) if d not in kept]
    remaining = [d for d in range(op.input_ndim) if d not in dropped]
    perm = [remaining.index(d) for d in kept]
    expanded = [i for i, d in enumerate(new_order) if d == "x"]
    return dropped, perm, expanded


@onnx_funcify.register(DimShuffle)
def onnx_funcify_DimShuffle(op, node, builder, inputs, **kwargs):
    (x,) = inputs
    dropped, perm, expanded = dimshuffle_plan(op)
    constant = builder.constant_value(x)
    if constant is not None:  # fold it: `x + 1.0` would otherwise emit an Unsqueeze of 1.0
        array = np.squeeze(constant, axis=tuple(dropped)).transpose(perm)
        return builder.constant(np.expand_dims(array, expanded))
    x = squeeze(builder, x, dropped)
    if perm != sorted(perm):
        x = builder.add_node("Transpose", [x], perm=perm)
    return unsqueeze(builder, x, expanded)
