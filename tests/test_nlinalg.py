"""MatrixInverse, Det and SLogDet (LU with partial pivoting), Eigh (Jacobi rotations), SVD,
pinv, Lstsq (one-sided Jacobi), TensorInv and TensorSolve: onnxruntime against PyTensor.

Like ``test_slinalg.py``: core ops without rewrites (``RAW``) on static small (unrolled),
static large and symbolic sizes (ONNX Loop); batched through ``pt.linalg.*``.
"""

import numpy as np
import onnx
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytensor.tensor.blockwise import Blockwise
from pytensor.tensor.type_other import NoneConst

from pytensor_onnx.dispatch.nlinalg import (
    SVD,
    Det,
    Eigh,
    Eigvalsh,
    Lstsq,
    MatrixInverse,
    MatrixPinv,
    SLogDet,
    TensorInv,
    TensorSolve,
)
from pytensor_onnx.mode import onnx_mode
from tests.test_basic import compare_onnx_and_py, py_mode
from tests.test_slinalg import (
    FLOAT_DTYPES,
    RAW,
    SIZE_IDS,
    SIZES,
    close,
    matrix_var,
    random_matrix,
    spd_matrix,
    tolerance,
)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def det_and_slogdet(a):
    return [Det()(a), *SLogDet()(a)]


