"""Tensor construction and runtime checks.

Alloc, AllocEmpty, ARange, Eye, Join, Split, MakeVector, ScalarFromTensor,
TensorFromScalar, and the checks ``Assert`` / PyMC's ``CheckParameterValue`` (any
``CheckAndRaise``).

Diagonals and index ops: ExtractDiag (``pt.diagonal``), AllocDiag (``pt.diag`` of a
vector; an OpFromGraph, converted directly rather than inlined), Nonzero (``pt.nonzero``,
``pt.flatnonzero``, one-argument ``pt.where``), PermuteRowElements and Choose.

``pt.stack`` is Join of DimShuffles, ``pt.tri``/``tril``/``triu`` are ARange and Elemwise
graphs (PyTensor has no Tri op), ``pt.zeros_like``/``ones_like`` are ``second`` (Elemwise) before rewriting and
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
    AllocDiag,
    AllocEmpty,
    ARange,
    Choose,
    ExtractDiag,
    Eye,
    Join,
    MakeVector,
    Nonzero,
    PermuteRowElements,
    ScalarFromTensor,
    Split,
    TensorFromScalar,
)
from pytensor.tensor.type import TensorType

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.extra_ops import dim, slice_axis, to_int64
from pytensor_onnx.dispatch.scalar import where
from pytensor_onnx.dispatch.shape import reshape, squeeze, unsqueeze
from pytensor_onnx.dispatch.sort import constant_axis
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
        parts.append(builder.add_node("Unsqueeze", [value, builder.int64([0])]))
    if constants or not parts:
        parts.append(builder.constant(np.array(constants, dtype=dtype)))
    return parts[0] if len(parts) == 1 else builder.add_node("Concat", parts, axis=0)


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
    head = [builder.add_node("Unsqueeze", [v, builder.int64([0])]) for v in (first, second)]
    values = builder.add_node("Concat", [*head, rest], axis=0)
    end = builder.add_node("Unsqueeze", [length, builder.int64([0])])
    values = builder.add_node("Slice", [values, builder.int64([0]), end])
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
        "Unsqueeze", [builder.add_node("Range", [zero, n, one]), builder.int64([1])]
    )
    cols = builder.add_node(
        "Unsqueeze", [builder.add_node("Range", [zero, m, one]), builder.int64([0])]
    )
    on_diagonal = builder.add_node("Equal", [builder.add_node("Add", [rows, k]), cols])
    return builder.cast(on_diagonal, "bool", op.dtype)


# -- joining and splitting ---------------------------------------------------------------
@onnx_funcify.register(Join)
def onnx_funcify_Join(op, node, builder, inputs, **kwargs):
    axis_var, *tensors = node.inputs
    out_dtype = node.outputs[0].type.dtype
    axis = constant_axis(op, axis_var, node.outputs[0].type.ndim)
    parts = [
        builder.cast(name, var.type.dtype, out_dtype) for name, var in zip(inputs[1:], tensors)
    ]
    if len(parts) == 1:
        return parts[0]
    return builder.add_node("Concat", parts, axis=axis)


@onnx_funcify.register(Split)
def onnx_funcify_Split(op, node, builder, inputs, **kwargs):
    x, _, splits = inputs
    axis = constant_axis(op, node.inputs[1], node.inputs[0].type.ndim)
    splits = builder.cast(splits, node.inputs[2].type.dtype, "int64")
    outputs = builder.add_node("Split", [x, splits], n_outputs=op.len_splits, axis=axis)
    return [outputs] if op.len_splits == 1 else list(outputs)


# -- diagonals -----------------------------------------------------------------------------
@onnx_funcify.register(ExtractDiag)
def onnx_funcify_ExtractDiag(op, node, builder, inputs, **kwargs):
    # With axis1, axis2 moved last and flattened together, the diagonal is every
    # (columns + 1)-th element from its first one.
    x_var = node.inputs[0]
    ndim = x_var.type.ndim
    axis1, axis2, offset = op.axis1, op.axis2, op.offset
    batch = [d for d in range(ndim) if d not in (axis1, axis2)]
    perm = [*batch, axis1, axis2]
    x = inputs[0]
    moved = builder.add_node("Transpose", [x], perm=perm) if perm != list(range(ndim)) else x
    rows, columns = dim(builder, x, x_var, axis1), dim(builder, x, x_var, axis2)
    flat = reshape(
        builder, moved, [_batch_shape(builder, x, x_var, batch), _mul(builder, rows, columns)]
    )
    zero = builder.int64([0])
    if offset >= 0:
        first = builder.int64([offset])
        length = builder.add_node("Min", [builder.add_node("Sub", [columns, first]), rows])
    else:
        first = _mul(builder, builder.int64([-offset]), columns)
        length = builder.add_node(
            "Min", [builder.add_node("Add", [rows, builder.int64([offset])]), columns]
        )
    length = builder.add_node("Max", [length, zero])
    step = builder.add_node("Add", [columns, builder.int64([1])])
    last = builder.add_node("Add", [first, _mul(builder, length, step)])
    positions = builder.add_node("Range", [squeeze(builder, v, [0]) for v in (first, last, step)])
    return builder.add_node("Gather", [flat, positions], axis=len(batch))


def _mul(builder, a: str, b: str) -> str:
    """The product of two 1-D int64 values, folded when both are constants."""
    known = [builder.constant_value(v) for v in (a, b)]
    if known[0] is not None and known[1] is not None:
        return builder.constant(known[0] * known[1])
    return builder.add_node("Mul", [a, b])


def _batch_shape(builder, x: str, x_var, axes) -> str:
    """The lengths of ``axes`` of ``x``, as a 1-D int64 (empty for no axes)."""
    if not axes:
        return builder.constant(np.zeros(0, "int64"))
    parts = [dim(builder, x, x_var, axis) for axis in axes]
    return parts[0] if len(parts) == 1 else builder.add_node("Concat", parts, axis=0)


@onnx_funcify.register(AllocDiag)
def onnx_funcify_AllocDiag(op, node, builder, inputs, **kwargs):
    # Row i of [diag, zeros(n, n)] (n + 1 wide), flattened and cut to n * n, puts diag[i]
    # at (i, i) of an n x n matrix: values are copied exactly (a Where would turn -0.0 into
    # 0.0). Padding by |offset| moves them to the offset diagonal.
    diag_var = node.inputs[0]
    ndim = diag_var.type.ndim
    dtype = diag_var.type.dtype
    diag = inputs[0]
    n = dim(builder, diag, diag_var, ndim - 1)
    batch = _batch_shape(builder, diag, diag_var, range(ndim - 1))
    square = builder.add_node("Concat", [batch, n, n], axis=0)
    zeros = builder.add_node("Expand", [builder.constant(np.zeros((), dtype)), square])
    rows = builder.add_node("Concat", [unsqueeze(builder, diag, [ndim]), zeros], axis=ndim)
    size = _mul(builder, n, n)
    flat = reshape(
        builder,
        rows,
        [batch, _mul(builder, n, builder.add_node("Add", [n, builder.int64([1])]))],
    )
    flat = slice_axis(builder, flat, builder.int64([0]), size, ndim - 1)
    matrix = reshape(builder, flat, [batch, n, n])
    k = abs(op.offset)
    if k:
        pads = [0, k, k, 0] if op.offset > 0 else [k, 0, 0, k]
        compute = kernel_dtype("Pad", dtype)
        padded = builder.add_node(
            "Pad",
            [
                builder.cast(matrix, dtype, compute),
                builder.int64(pads),
                "",
                builder.int64([-2, -1]),
            ],
        )
        matrix = builder.cast(padded, compute, dtype)
    if ndim == 1:
        return matrix
    # Where PyTensor's graph puts the two new axes.
    axes = list(range(ndim - 1))
    last = axes[-1]
    axes = [*axes[: op.axis1], last + 1, *axes[op.axis1 :]]
    axes = [*axes[: op.axis2], last + 2, *axes[op.axis2 :]]
    return builder.add_node("Transpose", [matrix], perm=axes) if axes != sorted(axes) else matrix


# -- index ops --------------------------------------------------------------------------------
@onnx_funcify.register(Nonzero)
def onnx_funcify_Nonzero(op, node, builder, inputs, **kwargs):
    # onnxruntime's NonZero has no float64 (nor int8, int16 or unsigned) kernel: compare
    # with zero first, which also makes NaN nonzero as in NumPy.
    x_var = node.inputs[0]
    x = inputs[0]
    if x_var.type.dtype != "bool":
        zero = builder.constant(np.zeros((), x_var.type.dtype))
        x = builder.add_node("Not", [builder.add_node("Equal", [x, zero])])
    indices = builder.add_node("NonZero", [x])
    return [
        builder.add_node("Gather", [indices, builder.constant(np.int64(i))], axis=0)
        for i in range(x_var.type.ndim)
    ]


@onnx_funcify.register(PermuteRowElements)
def onnx_funcify_PermuteRowElements(op, node, builder, inputs, **kwargs):
    x, y = inputs
    x_var, y_var = node.inputs
    # make_node gave both the same rank; their length-1 axes broadcast.
    x = builder.add_node("Expand", [x, builder.add_node("Shape", [y])])
    y = builder.add_node("Expand", [to_int64(builder, y, y_var), builder.add_node("Shape", [x])])
    if op.inverse:  # out[..., y[..., i]] = x[..., i]
        return builder.add_node("ScatterElements", [x, y, x], axis=-1)
    return builder.add_node("GatherElements", [x, y], axis=-1)


@onnx_funcify.register(Choose)
def onnx_funcify_Choose(op, node, builder, inputs, **kwargs):
    a_var, choices_var = node.inputs
    if not isinstance(choices_var.type, TensorType):
        raise NotImplementedError(
            "Choose with a list of choices of different shapes (a TypedList) cannot be "
            "converted to ONNX; pass the choices as one tensor"
        )
    a, choices = inputs
    # Broadcast a against one choice, then every choice against that shape; pick along the
    # leading axis.
    a = builder.add_node(
        "Expand",
        [
            to_int64(builder, a, a_var),
            builder.add_node("Shape", [choices], start=1),
        ],
    )
    out_ndim = node.outputs[0].type.ndim
    choices = unsqueeze(
        builder, choices, list(range(1, 1 + out_ndim - (choices_var.type.ndim - 1)))
    )
    target = builder.add_node(
        "Concat",
        [builder.add_node("Shape", [choices], start=0, end=1), builder.add_node("Shape", [a])],
        axis=0,
    )
    choices = builder.add_node("Expand", [choices, target])
    count = builder.add_node("Shape", [choices], start=0, end=1)
    if op.mode == "wrap":
        a = builder.add_node("Mod", [a, count])
    elif op.mode == "clip":
        a = builder.add_node(
            "Min",
            [
                builder.add_node("Max", [a, builder.int64([0])]),
                builder.add_node("Sub", [count, builder.int64([1])]),
            ],
        )
    picked = builder.add_node("GatherElements", [choices, unsqueeze(builder, a, [0])], axis=0)
    return squeeze(builder, picked, [0])


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
