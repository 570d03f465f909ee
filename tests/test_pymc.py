"""PyMC end to end: logp + dlogp and the posterior predictive of ten models, through ONNX.

- logp/dlogp: the exported model, run in a plain onnxruntime session, must match
  ``model.compile_logp()`` / ``model.compile_dlogp()`` in float64 at several points to
  1e-8 relative to each output's magnitude (measured: at most 7e-16).
- predictive: the ONNX streams differ from NumPy's, so draws are compared statistically
  with PyMC's own (``pm.draw`` of the observed variables at the same parameter values):
  per element, means and variances within Z standard errors (CLT), at fixed seeds, so
  every test is deterministic. A negative control checks the comparison has power.

PyMC is optional: without it these tests skip, unless PYTENSOR_ONNX_REQUIRE_PYMC=1 (CI's
2.38 environment), where a missing PyMC fails them. The tests that need no PyMC (the
stream merging, the error without PyMC) run everywhere.
"""

import importlib
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytensor.tensor as pt
import pytest
from pytensor.tensor.random.type import RandomGeneratorType

from pytensor_onnx import export_onnx
from pytensor_onnx import pymc as onnx_pymc
from pytensor_onnx.dispatch.random import generator_to_state

REQUIRE_PYMC = os.environ.get("PYTENSOR_ONNX_REQUIRE_PYMC") == "1"
RTOL = 1e-8
N_DRAWS = 1000
# Per element; Bonferroni over the few hundred element-moments compared here keeps the
# family-wise false alarm rate below 1e-4 for a correct sampler.
Z = 5.5


def _import_pymc():
    if REQUIRE_PYMC:
        return importlib.import_module("pymc")  # fails, not skips, when missing
    return pytest.importorskip("pymc")


@pytest.fixture(scope="module")
def pm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arviz's refactor notice
        return _import_pymc()


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


# -- the ten models ------------------------------------------------------------------------
def eight_schools(pm):
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    s = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        theta_t = pm.Normal("theta_t", 0, 1, shape=8)
        theta = pm.Deterministic("theta", mu + tau * theta_t)
        pm.Normal("y", theta, s, observed=y)
    return model


def logistic_regression(pm):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    y = rng.random(100) < 1 / (1 + np.exp(-(X @ [1.0, -2.0, 0.5] + 0.3)))
    with pm.Model() as model:
        X_data = pm.Data("X", X)
        a = pm.Normal("a", 0, 2)
        b = pm.Normal("b", 0, 2, shape=3)
        # shape follows the data, so that predictions at new X have its length
        pm.Bernoulli("y", logit_p=a + X_data @ b, observed=y.astype("int64"), shape=X_data.shape[0])
    return model


def hierarchical(pm):
    rng = np.random.default_rng(2)
    group = rng.integers(0, 5, 60)
    x = rng.normal(size=60)
    y = rng.normal(size=5)[group] + 0.5 * x + rng.normal(scale=0.3, size=60)
    with pm.Model() as model:
        mu_a = pm.Normal("mu_a", 0, 5)
        sigma_a = pm.HalfNormal("sigma_a", 2)
        a = pm.Normal("a", mu_a, sigma_a, shape=5)
        b = pm.Normal("b", 0, 2)
        sigma = pm.Exponential("sigma", 1)
        pm.Normal("y", a[group] + b * x, sigma, observed=y)
    return model


def studentt_regression(pm):
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    y = 1 + 2 * x + rng.standard_t(3, size=50)
    with pm.Model() as model:
        a = pm.Normal("a", 0, 5)
        b = pm.Normal("b", 0, 5)
        nu = pm.Gamma("nu", 2, 0.1)
        sigma = pm.HalfNormal("sigma", 2)
        pm.StudentT("y", nu=nu, mu=a + b * x, sigma=sigma, observed=y)
    return model


def poisson_gamma_beta(pm):
    rng = np.random.default_rng(4)
    with pm.Model() as model:
        lam = pm.Gamma("lam", 2, 0.5)
        p = pm.Beta("p", 2, 3)
        pm.Poisson("counts", lam, observed=rng.poisson(3, 40))
        pm.Beta("frac", p * 10, (1 - p) * 10, observed=rng.beta(3, 5, 30))
        pm.Gamma("wait", alpha=2, beta=lam, observed=rng.gamma(2, 1, 25))
    return model


