"""export_onnx, export_function_onnx and compile_onnx."""

import logging
import os
import stat
import warnings

import numpy as np
import onnx
import onnxruntime
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from pytensor_onnx import (
    ONNXVerificationError,
    compile_onnx,
    export_function_onnx,
    export_onnx,
)
from tests.custom_ops import UnaryTestOp
from tests.test_basic import assert_same, py_mode
from tests.test_dispatch_basic import registered_converter


def run_model(model_or_path, feed: dict) -> list:
    """Check ``model`` fully and run it in a plain onnxruntime session."""
    model = model_or_path
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(model_or_path)
    onnx.checker.check_model(model, full_check=True)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    assert sorted(i.name for i in session.get_inputs()) == sorted(feed)
    return session.run(None, feed)


def py_results(inputs, outputs, values) -> list:
    fn = pytensor.function(inputs, outputs, mode=py_mode, on_unused_input="ignore")
    results = fn(*values)
    return results if isinstance(results, list) else [results]


def assert_model_matches_pytensor(model, inputs, outputs, values):
    feed = {i.name: v for i, v in zip(model.graph.input, values, strict=True)}
    for got, expected in zip(
        run_model(model, feed), py_results(inputs, outputs, values), strict=True
    ):
        assert_same(got, expected)


def names(value_infos) -> list[str]:
    return [v.name for v in value_infos]


class Twice(UnaryTestOp):
    """2 * x, with a deliberately wrong converter (for the verification tests)."""

    @staticmethod
    def compute(x):
        return x * np.asarray(2, dtype=x.dtype)


def onnx_funcify_Twice(op, node, builder, inputs, **kwargs):
    # Deliberately wrong, for the verification tests: 3 * x for floats, 2 * x + 1 for
    # integers (which only an exact comparison notices on large values).
    dtype = node.inputs[0].dtype
    if dtype.startswith("int"):
        doubled = builder.add_node("Mul", [inputs[0], builder.constant(np.asarray(2, dtype))])
        return builder.add_node("Add", [doubled, builder.constant(np.asarray(1, dtype))])
    return builder.add_node("Mul", [inputs[0], builder.constant(np.asarray(3, dtype))])


class KeepNaN(UnaryTestOp):
    """Identity, with a wrong converter that replaces NaN by 0."""


def onnx_funcify_KeepNaN(op, node, builder, inputs, **kwargs):
    zero = builder.constant(np.asarray(0, dtype=node.inputs[0].dtype))
    return builder.add_node("Where", [builder.add_node("IsNaN", inputs), zero, inputs[0]])


@pytest.fixture(scope="module", autouse=True)
def registered_test_converters():
    """The converters of this module's test ops, registered while its tests run."""
    with (
        registered_converter(Twice, onnx_funcify_Twice),
        registered_converter(KeepNaN, onnx_funcify_KeepNaN),
        registered_converter(AddNothing, onnx_funcify_AddNothing),
    ):
        yield


# -- the basics ------------------------------------------------------------------------
def test_export_onnx_writes_a_valid_file(tmp_path):
    x = pt.vector("x", dtype="float32")
    y = pt.matrix("y", dtype="float32")
    outputs = [pt.exp(x) + y, (x * y).T]
    path = tmp_path / "model.onnx"
    model = export_onnx([x, y], outputs, path, model_name="my_model", doc_string="Docs.")
    assert path.exists()
    loaded = onnx.load(path)
    assert loaded == model
    assert model.graph.name == "my_model"
    assert model.doc_string == "Docs."
    assert model.producer_name == "pytensor-onnx"
    x_val = np.array([0.0, 1.0, -1.0], dtype="float32")
    y_val = np.arange(6, dtype="float32").reshape(2, 3)
    assert_model_matches_pytensor(loaded, [x, y], outputs, [x_val, y_val])


def test_export_onnx_accepts_str_path_and_no_path(tmp_path):
    x = pt.vector("x")
    model = export_onnx([x], x + 1)
    assert isinstance(model, onnx.ModelProto)
    assert list(tmp_path.iterdir()) == []
    export_onnx([x], x + 1, str(tmp_path / "m.onnx"))
    assert onnx.load(str(tmp_path / "m.onnx")) == model


