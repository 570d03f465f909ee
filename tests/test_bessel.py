"""Bessel functions J0, J1, Jv, Ive, Kve (dispatch/bessel.py) against SciPy and mpmath.

SciPy (what PyTensor's perform calls) is the reference on dense sweeps; where SciPy itself is
less accurate than the decomposition (J0/J1 past x ~ 1000, where Cephes loses the phase;
next to the zeros of J; AMOS' ive/kve, ~1e-13), the sweep tolerance is SciPy's error and
tables computed with mpmath (60 digits, at the bottom of this file) check tightly. Each
tolerance states the error measured (onnxruntime 1.32). float32 is computed in float64:
its results are the float64 ones rounded.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.special as sp

from tests.test_basic import compare_onnx_and_py
from tests.test_elemwise import RAW
from tests.test_scalar_math import tolerance_check

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan]


@pytest.fixture(scope="module")
def j01():
    x = pt.dvector("x")
    return pytensor.function([x], [pt.j0(x), pt.j1(x)], mode=RAW)


@pytest.fixture(scope="module")
def bessel_v():
    """ive, kve and jv of two float64 vectors, one model."""
    v, x = pt.dvector("v"), pt.dvector("x")
    return pytensor.function([v, x], [pt.ive(v, x), pt.kve(v, x), pt.jv(v, x)], mode=RAW)


def envelope(x):
    """min(1, sqrt(2 / (pi |x|))): the size of J's oscillations, the scale of its
    absolute error near its zeros."""
    return np.minimum(1.0, np.sqrt(2.0 / (np.pi * np.maximum(np.abs(x), 1e-300))))


def assert_within(got, expected, bound, what):
    got, expected = np.asarray(got), np.asarray(expected)
    error = np.abs(got - expected)
    worst = np.argmax(error - bound)
    assert error[worst] <= bound[worst], (
        f"{what}: error {error[worst]:.3g} > {bound[worst]:.3g} at index {worst} "
        f"(got {got[worst]!r}, expected {expected[worst]!r})"
    )


# -- J0 and J1 ---------------------------------------------------------------------------------
def test_j0_j1_sweep_against_scipy(j01):
    geo = np.geomspace(1e-300, 1000.0, 800)
    x = np.concatenate([np.linspace(-30, 30, 24001), geo, -geo, np.linspace(30, 1000, 4001)])
    got0, got1 = j01(x)
    for got, ref in [(got0, sp.j0(x)), (got1, sp.j1(x))]:
        # measured against SciPy: 1.0e-15 absolute for |x| <= 1000 (SciPy's own error: its
        # phase x - pi/4 rounds; the mpmath table below checks tightly); 4.9e-15 relative
        # where |J| > 0.1; 6.7e-16 relative below x = 1
        assert_within(got, ref, 1.5e-15 + 6e-15 * np.abs(ref), "sweep")
        small = np.abs(x) < 1.0
        assert_within(got[small], ref[small], 1e-15 * np.abs(ref[small]), "x < 1")


def test_j0_j1_against_mpmath(j01):
    x, ref0, ref1 = np.array(J01_TABLE).T
    got0, got1 = j01(np.concatenate([x, -x]))
    # next to the zeros and at 1e3 ... 1e300, where SciPy is off by up to 4e-10 (absolute):
    # measured 1.8e-15 relative, plus 2e-16 of the envelope next to the zeros above 8 (where
    # Hankel's form P cos - Q sin cancels; below 8 the zeros are factored out: 1.8e-15)
    for got, ref in [(got0, np.concatenate([ref0, ref0])), (got1, np.concatenate([ref1, -ref1]))]:
        xx = np.concatenate([x, -x])
        assert_within(got, ref, 4e-15 * np.abs(ref) + 5e-16 * envelope(xx), "mpmath table")


def test_j0_j1_special_values():
    check = tolerance_check(rtol=4e-16, atol=1e-320)  # (J1 of tiny: subnormal)
    for dtype in ("float32", "float64"):
        info = np.finfo(dtype)
        # (not +-max: SciPy's Cephes loses the phase there; the mpmath table has 1e300)
        values = np.array([*SPECIALS, info.tiny, -info.tiny, 1e-30, -3.5], dtype=dtype)
        x = pt.vector("x", dtype=dtype)
        compare_onnx_and_py([x], [pt.j0(x), pt.j1(x)], [values], onnx_mode=RAW, assert_fn=check)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_j0_j1_through_pytensor(dtype):
    # float32 through PyTensor's perform (SciPy's float32 loops: double inside, rounded):
    # the float64 result rounded, within 1 float32 ulp (2.4e-7 measured max: 6e-8 relative)
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(-40, 40, 2000), [1e-3, 5.0, 8.0, 20.0, 1e4]])
    x = pt.matrix("x", dtype=dtype, shape=(None, None))
    # float64: SciPy's own absolute error up to 2e-15 (see the sweep)
    tol = dict(rtol=2.5e-7, atol=3e-8) if dtype == "float32" else dict(rtol=6e-15, atol=2.5e-15)
    compare_onnx_and_py(
        [x],
        [pt.j0(x), pt.j1(x)],
        [values.reshape(5, -1).astype(dtype)],
        onnx_mode=RAW,
        assert_fn=tolerance_check(**tol),
    )


# -- Ive and Kve -----------------------------------------------------------------------------
def _outer(orders, xs):
    v, x = np.meshgrid(np.asarray(orders, float), np.asarray(xs, float), indexing="ij")
    return v.ravel(), x.ravel()


def _compare_scipy(got, ref, rtol, what, big=None):
    """Relative comparison; both non-finite alike, except where SciPy overflows early:
    ``big`` (a bound) lets a finite result above it stand for SciPy's inf."""
    got, ref = np.asarray(got), np.asarray(ref)
    # SciPy flushes subnormal results to 0
    tiny = (np.abs(got) < 1e-300) & (np.abs(ref) < 1e-300)
    finite = np.isfinite(ref) & np.isfinite(got) & ~tiny
    same = (got == ref) | (np.isnan(got) & np.isnan(ref)) | tiny
    if big is not None:
        same |= np.isinf(ref) & (np.abs(got) > big)
    assert np.all(finite | same), f"{what}: non-finite mismatch {got[~(finite | same)][:5]}"
    assert_within(got[finite], ref[finite], rtol * np.abs(ref[finite]), what)


