"""Make exported models run in the browser (onnxruntime-web) and say what stops them.

onnxruntime-web's wasm backend (measured: 1.30.0 in Chromium, by the single-op probes in
``tests/runtimes/kernel_probe.py``) has exactly the kernels of onnxruntime's CPU provider
in Python and Node for the ops and dtypes the exporter emits. In particular it runs float64
for the elementwise, reduction, MatMul/Gemm/Einsum, Softmax/LogSoftmax, indexing, scatter,
CumSum, TopK, Range and Cast ops, and it lacks float64 kernels for the ops in
:data:`WEB_MISSING_FLOAT64`, which the exporter's converters already avoid in float64
(they lower them to other ops or compute them in float32). It loads IR versions up to 13
(:data:`WEB_MAX_IR_VERSION`; the exporter writes 10).

:func:`make_web_model` checks a model against these limits and, where the caller allows
it, fixes it: by computing only the blocking ops in float32 (``float64="cast-blocked"``)
or the whole model (``float64="float32"``), which also halves the download and suits
JavaScript's ``Float32Array``. ``export_onnx(..., target="web")`` and
``target="web-float32"`` call it before the file is written.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

__all__ = [
    "TARGETS",
    "WEB_MAX_IR_VERSION",
    "WEB_MISSING_FLOAT64",
    "WebBlocker",
    "WebIncompatibleError",
    "apply_target",
    "find_web_blockers",
    "make_web_model",
]

# Ops onnxruntime-web 1.30 (wasm) cannot run on float64 inputs: "Could not find an
# implementation for <Op>". The same ops lack float64 kernels in onnxruntime 1.32 (Python)
# and onnxruntime-node 1.30. Re-measure with `python -m tests.runtimes.kernel_probe`.
WEB_MISSING_FLOAT64: frozenset[str] = frozenset(
    "Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh Erf NonZero Hardmax Det Mean".split()
)
# onnxruntime(-web, -node) 1.30 reject IR version 14 (onnx 1.23's default) and load 9-13.
WEB_MAX_IR_VERSION = 13

# ``export_onnx(target=...)``: None keeps the model as converted.
TARGETS = {None: None, "web": "keep", "web-float32": "float32"}
_FLOAT64_MODES = ("keep", "cast-blocked", "float32")
# Attributes holding an element type that float64 -> float32 conversion must follow.
_DTYPE_ATTRIBUTES = {"Cast": "to", "EyeLike": "dtype", "Bernoulli": "dtype"}
_DTYPE_ATTRIBUTE_OPS = ("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike")


@dataclasses.dataclass(frozen=True)
class WebBlocker:
    """A node onnxruntime-web cannot run: its op has no kernel for ``dtype``."""

    op_type: str
    node_name: str
    dtype: str
    graph: str

    def __str__(self):
        return f"{self.op_type} on {self.dtype} (node {self.node_name!r} in graph {self.graph!r})"


class WebIncompatibleError(ValueError):
    """The model cannot run in onnxruntime-web; ``blockers`` lists the nodes that stop it."""

    def __init__(self, message: str, blockers: list[WebBlocker] = ()):
        super().__init__(message)
        self.blockers = list(blockers)


def _elem_type_map(graph: onnx.GraphProto, outer: dict[str, int]) -> dict[str, int]:
    types = dict(outer)
    for init in graph.initializer:
        types[init.name] = init.data_type
    for info in [*graph.input, *graph.value_info, *graph.output]:
        if info.type.HasField("tensor_type") and info.type.tensor_type.elem_type:
            types[info.name] = info.type.tensor_type.elem_type
    return types


def _subgraphs(node: onnx.NodeProto):
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def _is_blocker(node: onnx.NodeProto, types: dict[str, int]) -> bool:
    # Every op in WEB_MISSING_FLOAT64 takes its type parameter from its first input.
    return (
        node.domain in ("", "ai.onnx")
        and node.op_type in WEB_MISSING_FLOAT64
        and bool(node.input)
        and types.get(node.input[0]) == TensorProto.DOUBLE
    )


def _walk_blockers(graph, outer, found: list[WebBlocker]) -> None:
    types = _elem_type_map(graph, outer)
    for node in graph.node:
        if _is_blocker(node, types):
            found.append(WebBlocker(node.op_type, node.name, "float64", graph.name))
        for sub in _subgraphs(node):
            _walk_blockers(sub, types, found)


def _inferred(model: onnx.ModelProto) -> onnx.ModelProto:
    return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)


def find_web_blockers(model: onnx.ModelProto) -> list[WebBlocker]:
    """The nodes of ``model`` (subgraphs included) that onnxruntime-web cannot run.

    Element types come from ONNX shape inference; a node whose input type stays unknown
    is not reported.

    Examples
    --------
    >>> from onnx import helper, TensorProto
    >>> graph = helper.make_graph(
    ...     [helper.make_node("Erf", ["x"], ["y"], name="erf")], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [3])],
    ...     [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [3])])
    >>> model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    >>> [str(b) for b in find_web_blockers(model)]
    ["Erf on float64 (node 'erf' in graph 'g')"]
    """
    found: list[WebBlocker] = []
    _walk_blockers(_inferred(model).graph, {}, found)
    return found


# -- float64 -> float32 -----------------------------------------------------------------
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _tensor_to_float32(tensor: onnx.TensorProto) -> None:
    if tensor.data_type != TensorProto.DOUBLE:
        return
    value = numpy_helper.to_array(tensor)
    # Finite values stay finite: lowerings use float64's largest values as thresholds
    # ("x < max" means "x is not +inf"), which float32's largest keeps meaning.
    finite = np.isfinite(value)
    value = np.where(finite, np.clip(value, -_FLOAT32_MAX, _FLOAT32_MAX), value)
    tensor.CopyFrom(numpy_helper.from_array(value.astype(np.float32), tensor.name))


def _type_to_float32(type_proto: onnx.TypeProto) -> None:
    if type_proto.HasField("tensor_type"):
        if type_proto.tensor_type.elem_type == TensorProto.DOUBLE:
            type_proto.tensor_type.elem_type = TensorProto.FLOAT
    elif type_proto.HasField("sequence_type"):
        _type_to_float32(type_proto.sequence_type.elem_type)
    elif type_proto.HasField("optional_type"):
        _type_to_float32(type_proto.optional_type.elem_type)


def _graph_to_float32(graph: onnx.GraphProto) -> None:
    for info in [*graph.input, *graph.value_info, *graph.output]:
        _type_to_float32(info.type)
    for init in graph.initializer:
        _tensor_to_float32(init)
    for node in graph.node:
        dtype_attr = _DTYPE_ATTRIBUTES.get(node.op_type)
        if dtype_attr is None and node.op_type in _DTYPE_ATTRIBUTE_OPS:
            dtype_attr = "dtype"
        for attr in node.attribute:
            if attr.name == dtype_attr and attr.i == TensorProto.DOUBLE:
                attr.i = TensorProto.FLOAT
            elif attr.type == onnx.AttributeProto.TENSOR:
                _tensor_to_float32(attr.t)
            elif attr.type == onnx.AttributeProto.TENSORS:
                for t in attr.tensors:
                    _tensor_to_float32(t)
        for sub in _subgraphs(node):
            _graph_to_float32(sub)


def _remaining_float64(graph: onnx.GraphProto, outer: dict[str, int]) -> list[str]:
    types = _elem_type_map(graph, outer)
    names = [name for name, t in types.items() if t == TensorProto.DOUBLE and name not in outer]
    for node in graph.node:
        for sub in _subgraphs(node):
            names += _remaining_float64(sub, types)
    return names


def _to_float32(model: onnx.ModelProto) -> onnx.ModelProto:
    _graph_to_float32(model.graph)
    left = _remaining_float64(_inferred(model).graph, {})
    if left:
        raise WebIncompatibleError(
            "make_web_model(float64='float32') could not convert every float64 value to "
            f"float32 (an op outside the ONNX domain, or one fixing float64 by an attribute "
            f"this function does not know): {', '.join(sorted(set(left))[:10])}"
        )
    return model


# -- float32 islands around blocking ops --------------------------------------------------
class _Names:
    def __init__(self, model: onnx.ModelProto):
        self.used = set()
        self._collect(model.graph)

    def _collect(self, graph):
        self.used.update(i.name for i in [*graph.input, *graph.output, *graph.initializer])
        for node in graph.node:
            self.used.update(node.input)
            self.used.update(node.output)
            self.used.add(node.name)
            for sub in _subgraphs(node):
                self._collect(sub)

    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name


def _cast_node(names: _Names, src: str, dst: str, to: int) -> onnx.NodeProto:
    return onnx.helper.make_node("Cast", [src], [dst], name=names.fresh(f"{dst}_cast"), to=to)


def _cast_blocked(graph: onnx.GraphProto, outer: dict[str, int], names: _Names) -> None:
    types = _elem_type_map(graph, outer)
    new_nodes = []
    for node in graph.node:
        for sub in _subgraphs(node):
            _cast_blocked(sub, types, names)
        if not _is_blocker(node, types):
            new_nodes.append(node)
            continue
        for i, name in enumerate(node.input):
            if name and types.get(name) == TensorProto.DOUBLE:
                cast_name = names.fresh(f"{name}_float32")
                new_nodes.append(_cast_node(names, name, cast_name, TensorProto.FLOAT))
                node.input[i] = cast_name
        back = []
        for i, name in enumerate(node.output):
            if name and types.get(name) == TensorProto.DOUBLE:
                computed = names.fresh(f"{name}_float32")
                node.output[i] = computed
                back.append(_cast_node(names, computed, name, TensorProto.DOUBLE))
        new_nodes.append(node)
        new_nodes.extend(back)
    del graph.node[:]
    graph.node.extend(new_nodes)


def _cast_blocked_model(model: onnx.ModelProto) -> onnx.ModelProto:
    # Output types of the blocking nodes come from shape inference; the inferred
    # value_info is then dropped again, as the float32 intermediates would contradict it.
    inferred = _inferred(model)
    _cast_blocked(inferred.graph, {}, _Names(inferred))
    _clear_value_info(inferred.graph)
    return inferred


def _clear_value_info(graph: onnx.GraphProto) -> None:
    del graph.value_info[:]
    for node in graph.node:
        for sub in _subgraphs(node):
            _clear_value_info(sub)


# -- public -------------------------------------------------------------------------------
def make_web_model(model: onnx.ModelProto, *, float64: str = "keep") -> onnx.ModelProto:
    """Return a copy of ``model`` that onnxruntime-web (wasm) can run, or raise.

    Parameters
    ----------
    model : onnx.ModelProto
        An ONNX model, e.g. from :func:`pytensor_onnx.export_onnx`. It is not modified.
    float64 : {"keep", "cast-blocked", "float32"}
        What to do with float64 computations:

        * ``"keep"``: keep every dtype; raise :class:`WebIncompatibleError` naming the
          ops that have no float64 kernel in onnxruntime-web (:data:`WEB_MISSING_FLOAT64`).
        * ``"cast-blocked"``: compute only those ops in float32 (Cast in, Cast out); the
          inputs, outputs and every other op keep float64.
        * ``"float32"``: convert the whole model (inputs, outputs, initializers, constants,
          Cast targets, subgraphs) to float32. Results carry float32 rounding; finite
          constants beyond float32's range become float32's largest finite values.

    Raises
    ------
    WebIncompatibleError
        If the IR version is above :data:`WEB_MAX_IR_VERSION`, or ``float64="keep"`` and
        some op has no float64 kernel in onnxruntime-web (the error's ``blockers`` lists
        them), or ``float64="float32"`` cannot convert some value.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from pytensor_onnx import export_onnx
    >>> x = pt.vector("x", dtype="float64")
    >>> model = export_onnx([x], pt.exp(x) + 1)
    >>> web = make_web_model(model, float64="float32")
    >>> web.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    True
    >>> export_onnx([x], pt.exp(x) + 1, target="web").ir_version
    10
    """
    if float64 not in _FLOAT64_MODES:
        raise ValueError(f"float64 must be one of {_FLOAT64_MODES}, got {float64!r}")
    if model.ir_version > WEB_MAX_IR_VERSION:
        raise WebIncompatibleError(
            f"onnxruntime-web loads ONNX IR versions up to {WEB_MAX_IR_VERSION}; this model "
            f"has IR version {model.ir_version} (pytensor_onnx exports IR version 10)"
        )
    web = onnx.ModelProto()
    web.CopyFrom(model)
    if float64 == "float32":
        web = _to_float32(web)
    elif float64 == "cast-blocked":
        web = _cast_blocked_model(web)
    blockers = find_web_blockers(web)
    if blockers:
        listing = "\n  ".join(str(b) for b in blockers)
        raise WebIncompatibleError(
            f"onnxruntime-web (wasm) has no float64 kernel for {len(blockers)} node(s) of "
            f"this model:\n  {listing}\nPass float64='cast-blocked' to compute just these "
            "in float32, or float64='float32' (export_onnx(target='web-float32')) to "
            "convert the whole model.",
            blockers,
        )
    if float64 != "keep":
        onnx.checker.check_model(web, full_check=True)
    return web


def apply_target(model: onnx.ModelProto, target: str | None) -> onnx.ModelProto:
    """``export_onnx``'s ``target``: None (as converted), "web" or "web-float32"."""
    check_target(target)
    if target is None:
        return model
    return make_web_model(model, float64=TARGETS[target])


def check_target(target) -> None:
    if target not in TARGETS:
        choices = ", ".join(repr(t) for t in TARGETS)
        raise ValueError(f"target must be one of {choices}; got {target!r}")
