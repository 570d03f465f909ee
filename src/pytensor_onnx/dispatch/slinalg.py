"""Linear algebra ONNX lacks, built from primitives: Cholesky, solves, LU, QR.

ONNX has ``MatMul`` but no factorisation, and onnxruntime has no float64 ``Det``. Each
factorisation here is the textbook O(n^3) algorithm written as n steps over whole
matrices: one step per column (or row), a rank-1 update by ``MatMul``, and ``Where``
with index masks to write one column or row. The steps run in an ONNX ``Loop``, which
handles sizes only known at run time; for small static sizes they are unrolled
(see :data:`UNROLL_MAX`).

Every helper works on the trailing core dims (a matrix is ``(..., n, n)``, a right-hand
side ``(..., n, k)``) and treats leading dims as a batch: the ``Blockwise`` converter
hands these converters its own node, with the batch dims of all inputs broadcast to one
shape.

Failures PyTensor signals per matrix (LAPACK's ``info != 0``) become NaN for that matrix,
since ONNX cannot raise: Cholesky of a matrix that is not positive definite, a triangular
solve with a zero on the diagonal, a general solve or inverse of an exactly singular
matrix (PyTensor's ``Solve`` returns NaN there too; ``MatrixInverse`` raises).

Not lowered (NotImplementedError): QR with pivoting or mode="raw". Symmetric
eigenproblems, SVD and the pseudo-inverse are in ``nlinalg.py``.
"""

from __future__ import annotations

import numpy as np

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.blockwise import register_batch_aware
from pytensor_onnx.dispatch.shape import squeeze, unsqueeze

try:  # pytensor >= 3: the linalg package
    from pytensor.tensor.linalg import (
        LU,
        QR,
        Cholesky,
        CholeskySolve,
        LUFactor,
        PivotToPermutations,
        Solve,
        SolveTriangular,
    )
except ImportError:  # pytensor 2.x
    from pytensor.tensor.slinalg import (
        LU,
        QR,
        Cholesky,
        CholeskySolve,
        LUFactor,
        PivotToPermutations,
        Solve,
        SolveTriangular,
    )

# Largest static size whose steps are unrolled into the main graph instead of a Loop.
# Measured (onnxruntime 1.32, 1 thread, float64, best of interleaved runs on the shared
# 2-core machine), unrolled vs Loop: n=3 Cholesky 33 vs 81 us, solve 197 vs 259, det
# equal; n=8 Cholesky 113 vs 167, solve 371 vs 434, det equal. At n=16 an unrolled solve
# was slower (577 vs 401 us: ~45 nodes per step), so unroll up to 8.
UNROLL_MAX = 8


# -- shared emit helpers -------------------------------------------------------------------
def static_size(var, axis: int = -1) -> int | None:
    """The static length of a square core matrix ``var`` (both trailing dims known)."""
    shape = var.type.shape
    if len(shape) < 2 or shape[-1] is None or shape[-2] is None:
        return None
    return int(shape[axis])


class MatrixIndex:
    """Index vectors and masks for the trailing ``(n, n)`` dims of a matrix value."""

    def __init__(self, builder, matrix: str, static_n: int | None):
        self.builder = builder
        self.static_n = static_n
        if static_n is not None:
            self.size_1d = builder.int64([static_n])
            self.size = builder.int64(static_n)
        else:
            self.size_1d = builder.add_node("Shape", [matrix], start=-1)
            self.size = squeeze(builder, self.size_1d, [0])
        self.last = builder.add_node("Sub", [self.size, builder.int64(1)])
        # `rows` is (n, 1) and `cols` (n,): comparing them broadcasts to an (n, n) mask.
        self.cols = builder.add_node("Range", [builder.int64(0), self.size, builder.int64(1)])
        self.rows = unsqueeze(builder, self.cols, [1])

    def mask(self, compare: str, row=None, col=None) -> str:
        """Bool mask ``row <compare> col`` with index vectors/scalars (default: all of them)."""
        row = self.rows if row is None else row
        col = self.cols if col is None else col
        return self.builder.add_node(compare, [row, col])

    def triangle(self, lower: bool, strict: bool = False) -> str:
        if lower:
            return self.mask("Greater" if strict else "GreaterOrEqual")
        return self.mask("Less" if strict else "LessOrEqual")

    def diagonal(self, x: str, dtype: str) -> str:
        """The diagonal ``(..., n)`` of ``x`` (``(..., n, n)``), reading nothing else."""
        b = self.builder
        picked = b.add_node("Where", [self.mask("Equal"), x, b.constant(np.zeros((), dtype))])
        return b.add_node("ReduceSum", [picked, b.int64([-1])], keepdims=0)

    def eye(self, dtype: str) -> str:
        b = self.builder
        return b.cast(self.mask("Equal"), "bool", dtype)


