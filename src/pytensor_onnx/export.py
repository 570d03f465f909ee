"""User-facing API: export graphs and compiled functions to ``.onnx``, compile with ONNX."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import ancestors, graph_inputs, toposort

from pytensor_onnx.builder import ONNX_OPSET_VERSION
from pytensor_onnx.dispatch import fgraph_to_onnx
from pytensor_onnx.linker import check_opset_version
from pytensor_onnx.web import apply_target, check_target

_log = logging.getLogger("pytensor_onnx")

__all__ = [
    "ONNXVerificationError",
    "compile_onnx",
    "export_function_onnx",
    "export_onnx",
    "save_model_atomically",
]


class ONNXVerificationError(AssertionError):
    """The exported model's results differ from PyTensor's (raised by ``verify=True``)."""


# -- files ----------------------------------------------------------------------------
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def save_model_atomically(model: onnx.ModelProto, filename) -> Path:
    """Write ``model`` to ``filename`` through a temporary file and an atomic rename.

    A failure leaves no partial file behind and leaves an existing file untouched. The
    file gets the permissions a plain ``open(filename, "wb")`` would give it: those of
    the file it replaces, else the default ones (0666 minus the umask).

    Examples
    --------
    >>> import onnx, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    >>> save_model_atomically(onnx.ModelProto(ir_version=10), path).name
    'm.onnx'
    """
    path = Path(filename)
    data = model.SerializeToString()
    # Not tempfile.mkstemp: it creates the file with mode 0600, so the exported model
    # would be unreadable to other users after the rename. os.open(..., 0o666) applies
    # the umask exactly like a plain open() does.
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            if path.is_file():  # keep the permissions of the file being replaced
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_directory(filename) -> None:
    """Fail before any conversion work if ``filename`` cannot be written to."""
    if filename is not None and not Path(filename).parent.is_dir():
        raise FileNotFoundError(
            f"Cannot export to {str(filename)!r}: directory {str(Path(filename).parent)!r} "
            "does not exist"
        )


# -- deep graphs ----------------------------------------------------------------------
_DEEP_GRAPH_NODES = 2_000


@contextmanager
def _recursion_headroom(n_nodes: int):
    """Let PyTensor's recursive graph walks (cloning, rewriting) handle ``n_nodes`` nodes."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * n_nodes + 1_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _run_with_deep_stack(fn: Callable, n_nodes: int):
    """Call ``fn()``; for deep graphs, in a thread whose stack fits their recursion."""
    if n_nodes < _DEEP_GRAPH_NODES:
        return fn()
    result, error = [], []

    def target():
        try:
            with _recursion_headroom(n_nodes):
                result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    old_size = threading.stack_size()
    threading.stack_size(min(1 << 30, max(64 << 20, n_nodes * 4096)))
    try:
        thread = threading.Thread(target=target, name="pytensor-onnx-deep-graph")
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_size)
    if error:
        raise error[0]
    return result[0]


def _count_nodes(outputs) -> int:
    return sum(1 for v in ancestors(outputs) if v.owner is not None)


# -- graph preparation ----------------------------------------------------------------
def _as_output_list(outputs) -> list[Variable]:
    if isinstance(outputs, Variable):
        return [outputs]
    if isinstance(outputs, (list, tuple)) and all(isinstance(o, Variable) for o in outputs):
        if not outputs:
            raise ValueError("outputs is empty: export at least one output variable")
        return list(outputs)
    raise TypeError(f"outputs must be a Variable or a list of Variables, got {outputs!r}")


def _check_inputs(inputs) -> list[Variable]:
    if isinstance(inputs, Variable) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"inputs must be a list or tuple of Variables, got {inputs!r}")
    for i, var in enumerate(inputs):
        if not isinstance(var, Variable):
            raise TypeError(f"inputs[{i}] is {var!r}, not a PyTensor Variable")
        if isinstance(var, Constant) or var.owner is not None:
            raise ValueError(
                f"inputs[{i}] ({var}) is not a root variable: inputs must be free symbolic "
                "variables such as pt.vector('x'), not constants or computed values"
            )
    if len(set(inputs)) != len(inputs):
        raise ValueError("inputs lists the same variable more than once")
    return list(inputs)


