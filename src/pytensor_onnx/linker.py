"""ONNXLinker: runs a PyTensor FunctionGraph as one ONNX Runtime session."""

from __future__ import annotations

import numbers
import re

import numpy as np
import onnx
import onnxruntime as ort
from pytensor.link.basic import JITLinker
from pytensor.link.utils import raise_with_op
from pytensor.scalar.basic import ScalarType

from pytensor_onnx.builder import ONNX_OPSET_VERSION
from pytensor_onnx.dispatch import onnx_funcify
from pytensor_onnx.dispatch.random import generator_to_state, is_rng_type, state_to_generator

_GRAPH_OPTIMIZATION_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}

# onnxruntime's graph optimisation grows super-linearly with graph size, mostly through
# its common-subexpression pass: on graphs whose values feed several nodes, session
# creation with "all" took 0.4 s at 6k ONNX nodes, 1.3 s at 13k, 4.8 s at 25k and 51 s
# at 64k (4.4 s with optimisation disabled); "all" was never measurably faster per call
# than "basic" (benchmarks/bench_core.py). Graphs above this many nodes get the basic
# passes without that one (1.7 s at 25k, 8 s at 64k).
AUTO_FULL_OPTIMIZATION_MAX_NODES = 10_000


def check_opset_version(opset_version: int) -> int:
    """Validate an ONNX opset version for export; return it as an int."""
    newest = onnx.defs.onnx_opset_version()
    # Any integer, also NumPy's (read from a config or an array), but not a bool, float
    # or string: an np.int64(19) used to be rejected with the message "got 19".
    if isinstance(opset_version, numbers.Integral) and not isinstance(opset_version, bool):
        opset_version = int(opset_version)
    if not isinstance(opset_version, int) or not ONNX_OPSET_VERSION <= opset_version <= newest:
        raise ValueError(
            f"opset_version must be an integer from {ONNX_OPSET_VERSION} (what the converters "
            f"target) to {newest} (the newest this onnx knows), got {opset_version!r}"
        )
    return opset_version