def test_ive_kve_sweep_against_scipy(bessel_v):
    rng = np.random.default_rng(1)
    n = 6000
    orders = np.concatenate([rng.uniform(0, 3, n), rng.uniform(0, 150, n), np.arange(-5.0, 6.0)])
    xs = np.concatenate(
        [rng.uniform(0, 40, n), rng.uniform(0, 300, n), np.geomspace(1e-5, 1e5, 11)]
    )
    v, x = orders, xs
    got_i, got_k, _ = bessel_v(v, x)
    # SciPy's (AMOS') own error: measured up to 1.1e-13 (ive) and 1.9e-13 (kve) here, ours
    # against mpmath below 4e-15 (see the table test)
    _compare_scipy(got_i, sp.ive(v, x), 3e-13, "ive")
    _compare_scipy(got_k, sp.kve(v, x), 3e-13, "kve", big=1e300)
    # negative x: integer orders only ((-1)^v I_v(|x|)), NaN for the others (SciPy)
    vn, xn = _outer([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 2.5, -0.5], -np.geomspace(1e-3, 100, 30))
    got_i, got_k, _ = bessel_v(vn, xn)
    _compare_scipy(got_i, sp.ive(vn, xn), 3e-13, "ive at x < 0")
    assert np.isnan(got_k).all()


def test_ive_negative_orders(bessel_v):
    # I_-nu = I_nu + (2/pi) sin(pi nu) K_nu cancels near the zeros of I_-nu: errors are
    # relative to the parts. Against mpmath, measured 2.5e-15 of the parts here; SciPy's own
    # error is 5.3e-13 of them (v = -7.0009, x = 2.088)
    rng = np.random.default_rng(2)
    v, x = -rng.uniform(0, 12, 4000), rng.uniform(0, 40, 4000)
    got, _, _ = bessel_v(v, x)
    nu = -v
    parts = sp.ive(nu, x) + (2 / np.pi) * np.abs(np.sin(np.pi * nu)) * sp.kve(nu, x) * np.exp(
        -2 * x
    )
    assert_within(got, sp.ive(v, x), 1e-12 * parts, "ive, negative orders")


def test_ive_kve_against_mpmath(bessel_v):
    v, x, ref_i, ref_k = np.array(IK_TABLE).T
    got_i, got_k, _ = bessel_v(v, x)
    # measured over the table: 6.7e-15 (ive, at v = 130: Gamma(131)); kve 1.4e-14 at
    # v = 130 (130 steps of recurrence) and 2.2e-14 at x = 1e-200, v = 0.3, where Temme's
    # series takes exp(mu log(2/x)) = exp(138): ~1e-16 |mu log(2/x)| (3.2e-14 at v = 0.5,
    # x = 1e-263). The reflected orders v < 0 of ive are relative to their parts
    plain = v >= 0
    assert_within(got_i[plain], ref_i[plain], 1e-14 * np.abs(ref_i[plain]), "ive")
    overflow = np.isinf(ref_k)  # K_2.7(1e-200) and beyond
    np.testing.assert_array_equal(got_k[overflow], ref_k[overflow])
    assert_within(got_k[~overflow], ref_k[~overflow], 4e-14 * np.abs(ref_k[~overflow]), "kve")
    nu = np.abs(v[~plain])
    parts = sp.ive(nu, x[~plain]) + sp.kve(nu, x[~plain]) * np.exp(-2 * x[~plain])
    assert_within(got_i[~plain], ref_i[~plain], 5e-15 * parts, "ive, v < 0")


