"""Scalar ops ONNX has no operator for (trig, hyperbolic, log1p, erf, gamma, ...) and the
remaining scalar ops of pytensor.scalar.basic (Mod, Sign, Trunc, Clip, predicates, bit ops).

Every op is compared with PyTensor's Python linker (NumPy/SciPy) on edge values and on
dense sweeps compiled once, in float32 and float64. The tolerances are stated per op; they
are a few times the errors measured against SciPy (noted next to them). Where SciPy itself
is less accurate than the decomposition (erfc's far tail, erfcx below -6, gammaln next to 1
and 2, erfcinv of subnormals), the test compares with SciPy loosely there and with an
independent high-precision reference (Python's decimal module, exact series) tightly.
"""

from decimal import Decimal, getcontext

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.scalar.math as psm
import pytensor.tensor as pt
import pytest
import scipy.special as sp
from pytensor.tensor.elemwise import Elemwise

from tests.test_basic import assert_same, get_onnx_node_types, py_mode
from tests.test_elemwise import (
    FLOAT_DTYPES,
    INT_DTYPES,
    RAW,
    assert_exact,
    compare,
    edge_values,
    outer_inputs,
)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def tolerance_check(rtol, atol=0.0):
    """Same dtype/shape; |got - expected| <= atol + rtol |expected| where both are finite,
    identical elsewhere (NaN and infinities of the same sign); zeros of the same sign."""

    def check(got, expected):
        got, expected = np.asarray(got), np.asarray(expected)
        assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
        assert got.shape == expected.shape
        finite = np.isfinite(expected) & np.isfinite(got)
        np.testing.assert_array_equal(got[~finite], expected[~finite], err_msg="non-finite")
        error = np.abs(got[finite].astype(float) - expected[finite])
        bound = atol + rtol * np.abs(expected[finite].astype(float))
        worst = np.argmax(error - bound) if error.size else None
        assert error.size == 0 or error[worst] <= bound[worst], (
            f"error {error[worst]:.3g} at expected {expected[finite][worst]!r} "
            f"(got {got[finite][worst]!r}; rtol {rtol}, atol {atol})"
        )
        zeros = (expected == 0) & (got == 0)
        np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(expected[zeros]))

    return check


def run_onnx(build, values, dtype):
    """The ONNX result of ``build(x)`` (no rewrites) on ``values`` cast to ``dtype``."""
    x = pt.vector("x", dtype=dtype)
    return pytensor.function([x], build(x), mode=RAW)(np.asarray(values, dtype=dtype))


SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan]


def wide(n=1501):
    geo = np.geomspace(1e-300, 1e300, n)
    return np.concatenate([np.linspace(-40, 40, 4001), geo, -geo, SPECIALS])


def unit_interval(n=800):
    near = np.geomspace(1e-17, 1, n)
    tiny = np.geomspace(1e-300, 1e-5, n)
    return np.concatenate(
        [np.linspace(-1.1, 1.1, 2201), 1 - near, near - 1, tiny, -tiny, [1.0, -1.0], SPECIALS]
    )


def positive_and_negative():
    near = np.geomspace(1e-16, 0.5, 400)
    around_1_2 = np.concatenate([1 + near, 1 - near, 2 + near, 2 - near])
    positive = np.concatenate([np.linspace(0, 180, 3601), np.geomspace(1e-300, 1e300, 601)])
    negative = -np.concatenate([np.linspace(0.0123, 180.0123, 3601), np.arange(1.0, 30.0)])
    return np.concatenate([positive, around_1_2, negative, SPECIALS])


def bessel_domain():
    # SciPy overflows past 709.78 (e^x; I0 is finite up to 713.98) and returns NaN at +-inf:
    # those are tested against the asymptotic series below.
    values = np.concatenate([np.linspace(-709, 709, 7001), np.linspace(-25, 25, 5001)])
    return np.concatenate([values, np.geomspace(1e-300, 700, 600), [0.0, -0.0, np.nan]])


