"""The one object that builds an ONNX graph: value names, initializers, nodes, value infos.

Converters never touch protobufs directly. They receive a :class:`GraphBuilder` and the
ONNX names of their node's inputs, call :meth:`GraphBuilder.add_node` /
:meth:`GraphBuilder.constant` / :meth:`GraphBuilder.cast`, and return the ONNX names of
their node's outputs. Every operation here is O(1) amortised, so converting a graph is
linear in its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import onnx
from onnx import helper, numpy_helper
from pytensor.graph.basic import Constant

from pytensor_onnx.dtypes import onnx_dtype

# IR version written into every model. onnx >= 1.23 defaults to IR 14, which
# onnxruntime-web/-node 1.30 reject (they load at most IR 13); every runtime we support
# loads IR 10, the version that introduced opsets 21/22.
ONNX_IR_VERSION = 10

ONNX_OPSET_VERSION = 18


def _ir_version_for(opset_version: int) -> int:
    """The IR version to write: ours, unless the opset needs a newer one."""
    needed = helper.find_min_ir_version_for([helper.make_opsetid("", opset_version)])
    return max(ONNX_IR_VERSION, needed)


def make_value_info(var, name: str, *, symbolic_dims: bool = True) -> onnx.ValueInfoProto:
    """Create the ONNX ``ValueInfoProto`` (name, element type, shape) of a PyTensor variable.

    Dimensions that PyTensor knows statically become fixed ONNX dims. Unknown dimensions
    become named symbolic dims ``"{name}_dim{i}"`` (one name per input dimension, so that
    independent inputs are never forced to share a size), or anonymous dims when
    ``symbolic_dims`` is false.

    Parameters
    ----------
    var : Variable
        A PyTensor tensor (or scalar) variable.
    name : str
        The ONNX name of the value.
    symbolic_dims : bool
        Name unknown dimensions (for graph inputs) or leave them anonymous.

    Returns
    -------
    onnx.ValueInfoProto

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> info = make_value_info(pt.matrix("x", dtype="float32", shape=(None, 3)), "x")
    >>> [d.dim_param or d.dim_value for d in info.type.tensor_type.shape.dim]
    ['x_dim0', 3]
    """
    shape = getattr(var.type, "shape", None)
    if shape is None:
        if not hasattr(var.type, "dtype"):
            raise TypeError(
                f"Cannot export variable {name!r} of type {var.type}: ONNX export supports "
                "tensor and scalar variables only."
            )
        shape = ()  # ScalarType: a 0-d tensor in ONNX
    dims = [
        int(d) if d is not None else (f"{name}_dim{i}" if symbolic_dims else None)
        for i, d in enumerate(shape)
    ]
    elem_type = onnx_dtype(var.type.dtype, what=f"variable {name!r}")
    return helper.make_tensor_value_info(name, elem_type, dims)


class GraphBuilder:
    """Accumulates an ONNX graph while a PyTensor graph is converted.

    Parameters
    ----------
    opset_version : int
        The ONNX opset the converters target.

    Examples
    --------
    >>> import numpy as np
    >>> b = GraphBuilder()
    >>> two = b.constant(np.float64(2.0))
    >>> y = b.add_node("Mul", ["x", two])
    >>> [n.op_type for n in b.nodes]
    ['Mul']
    """

    def __init__(self, opset_version: int = ONNX_OPSET_VERSION):
        self.opset_version = opset_version
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._used_names: set[str] = set()
        self._next_suffix: dict[str, int] = {}
        self._constants: dict[tuple, str] = {}
        self._constant_arrays: dict[str, np.ndarray] = {}  # initializer name -> value
        self._casts: dict[tuple[str, str], str] = {}  # (value, dtype) -> cast value
        self._values: dict = {}  # PyTensor Variable -> ONNX name
        self._model_passes: list = []  # run on the finished graph by make_model
        # The PyTensor Apply node being converted, and the one each ONNX node came from:
        # onnxruntime's errors name ONNX nodes, users know PyTensor's.
        self.converting = None
        self.origins: dict[str, object] = {}

    # -- names -----------------------------------------------------------------------
    def fresh_name(self, hint: str) -> str:
        """Return a value name based on ``hint`` that no other value in the graph has."""
        if hint not in self._used_names:
            self._used_names.add(hint)
            return hint
        suffix = self._next_suffix.get(hint, 1)
        while f"{hint}_{suffix}" in self._used_names:
            suffix += 1
        self._next_suffix[hint] = suffix + 1
        name = f"{hint}_{suffix}"
        self._used_names.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim ``name`` exactly (graph inputs and outputs); fail if it is taken."""
        if name in self._used_names:
            raise ValueError(f"The ONNX name {name!r} is used twice; choose distinct names.")
        self._used_names.add(name)

    # -- PyTensor variables ------------------------------------------------------------
    def bind(self, var, name: str) -> None:
        """Record that PyTensor variable ``var`` is ONNX value ``name``."""
        self._values[var] = name

    @contextmanager
    def scoped_bindings(self, variables):
        """Forget, on exit, the bindings of ``variables`` (an inner graph's values), and
        restore those they replaced: the same inner graph may be inlined several times,
        and converters look values up while it is (Subtensor reads its slice bounds)."""
        saved = {var: self._values[var] for var in variables if var in self._values}
        try:
            yield
        finally:
            for var in variables:
                self._values.pop(var, None)
            self._values.update(saved)

    def value(self, var) -> str | None:
        """The ONNX name of PyTensor variable ``var`` (constants become initializers).

        None for a value with no ONNX equivalent: a constant that is not a tensor (the
        ``None`` of an optional input, a slice, a random generator), or a variable bound
        to None. Converters of ops with such inputs read them from ``node.inputs``.
        """
        if var in self._values:
            return self._values[var]
        if not isinstance(var, Constant):
            raise KeyError(f"Variable {var} has no ONNX value yet")
        if hasattr(var.type, "dtype"):
            name = self.constant(np.asarray(var.data, dtype=var.type.dtype))
        else:
            name = None
        self._values[var] = name
        return name

    # -- graph content -----------------------------------------------------------------
    def constant(self, value, dtype=None, hint: str | None = None) -> str:
        """Add ``value`` as an initializer (identical constants share one) and return its name.

        ``hint`` names a new initializer (default ``"const"``).
        """
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        name = self._constants.get(key)
        if name is None:
            onnx_dtype(array.dtype, what="constant")
            name = self.fresh_name(hint or "const")
            self.initializers.append(numpy_helper.from_array(array, name=name))
            self._constants[key] = name
            self._constant_arrays[name] = array
        return name

    def int64(self, value) -> str:
        """An int64 constant (a scalar, or an array from a list): shapes, axes, indices."""
        return self.constant(np.asarray(value, dtype=np.int64))

    def constant_value(self, name: str) -> np.ndarray | None:
        """The value of ``name`` if it is a constant (an initializer), else None.

        Converters use it to fold work on constants at conversion time instead of emitting
        nodes that every runtime would recompute (or fold) when loading the model.
        """
        return self._constant_arrays.get(name)

    def add_node(
        self,
        op_type: str,
        inputs: Sequence[str],
        *,
        n_outputs: int = 1,
        hint: str | None = None,
        domain: str = "",
        **attributes,
    ) -> str | tuple[str, ...]:
        """Append an ONNX node and return the name of its output (a tuple if several).

        ``attributes`` become ONNX node attributes (``perm=[1, 0]``, ``fmod=1``, ...).
        """
        base = hint or op_type.lower()
        outputs = [self.fresh_name(base) for _ in range(n_outputs)]
        name = f"{op_type}_{outputs[0]}"
        self.nodes.append(
            helper.make_node(
                op_type, list(inputs), outputs, name=name, domain=domain or None, **attributes
            )
        )
        if self.converting is not None:
            self.origins[name] = self.converting
        return outputs[0] if n_outputs == 1 else tuple(outputs)

    def cast(self, name: str, from_dtype: str, to_dtype: str) -> str:
        """Cast value ``name`` from ``from_dtype`` to ``to_dtype``.

        No node if the dtypes match; a constant becomes a constant of the new dtype (NumPy's
        cast, which is PyTensor's); a value already cast to ``to_dtype`` is reused.
        """
        if from_dtype == to_dtype:
            return name
        key = (name, to_dtype)
        cast = self._casts.get(key)
        if cast is None:
            array = self._constant_arrays.get(name)
            if array is not None:
                with np.errstate(all="ignore"):
                    cast = self.constant(array.astype(to_dtype))
            else:
                cast = self.add_node("Cast", [name], to=onnx_dtype(to_dtype), hint="cast")
            self._casts[key] = cast
        return cast

    @contextmanager
    def subgraph(self):
        """Collect the nodes of a ``Loop``/``If`` body emitted inside the ``with`` block.

        Yields the list the body's nodes go to. Value names stay unique across both
        graphs, and constants stay initializers of the main graph, which a body may read.
        Values computed in the body exist only there: casts made in it are forgotten after.

        Examples
        --------
        >>> b = GraphBuilder()
        >>> with b.subgraph() as body_nodes:
        ...     doubled = b.add_node("Add", ["state", "state"])
        >>> [n.op_type for n in body_nodes], b.nodes
        (['Add'], [])
        """
        outer_nodes, outer_casts = self.nodes, self._casts
        self.nodes, self._casts = [], dict(outer_casts)
        try:
            yield self.nodes
        finally:
            self.nodes, self._casts = outer_nodes, outer_casts

    def loop(
        self,
        trips: str,
        keep_going: str,
        carried: Sequence[tuple[str, str]],
        step,
        *,
        scan_dtypes: Sequence[str] = (),
        hint: str = "loop",
    ) -> list[str]:
        """Emit an ONNX ``Loop``; return its final carried values, then its scan outputs.

        ``trips`` is an int64 scalar value (or "" for no limit), ``keep_going`` a bool scalar
        value (or "" for always); ``carried`` lists ``(initial value, dtype)``. The body is
        ``step(iteration, state) -> (keep_going, next_state, scan_values)``, built inside
        :meth:`subgraph` with ``iteration`` the int64 step number and ``keep_going`` None to
        go on; it may read any outer value. Each scan output (of ``scan_dtypes``) stacks
        the step's value on a new first axis.

        Examples
        --------
        >>> b = GraphBuilder()
        >>> three = b.constant(np.int64(3))
        >>> (total,) = b.loop(three, "", [("x", "float64")], lambda i, s: (None, s, []))
        >>> [n.op_type for n in b.nodes]
        ['Loop']
        """
        iteration = self.fresh_name(f"{hint}_iteration")
        condition = self.fresh_name(f"{hint}_condition")
        state = [self.fresh_name(f"{hint}_state") for _ in carried]
        with self.subgraph() as body_nodes:
            go_on, next_state, scan_values = step(iteration, list(state))
            if go_on is None:
                go_on = condition
            computed = {name for node in body_nodes for name in node.output}
            # A body output must be computed in the body (not be an input, an outer value or
            # a constant), and be one output only: others go out through an Identity.
            outputs = []
            for name in (go_on, *next_state, *scan_values):
                if name not in computed or name in outputs:
                    name = self.add_node("Identity", [name])
                outputs.append(name)
        dtypes = [dtype for _, dtype in carried]

        def info(name, dtype):
            return helper.make_tensor_value_info(name, onnx_dtype(dtype), None)

        body = helper.make_graph(
            body_nodes,
            self.fresh_name(f"{hint}_body"),
            [
                helper.make_tensor_value_info(iteration, onnx.TensorProto.INT64, []),
                helper.make_tensor_value_info(condition, onnx.TensorProto.BOOL, []),
                *(info(n, d) for n, d in zip(state, dtypes)),
            ],
            [
                helper.make_tensor_value_info(outputs[0], onnx.TensorProto.BOOL, []),
                *(info(n, d) for n, d in zip(outputs[1:], [*dtypes, *scan_dtypes])),
            ],
        )
        results = self.add_node(
            "Loop",
            [trips, keep_going, *(name for name, _ in carried)],
            n_outputs=len(carried) + len(scan_dtypes),
            hint=hint,
            body=body,
        )
        return [results] if isinstance(results, str) else list(results)

    def add_input(self, var, name: str) -> None:
        """Declare graph input ``name`` (already reserved) for PyTensor variable ``var``."""
        self.inputs.append(make_value_info(var, name))
        self.bind(var, name)

    def add_output(self, var, name: str) -> None:
        """Declare graph output ``name`` (already reserved) holding PyTensor variable ``var``.

        The output gets its own Identity node, so that graph inputs, constants and values
        that appear as several outputs can all be outputs under their own names.
        """
        # The value info first: it raises a TypeError naming an output that ONNX cannot
        # represent (a random generator, a complex tensor), which has no value either.
        info = make_value_info(var, name, symbolic_dims=False)
        self.nodes.append(
            helper.make_node("Identity", [self.value(var)], [name], name=f"Identity_{name}")
        )
        self.outputs.append(info)

    def add_model_pass(self, model_pass) -> None:
        """Have :meth:`make_model` call ``model_pass(graph)`` on the finished (pruned)
        ``GraphProto``, once however often it is added: for rewrites that need the whole
        graph, such as moving the work only one branch of an ``If`` reads into it."""
        if model_pass not in self._model_passes:
            self._model_passes.append(model_pass)

    def make_model(
        self, *, graph_name: str = "pytensor_graph", doc_string: str = ""
    ) -> onnx.ModelProto:
        """Assemble the accumulated graph into a ``ModelProto``.

        Nodes whose results no output needs (e.g. the conditions of dropped Asserts) and
        initializers no node reads are left out.
        """
        from pytensor_onnx import __version__

        nodes, used = _live_nodes(self.nodes, [o.name for o in self.outputs])
        initializers = [t for t in self.initializers if t.name in used]
        graph = helper.make_graph(
            nodes, graph_name, self.inputs, self.outputs, initializer=initializers
        )
        for model_pass in self._model_passes:
            model_pass(graph)
        model = helper.make_model(
            graph,
            producer_name="pytensor-onnx",
            producer_version=__version__,
            opset_imports=[helper.make_opsetid("", self.opset_version)],
            ir_version=_ir_version_for(self.opset_version),
        )
        if doc_string:
            model.doc_string = doc_string
        return model


def _live_nodes(nodes, output_names) -> tuple[list[onnx.NodeProto], set[str]]:
    """The nodes that outputs depend on (in their order), and every value name they read."""
    used = set(output_names)
    live = []
    for node in reversed(nodes):
        if any(name in used for name in node.output):
            live.append(node)
            used.update(_names_read(node))
    live.reverse()
    return live, used


def _names_read(node: onnx.NodeProto):
    """The value names a node reads: its inputs, and outer values its subgraphs use."""
    yield from node.input
    for attribute in node.attribute:
        for graph in (
            [attribute.g, *attribute.graphs]
            if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            else []
        ):
            for inner in graph.node:
                yield from _names_read(inner)
