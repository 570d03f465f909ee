"""Fit a small PyMC model, export its logp+dlogp and posterior predictive to ONNX, and run
both in a process that imports only onnxruntime and numpy (examples/pymc_run_onnx_only.py).

    python examples/pymc_export.py

Needs PyMC: pip install "pytensor-onnx[pymc]".
"""

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)  # arviz's refactor notice
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
import pymc as pm  # noqa: E402

from pytensor_onnx.pymc import export_logp_dlogp, export_predictive  # noqa: E402

# A robust regression: y = a + b x + StudentT noise.
rng = np.random.default_rng(0)
x = np.linspace(-2, 2, 80)
y = 1.0 + 2.5 * x + 0.5 * rng.standard_t(4, size=x.size)
with pm.Model() as model:
    x_data = pm.Data("x", x)
    a = pm.Normal("a", 0, 5)
    b = pm.Normal("b", 0, 5)
    sigma = pm.HalfNormal("sigma", 2)
    pm.StudentT("y", nu=4, mu=a + b * x_data, sigma=sigma, observed=y, shape=x_data.shape[0])
    map_point = pm.find_MAP(progressbar=False)

out = Path(tempfile.mkdtemp())
# logp+dlogp with one ravelled input "x" (the transformed point, model.value_vars order).
export_logp_dlogp(model, out / "logp_dlogp.onnx", ravel_inputs=True, verify=True)
# The predictive sampler, with the data "x" as an input: predictions at new x.
export_predictive(model, out / "predictive.onnx", data_names=["x"])

# What the ONNX-only process gets: the MAP in both spaces, new x, and PyMC's reference.
flat = np.concatenate([np.ravel(map_point[v.name]) for v in model.value_vars])
new_x = np.linspace(-3, 3, 7)
params = {rv.name: float(map_point[rv.name]) for rv in model.free_RVs}
value_point = {v.name: map_point[v.name] for v in model.value_vars}
reference = {
    "logp": float(model.compile_logp()(value_point)),
    "dlogp": model.compile_dlogp()(value_point).tolist(),
    "mean_y": (params["a"] + params["b"] * new_x).tolist(),
}
inputs = {"flat_point": flat.tolist(), "params": params, "new_x": new_x.tolist()}
(out / "inputs.json").write_text(json.dumps(inputs))
print(f"MAP: {params}; files in {out}")

script = Path(__file__).with_name("pymc_run_onnx_only.py")
result = subprocess.run(
    [sys.executable, str(script), str(out)], capture_output=True, text=True, check=True
)
print(result.stdout, end="")
got = json.loads((out / "results.json").read_text())

assert abs(got["logp"] - reference["logp"]) <= 1e-8 * abs(reference["logp"])
assert np.allclose(got["dlogp"], reference["dlogp"], rtol=1e-8, atol=1e-8)
# StudentT(nu=4) noise has standard deviation sigma * sqrt(2): the predictive means of
# 4000 draws are within 5 standard errors of a + b x.
se = params["sigma"] * np.sqrt(2.0) / np.sqrt(got["n_draws"])
assert np.all(np.abs(np.array(got["mean_y"]) - reference["mean_y"]) < 5 * se)
print("OK: ONNX logp/dlogp match PyMC, predictive means match a + b x")
