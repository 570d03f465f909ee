"""``pytensor_onnx.web`` (``export_onnx(target="web")``), checked in Python's onnxruntime.

The browser side (the same models in onnxruntime-web) is in test_four_runtimes.py; the
kernel table WEB_MISSING_FLOAT64 is re-measured there against the browser.
"""

from __future__ import annotations

import doctest

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from pytensor.compile.mode import Mode

import pytensor_onnx.web as web
from pytensor_onnx import export_function_onnx, export_onnx
from pytensor_onnx.web import (
    WEB_MISSING_FLOAT64,
    WebIncompatibleError,
    find_web_blockers,
    make_web_model,
)
from tests.runtimes import harness
from tests.runtimes.kernel_probe import probe_models, runs_in_onnxruntime

PY_MODE = Mode(linker="py", optimizer=None)
FLOAT64_PROBES = {op: (model, values) for op, model, values in probe_models("float64")}
FLOAT32_PROBES = {op: (model, values) for op, model, values in probe_models("float32")}


def run(model, *values):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, values)))


def elem_types(model):
    """Element types of every graph input, output and initializer, subgraphs included."""
    found = set()

    def walk(graph):
        found.update(i.type.tensor_type.elem_type for i in [*graph.input, *graph.output])
        found.update(i.data_type for i in graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                if attr.type == onnx.AttributeProto.TENSOR:
                    found.add(attr.t.data_type)

    walk(model.graph)
    return found


def test_docstring_examples_run():
    result = doctest.testmod(web, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("op", sorted(WEB_MISSING_FLOAT64))
def test_blocking_ops_are_found_and_named(op):
    model, _ = FLOAT64_PROBES[op]
    assert [(b.op_type, b.dtype, b.node_name) for b in find_web_blockers(model)] == [
        (op, "float64", op)
    ]
    with pytest.raises(WebIncompatibleError, match=f"{op} on float64 \\(node '{op}'") as err:
        make_web_model(model)
    assert [b.op_type for b in err.value.blockers] == [op]
    assert "float64='cast-blocked'" in str(err.value)
    # In float32 the same op runs: not a blocker.
    assert find_web_blockers(FLOAT32_PROBES[op][0]) == []


@pytest.mark.parametrize("op", sorted(WEB_MISSING_FLOAT64))
def test_cast_blocked_computes_just_that_op_in_float32(op):
    model, values = FLOAT64_PROBES[op]
    assert runs_in_onnxruntime(model, values) is not None  # no float64 kernel
    fixed = make_web_model(model, float64="cast-blocked")
    onnx.checker.check_model(fixed, full_check=True)
    assert [n.op_type for n in fixed.graph.node].count("Cast") >= 1
    assert fixed.graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    got = run(fixed, *values)
    expected = run(FLOAT32_PROBES[op][0], *[v.astype(np.float32) for v in values])
    for g, e in zip(got, expected):
        if e.dtype == np.float32:
            assert g.dtype == np.float64  # cast back: the interface keeps float64
        np.testing.assert_array_equal(g, e.astype(g.dtype))
    assert find_web_blockers(fixed) == []


def test_cast_blocked_leaves_other_ops_in_float64():
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None])
    nodes = [
        helper.make_node("Exp", ["x"], ["e"], name="exp"),
        helper.make_node("Erf", ["e"], ["f"], name="erf"),
        helper.make_node("Add", ["f", "x"], ["y"], name="add"),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 18)],
        ir_version=10,
    )
    fixed = make_web_model(model, float64="cast-blocked")
    assert [n.op_type for n in fixed.graph.node] == ["Exp", "Cast", "Erf", "Cast", "Add"]
    values = np.array([-30.0, -1.0, 0.0, 1e-9])
    from scipy.special import erf

    # Only Erf runs in float32: the sum keeps x's float64 digits (1e-9 survives).
    got = run(fixed, values)[0]
    np.testing.assert_allclose(got, erf(np.exp(values)) + values, rtol=0, atol=1e-7)
    assert got[-1] - np.float32(erf(np.exp(1e-9))) == pytest.approx(1e-9, rel=1e-3)


