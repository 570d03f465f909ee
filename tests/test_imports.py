"""The package imports, exposes its public API and registers the "ONNX" mode."""

import importlib

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import get_mode

MODULES = [
    "pytensor_onnx",
    "pytensor_onnx.builder",
    "pytensor_onnx.dtypes",
    "pytensor_onnx.dispatch",
    "pytensor_onnx.dispatch.basic",
    "pytensor_onnx.dispatch.elemwise",
    "pytensor_onnx.dispatch.scalar",
    "pytensor_onnx.export",
    "pytensor_onnx.linker",
    "pytensor_onnx.mode",
    "pytensor_onnx.pymc",  # PyMC itself is imported only when used
    "pytensor_onnx.web",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports(module):
    assert importlib.import_module(module).__name__ == module


def test_public_api():
    from pytensor_onnx import (
        ONNX_OPSET_VERSION,
        ONNXLinker,
        compile_onnx,
        export_function_onnx,
        export_onnx,
        make_value_info,
        onnx_funcify,
        onnx_typify,
    )

    assert ONNX_OPSET_VERSION == 18
    for obj in (
        ONNXLinker,
        compile_onnx,
        export_function_onnx,
        export_onnx,
        make_value_info,
        onnx_funcify,
        onnx_typify,
    ):
        assert callable(obj)


def test_all_names_exist():
    import pytensor_onnx

    for name in pytensor_onnx.__all__:
        assert hasattr(pytensor_onnx, name), name


def test_dispatchers_are_singledispatch():
    import pytensor_onnx
    from pytensor_onnx.dispatch import onnx_funcify, onnx_typify

    for dispatcher in (onnx_funcify, onnx_typify):
        assert callable(dispatcher.register)
        assert callable(dispatcher.dispatch)
        assert object in dispatcher.registry  # the default implementation
    # One dispatcher, whichever module it is imported from.
    assert pytensor_onnx.onnx_funcify is onnx_funcify
    assert pytensor_onnx.onnx_typify is onnx_typify


@pytest.mark.parametrize("name", ["ONNX", "onnx"])
def test_onnx_mode_registered(name):
    from pytensor_onnx import ONNXLinker

    mode = get_mode(name)
    assert isinstance(mode.linker, ONNXLinker)
    x = pt.vector("x")
    fn = pytensor.function([x], pt.exp(x), mode=name)
    assert isinstance(fn.maker.linker, ONNXLinker)
    np.testing.assert_allclose(fn(np.array([0.0, 1.0])), np.exp([0.0, 1.0]), rtol=1e-12)


def test_onnx_mode_excludes_incompatible_rewrites():
    # The linker declares the C-only, BLAS, fusion and in-place rewrites incompatible;
    # the registered mode must not run them.
    from pytensor_onnx import ONNXLinker

    x = pt.vector("x")
    fn = pytensor.function([x], pt.exp(x) * 2 + 1, mode="ONNX")
    for node in fn.maker.fgraph.apply_nodes:
        assert not getattr(node.op, "destroy_map", {}), node
        assert "Composite" not in type(getattr(node.op, "scalar_op", None)).__name__, node
    assert isinstance(fn.maker.linker, ONNXLinker)
