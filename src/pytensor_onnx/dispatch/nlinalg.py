"""Inverse, determinants and symmetric eigenproblems, from primitives.

onnxruntime has no float64 ``Det`` kernel, and ONNX has no inverse: both come from
:func:`~pytensor_onnx.dispatch.slinalg.lu_eliminate` (LU with partial pivoting),
batch-aware like every linalg converter. NumPy raises for the inverse of a singular
matrix; here it is NaN. The determinant of a singular matrix is 0 (log-determinant -inf,
sign 0), as in NumPy, since the elimination keeps getrf's exact zero pivot.

``Eigh``/``Eigvalsh`` use cyclic Jacobi rotations (accurate, simple to express, but
O(n^2) small ONNX ops per sweep: ~0.7 s at n=40 on one thread), the generalized problem
through the Cholesky factor of ``b``. Eigenvector signs are not LAPACK's. SVD and the
pseudo-inverse are not converted.
"""

from __future__ import annotations

import numpy as np

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.shape import squeeze, unsqueeze
from pytensor_onnx.dispatch.slinalg import (
    MatrixIndex,
    _i64,
    _operands,
    cholesky_lower,
    emit_loop,
    lu_eliminate,
    solve_general,
    static_size,
    symmetric_from_triangle,
    transpose_core,
    triangular_solve,
)

try:  # pytensor >= 3: the linalg package
    from pytensor.tensor.linalg import Det, Eigh, Eigvalsh, MatrixInverse, SLogDet
except ImportError:  # pytensor 2.x
    from pytensor.tensor.nlinalg import Det, Eigh, MatrixInverse, SLogDet
    from pytensor.tensor.slinalg import Eigvalsh


def _lu_diagonal_and_sign(builder, node, inputs):
    """U's diagonal ``(..., n)`` and the permutation's sign ``(...)`` of the input's LU."""
    b = builder
    (a,), dtype = _operands(b, node, inputs)
    index = MatrixIndex(b, a, static_size(node.inputs[0]))
    reduced, pivots = lu_eliminate(b, a, dtype, index)
    swaps = b.add_node(
        "ReduceSum",
        [
            b.cast(b.add_node("Not", [b.add_node("Equal", [pivots, index.cols])]), "bool", "int64"),
            _i64(b, [-1]),
        ],
        keepdims=0,
    )
    odd = b.add_node("Equal", [b.add_node("Mod", [swaps, _i64(b, 2)]), _i64(b, 1)])
    sign = b.add_node(
        "Where", [odd, b.constant(np.array(-1, dtype)), b.constant(np.array(1, dtype))]
    )
    return index.diagonal(reduced, dtype), sign, dtype


@onnx_funcify.register(Det)
def onnx_funcify_Det(op, node, builder, inputs, **kwargs):
    diagonal, sign, _ = _lu_diagonal_and_sign(builder, node, inputs)
    product = builder.add_node("ReduceProd", [diagonal, _i64(builder, [-1])], keepdims=0)
    # + 0 turns the -0 of a singular matrix with an odd permutation into NumPy's 0.
    return builder.add_node(
        "Add",
        [
            builder.add_node("Mul", [sign, product]),
            builder.constant(np.zeros((), node.outputs[0].dtype)),
        ],
    )


@onnx_funcify.register(SLogDet)
def onnx_funcify_SLogDet(op, node, builder, inputs, **kwargs):
    # NumPy's sign: the permutation's, flipped per negative pivot (a NaN pivot flips
    # nothing); 0 and -inf for a zero pivot (getrf's info > 0).
    b = builder
    diagonal, sign, dtype = _lu_diagonal_and_sign(b, node, inputs)
    zero = b.constant(np.zeros((), dtype))

    def count(compare):
        flags = b.cast(b.add_node(compare, [diagonal, zero]), "bool", "int64")
        return b.add_node("ReduceSum", [flags, _i64(b, [-1])], keepdims=0)

    odd = b.add_node("Equal", [b.add_node("Mod", [count("Less"), _i64(b, 2)]), _i64(b, 1)])
    sign = b.add_node("Where", [odd, b.add_node("Neg", [sign]), sign])
    singular = b.add_node("Greater", [count("Equal"), _i64(b, 0)])
    log_abs = b.add_node("Log", [b.add_node("Abs", [diagonal])])
    total = b.add_node("ReduceSum", [log_abs, _i64(b, [-1])], keepdims=0)
    minus_inf = b.constant(np.array(-np.inf, dtype))
    return [
        b.add_node("Where", [singular, zero, sign]),
        b.add_node("Where", [singular, minus_inf, total]),
    ]


@onnx_funcify.register(MatrixInverse)
def onnx_funcify_MatrixInverse(op, node, builder, inputs, **kwargs):
    (a,), dtype = _operands(builder, node, inputs)
    index = MatrixIndex(builder, a, static_size(node.inputs[0]))
    identity = builder.add_node("Expand", [index.eye(dtype), builder.add_node("Shape", [a])])
    return solve_general(builder, a, identity, dtype, index)