def if_model_with_float64_branches():
    """An If whose branches hold float64 constants and an Erf: subgraphs are handled too."""
    then_graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["c"],
                value=helper.make_tensor("c", TensorProto.DOUBLE, [], [2.5]),
            ),
            helper.make_node("Erf", ["x"], ["ex"], name="erf_in_then"),
            helper.make_node("Mul", ["ex", "c"], ["t"]),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.DOUBLE, [None])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["n"])],
        "else",
        [],
        [helper.make_tensor_value_info("n", TensorProto.DOUBLE, [None])],
    )
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
            helper.make_node("Greater", ["s", "zero"], ["cond"]),
            helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph),
        ],
        "main",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [None])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None])],
        initializer=[onnx.numpy_helper.from_array(np.float64(0.0), "zero")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def test_blockers_and_fixes_inside_subgraphs():
    from scipy.special import erf

    model = if_model_with_float64_branches()
    [blocker] = find_web_blockers(model)
    assert (blocker.op_type, blocker.node_name, blocker.graph) == ("Erf", "erf_in_then", "then")
    values = np.array([0.5, 1.0, -0.25])
    for mode in ("cast-blocked", "float32"):
        fixed = make_web_model(model, float64=mode)
        feed = values.astype(np.float32) if mode == "float32" else values
        got = run(fixed, feed)[0]
        np.testing.assert_allclose(got, 2.5 * erf(values), rtol=1e-6)
        np.testing.assert_allclose(run(fixed, -feed)[0], values, rtol=1e-6)
    assert TensorProto.DOUBLE not in elem_types(make_web_model(model, float64="float32"))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float32_target_converts_inputs_outputs_constants_and_casts():
    n = pt.scalar("n", dtype="int64")
    x = pt.vector("x", dtype="float64")
    w = pytensor.shared(np.array([1e-3, 2.0, 1e300]), name="w")  # 1e300: beyond float32
    zeros = pt.zeros((n,), dtype="float64")  # ConstantOfShape with a float64 value
    y = pt.cast(n, "float64") * x + zeros + pt.minimum(w[0], 1e300) + pt.exp(x) / w[1]
    model = export_onnx([n, x], y, target="web-float32", output_names=["y"])
    assert TensorProto.DOUBLE not in elem_types(model)
    assert model.graph.input[1].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    values = [np.array(3, dtype=np.int64), np.array([0.5, -1.0, 2.0])]
    expected = pytensor.function([n, x], y, mode=PY_MODE)(*values)
    got = run(model, values[0], values[1].astype(np.float32))[0]
    assert got.dtype == np.float32
    # float32 rounding of exp and the products: measured max relative error 6e-8.
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # 1e300 became float32's largest finite value, not inf.
    consts = [onnx.numpy_helper.to_array(i) for i in model.graph.initializer]
    assert all(np.isfinite(c).all() for c in consts if c.dtype == np.float32)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 4), st.integers(1, 5)),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_float32_target_softmax_logsumexp_property(shape, scale, seed):
    values = np.random.default_rng(seed).normal(scale=scale, size=shape)
    got = run(SOFTMAX_F32, values.astype(np.float32))
    expected = SOFTMAX_PY(values)
    for g, e in zip(got, expected):
        assert g.dtype == np.float32 and g.shape == e.shape
        # float32 rounding, measured over 300 random draws: max absolute error 2e-7
        # (softmax) and 3e-6 (logsumexp); relative up to 6e-6 on tiny probabilities.
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


_z = pt.matrix("z", dtype="float64")
SOFTMAX_F32 = export_onnx(
    [_z], [pt.special.softmax(_z, axis=-1), pt.logsumexp(_z, axis=-1)], target="web-float32"
)
SOFTMAX_PY = pytensor.function(
    [_z], [pt.special.softmax(_z, axis=-1), pt.logsumexp(_z, axis=-1)], mode=PY_MODE
)


