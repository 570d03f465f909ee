"""Scan: one ONNX ``Loop`` whose body is the Scan's inner graph.

The outer inputs of a Scan are laid out (pytensor 2.38 and 3.0 alike) as
``[n_steps, *sequences, *mit_mot, *mit_sot, *sit_sot, *untraced_sit_sot, *nit_sot_sizes,
*non_sequences]`` and its outputs as ``[*mit_mot, *mit_sot, *sit_sot, *nit_sot,
*untraced_sit_sot]``; ``op.info`` (ScanInfo) gives the counts and taps.

In the Loop (as PyTensor's JAX backend does with ``lax.scan``):

- sequences and non-sequences are read from the outer scope: a sequence's row at the
  iteration number is one ``Gather``;
- a mit-sot is carried as a window of its last ``-min(taps)`` values, a sit-sot as its last
  value, an untraced sit-sot (a shared variable's update) as its value, and a mit-mot (the
  gradient scans' outputs) as its whole buffer, read and written at ``i + tap``;
- mit-sot, sit-sot and nit-sot values are stacked by the Loop as scan outputs, and the
  outer buffers PyTensor would have filled are made from them afterwards (see
  :func:`_as_scan_buffer`: scan_save_mem shrinks buffers to their last entries, and a
  while-scan trims them to the steps it ran).

A map (only sequences, non-sequences and nit-sots) is not a Loop: its inner graph is
vectorised over the steps (see :func:`_vectorised_map`).
"""

from __future__ import annotations

import numpy as np
from pytensor.graph.fg import FunctionGraph
from pytensor.scan.op import Scan

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.op_from_graph import inline_graph

_INT64_MAX = np.iinfo(np.int64).max


def _rewritten_inner_graph(op):
    """A rewritten copy of the Scan's inner graph (``op.fgraph`` is shared: left alone).

    PyTensor compiles the inner graph with its own rewrites; converting it raw would leave
    ops that only exist before specialisation (and slower forms) in every iteration.
    """
    from pytensor_onnx.mode import ONNX  # the mode module imports the dispatch package

    fgraph = op.fgraph.clone()
    ONNX.optimizer.rewrite(fgraph)
    return _random_generators_as_states(fgraph)


def _random_generators_as_states(fgraph):
    """``fgraph`` with its random generators as ONNX states, as the outer graph has them
    (a generator carried through the loop: e.g. PyMC's AR draws)."""
    from pytensor_onnx.dispatch.random import is_rng_type, with_rng_states_as_tensors

    variables = [*fgraph.inputs, *fgraph.variables]
    if not any(is_rng_type(var.type) for var in variables):
        return fgraph
    inputs, outputs, _ = with_rng_states_as_tensors(fgraph.inputs, fgraph.outputs)
    return FunctionGraph(inputs, outputs, clone=False)


def _int64_vector(builder, scalar: str) -> str:
    return builder.add_node("Unsqueeze", [scalar, builder.constant(np.zeros(1, "int64"))])


def _length(builder, name: str) -> str:
    """The length of axis 0 of ``name``, as a 1-element int64 vector."""
    return builder.add_node("Shape", [name], start=0, end=1)


