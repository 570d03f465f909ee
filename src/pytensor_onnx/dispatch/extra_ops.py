"""``pytensor.tensor.extra_ops``: CumOp, Repeat, SearchsortedOp, Unique, FillDiagonal,
FillDiagonalOffset, RavelMultiIndex, UnravelIndex, Bartlett and CpuContiguous.

Lowerings and the onnxruntime 1.32 behaviour they rely on or avoid (measured):

- ``CumSum`` runs float16/32/64, int32 and int64 only: other integers are summed in int64
  and cast back, which wraps as NumPy's fixed-width arithmetic does. ONNX has no cumulative
  product: ``cumprod`` is a Hillis-Steele scan, ``log2(n)`` steps of
  ``y[i] *= y[i - 2**s]`` (unrolled for a static length, else an ONNX ``Loop``). Integer
  results are exact; float results differ from NumPy's left-to-right products by rounding
  only (the products are grouped differently).
- ``Repeat`` with per-element counts has a data-dependent length: the source index of each
  output position is a ``CumSum`` of markers scattered at the cumulated counts, then one
  ``Gather``.
- ``SearchsortedOp`` and ``Unique`` (``axis=None``) sort with ``TopK`` (see ``sort.py``),
  which is stable and orders NaN last as NumPy does. onnxruntime's own ``Unique`` op mixes
  NaN into other groups (``unique([3, nan, 1, nan, 3])`` counted the NaNs as 3s) and lacks
  int16/int32/unsigned kernels, so ``axis=None`` does not use it; ``Unique`` along an axis
  (a lexicographic sort of whole slices) does, with its dtypes widened. NumPy keeps slices
  that contain NaN apart (NaN != NaN); onnxruntime may merge them: a known difference.
- ``RavelMultiIndex`` with ``mode="raise"`` cannot raise: out-of-range indices give some
  value where NumPy raises (as every runtime check, see ``tensor_basic.py``).
"""

from __future__ import annotations

import numpy as np
import pytensor.scalar as ps
from pytensor.tensor.extra_ops import (
    Bartlett,
    CpuContiguous,
    CumOp,
    FillDiagonal,
    FillDiagonalOffset,
    RavelMultiIndex,
    Repeat,
    SearchsortedOp,
    Unique,
    UnravelIndex,
)

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.scalar import where
from pytensor_onnx.dispatch.shape import reshape, squeeze, unsqueeze
from pytensor_onnx.dispatch.sort import from_sortable, sort_along, to_sortable
from pytensor_onnx.dtypes import kernel_dtype

INT64_MAX = int(np.iinfo(np.int64).max)


# -- shared helpers ------------------------------------------------------------------------
def dim(builder, x: str, var, axis: int) -> str:
    """The length of axis ``axis`` of ``x`` (PyTensor variable ``var``) as a 1-D int64."""
    length = var.type.shape[axis]
    if length is not None:
        return builder.int64([length])
    return builder.add_node("Shape", [x], start=axis, end=axis + 1)


def arange(builder, length: str) -> str:
    """``0, 1, ..., length - 1`` for a 1-D int64 ``length`` of one element."""
    zero, one = builder.constant(np.int64(0)), builder.constant(np.int64(1))
    return builder.add_node("Range", [zero, squeeze(builder, length, [0]), one])


def to_int64(builder, name: str, var) -> str:
    return builder.cast(name, var.type.dtype, "int64")


def slice_axis(builder, x: str, start: str, end: str, axis: int) -> str:
    """``x[start:end]`` along ``axis``, with 1-D int64 bounds."""
    return builder.add_node("Slice", [x, start, end, builder.int64([axis])])


def gather(builder, x: str, indices: str, axis: int, ndim: int) -> str:
    """``take(x, indices, axis)`` for 1-D ``indices``; ``GatherElements`` for a 1-D ``x``,
    which onnxruntime runs about 10x faster than ``Gather``."""
    op = "GatherElements" if ndim == 1 else "Gather"
    return builder.add_node(op, [x, indices], axis=axis)


def inverse_scatter(builder, permutation: str, values: str) -> str:
    """``out[permutation[i]] = values[i]`` (1-D; ``values`` has the output's shape)."""
    return builder.add_node("ScatterElements", [values, permutation, values], axis=0)


def index_grid(builder, x: str, var, axis: int) -> str:
    """The index along ``axis``, shaped to broadcast against ``x`` (1 on other axes)."""
    ndim = var.type.ndim
    index = arange(builder, dim(builder, x, var, axis))
    return unsqueeze(builder, index, [d for d in range(ndim) if d != axis])