def counted_loop(builder, index, carried, step, hint: str):
    """Run ``step(k, state) -> state`` for k = 0 .. n-1 (n: ``index.size``, an int64
    scalar value, known statically if ``index.static_n`` is not None).

    ``carried`` is a list of ``(name, dtype)``; ``k`` an int64 scalar value. Unrolled for
    static n <= :data:`UNROLL_MAX`, else an ONNX ``Loop`` whose body reads outer values.
    """
    if index.static_n is not None and index.static_n <= UNROLL_MAX:
        state = [name for name, _ in carried]
        for k in range(index.static_n):
            state = step(builder.int64(k), state)
        return state
    return emit_loop(
        builder, index.size, "", carried, lambda k, state: (None, step(k, state)), hint
    )


def emit_loop(builder, trips: str, keep_going: str, carried, step, hint: str):
    """:meth:`GraphBuilder.loop` without scan outputs: ``step(k, state)`` returns
    ``(keep_going, state)``, keep_going None to go on. Returns the final state."""
    return builder.loop(
        trips, keep_going, carried, lambda k, state: (*step(k, state), []), hint=hint
    )


def zeros_like(builder, x: str, dtype: str) -> str:
    shape = builder.add_node("Shape", [x])
    return builder.add_node("Expand", [builder.constant(np.zeros((), dtype)), shape])


def nan_where(builder, bad: str, x: str, dtype: str) -> str:
    """``x`` with every core matrix whose ``bad`` flag (``(..., 1, 1)`` bool) is set NaN."""
    return builder.add_node("Where", [bad, builder.constant(np.array(np.nan, dtype)), x])


def any_in_core(builder, flags: str, dtype: str) -> str:
    """``(..., 1, 1)`` bool: whether any of the ``(..., n)`` bool ``flags`` is set.

    A sum, not a max: it is 0 for n = 0 where a max of nothing is undefined.
    """
    count = builder.add_node(
        "ReduceSum", [builder.cast(flags, "bool", dtype), builder.int64([-1])], keepdims=1
    )
    count = unsqueeze(builder, count, [-1])
    return builder.add_node("Greater", [count, builder.constant(np.zeros((), dtype))])


def transpose_core(builder, x: str, ndim: int) -> str:
    perm = [*range(ndim - 2), ndim - 1, ndim - 2]
    return builder.add_node("Transpose", [x], perm=perm)


