"""Export the browser demo's models to ``examples/browser/models/`` (or a given folder).

    python examples/browser/export_models.py [OUT_DIR]

* ``mlp.onnx`` (float32): a 2-16-16-3 tanh MLP classifier of 2-D points, trained here in a
  few hundred full-batch gradient steps with PyTensor. Input ``x`` (n, 2), output
  ``probs`` (n, 3): class probabilities (softmax).
* ``schools.onnx`` (float64): the "eight schools" hierarchical normal model, written with
  plain PyTensor ops. ``y_j ~ N(theta_j, sigma_j)``, ``theta_j ~ N(mu, tau)``,
  ``mu ~ N(0, 5)``, ``tau ~ HalfCauchy(5)``; with the ``theta_j`` integrated out,
  ``y_j ~ N(mu, sqrt(tau**2 + sigma_j**2))``. Inputs ``mu`` (a grid, any length) and
  ``tau`` (a scalar); outputs ``logp`` (the log posterior density of (mu, tau) up to a
  constant, on the grid), ``theta_hat`` (8,): the posterior means of ``theta_j`` given
  ``tau`` and the best ``mu`` on the grid (the partial pooling the slider shows).

Both are exported with ``target="web"``: checked to run in onnxruntime-web's wasm backend.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt

from pytensor_onnx import export_onnx

HERE = Path(__file__).resolve().parent
SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def training_points(n_per_class: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three interleaved noisy arcs in [-1, 1]^2, labels 0..2 (float32 points)."""
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for k in range(3):
        t = rng.uniform(0.15, 1.0, n_per_class)
        angle = 2.6 * t + 2 * np.pi * k / 3
        xy = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
        points.append(xy + rng.normal(scale=0.06, size=xy.shape))
        labels.append(np.full(n_per_class, k))
    return np.concatenate(points).astype(np.float32), np.concatenate(labels)


def mlp_classifier(steps: int = 400, seed: int = 0):
    """Train the MLP; return ``(inputs, outputs, training data)`` for export."""
    import pytensor_onnx  # noqa: F401  (registers mode="ONNX")

    rng = np.random.default_rng(seed)
    sizes = [2, 16, 16, 3]
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.normal(scale=1 / np.sqrt(n_in), size=(n_in, n_out)).astype(np.float32)
        params.append(pytensor.shared(w, name=f"W{i}"))
        params.append(pytensor.shared(np.zeros(n_out, np.float32), name=f"b{i}"))

    def forward(x):
        h = x
        for i in range(0, len(params) - 2, 2):
            h = pt.tanh(h @ params[i] + params[i + 1])
        return pt.special.softmax(h @ params[-2] + params[-1], axis=-1)

    points, labels = training_points(seed=seed)
    # The training data as constants: static shapes, so no runtime broadcast checks.
    one_hot = pt.constant(np.eye(3, dtype=np.float32)[labels])
    loss = -pt.mean(pt.sum(one_hot * pt.log(forward(pt.constant(points))), axis=1))
    lr = np.float32(0.5)
    # Trained with the ONNX backend itself: each step is one onnxruntime call.
    train = pytensor.function(
        [],
        loss,
        updates=[(p, p - lr * g) for p, g in zip(params, pt.grad(loss, params))],
        mode="ONNX",
    )
    for _ in range(steps):
        train()
    x = pt.matrix("x", dtype="float32")
    probs = forward(x)
    probs.name = "probs"
    return [x], [probs], (points, labels)


def schools_logp():
    """The eight-schools log posterior on a grid of ``mu`` for one ``tau``."""
    mu = pt.vector("mu", dtype="float64")
    tau = pt.scalar("tau", dtype="float64")
    y, sigma = pt.constant(SCHOOLS_Y), pt.constant(SCHOOLS_SIGMA)

    def normal_logp(value, loc, scale):
        return -0.5 * ((value - loc) / scale) ** 2 - pt.log(scale) - 0.5 * np.log(2 * np.pi)

    scale = pt.sqrt(tau**2 + sigma**2)
    likelihood = normal_logp(y[None, :], mu[:, None], scale[None, :]).sum(axis=1)
    prior = normal_logp(mu, 0.0, 5.0) + np.log(2 / (np.pi * 5)) - pt.log1p((tau / 5) ** 2)
    logp = likelihood + prior
    logp.name = "logp"
    best_mu = mu[pt.argmax(logp)]
    precision = 1 / sigma**2 + 1 / tau**2
    theta_hat = (y / sigma**2 + best_mu / tau**2) / precision
    theta_hat.name = "theta_hat"
    return [mu, tau], [logp, theta_hat]


def export_all(out_dir: Path, target: str | None = "web") -> dict[str, Path]:
    """Export both models into ``out_dir``; return their paths by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    inputs, outputs, (points, labels) = mlp_classifier()
    paths["mlp"] = out_dir / "mlp.onnx"
    export_onnx(
        inputs,
        outputs,
        paths["mlp"],
        model_name="mlp",
        target=target,
        verify=True,
        verify_inputs=[points[:5]],
    )
    # The page draws the training points over the decision regions.
    paths["mlp_points"] = out_dir / "mlp_points.json"
    rows = [[round(float(x), 4), round(float(y), 4), int(k)] for (x, y), k in zip(points, labels)]
    paths["mlp_points"].write_text(json.dumps(rows))
    inputs, outputs = schools_logp()
    paths["schools"] = out_dir / "schools.onnx"
    export_onnx(
        inputs,
        outputs,
        paths["schools"],
        model_name="schools",
        target=target,
        verify=True,
        verify_inputs=[np.linspace(-20, 40, 61), 5.0],
    )
    return paths


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "models"
    for name, path in export_all(out).items():
        print(f"{name}: {path}")
