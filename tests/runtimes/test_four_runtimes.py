"""One exported file, four runtimes: onnxruntime (Python), onnxruntime-node,
onnxruntime-web (wasm, in headless Debian Chromium driven by playwright-core) and
``onnx.reference.ReferenceEvaluator``, all compared with PyTensor's own result.

Also the browser demo (``examples/browser``): the test exports its models, serves the
repository on 127.0.0.1, reads the numbers the page draws (before and after moving its
sliders), compares them with PyTensor and saves a screenshot to
``build/artifacts/browser.png``.

Findings (onnxruntime 1.32 Python, onnxruntime-node 1.30.0, onnxruntime-web 1.30.0 wasm in
Chromium 156; single-op probes of ``kernel_probe.py``, float64/float32/int64/int32/uint8/bool):

* onnxruntime-web's wasm backend has the same kernels as the CPU provider in Python and
  Node. float64 runs for every probed op except Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh,
  Acosh, Atanh, Erf, NonZero, Hardmax, Det and Mean ("Could not find an implementation"),
  which is ``pytensor_onnx.web.WEB_MISSING_FLOAT64``. float64 MatMul, Gemm, Einsum,
  Softmax, LogSoftmax, Softplus, Sigmoid, the Reduce ops, CumSum, TopK, Gather*, Scatter*,
  Range, Where and the other elementwise ops all run. ``test_probe_matches_web_table``
  re-checks this in every run.
* IR versions 9-13 load in Node and web 1.30; IR 14 (onnx 1.23's default) does not.
* Numbers against PyTensor (Python linker), measured on these models: float64 max
  relative error 4.1e-16 (absolute 2.8e-14 on log densities near -60) in onnxruntime
  Python, node and web alike, 3.9e-16 in the reference evaluator; float32 max relative
  2.0e-6 (web), 1.9e-6 (Python, node), on probabilities near 1e-6 (absolute 4.8e-7).

Without node, the npm packages or Chromium these tests skip with the reason; with
PYTENSOR_ONNX_REQUIRE_RUNTIMES=1 (CI) they fail instead. ``.ci/install_browser_deps.sh``
installs everything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytensor
import pytensor.tensor as pt
import pytest
from onnx.reference import ReferenceEvaluator
from pytensor.compile.mode import Mode

from pytensor_onnx import export_onnx
from pytensor_onnx.web import WEB_MISSING_FLOAT64, make_web_model
from tests.runtimes import harness
from tests.runtimes.kernel_probe import combined_probe_model, probe_models, runs_in_onnxruntime

PY_MODE = Mode(linker="py", optimizer=None)
# Measured maxima in the module docstring; these bounds leave room for other inputs.
TOLERANCE = {
    np.dtype("float64"): dict(rtol=1e-12, atol=1e-13),
    np.dtype("float32"): dict(rtol=5e-6, atol=1e-6),
}


def assert_same(got, expected, what: str):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        np.testing.assert_allclose(
            got, expected, equal_nan=True, err_msg=what, **TOLERANCE[expected.dtype]
        )


def load_demo_module():
    path = harness.REPO / "examples" / "browser" / "export_models.py"
    spec = importlib.util.spec_from_file_location("browser_export_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- models -------------------------------------------------------------------------------
def edge_values_model():
    """float64 transcendental ops and int64/bool outputs on 0, negatives, +-inf, NaN."""
    x = pt.vector("x", dtype="float64")
    k = pt.vector("k", dtype="int64")
    smooth = pt.sigmoid(x) + pt.softplus(x) + pt.tanh(x) * pt.cos(x) - pt.sin(x)
    logs = pt.log(pt.abs(x)) + pt.sqrt(pt.abs(x)) + pt.exp(-pt.abs(x))
    special = pt.erf(x) + pt.arctan(x)  # no float64 kernels: lowered by the converters
    outputs = [
        smooth,
        logs,
        special,
        pt.cumsum(k * 3, axis=0),  # int64 beyond 2**53 travels exactly
        pt.isnan(x) | (x > 1),
        pt.argmax(pt.where(pt.isnan(x), -np.inf, x)),
    ]
    values = [
        np.array([0.0, -0.0, -1.5, 2.0, 40.0, -800.0, 800.0, np.inf, -np.inf, np.nan]),
        np.array([2**55 + 1, -7, 0, 3], dtype=np.int64),
    ]
    return [x, k], outputs, [values]


def elementwise_model():
    """float32 with a symbolic length: also run on an empty vector."""
    x = pt.vector("x", dtype="float32")
    y = pt.exp(-x) * 2 + pt.log1p(pt.abs(x))
    return [x], [y], [[np.linspace(-3, 3, 7, dtype=np.float32)], [np.zeros(0, np.float32)]]


def matrix_model():
    """float64 MatMul, softmax and reductions over a batch."""
    x = pt.matrix("x", dtype="float64")
    w = pt.matrix("w", dtype="float64")
    z = x @ w
    outputs = [pt.special.softmax(z, axis=-1), pt.logsumexp(z, axis=0), z.max(axis=1)]
    rng = np.random.default_rng(3)
    return [x, w], outputs, [[rng.normal(size=(5, 4)), rng.normal(size=(4, 3))]]


def demo_models():
    demo = load_demo_module()
    inputs, outputs, (points, _) = demo.mlp_classifier()
    mlp = (inputs, outputs, [[points[:40]]])
    schools = (*demo.schools_logp(), [[np.linspace(-20, 40, 241), 5.0], [np.zeros(3), 0.3]])
    return {"mlp": mlp, "schools": schools}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each model exported with target="web", its cases, and PyTensor's results."""
    out = tmp_path_factory.mktemp("models")
    models = {
        **demo_models(),
        "edge": edge_values_model(),
        "elementwise": elementwise_model(),
        "matrix": matrix_model(),
    }
    table = {}
    for name, (inputs, outputs, cases) in models.items():
        path = out / f"{name}.onnx"
        model = export_onnx(inputs, outputs, path, model_name=name, target="web")
        fn = pytensor.function(inputs, outputs, mode=PY_MODE)
        for i, values in enumerate(cases):
            values = [np.asarray(v, dtype=var.type.dtype) for v, var in zip(values, inputs)]
            table[f"{name}-{i}"] = dict(
                model=model, path=path, values=values, expected=[np.asarray(r) for r in fn(*values)]
            )
    return out, table


