"""Export a PyMC model's log density, its gradient and its posterior predictive to ONNX.

PyMC is an optional dependency (``pip install "pytensor-onnx[pymc]"``), imported only when
a function of this module is called.

:func:`export_logp_dlogp` writes one model with

- one input per free variable, in ``model.value_vars`` order and in the *transformed*
  space, named after the value variable (``sigma_log__``, ``p_logodds__``); or, with
  ``ravel_inputs=True``, a single vector input ``x``: the value variables ravelled and
  concatenated in that order (as ``DictToArrayBijection`` does with
  ``model.initial_point()``), which is what gradient-based samplers work with;
- output ``logp``, a scalar: ``model.logp(jacobian=jacobian)``;
- output ``dlogp``, a vector: the gradient of ``logp`` with respect to the continuous
  value variables, each ravelled and concatenated in ``model.value_vars`` order (what
  ``model.compile_dlogp()`` returns). Its layout is ``ravel_layout(model, dlogp=True)``.

:func:`export_predictive` writes the forward sampler of the observed variables:

- one input per free random variable it depends on, in the *constrained* space, named
  after the variable (``sigma``, not ``sigma_log__``): the values a posterior trace holds;
- one input ``rng``: the generator state, uint64 ``[key, counter]`` (see
  :mod:`pytensor_onnx.dispatch.random`; :func:`seed_to_state` makes one from a seed, and any
  ``np.array([seed, 0], dtype=np.uint64)`` is a valid state too);
- one output per sampled variable (the observed ones by default), named after it, and
  ``rng_next``, the state to pass to the next call so that consecutive calls draw
  independent values.

A PyMC model gives each random variable its own generator. The exported model derives one
stream per generator from the single ``rng`` input (stream ``j`` has key
``key XOR STREAM_KEYS[j]`` and the input's counter), so that users handle one state; the
next state keeps the key and takes the largest counter any stream reached.

Data containers (``pm.Data``) are stored in the file with their current values, unless
named in ``data_names``: those become inputs of the same name, so that a model can be
evaluated on new data without re-exporting it.

**The draws differ from PyMC's.** They come from the same distributions, not the same
numbers: the ONNX generator is a Philox stream, PyMC uses NumPy's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper

from pytensor_onnx.export import export_onnx
from pytensor_onnx.web import apply_target, check_target

__all__ = [
    "STREAM_KEYS",
    "export_logp_dlogp",
    "export_predictive",
    "ravel_layout",
    "seed_to_state",
]

# Per-generator key offsets of the predictive model: stream j uses key ^ STREAM_KEYS[j].
# Odd multiples of 2**64 / golden ratio (Weyl sequence): distinct and far apart in bits.
_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _stream_key(j: int) -> int:
    return (j * _GOLDEN) & _MASK64


STREAM_KEYS = tuple(_stream_key(j) for j in range(8))  # the first few, for the docs


def _import_pymc():
    try:
        import pymc
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "pytensor_onnx.pymc needs PyMC: pip install 'pytensor-onnx[pymc]'"
        ) from err
    return pymc


def seed_to_state(seed: int | None = None) -> np.ndarray:
    """A generator state (uint64 ``[key, counter]``) for the ``rng`` input, from a seed.

    The same as ``pytensor_onnx.dispatch.random.generator_to_state(np.random.default_rng(
    seed))``: the key is a hash of
    NumPy's seeded state, so that nearby seeds give unrelated keys.

    Examples
    --------
    >>> state = seed_to_state(1)
    >>> state.dtype, state.shape, int(state[1])
    (dtype('uint64'), (2,), 0)
    """
    from pytensor_onnx.dispatch.random import generator_to_state

    return generator_to_state(np.random.default_rng(seed))


def _data_inputs(model, data_names: Sequence[str]) -> dict:
    """``{data container: symbolic input of its type}`` for the names in ``data_names``.

    Symbolic inputs, not the shared variables themselves: PyTensor (and so ``verify``) does
    not accept a shared variable as an explicit input.
    """
    from pytensor.compile.sharedvalue import SharedVariable

    replacements = {}
    for name in data_names:
        var = model.named_vars.get(name)
        if not isinstance(var, SharedVariable):
            available = sorted(v.name for v in model.data_vars)
            raise ValueError(
                f"{name!r} is not a data container (pm.Data) of the model; "
                f"its data containers are {available}"
            )
        replacements[var] = var.type(name=name)
    return replacements


def _dim_lengths_from_data(model, data: dict) -> dict:
    """``{dim length: the matching axis length of a data input}`` for the dims (coords) of
    the data containers in ``data``: a variable with ``dims="obs"`` then follows the length
    of the data fed for "obs", as after ``pm.set_data(..., coords=...)`` in PyMC."""
    import pytensor.tensor as pt
    from pytensor.compile.sharedvalue import SharedVariable

    lengths = {}
    for container, data_input in data.items():
        for axis, dim in enumerate(model.named_vars_to_dims.get(container.name) or ()):
            length = model.dim_lengths.get(dim)
            # (a dim of fixed length, a constant, cannot change: PyMC's own rule)
            if isinstance(length, SharedVariable) and length not in lengths:
                lengths[length] = pt.cast(data_input.shape[axis], length.type.dtype)
    return lengths


def ravel_layout(model, *, dlogp: bool = False) -> list[tuple[str, tuple[int, ...], slice]]:
    """``(name, shape, slice)`` of each value variable in the ravelled input vector ``x``.

    With ``dlogp=True``, the layout of the ``dlogp`` output instead: the continuous value
    variables only (the same as ``x`` unless the model has discrete free variables). The
    shapes are those of ``model.initial_point()``.
    """
    point = model.initial_point()
    variables = model.continuous_value_vars if dlogp else model.value_vars
    layout, start = [], 0
    for var in variables:
        shape = np.shape(point[var.name])
        size = int(np.prod(shape, dtype=np.int64))
        layout.append((var.name, shape, slice(start, start + size)))
        start += size
    return layout


def export_logp_dlogp(
    model,
    filename: str | os.PathLike | None = None,
    *,
    jacobian: bool = True,
    ravel_inputs: bool = False,
    data_names: Sequence[str] = (),
    verify: bool = False,
    verify_inputs: Sequence | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    target: str | None = None,
) -> onnx.ModelProto:
    """Export ``model``'s log density and its gradient to one ONNX model.

    Inputs: the value variables (or the vector ``x`` with ``ravel_inputs=True``), then the
    data containers named in ``data_names``. Outputs ``logp`` (scalar) and ``dlogp``
    (vector); see the module docstring. ``verify`` runs the model in onnxruntime and
    compares it with PyTensor (at ``model.initial_point()`` unless ``verify_inputs`` is
    given), and ``target="web"``/``"web-float32"`` prepares it for the browser, as
    :func:`pytensor_onnx.export_onnx` does.

    Examples
    --------
    >>> import pymc as pm  # doctest: +SKIP
    >>> with pm.Model() as model:  # doctest: +SKIP
    ...     sigma = pm.HalfNormal("sigma")
    ...     pm.Normal("y", 0, sigma, observed=[0.5, -1.0])
    >>> onnx_model = export_logp_dlogp(model)  # doctest: +SKIP
    >>> [i.name for i in onnx_model.graph.input]  # doctest: +SKIP
    ['sigma_log__']
    """
    from pytensor.graph.replace import clone_replace

    pm = _import_pymc()
    value_vars = list(model.value_vars)
    if not value_vars:
        raise ValueError("The model has no free variables: there is no logp to differentiate")
    logp = model.logp(jacobian=jacobian)
    dlogp = model.dlogp(jacobian=jacobian)
    point = model.initial_point()
    if ravel_inputs:
        (logp, dlogp), x = pm.pytensorf.join_nonshared_inputs(point, [logp, dlogp], value_vars)
        x.name = "x"
        inputs, names = [x], ["x"]
        default_values = [np.concatenate([np.ravel(point[v.name]) for v in value_vars])]
    else:
        inputs, names = value_vars, [v.name for v in value_vars]
        default_values = [point[v.name] for v in value_vars]
    data = _data_inputs(model, data_names)
    if data:
        replace = {**data, **_dim_lengths_from_data(model, data)}
        logp, dlogp = clone_replace([logp, dlogp], replace=replace)
    inputs = [*inputs, *data.values()]
    names = [*names, *data_names]
    if verify and verify_inputs is None:
        verify_inputs = [*default_values, *(d.get_value() for d in data)]
    return export_onnx(
        inputs,
        [logp, dlogp],
        filename,
        model_name="pymc_logp_dlogp",
        input_names=names,
        output_names=["logp", "dlogp"],
        verify=verify,
        verify_inputs=verify_inputs,
        rtol=rtol,
        atol=atol,
        target=target,
    )


def _predictive_graph(model, var_names, data_names):
    """``(parameter variables, data variables, outputs, rng variables, next rngs)``."""
    import pytensor.tensor as pt
    from pytensor.graph.replace import clone_replace
    from pytensor.graph.traversal import ancestors, graph_inputs

    from pytensor_onnx.dispatch.random import is_rng_type

    pm = _import_pymc()
    if var_names is None:
        var_names = [rv.name for rv in model.observed_RVs]
    if not var_names:
        raise ValueError("The model has no observed variables: pass var_names")
    outputs = [model[name] for name in var_names]
    free = [rv for rv in model.free_RVs if rv.name not in var_names]
    needed = set(ancestors(outputs))
    params = [rv for rv in free if rv in needed]
    param_inputs = [rv.type(name=rv.name) for rv in params]
    data = _data_inputs(model, data_names)
    # Observed variables may appear as inputs of other observed ones: they are sampled
    # too (their RV graph, not their data), as in pm.sample_posterior_predictive.
    replace = {**dict(zip(params, param_inputs)), **data, **_dim_lengths_from_data(model, data)}
    outputs = clone_replace(outputs, replace=replace)
    outputs = [pt.as_tensor_variable(out) for out in outputs]
    updates = pm.pytensorf.collect_default_updates(outputs)
    rngs = [var for var in graph_inputs(outputs) if is_rng_type(var.type)]
    missing = [rng for rng in rngs if rng not in updates]
    if missing:  # pragma: no cover - PyMC always has updates for its generators
        raise NotImplementedError(f"No update for the generators {missing}")
    return param_inputs, list(data.values()), outputs, rngs, [updates[r] for r in rngs]


def export_predictive(
    model,
    filename: str | os.PathLike | None = None,
    *,
    var_names: Sequence[str] | None = None,
    data_names: Sequence[str] = (),
    target: str | None = None,
) -> onnx.ModelProto:
    """Export a forward sampler of ``var_names`` (default: the observed variables).

    Inputs: the free random variables the draws depend on (constrained space, by name), the
    data containers named in ``data_names``, then ``rng``. Outputs: one draw of each
    variable of ``var_names``, then ``rng_next``. See the module docstring. ``target`` is
    as in :func:`pytensor_onnx.export_onnx` (``"web"``, ``"web-float32"``).

    Examples
    --------
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> onnx_model = export_predictive(model)  # doctest: +SKIP
    >>> session = ort.InferenceSession(onnx_model.SerializeToString())  # doctest: +SKIP
    >>> y, state = session.run(None, {"sigma": np.array(1.3), "rng": seed_to_state(0)})  # doctest: +SKIP
    """
    check_target(target)
    params, data, outputs, rngs, next_rngs = _predictive_graph(model, var_names, data_names)
    names = [var.name for var in params]
    clash = {"rng", "rng_next"}.intersection(names + [o.name for o in outputs])
    if clash:
        raise ValueError(f"Model variables named {sorted(clash)} clash with the rng input/output")
    stream_in = [f"pymc_rng_{j}" for j in range(len(rngs))]
    stream_out = [f"pymc_rng_next_{j}" for j in range(len(rngs))]
    model_proto = export_onnx(
        [*params, *data, *rngs],
        [*outputs, *next_rngs],
        model_name="pymc_predictive",
        input_names=[*names, *data_names, *stream_in],
        output_names=[*(o.name for o in outputs), *stream_out],
    )
    model_proto = apply_target(_merge_rng_streams(model_proto, stream_in, stream_out), target)
    if filename is not None:
        from pytensor_onnx.export import save_model_atomically

        save_model_atomically(model_proto, filename)
    return model_proto


def _merge_rng_streams(model: onnx.ModelProto, stream_in, stream_out) -> onnx.ModelProto:
    """Replace the per-generator state inputs/outputs by one ``rng`` input and ``rng_next``."""
    graph = model.graph
    state_info = next(i for i in graph.input if i.name == stream_in[0]) if stream_in else None
    kept_inputs = [i for i in graph.input if i.name not in stream_in]
    kept_outputs = [o for o in graph.output if o.name not in stream_out]
    if state_info is None:  # nothing random (e.g. only deterministics): keep the interface
        state_info = helper.make_tensor_value_info("rng", onnx.TensorProto.UINT64, [2])
    rng_info = onnx.ValueInfoProto()
    rng_info.CopyFrom(state_info)
    rng_info.name = "rng"
    next_info = onnx.ValueInfoProto()
    next_info.CopyFrom(rng_info)
    next_info.name = "rng_next"

    def u64(name, values):
        return helper.make_tensor(name, onnx.TensorProto.UINT64, [len(values)], values)

    def i64(name, values):
        return helper.make_tensor(name, onnx.TensorProto.INT64, [len(values)], values)

    prefix = "pymc_rng_merge_"
    inits = [i64(prefix + "zero", [0]), i64(prefix + "one", [1]), i64(prefix + "two", [2])]
    nodes = [
        helper.make_node(
            "Slice", ["rng", prefix + "zero", prefix + "one"], [prefix + "key"], name=prefix + "key"
        ),
        helper.make_node(
            "Slice",
            ["rng", prefix + "one", prefix + "two"],
            [prefix + "counter"],
            name=prefix + "ctr",
        ),
    ]
    for j, name in enumerate(stream_in):
        inits.append(u64(f"{prefix}offset_{j}", [_stream_key(j)]))
        nodes.append(
            helper.make_node(
                "BitwiseXor", [prefix + "key", f"{prefix}offset_{j}"], [f"{prefix}key_{j}"]
            )
        )
        nodes.append(
            helper.make_node("Concat", [f"{prefix}key_{j}", prefix + "counter"], [name], axis=0)
        )
    counters = []
    for j, name in enumerate(stream_out):
        counters.append(f"{prefix}next_counter_{j}")
        nodes.append(
            helper.make_node("Slice", [name, prefix + "one", prefix + "two"], [counters[-1]])
        )
    if counters:
        # Max of uint64 counters; with a single input Max is the identity.
        nodes.append(helper.make_node("Max", [prefix + "counter", *counters], [prefix + "next"]))
    else:
        nodes.append(helper.make_node("Identity", [prefix + "counter"], [prefix + "next"]))
    nodes.append(
        helper.make_node("Concat", [prefix + "key", prefix + "next"], ["rng_next"], axis=0)
    )

    new_graph = helper.make_graph(
        [*nodes[: 2 + 2 * len(stream_in)], *graph.node, *nodes[2 + 2 * len(stream_in) :]],
        graph.name,
        [*kept_inputs, rng_info],
        [*kept_outputs, next_info],
        initializer=[*graph.initializer, *inits],
        value_info=graph.value_info,
        doc_string=graph.doc_string,
    )
    new_model = onnx.ModelProto()
    new_model.CopyFrom(model)
    new_model.graph.CopyFrom(new_graph)
    onnx.checker.check_model(new_model, full_check=True)
    return new_model