def cholesky_lower(builder, a: str, dtype: str, index: MatrixIndex) -> str:
    """Lower Cholesky factor of ``a`` from its lower triangle (NaN if not positive definite).

    Outer-product form: step k takes column k of the updated matrix, scales it by the
    square root of its diagonal entry, and subtracts its outer product. Only entries on
    or below the diagonal are ever read, as LAPACK's potrf reads one triangle.
    """
    b = builder
    zero = b.constant(np.zeros((), dtype))

    def step(k, state):
        work, factor = state
        column = b.add_node("Gather", [work, k], axis=-1)  # (..., n)
        pivot = b.add_node("Gather", [column, k], axis=-1)  # (...)
        # A pivot <= 0 (failure) gives a 0 on the factor's diagonal, a NaN pivot a NaN.
        root = b.add_node(
            "Where",
            [b.add_node("LessOrEqual", [pivot, zero]), zero, b.add_node("Sqrt", [pivot])],
        )
        # Masked after dividing: rows above k stay 0 even when the pivot is 0 or NaN. The
        # diagonal entry is the root itself, as potrf stores it (not pivot / root).
        scaled = b.add_node(
            "Where",
            [
                index.mask("Greater", index.cols, k),
                b.add_node("Div", [column, unsqueeze(b, root, [-1])]),
                zero,
            ],
        )
        scaled = b.add_node(
            "Where", [index.mask("Equal", index.cols, k), unsqueeze(b, root, [-1]), scaled]
        )
        as_column = unsqueeze(b, scaled, [-1])  # (..., n, 1)
        factor = b.add_node(
            "Where", [index.mask("Equal", index.cols, k), as_column, factor]
        )  # column k of the (n, n) factor
        outer = b.add_node("MatMul", [as_column, unsqueeze(b, scaled, [-2])])
        return [b.add_node("Sub", [work, outer]), factor]

    _, factor = counted_loop(
        b, index, [(a, dtype), (zeros_like(b, a, dtype), dtype)], step, "cholesky"
    )
    # A NaN pivot is no failure to LAPACK (OpenBLAS's potrf tests `ajj <= 0`): the NaN
    # propagates, as it does here. A pivot <= 0 makes the whole matrix NaN.
    failed = b.add_node("LessOrEqual", [index.diagonal(factor, dtype), zero])
    return nan_where(b, any_in_core(b, failed, dtype), factor, dtype)


def triangular_solve(
    builder,
    a: str,
    rhs: str,
    dtype: str,
    index: MatrixIndex,
    *,
    lower: bool,
    unit_diagonal: bool = False,
    nan_if_singular: bool = True,
) -> str:
    """Solve ``tri(a) @ x = rhs`` for ``rhs`` of shape ``(..., n, k)``.

    Reads only the triangle of ``a`` (and not its diagonal with ``unit_diagonal``), as
    LAPACK's trtrs does. Substitution row by row: step i computes
    ``x[i] = (rhs[i] - a[i, :] @ x) / a[i, i]`` while rows of ``x`` not yet solved are 0.
    With ``nan_if_singular``, a matrix with a zero on its diagonal gives NaN (trtrs's
    ``info > 0``, which PyTensor turns into NaN); otherwise divisions by zero show.
    """
    b = builder
    zero = b.constant(np.zeros((), dtype))
    # Strict: the diagonal divides, and 0 * inf must not reach the row products.
    tri = b.add_node("Where", [index.triangle(lower, strict=True), a, zero])
    diagonal = None if unit_diagonal else index.diagonal(a, dtype)
    diagonal_column = None if unit_diagonal else unsqueeze(b, diagonal, [-1])  # (..., n, 1)

    def step(k, state):
        (x,) = state
        # Forward for lower, backward for upper: upper rows are solved last to first.
        i = k if lower else b.add_node("Sub", [index.last, k])
        i_1d = unsqueeze(b, i, [0])
        row = unsqueeze(b, b.add_node("Gather", [tri, i], axis=-2), [-2])  # (..., 1, n)
        rest = b.add_node(
            "Sub",
            [b.add_node("Gather", [rhs, i_1d], axis=-2), b.add_node("MatMul", [row, x])],
        )  # (..., 1, k)
        if diagonal_column is not None:
            rest = b.add_node("Div", [rest, b.add_node("Gather", [diagonal_column, i_1d], axis=-2)])
        return [b.add_node("Where", [index.mask("Equal", index.rows, i), rest, x])]

    (x,) = counted_loop(b, index, [(zeros_like(b, rhs, dtype), dtype)], step, "trisolve")
    if nan_if_singular and diagonal is not None:
        singular = b.add_node("Equal", [diagonal, zero])
        x = nan_where(b, any_in_core(b, singular, dtype), x, dtype)
    return x


