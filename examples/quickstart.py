"""Export a small PyTensor model to ONNX, run it in onnxruntime, compare with PyTensor.

    python examples/quickstart.py
"""

import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt

import pytensor_onnx

# A Normal log-density with a symbolic batch size, in float64 as PyMC uses it.
x = pt.vector("x", dtype="float64")
mu = pt.scalar("mu", dtype="float64")
sigma = pt.scalar("sigma", dtype="float64")
logp = -0.5 * ((x - mu) / sigma) ** 2 - pt.log(sigma) - 0.5 * np.log(2 * np.pi)

path = Path(tempfile.mkdtemp()) / "normal_logp.onnx"
model = pytensor_onnx.export_onnx([x, mu, sigma], logp, path, output_names=["logp"])
print(f"exported {path} ({len(model.graph.node)} ONNX nodes, opset {model.opset_import[0].version})")

# Run the file in a plain onnxruntime session: no PyTensor needed on that side.
session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
values = {"x": np.linspace(-3, 3, 7), "mu": np.array(0.5), "sigma": np.array(1.5)}
(onnx_logp,) = session.run(["logp"], values)

reference = pytensor.function([x, mu, sigma], logp)
pytensor_logp = reference(values["x"], values["mu"], values["sigma"])
max_error = np.max(np.abs(onnx_logp - pytensor_logp))
print("onnxruntime:", np.round(onnx_logp, 6))
print("pytensor:   ", np.round(pytensor_logp, 6))
print(f"max abs difference: {max_error:.2e}")

# The same graph as a PyTensor function that runs through ONNX Runtime.
onnx_fn = pytensor.function([x, mu, sigma], logp, mode="ONNX")
assert np.allclose(onnx_fn(values["x"], values["mu"], values["sigma"]), pytensor_logp)
print("OK" if max_error < 1e-12 else "MISMATCH")