def _shared_values(inputs, outputs) -> dict[Variable, np.ndarray]:
    """Values of the shared variables the graph reads but ``inputs`` does not list.

    They are baked into the model as initializers, so that the file is self-contained.
    Any other missing root variable is an error.
    """
    listed = set(inputs)
    shared, missing = {}, []
    for var in graph_inputs(outputs):
        if var in listed or isinstance(var, Constant):
            continue
        if isinstance(var, SharedVariable):
            shared[var] = var.get_value(borrow=True)
        else:
            missing.append(var)
    if missing:
        names = ", ".join(str(v) for v in missing)
        raise ValueError(
            f"The outputs depend on variables that are not in inputs: {names}. "
            "Add them to inputs (or make them constants/shared variables)."
        )
    return shared


def _rewrite(inputs, outputs) -> tuple[list[Variable], list[Variable], list]:
    """Apply the ONNX mode's rewrites to a clone of the graph."""
    from pytensor_onnx.mode import ONNX

    fgraph = FunctionGraph(inputs, outputs, clone=True)
    ONNX.optimizer.rewrite(fgraph)
    return fgraph.inputs, fgraph.outputs, fgraph.toposort()


def _convert(inputs, outputs, shared, *, rewrite, **options) -> onnx.ModelProto:
    output_name_hints = [var.name for var in outputs]  # before rewriting loses them
    graph_inputs_ = list(inputs) + list(shared)
    if rewrite:
        graph_inputs_, outputs, nodes = _rewrite(graph_inputs_, outputs)
    else:
        nodes = toposort(outputs, blockers=graph_inputs_)
    shared_vars = graph_inputs_[len(inputs) :]
    constants = {var: value for var, value in zip(shared_vars, shared.values())}
    return fgraph_to_onnx(
        graph_inputs_[: len(inputs)],
        outputs,
        nodes,
        constants=constants,
        output_name_hints=output_name_hints,
        **options,
    )


# -- public API -----------------------------------------------------------------------
def export_onnx(
    inputs: Sequence[Variable],
    outputs: Variable | Sequence[Variable],
    filename: str | os.PathLike | None = None,
    *,
    opset_version: int = ONNX_OPSET_VERSION,
    model_name: str = "pytensor_model",
    doc_string: str = "",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    rewrite: bool = True,
    verify: bool = False,
    verify_inputs: Sequence | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    target: str | None = None,
) -> onnx.ModelProto:
    """Export a PyTensor graph to an ONNX model (and file).

    Parameters
    ----------
    inputs : list of Variable
        The model's inputs, in order: free symbolic variables. Shared variables the
        outputs use are not inputs: their current values are stored in the model.
    outputs : Variable or list of Variable
        The model's outputs.
    filename : str or PathLike, optional
        Where to write the ``.onnx`` file (atomically). If omitted, only return the model.
    opset_version : int
        ONNX opset (18 by default).
    model_name, doc_string : str
        Recorded in the model.
    input_names, output_names : list of str, optional
        ONNX names of the inputs/outputs. Default: the variables' names where they are
        set and unique, else ``input_{i}``/``output_{i}``.
    rewrite : bool
        Apply the ONNX mode's rewrites (canonicalize, stabilize, specialize) first.
    verify : bool
        Run the model in onnxruntime on ``verify_inputs`` (or random sample inputs) and
        compare with PyTensor; raise :class:`ONNXVerificationError` with the maximum
        absolute and relative error if they differ. Nothing is written if it fails.
    verify_inputs : list of array_like, optional
        Input values for ``verify``.
    rtol, atol : float, optional
        Tolerances for ``verify`` (default: by dtype, 1e-6 for float64, 1e-4 otherwise).
    target : {None, "web", "web-float32"}
        ``"web"``: check that onnxruntime-web (the browser) can run the model, else raise
        :class:`pytensor_onnx.web.WebIncompatibleError` naming the blocking ops.
        ``"web-float32"``: convert the model to float32 for the browser (after ``verify``,
        which checks the float64 model). See :func:`pytensor_onnx.web.make_web_model`.

    Returns
    -------
    onnx.ModelProto
        The model, which passes ``onnx.checker.check_model(model, full_check=True)``.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> x = pt.vector("x")
    >>> model = export_onnx([x], pt.exp(x) + 1, verify=True)
    >>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]
    (['x'], ['output_0'])
    """
    opset_version = check_opset_version(opset_version)
    check_target(target)
    _check_directory(filename)
    inputs = _check_inputs(inputs)
    outputs = _as_output_list(outputs)
    shared = _shared_values(inputs, outputs)

    def convert():
        return _convert(
            inputs,
            outputs,
            shared,
            rewrite=rewrite,
            opset_version=opset_version,
            model_name=model_name,
            doc_string=doc_string,
            input_names=input_names,
            output_names=output_names,
        )

    def check(model):
        if verify:
            verify_model(model, inputs, outputs, verify_inputs, rtol=rtol, atol=atol)

    return _build_check_save(convert, check, _count_nodes(outputs), filename, target)