# -- CumOp ---------------------------------------------------------------------------------
@onnx_funcify.register(CumOp)
def onnx_funcify_CumOp(op, node, builder, inputs, **kwargs):
    (x_var,) = node.inputs
    dtype = node.outputs[0].type.dtype
    in_dtype = x_var.type.dtype
    if op.mode == "add":
        compute = kernel_dtype("CumSum", dtype)  # (sums wrap as NumPy's when cast back)
        x = builder.cast(inputs[0], in_dtype, compute)
        total = builder.add_node("CumSum", [x, builder.constant(np.int64(op.axis))])
        return builder.cast(total, compute, dtype)
    compute = kernel_dtype("Mul", dtype)
    x = builder.cast(inputs[0], in_dtype, compute)
    return builder.cast(_cumprod(builder, x, x_var, op.axis, compute), compute, dtype)


def _scan_step(builder, y: str, shift: str, axis: int) -> str:
    """One Hillis-Steele step: ``y[i] * y[i - shift]`` where ``i >= shift``, else ``y[i]``.

    ``shift`` is a 1-D int64; a shift beyond the length leaves ``y`` unchanged.
    """
    zero, end = builder.int64([0]), builder.int64([INT64_MAX])
    head = slice_axis(builder, y, zero, shift, axis)
    tail = slice_axis(builder, y, shift, end, axis)
    earlier = slice_axis(builder, y, zero, builder.add_node("Neg", [shift]), axis)
    return builder.add_node("Concat", [head, builder.add_node("Mul", [tail, earlier])], axis=axis)


def _cumprod(builder, x: str, x_var, axis: int, dtype: str) -> str:
    length = x_var.type.shape[axis]
    if length is not None:
        shift = 1
        while shift < length:
            x = _scan_step(builder, x, builder.int64([shift]), axis)
            shift *= 2
        return x

    n = dim(builder, x, x_var, axis)

    def shorter_than_n(b, shift):
        return b.add_node("Squeeze", [b.add_node("Less", [shift, n]), b.int64([0])])

    def doubling_step(iteration, state):
        y, shift = state
        shift_out = builder.add_node("Mul", [shift, builder.int64([2])])
        return (
            shorter_than_n(builder, shift_out),
            [_scan_step(builder, y, shift, axis), shift_out],
            [],
        )

    one = builder.int64([1])
    result, _ = builder.loop(
        "",
        shorter_than_n(builder, one),
        [(x, dtype), (one, "int64")],
        doubling_step,
        hint="cumprod",
    )
    return result


@onnx_funcify.register(CpuContiguous)
def onnx_funcify_CpuContiguous(op, node, builder, inputs, **kwargs):
    # ONNX values have no memory layout.
    return inputs[0]


# -- Repeat --------------------------------------------------------------------------------
@onnx_funcify.register(Repeat)
def onnx_funcify_Repeat(op, node, builder, inputs, **kwargs):
    x_var, repeats_var = node.inputs
    axis = op.axis
    length = dim(builder, inputs[0], x_var, axis)
    repeats = to_int64(builder, inputs[1], repeats_var)
    if repeats_var.type.shape[0] is None or repeats_var.type.shape[0] != x_var.type.shape[axis]:
        # NumPy broadcasts a single count to every element.
        repeats = builder.add_node("Expand", [repeats, length])
    # Element i fills output positions ends[i-1] .. ends[i] - 1: a marker at each end,
    # cumulated, counts how many elements end at or before each position, which is the
    # index of the element there. Elements repeated 0 times put their marker where the
    # next one's is.
    ends = builder.add_node("CumSum", [repeats, builder.constant(np.int64(0))])
    zero = builder.int64([0])
    total = builder.add_node("ReduceSum", [repeats], keepdims=1)
    slots = builder.add_node("Add", [total, builder.int64([1])])
    markers = builder.add_node(
        "ScatterElements",
        [
            builder.add_node("Expand", [builder.constant(np.int64(0)), slots]),
            ends,
            builder.add_node("Expand", [builder.constant(np.int64(1)), length]),
        ],
        axis=0,
        reduction="add",
    )
    counted = builder.add_node("CumSum", [markers, builder.constant(np.int64(0))])
    source = slice_axis(builder, counted, zero, total, 0)
    return gather(builder, inputs[0], source, axis, x_var.type.ndim)