def swap_indices(builder, index: MatrixIndex, k: str, p: str) -> str:
    """``(..., n)`` int64: 0..n-1 with entries k and p (``(..., 1)``) exchanged."""
    b = builder
    others = b.add_node("Where", [b.add_node("Equal", [index.cols, p]), k, index.cols])
    return b.add_node("Where", [index.mask("Equal", index.cols, k), p, others])


def lu_eliminate(
    builder, m: str, dtype: str, index: MatrixIndex, *, keep_multipliers: bool = False
):
    """Gaussian elimination with partial pivoting on the first n columns of ``m``.

    ``m`` is ``(..., n, w)`` with w >= n (a matrix, or one augmented with right-hand
    sides, which get the same row operations). Returns ``(reduced, pivots)``: ``reduced``
    holds U in its leading ``(n, n)`` block (and the multipliers of L below the diagonal
    with ``keep_multipliers``, LAPACK getrf's compact form), ``pivots`` ``(..., n)`` int64
    the row swapped with row k at step k (getrf's ipiv, 0-based). Like getrf, a zero pivot
    (a singular matrix) is skipped, not divided by, so U keeps an exact 0 on its diagonal.
    """
    b = builder
    zero = b.constant(np.zeros((), dtype))
    minus_one = b.constant(np.array(-1, dtype))
    shape = b.add_node("Shape", [m])
    width = b.add_node("Shape", [m], start=-1)
    columns = b.add_node("Range", [b.int64(0), squeeze(b, width, [0]), b.int64(1)])

    def step(k, state):
        work, pivots = state
        k_1d = unsqueeze(b, k, [0])
        column = b.add_node("Gather", [work, k], axis=-1)  # (..., n)
        size = b.add_node("Abs", [column])
        # LAPACK's idamax: the first entry larger than every one before it. Row k wins
        # ties and when it is NaN; a NaN below it never wins (NaN != NaN drops it).
        below_valid = b.add_node(
            "And", [index.mask("Greater", index.cols, k), b.add_node("Equal", [size, size])]
        )
        candidates = b.add_node("Where", [below_valid, size, minus_one])
        best = b.add_node("ReduceMax", [candidates, b.int64([-1])], keepdims=1)
        p = b.add_node(
            "Where",
            [
                b.add_node("Greater", [best, b.add_node("Gather", [size, k_1d], axis=-1)]),
                b.add_node("ArgMax", [candidates], axis=-1, keepdims=1),
                k,
            ],
        )  # (..., 1)
        swap = swap_indices(b, index, k, p)
        work = b.add_node(
            "GatherElements",
            [work, b.add_node("Expand", [unsqueeze(b, swap, [-1]), shape])],
            axis=-2,
        )
        pivot_row = b.add_node("Gather", [work, k_1d], axis=-2)  # (..., 1, w)
        pivot = b.add_node("Gather", [pivot_row, k_1d], axis=-1)  # (..., 1, 1)
        safe = b.add_node(
            "Where", [b.add_node("Equal", [pivot, zero]), b.constant(np.ones((), dtype)), pivot]
        )
        below = index.mask("Greater", index.rows, k)  # (n, 1)
        multipliers = b.add_node(
            "Where",
            [below, b.add_node("Div", [b.add_node("Gather", [work, k_1d], axis=-1), safe]), zero],
        )  # (..., n, 1)
        # Only the trailing block changes, as in getrf: row k's earlier multipliers
        # (columns < k) are L, and 0 * inf must not reach rows <= k.
        pivot_row = b.add_node("Where", [b.add_node("Greater", [columns, k]), pivot_row, zero])
        updated = b.add_node("Sub", [work, b.add_node("MatMul", [multipliers, pivot_row])])
        work = b.add_node("Where", [below, updated, work])
        if keep_multipliers:
            in_column = b.add_node("And", [below, b.add_node("Equal", [columns, k])])
            work = b.add_node("Where", [in_column, multipliers, work])
        return [work, b.add_node("Where", [index.mask("Equal", index.cols, k), p, pivots])]

    no_swaps = b.add_node("Expand", [index.cols, b.add_node("Shape", [m], end=-1)])
    work, pivots = counted_loop(b, index, [(m, dtype), (no_swaps, "int64")], step, "lu")
    return work, pivots


