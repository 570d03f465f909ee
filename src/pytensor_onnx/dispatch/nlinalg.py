"""Inverse, determinants and symmetric eigenproblems, from primitives.

onnxruntime has no float64 ``Det`` kernel, and ONNX has no inverse: both come from
:func:`~pytensor_onnx.dispatch.slinalg.lu_eliminate` (LU with partial pivoting),
batch-aware like every linalg converter. NumPy raises for the inverse of a singular
matrix; here it is NaN. The determinant of a singular matrix is 0 (log-determinant -inf,
sign 0), as in NumPy, since the elimination keeps getrf's exact zero pivot.

``Eigh``/``Eigvalsh`` use cyclic Jacobi rotations (accurate, simple to express, but
O(n^2) small ONNX ops per sweep: ~0.7 s at n=40 on one thread), the generalized problem
through the Cholesky factor of ``b``. Eigenvector signs are not LAPACK's.

``SVD``, ``MatrixPinv`` and ``Lstsq`` use one-sided (Hestenes) Jacobi: each round rotates
n/2 disjoint column pairs at once (round-robin order), so a sweep is n - 1 rounds of
whole-matrix ops. A wide matrix is handled through its transpose (an ONNX ``If`` when
its sizes are symbolic). Singular vectors match LAPACK's up to sign; matrices with inf
or NaN give NaN (NumPy raises or returns NaN). ``TensorInv``/``TensorSolve`` reshape
to the LU solve.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.blockwise import register_batch_aware
from pytensor_onnx.dispatch.shape import squeeze, unsqueeze
from pytensor_onnx.dispatch.slinalg import (
    MatrixIndex,
    _operands,
    _Trips,
    cholesky_lower,
    counted_loop,
    emit_loop,
    householder_qr,
    lu_eliminate,
    nan_where,
    solve_general,
    static_size,
    symmetric_from_triangle,
    transpose_core,
    triangular_solve,
)
from pytensor_onnx.dtypes import onnx_dtype

try:  # pytensor >= 3: the linalg package
    from pytensor.tensor.linalg import (
        SVD,
        Det,
        Eigh,
        Eigvalsh,
        Lstsq,
        MatrixInverse,
        MatrixPinv,
        SLogDet,
        TensorInv,
        TensorSolve,
    )
except ImportError:  # pytensor 2.x
    from pytensor.tensor.nlinalg import (
        SVD,
        Det,
        Eigh,
        Lstsq,
        MatrixInverse,
        MatrixPinv,
        SLogDet,
        TensorInv,
        TensorSolve,
    )
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
            b.int64([-1]),
        ],
        keepdims=0,
    )
    odd = b.add_node("Equal", [b.add_node("Mod", [swaps, b.int64(2)]), b.int64(1)])
    sign = b.add_node(
        "Where", [odd, b.constant(np.array(-1, dtype)), b.constant(np.array(1, dtype))]
    )
    return index.diagonal(reduced, dtype), sign, dtype


@onnx_funcify.register(Det)
def onnx_funcify_Det(op, node, builder, inputs, **kwargs):
    diagonal, sign, _ = _lu_diagonal_and_sign(builder, node, inputs)
    product = builder.add_node("ReduceProd", [diagonal, builder.int64([-1])], keepdims=0)
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
        return b.add_node("ReduceSum", [flags, b.int64([-1])], keepdims=0)

    odd = b.add_node("Equal", [b.add_node("Mod", [count("Less"), b.int64(2)]), b.int64(1)])
    sign = b.add_node("Where", [odd, b.add_node("Neg", [sign]), sign])
    singular = b.add_node("Greater", [count("Equal"), b.int64(0)])
    log_abs = b.add_node("Log", [b.add_node("Abs", [diagonal])])
    total = b.add_node("ReduceSum", [log_abs, b.int64([-1])], keepdims=0)
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
    flat = b.add_node("Range", [b.int64(0), b.add_node("Mul", [n, n]), b.int64(1)])
    divisor = b.add_node("Max", [n, b.int64(1)])  # Mod by 0 fails even on nothing (n=0)
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
        axes = b.int64([-2, -1])
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
    x, *v, _ = emit_loop(b, b.int64(MAX_JACOBI_SWEEPS), start, carried, sweep, "jacobi")
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


# -- SVD and the pseudo-inverse: one-sided (Hestenes) Jacobi ------------------------------
# A pair of columns is rotated while |p.q| > tol * |p| |q| with tol = sqrt(m) * eps (the
# rounding of an m-term dot product); sweeps stop after one rotates nothing (LAPACK's
# dgesvj rule). Convergence is quadratic: MAX_SVD_SWEEPS is a backstop.
MAX_SVD_SWEEPS = 40


def round_robin_order(builder, n2: str) -> str:
    """Gather indices (``(n2,)`` int64) taking one round's columns to the next's.

    The state keeps the ``n2`` (even) columns as ``[P | Q]``: round pairs ``P[i]`` with
    ``Q[i]``. Seen as a circle of players ``s`` paired ``(s[i], s[n2-1-i])``, ``P`` is
    ``s[:h]`` and ``Q`` is ``s[h:]`` reversed, so state index and circle position are
    exchanged by the involution ``f``. The circle method fixes ``s[0]`` and turns the
    others by one: ``n2 - 1`` rounds pair every two columns once and restore the order.
    """
    b = builder
    h = b.add_node("Div", [n2, b.int64(2)])
    k = b.add_node("Range", [b.int64(0), n2, b.int64(1)])
    mirror = b.add_node("Sub", [b.add_node("Mul", [h, b.int64(3)]), b.int64(1)])

    def f(i):
        return b.add_node("Where", [b.add_node("Less", [i, h]), i, b.add_node("Sub", [mirror, i])])

    position = f(k)
    turned = b.add_node(
        "Where",
        [
            b.add_node("Equal", [position, b.int64(0)]),
            b.int64(0),
            b.add_node(
                "Where",
                [
                    b.add_node("Equal", [position, b.int64(1)]),
                    b.add_node("Sub", [n2, b.int64(1)]),
                    b.add_node("Sub", [position, b.int64(1)]),
                ],
            ),
        ],
    )
    return f(turned)


def jacobi_orthogonalize(builder, a: str, dtype: str, static_shape, with_v: bool):
    """One-sided Jacobi on the finite ``(..., m, n)`` ``a`` (m >= n).

    Returns ``(x, v)``: ``x = a v`` with mutually orthogonal columns (their norms are the
    singular values, unsorted), ``v`` ``(..., n, n)`` orthogonal (None without
    ``with_v``). Each round rotates n/2 disjoint pairs at once (round-robin order), on
    ``[a; v]`` stacked so that one rotation serves both; an odd n gets a zero column,
    which no rotation touches (its dot products are exactly 0) and which is dropped.
    """
    b = builder
    zero, one = b.constant(np.zeros((), dtype)), b.constant(np.ones((), dtype))
    m_static, n_static = static_shape[-2], static_shape[-1]
    m_1d = b.add_node("Shape", [a], start=-2, end=-1)
    n_1d = b.add_node("Shape", [a], start=-1)
    n = squeeze(b, n_1d, [0])
    odd = b.add_node("Mod", [n, b.int64(2)])
    n2 = b.add_node("Add", [n, odd])
    n2_1d = unsqueeze(b, n2, [0])
    half_1d = b.add_node("Div", [n2_1d, b.int64(2)])
    split = b.add_node("Concat", [half_1d, half_1d], axis=0)
    ndim = len(static_shape)
    pads = b.add_node("Concat", [b.int64([0] * (2 * ndim - 1)), unsqueeze(b, odd, [0])], axis=0)
    work = b.add_node("Pad", [a, pads])
    if with_v:
        eye = b.cast(
            b.add_node(
                "Equal",
                [
                    unsqueeze(b, b.add_node("Range", [b.int64(0), n2, b.int64(1)]), [1]),
                    b.add_node("Range", [b.int64(0), n2, b.int64(1)]),
                ],
            ),
            "bool",
            dtype,
        )
        v_shape = b.add_node("Concat", [b.add_node("Shape", [a], end=-2), n2_1d, n2_1d], axis=0)
        work = b.add_node("Concat", [work, b.add_node("Expand", [eye, v_shape])], axis=-2)
    order = round_robin_order(b, n2)
    m_eff = max(m_static or 0, 1)
    tol = b.constant(np.array(np.sqrt(m_eff) * np.finfo(dtype).eps, dtype))
    if m_static is None:  # sqrt(m) * eps at run time
        m_float = b.cast(m_1d, "int64", dtype)
        tol = b.add_node(
            "Mul",
            [
                b.constant(np.array(np.finfo(dtype).eps, dtype)),
                b.add_node("Sqrt", [b.add_node("Max", [m_float, one])]),
            ],
        )
    axis_rows = b.int64([-2])

    def top(x):  # the rows of `a` (not those of v) in the stacked state
        return b.add_node("Slice", [x, b.int64([0]), m_1d, axis_rows]) if with_v else x

    def rotation_round(_, state):
        w, rotated = state
        p, q = b.add_node("Split", [w, split], axis=-1, n_outputs=2)
        p_top, q_top = top(p), top(q)
        alpha = b.add_node("ReduceSumSquare", [p_top, axis_rows], keepdims=1)  # (..., 1, h)
        beta = b.add_node("ReduceSumSquare", [q_top, axis_rows], keepdims=1)
        gamma = b.add_node("ReduceSum", [b.add_node("Mul", [p_top, q_top]), axis_rows], keepdims=1)
        # Norms multiplied, not their squares: those underflow first.
        norms = b.add_node("Mul", [b.add_node("Sqrt", [alpha]), b.add_node("Sqrt", [beta])])
        rotate = b.add_node(
            "Greater", [b.add_node("Abs", [gamma]), b.add_node("Mul", [norms, tol])]
        )
        twice = b.add_node("Where", [rotate, b.add_node("Add", [gamma, gamma]), one])
        zeta = b.add_node("Div", [b.add_node("Sub", [beta, alpha]), twice])
        # The smaller root of t^2 + 2 zeta t - 1 (Rutishauser): |angle| <= pi/4. A huge
        # zeta overflows zeta^2 to inf, and t to 0: no rotation, as it should be.
        root = b.add_node("Sqrt", [b.add_node("Add", [one, b.add_node("Mul", [zeta, zeta])])])
        t = b.add_node("Div", [one, b.add_node("Add", [b.add_node("Abs", [zeta]), root])])
        t = b.add_node("Where", [b.add_node("Less", [zeta, zero]), b.add_node("Neg", [t]), t])
        t = b.add_node("Where", [rotate, t, zero])
        c = b.add_node(
            "Div", [one, b.add_node("Sqrt", [b.add_node("Add", [one, b.add_node("Mul", [t, t])])])]
        )
        s = b.add_node("Mul", [t, c])
        new_p = b.add_node("Sub", [b.add_node("Mul", [c, p]), b.add_node("Mul", [s, q])])
        new_q = b.add_node("Add", [b.add_node("Mul", [s, p]), b.add_node("Mul", [c, q])])
        w = b.add_node("Gather", [b.add_node("Concat", [new_p, new_q], axis=-1), order], axis=-1)
        count = b.add_node("ReduceSum", [b.cast(rotate, "bool", "int64")], keepdims=0)
        return [w, b.add_node("Add", [rotated, count])]

    static_rounds = None if n_static is None else max(n_static + n_static % 2 - 1, 0)
    rounds = _Trips(
        b.add_node("Max", [b.add_node("Sub", [n2, b.int64(1)]), b.int64(0)]), static_rounds
    )

    def sweep(_, state):
        w, _ = state
        w, rotated = counted_loop(
            b, rounds, [(w, dtype), (b.int64(0), "int64")], rotation_round, "svd_round"
        )
        return b.add_node("Greater", [rotated, b.int64(0)]), [w, rotated]

    start = b.add_node("Greater", [n, b.int64(1)])
    work, _ = emit_loop(
        b,
        b.int64(MAX_SVD_SWEEPS),
        start,
        [(work, dtype), (b.int64(0), "int64")],
        sweep,
        "svd_sweep",
    )
    start_0 = b.int64([0])
    x = b.add_node("Slice", [top(work), start_0, n_1d, b.int64([-1])])
    if not with_v:
        return x, None
    v = b.add_node("Slice", [work, m_1d, b.add_node("Add", [m_1d, n_1d]), axis_rows])
    return x, b.add_node("Slice", [v, start_0, n_1d, b.int64([-1])])


def _scaled_finite(builder, a: str, dtype: str):
    """``(a / scale, scale, bad)``: ``bad`` (``(..., 1, 1)`` bool) marks matrices with an
    inf or NaN, which are zeroed (NumPy raises for them; the caller makes them NaN), and
    ``scale``, a power of two (an exact division) near the largest |entry|, keeps
    squared column norms from overflowing or underflowing."""
    b = builder
    axes = b.int64([-2, -1])
    zero, one = b.constant(np.zeros((), dtype)), b.constant(np.ones((), dtype))
    # a - a is NaN exactly at inf and NaN entries; its sum is 0 for an empty matrix.
    probe = b.add_node("ReduceSum", [b.add_node("Sub", [a, a]), axes], keepdims=1)
    bad = b.add_node("IsNaN", [probe])
    a = b.add_node("Where", [bad, zero, a])
    largest = b.add_node("ReduceMax", [b.add_node("Abs", [a]), axes], keepdims=1)  # -inf if empty
    positive = b.add_node("Greater", [largest, zero])
    log2 = b.add_node(
        "Div",
        [
            b.add_node("Log", [b.add_node("Where", [positive, largest, one])]),
            b.constant(np.array(np.log(2.0), dtype)),
        ],
    )
    scale = b.add_node("Pow", [b.constant(np.array(2.0, dtype)), b.add_node("Floor", [log2])])
    return b.add_node("Div", [a, scale]), scale, bad


def _by_orientation(builder, a: str, static_shape, tall, out_specs, hint: str):
    """``tall(matrix, transposed)`` on ``a`` if it has at least as many rows as columns,
    else on its transpose (a wide matrix's columns cannot all be orthogonal). With a
    symbolic row or column count, an ONNX ``If`` picks at run time. ``out_specs`` lists
    the ``(dtype, ndim)`` of the outputs."""
    b = builder
    ndim = len(static_shape)
    m_static, n_static = static_shape[-2], static_shape[-1]
    swapped = [*static_shape[:-2], n_static, m_static]
    if m_static is not None and n_static is not None:
        if m_static >= n_static:
            return tall(a, static_shape, False)
        return tall(transpose_core(b, a, ndim), swapped, True)
    m_1d = b.add_node("Shape", [a], start=-2, end=-1)
    n_1d = b.add_node("Shape", [a], start=-1)
    is_tall = squeeze(b, b.add_node("GreaterOrEqual", [m_1d, n_1d]), [0])
    branches = []
    for transposed in (False, True):
        with b.subgraph() as nodes:
            matrix = transpose_core(b, a, ndim) if transposed else a
            results = tall(matrix, swapped if transposed else static_shape, transposed)
            results = [b.add_node("Identity", [r]) for r in results]
        branches.append(
            helper.make_graph(
                nodes,
                b.fresh_name(f"{hint}_{'wide' if transposed else 'tall'}"),
                [],
                [
                    helper.make_tensor_value_info(name, onnx_dtype(dtype), [None] * rank)
                    for name, (dtype, rank) in zip(results, out_specs)
                ],
            )
        )
    outputs = b.add_node(
        "If",
        [is_tall],
        n_outputs=len(out_specs),
        hint=hint,
        then_branch=branches[0],
        else_branch=branches[1],
    )
    return [outputs] if isinstance(outputs, str) else list(outputs)


def _column_norms(builder, x: str) -> str:
    return builder.add_node(
        "Sqrt", [builder.add_node("ReduceSumSquare", [x, builder.int64([-2])], keepdims=0)]
    )


def svd_tall(builder, a: str, dtype: str, static_shape, compute_uv: bool, full_matrices: bool):
    """SVD of the finite ``(..., m, n)`` ``a`` with m >= n: ``[u, s, v]`` with
    ``a = u diag(s) v^T`` (``[s]`` without ``compute_uv``), ``s`` descending.

    The left vectors ``x / s`` of a rank-deficient matrix leave zero columns (last, after
    sorting). A Householder QR of them completes the basis: the leading orthonormal
    columns come back as ``Q R`` with R's leading block ``diag(+-1)``, and Q's remaining
    columns are orthonormal to them; they also give full_matrices' extra columns.
    """
    b = builder
    zero = b.constant(np.zeros((), dtype))
    one = b.constant(np.ones((), dtype))
    x, v = jacobi_orthogonalize(b, a, dtype, static_shape, with_v=compute_uv)
    n_1d = b.add_node("Shape", [a], start=-1)
    s, order = b.add_node(
        "TopK", [_column_norms(b, x), n_1d], axis=-1, largest=1, sorted=1, n_outputs=2
    )
    if not compute_uv:
        return [s]

    def by_order(y):
        columns = b.add_node("Expand", [unsqueeze(b, order, [-2]), b.add_node("Shape", [y])])
        return b.add_node("GatherElements", [y, columns], axis=-1)

    x, v = by_order(x), by_order(v)
    positive = unsqueeze(b, b.add_node("Greater", [s, zero]), [-2])
    safe = b.add_node("Where", [positive, unsqueeze(b, s, [-2]), one])
    u = b.add_node("Where", [positive, b.add_node("Div", [x, safe]), zero])
    q, r, _ = householder_qr(b, u, dtype, static_shape, with_q=True)
    rows = b.add_node(
        "Range",
        [b.int64(0), squeeze(b, b.add_node("Shape", [a], start=-2, end=-1), [0]), b.int64(1)],
    )
    cols = b.add_node("Range", [b.int64(0), squeeze(b, n_1d, [0]), b.int64(1)])
    on_diagonal = b.add_node("Equal", [unsqueeze(b, rows, [1]), cols])
    diagonal = b.add_node(
        "ReduceSum", [b.add_node("Where", [on_diagonal, r, zero]), b.int64([-2])], keepdims=1
    )
    signs = b.add_node(
        "Where", [b.add_node("Less", [diagonal, zero]), b.constant(np.array(-1, dtype)), one]
    )
    last = b.int64([-1])
    u = b.add_node("Mul", [b.add_node("Slice", [q, b.int64([0]), n_1d, last]), signs])
    if full_matrices:
        rest = b.add_node("Slice", [q, n_1d, b.int64([np.iinfo("int64").max]), last])
        u = b.add_node("Concat", [u, rest], axis=-1)
    return [u, s, v]


def pinv_tall(builder, a: str, dtype: str, static_shape, rcond: str):
    """The pseudo-inverse ``(..., n, m)`` of the finite ``(..., m, n)`` ``a`` (m >= n) as
    NumPy's: singular values up to ``rcond`` (a scalar value) times the largest count as
    0. With ``x = a v = u diag(s)``, ``pinv = v diag(1 / s^2) x^T``: no left vectors."""
    b = builder
    zero = b.constant(np.zeros((), dtype))
    x, v = jacobi_orthogonalize(b, a, dtype, static_shape, with_v=True)
    s = _column_norms(b, x)
    largest = b.add_node("ReduceMax", [s, b.int64([-1])], keepdims=1)
    kept = b.add_node("Greater", [s, b.add_node("Mul", [rcond, largest])])
    safe = b.add_node("Where", [kept, b.add_node("Mul", [s, s]), b.constant(np.ones((), dtype))])
    weights = b.add_node("Where", [kept, b.add_node("Reciprocal", [safe]), zero])
    ndim = len(static_shape)
    weighted = b.add_node("Mul", [v, unsqueeze(b, weights, [-2])])
    return b.add_node("MatMul", [weighted, transpose_core(b, x, ndim)]), s, kept


def _nan_if(builder, bad: str, x: str, dtype: str, squeeze_axes=()) -> str:
    if squeeze_axes:
        bad = squeeze(builder, bad, list(squeeze_axes))
    return nan_where(builder, bad, x, dtype)


@onnx_funcify.register(SVD)
def onnx_funcify_SVD(op, node, builder, inputs, **kwargs):
    b = builder
    (a,), dtype = _operands(b, node, inputs, output=-1 if op.compute_uv else 0)
    ndim = node.inputs[0].type.ndim
    a, scale, bad = _scaled_finite(b, a, dtype)

    def tall(matrix, shape, transposed):
        results = svd_tall(b, matrix, dtype, shape, op.compute_uv, op.full_matrices)
        if not op.compute_uv:
            return results
        u, s, v = results
        # a^T = u s v^T  <=>  a = v s u^T
        return (
            [v, s, transpose_core(b, u, ndim)] if transposed else [u, s, transpose_core(b, v, ndim)]
        )

    specs = (
        [(dtype, ndim), (dtype, ndim - 1), (dtype, ndim)] if op.compute_uv else [(dtype, ndim - 1)]
    )
    results = _by_orientation(b, a, node.inputs[0].type.shape, tall, specs, "svd")
    s_index = 1 if op.compute_uv else 0
    results[s_index] = b.add_node("Mul", [results[s_index], squeeze(b, scale, [-1])])
    return [_nan_if(b, bad, r, dtype, (-1,) if i == s_index else ()) for i, r in enumerate(results)]


def _pinv(builder, a: str, dtype: str, static_shape, rcond: str):
    """pinv of ``a`` (any orientation), its singular values and which were kept."""
    b = builder
    ndim = len(static_shape)
    a, scale, bad = _scaled_finite(b, a, dtype)

    def tall(matrix, shape, transposed):
        p, s, kept = pinv_tall(b, matrix, dtype, shape, rcond)
        return [transpose_core(b, p, ndim) if transposed else p, s, b.cast(kept, "bool", dtype)]

    specs = [(dtype, ndim), (dtype, ndim - 1), (dtype, ndim - 1)]
    p, s, kept = _by_orientation(b, a, static_shape, tall, specs, "pinv")
    p = _nan_if(b, bad, b.add_node("Div", [p, scale]), dtype)
    return p, s, kept, scale, bad


@onnx_funcify.register(MatrixPinv)
def onnx_funcify_MatrixPinv(op, node, builder, inputs, **kwargs):
    (a,), dtype = _operands(builder, node, inputs)
    ndim = node.inputs[0].type.ndim
    if op.hermitian:
        # NumPy's pinv(hermitian=True) reads the lower triangle only (eigh's UPLO="L").
        index = MatrixIndex(builder, a, static_size(node.inputs[0]))
        a = symmetric_from_triangle(builder, a, index, ndim, lower=True)
    rcond = builder.constant(np.array(NUMPY_PINV_RCOND, dtype))
    p, *_ = _pinv(builder, a, dtype, node.inputs[0].type.shape, rcond)
    return p


# NumPy's default rcond of pinv (whatever the dtype).
NUMPY_PINV_RCOND = 1e-15


@onnx_funcify.register(Lstsq)
def onnx_funcify_Lstsq(op, node, builder, inputs, **kwargs):
    b = builder
    if node.inputs[0].type.ndim != 2 or node.inputs[1].type.ndim != 2:
        raise NotImplementedError(
            "Lstsq: only a matrix a and a matrix b are lowered (PyTensor types the solution "
            "as a matrix, which NumPy's for a vector b is not)"
        )
    # PyTensor computes in float64 whatever the inputs (NumPy's lstsq of its arrays).
    x, y, rcond = (b.cast(name, var.dtype, "float64") for name, var in zip(inputs, node.inputs))
    # gelsd takes a negative rcond for machine precision.
    rcond = b.add_node(
        "Where",
        [
            b.add_node("Less", [rcond, b.constant(np.zeros((), "float64"))]),
            b.constant(np.array(np.finfo("float64").eps)),
            rcond,
        ],
    )
    p, s, kept, scale, _ = _pinv(b, x, "float64", node.inputs[0].type.shape, rcond)
    solution = b.add_node("MatMul", [p, y])
    rank = b.add_node("ReduceSum", [b.cast(kept, "float64", "int64")], keepdims=0)
    # NumPy reports squared residual norms only for a full-rank tall system, else none.
    residuals = b.add_node(
        "ReduceSumSquare",
        [b.add_node("Sub", [y, b.add_node("MatMul", [x, solution])]), b.int64([-2])],
        keepdims=0,
    )
    m, n = (squeeze(b, b.add_node("Shape", [x], start=i, end=i + 1), [0]) for i in (0, 1))
    full = b.add_node("And", [b.add_node("Equal", [rank, n]), b.add_node("Greater", [m, n])])
    length = b.add_node("Where", [full, b.add_node("Shape", [y], start=-1), b.int64([0])])
    residuals = b.add_node("Slice", [residuals, b.int64([0]), length, b.int64([0])])
    s = b.add_node("Mul", [s, squeeze(b, scale, [-1])])
    s, _ = b.add_node(
        "TopK", [s, b.add_node("Shape", [s])], axis=-1, largest=1, sorted=1, n_outputs=2
    )
    return [solution, residuals, b.cast(rank, "int64", node.outputs[2].dtype), s]


def _matrix_of(builder, a: str, ind: int) -> str:
    """``a`` reshaped to ``(prod(shape[:ind]), prod(shape[ind:]))``."""
    b = builder
    first = b.add_node("ReduceProd", [b.add_node("Shape", [a], end=ind)], keepdims=1)
    rest = b.add_node("ReduceProd", [b.add_node("Shape", [a], start=ind)], keepdims=1)
    return b.add_node("Reshape", [a, b.add_node("Concat", [first, rest], axis=0)])


def _static_prod(shape):
    return None if None in shape else int(np.prod(shape, dtype="int64"))


@onnx_funcify.register(TensorInv)
def onnx_funcify_TensorInv(op, node, builder, inputs, **kwargs):
    # NumPy: inv(a.reshape(prod(shape[ind:]), -1)).reshape(shape[ind:] + shape[:ind]);
    # "square" makes prod(shape[:ind]) = prod(shape[ind:]). NaN where NumPy raises.
    b = builder
    (a,), dtype = _operands(b, node, inputs)
    if not dtype.startswith("float"):
        raise NotImplementedError(f"TensorInv of {dtype}: PyTensor types the inverse as {dtype}")
    shape = node.inputs[0].type.shape
    ind = op.ind
    matrix = _matrix_of(b, a, ind)
    index = MatrixIndex(b, matrix, _static_prod(shape[ind:]))
    identity = b.add_node("Expand", [index.eye(dtype), b.add_node("Shape", [matrix])])
    inverse = solve_general(b, matrix, identity, dtype, index)
    new_shape = b.add_node(
        "Concat",
        [b.add_node("Shape", [a], start=ind), b.add_node("Shape", [a], end=ind)],
        axis=0,
    )
    return b.add_node("Reshape", [inverse, new_shape])


@onnx_funcify.register(TensorSolve)
def onnx_funcify_TensorSolve(op, node, builder, inputs, **kwargs):
    b = builder
    (a, rhs), dtype = _operands(b, node, inputs)
    if not dtype.startswith("float"):
        raise NotImplementedError(f"TensorSolve of {dtype}: PyTensor types x as {dtype}")
    a_ndim, b_ndim = node.inputs[0].type.ndim, node.inputs[1].type.ndim
    if a_ndim - b_ndim != node.outputs[0].type.ndim:
        raise NotImplementedError(
            f"TensorSolve with a.ndim={a_ndim}, b.ndim={b_ndim}: NumPy's x has "
            f"{a_ndim - b_ndim} dims, PyTensor types it as a matrix"
        )
    shape = list(node.inputs[0].type.shape)
    if op.axes is not None:
        # NumPy moves the listed axes of a to the end, in order.
        axes = [k % a_ndim for k in op.axes]
        perm = [k for k in range(a_ndim) if k not in axes] + axes
        a = b.add_node("Transpose", [a], perm=perm)
        shape = [shape[k] for k in perm]
    matrix = _matrix_of(b, a, b_ndim)
    index = MatrixIndex(b, matrix, _static_prod(shape[b_ndim:]))
    column = b.add_node("Reshape", [rhs, b.int64([-1, 1])])
    x = solve_general(b, matrix, column, dtype, index)
    return b.add_node("Reshape", [x, b.add_node("Shape", [a], start=b_ndim)])


# These converters work on the trailing core dims, any leading dims being a batch.
register_batch_aware(Det, SLogDet, MatrixInverse, Eigh, Eigvalsh, SVD, MatrixPinv)