# -- SearchsortedOp ------------------------------------------------------------------------
@onnx_funcify.register(SearchsortedOp)
def onnx_funcify_SearchsortedOp(op, node, builder, inputs, **kwargs):
    x_var, v_var = node.inputs[:2]
    dtype = ps.upcast(x_var.type.dtype, v_var.type.dtype)
    x = builder.cast(inputs[0], x_var.type.dtype, dtype)
    if len(inputs) == 3:
        x = gather(builder, x, to_int64(builder, inputs[2], node.inputs[2]), 0, 1)
    v = reshape(builder, builder.cast(inputs[1], v_var.type.dtype, dtype), builder.int64([-1]))
    # Sort x and v together, stably: v before x for side="left" (a value goes before the
    # x equal to it), after for "right". Each value's answer is the number of x sorted
    # before it: a cumulative count of x along the sorted order, sent back to the value's
    # place.
    left = op.side == "left"
    combined = builder.add_node("Concat", [v, x] if left else [x, v], axis=0)
    _, order = sort_along(builder, combined, dtype, 0)
    n_first = builder.add_node("Shape", [v if left else x])
    is_x = builder.add_node("GreaterOrEqual" if left else "Less", [order, n_first])
    counts = builder.add_node("CumSum", [builder.cast(is_x, "bool", "int64"), zero_scalar(builder)])
    counts = inverse_scatter(builder, order, counts)
    end = builder.int64([INT64_MAX])
    start, stop = (builder.int64([0]), n_first) if left else (n_first, end)
    result = slice_axis(builder, counts, start, stop, 0)
    return reshape(builder, result, builder.add_node("Shape", [inputs[1]]))


def zero_scalar(builder) -> str:
    return builder.constant(np.int64(0))


# -- Unique --------------------------------------------------------------------------------
@onnx_funcify.register(Unique)
def onnx_funcify_Unique(op, node, builder, inputs, **kwargs):
    x_var = node.inputs[0]
    dtype = x_var.type.dtype
    if op.axis is None:
        results = _unique_flat(builder, inputs[0], dtype)
    else:
        results = _unique_along(builder, inputs[0], dtype, op.axis)
    wanted = [True, op.return_index, op.return_inverse, op.return_counts]
    return [name for name, keep in zip(results, wanted, strict=True) if keep]


def _unique_flat(builder, x: str, dtype: str) -> list[str]:
    """NumPy's unique of flattened ``x``: values, first indices, inverse, counts."""
    flat = reshape(builder, x, builder.int64([-1]))
    values, order = sort_along(builder, flat, dtype, 0)
    zero, one, end = (builder.int64([v]) for v in (0, 1, INT64_MAX))
    before, after = (
        slice_axis(builder, values, zero, builder.int64([-1]), 0),
        (slice_axis(builder, values, one, end, 0)),
    )
    same = builder.add_node("Equal", [before, after])
    if np.dtype(dtype).kind == "f":
        # NumPy (equal_nan=True) makes one group of every NaN.
        both_nan = builder.add_node(
            "And", [builder.add_node("IsNaN", [before]), builder.add_node("IsNaN", [after])]
        )
        same = builder.add_node("Or", [same, both_nan])
    size = builder.add_node("Shape", [flat])
    # The Slice drops the leading True again for an empty input.
    starts_group = slice_axis(
        builder,
        builder.add_node(
            "Concat", [builder.constant(np.array([True])), builder.add_node("Not", [same])], axis=0
        ),
        zero,
        size,
        0,
    )
    uniques = builder.add_node("Compress", [values, starts_group], axis=0)
    first_index = builder.add_node("Compress", [order, starts_group], axis=0)
    group = builder.add_node(
        "Sub",
        [
            builder.add_node(
                "CumSum", [builder.cast(starts_group, "bool", "int64"), zero_scalar(builder)]
            ),
            one,
        ],
    )
    inverse = inverse_scatter(builder, order, group)
    starts = builder.add_node("Compress", [arange(builder, size), starts_group], axis=0)
    ends = builder.add_node("Concat", [slice_axis(builder, starts, one, end, 0), size], axis=0)
    counts = builder.add_node("Sub", [ends, starts])
    return [uniques, first_index, inverse, counts]


def _unique_along(builder, x: str, dtype: str, axis: int) -> list[str]:
    if dtype == "uint64":
        compute_x, compute = to_sortable(builder, x, dtype)
    else:
        compute = kernel_dtype("Unique", dtype)
        compute_x = builder.cast(x, dtype, compute)
    uniques, first_index, inverse, counts = builder.add_node(
        "Unique", [compute_x], n_outputs=4, axis=axis, sorted=1
    )
    if dtype == "uint64":
        uniques = from_sortable(builder, uniques, compute, dtype)
    else:
        uniques = builder.cast(uniques, compute, dtype)
    return [uniques, first_index, inverse, counts]