# -- unary ops on every float dtype (and integers, which they upcast) -----------------------
# (op, values, rtol float64, rtol float32): measured max relative errors against SciPy in the
# comments (float64 / float32). Results in the subnormal range, which have few significant
# bits, may differ by up to the smallest normal number: SciPy flushes erfc(26.6) = 4.4e-311 and
# gamma(-171.5) = 1.9e-310 to 0, onnxruntime's float32 tanh(1e-42) is 8.6e-43.
UNARY = {
    "sin": (pt.sin, wide, 2e-15, 1e-6),  # 4.4e-16 / 1.2e-7
    "cos": (pt.cos, wide, 2e-15, 1e-6),  # 4.4e-16 / 1.2e-7
    "tan": (pt.tan, wide, 3e-15, 1e-6),  # 6.3e-16 / 2.0e-7
    "arcsin": (pt.arcsin, unit_interval, 3e-15, 2e-6),  # 6.3e-16 / 4.5e-7
    "arccos": (pt.arccos, unit_interval, 2e-15, 2e-6),  # 4.4e-16 / 3.5e-7
    "arctan": (pt.arctan, wide, 2e-15, 1e-6),  # 2.2e-16 / 2.3e-7
    "sinh": (pt.sinh, wide, 2e-15, 1e-6),  # 4.8e-16 / 1.8e-7
    "cosh": (pt.cosh, wide, 2e-15, 1e-6),  # 4.8e-16 / 2.3e-7
    "tanh": (pt.tanh, wide, 2e-15, 1e-6),  # onnxruntime's Tanh: 3.5 / 2.5 ulps
    "arcsinh": (pt.arcsinh, wide, 2e-15, 1e-6),  # 4.4e-16 / 1.2e-7
    "arccosh": (pt.arccosh, lambda: np.concatenate([wide(), 1 + np.geomspace(1e-17, 9, 999)]))
    + (2e-15, 1e-6),  # 4.4e-16 / 1.3e-7
    "arctanh": (pt.arctanh, unit_interval, 2e-15, 1e-6),  # 4.3e-16 / 1.3e-7
    "log1p": (pt.log1p, lambda: np.concatenate([wide(), unit_interval()]), 2e-15, 1e-6),
    "expm1": (pt.expm1, wide, 2e-15, 1e-6),  # 3.7e-16 / 2.3e-7
    "exp2": (pt.exp2, wide, 2e-15, 1e-6),  # 2.2e-16 / 1.2e-7
    "log2": (pt.log2, wide, 2e-15, 1e-6),  # 3.1e-16 / 2.3e-7
    "log10": (pt.log10, wide, 2e-15, 1e-6),  # 4.4e-16 / 2.3e-7
    "deg2rad": (pt.deg2rad, wide, 0.0, 0.0),  # NumPy's own constant: identical
    "rad2deg": (pt.rad2deg, wide, 0.0, 0.0),
    "sigmoid": (pt.sigmoid, wide, 2e-15, 1e-6),  # 4.4e-16 / 1.9e-7
    "softplus": (pt.softplus, wide, 2e-15, 1e-6),  # 5.6e-16 / 2.9e-7
    "log1mexp": (pt.log1mexp, lambda: -np.abs(wide()), 2e-15, 1e-6),  # 4.7e-16 / 2.6e-7
    "erf": (pt.erf, wide, 2e-15, 1e-6),  # 4.2e-16 / 1 ulp (onnxruntime's Erf)
    # SciPy's erfc rounds x^2 in exp(-x^2): 5.8e-14 off near x = 23.6 (see the tail test).
    "erfc": (pt.erfc, wide, 1e-13, 1e-6),  # 5.8e-14 / 2.3e-7
    # SciPy's erfcx(x < -6) = 2 exp(x^2) - ... rounds x^2 too: 5.7e-14 near -22.8.
    "erfcx": (pt.erfcx, wide, 1e-13, 2e-6),  # 5.7e-14 / 5.4e-7
    "gamma": (pt.gamma, positive_and_negative, 5e-15, 1e-6),  # 1.2e-15 / correctly rounded
    "trigamma": (pt.tri_gamma, positive_and_negative, 5e-15, 1e-6),  # 1.2e-15 / rounded
    "erfinv": (pt.erfinv, unit_interval, 3e-15, 1e-6),  # 6.6e-16 / correctly rounded
    # SciPy's i1(-7.99) is itself 2e-15 off (mpmath); ours 2.3e-16 there.
    "i0": (pt.i0, lambda: bessel_domain(), 5e-15, 1e-6),  # 1.2e-15 / correctly rounded
    "i1": (pt.i1, lambda: bessel_domain(), 5e-15, 1e-6),  # 2.2e-15 / correctly rounded
}
SUBNORMAL_ATOL = {dtype: float(np.finfo(dtype).tiny) for dtype in FLOAT_DTYPES}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_accuracy(name, dtype):
    build, values, rtol64, rtol32 = UNARY[name]
    x = pt.vector("x", dtype=dtype)
    rtol = rtol64 if dtype == "float64" else rtol32
    check = tolerance_check(rtol, SUBNORMAL_ATOL[dtype])
    compare([x], build(x), [values().astype(dtype)], assert_fn=check)


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "int64", "bool"])
def test_unary_ops_upcast_integers(dtype):
    # int8/uint16 compute in float32, int32/int64 in float64, as PyTensor upcasts them.
    x = pt.vector("x", dtype=dtype)
    # log1mexp(x) is NaN for x > 0; PyTensor's own softplus of a bool computes in float16
    # (NumPy's exp(True)), so it is no reference there.
    skip = ("log1mexp", "softplus") if dtype == "bool" else ("log1mexp",)
    builds = [b for name, (b, *_) in UNARY.items() if name not in skip]
    builds += [pt.gammaln, pt.psi, pt.erfcinv, pt.sign, pt.trunc, pt.isnan, pt.isinf]
    builds = [b for b in builds if b not in (pt.i0, pt.i1)]  # SciPy: NaN at the int extremes
    if dtype == "bool":  # sign of a bool is rejected by PyTensor
        builds.remove(pt.sign)
    values = edge_values(dtype)

    def check(got, expected):
        if got.dtype.kind != "f":
            return assert_exact(got, expected)
        rtol = 3e-15 if got.dtype == "float64" else 1e-6
        tolerance_check(rtol, SUBNORMAL_ATOL[str(got.dtype)])(got, expected)

    compare([x], [b(x) for b in builds], [values], assert_fn=check)


# -- tails, zeros and special points --------------------------------------------------------
def test_log1p_expm1_near_zero_and_minus_one():
    tiny = np.geomspace(1e-300, 1e-8, 2000)
    values = np.concatenate([tiny, -tiny, -1 + np.geomspace(1e-16, 1e-3, 500), [-1.0]])
    for dtype in FLOAT_DTYPES:
        v = values.astype(dtype)
        rtol = 4e-16 if dtype == "float64" else 2e-7  # measured 2.2e-16 / 1.2e-7
        check = tolerance_check(rtol, SUBNORMAL_ATOL[dtype])
        check(run_onnx(pt.log1p, v, dtype), np.log1p(v))
        check(run_onnx(pt.expm1, v, dtype), np.expm1(v))


def erfc_reference(x: float) -> float:
    """erfc(x) for x >= 4 to ~30 digits: Laplace's continued fraction, in decimal."""
    getcontext().prec = 40
    big_x = Decimal(x)
    t = big_x
    for n in range(400, 0, -1):
        t = big_x + Decimal(n) / 2 / t
    sqrt_pi = Decimal("1.772453850905516027298167483341145182798")
    return float((-(big_x * big_x)).exp() / sqrt_pi / t)


