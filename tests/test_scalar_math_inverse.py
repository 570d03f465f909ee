"""Inverses of the regularized incomplete gamma functions (GammaIncInv, GammaIncCInv),
compared with PyTensor's Python linker (SciPy's gammaincinv / gammainccinv) over a in
[1e-3, 1e3] and p in (0, 1) with both tails, boundary values, NaN and invalid arguments, in
float32 and float64. The measured errors are stated next to each tolerance.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.special as sp

from tests.test_basic import get_onnx_node_types
from tests.test_elemwise import FLOAT_DTYPES, RAW, compare
from tests.test_scalar_math import tolerance_check

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

A_VALUES = np.concatenate([np.geomspace(1e-3, 1e3, 31), [0.5, 1.0, 2.0, 7.5, 10.0]])
P_VALUES = np.concatenate(
    [
        [1e-300, 1e-200, 1e-100, 1e-50, 1e-30, 1e-20, 1e-10, 1e-5],
        np.linspace(0.001, 0.999, 23),
        1.0 - np.array([1e-3, 1e-5, 1e-8, 1e-10]),
        [0.0, 1.0],
    ]
)
# SciPy's NaN cases: a <= 0, a = inf, p outside [0, 1], NaN anywhere.
INVALID = [(0.0, 0.5), (-1.0, 0.5), (np.inf, 0.5), (1.0, -0.1), (1.0, 1.5), (np.nan, 0.5)]
INVALID += [(1.0, np.nan), (-np.inf, 0.3), (2.0, np.inf)]


def gamma_inverse_check(dtype):
    # float64: worst error against SciPy 8.5e-13 relatively (at a = 1e-3, where x ~ p^(1/a)
    # amplifies the rounding of P 1000 times); subnormal results agree to their spacing.
    # float32 (computed in float64, rounded): measured 0 ulp, 1 ulp allowed.
    if dtype == "float64":
        return tolerance_check(2e-12, 1e-320)
    return tolerance_check(2.4e-7, 1e-44)


def grid(dtype):
    a, p = (v.ravel() for v in np.meshgrid(A_VALUES, P_VALUES))
    invalid_a, invalid_p = (np.array(column) for column in zip(*INVALID))
    return np.concatenate([a, invalid_a]).astype(dtype), np.concatenate([p, invalid_p]).astype(
        dtype
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gammaincinv_gammainccinv_against_scipy(dtype):
    a, p = pt.vector("a", dtype=dtype), pt.vector("p", dtype=dtype)
    outputs = [pt.gammaincinv(a, p), pt.gammainccinv(a, p)]
    fn = compare([a, p], outputs, list(grid(dtype)), assert_fn=gamma_inverse_check(dtype))
    assert "Loop" in get_onnx_node_types(fn)


AB_VALUES = np.concatenate([np.geomspace(1e-3, 1e3, 9), [0.5, 1.0, 2.0, 10.0]])
Y_VALUES = np.concatenate(
    [
        [1e-300, 1e-100, 1e-30, 1e-10, 1e-5],
        np.linspace(0.01, 0.99, 9),
        1.0 - np.array([1e-5, 1e-10]),
        [0.0, 1.0],
    ]
)
# SciPy's betaincinv: NaN for a <= 0, b <= 0, a = b = inf, y outside [0, 1] and NaN; 1 at
# a = inf, 0 at b = inf.
BETA_SPECIAL = [(0.0, 1.0, 0.5), (1.0, 0.0, 0.5), (-1.0, 1.0, 0.5), (1.0, -1.0, 0.5)]
BETA_SPECIAL += [(np.inf, np.inf, 0.5), (1.0, 1.0, -0.1), (1.0, 1.0, 1.1), (np.nan, 1.0, 0.5)]
BETA_SPECIAL += [(1.0, np.nan, 0.5), (1.0, 1.0, np.nan), (np.inf, 1.0, 0.5), (1.0, np.inf, 0.5)]
BETA_SPECIAL += [(2.0, 3.0, 0.0), (2.0, 3.0, 1.0), (1.0, 1.0, 0.5)]


def log_betainc_lower(a, b, x):
    """log I_x(a, b) in float64 arithmetic from x^a (1 - x)^b / (a B(a, b)) times the
    positive series sum_k (a + b)_k / (a + 1)_k x^k (for x below the mean): an independent
    reference for SciPy's failures in the far tails."""
    total = term = 1.0
    for k in range(100000):
        term *= (a + b + k) / (a + 1 + k) * x
        total += term
        if term < 1e-17 * total:
            break
    log_beta = sp.gammaln(a) + sp.gammaln(b) - sp.gammaln(a + b)
    return a * np.log(x) + b * np.log1p(-x) - np.log(a) - log_beta + np.log(total)


