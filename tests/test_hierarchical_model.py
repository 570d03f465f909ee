"""Acceptance test of core op coverage: a hierarchical model with group indexing.

The model is plain PyTensor (no PyMC): group intercepts ``a`` drawn around ``mu_a`` with
scale ``exp(log_sigma_a)``, observations ``y ~ Normal(a[group] + b * x, exp(log_sigma))``
and weak priors. Its log density and gradient are compiled with PyTensor's default mode
(fusion Composites and all), exported with ``export_function_onnx`` and run in a plain
``onnxruntime.InferenceSession``; they must match the compiled function to 1e-10
(relative to each output's magnitude) in float64 at several parameter points. The same
graph also runs through ``mode="ONNX"``.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
import pytest

from pytensor_onnx import export_function_onnx

N_GROUPS, N_OBS = 8, 300
RTOL = 1e-10


def normal_logp(value, mu, sigma):
    return -0.5 * ((value - mu) / sigma) ** 2 - pt.log(sigma) - 0.5 * np.log(2 * np.pi)


def build_model():
    """The parameters, the data variables and the log density."""
    mu_a = pt.scalar("mu_a")
    log_sigma_a = pt.scalar("log_sigma_a")
    a = pt.vector("a")
    b = pt.scalar("b")
    log_sigma = pt.scalar("log_sigma")
    x = pt.vector("x")
    y = pt.vector("y")
    group = pt.lvector("group")
    priors = (
        normal_logp(mu_a, 0.0, 10.0)
        + normal_logp(log_sigma_a, 0.0, 1.0)
        + normal_logp(b, 0.0, 10.0)
        + normal_logp(log_sigma, 0.0, 1.0)
    )
    logp = (
        priors
        + pt.sum(normal_logp(a, mu_a, pt.exp(log_sigma_a)))
        + pt.sum(normal_logp(y, a[group] + b * x, pt.exp(log_sigma)))
    )
    return [mu_a, log_sigma_a, a, b, log_sigma], [x, y, group], logp


def simulate(rng):
    group = rng.integers(0, N_GROUPS, N_OBS)
    group[:N_GROUPS] = np.arange(N_GROUPS)  # every group observed
    a_true = rng.normal(1.0, 2.0, N_GROUPS)
    x = rng.normal(size=N_OBS)
    y = a_true[group] + 0.7 * x + rng.normal(scale=0.5, size=N_OBS)
    return [x, y, group.astype("int64")]


def parameter_points(rng, n=4):
    zero = np.float64(0.0)
    points = [[zero, zero, np.zeros(N_GROUPS), zero, zero]]
    for _ in range(n - 1):
        points.append(
            [
                np.float64(rng.normal()),
                np.float64(rng.normal(scale=0.5)),
                rng.normal(1.0, 2.0, N_GROUPS),
                np.float64(rng.normal()),
                np.float64(rng.normal(scale=0.5) - 0.5),
            ]
        )
    return points


def assert_matches(got, expected):
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        e = np.asarray(e)
        assert np.asarray(g).shape == e.shape, f"output {i}: shape"
        # Relative to the output's scale: a gradient entry near 0 is a difference of
        # large terms, which summation order changes by ~1e-16 of their size.
        atol = RTOL * max(1.0, float(np.max(np.abs(e))))
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=atol, err_msg=f"output {i}")


@pytest.fixture(scope="module")
def model():
    params, data_vars, logp = build_model()
    outputs = [logp, *pytensor.grad(logp, params)]
    return params, data_vars, outputs


def test_exported_logp_and_gradient_match(model, rng):
    params, data_vars, outputs = model
    fn = pytensor.function([*params, *data_vars], outputs)
    # The default mode fused the elementwise work, and indexing became the 1-D ops.
    op_names = {type(node.op).__name__ for node in fn.maker.fgraph.apply_nodes}
    assert "AdvancedSubtensor1" in op_names
    assert "AdvancedIncSubtensor1" in op_names

    onnx_model = export_function_onnx(fn)
    onnx.checker.check_model(onnx_model, full_check=True)
    node_types = {node.op_type for node in onnx_model.graph.node}
    assert {"GatherElements", "ScatterElements"} <= node_types  # a[group] and its gradient
    session = ort.InferenceSession(onnx_model.SerializeToString())
    names = [inp.name for inp in session.get_inputs()]

    data = simulate(rng)
    for point in parameter_points(rng):
        values = [*point, *data]
        expected = fn(*values)
        got = session.run(None, {n: np.asarray(v) for n, v in zip(names, values, strict=True)})
        assert_matches(got, expected)


def test_onnx_mode_logp_and_gradient_match(model, rng):
    params, data_vars, outputs = model
    reference = pytensor.function([*params, *data_vars], outputs)
    onnx_fn = pytensor.function([*params, *data_vars], outputs, mode="ONNX")
    data = simulate(rng)
    for point in parameter_points(rng):
        values = [*point, *data]
        assert_matches(onnx_fn(*values), reference(*values))
