"""Cholesky, triangular/general/Cholesky solves and LU: onnxruntime against PyTensor.

Core ops are applied directly and compiled without rewrites (``RAW``), so that they reach
their converters as written; shapes are static small (n <= UNROLL_MAX: the unrolled
steps), static large and symbolic (both: an ONNX Loop). Batched tests go through
``pt.linalg.*`` (``Blockwise``) with the default ONNX mode.

Accuracy is checked against the condition number: a backward-stable solve has relative
error about ``cond * eps``; the tolerances below state the factor measured over that.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode

from pytensor_onnx import ONNXLinker
from pytensor_onnx.dispatch.slinalg import (
    LU,
    QR,
    UNROLL_MAX,
    Cholesky,
    CholeskySolve,
    LUFactor,
    PivotToPermutations,
    Solve,
    SolveTriangular,
)
from pytensor_onnx.mode import onnx_mode
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types, py_mode

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
FLOAT_DTYPES = ("float32", "float64")

# scipy warns about ill-conditioned systems, NumPy about NaN, which the tests provoke.
pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning"),
]

# (static n or None, n of the test values): unrolled steps, Loop with a static size,
# Loop with a symbolic size.
SIZES = [(4, 4), (UNROLL_MAX + 3, UNROLL_MAX + 3), (None, 6)]
SIZE_IDS = ["unrolled", "loop_static", "loop_symbolic"]


def tolerance(dtype, cond=10.0):
    """rtol/atol for results of a linear solve with condition number ``cond``.

    Measured against scipy/NumPy over 20 random matrices (n = 2..11) per condition
    number (10, 1e3, 1e6 in float64; 10, 1e3 in float32): the largest error relative to
    the largest entry was 0.63 * eps * cond for solves and inverses, 0.5 * eps * sqrt(cond)
    for Cholesky (tests pass sqrt(cond) for it). The bound allows 10x eps * cond.
    """
    eps = np.finfo(dtype).eps
    return dict(rtol=10 * eps * cond, atol=10 * eps * cond)


def close(dtype, cond=10.0):
    def check(onnx_value, py_value):
        scale = max(1.0, float(np.nanmax(np.abs(py_value), initial=0.0)))
        tol = tolerance(dtype, cond)
        assert_same(onnx_value, py_value, rtol=tol["rtol"], atol=tol["atol"] * scale)

    return check


def random_matrix(rng, n, dtype, cond=10.0, batch=()):
    """A matrix with singular values spread log-uniformly over [1/cond, 1]."""
    u, _ = np.linalg.qr(rng.normal(size=(*batch, n, n)))
    v, _ = np.linalg.qr(rng.normal(size=(*batch, n, n)))
    s = np.logspace(0, -np.log10(cond), n) if n else np.zeros(0)
    return ((u * s[..., None, :]) @ np.swapaxes(v, -1, -2)).astype(dtype)


def spd_matrix(rng, n, dtype, cond=10.0, batch=()):
    """A symmetric positive definite matrix with condition number ``cond``."""
    u, _ = np.linalg.qr(rng.normal(size=(*batch, n, n)))
    s = np.logspace(0, -np.log10(cond), n) if n else np.zeros(0)
    return ((u * s[..., None, :]) @ np.swapaxes(u, -1, -2)).astype(dtype)


def triangular_matrix(rng, n, dtype, lower, batch=()):
    """Well-conditioned triangular: unit-ish diagonal, small off-diagonal entries."""
    x = rng.normal(size=(*batch, n, n)) / max(n, 1)
    x += np.eye(n) * np.where(rng.random((*batch, 1, n)) < 0.5, -1.5, 1.5)
    return (np.tril(x) if lower else np.triu(x)).astype(dtype)


def matrix_var(static_n, dtype, name="a"):
    return pt.tensor(name, shape=(static_n, static_n), dtype=dtype)


def rhs_var(static_n, dtype, b_ndim, k=2, name="b"):
    return pt.tensor(name, shape=(static_n, k)[:b_ndim], dtype=dtype)


def rhs_value(rng, n, dtype, b_ndim, k=2, batch=()):
    return rng.normal(size=(*batch, n, k)[: len(batch) + b_ndim]).astype(dtype)


# -- Cholesky ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_cholesky(dtype, lower, static_n, n):
    rng = np.random.default_rng(1)
    a = matrix_var(static_n, dtype)
    value = spd_matrix(rng, n, dtype)
    fn, factor = compare_onnx_and_py(
        [a], Cholesky(lower=lower)(a), [value], onnx_mode=RAW, assert_fn=close(dtype)
    )
    assert ("Loop" in get_onnx_node_types(fn)) == (static_n is None or static_n > UNROLL_MAX)
    product = factor @ factor.T if lower else factor.T @ factor
    np.testing.assert_allclose(product, value, **tolerance(dtype))
    assert np.all((np.triu(factor, 1) if lower else np.tril(factor, -1)) == 0)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_reads_only_its_triangle(dtype, lower):
    # LAPACK's potrf never reads the other triangle: NaN and inf there change nothing.
    rng = np.random.default_rng(2)
    value = spd_matrix(rng, 5, dtype)
    other = np.triu_indices(5, 1) if lower else np.tril_indices(5, -1)
    value[other] = np.where(np.arange(len(other[0])) % 2, np.nan, np.inf)
    a = matrix_var(None, dtype)
    compare_onnx_and_py(
        [a], Cholesky(lower=lower)(a), [value], onnx_mode=RAW, assert_fn=close(dtype)
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("case", ["indefinite", "singular", "nan_diagonal", "negative"])
def test_cholesky_failure_is_nan(dtype, static_n, n, case):
    # PyTensor's Cholesky returns NaN when potrf fails (its `on_error="raise"` adds a
    # separate CheckAndRaise): so does the lowering, for the whole matrix.
    value = spd_matrix(np.random.default_rng(3), n, dtype)
    if case == "indefinite":
        value[n - 1, n - 1] = -value[n - 1, n - 1]
    elif case == "singular":
        value[:, 0] = value[0, :] = 0
    elif case == "nan_diagonal":
        value[1, 1] = np.nan
    else:
        value = -value
    a = matrix_var(static_n, dtype)
    _, factor = compare_onnx_and_py([a], Cholesky()(a), [value], onnx_mode=RAW)
    # A NaN pivot is no failure to OpenBLAS's potrf: it propagates to later columns only.
    assert np.isnan(factor).all() != (case == "nan_diagonal")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_cholesky_ill_conditioned(dtype):
    cond = 1e6 if dtype == "float64" else 1e3
    rng = np.random.default_rng(4)
    a = matrix_var(None, dtype)
    value = spd_matrix(rng, 7, dtype, cond=cond)
    _, factor = compare_onnx_and_py(
        [a], Cholesky()(a), [value], onnx_mode=RAW, assert_fn=close(dtype, np.sqrt(cond))
    )


def test_cholesky_empty_and_integer_input():
    a = pt.matrix("a", dtype="float64")
    compare_onnx_and_py([a], Cholesky()(a), [np.zeros((0, 0))], onnx_mode=RAW)
    ai = pt.matrix("ai", dtype="int64")
    value = np.array([[4, 2], [2, 3]], dtype="int64")
    compare_onnx_and_py([ai], Cholesky()(ai), [value], onnx_mode=RAW, assert_fn=close("float64"))


def test_cholesky_batched_only_failing_matrices_are_nan():
    rng = np.random.default_rng(5)
    x = pt.tensor3("x")
    value = spd_matrix(rng, 4, "float64", batch=(3,))
    value[1, 2, 2] = -5.0
    _, factor = compare_onnx_and_py([x], pt.linalg.cholesky(x), [value], assert_fn=close("float64"))
    assert np.isnan(factor[1]).all() and not np.isnan(factor[[0, 2]]).any()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_batched(dtype, lower):
    rng = np.random.default_rng(6)
    x = pt.tensor("x", shape=(None, 2, 5, 5), dtype=dtype)
    value = spd_matrix(rng, 5, dtype, batch=(3, 2))
    compare_onnx_and_py([x], pt.linalg.cholesky(x, lower=lower), [value], assert_fn=close(dtype))


# -- triangular solves ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1])
@pytest.mark.parametrize("unit_diagonal", [False, True])
@pytest.mark.parametrize("b_ndim", [1, 2])
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_solve_triangular(dtype, lower, trans, unit_diagonal, b_ndim, static_n, n):
    rng = np.random.default_rng(7)
    a = matrix_var(static_n, dtype)
    b = rhs_var(static_n, dtype, b_ndim)
    value = triangular_matrix(rng, n, dtype, lower)
    if unit_diagonal:
        value[np.diag_indices(n)] = np.nan  # never read
    # What solve_triangular(trans=1) builds: the op has no trans, `a` is transposed.
    op = SolveTriangular(lower=lower != bool(trans), unit_diagonal=unit_diagonal, b_ndim=b_ndim)
    compare_onnx_and_py(
        [a, b],
        op(a.T if trans else a, b),
        [value, rhs_value(rng, n, dtype, b_ndim)],
        onnx_mode=RAW,
        assert_fn=close(dtype),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_solve_triangular_ignores_other_triangle_and_edge_values(dtype, lower):
    rng = np.random.default_rng(8)
    value = triangular_matrix(rng, 5, dtype, lower)
    other = np.triu_indices(5, 1) if lower else np.tril_indices(5, -1)
    value[other] = np.inf
    rhs = rng.normal(size=(5, 4)).astype(dtype)
    rhs[:, 0] = 0.0
    rhs[:, 1] = [np.inf, 1, -1, 0, 2]
    rhs[:, 2] = [1, np.nan, 0, 0, 1]
    a, b = matrix_var(None, dtype), pt.matrix("b", dtype=dtype)
    op = SolveTriangular(lower=lower, b_ndim=2)
    compare_onnx_and_py([a, b], op(a, b), [value, rhs], onnx_mode=RAW, assert_fn=close(dtype))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_solve_triangular_zero_on_diagonal_is_nan(dtype, static_n, n):
    # trtrs reports a zero on the diagonal (info > 0): PyTensor returns NaN, as here.
    rng = np.random.default_rng(9)
    value = triangular_matrix(rng, n, dtype, True)
    value[2, 2] = 0.0
    a, b = matrix_var(static_n, dtype), rhs_var(static_n, dtype, 2)
    _, x = compare_onnx_and_py(
        [a, b],
        SolveTriangular(lower=True, b_ndim=2)(a, b),
        [value, rhs_value(rng, n, dtype, 2)],
        onnx_mode=RAW,
    )
    assert np.isnan(x).all()


def test_solve_triangular_empty():
    a, b = pt.matrix("a"), pt.matrix("b")
    op = SolveTriangular(lower=True, b_ndim=2)
    compare_onnx_and_py([a, b], op(a, b), [np.zeros((0, 0)), np.zeros((0, 3))], onnx_mode=RAW)
    compare_onnx_and_py([a, b], op(a, b), [np.eye(3), np.zeros((3, 0))], onnx_mode=RAW)


@pytest.mark.parametrize("trans", [0, 1])
@pytest.mark.parametrize("b_ndim", [1, 2])
def test_solve_triangular_batched_and_broadcast(trans, b_ndim):
    rng = np.random.default_rng(10)
    a = pt.tensor3("a")
    b = pt.tensor("b", shape=(None,) * b_ndim)  # no batch dims: broadcast against a's
    values = [
        triangular_matrix(rng, 4, "float64", True, batch=(3,)),
        rhs_value(rng, 4, "float64", b_ndim),
    ]
    out = pt.linalg.solve_triangular(a, b, lower=True, trans=trans, b_ndim=b_ndim)
    compare_onnx_and_py([a, b], out, values, assert_fn=close("float64"))


# -- general solves ------------------------------------------------------------------------
ASSUME_A = ["gen", "sym", "her", "pos", "tridiagonal", "banded"]


def solve_matrix(rng, n, dtype, assume_a, lower, cond=10.0, batch=()):
    if assume_a == "pos":
        value = spd_matrix(rng, n, dtype, cond, batch)
    elif assume_a in ("sym", "her"):
        value = random_matrix(rng, n, dtype, cond, batch)
        value = value + np.swapaxes(value, -1, -2)
    else:
        value = random_matrix(rng, n, dtype, cond, batch)
    if assume_a == "tridiagonal":
        value = value + 3 * np.eye(n, dtype=dtype)  # the band alone must stay regular
    if assume_a in ("sym", "her", "pos") and n > 1:
        # Garbage in the triangle that is not read.
        other = np.triu_indices(n, 1) if lower else np.tril_indices(n, -1)
        value[..., other[0], other[1]] = 1e3
    return value


# `lower` selects the triangle read for "sym", "her" and "pos" only.
ASSUME_A_LOWER = [(a, False) for a in ASSUME_A] + [("sym", True), ("her", True), ("pos", True)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("assume_a", "lower"), ASSUME_A_LOWER)
@pytest.mark.parametrize("b_ndim", [1, 2])
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_solve(dtype, assume_a, lower, b_ndim, static_n, n):
    rng = np.random.default_rng(11)
    a, b = matrix_var(static_n, dtype), rhs_var(static_n, dtype, b_ndim)
    op = Solve(assume_a=assume_a, lower=lower, b_ndim=b_ndim)
    values = [solve_matrix(rng, n, dtype, assume_a, lower), rhs_value(rng, n, dtype, b_ndim)]
    compare_onnx_and_py([a, b], op(a, b), values, onnx_mode=RAW, assert_fn=close(dtype, cond=100))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("assume_a", ["gen", "pos"])
def test_solve_ill_conditioned(dtype, assume_a):
    cond = 1e6 if dtype == "float64" else 1e3
    rng = np.random.default_rng(12)
    a, b = matrix_var(None, dtype), rhs_var(None, dtype, 2)
    values = [solve_matrix(rng, 8, dtype, assume_a, False, cond), rhs_value(rng, 8, dtype, 2)]
    compare_onnx_and_py(
        [a, b],
        Solve(assume_a=assume_a, b_ndim=2)(a, b),
        values,
        onnx_mode=RAW,
        assert_fn=close(dtype, cond),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("assume_a", ["gen", "pos"])
def test_solve_singular_is_nan(dtype, static_n, n, assume_a):
    # scipy raises for an exactly singular matrix (a non positive definite one for
    # "pos"); PyTensor's Solve returns NaN in the shape of `a`, so `b` is square here
    # for the shapes to agree. The lowering gives NaN in the shape of `b` always.
    value = np.zeros((n, n), dtype)
    value[: n - 1, : n - 1] = np.eye(n - 1) * 2
    a, b = matrix_var(static_n, dtype), pt.tensor("b", shape=(static_n, static_n), dtype=dtype)
    _, x = compare_onnx_and_py(
        [a, b],
        Solve(assume_a=assume_a, b_ndim=2)(a, b),
        [value, np.ones((n, n), dtype)],
        onnx_mode=RAW,
    )
    assert np.isnan(x).all()


def test_solve_swaps_rows_for_zero_and_tiny_pivots():
    # Without pivoting the zero (or tiny) leading entries would break the elimination.
    a, b = pt.matrix("a"), pt.vector("b")
    op = Solve(b_ndim=1)
    for value in ([[0.0, 1.0], [1.0, 0.0]], [[1e-20, 1.0], [1.0, 1.0]], np.eye(3)[[2, 0, 1]]):
        value = np.asarray(value)
        compare_onnx_and_py(
            [a, b], op(a, b), [value, np.arange(1.0, len(value) + 1)], onnx_mode=RAW
        )


def test_solve_empty_and_mixed_dtypes():
    a, b = pt.matrix("a", dtype="float32"), pt.matrix("b", dtype="float64")
    op = Solve(b_ndim=2)
    compare_onnx_and_py(
        [a, b], op(a, b), [np.zeros((0, 0), "float32"), np.zeros((0, 2))], onnx_mode=RAW
    )
    rng = np.random.default_rng(13)
    values = [random_matrix(rng, 4, "float32"), rng.normal(size=(4, 2))]
    compare_onnx_and_py([a, b], op(a, b), values, onnx_mode=RAW, assert_fn=close("float32"))


def test_solve_unknown_assume_a_raises():
    a, b = pt.matrix("a"), pt.vector("b")
    out = Solve(b_ndim=1)(a, b)
    out.owner.op.assume_a = "unheard_of"  # a future PyTensor structure
    with pytest.raises(NotImplementedError, match=r"Solve: no ONNX lowering for assume_a"):
        pytensor.function([a, b], out, mode=RAW)


@pytest.mark.parametrize("assume_a", ["gen", "pos"])
@pytest.mark.parametrize("b_ndim", [1, 2])
def test_solve_batched_and_broadcast(assume_a, b_ndim):
    # Without rewrites: Blockwise(Solve) itself reaches the converter.
    rng = np.random.default_rng(14)
    a = pt.tensor("a", shape=(None, 1, None, None))
    b = pt.tensor("b", shape=(2,) + (None,) * b_ndim)
    values = [
        solve_matrix(rng, 5, "float64", assume_a, False, batch=(3, 1)),
        rhs_value(rng, 5, "float64", b_ndim, batch=(2,)),
    ]
    out = pt.linalg.solve(a, b, assume_a=assume_a, b_ndim=b_ndim)
    compare_onnx_and_py([a, b], out, values, onnx_mode=RAW, assert_fn=close("float64", 100))


@pytest.mark.parametrize("b_ndim", [1, 2])
def test_solve_batched_same_batch_with_rewrites(b_ndim):
    # The default rewrites turn a batched Solve into LUFactor, PivotToPermutations, a
    # Blockwise(AdvancedSubtensor) permuting b, and two SolveTriangular.
    rng = np.random.default_rng(22)
    a, b = pt.tensor3("a"), pt.tensor("b", shape=(None,) * (1 + b_ndim))
    values = [
        random_matrix(rng, 5, "float64", batch=(3,)),
        rhs_value(rng, 5, "float64", b_ndim, batch=(3,)),
    ]
    out = pt.linalg.solve(a, b, b_ndim=b_ndim)
    compare_onnx_and_py([a, b], out, values, assert_fn=close("float64", 100))


def test_solve_broadcast_batch_with_rewrites():
    # The rewrites make Blockwise(AdvancedSubtensor) of b by the LU's permutation, whose
    # batch dims broadcast: a core op converted per batch element.
    rng = np.random.default_rng(23)
    a, b = pt.tensor("a", shape=(None, 1, None, None)), pt.tensor("b", shape=(2, None))
    values = [random_matrix(rng, 5, "float64", batch=(3, 1)), rng.normal(size=(2, 5))]
    out = pt.linalg.solve(a, b, b_ndim=1)
    compare_onnx_and_py([a, b], out, values, assert_fn=close("float64", 100))


# -- Cholesky solve ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("b_ndim", [1, 2])
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_cholesky_solve(dtype, lower, b_ndim, static_n, n):
    rng = np.random.default_rng(15)
    spd = spd_matrix(rng, n, "float64")
    factor = np.linalg.cholesky(spd)
    factor = (factor if lower else factor.T).astype(dtype)
    c, b = matrix_var(static_n, dtype), rhs_var(static_n, dtype, b_ndim)
    compare_onnx_and_py(
        [c, b],
        CholeskySolve(lower=lower, b_ndim=b_ndim)(c, b),
        [factor, rhs_value(rng, n, dtype, b_ndim)],
        onnx_mode=RAW,
        assert_fn=close(dtype, cond=100),
    )


def test_cholesky_solve_batched():
    rng = np.random.default_rng(16)
    c, b = pt.tensor3("c"), pt.tensor3("b")
    factor = np.linalg.cholesky(spd_matrix(rng, 4, "float64", batch=(2,)))
    out = pt.linalg.cho_solve((c, True), b)
    compare_onnx_and_py(
        [c, b], out, [factor, rng.normal(size=(2, 4, 3))], assert_fn=close("float64", 100)
    )


# -- LU ------------------------------------------------------------------------------------
LU_VARIANTS = {
    "p_matrix": {},
    "p_indices": {"p_indices": True},
    "permute_l": {"permute_l": True},
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("variant", list(LU_VARIANTS))
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_lu(dtype, variant, static_n, n):
    rng = np.random.default_rng(17)
    a = matrix_var(static_n, dtype)
    outs = LU(**LU_VARIANTS[variant])(a)
    compare_onnx_and_py(
        [a], outs, [random_matrix(rng, n, dtype)], onnx_mode=RAW, assert_fn=close(dtype)
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_lu_factor_and_pivots_to_permutations(dtype, static_n, n):
    rng = np.random.default_rng(18)
    a = matrix_var(static_n, dtype)
    compact, pivots = LUFactor()(a)
    outs = [
        compact,
        pivots,
        PivotToPermutations(inverse=True)(pivots),
        PivotToPermutations(inverse=False)(pivots),
    ]
    compare_onnx_and_py(
        [a], outs, [random_matrix(rng, n, dtype)], onnx_mode=RAW, assert_fn=close(dtype)
    )


def test_lu_factor_singular_is_nan_and_lu_keeps_zero_pivot():
    value = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    a = pt.matrix("a")
    _, (compact, pivots) = compare_onnx_and_py([a], LUFactor()(a), [value], onnx_mode=RAW)
    assert np.isnan(compact).all()
    _, (_, _, upper) = compare_onnx_and_py([a], LU()(a), [value], onnx_mode=RAW)
    assert upper[2, 2] == 0.0


def test_lu_batched():
    rng = np.random.default_rng(19)
    a = pt.tensor3("a")
    value = random_matrix(rng, 4, "float64", batch=(3,))
    compare_onnx_and_py(
        [a], [*pt.linalg.lu(a), *pt.linalg.lu_factor(a)], [value], assert_fn=close("float64")
    )


# -- QR ------------------------------------------------------------------------------------
QR_SHAPES = [((4, 4), (4, 4)), ((None, None), (7, 3)), ((None, None), (3, 7)), ((None, 9), (10, 9))]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("mode", ["full", "economic", "r"])
@pytest.mark.parametrize(
    ("static_shape", "shape"), QR_SHAPES, ids=["unrolled", "tall", "wide", "loop_static"]
)
def test_qr(dtype, mode, static_shape, shape):
    # Householder steps with LAPACK's sign choices: Q and R match scipy's, not only up
    # to signs.
    rng = np.random.default_rng(24)
    a = pt.tensor("a", shape=static_shape, dtype=dtype)
    value = rng.normal(size=shape).astype(dtype)
    outs = QR(mode=mode)(a)
    compare_onnx_and_py([a], outs, [value], onnx_mode=RAW, assert_fn=close(dtype))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_qr_rank_deficient_and_already_triangular(dtype):
    # Columns with nothing below the diagonal are not reflected (dlarfg's tau = 0): a
    # negative diagonal entry stays negative.
    a = pt.matrix("a", dtype=dtype)
    rng = np.random.default_rng(25)
    deficient = rng.normal(size=(5, 4)).astype(dtype)
    deficient[:, 1] = 0.0
    triangular = np.triu(rng.normal(size=(4, 4))).astype(dtype)
    triangular[1, 1] = -2.0
    for value in (deficient, triangular, np.zeros((3, 3), dtype)):
        compare_onnx_and_py([a], QR()(a), [value], onnx_mode=RAW, assert_fn=close(dtype))
    # A repeated column leaves rounding noise to reflect: Q's trailing columns are then
    # any orthonormal completion, in LAPACK as here. Check the factorisation instead.
    deficient[:, 3] = deficient[:, 0]
    q, r = pytensor.function([a], QR()(a), mode=RAW)(deficient)
    tol = tolerance(dtype)
    np.testing.assert_allclose(q @ r, deficient, **tol)
    np.testing.assert_allclose(q.T @ q, np.eye(5), **tol)
    assert np.all(np.tril(r, -1) == 0)


def test_qr_batched():
    rng = np.random.default_rng(26)
    x = pt.tensor3("x")
    value = rng.normal(size=(3, 5, 4))
    compare_onnx_and_py(
        [x], [*pt.linalg.qr(x), pt.linalg.qr(x, mode="r")], [value], assert_fn=close("float64")
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"pivoting": True}, r"QR with pivoting=True: column pivoting"),
        ({"mode": "raw"}, r"QR with mode='raw': no ONNX lowering"),
    ],
)
def test_qr_unsupported_variants_raise(props, message):
    a = pt.matrix("a")
    with pytest.raises(NotImplementedError, match=message):
        pytensor.function([a], QR(**props)(a), mode=RAW)


# -- gradients (through the default rewrites) ----------------------------------------------
def test_grad_of_cholesky_logdet():
    rng = np.random.default_rng(20)
    s = pt.matrix("s")
    cost = pt.log(pt.diag(pt.linalg.cholesky(s))).sum()
    compare_onnx_and_py(
        [s], pytensor.grad(cost, s), [spd_matrix(rng, 5, "float64")], assert_fn=close("float64")
    )


@pytest.mark.parametrize("assume_a", ["gen", "pos"])
def test_grad_of_solve(assume_a):
    rng = np.random.default_rng(21)
    a, b = pt.matrix("a"), pt.vector("b")
    cost = pt.linalg.solve(a, b, assume_a=assume_a).sum()
    values = [solve_matrix(rng, 5, "float64", assume_a, False), rng.normal(size=5)]
    compare_onnx_and_py(
        [a, b], pytensor.grad(cost, [a, b]), values, assert_fn=close("float64", 100)
    )


# -- properties ----------------------------------------------------------------------------
_BATCHED = {}


def _batched_functions():
    """Symbolic-shape batched solves, compiled once: hypothesis varies the values only."""
    if not _BATCHED:
        a, b = pt.tensor3("a"), pt.tensor3("b")
        outs = [
            pt.linalg.solve(a, b, b_ndim=2),
            pt.linalg.solve(a, b, assume_a="pos", b_ndim=2),
            pt.linalg.cholesky(a),
            pt.linalg.solve_triangular(a, b, lower=False, trans=1, b_ndim=2),
        ]
        _BATCHED["onnx"] = pytensor.function([a, b], outs, mode=onnx_mode(intra_op_num_threads=1))
        _BATCHED["py"] = pytensor.function([a, b], outs, mode=py_mode)
    return _BATCHED["onnx"], _BATCHED["py"]


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),  # PyTensor's own Blockwise fails on an empty batch
    n=st.integers(0, 10),
    k=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_batched_solves_property(batch, n, k, seed):
    rng = np.random.default_rng(seed)
    spd = spd_matrix(rng, n, "float64", cond=100, batch=(batch,))
    rhs = rng.normal(size=(batch, n, k))
    onnx_fn, py_fn = _batched_functions()
    check = close("float64", cond=1e4)
    for onnx_value, py_value in zip(onnx_fn(spd, rhs), py_fn(spd, rhs), strict=True):
        check(onnx_value, py_value)