def test_ive_kve_special_values(bessel_v):
    v, x = _outer([0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 2.5, -2.5, np.inf, -np.inf, np.nan], SPECIALS)
    got_i, got_k, _ = bessel_v(v, x)
    np.testing.assert_array_equal(got_i, sp.ive(v, x))
    np.testing.assert_array_equal(got_k, sp.kve(v, x))
    np.testing.assert_array_equal(np.signbit(got_i), np.signbit(sp.ive(v, x)))


def test_ive_kve_tiny_x_and_overflow(bessel_v):
    v, x = _outer([0.0, 0.5, 1.5, 7.0, 19.5, 47.3], np.geomspace(1e-300, 1e-3, 60))
    got_i, got_k, _ = bessel_v(v, x)
    # ive: (x/2)^nu / Gamma(nu + 1): measured 2.2e-16 (SciPy: 1e-13); kve: SciPy returns inf
    # where K is finite above ~1e305 (e.g. K_1.5(4.5e-206) = 1.31e308)
    _compare_scipy(got_i, sp.ive(v, x), 3e-13, "ive, tiny x")
    _compare_scipy(got_k, sp.kve(v, x), 3e-13, "kve, tiny x", big=1e300)


def test_ive_kve_large_orders(bessel_v):
    # orders up to ~1e4: the continued fractions and recurrences take up to 20000 steps.
    v = np.array([200.0, 300.0, 1000.0, 1000.0, 5000.0, 5000.0])
    x = np.array([500.0, 20000.0, 2000.0, 1e5, 1e4, 2e4])
    got_i, got_k, _ = bessel_v(v, x)
    # measured 3e-15 against SciPy (whose own error here is larger: 1e-13)
    _compare_scipy(got_i, sp.ive(v, x), 3e-13, "ive, large orders")
    _compare_scipy(got_k, sp.kve(v, x), 3e-13, "kve, large orders", big=1e300)
    # Beyond 20000 steps of recurrence the result is NaN (documented limit), where SciPy
    # gives the underflow/overflow limits 0 and inf.
    got_i, got_k, _ = bessel_v(np.array([3e4, 1e6]), np.array([3e4, 1e6]))
    assert np.isnan(got_i).all() and np.isnan(got_k).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bessel_v_broadcasting_through_pytensor(dtype):
    # an order column against an x row, one input of symbolic shape, against PyTensor's
    # perform; float32: within 2 float32 ulps (computed in float64 and rounded)
    v = pt.matrix("v", dtype=dtype, shape=(None, 1))
    x = pt.matrix("x", dtype=dtype, shape=(1, None))
    orders = np.array([[-2.0], [-0.5], [0.0], [0.3], [1.0], [2.5], [11.7]], dtype=dtype)
    xs = np.array([[1e-4, 0.3, 1.5, 2.0, 3.7, 9.0, 24.0, 27.0, 60.0, 150.0]], dtype=dtype)
    tol = dict(rtol=2.5e-7, atol=1e-30) if dtype == "float32" else dict(rtol=3e-13)
    compare_onnx_and_py(
        [v, x],
        [pt.ive(v, x), pt.kve(v, x)],
        [orders, xs],
        onnx_mode=RAW,
        assert_fn=tolerance_check(**tol),
    )
    # J near its zeros: absolute, relative to the envelope (below 1 here)
    tol = dict(rtol=2.5e-7, atol=1e-7) if dtype == "float32" else dict(rtol=1e-13, atol=2e-15)
    compare_onnx_and_py(
        [v, x], pt.jv(v, x), [orders, xs], onnx_mode=RAW, assert_fn=tolerance_check(**tol)
    )


# -- Jv --------------------------------------------------------------------------------------
def test_jv_against_mpmath(bessel_v):
    v, x, ref = np.array(JV_TABLE).T
    _, _, got = bessel_v(v, x)
    overflow = np.isinf(ref)  # J_-10.5(1e-100)
    np.testing.assert_array_equal(got[overflow], ref[overflow])
    v, x, ref, got = v[~overflow], x[~overflow], ref[~overflow], got[~overflow]
    # measured 1.1e-14 of the envelope (series, Hankel, recurrence and bessjy domains)
    assert_within(got, ref, 3e-14 * np.maximum(envelope(x), np.abs(ref)), "jv")


