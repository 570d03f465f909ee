"""Scalar ops, as they appear inside ``Elemwise`` (ONNX ops broadcast like NumPy).

Simple ops are one line each in :data:`SCALAR_OP_TO_ONNX`; ops whose semantics ONNX does
not share get a small converter below.
"""

from __future__ import annotations

import numpy as np
import pytensor.scalar as ps

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dtypes import kernel_dtype

# ONNX ops that return bool whatever their operand dtype.
PREDICATE_OPS = frozenset(
    {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "IsNaN", "IsInf", "Not"}
)

SCALAR_OP_TO_ONNX: dict[type, str] = {
    ps.Add: "Add",
    ps.Sub: "Sub",
    ps.Mul: "Mul",
    ps.TrueDiv: "Div",
    ps.Neg: "Neg",
    ps.Abs: "Abs",
    ps.Maximum: "Max",
    ps.Minimum: "Min",
    ps.Exp: "Exp",
    ps.Log: "Log",
    ps.Sqrt: "Sqrt",
    ps.Pow: "Pow",
    ps.Floor: "Floor",
    ps.Ceil: "Ceil",
    ps.RoundHalfToEven: "Round",
    ps.Reciprocal: "Reciprocal",
    ps.Identity: "Identity",
    ps.LT: "Less",
    ps.GT: "Greater",
    ps.LE: "LessOrEqual",
    ps.GE: "GreaterOrEqual",
    ps.EQ: "Equal",
}

# ONNX's binary ops take exactly two operands; PyTensor's Add and Mul take any number.
_BINARY_ONLY = frozenset({"Add", "Mul"})


def operand_dtype(node) -> str:
    """The dtype a scalar op's operands are cast to before the ONNX op runs.

    That is the output dtype (so ``int8 * float64`` and ``int / int`` compute in the float
    PyTensor returns), except for ops returning bool, whose operands share their upcast.
    """
    out_dtype = node.outputs[0].dtype
    if out_dtype != "bool":
        return out_dtype
    return ps.upcast(*(inp.dtype for inp in node.inputs))


def cast_operands(builder, node, inputs, dtype: str) -> list[str]:
    return [builder.cast(name, inp.dtype, dtype) for name, inp in zip(inputs, node.inputs, strict=True)]


def emit_elementwise(builder, onnx_op: str, node, inputs, **attributes) -> str:
    """Emit ``onnx_op`` on ``inputs`` with PyTensor's dtype semantics.

    Operands are cast to a common dtype (see :func:`operand_dtype`), widened where
    onnxruntime has no kernel for that dtype, and the result is cast to the node's output
    dtype.
    """
    dtype = kernel_dtype(onnx_op, operand_dtype(node))
    operands = cast_operands(builder, node, inputs, dtype)
    if onnx_op in _BINARY_ONLY:
        result = operands[0]
        for operand in operands[1:]:
            result = builder.add_node(onnx_op, [result, operand], **attributes)
    else:
        result = builder.add_node(onnx_op, operands, **attributes)
    result_dtype = "bool" if onnx_op in PREDICATE_OPS else dtype
    return builder.cast(result, result_dtype, node.outputs[0].dtype)


def _register_table_op(scalar_op_class: type, onnx_op: str) -> None:
    def onnx_funcify_scalar(op, node, builder, inputs, **kwargs):
        return emit_elementwise(builder, onnx_op, node, inputs)

    onnx_funcify_scalar.__name__ = f"onnx_funcify_{scalar_op_class.__name__}"
    onnx_funcify.register(scalar_op_class)(onnx_funcify_scalar)


for _scalar_op_class, _onnx_op in SCALAR_OP_TO_ONNX.items():
    _register_table_op(_scalar_op_class, _onnx_op)


@onnx_funcify.register(ps.NEQ)
def onnx_funcify_NEQ(op, node, builder, inputs, **kwargs):
    return builder.add_node("Not", [emit_elementwise(builder, "Equal", node, inputs)])


@onnx_funcify.register(ps.Sqr)
def onnx_funcify_Sqr(op, node, builder, inputs, **kwargs):
    dtype = kernel_dtype("Mul", node.outputs[0].dtype)
    (x,) = cast_operands(builder, node, inputs, dtype)
    return builder.cast(builder.add_node("Mul", [x, x]), dtype, node.outputs[0].dtype)


@onnx_funcify.register(ps.Cast)
def onnx_funcify_Cast(op, node, builder, inputs, **kwargs):
    return builder.cast(inputs[0], node.inputs[0].dtype, node.outputs[0].dtype)


@onnx_funcify.register(ps.Switch)
def onnx_funcify_Switch(op, node, builder, inputs, **kwargs):
    condition, *branches = inputs
    out_dtype = node.outputs[0].dtype
    condition = builder.cast(condition, node.inputs[0].dtype, "bool")
    branches = [
        builder.cast(name, inp.dtype, out_dtype) for name, inp in zip(branches, node.inputs[1:])
    ]
    return builder.add_node("Where", [condition, *branches])


@onnx_funcify.register(ps.Second)
def onnx_funcify_Second(op, node, builder, inputs, **kwargs):
    # second(x, y): y's values broadcast to the shape of x and y together.
    shape_source, value = inputs
    value = builder.cast(value, node.inputs[1].dtype, node.outputs[0].dtype)
    return builder.add_node("Expand", [value, builder.add_node("Shape", [shape_source])])