def export_function_onnx(
    fn,
    filename: str | os.PathLike | None = None,
    *,
    opset_version: int = ONNX_OPSET_VERSION,
    model_name: str = "pytensor_function",
    doc_string: str = "",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    verify: bool = False,
    verify_inputs: Sequence | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    target: str | None = None,
) -> onnx.ModelProto:
    """Export a compiled ``pytensor.function`` (its rewritten graph) to ONNX.

    The model has the function's explicit inputs; shared variables are stored in it with
    their current values. Updates of shared variables are not exported (a warning says so).
    Other parameters (``target`` too) are as in :func:`export_onnx`.

    Examples
    --------
    >>> import pytensor, pytensor.tensor as pt
    >>> x = pt.vector("x")
    >>> fn = pytensor.function([x], pt.sqrt(x))
    >>> model = export_function_onnx(fn)
    >>> model.graph.node[0].op_type
    'Sqrt'
    """
    opset_version = check_opset_version(opset_version)
    check_target(target)
    _check_directory(filename)
    fgraph = fn.maker.fgraph
    n_outputs = len(fn.maker.outputs)
    outputs = fgraph.outputs[:n_outputs]
    if len(fgraph.outputs) > n_outputs:
        _log.warning(
            "The function updates %d shared variable(s); the ONNX model computes its "
            "outputs only, with the shared variables' current values stored in it, and does "
            "not export the updates. To export a step with its state, use export_onnx with "
            "the shared variables among the inputs and their new values among the outputs.",
            len(fgraph.outputs) - n_outputs,
        )
    # Convert only what the outputs need: the fgraph also computes the updates, which
    # are not exported, and whose ops (e.g. random number generator updates) may have no
    # ONNX converter. Any topological order is valid for ONNX, whose values are immutable.
    used_vars = set(ancestors(outputs))
    nodes = [node for node in fgraph.toposort() if used_vars.intersection(node.outputs)]
    explicit, constants, shared_values = [], {}, {}
    for var, spec, container in zip(fgraph.inputs, fn.maker.inputs, fn.input_storage):
        if getattr(spec, "shared", False) or isinstance(spec.variable, SharedVariable):
            shared_values[var] = container.data
            if var in used_vars:
                constants[var] = container.data
        else:
            explicit.append(var)

    def convert():
        return fgraph_to_onnx(
            explicit,
            outputs,
            nodes,
            constants=constants,
            opset_version=opset_version,
            model_name=model_name,
            doc_string=doc_string,
            input_names=input_names,
            output_names=output_names,
            # The names of the variables the user compiled, which rewriting may have lost.
            output_name_hints=[getattr(out.variable, "name", None) for out in fn.maker.outputs],
        )

    def check(model):
        if verify:
            reference = _fgraph_reference(fgraph, nodes, n_outputs, shared_values)
            verify_model(
                model,
                explicit,
                outputs,
                verify_inputs,
                rtol=rtol,
                atol=atol,
                reference=reference,
            )

    return _build_check_save(convert, check, len(fgraph.apply_nodes), filename, target)


