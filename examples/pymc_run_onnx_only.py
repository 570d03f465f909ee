"""Run exported PyMC models with onnxruntime and numpy only: no PyTensor, no PyMC.

    python examples/pymc_run_onnx_only.py DIR

DIR holds logp_dlogp.onnx, predictive.onnx and inputs.json (see examples/pymc_export.py);
results.json is written there.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

directory = Path(sys.argv[1])
inputs = json.loads((directory / "inputs.json").read_text())


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# logp and its gradient at the MAP (transformed space, one ravelled vector "x").
logp_dlogp = session(directory / "logp_dlogp.onnx")
logp, dlogp = logp_dlogp.run(["logp", "dlogp"], {"x": np.array(inputs["flat_point"])})
# find_MAP maximises logp without the Jacobian term: at the MAP, dlogp (with it) is ~0
# except for the Jacobian's own 1 in the sigma_log__ entry.
print(
    f"logp at the MAP: {float(logp):.6f}, dlogp: {np.round(dlogp, 6)} "
    "(~0 but for the log-transform's Jacobian, which find_MAP leaves out)"
)

# Posterior predictive draws at new x: the generator state goes in as "rng" and comes out
# advanced as "rng_next"; any uint64 [key, 0] is a valid starting state.
predictive = session(directory / "predictive.onnx")
feed = {name: np.array(value) for name, value in inputs["params"].items()}
feed["x"] = np.array(inputs["new_x"])
state = np.array([2024, 0], dtype=np.uint64)
n_draws = 4000
draws = []
for _ in range(n_draws):
    y, state = predictive.run(["y", "rng_next"], {**feed, "rng": state})
    draws.append(y)
mean_y = np.mean(draws, axis=0)
print(f"predictive mean of y at x = {inputs['new_x']}: {np.round(mean_y, 3)}")

assert "pytensor" not in sys.modules and "pymc" not in sys.modules
results = {"logp": float(logp), "dlogp": dlogp.tolist(), "mean_y": mean_y.tolist()}
results["n_draws"] = n_draws
(directory / "results.json").write_text(json.dumps(results))
