"""Products: Dot, matmul/tensordot/outer graphs and the BLAS ops (Dot22, Dot22Scalar, Gemm,
Gemv, Ger, BatchedDot, CGemv, CGer), against PyTensor's Python linker.

Most tests compile without rewrites (``RAW``) so that the op under test reaches its
converter. BLAS ops are built directly, or by PyTensor's own rewrites in a ``fast_run``
compilation (with the Python linker: pytensor 3's FAST_RUN is the Numba mode, which has no
BLAS rewrites) whose rewritten graph :func:`export_function_onnx` converts.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytensor.compile.mode import Mode
from pytensor.graph.fg import FunctionGraph
from pytensor.tensor.blas import (
    BatchedDot,
    Dot22,
    Dot22Scalar,
    Gemm,
    Gemv,
    Ger,
    gemm_inplace,
    gemm_no_inplace,
    gemv_inplace,
    gemv_no_inplace,
    ger,
    ger_destructive,
)
from pytensor.tensor.blas_c import CGemv, CGer
from pytensor.tensor.math import Dot

from pytensor_onnx import ONNXLinker, onnx_funcify
from pytensor_onnx.export import export_function_onnx
from tests.test_basic import assert_same, compare_onnx_and_py, get_onnx_node_types, py_mode

RAW = Mode(linker=ONNXLinker(intra_op_num_threads=1), optimizer=None)
# PyTensor's BLAS rewrites, with the Python linker (no C compilation).
BLAS_REWRITES = Mode(linker="py", optimizer="fast_run")

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")


def compare(inputs, outputs, values, *, mode=RAW, **tolerance):
    assert_fn = (lambda o, p: assert_same(o, p, **tolerance)) if tolerance else None
    fn, _ = compare_onnx_and_py(inputs, outputs, values, onnx_mode=mode, assert_fn=assert_fn)
    return fn


def compare_inplace(inputs, inplace_out, out, values):
    """Convert a graph with an inplace BLAS op (which ``pytensor.function`` refuses) and
    compare with PyTensor's result for the same graph with the op's out-of-place variant."""
    model = onnx_funcify(FunctionGraph(inputs, [inplace_out], clone=False))
    onnx.checker.check_model(model, full_check=True)
    (result,) = ort_run(model, values)
    assert_same(result, pytensor.function(inputs, out, mode=py_mode)(*values))


def ort_run(model, values):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options)
    return session.run(None, {i.name: np.asarray(v) for i, v in zip(model.graph.input, values)})


def values(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=shape).astype(dtype)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), size=shape, endpoint=True).astype(
        dtype
    )


def matrix(name, dtype, shape, static):
    return pt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


# -- Dot ---------------------------------------------------------------------------------
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "m, k, n", [(3, 4, 2), (1, 5, 1), (4, 1, 3), (2, 0, 3), (0, 3, 2), (3, 2, 0)]
)
def test_dot_float(m, k, n, dtype, static):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    x, y = matrix("x", dtype, (m, k), static), matrix("y", dtype, (k, n), static)
    fn = compare([x, y], Dot()(x, y), [values(rng, (m, k), dtype), values(rng, (k, n), dtype)])
    assert "MatMul" in get_onnx_node_types(fn)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_dot_int_wraps_like_numpy(dtype):
    info = np.iinfo(dtype)
    # Products and sums that overflow the dtype: NumPy wraps, and so must the result.
    x_val = np.array([[info.max, info.max, 1], [info.min, 2, 3]], dtype=dtype)
    y_val = np.array([[info.max, 1], [2, info.max], [info.min, 0]], dtype=dtype)
    x, y = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype)
    compare([x, y], Dot()(x, y), [x_val, y_val])


def test_dot_bool():
    x, y = pt.matrix("x", dtype="bool"), pt.matrix("y", dtype="bool")
    x_val = np.array([[True, False, True], [False, False, False]])
    y_val = np.array([[False, True], [False, True], [False, True]])
    compare([x, y], Dot()(x, y), [x_val, y_val])


@pytest.mark.parametrize(
    "dtypes", [("int32", "float32"), ("int8", "float64"), ("float32", "float64")]
)
def test_dot_mixed_dtypes(dtypes):
    rng = np.random.default_rng(1)
    x, y = pt.matrix("x", dtype=dtypes[0]), pt.matrix("y", dtype=dtypes[1])
    out = Dot()(x, y)
    assert out.dtype == np.result_type(*dtypes)
    compare([x, y], out, [values(rng, (3, 4), dtypes[0]), values(rng, (4, 2), dtypes[1])])


def test_dot_edge_values():
    x, y = pt.matrix("x"), pt.matrix("y")
    x_val = np.array([[np.inf, 1.0, 0.0], [np.nan, -0.0, 2.0], [1e308, 1e308, 0.0]])
    y_val = np.array([[0.0, 1.0], [1.0, -np.inf], [3.0, 0.5]])
    compare([x, y], Dot()(x, y), [x_val, y_val])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dot_vectors(dtype):
    # pt.dot of vectors: Dot of matrices between DimShuffles (Dot itself is 2-D only).
    rng = np.random.default_rng(2)
    v, w, m = pt.vector("v", dtype=dtype), pt.vector("w", dtype=dtype), pt.matrix("m", dtype=dtype)
    v_val, w_val, m_val = values(rng, 4, dtype), values(rng, 4, dtype), values(rng, (4, 3), dtype)
    fn = compare(
        [v, w, m],
        [pt.dot(v, w), pt.dot(v, m), pt.dot(m.T, v), pt.outer(v, w)],
        [v_val, w_val, m_val],
    )
    # A matrix-vector product is a MatMul with a (k, 1) column, never a 1-D operand.
    model = fn.maker.linker.onnx_model
    shapes = onnx.shape_inference.infer_shapes(model).graph.value_info
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in shapes}
    ranks.update({i.name: len(i.type.tensor_type.shape.dim) for i in model.graph.input})
    for node in model.graph.node:
        if node.op_type == "MatMul":
            assert all(ranks[name] >= 2 for name in node.input)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_tensordot_and_outer(dtype):
    rng = np.random.default_rng(3)
    a, b = pt.tensor3("a", dtype=dtype), pt.tensor3("b", dtype=dtype)
    a_val, b_val = values(rng, (2, 3, 4), dtype), values(rng, (4, 3, 5), dtype)
    compare(
        [a, b],
        [pt.tensordot(a, b, axes=[[1, 2], [1, 0]]), pt.tensordot(a, b, axes=1)],
        [a_val, b_val],
    )
    v, w = pt.vector("v", dtype=dtype), pt.vector("w", dtype=dtype)
    compare([v, w], pt.outer(v, w), [values(rng, 3, dtype), values(rng, 0, dtype)])


# -- matmul (Blockwise(Dot)) --------------------------------------------------------------
@pytest.mark.parametrize(
    "x_shape, y_shape",
    [
        ((5, 3, 4), (4, 2)),  # batch against an unbatched matrix
        ((1, 3, 4), (6, 4, 2)),  # 1 against B
        ((2, 1, 3, 4), (1, 5, 4, 2)),  # batch dims broadcast both ways
        ((4, 3, 0), (4, 0, 2)),  # k = 0: zeros
    ],
)
@pytest.mark.parametrize("static", [True, False], ids=["static", "symbolic"])
def test_matmul_batched(x_shape, y_shape, static):
    rng = np.random.default_rng(4)

    def tensor(name, shape):
        # Broadcast (length-1) batch dims must be static in PyTensor.
        return pt.tensor(name, shape=tuple(d if static or d == 1 else None for d in shape))

    x, y = tensor("x", x_shape), tensor("y", y_shape)
    fn = compare(
        [x, y], pt.matmul(x, y), [values(rng, x_shape, "float64"), values(rng, y_shape, "float64")]
    )
    # MatMul broadcasts batch dims itself: no Expand copies the inputs.
    assert "Expand" not in get_onnx_node_types(fn)


def test_matmul_vector_operands():
    rng = np.random.default_rng(5)
    x, v = pt.tensor3("x"), pt.vector("v")
    x_val, v_val = values(rng, (2, 3, 4), "float64"), values(rng, 4, "float64")
    compare([x, v], [pt.matmul(x, v), pt.matmul(v[:3], x)], [x_val, v_val])


@pytest.mark.parametrize("dtype", ["int32", "int8", "float32"])
def test_matmul_batched_dtypes(dtype):
    rng = np.random.default_rng(6)
    x, y = pt.tensor3("x", dtype=dtype), pt.tensor3("y", dtype=dtype)
    compare([x, y], pt.matmul(x, y), [values(rng, (3, 2, 4), dtype), values(rng, (3, 4, 5), dtype)])


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(st.sampled_from([1, 2, 3]), min_size=0, max_size=2),
    x_mask=st.lists(st.booleans(), min_size=2, max_size=2),
    core=st.tuples(*[st.integers(0, 3)] * 3),
    static=st.booleans(),
    data=st.data(),
)
def test_matmul_property(batch, x_mask, core, static, data):
    # Random batch shapes where each input keeps or broadcasts (1) each batch dim.
    m, k, n = core
    x_batch = [d if keep else 1 for d, keep in zip(batch, x_mask)]
    y_batch = [d if not keep or data.draw(st.booleans()) else 1 for d, keep in zip(batch, x_mask)]
    x_shape, y_shape = (*x_batch, m, k), (*y_batch, k, n)

    def tensor(name, shape):
        return pt.tensor(name, shape=tuple(d if static or d == 1 else None for d in shape))

    rng = np.random.default_rng(7)
    x, y = tensor("x", x_shape), tensor("y", y_shape)
    compare(
        [x, y], pt.matmul(x, y), [values(rng, x_shape, "float64"), values(rng, y_shape, "float64")]
    )


# -- BLAS ops, built directly ------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("op", [Dot22(), BatchedDot()], ids=["Dot22", "BatchedDot"])
def test_dot22_batched_dot(op, dtype):
    rng = np.random.default_rng(8)
    ndim = 3 if isinstance(op, BatchedDot) else 2
    x, y = (
        pt.tensor("x", dtype=dtype, shape=(None,) * ndim),
        pt.tensor("y", dtype=dtype, shape=(None,) * ndim),
    )
    batch = (4,) if ndim == 3 else ()
    compare(
        [x, y], op(x, y), [values(rng, (*batch, 3, 5), dtype), values(rng, (*batch, 5, 2), dtype)]
    )
    compare(
        [x, y], op(x, y), [values(rng, (*batch, 3, 0), dtype), values(rng, (*batch, 0, 2), dtype)]
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dot22scalar(dtype):
    rng = np.random.default_rng(9)
    x, y, a = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype), pt.scalar("a", dtype=dtype)
    xv, yv = values(rng, (3, 4), dtype), values(rng, (4, 2), dtype)
    for a_val in (0.0, 1.0, -2.5, 0.1, np.inf):
        compare([x, y, a], Dot22Scalar()(x, y, a), [xv, yv, np.asarray(a_val, dtype)])
    # A constant 0.1 is not a float32 in float64: no ONNX Gemm attribute can hold it.
    fn = compare([x, y], Dot22Scalar()(x, y, pt.constant(np.asarray(0.1, dtype))), [xv, yv])
    assert ("Gemm" in get_onnx_node_types(fn)) == (dtype == "float32")


ALPHA_BETA = [(1.0, 0.0), (1.0, 1.0), (-1.0, 0.5), (0.1, 2.0), (0.0, 1.0), (2.0, 0.0), (0.0, 0.0)]


@pytest.mark.parametrize("symbolic_scalars", [True, False], ids=["symbolic", "constant"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("op", [gemm_no_inplace, gemm_inplace], ids=["no_inplace", "inplace"])
def test_gemm(op, dtype, symbolic_scalars):
    rng = np.random.default_rng(10)
    Z, x, y = (pt.matrix(name, dtype=dtype) for name in "Zxy")
    x_val, y_val = values(rng, (3, 4), dtype), values(rng, (4, 2), dtype)
    z_val = values(rng, (3, 2), dtype)
    z_val[0, 0] = np.nan  # ignored where beta == 0
    x_val[1, 1] = np.inf  # kept where alpha == 0: 0 * inf is nan, as in NumPy
    for alpha, beta in ALPHA_BETA:
        z = Z * 1  # an intermediate value, which the inplace variant may destroy
        if symbolic_scalars:
            a, b = pt.scalar("a", dtype=dtype), pt.scalar("b", dtype=dtype)
            inputs = [Z, x, y, a, b]
            vals = [z_val, x_val, y_val, np.asarray(alpha, dtype), np.asarray(beta, dtype)]
        else:
            a, b = (pt.constant(np.asarray(s, dtype)) for s in (alpha, beta))
            inputs, vals = [Z, x, y], [z_val, x_val, y_val]
        if op.inplace:
            compare_inplace(inputs, op(z, a, x, y, b), gemm_no_inplace(z, a, x, y, b), vals)
            continue
        fn = compare(inputs, op(z, a, x, y, b), vals)
        if not symbolic_scalars and alpha not in (0.0, 0.1):
            assert "Gemm" in get_onnx_node_types(fn)


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_gemm_broadcasts_product_to_z(beta):
    # A 1-row product broadcast to an m-row z, as PyTensor's Gemm.perform does.
    rng = np.random.default_rng(11)
    Z, x, y = pt.matrix("Z"), pt.matrix("x", shape=(1, None)), pt.matrix("y")
    b = pt.scalar("b")
    vals = [
        values(rng, (3, 2), "float64"),
        values(rng, (1, 4), "float64"),
        values(rng, (4, 2), "float64"),
    ]
    out = gemm_no_inplace(Z * 1, pt.constant(np.float64(2.0)), x, y, pt.constant(np.float64(beta)))
    compare([Z, x, y], out, vals)
    compare(
        [Z, x, y, b],
        gemm_no_inplace(Z * 1, pt.constant(np.float64(2.0)), x, y, b),
        [*vals, np.float64(beta)],
    )


@pytest.mark.parametrize("symbolic_scalars", [True, False], ids=["symbolic", "constant"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "op", [gemv_no_inplace, gemv_inplace, CGemv(inplace=False)], ids=["Gemv", "inplace", "CGemv"]
)
def test_gemv(op, dtype, symbolic_scalars):
    rng = np.random.default_rng(12)
    yv, A, x = pt.vector("y", dtype=dtype), pt.matrix("A", dtype=dtype), pt.vector("x", dtype=dtype)
    y_val, a_val, x_val = values(rng, 3, dtype), values(rng, (3, 4), dtype), values(rng, 4, dtype)
    y_val[0] = np.nan  # ignored where beta == 0 (BLAS reads no y then)
    for alpha, beta in ALPHA_BETA:
        if symbolic_scalars:
            a, b = pt.scalar("a", dtype=dtype), pt.scalar("b", dtype=dtype)
            inputs = [yv, A, x, a, b]
            vals = [y_val, a_val, x_val, np.asarray(alpha, dtype), np.asarray(beta, dtype)]
        else:
            a, b = (pt.constant(np.asarray(s, dtype)) for s in (alpha, beta))
            inputs, vals = [yv, A, x], [y_val, a_val, x_val]
        if op.inplace:
            out = gemv_no_inplace(yv * 1, a, A, x, b)
            compare_inplace(inputs, op(yv * 1, a, A, x, b), out, vals)
        else:
            compare(inputs, op(yv * 1, a, A, x, b), vals)


def test_gemv_empty_and_mixed_scalar_dtype():
    # k = 0 (x empty): the product is zeros. alpha may be of another dtype than y.
    yv, A, x = pt.vector("y"), pt.matrix("A"), pt.vector("x")
    a = pt.scalar("a", dtype="float32")
    out = gemv_no_inplace(yv * 1, a, A, x, pt.constant(1.0))
    compare([yv, A, x, a], out, [np.ones(3), np.zeros((3, 0)), np.zeros(0), np.float32(2.0)])


@pytest.mark.parametrize("symbolic_alpha", [True, False], ids=["symbolic", "constant"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(
    "op", [ger, ger_destructive, CGer(False)], ids=["Ger", "destructive", "CGer"]
)
def test_ger(op, dtype, symbolic_alpha):
    rng = np.random.default_rng(13)
    A, x, y = pt.matrix("A", dtype=dtype), pt.vector("x", dtype=dtype), pt.vector("y", dtype=dtype)
    a_val, x_val, y_val = values(rng, (3, 2), dtype), values(rng, 3, dtype), values(rng, 2, dtype)
    x_val[0] = np.inf  # BLAS skips the update for alpha == 0: no nan from 0 * inf

    def check(inputs, out, reference, vals):
        if op.destructive:
            compare_inplace(inputs, out, reference, vals)
        else:
            compare(inputs, out, vals)

    for alpha in (0.0, 1.0, -0.5, 0.1):
        if symbolic_alpha:
            a = pt.scalar("a", dtype=dtype)
            inputs, vals = [A, x, y, a], [a_val, x_val, y_val, np.asarray(alpha, dtype)]
        else:
            a = pt.constant(np.asarray(alpha, dtype))
            inputs, vals = [A, x, y], [a_val, x_val, y_val]
        check(inputs, op(A * 1, a, x, y), ger(A * 1, a, x, y), vals)
    one = pt.constant(np.asarray(1.0, dtype))
    check([A, x, y], op(A * 1, one, x, y), ger(A * 1, one, x, y), [a_val[:0], x_val[:0], y_val])


# -- graphs PyTensor's BLAS rewrites produce -----------------------------------------------
def run_exported(fn, vals):
    model = export_function_onnx(fn)
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options)
    feed = {i.name: np.asarray(v) for i, v in zip(model.graph.input, vals)}
    return session.run(None, feed), [n.op_type for n in model.graph.node]


X, W, Z = pt.matrix("X"), pt.matrix("W"), pt.matrix("Z")
V, B, A = pt.vector("v"), pt.vector("b"), pt.scalar("a")
BLAS_GRAPHS = {
    "x @ W + b": ([X, W, B], X @ W + B, Dot22),
    "2 * x @ W + 3 * Z": ([X, W, Z], 2 * (X @ W) + 3 * Z, Gemm),
    "a * x @ W": ([A, X, W], A * (X @ W), Dot22Scalar),
    "W @ v * 2 + b": ([W, V, B], pt.dot(W.T, V) * 2 + B, Gemv),
    "v @ W": ([V, W], pt.dot(V, W), Gemv),
    "Z + a * outer": ([Z, A, V, B], Z + A * pt.outer(V, B), Ger),
    "batched_dot": ([pt.tensor3("P"), pt.tensor3("Q")], None, BatchedDot),
}


@pytest.mark.parametrize("name", list(BLAS_GRAPHS))
def test_blas_rewritten_graphs(name):
    inputs, out, blas_op = BLAS_GRAPHS[name]
    if out is None:
        out = pt.matmul(*inputs)
    fn = pytensor.function(inputs, out, mode=BLAS_REWRITES)
    ops = [node.op for node in fn.maker.fgraph.toposort()]
    assert any(isinstance(op, blas_op) for op in ops), ops
    rng = np.random.default_rng(14)
    shapes = {
        "X": (5, 4),
        "W": (4, 3),
        "Z": (5, 3),
        "v": (4,),
        "b": (3,),
        "a": (),
        "P": (2, 3, 4),
        "Q": (2, 4, 5),
    }
    if name == "Z + a * outer":
        shapes.update(Z=(4, 3))
    vals = [values(rng, shapes[i.name], "float64") for i in inputs]
    (result,), onnx_ops = run_exported(fn, vals)
    assert_same(result, fn(*vals))
    if blas_op is Gemm:
        assert "Gemm" in onnx_ops  # constant alpha/beta: one fused ONNX Gemm
