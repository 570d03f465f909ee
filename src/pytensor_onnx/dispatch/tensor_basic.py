"""Tensor construction and runtime checks.

Alloc, AllocEmpty, ARange, Eye, Join, Split, MakeVector, ScalarFromTensor,
TensorFromScalar, and the checks ``Assert`` / PyMC's ``CheckParameterValue`` (any
``CheckAndRaise``).

``pt.stack`` is Join of DimShuffles, ``pt.tri``/``tril``/``triu`` are ARange and Elemwise
graphs, ``pt.zeros_like``/``ones_like`` are ``second`` (Elemwise) before rewriting and
Alloc after: none of them needs a converter of its own.

Runtime checks
--------------
ONNX has no way to raise an error, so a converted model cannot do what a failing check
does in PyTensor. :func:`set_assert_behavior` chooses what it does instead, separately
for ``Assert`` (and other ``CheckAndRaise`` ops) and for PyMC's ``CheckParameterValue``:

``"warn"`` (default for ``Assert``)
    Drop the check; log a warning (logger ``"pytensor_onnx"``) once per conversion.
``"ignore"``
    Drop the check silently.
``"nan"`` (default for ``CheckParameterValue``)
    The output becomes NaN when any condition is false (the whole output, as the whole
    computation fails in PyTensor). A ``CheckParameterValue`` with
    ``can_be_replaced_by_ninf`` (PyMC's logp checks) becomes -inf instead, which is what
    PyMC's own ``local_check_parameter_to_ninf_switch`` rewrite makes of it: invalid
    parameters give a logp of -inf. Only float outputs can hold NaN; a check on an
    integer or bool value raises ``NotImplementedError`` at conversion.
``"error"``
    Refuse to convert: ``NotImplementedError`` at conversion.

The setting is read when a graph is converted (when a function is compiled), not when
the model runs.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator, Sequence

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.basic import (
    Alloc,
    AllocEmpty,
    ARange,
    Eye,
    Join,
    MakeVector,
    ScalarFromTensor,
    Split,
    TensorFromScalar,
)

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.scalar import where
from pytensor_onnx.dtypes import kernel_dtype

__all__ = ["ASSERT_BEHAVIORS", "assert_behavior", "get_assert_behavior", "set_assert_behavior"]

_log = logging.getLogger("pytensor_onnx")


# -- shared helpers ----------------------------------------------------------------------
def stack_scalars(builder, variables: Sequence, names: Sequence[str], dtype: str) -> str:
    """A 1-D ONNX value of ``dtype`` holding the 0-d values ``names`` (of ``variables``).

    Runs of constants become one initializer, so an all-constant shape costs no node.
    """
    parts: list[str] = []
    constants: list = []
    for var, name in zip(variables, names, strict=True):
        if isinstance(var, Constant):
            constants.append(np.asarray(var.data).item())
            continue
        if constants:
            parts.append(builder.constant(np.array(constants, dtype=dtype)))
            constants = []
        value = builder.cast(name, var.type.dtype, dtype)
        parts.append(builder.add_node("Unsqueeze", [value, _axes(builder, 0)]))
    if constants or not parts:
        parts.append(builder.constant(np.array(constants, dtype=dtype)))
    return parts[0] if len(parts) == 1 else builder.add_node("Concat", parts, axis=0)


def _axes(builder, *axes: int) -> str:
    return builder.constant(np.array(axes, dtype="int64"))


def _constant_axis(op, var, ndim: int) -> int:
    """The value of a constant axis input, made non-negative."""
    if not isinstance(var, Constant):
        raise NotImplementedError(
            f"{type(op).__name__} with a symbolic axis ({var}) cannot be converted to ONNX, "
            "whose Concat and Split take the axis as a constant attribute; use a constant axis"
        )
    axis = int(np.asarray(var.data).item())
    return axis + ndim if axis < 0 else axis


# -- construction ------------------------------------------------------------------------
@onnx_funcify.register(Alloc)
def onnx_funcify_Alloc(op, node, builder, inputs, **kwargs):
    value, *dims = inputs
    shape = stack_scalars(builder, node.inputs[1:], dims, "int64")
    static_shape = builder.constant_value(shape)
    if static_shape is not None and 0 in static_shape:
        # onnxruntime's ExpandElimination drops an Expand of a length-1 value to a constant
        # shape holding 0, leaving length 1; the result is known to be empty anyway.
        return builder.constant(np.zeros(static_shape, dtype=node.outputs[0].dtype))
    return builder.add_node("Expand", [value, shape])


@onnx_funcify.register(AllocEmpty)
def onnx_funcify_AllocEmpty(op, node, builder, inputs, **kwargs):
    # ONNX has no uninitialised memory: zeros, as NumPy's empty may well give.
    shape = stack_scalars(builder, node.inputs, inputs, "int64")
    return builder.add_node("Expand", [builder.constant(np.zeros((), op.dtype)), shape])


@onnx_funcify.register(MakeVector)
def onnx_funcify_MakeVector(op, node, builder, inputs, **kwargs):
    return stack_scalars(builder, node.inputs, inputs, node.outputs[0].dtype)


@onnx_funcify.register(ScalarFromTensor)
@onnx_funcify.register(TensorFromScalar)
def onnx_funcify_scalar_tensor_passthrough(op, node, builder, inputs, **kwargs):
    # PyTensor scalars and 0-d tensors are both 0-d tensors in ONNX.
    return inputs


@onnx_funcify.register(ARange)
def onnx_funcify_ARange(op, node, builder, inputs, **kwargs):
    dtype = op.dtype
    in_dtypes = [var.type.dtype for var in node.inputs]
    if np.dtype(dtype).kind in "iu" and all(np.dtype(d).kind in "iub" for d in in_dtypes):
        # Integer values: onnxruntime's Range counts ceil((stop - start) / step) in double
        # and steps in int64, as NumPy does; the cast wraps as NumPy's dtype arithmetic.
        bounds = [builder.cast(n, d, "int64") for n, d in zip(inputs, in_dtypes, strict=True)]
        return builder.cast(builder.add_node("Range", bounds), "int64", dtype)
    return _arange_like_numpy(builder, inputs, in_dtypes, dtype)


def _arange_like_numpy(builder, inputs, in_dtypes, dtype) -> str:
    # NumPy's arange, step by step (onnxruntime's Range accumulates `value += step`, which
    # drifts from NumPy in floats): its length is ceil((stop - start) / step) in double;
    # out[0] = start and out[1] = start + step (in double), both cast to dtype; then
    # out[i] = out[0] + i * (out[1] - out[0]) in dtype.
    start, stop, step = (builder.cast(n, d, "float64") for n, d in zip(inputs, in_dtypes))
    ratio = builder.add_node("Div", [builder.add_node("Sub", [stop, start]), step])
    length = builder.add_node(
        "Max", [builder.add_node("Ceil", [ratio]), builder.constant(np.float64(0))]
    )
    length = builder.cast(length, "float64", "int64")

    compute = kernel_dtype("Mul", dtype)
    first = builder.cast(inputs[0], in_dtypes[0], compute)
    second = builder.cast(builder.add_node("Add", [start, step]), "float64", compute)
    delta = builder.add_node("Sub", [second, first])
    two = builder.constant(np.int64(2))
    index = builder.add_node(
        "Range", [two, builder.add_node("Max", [length, two]), builder.constant(np.int64(1))]
    )
    rest = builder.add_node(
        "Add", [first, builder.add_node("Mul", [builder.cast(index, "int64", compute), delta])]
    )
    head = [builder.add_node("Unsqueeze", [v, _axes(builder, 0)]) for v in (first, second)]
    values = builder.add_node("Concat", [*head, rest], axis=0)
    end = builder.add_node("Unsqueeze", [length, _axes(builder, 0)])
    values = builder.add_node("Slice", [values, _axes(builder, 0), end])
    return builder.cast(values, compute, dtype)


@onnx_funcify.register(Eye)
def onnx_funcify_Eye(op, node, builder, inputs, **kwargs):
    # Ones where column == row + k: works for symbolic n, m and k (EyeLike takes k as an
    # attribute).
    n, m, k = (
        builder.cast(name, var.type.dtype, "int64") for name, var in zip(inputs, node.inputs)
    )
    zero, one = builder.constant(np.int64(0)), builder.constant(np.int64(1))
    rows = builder.add_node(
        "Unsqueeze", [builder.add_node("Range", [zero, n, one]), _axes(builder, 1)]
    )
    cols = builder.add_node(
        "Unsqueeze", [builder.add_node("Range", [zero, m, one]), _axes(builder, 0)]
    )
    on_diagonal = builder.add_node("Equal", [builder.add_node("Add", [rows, k]), cols])
    return builder.cast(on_diagonal, "bool", op.dtype)


# -- joining and splitting ---------------------------------------------------------------
@onnx_funcify.register(Join)
def onnx_funcify_Join(op, node, builder, inputs, **kwargs):
    axis_var, *tensors = node.inputs
    out_dtype = node.outputs[0].type.dtype
    axis = _constant_axis(op, axis_var, node.outputs[0].type.ndim)
    parts = [
        builder.cast(name, var.type.dtype, out_dtype) for name, var in zip(inputs[1:], tensors)
    ]
    if len(parts) == 1:
        return parts[0]
    return builder.add_node("Concat", parts, axis=axis)


@onnx_funcify.register(Split)
def onnx_funcify_Split(op, node, builder, inputs, **kwargs):
    x, _, splits = inputs
    axis = _constant_axis(op, node.inputs[1], node.inputs[0].type.ndim)
    splits = builder.cast(splits, node.inputs[2].type.dtype, "int64")
    outputs = builder.add_node("Split", [x, splits], n_outputs=op.len_splits, axis=axis)
    return [outputs] if op.len_splits == 1 else list(outputs)


# -- runtime checks ----------------------------------------------------------------------
ASSERT_BEHAVIORS = ("warn", "ignore", "nan", "error")
_CHECK_KINDS = ("assert", "parameter")
_behavior = {"assert": "warn", "parameter": "nan"}
# The conversions (builders) that already warned, per kind of check.
_warned: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _check_kind(kind: str) -> str:
    if kind not in _CHECK_KINDS:
        raise ValueError(f"kind must be one of {_CHECK_KINDS}, got {kind!r}")
    return kind


def get_assert_behavior(kind: str = "assert") -> str:
    """What converted models do with runtime checks of ``kind`` (see :func:`set_assert_behavior`).

    Examples
    --------
    >>> get_assert_behavior("parameter")
    'nan'
    """
    return _behavior[_check_kind(kind)]


def set_assert_behavior(behavior: str, kind: str = "assert") -> str:
    """Choose what converted models do with PyTensor's runtime checks; return the old choice.

    ONNX models cannot raise errors, so a check that would raise in PyTensor must become
    something else (see this module's documentation for each behavior).

    Parameters
    ----------
    behavior : {"warn", "ignore", "nan", "error"}
        ``"warn"``: drop the check and log a warning once per conversion; ``"ignore"``:
        drop it silently; ``"nan"``: make the output NaN (-inf for PyMC's logp checks)
        when a condition is false; ``"error"``: refuse to convert graphs with such checks.
    kind : {"assert", "parameter"}
        ``"assert"``: ``Assert`` and every other ``CheckAndRaise`` except
        ``"parameter"``: PyMC's ``CheckParameterValue``.

    Returns
    -------
    str
        The behavior that was set before.

    Examples
    --------
    >>> previous = set_assert_behavior("nan")
    >>> get_assert_behavior()
    'nan'
    >>> set_assert_behavior(previous)
    'nan'
    """
    kind = _check_kind(kind)
    if behavior not in ASSERT_BEHAVIORS:
        raise ValueError(f"behavior must be one of {ASSERT_BEHAVIORS}, got {behavior!r}")
    previous, _behavior[kind] = _behavior[kind], behavior
    return previous


@contextlib.contextmanager
def assert_behavior(behavior: str, kind: str = "assert") -> Iterator[None]:
    """:func:`set_assert_behavior` for the duration of a ``with`` block.

    Examples
    --------
    >>> with assert_behavior("error"):
    ...     get_assert_behavior()
    'error'
    """
    previous = set_assert_behavior(behavior, kind)
    try:
        yield
    finally:
        set_assert_behavior(previous, kind)


def _is_parameter_check(op) -> bool:
    # By name: PyMC is not a dependency, and its class is a plain CheckAndRaise subclass.
    return any(cls.__name__ == "CheckParameterValue" for cls in type(op).__mro__)


@onnx_funcify.register(CheckAndRaise)
def onnx_funcify_CheckAndRaise(op, node, builder, inputs, **kwargs):
    value, *conditions = inputs
    kind = "parameter" if _is_parameter_check(op) else "assert"
    behavior = _behavior[kind]
    name = type(op).__name__
    if behavior == "error":
        raise NotImplementedError(
            f"{name} (message {op.msg!r}) cannot be converted: ONNX models cannot raise "
            f"errors, and set_assert_behavior(..., kind={kind!r}) is 'error'"
        )
    if behavior == "warn":
        warned = _warned.setdefault(builder, set())
        if kind not in warned:
            warned.add(kind)
            _log.warning(
                "ONNX models cannot raise errors: the %s checks of this graph (first: %r) "
                "are dropped, so inputs they would reject give unchecked results. Choose "
                "another behavior with pytensor_onnx."
                "set_assert_behavior(..., kind=%r).",
                name,
                op.msg,
                kind,
            )
    if behavior in ("warn", "ignore") or not conditions:
        return value

    dtype = node.outputs[0].type.dtype
    if np.dtype(dtype).kind != "f":
        raise NotImplementedError(
            f"{name} on a {dtype} value cannot mark failure with NaN "
            f"(set_assert_behavior('nan', kind={kind!r})): choose 'warn', 'ignore' or 'error'"
        )
    ok = builder.cast(conditions[0], node.inputs[1].type.dtype, "bool")
    for name_, var in zip(conditions[1:], node.inputs[2:]):
        ok = builder.add_node("And", [ok, builder.cast(name_, var.type.dtype, "bool")])
    if getattr(op, "can_be_replaced_by_ninf", False):
        # As for Switch, a 0-d -0.0 value may come out as +0.0 (see `where`).
        return where(builder, ok, value, builder.constant(np.array(-np.inf, dtype)), dtype)
    # value * (1 or NaN): keeps every value exactly (signs of zeros too) where ok.
    factor = builder.add_node(
        "Where",
        [ok, builder.constant(np.array(1, dtype)), builder.constant(np.array(np.nan, dtype))],
    )
    return builder.add_node("Mul", [value, factor])
