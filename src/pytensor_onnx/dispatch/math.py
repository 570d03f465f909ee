"""Reductions (``CAReduce``: Sum, Prod, Max, Min, All, Any, ProdWithoutZeros, ...),
``Argmax``, and the softmax ops of ``pytensor.tensor.special``.

A ``CAReduce`` computes like its ``perform``: the input is cast to the accumulator dtype
(``op.acc_dtype``, else the output dtype), reduced, and the result cast to the output
dtype. So ``pt.sum`` of float32 accumulates in float64 and of int8 in int64, as in
PyTensor. ``pt.mean`` builds a ``Sum`` divided by the shape and ``pt.argmin`` an
``Argmax`` of ``-x``: both need nothing more here.

onnxruntime 1.32 behaviour these lowerings work around (measured on its CPU provider):

- ``ReduceSum``/``ReduceProd`` on int32/int64 accumulate in double: inexact above 2**53 and
  saturating where NumPy wraps. Integer sums are a ``MatMul`` with ones instead (exact,
  wrapping); integer products a pairwise ``Mul`` tree (see :func:`pairwise_reduce`).
- ``ReduceMax``/``ReduceMin``/``ArgMax`` skip NaN (unless it comes first), while NumPy
  propagates it (``argmax`` returns the first NaN).
- Kernels: ``ReduceSum``/``ReduceProd`` run float16/32/64, int32 and int64 only;
  ``ReduceMax``/``ReduceMin``/``ArgMax`` also int8 and uint8.
- Over an empty axis ``ReduceMax``/``ReduceMin`` return -inf/+inf (for integers, the
  minimum/maximum of the dtype they run in; that is not the dtype's own for int16, uint16
  and uint32, which run in a wider dtype) where NumPy raises; ``ArgMax`` raises as NumPy.
"""

from __future__ import annotations

import math

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytensor.tensor.special as pt_special
from onnx import helper
from pytensor.tensor.elemwise import CAReduce, Elemwise
from pytensor.tensor.math import Argmax, MulWithoutZeros

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.scalar import where
from pytensor_onnx.dispatch.shape import reshape
from pytensor_onnx.dispatch.sort import from_sortable, to_sortable
from pytensor_onnx.dtypes import onnx_dtype