def leading_columns(builder, m: str, index: MatrixIndex) -> str:
    """The first n columns of ``(..., n, w)`` ``m``."""
    return builder.add_node("Slice", [m, builder.int64([0]), index.size_1d, builder.int64([-1])])


def solve_general(builder, a: str, rhs: str, dtype: str, index: MatrixIndex) -> str:
    """``a^-1 rhs`` for ``rhs`` ``(..., n, k)`` by LU with partial pivoting; NaN if singular."""
    b = builder
    augmented = b.add_node("Concat", [a, rhs], axis=-1)
    reduced, _ = lu_eliminate(b, augmented, dtype, index)
    upper = leading_columns(b, reduced, index)
    transformed = b.add_node(
        "Slice", [reduced, index.size_1d, b.int64([np.iinfo("int64").max]), b.int64([-1])]
    )
    return triangular_solve(b, upper, transformed, dtype, index, lower=False)


def symmetric_from_triangle(builder, a: str, index: MatrixIndex, ndim: int, lower: bool):
    """The symmetric matrix whose ``lower`` (or upper) triangle is that of ``a``."""
    mirrored = transpose_core(builder, a, ndim)
    return builder.add_node("Where", [index.triangle(lower), a, mirrored])


def _as_matrix_rhs(builder, rhs: str, b_ndim: int) -> str:
    return unsqueeze(builder, rhs, [-1]) if b_ndim == 1 else rhs


def _from_matrix_rhs(builder, x: str, b_ndim: int) -> str:
    return squeeze(builder, x, [-1]) if b_ndim == 1 else x


def _operands(builder, node, inputs, output: int = 0):
    """Inputs cast to the dtype of the ``output``-th output, and that dtype."""
    dtype = node.outputs[output].dtype
    return [builder.cast(name, var.dtype, dtype) for name, var in zip(inputs, node.inputs)], dtype


# -- converters ----------------------------------------------------------------------------
@onnx_funcify.register(Cholesky)
def onnx_funcify_Cholesky(op, node, builder, inputs, **kwargs):
    (a,), dtype = _operands(builder, node, inputs)
    ndim = node.inputs[0].type.ndim
    index = MatrixIndex(builder, a, static_size(node.inputs[0]))
    if op.lower:
        return cholesky_lower(builder, a, dtype, index)
    # The upper factor from the upper triangle is the transposed lower factor of a^T.
    factor = cholesky_lower(builder, transpose_core(builder, a, ndim), dtype, index)
    return transpose_core(builder, factor, ndim)


@onnx_funcify.register(SolveTriangular)
def onnx_funcify_SolveTriangular(op, node, builder, inputs, **kwargs):
    # pytensor's solve_triangular(trans=1) transposes `a` in the graph: the op has no trans.
    (a, rhs), dtype = _operands(builder, node, inputs)
    index = MatrixIndex(builder, a, static_size(node.inputs[0]))
    x = triangular_solve(
        builder,
        a,
        _as_matrix_rhs(builder, rhs, op.b_ndim),
        dtype,
        index,
        lower=op.lower,
        unit_diagonal=op.unit_diagonal,
    )
    return _from_matrix_rhs(builder, x, op.b_ndim)


@onnx_funcify.register(CholeskySolve)
def onnx_funcify_CholeskySolve(op, node, builder, inputs, **kwargs):
    # potrs checks nothing: a zero on the factor's diagonal shows as inf/NaN, as here.
    (c, rhs), dtype = _operands(builder, node, inputs)
    ndim = node.inputs[0].type.ndim
    index = MatrixIndex(builder, c, static_size(node.inputs[0]))
    c_t = transpose_core(builder, c, ndim)
    rhs = _as_matrix_rhs(builder, rhs, op.b_ndim)
    # lower: c c^T x = rhs; upper: c^T c x = rhs. First solve with the lower one of c, c^T.
    first, second = (c, c_t) if op.lower else (c_t, c)
    solve = dict(dtype=dtype, index=index, nan_if_singular=False)
    y = triangular_solve(builder, first, rhs, lower=True, **solve)
    x = triangular_solve(builder, second, y, lower=False, **solve)
    return _from_matrix_rhs(builder, x, op.b_ndim)


