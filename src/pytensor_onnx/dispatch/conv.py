"""Convolution: ``Convolve1d`` and ``Convolve2d`` of ``pytensor.tensor.signal`` (NumPy's
``convolve`` / SciPy's ``signal.convolve``, modes "full" and "valid"; "same" is a "valid"
convolution of a padded input in the PyTensor graph).

onnxruntime's Conv has float32 kernels only (no float64, no integers). float32 convolutions
use it. Other dtypes compute exactly in their own dtype (integers in a wider one): in 1-D as
two matrix products over blocks of the data (see ``_blocked_convolution_1d``; an If falls
back to windows when the inputs hold inf or NaN), in 2-D by gathering the sliding windows of
the zero-padded data and contracting them with the flipped kernel (Einsum; memory
``out * kernel`` elements per axis).

"valid" is the central part of "full" (``full[min(n, k) - 1 : max(n, k)]`` per axis, the
longer input being the data, as NumPy and SciPy swap them): with lengths unknown at
conversion, or a symbolic mode, the full convolution is sliced.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from pytensor.tensor.signal.conv import Convolve1d, Convolve2d

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.blas import matmul
from pytensor_onnx.dispatch.blockwise import register_batch_broadcasting
from pytensor_onnx.dispatch.shape import reshape, squeeze, unsqueeze
from pytensor_onnx.dtypes import kernel_dtype, onnx_dtype

_INT64_MIN = np.iinfo(np.int64).min


class _Operand:
    """An input of the convolution: its ONNX name, rank and static core lengths."""

    def __init__(self, builder, name: str, var, ndim: int):
        self.builder, self.name, self.rank = builder, name, var.type.ndim
        self.static = var.type.shape[self.rank - ndim :]
        self.batch = var.type.shape[: self.rank - ndim]
        self.ndim = ndim

    def length(self, i: int) -> str:
        """Core axis ``i``'s length as a 1-D int64 value of one element."""
        if self.static[i] is not None:
            return self.builder.int64([self.static[i]])
        axis = self.rank - self.ndim + i
        return self.builder.add_node("Shape", [self.name], start=axis, end=axis + 1)

    def shape_part(self, start: int, end: int | None = None) -> str:
        return self.builder.add_node("Shape", [self.name], start=start, end=end)

    @property
    def unbatched(self) -> bool:
        return all(d == 1 for d in self.batch)


def _full_mode(builder, node, name: str):
    """The mode as a Python bool if constant, else a 0-d bool value."""
    var = node.inputs[2]
    value = builder.constant_value(name)
    if value is not None:
        if np.unique(value).size != 1:
            raise NotImplementedError(
                f"{type(node.op).__name__}: a mode that varies over batch dims is not supported"
            )
        return bool(value.flat[0])
    if any(d != 1 for d in getattr(var.type, "shape", ())):
        raise NotImplementedError(
            f"{type(node.op).__name__}: a symbolic mode with batch dims is not supported"
        )
    return builder.add_node("Reshape", [name, builder.int64([])])


def _flip(builder, x: str, ndim: int) -> str:
    axes = list(range(-ndim, 0))
    return builder.add_node(
        "Slice",
        [
            x,
            builder.int64([-1] * ndim),
            builder.int64([_INT64_MIN] * ndim),
            builder.int64(axes),
            builder.int64([-1] * ndim),
        ],
    )


def _pad_core(builder, x: str, rank: int, pads: list[str], before=True, after=True) -> str:
    """``x`` with ``pads[i]`` zeros before and/or after each of its last ``len(pads)`` axes."""
    n_leading = rank - len(pads)
    zeros = [builder.int64([0] * n_leading)] if n_leading else []
    none = [builder.int64([0] * len(pads))]
    begin = [*zeros, *pads] if before else [*zeros, *none]
    end = [*zeros, *pads] if after else [*zeros, *none]
    return builder.add_node("Pad", [x, builder.add_node("Concat", [*begin, *end], axis=0)])


def _scalar(builder, length: str) -> str:
    return squeeze(builder, length, [0])


