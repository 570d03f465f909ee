"""pytensor-onnx: the ONNX backend for PyTensor.

Export PyTensor (and PyMC) graphs to self-contained ``.onnx`` files, and run PyTensor
functions with ONNX Runtime via ``pytensor.function(..., mode="ONNX")``.

Examples
--------
>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> import pytensor_onnx
>>> x = pt.vector("x")
>>> fn = pytensor.function([x], pt.exp(x), mode="ONNX")
>>> fn(np.zeros(2))
array([1., 1.])
"""

__version__ = "0.1.0"

from pytensor_onnx.builder import GraphBuilder, make_value_info
from pytensor_onnx.dispatch import ONNX_OPSET_VERSION, onnx_funcify, onnx_typify
from pytensor_onnx.dispatch.tensor_basic import (
    assert_behavior,
    get_assert_behavior,
    set_assert_behavior,
)
from pytensor_onnx.export import (
    ONNXVerificationError,
    compile_onnx,
    export_function_onnx,
    export_onnx,
)
from pytensor_onnx.linker import ONNXLinker
from pytensor_onnx.mode import ONNX, onnx_mode

__all__ = [
    "ONNX",
    "ONNXLinker",
    "ONNXVerificationError",
    "ONNX_OPSET_VERSION",
    "assert_behavior",
    "GraphBuilder",
    "compile_onnx",
    "export_function_onnx",
    "export_onnx",
    "get_assert_behavior",
    "make_value_info",
    "onnx_funcify",
    "onnx_mode",
    "onnx_typify",
    "set_assert_behavior",
]
