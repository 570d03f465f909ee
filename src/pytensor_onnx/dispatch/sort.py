"""Sorting: ``SortOp`` and ``ArgSortOp`` (``pt.sort``, ``pt.argsort``), as ONNX ``TopK``.

``TopK`` with ``k`` the length of the axis and ``largest=0`` is a full ascending sort. The
ONNX spec makes it stable (of equal values, the lower index comes first), and
onnxruntime 1.32 also orders NaN after every number, as NumPy does (measured on 1e5
elements with ties, signed zeros, infinities and NaN, for both ``largest`` settings). So
one ``TopK`` is NumPy's ``kind="stable"`` sort; it is also a valid result for the other
kinds, whose order of ties NumPy leaves unspecified.

The helpers here (:func:`sort_along`, :func:`to_sortable`) are shared with the ops of
``extra_ops.py`` that sort (``Unique``, ``SearchsortedOp``).
"""

from __future__ import annotations

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.tensor.sort import ArgSortOp, SortOp

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dtypes import kernel_dtype

__all__ = ["constant_axis", "from_sortable", "sort_along", "to_sortable"]

# onnxruntime has no TopK kernel for bool, uint16, uint32 and uint64 (dtypes.py): a wider
# signed dtype keeps the order of the first three; uint64 has none, see to_sortable.
_UINT64_SIGN_BIT = np.uint64(1 << 63)


def to_sortable(builder, x: str, dtype: str, onnx_op: str = "TopK") -> tuple[str, str]:
    """``x`` in a dtype that ``onnx_op`` (an ordering op: TopK, ReduceMax, ArgMax, ...)
    runs in, with the same order and equalities.

    Returns the value and its dtype; :func:`from_sortable` maps values back.
    """
    if dtype == "uint64":
        # Flipping the sign bit maps the order of uint64 onto that of int64.
        flipped = builder.add_node("BitwiseXor", [x, builder.constant(_UINT64_SIGN_BIT)])
        return builder.cast(flipped, "uint64", "int64"), "int64"
    wider = kernel_dtype(onnx_op, dtype)
    return builder.cast(x, dtype, wider), wider


def from_sortable(builder, x: str, sortable_dtype: str, dtype: str) -> str:
    """The inverse of :func:`to_sortable`."""
    if dtype == "uint64":
        unsigned = builder.cast(x, "int64", "uint64")
        return builder.add_node("BitwiseXor", [unsigned, builder.constant(_UINT64_SIGN_BIT)])
    return builder.cast(x, sortable_dtype, dtype)


def sort_along(builder, x: str, dtype: str, axis: int) -> tuple[str, str]:
    """Stable ascending sort of ``x`` along non-negative ``axis``, NaN last.

    Returns ``(sorted values, int64 indices)``, the values in ``dtype``.
    """
    sortable, sortable_dtype = to_sortable(builder, x, dtype)
    length = builder.add_node("Shape", [x], start=axis, end=axis + 1)
    values, indices = builder.add_node(
        "TopK", [sortable, length], n_outputs=2, axis=axis, largest=0, sorted=1
    )
    return from_sortable(builder, values, sortable_dtype, dtype), indices


def constant_axis(op, var, ndim: int) -> int:
    """The value of a constant ``axis`` input of ``op``, made non-negative."""
    if not isinstance(var, Constant):
        raise NotImplementedError(
            f"{type(op).__name__} with a symbolic axis ({var}) cannot be converted to ONNX, "
            "whose operator takes the axis as an attribute; use a constant axis"
        )
    axis = int(np.asarray(var.data).item())
    if not -ndim <= axis < ndim:
        raise NotImplementedError(
            f"{type(op).__name__}: axis {axis} is out of range for a {ndim}-d input"
        )
    return axis % ndim


def _sort_node(op, node, builder, inputs):
    x_var, axis_var = node.inputs
    axis = constant_axis(op, axis_var, x_var.type.ndim)
    return sort_along(builder, inputs[0], x_var.type.dtype, axis)


@onnx_funcify.register(SortOp)
def onnx_funcify_SortOp(op, node, builder, inputs, **kwargs):
    return _sort_node(op, node, builder, inputs)[0]


@onnx_funcify.register(ArgSortOp)
def onnx_funcify_ArgSortOp(op, node, builder, inputs, **kwargs):
    return builder.cast(_sort_node(op, node, builder, inputs)[1], "int64", node.outputs[0].dtype)
