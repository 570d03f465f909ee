"""ONNX dispatch: ``onnx_funcify`` converts ops, ``onnx_typify`` converts data.

Importing this package registers every converter (one module per op family).
"""

import pytensor_onnx.dispatch.bessel  # noqa: F401
import pytensor_onnx.dispatch.blas  # noqa: F401
import pytensor_onnx.dispatch.blockwise  # noqa: F401
import pytensor_onnx.dispatch.conv  # noqa: F401
import pytensor_onnx.dispatch.elemwise  # noqa: F401
import pytensor_onnx.dispatch.extra_ops  # noqa: F401
import pytensor_onnx.dispatch.ifelse  # noqa: F401
import pytensor_onnx.dispatch.math  # noqa: F401
import pytensor_onnx.dispatch.nlinalg  # noqa: F401
import pytensor_onnx.dispatch.op_from_graph  # noqa: F401
import pytensor_onnx.dispatch.random  # noqa: F401
import pytensor_onnx.dispatch.scalar  # noqa: F401
import pytensor_onnx.dispatch.scalar_math  # noqa: F401
import pytensor_onnx.dispatch.scalar_special  # noqa: F401
import pytensor_onnx.dispatch.scan  # noqa: F401
import pytensor_onnx.dispatch.shape  # noqa: F401
import pytensor_onnx.dispatch.slinalg  # noqa: F401
import pytensor_onnx.dispatch.sort  # noqa: F401
import pytensor_onnx.dispatch.subtensor  # noqa: F401
import pytensor_onnx.dispatch.tensor_basic  # noqa: F401
from pytensor_onnx.dispatch.basic import (
    ONNX_OPSET_VERSION,
    fgraph_to_onnx,
    make_value_info,
    onnx_funcify,
    onnx_typify,
)

__all__ = [
    "ONNX_OPSET_VERSION",
    "fgraph_to_onnx",
    "make_value_info",
    "onnx_funcify",
    "onnx_typify",
]