def test_jv_sweep_against_scipy(bessel_v):
    rng = np.random.default_rng(3)
    n = 3000
    v = np.concatenate(
        [
            rng.uniform(0, 3, n),
            rng.integers(-6, 7, n),
            rng.uniform(-10, 0, n),
            rng.uniform(0, 60, n),
        ]
    )
    x = np.concatenate(
        [
            rng.uniform(0, 40, n),
            rng.uniform(-40, 40, n),
            rng.uniform(0, 30, n),
            rng.uniform(0, 100, n),
        ]
    )
    _, _, got = bessel_v(v, x)
    ref = sp.jv(v, x)
    # relative to the envelope: measured 1.1e-14 against mpmath (x <= 100); SciPy's own
    # error up to 5.7e-14 of it
    scale = np.maximum(np.abs(ref), envelope(x) * (np.abs(x) > np.abs(v)))
    assert_within(got, ref, 3e-13 * np.maximum(scale, np.abs(ref)), "jv sweep")


def test_jv_large_x(bessel_v):
    # orders below x: Hankel's series at orders mu, mu + 1 and the forward recurrence; above:
    # bessjy. Measured against mpmath: 1.8e-14 of the envelope; SciPy's own error here is
    # 1.2e-12 of it
    rng = np.random.default_rng(4)
    v, x = rng.uniform(-60, 300, 2000), rng.uniform(100, 1500, 2000)
    _, _, got = bessel_v(v, x)
    ref = sp.jv(v, x)
    assert_within(got, ref, 3e-12 * np.maximum(envelope(x), np.abs(ref)), "jv, large x")


def test_jv_large_negative_orders(bessel_v):
    # J_-nu = cos(pi nu) J_nu - sin(pi nu) Y_nu with Y's upward recurrence; inf where Y
    # overflows (as SciPy). Measured 5.4e-14 relative against SciPy (the values' condition
    # number in the order is ~|v| log(2 |v| / x), ~700 here).
    v = np.array([-150.5, -160.3, -200.7, -149.5, -1000.5, -1000.3, -400.7])
    x = np.array([12.0, 5.0, 14.0, 3.0, 30.0, 30.0, 300.0])
    _, _, got = bessel_v(v, x)
    _compare_scipy(got, sp.jv(v, x), 2e-13, "jv, large negative orders")
    assert np.isposinf(got[4:6]).all()


def test_jv_special_values(bessel_v):
    v, x = _outer(
        [0.0, 1.0, -1.0, 2.0, -3.0, 0.5, -0.5, -1.5, 2.5, -2.5, np.inf, -np.inf, np.nan],
        [*SPECIALS, -2.0, 2.0],
    )
    _, _, got = bessel_v(v, x)
    ref = sp.jv(v, x)
    _compare_scipy(got, ref, 2e-15, "jv special values")  # 1.1e-15 measured
    zeros = ref == 0
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(ref[zeros]))


