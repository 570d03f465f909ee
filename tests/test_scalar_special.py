"""Owen's T (``pt.owens_t``) and the Gauss hypergeometric function (``pt.hyp2f1``).

Both are compared with PyTensor's Python linker (SciPy) on grids in float32 and float64, and
with values computed by mpmath at 40 digits (the truth tables below) where SciPy itself is
less accurate. Every tolerance is a few times the largest error measured (noted next to it).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.special as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.test_basic import get_onnx_node_types, py_mode
from tests.test_elemwise import FLOAT_DTYPES, RAW, compare
from tests.test_scalar_math import tolerance_check

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TINY = {dtype: float(np.finfo(dtype).tiny) for dtype in FLOAT_DTYPES}
# float32 computes in float64 and rounds once, as SciPy's float32 loops do: within an ulp
# (identical to SciPy on every grid here).
RTOL32 = 2e-7


def onnx_function(build, n_inputs, dtype="float64"):
    inputs = [pt.vector(f"x{i}", dtype=dtype) for i in range(n_inputs)]
    return pytensor.function(inputs, build(*inputs), mode=RAW)


def assert_relative(got, expected, rtol):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    error = np.abs(got - expected) / np.abs(expected)
    worst = np.argmax(error)
    assert error[worst] <= rtol, f"error {error[worst]:.3g} at index {worst} (rtol {rtol})"


# -- Owen's T -----------------------------------------------------------------------------
# (h, a, T(h, a)) from mpmath at 40 digits (Gauss-Legendre on subintervals of the integrand's
# scale; Owen's identity for a > 1).
OWENS_T_TRUTH = [
    (0.0, 0.5, 7.3791808825216637e-2),
    (1e-10, 1e-10, 1.5915494309189534e-11),
    (0.3, 1e-12, 1.5215172481714226e-13),
    (0.5, 0.999999, 1.0667100098641263e-1),
    (1.0, 1.0, 6.6741882165700967e-2),
    (1.5, 1.000001, 3.1172007951130341e-2),
    (2.0, 0.3, 5.9286080308985149e-3),
    (3.4, 0.77, 1.675422973372745e-4),
    (5.3, 1.1e-08, 1.3917038173125657e-15),
    (6.25, 1e-05, 5.242108814279802e-15),
    (8.1, 1.5e-08, 1.351701861429865e-23),
    (8.0, 1.2, 3.1104802871358921e-16),
    (9.0, 1.0, 5.6429420297692032e-20),
    (12.0, 0.75, 8.8824105603883945e-34),
    (17.5, 0.65, 3.581729383117531e-69),
    (20.0, 0.0003, 6.6075793450082411e-92),
    (33.0, 0.46, 2.0305928104579343e-239),
    (35.5, 2.5, 1.2288457703309685e-276),
    (37.0, 0.001, 8.455670316512453e-302),
    (0.1, 3.0, 1.9642812915366708e-1),
    (0.5, 1000000.0, 1.5426876936299345e-1),
    (0.001, 1e30, 2.4980052889304447e-1),
    (2.5, 1000.0, 3.1048326628880676e-3),
    (4.0, 40.0, 1.5835620916559961e-5),
    (-3.0, 0.9, 6.7238182189862246e-4),
    (3.0, -0.9, -6.7238182189862246e-4),
    (-7.5, -2.0, -1.5954458364554481e-14),
    (0.67, 1.5, 1.1195592778962958e-1),
    (0.2, 10.0, 2.1004071201686664e-1),
    (25.0, 100000000.0, 1.5283483531912805e-138),
]


def test_owens_t_against_mpmath():
    # Largest error measured: 8e-15 (the rounding of (h x)^2 in the quadrature's exponent).
    h, a, expected = np.array(OWENS_T_TRUTH).T
    got = onnx_function(pt.owens_t, 2)(h, a)
    assert_relative(got, expected, 3e-14)
    # SciPy's method T2 is itself 2.4e-9 off for a tiny and h > 4 (here 1.9e-12 at h = 6.25,
    # a = 1e-5): the grid test below is loose there for that reason only.
    assert abs(sp.owens_t(6.25, 1e-5) / 5.242108814279802e-15 - 1) > 1e-12


def owens_t_grid(dtype):
    h = np.concatenate([np.linspace(0, 10, 41), [12, 15, 20, 25, 30, 35, 37, 38.5]])
    h = np.concatenate([h, -h[1::3]])
    a = np.geomspace(1e-8, 1e8, 49)
    a = np.concatenate([a, [0.5, 0.9, 0.99, 0.999999, 1.0, 1.000001, 1.01, 1.1, 2.0]])
    a = np.concatenate([a, -a[::4]])
    return h.astype(dtype), a.astype(dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_owens_t_against_scipy(dtype):
    # An h vector against a column of a: the output broadcasts to (len(a), len(h)).
    h_values, a_values = owens_t_grid(dtype)
    h = pt.vector("h", dtype=dtype)
    a = pt.matrix("a", dtype=dtype, shape=(None, 1))
    if dtype == "float32":
        # Largest error measured: 6e-8 (one rounding).
        compare(
            [h, a],
            pt.owens_t(h, a),
            [h_values, a_values[:, None]],
            assert_fn=tolerance_check(RTOL32, TINY[dtype]),
        )
        return
    got = pytensor.function([h, a], pt.owens_t(h, a), mode=RAW)(h_values, a_values[:, None])
    expected = sp.owens_t(h_values, a_values[:, None])
    assert got.shape == expected.shape == (len(a_values), len(h_values))
    # SciPy's T2 branch (|a| < 0.01, |h| > 4) is up to 2.4e-9 off (mpmath; ours 4e-16 there).
    t2 = (np.abs(a_values[:, None]) < 1e-2) & (np.abs(h_values) > 4) & np.ones_like(got, bool)
    # Elsewhere the largest difference is 2.3e-13, all SciPy's (at h ~ 35 it rounds h^2 in
    # exp(-h^2 / 2); ours is within 1e-14 of mpmath on the points checked).
    tolerance_check(5e-13, TINY[dtype])(got[~t2], expected[~t2])
    tolerance_check(1e-8, TINY[dtype])(got[t2], expected[t2])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_owens_t_special_values(dtype):
    # 0, -0.0, infinities, NaN: T(h, 0) = 0, T(0, a) = atan(a) / (2 pi), T(h, inf) = Q(h) / 2,
    # T(inf, a) = 0 with the sign of a, SciPy's T(h, -0.0) = +0.0.
    values = np.array([0.0, -0.0, 1.0, -1.0, 2.5, 1e-30, np.inf, -np.inf, np.nan], dtype=dtype)
    h = pt.matrix("h", dtype=dtype, shape=(None, 1))
    a = pt.matrix("a", dtype=dtype, shape=(1, None))
    # Largest error measured: 1.4e-15 (T(0, 1) = 1/8, the quadrature's rounding).
    check = tolerance_check(5e-15 if dtype == "float64" else RTOL32, TINY[dtype])
    compare([h, a], pt.owens_t(h, a), [values[:, None], values[None, :]], assert_fn=check)


def test_owens_t_shapes_and_integer_inputs():
    # Static shapes, empty arrays and 0-d inputs; integers upcast to float64.
    h = pt.vector("h", shape=(3,))
    a = pt.scalar("a")
    # (SciPy's T(7, 0.3) is 3.6e-15 off.)
    compare(
        [h, a],
        pt.owens_t(h, a),
        [np.array([0.5, -2.0, 7.0]), np.array(0.3)],
        assert_fn=tolerance_check(2e-14),
    )
    e = pt.vector("e")
    compare([e], pt.owens_t(e, e), [np.zeros(0)], assert_fn=tolerance_check(0.0))
    hi, ai = pt.vector("hi", dtype="int32"), pt.vector("ai", dtype="int64")
    out = pt.owens_t(hi, ai)
    assert out.dtype == "float64"
    compare(
        [hi, ai],
        out,
        [np.array([0, 1, -3, 5], "int32"), np.array([2, -1, 0, 7])],
        assert_fn=tolerance_check(3e-15),
    )


def test_owens_t_in_default_mode():
    # Through the rewrites, as PyMC's SkewNormal log-CDF uses it: 0.5 erfc(-z / sqrt 2)
    # - 2 T(z, alpha).
    z = pt.vector("z")
    alpha = pt.scalar("alpha")
    cdf = 0.5 * pt.erfc(-z / np.sqrt(2)) - 2 * pt.owens_t(z, alpha)
    fn = compare(
        [z, alpha],
        cdf,
        [np.linspace(-6, 6, 25), np.array(3.5)],
        mode=None,
        # The difference cancels: absolute rounding of its terms (~1e-16).
        assert_fn=tolerance_check(1e-13, 1e-15),
    )
    assert "Loop" not in get_onnx_node_types(fn)  # a closed formula, no iteration


# -- the Gauss hypergeometric function ------------------------------------------------------
# (a, b, c, z, 2F1(a, b; c; z)) from mpmath at 40 digits, in the covered regions: the series
# near 0, Pfaff's transformation for z < -1/2, Euler's near 1, polynomials, z = 1.
HYP2F1_TRUTH = [
    (0.5, 1.5, 2.5, 0.3, 1.108062551056932),
    (1.0, 1.0, 2.0, -0.5, 8.1093021621632876e-1),
    (2.5, -1.3, 3.2, 0.85, 2.5365169870903462e-1),
    (0.25, 0.75, 1.5, 0.9, 1.2326775139086118),
    (-2.7, 1.9, 0.6, -0.45, 7.9181188337946648),
    (1.2, 2.8, 4.1, -0.7, 6.3431401716627624e-1),
    (0.3, 0.7, 1.5, -5.0, 7.3549825027415803e-1),
    (2.0, 2.5, 3.5, -20.0, 7.1341828716851187e-3),
    (1.5, -0.5, 0.8, -50.0, 1.0382155550486502e1),
    (3.0, 2.0, 1.5, 0.5, 1.4068583470577035e1),
    (0.1, 0.2, 0.3, 0.6, 1.0614632815035054),
    (2.9, 2.9, 0.5, 0.8, 7.6560743924067466e4),
    (-3.0, 2.0, 1.5, -1000.0, 1.8333754295714286e9),
    (-5.0, 0.5, 2.5, 3.0, 3.1968031968031968e-2),
    (1.0, 1.0, 3.0, 1.0, 2.0),
    (0.3, 1.2, 4.5, 1.0, 1.1176514192614434),
    (1e-08, 2.0, 3.0, 0.5, 1.0000000042055846),
    (1.5, 2.0, 4.0, -0.999, 5.6879238271260199e-1),
]


def test_hyp2f1_against_mpmath():
    # Largest error measured: 6.1e-15.
    a, b, c, z, expected = np.array(HYP2F1_TRUTH).T
    got = onnx_function(pt.hyp2f1, 4)(a, b, c, z)
    assert_relative(got, expected, 1e-13)


def hyp2f1_parameters(n, seed, low_c=0.05):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
    a[: n // 10] = -rng.integers(0, 8, n // 10)  # polynomials
    return a, b, rng.uniform(low_c, 8, n), rng


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_hyp2f1_against_scipy(dtype):
    # The domain of full accuracy: |a|, |b| <= 3, 0 < c <= 8, -60 <= z <= 0.95. Largest
    # differences from SciPy here: 2.5e-14 (-1 <= z <= 0.9), 2.1e-13 (z < -1), 2.6e-14
    # (0.9 < z <= 0.95). On 3000 other points of that domain against mpmath: 1e-14 for
    # -1 <= z <= 0.9 (SciPy 3.7e-14), 1.1e-13 for z < -10 (SciPy 1.2e-13).
    a, b, c, rng = hyp2f1_parameters(1200, 0)
    z = np.concatenate(
        [rng.uniform(-1, 0.9, 600), rng.uniform(-60, -1, 400), rng.uniform(0.9, 0.95, 200)]
    )
    expected = sp.hyp2f1(a, b, c, z)
    got = onnx_function(pt.hyp2f1, 4, dtype)(*(v.astype(dtype) for v in (a, b, c, z)))
    if dtype == "float32":
        expected = sp.hyp2f1(*(v.astype(dtype) for v in (a, b, c, z)))
        tolerance_check(RTOL32, TINY[dtype])(got, expected)
        return
    tolerance_check(1e-13, TINY[dtype])(got[:600], expected[:600])
    tolerance_check(5e-13, TINY[dtype])(got[600:1000], expected[600:1000])
    tolerance_check(1e-13, TINY[dtype])(got[1000:], expected[1000:])


def test_hyp2f1_beyond_full_accuracy():
    # Larger parameters and negative c: the series' terms cancel. Differences from SciPy
    # here: 4.1e-12 (z in [-1, 0.9]) and 1e-11 (z in [-20, -1]). Against mpmath on 20000
    # other points: |a|, |b| <= 6 with c > 0, z in [-1, 0.9]: 1.1e-11 (SciPy alike); c in
    # [-5, 0): 2.7e-11 (SciPy 1e-13: it recurs on c); z in [-20, -1]: 8.6e-10 (SciPy's 1/z
    # transformation: 5e-12). Hence these tolerances, and the limits in the module docstring.
    rng = np.random.default_rng(1)
    n = 400
    a, b = rng.uniform(-6, 6, n), rng.uniform(-6, 6, n)
    c = np.concatenate([rng.uniform(0.05, 8, n // 2), rng.uniform(-5, -0.05, n // 2)])
    z = np.concatenate([rng.uniform(-1, 0.9, 300), rng.uniform(-20, -1, 100)])
    fn = onnx_function(pt.hyp2f1, 4)
    tolerance_check(2e-11)(fn(a[:300], b[:300], c[:300], z[:300]), sp.hyp2f1(a, b, c, z)[:300])
    tolerance_check(5e-11)(fn(a[300:], b[300:], c[300:], z[300:]), sp.hyp2f1(a, b, c, z)[300:])


# (a, b, c, z): SciPy's special cases, matched exactly or to 1e-15.
HYP2F1_SPECIAL = [
    (1, 1, 0, 0.0),  # z = 0: 1, whatever the parameters
    (1, 1, np.nan, 0.0),
    (0, 1, 1, 2.0),  # a = 0 or b = 0: 1
    (1, 0, 1, 5.0),
    (-1, 1, -2, 0.5),  # c a negative integer, the polynomial ends first
    (-3, 1, -2, 0.5),  # ... does not: inf
    (1, 1, -2, 0.5),
    (1, 1, 3, 1.0),  # z = 1: Gauss's sum, or inf where c - a - b <= 0
    (1, 1, 2, 1.0),
    (-0.5, 3, 3, 1.0),
    (-2, 1, 1.5, 1.0),
    (1, 1, 3, 1.5),  # z > 1: inf, except polynomials and c = a or c = b
    (-2, 1, 3, 1.5),
    (-3, 2, 1.5, 1e3),
    (1, 1, 1, 2.0),
    (0.5, 1, 1, 2.0),
    (2, 0.5, 0.5, 3.0),
    (0.3, 2, 2, -5.0),  # c = b: (1 - z)^-a
    (-2, 1, -2, 0.5),
    (np.nan, 1, 1, 0.5),
    (1, 1, 1, np.nan),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_hyp2f1_special_values(dtype):
    values = [np.array(column, dtype=dtype) for column in zip(*HYP2F1_SPECIAL)]
    inputs = [pt.vector(name, dtype=dtype) for name in "abcz"]
    check = tolerance_check(1e-15 if dtype == "float64" else RTOL32)
    compare(inputs, pt.hyp2f1(*inputs), values, assert_fn=check)


def test_hyp2f1_limits():
    # Where the lowering gives up, documented: NaN where the series has not converged in
    # 20000 terms (z in (0.998, 1) unless Euler's transformation ends it, z < -500 after
    # Pfaff's), NaN for infinite z or parameters, and inf for c = b a non-positive integer
    # (SciPy sums the truncated series there: 1.75 below).
    a = np.array([1.5, 0.3, 1.0, 1.0, np.inf, 1.0])
    b = np.array([1.2, 0.7, 2.0, 1.0, 1.0, -2.0])
    c = np.array([3.1, 1.5, 3.0, 1.0, 1.0, -2.0])
    z = np.array([0.9999, -1e6, -np.inf, 0.5, 0.5, 0.5])
    got = onnx_function(pt.hyp2f1, 4)(a, b, c, z)
    expected = sp.hyp2f1(a, b, c, z)
    assert np.all(np.isfinite(expected[:2])) and expected[5] == 1.75
    np.testing.assert_array_equal(got, [np.nan, np.nan, np.nan, 2.0, np.nan, np.inf])


def test_hyp2f1_broadcast_and_default_mode():
    # A z vector against a column of parameters, through the rewrites.
    z = pt.vector("z")
    a = pt.matrix("a", shape=(None, 1))
    values = [np.linspace(-3, 0.8, 9), np.array([[0.5], [-2.0], [2.5]])]
    fn = compare(
        [z, a], pt.hyp2f1(a, 1.5, 2.25, z), values, mode=None, assert_fn=tolerance_check(1e-14)
    )
    assert "Loop" in get_onnx_node_types(fn)
    s = pt.vector("s", shape=(0,))
    compare([s], pt.hyp2f1(s, s, s, s), [np.zeros(0)], assert_fn=tolerance_check(0.0))


def test_hyp2f1_gradient_uses_converted_loops():
    # The gradient in z is hyp2f1 itself; in a, b, c PyTensor's Grad2F1Loop (a ScalarLoop).
    a, z = pt.scalar("a"), pt.vector("z")
    out = pt.hyp2f1(a, 1.5, 2.25, z).sum()
    grads = pytensor.grad(out, [a, z])
    values = [np.array(0.7), np.array([-0.4, 0.1, 0.6])]
    compare([a, z], grads, values, mode=None, assert_fn=tolerance_check(1e-12))
    py = pytensor.function([a, z], grads, mode=py_mode)(*values)
    assert np.all(np.isfinite(py[0])) and np.all(np.isfinite(py[1]))


_OWENS_T_FN = {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(np.float64, st.integers(0, 12), elements=st.floats(-40, 40)),
    st.floats(-1e6, 1e6),
)
def test_owens_t_symmetries_property(h, a):
    # T(-h, a) = T(h, a), T(h, -a) = -T(h, a) bit for bit, and SciPy's values (outside its
    # inaccurate T2 branch, |a| < 0.01 with |h| > 4) within the grid test's tolerance.
    if "fn" not in _OWENS_T_FN:
        x, y = pt.vector("x"), pt.scalar("y")
        _OWENS_T_FN["fn"] = pytensor.function([x, y], pt.owens_t(x, y), mode=RAW)
    fn = _OWENS_T_FN["fn"]
    got = fn(h, np.array(a))
    np.testing.assert_array_equal(fn(-h, np.array(a)), got)
    np.testing.assert_array_equal(fn(h, np.array(-a)), -got)
    expected = sp.owens_t(h, a)
    accurate = ~((abs(a) < 1e-2) & (np.abs(h) > 4))
    tolerance_check(5e-13, TINY["float64"])(got[accurate], expected[accurate])