def test_erfc_far_tail_is_accurate():
    # Up to 26.5, past which erfc is subnormal: relative error 8.9e-16 against the exact
    # continued fraction (SciPy: 5.8e-14).
    values = np.linspace(4.0, 26.5, 301)
    expected = np.array([erfc_reference(v) for v in values])
    tolerance_check(2e-15)(run_onnx(pt.erfc, values, "float64"), expected)
    subnormal = np.array([26.6, 27.0, 27.2, 27.3, 30.0, 1e10, np.inf])
    # SciPy flushes these to 0 (Cody's cut-off 26.543); they are subnormal here.
    got = run_onnx(pt.erfc, subnormal, "float64")
    tolerance_check(0, SUBNORMAL_ATOL["float64"])(got, sp.erfc(subnormal))


def test_erfcx_of_large_negative_x_is_accurate():
    # erfcx(x) = 2 exp(x^2) - erfcx(-x); exp(x^2) in decimal from the exact square.
    getcontext().prec = 40
    values = -np.linspace(6.0, 26.6, 207)
    expected = np.array([float(2 * (Decimal(v) * Decimal(v)).exp()) for v in values])
    expected -= sp.erfcx(-values)
    tolerance_check(2e-15)(run_onnx(pt.erfcx, values, "float64"), expected)  # measured 4e-16
    assert run_onnx(pt.erfcx, [-26.7, -1e300, -np.inf], "float64").tolist() == [np.inf] * 3


def lgamma_series(delta, at_two):
    """lgamma(1 + delta) (or lgamma(2 + delta) = log1p(delta) + lgamma(1 + delta)), |delta| <=
    1e-3, from its Taylor series -gamma d + sum_k (-1)^k zeta(k) / k d^k (10 terms: 1e-30)."""
    result = -np.euler_gamma * delta
    for k in range(2, 12):
        result = result + (-1) ** k * sp.zeta(k) / k * delta**k
    return result + np.log1p(delta) if at_two else result


def test_gammaln_keeps_relative_accuracy_at_its_zeros():
    # SciPy's gammaln is off by up to 2e-16 absolutely next to 1 and 2 (1.7e-10 relatively
    # at 1 + 1e-10; it even has the wrong sign at 2 - 2**-52).
    deltas = np.concatenate([np.geomspace(1e-16, 1e-3, 300), -np.geomspace(1e-16, 1e-3, 300)])
    for at in (1.0, 2.0):
        x = at + deltas
        expected = lgamma_series(x - at, at_two=at == 2.0)  # x - at is exact
        tolerance_check(2e-15)(run_onnx(pt.gammaln, x, "float64"), expected)  # 4.4e-16
    np.testing.assert_equal(
        run_onnx(pt.gammaln, [1.9999999999999998], "float64"), [-9.387698065543117e-17]
    )


def test_gammaln_against_scipy():
    values = positive_and_negative()
    x = pt.vector("x")
    # Next to 1 and 2 SciPy errs by up to 2.2e-16 absolutely (previous test); elsewhere the
    # measured relative error is 9e-16. Left of 0, lgamma = log(pi / |sin(pi x)|) - lgamma(1 - x)
    # loses relative accuracy where the two cancel (lgamma's negative zeros), as SciPy's does.
    compare([x], pt.gammaln(x), [values], assert_fn=tolerance_check(3e-15, 4e-15))
    x32 = pt.vector("x", dtype="float32")
    compare([x32], pt.gammaln(x32), [values.astype("float32")], assert_fn=tolerance_check(1e-6))


def test_gamma_special_points():
    values = [0.0, -0.0, -1.0, -2.0, -170.5, -171.5, -172.5, -200.5, 171.6, 171.7, 1e300]
    values += [-1e-300, 1e-300, 5e-324, np.inf, -np.inf, np.nan]
    x = pt.vector("x")
    check = tolerance_check(5e-15, SUBNORMAL_ATOL["float64"])
    compare([x], pt.gamma(x), [np.array(values)], assert_fn=check)


def test_digamma_accuracy():
    x = pt.vector("x")
    root = 1.4616321449683622 + np.linspace(-0.3, 0.3, 601)  # the zero of psi
    positive = np.concatenate([np.linspace(0, 60, 3001), np.geomspace(1e-300, 1e300, 601), root])
    # measured 5e-16 for x > 0 (7.6e-16 next to the zero)
    compare(
        [x], pt.psi(x), [np.concatenate([positive, SPECIALS])], assert_fn=tolerance_check(2e-15)
    )
    # x < 0: psi(1 - x) - pi / tan(pi x) cancels next to psi's negative zeros (SciPy's too):
    # measured 1.8e-15 absolutely where psi(1 - x) ~ 4.3. And SciPy's tan(pi x) rounds pi x:
    # its psi(-3.9723) is 3.5e-15 off (-34.509939416359890; mpmath: ...360012, ours ...360020).
    negative = -np.concatenate([np.linspace(0.0123, 80.0123, 2001), np.arange(1.0, 20.0)])
    compare([x], pt.psi(x), [negative], assert_fn=tolerance_check(8e-15, 8e-15))
    x32 = pt.vector("x", dtype="float32")
    compare(
        [x32],
        pt.psi(x32),
        [np.concatenate([positive, negative]).astype("float32")],
        assert_fn=tolerance_check(1e-6, 1e-6),
    )


def test_erfcinv_accuracy():
    q = np.concatenate(
        [np.linspace(0, 2, 2001), np.geomspace(1e-300, 1, 800), 2 - np.geomspace(1e-16, 1, 400)]
    )
    q = np.concatenate([q, 1 + np.geomspace(1e-300, 0.4, 400), [-0.5, 2.5, *SPECIALS]])
    for dtype in FLOAT_DTYPES:
        x = pt.vector("x", dtype=dtype)
        rtol = 3e-15 if dtype == "float64" else 1e-6  # measured 6.6e-16 / correctly rounded
        compare([x], pt.erfcinv(x), [q.astype(dtype)], assert_fn=tolerance_check(rtol))
    # SciPy loses the subnormal q (inf at 5e-324); the true values, from mpmath:
    got = run_onnx(pt.erfcinv, [5e-324, 1.5e-323], "float64")
    np.testing.assert_allclose(got, [27.213293210812949, 27.193114126203970], rtol=1e-15)


