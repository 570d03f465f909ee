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
    ps.Abs: "Abs",
    ps.Maximum: "Max",
    ps.Minimum: "Min",
    ps.Exp: "Exp",
    ps.Log: "Log",
    ps.Sqrt: "Sqrt",
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
    ps.Sign: "Sign",  # NumPy's: sign(nan) is nan, sign(-0.0) is 0.0
    ps.Tanh: "Tanh",
    # On real numbers (ONNX export has no complex dtypes): the value itself.
    ps.Real: "Identity",
    ps.Conj: "Identity",
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
    return [
        builder.cast(name, inp.dtype, dtype) for name, inp in zip(inputs, node.inputs, strict=True)
    ]


def emit_elementwise(builder, onnx_op: str, node, inputs, **attributes) -> str:
    """Emit ``onnx_op`` on ``inputs`` with PyTensor's dtype semantics.

    Operands are cast to a common dtype (see :func:`operand_dtype`), widened where
    onnxruntime has no kernel for that dtype, and the result is cast to the node's output
    dtype.
    """
    if onnx_op in _COMPARISONS and {inp.dtype for inp in node.inputs} == {"int64", "uint64"}:
        return _compare_int64_with_uint64(builder, onnx_op, node, inputs)
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


_COMPARISONS = {
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
}


def _compare_int64_with_uint64(builder, onnx_op, node, inputs) -> str:
    # NumPy compares int64 with uint64 exactly, while their common dtype, float64, rounds
    # both above 2**53. So compare as uint64 (int64 -> uint64 wraps negatives), and where
    # the int64 operand is negative, use what comparing a negative number with a
    # non-negative one gives.
    signed = [inp.dtype == "int64" for inp in node.inputs]
    result = builder.add_node(onnx_op, cast_operands(builder, node, inputs, "uint64"))
    negative = builder.add_node("Less", [inputs[signed.index(True)], builder.constant(np.int64(0))])
    if _COMPARISONS[onnx_op](*(-1 if s else 0 for s in signed)):
        return builder.add_node("Or", [negative, result])
    return builder.add_node("And", [builder.add_node("Not", [negative]), result])


def where(builder, condition: str, if_true: str, if_false: str, dtype: str) -> str:
    """ONNX ``Where`` on values of ``dtype`` (widened where onnxruntime has no kernel).

    onnxruntime's Where does not keep the sign of a selected -0.0 (depending on the
    broadcasting pattern, it returns +0.0 for it), so converters that must return -0.0 build
    it with arithmetic instead.
    """
    compute = kernel_dtype("Where", dtype)
    if_true = builder.cast(if_true, dtype, compute)
    if_false = builder.cast(if_false, dtype, compute)
    return builder.cast(builder.add_node("Where", [condition, if_true, if_false]), compute, dtype)


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