def _as_scan_buffer(builder, init, trace, store, n_init, steps_run, n_steps, dtype):
    """The outer output PyTensor's Scan.perform returns for a traced output.

    ``init`` holds the ``n_init`` initial entries (None for a nit-sot), ``trace`` the value of
    each step run, ``store`` the buffer length (1-element int64 vector). With
    ``full = [*init, *trace]`` of length L, PyTensor returns the last ``store`` entries of
    ``full`` when ``store <= L``, else ``full`` padded with zeros to ``store`` entries; a
    while-scan that stopped after ``steps_run < n_steps`` steps then drops the last
    ``n_steps - steps_run`` entries of the padded buffer (``steps_run`` is None for a scan
    without ``until``).
    """
    zero = builder.constant(np.zeros(1, "int64"))
    if init is not None:
        # With no steps onnxruntime gives the trace the shape (0, 0, ...): take the sizes of
        # the entries from the initial ones so that they concatenate.
        entry_shape = builder.add_node("Shape", [init], start=1)
        trace = builder.add_node(
            "Reshape",
            [trace, builder.add_node("Concat", [_length(builder, trace), entry_shape], axis=0)],
            allowzero=1,
        )
        length = builder.add_node(
            "Add", [_length(builder, trace), builder.constant(np.array([n_init]))]
        )
    else:
        entry_shape = builder.add_node("Shape", [trace], start=1)
        length = _length(builder, trace)
    padding = builder.add_node("Max", [builder.add_node("Sub", [store, length]), zero])
    zeros = builder.add_node(
        "Expand",
        [
            builder.constant(np.zeros((), dtype)),
            builder.add_node("Concat", [padding, entry_shape], axis=0),
        ],
    )
    parts = [trace, zeros] if init is None else [init, trace, zeros]
    padded = builder.add_node("Concat", parts, axis=0)
    start = builder.add_node("Max", [builder.add_node("Sub", [length, store]), zero])
    if steps_run is None:
        return builder.add_node(
            "Slice", [padded, start, builder.constant(np.array([_INT64_MAX])), zero]
        )
    # The trim applies only when the buffer was longer than what the steps filled.
    unrun = builder.add_node("Sub", [n_steps, steps_run])
    end = builder.add_node(
        "Where",
        [
            builder.add_node("Greater", [store, length]),
            builder.add_node("Sub", [store, unrun]),
            builder.constant(np.array([_INT64_MAX])),
        ],
    )
    return builder.add_node("Slice", [padded, start, end, zero])


def _row(builder, tensor: str, index: str) -> str:
    return builder.add_node("Gather", [tensor, index], axis=0)


def _is_map(info) -> bool:
    """Whether the steps are independent: only sequences, non-sequences and nit-sots."""
    return not (
        info.as_while
        or info.n_mit_mot
        or info.n_mit_sot
        or info.n_sit_sot
        or info.n_untraced_sit_sot
        or not info.n_seqs
    )


def _vectorised_map(op, node, builder, inputs, fgraph):
    """The nit-sots of a map, computed for all steps at once (None if that cannot be
    converted: the Loop is used then).

    A Loop costs ~3 us per iteration in onnxruntime whatever it computes: a map over 10^4
    rows took 36 ms as a Loop and 0.5 ms vectorised, on this 2-core machine. The inner
    graph is vectorised by PyTensor itself (``vectorize_graph``) over the sequences' rows.
    """
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.replace import vectorize_graph
    from pytensor.tensor import tensor

    from pytensor_onnx.mode import ONNX

    inner_seqs = op.inner_seqs(fgraph.inputs)
    rows = [tensor(dtype=v.type.dtype, shape=(None, *v.type.shape)) for v in inner_seqs]
    outputs = op.inner_nitsot_outs(fgraph.outputs)
    try:
        batched = vectorize_graph(outputs, replace=dict(zip(inner_seqs, rows)))
    except (NotImplementedError, TypeError, ValueError):
        return None
    vectorised = FunctionGraph([*rows, *op.inner_non_seqs(fgraph.inputs)], batched, clone=True)
    ONNX.optimizer.rewrite(vectorised)

    n_steps = _int64_vector(builder, builder.cast(inputs[0], node.inputs[0].type.dtype, "int64"))
    zero = builder.constant(np.zeros(1, "int64"))
    first_rows = [
        builder.add_node("Slice", [seq, zero, n_steps, zero]) for seq in op.outer_seqs(inputs)
    ]
    try:
        traces = inline_graph(builder, vectorised, [*first_rows, *op.outer_non_seqs(inputs)])
    except NotImplementedError:
        return None
    results = []
    for trace, inner, out_var, size, size_var in zip(
        traces,
        outputs,
        vectorised.outputs,
        op.outer_nitsot(inputs),
        op.outer_nitsot(node.inputs),
    ):
        if out_var.type.ndim == inner.type.ndim:  # the same for every step
            shape = builder.add_node(
                "Concat", [n_steps, builder.add_node("Shape", [trace])], axis=0
            )
            trace = builder.add_node(
                "Expand", [builder.add_node("Unsqueeze", [trace, zero]), shape]
            )
        # PyTensor gives every nit-sot of a 0-step scan the shape (0, 0, ...).
        any_step = builder.add_node("Min", [n_steps, builder.constant(np.ones(1, "int64"))])
        shape = builder.add_node("Mul", [builder.add_node("Shape", [trace]), any_step])
        trace = builder.add_node("Reshape", [trace, shape], allowzero=1)
        store = _int64_vector(builder, builder.cast(size, size_var.type.dtype, "int64"))
        results.append(
            _as_scan_buffer(builder, None, trace, store, 0, None, n_steps, inner.type.dtype)
        )
    return results