# -- FillDiagonal, FillDiagonalOffset --------------------------------------------------------
@onnx_funcify.register(FillDiagonal)
def onnx_funcify_FillDiagonal(op, node, builder, inputs, **kwargs):
    # Every index equal; for a tall matrix that stops at the last column, as PyTensor's
    # perform does (NumPy's fill_diagonal of 2-D arrays would wrap around).
    a, value = inputs
    a_var = node.inputs[0]
    first = index_grid(builder, a, a_var, 0)
    on_diagonal = None
    for axis in range(1, a_var.type.ndim):
        equal = builder.add_node("Equal", [first, index_grid(builder, a, a_var, axis)])
        on_diagonal = (
            equal if on_diagonal is None else builder.add_node("And", [on_diagonal, equal])
        )
    return where(builder, on_diagonal, value, a, node.outputs[0].type.dtype)


@onnx_funcify.register(FillDiagonalOffset)
def onnx_funcify_FillDiagonalOffset(op, node, builder, inputs, **kwargs):
    a, value, offset = inputs
    a_var = node.inputs[0]
    column_minus_row = builder.add_node(
        "Sub", [index_grid(builder, a, a_var, 1), index_grid(builder, a, a_var, 0)]
    )
    on_diagonal = builder.add_node(
        "Equal", [column_minus_row, to_int64(builder, offset, node.inputs[2])]
    )
    return where(builder, on_diagonal, value, a, node.outputs[0].type.dtype)


# -- RavelMultiIndex, UnravelIndex -----------------------------------------------------------
def _dims(builder, dims: str, dims_var, count: int) -> list[str]:
    """The entries of the 1-D ``dims`` as 0-d int64 values."""
    dims = to_int64(builder, dims, dims_var)
    return [builder.add_node("Gather", [dims, builder.constant(np.int64(i))]) for i in range(count)]


@onnx_funcify.register(RavelMultiIndex)
def onnx_funcify_RavelMultiIndex(op, node, builder, inputs, **kwargs):
    *index_vars, dims_var = node.inputs
    sizes = _dims(builder, inputs[-1], dims_var, len(index_vars))
    indices = [to_int64(builder, n, v) for n, v in zip(inputs[:-1], index_vars, strict=True)]
    zero, one = builder.constant(np.int64(0)), builder.constant(np.int64(1))
    if op.mode == "wrap":
        # ONNX's integer Mod (fmod=0) takes the divisor's sign, as Python's % does.
        indices = [builder.add_node("Mod", [i, s]) for i, s in zip(indices, sizes, strict=True)]
    elif op.mode == "clip":
        indices = [
            builder.add_node(
                "Min", [builder.add_node("Max", [i, zero]), builder.add_node("Sub", [s, one])]
            )
            for i, s in zip(indices, sizes, strict=True)
        ]
    pairs = list(zip(indices, sizes, strict=True))
    if op.order == "F":
        pairs.reverse()
    flat = pairs[0][0]
    for index, size in pairs[1:]:
        flat = builder.add_node("Add", [builder.add_node("Mul", [flat, size]), index])
    return flat


@onnx_funcify.register(UnravelIndex)
def onnx_funcify_UnravelIndex(op, node, builder, inputs, **kwargs):
    indices_var, dims_var = node.inputs
    count = len(node.outputs)
    sizes = _dims(builder, inputs[1], dims_var, count)
    remainder = to_int64(builder, inputs[0], indices_var)
    coordinates = [None] * count
    axes = range(count - 1, -1, -1) if op.order == "C" else range(count)
    for axis in axes:
        coordinates[axis] = builder.add_node("Mod", [remainder, sizes[axis]])
        remainder = builder.add_node("Div", [remainder, sizes[axis]])
    return coordinates


# -- Bartlett -------------------------------------------------------------------------------
@onnx_funcify.register(Bartlett)
def onnx_funcify_Bartlett(op, node, builder, inputs, **kwargs):
    # NumPy: n = arange(1 - M, M, 2); where(n <= 0, 1 + n / (M - 1), 1 - n / (M - 1)),
    # that is 1 - |n| / (M - 1), with ones(1) for M == 1 (the max below: 0 / 1 there).
    m = to_int64(builder, inputs[0], node.inputs[0])
    one, two = builder.constant(np.int64(1)), builder.constant(np.int64(2))
    n = builder.add_node("Range", [builder.add_node("Sub", [one, m]), m, two])
    denominator = builder.add_node("Max", [builder.add_node("Sub", [m, one]), one])
    ratio = builder.add_node(
        "Div",
        [
            builder.add_node("Abs", [builder.cast(n, "int64", "float64")]),
            builder.cast(denominator, "int64", "float64"),
        ],
    )
    return builder.add_node("Sub", [builder.constant(np.float64(1)), ratio])