def check_det(dtype, cond=10.0):
    """Det and log|det| relative to their size (the error of a product of n pivots)."""
    return close(dtype, cond)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_det_slogdet_inverse(dtype, static_n, n):
    rng = np.random.default_rng(30)
    a = matrix_var(static_n, dtype)
    # Scaled so that |det| is far from 1: catches a wrong product, not just a wrong sign.
    value = (random_matrix(rng, n, "float64") * 1.7).astype(dtype)
    compare_onnx_and_py(
        [a],
        [*det_and_slogdet(a), MatrixInverse()(a)],
        [value],
        onnx_mode=RAW,
        assert_fn=check_det(dtype),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_negative_and_permutation_determinants(dtype):
    a = pt.matrix("a", dtype=dtype)
    fn_outputs = det_and_slogdet(a)
    cases = [
        np.eye(4)[[1, 0, 2, 3]],  # one swap: -1
        np.eye(4)[[1, 2, 3, 0]],  # a 4-cycle: -1
        np.eye(5)[[1, 2, 0, 4, 3]],  # 3-cycle and swap: -1
        np.eye(3)[[2, 0, 1]],  # 3-cycle: +1
        np.diag([-2.0, 3.0, 0.5]),
        np.array([[0.0, 2.0], [3.0, 0.0]]),  # needs pivoting: -6
        np.array([[1e-300, 1.0], [1.0, 1.0]]) if dtype == "float64" else np.eye(2),
    ]
    for value in cases:
        _, (det, sign, _) = compare_onnx_and_py(
            [a], fn_outputs, [value.astype(dtype)], onnx_mode=RAW, assert_fn=check_det(dtype)
        )
        assert np.sign(det) == sign


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("case", ["zero_column", "repeated_row", "zeros"])
def test_singular(dtype, static_n, n, case):
    # det 0, slogdet (0, -inf) as NumPy; the inverse is NaN where NumPy raises.
    value = random_matrix(np.random.default_rng(31), n, dtype)
    if case == "zero_column":
        value[:, 1] = 0
    elif case == "repeated_row":
        value = np.round(value * 4) / 4  # dyadic entries: the repeat cancels exactly
        value[2] = value[0]
    else:
        value[:] = 0
    a = matrix_var(static_n, dtype)
    _, (det, sign, logdet) = compare_onnx_and_py(
        [a], det_and_slogdet(a), [value], onnx_mode=RAW, assert_fn=check_det(dtype)
    )
    assert det == 0 and sign == 0 and logdet == -np.inf
    inverse_fn = pytensor.function([a], MatrixInverse()(a), mode=RAW)
    assert np.isnan(inverse_fn(value)).all()
    with pytest.raises(np.linalg.LinAlgError):
        pytensor.function([a], MatrixInverse()(a), mode=py_mode)(value)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_ill_conditioned(dtype):
    cond = 1e6 if dtype == "float64" else 1e3
    rng = np.random.default_rng(32)
    a = matrix_var(None, dtype)
    value = random_matrix(rng, 9, dtype, cond=cond)
    compare_onnx_and_py(
        [a],
        [*det_and_slogdet(a), MatrixInverse()(a)],
        [value],
        onnx_mode=RAW,
        assert_fn=check_det(dtype, cond),
    )


def test_edge_values_and_integer_input():
    a = pt.matrix("a")
    outs = [*det_and_slogdet(a), MatrixInverse()(a)]
    compare_onnx_and_py([a], outs, [np.zeros((0, 0))], onnx_mode=RAW)  # det of nothing: 1
    for value in ([[np.inf, 1.0], [1.0, 1.0]], [[-np.inf, 2.0], [1.0, -1.0]], [[3.0]]):
        compare_onnx_and_py([a], outs, [np.asarray(value)], onnx_mode=RAW)
    # A NaN pivot: OpenBLAS's getrs keeps some entries of the inverse finite, by an order
    # of operations this lowering does not reproduce (it gives NaN throughout); the
    # determinants agree, NaN pivot ranked first as LAPACK's idamax does.
    nan_first = np.array([[np.nan, 1.0], [1.0, 2.0]])
    _, (det, sign, logdet) = compare_onnx_and_py(
        [a], det_and_slogdet(a), [nan_first], onnx_mode=RAW
    )
    assert sign == 1.0 and np.isnan(det) and np.isnan(logdet)
    nan_inverse = pytensor.function([a], MatrixInverse()(a), mode=RAW)(nan_first)
    assert np.isnan(nan_inverse).all()
    ai = pt.matrix("ai", dtype="int64")
    value = np.array([[2, 1, 0], [1, 3, 1], [0, 1, 4]], dtype="int64")
    compare_onnx_and_py(
        [ai],
        [*det_and_slogdet(ai), MatrixInverse()(ai)],
        [value],
        onnx_mode=RAW,
        assert_fn=check_det("float64"),
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_batched(dtype):
    rng = np.random.default_rng(33)
    x = pt.tensor("x", shape=(None, 2, None, None), dtype=dtype)
    value = random_matrix(rng, 4, dtype, batch=(3, 2))
    value[0, 1] = np.eye(4)[[1, 0, 2, 3]]  # det -1
    value[2, 0, :, 1] = 0  # singular
    # PyTensor's slogdet rewrite fails on batched input (slogdet_specialization makes a
    # core SLogDet of a 3-D input), in its own default mode too: Blockwise(SLogDet) direct.
    _, det = compare_onnx_and_py([x], pt.linalg.det(x), [value], assert_fn=check_det(dtype))
    assert det[2, 0] == 0
    compare_onnx_and_py(
        [x], Blockwise(SLogDet())(x), [value], onnx_mode=RAW, assert_fn=check_det(dtype)
    )
    value[2, 0] = np.eye(4)  # NumPy's inverse raises for the singular one
    compare_onnx_and_py([x], pt.linalg.inv(x), [value], assert_fn=check_det(dtype))


def test_grad_of_logdet_and_inverse():
    rng = np.random.default_rng(34)
    a = pt.matrix("a")
    cost = pt.log(pt.abs(pt.linalg.det(a))) + pt.linalg.inv(a).sum()
    compare_onnx_and_py(
        [a],
        pytensor.grad(cost, a),
        [random_matrix(rng, 5, "float64")],
        assert_fn=check_det("float64", 100),
    )


_FUNCTIONS = {}


def _functions():
    if not _FUNCTIONS:
        x = pt.tensor3("x")
        outs = [pt.linalg.det(x), pt.linalg.inv(x), *Blockwise(SLogDet())(x)]
        _FUNCTIONS["onnx"] = pytensor.function([x], outs, mode=RAW)
        _FUNCTIONS["py"] = pytensor.function([x], outs, mode=py_mode)
    return _FUNCTIONS["onnx"], _FUNCTIONS["py"]


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),  # PyTensor's own Blockwise fails on an empty batch
    n=st.integers(0, 10),
    swaps=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=4),
    seed=st.integers(0, 2**16),
)
def test_batched_property(batch, n, swaps, seed):
    rng = np.random.default_rng(seed)
    value = random_matrix(rng, n, "float64", cond=100, batch=(batch,))
    for i, j in swaps:  # row swaps change the determinant's sign
        if i < n and j < n:
            value[..., [i, j], :] = value[..., [j, i], :]
    onnx_fn, py_fn = _functions()
    check = check_det("float64", 100)
    for onnx_value, py_value in zip(onnx_fn(value), py_fn(value), strict=True):
        check(onnx_value, py_value)