def test_compile_onnx():
    x = pt.vector("x")
    fn = compile_onnx([x], [pt.exp(x) * 2, x - 1], intra_op_num_threads=1)
    x_val = np.array([0.5, -1.0, 2.0])
    for got, expected in zip(fn(x_val), py_results([x], [pt.exp(x) * 2, x - 1], [x_val])):
        assert_same(got, expected)
    assert fn.maker.linker.intra_op_num_threads == 1
    onnx.checker.check_model(fn.maker.linker.onnx_model, full_check=True)


def test_compile_onnx_passes_function_kwargs():
    x = pt.vector("x", dtype="float32")
    s = pytensor.shared(np.float32(1.0), name="s")
    fn = compile_onnx([x], x + s, updates={s: s + 1}, allow_input_downcast=True)
    assert_same(fn(np.array([1.0, 2.0])), np.array([2.0, 3.0], dtype="float32"))
    assert s.get_value() == 2.0


def test_export_function_onnx():
    x = pt.vector("x")
    fn = pytensor.function([x], pt.sqrt(x))
    model = export_function_onnx(fn)
    x_val = np.array([0.0, 4.0, 2.0])
    (result,) = run_model(model, {"x": x_val})
    assert_same(result, fn(x_val))


def test_export_function_onnx_of_onnx_function(tmp_path):
    x = pt.vector("x")
    fn = pytensor.function([x], [pt.exp(x), x * 3], mode="ONNX")
    path = tmp_path / "f.onnx"
    model = export_function_onnx(fn, path, verify=True)
    assert onnx.load(path) == model
    x_val = np.array([1.0, 2.0])
    for got, expected in zip(run_model(model, {"x": x_val}), fn(x_val), strict=True):
        assert_same(got, expected)


# -- names -----------------------------------------------------------------------------
def test_input_and_output_names():
    x, y = pt.vector("x"), pt.vector("y")
    model = export_onnx(
        [x, y], [x + y, x * y], input_names=["a", "b"], output_names=["sum", "product"]
    )
    assert names(model.graph.input) == ["a", "b"]
    assert names(model.graph.output) == ["sum", "product"]
    x_val, y_val = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    assert_model_matches_pytensor(model, [x, y], [x + y, x * y], [x_val, y_val])


def test_default_names():
    x = pt.vector("x")
    unnamed = pt.vector()
    named_out = pt.exp(x)
    named_out.name = "exp_x"
    clashing = x + 1
    clashing.name = "x"  # the name of an input
    model = export_onnx([x, unnamed], [named_out, clashing, x * unnamed])
    assert names(model.graph.input) == ["x", "input_1"]
    assert names(model.graph.output) == ["exp_x", "output_1", "output_2"]
    onnx.checker.check_model(model, full_check=True)


@pytest.mark.parametrize("rewrite", [True, False])
def test_default_output_names_survive_rewriting(rewrite):
    # Rewriting replaces exp(x) + 0 by exp(x) and x * 1 by x, which lack the names.
    x = pt.vector("x")
    foo, bar = pt.exp(x) + 0, x * 1
    foo.name, bar.name = "foo", "bar"
    model = export_onnx([x], [foo, bar], rewrite=rewrite)
    assert names(model.graph.output) == ["foo", "bar"]
    assert names(model.graph.input) == ["x"]
    fn = pytensor.function([x], [foo, bar])
    assert names(export_function_onnx(fn).graph.output) == ["foo", "bar"]
    assert_model_matches_pytensor(model, [x], [foo, bar], [np.array([0.5, 2.0])])


def test_default_names_of_same_named_variables():
    a, b = pt.vector("v"), pt.vector("v")
    out1, out2 = a + b, a - b
    out1.name = out2.name = "r"
    model = export_onnx([a, b], [out1, out2])
    assert len(set(names(model.graph.input))) == 2
    assert len(set(names(model.graph.output))) == 2
    values = [np.array([1.0, 2.0]), np.array([0.5, 0.25])]
    assert_model_matches_pytensor(model, [a, b], [out1, out2], values)


