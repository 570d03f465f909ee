"""Owen's T function and the Gauss hypergeometric function 2F1, as ONNX formulas.

Both are built with the formula DSL of :mod:`pytensor_onnx.dispatch.scalar_math` and compute
float32 in float64.

Owen's T, T(h, a) = 1/(2 pi) int_0^a exp(-h^2 (1 + x^2) / 2) / (1 + x^2) dx. SciPy follows
Patefield and Tandy (2000), who pick one of six methods (T1 ... T6) by the region of (h, a)
so that scalar code does the least work. ONNX evaluates every branch for every element, so
one method that is accurate everywhere is cheaper than six: their T5, Gauss-Legendre
quadrature, made uniform here. For 0 <= a <= 1 the integrand
exp(-h^2 x^2 / 2) / (1 + x^2) is smooth on [0, a] (its poles +-i are at least 1 away) and,
once its Gaussian factor is narrow (h a > 9), negligible beyond x = 9 / h (below 5e-19 of the
integral), so the integral is taken over [0, min(a, 9 / h)] with 48 Gauss-Legendre points,
whose scaled Gaussian exp(-(h b)^2 t^2 / 2), h b <= 9, they integrate to below 1e-20. The
factor exp(-h^2 / 2) is taken out and computed without rounding h^2, so the tails keep their
relative accuracy down to the underflow at h ~ 38.6. For a > 1 Owen's identity (Patefield and
Tandy's equation 2) T(h, a) = [Q(h) + Q(ah)] / 2 - Q(h) Q(ah) - T(ah, 1/a), with Q the upper
normal tail, maps back to a < 1; its terms are all non-negative except Q(ah) / 2 - T(ah, 1/a)
(>= Q(ah)^2 / 2), which the others dominate, and Q(x) = exp(-x^2 / 2) erfcx(x / sqrt 2) / 2
uses the same exponential as the quadrature, so rounding ah cancels out of the result to first
order. Measured against mpmath: 1e-14 relative in float64 (SciPy's own method T2 is 2e-12 off
near h = 6, a = 1e-5).

2F1(a, b; c; z) is SciPy's (Cephes') patchwork reduced to what one power series covers: the
Gauss series, run as one ONNX ``Loop`` until each element's remainder is below half an ulp
(at most 20000 terms), on z itself for -1/2 <= z < 1, on z / (z - 1) after Pfaff's
transformation for z < -1/2, after Euler's for 0 < z < 1 where c - a - b <= -1, and as the
polynomial it is where a or b is a non-positive integer (any z). Closed forms: 1 at z = 0 or
a = 0 or b = 0, (1 - z)^-b where c = a (SciPy's shortcut), Gauss's sum at z = 1, inf where
SciPy signals divergence (z > 1, z = 1 with c - a - b <= 0, c a non-positive integer before
the series ends). Accuracy against mpmath: 1e-14 relative for |a|, |b| <= 3, 0 < c <= 8 and
-1 <= z <= 0.95, 1e-13 down to z = -60. Limits (tests/test_scalar_special.py): the series'
terms cancel for larger |a|, |b| or negative c (1e-11 at |a|, |b| <= 6; 1e-9 for z < -1,
where SciPy's 1/z transformation keeps 5e-12); NaN where the series has not converged in
20000 terms (z in (0.998, 1) without Euler's polynomial, z < -500), for infinite z or
parameters; inf for c = b a non-positive integer, where SciPy sums the truncated series.
"""

from __future__ import annotations

import numpy as np
import pytensor.scalar.math as psm

from pytensor_onnx.dispatch.scalar_math import (
    _MACHEP,
    Value,
    _formula_loop,
    _select,
    erfcx,
    gamma,
    register_formula,
)

# -- Owen's T -------------------------------------------------------------------------------
_OWENS_T_POINTS = 48
_nodes, _weights = np.polynomial.legendre.leggauss(_OWENS_T_POINTS)
# The integrand is even in t: the positive nodes of the rule on [-1, 1] give int_0^1.
_OWENS_T_NODES = _nodes[_nodes > 0]
_OWENS_T_WEIGHTS = _weights[_nodes > 0] / (2.0 * np.pi)
# Integrate up to x = _OWENS_T_CUTOFF / h at most (see the module docstring).
_OWENS_T_CUTOFF = 9.0
# exp(-h^2 / 2) is 0 in float64 from here on; h is clamped to it so that inf * 0 never occurs.
_OWENS_T_H_MAX = 40.0
_INV_SQRT2 = 0.7071067811865476