# -- symmetric eigenproblems (Jacobi rotations) ---------------------------------------------
def symmetric_with_spectrum(rng, n, dtype, batch=()):
    """A symmetric matrix with eigenvalues spread over [-3, 3] (gaps 6 / (n - 1))."""
    u, _ = np.linalg.qr(rng.normal(size=(*batch, n, n)))
    values = np.linspace(-3, 3, n) if n > 1 else np.ones(n)
    return ((u * values[..., None, :]) @ np.swapaxes(u, -1, -2)).astype(dtype)


def eigenvectors_close(dtype, n):
    """Eigenvectors equal up to the sign of each column (which LAPACK leaves open too);
    their error is about eps * |a| / gap, here eps * n."""
    check = close(dtype, cond=10 * max(n, 1))

    def assert_fn(onnx_value, py_value):
        if onnx_value.ndim >= 2 and onnx_value.shape == py_value.shape:
            signs = np.sign(np.sum(onnx_value * py_value, axis=-2, keepdims=True))
            onnx_value = (onnx_value * np.where(signs == 0, 1, signs)).astype(py_value.dtype)
        check(onnx_value, py_value)

    return assert_fn


def with_garbage(value, lower):
    """``value`` with the triangle that is not read overwritten."""
    value = value.copy()
    n = value.shape[-1]
    other = np.triu_indices(n, 1) if lower else np.tril_indices(n, -1)
    value[..., other[0], other[1]] = 1e3
    return value


def eigvalsh(a, lower=True):
    # pytensor 2.x needs NoneConst for "no b"; 3.0 takes it too.
    return Eigvalsh(lower=lower)(a, NoneConst)


def _eigh_op(lower):
    try:  # pytensor 3: lower; pytensor 2.x: UPLO
        return Eigh(lower=lower)
    except TypeError:
        return Eigh(UPLO="L" if lower else "U")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize(("static_n", "n"), SIZES, ids=SIZE_IDS)
def test_eigh_and_eigvalsh(dtype, lower, static_n, n):
    rng = np.random.default_rng(35)
    a = matrix_var(static_n, dtype)
    value = with_garbage(symmetric_with_spectrum(rng, n, dtype), lower)
    outs = [*_eigh_op(lower)(a), eigvalsh(a, lower=lower)]
    compare_onnx_and_py([a], outs, [value], onnx_mode=RAW, assert_fn=eigenvectors_close(dtype, n))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_eigh_repeated_eigenvalues(dtype):
    # Eigenvectors of a repeated eigenvalue are any basis of its space: check the
    # decomposition, and the eigenvalues against PyTensor.
    rng = np.random.default_rng(36)
    u, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a = pt.matrix("a", dtype=dtype)
    for spectrum in ([2.0, 2.0, 2.0, -1.0, -1.0, 5.0], [0.0] * 6, [1.0] * 6):
        value = ((u * np.array(spectrum)) @ u.T).astype(dtype)
        w, v = pytensor.function([a], _eigh_op(True)(a), mode=RAW)(value)
        tol = tolerance(dtype)
        np.testing.assert_allclose(w, np.sort(spectrum), **tol)
        np.testing.assert_allclose((v * w) @ v.T, value, **tol)
        np.testing.assert_allclose(v.T @ v, np.eye(6), **tol)
        compare_onnx_and_py([a], eigvalsh(a), [value], onnx_mode=RAW, assert_fn=close(dtype))