def _build_check_save(convert: Callable, check: Callable, n_nodes: int, filename, target=None):
    """Convert, run the ONNX checker and ``check`` (verification), then write the file.

    Verification compiles the reference with PyTensor, whose graph walks recurse as deeply
    as the conversion's: both run with the deep-graph stack. Nothing is written unless
    every step succeeds.
    """

    def build():
        model = convert()
        onnx.checker.check_model(model, full_check=True)
        check(model)
        return apply_target(model, target)

    model = _run_with_deep_stack(build, n_nodes)
    if filename is not None:
        path = save_model_atomically(model, filename)
        _log.info(
            "Exported ONNX model to %s (opset %d, %d inputs, %d outputs, %d nodes)",
            path,
            model.opset_import[0].version,
            len(model.graph.input),
            len(model.graph.output),
            len(model.graph.node),
        )
    return model


def _fgraph_reference(fgraph, nodes, n_outputs: int, shared_values: dict) -> Callable:
    """A reference for ``verify``: ``fgraph``'s outputs by PyTensor's Python implementations.

    Not the compiled function itself: calling it would apply its updates to the shared
    variables, and it may run with the ONNX backend being verified. Its graph is run with
    PyTensor's ``PerformLinker`` instead (not recompiled: the compiled graph can hold
    in-place ops, which ``pytensor.function`` refuses), on copies of the inputs, which
    in-place ops may overwrite. Only ``nodes``, those the outputs need, are run: the
    updates may fail on the sample inputs (or have side effects). The reference takes the
    values of the explicit inputs; ``shared_values`` maps the fgraph's shared-variable
    inputs to theirs.
    """
    from pytensor.link.basic import PerformLinker

    def reference(*explicit_values):
        linker = PerformLinker(schedule=lambda _: nodes).accept(fgraph, no_recycling=[])
        # Storage for every output, also the update outputs that are not computed.
        thunk, input_containers, output_containers = linker.make_thunk(
            output_storage=[[None] for _ in fgraph.outputs]
        )
        explicit_values = iter(explicit_values)
        for var, container in zip(fgraph.inputs, input_containers):
            value = shared_values[var] if var in shared_values else next(explicit_values)
            container.storage[0] = np.array(value, copy=True)
        thunk()
        return [container.storage[0] for container in output_containers[:n_outputs]]

    return reference


def compile_onnx(
    inputs: Sequence[Variable],
    outputs: Variable | Sequence[Variable],
    *,
    opset_version: int = ONNX_OPSET_VERSION,
    graph_optimization_level: str = "auto",
    intra_op_num_threads: int | None = None,
    allow_spinning: bool = False,
    providers=None,
    session_options=None,
    **kwargs,
):
    """Compile a PyTensor graph into a function that runs with ONNX Runtime.

    Equivalent to ``pytensor.function(inputs, outputs, mode=onnx_mode(...))``, and it
    also handles very deep graphs. ``kwargs`` go to ``pytensor.function``; the other
    options to :class:`ONNXLinker`.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as pt
    >>> x = pt.vector("x")
    >>> fn = compile_onnx([x], x + 1)
    >>> fn(np.array([1.0, 2.0]))
    array([2., 3.])
    >>> fn.maker.linker.onnx_model.graph.node[0].op_type
    'Add'
    """
    import pytensor

    from pytensor_onnx.mode import onnx_mode

    mode = onnx_mode(
        opset_version=opset_version,
        graph_optimization_level=graph_optimization_level,
        intra_op_num_threads=intra_op_num_threads,
        allow_spinning=allow_spinning,
        providers=providers,
        session_options=session_options,
    )
    return _run_with_deep_stack(
        lambda: pytensor.function(inputs, outputs, mode=mode, **kwargs),
        _count_nodes(_as_output_list(outputs)),
    )