@onnx_funcify.register(Solve)
def onnx_funcify_Solve(op, node, builder, inputs, **kwargs):
    (a, rhs), dtype = _operands(builder, node, inputs)
    ndim = node.inputs[0].type.ndim
    index = MatrixIndex(builder, a, static_size(node.inputs[0]))
    rhs = _as_matrix_rhs(builder, rhs, op.b_ndim)
    assume_a = op.assume_a
    if assume_a == "pos":
        factor = cholesky_lower(
            builder, a if op.lower else transpose_core(builder, a, ndim), dtype, index
        )
        y = triangular_solve(builder, factor, rhs, dtype, index, lower=True)
        factor_t = transpose_core(builder, factor, ndim)
        x = triangular_solve(builder, factor_t, y, dtype, index, lower=False)
    elif assume_a in ("gen", "sym", "her", "tridiagonal", "banded"):
        if assume_a in ("sym", "her"):
            # scipy reads one triangle (and factors with Bunch-Kaufman); LU of the
            # symmetric matrix that triangle defines solves the same system.
            a = symmetric_from_triangle(builder, a, index, ndim, op.lower)
        elif assume_a == "tridiagonal":
            # scipy reads only the three central diagonals.
            distance = builder.add_node("Abs", [index.mask("Sub")])
            band = builder.add_node("LessOrEqual", [distance, builder.int64(1)])
            a = builder.add_node("Where", [band, a, builder.constant(np.zeros((), dtype))])
        x = solve_general(builder, a, rhs, dtype, index)
    else:
        raise NotImplementedError(f"Solve: no ONNX lowering for assume_a={assume_a!r}")
    return _from_matrix_rhs(builder, x, op.b_ndim)


def pivots_to_permutation(builder, pivots: str, index: MatrixIndex) -> str:
    """The row order LAPACK's swaps ``pivots`` (``(..., n)`` int64) produce: ``a[perm]``
    is the matrix getrf factored. PyTensor's ``PivotToPermutations(inverse=True)``."""
    b = builder

    def step(k, state):
        (perm,) = state
        p = b.add_node("Gather", [pivots, unsqueeze(b, k, [0])], axis=-1)  # (..., 1)
        return [b.add_node("GatherElements", [perm, swap_indices(b, index, k, p)], axis=-1)]

    start = b.add_node("Expand", [index.cols, b.add_node("Shape", [pivots])])
    (perm,) = counted_loop(b, index, [(start, "int64")], step, "permute")
    return perm


def invert_permutation(builder, perm: str, index: MatrixIndex) -> str:
    """``argsort(perm)`` of a permutation ``(..., n)``, by scattering positions."""
    positions = builder.add_node("Expand", [index.cols, builder.add_node("Shape", [perm])])
    return builder.add_node("ScatterElements", [perm, perm, positions], axis=-1)


def _factor_lu(builder, node, inputs, factor_output: int):
    (a,), dtype = _operands(builder, node, inputs, output=factor_output)
    index = MatrixIndex(builder, a, static_size(node.inputs[0]))
    compact, pivots = lu_eliminate(builder, a, dtype, index, keep_multipliers=True)
    return compact, pivots, dtype, index


@onnx_funcify.register(LUFactor)
def onnx_funcify_LUFactor(op, node, builder, inputs, **kwargs):
    compact, pivots, dtype, index = _factor_lu(builder, node, inputs, factor_output=0)
    # getrf's info > 0 (an exact zero pivot), which PyTensor turns into NaN.
    singular = builder.add_node(
        "Equal", [index.diagonal(compact, dtype), builder.constant(np.zeros((), dtype))]
    )
    compact = nan_where(builder, any_in_core(builder, singular, dtype), compact, dtype)
    return [compact, builder.cast(pivots, "int64", node.outputs[1].dtype)]