def js_cases(table, url_of):
    return [
        harness.case(
            case_id,
            url_of(entry["path"]),
            [i.name for i in entry["model"].graph.input],
            entry["values"],
        )
        for case_id, entry in table.items()
    ]


def probe_table(out: Path):
    """Probe models saved in ``out``: per dtype, the ops expected to run as one model, and
    each float64 op of WEB_MISSING_FLOAT64 alone."""
    probes = {}
    for dtype in ("float64", "float32"):
        singles = probe_models(dtype)
        expected_missing = WEB_MISSING_FLOAT64 if dtype == "float64" else frozenset()
        batch = [p for p in singles if p[0] not in expected_missing]
        model, values = combined_probe_model(batch)
        entries = [("all", model, values, [p[0] for p in batch])]
        entries += [(op, m, v, [op]) for op, m, v in singles if op in expected_missing]
        for name, model, values, ops in entries:
            path = out / f"probe-{name}-{dtype}.onnx"
            onnx.save(model, path)
            probes[f"probe-{name}-{dtype}"] = dict(model=model, path=path, values=values, ops=ops)
    return probes


def web_target_models(out: Path):
    """A float64 model exported with target="web-float32", and a float64 Erf node (as
    another exporter might write it, with no onnxruntime kernel) before and after
    make_web_model(float64="cast-blocked"); saved in ``out``."""
    x = pt.vector("x", dtype="float64")
    y = pt.exp(x) * pt.sigmoid(x) - pt.log1p(pt.abs(x))
    values = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    expected = pytensor.function([x], y, mode=PY_MODE)(values)
    export_onnx([x], y, out / "web-float32.onnx", target="web-float32", output_names=["y"])
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Erf", ["x"], ["y"], name="erf")],
        "erf64",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.DOUBLE, [None])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.DOUBLE, [None])],
    )
    erf64 = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", 18)], ir_version=10
    )
    onnx.save(make_web_model(erf64, float64="cast-blocked"), out / "erf-cast-blocked.onnx")
    onnx.save(erf64, out / "erf-raw.onnx")
    cases = [
        harness.case(name, harness.MODELS_PREFIX + f"{name}.onnx", ["x"], [v])
        for name, v in [
            ("web-float32", values.astype(np.float32)),
            ("erf-cast-blocked", values),
            ("erf-raw", values),
        ]
    ]
    return cases, dict(values=values, expected=expected)


