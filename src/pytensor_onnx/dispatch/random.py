"""Random variables: not exportable yet.

ONNX's own random ops (RandomNormal, ...) give different numbers per run and per runtime,
so a draw could not be reproduced from a seed; a counter-based generator built from ONNX
integer ops is planned. Until then, converting a graph with random variables fails with
a message that says what to export instead.
"""

from pytensor.tensor.random.op import RandomVariable, RandomVariableWithCoreShape

from pytensor_onnx.dispatch.basic import onnx_funcify


@onnx_funcify.register(RandomVariable)
@onnx_funcify.register(RandomVariableWithCoreShape)
def onnx_funcify_RandomVariable(op, node, builder, inputs, **kwargs):
    raise NotImplementedError(
        "random variables cannot be exported to ONNX yet (ONNX has no seeded, reproducible "
        "random numbers); export the deterministic part of the model instead, e.g. its "
        "log-density and gradient"
    )


# Registered to explain the refusal, not to convert: scripts/op_table.py leaves it out.
onnx_funcify_RandomVariable.converts = False