# Jacobi sweeps go on while the off-diagonal mass (summed over the batch) is above
# eps^2 * JACOBI_TOLERANCE of the whole and still halves per sweep: once rounding
# stalls it (entries ~eps * |a|, which no bound fixed in advance fits for every n), one
# more sweep gains nothing. Convergence is quadratic; MAX_JACOBI_SWEEPS is a backstop.
JACOBI_TOLERANCE = 1e-2
MAX_JACOBI_SWEEPS = 30


def jacobi_eigh(builder, a: str, dtype: str, index: MatrixIndex, with_vectors: bool):
    """Eigenvalues (ascending, ``(..., n)``) and eigenvectors (columns, or None) of the
    symmetric ``(..., n, n)`` ``a``, by cyclic Jacobi rotations.

    Each rotation zeroes one off-diagonal pair (p, q) (Golub & Van Loan's sym.schur2);
    a sweep visits every pair p < q in row order, and sweeps repeat until the
    off-diagonal mass is negligible. Eigenvector signs are whatever the rotations give,
    not LAPACK's (which are not specified either).
    """
    b = builder
    zero, one = b.constant(np.zeros((), dtype)), b.constant(np.ones((), dtype))
    n = index.size
    flat = b.add_node("Range", [_i64(b, 0), b.add_node("Mul", [n, n]), _i64(b, 1)])
    divisor = b.add_node("Max", [n, _i64(b, 1)])  # Mod by 0 fails even on nothing (n=0)
    upper = b.add_node(
        "Less", [b.add_node("Div", [flat, divisor]), b.add_node("Mod", [flat, divisor])]
    )
    pairs = b.add_node("Compress", [flat, upper], axis=0)  # p * n + q for p < q
    n_pairs = squeeze(b, b.add_node("Shape", [pairs]), [0])

    def rotate(c, s, axis, mask_p, mask_q, p, q, x):
        """Rotate lines p, q of ``x`` along ``axis`` (-2: rows, -1: columns)."""
        line_p = b.add_node("Gather", [x, p], axis=axis)
        line_q = b.add_node("Gather", [x, q], axis=axis)
        new_p = b.add_node("Sub", [b.add_node("Mul", [c, line_p]), b.add_node("Mul", [s, line_q])])
        new_q = b.add_node("Add", [b.add_node("Mul", [s, line_p]), b.add_node("Mul", [c, line_q])])
        new_p, new_q = (unsqueeze(b, v, [axis]) for v in (new_p, new_q))
        return b.add_node("Where", [mask_p, new_p, b.add_node("Where", [mask_q, new_q, x])])

    def rotation(k, state):
        x, *v = state
        t = b.add_node("Gather", [pairs, k], axis=0)
        p, q = b.add_node("Div", [t, n]), b.add_node("Mod", [t, n])
        p_1d, q_1d = unsqueeze(b, p, [0]), unsqueeze(b, q, [0])
        row_p = b.add_node("Gather", [x, p], axis=-2)
        row_q = b.add_node("Gather", [x, q], axis=-2)
        app = b.add_node("Gather", [row_p, p_1d], axis=-1)  # (..., 1)
        aqq = b.add_node("Gather", [row_q, q_1d], axis=-1)
        apq = b.add_node("Gather", [row_p, q_1d], axis=-1)
        nonzero = b.add_node("Not", [b.add_node("Equal", [apq, zero])])
        twice = b.add_node("Add", [apq, apq])
        tau = b.add_node(
            "Div", [b.add_node("Sub", [aqq, app]), b.add_node("Where", [nonzero, twice, one])]
        )
        sign = b.add_node(
            "Where",
            [b.add_node("GreaterOrEqual", [tau, zero]), one, b.add_node("Neg", [one])],
        )
        root = b.add_node("Sqrt", [b.add_node("Add", [one, b.add_node("Mul", [tau, tau])])])
        tangent = b.add_node("Div", [sign, b.add_node("Add", [b.add_node("Abs", [tau]), root])])
        tangent = b.add_node("Where", [nonzero, tangent, zero])
        c = b.add_node(
            "Div",
            [
                one,
                b.add_node(
                    "Sqrt", [b.add_node("Add", [one, b.add_node("Mul", [tangent, tangent])])]
                ),
            ],
        )
        s = b.add_node("Mul", [tangent, c])
        rows_p, rows_q = index.mask("Equal", index.rows, p), index.mask("Equal", index.rows, q)
        cols_p, cols_q = index.mask("Equal", index.cols, p), index.mask("Equal", index.cols, q)
        # c, s are (..., 1): they scale rows and columns alike, gathered as (..., n).
        x = rotate(c, s, -2, rows_p, rows_q, p, q, x)
        x = rotate(c, s, -1, cols_p, cols_q, p, q, x)
        v = [rotate(c, s, -1, cols_p, cols_q, p, q, vectors) for vectors in v]
        return [x, *v]

    def off_diagonal_mass(x):
        """Sums over the batch of the squares off the diagonal and of all squares (scalars)."""
        axes = _i64(b, [-2, -1])
        total = b.add_node("ReduceSumSquare", [x, axes], keepdims=0)
        # Summed on its own: total minus the diagonal's part would cancel it away.
        off_diagonal = b.add_node("Where", [index.mask("Equal"), zero, x])
        off = b.add_node("ReduceSumSquare", [off_diagonal, axes], keepdims=0)
        # Sums, not maxima: 0 for an empty batch.
        return b.add_node("ReduceSum", [off], keepdims=0), b.add_node(
            "ReduceSum", [total], keepdims=0
        )

    bound = b.constant(np.array(np.finfo(dtype).eps ** 2 * JACOBI_TOLERANCE, dtype))
    half = b.constant(np.array(0.5, dtype))

    def keep_going(off, total, previous):
        significant = b.add_node("Greater", [off, b.add_node("Mul", [total, bound])])
        progressing = b.add_node("Less", [off, b.add_node("Mul", [previous, half])])
        return b.add_node("And", [significant, progressing])

    def sweep(_, state):
        *state, previous = state
        state = emit_loop(
            b,
            n_pairs,
            "",
            [(name, dtype) for name in state],
            lambda k, st: (None, rotation(k, st)),
            "jacobi_pair",
        )
        off, total = off_diagonal_mass(state[0])
        return keep_going(off, total, previous), [*state, off]

    carried = [(a, dtype)]
    if with_vectors:
        eye = b.add_node("Expand", [index.eye(dtype), b.add_node("Shape", [a])])
        carried.append((eye, dtype))
    off, total = off_diagonal_mass(a)
    start = keep_going(off, total, b.constant(np.array(np.inf, dtype)))
    carried.append((off, dtype))
    x, *v, _ = emit_loop(b, _i64(b, MAX_JACOBI_SWEEPS), start, carried, sweep, "jacobi")
    values, order = b.add_node(
        "TopK", [index.diagonal(x, dtype), index.size_1d], axis=-1, largest=0, sorted=1, n_outputs=2
    )
    if not with_vectors:
        return values, None
    columns = b.add_node("Expand", [unsqueeze(b, order, [-2]), b.add_node("Shape", [v[0]])])
    return values, b.add_node("GatherElements", [v[0], columns], axis=-1)


