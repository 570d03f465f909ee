"""Scalar ops ONNX has no operator for, and the numerical decompositions they need.

ONNX (opset 18) has no Log1p, Expm1, Erfc, Lgamma, Digamma, ..., and onnxruntime has no
float64 kernel for Tan, Erf, Atan, Asin, Acos, Sinh, Cosh, Asinh, Acosh, Atanh (its float64
Sin and Cos lose relative accuracy near the zeros below |x| ~ 1000; its Sigmoid and Softplus
lose the tails). So these ops are built here from primitives every runtime has: arithmetic,
Exp, Log, Sqrt, Floor, Round, Where, and Sin/Cos on arguments reduced to [-pi/4, pi/4].

The formulas are the classic ones (fdlibm, Cody's erf/erfc, Cephes), chosen so that nothing
cancels catastrophically. Float64 results agree with SciPy/NumPy to about 1e-15 relative
(tests/test_scalar_math.py states the tolerance reached for each op). The special functions
(gamma family, erfinv) compute float32 in float64; the everyday ones (sigmoid, softplus,
log1p, expm1, erfc, ...) compute float32 in float32, with onnxruntime's float32 kernels where
they are accurate.

Iterative functions (ScalarLoop, the incomplete gamma functions, Hurwitz's zeta for
polygamma) run as one ONNX ``Loop`` over whole tensors (:func:`emit_loop`): every element
iterates until it converges, and elements done keep their value.

Two onnxruntime behaviours shape the code. Its optimizer drops float64 constants that
underflow float32 (an ``Add`` of 1e-50 vanished from a Horner chain), so every constant is
kept above float32's smallest normal number (:meth:`Emitter.const` checks). And its ``Where``
returns +0.0 for a -0.0 taken from its first branch and keeps it from its second (measured in
every broadcasting pattern), so values that may be -0.0 are put in the second branch, or signs
are applied by multiplication (:func:`copysign`). The condition of such a ``Where`` is never a
``Not``: onnxruntime's optimizer fuses ``Where(Not(c), a, b)`` into ``Where(c, b, a)``, which
swaps the branches back.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytensor.scalar as ps
import pytensor.scalar.math as psm
from pytensor.scalar.loop import ScalarLoop

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.scalar import onnx_funcify_Composite, where

# -- building formulas ---------------------------------------------------------------------
_PREDICATES = frozenset({"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "IsNaN"})
_PREDICATES |= {"IsInf", "And", "Or", "Not", "Xor"}


# Constants below float32's smallest normal number are dropped by onnxruntime's optimizer.
_SMALLEST_SAFE_CONSTANT = float(np.finfo(np.float32).tiny)


class Value:
    """An ONNX value inside a formula: arithmetic operators emit ONNX nodes.

    Python numbers mixed in become constants of the formula's dtype.
    """

    __slots__ = ("em", "name", "dtype")

    def __init__(self, em: Emitter, name: str, dtype: str):
        self.em, self.name, self.dtype = em, name, dtype

    def __add__(self, other):
        return self.em.node("Add", self, other)

    def __radd__(self, other):
        return self.em.node("Add", other, self)

    def __sub__(self, other):
        return self.em.node("Sub", self, other)

    def __rsub__(self, other):
        return self.em.node("Sub", other, self)

    def __mul__(self, other):
        return self.em.node("Mul", self, other)

    def __rmul__(self, other):
        return self.em.node("Mul", other, self)

    def __truediv__(self, other):
        return self.em.node("Div", self, other)

    def __rtruediv__(self, other):
        return self.em.node("Div", other, self)

    def __neg__(self):
        return self.em.node("Neg", self)

    def __lt__(self, other):
        return self.em.node("Less", self, other)

    def __le__(self, other):
        return self.em.node("LessOrEqual", self, other)

    def __gt__(self, other):
        return self.em.node("Greater", self, other)

    def __ge__(self, other):
        return self.em.node("GreaterOrEqual", self, other)

    def eq(self, other):
        return self.em.node("Equal", self, other)

    def __and__(self, other):
        return self.em.node("And", self, other)

    def __or__(self, other):
        return self.em.node("Or", self, other)

    def __invert__(self):
        return self.em.node("Not", self)


class Emitter:
    """Emits a formula's nodes into a :class:`~pytensor_onnx.builder.GraphBuilder`, in one
    floating-point ``dtype`` (with bool for predicates)."""

    def __init__(self, builder, dtype: str):
        self.builder, self.dtype = builder, dtype
        self.finfo = np.finfo(dtype)

    def input(self, name: str, dtype: str) -> Value:
        return Value(self, self.builder.cast(name, dtype, self.dtype), self.dtype)

    def const(self, value) -> Value:
        array = np.asarray(value, dtype=self.dtype)
        if 0 < np.abs(array).min(initial=np.inf) < _SMALLEST_SAFE_CONSTANT:
            # onnxruntime's optimizer treats such float64 constants as 0 (it drops Add nodes
            # of 1e-50 in a Horner chain: measured with onnxruntime 1.32): rescale instead.
            raise ValueError(f"constant {value!r} is too small for onnxruntime's optimizer")
        return Value(self, self.builder.constant(array), self.dtype)

    def _name(self, operand) -> str:
        return operand.name if isinstance(operand, Value) else self.const(operand).name

    def node(self, op_type: str, *operands, **attributes) -> Value:
        name = self.builder.add_node(op_type, [self._name(o) for o in operands], **attributes)
        return Value(self, name, "bool" if op_type in _PREDICATES else self.dtype)

    def where(self, condition: Value, if_true, if_false) -> Value:
        """Select; a -0.0 survives from ``if_false`` only (see the module docstring)."""
        return self.node("Where", condition, if_true, if_false)

    def full_like(self, value: Value, fill: float) -> Value:
        """``fill`` in the shape of ``value`` (whatever its values: inf, NaN)."""
        return self.where(self.isnan(value), fill, fill)

    def indicator(self, condition: Value) -> Value:
        """1.0 where ``condition`` holds, else 0.0."""
        return Value(self, self.builder.cast(condition.name, "bool", self.dtype), self.dtype)

    def poly(self, x: Value, coefficients) -> Value:
        """``c[0] + c[1] x + c[2] x**2 + ...`` by Horner's rule."""
        result = x * float(coefficients[-1]) + float(coefficients[-2])
        for c in reversed(coefficients[:-2]):
            result = result * x + float(c)
        return result

    def monic(self, x: Value, coefficients) -> Value:
        """``c[0] + c[1] x + ... + x**n`` (the leading coefficient 1 is implied)."""
        return self.poly(x, [*coefficients, 1.0])


def _unary(op_type: str):
    def method(self, x: Value) -> Value:
        return self.node(op_type, x)

    method.__name__ = op_type.lower()
    return method


for _method, _op_type in {
    "exp": "Exp",
    "log": "Log",
    "sqrt": "Sqrt",
    "abs": "Abs",
    "floor": "Floor",
    "round": "Round",
    "sin": "Sin",
    "cos": "Cos",
    "isnan": "IsNaN",
    "relu": "Relu",
}.items():
    setattr(Emitter, _method, _unary(_op_type))


def copysign(magnitude: Value, sign_of: Value) -> Value:
    """``magnitude`` (>= 0 or NaN) with the sign of ``sign_of``, -0.0 included."""
    em = magnitude.em
    negative = (sign_of < 0) | (em.node("Reciprocal", sign_of) < 0)  # 1 / -0.0 = -inf
    return magnitude * em.where(negative, -1.0, 1.0)


def _select(em: Emitter, cases, default: Value) -> Value:
    """The value of the first ``(condition, value)`` that holds, else ``default``."""
    result = default
    for condition, value in reversed(cases):
        result = em.where(condition, value, result)
    return result


# -- exp and log near 0 -------------------------------------------------------------------
def log1p(x: Value) -> Value:
    # log(1 + x) = log(u) * x / (u - 1) with u = fl(1 + x): the factor x / (u - 1) corrects
    # the rounding of 1 + x (Goldberg, "What every computer scientist should know...",
    # theorem 4). Where u == 1, log1p(x) = x to working precision. u is capped at the
    # largest finite value so that x = inf gives log(inf) * (inf / max) = inf.
    em = x.em
    u = 1.0 + x
    d = em.node("Min", u, float(em.finfo.max)) - 1.0
    return em.where(em.abs(d) > 0.0, em.log(u) * (x / d), x)


def expm1(x: Value, exp_x: Value | None = None) -> Value:
    # Kahan: (u - 1) * x / log(u) with u = fl(exp(x)) for |x| <= 0.5 (u == 1: x itself);
    # u - 1 loses nothing for larger |x|.
    em = x.em
    u = em.exp(x) if exp_x is None else exp_x
    um1 = u - 1.0
    near_zero = em.where(em.abs(um1) > 0.0, um1 * (x / em.log(u)), x)
    return em.where(em.abs(x) > 0.5, um1, near_zero)


def sigmoid(x: Value) -> Value:
    # Accurate relatively in both tails: exp(-x) overflows to inf only where 1 / (1 + inf) = 0
    # is the answer rounded.
    em = x.em
    return em.node("Reciprocal", 1.0 + em.exp(-x))


def softplus(x: Value) -> Value:
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): nothing overflows.
    em = x.em
    return em.relu(x) + log1p(em.exp(-em.abs(x)))


def log1mexp(x: Value) -> Value:
    # log(1 - exp(x)) for x <= 0 (Maechler 2012): log1p(-exp(x)) below -log(2), where
    # exp(x) < 1/2, else log(-expm1(x)). The log1p branch goes second: at x = -inf it is
    # log1p(-0.0) = -0.0.
    em = x.em
    exp_x = em.exp(x)
    return em.where(x >= -float(np.log(2.0)), em.log(-expm1(x, exp_x)), log1p(-exp_x))


