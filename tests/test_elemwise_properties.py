"""Property tests of Elemwise: random broadcastable shapes, dtypes and values.

Each example builds a graph with the drawn dtypes and static or symbolic shapes, runs it
with onnxruntime and with PyTensor's Python linker (NumPy), and compares: bit-exactly for
integers, comparisons and correctly rounded float arithmetic (signs of zeros included), to
a few ulps for the transcendental functions.
"""

import os

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pytensor.tensor.elemwise import Elemwise

from tests.test_basic import assert_same, compare_onnx_and_py
from tests.test_elemwise import RAW, assert_close, assert_exact

DTYPES = ["float32", "float64", "int32", "int64", "int8", "uint8"]

# More examples: PYTENSOR_ONNX_EXAMPLES=1000 pytest tests/test_elemwise_properties.py
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PYTENSOR_ONNX_EXAMPLES", 30)),
    deadline=None,  # compiling two functions per example takes 20-100 ms
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _exact_unsigned_zero(onnx_value, py_value):
    """Identical values, zeros of either sign (assert_exact compares their signs too)."""
    assert_same(onnx_value, py_value)
    np.testing.assert_array_equal(onnx_value, py_value)


def values_of(dtype, shape):
    """Arrays of ``dtype``: any value, NaN, infinities and subnormals included."""
    if np.dtype(dtype).kind == "f":
        width = np.dtype(dtype).itemsize * 8
        elements = st.floats(width=width, allow_nan=True, allow_infinity=True)
        # Mix in the values where implementations disagree most often.
        special = st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.5, np.inf, -np.inf, np.nan])
        elements = st.one_of(special, elements)
    else:
        info = np.iinfo(dtype)
        special = {0, 1, 2, int(info.min), int(info.max)} | ({-1} if info.min < 0 else set())
        special = st.sampled_from(sorted(special))
        elements = st.one_of(special, st.integers(int(info.min), int(info.max)))
    return hnp.arrays(dtype, shape, elements=elements)


def symbolic_type_shape(shape, static):
    """The PyTensor type shape for a value of ``shape``: static, or None except length-1
    dims (which PyTensor must know to broadcast)."""
    return tuple(1 if d == 1 else (d if static else None) for d in shape)


@st.composite
def binary_operands(draw):
    """Two tensors of broadcastable shapes and any two dtypes, and their values."""
    shapes = draw(
        hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4
        )
    ).input_shapes
    dtypes = [draw(st.sampled_from(DTYPES)) for _ in shapes]
    static = [draw(st.booleans()) for _ in shapes]
    variables = [
        pt.tensor(name, dtype=dtype, shape=symbolic_type_shape(shape, is_static))
        for name, dtype, shape, is_static in zip("xy", dtypes, shapes, static, strict=True)
    ]
    values = [draw(values_of(dtype, shape)) for dtype, shape in zip(dtypes, shapes, strict=True)]
    return variables, values


BINARY_OPS = {
    "add": ps.add,
    "sub": ps.sub,
    "mul": ps.mul,
    "true_div": ps.true_div,
    "int_div": ps.int_div,
    "maximum": ps.maximum,
    "minimum": ps.minimum,
    "lt": ps.lt,
    "le": ps.le,
    "gt": ps.gt,
    "ge": ps.ge,
    "eq": ps.eq,
    "neq": ps.neq,
}


@PROPERTY_SETTINGS
@given(op_name=st.sampled_from(sorted(BINARY_OPS)), operands=binary_operands())
def test_binary_ops(op_name, operands):
    variables, values = operands
    scalar_op = BINARY_OPS[op_name]
    out = Elemwise(scalar_op)(*variables)
    # IEEE arithmetic is correctly rounded, so results are identical; max(0.0, -0.0) may
    # be either zero (see test_elemwise.zero_sign_check).
    check = assert_exact if op_name not in ("maximum", "minimum") else _exact_unsigned_zero
    compare_onnx_and_py(variables, out, values, onnx_mode=RAW, assert_fn=check)


UNARY_OPS = {
    # name: (scalar op, input dtypes it accepts, comparison)
    "neg": (ps.neg, DTYPES, assert_exact),
    "abs": (ps.abs, DTYPES, assert_exact),
    "sqr": (ps.sqr, DTYPES, assert_exact),
    "identity": (ps.identity, DTYPES, assert_exact),
    "floor": (ps.floor, DTYPES, assert_exact),
    "ceil": (ps.ceil, DTYPES, assert_exact),
    "sqrt": (ps.sqrt, DTYPES, assert_exact),
    "reciprocal": (ps.reciprocal, DTYPES, assert_exact),
    "round_half_to_even": (ps.round_half_to_even, ["float32", "float64"], assert_exact),
    "round_half_away_from_zero": (
        ps.round_half_away_from_zero,
        ["float32", "float64"],
        assert_exact,
    ),
    # onnxruntime's exp and log are within 1 ulp of NumPy's in float64 and 2 in float32
    # (measured on 10^4 values); allow 4.
    "exp": (ps.exp, DTYPES, None),
    "log": (ps.log, DTYPES, None),
}


def _within_ulps(onnx_value, py_value):
    rtol = 4 * np.finfo(py_value.dtype).eps
    assert_close(onnx_value, py_value, rtol=rtol, atol=0)


@st.composite
def unary_operand(draw, dtypes):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    dtype = draw(st.sampled_from(dtypes))
    static = draw(st.booleans())
    x = pt.tensor("x", dtype=dtype, shape=symbolic_type_shape(shape, static))
    return x, draw(values_of(dtype, shape))


@PROPERTY_SETTINGS
@given(data=st.data(), op_name=st.sampled_from(sorted(UNARY_OPS)))
def test_unary_ops(data, op_name):
    scalar_op, dtypes, check = UNARY_OPS[op_name]
    x, value = data.draw(unary_operand(dtypes))
    compare_onnx_and_py(
        [x], Elemwise(scalar_op)(x), [value], onnx_mode=RAW, assert_fn=check or _within_ulps
    )


@PROPERTY_SETTINGS
@given(operands=binary_operands(), condition_first=st.booleans())
def test_switch(operands, condition_first):
    # switch(x > 0, x, y) (or on y), with any dtypes and broadcasting; signs of zeros may
    # differ (onnxruntime's Where), values may not.
    (x, y), values = operands
    condition = pt.gt(x, 0) if condition_first else pt.lt(y, 1)
    compare_onnx_and_py(
        [x, y], pt.switch(condition, x, y), values, onnx_mode=RAW, assert_fn=_exact_unsigned_zero
    )


@PROPERTY_SETTINGS
@given(operands=binary_operands())
def test_chained_elemwise_graph_with_rewrites(operands):
    # A small graph through the default ONNX mode (PyTensor's rewrites), on finite values.
    (x, y), values = operands
    values = [np.nan_to_num(v, nan=0.5, posinf=3.0, neginf=-3.0) for v in values]
    out = pt.maximum(x * 2 - y, pt.abs(y) // 3) + (x < y)
    compare_onnx_and_py([x, y], out, values, assert_fn=assert_same)