def test_output_names_equal_to_internal_names_are_fine():
    # User names are claimed before any node is converted, so converters' values get
    # other names.
    x = pt.vector("x")
    out = pt.exp(x) + 1
    model = export_onnx([x], out, input_names=["add"], output_names=["exp"])
    (result,) = run_model(model, {"add": np.array([0.0, 1.0])})
    assert_same(result, np.exp([0.0, 1.0]) + 1)


@pytest.mark.parametrize(
    "input_names, output_names, match",
    [
        (["a"], None, "1 input names for 2 inputs"),
        (["a", "b", "c"], None, "3 input names"),
        (["a", "a"], None, "'a'"),
        (None, ["o", "p"], "2 output names for 1 output"),
        (["a", "b"], ["a"], "'a'"),
        (None, ["x"], "'x'"),  # the default name of an input
        (["a", ""], None, "non-empty"),
        (None, [3], "non-empty strings"),
    ],
)
def test_bad_names(input_names, output_names, match, tmp_path):
    x, y = pt.vector("x"), pt.vector("y")
    with pytest.raises(ValueError, match=match):
        export_onnx(
            [x, y], x + y, tmp_path / "m.onnx", input_names=input_names, output_names=output_names
        )
    assert list(tmp_path.iterdir()) == []


# -- verification ----------------------------------------------------------------------
def test_verify_passes_on_a_correct_model(tmp_path):
    x = pt.vector("x", dtype="float32")
    n = pt.vector("n", dtype="int64")
    outputs = [pt.exp(x) + 1, n * 3, x > 0]
    model = export_onnx([x, n], outputs, tmp_path / "m.onnx", verify=True)
    assert (tmp_path / "m.onnx").exists()
    model2 = export_onnx([x, n], outputs, verify=True, verify_inputs=[[0.5, 1.5], np.array([2, 3])])
    assert model2 == model


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_verify_fails_on_a_wrong_converter(tmp_path, dtype):
    x = pt.vector("x", dtype=dtype)
    path = tmp_path / "wrong.onnx"
    with pytest.raises(ONNXVerificationError) as excinfo:
        export_onnx([x], Twice()(x) + 1, path, verify=True)
    message = str(excinfo.value)
    assert "max abs error" in message
    assert "max rel error" in message
    assert "output_0" in message
    assert isinstance(excinfo.value, AssertionError)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_verify_compares_integers_exactly():
    # Twice's converter is off by one: a relative tolerance would accept that for large
    # integers, and so would any comparison in float64 beyond 2**53.
    n = pt.vector("n", dtype="int64")
    with pytest.raises(ONNXVerificationError, match="2 of 2 elements differ, max abs error 1,"):
        export_onnx([n], Twice()(n), verify=True, verify_inputs=[np.array([10**7, 2**60])])


def test_verify_reports_nan_mismatches():
    # An expected NaN against a finite value is a mismatch, reported without warnings.
    x = pt.vector("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ONNXVerificationError, match="1 of 2 elements differ, max abs error nan"
        ):
            export_onnx([x], KeepNaN()(x), verify=True, verify_inputs=[[np.nan, 1.0]])


def test_verify_inputs_count(tmp_path):
    x = pt.vector("x")
    with pytest.raises(ValueError, match="verify_inputs"):
        export_onnx([x], x + 1, verify=True, verify_inputs=[np.ones(2), np.ones(2)])


def test_export_function_onnx_verify_fails_on_a_wrong_converter(tmp_path):
    x = pt.vector("x")
    fn = pytensor.function([x], Twice()(x), mode=py_mode)
    with pytest.raises(ONNXVerificationError, match="max rel error"):
        export_function_onnx(fn, tmp_path / "f.onnx", verify=True)
    assert list(tmp_path.iterdir()) == []