# -- trigonometric functions ---------------------------------------------------------------
_TWO_OVER_PI = 0.6366197723675814
# pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3: the first two have 33 significant bits, so k * _PIO2_1
# and k * _PIO2_2 are exact for |k| < 2**20 (Cody and Waite's reduction, as in fdlibm).
_PIO2_1 = 1.5707963267341256
_PIO2_2 = 6.077100506303966e-11
_PIO2_3 = 2.0222662487959506e-21
# onnxruntime's float64 Sin and Cos are accurate beyond this (and on [-pi/4, pi/4]).
_NATIVE_SINCOS_FROM = 1000.0
_PI = 3.141592653589793
_PI_LO = 1.2246467991473532e-16  # pi - _PI
_HALF_PI = 1.5707963267948966
_HALF_PI_LO = 6.123233995736766e-17


def _reduce_half_pi(x: Value):
    """``(r, q)`` with x = r + k pi/2, |r| <= pi/4 and q = k mod 4, for |x| < 1000.

    Where k == 0, r is x itself, -0.0 included.
    """
    em = x.em
    k = em.round(x * _TWO_OVER_PI)
    r = ((x - k * _PIO2_1) - k * _PIO2_2) - k * _PIO2_3
    r = em.where(em.abs(k) > 0.0, r, x)
    q = k - 4.0 * em.floor(k * 0.25)
    return r, q


def _sign_factor(em: Emitter, negative: Value) -> Value:
    """-1.0 where ``negative``, else 1.0 (multiply by it: keeps -0.0)."""
    return 1.0 - 2.0 * em.indicator(negative)


def sin_or_cos(x: Value, cosine: bool) -> Value:
    """Float64 sin(x) or cos(x), accurate near their zeros: from sin and cos of the reduced
    argument r, picked and signed by the quadrant (cos(x) = sin(x + pi/2))."""
    em = x.em
    r, q = _reduce_half_pi(x)
    sin_r, cos_r = em.sin(r), em.cos(r)
    odd = q.eq(1.0) | q.eq(3.0)
    if cosine:
        reduced = em.where(odd, sin_r, cos_r) * _sign_factor(em, q.eq(1.0) | q.eq(2.0))
        native = em.cos(x)
    else:
        reduced = em.where(odd, cos_r, sin_r) * _sign_factor(em, q >= 2.0)
        native = em.sin(x)
    return em.where(em.abs(x) > _NATIVE_SINCOS_FROM, native, reduced)  # NaN at inf


def tan(x: Value) -> Value:
    em = x.em
    r, q = _reduce_half_pi(x)
    sin_r, cos_r = em.sin(r), em.cos(r)
    odd = q.eq(1.0) | q.eq(3.0)
    reduced = em.where(odd, -cos_r / sin_r, sin_r / cos_r)
    return em.where(em.abs(x) > _NATIVE_SINCOS_FROM, em.sin(x) / em.cos(x), reduced)


def sinpi_cospi(s: Value):
    """sin(pi s) and cos(pi s) for |s| <= 1/2, from arguments in [-pi/4, pi/4]."""
    em = s.em
    a = em.abs(s)
    near_half = a > 0.25
    c = 0.5 - a  # exact
    sin_ = em.where(near_half, copysign(em.cos(_PI * c), s), em.sin(_PI * s))
    cos_ = em.where(near_half, em.sin(_PI * c), em.cos(_PI * s))
    return sin_, cos_


# atan(t) = t * sum_k (-1)**k t**(2k) / (2k + 1), for |t| <= tan(pi/12) (t**28 / 29 < 1e-17)
_ATAN_SERIES = [(-1) ** k / (2 * k + 1) for k in range(14)]
_TAN_PI_12 = 0.2679491924311227
_SQRT3 = 1.7320508075688772
_PI_6 = 0.5235987755982989


def atan(x: Value) -> Value:
    # Reduce |x| to t <= 1 (atan(x) = pi/2 - atan(1/x)), then to |t'| <= tan(pi/12) with
    # atan(t) = pi/6 + atan((t sqrt(3) - 1) / (t + sqrt(3))), and sum the series.
    em = x.em
    a = em.abs(x)
    inverted = a > 1.0
    t = em.where(inverted, em.node("Reciprocal", a), a)
    shifted = t > _TAN_PI_12
    t = em.where(shifted, (t * _SQRT3 - 1.0) / (t + _SQRT3), t)
    r = t + t * ((t * t) * em.poly(t * t, _ATAN_SERIES[1:]))
    r = em.where(shifted, r + _PI_6, r)
    r = em.where(inverted, (_HALF_PI - r) + _HALF_PI_LO, r)
    return copysign(r, x)


def asin(x: Value) -> Value:
    em = x.em
    return atan(x / em.sqrt((1.0 - x) * (1.0 + x)))


def acos(x: Value) -> Value:
    em = x.em
    return 2.0 * atan(em.sqrt((1.0 - x) / (1.0 + x)))


def signbit(x: Value) -> Value:
    return (x < 0) | (x.em.node("Reciprocal", x) < 0)


def atan2(y: Value, x: Value, arctan=atan) -> Value:
    # atan(|y| / |x|) in [0, pi/2], mirrored to pi - angle where x is negative (-0.0
    # included) and signed like y: C99's atan2, signed zeros and infinities included.
    em = y.em
    ay, ax = em.abs(y), em.abs(x)
    angle = arctan(ay / ax)
    # |y| / |x| is NaN where both are 0 (angle 0) or both infinite (angle pi/4).
    angle = em.where(ay.eq(0.0) & ~em.isnan(x), 0.0, angle)
    angle = em.where(em.node("IsInf", ay) & em.node("IsInf", ax), _PI / 4, angle)
    angle = em.where(signbit(x), (_PI - angle) + _PI_LO, angle)
    return angle * em.where(signbit(y), -1.0, 1.0)


# -- hyperbolic functions (fdlibm's formulas) -----------------------------------------------
_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046


