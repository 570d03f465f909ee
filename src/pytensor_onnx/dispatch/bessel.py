"""Bessel functions J0, J1, Jv and the scaled modified Bessel functions Ive, Kve.

ONNX has no Bessel operator: these are built from arithmetic, Exp, Log, Sqrt, Where, Loop
and Sin/Cos of reduced arguments, with the formula DSL of :mod:`scalar_math` (float32 is
computed in float64). The methods:

- J0, J1: below 8, the function with its zeros there factored out, ``J0(x) = (x^2 -
  j01^2)(x^2 - j02^2) R(x^2)``, the factors as ``(x - j_hi - j_lo)(x + j)`` (exact
  subtraction: relative accuracy next to the zeros) and R a Chebyshev series. Above 8,
  Hankel's form ``J = sqrt(2 / (pi x)) (P cos(chi) - Q sin(chi))``, P and Q Chebyshev series
  in 1/x up to 20 and Hankel's asymptotic series beyond; cos(chi) and sin(chi) are expanded
  in sin(x) and cos(x) computed from an exact Cody-Waite reduction. The coefficients were
  computed with mpmath (Chebyshev interpolation at 40 digits).
- Ive, Kve: Temme's method as in Numerical Recipes' ``bessik`` (Temme's series for K at
  x <= 2, Steed's continued fraction CF2 above, CF1 and the Wronskian for I, recurrences in
  the order), with the power series of I for small x (x <= 2 or x^2 <= 4 (nu + 1)) and
  Hankel's asymptotic series for x >= 25 with nu^2 <= 2 x. Negative orders: K_-nu = K_nu,
  I_-nu = I_nu + (2/pi) sin(pi nu) K_nu.
- Jv: power series, Hankel's series, Hankel's series at the orders mu, mu + 1 with the
  forward recurrence, NR's ``bessjy`` (see :func:`jv`).

Continued fractions and recurrences run as ONNX Loops over whole tensors (each element stops
on its own) for at most 20000 steps: results that would need more (orders above ~2e4 outside
the series and Hankel domains) are NaN. Relative accuracy against mpmath (tests/test_bessel.py
states each): ~1e-15 for J0/J1 (and near their zeros below 8; absolute ~2e-16 of the
envelope next to the zeros above 8), a few 1e-15 for Ive/Kve of moderate order (~1e-16 per
step of recurrence, and ~1e-16 |mu log(2/x)| for K at tiny x), ~1e-14 of the envelope for Jv.
"""

from __future__ import annotations

from fractions import Fraction

import pytensor.scalar.math as psm

from pytensor_onnx.dispatch.scalar_math import (
    _MACHEP,
    _NATIVE_SINCOS_FROM,
    _PI,
    Value,
    _formula_loop,
    _reduce_half_pi,
    _select,
    _sign_factor,
    cosh,
    gamma,
    lgamma,
    register_formula,
    sinh,
    sinpi_cospi,
)

_SQRT_PI = 1.7724538509055159


# -- shared helpers ----------------------------------------------------------------------------
def chebyshev(t: Value, coefficients) -> Value:
    """``sum_k c_k T_k(t)`` by Clenshaw's recurrence (stable for |t| <= 1)."""
    t2 = t + t
    b1, b2 = t2 * float(coefficients[-1]) + float(coefficients[-2]), float(coefficients[-1])
    for c in reversed(coefficients[1:-2]):
        b1, b2 = t2 * b1 - b2 + float(c), b1
    return t * b1 - b2 + float(coefficients[0])


def sin_cos(x: Value):
    """Float64 ``(sin(x), cos(x))`` from one Cody-Waite reduction, accurate near their zeros
    (as :func:`scalar_math.sin_or_cos`)."""
    em = x.em
    r, q = _reduce_half_pi(x)
    sin_r, cos_r = em.sin(r), em.cos(r)
    odd = q.eq(1.0) | q.eq(3.0)
    sin_ = em.where(odd, cos_r, sin_r) * _sign_factor(em, q >= 2.0)
    cos_ = em.where(odd, sin_r, cos_r) * _sign_factor(em, q.eq(1.0) | q.eq(2.0))
    native = em.abs(x) > _NATIVE_SINCOS_FROM
    return em.where(native, em.sin(x), sin_), em.where(native, em.cos(x), cos_)