@onnx_funcify.register(LU)
def onnx_funcify_LU(op, node, builder, inputs, **kwargs):
    b = builder
    # The last output is a factor in every variant (the first may be int32 indices).
    compact, pivots, dtype, index = _factor_lu(b, node, inputs, factor_output=-1)
    zero = b.constant(np.zeros((), dtype))
    lower = b.add_node(
        "Add",
        [b.add_node("Where", [index.triangle(True, strict=True), compact, zero]), index.eye(dtype)],
    )
    upper = b.add_node("Where", [index.triangle(False), compact, zero])
    # a[perm] = L U, so a = P L U with P[j, i] = (j == perm[i]).
    perm = pivots_to_permutation(b, pivots, index)
    if op.p_indices and not op.permute_l:
        # scipy's p_indices: a = L[p] U, p the inverse of perm.
        p = b.cast(invert_permutation(b, perm, index), "int64", node.outputs[0].dtype)
        return [p, lower, upper]
    if op.permute_l:
        # P L is L with its rows in the order inverse to perm.
        inverse = invert_permutation(b, perm, index)
        shape = b.add_node("Shape", [lower])
        rows = b.add_node("Expand", [unsqueeze(b, inverse, [-1]), shape])
        return [b.add_node("GatherElements", [lower, rows], axis=-2), upper]
    permutation = b.add_node("Equal", [index.rows, unsqueeze(b, perm, [-2])])
    return [b.cast(permutation, "bool", node.outputs[0].dtype), lower, upper]


@onnx_funcify.register(PivotToPermutations)
def onnx_funcify_PivotToPermutations(op, node, builder, inputs, **kwargs):
    (pivots,) = inputs
    pivots = builder.cast(pivots, node.inputs[0].dtype, "int64")
    index = MatrixIndex(builder, pivots, node.inputs[0].type.shape[-1])
    perm = pivots_to_permutation(builder, pivots, index)
    return perm if op.inverse else invert_permutation(builder, perm, index)


class _Trips:
    """A loop count for :func:`counted_loop`: ``size`` (int64 scalar value), ``static_n``."""

    def __init__(self, size: str, static_n: int | None):
        self.size, self.static_n = size, static_n


