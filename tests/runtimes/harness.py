"""Run exported ONNX files in onnxruntime-node and in onnxruntime-web (headless Chromium).

Python talks to ``run_node.mjs`` and ``browser_driver.mjs`` through JSON files; tensors
travel as ``{"dtype", "dims", "b64"}`` (raw little-endian bytes in base64, see
``tensor_json.mjs``), which is exact for NaN, infinities, -0.0 and int64.

When node, the npm packages or Chromium are missing, :func:`require_runtimes` skips the
calling test with the reason, unless ``PYTENSOR_ONNX_REQUIRE_RUNTIMES=1`` (set in CI) makes
that a failure. ``.ci/install_browser_deps.sh`` installs them.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NODE_MODULES = REPO / "node_modules"
CHROMIUM = Path(os.environ.get("PYTENSOR_ONNX_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_ENV = "PYTENSOR_ONNX_REQUIRE_RUNTIMES"
RUNNER_PATH = "/tests/runtimes/runner.html"
DEMO_PATH = "/examples/browser/index.html"
# URL prefix under which the test server serves a directory of freshly exported models.
MODELS_PREFIX = "/__models__/"
ARTIFACTS = REPO / "build" / "artifacts"


def missing_runtimes(browser: bool) -> str | None:
    """Why the node (and, if ``browser``, the Chromium) runtime cannot run, or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    packages = ["onnxruntime-node"] + (["onnxruntime-web", "playwright-core"] if browser else [])
    absent = [p for p in packages if not (NODE_MODULES / p / "package.json").is_file()]
    if absent:
        return f"npm packages missing in {NODE_MODULES}: {', '.join(absent)} (run npm ci)"
    if browser and not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def require_runtimes(browser: bool) -> None:
    """Skip (or, with PYTENSOR_ONNX_REQUIRE_RUNTIMES=1, fail) if the runtimes are missing."""
    reason = missing_runtimes(browser)
    if reason is None:
        return
    reason += "; .ci/install_browser_deps.sh installs everything"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


# -- tensors ----------------------------------------------------------------------------
def encode(value) -> dict:
    array = np.asarray(value)
    if not array.flags.c_contiguous:  # not np.ascontiguousarray: it makes 0-d arrays 1-d
        array = array.copy(order="C")
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return {
        "dtype": str(array.dtype),
        "dims": list(array.shape),
        "b64": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode(tensor: dict) -> np.ndarray:
    dtype = np.dtype(tensor["dtype"]).newbyteorder("<")
    data = base64.b64decode(tensor["b64"])
    return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))


def decode_results(results: list[dict]) -> dict[str, list[np.ndarray] | str]:
    """Map case id to its outputs (in the model's output order) or to its error message."""
    decoded = {}
    for r in results:
        if "error" in r:
            decoded[r["id"]] = r["error"]
        else:
            decoded[r["id"]] = {
                name: decode(t).reshape(t["dims"]) for name, t in r["outputs"].items()
            }
    return decoded


def case(case_id: str, model: str, input_names, values) -> dict:
    return {
        "id": case_id,
        "model": model,
        "inputs": {n: encode(v) for n, v in zip(input_names, values)},
    }


# -- processes --------------------------------------------------------------------------
def _run_script(script: str, job: dict, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="pytensor-onnx-js-") as tmp:
        job_path, result_path = Path(tmp, "job.json"), Path(tmp, "result.json")
        job_path.write_text(json.dumps(job))
        proc = subprocess.run(
            ["node", str(HERE / script), str(job_path), str(result_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        )
        if not result_path.is_file():
            raise RuntimeError(
                f"{script} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        result = json.loads(result_path.read_text())
    if proc.returncode != 0 or result.get("error"):
        raise RuntimeError(f"{script} failed (exit {proc.returncode}):\n{result.get('error')}")
    return result


def run_node(cases: list[dict], timeout: float = 120) -> dict:
    """Run ``cases`` (models as file paths) in onnxruntime-node."""
    return _run_script("run_node.mjs", {"cases": cases}, timeout)


def run_browser(base_url: str, *, runner_cases=None, demo=None, timeout: float = 120) -> dict:
    """One headless Chromium session: the runner page's cases, then the demo page."""
    with tempfile.TemporaryDirectory(prefix="pytensor-onnx-chromium-") as profile:
        job = {
            "baseUrl": base_url,
            "userDataDir": profile,
            "executablePath": str(CHROMIUM),
            "timeoutMs": int(timeout * 1000 / 2),
        }
        if runner_cases is not None:
            job["runner"] = {"path": RUNNER_PATH, "cases": runner_cases}
        if demo is not None:
            job["demo"] = demo
        return _run_script("browser_driver.mjs", job, timeout)


# -- local web server -------------------------------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    models_dir: Path  # set per server
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def translate_path(self, path):
        url_path = path.split("?", 1)[0].split("#", 1)[0]
        if url_path.startswith(MODELS_PREFIX):
            root = self.models_dir.resolve()
            path = (root / urllib.parse.unquote(url_path[len(MODELS_PREFIX) :])).resolve()
            return str(path if path.is_relative_to(root) else root / "__outside__")
        return super().translate_path(path)

    def log_message(self, format, *args):  # keep pytest's output clean
        pass


@contextlib.contextmanager
def serve(models_dir: Path):
    """Serve the repository (read-only) and ``models_dir`` at MODELS_PREFIX on 127.0.0.1."""
    handler = type(
        "Handler",
        (_Handler,),
        {
            "models_dir": Path(models_dir),
            "__init__": functools.partialmethod(_Handler.__init__, directory=str(REPO)),
        },
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