@pytest.fixture(scope="module")
def node_results(exported):
    harness.require_runtimes(browser=False)
    _, table = exported
    return harness.decode_results(harness.run_node(js_cases(table, str))["results"])


@pytest.fixture(scope="module")
def browser(exported, tmp_path_factory):
    """One Chromium session: every model and probe in the runner page, then the demo."""
    harness.require_runtimes(browser=True)
    out, table = exported
    probes = probe_table(out)
    load_demo_module().export_all(out / "demo")
    harness.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = harness.ARTIFACTS / "browser.png"
    screenshot.unlink(missing_ok=True)

    def url_of(path):
        return harness.MODELS_PREFIX + Path(path).name

    demo_page = f"{harness.DEMO_PATH}?models={harness.MODELS_PREFIX}demo/"
    target_cases, web_targets = web_target_models(out)
    with harness.serve(out) as url:
        result = harness.run_browser(
            url,
            runner_cases=js_cases(table, url_of) + js_cases(probes, url_of) + target_cases,
            demo={
                "path": demo_page,
                "slider": "#tau",
                "values": ["0.3", "17.5"],
                "screenshot": str(screenshot),
            },
        )
    return dict(
        runner=harness.decode_results(result["runner"]["results"]),
        version=result["runner"]["version"],
        demo=result["demo"],
        console=result["console"],
        probes=probes,
        screenshot=screenshot,
        web_targets=web_targets,
    )


# -- tests --------------------------------------------------------------------------------
def test_exported_files_pin_ir_10_and_have_no_web_blockers(exported):
    _, table = exported
    for entry in table.values():
        loaded = onnx.load(entry["path"])
        assert loaded.ir_version == 10
        assert loaded.opset_import[0].version == 18
        make_web_model(loaded)  # raises if onnxruntime-web could not run it


def test_onnxruntime_python_and_reference_evaluator(exported):
    import onnxruntime as ort

    _, table = exported
    for case_id, entry in table.items():
        data = entry["model"].SerializeToString()
        feeds = {i.name: v for i, v in zip(entry["model"].graph.input, entry["values"])}
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        with np.errstate(all="ignore"):  # NumPy warns on the edge values inf and NaN
            reference = ReferenceEvaluator(entry["model"]).run(None, feeds)
        for runtime, got in [("onnxruntime", session.run(None, feeds)), ("reference", reference)]:
            for i, (g, e) in enumerate(zip(got, entry["expected"])):
                assert_same(g, e, f"{case_id} output {i} in {runtime}")


def test_onnxruntime_node(exported, node_results):
    _, table = exported
    for case_id, entry in table.items():
        got = node_results[case_id]
        assert not isinstance(got, str), f"{case_id} failed in onnxruntime-node: {got}"
        names = [o.name for o in entry["model"].graph.output]
        for name, e in zip(names, entry["expected"]):
            assert_same(got[name], e, f"{case_id} {name} in onnxruntime-node")


def test_onnxruntime_web(exported, browser):
    _, table = exported
    assert browser["version"]["web"] == "1.30.0"
    for case_id, entry in table.items():
        got = browser["runner"][case_id]
        assert not isinstance(got, str), f"{case_id} failed in onnxruntime-web: {got}"
        names = [o.name for o in entry["model"].graph.output]
        for name, e in zip(names, entry["expected"]):
            assert_same(got[name], e, f"{case_id} {name} in onnxruntime-web")