def test_eigh_edge_sizes_and_integer_input():
    a = pt.matrix("a")
    outs = [*_eigh_op(True)(a), eigvalsh(a)]
    for value in (np.zeros((0, 0)), np.array([[-3.5]]), np.diag([3.0, -1.0, 2.0])):
        compare_onnx_and_py(
            [a], outs, [value], onnx_mode=RAW, assert_fn=eigenvectors_close("float64", 3)
        )
    ai = pt.matrix("ai", dtype="int64")
    value = np.array([[2, 1, 0], [1, 3, 1], [0, 1, 4]], dtype="int64")
    # Eigh: pytensor 2.x types Eigvalsh of integers as integer, which scipy's float
    # eigenvalues do not fit.
    compare_onnx_and_py(
        [ai], _eigh_op(True)(ai), [value], onnx_mode=RAW, assert_fn=eigenvectors_close("float64", 3)
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("lower", [True, False])
def test_eigvalsh_generalized(dtype, lower):
    # a v = w b v, through b's Cholesky factor.
    rng = np.random.default_rng(37)
    a, bm = pt.matrix("a", dtype=dtype), pt.matrix("b", dtype=dtype)
    values = [
        with_garbage(symmetric_with_spectrum(rng, 5, dtype), lower),
        with_garbage(spd_matrix(rng, 5, dtype, cond=10) + np.eye(5, dtype=dtype), lower),
    ]
    compare_onnx_and_py(
        [a, bm],
        Eigvalsh(lower=lower)(a, bm),
        values,
        onnx_mode=RAW,
        assert_fn=close(dtype, cond=100),
    )


if "b" in _eigh_op(True).make_node.__code__.co_varnames:  # pytensor 3: Eigh(a, b)

    def test_eigh_generalized():
        rng = np.random.default_rng(38)
        a, bm = pt.matrix("a"), pt.matrix("b")
        values = [
            symmetric_with_spectrum(rng, 5, "float64"),
            spd_matrix(rng, 5, "float64") + np.eye(5),
        ]
        compare_onnx_and_py(
            [a, bm],
            Eigh()(a, bm),
            values,
            onnx_mode=RAW,
            assert_fn=eigenvectors_close("float64", 50),
        )


def test_eigh_batched():
    rng = np.random.default_rng(39)
    x = pt.tensor("x", shape=(None, 2, 4, 4))
    value = symmetric_with_spectrum(rng, 4, "float64", batch=(3, 2))
    value[1, 0] = np.eye(4)  # converged from the start, next to matrices that are not
    # pytensor 2.x's pt.linalg.eigh takes matrices only: Blockwise(Eigh) in both lines.
    outs = Blockwise(_eigh_op(True), signature="(m,m)->(m),(m,m)")(x)
    compare_onnx_and_py([x], outs, [value], assert_fn=eigenvectors_close("float64", 4))


# -- SVD, pinv, lstsq (one-sided Jacobi) -----------------------------------------------------
# Errors measured (float64 / float32, random matrices up to 9x9, cond <= 100): singular
# values within 2 eps * s_max, vectors (sign-aligned) within 4 eps * cond, U S V^T within
# 3 eps * |a|, orthogonality within 2 eps (8 eps float32). Checks allow 10 eps * cond.
SVD_SHAPES = [
    ((4, 4), (4, 4)),
    ((6, 3), (6, 3)),
    ((3, 6), (3, 6)),
    ((None, None), (7, 4)),
    ((None, None), (4, 7)),
    ((None, 5), (5, 5)),
]
SVD_SHAPE_IDS = ["square", "tall", "wide", "symbolic_tall", "symbolic_wide", "half_symbolic"]


def rectangular_matrix(rng, m, n, dtype, cond=10.0, batch=()):
    """An m x n matrix with singular values spread log-uniformly over [1/cond, 1]."""
    k = min(m, n)
    u, _ = np.linalg.qr(rng.normal(size=(*batch, m, k)))
    v, _ = np.linalg.qr(rng.normal(size=(*batch, n, k)))
    s = np.logspace(0, -np.log10(cond), k) if k else np.zeros(0)
    return ((u * s[..., None, :]) @ np.swapaxes(v, -1, -2)).astype(dtype)


def _svd_ops(full_matrices):
    return SVD(full_matrices=full_matrices), SVD(full_matrices=full_matrices, compute_uv=False)


def check_svd(u, s, vt, value, ref, dtype, cond=10.0, distinct=True):
    """``u, s, vt`` (ONNX) against ``ref`` (NumPy's, through PyTensor) and the definition."""
    eps = np.finfo(dtype).eps
    m, n = value.shape[-2:]
    k = min(m, n)
    scale = max(float(np.abs(value).max(initial=0.0)), np.finfo(dtype).tiny)
    tol = 10 * eps * cond
    ref_u, ref_s, ref_vt = ref
    assert u.dtype == s.dtype == vt.dtype == ref_s.dtype
    assert u.shape == ref_u.shape and s.shape == ref_s.shape and vt.shape == ref_vt.shape
    np.testing.assert_allclose(s, ref_s, rtol=tol, atol=tol * scale)
    assert np.all(np.diff(s, axis=-1) <= 0), "singular values not descending"
    # U S V^T with the first k vectors, whatever full_matrices adds.
    product = (u[..., :, :k] * s[..., None, :]) @ vt[..., :k, :]
    np.testing.assert_allclose(product, value, rtol=0, atol=tol * scale)
    for q in (u, np.swapaxes(vt, -1, -2)):
        gram = np.swapaxes(q, -1, -2) @ q
        np.testing.assert_allclose(gram, np.broadcast_to(np.eye(q.shape[-1]), gram.shape), atol=tol)
    if distinct:  # singular vectors are unique up to sign
        for mine, theirs in (
            (u[..., :, :k], ref_u[..., :, :k]),
            (vt[..., :k, :].mT, ref_vt[..., :k, :].mT),
        ):
            signs = np.sign(np.sum(mine * theirs, axis=-2, keepdims=True))
            np.testing.assert_allclose(mine * signs, theirs, atol=tol)


def run_svd(a, value, full_matrices, dtype, mode=RAW, **check):
    """Compile SVD (both variants) with ONNX and with PyTensor's reference; check them."""
    full, values_only = _svd_ops(full_matrices)
    outs = [*full(a), values_only(a)]
    onnx_fn = pytensor.function([a], outs, mode=mode)
    onnx.checker.check_model(onnx_fn.maker.linker.onnx_model, full_check=True)
    u, s, vt, s_only = onnx_fn(value)
    ref = pytensor.function([a], outs, mode=py_mode)(value)
    check_svd(u, s, vt, value, ref[:3], dtype, **check)
    np.testing.assert_array_equal(s_only.shape, ref[3].shape)
    check_svd(u, s_only, vt, value, ref[:3], dtype, **check)
    return u, s, vt


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("full_matrices", [True, False], ids=["full", "economic"])
@pytest.mark.parametrize(("static_shape", "shape"), SVD_SHAPES, ids=SVD_SHAPE_IDS)
def test_svd(dtype, full_matrices, static_shape, shape):
    rng = np.random.default_rng(40)
    a = pt.tensor("a", shape=static_shape, dtype=dtype)
    run_svd(a, rectangular_matrix(rng, *shape, dtype), full_matrices, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_svd_rank_deficient_and_repeated(dtype):
    rng = np.random.default_rng(41)
    a = pt.matrix("a", dtype=dtype)
    rank_two = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 4))
    zero_column = rectangular_matrix(rng, 5, 4, "float64")
    zero_column[:, 1] = 0
    orthogonal, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    cases = [
        rank_two,  # two singular values at rounding level: their vectors are noise
        rank_two.T,
        zero_column,
        np.zeros((4, 3)),
        np.zeros((3, 4)),
        orthogonal,  # all singular values 1
        np.diag([3.0, 3.0, 1.0, 0.0]),
        np.ones((3, 5)),  # rank one
    ]
    for value in cases:
        for full_matrices in (True, False):
            # Only the leading, distinct, nonzero singular values have unique vectors.
            run_svd(a, value.astype(dtype), full_matrices, dtype, distinct=False)
    u, s, vt = run_svd(a, zero_column.astype(dtype), True, dtype, distinct=False)
    assert s[-1] == 0  # an exactly zero column gives an exactly zero singular value