def normal_mixture(pm):
    rng = np.random.default_rng(5)
    y = np.concatenate([rng.normal(-2, 1, 40), rng.normal(3, 1, 60)])
    with pm.Model() as model:
        w = pm.Dirichlet("w", np.ones(2))
        mu = pm.Normal(
            "mu", 0, 5, shape=2, transform=pm.distributions.transforms.ordered, initval=[-1, 1.0]
        )
        sigma = pm.HalfNormal("sigma", 2, shape=2)
        pm.NormalMixture("y", w=w, mu=mu, sigma=sigma, observed=y)
    return model


def lkj_mvnormal(pm):
    rng = np.random.default_rng(6)
    cov = [[1, 0.5, 0], [0.5, 2, 0.3], [0, 0.3, 1]]
    y = rng.multivariate_normal([1, -1, 0], cov, size=40)
    with pm.Model() as model:
        chol, _, _ = pm.LKJCholeskyCov(
            "chol", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0, shape=3), compute_corr=True
        )
        mu = pm.Normal("mu", 0, 3, shape=3)
        pm.MvNormal("y", mu=mu, chol=chol, observed=y)
    return model


def gaussian_random_walk(pm):
    rng = np.random.default_rng(7)
    y = np.cumsum(rng.normal(0.1, 0.5, 30)) + rng.normal(0, 0.3, 30)
    with pm.Model() as model:
        sigma = pm.HalfNormal("sigma", 1)
        drift = pm.Normal("drift", 0, 1)
        x = pm.GaussianRandomWalk(
            "x", mu=drift, sigma=sigma, init_dist=pm.Normal.dist(0, 1), steps=29
        )
        pm.Normal("y", x, 0.3, observed=y)
    return model


def autoregressive(pm):
    rng = np.random.default_rng(8)
    y = np.zeros(40)
    for t in range(1, 40):
        y[t] = 0.6 * y[t - 1] + rng.normal(0, 0.5)
    with pm.Model() as model:
        rho = pm.Normal("rho", 0, 0.5, shape=2)
        sigma = pm.HalfNormal("sigma", 1)
        pm.AR("y", rho=rho, sigma=sigma, constant=True, init_dist=pm.Normal.dist(0, 1), observed=y)
    return model


def censored(pm):
    rng = np.random.default_rng(9)
    y = np.clip(rng.normal(1, 2, 60), -1, 3)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        sigma = pm.HalfNormal("sigma", 3)
        pm.Censored("y", pm.Normal.dist(mu, sigma), lower=-1, upper=3, observed=y)
    return model


MODELS = {
    f.__name__: f
    for f in [
        eight_schools,
        logistic_regression,
        hierarchical,
        studentt_regression,
        poisson_gamma_beta,
        normal_mixture,
        lkj_mvnormal,
        gaussian_random_walk,
        autoregressive,
        censored,
    ]
}

PREDICTIVE_MODELS = MODELS  # (pm.AR draws through a Scan that carries a generator)


_cache = {}


def get_model(pm, name):
    if name not in _cache:
        _cache[name] = MODELS[name](pm)
    return _cache[name]


def value_points(model, n, seed):
    """The initial point and ``n - 1`` seeded perturbations of it (transformed space)."""
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    points = [start]
    for _ in range(n - 1):
        points.append(
            {
                k: np.asarray(v + rng.normal(scale=0.5, size=np.shape(v)), v.dtype)
                for k, v in start.items()
            }
        )
    return points


def assert_close(got, expected, what):
    expected = np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    scale = max(np.max(np.abs(expected), initial=0.0), 1.0)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * scale, err_msg=what)


# -- logp and dlogp ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_logp_dlogp_match_pymc(pm, name):
    model = get_model(pm, name)
    onnx_model = onnx_pymc.export_logp_dlogp(model)
    assert [i.name for i in onnx_model.graph.input] == [v.name for v in model.value_vars]
    assert [o.name for o in onnx_model.graph.output] == ["logp", "dlogp"]
    sess = session(onnx_model)
    logp_fn, dlogp_fn = model.compile_logp(), model.compile_dlogp()
    for point in value_points(model, 3, seed=11):
        logp, dlogp = sess.run(None, {v.name: point[v.name] for v in model.value_vars})
        assert_close(logp, logp_fn(point), f"{name} logp at {point}")
        assert_close(dlogp, dlogp_fn(point), f"{name} dlogp at {point}")
        assert np.isfinite(logp) and np.isfinite(dlogp).all()