def _hankel_coefficients(nu: int, n_terms: int):
    """Hankel's a_k(nu) = prod_{j <= k} (4 nu^2 - (2j - 1)^2) / (8 j), signed and split for
    ``P = sum_k (-1)^k a_2k / x^2k`` and ``Q = sum_k (-1)^k a_2k+1 / x^(2k+1)`` (DLMF 10.17)."""
    a = [Fraction(1)]
    for j in range(1, n_terms):
        a.append(a[-1] * Fraction(4 * nu * nu - (2 * j - 1) ** 2, 8 * j))
    p = [float((-1) ** k * a[2 * k]) for k in range(n_terms // 2)]
    q = [float((-1) ** k * a[2 * k + 1]) for k in range(n_terms // 2)]
    return p, q


# -- J0 and J1 ---------------------------------------------------------------------------------
# Chebyshev coefficients (mpmath, 40 digits; terms below 1e-19 of the largest dropped):
# _J0_SMALL: R0(z) = J0(sqrt z) / ((z - j01^2)(z - j02^2)), _J1_SMALL: R1(z) = J1(sqrt z) /
# (sqrt z (z - j11^2)(z - j12^2)), both on z in [0, 64] (t = z / 32 - 1); _Jn_P, _Jn_Q:
# Hankel's P and Q on w = 1/x in [1/20, 1/8]. _Jnk = (hi, lo): the k-th zero of Jn as a sum
# of two doubles.
_J0_SMALL = [
    0.0019903555001601486,
    -0.002620939138497025,
    0.0008687721472062577,
    -0.00017040584951557357,
    2.204908639454817e-05,
    -2.0248894980012834e-06,
    1.3898025173428905e-07,
    -7.406701254344167e-09,
    3.1559927583611334e-10,
    -1.1003860827939697e-11,
    3.1989232970233477e-13,
    -7.875041254709154e-15,
    1.6632588015211278e-16,
    -3.0475993756698376e-18,
    4.8912290055811176e-20,
    -6.933893887560204e-22,
]
_J1_SMALL = [
    0.00027895709887613106,
    -0.0003115684036643562,
    8.553646588540538e-05,
    -1.4149356425623485e-05,
    1.576470099225889e-06,
    -1.269075502369425e-07,
    7.747614077073057e-09,
    -3.716577146675772e-10,
    1.4395417669312554e-11,
    -4.60007822413452e-13,
    1.2341465589619718e-14,
    -2.8205466239524856e-16,
    5.558821065951572e-18,
    -9.546930865755219e-20,
    1.4418291781315051e-21,
]
_J0_P = [
    0.9994219277282886,
    -0.000449459271547567,
    -4.6061967688126304e-05,
    4.3067852034708167e-07,
    1.5897106435628695e-08,
    -7.313201511415032e-10,
    1.7690584466391341e-12,
    1.267695139687765e-12,
    -6.70099521157136e-14,
    2.4038954918150404e-16,
    2.1544039812715626e-16,
    -1.7294812699500352e-17,
    4.721580073736733e-19,
]
_J0_Q = [
    -0.01087702829221031,
    -0.0046244117727245815,
    1.2491362502490475e-05,
    7.72471968791685e-07,
    -1.7084111026826438e-08,
    -2.8752973120578276e-10,
    3.166967733455233e-11,
    -7.529281545745797e-13,
    -3.7491577199177085e-14,
    4.385340798769616e-15,
    -1.6577754526266327e-16,
    -4.991840743339488e-18,
    1.1723209521951053e-18,
    -8.211958384460281e-20,
    1.5745664394814037e-21,
]
_J1_P = [
    1.000967090289432,
    0.0007535737670585479,
    7.802181344972779e-05,
    -5.618760810680689e-07,
    -2.1483328157065518e-08,
    8.877201701230917e-10,
    -6.760012759062049e-13,
    -1.5100737952183365e-12,
    7.522405912113049e-14,
    -9.865102905163249e-17,
    -2.471954335786394e-16,
    1.8985236301033716e-17,
    -4.77796530792786e-19,
]
_J1_Q = [
    0.032727476204057214,
    0.013973680755626466,
    -1.7661787078004513e-05,
    -1.1133150314883473e-06,
    2.130480602838828e-08,
    3.8968455355919005e-10,
    -3.786418854762171e-11,
    8.231170114836247e-13,
    4.5704138113051666e-14,
    -4.966009078077673e-15,
    1.7717378629061343e-16,
    6.167767117355613e-18,
    -1.3066124788747696e-18,
    8.825437839177054e-20,
]
_J01 = (2.404825557695773, -1.176691651530894e-16)
_J02 = (5.520078110286311, 8.088597146146722e-17)
_J11 = (3.8317059702075125, -1.5269184090088067e-16)
_J12 = (7.015586669815619, -9.414165653410389e-17)
_J_SMALL_UPTO = 8.0
_J_ASYMPTOTIC_FROM = 20.0  # 30 terms of Hankel's series: the first omitted is below 2e-18
_J_HANKEL = {nu: _hankel_coefficients(nu, 30) for nu in (0, 1)}
_J_SMALL = {0: (_J0_SMALL, _J01, _J02), 1: (_J1_SMALL, _J11, _J12)}
_J_PQ = {0: (_J0_P, _J0_Q), 1: (_J1_P, _J1_Q)}


def _zero_factor(a: Value, zero) -> Value:
    """a^2 - j^2 = (a - j)(a + j), with a - j_hi exact near the zero j."""
    hi, lo = zero
    return ((a - hi) - lo) * (a + hi)


def _bessel_j01(x: Value, nu: int) -> Value:
    """J0(|x|) or J1(|x|)."""
    em = x.em
    a = em.abs(x)
    coefficients, zero1, zero2 = _J_SMALL[nu]
    small = _zero_factor(a, zero1) * _zero_factor(a, zero2)
    small = small * chebyshev(a * a * (1.0 / 32.0) - 1.0, coefficients)
    if nu:
        small = small * a
    w = em.node("Reciprocal", a)
    fit_p, fit_q = _J_PQ[nu]
    t = (w * 2.0 - (1.0 / _J_SMALL_UPTO + 1.0 / _J_ASYMPTOTIC_FROM)) / (
        1.0 / _J_SMALL_UPTO - 1.0 / _J_ASYMPTOTIC_FROM
    )
    series_p, series_q = _J_HANKEL[nu]
    asymptotic = a > _J_ASYMPTOTIC_FROM
    w2 = w * w
    p = em.where(asymptotic, em.poly(w2, series_p), chebyshev(t, fit_p))
    q = em.where(asymptotic, w * em.poly(w2, series_q), chebyshev(t, fit_q))
    # cos(a - pi/4) = (cos a + sin a) / sqrt 2, cos(a - 3 pi/4) = (sin a - cos a) / sqrt 2 ...
    s, c = sin_cos(a)
    if nu:
        large = (p + q) * s + (q - p) * c
    else:
        large = (p + q) * c + (p - q) * s
    large = large / (em.sqrt(a) * _SQRT_PI)
    return em.where(a < _J_SMALL_UPTO, small, large)


def j0(x: Value) -> Value:
    return _bessel_j01(x, 0)


def j1(x: Value) -> Value:
    # J1 is odd; multiplying by the sign keeps -0.0 (SciPy's j1(-0.0) is -0.0)
    em = x.em
    return _bessel_j01(x, 1) * _sign_factor(em, x < 0.0) * em.where(em.abs(x) > 0.0, 1.0, x)


register_formula(psm.J0, j0, float32_in_float64=True)
register_formula(psm.J1, j1, float32_in_float64=True)


# -- I and K of real order: Temme's method (Numerical Recipes' bessik) ------------------------
# Chebyshev coefficients in t = 8 mu^2 - 1 of Temme's Gamma1(mu) = (1/Gamma(1 - mu) -
# 1/Gamma(1 + mu)) / (2 mu) and Gamma2(mu) = (1/Gamma(1 - mu) + 1/Gamma(1 + mu)) / 2 for
# |mu| <= 1/2 (mpmath, 40 digits; terms below 1e-19 dropped).
_TEMME_GAMMA1 = [
    -0.571011340185584,
    0.006516511267073688,
    0.0003087090173085368,
    -3.470626964904318e-06,
    6.943766448667449e-09,
    3.67795398857441e-11,
    -1.3563951023664248e-13,
    -3.680298480635798e-17,
    5.458216233376986e-19,
]
_TEMME_GAMMA2 = [
    0.9218702936504527,
    -0.07685284084478668,
    0.0012719271366545622,
    -4.9717367041957395e-06,
    -3.3126119768180853e-08,
    2.42309579004827e-10,
    -1.702377664251273e-13,
    -1.4943667065169001e-15,
    2.3826220476859634e-18,
]
_TEMME_UPTO = 2.0  # Temme's series for K below (NR's XMIN), Steed's CF2 above
_TEMME_TERMS = 16  # (x^2/4)^i / (i!)^2 < 1e-26 past 16 terms for x <= 2
_FPMIN = 1e-30
_MAX_ITERATIONS = 20000  # for each continued fraction and each recurrence
# The downward recurrence of I grows: its values are scaled down by 2^-100 past 2^100 (a
# constant above float32's tiny, see scalar_math.Emitter.const).
_RESCALE_EXPONENT = 100.0
_RESCALE_ABOVE = 2.0**100
_RESCALE_BY = 2.0**-100


def _split_order(nu: Value):
    """``(n, mu)``: nu = n + mu with n = round(nu) (an integer) and |mu| <= 1/2, exact."""
    n = nu.em.round(nu)
    return n, nu - n


def _temme_k(mu: Value, x: Value):
    """``(K_mu(x), K_mu+1(x))`` for |mu| <= 1/2, 0 < x <= 2: Temme's series (NR's bessik)."""
    em = x.em
    half_x = 0.5 * x
    d = -em.log(half_x)
    e = mu * d
    sin_pi_mu, _ = sinpi_cospi(mu)
    fact = em.where(mu.eq(0.0), 1.0, (_PI * mu) / em.where(mu.eq(0.0), 1.0, sin_pi_mu))
    fact2 = em.where(e.eq(0.0), 1.0, sinh(e) / em.where(e.eq(0.0), 1.0, e))
    t = 8.0 * (mu * mu) - 1.0
    gamma1, gamma2 = chebyshev(t, _TEMME_GAMMA1), chebyshev(t, _TEMME_GAMMA2)
    rgamma_plus = gamma2 - mu * gamma1  # 1 / Gamma(1 + mu)
    rgamma_minus = gamma2 + mu * gamma1  # 1 / Gamma(1 - mu)
    ff = fact * (gamma1 * cosh(e) + gamma2 * fact2 * d)
    exp_e = em.exp(e)
    p = 0.5 * exp_e / rgamma_plus
    q = 0.5 / (exp_e * rgamma_minus)
    total, total1 = ff, p
    c, dd, mu2 = 1.0, half_x * half_x, mu * mu
    for i in range(1, _TEMME_TERMS + 1):
        ff = (float(i) * ff + p + q) / (float(i * i) - mu2)
        c = dd * (c / float(i)) if i > 1 else dd
        p = p / (float(i) - mu)
        q = q / (float(i) + mu)
        total = total + c * ff
        total1 = total1 + c * (p - float(i) * ff)
    return total, total1 * (2.0 / x)


def _steed_kve(mu: Value, x: Value, stopped: Value):
    """``(K_mu(x) e^x, K_mu+1(x) e^x)`` for |mu| <= 1/2, x > 2: Steed's continued fraction
    CF2 with Temme's normalisation (NR's bessik); elements ``stopped`` are skipped."""
    em = x.em
    a1 = 0.25 - mu * mu
    b = 2.0 * (1.0 + x)
    d = em.node("Reciprocal", b)
    zero = em.full_like(b, 0.0)
    state = [zero, -a1 + zero, a1 + zero, b, d, d, d, a1 + zero, zero, zero + 1.0, 1.0 + a1 * d]
    # i, a, c, b, d, h, delh, q, q1, q2, s

    def step(stopped, i, a, c, b, d, h, delh, q, q1, q2, s):
        i = i + 1.0
        a = a - 2.0 * i
        c = -a * c / (i + 1.0)
        q_new = (q1 - b * q2) / a
        q1, q2 = q2, q_new
        q = q + c * q_new
        b = b + 2.0
        d = em.node("Reciprocal", b + a * d)
        delh = (b * d - 1.0) * delh
        h = h + delh
        dels = q * delh
        s = s + dels
        return em.abs(dels) < em.abs(s) * _MACHEP, i, a, c, b, d, h, delh, q, q1, q2, s

    converged, (*_, h, _, _, _, _, s) = _formula_loop(
        em, stopped, state, step, _MAX_ITERATIONS, "bessel_cf2"
    )
    kve = em.sqrt(_PI / (2.0 * x)) / s
    kve1 = kve * (mu + x + 0.5 - a1 * h) / x
    return em.where(converged, kve, float("nan")), kve1


def _cf1_i(nu: Value, x: Value, stopped: Value):
    """I'_nu(x) / I_nu(x) by its continued fraction (NR's CF1, modified Lentz)."""
    em = x.em
    xi = em.node("Reciprocal", x)
    h = em.node("Max", nu * xi, _FPMIN)
    b = 2.0 * nu * xi

    def step(stopped, b, c, d, h):
        b = b + 2.0 * xi
        d = em.node("Reciprocal", b + d)
        c = b + em.node("Reciprocal", c)
        delta = c * d
        return em.abs(delta - 1.0) < _MACHEP, b, c, d, h * delta

    converged, (_, _, _, h) = _formula_loop(
        em, stopped, [b, h + 0.0 * b, 0.0 * b, h + 0.0 * b], step, _MAX_ITERATIONS, "bessel_cf1"
    )
    return em.where(converged, h, float("nan"))


def _bessik(nu: Value, x: Value, active: Value, i_active: Value | None = None):
    """``(I_nu(x) e^-x, K_nu(x) e^x)`` for nu >= 0, x > 0: K where ``active``, I where
    ``i_active`` (a part of ``active``; I is None without it) (NR's bessik). K: Temme's series (x <= 2) or CF2 at mu = nu - n,
    recurrence up to nu; I: CF1 at nu, recurrence down to mu, the Wronskian there."""
    em = x.em
    n, mu = _split_order(nu)
    active = active & (n <= float(_MAX_ITERATIONS))  # the recurrence could not finish: NaN
    xi = em.node("Reciprocal", x)
    temme = x <= _TEMME_UPTO
    # Temme's series sees x > 2 (and x <= 0) only in its discarded branch: keep it finite
    x_temme = em.where(temme & active, x, 1.0)
    k_mu, k_mu1 = _temme_k(mu, x_temme)
    exp_x = em.exp(x_temme)
    kve_cf2, kve1_cf2 = _steed_kve(mu, x, temme | ~active)
    kve_mu = em.where(temme, k_mu * exp_x, kve_cf2)
    kve_mu1 = em.where(temme, k_mu1 * exp_x, kve1_cf2)
    no_steps = (n < 0.5) | ~active
    zero = em.full_like(kve_mu, 0.0)
    state = [zero, kve_mu, kve_mu1]
    with_i = i_active is not None
    if with_i:
        h = _cf1_i(nu, x, ~i_active)
        state += [zero + 1.0, h + zero, zero]

    def step(stopped, i, k, k1, *i_state):
        i = i + 1.0
        k, k1 = k1, (mu + i) * (2.0 * xi) * k1 + k
        done = i >= n
        if not with_i:
            return done, i, k, k1
        ril, ripl, count = i_state
        ritemp = (nu - i + 1.0) * xi * ril + ripl
        ripl = (nu - i) * xi * ritemp + ril
        big = ritemp > _RESCALE_ABOVE
        scale = em.where(big, _RESCALE_BY, 1.0)
        return done, i, k, k1, ritemp * scale, ripl * scale, count + em.indicator(big)

    finished, (_, kve, _, *i_state) = _formula_loop(
        em, no_steps, state, step, _MAX_ITERATIONS, "bessel_recurrence"
    )
    finished = finished & active
    kve = em.where(finished, kve, float("nan"))
    if not with_i:
        return None, kve
    ril, ripl, count = i_state
    f_mu = ripl / ril
    dkve_mu = mu * xi * kve_mu - kve_mu1  # K'_mu(x) e^x
    ive_mu = xi / (f_mu * kve_mu - dkve_mu)
    # I_nu = I_mu / ril * 2^(-100 count), in two halves so that no factor underflows alone
    half_scale = em.node("Pow", 2.0, count * (-0.5 * _RESCALE_EXPONENT))
    ive = ((ive_mu / ril) * half_scale) * half_scale
    return em.where(finished, ive, float("nan")), kve


_SERIES_TERMS = 20  # term ratios <= 1/k in the series' domain: 1/20! < 5e-19
_HANKEL_TERMS = 30
# Hankel's series for I and K from x >= 25 where nu^2 <= 2x: its 30th term is below 3e-20
# there (and its terms below 1 in size).
_HANKEL_FROM = 25.0
_HANKEL_NU2_PER_X = 2.0


def _is_odd(n: Value) -> Value:
    return (n - 2.0 * n.em.floor(n * 0.5)).eq(1.0)


def _power_over_gamma(nu: Value, a: Value) -> Value:
    """(a/2)^nu / Gamma(nu + 1) for nu >= 0, a > 0."""
    em = a.em
    exponent = nu * em.log(0.5 * a) - lgamma(nu + 1.0)
    # The product keeps the relative accuracy of Pow and Gamma; the exponential form (its
    # exponent rounded to ~1e-16 of its terms) serves where they would overflow or underflow.
    safe = (nu < 150.0) & (exponent > -700.0) & (exponent < 700.0)
    nu_safe = em.where(safe, nu, 1.0)
    direct = em.node("Pow", 0.5 * a, nu_safe) / gamma(nu_safe + 1.0)
    return em.where(safe, direct, em.exp(exponent))


def _series_sum(v: Value, z: Value) -> Value:
    """sum_k z^k / (k! (v + 1)_k), 20 terms: the series' domains keep |ratios| <= 1/k."""
    term, total = None, None
    for k in range(1, _SERIES_TERMS + 1):
        factor = z / (float(k) * (v + float(k)))
        term = factor if term is None else term * factor
        total = 1.0 + term if total is None else total + term
    return total


def _series_ive(nu: Value, a: Value) -> Value:
    """I_nu(a) e^-a = (a/2)^nu e^-a / Gamma(nu + 1) sum_k (a^2/4)^k / (k! (nu + 1)_k), for
    a > 0 with a <= 2 or a^2 <= 4 (nu + 1)."""
    em = a.em
    return _power_over_gamma(nu, a) * em.exp(-a) * _series_sum(nu, 0.25 * (a * a))


def _hankel_sum(nu: Value, a: Value, sign: float) -> Value:
    """sum_k sign^k a_k(nu) / a^k (Hankel's series; sign -1 for I, +1 for K)."""
    em = a.em
    mu4 = 4.0 * (nu * nu)
    r = em.node("Reciprocal", 8.0 * a)
    term, total = None, None
    for k in range(1, _HANKEL_TERMS):
        factor = (mu4 - float((2 * k - 1) ** 2)) * (r * (sign / k))
        term = factor if term is None else term * factor
        total = 1.0 + term if total is None else total + term
    return total


def ive(v: Value, x: Value) -> Value:
    """I_v(x) e^-|x| for real v and x (SciPy's ive)."""
    em = x.em
    nu, a = em.abs(v), em.abs(x)
    n, mu = _split_order(nu)
    integer = mu.eq(0.0)
    finite = (em.abs(nu + a) < float("inf")) & (a > 0.0)
    series = (a <= 2.0) | (a * a <= 4.0 * (nu + 1.0))
    hankel = ~series & (a >= _HANKEL_FROM) & (nu * nu <= _HANKEL_NU2_PER_X * a)
    middle = finite & ~series & ~hankel
    reflect = (v < 0.0) & ~integer  # I_-nu = I_nu + (2/pi) sin(pi nu) K_nu
    a_safe = em.where(finite, a, 1.0)
    ive_middle, kve = _bessik(nu, a_safe, middle | (finite & reflect), middle)
    asymptotic = _hankel_sum(nu, a_safe, -1.0) / em.sqrt((2.0 * _PI) * a_safe)
    result = _select(em, [(series, _series_ive(nu, a_safe)), (hankel, asymptotic)], ive_middle)
    sin_pi_mu, _ = sinpi_cospi(mu)
    sin_pi_nu = sin_pi_mu * _sign_factor(em, _is_odd(n))
    k_part = (2.0 / _PI) * sin_pi_nu * (kve * em.exp(-2.0 * a_safe))
    result = em.where(reflect, result + k_part, result)
    result = result * _sign_factor(em, (x < 0.0) & _is_odd(n))
    # SciPy: I_0(0) = 1, I_nu(0) = 0 (NaN for negative non-integer nu), NaN at infinities
    # and for x < 0 with a non-integer order.
    at_zero = em.where(nu.eq(0.0), 1.0, em.where(reflect, float("nan"), 0.0))
    invalid = em.isnan(v + x) | (em.abs(v + x) >= float("inf")) | ((x < 0.0) & ~integer)
    return _select(em, [(invalid, float("nan")), (a.eq(0.0), at_zero)], result)


def kve(v: Value, x: Value) -> Value:
    """K_v(x) e^x for real v and x (SciPy's kve): inf at x = 0, NaN for x < 0."""
    em = x.em
    nu = em.abs(v)
    active = (x > 0.0) & (em.abs(nu + x) < float("inf"))
    x_safe = em.where(active, x, 1.0)
    hankel = (x_safe >= _HANKEL_FROM) & (nu * nu <= _HANKEL_NU2_PER_X * x_safe)
    _, result = _bessik(em.where(active, nu, 0.0), x_safe, active & ~hankel)
    asymptotic = _hankel_sum(nu, x_safe, 1.0) * em.sqrt(_PI / (2.0 * x_safe))
    result = em.where(hankel, asymptotic, result)
    invalid = ~active & ~x.eq(0.0)  # (SciPy: inf at x = 0 whatever v, NaN v included)
    return _select(em, [(invalid, float("nan")), (x.eq(0.0), float("inf"))], result)


def iv(v: Value, x: Value) -> Value:
    """I_v(x) = ive(v, x) e^|x|, the exponential in two halves: ive * e^|x| would overflow
    at |x| ~ 709 where I_v itself is still finite (up to |x| ~ 713)."""
    half = x.em.exp(0.5 * x.em.abs(x))
    return ive(v, x) * half * half


register_formula(psm.Ive, ive, float32_in_float64=True)
register_formula(psm.Kve, kve, float32_in_float64=True)
if hasattr(psm, "Iv"):  # pytensor 2.38 (3.0 builds iv as ive * exp(|x|))
    register_formula(psm.Iv, iv, float32_in_float64=True)


# -- J of real order: Temme's method for J and Y (Numerical Recipes' bessjy) -------------------
def _sinpi_cospi_any(s: Value):
    """``(sin(pi s), cos(pi s))`` for any finite s: s reduced exactly to [-1/2, 1/2]."""
    em = s.em
    r = s - 2.0 * em.round(0.5 * s)  # in [-1, 1], exact
    high, low = r > 0.5, r < -0.5
    flipped = high | low
    reduced = em.where(high, 1.0 - r, em.where(low, -1.0 - r, r))  # sin(pi r) unchanged
    sin_, cos_ = sinpi_cospi(reduced)
    return sin_, cos_ * _sign_factor(em, flipped)


def _temme_y(mu: Value, x: Value):
    """``(Y_mu(x), Y_mu+1(x))`` for |mu| <= 1/2, 0 < x < 2: Temme's series (NR's bessjy)."""
    em = x.em
    half_x = 0.5 * x
    d = -em.log(half_x)
    e = mu * d
    sin_pi_mu, _ = sinpi_cospi(mu)
    nonzero_mu = em.where(mu.eq(0.0), 1.0, mu)
    fact = em.where(mu.eq(0.0), 1.0, (_PI * mu) / em.where(mu.eq(0.0), 1.0, sin_pi_mu))
    fact2 = em.where(e.eq(0.0), 1.0, sinh(e) / em.where(e.eq(0.0), 1.0, e))
    t = 8.0 * (mu * mu) - 1.0
    gamma1, gamma2 = chebyshev(t, _TEMME_GAMMA1), chebyshev(t, _TEMME_GAMMA2)
    rgamma_plus = gamma2 - mu * gamma1
    rgamma_minus = gamma2 + mu * gamma1
    ff = (2.0 / _PI) * fact * (gamma1 * cosh(e) + gamma2 * fact2 * d)
    exp_e = em.exp(e)
    p = exp_e / (rgamma_plus * _PI)
    q = em.node("Reciprocal", exp_e * _PI * rgamma_minus)
    # r = pi (pi mu / 2) (sin(pi mu / 2) / (pi mu / 2))^2 = 2 sin(pi mu / 2)^2 / mu
    sin_half, _ = sinpi_cospi(0.5 * mu)
    r = em.where(mu.eq(0.0), 0.0, 2.0 * sin_half * sin_half / nonzero_mu)
    total, total1 = ff + r * q, p
    c, dd, mu2 = 1.0, -(half_x * half_x), mu * mu
    for i in range(1, _TEMME_TERMS + 1):
        ff = (float(i) * ff + p + q) / (float(i * i) - mu2)
        c = dd * (c / float(i)) if i > 1 else dd
        p = p / (float(i) - mu)
        q = q / (float(i) + mu)
        delta = c * (ff + r * q)
        total = total + delta
        total1 = total1 + (c * p - float(i) * delta)
    return -total, -total1 * (2.0 / x)


def _cf2_jy(mu: Value, x: Value, stopped: Value):
    """``p + i q = (J'_mu + i Y'_mu) / (J_mu + i Y_mu)`` for x >= 2 (NR's complex CF2,
    Lentz's method)."""
    em = x.em
    xi = em.node("Reciprocal", x)
    a = 0.25 - mu * mu
    p, q = -0.5 * xi, 1.0
    br, bi = 2.0 * x, 2.0
    fact = a * xi / (p * p + q * q)
    cr, ci = br + q * fact, bi + p * fact
    den = br * br + bi * bi
    dr, di = br / den, -bi / den
    dlr, dli = cr * dr - ci * di, cr * di + ci * dr
    p, q = p * dlr - q * dli, p * dli + q * dlr
    zero = em.full_like(p, 0.0)
    state = [zero + 1.0, a + zero, bi + zero, dr, di, cr, ci, p, q]

    def step(stopped, i, a, bi, dr, di, cr, ci, p, q):
        i = i + 1.0
        a = a + 2.0 * (i - 1.0)
        bi = bi + 2.0
        dr, di = a * dr + br, a * di + bi
        dr = em.where(em.abs(dr) + em.abs(di) < _FPMIN, _FPMIN, dr)
        fact = a / (cr * cr + ci * ci)
        cr, ci = br + cr * fact, bi - ci * fact
        cr = em.where(em.abs(cr) + em.abs(ci) < _FPMIN, _FPMIN, cr)
        den = dr * dr + di * di
        dr, di = dr / den, -di / den
        dlr, dli = cr * dr - ci * di, cr * di + ci * dr
        p, q = p * dlr - q * dli, p * dli + q * dlr
        done = em.abs(dlr - 1.0) + em.abs(dli) < _MACHEP
        return done, i, a, bi, dr, di, cr, ci, p, q

    converged, (*_, p, q) = _formula_loop(em, stopped, state, step, _MAX_ITERATIONS, "bessel_cf2")
    return em.where(converged, p, float("nan")), q


def _cf1_j(nu: Value, x: Value, stopped: Value):
    """``(J'_nu / J_nu, sign)`` by NR's CF1 (Lentz), sign that of J_nu / J_nu-n's start."""
    em = x.em
    xi = em.node("Reciprocal", x)
    h = em.node("Max", nu * xi, _FPMIN)
    b = 2.0 * nu * xi
    zero = 0.0 * b

    def guard(value):
        return em.where(em.abs(value) < _FPMIN, _FPMIN, value)

    def step(stopped, b, c, d, h, sign):
        b = b + 2.0 * xi
        d = em.node("Reciprocal", guard(b - d))
        c = guard(b - em.node("Reciprocal", c))
        delta = c * d
        sign = sign * _sign_factor(em, d < 0.0)
        return em.abs(delta - 1.0) < _MACHEP, b, c, d, h * delta, sign

    converged, (_, _, _, h, sign) = _formula_loop(
        em, stopped, [b, h + zero, zero, h + zero, zero + 1.0], step, _MAX_ITERATIONS, "j_cf1"
    )
    return em.where(converged, h, float("nan")), sign


def _bessjy(nu: Value, x: Value, active: Value, y_active: Value):
    """``(J_nu(x), Y_nu(x))`` for nu >= 0, x > 0 where ``active`` (Y only where
    ``y_active``, a part of it): NR's bessjy (CF1 and the downward recurrence of J to mu
    = nu - n, Temme's series (x < 2) or CF2 at mu, the Wronskian, Y's upward recurrence)."""
    em = x.em
    xi = em.node("Reciprocal", x)
    temme = x < _TEMME_UPTO
    n = em.where(temme, em.round(nu), em.relu(em.floor(nu - x + 1.5)))
    mu = nu - n
    active = active & (n <= float(_MAX_ITERATIONS))  # the recurrence could not finish: NaN
    y_active = y_active & active
    h, sign = _cf1_j(nu, x, ~active)
    zero = em.full_like(h, 0.0)

    def down(stopped, i, rjl, rjpl, count):
        i = i + 1.0
        rjtemp = (nu - i + 1.0) * xi * rjl + rjpl
        rjpl = (nu - i) * xi * rjtemp - rjl
        big = em.abs(rjtemp) > _RESCALE_ABOVE
        scale = em.where(big, _RESCALE_BY, 1.0)
        return i >= n, i, rjtemp * scale, rjpl * scale, count + em.indicator(big)

    finished, (_, rjl, rjpl, count) = _formula_loop(
        em,
        (n < 0.5) | ~active,
        [zero, sign + zero, h * sign, zero],
        down,
        _MAX_ITERATIONS,
        "j_down",
    )
    finished = finished & active
    rjl = em.where(rjl.eq(0.0), _MACHEP, rjl)
    f = rjpl / rjl
    x_temme = em.where(temme & active, x, 1.0)
    y_mu_t, y_mu1_t = _temme_y(em.where(temme, mu, 0.0), x_temme)
    w = (2.0 / _PI) * xi
    p, q = _cf2_jy(mu, x, temme | ~active)
    gam = (p - f) / q
    rjmu_cf2 = em.sqrt(w / ((p - f) * gam + q)) * _sign_factor(em, rjl < 0.0)
    rymu_cf2 = rjmu_cf2 * gam
    ry1_cf2 = mu * xi * rymu_cf2 - rymu_cf2 * (p + q / gam)
    rymu = em.where(temme, y_mu_t, rymu_cf2)
    ry1 = em.where(temme, y_mu1_t, ry1_cf2)
    rjmu_temme = w / ((mu * xi * y_mu_t - y_mu1_t) - f * y_mu_t)
    rjmu = em.where(temme, rjmu_temme, rjmu_cf2)
    # J_nu = sign J_mu / rjl 2^(-100 count): the start value was sign, scaled down count times
    half_scale = em.node("Pow", 2.0, count * (-0.5 * _RESCALE_EXPONENT))
    j = ((sign * rjmu / rjl) * half_scale) * half_scale
    j = em.where(finished, j, float("nan"))

    def up(stopped, i, y, y1):
        i = i + 1.0
        y2 = (mu + i) * (2.0 * xi) * y1 - y
        # Y grows in the order: once it overflows, the next step would be inf - inf
        return (i >= n) | (em.abs(y2) >= float("inf")), i, y1, y2

    finished_y, (i, y, y1) = _formula_loop(
        em, (n < 0.5) | ~y_active, [zero, rymu, ry1], up, _MAX_ITERATIONS, "y_up"
    )
    y = em.where(i < n, y1, y)  # overflowed before the order n: -inf
    return j, em.where(finished_y & y_active, y, float("nan"))


_J_SERIES_NEGATIVE_BELOW = 150.0  # Gamma(v + 1) of negative orders, directly


def _hankel_jy(v: Value, a: Value):
    """``(J_v(a), Y_v(a))`` = sqrt(2 / (pi a)) (P cos(chi) - Q sin(chi), P sin(chi) + Q
    cos(chi)), chi = a - (v/2 + 1/4) pi (DLMF 10.17.3-4), for any real v; cos(chi) and sin(chi) from sin(a), cos(a) and sin(phi),
    cos(phi), phi = (v/2 + 1/4) pi, each reduced exactly."""
    em = a.em
    mu4 = 4.0 * (v * v)
    r = em.node("Reciprocal", 8.0 * a)
    p, q, term = 1.0, None, None
    for k in range(1, _HANKEL_TERMS):
        factor = (mu4 - float((2 * k - 1) ** 2)) * (r * (1.0 / k))
        term = factor if term is None else term * factor
        signed = term if k % 4 in (0, 1) else -term  # (-1)^(k // 2)
        if k % 2:
            q = signed if q is None else q + signed
        else:
            p = p + signed
    sin_a, cos_a = sin_cos(a)
    sin_phi, cos_phi = _sinpi_cospi_any(0.5 * v + 0.25)
    cos_chi = cos_a * cos_phi + sin_a * sin_phi
    sin_chi = sin_a * cos_phi - cos_a * sin_phi
    scale = em.sqrt((2.0 / _PI) / a)
    return (p * cos_chi - q * sin_chi) * scale, (p * sin_chi + q * cos_chi) * scale


def _forward_jy(nu: Value, a: Value, active: Value):
    """``(J_nu(a), Y_nu(a))`` for nu < a, a >= 25: Hankel's series at the orders mu and mu + 1
    (mu = nu - floor(nu)), then the recurrence C_k+1 = (2k / a) C_k - C_k-1 up to nu, stable
    for J below the turning point k = a (and for Y at any order)."""
    em = a.em
    m = em.floor(nu)
    mu = nu - m
    j0, y0 = _hankel_jy(mu, a)
    j1, y1 = _hankel_jy(mu + 1.0, a)
    active = active & (m <= float(_MAX_ITERATIONS))

    def step(stopped, order, j_prev, j, y_prev, y):
        factor = (2.0 * order) / a
        order = order + 1.0
        return order >= nu, order, j, factor * j - j_prev, y, factor * y - y_prev

    finished, (_, _, j, _, y) = _formula_loop(
        em, (m < 1.5) | ~active, [mu + 1.0, j0, j1, y0, y1], step, _MAX_ITERATIONS, "jy_forward"
    )
    finished = finished & active
    at_mu = m < 0.5
    j = em.where(at_mu, j0, j)
    y = em.where(at_mu, y0, y)
    return em.where(finished, j, float("nan")), em.where(finished, y, float("nan"))


def jv(v: Value, x: Value) -> Value:
    """J_v(x) for real v and x (SciPy's jv).

    Power series where x <= 2 or x^2 <= |v| + 1; Hankel's asymptotic series where x >= 25
    and v^2 <= 2 x; for other orders below x >= 25, Hankel's series at the orders mu, mu + 1
    (mu = |v| - floor|v|) and the forward recurrence (stable below the turning point); NR's
    bessjy elsewhere (x < 25, or |v| >= x). Negative non-integer orders outside the series
    and Hankel domains: J_-nu = cos(pi nu) J_nu - sin(pi nu) Y_nu. The continued fractions
    and recurrences stop after 20000 steps (NaN beyond: orders above ~2e4, except in the
    series and Hankel domains). Near the zeros of J_v the accuracy is absolute (~1e-16 of
    the function's envelope), as for any method fed rounded arguments.
    """
    em = x.em
    nu, a = em.abs(v), em.abs(x)
    n, mu = _split_order(nu)
    integer = mu.eq(0.0)
    finite = (em.abs(nu + a) < float("inf")) & (a > 0.0)
    reflect = (v < 0.0) & ~integer
    # the series of negative non-integer orders divides by Gamma(v + 1) directly: not for
    # large orders, which go to bessjy and the reflection
    series = ((a <= 2.0) | (a * a <= nu + 1.0)) & ~(reflect & (nu >= _J_SERIES_NEGATIVE_BELOW))
    hankel = ~series & (a >= _HANKEL_FROM) & (nu * nu <= _HANKEL_NU2_PER_X * a)
    forward = finite & ~series & ~hankel & (a >= _HANKEL_FROM) & (nu < a)
    middle = finite & ~series & ~hankel & ~forward
    a_safe = em.where(finite, a, 1.0)
    nu_safe = em.where(finite, nu, 0.0)
    j_nu, y_nu = _bessjy(nu_safe, a_safe, middle, middle & reflect)
    j_forward, y_forward = _forward_jy(nu_safe, em.where(forward, a_safe, 30.0), forward)
    j_nu = em.where(forward, j_forward, j_nu)
    y_nu = em.where(forward, y_forward, y_nu)
    sin_pi_nu, cos_pi_nu = _sinpi_cospi_any(nu_safe)
    j_middle = em.where(reflect, cos_pi_nu * j_nu - sin_pi_nu * y_nu, j_nu)
    z = -0.25 * (a_safe * a_safe)
    series_nu = _power_over_gamma(nu_safe, a_safe) * _series_sum(nu_safe, z)
    v_safe = em.where(reflect & series, v, -0.5)
    series_v = em.node("Pow", 0.5 * a_safe, v_safe) / gamma(v_safe + 1.0) * _series_sum(v_safe, z)
    series_result = em.where(reflect, series_v, series_nu)
    # Hankel's series takes negative non-integer orders as such (integer ones get the sign)
    hankel_result, _ = _hankel_jy(em.where(reflect, v, nu_safe), a_safe)
    result = _select(em, [(series, series_result), (hankel, hankel_result)], j_middle)
    # SciPy at x = 0: J_0 = 1, J_nu = 0 for nu > 0, +-inf for negative non-integer orders
    # (the sign of 1 / Gamma(v + 1)), 0 for orders +-inf; NaN at x = +-inf, for x < 0 with a
    # non-integer order, and for NaN.
    pole = _sign_factor(em, gamma(em.where(reflect, v, -0.5) + 1.0) < 0.0) * float("inf")
    at_zero = em.where(nu.eq(0.0), 1.0, em.where(reflect, pole, 0.0))
    invalid = em.isnan(v + x) | (a >= float("inf")) | ((x < 0.0) & ~integer)
    result = _select(
        em, [(invalid, float("nan")), (nu >= float("inf"), 0.0), (a.eq(0.0), at_zero)], result
    )
    # J_-n = (-1)^n J_n and J_n(-x) = (-1)^n J_n(x) for integers n (-0.0 at x = 0 for odd
    # negative n, as SciPy): applied by multiplication, after the selections
    flip = integer & _is_odd(n) & em.node("Xor", v < 0.0, x < 0.0)
    return result * _sign_factor(em, flip)


register_formula(psm.Jv, jv, float32_in_float64=True)
