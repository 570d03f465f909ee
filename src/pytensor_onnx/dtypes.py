"""Dtype maps between PyTensor, NumPy and ONNX, and where onnxruntime lacks kernels.

This is the one place that knows about dtypes: converters ask it which ONNX element
type a PyTensor dtype is, and in which dtype an ONNX op can actually run.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

PYTENSOR_TO_ONNX: dict[str, int] = {
    "bool": TensorProto.BOOL,
    "int8": TensorProto.INT8,
    "int16": TensorProto.INT16,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "uint8": TensorProto.UINT8,
    "uint16": TensorProto.UINT16,
    "uint32": TensorProto.UINT32,
    "uint64": TensorProto.UINT64,
    "float16": TensorProto.FLOAT16,
    "float32": TensorProto.FLOAT,
    "float64": TensorProto.DOUBLE,
}

ONNX_TO_PYTENSOR: dict[int, str] = {v: k for k, v in PYTENSOR_TO_ONNX.items()}


def onnx_dtype(dtype, what: str = "value") -> int:
    """Return the ONNX element type (a ``TensorProto`` enum) for a PyTensor/NumPy dtype.

    Parameters
    ----------
    dtype : str or numpy.dtype
        A PyTensor dtype string such as ``"float64"``.
    what : str
        Names the variable in the error message.

    Raises
    ------
    TypeError
        For dtypes ONNX export does not support (complex numbers, strings, objects).

    Examples
    --------
    >>> from onnx import TensorProto
    >>> onnx_dtype("float32") == TensorProto.FLOAT
    True
    """
    name = str(np.dtype(dtype)) if not isinstance(dtype, str) else dtype
    try:
        return PYTENSOR_TO_ONNX[name]
    except KeyError:
        reason = (
            "complex numbers are not supported by ONNX export"
            if name.startswith("complex")
            else "it has no ONNX equivalent"
        )
        raise TypeError(
            f"Cannot export {what} with dtype {name!r}: {reason}. "
            f"Supported dtypes: {', '.join(PYTENSOR_TO_ONNX)}."
        ) from None


# onnxruntime's CPU provider has no kernel for these (op, dtype) pairs although the ONNX
# spec allows them. Measured with onnxruntime 1.32 by `scripts/probe_ort_kernels.py`.
ORT_MISSING_KERNELS: dict[str, frozenset[str]] = {
    op: frozenset(dtypes.split())
    for op, dtypes in {
        "Add": "bool",
        "Sub": "bool",
        "Mul": "bool",
        "Div": "bool",
        "Mod": "bool",
        "Neg": "bool uint8 uint16 uint32 uint64",
        "Abs": "bool",
        "Sign": "bool",
        "Max": "bool int16 uint16",
        "Min": "bool int16 uint16",
        "Pow": "bool int8 int16 uint8 uint16 uint32 uint64",
        "Less": "bool",
        "Greater": "bool",
        "LessOrEqual": "bool",
        "GreaterOrEqual": "bool",
        "IsInf": "float16",
        "Where": "bool int16 uint16 uint64",
        "ReduceMax": "bool int16 uint16 uint32 uint64",
        "ReduceMin": "bool int16 uint16 uint32 uint64",
        "ArgMax": "bool int16 uint16 uint32 uint64",
        "ReduceSum": "bool int8 int16 uint8 uint16 uint32 uint64",
        "ReduceProd": "bool int8 int16 uint8 uint16 uint32 uint64",
        "CumSum": "bool int8 int16 uint8 uint16 uint32 uint64",
        "TopK": "bool uint16 uint32 uint64",
        "Unique": "bool int16 int32 uint8 uint16 uint32 uint64 float16",
        "Pad": "int16 uint16",
        "MatMul": "bool int8 int16 uint8 uint16 float16",
        "Einsum": "bool int8 int16 uint8 uint16 uint32 uint64 float16",
    }.items()
}

# The dtype an op is computed in when onnxruntime has no kernel for the operand dtype.
# Each wider dtype represents every value of the narrower one, and casting the result
# back wraps integers exactly as NumPy's fixed-width arithmetic does.
_WIDER_DTYPE = {
    "bool": "int32",
    "int8": "int32",
    "int16": "int32",
    "uint8": "int32",
    "uint16": "int32",
    "uint32": "int64",
    "int32": "int64",
    "float16": "float32",
}

# Ops that only pick values (Where) or add and multiply modulo 2**64 (CumSum, Einsum): for
# these a dtype of the same width does as well as a wider one, since Cast converts between
# them both ways without loss and two's-complement sums and products have the same bits.
_SAME_WIDTH_OPS = frozenset({"Where", "CumSum", "Einsum"})
_SAME_WIDTH_DTYPE = {"uint64": "int64"}


def kernel_dtype(onnx_op: str, dtype: str) -> str:
    """Return the dtype in which to run ``onnx_op`` on operands of ``dtype``.

    That is ``dtype`` itself when onnxruntime implements the op for it, else a wider dtype
    that it implements (or, for an op that only selects values, one of the same width).

    Examples
    --------
    >>> kernel_dtype("Add", "float64")
    'float64'
    >>> kernel_dtype("Max", "int16")
    'int32'
    >>> kernel_dtype("Where", "uint64")
    'int64'
    >>> kernel_dtype("Unique", "int16")
    'int64'
    """
    missing = ORT_MISSING_KERNELS.get(onnx_op)
    if missing is None or dtype not in missing:
        return dtype
    wider = _WIDER_DTYPE.get(dtype)
    if wider is None and onnx_op in _SAME_WIDTH_OPS:
        wider = _SAME_WIDTH_DTYPE.get(dtype)
    while wider in missing:  # e.g. int16 -> int32 -> int64 for Unique
        wider = _WIDER_DTYPE.get(wider)
    if wider is None:
        raise NotImplementedError(
            f"onnxruntime has no {onnx_op} kernel for {dtype} and no wider dtype holds "
            f"every {dtype} value"
        )
    return wider