class ONNXLinker(JITLinker):
    """A linker that converts the whole graph to ONNX and runs it with ONNX Runtime.

    The model is converted and its ``InferenceSession`` created once, at compile time;
    each call only feeds the inputs to ``session.run``.

    Parameters
    ----------
    opset_version : int
        ONNX opset of the generated model (18 by default).
    graph_optimization_level : {"auto", "disable", "basic", "extended", "all"}
        ONNX Runtime graph optimisation. ``"auto"`` uses ``"all"`` up to
        ``AUTO_FULL_OPTIMIZATION_MAX_NODES`` nodes and ``"basic"`` above, where full
        optimisation takes far longer than it saves.
    intra_op_num_threads : int, optional
        Threads per operator; ONNX Runtime's default (one per core) if not given.
    allow_spinning : bool
        Whether idle ONNX Runtime threads spin. Off by default: spinning threads fight
        with other processes on small machines and made calls several times slower.
    providers : list, optional
        Execution providers, ``["CPUExecutionProvider"]`` by default.
    session_options : onnxruntime.SessionOptions, optional
        Full control; overrides the three options above.

    Attributes
    ----------
    onnx_model : onnx.ModelProto or None
        The converted model, after a function has been compiled with this linker.
    session : onnxruntime.InferenceSession or None
        The session that runs it.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as pt
    >>> from pytensor.compile.mode import Mode
    >>> x = pt.vector("x")
    >>> fn = pytensor.function([x], pt.exp(x), mode=Mode(linker=ONNXLinker(), optimizer=None))
    >>> fn(np.zeros(2))
    array([1., 1.])
    >>> fn.maker.linker.onnx_model.graph.node[0].op_type
    'Exp'
    """

    required_rewrites = ("minimum_compile", "onnx")
    # Rewrites whose results ONNX cannot use: C-only and BLAS ops, fused Composite
    # scalar loops (ONNX Runtime gets the same elementwise nodes either way), in-place
    # variants (ONNX values are immutable) and Scan's C-specific preallocation.
    incompatible_rewrites = (
        "cxx_only",
        "BlasOpt",
        "fusion",
        "local_careduce_fusion",
        "inplace",
        "scan_save_mem_prealloc",
        "scan_reduce_trace_prealloc",
    )

    def __init__(
        self,
        opset_version: int = ONNX_OPSET_VERSION,
        *,
        graph_optimization_level: str = "auto",
        intra_op_num_threads: int | None = None,
        allow_spinning: bool = False,
        providers=None,
        session_options: ort.SessionOptions | None = None,
        allow_gc=None,
        schedule=None,
    ):
        super().__init__(allow_gc=allow_gc, schedule=schedule)
        self.opset_version = check_opset_version(opset_version)
        if graph_optimization_level != "auto" and (
            graph_optimization_level not in _GRAPH_OPTIMIZATION_LEVELS
        ):
            raise ValueError(
                f"graph_optimization_level must be 'auto' or one of "
                f"{sorted(_GRAPH_OPTIMIZATION_LEVELS)}, got {graph_optimization_level!r}"
            )
        self.graph_optimization_level = graph_optimization_level
        self.intra_op_num_threads = intra_op_num_threads
        self.allow_spinning = allow_spinning
        self.providers = providers
        self.session_options = session_options
        self.onnx_model: onnx.ModelProto | None = None
        self.session: ort.InferenceSession | None = None
        self._origins: dict = {}  # ONNX node name -> PyTensor Apply node

    def _settings(self) -> dict:
        return dict(
            opset_version=self.opset_version,
            graph_optimization_level=self.graph_optimization_level,
            intra_op_num_threads=self.intra_op_num_threads,
            allow_spinning=self.allow_spinning,
            providers=self.providers,
            session_options=self.session_options,
            allow_gc=self.allow_gc,
            schedule=self.schedule,
        )

    def __getstate__(self):
        # Pickling a compiled function (as PyMC does to sample in several processes) or
        # deep-copying it pickles its FunctionMaker, linker included. An InferenceSession
        # cannot be pickled; unpickling recompiles the function, which builds a new one.
        state = self.__dict__.copy()
        state["session"] = None
        state["_origins"] = {}  # (refilled when the function is recompiled)
        return state

    def accept(self, fgraph, no_recycling=None, profile=None):
        # The base class re-instantiates itself with default arguments when reused for
        # another graph; keep this linker's settings instead.
        if self.fgraph is not None and self.fgraph is not fgraph:
            return type(self)(**self._settings()).accept(fgraph, no_recycling, profile)
        return super().accept(fgraph, no_recycling, profile)

    def make_session_options(self, n_nodes: int) -> ort.SessionOptions:
        """The ``SessionOptions`` for a model of ``n_nodes`` nodes."""
        if self.session_options is not None:
            return self.session_options
        options = ort.SessionOptions()
        level = self.graph_optimization_level
        if level == "auto":
            level = "all" if n_nodes <= AUTO_FULL_OPTIMIZATION_MAX_NODES else "basic"
            if level == "basic":
                # ORT's common-subexpression elimination, part of "basic", is what grows
                # super-linearly (69 s at 64k nodes whose values feed several nodes, 8 s
                # without it). PyTensor's merge rewrite has already merged the graph's
                # common subexpressions; it only finds duplicates that converters emit.
                options.add_session_config_entry(
                    "optimization.disable_specified_optimizers", "CommonSubexpressionElimination"
                )
        options.graph_optimization_level = _GRAPH_OPTIMIZATION_LEVELS[level]
        if self.intra_op_num_threads is not None:
            options.intra_op_num_threads = self.intra_op_num_threads
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if self.allow_spinning else "0"
        )
        return options

    def fgraph_convert(self, fgraph, input_storage, storage_map, **kwargs):
        self._origins = {}
        self.onnx_model = onnx_funcify(
            fgraph, opset_version=self.opset_version, origins=self._origins
        )
        if not fgraph.outputs:
            # Nothing to compute (e.g. a function that only updates shared variables with
            # its inputs): onnxruntime refuses a graph without outputs.
            return lambda *args: None
        self.session = ort.InferenceSession(
            self.onnx_model.SerializeToString(),
            self.make_session_options(len(self.onnx_model.graph.node)),
            providers=self.providers or ["CPUExecutionProvider"],
        )
        return make_session_runner(self.session, fgraph)

    def jit_compile(self, fn):
        return fn

    def create_jitable_thunk(self, compute_map, order, input_storage, output_storage, storage_map):
        # PyTensor's generic JIT thunk gathers the inputs into *args, calls the function and
        # copies the outputs into storage one by one (about 1 us per call on top of the
        # session's own cost). This one feeds the session straight from PyTensor's storage
        # cells and returns the outputs, which Function uses as they are.
        fgraph = self.fgraph
        run_positional = self.fgraph_convert(
            fgraph, input_storage=input_storage, storage_map=storage_map
        )
        input_cells = [storage_map[var] for var in fgraph.inputs]
        output_cells = [storage_map[var] for var in fgraph.outputs]
        error_node = next((out.owner for out in fgraph.outputs if out.owner is not None), None)

        if self.session is None:  # no outputs

            def thunk():
                return None

        else:
            run_cells = make_session_runner(self.session, fgraph, input_cells)

            def thunk():
                try:
                    outputs = run_cells()
                except Exception as err:
                    culprit = self._failed_apply(err, fgraph)
                    if culprit is not None:
                        err.add_note(f"The failing ONNX node was converted from {culprit}")
                    elif error_node is None:
                        raise
                    raise_with_op(fgraph, culprit or error_node, thunk)
                for cell, value in zip(output_cells, outputs):
                    cell[0] = value
                return outputs

        thunk.inputs = input_cells
        thunk.outputs = output_cells
        thunk.lazy = False
        return [thunk], [error_node] if error_node is not None else [], run_positional

    def _failed_apply(self, err: Exception, fgraph):
        """The PyTensor Apply node whose ONNX node onnxruntime names in ``err``, if known."""
        match = _ORT_NODE_NAME.search(str(err))
        apply = self._origins.get(match.group(1)) if match else None
        return apply if apply in fgraph.apply_nodes else None

    def create_thunk_inputs(self, storage_map):
        return [storage_map[var] for var in self.fgraph.inputs]

    def export_to_file(self, filename) -> None:
        """Write the compiled function's ONNX model to ``filename`` (atomically)."""
        if self.onnx_model is None:
            raise RuntimeError(
                "No ONNX model yet: compile a function with this linker before exporting"
            )
        from pytensor_onnx.export import save_model_atomically

        save_model_atomically(self.onnx_model, filename)