def test_svd_edge_values():
    a = pt.matrix("a")
    for value in (np.array([[-2.5]]), np.array([[0.0]]), np.array([[1.0, -2.0]])):
        run_svd(a, value, True, "float64")
    rng = np.random.default_rng(42)
    for magnitude in (1e200, 1e-200, 1e-310):  # scaled: squared norms stay finite
        value = rectangular_matrix(rng, 5, 3, "float64") * magnitude
        run_svd(a, value, False, "float64")
    for shape in ((0, 3), (3, 0), (0, 0)):
        run_svd(a, np.zeros(shape), True, "float64")
        run_svd(a, np.zeros(shape), False, "float64")
    # NumPy raises for NaN ("SVD did not converge") and returns NaN values (and some
    # finite vector entries) for inf; the ONNX model returns NaN throughout.
    full, values_only = _svd_ops(False)
    onnx_fn = pytensor.function([a], [*full(a), values_only(a)], mode=RAW)
    py_fn = pytensor.function([a], values_only(a), mode=py_mode)
    for bad in (np.inf, -np.inf, np.nan):
        value = np.eye(3)
        value[1, 2] = bad
        assert all(np.isnan(r).all() for r in onnx_fn(value))
        if np.isnan(bad):
            with pytest.raises(np.linalg.LinAlgError):
                py_fn(value)
        else:
            assert np.isnan(py_fn(value)).all()


