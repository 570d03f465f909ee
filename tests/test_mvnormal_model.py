"""Acceptance test of linear algebra: a multivariate-normal log density with a Cholesky.

The covariance is built from parameters, ``cov = B B^T + diag(exp(log_d))`` (B a d x k
factor loading, plain PyTensor ops, no PyMC), and the log density of N observations is
computed the way PyMC's MvNormal does: ``L = cholesky(cov)``, the log-determinant from L's
diagonal and the Mahalanobis terms from a triangular solve. The log density and its
gradient with respect to the mean, B and log_d (gradients of Cholesky and of the solve)
are compiled with PyTensor's default rewrites, exported with ``export_function_onnx`` and run
in a plain ``onnxruntime.InferenceSession``, and compiled with ``mode="ONNX"``; both must
match PyTensor to 1e-8 relative in float64 at several parameter points, with static and
symbolic sizes.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from pytensor_onnx import export_function_onnx

D, K, N_OBS = 5, 2, 40
# PyTensor's default rewrites with its Python linker: the same graph as the default mode's,
# without compiling it (Numba's compilation takes ~40 s on pytensor 3).
REFERENCE = Mode(linker="py", optimizer="fast_run")


def build_model(static: bool):
    shape = (D,) if static else (None,)
    mu = pt.vector("mu", shape=shape)
    loadings = pt.matrix("B", shape=(D, K) if static else (None, None))
    log_d = pt.vector("log_d", shape=shape)
    data = pt.matrix("X", shape=(N_OBS, D) if static else (None, None))
    cov = loadings @ loadings.T + pt.diag(pt.exp(log_d))
    chol = pt.linalg.cholesky(cov)
    centred = (data - mu).T  # (d, n)
    z = pt.linalg.solve_triangular(chol, centred, lower=True)
    n, d = data.shape[0], data.shape[1]
    logp = -0.5 * pt.sum(z**2) - n * pt.sum(pt.log(pt.diag(chol))) - 0.5 * n * d * np.log(2 * np.pi)
    params = [mu, loadings, log_d]
    return params, data, [logp, *pytensor.grad(logp, params)]


def points(rng, n=4):
    yield [np.zeros(D), np.full((D, K), 0.1), np.zeros(D)]
    for _ in range(n - 1):
        yield [rng.normal(size=D), rng.normal(size=(D, K)), rng.normal(scale=0.5, size=D)]


def observations(rng):
    loadings = rng.normal(size=(D, K))
    cov = loadings @ loadings.T + np.diag(rng.uniform(0.2, 1.0, D))
    return rng.multivariate_normal(rng.normal(size=D), cov, size=N_OBS)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_exported_mvnormal_logp_and_gradient_match(static, rng):
    params, data, outputs = build_model(static)
    fn = pytensor.function([*params, data], outputs, mode=REFERENCE)
    assert "Cholesky" in {
        type(getattr(n.op, "core_op", n.op)).__name__ for n in fn.maker.fgraph.apply_nodes
    }
    onnx_model = export_function_onnx(fn)
    onnx.checker.check_model(onnx_model, full_check=True)
    session = ort.InferenceSession(onnx_model.SerializeToString())
    names = [inp.name for inp in session.get_inputs()]
    x = observations(rng)
    for point in points(rng):
        values = [*point, x]
        got = session.run(None, dict(zip(names, values, strict=True)))
        assert_matches_to(got, fn(*values), 1e-8)


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_onnx_mode_mvnormal_logp_and_gradient_match(static, rng):
    params, data, outputs = build_model(static)
    reference = pytensor.function([*params, data], outputs, mode=REFERENCE)
    onnx_fn = pytensor.function([*params, data], outputs, mode="ONNX")
    x = observations(rng)
    for point in points(rng):
        assert_matches_to(onnx_fn(*point, x), reference(*point, x), 1e-8)


def test_mvnormal_logp_against_scipy(rng):
    # The model itself is the multivariate normal density (so the comparisons above
    # compare the right thing).
    from scipy import stats

    params, data, outputs = build_model(static=False)
    onnx_fn = pytensor.function([*params, data], outputs[0], mode="ONNX")
    x = observations(rng)
    mu, loadings, log_d = next(points(rng))
    cov = loadings @ loadings.T + np.diag(np.exp(log_d))
    expected = stats.multivariate_normal(mu, cov).logpdf(x).sum()
    np.testing.assert_allclose(onnx_fn(mu, loadings, log_d, x), expected, rtol=1e-12)


def assert_matches_to(got, expected, rtol):
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        e = np.asarray(e)
        assert np.asarray(g).shape == e.shape, f"output {i}: shape"
        atol = rtol * max(1.0, float(np.max(np.abs(e))))
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"output {i}")