@pytest.mark.parametrize("name", ["hierarchical", "gaussian_random_walk"])
def test_ravelled_input_matches_the_variables(pm, name):
    model = get_model(pm, name)
    flat = session(onnx_pymc.export_logp_dlogp(model, ravel_inputs=True, jacobian=False))
    layout = onnx_pymc.ravel_layout(model)
    logp_fn = model.compile_logp(jacobian=False)
    dlogp_fn = model.compile_dlogp(jacobian=False)
    for point in value_points(model, 3, seed=12):
        x = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])
        for var_name, shape, where in layout:
            np.testing.assert_array_equal(x[where].reshape(shape), point[var_name])
        logp, dlogp = flat.run(None, {"x": x})
        assert_close(logp, logp_fn(point), f"{name} logp")
        assert_close(dlogp, dlogp_fn(point), f"{name} dlogp")


def test_discrete_free_variable_is_an_input_but_not_in_dlogp(pm):
    with pm.Model() as model:
        k = pm.Poisson("k", 3.0)
        mu = pm.Normal("mu", 0, 1, shape=2)
        pm.Normal("y", mu * k, 1, observed=[1.0, 2.0])
    onnx_model = onnx_pymc.export_logp_dlogp(model)
    assert [i.name for i in onnx_model.graph.input] == ["k", "mu"]
    assert [(n, s) for n, s, _ in onnx_pymc.ravel_layout(model, dlogp=True)] == [("mu", (2,))]
    point = {"k": np.array(2, dtype="int64"), "mu": np.array([0.3, -0.4])}
    logp, dlogp = session(onnx_model).run(None, point)
    assert_close(logp, model.compile_logp()(point), "logp")
    assert_close(dlogp, model.compile_dlogp()(point), "dlogp")


def test_logp_with_data_as_an_input(pm):
    model = logistic_regression(pm)
    onnx_model = onnx_pymc.export_logp_dlogp(model, data_names=["X"], verify=True)
    assert [i.name for i in onnx_model.graph.input] == ["a", "b", "X"]
    sess = session(onnx_model)
    new_X = np.random.default_rng(3).normal(size=(100, 3))
    point = {"a": np.array(0.3), "b": np.array([0.5, -1.0, 2.0])}
    logp, dlogp = sess.run(None, {**point, "X": new_X})
    with model:
        pm.set_data({"X": new_X})
    assert_close(logp, model.compile_logp()(point), "logp at new X")
    assert_close(dlogp, model.compile_dlogp()(point), "dlogp at new X")


def test_bad_data_name_and_no_free_variables(pm):
    model = logistic_regression(pm)
    with pytest.raises(ValueError, match=r"'a' is not a data container .* are \['X'\]"):
        onnx_pymc.export_logp_dlogp(model, data_names=["a"])
    with pm.Model() as empty:
        pm.Normal("y", 0, 1, observed=[0.0])
    with pytest.raises(ValueError, match="no free variables"):
        onnx_pymc.export_logp_dlogp(empty)


def test_written_file_and_verify(pm, tmp_path):
    model = get_model(pm, "eight_schools")
    path = tmp_path / "eight_schools.onnx"
    onnx_pymc.export_logp_dlogp(model, path, verify=True)
    assert path.stat().st_size > 0
    point = model.initial_point()
    logp, _ = session(onnx_pymc.onnx.load(path)).run(None, point)
    assert_close(logp, model.compile_logp()(point), "logp from the file")


# -- posterior predictive ------------------------------------------------------------------
def constrained_point(model, seed):
    """Values of the free random variables at a perturbed initial point."""
    (point,) = value_points(model, 2, seed)[1:]
    fn = model.compile_fn(
        model.replace_rvs_by_values(model.free_RVs), inputs=model.value_vars, point_fn=False
    )
    values = fn(**{v.name: point[v.name] for v in model.value_vars})
    return {rv.name: np.asarray(value) for rv, value in zip(model.free_RVs, values)}


def onnx_draws(onnx_model, params, n, seed):
    sess = session(onnx_model)
    names = [i.name for i in onnx_model.graph.input]
    feed = {k: v for k, v in params.items() if k in names}
    state = onnx_pymc.seed_to_state(seed)
    draws = []
    for _ in range(n):
        *values, state = sess.run(None, {**feed, "rng": state})
        draws.append(values)
    return [np.stack(d) for d in zip(*draws)]