def _windows_convolution(builder, data: _Operand, kernel: _Operand, full: bool, dtype: str):
    """The convolution by windows of ``data`` contracted with the flipped ``kernel``."""
    ndim = data.ndim
    one = builder.int64([1])
    compute = kernel_dtype("Einsum", dtype)  # (wrapping integer sums keep their low bits)
    kernel_lengths = [kernel.length(i) for i in range(ndim)]
    padded, padded_lengths = builder.cast(data.name, dtype, compute), []
    for i, k in enumerate(kernel_lengths):
        length = data.length(i)
        if full:  # k - 1 zeros on each side
            length = builder.add_node("Add", [length, builder.add_node("Sub", [k, one])])
            length = builder.add_node("Add", [length, builder.add_node("Sub", [k, one])])
        padded_lengths.append(length)
    if full:
        pads = [builder.add_node("Sub", [k, one]) for k in kernel_lengths]
        padded = _pad_core(builder, padded, data.rank, pads)
    out_lengths = [
        builder.add_node("Add", [builder.add_node("Sub", [p, k]), one])
        for p, k in zip(padded_lengths, kernel_lengths)
    ]
    flipped = builder.cast(_flip(builder, kernel.name, ndim), dtype, compute)
    windows = padded
    zero, step = builder.constant(np.int64(0)), builder.constant(np.int64(1))
    for i in range(ndim):
        # Each Gather replaces a core axis by (out, kernel): index [a, j] = a + j.
        starts = builder.add_node("Range", [zero, _scalar(builder, out_lengths[i]), step])
        offsets = builder.add_node("Range", [zero, _scalar(builder, kernel_lengths[i]), step])
        index = builder.add_node(
            "Add", [unsqueeze(builder, starts, [1]), unsqueeze(builder, offsets, [0])]
        )
        windows = builder.add_node("Gather", [windows, index], axis=data.rank - ndim + 2 * i)
    if ndim == 1:  # (..., out, k) @ (..., k, 1)
        result = matmul(builder, windows, unsqueeze(builder, flipped, [-1]), compute)
        result = squeeze(builder, result, [-1])
    else:
        result = builder.add_node("Einsum", [windows, flipped], equation="...akbl,...kl->...ab")
    return _from_compute(builder, result, compute, dtype)


def _from_compute(builder, result: str, compute: str, dtype: str) -> str:
    if dtype == "bool":
        return builder.add_node("Greater", [result, builder.constant(np.zeros((), compute))])
    return builder.cast(result, compute, dtype)