def test_web_target_keeps_a_runnable_model_unchanged(tmp_path):
    x = pt.vector("x", dtype="float64")
    y = pt.erf(x) + pt.tan(x)  # lowered by the converters: no float64 Erf/Tan nodes
    plain = export_onnx([x], y)
    model = export_onnx([x], y, tmp_path / "m.onnx", target="web", verify=True)
    assert model == plain
    assert onnx.load(tmp_path / "m.onnx").ir_version == 10
    assert find_web_blockers(model) == []


def test_export_function_onnx_takes_the_target():
    x = pt.vector("x", dtype="float64")
    fn = pytensor.function([x], pt.sqrt(x) * 2)
    model = export_function_onnx(fn, target="web-float32", verify=True)
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    np.testing.assert_allclose(run(model, np.float32([4.0]))[0], [4.0])


def test_bad_target_fails_before_any_work(tmp_path):
    x = pt.vector("x")
    with pytest.raises(ValueError, match="target must be one of None, 'web', 'web-float32'"):
        export_onnx([x], x + 1, tmp_path / "m.onnx", target="webgpu")
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(ValueError, match="float64 must be one of"):
        make_web_model(export_onnx([x], x + 1), float64="half")


def test_ir_version_above_web_limit_is_refused():
    model, _ = FLOAT32_PROBES["Abs"]
    newer = onnx.ModelProto()
    newer.CopyFrom(model)
    newer.ir_version = web.WEB_MAX_IR_VERSION + 1
    with pytest.raises(
        WebIncompatibleError, match="IR versions up to 13; this model has IR version 14"
    ):
        make_web_model(newer)
    assert make_web_model(model).ir_version == 10


def test_make_web_model_does_not_modify_its_argument():
    model, _ = FLOAT64_PROBES["Erf"]
    before = model.SerializeToString()
    make_web_model(model, float64="cast-blocked")
    make_web_model(model, float64="float32")
    assert model.SerializeToString() == before


# -- the runtime tests' skip/fail switch ----------------------------------------------------
def test_missing_runtimes_skip_or_fail(monkeypatch):
    monkeypatch.setattr(harness, "missing_runtimes", lambda browser: "node is not installed")
    monkeypatch.delenv(harness.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="node is not installed; .ci/install"):
        harness.require_runtimes(browser=False)
    monkeypatch.setenv(harness.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="PYTENSOR_ONNX_REQUIRE_RUNTIMES=1 but node"):
        harness.require_runtimes(browser=True)


def test_missing_runtimes_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "NODE_MODULES", tmp_path)
    assert "onnxruntime-node" in harness.missing_runtimes(browser=False)
    for package in ("onnxruntime-node", "onnxruntime-web", "playwright-core"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "package.json").write_text("{}")
    monkeypatch.setattr(harness, "CHROMIUM", tmp_path / "no-chromium")
    if harness.shutil.which("node"):
        assert harness.missing_runtimes(browser=False) is None
        assert "no-chromium is missing" in harness.missing_runtimes(browser=True)


def test_tensor_encoding_round_trips_exactly():
    for value in [
        np.array([np.nan, -np.inf, np.inf, -0.0, 5e-324]),
        np.array([[2**62 + 1, -(2**63)]], dtype=np.int64),
        np.array(True),
        np.float64(2.5),
        np.zeros((0, 3), np.float32),
        np.arange(6, dtype=np.float32).reshape(2, 3).T,  # not C-contiguous
    ]:
        encoded = harness.encode(value)
        back = harness.decode(encoded).reshape(encoded["dims"])
        assert back.dtype == np.asarray(value).dtype and back.shape == np.shape(value)
        assert back.tobytes() == np.ascontiguousarray(value).tobytes()
