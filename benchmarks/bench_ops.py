#!/usr/bin/env python
"""Op-family benchmarks of pytensor-onnx: special functions, linear algebra, Scan, RNG, export.

Run ``python benchmarks/bench_ops.py`` (full, several minutes) or ``--quick`` (small sizes,
few repeats, about two minutes); ``--sections ace`` runs a subset. It prints tables; it is
not a test and asserts nothing (a wrong result shows in the error columns).

Sections
--------
a. Special functions (gammaln, digamma, erfc, log1p, gammainc, betainc, jv) on 1e5
   float64 elements: ``mode="ONNX"`` (onnxruntime's default threads, and one thread)
   against ``scipy.special`` on the same arrays, plus each exported model's node count
   and file size.
b. Linear algebra (Cholesky, solve with assume_a gen/pos, inverse, slogdet, SVD) at
   n = 8 (unrolled), 50, 200 and batched (32, 8, 8), float64, against numpy/scipy.
c. Scan: a map (converted to one vectorised graph) and a recurrence (an ONNX ``Loop``)
   over 1e3 and 1e4 steps, against PyTensor's default backend (numba on pytensor 3,
   the C VM on 2.38).
d. Random variables: 1e6 (``--quick``: 1e5) normal / gamma / poisson draws against
   ``numpy.random.Generator``.
e. Export (``export_onnx``) + ORT session creation of a hierarchical model's
   logp + gradient (50 groups, gammaln/log1p terms, plain PyTensor), against compiling the
   same function with PyTensor's default mode; and the per-call cost of both.

The machine is shared and noisy: every comparison is interleaved (each repeat runs all
candidates in turn), each repeat's calls last ~``TARGET_BLOCK_S`` seconds, and every number
that matters is a RATIO to a baseline measured in the same run: the median over repeats of
(candidate / baseline) within each repeat. Absolute times are printed only for context.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

# The references (numpy/scipy linear algebra, numba's LAPACK calls) run on one OpenBLAS
# thread unless the caller says otherwise: on this shared 2-core machine a multi-threaded
# OpenBLAS varied 100-fold between runs (50x50 SVD 0.5 to 43 ms) as other processes
# competed with its threads. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
import pytensor.tensor.random.basic as rb
import scipy
import scipy.linalg
import scipy.special as sp
from pytensor.compile.mode import Mode, get_default_mode
from pytensor.graph.traversal import ancestors
from pytensor.tensor.blockwise import Blockwise

import pytensor_onnx
from pytensor_onnx import export_onnx, onnx_mode
from pytensor_onnx.linker import ONNXLinker

try:  # pytensor >= 3
    from pytensor.tensor.linalg.summary import SLogDet
except ImportError:  # pytensor 2.38
    from pytensor.tensor.nlinalg import SLogDet

# The timing and printing helpers of the core benchmarks, so both files report alike.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import fmt_s, interleaved, med, table, timed  # noqa: E402

# Each timed block of a repeat calls a candidate this long (at least one call): long enough
# that timer and scheduling noise are small, short enough for many interleaved repeats.
TARGET_BLOCK_S = 0.05
# One-thread ONNX mode: per-thread cost, comparable with scipy/numpy's single-threaded loops.
ONNX_1T = onnx_mode(intra_op_num_threads=1)


# -- helpers ----------------------------------------------------------------------------
def _looped(fn, k: int):
    def call():
        for _ in range(k):
            fn()

    return call


def compare(candidates: dict, baseline: str, *, repeats: int) -> dict:
    """Interleaved timing of ``candidates`` (name -> no-argument callable).

    Returns name -> ``(median seconds per call, median per-repeat ratio to baseline)``.
    Each candidate gets its own number of calls per block (from its first call's time), so
    a 1 s call and a 1 us call are both timed over ~``TARGET_BLOCK_S``.
    """
    calls = {}
    for name, fn in candidates.items():
        # A first call may include lazy set-up: then fewer calls per block, no harm done
        # (interleaved() makes one more warm-up call before timing).
        t, _ = timed(fn)
        calls[name] = max(1, min(100_000, round(TARGET_BLOCK_S / max(t, 1e-7))))
    times = interleaved(
        {name: _looped(fn, calls[name]) for name, fn in candidates.items()},
        repeats=repeats,
        number=1,
    )
    per_call = {name: [t / calls[name] for t in ts] for name, ts in times.items()}
    base = per_call[baseline]
    return {
        name: (med(ts), med([t / b for t, b in zip(ts, base)])) for name, ts in per_call.items()
    }


def count_nodes(graph: onnx.GraphProto) -> int:
    """ONNX nodes of ``graph`` including those of its subgraphs (Loop and If bodies)."""
    total = 0
    for node in graph.node:
        total += 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                total += count_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                total += sum(count_nodes(g) for g in attr.graphs)
    return total


def op_types(graph: onnx.GraphProto) -> set[str]:
    return {node.op_type for node in graph.node}


def onnx_model_of(fn) -> onnx.ModelProto:
    return fn.maker.linker.onnx_model


def max_rel_err(got, expected) -> float:
    """max |got - expected| / max(|expected|, 1) over the entries; inf on a NaN mismatch."""
    got, expected = np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64")
    if not np.array_equal(np.isnan(got), np.isnan(expected)):
        return float("inf")
    ok = np.isfinite(expected)
    if not np.array_equal(got[~ok], expected[~ok]):
        return float("inf")
    if not ok.any():
        return 0.0
    diff = np.abs(got[ok] - expected[ok]) / np.maximum(np.abs(expected[ok]), 1.0)
    return float(diff.max())


def fmt_x(ratio: float) -> str:
    return f"x{ratio:.2f}" if ratio < 100 else f"x{ratio:.0f}"


def fmt_err(err: float) -> str:
    return f"{err:.0e}" if err else "0"


def fmt_us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.1f}" if us < 100 else f"{us:.0f}"


def default_backend() -> str:
    return type(get_default_mode().linker).__name__


def header(title: str) -> None:
    print("\n" + "=" * 88)
    print(title)
    print("=" * 88)


# -- (a) special functions --------------------------------------------------------------
# name -> (PyTensor function, scipy function, one (low, high) uniform range per argument)
SPECIAL = {
    "gammaln": (pt.gammaln, sp.gammaln, [(0.1, 50.0)]),
    "digamma": (pt.digamma, sp.digamma, [(0.1, 50.0)]),
    "erfc": (pt.erfc, sp.erfc, [(-3.0, 8.0)]),
    "log1p": (pt.log1p, sp.log1p, [(-0.9, 10.0)]),
    "gammainc": (pt.gammainc, sp.gammainc, [(0.1, 20.0), (0.1, 30.0)]),
    "betainc": (pt.betainc, sp.betainc, [(0.1, 20.0), (0.1, 20.0), (0.0, 1.0)]),
    "jv": (pt.jv, sp.jv, [(0.0, 10.0), (0.1, 50.0)]),
}


def bench_special(quick: bool) -> None:
    header("(a) SPECIAL FUNCTIONS: mode='ONNX' vs scipy.special, 1e5 float64 elements")
    size, repeats = 100_000, (5 if quick else 9)
    rng = np.random.default_rng(0)
    rows = []
    for name, (pt_fn, sp_fn, ranges) in SPECIAL.items():
        inputs = [pt.dvector(f"x{i}") for i in range(len(ranges))]
        out = pt_fn(*inputs)
        values = [rng.uniform(lo, hi, size) for lo, hi in ranges]
        model = export_onnx(inputs, out)
        fn = pytensor.function(inputs, out, mode="ONNX")
        fn_1t = pytensor.function(inputs, out, mode=ONNX_1T)
        err = max_rel_err(fn(*values), sp_fn(*values))
        res = compare(
            {
                "scipy": lambda f=sp_fn, v=values: f(*v),
                "onnx": lambda f=fn, v=values: f(*v),
                "onnx_1t": lambda f=fn_1t, v=values: f(*v),
            },
            "scipy",
            repeats=repeats,
        )
        rows.append(
            [
                name,
                f"{res['scipy'][0] / size * 1e9:.1f}",
                f"{res['onnx'][0] / size * 1e9:.1f}",
                fmt_x(res["onnx"][1]),
                f"{res['onnx_1t'][0] / size * 1e9:.1f}",
                fmt_x(res["onnx_1t"][1]),
                fmt_err(err),
                f"{len(model.graph.node)}",
                f"{count_nodes(model.graph)}",
                f"{len(model.SerializeToString()) / 1024:.1f}",
            ]
        )
    table(
        f"a. ns per element (median of {repeats} interleaved repeats); x scipy = median "
        "per-repeat ratio",
        [
            "function",
            "scipy ns",
            "ONNX ns",
            "x scipy",
            "ONNX 1-thr ns",
            "x scipy",
            "max rel err",
            "ONNX nodes",
            "incl. Loop bodies",
            "file KiB",
        ],
        rows,
        [
            f"ONNX = pytensor.function(mode='ONNX'): onnxruntime's default intra-op threads "
            f"({os.cpu_count()} CPUs here); 1-thr = onnx_mode(intra_op_num_threads=1); "
            "scipy.special is single-threaded.",
            "max rel err = max |onnx - scipy| / max(|scipy|, 1); arguments uniform in: "
            + "; ".join(f"{n} {r}" for n, (_, _, r) in SPECIAL.items()),
            "nodes and size are of export_onnx(inputs, f(inputs)) (rewrite=True); "
            "the series/continued fractions of gammainc, betainc, jv run in Loop bodies.",
        ],
    )


# -- (b) linear algebra -----------------------------------------------------------------
def _spd(rng, shape) -> np.ndarray:
    m = rng.normal(size=shape)
    n = shape[-1]
    return m @ np.swapaxes(m, -1, -2) / n + np.eye(n)


def _linalg_cases(a_var, b_var, batched: bool):
    """name -> (inputs, PyTensor outputs, reference on (a, b), comparable part of outputs).

    Batched slogdet is a Blockwise of SLogDet built directly: ``pt.linalg.slogdet`` of a
    3-d tensor fails in PyTensor's own ``slogdet_specialization`` rewrite (its SLogDet
    asserts a 2-d input) in 2.38 and 3.0 alike, in every mode.
    """
    slogdet = Blockwise(SLogDet())(a_var) if batched else pt.linalg.slogdet(a_var)
    if batched:  # numpy's LAPACK gufuncs loop over the batch in C; scipy's loop in Python
        solve_gen = solve_pos = np.linalg.solve
    else:
        solve_gen = lambda a, b: scipy.linalg.solve(a, b, assume_a="gen")  # noqa: E731
        solve_pos = lambda a, b: scipy.linalg.solve(a, b, assume_a="pos")  # noqa: E731
    first = lambda outs: outs[0]  # noqa: E731
    return {
        "cholesky": ([a_var], pt.linalg.cholesky(a_var), np.linalg.cholesky, first),
        "solve gen": (
            [a_var, b_var],
            pt.linalg.solve(a_var, b_var, assume_a="gen", b_ndim=2),
            solve_gen,
            first,
        ),
        "solve pos": (
            [a_var, b_var],
            pt.linalg.solve(a_var, b_var, assume_a="pos", b_ndim=2),
            solve_pos,
            first,
        ),
        "inverse": ([a_var], pt.linalg.inv(a_var), np.linalg.inv, first),
        "slogdet": ([a_var], list(slogdet), np.linalg.slogdet, lambda outs: outs[1]),
        # singular vectors are defined up to sign: compare the singular values
        "svd": (
            [a_var],
            list(pt.linalg.svd(a_var, full_matrices=False)),
            lambda a: np.linalg.svd(a, full_matrices=False),
            lambda outs: outs[1],
        ),
    }


def bench_linalg(quick: bool) -> None:
    header("(b) LINEAR ALGEBRA: mode='ONNX' vs numpy/scipy, float64")
    shapes = [(8, 8), (50, 50), (32, 8, 8)] if quick else [(8, 8), (50, 50), (200, 200), (32, 8, 8)]
    repeats = 5 if quick else 11
    rng = np.random.default_rng(0)
    rows = []
    for shape in shapes:
        batched = len(shape) == 3
        a_var = pt.tensor("a", dtype="float64", shape=shape)
        b_var = pt.tensor("b", dtype="float64", shape=(*shape[:-1], 1))
        a, b = _spd(rng, shape), rng.normal(size=(*shape[:-1], 1))
        for name, (inputs, out, ref, part) in _linalg_cases(a_var, b_var, batched).items():
            values = [a, b][: len(inputs)]
            fn = pytensor.function(inputs, out, mode="ONNX")
            model = onnx_model_of(fn)
            got = fn(*values)
            expected = ref(*values)
            if isinstance(out, list):
                err = max_rel_err(part(got), part(expected))
            else:
                err = max_rel_err(got, expected)
            fn_1t = pytensor.function(inputs, out, mode=ONNX_1T)
            res = compare(
                {
                    "ref": lambda f=ref, v=values: f(*v),
                    "onnx": lambda f=fn, v=values: f(*v),
                    "onnx_1t": lambda f=fn_1t, v=values: f(*v),
                },
                "ref",
                repeats=repeats,
            )
            path = "Loop" if "Loop" in op_types(model.graph) else "unrolled"
            rows.append(
                [
                    "x".join(map(str, shape)),
                    name,
                    path,
                    f"{count_nodes(model.graph)}",
                    fmt_us(res["ref"][0]),
                    fmt_us(res["onnx"][0]),
                    fmt_x(res["onnx"][1]),
                    fmt_us(res["onnx_1t"][0]),
                    fmt_x(res["onnx_1t"][1]),
                    fmt_err(err),
                ]
            )
    table(
        f"b. us per call (median of {repeats} interleaved repeats); x ref = median per-repeat "
        "ratio ONNX / reference",
        [
            "shape",
            "op",
            "ONNX path",
            "ONNX nodes",
            "ref us",
            "ONNX us",
            "x ref",
            "ONNX 1-thr us",
            "x ref",
            "max rel err",
        ],
        rows,
        [
            "reference: np.linalg cholesky/inv/slogdet/svd(full_matrices=False); single "
            "solves scipy.linalg.solve(assume_a=gen|pos), batched solves np.linalg.solve; "
            "OpenBLAS threads as in the header.",
            "ONNX = mode='ONNX' (onnxruntime's default threads), 1-thr = "
            "onnx_mode(intra_op_num_threads=1).",
            "ONNX path: 'unrolled' = static n <= slinalg.UNROLL_MAX steps in the main graph, "
            "'Loop' = an ONNX Loop (SVD: Jacobi sweeps in a Loop at every size).",
            "max rel err on: the output (cholesky, solve, inverse), log|det| (slogdet), "
            "singular values (svd). Inputs: random SPD matrices, condition number ~10.",
        ],
    )


# -- (c) Scan ---------------------------------------------------------------------------
WIDTH = 16  # state / row width


def _scan(**kwargs):
    return pytensor.scan(return_updates=False, **kwargs)


def scan_map():
    """``y[t] = tanh(W x[t]) + x[t]``: only sequences and non-sequences, a map."""
    xs, w = pt.dmatrix("xs"), pt.dmatrix("w")
    ys = _scan(fn=lambda x, w: pt.tanh(pt.dot(w, x)) + x, sequences=[xs], non_sequences=[w])
    return [xs, w], ys


def scan_recurrence():
    """``s[t] = a s[t-1] + 0.1 sin(s[t-1]) + u[t]``: a sit-sot, the ONNX Loop path."""
    us, s0, a = pt.dmatrix("us"), pt.dvector("s0"), pt.dscalar("a")
    ss = _scan(
        fn=lambda u, s, a: a * s + 0.1 * pt.sin(s) + u,
        sequences=[us],
        outputs_info=[s0],
        non_sequences=[a],
    )
    return [us, s0, a], ss


def bench_scan(quick: bool) -> None:
    backend = default_backend()
    header(f"(c) SCAN: mode='ONNX' vs PyTensor's default backend ({backend})")
    repeats = 5 if quick else 11
    rng = np.random.default_rng(0)
    rows = []
    for kind, build in (("map", scan_map), ("recurrence", scan_recurrence)):
        inputs, out = build()
        t_default, fn_default = timed(pytensor.function, inputs, out)
        t_onnx, fn_onnx = timed(pytensor.function, inputs, out, mode="ONNX")
        fn_1t = pytensor.function(inputs, out, mode=ONNX_1T)
        path = "Loop" if "Loop" in op_types(onnx_model_of(fn_onnx).graph) else "vectorised"
        for n_steps in (1_000, 10_000):
            seq = rng.normal(size=(n_steps, WIDTH))
            if kind == "map":
                values = [seq, rng.normal(size=(WIDTH, WIDTH)) / WIDTH]
            else:
                values = [seq, np.zeros(WIDTH), np.float64(0.5)]
            err = max_rel_err(fn_onnx(*values), fn_default(*values))
            res = compare(
                {
                    "default": lambda f=fn_default, v=values: f(*v),
                    "onnx": lambda f=fn_onnx, v=values: f(*v),
                    "onnx_1t": lambda f=fn_1t, v=values: f(*v),
                },
                "default",
                repeats=repeats,
            )
            rows.append(
                [
                    kind,
                    path,
                    f"{n_steps}",
                    fmt_us(res["default"][0]),
                    fmt_us(res["onnx"][0]),
                    fmt_x(res["onnx"][1]),
                    fmt_us(res["onnx_1t"][0]),
                    fmt_x(res["onnx_1t"][1]),
                    f"{res['onnx_1t'][0] / n_steps * 1e6:.2f}",
                    fmt_err(err),
                    fmt_s(t_default) if n_steps == 1_000 else "",
                    fmt_s(t_onnx) if n_steps == 1_000 else "",
                ]
            )
    table(
        f"c. us per call (median of {repeats} interleaved repeats); x default = median "
        "per-repeat ratio ONNX / default backend",
        [
            "scan",
            "ONNX path",
            "steps",
            f"{backend} us",
            "ONNX us",
            "x default",
            "ONNX 1-thr us",
            "x default",
            "1-thr us/step",
            "max rel err",
            f"compile {backend}",
            "compile ONNX",
        ],
        rows,
        [
            f"map: y[t] = tanh(W x[t]) + x[t], x[t] of {WIDTH}; recurrence: s[t] = a s[t-1] + "
            f"0.1 sin(s[t-1]) + u[t], s of {WIDTH}, full trace returned.",
            "ONNX = mode='ONNX' (onnxruntime's default threads), 1-thr = "
            "onnx_mode(intra_op_num_threads=1); the recurrence's Loop body is 37 nodes (Sin with "
            "its range reduction), each paid every step.",
            "compile = one pytensor.function call (the default backend's compile cache may be "
            "warm from an earlier run).",
        ],
    )


# -- (d) random variables ---------------------------------------------------------------
# name -> (PyTensor sampler(rng, size), NumPy sampler(Generator, size), expected mean)
RVS = {
    "normal(0, 1)": (
        lambda rng, size: rb.normal(0.0, 1.0, size=size, rng=rng),
        lambda g, size: g.normal(0.0, 1.0, size=size),
        0.0,
    ),
    "gamma(2, scale=1)": (
        lambda rng, size: rb.gamma(2.0, scale=1.0, size=size, rng=rng),
        lambda g, size: g.gamma(2.0, 1.0, size=size),
        2.0,
    ),
    "gamma(0.5, scale=1)": (
        lambda rng, size: rb.gamma(0.5, scale=1.0, size=size, rng=rng),
        lambda g, size: g.gamma(0.5, 1.0, size=size),
        0.5,
    ),
    "poisson(3.5)": (
        lambda rng, size: rb.poisson(3.5, size=size, rng=rng),
        lambda g, size: g.poisson(3.5, size=size),
        3.5,
    ),
    "poisson(50)": (
        lambda rng, size: rb.poisson(50.0, size=size, rng=rng),
        lambda g, size: g.poisson(50.0, size=size),
        50.0,
    ),
}


def bench_random(quick: bool) -> None:
    header("(d) RANDOM VARIABLES: mode='ONNX' (Philox, shared generator) vs numpy Generator")
    # --quick: 1e5 draws per call; gamma and poisson(50) take seconds per 1e6 draws.
    size, repeats = (100_000, 3) if quick else (1_000_000, 7)
    rows = []
    for name, (pt_sampler, np_sampler, mean) in RVS.items():
        shared_rng = pytensor.shared(np.random.default_rng(1), name="rng")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pytensor 3: rng output
            next_rng, draws = pt_sampler(shared_rng, (size,)).owner.outputs
        fn = pytensor.function([], draws, updates={shared_rng: next_rng}, mode="ONNX")
        generator = np.random.default_rng(1)
        sample = fn()
        res = compare(
            {
                "numpy": lambda g=generator, s=np_sampler: s(g, size),
                "onnx": fn,
            },
            "numpy",
            repeats=repeats,
        )
        rows.append(
            [
                name,
                str(sample.dtype),
                f"{res['numpy'][0] / size * 1e9:.1f}",
                f"{res['onnx'][0] / size * 1e9:.1f}",
                fmt_x(res["onnx"][1]),
                f"{sample.mean():.4f} ({mean})",
            ]
        )
    table(
        f"d. ns per draw, {size:.0e} draws per call (median of {repeats} interleaved repeats); "
        "x numpy = median per-repeat ratio",
        ["distribution", "dtype", "numpy ns", "ONNX ns", "x numpy", "ONNX mean (expected)"],
        rows,
        [
            "ONNX: pytensor.function([], draws, updates={rng: next_rng}, mode='ONNX'), "
            "onnxruntime's default threads; numpy's Generator is single-threaded.",
            "gamma: Marsaglia-Tsang rejection rounds in a Loop; poisson: inversion (lam < 10) "
            "or PTRS (lam >= 10) rejection.",
        ],
    )


# -- (e) export + session creation of a logp + gradient ---------------------------------
N_GROUPS, N_OBS, N_COVARIATES = 50, 1_000, 3


def _student_t_logp(x, nu):
    return (
        sp.gammaln((nu + 1) / 2)
        - sp.gammaln(nu / 2)
        - 0.5 * np.log(nu * np.pi)
        - (nu + 1) / 2 * pt.log1p(x**2 / nu)
    )


def hierarchical_model():
    """``(parameters, [logp, *gradient])`` of a negative-binomial regression with 50 groups.

    The shape of a PyMC model's logp (value variables in, data as constants): transformed
    scales with their log-Jacobians, a half-Cauchy (log1p), Student-t priors (log1p), a
    gamma prior, and a negative-binomial likelihood (gammaln, log1p) over 1000 observations
    indexed by group.
    """
    rng = np.random.default_rng(42)
    group = rng.integers(0, N_GROUPS, N_OBS)
    x = rng.normal(size=(N_OBS, N_COVARIATES))
    eta_true = 1.0 + 0.5 * rng.normal(size=N_GROUPS)[group] + x @ np.array([0.3, -0.2, 0.1])
    y = rng.negative_binomial(5.0, 5.0 / (5.0 + np.exp(eta_true)))

    mu, log_tau, log_alpha = pt.dscalar("mu"), pt.dscalar("log_tau"), pt.dscalar("log_alpha")
    z, beta = pt.dvector("z"), pt.dvector("beta")
    tau, alpha = pt.exp(log_tau), pt.exp(log_alpha)

    priors = (
        -0.5 * (mu / 5.0) ** 2
        - np.log(5.0 * np.sqrt(2 * np.pi))
        # half-Cauchy(2.5) on tau, with the log-Jacobian of tau = exp(log_tau)
        + np.log(2 / (np.pi * 2.5))
        - pt.log1p((tau / 2.5) ** 2)
        + log_tau
        + pt.sum(-0.5 * z**2 - 0.5 * np.log(2 * np.pi))
        + pt.sum(_student_t_logp(beta, 3.0))
        # gamma(2, rate 0.1) on alpha, with its log-Jacobian
        + 2 * np.log(0.1)
        - sp.gammaln(2.0)
        + log_alpha
        - 0.1 * alpha
        + log_alpha
    )
    eta = mu + tau * z[pt.constant(group)] + pt.dot(pt.constant(x), beta)
    y_c = pt.constant(y.astype("float64"))
    # log(alpha + exp(eta)) = eta + log1p(exp(log_alpha - eta))
    log_alpha_plus_mean = eta + pt.log1p(pt.exp(log_alpha - eta))
    likelihood = pt.sum(
        pt.gammaln(y_c + alpha)
        - pt.gammaln(alpha)
        - sp.gammaln(y + 1.0)
        + alpha * (log_alpha - log_alpha_plus_mean)
        + y_c * (eta - log_alpha_plus_mean)
    )
    logp = priors + likelihood
    params = [mu, log_tau, z, beta, log_alpha]
    return params, [logp, *pt.grad(logp, params)]


def _hierarchical_point(rng):
    return [
        np.float64(rng.normal()),
        np.float64(rng.normal(scale=0.3) - 1.0),
        rng.normal(size=N_GROUPS),
        rng.normal(size=N_COVARIATES),
        np.float64(rng.normal(scale=0.3) + 1.0),
    ]


def bench_export_model(quick: bool) -> None:
    backend = default_backend()
    header(f"(e) EXPORT + SESSION of a hierarchical logp+gradient vs compiling with {backend}")
    repeats = 5 if quick else 7
    params, outputs = hierarchical_model()
    n_apply = sum(1 for v in ancestors(outputs) if v.owner is not None)

    def onnx_export_and_session():
        model = export_onnx(params, outputs)
        options = ONNXLinker().make_session_options(len(model.graph.node))
        t_session, _ = timed(
            ort.InferenceSession,
            model.SerializeToString(),
            options,
            providers=["CPUExecutionProvider"],
        )
        return model, t_session

    candidates = {
        "export+session": onnx_export_and_session,
        "mode='ONNX'": lambda: pytensor.function(params, outputs, mode="ONNX"),
        backend: lambda: pytensor.function(params, outputs),
    }
    # One round first: the cold costs (the default backend's in-process caches, imports).
    cold = {name: timed(fn)[0] for name, fn in candidates.items()}
    times = {name: [] for name in candidates}
    session_times = []
    for r in range(repeats):
        names = list(candidates)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t, result = timed(candidates[name])
            times[name].append(t)
            if name == "export+session":
                session_times.append(result[1])
    model, _ = onnx_export_and_session()
    base = times[backend]
    rows = [
        [
            name,
            fmt_s(cold[name]),
            fmt_s(med(ts)),
            fmt_x(med([t / b for t, b in zip(ts, base)])),
        ]
        for name, ts in times.items()
    ]
    rows.insert(1, ["  of which ORT session creation", "", fmt_s(med(session_times)), ""])
    table(
        f"e1. compile time: first round, then median of {repeats} interleaved rounds; "
        f"x {backend} = median per-round ratio",
        ["path", "first", "median", f"x {backend}"],
        rows,
        [
            f"logp + gradient of {len(params)} parameter arrays ({2 + N_GROUPS + N_COVARIATES + 1}"
            f" values), {N_GROUPS} groups, {N_OBS} observations: {n_apply} PyTensor Apply "
            f"nodes before rewrites, {len(model.graph.node)} ONNX nodes, "
            f"{len(model.SerializeToString()) / 1024:.0f} KiB.",
            "export+session = export_onnx (PyTensor rewrites, conversion, onnx.checker full "
            "check) + onnxruntime.InferenceSession with the linker's options.",
            f"'first' of {backend} includes its in-process caches being cold; its on-disk "
            "cache (numba / C modules) may be warm from earlier runs.",
        ],
    )

    fn_onnx = pytensor.function(params, outputs, mode="ONNX")
    fn_1t = pytensor.function(params, outputs, mode=ONNX_1T)
    fn_default = pytensor.function(params, outputs)
    point = _hierarchical_point(np.random.default_rng(0))
    # The reference is PyTensor's Python linker (scipy's special functions): on 2.38 the C
    # backend's own digamma is ~4e-11 off in the gradient, more than the ONNX lowering.
    reference = pytensor.function(params, outputs, mode=Mode(linker="py", optimizer="fast_run"))
    expected = reference(*point)

    def err(fn):
        return fmt_err(max(max_rel_err(g, e) for g, e in zip(fn(*point), expected, strict=True)))

    res = compare(
        {
            backend: lambda: fn_default(*point),
            "onnx": lambda: fn_onnx(*point),
            "onnx_1t": lambda: fn_1t(*point),
        },
        backend,
        repeats=5 if quick else 15,
    )
    table(
        "e2. one logp+gradient evaluation: us per call (median of interleaved repeats)",
        ["path", "us", f"x {backend}", "max rel err vs py linker"],
        [
            [backend, fmt_us(res[backend][0]), "x1.00", err(fn_default)],
            ["mode='ONNX'", fmt_us(res["onnx"][0]), fmt_x(res["onnx"][1]), err(fn_onnx)],
            [
                "onnx_mode(intra_op_num_threads=1)",
                fmt_us(res["onnx_1t"][0]),
                fmt_x(res["onnx_1t"][1]),
                err(fn_1t),
            ],
        ],
        [
            "max rel err: against the same graph on PyTensor's Python linker (scipy.special), "
            "over logp and every gradient entry."
        ],
    )


# -- main -------------------------------------------------------------------------------
SECTIONS = {
    "a": bench_special,
    "b": bench_linalg,
    "c": bench_scan,
    "d": bench_random,
    "e": bench_export_model,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (~2 min)")
    parser.add_argument(
        "--sections",
        default="".join(SECTIONS),
        help=f"which sections to run, e.g. 'a' or 'bd' (default {''.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(
            f"unknown sections {''.join(sorted(unknown))}: choose from {''.join(SECTIONS)}"
        )
    start = time.perf_counter()
    print(
        f"pytensor-onnx {pytensor_onnx.__version__} | pytensor {pytensor.__version__} | "
        f"onnxruntime {ort.__version__} | onnx {onnx.__version__} | numpy {np.__version__} | "
        f"scipy {scipy.__version__} | Python {platform.python_version()}"
    )
    print(
        f"{os.cpu_count()} CPUs | load average {os.getloadavg()[0]:.2f} at start | "
        f"mode: {'quick' if args.quick else 'full'} | default backend: {default_backend()} | "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    for key, bench in SECTIONS.items():
        if key in args.sections:
            t, _ = timed(bench, args.quick)
            print(f"  (section {key}: {t:.0f} s)")
    print(
        f"\ntotal {time.perf_counter() - start:.0f} s | load average {os.getloadavg()[0]:.2f} "
        "at end"
    )


if __name__ == "__main__":
    main()