def _clamp_above(x: Value, limit: float) -> Value:
    """min(x, limit), NaN kept."""
    return x.em.where(x > limit, limit, x)


def _exp_minus_half_square(x: Value) -> Value:
    """exp(-x^2 / 2) for 0 <= x <= 40, without the rounding error of x^2: x^2 = hi^2 +
    (x - hi)(x + hi) with hi = floor(16 x) / 16, whose square is exact (a rounded x^2 errs by
    up to 1.3e-13 relatively at x = 38)."""
    em = x.em
    hi = em.floor(x * 16.0) * 0.0625
    lo = (x - hi) * (x + hi)
    return em.exp(-0.5 * (hi * hi)) * em.exp(-0.5 * lo)


def _normal_tail(x: Value) -> Value:
    """Q(x) = erfc(x / sqrt 2) / 2 for 0 <= x <= 40, relatively accurate in the tail."""
    return 0.5 * _exp_minus_half_square(x) * erfcx(x * _INV_SQRT2)


def _along_nodes(value: Value) -> Value:
    """``value`` with a trailing axis of length 1, to broadcast against the nodes."""
    builder = value.em.builder
    axes = builder.constant(np.array([-1], dtype=np.int64))
    return Value(value.em, builder.add_node("Unsqueeze", [value.name, axes]), value.dtype)


def _sum_over_nodes(value: Value) -> Value:
    builder = value.em.builder
    axes = builder.constant(np.array([-1], dtype=np.int64))
    return Value(
        value.em, builder.add_node("ReduceSum", [value.name, axes], keepdims=0), value.dtype
    )


def _owens_t_quadrature(h: Value, a: Value) -> Value:
    """T(h, a) for 0 <= h <= 40 and 0 <= a <= 1."""
    em = h.em
    b = em.node("Min", a, _OWENS_T_CUTOFF / h)  # a where h = 0 (9 / 0 = inf)
    x = _along_nodes(b) * em.const(_OWENS_T_NODES)
    hx = _along_nodes(h) * x
    terms = em.const(_OWENS_T_WEIGHTS) * em.exp(-0.5 * (hx * hx)) / (1.0 + x * x)
    return _exp_minus_half_square(h) * (b * _sum_over_nodes(terms))


def owens_t(h: Value, a: Value) -> Value:
    # T(-h, a) = T(h, a) and T(h, -a) = -T(h, a); SciPy's T(h, -0.0) is +0.0.
    em = h.em
    h = _clamp_above(em.abs(h), _OWENS_T_H_MAX)
    abs_a = em.abs(a)
    below_1 = abs_a <= 1.0
    direct = _owens_t_quadrature(h, em.where(below_1, abs_a, 1.0))
    above = em.where(below_1, 1.0, abs_a)
    ah = _clamp_above(above * h, _OWENS_T_H_MAX)  # NaN for a = inf, h = 0: replaced below
    q_h, q_ah = _normal_tail(h), _normal_tail(ah)
    reduced = 0.5 * q_h + 0.5 * q_ah - q_h * q_ah - _owens_t_quadrature(ah, 1.0 / above)
    result = em.where(below_1, direct, reduced)
    result = em.where(em.node("IsInf", a), 0.5 * q_h, result)  # T(h, inf) = Q(h) / 2
    return result * em.where(a < 0.0, -1.0, 1.0)


register_formula(psm.Owens_t, owens_t, float32_in_float64=True)


# -- the Gauss hypergeometric function 2F1 ----------------------------------------------------
# Every element runs its power series until the remainder is negligible; these many terms
# reach a ratio |x| of 0.998 (the Pfaff argument of z = -500), or polynomials of this degree.
_HYP2F1_MAX_TERMS = 20000


def _is_nonpositive_integer(x: Value) -> Value:
    return (x <= 0.0) & x.em.round(x).eq(x)


def _hyp2f1_series(decided: Value, p: Value, q: Value, r: Value, x: Value):
    """``(sum, converged)`` of sum_k (p)_k (q)_k / ((r)_k k!) x^k.

    An element stops when its term is 0 (a polynomial ended) or when the remainder is below
    half an ulp of the sum: with R >= the ratio of the coming terms (the ratio of the next
    term, at least |x|, its limit, and < 1) and k past every sign change of p + k, q + k,
    r + k, the remainder is below |term| R / (1 - R).
    """
    em = p.em
    abs_x = em.abs(x)
    start = em.node("Max", em.node("Max", -p, -q), em.node("Max", -r, 0.0))

    def step(stopped, total, term, k):
        term = term * ((p + k) * (q + k) / ((r + k) * (k + 1.0)) * x)
        total = total + term
        k = k + 1.0
        ratio = em.abs((p + k) * (q + k) / ((r + k) * (k + 1.0))) * abs_x
        ratio = em.node("Max", ratio, abs_x)
        small = em.abs(term) * ratio <= _MACHEP * em.abs(total) * (1.0 - ratio)
        done = term.eq(0.0) | ((k > start) & (ratio < 1.0) & small)
        return done, total, term, k

    one = em.full_like(p + q + r + x, 1.0)
    converged, (total, _, _) = _formula_loop(
        em, decided, [one, one, 0.0 * one], step, _HYP2F1_MAX_TERMS, "hyp2f1_series"
    )
    return total, converged


