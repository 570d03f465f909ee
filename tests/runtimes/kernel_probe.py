"""Single-op ONNX models that probe which (op, dtype) kernels a runtime has.

``probe_models(dtype)`` returns, for each ONNX op the exporter emits (and a few it may
emit), a one-node opset-18 model computing in ``dtype`` with sample inputs. The runtime
tests run them in onnxruntime (Python), onnxruntime-node and onnxruntime-web, and check
the float64 findings recorded in :data:`pytensor_onnx.web.WEB_MISSING_FLOAT64`.

Run directly to print the table for every runtime installed:

    python -m tests.runtimes.kernel_probe
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pytensor_onnx.dtypes import onnx_dtype

UNARY = (
    "Abs Neg Exp Log Sqrt Floor Ceil Round Sign Reciprocal Sin Cos Tan Asin Acos Atan Sinh "
    "Cosh Tanh Asinh Acosh Atanh Erf Sigmoid Softplus Softsign Relu Elu Selu LeakyRelu "
    "HardSigmoid IsNaN IsInf Identity NonZero Hardmax Softmax LogSoftmax Det Shape Size "
    "Flatten"
).split()
BINARY = (
    "Add Sub Mul Div Pow Max Min Mod Sum Mean Equal Less Greater LessOrEqual GreaterOrEqual "
    "MatMul PRelu"
).split()
REDUCE = (
    "ReduceSum ReduceMax ReduceMin ReduceProd ReduceMean ReduceLogSumExp ReduceLogSum "
    "ReduceL1 ReduceL2 ReduceSumSquare"
).split()


def _i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _specs(x, y):
    """Op -> (inputs, attributes). ``x``/``y`` are positive 2x2 samples of the dtype."""
    dtype = x.dtype
    in_unit = (x / 8).astype(dtype)  # in (0, 1): valid for Asin, Acos, Atanh
    at_least_1 = (x + 1).astype(dtype)  # for Acosh
    scalar = np.asarray(1, dtype)
    specs = {op: ([x], {}) for op in UNARY}
    specs.update(Asin=([in_unit], {}), Acos=([in_unit], {}), Atanh=([in_unit], {}))
    specs.update(Acosh=([at_least_1], {}))
    specs.update({op: ([x, y], {}) for op in BINARY})
    specs["Mod"] = ([x, y], {"fmod": 1} if dtype.kind == "f" else {})
    specs.update({op: ([x, _i64([1])], {"keepdims": 0}) for op in REDUCE})
    specs.update(
        ArgMax=([x], {"axis": 1}),
        ArgMin=([x], {"axis": 1}),
        Where=([np.array([[True, False], [False, True]]), x, y], {}),
        Clip=([x, scalar, (scalar * 3).astype(dtype)], {}),
        Gemm=([x, y], {}),
        Einsum=([x, y], {"equation": "ij,jk->ik"}),
        CumSum=([x, _i64(1)], {}),
        TopK=([x, _i64([1])], {}),
        Transpose=([x], {"perm": [1, 0]}),
        Reshape=([x, _i64([4])], {}),
        Squeeze=([x[:1], _i64([0])], {}),
        Unsqueeze=([x, _i64([0])], {}),
        Expand=([x[:1], _i64([3, 2])], {}),
        Tile=([x, _i64([2, 1])], {}),
        Concat=([x, y], {"axis": 0}),
        Split=([x], {"axis": 0, "num_outputs": 2}),
        Slice=([x, _i64([0]), _i64([1]), _i64([1])], {}),
        Pad=([x, _i64([1, 0, 0, 0])], {}),
        Trilu=([x], {}),
        Gather=([x, _i64([1, 0, 1])], {"axis": 0}),
        GatherElements=([x, _i64([[1, 0], [0, 0]])], {"axis": 0}),
        GatherND=([x, _i64([[1, 0]])], {}),
        ScatterND=([x, _i64([[0, 1]]), y[0, :1]], {}),
        ScatterElements=([x, _i64([[1, 0]]), y[:1]], {"axis": 0, "reduction": "add"}),
        Compress=([x, np.array([True, False])], {"axis": 0}),
        Range=([np.asarray(0, dtype), (scalar * 3).astype(dtype), scalar], {}),
        ConstantOfShape=(
            [_i64([2, 3])],
            {"value": helper.make_tensor("v", onnx_dtype(dtype), [1], [1])},
        ),
        CastTo=([x.astype(np.float32)], {"to": onnx_dtype(dtype)}),
        CastFrom=([x], {"to": onnx.TensorProto.FLOAT}),
    )
    return specs


def _model(op: str, inputs, attributes, dtype: str) -> onnx.ModelProto:
    names = [f"in{i}" for i in range(len(inputs))]
    n_outputs = {"Split": 2, "TopK": 2}.get(op, 1)
    outputs = [f"out{i}" for i in range(n_outputs)]
    # CastTo/CastFrom: Cast from/to float32, the web target's fallback for float64 ops.
    op_type = "Cast" if op.startswith("Cast") else op
    value_infos = [
        helper.make_tensor_value_info(n, onnx_dtype(v.dtype), list(v.shape))
        for n, v in zip(names, inputs)
    ]
    node = helper.make_node(op_type, names, outputs, name=op, **attributes)
    graph = helper.make_graph(
        [node], f"probe_{op}", value_infos, [onnx.ValueInfoProto(name=o) for o in outputs]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    # Typed outputs (inferred), so that the probes pass onnx.checker's full check.
    return onnx.shape_inference.infer_shapes(model, strict_mode=False)


def probe_models(dtype: str) -> list[tuple[str, onnx.ModelProto, list[np.ndarray]]]:
    """``(op, model, input values)`` for every probed op, computing in ``dtype``."""
    x = np.array([[1.5, 2.0], [3.0, 0.5]], dtype=dtype)
    y = np.array([[0.25, 1.0], [2.0, 1.5]], dtype=dtype)
    probes = []
    for op, (inputs, attributes) in _specs(x, y).items():
        inputs = [np.asarray(v) for v in inputs]
        probes.append((op, _model(op, inputs, attributes, dtype), inputs))
    return probes


def combined_probe_model(
    probes: list[tuple[str, onnx.ModelProto, list[np.ndarray]]],
) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """One model holding every probe's node side by side (names prefixed by the op).

    A runtime loads it only if it has every kernel: the tests run the ops expected to work
    as one model (one session, instead of one per op) and the others one by one.
    """
    nodes, inputs, outputs, values = [], [], [], []
    for op, model, vals in probes:
        node = onnx.NodeProto()
        node.CopyFrom(model.graph.node[0])
        node.input[:] = [f"{op}_{n}" for n in node.input]
        node.output[:] = [f"{op}_{n}" for n in node.output]
        nodes.append(node)
        for info in model.graph.input:
            renamed = onnx.ValueInfoProto()
            renamed.CopyFrom(info)
            renamed.name = f"{op}_{info.name}"
            inputs.append(renamed)
        outputs += [onnx.ValueInfoProto(name=n) for n in node.output]
        values += vals
    graph = helper.make_graph(nodes, "probes", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    return model, values


def runs_in_onnxruntime(model: onnx.ModelProto, inputs) -> str | None:
    """None if Python onnxruntime runs ``model``, else its error message."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options)
        names = [i.name for i in session.get_inputs()]
        session.run(None, dict(zip(names, inputs)))
    except Exception as err:
        return str(err).splitlines()[0]
    return None