# -- files -----------------------------------------------------------------------------
class NoConverter(UnaryTestOp):
    """An op no converter is registered for."""


@pytest.mark.parametrize("failure", ["unsupported", "verify", "names"])
def test_failed_export_leaves_existing_file_untouched(tmp_path, failure):
    x = pt.vector("x")
    path = tmp_path / "model.onnx"
    export_onnx([x], pt.exp(x), path)
    before = path.read_bytes()
    with pytest.raises((NotImplementedError, ONNXVerificationError, ValueError)):
        if failure == "unsupported":
            export_onnx([x], NoConverter()(x), path)
        elif failure == "verify":
            export_onnx([x], Twice()(x), path, verify=True)
        else:
            export_onnx([x], x + 1, path, output_names=["x"])
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary files


def test_save_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    x = pt.vector("x")
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        export_onnx([x], x + 1, path)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_export_overwrites_existing_file(tmp_path):
    x = pt.vector("x")
    path = tmp_path / "model.onnx"
    export_onnx([x], x + 1, path)
    model = export_onnx([x], pt.exp(x), path)
    assert onnx.load(path) == model
    assert list(tmp_path.iterdir()) == [path]


def test_exported_file_permissions(tmp_path):
    # Like a file written with open(): not the 0600 of a temporary file.
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    x = pt.vector("x")
    path = tmp_path / "model.onnx"
    export_onnx([x], x + 1, path)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    # Overwriting keeps the permissions the file had.
    path.chmod(0o640)
    export_onnx([x], x + 2, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_export_prints_nothing_and_logs(tmp_path, capfd, caplog):
    x = pt.vector("x")
    path = tmp_path / "model.onnx"
    with caplog.at_level(logging.INFO, logger="pytensor_onnx"):
        export_onnx([x], pt.exp(x) + 1, path, verify=True)
        fn = pytensor.function([x], pt.exp(x), mode="ONNX")
        fn(np.ones(2))
        export_function_onnx(fn, tmp_path / "fn.onnx", verify=True)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    records = [r for r in caplog.records if r.name == "pytensor_onnx"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO]
    assert str(path) in records[0].getMessage()
    assert str(tmp_path / "fn.onnx") in records[1].getMessage()


def test_export_without_file_logs_nothing(caplog):
    x = pt.vector("x")
    with caplog.at_level(logging.DEBUG, logger="pytensor_onnx"):
        export_onnx([x], x + 1)
    assert [r for r in caplog.records if r.name == "pytensor_onnx"] == []


# -- inputs, shared variables ----------------------------------------------------------
def test_shared_variables_are_baked_in():
    x = pt.vector("x")
    w = pytensor.shared(np.array([1.0, 2.0, 3.0]), name="w")
    b = pytensor.shared(np.float32(0.5), name="b")
    outputs = [x * w + b, w * 2]
    model = export_onnx([x], outputs)
    assert names(model.graph.input) == ["x"]
    assert len(model.graph.initializer) >= 2
    x_val = np.array([1.0, -1.0, 2.0])
    expected = py_results([x], outputs, [x_val])
    w.set_value(np.zeros(3))  # later changes do not affect the exported model
    for got, exp in zip(run_model(model, {"x": x_val}), expected, strict=True):
        assert_same(got, exp)


def test_missing_input_is_named():
    x, y = pt.vector("x"), pt.vector("my_missing_input")
    with pytest.raises(ValueError, match="my_missing_input"):
        export_onnx([x], x + y)


@pytest.mark.parametrize(
    "make_inputs, error, match",
    [
        (lambda x: [x + 1], ValueError, "not a root variable"),
        (lambda x: [pt.constant(1.0)], ValueError, "not a root variable"),
        (lambda x: [x, x], ValueError, "more than once"),
        (lambda x: x, TypeError, "list or tuple"),
        (lambda x: [np.ones(2)], TypeError, "not a PyTensor Variable"),
    ],
    ids=["computed", "constant", "duplicate", "bare-variable", "array"],
)
def test_invalid_inputs(make_inputs, error, match):
    x = pt.vector("x")
    with pytest.raises(error, match=match):
        export_onnx(make_inputs(x), x * 2)


def test_invalid_outputs():
    x = pt.vector("x")
    with pytest.raises(ValueError, match="empty"):
        export_onnx([x], [])
    with pytest.raises(TypeError, match="outputs"):
        export_onnx([x], [x, 2.0])


@pytest.mark.parametrize("opset_version", [17, 10_000, "18"])
def test_export_invalid_opset(opset_version):
    x = pt.vector("x")
    with pytest.raises(ValueError, match="opset_version"):
        export_onnx([x], x + 1, opset_version=opset_version)
    with pytest.raises(ValueError, match="opset_version"):
        export_function_onnx(pytensor.function([x], x + 1), opset_version=opset_version)


@pytest.mark.parametrize("opset_version", [19, np.int32(19)], ids=["int", "np.int32"])
def test_export_opset_19(opset_version):
    x = pt.vector("x")
    models = [
        export_onnx([x], x + 1, opset_version=opset_version),
        export_function_onnx(pytensor.function([x], x + 1), opset_version=opset_version),
        compile_onnx([x], x + 1, opset_version=opset_version).maker.linker.onnx_model,
    ]
    for model in models:
        assert [(o.domain, o.version) for o in model.opset_import] == [("", 19)]
        assert model.ir_version == 10
        onnx.checker.check_model(model, full_check=True)


def test_export_function_onnx_with_shared_variables_and_updates(caplog):
    x = pt.vector("x")
    s = pytensor.shared(np.array([1.0, 2.0, 3.0]), name="s")
    step = pytensor.shared(np.float32(2.0), name="step")
    # Compiled with the default mode: its graph has in-place ops.
    fn = pytensor.function([x], [x + s, x * step], updates={s: s * step + x})
    fn(np.ones(3))
    s_now = s.get_value().copy()
    with caplog.at_level(logging.WARNING, logger="pytensor_onnx"):
        model = export_function_onnx(fn, verify=True)
    (warning,) = [r for r in caplog.records if r.name == "pytensor_onnx"]
    assert warning.levelno == logging.WARNING
    assert "updates" in warning.getMessage()
    np.testing.assert_array_equal(s.get_value(), s_now)  # verify=True did not update it
    assert names(model.graph.input) == ["x"]
    assert len(model.graph.output) == 2
    x_val = np.array([0.5, 0.0, -1.0])
    got = run_model(model, {"x": x_val})
    expected = fn(x_val)  # computes with s_now (then updates s)
    for g, e in zip(got, expected, strict=True):
        assert_same(g, e)


def test_export_function_onnx_skips_update_only_nodes():
    # The update uses an op without converter; the outputs do not need it.
    x = pt.vector("x")
    s = pytensor.shared(np.array([1.0, 2.0]), name="s")
    fn = pytensor.function([x], x * 2, updates={s: NoConverter()(s) + x}, mode=py_mode)
    model = export_function_onnx(fn, verify=True)
    # Neither s nor the update's nodes are in the model.
    for init in model.graph.initializer:
        assert not np.array_equal(onnx.numpy_helper.to_array(init), s.get_value())
    assert all(n.op_type != "Add" for n in model.graph.node)
    (result,) = run_model(model, {"x": np.array([1.0, 3.0])})
    assert_same(result, np.array([2.0, 6.0]))


def test_export_function_onnx_names():
    x = pt.vector("x")
    fn = pytensor.function([x], [x + 1, x - 1])
    model = export_function_onnx(fn, input_names=["in"], output_names=["plus", "minus"])
    assert names(model.graph.input) == ["in"]
    assert names(model.graph.output) == ["plus", "minus"]
    with pytest.raises(ValueError, match="1 output names for 2 outputs"):
        export_function_onnx(fn, output_names=["plus"])


class AddNoise(Op):
    """x plus a draw from rng (no converter), and the version whose converter ignores it."""

    __props__ = ()

    def make_node(self, rng, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [rng, x], [x.type()])

    def perform(self, node, inputs, output_storage):
        rng, x = inputs
        output_storage[0][0] = x + rng.normal(size=x.shape).astype(x.dtype)


class AddNothing(AddNoise):
    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[1].copy()


def onnx_funcify_AddNothing(op, node, builder, inputs, **kwargs):
    _, x = inputs  # (the generator's [key, counter] state, unused)
    return builder.add_node("Identity", [x])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pytensor 3 random API changes
@pytest.mark.parametrize("rewrite", [True, False])
def test_random_generators_do_not_break_conversion(rewrite):
    x = pt.vector("x")
    rng = pytensor.shared(np.random.default_rng(0), name="rng")
    # An op without converter that uses a shared random generator: the error is about
    # the op (not an AttributeError about the generator's missing dtype).
    with pytest.raises(NotImplementedError, match="AddNoise: 1 node"):
        export_onnx([x], AddNoise()(rng, x) * 2, rewrite=rewrite)
    with pytest.raises(NotImplementedError, match="AddNoise: 1 node"):
        export_function_onnx(pytensor.function([x], AddNoise()(rng, x) * 2, mode=py_mode))
    # A converter that needs no value for the generator works: the model has no
    # generator in it.
    out = AddNothing()(rng, x) * 2
    model = export_onnx([x], out, rewrite=rewrite, verify=True)
    assert names(model.graph.input) == ["x"]
    assert_model_matches_pytensor(model, [x], [out], [np.array([1.0, 2.0])])
    # Random variables convert: the shared generator is stored as a constant state.
    model = export_onnx([x], x + pt.random.normal(size=3, rng=rng), rewrite=rewrite)
    assert names(model.graph.input) == ["x"]


def test_random_generator_as_input_or_output_is_named():
    from pytensor.tensor.random.type import random_generator_type

    x = pt.vector("x")
    rng = pytensor.shared(np.random.default_rng(0), name="my_rng")
    # A generator is a uint64 [key, counter] state (pytensor_onnx.dispatch.random).
    model = export_onnx([x], [x * 2, rng])
    # (the stored state is the initializer "my_rng"; the output is a copy of it)
    assert names(model.graph.output)[1].startswith("my_rng")
    r = random_generator_type("my_input_rng")
    model = export_onnx([x, r], [AddNothing()(r, x)])
    (_, state) = model.graph.input
    assert state.name == "my_input_rng"
    assert state.type.tensor_type.elem_type == onnx.TensorProto.UINT64
    # An unsupported op that uses the generator input is reported as such.
    with pytest.raises(NotImplementedError, match="AddNoise"):
        export_onnx([x, r], [AddNoise()(r, x)])


# -- rewriting -------------------------------------------------------------------------
def test_rewrite_option():
    x = pt.vector("x")
    out = (x * 1 + 0) * pt.exp(pt.zeros_like(x))
    rewritten = export_onnx([x], out, rewrite=True)
    raw = export_onnx([x], out, rewrite=False)
    assert len(rewritten.graph.node) < len(raw.graph.node)
    assert [n.op_type for n in rewritten.graph.node] == ["Identity"]
    x_val = np.array([1.0, -2.0])
    assert_model_matches_pytensor(rewritten, [x], [out], [x_val])
    assert_model_matches_pytensor(raw, [x], [out], [x_val])


def test_rewrite_does_not_change_the_callers_graph():
    x = pt.vector("x")
    out = x * 1
    owner = out.owner
    export_onnx([x], out, rewrite=True)
    assert out.owner is owner
    assert out.owner.inputs[0] is x


# -- deep graphs -----------------------------------------------------------------------
def test_deep_graph_export(tmp_path):
    x = pt.vector("x")
    y = x
    for i in range(5000):
        y = y + 1 if i % 2 == 0 else pt.exp(-y)
    path = tmp_path / "deep.onnx"
    model = export_onnx([x], y, path, rewrite=False)
    assert len(model.graph.node) >= 5000
    x_val = np.array([0.0, 1.0, -3.0])
    expected = x_val
    for i in range(5000):
        expected = expected + 1 if i % 2 == 0 else np.exp(-expected)
    (result,) = run_model(path, {"x": x_val})
    np.testing.assert_allclose(result, expected, rtol=1e-12)


def test_deep_graph_compile_and_export_function():
    x = pt.vector("x")
    y = x
    for i in range(5000):
        y = pt.sqrt(y) if i % 2 == 0 else pt.abs(y)
    fn = compile_onnx([x], y, intra_op_num_threads=1)
    x_val = np.array([0.0, 0.25, 4.0, 100.0])
    expected = x_val
    for i in range(5000):
        expected = np.sqrt(expected) if i % 2 == 0 else np.abs(expected)
    np.testing.assert_allclose(fn(x_val), expected, rtol=1e-12)
    for model in (
        export_function_onnx(fn, verify=True),
        export_onnx([x], y, rewrite=False, verify=True),
    ):
        (result,) = run_model(model, {"x": x_val})
        np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pytensor 3 random API changes
def test_random_variables_without_a_sampler_say_which():
    x = pt.vector("x")
    draws = pt.random.hypergeometric(5, 3, 4, size=x.shape)
    for export in (
        lambda y: export_onnx([x], y),
        lambda y: export_function_onnx(pytensor.function([x], y)),
    ):
        with pytest.raises(NotImplementedError, match="HyperGeometricRV.*supported: ") as e:
            export(x + draws)
        assert "register" not in str(e.value)  # a converter exists; it refuses


def test_shared_variables_keep_their_names():
    x = pt.vector("x")
    w = pytensor.shared(np.array([1.0, 2.0]), name="w")
    for model in (
        export_onnx([x], (x * w).sum()),
        export_function_onnx(pytensor.function([x], (x * w).sum())),
    ):
        (weights,) = [t for t in model.graph.initializer if t.name == "w"]
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(weights), w.get_value())