def test_bessel_i_near_overflow_and_infinity():
    # I_nu(x) = e^x / sqrt(2 pi x) sum_k (-1)^k prod_{j<=k} (4 nu^2 - (2j-1)^2) / (8 j x): six
    # terms are exact to 1e-19 here; in long double, whose range holds e^714.
    x = np.linspace(700.0, 713.98, 300)
    for nu, build in [(0, pt.i0), (1, pt.i1)]:
        xl = x.astype(np.longdouble)
        total, term = np.ones_like(xl), np.ones_like(xl)
        for j in range(1, 7):
            term = term * -(4 * nu**2 - (2 * j - 1) ** 2) / (8 * j * xl)
            total = total + term
        expected = (np.exp(xl) / np.sqrt(2 * np.pi * xl) * total).astype(float)
        assert np.isfinite(expected).all()
        tolerance_check(4e-15)(run_onnx(build, x, "float64"), expected)
    got = run_onnx(pt.i0, [715.0, np.inf, -np.inf], "float64")
    np.testing.assert_array_equal(got, [np.inf] * 3)  # SciPy: inf, nan, nan
    np.testing.assert_array_equal(run_onnx(pt.i1, [np.inf, -np.inf], "float64"), [np.inf, -np.inf])


def test_sin_cos_tan_near_multiples_of_half_pi():
    # onnxruntime's float64 Sin/Cos err by 1e-11 relatively next to their zeros below 1000
    # (sin(pi) = 0); the reduction by pi/2 in three parts keeps 1 ulp.
    k = np.arange(-630, 631)
    values = np.concatenate([k * (np.pi / 2), np.nextafter(k * (np.pi / 2), np.inf)])
    for build, reference in [(pt.sin, np.sin), (pt.cos, np.cos), (pt.tan, np.tan)]:
        tolerance_check(2e-15)(run_onnx(build, values, "float64"), reference(values))


def test_log2_log10_exact_at_powers():
    # Exact where the power is representable (all powers of 2, 10**0 ... 10**22), as NumPy's.
    twos = 2.0 ** np.arange(-1074, 1024)
    np.testing.assert_array_equal(run_onnx(pt.log2, twos, "float64"), np.arange(-1074, 1024))
    twos32 = np.float32(2.0) ** np.arange(-149, 128, dtype="float32")
    assert_exact(run_onnx(pt.log2, twos32, "float32"), np.arange(-149, 128, dtype="float32"))
    exact = {"float64": 22, "float32": 10}
    for dtype in FLOAT_DTYPES:
        powers = np.asarray(10.0, dtype) ** np.arange(exact[dtype] + 1, dtype=dtype)
        assert_exact(run_onnx(pt.log10, powers, dtype), np.arange(exact[dtype] + 1, dtype=dtype))
        others = np.asarray(10.0, dtype) ** np.arange(-300, 300, dtype=dtype)
        rtol = 4.5e-16 if dtype == "float64" else 2.4e-7  # 2 ulps
        tolerance_check(rtol, SUBNORMAL_ATOL[dtype])(
            run_onnx(pt.log10, others, dtype), np.log10(others)
        )


def test_softplus_sigmoid_log1mexp_tails():
    values = np.array([-1e300, -800.0, -745.0, -40.0, 37.0, 40.0, 710.0, 800.0, 1e300])
    for dtype in FLOAT_DTYPES:
        v = values.astype(dtype)
        x = pt.vector("x", dtype=dtype)
        rtol = 1e-15 if dtype == "float64" else 1e-6
        outputs = [pt.softplus(x), pt.sigmoid(x), pt.log1mexp(-pt.abs(x))]
        compare([x], outputs, [v], assert_fn=tolerance_check(rtol, SUBNORMAL_ATOL[dtype]))


# -- binary: arctan2 ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_arctan2_signed_zeros_and_infinities(dtype):
    inputs, values = outer_inputs(dtype, dtype)
    rtol = 2e-15 if dtype == "float64" else 1e-6
    compare(inputs, pt.arctan2(*inputs), values, assert_fn=tolerance_check(rtol))


def test_arctan2_accuracy():
    rng = np.random.default_rng(0)
    y, x = (np.exp(rng.uniform(-50, 50, 4000)) * rng.choice([-1, 1], 4000) for _ in range(2))
    for dtype in FLOAT_DTYPES:
        inputs = [pt.vector("y", dtype=dtype), pt.vector("x", dtype=dtype)]
        rtol = 2e-15 if dtype == "float64" else 1e-6  # measured 4.4e-16 / 2.4e-7
        compare(
            inputs,
            pt.arctan2(*inputs),
            [y.astype(dtype), x.astype(dtype)],
            assert_fn=tolerance_check(rtol),
        )


# -- Mod, Sign, Trunc, Clip, IsNan, IsInf, bitwise ------------------------------------------
@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, *INT_DTYPES, "bool"])
def test_mod_edge_values(dtype):
    # Python's sign convention; integer division by 0 (and INT_MIN % -1) give 0 as in NumPy
    # (onnxruntime's integer Mod would trap); float x % 0 is NaN.
    inputs, values = outer_inputs(dtype, dtype)
    compare(inputs, inputs[0] % inputs[1], values, assert_fn=assert_exact)


@pytest.mark.parametrize("dtypes", [("int8", "uint8"), ("int64", "float32"), ("int16", "float64")])
def test_mod_mixed_dtypes(dtypes):
    inputs, values = outer_inputs(*dtypes)
    compare(inputs, inputs[0] % inputs[1], values, assert_fn=assert_exact)


def test_float_mod_is_exact():
    rng = np.random.default_rng(1)
    a = np.exp(rng.uniform(-30, 30, 3000)) * rng.choice([-1, 1], 3000)
    b = np.exp(rng.uniform(-30, 30, 3000)) * rng.choice([-1, 1], 3000)
    for dtype in FLOAT_DTYPES:
        x, y = pt.vector("x", dtype=dtype), pt.vector("y", dtype=dtype)
        compare([x, y], x % y, [a.astype(dtype), b.astype(dtype)], assert_fn=assert_exact)