def beta_grid(dtype):
    a, b, y = (v.ravel() for v in np.meshgrid(AB_VALUES, AB_VALUES, Y_VALUES))
    # SciPy fails in parts of the far lower tail (y = 1e-300 with a ~ 5.6 gives NaN; where
    # its betainc underflows it returns a wrong x): those points, where SciPy's own result
    # does not reproduce y, are checked in test_betaincinv_far_tail_where_scipy_fails.
    with np.errstate(all="ignore"):
        x = sp.betaincinv(a, b, y)
        wrong = (x > 1e-300) & (x < 0.9) & ~np.isclose(sp.betainc(a, b, x), y, rtol=1e-6, atol=0)
    failed = (y > 0) & (y < 1) & (np.isnan(x) | wrong)
    special = np.array(BETA_SPECIAL).T
    columns = [np.concatenate([v[~failed], s]).astype(dtype) for v, s in zip((a, b, y), special)]
    return columns, (a[failed], b[failed], y[failed])


def beta_inverse_check(dtype, a, b, y):
    # float64: worst error against SciPy 1.7e-12 relatively (at a = 1e-3, where x ~ y^(1/a)
    # amplifies I's rounding 1000 times). Results below the smallest normal number (SciPy
    # stops at 2.2e-308 where the answer underflows to 0) agree absolutely.
    if dtype == "float64":
        return tolerance_check(1e-11, 3e-308)

    # float32 is computed in float64 and rounded: it matches SciPy's float64 result rounded
    # to float32 (measured: 0 ulp; 1 ulp allowed). SciPy's own float32 loop is far less
    # accurate in the tails (measured 12.5% relatively at a = 178, b = 31.6, y = 1e-30), so
    # the comparison with it is loose.
    def check(got, expected):
        with np.errstate(all="ignore"):
            exact = sp.betaincinv(*(v.astype("float64") for v in (a, b, y))).astype("float32")
        tolerance_check(2.4e-7, 1.2e-38)(got, exact)
        tolerance_check(0.15, 1.2e-38)(got, expected)

    return check


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_betaincinv_against_scipy(dtype):
    a, b, y = (pt.vector(name, dtype=dtype) for name in "aby")
    values, _ = beta_grid(dtype)
    check = beta_inverse_check(dtype, *values)
    fn = compare([a, b, y], [pt.betaincinv(a, b, y)], values, assert_fn=check)
    assert "Loop" in get_onnx_node_types(fn)


def test_betaincinv_far_tail_where_scipy_fails():
    _, (a, b, y) = beta_grid("float64")
    assert a.size >= 5  # y = 1e-300 with a = 5.6, and a = 1000, b = 31.6
    args = [pt.dvector(name) for name in "aby"]
    x = pytensor.function(args, pt.betaincinv(*args), mode=RAW)(a, b, y)
    # measured: log I_x(a, b) within 2.3e-15 relatively of log(y)
    got = np.array([log_betainc_lower(*v) for v in zip(a, b, x)])
    np.testing.assert_allclose(got, np.log(y), rtol=1e-14)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_inverse_broadcasting_and_static_shapes(dtype):
    a = pt.matrix("a", dtype=dtype, shape=(3, 1))
    y = pt.matrix("y", dtype=dtype, shape=(1, None))
    values = [
        np.array([[0.5], [3.0], [40.0]], dtype),
        np.array([[0.0, 0.2, 0.9, 1.0]], dtype),
    ]
    outputs = [pt.gammaincinv(a, y), pt.gammainccinv(a, y), pt.betaincinv(a, 2.0 * a + 1.0, y)]
    # (SciPy's float32 betaincinv errs by 1.1e-6 relatively here: measured against float64.)
    check = gamma_inverse_check(dtype) if dtype == "float64" else tolerance_check(3e-6, 1e-44)
    compare([a, y], outputs, values, assert_fn=check)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_inverse_of_empty_arrays(dtype):
    a, b, y = (pt.vector(name, dtype=dtype) for name in "aby")
    empty = np.zeros(0, dtype)
    outputs = [pt.gammaincinv(a, y), pt.gammainccinv(a, y), pt.betaincinv(a, b, y)]
    compare([a, b, y], outputs, [empty, empty, empty], assert_fn=gamma_inverse_check(dtype))