# onnxruntime names the node that failed: "... while running Gather node. Name:'Gather_x' ..."
_ORT_NODE_NAME = re.compile(r"Name:'([^']+)'")


def make_session_runner(session: ort.InferenceSession, fgraph, input_cells=None):
    """Return a callable that runs ``session`` (built from ``fgraph``) and returns its outputs.

    With ``input_cells`` (PyTensor's storage cells, one per input) it is ``run()`` and reads
    the inputs from the cells; without, ``run(*inputs)``. This is the per-call path: it
    builds the input dict onnxruntime needs and calls the session's C++ ``run`` directly,
    skipping the Python wrapper's per-call re-validation (PyTensor has already checked
    every input's type and shape).
    """
    input_names = tuple(i.name for i in session.get_inputs())
    output_names = [o.name for o in session.get_outputs()]
    run = getattr(session, "_sess", session).run
    cells = tuple(input_cells) if input_cells is not None else tuple([None] for _ in input_names)
    named_cells = tuple(zip(input_names, cells, strict=True))
    # PyTensor hands scalar-typed inputs over as NumPy scalars; onnxruntime wants arrays.
    # Random generators are NumPy Generators in PyTensor and [key, counter] states in ONNX.
    converters = {
        name: np.asarray if isinstance(var.type, ScalarType) else generator_to_state
        for name, var in zip(input_names, fgraph.inputs)
        if isinstance(var.type, ScalarType) or is_rng_type(var.type)
    }
    rng_outputs = tuple(i for i, var in enumerate(fgraph.outputs) if is_rng_type(var.type))

    if converters or rng_outputs:

        def run_cells():
            feed = {name: cell[0] for name, cell in named_cells}
            for name, convert in converters.items():
                feed[name] = convert(feed[name])
            outputs = run(output_names, feed, None)
            for i in rng_outputs:
                outputs[i] = state_to_generator(outputs[i])
            return outputs

    elif len(named_cells) == 1:
        # A dict display costs about half a microsecond less per call than a comprehension.
        ((name, cell),) = named_cells

        def run_cells():
            return run(output_names, {name: cell[0]}, None)

    else:

        def run_cells():
            return run(output_names, {name: cell[0] for name, cell in named_cells}, None)

    if input_cells is not None:
        return run_cells

    def run_session(*args):
        for cell, arg in zip(cells, args, strict=True):
            cell[0] = arg
        return run_cells()

    return run_session