def pymc_draws(pm, model, params, names, n, seed):
    from pytensor.graph.replace import clone_replace

    replace = {rv: pt.constant(params[rv.name], dtype=rv.dtype) for rv in model.free_RVs}
    outputs = clone_replace([model[name] for name in names], replace=replace)
    draws = pm.draw(outputs, draws=n, random_seed=seed)
    return [np.asarray(d) for d in draws]


def moments_agree(a, b):
    """Whether the per-element means and variances of two samples agree within Z s.e."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    n_a, n_b = len(a), len(b)
    mean_a, mean_b = a.mean(0), b.mean(0)
    var_a, var_b = a.var(0, ddof=1), b.var(0, ddof=1)
    se_mean = np.sqrt(var_a / n_a + var_b / n_b)
    # Var(s^2) = (m4 - s^4 (n - 3) / (n - 1)) / n: exact, also where the first-order term
    # m4 - s^4 vanishes (a Bernoulli at p = 1/2).
    se_var = np.sqrt(
        sum(
            np.maximum(((x - x.mean(0)) ** 4).mean(0) - v**2 * (n - 3) / (n - 1), 0) / n
            for x, v, n in [(a, var_a, n_a), (b, var_b, n_b)]
        )
    )
    # Constant elements (censored at a bound for every draw) have zero standard error.
    tiny = 1e-12 * (1 + np.abs(mean_b))
    means_ok = np.abs(mean_a - mean_b) <= Z * se_mean + tiny
    vars_ok = np.abs(var_a - var_b) <= Z * se_var + tiny
    return bool(means_ok.all() and vars_ok.all())


@pytest.mark.parametrize("name", PREDICTIVE_MODELS)
def test_predictive_matches_pymc_draws(pm, name):
    model = get_model(pm, name)
    onnx_model = onnx_pymc.export_predictive(model)
    observed = [rv.name for rv in model.observed_RVs]
    input_names = [i.name for i in onnx_model.graph.input]
    assert input_names[-1] == "rng" and set(input_names[:-1]) <= {rv.name for rv in model.free_RVs}
    assert [o.name for o in onnx_model.graph.output] == [*observed, "rng_next"]
    params = constrained_point(model, seed=21)
    ours = onnx_draws(onnx_model, params, N_DRAWS, seed=1)
    theirs = pymc_draws(pm, model, params, observed, N_DRAWS, seed=2)
    for var_name, a, b in zip(observed, ours, theirs, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype, var_name
        assert np.isfinite(a).all(), var_name
        assert moments_agree(a, b), f"{name}: {var_name} moments differ from PyMC's"


def test_moment_check_detects_wrong_parameters(pm):
    # Negative control: draws at other parameter values must fail the comparison, in the
    # mean (mu + 5, ~7 standard errors) and in the variance (tau * 3).
    model = get_model(pm, "eight_schools")
    onnx_model = onnx_pymc.export_predictive(model)
    params = constrained_point(model, seed=21)
    theirs = pymc_draws(pm, model, params, ["y"], N_DRAWS, seed=2)[0]
    assert moments_agree(onnx_draws(onnx_model, params, N_DRAWS, seed=1)[0], theirs)
    for wrong in [{"mu": params["mu"] + 5.0}, {"tau": params["tau"] * 3.0}]:
        wrong = {k: np.asarray(v) for k, v in wrong.items()}
        draws = onnx_draws(onnx_model, {**params, **wrong}, N_DRAWS, seed=1)[0]
        assert not moments_agree(draws, theirs), wrong


def test_mvnormal_draws_have_the_cholesky_covariance(pm):
    from pytensor.graph.replace import clone_replace

    model = get_model(pm, "lkj_mvnormal")
    params = constrained_point(model, seed=21)
    (y,) = onnx_draws(onnx_pymc.export_predictive(model), params, 500, seed=3)
    rows = y.reshape(-1, 3)
    corr, stds = clone_replace(
        [model["chol_corr"], model["chol_stds"]],
        replace={model["chol"]: pt.constant(params["chol"])},
    )
    expected = corr.eval() * np.outer(stds.eval(), stds.eval())
    got = np.cov(rows - params["mu"], rowvar=False, bias=True)
    n = len(rows)
    se = np.sqrt((np.outer(np.diag(expected), np.diag(expected)) + expected**2) / n)
    assert np.all(np.abs(got - expected) <= Z * se)
    assert np.all(np.abs(rows.mean(0) - params["mu"]) <= Z * np.sqrt(np.diag(expected) / n))


def test_predictive_state_handling(pm):
    model = get_model(pm, "poisson_gamma_beta")
    sess = session(onnx_pymc.export_predictive(model))
    feed = {"lam": np.array(3.0), "p": np.array(0.4)}
    state = onnx_pymc.seed_to_state(5)
    first = sess.run(None, {**feed, "rng": state})
    again = sess.run(None, {**feed, "rng": state})
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    *draws, next_state = first
    assert next_state.dtype == np.uint64 and next_state[0] == state[0]
    assert next_state[1] > state[1]
    later = sess.run(None, {**feed, "rng": next_state})
    assert not np.array_equal(draws[0], later[0]) and not np.array_equal(draws[1], later[1])
    # Three generators, three streams: the draws of one variable are not another's.
    assert draws[0].dtype == np.int64 and draws[1].dtype == draws[2].dtype == np.float64


def test_predictive_with_new_data(pm):
    model = logistic_regression(pm)
    onnx_model = onnx_pymc.export_predictive(model, data_names=["X"])
    assert [i.name for i in onnx_model.graph.input] == ["a", "b", "X", "rng"]
    new_X = np.random.default_rng(4).normal(size=(20, 3))
    params = {"a": np.array(0.2), "b": np.array([1.0, -0.5, 0.3])}
    (y,) = onnx_draws(onnx_model, {**params, "X": new_X}, 2000, seed=4)
    assert y.shape == (2000, 20)
    p = 1 / (1 + np.exp(-(params["a"] + new_X @ params["b"])))
    assert np.all(np.abs(y.mean(0) - p) <= Z * np.sqrt(p * (1 - p) / 2000))


def test_predictive_with_new_data_along_coords_dims(pm):
    # With coords/dims (PyMC's usual style) the observed variable's length is the dim's
    # length: it follows the length of the data fed along that dim, as after
    # pm.set_data(..., coords=...), shorter and of length 1 included.
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    with pm.Model(coords={"obs": np.arange(30)}) as model:
        x_data = pm.Data("x", x, dims="obs")
        b = pm.Normal("b")
        pm.Normal("y", b * x_data, 0.1, observed=2 * x, dims="obs")
    onnx_model = onnx_pymc.export_predictive(model, data_names=["x"])
    for length in (30, 7, 1):
        new_x = np.linspace(-1, 1, length)
        (y,) = onnx_draws(onnx_model, {"b": np.array(2.0), "x": new_x}, 400, seed=5)
        assert y.shape == (400, length)
        assert np.all(np.abs(y.mean(0) - 2 * new_x) <= Z * 0.1 / np.sqrt(400))


def test_predictive_var_names_and_name_clash(pm):
    model = get_model(pm, "eight_schools")
    onnx_model = onnx_pymc.export_predictive(model, var_names=["theta"])
    assert [i.name for i in onnx_model.graph.input] == ["mu", "tau", "theta_t", "rng"]
    sess = session(onnx_model)
    params = {"mu": np.array(1.0), "tau": np.array(2.0), "theta_t": np.linspace(-1, 1, 8)}
    theta, _ = sess.run(None, {**params, "rng": onnx_pymc.seed_to_state(0)})
    np.testing.assert_allclose(theta, 1.0 + 2.0 * params["theta_t"], rtol=1e-15)
    with pm.Model() as clash:
        rng = pm.Normal("rng", 0, 1)
        pm.Normal("y", rng, 1, observed=[0.0])
    with pytest.raises(ValueError, match=r"\['rng'\] clash"):
        onnx_pymc.export_predictive(clash)


# -- without PyMC ----------------------------------------------------------------------------
def test_streams_of_several_generators_are_merged_into_one_state():
    # Two generators, as PyMC gives each variable its own: one "rng" input, one "rng_next"
    # output, independent streams (one per key), the largest counter as the next state.
    rngs = [RandomGeneratorType()(f"g{j}") for j in range(2)]
    draws, nexts = [], []
    for rng, size in zip(rngs, [3, 7]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.0: return_next_rng
            next_rng, x = pt.random.normal(0, 1, size=size, rng=rng).owner.outputs
        draws.append(x)
        nexts.append(next_rng)
    base = export_onnx(
        rngs, [*draws, *nexts], input_names=["s0", "s1"], output_names=["x0", "x1", "n0", "n1"]
    )
    merged = onnx_pymc._merge_rng_streams(base, ["s0", "s1"], ["n0", "n1"])
    assert [i.name for i in merged.graph.input] == ["rng"]
    assert [o.name for o in merged.graph.output] == ["x0", "x1", "rng_next"]
    state = np.array([12345, 7], dtype=np.uint64)
    x0, x1, next_state = session(merged).run(None, {"rng": state})
    k1 = np.uint64(12345 ^ onnx_pymc.STREAM_KEYS[1])
    ref = session(base).run(None, {"s0": state, "s1": np.array([k1, 7], dtype=np.uint64)})
    np.testing.assert_array_equal(x0, ref[0])  # stream 0 keeps the key
    np.testing.assert_array_equal(x1, ref[1])
    assert not np.allclose(x0, x1[:3])
    assert next_state[0] == state[0]
    assert next_state[1] == max(ref[2][1], ref[3][1]) > state[1]


def test_seed_to_state_is_generator_to_state():
    np.testing.assert_array_equal(
        onnx_pymc.seed_to_state(3), generator_to_state(np.random.default_rng(3))
    )
    assert onnx_pymc.seed_to_state(3)[0] != onnx_pymc.seed_to_state(4)[0]
    assert len(set(onnx_pymc.STREAM_KEYS)) == len(onnx_pymc.STREAM_KEYS)


def test_without_pymc_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymc", None)  # import pymc raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'pytensor-onnx\[pymc\]'"):
        onnx_pymc.export_logp_dlogp(object())
    with pytest.raises(ImportError, match="needs PyMC"):
        onnx_pymc.export_predictive(object())


def test_readme_pymc_snippet_runs(pm, tmp_path, monkeypatch):
    # The README's PyMC section is runnable as it stands (it writes its files to the
    # current directory).
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("## PyMC models") :]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("```", start)]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (PyMC models)", "exec"), {})
    assert {p.name for p in tmp_path.iterdir()} == {
        "logp.onnx",
        "logp_flat.onnx",
        "predictive.onnx",
    }


def test_exports_for_the_browser(pm):
    # target="web" checks the file for onnxruntime-web; "web-float32" makes it float32
    # (inputs too), with the numbers of the float64 model to float32 accuracy.
    model = hierarchical(pm)
    checked = onnx_pymc.export_logp_dlogp(model, target="web")
    as_float32 = onnx_pymc.export_logp_dlogp(model, target="web-float32")
    float32 = onnx.TensorProto.FLOAT
    assert all(i.type.tensor_type.elem_type == float32 for i in as_float32.graph.input)
    point = model.initial_point()
    feed = {i.name: np.asarray(point[i.name]) for i in checked.graph.input}
    expected = session(checked).run(None, feed)
    got = session(as_float32).run(None, {k: v.astype("float32") for k, v in feed.items()})
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
    np.testing.assert_allclose(
        got[1], expected[1], rtol=1e-4, atol=1e-4 * np.abs(expected[1]).max()
    )
    predictive = onnx_pymc.export_predictive(model, target="web-float32")
    assert [o.name for o in predictive.graph.output][-1] == "rng_next"
    with pytest.raises(ValueError, match="target must be one of"):
        onnx_pymc.export_predictive(model, target="browser")


@pytest.mark.parametrize(
    "lower, upper",
    [(-1.0, 2.0), (None, 0.5), (1.5, None), (6.0, 8.0), (-9.0, -7.0), (0.2, 0.21)],
)
def test_truncated_normal_draws(pm, lower, upper):
    # PyMC's TruncatedNormalRV (pm.TruncatedNormal, pm.Truncated of a Normal): by
    # inversion on the tail side, so far tails (6 to 8 sigma) are drawn accurately too.
    from scipy import stats

    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.TruncatedNormal("y", mu, 1.5, lower=lower, upper=upper, observed=np.zeros(5000))
    (draws,) = onnx_draws(onnx_pymc.export_predictive(model), {"mu": np.array(0.3)}, 1, seed=8)
    a = -np.inf if lower is None else (lower - 0.3) / 1.5
    b = np.inf if upper is None else (upper - 0.3) / 1.5
    reference = stats.truncnorm(a, b, loc=0.3, scale=1.5)
    draws = draws.ravel()
    assert np.all((draws >= (lower or -np.inf)) & (draws <= (upper or np.inf)))
    assert stats.kstest(draws, reference.cdf).pvalue > 1e-4