@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, *INT_DTYPES])
def test_sign_trunc_isnan_isinf(dtype):
    x = pt.vector("x", dtype=dtype)
    outputs = [pt.sign(x), pt.trunc(x), pt.isnan(x), pt.isinf(x)]
    values = edge_values(dtype)
    if dtype.startswith("float"):
        values = np.concatenate([values, np.array([-0.5, 0.5, -2.5, 1e20, -1e20], dtype)])
    compare([x], outputs, [values], assert_fn=assert_exact)


@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, "int8", "int16", "uint16", "uint64", "bool"])
def test_clip(dtype):
    # PyTensor's clip: NaN bounds are ignored, min > max gives min below and max above.
    x = pt.vector("x", dtype=dtype)
    lo, hi = pt.scalar("lo", dtype=dtype), pt.scalar("hi", dtype=dtype)
    values = edge_values(dtype)
    bounds = [(values[1], values[-1]), (values[-1], values[1]), (values[0], values[0])]
    if dtype.startswith("float"):
        bounds += [(np.nan, 1.0), (-1.0, np.nan), (3.0, -3.0)]
    fn = pytensor.function([x, lo, hi], pt.clip(x, lo, hi), mode=RAW)
    reference = pytensor.function([x, lo, hi], pt.clip(x, lo, hi), mode=py_mode)
    for low, high in bounds:
        low, high = np.asarray(low, dtype), np.asarray(high, dtype)
        got, expected = fn(values, low, high), reference(values, low, high)
        if not (np.signbit(low) or np.signbit(high)):
            assert_exact(got, expected)
            continue
        # A bound of -0.0 comes out as 0.0 (onnxruntime's Where, see the converter); x's own
        # -0.0 is kept where x is not clipped.
        assert_same(got, expected)
        kept = (values == 0) & ~(values < low) & ~(values > high)
        np.testing.assert_array_equal(np.signbit(got[kept]), np.signbit(expected[kept]))


@pytest.mark.parametrize("op", [ps.and_, ps.or_, ps.xor], ids=["and", "or", "xor"])
@pytest.mark.parametrize(
    "dtypes",
    [
        ("bool", "bool"),
        ("int8", "int8"),
        ("uint64", "uint64"),
        ("int8", "uint8"),
        ("int32", "int64"),
    ],
)
def test_bitwise_binary(op, dtypes):
    inputs, values = outer_inputs(*dtypes)
    compare(inputs, Elemwise(op)(*inputs), values, assert_fn=assert_exact)


@pytest.mark.parametrize("dtype", ["bool", *INT_DTYPES])
def test_invert(dtype):
    x = pt.vector("x", dtype=dtype)
    compare([x], ~x, [edge_values(dtype)], assert_fn=assert_exact)


# -- shapes, fused graphs, rewrites ---------------------------------------------------------
@pytest.mark.parametrize(
    "shape, value_shape", [((None,), (0,)), ((), ()), ((2, None), (2, 3)), ((1, 3), (1, 3))]
)
def test_empty_0d_and_static_shapes(shape, value_shape):
    x = pt.tensor("x", dtype="float64", shape=shape)
    y = pt.tensor("y", dtype="float64", shape=shape)
    value = np.random.default_rng(2).uniform(0.1, 0.9, size=value_shape)
    outputs = [pt.gammaln(x), pt.erfc(x), pt.arctan2(x, y), x % y, pt.arcsin(x), pt.log1p(x)]
    compare(
        [x, y],
        outputs,
        [value, value[::-1] if value.ndim else value],
        assert_fn=tolerance_check(3e-15),
    )


def test_composite_of_decomposed_ops():
    # A fused scalar graph (what PyTensor's fusion rewrite builds) inlines the formulas.
    a = ps.float64("a")
    inner = ps.gammaln(a) * ps.erf(a) + ps.sin(a) / (1.0 + psm.sigmoid(a)) - ps.arctanh(a / 3)
    x = pt.vector("x")
    out = Elemwise(ps.Composite([a], [inner]))(x)
    value = np.linspace(0.05, 2.5, 50)
    compare([x], out, [value], assert_fn=tolerance_check(5e-15, 1e-15))


@pytest.mark.parametrize(
    "build, rewritten_to, value, expected",
    [
        (lambda x: pt.log(1 + x), "Log1p", 1e-20, 1e-20),
        (lambda x: pt.log(1 + pt.exp(x)), "Softplus", 800.0, 800.0),
        (lambda x: pt.log(1 - pt.exp(x)), "Log1mexp", -1e-20, np.log(1e-20)),
        (lambda x: 1 / (1 + pt.exp(-x)), "Sigmoid", -800.0, 0.0),
        (lambda x: pt.exp(x) - 1, "Expm1", 1e-20, 1e-20),
        (lambda x: 1 - pt.erf(x), "Erfc", 10.0, sp.erfc(10.0)),
    ],
    ids=["log1p", "softplus", "log1mexp", "sigmoid", "expm1", "erfc"],
)
def test_rewritten_stable_forms(build, rewritten_to, value, expected):
    # The default ONNX mode rewrites the naive formulas into the stable ops converted here.
    x = pt.vector("x")
    fn = pytensor.function([x], build(x), mode=pytensor_onnx_mode())
    scalar_ops = set()
    for node in fn.maker.fgraph.apply_nodes:
        inner = getattr(node.op, "scalar_op", None)
        scalar_ops.add(type(inner).__name__)
        if isinstance(inner, ps.Composite):
            scalar_ops |= {type(n.op).__name__ for n in inner.fgraph.apply_nodes}
    assert rewritten_to in scalar_ops
    np.testing.assert_allclose(
        fn(np.array([value, 0.5])), [expected, sp_reference(build, 0.5)], rtol=1e-15
    )


