"""The ``"ONNX"`` compilation mode: ``pytensor.function(..., mode="ONNX")``."""

from __future__ import annotations

import copyreg

import numpy as np
from pytensor.compile.mode import Mode, predefined_modes, register_mode
from pytensor.graph.rewriting.db import RewriteDatabaseQuery
from pytensor.tensor.type import TensorType

from pytensor_onnx.linker import ONNXLinker

try:  # pytensor >= 3
    from pytensor.compile.executor import Function, _pickle_Function
    from pytensor.compile.maker import FunctionMaker
except ImportError:  # pytensor 2.38
    from pytensor.compile.function.types import Function, FunctionMaker, _pickle_Function

# pytensor >= 3 validates a call's inputs in Function._validate_inputs, 2.38 inline.
_VALIDATES_IN_METHOD = hasattr(Function, "_validate_inputs")

# "fast_run" is canonicalize + stabilize + specialize and the rest of PyTensor's default
# pipeline: the numerically stable forms (log1p, softplus, logsumexp, ...) are what a
# PyMC logp needs in any backend. ONNXLinker.incompatible_rewrites removes the C-only,
# BLAS, fusion and in-place rewrites from it, as the JAX and Numba linkers do.
# scan_save_mem_no_prealloc (tagged for the JAX/Numba/PyTorch modes only) keeps just the
# scan outputs' entries that are read: a loop over 1e6 steps whose last state is used
# stores one state, not a million.
ONNX_REWRITES = RewriteDatabaseQuery(include=["fast_run", "scan_save_mem_no_prealloc"])


class ONNXFunction(Function):
    """A PyTensor ``Function`` whose bad-input errors name the input and what it expects.

    PyTensor's own input check reports only the input's position (pytensor 2.38 in the
    message, 3.0 in a note); this re-raises the same error with the input's name.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._accepts_as_is = _as_is_checker(_fast_input_checks(self))

    # PyTensor validates every input of every call with TensorType.filter, which costs
    # ~3 us per input even for an ndarray of exactly the right dtype, rank and shape: more
    # than the onnxruntime call of a small model. Such arrays pass the same checks filter
    # makes for them in `_accepts_as_is`; anything else goes through PyTensor's own
    # validation, whose errors are re-raised naming the input.
    if _VALIDATES_IN_METHOD:  # pytensor >= 3

        def _validate_inputs(self, args, kwargs):
            if not kwargs and self._accepts_as_is(args):
                for storage, arg in zip(self._input_storage_data, args):
                    storage[0] = arg
                return
            try:
                super()._validate_inputs(args, kwargs)
            except TypeError as err:
                self._raise_naming_bad_input(err, args)
                raise

    else:  # pytensor 2.38 validates inline in __call__

        def __call__(self, *args, **kwargs):
            try:
                if not kwargs and not self.trust_input and self._accepts_as_is(args):
                    # Skip the validation for this call (a Function is not thread-safe
                    # anyway: its input storage is shared).
                    self.trust_input = True
                    try:
                        return super().__call__(*args)
                    finally:
                        self.trust_input = False
                return super().__call__(*args, **kwargs)
            except TypeError as err:
                self._raise_naming_bad_input(err, args)
                raise

    def _raise_naming_bad_input(self, err: TypeError, args) -> None:
        """Re-raise ``err`` naming the input whose value was rejected, if one was."""
        bad_input = self._find_bad_input(args)
        if bad_input is not None:
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


def _fast_input_checks(fn) -> tuple | None:
    """(dtype, ndim, static dims) per explicit input, if the fast input path applies to ``fn``.

    It applies when every explicit input is a tensor given positionally, the other inputs
    are shared variables (implicit), and no inputs may alias (no in-place ops).
    """
    if fn._potential_aliased_input_groups:
        return None
    checks = []
    for position, container in enumerate(fn.input_storage):
        if container.implicit:
            continue
        if len(checks) != position or not container.required:
            return None
        var_type = container.type
        if not isinstance(var_type, TensorType) or var_type.filter_checks_isfinite:
            return None
        static_dims = tuple((axis, n) for axis, n in enumerate(var_type.shape) if n is not None)
        checks.append((np.dtype(var_type.dtype), var_type.ndim, static_dims))
    return tuple(checks)


def _as_is_checker(checks):
    """``accepts(args)``: whether ``args`` match ``checks`` exactly (see ONNXFunction)."""
    ndarray = np.ndarray
    if checks is None:
        return lambda args: False

    if len(checks) == 1 and not checks[0][2]:
        # The most common case, one input without static dims: no loop.
        ((dtype, ndim, _),) = checks

        def accepts_one(args):
            if len(args) != 1:
                return False
            arg = args[0]
            return (
                type(arg) is ndarray
                and arg.dtype == dtype
                and arg.ndim == ndim
                and arg.flags.aligned
            )

        return accepts_one

    def accepts(args):
        if len(args) != len(checks):
            return False
        for arg, (dtype, ndim, static_dims) in zip(args, checks):
            if (
                type(arg) is not ndarray
                or arg.dtype != dtype
                or arg.ndim != ndim
                or not arg.flags.aligned
            ):
                return False
            if static_dims:
                shape = arg.shape
                if any(shape[axis] != size for axis, size in static_dims):
                    return False
        return True

    return accepts


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
