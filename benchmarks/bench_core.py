#!/usr/bin/env python
"""Core performance benchmarks of pytensor-onnx: per-call overhead, export and compile time.

Run ``python benchmarks/bench_core.py`` (full, a few minutes) or ``--quick`` (under a
minute, small sizes only). It prints tables; it is not a test and asserts nothing.

Sections
--------
a. Per-call overhead of ``pytensor.function(..., mode="ONNX")`` against a raw
   ``onnxruntime.InferenceSession.run`` of the very same model and session options,
   decomposed into onnxruntime / our runner / PyTensor's thunk / ``Function.__call__``;
   then ONNX Runtime thread settings (spinning, intra-op threads, memory arena) on a tiny
   and a 1e6-element workload, on a quiet machine and with one extra CPU-bound process.
b. Export time of long elementwise chains (``export_onnx(rewrite=False)``,
   ``fgraph_to_onnx`` alone, ``onnx.checker``, and ``export_onnx(rewrite=True)``).
c. Compile time (``compile_onnx``) per ``graph_optimization_level``, ORT session
   creation alone per level (in a child process with a timeout), and the per-call cost
   of the levels on small graphs; this is what ``AUTO_FULL_OPTIMIZATION_MAX_NODES`` is
   chosen from.

The machine is shared and noisy: every comparison is interleaved (each repeat runs all
candidates in turn), timings are medians over repeats, and ratios are taken against a
baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import numpy as np
import onnx
import onnxruntime as ort
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode
from pytensor.graph.traversal import ancestors, toposort

import pytensor_onnx
from pytensor_onnx import compile_onnx, export_onnx
from pytensor_onnx.dispatch import fgraph_to_onnx
from pytensor_onnx.export import _run_with_deep_stack
from pytensor_onnx.linker import AUTO_FULL_OPTIMIZATION_MAX_NODES, ONNXLinker

LEVELS = ("all", "extended", "basic", "disable", "auto")
ORT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
LEVEL_NAMES = {v: k for k, v in ORT_LEVELS.items()}
CONFIG_KEYS = (
    "session.intra_op.allow_spinning",
    "session.inter_op.allow_spinning",
    "optimization.disable_specified_optimizers",
)


# -- timing helpers -------------------------------------------------------------------
def _time_block(fn, number: int) -> float:
    """Seconds per call of ``fn`` over ``number`` calls (garbage collector off)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number
    finally:
        if gc_was_enabled:
            gc.enable()


def interleaved(candidates: dict, *, repeats: int, number: int, setup=None) -> dict:
    """Time every candidate ``repeats`` times, interleaved; return name -> [s per call]."""
    names = list(candidates)
    for name in names:  # warm up
        if setup:
            setup(name)
        candidates[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        # rotate the order so that no candidate always runs right after the same one
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if setup:
                setup(name)
            times[name].append(_time_block(candidates[name], number))
    return times


def med(values) -> float:
    return statistics.median(values)


def timed(fn, *args, **kwargs):
    """``(seconds, fn(*args, **kwargs))``."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def run_deep(fn):
    """Run ``fn`` with the package's deep-graph stack (deep PyTensor graphs recurse)."""
    return _run_with_deep_stack(fn, n_nodes=500_000)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


def table(title: str, headers: list[str], rows: list[list], notes: list[str] = ()) -> None:
    rows = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print(line)
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))
        )
    )
    print(line)
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
            )
        )
    print(line)
    for note in notes:
        print(f"  {note}")
    sys.stdout.flush()


