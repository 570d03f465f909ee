"""Test utilities (`compare_onnx_and_py`, `get_onnx_node_types`) and their own tests."""

from functools import partial

import numpy as np
import onnx
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from pytensor_onnx import ONNXLinker
from pytensor_onnx.mode import onnx_mode

py_mode = Mode(linker="py", optimizer=None)


def default_tolerance(dtype):
    """rtol/atol that onnxruntime's kernels reach against NumPy for ``dtype``."""
    if np.dtype(dtype) == np.float64:
        return dict(rtol=1e-12, atol=1e-14)
    if np.dtype(dtype) == np.float16:
        return dict(rtol=1e-3, atol=1e-3)
    return dict(rtol=1e-5, atol=1e-6)


def assert_same(onnx_value, py_value, **tolerance):
    """Same dtype, same shape, close values (NaN equal to NaN, infinities equal)."""
    onnx_value, py_value = np.asarray(onnx_value), np.asarray(py_value)
    assert onnx_value.dtype == py_value.dtype, f"dtype {onnx_value.dtype} != {py_value.dtype}"
    assert onnx_value.shape == py_value.shape, f"shape {onnx_value.shape} != {py_value.shape}"
    if onnx_value.dtype.kind in "biu":
        np.testing.assert_array_equal(onnx_value, py_value)
    else:
        np.testing.assert_allclose(
            onnx_value, py_value, equal_nan=True, **(tolerance or default_tolerance(py_value.dtype))
        )


def compare_onnx_and_py(
    graph_inputs,
    graph_outputs,
    test_inputs,
    *,
    assert_fn=None,
    must_validate=True,
    onnx_mode=None,
    py_mode=py_mode,
):
    """Run a graph through the ONNX backend and PyTensor's Python linker; compare results.

    Returns ``(onnx_fn, onnx_result)``. The ONNX model must pass
    ``onnx.checker.check_model(full_check=True)`` when ``must_validate``.
    """
    if any(inp.owner is not None for inp in graph_inputs):
        raise ValueError("Inputs must be root variables (no owner)")
    if assert_fn is None:
        assert_fn = assert_same
    onnx_mode = onnx_mode or _default_onnx_mode()

    onnx_fn = pytensor.function(graph_inputs, graph_outputs, mode=onnx_mode)
    onnx_res = onnx_fn(*test_inputs)
    if must_validate:
        onnx.checker.check_model(onnx_fn.maker.linker.onnx_model, full_check=True)

    py_fn = pytensor.function(graph_inputs, graph_outputs, mode=py_mode)
    py_res = py_fn(*test_inputs)

    if isinstance(graph_outputs, (list, tuple)):
        assert len(onnx_res) == len(py_res), "Output count mismatch"
        for i, (o, p) in enumerate(zip(onnx_res, py_res, strict=True)):
            try:
                assert_fn(o, p)
            except AssertionError as e:
                raise AssertionError(f"Output {i} mismatch: {e}") from e
    else:
        assert_fn(onnx_res, py_res)
    return onnx_fn, onnx_res


def _default_onnx_mode():
    # Single-threaded sessions: the suite runs many tiny models on a 2-core machine.
    return onnx_mode(intra_op_num_threads=1)


def get_onnx_node_types(fn):
    """ONNX op types of the model behind a function compiled with the ONNX backend."""
    return [node.op_type for node in fn.maker.linker.onnx_model.graph.node]


def get_onnx_node_by_type(fn, op_type):
    """The first node of ``op_type`` in the function's ONNX model, or None."""
    return next((n for n in fn.maker.linker.onnx_model.graph.node if n.op_type == op_type), None)


# -- tests of the utilities ------------------------------------------------------------
def test_compare_onnx_and_py_simple():
    x = pt.vector("x", dtype="float32")
    x_val = np.array([1, 2, 3], dtype="float32")
    fn, result = compare_onnx_and_py([x], x, [x_val])
    np.testing.assert_array_equal(result, x_val)


def test_compare_onnx_and_py_detects_mismatch():
    x = pt.vector("x", dtype="float64")
    x_val = np.array([1.0, 2.0])
    wrong = partial(np.testing.assert_allclose, desired=np.array([0.0, 0.0]))
    with pytest.raises(AssertionError):
        compare_onnx_and_py([x], x + 1, [x_val], assert_fn=lambda o, p: wrong(o))


def test_assert_same_checks_dtype_and_shape():
    with pytest.raises(AssertionError, match="dtype"):
        assert_same(np.zeros(2, "float32"), np.zeros(2, "float64"))
    with pytest.raises(AssertionError, match="shape"):
        assert_same(np.zeros((2, 1)), np.zeros(2))


def test_compare_onnx_and_py_rejects_non_root_inputs():
    x = pt.vector("x")
    with pytest.raises(ValueError, match="root"):
        compare_onnx_and_py([x + 1], x, [np.zeros(2)])


def test_get_onnx_node_types():
    x = pt.vector("x", dtype="float32")
    y = pt.vector("y", dtype="float32")
    fn = pytensor.function([x, y], x + y, mode=Mode(linker=ONNXLinker()))
    assert "Add" in get_onnx_node_types(fn)
    assert get_onnx_node_by_type(fn, "Add").input[:] == ["x", "y"]
    assert get_onnx_node_by_type(fn, "Conv") is None
