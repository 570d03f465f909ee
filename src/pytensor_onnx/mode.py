"""The ``"ONNX"`` compilation mode: ``pytensor.function(..., mode="ONNX")``."""

from __future__ import annotations

from pytensor.compile.mode import Mode, predefined_modes, register_mode
from pytensor.graph.rewriting.db import RewriteDatabaseQuery

from pytensor_onnx.linker import ONNXLinker

# "fast_run" is canonicalize + stabilize + specialize and the rest of PyTensor's default
# pipeline: the numerically stable forms (log1p, softplus, logsumexp, ...) are what a
# PyMC logp needs in any backend. ONNXLinker.incompatible_rewrites removes the C-only,
# BLAS, fusion and in-place rewrites from it, as the JAX and Numba linkers do.
ONNX_REWRITES = RewriteDatabaseQuery(include=["fast_run"])


def onnx_mode(**linker_options) -> Mode:
    """A ``Mode`` that compiles with :class:`ONNXLinker` and PyTensor's ONNX rewrites.

    Parameters
    ----------
    **linker_options
        Passed to :class:`ONNXLinker` (``opset_version``, ``graph_optimization_level``,
        ``intra_op_num_threads``, ...).

    Examples
    --------
    >>> import pytensor, pytensor.tensor as pt
    >>> x = pt.vector("x")
    >>> fn = pytensor.function([x], x * 2, mode=onnx_mode(intra_op_num_threads=1))
    """
    return Mode(linker=ONNXLinker(**linker_options), optimizer=ONNX_REWRITES)


ONNX = onnx_mode()

if "ONNX" not in predefined_modes:
    register_mode("ONNX", ONNX)
