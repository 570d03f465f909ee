"""Property tests of the decomposed scalar ops: any float (subnormals, huge values, NaN,
infinities), any integer for Mod and the bitwise ops, random broadcasting for the binary
ops. One function per op and dtype is compiled once and reused by every example."""

import os
from functools import cache

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pytensor.tensor.elemwise import Elemwise

from tests.test_basic import py_mode
from tests.test_elemwise import RAW, assert_exact
from tests.test_elemwise_properties import values_of
from tests.test_scalar_math import SUBNORMAL_ATOL, UNARY, tolerance_check

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PYTENSOR_ONNX_EXAMPLES", 30)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Beyond the sweeps' tolerances: absolute errors where a result is a difference of larger
# terms, in SciPy as here (lgamma, psi and gamma left of 0, next to their zeros; psi's error
# scales with log|x|).
EXTRA = {
    "gammaln": (pt.gammaln, None, 3e-15, 1e-6),
    "psi": (pt.psi, None, 8e-15, 1e-6),
    "erfcinv": (pt.erfcinv, None, 3e-15, 1e-6),
}
ABSOLUTE = {"gammaln": 1e-14, "psi": 1e-13, "gamma": 0.0}


@cache
def unary_functions(name, dtype):
    build = {**UNARY, **EXTRA}[name][0]
    x = pt.vector("x", dtype=dtype)
    return (
        pytensor.function([x], build(x), mode=RAW),
        pytensor.function([x], build(x), mode=py_mode),
    )


@PROPERTY_SETTINGS
@given(
    name=st.sampled_from(sorted(set(UNARY) | set(EXTRA))),
    dtype=st.sampled_from(["float32", "float64"]),
    data=st.data(),
)
def test_unary_ops_on_any_float(name, dtype, data):
    values = data.draw(values_of(dtype, st.integers(0, 40).map(lambda n: (n,))))
    onnx_fn, py_fn = unary_functions(name, dtype)
    _, _, rtol64, rtol32 = {**UNARY, **EXTRA}[name]
    rtol = rtol64 if dtype == "float64" else rtol32
    atol = max(SUBNORMAL_ATOL[dtype], ABSOLUTE.get(name, 0.0) if dtype == "float64" else 0)
    if name in ("i0", "i1"):  # SciPy: NaN at +-inf, inf from 709.78 (see test_scalar_math)
        values = values[np.abs(values) <= 709]
    if name == "gammaln":  # SciPy: inf for subnormal x (lgamma(2.2e-313) = 719.9)
        values = values[~((values != 0) & (np.abs(values) < np.finfo(dtype).tiny))]
    tolerance_check(rtol, atol)(onnx_fn(values), py_fn(values))


@cache
def binary_functions(op, dtype_x, dtype_y, shape_x, shape_y):
    x = pt.tensor("x", dtype=dtype_x, shape=shape_x)
    y = pt.tensor("y", dtype=dtype_y, shape=shape_y)
    out = Elemwise(op)(x, y)
    return (
        pytensor.function([x, y], out, mode=RAW),
        pytensor.function([x, y], out, mode=py_mode),
    )


@st.composite
def broadcastable_pair(draw, dtypes):
    dtype_x, dtype_y = draw(st.sampled_from(dtypes)), draw(st.sampled_from(dtypes))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    shape_x = tuple(draw(st.sampled_from([d, 1])) for d in shape)
    shape_y = tuple(draw(st.sampled_from([d, 1])) for d in shape)
    return (
        dtype_x,
        dtype_y,
        draw(values_of(dtype_x, st.just(shape_x))),
        draw(values_of(dtype_y, st.just(shape_y))),
    )


def static_shape(value):
    return tuple(1 if d == 1 else None for d in value.shape)


FLOATS = ["float32", "float64"]
INTEGERS = ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64"]


@PROPERTY_SETTINGS
@given(pair=broadcastable_pair(FLOATS + INTEGERS))
def test_mod_matches_numpy_exactly(pair):
    dtype_x, dtype_y, x, y = pair
    onnx_fn, py_fn = binary_functions(ps.mod, dtype_x, dtype_y, static_shape(x), static_shape(y))
    assert_exact(onnx_fn(x, y), py_fn(x, y))


@PROPERTY_SETTINGS
@given(pair=broadcastable_pair(FLOATS))
def test_arctan2_on_any_floats(pair):
    dtype_x, dtype_y, y, x = pair
    onnx_fn, py_fn = binary_functions(
        ps.arctan2, dtype_x, dtype_y, static_shape(y), static_shape(x)
    )
    expected = py_fn(y, x)
    rtol = 2e-15 if expected.dtype == "float64" else 1e-6
    tolerance_check(rtol, SUBNORMAL_ATOL[str(expected.dtype)])(onnx_fn(y, x), expected)


@PROPERTY_SETTINGS
@given(
    op=st.sampled_from([ps.and_, ps.or_, ps.xor]),
    pair=broadcastable_pair(["int8", "uint8", "int32", "uint64"]),
)
def test_bitwise_ops_match_numpy(op, pair):
    dtype_x, dtype_y, x, y = pair
    if {dtype_x, dtype_y} == {"uint64", "int8"} or {dtype_x, dtype_y} == {"uint64", "int32"}:
        return  # PyTensor upcasts these to float64, which bitwise ops reject
    onnx_fn, py_fn = binary_functions(op, dtype_x, dtype_y, static_shape(x), static_shape(y))
    assert_exact(onnx_fn(x, y), py_fn(x, y))