def test_svd_integer_input():
    a = pt.matrix("a", dtype="int64")
    value = np.array([[2, 1, 0], [1, 3, 1], [0, 1, 4], [5, -1, 2]], dtype="int64")
    full, _ = _svd_ops(False)
    outs = full(a)
    assert outs[1].dtype == "float64"
    u, s, vt = pytensor.function([a], outs, mode=RAW)(value)
    ref = pytensor.function([a], outs, mode=py_mode)(value)
    check_svd(u, s, vt, value.astype("float64"), ref, "float64")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_svd_batched(dtype):
    rng = np.random.default_rng(43)
    x = pt.tensor("x", shape=(None, 2, None, None), dtype=dtype)
    value = rectangular_matrix(rng, 5, 3, dtype, batch=(3, 2))
    value[1, 0] = np.eye(5, 3)  # converged from the start, next to matrices that are not
    value[2, 1] = 0
    outs = pt.linalg.svd(x, full_matrices=False)
    onnx_fn = pytensor.function([x], outs, mode=onnx_mode(intra_op_num_threads=1))
    results = onnx_fn(value)
    ref = pytensor.function([x], outs, mode=py_mode)(value)
    for i in range(3):
        for j in range(2):
            check_svd(
                *(r[i, j] for r in results),
                value[i, j],
                [r[i, j] for r in ref],
                dtype,
                distinct=(i, j) not in ((1, 0), (2, 1)),
            )
    # Wide matrices and the values alone, in the same batch.
    wide = np.swapaxes(value, -1, -2).copy()
    s_fn = pytensor.function(
        [x], pt.linalg.svd(x, compute_uv=False), mode=onnx_mode(intra_op_num_threads=1)
    )
    ref_s = np.linalg.svd(wide, compute_uv=False)
    np.testing.assert_allclose(s_fn(wide), ref_s, atol=100 * np.finfo(dtype).eps)


_SVD_FUNCTIONS = {}