def _blocked_convolution_1d(builder, data: _Operand, kernel: _Operand, dtype: str) -> str:
    """The full 1-D convolution as two matrix products over blocks of ``k`` samples.

    With the data zero-padded to ``nb`` blocks ``X[b]`` of ``k`` samples, output block ``b``
    is ``X[b] @ T0 + X[b - 1] @ T1`` for the k x k Toeplitz matrices of the kernel
    ``T0[s, r] = w[r - s]`` (``s <= r``) and ``T1[s, r] = w[k + r - s]`` (``s > r``): 2 n k
    multiply-adds in two GEMMs, and O(n + k^2) memory. The windows formulation (an
    (n + k - 1, k) array of copies) took 55-65 ms on 1e5 float64 samples and k = 50, 40x
    NumPy's time.
    """
    compute = kernel_dtype("Einsum", dtype)  # (wrapping integer sums keep their low bits)
    x = builder.cast(data.name, dtype, compute)
    w = builder.cast(kernel.name, dtype, compute)
    one = builder.int64([1])
    n, k = data.length(0), kernel.length(0)
    k_safe = builder.add_node("Max", [k, one])  # no integer division by 0 (SIGFPE)
    out = builder.add_node("Sub", [builder.add_node("Add", [n, k]), one])
    blocks = builder.add_node(
        "Div", [builder.add_node("Sub", [builder.add_node("Add", [out, k_safe]), one]), k_safe]
    )
    tail = builder.add_node("Sub", [builder.add_node("Mul", [blocks, k_safe]), n])
    x = _pad_core(builder, x, data.rank, [tail], before=False)
    batch = [data.shape_part(0, data.rank - 1)] if data.rank > 1 else []
    x_blocks = reshape(builder, x, [*batch, blocks, k_safe])
    # The previous block of each: one block of zeros first, the last block dropped.
    previous = _pad_core(builder, x_blocks, data.rank + 1, [one, builder.int64([0])], after=False)
    previous = builder.add_node(
        "Slice", [previous, builder.int64([0]), blocks, builder.int64([-2])]
    )
    zero, step = builder.constant(np.int64(0)), builder.constant(np.int64(1))
    positions = builder.add_node("Range", [zero, _scalar(builder, k_safe), step])
    lag = builder.add_node(  # lag[s, r] = r - s; Gather reads w[k + lag] for negative lags
        "Sub", [unsqueeze(builder, positions, [0]), unsqueeze(builder, positions, [1])]
    )
    toeplitz = builder.add_node("Gather", [w, lag], axis=-1)
    zeros = builder.constant(np.zeros((), compute))
    upper = builder.add_node("GreaterOrEqual", [lag, builder.constant(np.int64(0))])
    t0 = builder.add_node("Where", [upper, toeplitz, zeros])
    t1 = builder.add_node("Where", [upper, zeros, toeplitz])
    result = builder.add_node(
        "Add", [matmul(builder, x_blocks, t0, compute), matmul(builder, previous, t1, compute)]
    )
    # The batch dims of data and kernel broadcast in MatMul: the result's are both's.
    result_batch = [builder.add_node("Shape", [result], end=-2)] if data.rank > 1 else []
    flat = reshape(builder, result, [*result_batch, builder.int64([-1])])
    flat = builder.add_node("Slice", [flat, builder.int64([0]), out, builder.int64([-1])])
    return _from_compute(builder, flat, compute, dtype)


def _native_convolution(builder, data: _Operand, kernel: _Operand, full: bool):
    """ONNX Conv (float32): batch dims go to Conv's N (data batched) or output channels
    (kernel batched), or groups (both batched alike, static). None for other layouts."""
    ndim = data.ndim
    core_x, core_w = data.shape_part(-ndim), kernel.shape_part(-ndim)
    if kernel.unbatched:
        x4 = reshape(builder, data.name, [builder.int64([-1, 1]), core_x])
        w4 = reshape(builder, kernel.name, [builder.int64([1, 1]), core_w])
        batch_shape, group = (data.shape_part(0, data.rank - ndim) if data.batch else None), 1
    elif data.unbatched:
        x4 = reshape(builder, data.name, [builder.int64([1, 1]), core_x])
        w4 = reshape(builder, kernel.name, [builder.int64([-1, 1]), core_w])
        batch_shape, group = kernel.shape_part(0, kernel.rank - ndim), 1
    elif None not in data.batch and data.batch == kernel.batch:
        group = int(np.prod(data.batch))
        x4 = reshape(builder, data.name, [builder.int64([1, group]), core_x])
        w4 = reshape(builder, kernel.name, [builder.int64([group, 1]), core_w])
        batch_shape = builder.int64(data.batch)
    else:
        return None
    if full:
        one = builder.int64([1])
        pads = [builder.add_node("Sub", [kernel.length(i), one]) for i in range(ndim)]
        x4 = _pad_core(builder, x4, ndim + 2, pads)
    out = builder.add_node("Conv", [x4, _flip(builder, w4, ndim)], group=group)
    if batch_shape is None:  # no batch dims: drop N and C
        return squeeze(builder, out, [0, 1])
    return reshape(builder, out, [batch_shape, builder.add_node("Shape", [out], start=2)])


def _convolve(builder, data, kernel, full: bool, dtype: str) -> str:
    if dtype == "float32":
        result = _native_convolution(builder, data, kernel, full)
        if result is not None:
            return result
    if data.ndim == 1:
        result = _blocked_convolution_1d(builder, data, kernel, dtype)
        if dtype.startswith("float"):
            result = _unless_non_finite(builder, data, kernel, result, dtype)
        return result if full else _valid_slice(builder, result, data, kernel, False)
    return _windows_convolution(builder, data, kernel, full, dtype)