# -- verification ---------------------------------------------------------------------
def _sample_value(var, rng: np.random.Generator) -> np.ndarray:
    shape = tuple(3 if d is None else d for d in getattr(var.type, "shape", ()))
    dtype = np.dtype(var.type.dtype)
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(size=shape) < 0.5
    # In [0, 3): valid indices into sample arrays, whose unknown dimensions have length 3.
    return rng.integers(0, 3, size=shape).astype(dtype)


def _default_tolerance(dtype) -> float:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        # Integers and booleans must match exactly: a relative tolerance would let
        # large integers be off by thousands.
        return 0.0
    return 1e-6 if dtype == np.float64 else 1e-4


def verify_model(model, inputs, outputs, values=None, *, rtol=None, atol=None, reference=None):
    """Run ``model`` in onnxruntime and compare with PyTensor; raise on mismatch."""
    import onnxruntime as ort
    import pytensor
    from pytensor.compile.mode import Mode

    sampled = values is None
    if sampled:
        rng = np.random.default_rng(0)
        values = [_sample_value(var, rng) for var in inputs]
    if len(values) != len(inputs):
        raise ValueError(f"verify_inputs has {len(values)} values for {len(inputs)} inputs")
    values = [np.asarray(v, dtype=var.type.dtype) for v, var in zip(values, inputs)]
    if reference is None:
        # A shared variable exported as an input (a model's state: its value fed per call)
        # is a plain symbolic input of the reference, which PyTensor requires.
        plain = [
            var.type(name=var.name) if isinstance(var, SharedVariable) else var for var in inputs
        ]
        reference = pytensor.function(
            plain,
            outputs,
            mode=Mode(linker="py", optimizer=None),
            on_unused_input="ignore",
            givens=[(var, new) for var, new in zip(inputs, plain) if new is not var],
        )
    try:
        expected = reference(*values)
    except Exception as err:
        if not sampled:
            raise
        raise ValueError(
            "verify=True could not run the graph in PyTensor on random sample inputs "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); pass "
            "verify_inputs=[...] with valid values (e.g. indices in range, matching lengths), "
            "or give the inputs the sizes you know, e.g. pt.tensor('X', shape=(None, 20)): "
            "the samples use them"
        ) from err
    if not isinstance(expected, (list, tuple)):
        expected = [expected]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {i.name: v for i, v in zip(model.graph.input, values)}
    got = session.run(None, feed)
    problems = []
    for out_info, g, e in zip(model.graph.output, got, expected):
        e = np.asarray(e)
        if g.shape != e.shape or g.dtype != e.dtype:
            problems.append(
                f"{out_info.name}: got {g.dtype}{list(g.shape)}, expected {e.dtype}{list(e.shape)}"
            )
            continue
        r = _default_tolerance(e.dtype) if rtol is None else rtol
        a = _default_tolerance(e.dtype) if atol is None else atol
        if e.dtype.kind in "biu" and r == a == 0:
            close = g == e  # exact, also for int64 values beyond float64's 2**53
        else:
            close = np.isclose(g, e, rtol=r, atol=a, equal_nan=True)
        if close.all():
            continue
        # The errors of the mismatched elements only; np.max (unlike np.nanmax) reports
        # NaN where one side is NaN and the other is not, and never warns.
        # Integers as Python ints: exact, and no overflow in the difference.
        as_type = object if e.dtype.kind in "biu" else np.float64
        g_bad, e_bad = g[~close].astype(as_type), e[~close].astype(as_type)
        with np.errstate(all="ignore"):
            abs_err = np.abs(g_bad - e_bad)
            rel_err = abs_err.astype(np.float64) / np.abs(e_bad).astype(np.float64)
        problems.append(
            f"{out_info.name}: {abs_err.size} of {e.size} elements differ, "
            f"max abs error {np.max(abs_err):.3g}, max rel error {np.max(rel_err):.3g} "
            f"(rtol={r}, atol={a})"
        )
    if problems:
        raise ONNXVerificationError(
            "The exported ONNX model disagrees with PyTensor:\n  " + "\n  ".join(problems)
        )