@onnx_funcify.register(ps.Neg)
def onnx_funcify_Neg(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    if dtype.startswith("uint"):
        # onnxruntime has no Neg for unsigned ints; 0 - x wraps as NumPy's negative does.
        return builder.add_node("Sub", [builder.constant(np.zeros((), dtype)), inputs[0]])
    return emit_elementwise(builder, "Neg", node, inputs)


@onnx_funcify.register(ps.Pow)
def onnx_funcify_Pow(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    if np.dtype(dtype).kind == "f":
        return emit_elementwise(builder, "Pow", node, inputs)
    # onnxruntime's integer Pow is std::pow in double converted back: inexact above 2**53
    # and undefined on overflow (and missing for several dtypes). NumPy multiplies in the
    # integer dtype, wrapping. So square and multiply: for a constant exponent, only its
    # bits; else once per bit of the dtype (a negative exponent is an error in NumPy; it
    # gives some value here).
    base, exponent = cast_operands(builder, node, inputs, dtype)
    constant_exponent = _uniform_constant(node.inputs[1], max_ndim=node.inputs[0].type.ndim)
    if constant_exponent is not None and constant_exponent >= 0:
        return _power_by_constant(builder, base, int(constant_exponent), dtype)
    one, two = (builder.constant(np.asarray(v, dtype=dtype)) for v in (1, 2))
    result = None
    info = np.iinfo(dtype)
    for bit in range(info.bits - (info.min < 0)):
        if bit:
            base = builder.add_node("Mul", [base, base])
            exponent = builder.add_node("Div", [exponent, two])
        # the factor is base ** (exponent % 2): 1 + (exponent % 2) * (base - 1)
        odd = builder.add_node("Mod", [exponent, two])
        factor = builder.add_node(
            "Add", [one, builder.add_node("Mul", [odd, builder.add_node("Sub", [base, one])])]
        )
        result = factor if result is None else builder.add_node("Mul", [result, factor])
    return result


def _uniform_constant(var, max_ndim: int):
    """The single value of a constant whose broadcast cannot change the other operand's
    shape (all its dims are 1 and it has no more dims than ``max_ndim``), else None."""
    data = getattr(var, "data", None)
    if data is None:
        return None
    data = np.asarray(data)
    if data.ndim > max_ndim or data.size != 1:
        return None
    return data.item()


def _power_by_constant(builder, base: str, exponent: int, dtype: str) -> str:
    if exponent == 0:  # ones in the base's shape
        zero, one = (builder.constant(np.asarray(v, dtype=dtype)) for v in (0, 1))
        return builder.add_node("Add", [builder.add_node("Mul", [base, zero]), one])
    result = None
    while exponent:
        if exponent & 1:
            result = base if result is None else builder.add_node("Mul", [result, base])
        exponent >>= 1
        if exponent:
            base = builder.add_node("Mul", [base, base])
    return result


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
    if_true, if_false = (
        builder.cast(name, inp.dtype, out_dtype) for name, inp in zip(branches, node.inputs[1:])
    )
    # A -0.0 picked from a branch may come out as +0.0 (see `where`); values are exact.
    return where(builder, condition, if_true, if_false, out_dtype)


@onnx_funcify.register(ps.Second)
def onnx_funcify_Second(op, node, builder, inputs, **kwargs):
    # second(x, y): y's values broadcast to the shape of x and y together.
    shape_source, value = inputs
    value = builder.cast(value, node.inputs[1].dtype, node.outputs[0].dtype)
    return builder.add_node("Expand", [value, builder.add_node("Shape", [shape_source])])


@onnx_funcify.register(ps.Imag)
def onnx_funcify_Imag(op, node, builder, inputs, **kwargs):
    # Of a real number (ONNX export has no complex dtypes): zeros of its shape.
    zero = builder.constant(np.zeros((), dtype=node.outputs[0].dtype))
    return builder.add_node("Expand", [zero, builder.add_node("Shape", [inputs[0]])])


@onnx_funcify.register(ps.RoundHalfAwayFromZero)
def onnx_funcify_RoundHalfAwayFromZero(op, node, builder, inputs, **kwargs):
    # PyTensor computes `floor(x + 0.5) if x > 0 else ceil(x - 0.5)` on Python floats, that
    # is in float64 whatever the dtype (exact for float32; for float64 it rounds
    # 0.49999999999999994 to 1, and 0.0 to -0.0). Mirror it exactly, as
    # sign * floor(|x| + 0.5) with sign = 1 if x > 0 else -1, since ceil(x - 0.5) is
    # -floor(0.5 - x) exactly: arithmetic rather than Where, which loses -0.0.
    dtype = node.outputs[0].dtype
    (x,) = cast_operands(builder, node, inputs, "float64")

    def const(value):
        return builder.constant(np.asarray(value, dtype="float64"))

    positive = builder.add_node("Greater", [x, const(0)])
    sign = builder.add_node("Where", [positive, const(1), const(-1)])
    magnitude = builder.add_node(
        "Floor", [builder.add_node("Add", [builder.add_node("Abs", [x]), const(0.5)])]
    )
    return builder.cast(builder.add_node("Mul", [sign, magnitude]), "float64", dtype)


@onnx_funcify.register(ps.IntDiv)
def onnx_funcify_IntDiv(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    if dtype.startswith("float"):
        return _float_floor_divide(builder, node, inputs, dtype)
    if dtype == "bool":  # onnxruntime has no bool arithmetic; 0 and 1 divide alike in int8
        return builder.cast(_int_floor_divide(builder, node, inputs, "int8"), "int8", "bool")
    return _int_floor_divide(builder, node, inputs, dtype)


def _int_floor_divide(builder, node, inputs, dtype):
    # ONNX's integer Div truncates toward zero, and its kernels trap (SIGFPE, killing the
    # process) on a zero divisor and on INT_MIN / -1. NumPy floors, returns 0 for a zero
    # divisor and wraps INT_MIN // -1 to INT_MIN. So divide by 1 where the divisor is 0 or
    # -1, floor the truncated quotient q (a - q * b never overflows: |q * b| <= |a|), and
    # multiply by 0 or -1 there. Arithmetic instead of Where, which onnxruntime lacks for
    # some integer dtypes; and every op here has kernels for every integer dtype.
    a, b = cast_operands(builder, node, inputs, dtype)

    def const(value):
        return builder.constant(np.asarray(value, dtype=dtype))

    def node_(op_type, *args):
        return builder.add_node(op_type, list(args))

    def indicator(condition):  # 1 where condition holds, else 0
        return builder.cast(condition, "bool", dtype)

    patch = indicator(node_("Equal", b, const(0)))  # 1 where b == 0
    signed = np.issubdtype(np.dtype(dtype), np.signedinteger)
    if signed:
        minus_one = indicator(node_("Equal", b, const(-1)))
        patch = node_("Add", patch, node_("Add", minus_one, minus_one))  # 2 where b == -1
    safe_b = node_("Add", b, patch)  # 1 where b is 0 or -1
    quotient = node_("Div", a, safe_b)
    if signed:
        remainder = node_("Sub", a, node_("Mul", quotient, safe_b))
        inexact = node_("Not", node_("Equal", remainder, const(0)))
        signs_differ = node_(
            "Xor", node_("Less", remainder, const(0)), node_("Less", safe_b, const(0))
        )
        quotient = node_("Sub", quotient, indicator(node_("And", inexact, signs_differ)))
    return node_("Mul", quotient, node_("Sub", const(1), patch))  # 0 or -1 where patched


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
    # Where div == 0 the result is the zero with the sign of a / b: a's sign times b's (a
    # is finite there, b nonzero). Where loses -0.0, so select that sign as +-1 (sign(1 / a)
    # tells -0.0 from 0.0) and multiply by 0 after.
    div_is_zero = node_("Equal", div, zero)
    sign = node_("Mul", node_("Sign", node_("Div", const(1), a)), node_("Sign", b))
    result = node_("Where", div_is_zero, sign, floordiv)
    result = node_("Where", node_("Equal", b, zero), node_("Div", a, b), result)
    result = node_("Mul", result, builder.cast(node_("Not", div_is_zero), "bool", compute))
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


# -- integer remainder, truncation, clipping, predicates and bitwise ops ----------------------
@onnx_funcify.register(ps.Mod)
def onnx_funcify_Mod(op, node, builder, inputs, **kwargs):
    dtype = node.outputs[0].dtype
    if dtype.startswith("float"):
        return _float_mod(builder, node, inputs, dtype)
    # ONNX's integer Mod takes the divisor's sign, as NumPy does, but traps (SIGFPE) on a zero
    # divisor and on INT_MIN % -1. NumPy returns 0 for both, and so does x % 1: divide by 1
    # there (arithmetic, as Where lacks kernels for some integer dtypes).
    compute = kernel_dtype("Mod", dtype)
    a, b = cast_operands(builder, node, inputs, compute)

    def indicator(value):  # 1 where b == value, else 0
        equal = builder.add_node("Equal", [b, builder.constant(np.asarray(value, compute))])
        return builder.cast(equal, "bool", compute)

    patch = indicator(0)
    if np.issubdtype(np.dtype(compute), np.signedinteger):
        minus_one = indicator(-1)
        patch = builder.add_node("Add", [patch, builder.add_node("Add", [minus_one, minus_one])])
    safe_b = builder.add_node("Add", [b, patch])
    return builder.cast(builder.add_node("Mod", [a, safe_b]), compute, dtype)


def _float_mod(builder, node, inputs, dtype):
    # NumPy's npy_divmod: mod = fmod(a, b), plus b where mod and b have opposite signs, and
    # copysign(0, b) where mod is 0 (fmod(a, 0) is NaN, as NumPy's remainder is).
    compute = "float32" if dtype == "float16" else dtype
    a, b = cast_operands(builder, node, inputs, compute)
    zero = builder.constant(np.zeros((), compute))
    mod = builder.add_node("Mod", [a, b], fmod=1)
    signs_differ = builder.add_node(
        "Xor", [builder.add_node("Less", [b, zero]), builder.add_node("Less", [mod, zero])]
    )
    magnitude = builder.add_node("Abs", [mod])
    nonzero = builder.add_node("Greater", [magnitude, zero])  # NaN: False
    adjusted = builder.add_node(
        "Where",
        [
            builder.add_node("And", [nonzero, signs_differ]),
            builder.add_node("Add", [mod, b]),
            mod,
        ],
    )
    # |mod| * sign(b) is NaN where mod is, and the signed zero where mod is 0; it goes in
    # Where's second branch, the one that keeps -0.0 (see `where`).
    signed = builder.add_node("Mul", [magnitude, builder.add_node("Sign", [b])])
    return builder.cast(builder.add_node("Where", [nonzero, adjusted, signed]), compute, dtype)


@onnx_funcify.register(ps.Trunc)
def onnx_funcify_Trunc(op, node, builder, inputs, **kwargs):
    # floor(x) for x > 0, else ceil(x) (-0.0 for -0.5 and -0.0, in Where's second branch).
    dtype = node.outputs[0].dtype
    (x,) = cast_operands(builder, node, inputs, dtype)
    positive = builder.add_node("Greater", [x, builder.constant(np.zeros((), dtype))])
    return builder.add_node(
        "Where", [positive, builder.add_node("Floor", [x]), builder.add_node("Ceil", [x])]
    )


@onnx_funcify.register(ps.Clip)
def onnx_funcify_Clip(op, node, builder, inputs, **kwargs):
    # PyTensor's `min if x < min else max if x > max else x`: NaN bounds are ignored, and a
    # min above max gives min below it and max above it (ONNX's Clip differs on both). x is
    # in Where's second branch, which keeps -0.0; a bound of -0.0 comes out as 0.0.
    dtype = node.outputs[0].dtype
    x, low, high = cast_operands(builder, node, inputs, dtype)
    compare = kernel_dtype("Less", dtype)
    xc, lowc, highc = (builder.cast(v, dtype, compare) for v in (x, low, high))
    above = builder.add_node("Greater", [xc, highc])
    below = builder.add_node("Less", [xc, lowc])
    return where(builder, below, low, where(builder, above, high, x, dtype), dtype)


def _register_float_predicate(scalar_op_class, onnx_op):
    # Integers are never NaN or infinite: test them as float32, which holds all their values.
    def converter(op, node, builder, inputs, **kwargs):
        dtype = node.inputs[0].dtype
        compute = kernel_dtype(onnx_op, dtype if dtype.startswith("float") else "float32")
        return builder.add_node(onnx_op, [builder.cast(inputs[0], dtype, compute)])

    converter.__name__ = f"onnx_funcify_{scalar_op_class.__name__}"
    onnx_funcify.register(scalar_op_class)(converter)


_register_float_predicate(ps.IsNan, "IsNaN")
_register_float_predicate(ps.IsInf, "IsInf")


def _register_bitwise(scalar_op_class, logical_op, bitwise_op):
    # Logical ops on bool, bitwise ops on integers (operands cast to the output dtype, as
    # NumPy's bitwise ops do: int8(-1) & uint8(255) is int16 255).
    def converter(op, node, builder, inputs, **kwargs):
        dtype = node.outputs[0].dtype
        onnx_op = logical_op if dtype == "bool" else bitwise_op
        return builder.add_node(onnx_op, cast_operands(builder, node, inputs, dtype))

    converter.__name__ = f"onnx_funcify_{scalar_op_class.__name__}"
    onnx_funcify.register(scalar_op_class)(converter)


_register_bitwise(ps.AND, "And", "BitwiseAnd")
_register_bitwise(ps.OR, "Or", "BitwiseOr")
_register_bitwise(ps.XOR, "Xor", "BitwiseXor")
_register_bitwise(ps.Invert, "Not", "BitwiseNot")