def _svd_functions():
    if not _SVD_FUNCTIONS:
        a = pt.matrix("a")
        outs = [*SVD(full_matrices=True)(a), MatrixPinv(hermitian=False)(a)]
        _SVD_FUNCTIONS["onnx"] = pytensor.function([a], outs, mode=RAW)
        _SVD_FUNCTIONS["py"] = pytensor.function([a], outs, mode=py_mode)
    return _SVD_FUNCTIONS["onnx"], _SVD_FUNCTIONS["py"]


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(0, 8),
    n=st.integers(0, 8),
    rank=st.integers(0, 8),
    seed=st.integers(0, 2**16),
)
def test_svd_and_pinv_property(m, n, rank, seed):
    # One compiled model (symbolic sizes: both branches of its If) over tall, wide,
    # square, empty and rank-deficient matrices.
    rng = np.random.default_rng(seed)
    rank = min(rank, m, n)
    value = rectangular_matrix(rng, m, rank, "float64", cond=100) @ rng.normal(size=(rank, n))
    onnx_fn, py_fn = _svd_functions()
    u, s, vt, p = onnx_fn(value)
    ref = py_fn(value)
    check_svd(u, s, vt, value, ref[:3], "float64", cond=1000, distinct=False)
    if rank == min(m, n):  # else numpy's pinv inverts rounding noise (rcond=1e-15)
        close("float64", cond=1e4)(p, ref[3])
    # Moore-Penrose conditions, for every rank.
    tol = 1e-9 * max(1.0, np.abs(value).max(initial=0) * np.abs(p).max(initial=0))
    np.testing.assert_allclose(
        value @ p @ value, value, atol=tol * max(1.0, np.abs(value).max(initial=0))
    )
    np.testing.assert_allclose((value @ p).T, value @ p, atol=tol)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("static_shape", "shape"), SVD_SHAPES, ids=SVD_SHAPE_IDS)