def _eigh(builder, op, node, inputs, with_vectors: bool):
    b = builder
    # pytensor 2.x types Eigvalsh of integers as integer (scipy computes in float64).
    dtype = node.outputs[0].dtype if node.outputs[0].dtype.startswith("float") else "float64"
    operands = [b.cast(name, var.dtype, dtype) for name, var in zip(inputs, node.inputs) if name]
    lower = getattr(op, "lower", None)
    if lower is None:  # pytensor 2.x Eigh
        lower = op.UPLO == "L"
    ndim = node.inputs[0].type.ndim
    index = MatrixIndex(b, operands[0], static_size(node.inputs[0]))
    a = symmetric_from_triangle(b, operands[0], index, ndim, lower)
    if len(operands) == 1:
        return jacobi_eigh(b, a, dtype, index, with_vectors)
    # Generalized: a v = w b v. With b = L L^T, the eigenvalues of C = L^-1 a L^-T, and
    # v = L^-T u (scipy's normalisation v^T b v = 1). NaN if b is not positive definite.
    factor = cholesky_lower(
        b, operands[1] if lower else transpose_core(b, operands[1], ndim), dtype, index
    )
    y = triangular_solve(b, factor, a, dtype, index, lower=True)
    c = triangular_solve(b, factor, transpose_core(b, y, ndim), dtype, index, lower=True)
    c = symmetric_from_triangle(b, c, index, ndim, True)
    values, vectors = jacobi_eigh(b, c, dtype, index, with_vectors)
    if vectors is not None:
        vectors = triangular_solve(
            b, transpose_core(b, factor, ndim), vectors, dtype, index, lower=False
        )
    return values, vectors


@onnx_funcify.register(Eigh)
def onnx_funcify_Eigh(op, node, builder, inputs, **kwargs):
    values, vectors = _eigh(builder, op, node, inputs, with_vectors=True)
    return [values, vectors]


@onnx_funcify.register(Eigvalsh)
def onnx_funcify_Eigvalsh(op, node, builder, inputs, **kwargs):
    values, _ = _eigh(builder, op, node, inputs, with_vectors=False)
    dtype = node.outputs[0].dtype
    return builder.cast(values, dtype if dtype.startswith("float") else "float64", dtype)
