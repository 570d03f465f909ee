"""MatrixInverse, Det and SLogDet (LU with partial pivoting): onnxruntime against PyTensor.

Like ``test_slinalg.py``: core ops without rewrites (``RAW``) on static small (unrolled),
static large and symbolic sizes (ONNX Loop); batched through ``pt.linalg.*``.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytensor.tensor.blockwise import Blockwise
from pytensor.tensor.type_other import NoneConst

from pytensor_onnx.dispatch.nlinalg import Det, Eigh, Eigvalsh, MatrixInverse, SLogDet
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