def test_pinv(dtype, static_shape, shape):
    rng = np.random.default_rng(44)
    a = pt.tensor("a", shape=static_shape, dtype=dtype)
    value = rectangular_matrix(rng, *shape, dtype, cond=100)
    compare_onnx_and_py(
        [a], MatrixPinv(hermitian=False)(a), [value], onnx_mode=RAW, assert_fn=close(dtype, 1e4)
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_pinv_hermitian_rank_deficient_and_edges(dtype):
    rng = np.random.default_rng(45)
    a = pt.matrix("a", dtype=dtype)
    symmetric = with_garbage(symmetric_with_spectrum(rng, 4, "float64"), lower=True)  # +-1, +-3
    compare_onnx_and_py(
        [a],
        MatrixPinv(hermitian=True)(a),
        [symmetric.astype(dtype)],
        onnx_mode=RAW,
        assert_fn=close(dtype, 100),
    )
    # Exactly rank-deficient (NumPy's cutoff 1e-15 * s_max keeps float32 rounding noise,
    # so only exact zeros are comparable there).
    zero_column = rectangular_matrix(rng, 5, 4, "float64")
    zero_column[:, 2] = 0
    cases = [zero_column, zero_column.T, np.zeros((3, 2)), np.diag([2.0, 0.0, -4.0])]
    if dtype == "float64":
        cases.append(rng.normal(size=(6, 2)) @ rng.normal(size=(2, 5)))
    for value in cases:
        compare_onnx_and_py(
            [a],
            MatrixPinv(hermitian=False)(a),
            [value.astype(dtype)],
            onnx_mode=RAW,
            assert_fn=close(dtype, 100),
        )
    for shape in ((0, 3), (3, 0), (0, 0)):
        compare_onnx_and_py(
            [a], MatrixPinv(hermitian=False)(a), [np.zeros(shape, dtype)], onnx_mode=RAW
        )
    value = np.eye(3, dtype=dtype)
    value[0, 1] = np.nan
    assert np.isnan(pytensor.function([a], MatrixPinv(False)(a), mode=RAW)(value)).all()


def test_pinv_batched_and_grad():
    rng = np.random.default_rng(46)
    x = pt.tensor3("x")
    value = rectangular_matrix(rng, 4, 6, "float64", batch=(3,))
    compare_onnx_and_py([x], pt.linalg.pinv(x), [value], assert_fn=close("float64", 100))
    a = pt.matrix("a")
    cost = (pt.linalg.pinv(a) ** 2).sum()
    compare_onnx_and_py([a], pytensor.grad(cost, a), [value[0]], assert_fn=close("float64", 1000))


def lstsq_check(onnx_value, py_value):
    # Lstsq's rank is typed int32 and NumPy's is np.int32: compare as values.
    onnx_value, py_value = np.asarray(onnx_value), np.asarray(py_value)
    if py_value.dtype.kind in "iu":
        assert onnx_value.dtype == np.int32 and onnx_value == py_value
    else:
        close("float64", 1000)(onnx_value, py_value)


@pytest.mark.parametrize(
    ("shape", "rcond", "static"),
    [((6, 3), -1.0, True), ((6, 3), 1e-10, False), ((3, 5), -1.0, False), ((4, 4), 0.5, True)],
)
def test_lstsq(shape, rcond, static):
    rng = np.random.default_rng(47)
    x = pt.matrix("x", shape=shape if static else (None, None))
    y = pt.matrix("y")
    r = pt.dscalar("r")
    outs = Lstsq()(x, y, r)
    a_value = rectangular_matrix(rng, *shape, "float64", cond=10)
    y_value = rng.normal(size=(shape[0], 2))
    compare_onnx_and_py(
        [x, y, r], outs, [a_value, y_value, np.float64(rcond)], onnx_mode=RAW, assert_fn=lstsq_check
    )
    # Rank-deficient: no residuals, as NumPy.
    if shape[0] >= shape[1]:
        a_value[:, 0] = a_value[:, 1]
    else:
        a_value[0] = a_value[1]
    _, (_, residuals, rank, _) = compare_onnx_and_py(
        [x, y, r], outs, [a_value, y_value, np.float64(rcond)], onnx_mode=RAW, assert_fn=lstsq_check
    )
    assert residuals.shape == (0,) and rank < min(shape)


def test_lstsq_float32_inputs_and_vector_rhs():
    # Lstsq types its results float64, but NumPy returns float32 ones for float32 inputs:
    # the ONNX model follows the types, computed in float64 (values compared as such).
    x, y = pt.matrix("x", dtype="float32"), pt.matrix("y", dtype="float32")
    outs = Lstsq()(x, y, pt.constant(np.float64(-1)))
    assert [o.dtype for o in outs] == ["float64", "float64", "int32", "float64"]
    values = [np.array([[1, 0], [1, 1], [1, 2]], "float32"), np.array([[1], [2], [2]], "float32")]
    results = pytensor.function([x, y], outs, mode=RAW)(*values)
    expected = np.linalg.lstsq(*(v.astype("float64") for v in values), rcond=-1)
    for result, reference in zip(results, expected, strict=True):
        lstsq_check(result, np.asarray(reference))
    with pytest.raises(NotImplementedError, match="Lstsq: only a matrix a and a matrix b"):
        v = pt.vector("v", dtype="float32")
        pytensor.function([x, v], Lstsq()(x, v, -1.0), mode=RAW)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_tensorinv_and_tensorsolve(dtype):
    rng = np.random.default_rng(48)
    a = pt.tensor("a", shape=(None, 3, 4, None), dtype=dtype)
    value = random_matrix(rng, 12, "float64").reshape(4, 3, 4, 3).astype(dtype)
    compare_onnx_and_py(
        [a], TensorInv(ind=2)(a), [value], onnx_mode=RAW, assert_fn=close(dtype, 100)
    )
    a1 = pt.tensor("a1", shape=(None, None, None), dtype=dtype)
    compare_onnx_and_py(
        [a1],
        TensorInv(ind=1)(a1),
        [value.reshape(12, 4, 3)],
        onnx_mode=RAW,
        assert_fn=close(dtype, 100),
    )
    rhs = pt.tensor("rhs", shape=(None, None), dtype=dtype)
    rhs_value = rng.normal(size=(4, 3)).astype(dtype)
    for axes in (None, (1, 0)):  # (1, 0): a as (4, 3, 3, 4), x of shape (3, 4)
        compare_onnx_and_py(
            [a, rhs],
            TensorSolve(axes)(a, rhs),
            [value, rhs_value],
            onnx_mode=RAW,
            assert_fn=close(dtype, 100),
        )
    singular = value.copy()
    singular[0] = 0
    assert np.isnan(pytensor.function([a], TensorInv()(a), mode=RAW)(singular)).all()


def test_tensorsolve_result_not_a_matrix():
    a, rhs = pt.tensor3("a"), pt.matrix("rhs")
    with pytest.raises(NotImplementedError, match="TensorSolve with a.ndim=3, b.ndim=2"):
        pytensor.function([a, rhs], TensorSolve()(a, rhs), mode=RAW)
