"""OpFromGraph, inlined: user-defined ones and PyTensor's OpFromGraph subclasses (Einsum,
KroneckerProduct, Pad), against PyTensor's Python linker.

``RAW`` compiles without rewrites, so the OpFromGraph reaches its converter (rewrites may
inline or replace it).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.builders import OpFromGraph
from pytensor.compile.mode import Mode

from pytensor_onnx import ONNXLinker, onnx_funcify
from pytensor_onnx.builder import GraphBuilder
from tests.test_basic import compare_onnx_and_py, get_onnx_node_types

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def python_inner_functions():
    # The reference (Python linker) runs an OpFromGraph's inner graph as a function compiled
    # in the default mode: Numba on pytensor 3, whose JIT compilation takes seconds per op.
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        yield


def compare(inputs, outputs, values, mode=RAW):
    fn, _ = compare_onnx_and_py(inputs, outputs, values, onnx_mode=mode)
    return fn


RNG = np.random.default_rng(0)


def normal(*shape, dtype="float64"):
    return RNG.normal(size=shape).astype(dtype)


# -- user-defined OpFromGraph -------------------------------------------------------------
def affine_op():
    a, x, b = pt.scalar("a"), pt.vector("x"), pt.vector("b")
    return OpFromGraph([a, x, b], [a * x + b, pt.exp(x) + 1.0])


def test_applied_twice_and_chained():
    # The same op applied twice, once to the other's output: each application has its own
    # inner values.
    op = affine_op()
    a, x, b = pt.scalar("a"), pt.vector("x"), pt.vector("b")
    first, aux = op(a, x, b)
    second, aux2 = op(a * 2, first, x)
    fn = compare([a, x, b], [first, second, aux, aux2], [np.float64(1.5), normal(4), normal(4)])
    assert get_onnx_node_types(fn).count("Exp") == 2


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtypes_and_shapes(dtype, static):
    x = pt.matrix("x", dtype=dtype, shape=(3, 2) if static else (None, None))
    inner_x = x.type()
    op = OpFromGraph([inner_x], [pt.tanh(inner_x).sum(axis=0)])
    compare([x], op(x), [normal(3, 2, dtype=dtype)])
    compare([x], op(x), [normal(0, 2, dtype=dtype)] if not static else [normal(3, 2, dtype=dtype)])


def test_outputs_that_are_inputs_or_constants():
    x, y = pt.vector("x"), pt.vector("y")
    op = OpFromGraph([x, y], [y, pt.constant(np.array([1.0, 2.0])), x + y])
    a, b = pt.vector("a"), pt.vector("b")
    compare([a, b], list(op(a, b)), [normal(2), normal(2)])


def test_nested():
    x = pt.vector("x")
    inner = OpFromGraph([x], [x * 2.0])
    y = pt.vector("y")
    outer = OpFromGraph([y], [inner(y) + inner(inner(y))])
    z = pt.vector("z")
    compare([z], outer(z) + inner(z), [normal(3)])


def test_shared_variable_inside():
    w = pytensor.shared(np.array([0.5, -1.0, 2.0]), name="w")
    x = pt.vector("x")
    op = OpFromGraph([x], [x * w])
    z = pt.vector("z")
    compare([z], op(z) + op(z * 2), [normal(3)])


def test_inner_values_do_not_leak():
    op = affine_op()
    a, x, b = pt.scalar("a"), pt.vector("x"), pt.vector("b")
    node = op(a, x, b)[0].owner
    builder = GraphBuilder()
    onnx_funcify(op, node=node, builder=builder, inputs=["a", "x", "b"])
    for var in [*op.fgraph.inputs, *op.fgraph.outputs]:
        with pytest.raises(KeyError):
            builder.value(var)


def test_unsupported_inner_op_is_named():
    class NoConverter(pytensor.graph.op.Op):
        def make_node(self, x):
            return pytensor.graph.basic.Apply(self, [x], [x.type()])

        def perform(self, node, inputs, outputs):
            outputs[0][0] = inputs[0]

    x = pt.vector("x")
    op = OpFromGraph([x], [NoConverter()(x) + 1])
    z = pt.vector("z")
    with pytest.raises(NotImplementedError, match="OpFromGraph.*inner op NoConverter"):
        pytensor.function([z], op(z), mode=RAW)


# -- PyTensor's OpFromGraph subclasses ----------------------------------------------------
@pytest.mark.parametrize(
    "subscripts, shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 2)]),
        ("ij,ij->", [(3, 4), (3, 4)]),
        ("bij,bjk->bki", [(2, 3, 4), (2, 4, 5)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ii->i", [(3, 3)]),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_einsum(subscripts, shapes, dtype):
    inputs = [pt.tensor(f"x{i}", dtype=dtype, shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    out = pt.einsum(subscripts, *inputs)
    assert isinstance(out.owner.op, OpFromGraph)
    compare(inputs, out, [normal(*s, dtype=dtype) for s in shapes])


def test_einsum_with_rewrites():
    x, y = pt.matrix("x"), pt.matrix("y")
    compare([x, y], pt.einsum("ij,kj->ik", x, y), [normal(3, 4), normal(2, 4)], mode=None)


@pytest.mark.parametrize("shapes", [((2, 3), (4, 5)), ((1, 2), (3, 1)), ((2, 2), (0, 3))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kron(shapes, dtype):
    x, y = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype)
    out = pt.linalg.kron(x, y)
    assert isinstance(out.owner.op, OpFromGraph)
    compare([x, y], out, [normal(*shapes[0], dtype=dtype), normal(*shapes[1], dtype=dtype)])


@pytest.mark.parametrize(
    "mode, kwargs",
    [
        ("constant", {"constant_values": 1.5}),
        ("constant", {}),
        ("edge", {}),
        ("wrap", {}),
        ("reflect", {}),  # inner Scan (converted by dispatch/scan.py)
        ("symmetric", {}),
        ("linear_ramp", {"end_values": -2.0}),
        ("mean", {}),
        ("maximum", {}),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pad(mode, kwargs, dtype):
    v, m = pt.vector("v", dtype=dtype), pt.matrix("m", dtype=dtype)
    for x, pad_width, value in [
        (v, (2, 3), normal(5, dtype=dtype)),
        (m, ((1, 0), (2, 1)), normal(3, 4, dtype=dtype)),
    ]:
        out = pt.pad(x, pad_width, mode=mode, **kwargs)
        assert isinstance(out.owner.op, OpFromGraph)
        compare([x], out, [value])