@contextmanager
def cpu_hog(n_processes: int):
    """Run ``n_processes`` busy-looping child processes (stopped by their own handles)."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n_processes)
    ]
    try:
        time.sleep(0.3)
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


# -- graphs ---------------------------------------------------------------------------
ONE = pt.constant(np.ones(1), name="one")


def chain_graph(n_nodes: int):
    """A chain of ``n_nodes`` elementwise Apply nodes: alternately ``y + 1`` and ``exp(-y)``.

    Every value has one consumer (the shape that ONNX Runtime optimises best).
    """
    x = pt.vector("x")
    y, count = x, 0
    with pytensor.config.change_flags(traceback__limit=0):  # graph building speed only
        while count < n_nodes:
            if count % 3 == 0 or n_nodes - count < 2:
                y, count = pt.add(y, ONE), count + 1
            else:
                y, count = pt.exp(-y), count + 2
    return [x], y


def dag_graph(n_nodes: int):
    """A chain of blocks where every value feeds several nodes (a float and an int input).

    ``t = switch(y < 0.5, 2 y, sqrt|y|) + k; y = exp(-t^2)``: the shape of a model's logp
    (shared subexpressions, casts, comparisons), which ORT's common-subexpression pass
    handles super-linearly.
    """
    x, k = pt.vector("x"), pt.lvector("k")
    y = x
    with pytensor.config.change_flags(traceback__limit=0):
        for _ in range(max(1, round(n_nodes / 11))):
            t = pt.switch(pt.lt(y, 0.5), y * 2.0, pt.sqrt(pt.abs(y))) + k
            y = pt.exp(-t * t)
    return [x, k], y


def count_apply_nodes(outputs) -> int:
    return sum(1 for v in ancestors(outputs) if v.owner is not None)


def sample_inputs(inputs, size: int):
    rng = np.random.default_rng(0)
    values = []
    for var in inputs:
        if var.type.dtype.startswith("int"):
            values.append(rng.integers(0, 3, size=size).astype(var.type.dtype))
        else:
            values.append(rng.uniform(0.1, 1.0, size=size).astype(var.type.dtype))
    return values


def fmt_n(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# -- (a) per-call overhead ------------------------------------------------------------
def _noop_vm():
    return None


_noop_vm.allow_gc = True


def bench_per_call(quick: bool) -> None:
    print("\n" + "=" * 88)
    print("(a) PER-CALL OVERHEAD: pytensor.function(mode='ONNX') vs raw InferenceSession.run")
    print("=" * 88)
    repeats, number = (11, 1000) if quick else (31, 3000)

    x = pt.vector("x")
    expr = x * 2 + 1
    value = np.arange(3.0)

    fn = pytensor.function([x], expr, mode="ONNX")
    fn_trust = pytensor.function([x], expr, mode="ONNX")
    fn_trust.trust_input = True
    linker = fn.maker.linker
    model = linker.onnx_model
    options = linker.make_session_options(len(model.graph.node))
    raw = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    in_name = raw.get_inputs()[0].name
    out_names = [o.name for o in raw.get_outputs()]
    feed = {in_name: value}
    raw_run, c_run = raw.run, raw._sess.run

    binding = raw.io_binding()

    def io_binding_call():
        binding.bind_cpu_input(in_name, value)
        binding.bind_output(out_names[0])
        raw.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    thunk = fn.vm
    runner = thunk.jit_fn
    in_cell = fn.input_storage[0].storage

    floor = pytensor.function([x], expr, mode="ONNX")
    floor.vm = _noop_vm
    floor_trust = pytensor.function([x], expr, mode="ONNX")
    floor_trust.vm = _noop_vm
    floor_trust.trust_input = True
    ident_py = pytensor.function([x], x, mode=Mode(linker="py", optimizer=None))
    ident_py_trust = pytensor.function([x], x, mode=Mode(linker="py", optimizer=None))
    ident_py_trust.trust_input = True

    candidates = {
        "raw": lambda: raw_run(out_names, feed),
        "c_run": lambda: c_run(out_names, {in_name: value}, None),
        "io_binding": io_binding_call,
        "runner": lambda: runner(value),
        "thunk": thunk,
        "fn": lambda: fn(value),
        "fn_trust": lambda: fn_trust(value),
        "floor": lambda: floor(value),
        "floor_trust": lambda: floor_trust(value),
        "ident_py": lambda: ident_py(value),
        "ident_py_trust": lambda: ident_py_trust(value),
    }
    try:
        fn_c = pytensor.function([x], expr, mode="FAST_RUN")
        fn_c(value)
        fn_c_trust = pytensor.function([x], expr, mode="FAST_RUN")
        fn_c_trust.trust_input = True
        candidates["c"] = lambda: fn_c(value)
        candidates["c_trust"] = lambda: fn_c_trust(value)
    except Exception as exc:  # no C compiler
        print(f"  (PyTensor C backend unavailable: {type(exc).__name__})")

    assert np.allclose(fn(value), raw_run(out_names, feed)[0])

    def setup(name):
        if name == "thunk":  # Function.__call__ clears the input cell after each call
            in_cell[0] = value

    times = interleaved(candidates, repeats=repeats, number=number, setup=setup)
    us = {name: [t * 1e6 for t in ts] for name, ts in times.items()}
    base = med(us["raw"])

    def paired(a, b):  # median over repeats of (a - b), both timed in the same repeat
        return med([p - q for p, q in zip(us[a], us[b])])

    labels = [
        ("raw", "onnxruntime InferenceSession.run (baseline)"),
        ("c_run", "InferenceSession._sess.run (C++ binding, no wrapper)"),
        ("io_binding", "io_binding: bind input/output + run + copy out"),
        ("runner", "our runner (make_session_runner), called directly"),
        ("thunk", "JITLinker thunk (fn.vm) -> runner"),
        ("fn", "fn(x)  mode='ONNX'"),
        ("fn_trust", "fn(x)  mode='ONNX', trust_input=True"),
        ("floor", "Function.__call__ around a no-op VM"),
        ("floor_trust", "Function.__call__ around a no-op VM, trust_input"),
        ("ident_py", "identity fn, Mode(linker='py', optimizer=None)"),
        ("ident_py_trust", "identity fn, py linker, trust_input=True"),
        ("c", "same fn, PyTensor C backend (FAST_RUN), reference"),
        ("c_trust", "same fn, C backend, trust_input=True"),
    ]
    rows = [
        [label, f"{med(us[k]):.2f}", f"{min(us[k]):.2f}", f"{med(us[k]) / base:.2f}"]
        for k, label in labels
        if k in us
    ]
    table(
        f"a1. x*2+1 on a 3-element float64 vector: us/call, median of {repeats} x {number} "
        "calls (interleaved)",
        ["path", "median us", "min us", "x raw"],
        rows,
    )
    ratio = med(us["fn"]) / base
    ratio_trust = med(us["fn_trust"]) / base
    per_repeat = med([a / b for a, b in zip(us["fn"], us["raw"])])
    per_repeat_trust = med([a / b for a, b in zip(us["fn_trust"], us["raw"])])
    decomposition = [
        ["InferenceSession.run Python wrapper (raw - _sess.run)", f"{paired('raw', 'c_run'):+.2f}"],
        ["our runner (runner - _sess.run)", f"{paired('runner', 'c_run'):+.2f}"],
        ["PyTensor JITLinker thunk (thunk - runner)", f"{paired('thunk', 'runner'):+.2f}"],
        ["PyTensor Function.__call__, validating (fn - thunk)", f"{paired('fn', 'thunk'):+.2f}"],
        [
            "PyTensor Function.__call__, trust_input (fn_trust - thunk)",
            f"{paired('fn_trust', 'thunk'):+.2f}",
        ],
        ["  its floor: Function.__call__ around a no-op VM", f"{med(us['floor']):.2f}"],
        ["  its floor with trust_input", f"{med(us['floor_trust']):.2f}"],
    ]
    table(
        "a1'. where the time goes (us/call, paired medians of per-repeat differences)",
        ["component", "us"],
        decomposition,
        [
            f"ratio fn / raw            = {ratio:.2f}  (per-repeat median {per_repeat:.2f}; "
            f"target <= 1.25: {'met' if ratio <= 1.25 else 'NOT met'})",
            f"ratio fn(trust) / raw     = {ratio_trust:.2f}  (per-repeat median "
            f"{per_repeat_trust:.2f}; target <= 1.25: "
            f"{'met' if ratio_trust <= 1.25 else 'NOT met'})",
            "The thunk and Function.__call__ rows are PyTensor's (pytensor.link.basic."
            "JITLinker.create_jitable_thunk,",
            "pytensor.compile Function.__call__): every JIT backend (JAX, Numba, ONNX) "
            "pays them on top of its own call.",
        ],
    )

    bench_threads(quick)


def bench_threads(quick: bool) -> None:
    """Spinning / intra-op threads / arena: tiny and 1e6-element calls, quiet and loaded."""
    n_cores = os.cpu_count() or 1
    configs = {
        "spin off, threads default": dict(allow_spinning=False),
        "spin off, threads 1": dict(allow_spinning=False, intra_op_num_threads=1),
        "spin on,  threads default": dict(allow_spinning=True),
        "spin on,  threads 1": dict(allow_spinning=True, intra_op_num_threads=1),
        "spin off, threads default, arena off": dict(allow_spinning=False, arena=False),
    }
    x = pt.vector("x")
    small_expr = x * 2 + 1
    big_expr = pt.exp(-x * x) * 2.0 + pt.sqrt(pt.abs(x)) + 1.0
    small_value = np.arange(3.0)
    big_value = np.random.default_rng(0).normal(size=1_000_000)

    def make(expr, settings):
        settings = dict(settings)
        arena = settings.pop("arena", True)
        if arena:
            return compile_onnx([x], expr, **settings)
        linker = ONNXLinker(**settings)
        options = linker.make_session_options(100)
        options.enable_cpu_mem_arena = False
        return compile_onnx([x], expr, session_options=options)

    small = {name: make(small_expr, s) for name, s in configs.items()}
    big = {name: make(big_expr, s) for name, s in configs.items()}
    n_big_nodes = len(next(iter(big.values())).maker.linker.onnx_model.graph.node)

    scenarios = [("quiet", 0), (f"+{max(1, n_cores - 1)} busy process", max(1, n_cores - 1))]
    if quick:
        scenarios = scenarios[:1]
    results = {}
    for scenario, hogs in scenarios:
        with cpu_hog(hogs):
            t_small = interleaved(
                {n: (lambda f=f: f(small_value)) for n, f in small.items()},
                repeats=9 if quick else 15,
                number=1000 if quick else 2000,
            )
            t_big = interleaved(
                {n: (lambda f=f: f(big_value)) for n, f in big.items()},
                repeats=5 if quick else 9,
                number=3 if quick else 5,
            )
        results[scenario] = (t_small, t_big)

    headers = ["session options (ONNXLinker)"]
    for scenario, _ in scenarios:
        headers += [f"tiny us [{scenario}]", f"1e6 ms [{scenario}]"]
    rows = []
    for name in configs:
        row = [name]
        for scenario, _ in scenarios:
            t_small, t_big = results[scenario]
            row += [f"{med(t_small[name]) * 1e6:.2f}", f"{med(t_big[name]) * 1e3:.2f}"]
        rows.append(row)
    first = next(iter(configs))
    table(
        f"a2. ONNX Runtime threading ({n_cores} cores): fn(x) median per call; tiny = x*2+1 "
        f"on 3 elements, 1e6 = exp(-x*x)*2 + sqrt|x| + 1 ({n_big_nodes} ONNX nodes) on 1e6 "
        "float64",
        headers,
        rows,
        [f"ratios are against '{first}' (the default) in the same scenario:"]
        + [
            f"  {name}: "
            + ", ".join(
                f"{scenario}: tiny x{med(results[scenario][0][name]) / med(results[scenario][0][first]):.2f}"
                f" 1e6 x{med(results[scenario][1][name]) / med(results[scenario][1][first]):.2f}"
                for scenario, _ in scenarios
            )
            for name in configs
            if name != first
        ],
    )


# -- (b) export -----------------------------------------------------------------------
def bench_export(quick: bool) -> None:
    print("\n" + "=" * 88)
    print("(b) EXPORT TIME of chained elementwise graphs (y + 1 / exp(-y))")
    print("=" * 88)
    sizes = (300, 1_000, 3_000) if quick else (1_000, 10_000, 50_000)
    rewrite_sizes = (300,) if quick else (1_000, 10_000)
    rows = []
    for n in sizes:
        t_build, (inputs, out) = timed(chain_graph, n)
        n_apply = count_apply_nodes([out])
        reps = 5 if n <= 1_000 else 3 if n <= 10_000 else 2
        row = [f"{n_apply}", fmt_s(t_build)]
        try:
            export_times = []
            for _ in range(reps):
                t, model = timed(export_onnx, inputs, out, rewrite=False)
                export_times.append(t)
            t_export = med(export_times)
            nodes = list(toposort([out], blockers=inputs))
            convert_times = []
            for _ in range(reps):
                t, converted = timed(fgraph_to_onnx, inputs, [out], nodes)
                convert_times.append(t)
            t_convert = med(convert_times)
            t_check, _ = timed(onnx.checker.check_model, converted, full_check=True)
            row += [
                f"{len(model.graph.node)}",
                fmt_s(t_export),
                f"{t_export / n_apply * 1e6:.1f}",
                fmt_s(t_convert),
                f"{t_convert / n_apply * 1e6:.1f}",
                fmt_s(t_check),
            ]
        except RecursionError as exc:
            row += ["RecursionError", str(exc)[:30], "", "", "", ""]
        if n in rewrite_sizes:
            t_rw, _ = timed(export_onnx, inputs, out, rewrite=True)
            row += [fmt_s(t_rw), f"{t_rw / n_apply * 1e6:.0f}"]
        else:
            row += ["not run", ""]
        rows.append(row)
    table(
        "b. export (median of repeats; us/node = time / PyTensor Apply nodes)",
        [
            "Apply nodes",
            "build graph",
            "ONNX nodes",
            "export rewrite=False",
            "us/node",
            "fgraph_to_onnx",
            "us/node",
            "check_model(full)",
            "export rewrite=True",
            "us/node",
        ],
        rows,
        [
            "export rewrite=False = graph walk + fgraph_to_onnx + onnx.checker.check_model"
            "(full_check=True), deep graphs in a big-stack thread.",
            "rewrite=True adds PyTensor's own rewriter (canonicalize/stabilize/specialize); "
            "build graph = PyTensor graph construction (not ours).",
        ],
    )


# -- (c) compile / session creation ---------------------------------------------------
_CHILD = r"""
import json, sys, time
import onnxruntime as ort
path, spec, repeats = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
times = []
for _ in range(repeats):
    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel(spec["level"])
    o.intra_op_num_threads = spec["intra"]
    for key, value in spec["config"].items():
        o.add_session_config_entry(key, value)
    start = time.perf_counter()
    ort.InferenceSession(data, o, providers=["CPUExecutionProvider"])
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def options_spec(options: ort.SessionOptions) -> dict:
    config = {}
    for key in CONFIG_KEYS:
        try:
            config[key] = options.get_session_config_entry(key)
        except Exception:
            pass
    return {
        "level": int(options.graph_optimization_level),
        "intra": options.intra_op_num_threads,
        "config": config,
    }