# (x, J0(x), J1(x)): mpmath 1.4, 60 digits, rounded to float64
J01_TABLE = [
    (2.4048255576957724, 1.6946014926954953e-16, 0.5191474972894669),
    (2.404825557695773, -6.10876525973673e-17, 0.5191474972894667),
    (2.4048255576957733, -2.916354544642841e-16, 0.5191474972894666),
    (3.831705970207512, -0.402759395702553, 1.1736302822728639e-16),
    (3.8317059702075125, -0.402759395702553, -6.149807356994906e-17),
    (3.831705970207513, -0.402759395702553, -2.403591753671845e-16),
    (5.0, -0.1775967713143383, -0.32757913759146523),
    (5.52007811028631, -3.297385076012021e-16, -0.3402648065583682),
    (5.520078110286311, -2.7522649432621832e-17, -0.34026480655836816),
    (5.5200781102863115, 2.7469320873595837e-16, -0.3402648065583681),
    (7.015586669815618, 0.30011575252613254, -2.38302940710985e-16),
    (7.015586669815619, 0.30011575252613254, 2.825339409478929e-17),
    (7.01558666981562, 0.30011575252613254, 2.9480972890056357e-16),
    (7.9999, 0.17167427006059147, 0.23462211348375298),
    (8.0001, 0.1716273427913037, 0.23465057773647316),
    (8.65372791291101, 4.0271149384345775e-16, 0.271452299928382),
    (8.653727912911013, -7.948465570525162e-17, 0.27145229992838193),
    (8.653727912911014, -5.616808052539609e-16, 0.2714522999283819),
    (10.17346813506272, -0.2497048770578432, 5.554867441707453e-16),
    (10.173468135062722, -0.2497048770578432, 1.1192177797744682e-16),
    (11.79153443901428, -4.783215602886359e-16, -0.2324598313647248),
    (11.791534439014281, -6.538994895807815e-17, -0.23245983136472478),
    (13.323691936314221, 0.21835940724787295, -4.446665828736027e-16),
    (13.323691936314223, 0.21835940724787295, -5.678235636145885e-17),
    (14.930917708487785, 2.2086121392812108e-16, 0.20654643307799603),
    (14.930917708487787, -1.460389551237033e-16, 0.20654643307799603),
    (16.47063005087763, -0.1964653714686572, 3.799039363435396e-16),
    (16.470630050877634, -0.1964653714686572, -3.180812762837805e-16),
    (19.999, 0.1670914156107866, 0.06666940376914872),
    (20.001, 0.1669577493873848, 0.06699676973236644),
    (1000.0, 0.024786686152420176, 0.004728311907089524),
    (8185467307069021.0, -3.957791941787102e-09, -7.881007456412026e-09),
    (6.700187503509577e28, 1.8096932955194856e-15, 2.4953019692328002e-15),
    (5.484416576121026e41, 9.331388326556316e-22, -5.385455489091289e-22),
    (4.489251258218589e54, 3.2011539649720105e-28, -1.9833285564811781e-28),
    (3.674661940736658e67, -2.2835026847054222e-35, -1.2962693478392554e-34),
    (3.0078825180431083e80, 2.2750880758209624e-41, 3.998627519014217e-41),
    (2.46209240149458e93, -1.1938451305648784e-47, -1.0772278085894769e-47),
    (2.015337685941719e106, 3.649244211968243e-54, -4.2745474867700607e-54),
    (1.6496480740980273e119, -1.0804335346380481e-60, -1.6406669785746324e-60),
    (1.35031403786985e132, 4.601407873269111e-67, -5.096380932971925e-67),
    (1.1052951411260154e145, 1.9743269048018092e-73, -1.3644631842333959e-73),
    (9.047357242349349e157, 7.999688638007721e-80, -2.523936569962472e-80),
    (7.405684692262563e170, -1.9467525767637787e-86, 2.192377832171755e-86),
    (6.0618989934973495e183, -8.624326239979883e-93, -5.535418236076511e-93),
    (4.961947603002776e196, 3.1086405415516873e-99, 1.7794359140193565e-99),
    (4.061585988376922e209, -1.0202525514271469e-106, 1.2478010865120075e-105),
    (3.324597932270932e222, 3.092095449965146e-112, 3.096404458037604e-112),
    (2.721338768375331e235, -1.3526302484045487e-118, 7.139704891244697e-119),
    (2.227542951999456e248, 5.296956033541039e-125, 7.223004359783753e-126),
    (1.823348000868379e261, -6.674148762555846e-132, -1.7452923580913355e-131),
    (1.4924955450517955e274, 6.373666057553096e-138, 1.4251664533802438e-138),
    (1.221677348996778e287, -6.332568587711958e-145, 2.193174886908899e-144),
    (1e300, -7.860673062724093e-151, -1.3681360450342481e-151),
]
# (v, x, Ive(v, x), Kve(v, x)): mpmath
IK_TABLE = [
    (0.0, 1e-200, 1.0, 460.6329501144676),
    (0.0, 1e-05, 0.9999900000749996, 11.628973270095617),
    (0.0, 0.7, 0.5593055265070683, 1.3301236562420558),
    (0.0, 1.9, 0.31824316288914156, 0.8614506167517558),
    (0.0, 2.1, 0.2995630945262819, 0.8230171525316621),
    (0.0, 7.0, 0.15373774467288126, 0.4658450960930159),
    (0.0, 24.0, 0.08186828833403062, 0.25452917420902205),
    (0.0, 26.0, 0.07862365204001373, 0.2446380149415515),
    (0.0, 80.0, 0.044673291782275276, 0.13990735522662032),
    (0.0, 1000.0, 0.012617240455891257, 0.03962832160075422),
    (0.0, 100000.0, 0.0012615678379767768, 0.003963322343474756),
    (0.3, 1e-200, 9.050461476895337e-61, 1.8415267231637326e60),
    (0.3, 1e-05, 0.028619785943860457, 58.179200915815535),
    (0.3, 0.7, 0.4429045430673364, 1.3886083307181911),
    (0.3, 1.9, 0.30254273657458375, 0.8783889693031454),
    (0.3, 2.1, 0.2873679383385698, 0.8378659405499032),
    (0.3, 7.0, 0.15266794670431325, 0.4686612379299651),
    (0.3, 24.0, 0.08171158472565562, 0.2549973193365446),
    (0.3, 26.0, 0.07848496347280481, 0.24505395309396957),
    (0.3, 80.0, 0.04464801101673299, 0.139985589558489),
    (0.3, 1000.0, 0.012616672408666615, 0.03963010402462427),
    (0.3, 100000.0, 0.0012615672702685388, 0.003963324126961295),
    (0.5, 1e-200, 7.978845608028654e-101, 1.2533141373155003e100),
    (0.5, 1e-05, 0.002523107290863148, 396.33272976060107),
    (0.5, 0.7, 0.35924308050380716, 1.4979969134027407),
    (0.5, 1.9, 0.2829485303464639, 0.9092496405495134),
    (0.5, 2.1, 0.27116810063755103, 0.8648689211983008),
    (0.5, 7.0, 0.15078588339013013, 0.4737082174254673),
    (0.5, 24.0, 0.08143375198381998, 0.2558316769866221),
    (0.5, 26.0, 0.07823901817554269, 0.24579512472436318),
    (0.5, 80.0, 0.044603102903819275, 0.14012478040994822),
    (0.5, 1000.0, 0.0126156626101008, 0.03963327297606011),
    (0.5, 100000.0, 0.00126156626101008, 0.003963327297606011),
    (1.0, 1e-200, 5e-201, 1e200),
    (1.0, 1e-05, 4.999950000312499e-06, 100000.99994435512),
    (1.0, 0.7, 0.18466998276274732, 2.1150113128480523),
    (1.0, 1.9, 0.21661191117477052, 1.0674709298145701),
    (1.0, 2.1, 0.21374767210633228, 1.0023680527405792),
    (1.0, 7.0, 0.14228923470959867, 0.49807157509547656),
    (1.0, 24.0, 0.08014413927653474, 0.2597787923956998),
    (1.0, 26.0, 0.07709652456966624, 0.24929899875354783),
    (1.0, 80.0, 0.044393200058097465, 0.14077907713800053),
    (1.0, 1000.0, 0.012610930256928629, 0.03964813081296021),
    (1.0, 100000.0, 0.0012615615301218171, 0.003963342160036932),
    (2.7, 1e-200, 0.0, np.inf),
    (2.7, 1e-05, 1.1668384657235534e-15, 158706788149017.94),
    (2.7, 0.7, 0.0072293968350717625, 24.7003190650554),
    (2.7, 1.9, 0.03961143608036146, 3.7916192078992337),
    (2.7, 2.1, 0.04472577502663715, 3.2422505064273928),
    (2.7, 7.0, 0.08823425255221136, 0.7557746773052584),
    (2.7, 24.0, 0.07011252242427986, 0.2953374381524945),
    (2.7, 26.0, 0.06815647267179961, 0.28069515841352116),
    (2.7, 80.0, 0.04267140882715908, 0.1463875860133909),
    (2.7, 1000.0, 0.012571311420995514, 0.03977295790887807),
    (2.7, 100000.0, 0.0012615218544372213, 0.003963466808484705),
    (10.5, 1e-200, 0.0, np.inf),
    (10.5, 1e-05, 1.8350791314688033e-63, 2.594931564662903e61),
    (10.5, 0.7, 6.88345747061561e-13, 69024363107.3453),
    (10.5, 1.9, 7.932113872908517e-09, 5906593.208153796),
    (10.5, 2.1, 1.8898214528996498e-08, 2470435.719968732),
    (10.5, 7.0, 0.00011011764538903353, 359.59741009956184),
    (10.5, 24.0, 0.00814442924197143, 2.34358700550717),
    (10.5, 26.0, 0.009325393526918017, 1.9122300807057353),
    (10.5, 80.0, 0.02235319570212109, 0.2772292535074653),
    (10.5, 1000.0, 0.011940214640709677, 0.0418729911707509),
    (10.5, 100000.0, 0.0012608725868766455, 0.003965507716275827),
    (45.0, 1e-200, 0.0, np.inf),
    (45.0, 1e-05, 2.375931913745969e-295, 4.67652757506536e292),
    (45.0, 0.7, 1.2659032348246259e-77, 8.77615767031162e74),
    (45.0, 1.9, 1.2679722609627248e-58, 8.755093338029541e55),
    (45.0, 2.1, 9.420944354469598e-57, 1.1781224604018476e54),
    (45.0, 7.0, 3.0235560037554073e-35, 3.631158528167058e32),
    (45.0, 24.0, 2.3991255868480995e-17, 408633040013044.25),
    (45.0, 26.0, 1.9804944730388342e-16, 48575832798456.66),
    (45.0, 80.0, 1.8037058423578435e-07, 30200.79315449139),
    (45.0, 1000.0, 0.0045824263956885155, 0.10900220450860802),
    (45.0, 100000.0, 0.001248858848120417, 0.0040036546174435795),
    (130.0, 1e-200, 0.0, np.inf),
    (130.0, 1e-05, 0.0, np.inf),
    (130.0, 0.7, 4.11673190916884e-280, 9.342600322477858e276),
    (130.0, 1.9, 2.959429021114558e-224, 1.2994882028893892e221),
    (130.0, 2.1, 1.0853060652014293e-218, 3.5433802660075634e215),
    (130.0, 7.0, 8.292555205931566e-153, 4.631370831873514e149),
    (130.0, 24.0, 3.4294738116338573e-90, 1.102861821745084e87),
    (130.0, 26.0, 1.8529174471344576e-86, 2.0354172900783586e83),
    (130.0, 80.0, 6.284430017868043e-42, 5.2122407650603575e38),
    (130.0, 1000.0, 2.719548301578897e-06, 182.3199328134654),
    (130.0, 100000.0, 0.0011593446084042786, 0.00431277787365557),
    (-0.3, 1e-05, 29.992415923826783, 58.179200915815535),
    (-0.3, 0.7, 0.6192666421847309, 1.3886083307181911),
    (-0.3, 1.9, 0.3126633214092024, 0.8783889693031454),
    (-0.3, 2.1, 0.2938389991361152, 0.8378659405499032),
    (-0.3, 7.0, 0.15266814741664497, 0.4686612379299651),
    (-0.3, 24.0, 0.08171158472565562, 0.2549973193365446),
    (-0.3, 26.0, 0.07848496347280481, 0.24505395309396957),
    (-0.3, 80.0, 0.04464801101673299, 0.139985589558489),
    (-2.7, 1e-05, 81738108652891.67, 158706788149017.94),
    (-2.7, 0.7, 3.1443271823060357, 24.7003190650554),
    (-2.7, 1.9, 0.0832975537288522, 3.7916192078992337),
    (-2.7, 2.1, 0.06976653528739461, 3.2422505064273928),
    (-2.7, 7.0, 0.0882345762258704, 0.7557746773052584),
    (-2.7, 24.0, 0.07011252242427986, 0.2953374381524945),
    (-2.7, 26.0, 0.06815647267179961, 0.28069515841352116),
    (-2.7, 80.0, 0.04267140882715908, 0.1463875860133909),
    (-10.5, 1e-05, 1.6519517026407036e61, 2.594931564662903e61),
    (-10.5, 0.7, 10836031438.273724, 69024363107.3453),
    (-10.5, 1.9, 84119.7848841491, 5906593.208153796),
    (-10.5, 2.1, 23583.96692616541, 2470435.719968732),
    (-10.5, 7.0, 0.00030047687192425853, 359.59741009956184),
    (-10.5, 24.0, 0.00814442924197143, 2.34358700550717),
    (-10.5, 26.0, 0.009325393526918017, 1.9122300807057353),
    (-10.5, 80.0, 0.02235319570212109, 0.2772292535074653),
]
# (v, x, J_v(x)): mpmath
JV_TABLE = [
    (-10.5, 1e-100, np.inf),
    (-10.5, 0.5, 761508842905.8378),
    (-10.5, 1.9, 680113.5320105405),
    (-10.5, 2.1, 242913.4276409335),
    (-10.5, 7.0, 2.9106913285698193),
    (-10.5, 24.0, -0.0630074490533221),
    (-10.5, 26.0, 0.16216212611572312),
    (-10.5, 80.0, -0.048936103850088244),
    (-10.5, 300.0, -0.007398354251879862),
    (-2.7, 1e-100, 2.5848117978014006e270),
    (-2.7, 0.5, 17.439338088868457),
    (-2.7, 1.9, 0.7241533380408511),
    (-2.7, 2.1, 0.5768097473917178),
    (-2.7, 7.0, -0.011431398993670055),
    (-2.7, 24.0, -0.12785871550455566),
    (-2.7, 26.0, -0.03941873946120621),
    (-2.7, 80.0, -0.02186391244567591),
    (-2.7, 300.0, -0.0137805478388201),
    (-0.3, 1e-100, 9.484529529521898e29),
    (-0.3, 0.5, 1.0653269537191772),
    (-0.3, 1.9, 0.013339432724180821),
    (-0.3, 2.1, -0.09782477659428226),
    (-0.3, 7.0, 0.27855202685968605),
    (-0.3, 24.0, 0.019587300507038028),
    (-0.3, 26.0, 0.13339145094921379),
    (-0.3, 80.0, -0.03684405996139845),
    (-0.3, 300.0, -0.015211335837599616),
    (0.0, 1e-100, 1.0),
    (0.0, 0.5, 0.9384698072408129),
    (0.0, 1.9, 0.28181855937438555),
    (0.0, 2.1, 0.16660698033199028),
    (0.0, 7.0, 0.3000792705195556),
    (0.0, 24.0, -0.056230274166859266),
    (0.0, 26.0, 0.15599931552242113),
    (0.0, 80.0, -0.06974216551221002),
    (0.0, 300.0, -0.03329855487630567),
    (0.3, 1e-100, 9.050461476895315e-31),
    (0.3, 0.5, 0.7002604885070547),
    (0.3, 1.9, 0.47201364515549976),
    (0.3, 2.1, 0.3775779743649991),
    (0.3, 7.0, 0.2567145209513847),
    (0.3, 24.0, -0.11928390058968222),
    (0.3, 26.0, 0.14457305815760105),
    (0.3, 80.0, -0.08738205776860858),
    (0.3, 300.0, -0.04411862893282738),
    (1.0, 1e-100, 5e-101),
    (1.0, 0.5, 0.2422684576748739),
    (1.0, 1.9, 0.5811570727134341),
    (1.0, 2.1, 0.5682921357570386),
    (1.0, 7.0, -0.004682823482345833),
    (1.0, 24.0, -0.15403806518312121),
    (1.0, 26.0, 0.015045730586915811),
    (1.0, 80.0, -0.056057296675712576),
    (1.0, 300.0, -0.03188743137749995),
    (2.7, 1e-100, 3.68990411201429e-272),
    (2.7, 0.5, 0.005583220776517447),
    (2.7, 1.9, 0.1624798014069498),
    (2.7, 2.1, 0.20099423002015096),
    (2.7, 7.0, -0.24636285151377013),
    (2.7, 24.0, 0.15742353624662933),
    (2.7, 26.0, -0.09968301442900554),
    (2.7, 80.0, 0.0828398866275759),
    (2.7, 300.0, 0.04366221642622796),
    (10.5, 1e-100, 0.0),
    (10.5, 0.5, 3.9855051571881206e-14),
    (10.5, 1.9, 4.532955398203897e-08),
    (10.5, 2.1, 1.2739867649275038e-07),
    (10.5, 7.0, 0.014204915635445129),
    (10.5, 24.0, -0.15971151215586163),
    (10.5, 26.0, -0.02132333692242639),
    (10.5, 80.0, 0.0750484455895156),
    (10.5, 300.0, 0.04548217506421259),
    (45.0, 1e-100, 0.0),
    (45.0, 0.5, 6.743703176023217e-84),
    (45.0, 1.9, 8.15131973375217e-58),
    (45.0, 2.1, 7.333225424694611e-56),
    (45.0, 7.0, 1.9465498261666654e-32),
    (45.0, 24.0, 1.191372283619743e-09),
    (45.0, 26.0, 2.4225419790080323e-08),
    (45.0, 80.0, -0.08881157567435793),
    (45.0, 300.0, 0.03905020310211747),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_iv_through_pytensor(dtype):
    # pytensor 2.38 has a scalar Iv op (converted as ive * e^|x| in two halves, finite up to
    # |x| ~ 713 like SciPy's iv); 3.0 builds pt.iv as ive * exp(|x|). Either way the same
    # numbers as PyTensor: 3e-14 relative measured in float64 (the Ive error times e^|x|'s).
    v, x = pt.vector("v", dtype=dtype), pt.vector("x", dtype=dtype)
    orders = np.array([0.0, 1.0, 2.5, -0.5, 3.0, 0.0, 1.5, 2.0], dtype=dtype)
    xs = np.array([0.0, 0.5, 3.0, 7.0, -4.0, 80.0, 700.0, 710.0], dtype=dtype)
    if dtype == "float32":
        orders, xs = orders[:-2], xs[:-2]  # (e^700 overflows float32 in both)
    tol = dict(rtol=2.5e-7, atol=1e-30) if dtype == "float32" else dict(rtol=3e-14)
    compare_onnx_and_py(
        [v, x], pt.iv(v, x), [orders, xs], onnx_mode=RAW, assert_fn=tolerance_check(**tol)
    )