def test_probe_matches_web_table(browser):
    """float64 fails in the browser exactly for WEB_MISSING_FLOAT64; float32 always runs."""
    probes = browser["probes"]
    assert len(probes["probe-all-float64"]["ops"]) > 60
    for case_id, entry in probes.items():
        web = browser["runner"][case_id]
        python = runs_in_onnxruntime(entry["model"], entry["values"])
        if case_id.startswith("probe-all-"):
            assert not isinstance(web, str), f"onnxruntime-web: {web}"
            assert python is None, f"onnxruntime (Python): {python}"
        else:
            op = entry["ops"][0]
            assert f"Could not find an implementation for {op}" in web, web
            assert f"Could not find an implementation for {op}" in python, python


def test_demo_page_draws_pytensors_numbers(browser):
    demo = browser["demo"]
    assert demo["error"] is None, demo["error"]
    assert not [m for m in browser["console"] if m.startswith(("error", "pageerror", "http"))], (
        browser["console"]
    )
    module = load_demo_module()
    mlp_in, mlp_out, _ = module.mlp_classifier()
    mlp = pytensor.function(mlp_in, mlp_out[0], mode=PY_MODE)
    schools_in, schools_out = module.schools_logp()
    schools = pytensor.function(schools_in, schools_out, mode=PY_MODE)

    states = demo["states"]
    assert [s["slider"] for s in states] == [None, "0.3", "17.5"]
    for s in states:
        state = s["state"]
        point = np.asarray([state["mlp"]["point"]], dtype=np.float32)
        assert_same(np.float32(state["mlp"]["probs"]), mlp(point)[0], "demo MLP probabilities")
        grid_probs = np.float32(state["mlp"]["gridProbs"]).reshape(-1, 3)
        assert grid_probs.shape == (64 * 64, 3)
        np.testing.assert_allclose(grid_probs.sum(axis=1), 1, rtol=1e-6)
        sch = state["schools"]
        assert sch["tau"] == float(s["slider"] or 5)
        logp, theta_hat = schools(np.asarray(sch["mu"]), np.float64(sch["tau"]))
        assert_same(np.asarray(sch["logp"]), logp, f"demo logp at tau={sch['tau']}")
        assert_same(np.asarray(sch["thetaHat"]), theta_hat, f"demo theta_hat at tau={sch['tau']}")
    # Small tau pools every school towards mu; large tau leaves them near their data.
    spread = [np.ptp(s["state"]["schools"]["thetaHat"]) for s in states]
    assert spread[1] < spread[0] < spread[2]
    # What the page shows as text is the same numbers rounded.
    last = states[-1]["state"]
    labels = demo["labels"]
    assert f"p(class 0) = {last['mlp']['probs'][0]:.4f}" in labels
    assert "τ = 17.5" in labels
    best = int(np.argmax(last["schools"]["logp"]))
    assert any(f"best μ = {last['schools']['mu'][best]:.2f}" in t for t in labels)


def test_screenshot_saved(browser):
    data = browser["screenshot"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000  # a drawn page, not a blank one


def test_web_float32_and_cast_blocked_models_run_in_the_browser(browser):
    """Models made by target="web-float32" or float64="cast-blocked" run in onnxruntime-web."""
    values = browser["web_targets"]["values"]
    runner = browser["runner"]
    # float32 rounding of exp/sigmoid/log1p: measured max relative error 1.4e-7.
    assert runner["web-float32"]["y"].dtype == np.float32
    np.testing.assert_allclose(
        runner["web-float32"]["y"], browser["web_targets"]["expected"], rtol=1e-6
    )
    from scipy.special import erf

    # Erf computed in float32 between float64 inputs and outputs: measured max abs error
    # 2.3e-8 against float64 erf.
    assert runner["erf-cast-blocked"]["y"].dtype == np.float64
    np.testing.assert_allclose(runner["erf-cast-blocked"]["y"], erf(values), atol=1e-6)
    assert "Could not find an implementation for Erf" in runner["erf-raw"]