def _unless_non_finite(builder, data: _Operand, kernel: _Operand, blocked: str, dtype: str):
    """``blocked`` if data and kernel are finite, else the windows convolution.

    The blocked products multiply every sample of a block by the zeros of the Toeplitz
    matrices too, so an inf or NaN would spread over its neighbours (0 * inf is NaN),
    where NumPy multiplies it by the kernel's taps only.
    """

    def non_finite_flag(x: str) -> str:  # sum(x - x): 0, or NaN if any x is inf or NaN
        return builder.add_node("ReduceSum", [builder.add_node("Sub", [x, x])], keepdims=0)

    total = builder.add_node("Add", [non_finite_flag(data.name), non_finite_flag(kernel.name)])
    finite = builder.add_node("Equal", [total, builder.constant(np.zeros((), dtype))])
    rank = max(data.rank, kernel.rank)
    return builder.add_node(
        "If",
        [finite],
        then_branch=_branch(builder, lambda: blocked, dtype, rank, "finite_convolution"),
        else_branch=_branch(
            builder,
            lambda: _windows_convolution(builder, data, kernel, True, dtype),
            dtype,
            rank,
            "non_finite_convolution",
        ),
    )


def _branch(builder, emit, dtype: str, rank: int, hint: str) -> onnx.GraphProto:
    with builder.subgraph() as nodes:
        # The Identity makes the branch output a value of its own, computed in the branch.
        out = builder.add_node("Identity", [emit()])
    info = helper.make_tensor_value_info(out, onnx_dtype(dtype), [None] * rank)
    return helper.make_graph(nodes, builder.fresh_name(hint), [], [info])


def _valid_slice(builder, full_result: str, a: _Operand, b: _Operand, mode) -> str:
    """``full[min(n, k) - 1 : max(n, k)]`` per core axis (all of it where ``mode`` is a
    symbolic True)."""
    ndim = a.ndim
    one = builder.int64([1])
    starts, ends = [], []
    for i in range(ndim):
        n, k = a.length(i), b.length(i)
        start = builder.add_node("Sub", [builder.add_node("Min", [n, k]), one])
        end = builder.add_node("Max", [n, k])
        if not isinstance(mode, bool):  # symbolic: full is [0, n + k - 1)
            full_end = builder.add_node("Sub", [builder.add_node("Add", [n, k]), one])
            start = builder.add_node("Where", [mode, builder.int64([0]), start])
            end = builder.add_node("Where", [mode, full_end, end])
        starts.append(start)
        ends.append(end)
    return builder.add_node(
        "Slice",
        [
            full_result,
            builder.add_node("Concat", starts, axis=0),
            builder.add_node("Concat", ends, axis=0),
            builder.int64(list(range(-ndim, 0))),
        ],
    )


@onnx_funcify.register(Convolve1d)
@onnx_funcify.register(Convolve2d)
def onnx_funcify_Convolve(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    ndim = op.ndim
    x, y = (builder.cast(name, var.dtype, dtype) for name, var in zip(inputs[:2], node.inputs))
    a, b = (_Operand(builder, name, var, ndim) for name, var in zip((x, y), node.inputs))
    mode = _full_mode(builder, node, inputs[2])
    if mode is True:
        return _convolve(builder, a, b, True, dtype)
    if None not in a.static and None not in b.static:
        # NumPy and SciPy make the input that is larger in every axis the data.
        data, kernel = (b, a) if all(k > n for n, k in zip(a.static, b.static)) else (a, b)
        if mode is False:
            return _convolve(builder, data, kernel, False, dtype)
    else:
        data, kernel = a, b
    return _valid_slice(builder, _convolve(builder, data, kernel, True, dtype), a, b, mode)


register_batch_broadcasting(Convolve1d, Convolve2d)