def pytensor_onnx_mode():
    from pytensor_onnx.mode import onnx_mode

    return onnx_mode(intra_op_num_threads=1)


def sp_reference(build, value):
    x = pt.vector("x")
    return pytensor.function([x], build(x), mode=py_mode)(np.array([value]))[0]


def test_graph_uses_no_float64_kernels_onnxruntime_lacks():
    x = pt.vector("x")
    builds = [pt.tan, pt.arcsin, pt.arccos, pt.arctan, pt.sinh, pt.cosh, pt.arcsinh]
    builds += [pt.arccosh, pt.arctanh, pt.erf, pt.softplus]
    fn = pytensor.function([x], [b(x) for b in builds] + [pt.arctan2(x, x)], mode=RAW)
    missing = {"Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf"}
    assert not missing & set(get_onnx_node_types(fn))
    assert "Softplus" not in get_onnx_node_types(fn)  # overflows past 709 in float64


def test_non_float_output_is_rejected():
    # A scalar op built to return integers has no float formula to use.
    x = pt.vector("x", dtype="int32")
    out = Elemwise(psm.Erf(ps.upcast_out, name="int_erf"))(x)
    with pytest.raises(NotImplementedError, match="Erf supports float outputs only, not int32"):
        pytensor.function([x], out, mode=RAW)


# -- incomplete gamma functions --------------------------------------------------------------
# (a, x, P, Q) from mpmath at 40 digits.
GAMMAINC_TRUTH = [
    (0.5, 0.3, 0.5614219739190002, 0.4385780260809999),
    (2.5, 4.0, 0.8437643724222776, 0.15623562757772233),
    (30.0, 28.0, 0.3773896943143976, 0.6226103056856024),
    (150.0, 180.0, 0.9900898814275666, 0.009910118572433384),
    (0.001, 0.2, 0.9987774521605268, 0.0012225478394732089),
    (5.0, 0.01, 8.264185641806499e-13, 0.9999999999991735),
    (1000.0, 1010.0, 0.6276789447369947, 0.3723210552630053),
    (2619.390666363865, 1158.8750027900257, 5.573255679232536e-296, 1.0),
    (2673.658515964086, 3983.4946204648604, 1.0, 2.0313891341468406e-108),
    (1e-300, 1.0, 1.0, 2.193839343955203e-301),
]


def gammainc_check(got, expected):
    # SciPy errs by up to 7.6e-12 on results below 1e-100 (GAMMAINC_TRUTH's tails): the
    # tolerance grows below 1e-30. Above they agree to 6.3e-13 (SciPy's own error 4.2e-13).
    small = np.abs(expected) < 1e-30
    tolerance_check(1e-12, SUBNORMAL_ATOL["float64"])(got[~small], expected[~small])
    tolerance_check(2e-11, SUBNORMAL_ATOL["float64"])(got[small], expected[small])


def gammainc_functions():
    k, x = pt.vector("k"), pt.vector("x")
    outputs = [pt.gammainc(k, x), pt.gammaincc(k, x), pt.gammal(k, x), pt.gammau(k, x)]
    return [k, x], outputs


def test_gammainc_against_mpmath():
    # On 1000 random points against mpmath: 3.6e-14 for results above 1e-30, 3.3e-13 below
    # (SciPy: 4.2e-13 and 5.6e-12); here on fixed points, 2e-14 (the tails: 5e-14).
    a, x, p, q = (np.array(column) for column in zip(*GAMMAINC_TRUTH))
    inputs, outputs = gammainc_functions()
    got_p, got_q, *_ = pytensor.function(inputs, outputs, mode=RAW)(a, x)
    tolerance_check(1e-13)(got_p, p)
    tolerance_check(1e-13)(got_q, q)


# Far below the mean, x << a (P tiny, a >= 10: the Stirling form of the power factor):
# (a, x, P) from mpmath at 50 digits.
GAMMAINC_FAR_BELOW_MEAN = [
    (12.0, 0.12, 1.666277975516651e-20),
    (30.0, 0.03, 7.539962882635467e-79),
    (100.0, 0.1, 9.705034877125629e-259),
    (100.0, 1.0, 3.9812808189568546e-159),
    (100.0, 10.0, 5.398589728139581e-63),
    (1000.0, 300.0, 2.4149201482967856e-221),
    (10000.0, 8000.0, 6.135448501090494e-103),
]


def test_gammainc_far_below_the_mean_against_mpmath():
    # x / a is formed as a ratio, not as 1 + (x - a) / a: that lost u's low digits near
    # u = -1, which a multiplies (1.1e-11 at a = 100, x = 0.1). Measured now: 1.0e-13, at
    # a = 100, x = 1, where the exponent a D(x / a) = 362 rounds (SciPy: 1.6e-15 there,
    # 3.2e-13 at a = 1000, x = 300).
    a, x, p = (np.array(column) for column in zip(*GAMMAINC_FAR_BELOW_MEAN))
    inputs, outputs = gammainc_functions()
    got_p = pytensor.function(inputs, outputs[0], mode=RAW)(a, x)
    tolerance_check(2e-13)(got_p, p)


def test_gammainc_family_against_scipy():
    rng = np.random.default_rng(4)
    a = np.concatenate([np.exp(rng.uniform(-8, 8, 1500)), np.exp(rng.uniform(-18, 2, 500))])
    x = a * np.exp(rng.uniform(-1.5, 1.5, 2000))
    x[1500:] = np.exp(rng.uniform(-18, 0.7, 500))  # small a and x: DLMF 8.7.3 for Q
    special = [(0.0, 1.0), (0.0, 0.0), (1.0, 0.0), (np.inf, 1.0), (np.inf, np.inf), (1.0, np.inf)]
    special += [(-1.0, 1.0), (1.0, -1.0), (np.nan, 1.0), (1.0, np.nan), (3.0, 3.0), (1e-3, 50.0)]
    a = np.concatenate([a, [s[0] for s in special]])
    x = np.concatenate([x, [s[1] for s in special]])
    inputs, outputs = gammainc_functions()
    # (gammal and gammau are P and Q times gamma(a): past gamma's overflow, SciPy's 0 * inf
    # is NaN where our subnormal * inf is inf; those points are left out.)
    keep = (a < 171) | ~np.isfinite(a)
    compare(inputs, outputs, [a[keep], x[keep]], assert_fn=gammainc_check)