if __name__ == "__main__":
    import sys
    import tempfile
    from pathlib import Path

    from tests.runtimes import harness

    dtypes = sys.argv[1:] or ["float64", "float32"]
    with tempfile.TemporaryDirectory() as tmp:
        cases, table = [], {}
        for dtype in dtypes:
            for op, model, inputs in probe_models(dtype):
                path = Path(tmp, f"{op}-{dtype}.onnx")
                onnx.save(model, path)
                key = f"{op}-{dtype}"
                table[key] = {"python": runs_in_onnxruntime(model, inputs)}
                names = [i.name for i in model.graph.input]
                cases.append(harness.case(key, str(path), names, inputs))
        node = harness.decode_results(harness.run_node(cases)["results"])
        web_cases = [{**c, "model": harness.MODELS_PREFIX + Path(c["model"]).name} for c in cases]
        with harness.serve(Path(tmp)) as url:
            web = harness.decode_results(
                harness.run_browser(url, runner_cases=web_cases)["runner"]["results"]
            )
        for key in table:
            table[key]["node"] = node[key] if isinstance(node[key], str) else None
            table[key]["web"] = web[key] if isinstance(web[key], str) else None
        print(f"{'op-dtype':28s} python node web   (x = fails)")
        for key, row in table.items():
            marks = ["x" if row[r] else "." for r in ("python", "node", "web")]
            print(
                f"{key:28s} {'      '.join(marks)}   {row['web'] or row['node'] or row['python'] or ''}"[
                    :200
                ]
            )