@onnx_funcify.register(ps.RoundHalfAwayFromZero)
def onnx_funcify_RoundHalfAwayFromZero(op, node, builder, inputs, **kwargs):
    # PyTensor computes `floor(x + 0.5) if x > 0 else ceil(x - 0.5)`; mirror it exactly
    # (including its result for 0.49999999999999994) rather than using another formula.
    dtype = node.outputs[0].dtype
    compute = kernel_dtype("Add", dtype)
    (x,) = cast_operands(builder, node, inputs, compute)
    half = builder.constant(np.asarray(0.5, dtype=compute))
    zero = builder.constant(np.asarray(0, dtype=compute))
    up = builder.add_node("Floor", [builder.add_node("Add", [x, half])])
    down = builder.add_node("Ceil", [builder.add_node("Sub", [x, half])])
    result = builder.add_node("Where", [builder.add_node("Greater", [x, zero]), up, down])
    return builder.cast(result, compute, dtype)


@onnx_funcify.register(ps.IntDiv)
def onnx_funcify_IntDiv(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    if dtype.startswith("float"):
        return _float_floor_divide(builder, node, inputs, dtype)
    return _int_floor_divide(builder, node, inputs, dtype)


def _int_floor_divide(builder, node, inputs, dtype):
    # ONNX's integer Div truncates toward zero, and its kernels trap (SIGFPE, killing the
    # process) on a zero divisor and on INT_MIN / -1. NumPy floors, returns 0 for a zero
    # divisor and wraps INT_MIN // -1 to INT_MIN. So divide by a safe divisor, where floor
    # division is exact as (a - a mod b) / b with Python's mod, and patch 0 and -1 after.
    compute = kernel_dtype("Div", dtype)
    a, b = cast_operands(builder, node, inputs, compute)
    zero = builder.constant(np.asarray(0, dtype=compute))
    one = builder.constant(np.asarray(1, dtype=compute))
    b_is_zero = builder.add_node("Equal", [b, zero])
    trapping = b_is_zero
    if np.issubdtype(np.dtype(compute), np.signedinteger):
        minus_one = builder.constant(np.asarray(-1, dtype=compute))
        b_is_minus_one = builder.add_node("Equal", [b, minus_one])
        trapping = builder.add_node("Or", [b_is_zero, b_is_minus_one])
    safe_b = builder.add_node("Where", [trapping, one, b])
    remainder = builder.add_node("Mod", [a, safe_b], fmod=0)
    result = builder.add_node("Div", [builder.add_node("Sub", [a, remainder]), safe_b])
    if trapping is not b_is_zero:
        negated = builder.add_node("Sub", [zero, a])
        result = builder.add_node("Where", [b_is_minus_one, negated, result])
    result = builder.add_node("Where", [b_is_zero, zero, result])
    return builder.cast(result, compute, dtype)


def _float_floor_divide(builder, node, inputs, dtype):
    # NumPy's npy_divmod, step by step, so that results agree to the last bit:
    #   mod = fmod(a, b); div = (a - mod) / b
    #   if mod != 0 and (b < 0) != (mod < 0): div -= 1
    #   floordiv = floor(div) (+1 if div - floor(div) > 0.5), or copysign(0, a / b) if div == 0
    #   and a / b when b == 0.
    compute = kernel_dtype("Mod", "float32" if dtype == "float16" else dtype)
    a, b = cast_operands(builder, node, inputs, compute)

    def const(value):
        return builder.constant(np.asarray(value, dtype=compute))

    def node_(op_type, *args, **attributes):
        return builder.add_node(op_type, list(args), **attributes)

    zero = const(0)
    mod = node_("Mod", a, b, fmod=1)
    div = node_("Div", node_("Sub", a, mod), b)
    signs_differ = node_("Xor", node_("Less", b, zero), node_("Less", mod, zero))
    adjust = node_("And", node_("Not", node_("Equal", mod, zero)), signs_differ)
    div = node_("Sub", div, builder.cast(adjust, "bool", compute))
    floordiv = node_("Floor", div)
    round_up = node_("Greater", node_("Sub", div, floordiv), const(0.5))
    floordiv = node_("Add", floordiv, builder.cast(round_up, "bool", compute))
    true_div = node_("Div", a, b)
    signed_zero = node_("Mul", true_div, zero)
    result = node_("Where", node_("Equal", div, zero), signed_zero, floordiv)
    result = node_("Where", node_("Equal", b, zero), true_div, result)
    return builder.cast(result, compute, dtype)


@onnx_funcify.register(ps.Composite)
def onnx_funcify_Composite(op, node, builder, inputs, **kwargs):
    # A fused scalar loop (what PyTensor's fusion rewrite builds in compiled functions):
    # inline its inner scalar graph. Its values are local, since one Composite op may be
    # shared by several nodes.
    values = dict(zip(op.fgraph.inputs, inputs))

    def value(var):
        name = values.get(var)
        if name is None:  # an inner constant
            name = builder.constant(np.asarray(var.data, dtype=var.type.dtype))
        return name

    for inner in op.fgraph.toposort():
        results = onnx_funcify(
            inner.op, node=inner, builder=builder, inputs=[value(v) for v in inner.inputs]
        )
        if isinstance(results, str):
            results = [results]
        values.update(zip(inner.outputs, results))
    return [value(out) for out in op.fgraph.outputs]