def sinh(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    e = expm1(a)
    small = 0.5 * (e + e / (e + 1.0))
    w = em.exp(0.5 * a)
    large = (0.5 * w) * w  # finite up to sinh's own overflow at 710.47
    return copysign(em.where(a > 22.0, large, small), x)


def cosh(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    u = em.exp(a)
    w = em.exp(0.5 * a)
    return em.where(a > 22.0, (0.5 * w) * w, 0.5 * (u + 1.0 / u))


def asinh(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    a2 = a * a
    huge = em.log(a) + _LN2
    mid = em.log(2.0 * a + 1.0 / (em.sqrt(a2 + 1.0) + a))
    small = log1p(a + a2 / (1.0 + em.sqrt(1.0 + a2)))
    r = _select(em, [(a > 2.0**28, huge), (a > 2.0, mid)], small)
    return copysign(r, x)


def acosh(x: Value) -> Value:
    em = x.em
    t = x - 1.0
    huge = em.log(x) + _LN2
    mid = em.log(2.0 * x - 1.0 / (x + em.sqrt(x * x - 1.0)))
    small = log1p(t + em.sqrt(2.0 * t + t * t))
    return _select(em, [(x < 1.0, float("nan")), (x > 2.0**28, huge), (x > 2.0, mid)], small)


def atanh(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    two_a = a + a
    small = 0.5 * log1p(two_a + two_a * a / (1.0 - a))
    large = 0.5 * log1p(two_a / (1.0 - a))
    return copysign(em.where(a < 0.5, small, large), x)


def log_base(x: Value, ln_base: float, base: int) -> Value:
    # log(x) / log(base) (within 2 ulps), made exact where x is a power of the base that is
    # exactly representable: NumPy's log2 and log10 are exact there (log2(8) == 3).
    em = x.em
    y = em.log(x) / ln_base
    k = em.round(y)
    exact = em.node("Pow", float(base), k).eq(x)
    if base != 2:  # 10**k is exact for 0 <= k <= 22 in float64, 10 in float32
        largest = np.floor(np.log(2.0 / em.finfo.eps) / np.log(base / 2.0))
        exact = exact & (k >= 0.0) & (k <= float(largest))
    return em.where(exact, k, y)


# -- error functions: W. J. Cody's rational approximations (Math. Comp. 23, 1969; CALERF) --
# erf(x) = x P(x^2) / Q(x^2) for |x| <= 0.46875; erfcx(x) = exp(x^2) erfc(x) = P(x) / Q(x)
# for 0.46875 < x <= 4, and (1/sqrt(pi) - z P(z) / Q(z)) / x with z = 1/x^2 beyond.
# Coefficients in ascending powers; each denominator's leading coefficient is 1.
_ERF_SMALL = 0.46875
_ERF_P = [
    3.20937758913846947e03,
    3.77485237685302021e02,
    1.13864154151050156e02,
    3.16112374387056560e00,
    1.85777706184603153e-1,
]
_ERF_Q = [
    2.84423683343917062e03,
    1.28261652607737228e03,
    2.44024637934444173e02,
    2.36012909523441209e01,
]
_ERFCX_MID_P = [
    1.23033935479799725e03,
    2.05107837782607147e03,
    1.71204761263407058e03,
    8.81952221241769090e02,
    2.98635138197400131e02,
    6.61191906371416295e01,
    8.88314979438837594e00,
    5.64188496988670089e-1,
    2.15311535474403846e-8,
]
_ERFCX_MID_Q = [
    1.23033935480374942e03,
    3.43936767414372164e03,
    4.36261909014324716e03,
    3.29079923573345963e03,
    1.62138957456669019e03,
    5.37181101862009858e02,
    1.17693950891312499e02,
    1.57449261107098347e01,
]
_ERFCX_BIG_P = [
    6.58749161529837803e-4,
    1.60837851487422766e-2,
    1.25781726111229246e-1,
    3.60344899949804439e-1,
    3.05326634961232344e-1,
    1.63153871373020978e-2,
]
_ERFCX_BIG_Q = [
    2.33520497626869185e-3,
    6.05183413124413191e-2,
    5.27905102951428412e-1,
    1.87295284992346725e00,
    2.56852019228982242e00,
]
_INV_SQRT_PI = 0.5641895835477563


def _erf_small(x: Value) -> Value:
    em = x.em
    y = x * x
    return x * (em.poly(y, _ERF_P) / em.monic(y, _ERF_Q))


def _erfcx_large(a: Value) -> Value:
    """exp(a^2) erfc(a) for a > 0.46875."""
    em = a.em
    mid = em.poly(a, _ERFCX_MID_P) / em.monic(a, _ERFCX_MID_Q)
    z = em.node("Reciprocal", a * a)
    big = (_INV_SQRT_PI - z * (em.poly(z, _ERFCX_BIG_P) / em.monic(z, _ERFCX_BIG_Q))) / a
    return em.where(a > 4.0, big, mid)


def _exp_square(a: Value, sign: float) -> Value:
    """exp(sign * a^2) for a >= 0, without the rounding error of a^2 (Cody's split).

    a^2 = hi^2 + (a - hi)(a + hi) with hi = floor(16 a) / 16, whose square is exact: a
    rounded a^2 would err by up to 7e-14 relatively at a = 26.
    """
    em = a.em
    a = em.where(a > 30.0, 30.0, a)  # far past under/overflow; keeps NaN, avoids inf - inf
    hi = em.floor(a * 16.0) * 0.0625
    lo = (a - hi) * (a + hi)
    return em.exp(sign * (hi * hi)) * em.exp(sign * lo)


def erf(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    large = 1.0 - _exp_square(a, -1.0) * _erfcx_large(a)  # erfc(a) < 0.51: no cancellation
    return em.where(a > _ERF_SMALL, em.where(x < 0.0, -large, large), _erf_small(x))


def erfc(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    tail = _exp_square(a, -1.0) * _erfcx_large(a)
    large = em.where(x < 0.0, 2.0 - tail, tail)
    return em.where(a <= _ERF_SMALL, 1.0 - _erf_small(x), large)


def erfcx(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    scaled = _erfcx_large(a)
    negative = 2.0 * _exp_square(a, 1.0) - scaled  # erfcx(-a) = 2 exp(a^2) - erfcx(a)
    small = em.exp(x * x) * (1.0 - _erf_small(x))
    return em.where(a <= _ERF_SMALL, small, em.where(x < 0.0, negative, scaled))


# -- the gamma function and its logarithmic derivatives -------------------------------------
# lgamma(2 + z) = sum_{k >= 1} c_k z^k with c_1 = 1 - Euler's gamma, c_k = (-1)^k (zeta(k) - 1)
# / k: for |z| <= 1/2 the terms past z^26 are below 2e-17 relatively (computed with mpmath).
_LGAMMA_NEAR_2 = [
    0.42278433509846713,
    0.3224670334241132,
    -0.0673523010531981,
    0.020580808427784546,
    -0.007385551028673986,
    0.0028905103307415234,
    -0.001192753911703261,
    0.0005096695247430425,
    -0.00022315475845357939,
    9.945751278180853e-05,
    -4.492623673813314e-05,
    2.050721277567069e-05,
    -9.439488275268397e-06,
    4.374866789907488e-06,
    -2.039215753801366e-06,
    9.55141213040742e-07,
    -4.492469198764566e-07,
    2.1207184805554665e-07,
    -1.0043224823968099e-07,
    4.7698101693639804e-08,
    -2.2711094608943164e-08,
    1.0838659214896955e-08,
    -5.183475041970047e-09,
    2.4836745438024785e-09,
    -1.1921401405860912e-09,
    5.731367241678862e-10,
]
# digamma(2 + z) = 1 - Euler's gamma + sum_{k >= 1} (-1)^(k+1) (zeta(k + 1) - 1) z^k: below
# 3e-18 past z^28 for |z| <= 1/2 (mpmath).
_DIGAMMA_NEAR_2 = [
    0.42278433509846713,
    0.6449340668482264,
    -0.2020569031595943,
    0.08232323371113819,
    -0.03692775514336993,
    0.01734306198444914,
    -0.008349277381922827,
    0.00407735619794434,
    -0.0020083928260822143,
    0.0009945751278180853,
    -0.0004941886041194645,
    0.0002460865533080483,
    -0.00012271334757848915,
    6.124813505870483e-05,
    -3.058823630702049e-05,
    1.528225940865187e-05,
    -7.637197637899763e-06,
    3.81729326499984e-06,
    -1.908212716553939e-06,
    9.539620338727962e-07,
    -4.769329867878064e-07,
    2.38450502727733e-07,
    -1.1921992596531106e-07,
    5.960818905125948e-08,
    -2.980350351465228e-08,
    1.4901554828365043e-08,
    -7.45071178983543e-09,
    3.725334024788457e-09,
    -1.862659723513049e-09,
]
# Bernoulli numbers B_2 ... B_16, for the asymptotic (Stirling) series, used from x = 10 on:
# there the first omitted terms are below 1e-17 relatively.
_BERNOULLI = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30)]
_BERNOULLI += [Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510)]
_STIRLING_LGAMMA = [float(b / (2 * k * (2 * k - 1))) for k, b in enumerate(_BERNOULLI, 1)]
_STIRLING_DIGAMMA = [float(b / (2 * k)) for k, b in enumerate(_BERNOULLI, 1)]
_STIRLING_TRIGAMMA = [float(b) for b in _BERNOULLI]
_ASYMPTOTIC_FROM = 10.0
_HALF_LOG_2PI = 0.9189385332046728
_SQRT_2PI = 2.5066282746310007
_LOG_PI = 1.1447298858494002
# The positive zero of digamma, x0 = _X0_HI + _X0_LO, and the Taylor coefficients of
# digamma there: (-1)^(n+1) zeta(n + 1, x0) for h^n, n = 1, 2, ... (mpmath); 19 terms reach
# 3e-18 relatively for |h| <= 0.2, where the recurrence would cancel.
_X0_HI = 1.4616321449683622
_X0_LO = 9.549995429965697e-17
_DIGAMMA_AT_X0 = [
    0.9676722454476212,
    -0.4427631689835921,
    0.258499760955651,
    -0.16394270544240652,
    0.10782405069126237,
    -0.07219956125645471,
    0.04880428816414311,
    -0.03316112647484736,
    0.022597648232218104,
    -0.01542476590494896,
    0.010538791616612175,
    -0.007204534386356869,
    0.004926781395729853,
    -0.003369801655439328,
    0.002305126326734928,
    -0.0015769367714301972,
    0.0010788252019162967,
    -0.0007380709389960052,
    0.000504953265834602,
]


def _near_2(y: Value):
    """``(k, z)``: y = k + z with k = round(y) and z in [-1/2, 1/2], exact.

    Recurrences move y (0 < y < 10.5) to 2 + z through factors y - j, 1 <= j <= k - 2,
    that are all exact, or y and y + 1 (k = 0) / y (k = 1); series in z then keep the
    relative accuracy of lgamma at its zeros 1 and 2.
    """
    k = y.em.round(y)
    return k, y - k


def _factors_to_2(y: Value, k: Value):
    """``(P, Q)``: Gamma(y) = Gamma(2 + z) P / Q (see :func:`_near_2`)."""
    em = y.em
    p = None
    for j in range(1, 9):  # k <= 10: at most 8 factors
        factor = em.where(k >= j + 2.0, y - float(j), 1.0)
        p = factor if p is None else p * factor
    q = em.where(k < 0.5, y * (1.0 + y), em.where(k < 1.5, y, 1.0))
    return p, q


def _stirling_series(z: Value, coefficients) -> Value:
    """sum_k c_k / z^(2k-1), the correction terms of Stirling's series."""
    em = z.em
    r = em.node("Reciprocal", z)
    return r * em.poly(r * r, coefficients)


def _lgamma_positive(y: Value) -> Value:
    em = y.em
    k, z = _near_2(y)
    p, q = _factors_to_2(y, k)
    # log(y) itself where q = y: near y = 1, where lgamma(y) ~ -0.58 (y - 1).
    near = z * em.poly(z, _LGAMMA_NEAR_2) + em.log(p) - em.log(q)
    far = (y - 0.5) * em.log(y) - y + _HALF_LOG_2PI + _stirling_series(y, _STIRLING_LGAMMA)
    return em.where(y < _ASYMPTOTIC_FROM, near, far)


def _gamma_positive(y: Value) -> Value:
    em = y.em
    k, z = _near_2(y)
    p, q = _factors_to_2(y, k)
    near = em.exp(z * em.poly(z, _LGAMMA_NEAR_2)) * p / q
    # y^(y - 1/2) e^-y as v (v e^-y) with v = y^(y/2 - 1/4), which stays finite while
    # Gamma(y) does (Cephes' stirf); pow and exp of exact arguments keep 1e-15. Past 172,
    # where Gamma overflows, y^(...) e^-y would be inf * 0.
    y = em.where(y > 172.0, 172.0, y)
    v = em.node("Pow", y, 0.5 * y - 0.25)
    far = _SQRT_2PI * v * (v * em.exp(-y)) * em.exp(_stirling_series(y, _STIRLING_LGAMMA))
    return em.where(y < _ASYMPTOTIC_FROM, near, far)


def _reflect(x: Value):
    """``(negative, y, s)``: x < 0, y = 1 - x there (else x), s = x - round(x)."""
    em = x.em
    negative = x < 0.0
    return negative, em.where(negative, 1.0 - x, x), x - em.round(x)


def lgamma(x: Value) -> Value:
    # Reflection for x < 0: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x).
    em = x.em
    negative, y, s = _reflect(x)
    positive = _lgamma_positive(y)
    sin_pi_s, _ = sinpi_cospi(s)
    reflected = _LOG_PI - em.log(em.abs(sin_pi_s)) - positive
    # At the poles x = -1, -2, ... the formula is inf - lgamma(1 - x): inf - inf beyond 1e305.
    reflected = em.where(s.eq(0.0), float("inf"), reflected)
    return em.where(em.node("IsInf", x), x, em.where(negative, reflected, positive))


def gamma(x: Value) -> Value:
    # Reflection for x < 0: Gamma(x) = pi / (sin(pi x) Gamma(1 - x)), and below -1, where
    # Gamma(1 - x) = -x Gamma(-x) may overflow while Gamma(x) is still normal, as
    # (pi / (sin(pi x) (-x))) / Gamma(-x). NaN at the poles x = -1, -2, ... (SciPy's
    # choice).
    em = x.em
    negative = x < 0.0
    below_minus_1 = x < -1.0
    y = em.where(negative, em.where(below_minus_1, -x, 1.0 - x), x)
    positive = _gamma_positive(y)
    s = x - em.round(x)
    sin_pi_s, _ = sinpi_cospi(s)
    k = x - s
    odd = (k - 2.0 * em.floor(k * 0.5)).eq(1.0)
    sin_pi_x = sin_pi_s * _sign_factor(em, odd)
    reflected = (_PI / (sin_pi_x * em.where(below_minus_1, -x, 1.0))) / positive
    reflected = em.where(s.eq(0.0), float("nan"), reflected)
    # reflected second: it underflows to zeros of either sign; 1 / x is -inf at -0.0.
    result = em.where(x >= 0.0, positive, reflected)
    result = em.where(x.eq(0.0), em.node("Reciprocal", x), result)
    return em.where(x.eq(float("inf")), x, result)


def _shift_up(y: Value, reciprocal_power: int):
    """``(z, sum)``: z = y + n >= 10 (n = 0 from 10 on) and sum_{k < n} (y + k)^-power."""
    em = y.em
    z, total = y, None
    for k in range(int(_ASYMPTOTIC_FROM)):
        t = y + float(k)
        below = t < _ASYMPTOTIC_FROM
        term = em.node("Reciprocal", t if reciprocal_power == 1 else t * t)
        term = em.where(below, term, 0.0)
        total = term if total is None else total + term
        z = z + em.indicator(below)
    return z, total


def _digamma_positive(y: Value) -> Value:
    em = y.em
    k, z = _near_2(y)
    # psi(y) = psi(2 + z) + sum_j 1 / (y - j) - 1 / y [k <= 1] - 1 / (y + 1) [k = 0]
    near = z * em.poly(z, _DIGAMMA_NEAR_2[1:]) + _DIGAMMA_NEAR_2[0]
    for j in range(1, 9):
        near = near + em.where(k >= j + 2.0, em.node("Reciprocal", y - float(j)), 0.0)
    near = near - em.where(k < 1.5, em.node("Reciprocal", y), 0.0)
    near = near - em.where(k < 0.5, em.node("Reciprocal", y + 1.0), 0.0)
    # ... which cancels near the zero x0 of psi (psi(y + 1) - 1 / y): a series there.
    h = (y - _X0_HI) - _X0_LO
    near = em.where(em.abs(h) < 0.2, h * em.poly(h, _DIGAMMA_AT_X0), near)
    r = em.node("Reciprocal", y)
    r2 = r * r
    far = em.log(y) - 0.5 * r - r2 * em.poly(r2, _STIRLING_DIGAMMA)
    return em.where(y < _ASYMPTOTIC_FROM, near, far)


def digamma(x: Value) -> Value:
    # Reflection for x < 0: psi(x) = psi(1 - x) - pi / tan(pi x); NaN at x = -1, -2, ...
    em = x.em
    negative, y, s = _reflect(x)
    positive = _digamma_positive(y)
    sin_pi_s, cos_pi_s = sinpi_cospi(s)
    reflected = em.where(s.eq(0.0), float("nan"), positive - _PI * cos_pi_s / sin_pi_s)
    return em.where(negative, reflected, positive)


def _trigamma_positive(y: Value) -> Value:
    em = y.em
    z, total = _shift_up(y, 2)
    r = em.node("Reciprocal", z)
    r2 = r * r
    asymptotic = r + 0.5 * r2 + r * (r2 * em.poly(r2, _STIRLING_TRIGAMMA))
    return asymptotic + total


def trigamma(x: Value) -> Value:
    # Reflection for x < 0: psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x).
    em = x.em
    negative, y, s = _reflect(x)
    positive = _trigamma_positive(y)
    sin_pi_s, _ = sinpi_cospi(s)
    reflected = (_PI * _PI) / (sin_pi_s * sin_pi_s) - positive
    return em.where(x.eq(float("-inf")), float("inf"), em.where(negative, reflected, positive))


# -- converters ------------------------------------------------------------------------------
_FLOAT_DTYPES = ("float16", "float32", "float64")


def _compute_dtype(op, out_dtype: str, float32_in_float64: bool) -> str:
    if out_dtype not in _FLOAT_DTYPES:
        raise NotImplementedError(
            f"ONNX conversion of {type(op).__name__} supports float outputs only, not {out_dtype}"
        )
    if out_dtype == "float64" or float32_in_float64:
        return "float64"
    return "float32"  # float16 too: onnxruntime lacks most float16 kernels


def register_formula(op_class: type, formula, *, float32_in_float64: bool = False) -> None:
    """Convert ``op_class`` with ``formula(*values) -> Value``, applied to the node's inputs
    cast to the compute dtype: the output's float dtype (float32 for float16), or float64
    when ``float32_in_float64`` (for formulas whose constants target float64 only)."""

    def converter(op, node, builder, inputs, **kwargs):
        out_dtype = node.outputs[0].dtype
        em = Emitter(builder, _compute_dtype(op, out_dtype, float32_in_float64))
        values = [em.input(name, inp.dtype) for name, inp in zip(inputs, node.inputs)]
        return builder.cast(formula(*values).name, em.dtype, out_dtype)

    converter.__name__ = f"onnx_funcify_{op_class.__name__}"
    onnx_funcify.register(op_class)(converter)


def _float32_kernel_or(onnx_op: str, float64_formula):
    """onnxruntime's ``onnx_op`` in float32 (accurate there; it has no float64 kernel), else
    ``float64_formula``."""

    def formula(x: Value) -> Value:
        return x.em.node(onnx_op, x) if x.dtype == "float32" else float64_formula(x)

    return formula


def _scaled_by(numerator: float, denominator: float):
    # NumPy's deg2rad and rad2deg multiply by a constant computed in the operand's dtype
    # (float32 for float16).
    def formula(x: Value) -> Value:
        dtype = np.dtype(x.dtype).type
        return x * float(dtype(numerator) / dtype(denominator))

    return formula


for _op_class, _formula in {
    ps.Sin: _float32_kernel_or("Sin", lambda x: sin_or_cos(x, cosine=False)),
    ps.Cos: _float32_kernel_or("Cos", lambda x: sin_or_cos(x, cosine=True)),
    ps.Tan: _float32_kernel_or("Tan", tan),
    ps.ArcSin: _float32_kernel_or("Asin", asin),
    ps.ArcCos: _float32_kernel_or("Acos", acos),
    ps.ArcTan: _float32_kernel_or("Atan", atan),
    ps.ArcTan2: lambda y, x: atan2(y, x, arctan=_float32_kernel_or("Atan", atan)),
    ps.Sinh: _float32_kernel_or("Sinh", sinh),
    ps.Cosh: _float32_kernel_or("Cosh", cosh),
    ps.ArcSinh: _float32_kernel_or("Asinh", asinh),
    ps.ArcCosh: _float32_kernel_or("Acosh", acosh),
    ps.ArcTanh: _float32_kernel_or("Atanh", atanh),
    ps.Deg2Rad: _scaled_by(np.pi, 180.0),
    ps.Rad2Deg: _scaled_by(180.0, np.pi),
    ps.Exp2: lambda x: x.em.node("Pow", 2.0, x),
    ps.Log2: lambda x: log_base(x, _LN2, 2),
    ps.Log10: lambda x: log_base(x, _LN10, 10),
    ps.Log1p: log1p,
    ps.Expm1: expm1,
    psm.Sigmoid: sigmoid,
    psm.Softplus: softplus,
    psm.Log1mexp: log1mexp,
    psm.Erf: _float32_kernel_or("Erf", erf),
    psm.Erfc: erfc,
    psm.Erfcx: erfcx,
}.items():
    register_formula(_op_class, _formula)

for _op_class, _formula in {
    psm.GammaLn: lgamma,
    psm.Gamma: gamma,
    psm.Psi: digamma,
    psm.TriGamma: trigamma,
}.items():
    register_formula(_op_class, _formula, float32_in_float64=True)


@onnx_funcify.register(ps.Angle)
def onnx_funcify_Angle(op, node, builder, inputs, **kwargs):
    # Of a real number (ONNX export has no complex dtypes): atan2(0, x), pi for x < 0 and
    # -0.0, else 0, NaN kept. PyTensor returns NumPy's angle, which is computed in the
    # input's float dtype (float16 for int8: pi rounded to 3.140625), upcast to float64.
    (inp,), out_dtype = node.inputs, node.outputs[0].dtype
    half_turn = float(np.angle(np.zeros((), dtype=inp.dtype)).dtype.type(np.pi))
    em = Emitter(builder, _compute_dtype(op, out_dtype, float32_in_float64=False))
    x = em.input(inputs[0], inp.dtype)
    angle = em.where(em.isnan(x), x, em.where(signbit(x), half_turn, 0.0))
    return builder.cast(angle.name, em.dtype, out_dtype)


# -- inverse error functions: an initial guess polished by Halley's method -------------------
# erfinv(p) = sum_k c_k / (2k + 1) (sqrt(pi) p / 2)^(2k + 1): six terms are within 1e-5 for
# |p| <= 0.49, and two Halley steps (cubic convergence) reach double precision.
_ERFINV_SERIES = [1.0, 1 / 3, 7 / 30, 127 / 630, 4369 / 22680, 34807 / 178200]
_ERFINV_CENTRAL = 0.49  # erfinv(0.49) = 0.4666 < 0.46875: erf is Cody's first rational there
# Abramowitz and Stegun 26.2.23: the normal quantile for p <= 1/2 within 4.5e-4.
_AS_NUM = [2.515517, 0.802853, 0.010328]
_AS_DEN = [1.0, 1.432788, 0.189269, 0.001308]
_SQRT_PI_2 = 0.886226925452758  # sqrt(pi) / 2
_SQRT2 = 1.4142135623730951


def _erfinv_central(p: Value) -> Value:
    """erfinv(p) for |p| <= 0.49: Halley on erf(y) - p (erf'' = -2y erf')."""
    em = p.em
    u = p * _SQRT_PI_2
    y = u * em.poly(u * u, _ERFINV_SERIES)
    for _ in range(2):
        f = _erf_small(y) - p
        slope = (2.0 * _INV_SQRT_PI) * em.exp(-(y * y))
        y = y - f / (slope + y * f)
    return y


def _erfcinv_tail(q: Value) -> Value:
    """erfcinv(q) for 0 <= q <= 0.51: Halley on log(erfc(y)) - log(q), with log(erfc(y)) =
    log(erfcx(y)) - y^2 so that nothing underflows down to q = 5e-324."""
    em = q.em
    log_q = em.log(q)
    t = em.sqrt(-2.0 * (log_q - _LN2))  # log(q / 2), which underflows for q = 5e-324
    y = (t - em.poly(t, _AS_NUM) / em.poly(t, _AS_DEN)) / _SQRT2
    for _ in range(2):
        scaled = erfcx(y)
        g = em.log(scaled) - y * y - log_q
        g1 = (-2.0 * _INV_SQRT_PI) / scaled  # d/dy log(erfc(y))
        g2 = -g1 * (2.0 * y + g1)
        y = y - 2.0 * g * g1 / (2.0 * g1 * g1 - g * g2)
    return em.where(q.eq(0.0), float("inf"), y)


def erfinv(x: Value) -> Value:
    em = x.em
    a = em.abs(x)
    tail = _erfcinv_tail(1.0 - a)  # 1 - a is exact for a >= 1/2
    tail = em.where(a > 1.0, float("nan"), em.where(x < 0.0, -tail, tail))
    central = em.where(x.eq(0.0), 0.0, _erfinv_central(x))  # SciPy's erfinv(-0.0) is 0.0
    return em.where(a > _ERFINV_CENTRAL, tail, central)


def erfcinv(q: Value) -> Value:
    # erfcinv(q) = -erfinv(q - 1) (exact for 0.5 <= q <= 2): -0.0 at q = 1, as in SciPy.
    em = q.em
    low = _erfcinv_tail(q)
    high = -_erfcinv_tail(2.0 - q)
    tails = em.where(q < 1.0, low, high)
    tails = em.where((q < 0.0) | (q > 2.0), float("nan"), tails)
    return em.where(em.abs(q - 1.0) > _ERFINV_CENTRAL, tails, -_erfinv_central(q - 1.0))


register_formula(psm.Erfinv, erfinv, float32_in_float64=True)
register_formula(psm.Erfcinv, erfcinv, float32_in_float64=True)


# -- modified Bessel functions of the first kind, orders 0 and 1 ------------------------------
# Below 20 the power series sum_k (x^2/4)^k / (k! (k + nu)!) (x/2)^nu, whose terms are all
# positive (36 terms: below 1e-17 relatively at 20); from 20 on Hankel's asymptotic series
# e^x / sqrt(2 pi x) sum_k (-1)^k prod_{j <= k} (4 nu^2 - (2j - 1)^2) / (8 j x) (27 terms:
# below 2e-17 at 20).
_BESSEL_I_SERIES_UPTO = 20.0


def _factorial(n: int) -> Fraction:
    result = Fraction(1)
    for k in range(2, n + 1):
        result *= k
    return result


# The series runs in t = x^2 / 512 (a power of 2: no rounding beyond x^2's, which I0's
# condition number ~ x/2 amplifies), so that its coefficients 128^k / (k! (k + nu)!) stay
# representable in float32 (see _SMALLEST_SAFE_CONSTANT); 1 / (35!)^2 would not.
_BESSEL_I_SCALE = 128


def _bessel_i_coefficients(nu: int):
    series = [float(_BESSEL_I_SCALE**k / (_factorial(k) * _factorial(k + nu))) for k in range(36)]
    asymptotic, term = [1.0], Fraction(1)
    for j in range(1, 27):
        term *= Fraction(-(4 * nu * nu - (2 * j - 1) ** 2), 8 * j)
        asymptotic.append(float(term))
    return series, asymptotic


_BESSEL_I0 = _bessel_i_coefficients(0)
_BESSEL_I1 = _bessel_i_coefficients(1)


def _bessel_i(x: Value, nu: int) -> Value:
    """I_nu(|x|) for nu = 0, 1."""
    em = x.em
    series_coefficients, asymptotic_coefficients = _BESSEL_I1 if nu else _BESSEL_I0
    a = em.abs(x)
    series = em.poly(a * a * (0.25 / _BESSEL_I_SCALE), series_coefficients)  # exact scaling
    if nu:
        series = 0.5 * a * series
    # e^a / sqrt(2 pi a) as e^(a/2) (e^(a/2) / sqrt(2 pi a)): finite up to I's own overflow
    half = em.exp(0.5 * a)
    scale = half * (half / em.sqrt(2.0 * _PI * a))
    asymptotic = scale * em.poly(em.node("Reciprocal", a), asymptotic_coefficients)
    result = em.where(a > _BESSEL_I_SERIES_UPTO, asymptotic, series)
    # (SciPy returns NaN at +-inf; the limits are inf, and -inf for I1(-inf).)
    return em.where(a.eq(float("inf")), a, result)


register_formula(psm.I0, lambda x: _bessel_i(x, 0), float32_in_float64=True)


def _bessel_i1(x: Value) -> Value:
    magnitude = _bessel_i(x, 1)
    return x.em.where(x < 0.0, -magnitude, magnitude)  # SciPy's i1(-0.0) is 0.0


register_formula(psm.I1, _bessel_i1, float32_in_float64=True)


# -- loops: ONNX Loop over whole tensors, each element stopping on its own -------------------
def emit_loop(builder, max_trips: str, stopped: str, carried, step, hint: str = "loop"):
    """Emit an ONNX Loop that updates elementwise state until every element has stopped.

    ``carried`` is a list of ``(name, dtype)`` of equally shaped tensors; ``stopped`` a bool
    tensor of their shape (True: the element's state is final). Each iteration calls
    ``step(iteration, stopped, names)`` with the iteration number (an int64 scalar) and the
    current state, which returns ``(stopped, names)``: the step keeps the values of elements
    that had stopped. The loop ends when all elements have stopped or after ``max_trips``
    iterations (an int64 scalar). Returns the final ``(stopped, names)``.
    """

    def any_running(stopped_name):
        # min over elements of `stopped` is 0 while one runs (and INT_MAX when empty)
        as_int = builder.cast(stopped_name, "bool", "int32")
        least = builder.add_node("ReduceMin", [as_int], keepdims=0)
        return builder.add_node("Equal", [least, builder.constant(np.int32(0))])

    def body(iteration, state):
        next_stopped, next_carried = step(iteration, state[0], state[1:])
        return any_running(next_stopped), [next_stopped, *next_carried], []

    results = builder.loop(
        max_trips, any_running(stopped), [(stopped, "bool"), *carried], body, hint=hint
    )
    return results[0], results[1:]


def broadcast_shape(builder, inputs) -> str:
    """The shape of an Elemwise node's output, from its inputs' shapes (all of one rank):
    the largest length of each axis, or 0 where an input has length 0 there."""
    shapes = [builder.add_node("Shape", [name]) for name in inputs]
    if len(shapes) == 1:
        return shapes[0]
    largest = builder.add_node("Max", shapes)
    nonempty = builder.add_node("Min", [builder.add_node("Min", shapes), builder.constant(1)])
    return builder.add_node("Mul", [largest, nonempty])


@onnx_funcify.register(ScalarLoop)
def onnx_funcify_ScalarLoop(op, node, builder, inputs, **kwargs):
    # PyTensor's loop, for each element: `for i in range(n_steps): state = f(state,
    # constants)`, and with an until condition `...; if until: break` (the last until is an
    # output). Here one ONNX Loop runs until every element is done (at most max(n_steps)
    # times), and elements that are done keep their state.
    n_steps, *rest = inputs
    n_update = len(op.fgraph.outputs) - int(op.is_while)
    init, constants = rest[:n_update], rest[n_update:]
    dtypes = [out.dtype for out in node.outputs]
    shape = broadcast_shape(builder, inputs)
    steps = builder.cast(n_steps, node.inputs[0].dtype, "int64")
    zero = builder.constant(np.int64(0))
    stopped = builder.add_node("Expand", [builder.add_node("LessOrEqual", [steps, zero]), shape])
    carried = [
        (builder.add_node("Expand", [builder.cast(name, inp.dtype, dtype), shape]), dtype)
        for name, inp, dtype in zip(init, node.inputs[1:], dtypes)
    ]
    if op.is_while:  # the until flag of the last iteration run (False if none ran)
        carried.append((builder.add_node("Expand", [builder.constant(False), shape]), "bool"))
    max_trips = builder.add_node("Max", [builder.add_node("ReduceMax", [steps], keepdims=0), zero])

    def step(iteration, stopped, state):
        stopped = builder.add_node(
            "Or", [stopped, builder.add_node("LessOrEqual", [steps, iteration])]
        )
        results = onnx_funcify_Composite(op, node, builder, [*state[:n_update], *constants])
        # The new state goes in Where's second branch, which keeps -0.0; a state of -0.0
        # frozen in the first branch (an element done before the last iteration) comes out
        # as 0.0 (see the module docstring).
        new_state = [
            where(builder, stopped, old, new, dtype)
            for old, new, dtype in zip(state, results, dtypes)
        ]
        if op.is_while:
            stopped = builder.add_node("Or", [stopped, results[-1]])
        return stopped, new_state

    _, final = emit_loop(builder, max_trips, stopped, carried, step, hint="scalar_loop")
    return final


def _formula_loop(em: Emitter, stopped: Value, state, step, max_trips: int, hint: str):
    """:func:`emit_loop` over Values of ``em``'s dtype: ``step(stopped, *state)`` returns
    ``(done, *new_state)``; elements already stopped keep their state. Returns the final
    ``(stopped, state)``: elements still running after ``max_trips`` did not converge."""
    builder = em.builder

    def body(iteration, stopped_name, names):
        stopped_ = Value(em, stopped_name, "bool")
        old = [Value(em, name, em.dtype) for name in names]
        done, *new = step(stopped_, *old)
        new = [em.where(stopped_, o, n) for o, n in zip(old, new)]
        return (stopped_ | done).name, [v.name for v in new]

    final_stopped, final = emit_loop(
        builder,
        builder.constant(np.int64(max_trips)),
        stopped.name,
        [(v.name, em.dtype) for v in state],
        body,
        hint=hint,
    )
    return Value(em, final_stopped, "bool"), [Value(em, name, em.dtype) for name in final]


# -- regularized incomplete gamma functions (Cephes' igam / igamc) ---------------------------
_MACHEP = 1.1102230246251565e-16
_BIG = 4.503599627370496e15
_BIGINV = 2.220446049250313e-16
_GAMMAINC_MAX_ITERATIONS = 20000
# -log1pmx(u) = u - log1p(u) = sum_{k >= 2} (-1)^k u^k / k, for |u| <= 1/4 (30 terms: 2e-19)
_LOG1PMX_SERIES = [(-1) ** k / k for k in range(2, 32)]


def _power_factor(a: Value, x: Value) -> Value:
    """x^a e^-x / Gamma(a), without the cancellation of a log(x) - x - lgamma(a) for large a:
    there it is sqrt(a / (2 pi)) exp(-a D(x/a) - S(a)), D(r) = r - 1 - log(r) and S Stirling's
    correction (Temme's form; SciPy's igam_fac is alike)."""
    em = a.em
    direct = em.exp(a * em.log(x) - x - lgamma(a))
    stirling = _stirling_series(a, _STIRLING_LGAMMA)
    deviation = _minus_log1pmx((x - a) / a, x / a)
    large = em.sqrt(a / (2.0 * _PI)) * em.exp(-(a * deviation + stirling))
    return em.where(a < _ASYMPTOTIC_FROM, direct, large)


def _minus_log1pmx(u: Value, one_plus_u: Value) -> Value:
    """u - log1p(u) (>= 0), without cancellation near u = 0. ``one_plus_u`` is 1 + u computed
    without forming u (a ratio): near u = -1, 1 + u would have lost u's low digits (x / a =
    0.001 from u = -0.999 keeps 13 of them), which a large multiplier a then shows."""
    em = u.em
    series = u * u * em.poly(u, _LOG1PMX_SERIES)
    return em.where(em.abs(u) <= 0.25, series, u - em.log(one_plus_u))


def _lgamma1p(a: Value) -> Value:
    """lgamma(1 + a), accurate for tiny a too: lgamma(2 + a) - log1p(a) for |a| <= 1/2."""
    em = a.em
    near_zero = a * em.poly(a, _LGAMMA_NEAR_2) - log1p(a)
    return em.where(em.abs(a) <= 0.5, near_zero, lgamma(1.0 + a))


def _gammainc_pq(a: Value, x: Value):
    """``(P, Q)``: the regularized lower and upper incomplete gamma functions.

    SciPy's (Cephes') choice of method, without its asymptotic series for large a near
    x = a: there the power series and the continued fraction just take more iterations (up
    to _GAMMAINC_MAX_ITERATIONS: a up to ~5e6 at x = a; beyond, the result is NaN).
    """
    em = a.em
    is_inf = em.node("IsInf", a) | em.node("IsInf", x)
    invalid = (x < 0.0) | (a < 0.0) | em.isnan(a) | em.isnan(x) | (a.eq(0.0) & x.eq(0.0))
    trivial = invalid | a.eq(0.0) | x.eq(0.0) | is_inf
    one = em.full_like(a + x, 1.0)
    zero = em.full_like(a + x, 0.0)
    # The method for Q (SciPy's igamc), and for P where x > max(1, a) (P = 1 - Q there):
    use_fraction = (x > 1.1) & (x >= a)
    q_series_at = em.where(x <= 0.5, -0.4 / em.log(x), x * 1.1)
    use_q_series = (x <= 1.1) & (q_series_at >= a)
    use_q = ((x > 1.0) & (x > a)) | ((x <= 1.0) & (use_fraction | use_q_series))

    # P = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a + 1) ... (a + n))
    def series_step(stopped, total, term, n):
        n = n + 1.0
        term = term * x / (a + n)
        total = total + term
        return term <= total * _MACHEP, total, term, n

    stopped, (total, _, _) = _formula_loop(
        em,
        trivial | use_q,
        [one, one, zero],
        series_step,
        _GAMMAINC_MAX_ITERATIONS,
        "gammainc_series",
    )
    p_series = em.where(stopped, _power_factor(a, x) / a * total, float("nan"))

    # Q = x^a e^-x / Gamma(a) times Legendre's continued fraction
    def fraction_step(stopped, c, y, z, pkm2, pkm1, qkm2, qkm1, ans):
        c, y, z = c + 1.0, y + 1.0, z + 2.0
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        nonzero = em.abs(qk) > 0.0
        r = pk / em.where(nonzero, qk, 1.0)
        change = em.where(nonzero, em.abs((ans - r) / r), 1.0)
        ans = em.where(nonzero, r, ans)
        rescale = em.where(em.abs(pk) > _BIG, _BIGINV, 1.0)
        pkm2, pkm1, qkm2, qkm1 = pkm1 * rescale, pk * rescale, qkm1 * rescale, qk * rescale
        return change <= _MACHEP, c, y, z, pkm2, pkm1, qkm2, qkm1, ans

    y0 = 1.0 - a
    z0 = x + y0 + 1.0
    state = [zero, y0 * one, z0 * one, one, (x + 1.0) * one, x * one, z0 * x * one]
    state.append((x + 1.0) / (z0 * x) * one)
    stopped, (*_, ans) = _formula_loop(
        em,
        trivial | ~use_fraction,
        state,
        fraction_step,
        _GAMMAINC_MAX_ITERATIONS,
        "gammaincc_fraction",
    )
    q_fraction = em.where(stopped, ans * _power_factor(a, x), float("nan"))

    # Q = 1 - x^a / Gamma(a + 1) - x^a / Gamma(a) sum_{n >= 1} (-x)^n / (n! (a + n)) (DLMF
    # 8.7.3), for x <= 1.1 and small a, where 1 - P would cancel.
    def q_series_step(stopped, total, factor, n):
        n = n + 1.0
        factor = factor * -x / n
        term = factor / (a + n)
        total = total + term
        return em.abs(term) <= em.abs(total) * _MACHEP, total, factor, n

    stopped, (total, _, _) = _formula_loop(
        em,
        trivial | ~use_q_series,
        [zero, one, zero],
        q_series_step,
        _GAMMAINC_MAX_ITERATIONS,
        "gammaincc_series",
    )
    log_x = em.log(x)
    q_series = -expm1(a * log_x - _lgamma1p(a)) - em.exp(a * log_x - lgamma(a)) * total
    q_series = em.where(stopped, q_series, float("nan"))

    q = em.where(use_fraction, q_fraction, em.where(use_q_series, q_series, 1.0 - p_series))
    p = em.where(use_q, 1.0 - q, p_series)
    # SciPy's special values: P(0, x > 0) = 1, P(a, 0) = 0, P(inf, x < inf) = 0,
    # P(a, inf) = 1; NaN for negative or NaN arguments, a = x = 0 and a = x = inf.
    limit_p = _select(
        em,
        [
            (invalid | (em.node("IsInf", a) & em.node("IsInf", x)), float("nan")),
            (a.eq(0.0) | em.node("IsInf", x), 1.0),
        ],
        em.where(x.eq(0.0) | em.node("IsInf", a), 0.0, p),
    )
    p = em.where(trivial, limit_p, p)
    q = em.where(trivial, 1.0 - limit_p, q)
    return p, q


register_formula(psm.GammaInc, lambda k, x: _gammainc_pq(k, x)[0], float32_in_float64=True)
register_formula(psm.GammaIncC, lambda k, x: _gammainc_pq(k, x)[1], float32_in_float64=True)
register_formula(psm.GammaL, lambda k, x: _gammainc_pq(k, x)[0] * gamma(k), float32_in_float64=True)
register_formula(psm.GammaU, lambda k, x: _gammainc_pq(k, x)[1] * gamma(k), float32_in_float64=True)


# -- polygamma: (-1)^(n+1) n! zeta(n + 1, x), Hurwitz's zeta as in Cephes -------------------
# (2j)! / B_2j, j = 1 ... 12: the Euler-Maclaurin correction terms' denominators.
_ZETA_EULER_MACLAURIN = [
    float(_factorial(2 * j) / b)
    for j, b in enumerate(
        _BERNOULLI
        + [Fraction(43867, 798), Fraction(-174611, 330), Fraction(854513, 138)]
        + [Fraction(-236364091, 2730)],
        1,
    )
]
_ZETA_MAX_TERMS = 100000  # the direct sum runs until q + i > 9: q down to -1e5


def hurwitz_zeta(s: Value, q: Value) -> Value:
    """zeta(s, q) for s > 1 (Cephes' zeta: a direct sum up to q + i > 9, then Euler-Maclaurin
    with up to 12 terms; q <= 0 needs an integer s)."""
    em = s.em
    first = em.node("Pow", q, -s)

    def step(stopped, a, i, b, total):
        i, a = i + 1.0, a + 1.0
        b = em.node("Pow", a, -s)
        total = total + b
        negligible = em.abs(b / total) < _MACHEP
        return negligible | ((i >= 9.0) & (a > 9.0)), a, i, b, total

    zero = em.full_like(first, 0.0)
    pole = (q <= 0.0) & em.floor(q).eq(q)  # and -inf
    decided = (s <= 1.0) | pole | (q > 1e8) | em.isnan(first)
    too_far = q < 10.0 - _ZETA_MAX_TERMS  # the sum would not reach q + i > 9: NaN
    converged, (a, _, b, total) = _formula_loop(
        em, decided | too_far, [q + zero, zero, first, first], step, _ZETA_MAX_TERMS, "zeta"
    )
    converged = converged & ~too_far
    # Cephes stops without the corrections where a term was negligible.
    negligible = em.abs(b / total) < _MACHEP
    skip = negligible
    w = a
    result = total + b * w / (s - 1.0) - 0.5 * b
    factor, k = zero + 1.0, 0.0
    for denominator in _ZETA_EULER_MACLAURIN:
        factor = factor * (s + k)
        b = b / w
        term = factor * b / denominator
        result = em.where(skip, result, result + term)
        skip = skip | (em.abs(term / result) < _MACHEP)
        k += 1.0
        factor = factor * (s + k)
        b = b / w
        k += 1.0
    result = em.where(converged, em.where(negligible, total, result), float("nan"))
    asymptotic = (1.0 / (s - 1.0) + 0.5 / q) * em.node("Pow", q, 1.0 - s)
    return _select(
        em,
        [
            (s < 1.0, float("nan")),
            (s.eq(1.0) | pole, float("inf")),
            (q > 1e8, asymptotic),
        ],
        result,
    )


def polygamma(n: Value, x: Value) -> Value:
    # SciPy's: digamma for n = 0, else (-1)^(n+1) Gamma(n + 1) zeta(n + 1, x) (NaN for n < 0).
    em = n.em
    odd = (n - 2.0 * em.floor(n * 0.5)).eq(1.0)
    sign = 1.0 - 2.0 * em.indicator(~odd)  # (-1)^(n+1)
    higher = sign * gamma(n + 1.0) * hurwitz_zeta(n + 1.0, x)
    return em.where(n.eq(0.0), digamma(x), higher)


register_formula(psm.PolyGamma, polygamma, float32_in_float64=True)


# -- regularized incomplete beta function ----------------------------------------------------
_BETAINC_MAX_ITERATIONS = 20000
_TINY = 1e-30  # Numerical Recipes' FPMIN


def _beta_power_factor(a: Value, b: Value, x: Value, y: Value, log_x: Value, log_y: Value) -> Value:
    """x^a y^b / B(a, b) with y = 1 - x: for a, b >= 10 without the cancellation of the
    log-gammas, as sqrt(a b / (2 pi (a + b))) exp(-a D(u) - b D(v) - S(a) - S(b) + S(a + b))
    with u = x (a + b) / a - 1, v = -u a / b, D(u) = u - log1p(u) and S Stirling's
    correction."""
    em = a.em
    # log B(a, b) = lgamma(small) + lgamma(large) - lgamma(small + large), the last two by
    # Stirling's series when large >= 10, as -(large - 1/2) log1p(small / large)
    # - small log(small + large) + small - S(small + large) + S(large): no cancellation.
    small, large = em.node("Min", a, b), em.node("Max", a, b)
    ratio = (large - 0.5) * log1p(small / large) + small * em.log(small + large) - small
    ratio = ratio + _stirling_series(small + large, _STIRLING_LGAMMA)
    ratio = ratio - _stirling_series(large, _STIRLING_LGAMMA)
    log_beta = lgamma(small) + em.where(
        large >= _ASYMPTOTIC_FROM, -ratio, lgamma(large) - lgamma(small + large)
    )
    direct = em.exp(a * log_x + b * log_y - log_beta)
    u = (x * b - (1.0 - x) * a) / a
    v = -u * a / b
    total = a + b
    one_plus_u, one_plus_v = x * total / a, y * total / b
    corrections = (
        _stirling_series(a, _STIRLING_LGAMMA)
        + _stirling_series(b, _STIRLING_LGAMMA)
        - _stirling_series(a + b, _STIRLING_LGAMMA)
    )
    exponent = a * _minus_log1pmx(u, one_plus_u) + b * _minus_log1pmx(v, one_plus_v)
    exponent = exponent + corrections
    both = em.sqrt(a * b / (2.0 * _PI * (a + b))) * em.exp(-exponent)
    return em.where(small >= _ASYMPTOTIC_FROM, both, direct)


def betainc(a: Value, b: Value, x: Value) -> Value:
    """I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) times a continued fraction (modified Lentz,
    as Numerical Recipes' betacf), on the side of the mean where it converges fast:
    I_x(a, b) = 1 - I_(1-x)(b, a) past x = (a + 1) / (a + b + 2)."""
    em = a.em
    swap = x > (a + 1.0) / (a + b + 2.0)
    p, q = em.where(swap, b, a), em.where(swap, a, b)
    z, w = em.where(swap, 1.0 - x, x), em.where(swap, x, 1.0 - x)
    log_z = em.where(swap, log1p(-x), em.log(x))
    log_w = em.where(swap, em.log(x), log1p(-x))
    invalid = (a < 0.0) | (b < 0.0) | (x < 0.0) | (x > 1.0) | (a.eq(0.0) & b.eq(0.0))
    invalid = invalid | em.isnan(a + b + x) | (em.node("IsInf", a) & em.node("IsInf", b))
    decided = invalid | x.eq(0.0) | x.eq(1.0) | a.eq(0.0) | b.eq(0.0)
    decided = decided | em.node("IsInf", a) | em.node("IsInf", b)

    def guard(v):
        return em.where(em.abs(v) < _TINY, _TINY, v)

    def step(stopped, c, d, h, m):
        m = m + 1.0
        m2 = m + m
        for numerator, denominator in [
            (m * (q - m) * z, (p - 1.0 + m2) * (p + m2)),
            (-(p + m) * (p + q + m) * z, (p + m2) * (p + 1.0 + m2)),
        ]:
            coefficient = numerator / denominator
            d = em.node("Reciprocal", guard(1.0 + coefficient * d))
            c = guard(1.0 + coefficient / c)
            factor = d * c
            h = h * factor
        return em.abs(factor - 1.0) <= 3.0 * _MACHEP, c, d, h, m

    one = em.full_like(a + b + x, 1.0)
    d0 = em.node("Reciprocal", guard(1.0 - (p + q) * z / (p + 1.0)))
    converged, (_, _, h, _) = _formula_loop(
        em,
        decided,
        [one, d0 * one, d0 * one, 0.0 * one],
        step,
        _BETAINC_MAX_ITERATIONS,
        "betainc_fraction",
    )
    r = _beta_power_factor(p, q, z, w, log_z, log_w) / p * h
    result = em.where(converged, em.where(swap, 1.0 - r, r), float("nan"))
    # SciPy's special values: 0 at x = 0, b = 0 or a = inf; 1 at x = 1, a = 0 or b = inf.
    zero_at = x.eq(0.0) | ((b.eq(0.0) | em.node("IsInf", a)) & (x < 1.0))
    return _select(em, [(invalid, float("nan")), (zero_at, 0.0), (decided, 1.0)], result)


register_formula(psm.BetaInc, betainc, float32_in_float64=True)


# -- inverse incomplete gamma functions: a guess polished by safeguarded Newton -------------
_INVERSE_MAX_ITERATIONS = 100
# Steps in log(x) below this end the iteration (after being applied): the forward functions'
# rounding moves g by a few ulps of x per ulp of x near steep roots, so steps of several ulps
# can alternate there.
_INVERSE_TOLERANCE = 16.0 * _MACHEP
_LOG_SMALLEST_SUBNORMAL = -744.4400719213812
# The forward functions are accurate to ~1e-15 relatively, and log(F) - log(target) rounds
# at ~1e-16 |log(target)|: a residual below this tolerance times max(1, |log(target)|) is
# noise, and the step taken from it (applied) is the last.
_INVERSE_RESIDUAL_TOLERANCE = 1e-14


def _newton_in_log(em: Emitter, decided: Value, x0: Value, upper: Value, residual, noise, hint):
    """Solve ``residual(x) = (g, dg/du) = 0`` for x > 0, u = log(x), every element on its
    own: Newton steps in u kept inside a bracket (bisected in u where a step leaves it; g
    increases in u), until the step is below a few ulps or |g| below ``noise`` (its
    rounding level). The bracket starts as (0, ``upper``). Returns ``(x, converged)``.

    The state is x itself, updated by the factor exp(-g / slope): u = log(x) would carry
    only the absolute precision of |u| (1e-13 relatively at x = 1e-300).
    """
    low0 = em.full_like(x0, float("-inf"))
    high0 = em.log(upper) + em.full_like(x0, 0.0)

    def step(stopped, x, low, high):
        g, slope = residual(x)
        u = em.log(x)
        # g increases in u: the root is below u where g > 0.
        high = em.where(g > 0.0, u, high)
        low = em.where(g < 0.0, u, low)
        # Steps that would underflow x go halfway to the smallest subnormal number only.
        du = em.node("Max", -g / slope, 0.5 * (_LOG_SMALLEST_SUBNORMAL - u))
        candidate = u + du
        outside = (candidate < low) | (candidate > high) | em.isnan(candidate)
        # Where the step leaves the bracket (or g is infinite: the forward function
        # underflowed), halve the way to the end of the bracket the root is towards, or
        # move by 1 + |u| / 2 if that end is infinite.
        end = em.where(g > 0.0, low, high)
        jump = u + em.where(g > 0.0, -1.0, 1.0) * (1.0 + 0.5 * em.abs(u))
        fallback = em.where(em.node("IsInf", end), jump, 0.5 * (u + end))
        x_new = em.where(outside, em.exp(fallback), x * em.exp(du))
        finite = em.abs(g) < float("inf")
        small = (em.abs(g) <= noise) | (em.abs(du) <= _INVERSE_TOLERANCE)
        stuck = x_new.eq(x)  # subnormal x: the factor exp(du) rounds away
        # Rounding noise in g above ``noise`` can make the steps alternate between
        # neighbours: the bracket then closes to a few ulps of u.
        stuck = stuck | ((high - low) <= _INVERSE_TOLERANCE * em.node("Max", em.abs(u), 1.0))
        return finite & (small | stuck), em.where(g.eq(0.0), x, x_new), low, high

    converged, (x, _, _) = _formula_loop(
        em, decided, [x0, low0, high0], step, _INVERSE_MAX_ITERATIONS, hint
    )
    return x, converged


def _normal_quantile(p: Value, q: Value) -> Value:
    """The standard normal quantile of p = 1 - q, from the smaller of the two."""
    em = p.em
    return em.where(p <= 0.5, -_SQRT2 * erfcinv(2.0 * p), _SQRT2 * erfcinv(2.0 * q))


def _gammainc_inverse(a: Value, target: Value, lower: bool) -> Value:
    """x with P(a, x) = target (``lower``) or Q(a, x) = target."""
    em = a.em
    p = target if lower else 1.0 - target
    q = 1.0 - target if lower else target
    # Solve on the side of the smaller probability: log(P) or -log(Q) increases in log(x).
    use_p = p <= 0.5
    log_t = em.log(em.where(use_p, p, q))
    # Initial guesses: Wilson-Hilferty for a >= 1 away from 0; x^a / Gamma(a + 1) = p near
    # 0; x - (a - 1) log(x) + lgamma(a) = -log(q) in the upper tail.
    z = _normal_quantile(p, q)
    cube = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * em.sqrt(a))
    wilson_hilferty = a * cube * cube * cube
    near_zero = em.exp((em.log(p) + _lgamma1p(a)) / a)
    first = em.node("Max", -em.log(q) - lgamma(a), 1.0)
    tail = -em.log(q) - lgamma(a) + (a - 1.0) * em.log(first)
    guess = em.where(use_p, near_zero, tail)
    guess = em.where((a >= 1.0) & (wilson_hilferty > 0.0), wilson_hilferty, guess)
    guess = em.where((guess > 0.0) & (guess < float("inf")), guess, em.full_like(guess, 1.0))
    guess = em.where(use_p & (near_zero < guess), near_zero, guess)

    invalid = em.isnan(a + target) | (a <= 0.0) | em.node("IsInf", a)
    invalid = invalid | (target < 0.0) | (target > 1.0)
    decided = invalid | p.eq(0.0) | q.eq(0.0) | (near_zero.eq(0.0) & use_p)

    def residual(x):
        pp, qq = _gammainc_pq(a, x)
        factor = _power_factor(a, x)  # x dP/dx
        # For x < a / 2 the factor's Stirling form (a >= 10) loses to the rounding of
        # (x - a) / a; its direct form does not cancel there: correct log(P) by the ratio.
        log_factor = em.log(factor)
        direct = a * em.log(x) - x - lgamma(a)
        fix = em.where((x < 0.5 * a) & (factor > 0.0), direct - log_factor, 0.0)
        log_p = em.log(pp) + fix
        # Where that form underflowed, x < a eps: P = x^a e^-x / Gamma(a + 1) exactly.
        lost = (x < 0.5 * a) & factor.eq(0.0)
        log_p = em.where(lost, direct - em.log(a), log_p)
        g = em.where(use_p, log_p - log_t, log_t - em.log(qq))
        slope_p = em.where(lost, a, factor / pp)
        return g, em.where(use_p, slope_p, factor / qq)

    noise = _INVERSE_RESIDUAL_TOLERANCE * em.node("Max", em.abs(log_t), 1.0)
    upper = em.full_like(guess, float("inf"))
    x, converged = _newton_in_log(em, decided, guess, upper, residual, noise, "gammaincinv")
    x = em.where(converged, x, float("nan"))
    return _select(
        em,
        [(invalid, float("nan")), (p.eq(0.0) | (near_zero.eq(0.0) & use_p), 0.0)],
        em.where(q.eq(0.0), float("inf"), x),
    )


register_formula(
    psm.GammaIncInv, lambda a, p: _gammainc_inverse(a, p, lower=True), float32_in_float64=True
)
register_formula(
    psm.GammaIncCInv, lambda a, q: _gammainc_inverse(a, q, lower=False), float32_in_float64=True
)


# -- inverse regularized incomplete beta function ------------------------------------------
# Below this x, 1 - x rounds off too much of x: 1 - I_x(a, b) is taken as such there rather
# than as I_(1-x)(b, a).
_BETAINCINV_COMPLEMENT_BELOW = 1e-3


def _betaincinv_guess(a: Value, b: Value, y: Value) -> Value:
    """Numerical Recipes' initial guess (invbetai): Abramowitz and Stegun 26.5.22 for a, b >=
    1, else the power laws of the two ends, x^a / (a B) and (1 - x)^b / (b B)."""
    em = a.em
    # A&S 26.5.22 with the normal quantile z of y (within 1e-9 from erfcinv).
    z = _normal_quantile(y, 1.0 - y)
    lam = (z * z - 3.0) / 6.0
    h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0))
    w = -z * em.sqrt(lam + h) / h - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (
        lam + 5.0 / 6.0 - 2.0 / (3.0 * h)
    )
    normal = a / (a + b * em.exp(2.0 * w))
    log_ab = em.log(a + b)
    t = em.exp(a * (em.log(a) - log_ab)) / a
    u = em.exp(b * (em.log(b) - log_ab)) / b
    total = t + u
    near_zero = em.exp(em.log(a * total * y) / a)
    near_one = 1.0 - em.exp(em.log(b * total * (1.0 - y)) / b)
    ends = em.where(y < t / total, near_zero, near_one)
    # (The normal approximation fails in the far tails: exp(2 w) overflows.)
    normal_fits = (a >= 1.0) & (b >= 1.0) & (normal > 0.0) & (normal < 1.0)
    guess = em.where(normal_fits, normal, ends)
    inside = (guess > 0.0) & (guess < 1.0)
    return em.where(inside, guess, em.full_like(guess, 0.5))


def betaincinv(a: Value, b: Value, y: Value) -> Value:
    em = a.em
    # Solve on the side of the smaller probability: log(I) - log(y) or
    # log(1 - y) - log(1 - I), both increasing in log(x).
    upper = y > 0.5
    log_t = em.where(upper, log1p(-y), em.log(y))
    invalid = (a <= 0.0) | (b <= 0.0) | (y < 0.0) | (y > 1.0) | em.isnan(a + b + y)
    invalid = invalid | (em.node("IsInf", a) & em.node("IsInf", b))
    decided = invalid | y.eq(0.0) | y.eq(1.0) | em.node("IsInf", a) | em.node("IsInf", b)

    def residual(x):
        complement = upper & (x >= _BETAINCINV_COMPLEMENT_BELOW)
        p, q = em.where(complement, b, a), em.where(complement, a, b)
        z, w = em.where(complement, 1.0 - x, x), em.where(complement, x, 1.0 - x)
        log_z = em.where(complement, log1p(-x), em.log(x))
        log_w = em.where(complement, em.log(x), log1p(-x))
        r = betainc(p, q, z)
        # Far below the mean the power factor (p, q >= 10) underflows before I does, where
        # z (p + q) / p < eps: the continued fraction is 1 + z (p + q) / (p + 1) there.
        log_r = em.log(r)
        used = _beta_power_factor(p, q, z, w, log_z, log_w)
        direct = p * log_z + q * log_w - (lgamma(p) + lgamma(q) - lgamma(p + q))
        far = (em.node("Min", p, q) >= _ASYMPTOTIC_FROM) & (z < 0.5 * p / (p + q))
        lost = far & used.eq(0.0)
        log_r = em.where(lost, direct - em.log(p) + log1p(z * (p + q) / (p + 1.0)), log_r)
        f = em.where(upper & ~complement, 1.0 - r, r)
        log_f = em.where(upper & ~complement, em.log(f), log_r)
        g = em.where(upper, log_t - log_f, log_f - log_t)
        factor = _beta_power_factor(a, b, x, 1.0 - x, em.log(x), log1p(-x))  # x (1 - x) dI/dx
        # (log I = a log(x) + const where the factor underflowed with x.)
        return g, em.where(lost & ~complement, a, factor / ((1.0 - x) * f))

    noise = _INVERSE_RESIDUAL_TOLERANCE * em.node("Max", em.abs(log_t), 1.0)
    guess = _betaincinv_guess(a, b, y)
    x, converged = _newton_in_log(
        em, decided, guess, em.full_like(guess, 1.0), residual, noise, "betaincinv"
    )
    x = em.where(converged, x, float("nan"))
    # SciPy's limits: 0 at y = 0 or b = inf, 1 at y = 1 or a = inf.
    return _select(
        em,
        [
            (invalid, float("nan")),
            (y.eq(0.0) | em.node("IsInf", b), 0.0),
            (y.eq(1.0) | em.node("IsInf", a), 1.0),
        ],
        x,
    )


register_formula(psm.BetaIncInv, betaincinv, float32_in_float64=True)
