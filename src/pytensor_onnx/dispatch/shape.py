"""Shape ops: Shape, Shape_i, SpecifyShape, Reshape.

Shapes are int64 in both PyTensor and ONNX. Dimensions PyTensor knows statically become
constants, which lets onnxruntime fold the shape arithmetic that depends on them.

``SpecifyShape`` is a pass-through: ONNX cannot raise, and the shape it asserts is a
promise PyTensor's rewrites rely on, not a computation. PyTensor 2.38 and 3.0 have no
``Unbroadcast``, ``Squeeze`` or ``ExpandDims`` tensor op: ``pt.squeeze`` and
``pt.expand_dims`` build ``DimShuffle`` (see ``elemwise.py``).
"""

from __future__ import annotations

import numpy as np
from pytensor.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape

from pytensor_onnx.dispatch.basic import onnx_funcify


def reshape(builder, x: str, shape) -> str:
    """Reshape ``x`` to ``shape``: a 1-D int64 value, or a list of such parts to concatenate.

    In PyTensor (NumPy) a 0 in a shape is a dimension of size 0; ONNX copies the input's
    dimension there unless allowzero=1.
    """
    if isinstance(shape, list):
        shape = shape[0] if len(shape) == 1 else builder.add_node("Concat", shape, axis=0)
    return builder.add_node("Reshape", [x, shape], allowzero=1)


def squeeze(builder, x: str, axes) -> str:
    """``x`` without the length-1 ``axes`` (no node for none)."""
    if not len(axes):
        return x
    return builder.add_node("Squeeze", [x, builder.constant(np.asarray(axes, dtype="int64"))])


def unsqueeze(builder, x: str, axes) -> str:
    """``x`` with length-1 axes inserted at ``axes`` (no node for none)."""
    if not len(axes):
        return x
    return builder.add_node("Unsqueeze", [x, builder.constant(np.asarray(axes, dtype="int64"))])


def static_shape(var) -> tuple[int, ...] | None:
    """The shape of ``var`` if PyTensor knows every dimension statically, else None."""
    shape = var.type.shape
    return None if None in shape else tuple(int(d) for d in shape)


@onnx_funcify.register(Shape)
def onnx_funcify_Shape(op, node, builder, inputs, **kwargs):
    shape = static_shape(node.inputs[0])
    if shape is not None:
        return builder.constant(np.array(shape, dtype="int64"))
    return builder.add_node("Shape", [inputs[0]])


@onnx_funcify.register(Shape_i)
def onnx_funcify_Shape_i(op, node, builder, inputs, **kwargs):
    dim = node.inputs[0].type.shape[op.i]
    if dim is not None:
        return builder.constant(np.int64(dim))
    length_one = builder.add_node("Shape", [inputs[0]], start=op.i, end=op.i + 1)
    return builder.add_node("Squeeze", [length_one, builder.constant(np.array([0], "int64"))])


@onnx_funcify.register(SpecifyShape)
def onnx_funcify_SpecifyShape(op, node, builder, inputs, **kwargs):
    return inputs[0]


@onnx_funcify.register(Reshape)
def onnx_funcify_Reshape(op, node, builder, inputs, **kwargs):
    x, shape = inputs
    known = static_shape(node.outputs[0])
    if known is not None:
        shape = builder.constant(np.array(known, dtype="int64"))
    else:
        shape = builder.cast(shape, node.inputs[1].dtype, "int64")
    return reshape(builder, x, shape)
