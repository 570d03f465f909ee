"""Print which (ONNX op, dtype) pairs the installed onnxruntime cannot run.

`pytensor_onnx.dtypes.ORT_MISSING_KERNELS` records the result; rerun this after upgrading
onnxruntime and update that table.

    python scripts/probe_ort_kernels.py
"""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from pytensor_onnx.dtypes import PYTENSOR_TO_ONNX

UNARY = [
    "Neg",
    "Abs",
    "Exp",
    "Log",
    "Sqrt",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Reciprocal",
    "IsNaN",
    "IsInf",
    "Not",
    "Identity",
]
BINARY = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Max",
    "Min",
    "Pow",
    "Mod",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "And",
    "Or",
    "Xor",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
]


def runs(op: str, dtype: str) -> bool:
    names = ["a"] if op in UNARY else ["a", "b"]
    attrs = {"fmod": 1} if op == "Mod" and dtype.startswith("float") else {}
    graph = helper.make_graph(
        [helper.make_node(op, names, ["y"], **attrs)],
        "probe",
        [helper.make_tensor_value_info(n, PYTENSOR_TO_ONNX[dtype], [3]) for n in names],
        [onnx.ValueInfoProto(name="y")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options)
        session.run(None, {n: np.ones(3, dtype) for n in names})
    except Exception:
        return False
    return True


if __name__ == "__main__":
    print(f"onnxruntime {ort.__version__}")
    for op in UNARY + BINARY:
        missing = [dt for dt in PYTENSOR_TO_ONNX if not runs(op, dt)]
        print(f"{op:16s} {' '.join(missing) or '-'}")
