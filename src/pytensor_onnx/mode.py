"""The ``"ONNX"`` compilation mode: ``pytensor.function(..., mode="ONNX")``."""

from __future__ import annotations

import copyreg

from pytensor.compile.mode import Mode, predefined_modes, register_mode
from pytensor.graph.rewriting.db import RewriteDatabaseQuery

from pytensor_onnx.linker import ONNXLinker

try:  # pytensor >= 3
    from pytensor.compile.executor import Function, _pickle_Function
    from pytensor.compile.maker import FunctionMaker
except ImportError:  # pytensor 2.38
    from pytensor.compile.function.types import Function, FunctionMaker, _pickle_Function

# "fast_run" is canonicalize + stabilize + specialize and the rest of PyTensor's default
# pipeline: the numerically stable forms (log1p, softplus, logsumexp, ...) are what a
# PyMC logp needs in any backend. ONNXLinker.incompatible_rewrites removes the C-only,
# BLAS, fusion and in-place rewrites from it, as the JAX and Numba linkers do.
ONNX_REWRITES = RewriteDatabaseQuery(include=["fast_run"])


class ONNXFunction(Function):
    """A PyTensor ``Function`` whose bad-input errors name the input and what it expects.

    PyTensor's own input check reports only the input's position (pytensor 2.38 in the
    message, 3.0 in a note); this re-raises the same error with the input's name.
    """

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except TypeError as err:
            bad_input = self._find_bad_input(args)
            if bad_input is None:
                raise
            raise TypeError(f"{bad_input}: {err}") from err

    def _find_bad_input(self, args) -> str | None:
        """Describe the first positional argument the input's type rejects, if any."""
        inputs = [spec for spec in self.maker.inputs if not getattr(spec, "shared", False)]
        for i, (spec, container, arg) in enumerate(zip(inputs, self.input_storage, args)):
            try:
                container.type.filter(
                    arg, strict=container.strict, allow_downcast=container.allow_downcast
                )
            except Exception:
                variable = spec.variable
                name = f"{variable.name!r}" if variable.name else f"{variable}"
                return f"Bad value for input {i} ({name}, expected {variable.type})"
        return None


# copyreg registrations are per class: pickle ONNXFunction as PyTensor pickles Function.
copyreg.pickle(ONNXFunction, _pickle_Function)


class ONNXFunctionMaker(FunctionMaker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The attribute that names the Function class: pytensor 3.0 / 2.38.
        if hasattr(self, "function_class"):
            self.function_class = ONNXFunction
        else:
            self.function_builder = ONNXFunction


class ONNXMode(Mode):
    """A ``Mode`` whose functions run through :class:`ONNXLinker`."""

    @property
    def function_maker(self):
        return ONNXFunctionMaker


def onnx_mode(**linker_options) -> ONNXMode:
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
    return ONNXMode(linker=ONNXLinker(**linker_options), optimizer=ONNX_REWRITES)


ONNX = onnx_mode()

if "ONNX" not in predefined_modes:
    register_mode("ONNX", ONNX)
