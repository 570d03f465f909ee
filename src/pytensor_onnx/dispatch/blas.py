"""Products: Dot, and the BLAS ops PyTensor's rewrites make of it (Dot22, Dot22Scalar, Gemm,
Gemv, Ger, BatchedDot, and the C subclasses CGemv/CGer).

Every product is an ONNX MatMul of operands of at least 2 dims, which broadcasts leading
(batch) dims, so these converters also serve ``Blockwise`` (``pt.matmul``). A vector operand
becomes a column: onnxruntime's float64 MatMul with a 1-D right operand was measured ~20x
slower than with the same values as a (k, 1) matrix.

The scalars of Gemm/Gemv/Ger (``alpha``, ``beta``) may be symbolic. Where they are constants
exactly representable as float32 (ONNX's attribute type), a PyTensor Gemm becomes one ONNX
Gemm node, which fuses the scaling and the addition. The "inplace"/"destructive" variants
compute the same values: ONNX values are immutable, so they are out of place here.
"""

from __future__ import annotations

import numpy as np
from pytensor.tensor.blas import BatchedDot, Dot22, Dot22Scalar, Gemm, Gemv, Ger
from pytensor.tensor.math import Dot

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.blockwise import register_batch_broadcasting
from pytensor_onnx.dispatch.scalar import cast_operands, where
from pytensor_onnx.dispatch.shape import squeeze, unsqueeze
from pytensor_onnx.dtypes import kernel_dtype

# Where onnxruntime's MatMul lacks the dtype (dtypes.py), integer products are computed in
# int32: their low bits, which the cast back keeps, are those of NumPy's wrapping
# arithmetic. bool is NumPy's "any(a & b)": a positive count of products.

# The dtypes ONNX's Gemm (and onnxruntime's kernel) computes in.
_GEMM_DTYPES = frozenset({"float32", "float64"})


def matmul(builder, a: str, b: str, dtype: str) -> str:
    """``a @ b`` for operands of ``dtype`` with at least 2 dims (leading dims broadcast)."""
    compute = kernel_dtype("MatMul", dtype)
    product = builder.add_node(
        "MatMul", [builder.cast(a, dtype, compute), builder.cast(b, dtype, compute)]
    )
    if dtype == "bool":
        return builder.add_node("Greater", [product, builder.constant(np.zeros((), compute))])
    return builder.cast(product, compute, dtype)


def _scalar_value(builder, name: str):
    """The value of a constant scalar input, else None."""
    value = builder.constant_value(name)
    return None if value is None else value.item()


def _scaled(builder, value: str, factor: str) -> str:
    """``factor * value``, without a node for a constant factor of 1."""
    if _scalar_value(builder, factor) == 1:
        return value
    return builder.add_node("Mul", [factor, value])


def _unless_zero(builder, scalar: str, if_zero, otherwise, dtype: str) -> str:
    """``if_zero()`` where ``scalar == 0``, else ``otherwise()`` (BLAS skips the term a zero
    scalar multiplies, so NaN or garbage in it does not propagate)."""
    value = _scalar_value(builder, scalar)
    if value is not None:
        return if_zero() if value == 0 else otherwise()
    is_zero = builder.add_node("Equal", [scalar, builder.constant(np.zeros((), dtype))])
    return where(builder, is_zero, if_zero(), otherwise(), dtype)


def _float32_exact(value) -> bool:
    # In float64: comparing with a Python float would round it to float32 (NEP 50).
    return value is not None and float(np.float32(value)) == float(value)


def gemm(builder, x: str, y: str, alpha: str, z: str | None, beta: str | None, dtype: str) -> str:
    """``alpha * x @ y + beta * z`` of 2-D operands, where ``beta == 0`` ignores ``z``.

    ``z`` must broadcast to the product's shape (ONNX Gemm's ``C`` does; the caller expands
    the product where ``z`` is larger). ``alpha * (x @ y)`` keeps NumPy's ``0 * inf = nan``.
    """
    a = _scalar_value(builder, alpha)
    b = None if z is None else _scalar_value(builder, beta)
    if dtype in _GEMM_DTYPES and a != 0 and _float32_exact(a) and (z is None or _float32_exact(b)):
        operands = [x, y] if z is None or b == 0 else [x, y, z]
        beta_attr = {} if len(operands) == 2 else {"beta": float(b)}
        return builder.add_node("Gemm", operands, alpha=float(a), **beta_attr)
    term = _scaled(builder, matmul(builder, x, y, dtype), alpha)
    if z is None:
        return term
    return _unless_zero(
        builder,
        beta,
        lambda: term,
        lambda: builder.add_node("Add", [_scaled(builder, z, beta), term]),
        dtype,
    )


@onnx_funcify.register(Dot)
@onnx_funcify.register(Dot22)
@onnx_funcify.register(BatchedDot)
def onnx_funcify_Dot(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    x, y = cast_operands(builder, node, inputs, dtype)
    return matmul(builder, x, y, dtype)


register_batch_broadcasting(Dot, Dot22, BatchedDot)


@onnx_funcify.register(Dot22Scalar)
def onnx_funcify_Dot22Scalar(op, node, builder, inputs, **kwargs):
    x, y, scalar = inputs
    return gemm(builder, x, y, scalar, None, None, node.outputs[0].dtype)


@onnx_funcify.register(Gemm)
def onnx_funcify_Gemm(op, node, builder, inputs, **kwargs):
    z, alpha, x, y, beta = inputs
    dtype = node.outputs[0].dtype
    z_var, x_var, y_var = node.inputs[0], node.inputs[2], node.inputs[3]
    # PyTensor broadcasts the product to a larger z (a 1-row x against an m-row z), which
    # ONNX Gemm's C cannot do: then add z outside.
    grows = (x_var.type.shape[0] == 1 and z_var.type.shape[0] != 1) or (
        y_var.type.shape[1] == 1 and z_var.type.shape[1] != 1
    )
    if not grows:
        return gemm(builder, x, y, alpha, z, beta, dtype)
    product = gemm(builder, x, y, alpha, None, None, dtype)
    return _unless_zero(
        builder,
        beta,
        lambda: builder.add_node("Expand", [product, builder.add_node("Shape", [z])]),
        lambda: builder.add_node("Add", [_scaled(builder, z, beta), product]),
        dtype,
    )


@onnx_funcify.register(Gemv)
def onnx_funcify_Gemv(op, node, builder, inputs, **kwargs):
    # beta * y + alpha * A @ x, with x as a column (see the module docstring).
    dtype = node.outputs[0].dtype
    # Gemv, unlike Gemm and Ger, accepts scalars of another dtype than the operands.
    y, alpha, a, x, beta = cast_operands(builder, node, inputs, dtype)
    column = gemm(
        builder, a, unsqueeze(builder, x, [1]), alpha, unsqueeze(builder, y, [1]), beta, dtype
    )
    return squeeze(builder, column, [1])


@onnx_funcify.register(Ger)
def onnx_funcify_Ger(op, node, builder, inputs, **kwargs):
    # a + alpha * outer(x, y); BLAS returns a unchanged for alpha == 0, NaN or inf in x, y
    # notwithstanding. alpha scales y first, as BLAS does (a rounding of its own).
    a, alpha, x, y = inputs
    dtype = node.outputs[0].dtype

    def updated():
        scaled_y = _scaled(builder, y, alpha)
        outer = builder.add_node(
            "Mul", [unsqueeze(builder, x, [1]), unsqueeze(builder, scaled_y, [0])]
        )
        return builder.add_node("Add", [a, outer])

    return _unless_zero(builder, alpha, lambda: a, updated, dtype)