def level_options(level: str, n_nodes: int) -> ort.SessionOptions:
    return ONNXLinker(graph_optimization_level=level).make_session_options(n_nodes)


def describe_auto(n_nodes: int) -> str:
    options = level_options("auto", n_nodes)
    name = LEVEL_NAMES[options.graph_optimization_level]
    try:
        disabled = options.get_session_config_entry("optimization.disable_specified_optimizers")
    except Exception:
        disabled = ""
    short = {"CommonSubexpressionElimination": "CSE"}
    return name + "".join(f" -{short.get(d, d)}" for d in disabled.split(",") if d)


def session_times(path: str, options, repeats: int, timeout: float):
    """Times of creating an InferenceSession from ``path`` in a child process, or None."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, path, json.dumps(options_spec(options)), str(repeats)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_sessions(quick: bool) -> None:
    sizes = (1_000, 3_000) if quick else (1_000, 5_000, 10_000, 20_000, 50_000)
    cap = 10.0 if quick else 30.0
    families = {"chain": chain_graph, "dag": dag_graph}
    tmpdir = tempfile.mkdtemp(prefix="bench_core_")
    for family, make_graph in families.items():
        rows = []
        previous: dict[str, tuple[int, float]] = {}
        dead: set[str] = set()
        for n in sizes:
            inputs, out = make_graph(n)
            n_apply = count_apply_nodes([out])
            model = fgraph_to_onnx(inputs, [out], list(toposort([out], blockers=inputs)))
            n_onnx = len(model.graph.node)
            path = os.path.join(tmpdir, f"{family}_{n}.onnx")
            with open(path, "wb") as f:
                f.write(model.SerializeToString())
            row = [f"{n_apply}", f"{n_onnx}"]
            reps = 3 if n <= 5_000 else 2 if n <= 20_000 else 1
            for level in LEVELS:
                if level in dead:
                    row.append("skipped")
                    continue
                if level in previous:
                    n_prev, t_prev = previous[level]
                    predicted = t_prev * (n_onnx / n_prev) ** 2.5
                    if predicted > cap:
                        row.append(f"skip(>{cap:.0f}s?)")
                        continue
                times = session_times(path, level_options(level, n_onnx), reps, cap * 2)
                if times is None:
                    row.append(f"TIMEOUT>{cap * 2:.0f}s")
                    dead.add(level)
                    continue
                t = med(times)
                previous[level] = (n_onnx, t)
                row.append(f"{fmt_s(t)} ({t / n_onnx * 1e6:.0f})")
            row.append(describe_auto(n_onnx))
            rows.append(row)
            os.unlink(path)
        table(
            f"c1. ORT session creation alone from model bytes, '{family}' graphs "
            "(child process; median; (us per ONNX node))",
            ["Apply nodes", "ONNX nodes", *LEVELS, "auto ="],
            rows,
            [
                "skip(>Ns?) = n^2.5 extrapolation from the previous size exceeds the cap N; "
                "TIMEOUT = killed at the cap.",
                "chain: y+1 / exp(-y), one consumer per value; dag: switch(y<.5, 2y, "
                "sqrt|y|) + k; y = exp(-t*t), values with several consumers.",
                f"AUTO_FULL_OPTIMIZATION_MAX_NODES = {AUTO_FULL_OPTIMIZATION_MAX_NODES}",
            ],
        )


class _SessionTimer:
    """Patch ``onnxruntime.InferenceSession`` to record how long each construction takes."""

    def __init__(self):
        self.times: list[float] = []

    def __enter__(self):
        original = ort.InferenceSession
        times = self.times

        class TimedSession(original):
            def __init__(self, *args, **kwargs):
                start = time.perf_counter()
                super().__init__(*args, **kwargs)
                times.append(time.perf_counter() - start)

        self._original = original
        ort.InferenceSession = TimedSession
        return self

    def __exit__(self, *exc):
        ort.InferenceSession = self._original


def bench_compile(quick: bool) -> None:
    print("\n" + "=" * 88)
    print("(c) COMPILE TIME per graph_optimization_level, and what 'auto' should do")
    print("=" * 88)
    sizes = (300,) if quick else (1_000, 10_000, 50_000)
    cap = 30.0 if quick else 120.0
    rows = []
    previous: dict[str, tuple[int, float]] = {}
    for n in sizes:
        inputs, out = chain_graph(n)
        n_apply = count_apply_nodes([out])
        for level in LEVELS:
            if level in previous:
                n_prev, t_prev = previous[level]
                predicted = t_prev * (n_apply / n_prev) ** 1.3
                if predicted > cap:
                    rows.append(
                        [
                            f"{n_apply}",
                            level,
                            f"skipped (>{cap:.0f}s predicted: {fmt_s(t_prev)} at {n_prev} nodes)",
                            "",
                            "",
                            "",
                        ]
                    )
                    continue
            with _SessionTimer() as timer:
                t, fn = timed(compile_onnx, inputs, out, graph_optimization_level=level)
            previous[level] = (n_apply, t)
            t_sess = sum(timer.times)
            n_onnx = len(fn.maker.linker.onnx_model.graph.node)
            rows.append(
                [
                    f"{n_apply}",
                    level if level != "auto" else f"auto={describe_auto(n_onnx)}",
                    fmt_s(t),
                    fmt_s(t_sess),
                    fmt_s(t - t_sess),
                    f"{(t - t_sess) / n_apply * 1e3:.2f}",
                ]
            )
            del fn
    table(
        "c0. compile_onnx (one run each): total, of which ORT session creation, and the rest "
        "(PyTensor rewrites + FunctionGraph + conversion)",
        ["Apply nodes", "level", "compile_onnx", "ORT session", "rest", "rest ms/node"],
        rows,
    )
    bench_sessions(quick)
    bench_small_graph_levels(quick)


def bench_small_graph_levels(quick: bool) -> None:
    """Is 'all' measurably slower per call than 'basic' on small graphs? What does CSE buy?"""
    levels = ("all", "auto", "extended", "basic", "basic-CSE", "disable")

    def compile_level(inputs, out, level):
        if level != "basic-CSE":
            return compile_onnx(inputs, out, graph_optimization_level=level)
        options = level_options("basic", 100)
        options.add_session_config_entry(
            "optimization.disable_specified_optimizers", "CommonSubexpressionElimination"
        )
        return compile_onnx(inputs, out, session_options=options)

    rows = []
    for family, n in (("chain", 20), ("chain", 200), ("dag", 200)):
        inputs, out = (chain_graph if family == "chain" else dag_graph)(n)
        fns = {lvl: compile_level(inputs, out, lvl) for lvl in levels}
        for size in (3, 100_000):
            value = sample_inputs(inputs, size)
            number = (2000 if size == 3 else 20) // (1 if n <= 20 else 4)
            times = interleaved(
                {lvl: (lambda f=f, value=value: f(*value)) for lvl, f in fns.items()},
                repeats=9 if quick else 21,
                number=max(number // (2 if quick else 1), 3),
            )
            base = med(times["basic"])
            n_onnx = len(fns["all"].maker.linker.onnx_model.graph.node)
            rows.append(
                [f"{family} {count_apply_nodes([out])} ({n_onnx} ONNX)", f"{size}"]
                + [f"{med(times[lvl]) * 1e6:.1f} (x{med(times[lvl]) / base:.2f})" for lvl in levels]
            )
    table(
        "c2. small graphs: fn(*inputs) us/call per level, median (ratio to 'basic', same run)",
        ["graph (Apply nodes)", "input size", *levels],
        rows,
        [
            "basic-CSE = basic without ORT's CommonSubexpressionElimination (what auto uses "
            "above AUTO_FULL_OPTIMIZATION_MAX_NODES)."
        ],
    )


# -- main -----------------------------------------------------------------------------
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (< 1 min)")
    parser.add_argument(
        "--sections", default="abc", help="which sections to run, e.g. 'a' or 'bc' (default abc)"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    print(
        f"pytensor-onnx {pytensor_onnx.__version__} | pytensor {pytensor.__version__} | "
        f"onnxruntime {ort.__version__} | onnx {onnx.__version__} | numpy {np.__version__} | "
        f"Python {platform.python_version()}"
    )
    print(
        f"{os.cpu_count()} CPUs | load average {os.getloadavg()[0]:.2f} at start | "
        f"mode: {'quick' if args.quick else 'full'}"
    )
    if "a" in args.sections:
        bench_per_call(args.quick)
    if "b" in args.sections:
        run_deep(lambda: bench_export(args.quick))
    if "c" in args.sections:
        run_deep(lambda: bench_compile(args.quick))
    print(
        f"\ntotal {time.perf_counter() - start:.0f} s | load average {os.getloadavg()[0]:.2f} "
        "at end"
    )


if __name__ == "__main__":
    main()