def reduce_axes(axis, ndim: int) -> tuple[int, ...]:
    """The sorted, non-negative axes that a reduction over ``axis`` (None: all) covers."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | np.integer):
        axis = (axis,)
    return tuple(sorted({int(a) % ndim for a in axis}))


def _axes_input(builder, axes) -> str:
    return builder.constant(np.asarray(axes, dtype="int64"))


def emit_reduce(builder, onnx_op: str, x: str, axes, keepdims: bool = False) -> str:
    """``onnx_op`` (an opset-18 ``Reduce*``) of ``x`` over ``axes``; ``x`` itself for none.

    ONNX reads empty axes as "all axes" (unless ``noop_with_empty_axes``): never emit them.
    """
    if not axes:
        return x
    return builder.add_node(onnx_op, [x, _axes_input(builder, axes)], keepdims=int(keepdims))


def _holds_exactly(wide: str, narrow: str) -> bool:
    """Whether dtype ``wide`` represents every value of dtype ``narrow``."""
    wide, narrow = np.dtype(wide), np.dtype(narrow)
    if wide == narrow or narrow.kind == "b":
        return True
    if wide.kind == "f":
        digits = np.finfo(wide).nmant + 1
        if narrow.kind == "f":
            return wide.itemsize >= narrow.itemsize
        return narrow.kind in "iu" and np.iinfo(narrow).bits - (narrow.kind == "i") <= digits
    if wide.kind in "iu" and narrow.kind in "iu":
        return np.iinfo(wide).min <= np.iinfo(narrow).min and np.iinfo(wide).max >= (
            np.iinfo(narrow).max
        )
    return False


# -- sizes and layouts ---------------------------------------------------------------------
def _size_of(builder, x: str, shape, dims) -> str:
    """The number of elements in dims ``dims`` of ``x`` (static ``shape``), as a 1-D int64."""
    sizes = [shape[d] for d in dims]
    if None not in sizes:
        return builder.constant(np.array([math.prod(sizes)], dtype="int64"))
    if len(dims) == 1:
        return builder.add_node("Shape", [x], start=dims[0], end=dims[0] + 1)
    picked = builder.add_node(
        "Gather", [builder.add_node("Shape", [x]), builder.constant(np.array(dims, "int64"))]
    )
    # ReduceProd of int64 runs in double: exact for any size an array can have.
    return emit_reduce(builder, "ReduceProd", picked, [0], keepdims=True)


def _reduced_axes_last(builder, x: str, shape, axes) -> str:
    """``x`` with the kept axes first, in order, and ``axes`` flattened into one last axis."""
    ndim = len(shape)
    kept = [d for d in range(ndim) if d not in axes]
    perm = kept + list(axes)
    moved = builder.add_node("Transpose", [x], perm=perm) if perm != sorted(perm) else x
    if len(axes) == 1:
        return moved
    return reshape(
        builder, moved, [_kept_shape(builder, x, shape, axes), _size_of(builder, x, shape, axes)]
    )


def _kept_shape(builder, x: str, shape, axes) -> str:
    """The shape of ``x`` without ``axes``, as a 1-D int64."""
    kept = [d for d in range(len(shape)) if d not in axes]
    if None not in [shape[d] for d in kept]:
        return builder.constant(np.array([shape[d] for d in kept], dtype="int64"))
    return builder.add_node(
        "Gather", [builder.add_node("Shape", [x]), builder.constant(np.array(kept, "int64"))]
    )


# -- NaN ---------------------------------------------------------------------------------------------
def _nan_flags(builder, x: str) -> str:
    return builder.cast(builder.add_node("IsNaN", [x]), "bool", "uint8")


def _propagate_nan(builder, x: str, reduced: str, axes, dtype: str) -> str:
    """``reduced`` (a max or min of ``x``), NaN where its group of ``x`` has a NaN."""
    has_nan = builder.cast(
        emit_reduce(builder, "ReduceMax", _nan_flags(builder, x), axes), "uint8", "bool"
    )
    # A factor of 1 or NaN rather than a Where on the result, which can lose a -0.0.
    factor = builder.add_node(
        "Where",
        [
            has_nan,
            builder.constant(np.asarray(np.nan, dtype)),
            builder.constant(np.ones((), dtype)),
        ],
    )
    return builder.add_node("Mul", [reduced, factor])


# -- reductions ---------------------------------------------------------------------------
def _select(onnx_op: str):
    """Max or min: in an order-preserving dtype, NaN propagated like NumPy."""

    def reduce(builder, x, dtype, shape, axes):
        # (widening keeps the order; ReduceMin/ArgMax lack the same dtypes as ReduceMax)
        ordered_x, ordered = to_sortable(builder, x, dtype, "ReduceMax")
        result = emit_reduce(builder, onnx_op, ordered_x, axes)
        result = from_sortable(builder, result, ordered, dtype)
        if np.dtype(dtype).kind == "f":
            result = _propagate_nan(builder, x, result, axes, dtype)
        return result

    return reduce


def _logical(onnx_op: str):
    """All (ReduceMin) or any (ReduceMax) of bools, which onnxruntime reduces as uint8."""

    def reduce(builder, x, dtype, shape, axes):
        flags = builder.cast(x, dtype, "uint8")
        return builder.cast(emit_reduce(builder, onnx_op, flags, axes), "uint8", dtype)

    return reduce


def _sum(builder, x, dtype, shape, axes):
    if np.dtype(dtype).kind == "f":
        return emit_reduce(builder, "ReduceSum", x, axes)
    # Integers wrap modulo 2**bits whatever the width they are added in, so add in int64 by
    # a MatMul with ones (ReduceSum of integers runs in double), and cast back.
    values = builder.cast(x, dtype, "int64")
    ones = _ones(builder, _size_of(builder, x, shape, axes), "int64")
    kept = [d for d in range(len(shape)) if d not in axes]
    if kept and list(axes) == list(range(len(axes))):
        # Leading axes: ones @ (reduced, kept) needs no transpose (4x faster than one on
        # 2000x2000 int64).
        if len(axes) > 1 or len(kept) > 1:
            values = reshape(
                builder,
                values,
                [_size_of(builder, x, shape, axes), _size_of(builder, x, shape, kept)],
            )
        summed = builder.add_node("MatMul", [ones, values])
        if len(kept) > 1:
            summed = reshape(builder, summed, [_kept_shape(builder, x, shape, axes)])
    else:
        summed = builder.add_node(
            "MatMul", [_reduced_axes_last(builder, values, shape, axes), ones]
        )
    return builder.cast(summed, "int64", dtype)


def _ones(builder, size: str, dtype: str) -> str:
    return builder.add_node("Expand", [builder.constant(np.ones(1, dtype)), size])


def _prod(builder, x, dtype, shape, axes):
    if np.dtype(dtype).kind == "f":
        return emit_reduce(builder, "ReduceProd", x, axes)
    return pairwise_reduce(builder, ps.mul, x, dtype, shape, axes)


def _prod_without_zeros(builder, x, dtype, shape, axes):
    # The product of the nonzero values; 0 where all are zero (and for no values, the
    # identity of MulWithoutZeros).
    zero = builder.constant(np.zeros((), dtype))
    is_zero = builder.add_node("Equal", [x, zero])
    nonzero = where(builder, is_zero, builder.constant(np.ones((), dtype)), x, dtype)
    product = _prod(builder, nonzero, dtype, shape, axes)
    all_zero = _logical("ReduceMin")(builder, is_zero, "bool", shape, axes)
    return where(builder, all_zero, zero, product, dtype)


def _reduction_for(scalar_op, acc_dtype: str):
    """The lowering of a reduction by ``scalar_op`` in ``acc_dtype``, or None."""
    if acc_dtype == "bool":  # NumPy reduces bools by add and mul as by or and and
        if isinstance(scalar_op, ps.Add | ps.Maximum | ps.OR):
            return _logical("ReduceMax")
        if isinstance(scalar_op, ps.Mul | ps.Minimum | ps.AND):
            return _logical("ReduceMin")
        return None
    for scalar_class, reduction in _REDUCTIONS.items():
        if isinstance(scalar_op, scalar_class):
            return reduction
    return None


_REDUCTIONS = {
    ps.Add: _sum,
    ps.Mul: _prod,
    ps.Maximum: _select("ReduceMax"),
    ps.Minimum: _select("ReduceMin"),
    MulWithoutZeros: _prod_without_zeros,
}

# Reductions whose result is one of the values reduced: exact in the input dtype.
_SELECTIONS = (ps.Maximum, ps.Minimum, ps.AND, ps.OR)


@onnx_funcify.register(CAReduce)
def onnx_funcify_CAReduce(op, node, builder, inputs, **kwargs):
    (x,) = inputs
    in_type = node.inputs[0].type
    in_dtype, out_dtype = in_type.dtype, node.outputs[0].dtype
    acc_dtype = op.acc_dtype or out_dtype
    axes = reduce_axes(op.axis, in_type.ndim)
    if not axes:  # each value reduced alone is itself, in the accumulator's dtype
        return builder.cast(builder.cast(x, in_dtype, acc_dtype), acc_dtype, out_dtype)
    dtype = acc_dtype
    if isinstance(op.scalar_op, _SELECTIONS) and _holds_exactly(acc_dtype, in_dtype):
        dtype = in_dtype  # no need to widen a whole array to select one of its values
    x = builder.cast(x, in_dtype, dtype)
    reduction = _reduction_for(op.scalar_op, dtype)
    if reduction is None:
        result = pairwise_reduce(builder, op.scalar_op, x, dtype, in_type.shape, axes)
    else:
        result = reduction(builder, x, dtype, in_type.shape, axes)
    return builder.cast(result, dtype, out_dtype)


# -- any binary scalar op: a pairwise tree in a Loop ------------------------------------------
def _identity_value(scalar_op, dtype: str):
    """The identity of ``scalar_op`` as a ``dtype`` value, or None if it has none."""
    identity = getattr(scalar_op, "identity", None)
    if identity is None:
        return None
    if np.dtype(dtype).kind in "iu" and np.isinf(identity):
        info = np.iinfo(dtype)
        return np.asarray(info.max if identity > 0 else info.min, dtype)
    if np.dtype(dtype).kind == "b":
        return np.asarray(bool(identity))
    return np.asarray(identity).astype(dtype)


def pairwise_reduce(builder, scalar_op, x: str, dtype: str, shape, axes) -> str:
    """Reduce ``x`` (of ``dtype``, static ``shape``) over ``axes`` with any associative,
    commutative binary ``scalar_op``, by combining rows pairwise in a ``Loop``.

    The reduced axes are flattened into rows (with a row of the op's identity in front,
    for empty axes); each iteration combines rows 2i and 2i+1 with the scalar op's own
    converter, halving their number, until one is left: log2(n) iterations. With no
    identity, reducing an empty axis fails at run time, as NumPy raises.
    """
    ndim = len(shape)
    kept = [d for d in range(ndim) if d not in axes]
    perm = list(axes) + kept
    moved = builder.add_node("Transpose", [x], perm=perm) if perm != sorted(perm) else x
    width = _size_of(builder, x, shape, kept)
    rows = reshape(builder, moved, [_size_of(builder, x, shape, axes), width])
    identity = _identity_value(scalar_op, dtype)
    if identity is not None:
        first = builder.add_node(
            "Expand",
            [
                builder.constant(identity.reshape(1, 1)),
                builder.add_node("Concat", [builder.constant(np.ones(1, "int64")), width], axis=0),
            ],
        )
        rows = builder.add_node("Concat", [first, rows], axis=0)

    def more_than_one_row(b, value):
        count = b.add_node("Shape", [value], start=0, end=1)
        return b.add_node(
            "Squeeze", [b.add_node("Greater", [count, b.constant(np.ones(1, "int64"))])]
        )

    def halving_step(iteration, state):
        (partial,) = state
        count = builder.add_node("Shape", [partial], start=0, end=1)
        two = builder.constant(np.full(1, 2, "int64"))
        paired_end = builder.add_node("Mul", [builder.add_node("Div", [count, two]), two])
        axis0 = builder.constant(np.zeros(1, "int64"))
        even = builder.add_node("Slice", [partial, axis0, paired_end, axis0, two])
        odd = builder.add_node(
            "Slice", [partial, builder.constant(np.ones(1, "int64")), paired_end, axis0, two]
        )
        rest = builder.add_node("Slice", [partial, paired_end, count, axis0])
        combined = _apply_scalar_op(builder, scalar_op, even, odd, dtype)
        halved = builder.add_node("Concat", [combined, rest], axis=0)
        return more_than_one_row(builder, halved), [halved], []

    (reduced,) = builder.loop(
        "", more_than_one_row(builder, rows), [(rows, dtype)], halving_step, hint="pairwise"
    )
    return reshape(builder, reduced, [_kept_shape(builder, x, shape, axes)])


def _apply_scalar_op(builder, scalar_op, a: str, b: str, dtype: str) -> str:
    """``scalar_op`` of 2-D tensors ``a`` and ``b`` of ``dtype``, by its own converter."""
    operands = [pt.tensor(dtype=dtype, shape=(None, None)) for _ in range(2)]
    try:
        node = Elemwise(scalar_op).make_node(*operands)
    except (TypeError, ValueError) as err:
        raise NotImplementedError(
            f"Cannot reduce {dtype} values with scalar op {scalar_op}: {err}"
        ) from err
    result = onnx_funcify(scalar_op, node=node, builder=builder, inputs=[a, b])
    if not isinstance(result, str):  # a one-output list, as from Composite
        (result,) = result
    return builder.cast(result, node.outputs[0].dtype, dtype)


# -- Argmax ---------------------------------------------------------------------------------
@onnx_funcify.register(Argmax)
def onnx_funcify_Argmax(op, node, builder, inputs, **kwargs):
    x = inputs[0]
    in_type = node.inputs[0].type
    axes = reduce_axes(op.axis, in_type.ndim)
    if not axes:  # the argmax of each value alone
        return builder.add_node(
            "ConstantOfShape",
            [builder.add_node("Shape", [x])],
            value=helper.make_tensor("zero", onnx_dtype("int64"), [1], [0]),
        )
    if len(axes) == 1:
        (axis,) = axes
    else:
        x, axis = _reduced_axes_last(builder, x, in_type.shape, axes), in_type.ndim - len(axes)
    ordered_x, _ = to_sortable(builder, x, in_type.dtype, "ReduceMax")
    result = builder.add_node("ArgMax", [ordered_x], axis=axis, keepdims=0)
    if np.dtype(in_type.dtype).kind != "f":
        return result
    # NumPy's argmax is the first NaN if there is one; onnxruntime's skips NaN.
    nan_flags = _nan_flags(builder, x)
    first_nan = builder.add_node("ArgMax", [nan_flags], axis=axis, keepdims=0)
    has_nan = builder.cast(emit_reduce(builder, "ReduceMax", nan_flags, [axis]), "uint8", "bool")
    return builder.add_node("Where", [has_nan, first_nan, result])


# -- softmax --------------------------------------------------------------------------------
def _float_input(op, node, builder, x: str) -> tuple[str, str]:
    """The input in the (float) output dtype, and that dtype."""
    dtype = node.outputs[0].dtype
    if np.dtype(dtype).kind != "f":
        raise NotImplementedError(
            f"{type(op).__name__} of {node.inputs[0].dtype} input: ONNX export needs floats"
        )
    return builder.cast(x, node.inputs[0].dtype, dtype), dtype


def _shifted(builder, x: str, dtype: str, axes, finite_max: bool = False) -> str:
    """``x`` minus its max over ``axes`` (0 where that max is not finite, if ``finite_max``)."""
    top = emit_reduce(builder, "ReduceMax", x, axes, keepdims=True)
    if finite_max:
        zero = builder.constant(np.zeros((), dtype))
        finite = builder.add_node("Equal", [builder.add_node("Sub", [top, top]), zero])
        top = builder.add_node("Where", [finite, top, zero])
    return builder.add_node("Sub", [x, top])


@onnx_funcify.register(pt_special.Softmax)
def onnx_funcify_Softmax(op, node, builder, inputs, **kwargs):
    # One max pass, one exp, one sum: onnxruntime's own Softmax (in float64 especially) is
    # slower. A NaN that ReduceMax skips still makes the sum, hence every output, NaN.
    x, dtype = _float_input(op, node, builder, inputs[0])
    axes = reduce_axes(op.axis, node.inputs[0].type.ndim)
    exp = builder.add_node("Exp", [_shifted(builder, x, dtype, axes)])
    return builder.add_node(
        "Div", [exp, emit_reduce(builder, "ReduceSum", exp, axes, keepdims=True)]
    )


# pytensor 2.38's LogSoftmax is scipy's, which shifts by 0 where the max is not finite
# (giving -inf, not NaN, beside a +inf); pytensor 3's is a graph that shifts by the max.
_LOG_SOFTMAX_FINITE_MAX = not hasattr(pt_special.LogSoftmax, "build_inner_graph")


@onnx_funcify.register(pt_special.LogSoftmax)
def onnx_funcify_LogSoftmax(op, node, builder, inputs, **kwargs):
    x, dtype = _float_input(op, node, builder, inputs[0])
    axes = reduce_axes(op.axis, node.inputs[0].type.ndim)
    shifted = _shifted(builder, x, dtype, axes, finite_max=_LOG_SOFTMAX_FINITE_MAX)
    total = emit_reduce(
        builder, "ReduceSum", builder.add_node("Exp", [shifted]), axes, keepdims=True
    )
    return builder.add_node("Sub", [shifted, builder.add_node("Log", [total])])


_SoftmaxGrad = getattr(pt_special, "SoftmaxGrad", None)  # pytensor 2.38 only

if _SoftmaxGrad is not None:

    @onnx_funcify.register(_SoftmaxGrad)
    def onnx_funcify_SoftmaxGrad(op, node, builder, inputs, **kwargs):
        dy, sm = inputs
        sm_type = node.inputs[1].type
        dy = builder.cast(dy, node.inputs[0].dtype, sm_type.dtype)
        axes = reduce_axes(op.axis, sm_type.ndim)
        dy_sm = builder.add_node("Mul", [dy, sm])
        total = emit_reduce(builder, "ReduceSum", dy_sm, axes, keepdims=True)
        return builder.add_node("Sub", [dy_sm, builder.add_node("Mul", [total, sm])])