def hyp2f1(a: Value, b: Value, c: Value, z: Value) -> Value:
    em = a.em
    nan_or_inf = em.node("IsInf", a + b + c) | em.isnan(a + b + c)
    a_poly, b_poly = _is_nonpositive_integer(a), _is_nonpositive_integer(b)
    polynomial = a_poly | b_poly
    # The polynomial's degree -a (or -b): the series ends before its denominator (c)_k
    # reaches 0 where c > a (c a non-positive integer); otherwise 2F1 is infinite there.
    degree = em.node("Min", em.where(a_poly, -a, float("inf")), em.where(b_poly, -b, float("inf")))
    c_pole = _is_nonpositive_integer(c) & ~(degree < -c)
    trivial = z.eq(0.0) | ((a.eq(0.0) | b.eq(0.0)) & ~c.eq(0.0))
    d = c - a - b
    # Away from polynomials: Pfaff's transformation for z < -1/2, 2F1(a, b; c; z) =
    # (1 - z)^-a 2F1(a, c - b; c; z / (z - 1)) (a and b swapped if |a| >= |b|, as SciPy), and
    # Euler's for 0 < z < 1 where c - a - b <= -1, 2F1 = (1 - z)^d 2F1(c - a, c - b; c; z),
    # whose terms decay rather than grow.
    pfaff = (z < -0.5) & ~polynomial
    euler = (z > 0.0) & (z < 1.0) & (d <= -1.0) & ~polynomial
    swap = em.abs(a) >= em.abs(b)
    first, second = em.where(swap, b, a), em.where(swap, a, b)
    p = _select(em, [(pfaff, first), (euler, c - a)], a)
    q = _select(em, [(pfaff, c - second), (euler, c - b)], b)
    x = em.where(pfaff, z / (z - 1.0), z)
    one_minus_z = 1.0 - z
    factor = _select(
        em,
        [(pfaff, em.node("Pow", one_minus_z, -first)), (euler, em.node("Pow", one_minus_z, d))],
        em.full_like(z, 1.0),
    )
    # At z = 1, Gauss's sum Gamma(c) Gamma(d) / (Gamma(c - a) Gamma(c - b)) where d > 0 (0
    # where c - a or c - b is a pole of Gamma); past z = 1, or at z = 1 where d <= 0, the
    # series diverges (2F1 is complex or infinite there: SciPy returns inf).
    at_1 = z.eq(1.0) & (d > 0.0) & ~polynomial
    denominator = gamma(c - a) * gamma(c - b)
    gauss = em.where(_is_nonpositive_integer(c - a) | _is_nonpositive_integer(c - b), 0.0, 1.0)
    gauss = gauss * (gamma(c) * gamma(d) / denominator)
    # 2F1(a, b; a; z) = (1 - z)^-b, as SciPy takes it (for z > 1 too, where real; not for
    # polynomials past z = 1, nor for c = b a non-positive integer, whose series has 0 / 0).
    power = (c.eq(a) | (c.eq(b) & ~b_poly)) & ((z < 1.0) | ~polynomial)
    power_value = em.node("Pow", one_minus_z, -em.where(c.eq(a), b, a))
    power_value = em.where(em.isnan(power_value), float("inf"), power_value)
    diverges = (z >= 1.0) & ~polynomial & ~at_1
    decided = (
        trivial | power | c_pole | diverges | at_1 | nan_or_inf | em.isnan(z) | em.node("IsInf", z)
    )
    total, converged = _hyp2f1_series(decided, p, q, c, x)
    result = em.where(converged, factor * total, float("nan"))
    return _select(
        em,
        [
            (trivial, 1.0),
            (em.isnan(z) | nan_or_inf | em.node("IsInf", z), float("nan")),
            (power, power_value),
            (c_pole | diverges, float("inf")),
            (at_1, gauss),
        ],
        result,
    )


register_formula(psm.Hyp2F1, hyp2f1, float32_in_float64=True)