@onnx_funcify.register(Scan)
def onnx_funcify_Scan(op, node, builder, inputs, **kwargs):
    info = op.info
    fgraph = _rewritten_inner_graph(op)
    if _is_map(info):
        results = _vectorised_map(op, node, builder, inputs, fgraph)
        if results is not None:
            return results
    inner_outputs = fgraph.outputs
    outer_in = node.inputs
    n_steps = builder.cast(inputs[0], outer_in[0].type.dtype, "int64")

    seqs = op.outer_seqs(inputs)
    mit_mots = op.outer_mitmot(inputs)
    mit_sots = op.outer_mitsot(inputs)
    sit_sots = op.outer_sitsot(inputs)
    untraced = op.outer_untraced_sit_sot(inputs)
    nit_sizes = op.outer_nitsot(inputs)
    non_seqs = op.outer_non_seqs(inputs)
    mit_sot_vars = op.outer_mitsot(outer_in)
    sit_sot_vars = op.outer_sitsot(outer_in)

    def taps_start(taps):  # entries of the initial state before step 0's output
        return -min(taps)

    def row_of(taps, tap):  # the row of `tap` in a window, or in a mit-mot buffer at step 0
        return builder.constant(np.int64(taps_start(taps) + tap))

    # Outside the Loop: the initial windows of the mit-sots and states of the sit-sots.
    zero = builder.constant(np.zeros(1, "int64"))
    mit_sot_inits = [
        builder.add_node(
            "Slice", [buffer, zero, builder.constant(np.array([taps_start(taps)])), zero]
        )
        for buffer, taps in zip(mit_sots, info.mit_sot_in_slices)
    ]
    sit_sot_inits = [_row(builder, buffer, builder.constant(np.int64(0))) for buffer in sit_sots]
    inner_out_groups = {
        "mit_mot": op.inner_mitmot_outs_grouped(inner_outputs),
        "mit_sot": op.inner_mitsot_outs(inner_outputs),
        "sit_sot": op.inner_sitsot_outs(inner_outputs),
        "nit_sot": op.inner_nitsot_outs(inner_outputs),
        "untraced": op.inner_untraced_sit_sot_outs(inner_outputs),
    }

    mit_mot_vars = op.outer_mitmot(outer_in)
    carried = [
        *((buffer, var.type.dtype) for buffer, var in zip(mit_mots, mit_mot_vars)),
        *((window, var.type.dtype) for window, var in zip(mit_sot_inits, mit_sot_vars)),
        *((state, var.type.dtype) for state, var in zip(sit_sot_inits, sit_sot_vars)),
        *(
            (state, var.type.dtype)
            for state, var in zip(untraced, op.outer_untraced_sit_sot(outer_in))
        ),
    ]
    if info.as_while:  # the number of steps run
        carried.append((builder.constant(np.int64(0)), "int64"))
    group_sizes = [len(mit_mots), len(mit_sots), len(sit_sots), len(untraced)]

    def step(i, state):
        groups, start = [], 0
        for size in group_sizes:
            groups.append(state[start : start + size])
            start += size
        mit_mot_in, mit_sot_in, sit_sot_in, untraced_in = groups
        inner_in = [_row(builder, seq, i) for seq in seqs]
        for buffer, taps in zip(mit_mot_in, info.mit_mot_in_slices):
            inner_in += [
                _row(builder, buffer, builder.add_node("Add", [i, row_of(taps, t)])) for t in taps
            ]
        for window, taps in zip(mit_sot_in, info.mit_sot_in_slices):
            inner_in += [_row(builder, window, row_of(taps, t)) for t in taps]
        inner_in += [*sit_sot_in, *untraced_in, *non_seqs]
        results = inline_graph(builder, fgraph, inner_in)
        by_var = dict(zip(inner_outputs, results))

        def result(var, outer_var):
            return builder.cast(by_var[var], var.type.dtype, outer_var.type.dtype)

        keep_going = None
        if info.as_while:
            until = builder.cast(by_var[inner_outputs[-1]], inner_outputs[-1].type.dtype, "bool")
            keep_going = builder.add_node("Not", [until])

        # Carried values, in the order of the carried inputs.
        next_state = []
        for buffer, var, taps, out_taps, news in zip(
            mit_mot_in,
            mit_mot_vars,
            info.mit_mot_in_slices,
            info.mit_mot_out_slices,
            inner_out_groups["mit_mot"],
        ):
            offsets = builder.constant(
                np.array([[taps_start(taps) + t] for t in out_taps], dtype="int64")
            )
            rows = builder.add_node("Add", [i, offsets])
            updates = builder.add_node(
                "Concat",
                [builder.add_node("Unsqueeze", [result(v, var), zero]) for v in news],
                axis=0,
            )
            next_state.append(builder.add_node("ScatterND", [buffer, rows, updates]))
        mit_sot_news = [result(v, o) for v, o in zip(inner_out_groups["mit_sot"], mit_sot_vars)]
        for window, new in zip(mit_sot_in, mit_sot_news):
            older = builder.add_node(
                "Slice",
                [
                    window,
                    builder.constant(np.ones(1, "int64")),
                    builder.constant(np.array([_INT64_MAX])),
                    zero,
                ],
            )
            latest = builder.add_node("Unsqueeze", [new, zero])
            next_state.append(builder.add_node("Concat", [older, latest], axis=0))
        sit_sot_news = [result(v, o) for v, o in zip(inner_out_groups["sit_sot"], sit_sot_vars)]
        next_state += sit_sot_news
        next_state += [
            result(var, inner_var)
            for var, inner_var in zip(
                inner_out_groups["untraced"], op.inner_untraced_sit_sot(fgraph.inputs)
            )
        ]
        if info.as_while:
            next_state.append(builder.add_node("Add", [state[-1], builder.constant(np.int64(1))]))
        # Scan outputs: the value of each step, stacked by the Loop.
        traces = [*mit_sot_news, *sit_sot_news]
        traces += [by_var[var] for var in inner_out_groups["nit_sot"]]
        return keep_going, next_state, traces

    trace_dtypes = [var.type.dtype for var in [*mit_sot_vars, *sit_sot_vars]]
    trace_dtypes += [var.type.dtype for var in inner_out_groups["nit_sot"]]
    loop_outputs = builder.loop(n_steps, "", carried, step, scan_dtypes=trace_dtypes, hint="scan")
    finals, traces = loop_outputs[: len(carried)], iter(loop_outputs[len(carried) :])
    n_mit_mot, n_carried_states = len(mit_mots), len(mit_sots) + len(sit_sots)
    final_untraced = finals[n_mit_mot + n_carried_states :][: len(untraced)]
    steps_run = _int64_vector(builder, finals[-1]) if info.as_while else None
    n_steps_vector = _int64_vector(builder, n_steps)

    outer_outputs = finals[:n_mit_mot]
    sit_sot_firsts = [
        builder.add_node("Slice", [buffer, zero, builder.constant(np.ones(1, "int64")), zero])
        for buffer in sit_sots
    ]
    for buffer, init, var, taps in zip(
        [*mit_sots, *sit_sots],
        [*mit_sot_inits, *sit_sot_firsts],
        [*mit_sot_vars, *sit_sot_vars],
        [*info.mit_sot_in_slices, *info.sit_sot_in_slices],
    ):
        outer_outputs.append(
            _as_scan_buffer(
                builder,
                init,
                next(traces),
                _length(builder, buffer),
                taps_start(taps),
                steps_run,
                n_steps_vector,
                var.type.dtype,
            )
        )
    for size, size_var, out_var in zip(
        nit_sizes, op.outer_nitsot(outer_in), op.outer_nitsot_outs(node.outputs)
    ):
        store = _int64_vector(builder, builder.cast(size, size_var.type.dtype, "int64"))
        outer_outputs.append(
            _as_scan_buffer(
                builder, None, next(traces), store, 0, steps_run, n_steps_vector, out_var.type.dtype
            )
        )
    return outer_outputs + final_untraced