def test_export_to_missing_directory_fails_before_converting(tmp_path):
    x = pt.vector("x")
    target = tmp_path / "missing" / "m.onnx"
    with pytest.raises(FileNotFoundError, match="missing' does not exist"):
        export_onnx([x], NoConverter()(x), target)  # the path is checked first
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_function_onnx(pytensor.function([x], x * 2), target)


def test_verify_with_index_inputs_samples_valid_indices():
    group = pt.lvector("group")
    a = pt.vector("a")
    obs = pt.vector("obs")
    logp = (-0.5 * (obs - a[group]) ** 2).sum()
    export_onnx([group, a, obs], logp, verify=True)


def test_verify_says_when_random_samples_are_invalid():
    idx = pt.lvector("idx")
    a = pt.vector("a", shape=(2,))
    with pytest.raises(ValueError, match="pass verify_inputs"):
        export_onnx([idx, a], a[idx + 5], verify=True)
    export_onnx([idx, a], a[idx + 5], verify=True, verify_inputs=[[-5, -4], [1.0, 2.0]])


def test_training_step_with_its_state_as_inputs_and_outputs():
    # What export_function_onnx's update warning suggests: a shared variable listed in
    # inputs is fed per call, its new value is an output; verify compares with PyTensor.
    w = pytensor.shared(np.ones(3), name="w")
    x = pt.vector("x", dtype="float64")
    loss = ((x * w) ** 2).mean()
    new_w = w - 0.1 * pytensor.grad(loss, w)
    model = export_onnx(
        [x, w],
        [loss, new_w],
        output_names=["loss", "w_next"],
        verify=True,
        verify_inputs=[np.arange(3.0), np.array([0.5, 1.0, 2.0])],
    )
    assert names(model.graph.input) == ["x", "w"]
    step = pytensor.function([x], [loss, new_w])
    got = onnxruntime.InferenceSession(model.SerializeToString()).run(
        None, {"x": np.arange(3.0), "w": np.ones(3)}
    )
    for g, e in zip(got, step(np.arange(3.0))):
        np.testing.assert_allclose(g, e, rtol=1e-12)