def test_gammainc_of_huge_a_near_x_does_not_converge_to_a_wrong_value():
    # At a = x = 1e7 the power series needs ~27000 terms (SciPy switches to Temme's
    # asymptotic expansion): past 20000 iterations the result is NaN, not a partial sum.
    inputs, outputs = gammainc_functions()
    got = pytensor.function(inputs, outputs[:2], mode=RAW)(
        np.array([1e7, 1e6]), np.array([1e7, 1e6])
    )
    assert np.isnan(got[0][0]) and abs(got[1][0] - sp.gammaincc(1e7, 1e7)) < 1e-12
    np.testing.assert_allclose(got[0][1], sp.gammainc(1e6, 1e6), rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gammainc_broadcast_and_dtypes(dtype):
    k = pt.matrix("k", dtype=dtype, shape=(None, 1))
    x = pt.matrix("x", dtype=dtype, shape=(1, None))
    values = [np.array([[0.5], [3.0], [40.0]], dtype), np.array([[0.0, 0.7, 3.5, 60.0]], dtype)]
    check = gammainc_check if dtype == "float64" else tolerance_check(1e-6)
    compare([k, x], [pt.gammainc(k, x), pt.gammaincc(k, x)], values, assert_fn=check)


def test_gammainc_gradient_in_default_mode():
    # The gradient with respect to k is a ScalarLoop (PyTensor's series for it, which stops
    # once a term is below 1e-10: results that differ in the last bits stop at another
    # term, so they agree to ~1e-10; measured 3.4e-10 relatively).
    k, x = pt.vector("k"), pt.vector("x")
    outputs = pt.grad((pt.gammainc(k, x) + pt.gammaincc(k, x) * 2).sum(), [k, x])
    values = [np.array([0.5, 2.0, 10.0, 30.0]), np.array([0.3, 3.0, 9.0, 40.0])]
    compare([k, x], outputs, values, mode=None, assert_fn=tolerance_check(2e-9, 1e-10))


# -- ScalarLoop ------------------------------------------------------------------------------
def scalar_loop_graph(is_while):
    from pytensor.scalar.loop import ScalarLoop

    x0, x1, c = ps.float64("x0"), ps.float64("x1"), ps.float64("c")
    if is_while:  # doubles x0 until it passes c
        op = ScalarLoop(init=[x0], update=[x0 * 2], constant=[c], until=(x0 * 2) > c)
    else:  # a Fibonacci-like recurrence
        op = ScalarLoop(init=[x0, x1], update=[ps.identity(x1), x0 + x1 * c], constant=[c])
    n = pt.vector("n", dtype="int32")
    a = pt.matrix("a", shape=(None, 1))
    cc = pt.scalar("c")
    init = [a] if is_while else [a, a + 1]
    return [n, a, cc], Elemwise(op)(n, *init, cc)


@pytest.mark.parametrize("is_while", [False, True], ids=["for", "while"])
def test_scalar_loop(is_while):
    # Each element runs its own number of steps (and stops at its own until); the until
    # output is the last condition computed (False where no step ran).
    inputs, outputs = scalar_loop_graph(is_while)
    n = np.array([0, 1, 5, 30, 100], dtype="int32")
    values = [n, np.array([[1.0], [-3.0], [0.25]]), np.array(40.0)]
    compare(inputs, outputs, values, assert_fn=assert_exact)
    compare(inputs, outputs, [n[:0], values[1], values[2]], assert_fn=assert_exact)  # empty


def test_grad2f1_loop_in_hyp2f1_gradient():
    # The gradient of hyp2f1 is a Grad2F1Loop (a ScalarLoop with an until condition).
    a, b, c, z = pt.vectors("abcz")
    outputs = pt.grad(pt.hyp2f1(a, b, c, z).sum(), [a, b, c])
    values = [np.array([1.0, 2.5, 0.3]), np.array([2.0, 1.5, 4.0]), np.array([3.0, 4.5, 2.0])]
    values.append(np.array([0.5, -0.7, 0.95]))
    fn = compare([a, b, c, z], outputs, values, mode=None, assert_fn=tolerance_check(1e-12))
    assert "Loop" in get_onnx_node_types(fn)


# -- polygamma -------------------------------------------------------------------------------
def test_polygamma():
    # Hurwitz's zeta as in SciPy (Cephes): measured 3.6e-16 for x > 0. Left of 0 the direct
    # sum runs until q + i > 9 (an ONNX Loop); n = 0 is digamma, whose negative zeros cancel
    # (2.4e-14 at psi(-4.6546) = -0.0173, 4e-16 absolutely).
    rng = np.random.default_rng(5)
    n = rng.integers(0, 12, 3000)
    x = np.concatenate([np.exp(rng.uniform(-10, 10, 2000)), -np.exp(rng.uniform(-5, 6, 1000))])
    edge_n = [1, 2, 3, 1, 2, -1, 0, 2, 5, 1, 30, 60, 1, 2]
    edge_x = [0.0, 0.0, -0.0, -1.0, np.inf, 1.0, 1.0, 1e9, -3.5, 1e-300, 2.0, 5.0, -np.inf, np.nan]
    n = np.concatenate([n, edge_n])
    x = np.concatenate([x, edge_x])
    order, value = pt.vector("n", dtype="int64"), pt.vector("x")
    compare(
        [order, value], pt.polygamma(order, value), [n, x], assert_fn=tolerance_check(3e-15, 1e-15)
    )
    order32, value32 = pt.vector("n", dtype="int8"), pt.vector("x", dtype="float32")
    n32, x32 = n[(n < 30) & (np.abs(x) < 1e30)].astype("int8"), x[(n < 30) & (np.abs(x) < 1e30)]
    compare(
        [order32, value32],
        pt.polygamma(order32, value32),
        [n32, x32.astype("float32")],
        assert_fn=tolerance_check(1e-6, 1e-30),
    )


def test_polygamma_far_left_of_zero_is_nan():
    # Left of -99990 the direct sum would need more than 100000 terms: NaN, not a partial sum
    # (SciPy sums them all).
    got = run_onnx(lambda x: pt.polygamma(2, x), [-1e6 - 0.5, -99.5], "float64")
    assert np.isnan(got[0])
    np.testing.assert_allclose(got[1], sp.polygamma(2, -99.5), rtol=1e-14)


def test_float16_computes_in_float32():
    # onnxruntime lacks most float16 kernels: float16 computes in float32 and rounds once,
    # as NumPy's float16 functions do (within 1 float16 ulp, 9.8e-4).
    x = pt.vector("x", dtype="float16")
    # (not log1mexp: NaN for x > 0; not i0, i1: SciPy's are NaN at +-inf)
    skip = ("log1mexp", "i0", "i1")
    builds = [build for name, (build, *_) in UNARY.items() if name not in skip]
    values = np.concatenate([np.linspace(-5, 5, 101), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    check = tolerance_check(1e-3, 1e-4)
    compare([x], [b(x) for b in builds], [values.astype("float16")], assert_fn=check)


# -- incomplete beta function ----------------------------------------------------------------
def test_betainc_against_scipy():
    # Against mpmath on 300 random points and SciPy's 15 farthest: 7.4e-13 at worst, where
    # b << 1 and x is past the mean, so that I = 1 - I_(1-x)(b, a) cancels (SciPy, whose
    # Boost code has a series there: 3e-14). Against SciPy here: 7.4e-13.
    rng = np.random.default_rng(6)
    a, b = np.exp(rng.uniform(-5, 7, 3000)), np.exp(rng.uniform(-5, 7, 3000))
    x = rng.uniform(0, 1, 3000)
    x[:1500] = np.clip(a[:1500] / (a[:1500] + b[:1500]) * np.exp(rng.normal(0, 0.3, 1500)), 0, 1)
    special = [(0, 1, 0.5), (1, 0, 0.5), (0, 0, 0.5), (1, 1, 0), (1, 1, 1), (2, 3, -0.1)]
    special += [(2, 3, 1.1), (-1, 2, 0.5), (np.inf, 1, 0.5), (1, np.inf, 0.5), (2, 3, np.nan)]
    special += [(0, 1, 0), (1, 0, 1), (0.5, 0.5, 0.0), (np.inf, np.inf, 0.5)]
    a, b, x = (np.concatenate([v, [s[i] for s in special]]) for i, v in enumerate((a, b, x)))
    inputs = [pt.vector(name) for name in "abx"]

    def check(got, expected):
        # (below 1e-300 SciPy flushes to 0 results that mpmath confirms, e.g. 2e-297)
        normal = ~(np.abs(expected) < 1e-300)
        tolerance_check(2e-12)(got[normal], expected[normal])
        assert (np.abs(got[~normal]) < 1e-290).all()

    compare(inputs, pt.betainc(*inputs), [a, b, x], assert_fn=check)
    # SciPy's float32 betainc (Boost in float) errs by up to 100% (0 for 1e-30): float32
    # is checked against its float64 result, rounded.
    values32 = [v.astype("float32") for v in (a, b, x)]
    inputs32 = [pt.vector(name, dtype="float32") for name in "abx"]
    got = pytensor.function(inputs32, pt.betainc(*inputs32), mode=RAW)(*values32)
    expected = sp.betainc(*(v.astype("float64") for v in values32)).astype("float32")
    tolerance_check(1e-6, SUBNORMAL_ATOL["float32"])(got, expected)


# Far below the mean, a, b >= 10: (a, b, x, I) from mpmath at 50 digits.
BETAINC_FAR_BELOW_MEAN = [
    (10.0, 10.0, 0.005, 8.658929935750871e-19),
    (30.0, 50.0, 0.000375, 9.059135513603898e-82),
    (100.0, 100.0, 0.0005, 3.400649087322721e-272),
    (100.0, 100.0, 0.005, 2.1851487504439873e-172),
    (1000.0, 300.0, 0.3846, 6.750860360702775e-176),
    (20.0, 2000.0, 9.901e-06, 3.8106134418331195e-53),
]


def test_betainc_far_below_the_mean_against_mpmath():
    # As for gammainc: 1 + u = x (a + b) / a is formed as a product, not from u (before:
    # 1.7e-5 relatively at I = 1e-300, a = b = 31.6). Measured now: 1.5e-13 at a = b = 100,
    # x = 5e-4, where the exponents a D(u) + b D(v) ~ 600 round.
    a, b, x, expected = (np.array(column) for column in zip(*BETAINC_FAR_BELOW_MEAN))
    inputs = [pt.vector(name) for name in "abx"]
    got = pytensor.function(inputs, pt.betainc(*inputs), mode=RAW)(a, b, x)
    tolerance_check(3e-13)(got, expected)


def test_betainc_gradient_in_default_mode():
    # PyTensor's derivatives in a and b are ScalarLoops (Boik and Robison-Cox's series,
    # stopping at 1e-14 relative terms: agreement to ~1e-12, measured 2e-13).
    a, b, x = pt.vector("a"), pt.vector("b"), pt.vector("x")
    outputs = [pt.betainc(a, b, x), *pt.grad(pt.betainc(a, b, x).sum(), [a, b, x])]
    values = [np.array([0.5, 2.0, 10.0, 30.0]), np.array([1.5, 3.0, 9.0, 20.0])]
    values.append(np.array([0.3, 0.5, 0.45, 0.7]))
    compare([a, b, x], outputs, values, mode=None, assert_fn=tolerance_check(1e-11, 1e-14))
