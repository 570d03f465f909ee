"""The generic Blockwise converter: batch dims broadcast with Expand, the core converter
called with the Blockwise node for batch-aware core ops, and the other core ops converted
per batch element (unrolled for a small static batch, else an ONNX Loop).

Core ops defined here (with converters registered for the tests) exercise the protocol;
Blockwise(Dot) (pt.matmul) and Blockwise(Convolve1d) are tested in test_blas/test_conv.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.tensor.blockwise import Blockwise

from pytensor_onnx import ONNXLinker, onnx_funcify
from pytensor_onnx.dispatch.blockwise import register_batch_aware
from tests.test_basic import compare_onnx_and_py, get_onnx_node_types

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)


class WeightedSum(Op):
    """(n),(n)->(): sum(a * b), with a converter that relies on expanded batch dims."""

    gufunc_signature = "(n),(n)->()"
    __props__ = ()

    def make_node(self, a, b):
        a, b = pt.as_tensor(a), pt.as_tensor(b)
        return Apply(self, [a, b], [pt.scalar(dtype=a.dtype)])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = np.asarray(np.sum(inputs[0] * inputs[1]), dtype=node.outputs[0].dtype)


@onnx_funcify.register(WeightedSum)
def _weighted_sum(op, node, builder, inputs, **kwargs):
    a, b = inputs
    # Inputs of the same shape: the Blockwise converter expanded the batch dims.
    product = builder.add_node("Mul", [a, b])
    axes = builder.constant(np.array([-1], dtype="int64"))
    return builder.add_node("ReduceSum", [product, axes], keepdims=0)


register_batch_aware(WeightedSum)


class CoreOnly(Op):
    """(m),()->(m): x * s, with a converter that rejects batch dims."""

    gufunc_signature = "(m),()->(m)"
    __props__ = ()

    def make_node(self, x, s):
        x, s = pt.as_tensor(x), pt.as_tensor(s)
        return Apply(self, [x, s], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0] * inputs[1]


@onnx_funcify.register(CoreOnly)
def _core_only(op, node, builder, inputs, **kwargs):
    if node.inputs[0].type.ndim != 1:
        raise NotImplementedError("CoreOnly: no batch dims")
    return builder.add_node("Mul", inputs)


class NoConverter(Op):
    """Like CoreOnly, without a converter (not a subclass: it would inherit CoreOnly's)."""

    gufunc_signature = CoreOnly.gufunc_signature
    __props__ = ()
    make_node = CoreOnly.make_node
    perform = CoreOnly.perform


def tensor(name, shape, static):
    # Broadcast (length-1) batch dims must be static in PyTensor.
    return pt.tensor(name, shape=tuple(d if static or d == 1 else None for d in shape))


@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((4, 3), (4, 3)), ((1, 3), (5, 3)), ((2, 1, 3), (1, 4, 3)), ((3,), (2, 3)), ((0, 3), (1, 3))],
)
def test_batch_dims_broadcast(a_shape, b_shape, static):
    rng = np.random.default_rng(0)
    a, b = tensor("a", a_shape, static), tensor("b", b_shape, static)
    out = Blockwise(WeightedSum())(a, b)
    if 0 in a_shape:  # PyTensor's Blockwise cannot run an empty batch; ONNX can
        fn = pytensor.function([a, b], out, mode=RAW)
        assert fn(np.zeros(a_shape), np.ones(b_shape)).shape == (0,)
        return
    fn, _ = compare_onnx_and_py(
        [a, b], out, [rng.normal(size=a_shape), rng.normal(size=b_shape)], onnx_mode=RAW
    )
    needs_expand = any(
        x == 1 and y != 1 for x, y in zip((1,) * (2 - len(a_shape)) + a_shape[:-1], b_shape[:-1])
    ) or any(y == 1 and x != 1 for x, y in zip(a_shape[:-1], b_shape[:-1]))
    assert ("Expand" in get_onnx_node_types(fn)) == needs_expand


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    mask=st.lists(st.booleans(), min_size=3, max_size=3),
    static=st.booleans(),
)
def test_batch_dims_broadcast_property(batch, mask, static):
    a_shape = (*batch, 2)
    b_shape = (*(d if keep else 1 for d, keep in zip(batch, mask)), 2)
    rng = np.random.default_rng(1)
    a, b = tensor("a", a_shape, static), tensor("b", b_shape, static)
    compare_onnx_and_py(
        [a, b],
        Blockwise(WeightedSum())(a, b),
        [rng.normal(size=a_shape), rng.normal(size=b_shape)],
        onnx_mode=RAW,
    )


def test_unrolls_small_static_batch():
    x, s = pt.tensor("x", shape=(2, 3, 4)), pt.tensor("s", shape=(1, 3))
    out = Blockwise(CoreOnly())(x, s)
    rng = np.random.default_rng(2)
    fn, _ = compare_onnx_and_py(
        [x, s], out, [rng.normal(size=(2, 3, 4)), rng.normal(size=(1, 3))], onnx_mode=RAW
    )
    assert get_onnx_node_types(fn).count("Mul") == 6  # one per batch element


def test_unroll_keeps_constant_inputs():
    x = pt.tensor("x", shape=(3, 4))
    out = Blockwise(CoreOnly())(x, pt.constant(np.array([2.0])))
    compare_onnx_and_py([x], out, [np.arange(12.0).reshape(3, 4)], onnx_mode=RAW)


@pytest.mark.parametrize("shape", [(None, 4), (17, 4)], ids=["symbolic", "large"])
def test_symbolic_or_large_batch_loops_over_elements(shape):
    x, s = pt.tensor("x", shape=shape), pt.tensor("s", shape=(None,))
    rng = np.random.default_rng(3)
    n = 17 if shape[0] is None else shape[0]
    fn, _ = compare_onnx_and_py(
        [x, s],
        Blockwise(CoreOnly())(x, s),
        [rng.normal(size=(n, 4)), rng.normal(size=(n,))],
        onnx_mode=RAW,
    )
    assert "Loop" in get_onnx_node_types(fn)


def test_core_ops_are_not_handed_batch_dims_unless_declared():
    # A converter written for the core op's ranks would misread batch dims (e.g. index
    # the first batch axis): undeclared core ops are converted per element, even where
    # the batch broadcasts.
    x, idx = (
        pt.tensor("x", shape=(1, 2, None)),
        pt.tensor("i", shape=(None, 1, None), dtype="int64"),
    )
    out = Blockwise(pt.subtensor.AdvancedSubtensor1(), signature="(n),(k)->(k)")(x, idx)
    rng = np.random.default_rng(4)
    compare_onnx_and_py(
        [x, idx],
        out,
        [rng.normal(size=(1, 2, 5)), rng.integers(0, 5, size=(3, 1, 4))],
        onnx_mode=RAW,
    )


def test_core_op_without_converter():
    x, s = pt.tensor("x", shape=(2, 4)), pt.vector("s")
    with pytest.raises(
        NotImplementedError, match=r"Blockwise\(core_op=NoConverter\).*no converter"
    ):
        pytensor.function([x, s], Blockwise(NoConverter())(x, s), mode=RAW)