def householder_qr(builder, a: str, dtype: str, shape, with_q: bool):
    """Householder QR of ``(..., m, n)`` ``a`` as LAPACK's geqr2/orgqr compute it.

    Step k reflects rows k.. of column k onto its first entry with dlarfg's choices:
    ``beta = -sign(alpha) * norm``, no reflection (tau = 0) when the entries below the
    diagonal are already 0. Returns ``(q, r, k_1d)``: Q ``(..., m, m)`` (None without
    ``with_q``), R ``(..., m, n)`` and min(m, n) as a 1-D int64.
    """
    b = builder
    zero = b.constant(np.zeros((), dtype))
    one = b.constant(np.ones((), dtype))
    m_static, n_static = shape[-2], shape[-1]
    m_1d = b.add_node("Shape", [a], start=-2, end=-1)
    n_1d = b.add_node("Shape", [a], start=-1)
    k_1d = b.add_node("Min", [m_1d, n_1d])
    static_k = None if None in (m_static, n_static) else min(m_static, n_static)
    trips = _Trips(b.int64(static_k) if static_k is not None else squeeze(b, k_1d, [0]), static_k)
    rows = b.add_node("Range", [b.int64(0), squeeze(b, m_1d, [0]), b.int64(1)])  # (m,)
    cols = b.add_node("Range", [b.int64(0), squeeze(b, n_1d, [0]), b.int64(1)])  # (n,)

    def step(k, state):
        r, *q = state
        k_1d_ = unsqueeze(b, k, [0])
        column = b.add_node("Gather", [r, k], axis=-1)  # (..., m)
        alpha = b.add_node("Gather", [column, k_1d_], axis=-1)  # (..., 1)
        below = b.add_node("Greater", [rows, k])
        tail = b.add_node("Where", [below, column, zero])
        tail_norm = b.add_node("Sqrt", [b.add_node("ReduceSumSquare", [tail, b.int64([-1])])])
        norm = b.add_node(
            "Sqrt",
            [
                b.add_node(
                    "Add",
                    [b.add_node("Mul", [alpha, alpha]), b.add_node("Mul", [tail_norm, tail_norm])],
                )
            ],
        )
        beta = b.add_node(
            "Where", [b.add_node("GreaterOrEqual", [alpha, zero]), b.add_node("Neg", [norm]), norm]
        )
        reflect = b.add_node("Not", [b.add_node("Equal", [tail_norm, zero])])  # (..., 1)
        tau = b.add_node(
            "Where",
            [reflect, b.add_node("Div", [b.add_node("Sub", [beta, alpha]), beta]), zero],
        )
        denominator = b.add_node("Where", [reflect, b.add_node("Sub", [alpha, beta]), one])
        at_k = b.add_node("Equal", [rows, k])
        v = b.add_node(
            "Where",
            [at_k, one, b.add_node("Where", [below, b.add_node("Div", [tail, denominator]), zero])],
        )  # (..., m): 1 at k, the scaled tail below, 0 above
        v_col, v_row = unsqueeze(b, v, [-1]), unsqueeze(b, v, [-2])
        tau_2d = unsqueeze(b, tau, [-1])  # (..., 1, 1)
        r = b.add_node(
            "Sub",
            [
                r,
                b.add_node(
                    "Mul", [tau_2d, b.add_node("MatMul", [v_col, b.add_node("MatMul", [v_row, r])])]
                ),
            ],
        )
        # Column k becomes (.., beta, 0, ..) exactly, as geqr2 leaves it.
        new_column = b.add_node(
            "Where",
            [
                at_k,
                b.add_node("Where", [reflect, beta, alpha]),
                b.add_node("Where", [below, zero, column]),
            ],
        )
        r = b.add_node("Where", [b.add_node("Equal", [cols, k]), unsqueeze(b, new_column, [-1]), r])
        if not q:
            return [r]
        (q,) = q
        qv = b.add_node("MatMul", [q, v_col])  # (..., m, 1)
        q = b.add_node("Sub", [q, b.add_node("Mul", [tau_2d, b.add_node("MatMul", [qv, v_row])])])
        return [r, q]

    carried = [(a, dtype)]
    if with_q:
        eye = b.cast(b.add_node("Equal", [unsqueeze(b, rows, [1]), rows]), "bool", dtype)
        q_shape = b.add_node("Concat", [b.add_node("Shape", [a], end=-1), m_1d], axis=0)
        carried.append((b.add_node("Expand", [eye, q_shape]), dtype))
    results = counted_loop(b, trips, carried, step, "qr")
    return (results[1] if with_q else None), results[0], k_1d


@onnx_funcify.register(QR)
def onnx_funcify_QR(op, node, builder, inputs, **kwargs):
    if op.pivoting:
        raise NotImplementedError(
            "QR with pivoting=True: column pivoting (geqp3) has no ONNX lowering here"
        )
    if op.mode not in ("full", "economic", "r"):
        raise NotImplementedError(
            f"QR with mode={op.mode!r}: no ONNX lowering (only full, economic, r)"
        )
    (a,), dtype = _operands(builder, node, inputs)
    q, r, k_1d = householder_qr(builder, a, dtype, node.inputs[0].type.shape, with_q=op.mode != "r")
    if op.mode == "r":
        return [r]
    if op.mode == "full":
        return [q, r]
    start, axis = builder.int64([0]), builder.int64([-1])
    q = builder.add_node("Slice", [q, start, k_1d, axis])
    r = builder.add_node("Slice", [r, start, k_1d, builder.int64([-2])])
    return [q, r]


# Every converter above works on the trailing core dims, any leading dims being a batch.
register_batch_aware(
    Cholesky, SolveTriangular, CholeskySolve, Solve, LUFactor, LU, PivotToPermutations, QR
)
