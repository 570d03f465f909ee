"""Random variables with PyTensor's explicit RNG semantics, on a Philox generator.

A PyTensor random variable node is ``(rng, size, *params) -> (next_rng, draws)``. In ONNX
the generator is a uint64 tensor of shape ``(2,)``, ``[key, counter]``: a model input, and
its next state a model output (see :mod:`pytensor_onnx.dispatch.philox`). The draws are a
pure function of the state and the parameters, so the same state gives the same draws in
every session and every runtime, unlike ONNX's ``RandomNormal``. The next state depends
only on the number of values drawn, not on their values.

**The streams differ from NumPy's.** A PyTensor function compiled with the ONNX backend and
one compiled with the C or Python backend draw from the same distributions but not the
same numbers, from the same seed.

NumPy ``Generator`` <-> state (:func:`generator_to_state`, :func:`state_to_generator`):

- A Generator made by :func:`state_to_generator` (a NumPy ``Philox`` whose key's high word
  is :data:`STATE_MARKER`) maps back to the state it holds, exactly.
- Any other Generator (``np.random.default_rng(seed)``) maps to key = the first 64 bits of
  the SHA-256 of its bit generator's state, counter = 0. The user's generator is only
  read, never advanced: the same seed always gives the same key, in every process.

Samplers (``u`` uniform in [0, 1), each draw takes a fixed number of uniforms):

- uniform ``low + (high - low) u``; exponential ``-scale log(1 - u)``; bernoulli ``u < p``;
  cauchy ``loc + scale tan(pi (u - 1/2))`` (as sin/cos: onnxruntime has no float64 Tan).
- normal: Box-Muller, one output per pair of uniforms (``sqrt(-2 log(1 - u1))
  cos(2 pi u2)``); halfnormal ``|z|``, lognormal ``exp(z)`` on top.
- gamma: Marsaglia-Tsang, with ``gamma(a) = gamma(a + 1) u**(1/a)`` for a < 1. Rejection
  rounds run in an ONNX ``Loop`` until every value is accepted (at least 95% per round), round
  r taking its proposals from Philox lane r (so the state still advances by a fixed amount).
  beta ``X / (X + Y)`` and dirichlet (normalised gammas) work on log-gammas, so that small
  shape parameters do not underflow to 0/0; student-t ``z sqrt(df / chi2(df))``.
- poisson: inversion (sequential search) for lam < 10, PTRS (Hoermann 1993) above;
  binomial: inversion for ``n min(p, 1-p) < 10``, BTRS (Hoermann 1993) above, both on
  ``min(p, 1 - p)``; the acceptance tests use the lgamma lowering of scalar_math.
- categorical: cumulative sums and a count of the sums <= ``u * total``.
- multivariate normal ``mean + L z`` with ``L`` the Cholesky factor of ``cov`` (for every
  ``method``: the distribution is the same; a covariance that is not positive definite
  gives NaN, where PyTensor's ``svd``/``eigh`` methods accept semi-definite ones).

PyTensor raises for invalid parameters (negative scale, p outside [0, 1], ...); ONNX cannot
raise: such draws are NaN for float outputs and -1 for integer outputs, where the sampler
would otherwise not terminate (gamma, poisson, binomial shapes outside their domain).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
from onnx import helper
from pytensor.graph.basic import Apply, Constant
from pytensor.tensor.random import basic as rb
from pytensor.tensor.random.op import RandomVariable, RandomVariableWithCoreShape
from pytensor.tensor.random.type import RandomType
from pytensor.tensor.type import TensorType

from pytensor_onnx.dispatch.basic import onnx_funcify, onnx_typify
from pytensor_onnx.dispatch.philox import STATE_DTYPE, STATE_SHAPE, RandomStream
from pytensor_onnx.dispatch.scalar_math import Emitter, Value, emit_loop, erfc, erfcinv, lgamma
from pytensor_onnx.dispatch.shape import unsqueeze
from pytensor_onnx.dtypes import onnx_dtype

__all__ = [
    "STATE_MARKER",
    "generator_to_state",
    "is_rng_type",
    "rng_state_type",
    "rng_value_info",
    "state_to_generator",
    "with_rng_states_as_tensors",
]

# High word of the 128-bit key of the NumPy Philox generators that hold an ONNX state.
STATE_MARKER = 0x5054_4F4E_4E58_5247  # "PTONNXRG"

# Rejection samplers stop after this many rounds. Each round accepts a value with
# probability >= 0.95 (Marsaglia-Tsang), >= 0.7 (PTRS, BTRS), so it is never reached.
MAX_REJECTION_ROUNDS = 1000


# -- generator state ---------------------------------------------------------------------
def is_rng_type(var_type) -> bool:
    """Whether ``var_type`` is a PyTensor random generator type (an ONNX state tensor)."""
    return isinstance(var_type, RandomType)


def rng_state_type() -> TensorType:
    """The PyTensor tensor type of the ONNX state of a random generator."""
    return TensorType(STATE_DTYPE, shape=STATE_SHAPE)


def rng_value_info(name: str) -> onnx.ValueInfoProto:
    """The ONNX value info of a random generator state named ``name``."""
    return helper.make_tensor_value_info(name, onnx_dtype(STATE_DTYPE), list(STATE_SHAPE))


def _is_state_generator(bit_generator) -> bool:
    if not isinstance(bit_generator, np.random.Philox):
        return False
    return int(bit_generator.state["state"]["key"][1]) == STATE_MARKER


def _canonical(value):
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, np.ndarray):
        return [int(x) for x in value.ravel()]
    if isinstance(value, (np.integer, int)):
        return int(value)
    return str(value)


def generator_to_state(generator: np.random.Generator) -> np.ndarray:
    """The ONNX state (uint64 ``[key, counter]``) of a NumPy ``Generator``; see the module doc.

    Examples
    --------
    >>> state = generator_to_state(np.random.default_rng(42))
    >>> state.dtype, state.shape, int(state[1])
    (dtype('uint64'), (2,), 0)
    >>> bool((generator_to_state(state_to_generator(state)) == state).all())
    True
    """
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"Expected a numpy.random.Generator, got {type(generator).__name__}")
    bit_generator = generator.bit_generator
    if _is_state_generator(bit_generator):
        state = bit_generator.state["state"]
        return np.array([state["key"][0], state["counter"][0]], dtype=np.uint64)
    text = json.dumps(_canonical(bit_generator.state), sort_keys=True)
    key = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.array([key, 0], dtype=np.uint64)


def state_to_generator(state) -> np.random.Generator:
    """A NumPy ``Generator`` holding the ONNX state ``state`` (uint64 ``[key, counter]``).

    It is a valid generator (a NumPy ``Philox``), should a backend other than ONNX draw from
    it; :func:`generator_to_state` gives ``state`` back.
    """
    key, counter = (int(x) for x in np.asarray(state, dtype=np.uint64).reshape(STATE_SHAPE))
    bit_generator = np.random.Philox(key=np.array([key, STATE_MARKER], dtype=np.uint64))
    bit_generator.state = {
        "bit_generator": "Philox",
        "state": {
            "counter": np.array([counter, 0, 0, 0], dtype=np.uint64),
            "key": np.array([key, STATE_MARKER], dtype=np.uint64),
        },
        "buffer": np.zeros(4, dtype=np.uint64),
        "buffer_pos": 4,
        "has_uint32": 0,
        "uinteger": 0,
    }
    return np.random.Generator(bit_generator)


@onnx_typify.register(np.random.Generator)
def onnx_typify_Generator(data, dtype=None, name: str = "", **kwargs) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(generator_to_state(data), name=name)


def with_rng_states_as_tensors(inputs, outputs):
    """``(inputs, outputs, nodes)`` of a copy of the graph whose generators are state tensors.

    Every variable of random generator type becomes a variable of :func:`rng_state_type`
    with the same name; the nodes are rebuilt on them (without ``make_node``, which would
    refuse a tensor as generator). The result converts with ``fgraph_to_onnx`` as it is:
    generator inputs become uint64 ``(2,)`` model inputs, next states model outputs. A
    constant generator becomes a constant state.
    """
    from pytensor.graph.traversal import toposort

    memo = {}

    def convert(var):
        if var in memo:
            return memo[var]
        if is_rng_type(var.type):
            if isinstance(var, Constant):
                new = Constant(rng_state_type(), generator_to_state(var.data), name=var.name)
            else:
                new = rng_state_type()(name=var.name)
        else:
            new = var
        memo[var] = new
        return new

    new_inputs = [convert(var) for var in inputs]
    nodes = []
    for node in toposort(outputs, blockers=inputs):
        new_node_inputs = [convert(var) for var in node.inputs]
        if not any(is_rng_type(var.type) for var in (*node.inputs, *node.outputs)) and all(
            new is old for new, old in zip(new_node_inputs, node.inputs)
        ):
            nodes.append(node)
            continue
        new_node_outputs = [
            rng_state_type()(name=out.name) if is_rng_type(out.type) else out.type(name=out.name)
            for out in node.outputs
        ]
        new_node = Apply(node.op, new_node_inputs, new_node_outputs)
        memo.update(zip(node.outputs, new_node_outputs))
        nodes.append(new_node)
    return new_inputs, [convert(var) for var in outputs], nodes


# -- shapes --------------------------------------------------------------------------------
def _broadcast_shapes(builder, shapes: list[tuple[str, int]]) -> str:
    """The broadcast of int64 shape vectors ``(name, length)``: left-padded with 1s, the
    largest length of each axis, 0 where a shape has 0."""
    b = builder
    rank = max(length for _, length in shapes)
    padded = [
        b.add_node("Concat", [b.int64([1] * (rank - length)), name], axis=0)
        if length < rank
        else name
        for name, length in shapes
    ]
    if len(padded) == 1:
        return padded[0]
    largest = b.add_node("Max", padded)
    nonempty = b.add_node("Min", [b.add_node("Min", padded), b.int64(1)])
    return b.add_node("Mul", [largest, nonempty])


class Draw:
    """One random variable node being converted: its parameters, shape, uniforms, dtypes.

    ``shape`` is the batch shape of the draws (``size``, or the broadcast of the
    parameters' batch shapes): int64 vector. Parameters are in the compute dtype (float64,
    or float32 for float32 and float16 draws).
    """

    def __init__(self, op, node, builder, inputs):
        self.op, self.node, self.builder = op, node, builder
        self.out_dtype = node.outputs[1].type.dtype
        self.dtype = "float32" if self.out_dtype in ("float16", "float32") else "float64"
        self.em = Emitter(builder, self.dtype)
        params = op.dist_params(node)
        param_names = inputs[2:]
        self.core_ndims = list(op.ndims_params)
        self.params = [
            self.em.input(name, var.type.dtype) for name, var in zip(param_names, params)
        ]
        size = op.size_param(node)
        if inputs[1] is not None:
            self.shape = builder.cast(inputs[1], size.type.dtype, "int64")
        else:
            batch = []
            for value, var, core in zip(self.params, params, self.core_ndims):
                end = var.type.ndim - core
                shape = (
                    builder.add_node("Shape", [value.name], end=end)
                    if end
                    else builder.int64(np.zeros(0, np.int64))
                )
                batch.append((shape, end))
            self.shape = _broadcast_shapes(builder, batch)
        self.state = inputs[0]
        self._lane0 = None

    def stream(self, count: int, shape: str | None = None) -> RandomStream:
        self.random = RandomStream(
            self.builder, self.state, self.shape if shape is None else shape, count, self.dtype
        )
        return self.random

    def uniforms(self, lane: str | None = None) -> list[Value]:
        """The uniforms of ``lane`` (None: lane 0, emitted once and shared)."""
        if lane is None:
            if self._lane0 is None:
                self._lane0 = self.random.uniforms()
            names = self._lane0
        else:
            names = self.random.uniforms(lane)
        return [Value(self.em, name, self.dtype) for name in names]

    def core_length(self, param: int, axis: int = -1) -> str:
        """The length of a core axis of parameter ``param`` (an int64 ``(1,)`` vector)."""
        ndim = self.op.dist_params(self.node)[param].type.ndim
        axis %= ndim
        return self.builder.add_node("Shape", [self.params[param].name], start=axis, end=axis + 1)

    def finish(self, value: Value) -> str:
        """The draws in the output dtype: -1 for NaN (invalid parameters) in integer ones."""
        if np.dtype(self.out_dtype).kind in "iu":
            value = self.em.where(self.em.isnan(value), -1.0, value)
        return self.builder.cast(value.name, self.dtype, self.out_dtype)


# -- building blocks -------------------------------------------------------------------------
def standard_normal(u1: Value, u2: Value) -> Value:
    """Box-Muller: one standard normal from two uniforms in [0, 1)."""
    em = u1.em
    return em.sqrt(em.log(1.0 - u1) * -2.0) * em.cos(u2 * (2 * np.pi))


def rejection_loop(draw: Draw, value: Value, done: Value, propose, hint: str) -> Value:
    """Redraw ``value`` where not ``done`` until all are: ``propose(uniforms)`` gives
    ``(value, accepted)`` from the uniforms of one lane (lane r in round r)."""
    em = draw.em

    def step(iteration, stopped, names):
        lane = draw.builder.add_node("Add", [iteration, draw.builder.int64(1)])
        proposal, accepted = propose(draw.uniforms(lane))
        stopped = Value(em, stopped, "bool")
        (current,) = (Value(em, name, draw.dtype) for name in names)
        new = em.where(stopped, current, proposal)
        return (stopped | accepted).name, [new.name]

    _, (final,) = emit_loop(
        draw.builder,
        draw.builder.int64(MAX_REJECTION_ROUNDS),
        done.name,
        [(value.name, draw.dtype)],
        step,
        hint=hint,
    )
    return Value(em, final, draw.dtype)


def log_gamma_variates(draw: Draw, alpha: Value, first: int = 0) -> Value:
    """log of standard gamma variates of shape ``alpha`` (Marsaglia-Tsang, in log space).

    Takes uniforms ``first .. first + 3`` of each lane. NaN for alpha < 0 or NaN; -inf
    for alpha = 0 (NumPy's gamma(0) is 0).
    """
    em = draw.em
    boosted = alpha < 1.0
    shape = alpha + em.indicator(boosted)
    d = shape - 1.0 / 3.0
    c = 1.0 / em.sqrt(d * 9.0)

    def propose(u):
        x = standard_normal(u[first], u[first + 1])
        t = x * c + 1.0
        v = t * t * t
        accepted = (v > 0.0) & (
            em.log(1.0 - u[first + 2]) < x * x * 0.5 + d - d * v + d * em.log(v)
        )
        return d * v, accepted

    u = draw.uniforms()
    value, accepted = propose(u)
    invalid = ~(alpha >= 0.0)
    infinite = em.node("IsInf", alpha)
    value = rejection_loop(draw, value, accepted | invalid | infinite, propose, "gamma")
    log_value = em.log(value)
    boost = em.log(1.0 - u[first + 3]) / alpha
    log_value = em.where(boosted, log_value + boost, log_value)
    return em.where(invalid, np.nan, log_value)


def gamma_variates(draw: Draw, alpha: Value, first: int = 0) -> Value:
    return draw.em.exp(log_gamma_variates(draw, alpha, first))


def sequential_search(draw: Draw, u: Value, start: Value, ratio, skip: Value, limit) -> Value:
    """Inversion by sequential search: the least k with ``u < F(k)``, where ``F(0) = start``
    and the probabilities follow ``p(k + 1) = p(k) ratio(k)``; stops at ``limit`` (a value or
    None) and where ``skip``. Runs as one ONNX Loop over all values."""
    em = draw.em
    zero = em.full_like(u, 0.0)
    prob = start + zero
    stopped = skip | (u < prob) | (prob.eq(0.0))
    if limit is not None:
        stopped = stopped | (zero >= limit)

    def step(iteration, stopped_name, names):
        stopped = Value(em, stopped_name, "bool")
        k, p, total = (Value(em, name, draw.dtype) for name in names)
        p_next = p * ratio(k)
        k_next, total_next = k + 1.0, total + p_next
        # The probabilities only decrease past the mode, where they underflow to 0: u is
        # then above the total of the representable ones (rounding), and k is final.
        done = (u < total_next) | p_next.eq(0.0)
        if limit is not None:
            done = done | (k_next >= limit)
        keep = [em.where(stopped, old, new) for old, new in ((k, k_next), (p, p_next))]
        keep.append(em.where(stopped, total, total_next))
        return (stopped | done).name, [v.name for v in keep]

    _, (k, _, _) = emit_loop(
        draw.builder,
        draw.builder.int64(np.iinfo(np.int32).max),
        stopped.name,
        [(zero.name, draw.dtype), (prob.name, draw.dtype), (prob.name, draw.dtype)],
        step,
        hint="inversion",
    )
    return Value(em, k, draw.dtype)


# -- samplers --------------------------------------------------------------------------------
# Each sampler is ``(uniforms per value, fn(draw, *params) -> Value)``; those that need
# another stream shape (core dims) make it themselves and have None.
SAMPLERS: dict[type, tuple] = {}
# Samplers of random variables defined outside PyTensor (PyMC's), by (module, class name):
# PyMC is optional, so its classes are not imported here.
SAMPLERS_BY_NAME: dict[tuple[str, str], tuple] = {}


def sampler(rv_class, uniforms_per_value):
    def register(fn):
        if isinstance(rv_class, tuple):
            SAMPLERS_BY_NAME[rv_class] = (uniforms_per_value, fn)
        else:
            SAMPLERS[rv_class] = (uniforms_per_value, fn)
        return fn

    return register


def _sampler_of(op):
    cls = type(op)
    return SAMPLERS.get(cls) or SAMPLERS_BY_NAME.get((cls.__module__, cls.__name__))


@sampler(rb.UniformRV, 1)
def sample_uniform(draw, low, high):
    (u,) = draw.uniforms()
    return low + (high - low) * u


@sampler(rb.NormalRV, 2)
def sample_normal(draw, loc, scale):
    return loc + scale * standard_normal(*draw.uniforms())


@sampler(rb.HalfNormalRV, 2)
def sample_halfnormal(draw, loc, scale):
    return loc + scale * draw.em.abs(standard_normal(*draw.uniforms()))


@sampler(rb.LogNormalRV, 2)
def sample_lognormal(draw, mean, sigma):
    return draw.em.exp(mean + sigma * standard_normal(*draw.uniforms()))


@sampler(rb.ExponentialRV, 1)
def sample_exponential(draw, scale):
    (u,) = draw.uniforms()
    return scale * -draw.em.log(1.0 - u)


@sampler(rb.CauchyRV, 1)
def sample_cauchy(draw, loc, scale):
    (u,) = draw.uniforms()
    angle = (u - 0.5) * np.pi
    return loc + scale * draw.em.sin(angle) / draw.em.cos(angle)


@sampler(rb.BernoulliRV, 1)
def sample_bernoulli(draw, p):
    em = draw.em
    (u,) = draw.uniforms()
    value = em.indicator(u < p)
    return em.where((p >= 0.0) & (p <= 1.0), value, np.nan)


@sampler(rb.GammaRV, 4)
def sample_gamma(draw, shape, scale):
    return gamma_variates(draw, shape) * scale


@sampler(rb.StudentTRV, 6)
def sample_student_t(draw, df, loc, scale):
    em = draw.em
    chi2 = gamma_variates(draw, df * 0.5) * 2.0
    z = standard_normal(*draw.uniforms()[4:6])
    return loc + scale * z * em.sqrt(df / chi2)


@sampler(rb.BetaRV, None)
def sample_beta(draw, alpha, beta):
    b = draw.builder
    stacked = b.add_node(
        "Concat",
        [unsqueeze(b, b.add_node("Expand", [p.name, draw.shape]), [0]) for p in (alpha, beta)],
        axis=0,
    )
    draw.stream(4, b.add_node("Concat", [b.int64([2]), draw.shape], axis=0))
    logs = log_gamma_variates(draw, Value(draw.em, stacked, draw.dtype))
    log_x, log_y = (
        Value(draw.em, b.add_node("Gather", [logs.name, b.int64(i)], axis=0), draw.dtype)
        for i in (0, 1)
    )
    return 1.0 / (draw.em.exp(log_y - log_x) + 1.0)


@sampler(rb.DirichletRV, None)
def sample_dirichlet(draw, alphas):
    b, em = draw.builder, draw.em
    full = b.add_node("Concat", [draw.shape, draw.core_length(0)], axis=0)
    draw.stream(4, full)
    logs = log_gamma_variates(draw, alphas + Value(em, _zeros(b, full, em.dtype), em.dtype))
    largest = Value(em, b.add_node("ReduceMax", [logs.name, b.int64([-1])], keepdims=1), em.dtype)
    scaled = em.exp(logs - largest)
    total = Value(em, b.add_node("ReduceSum", [scaled.name, b.int64([-1])], keepdims=1), em.dtype)
    return scaled / total


def _zeros(builder, shape: str, dtype: str) -> str:
    zero = helper.make_tensor("zero", onnx_dtype(dtype), [1], [0])
    return builder.add_node("ConstantOfShape", [shape], value=zero)


@sampler(rb.CategoricalRV, 1)
def sample_categorical(draw, p):
    b, em = draw.builder, draw.em
    (u,) = draw.uniforms()
    cdf = Value(em, b.add_node("CumSum", [p.name, b.int64(-1)]), em.dtype)
    total = Value(em, b.add_node("Gather", [cdf.name, b.int64(-1)], axis=-1), em.dtype)
    target = Value(em, unsqueeze(b, (u * total).name, [-1]), em.dtype)
    below = b.cast((cdf <= target).name, "bool", "int64")
    count = b.add_node("ReduceSum", [below, b.int64([-1])], keepdims=0)
    last = b.add_node("Sub", [draw.core_length(0), b.int64(1)])
    index = b.add_node("Min", [count, b.add_node("Squeeze", [last])])
    return Value(em, b.cast(index, "int64", em.dtype), em.dtype)


@sampler(rb.MvNormalRV, None)
def sample_mvnormal(draw, mean, cov):
    from pytensor_onnx.dispatch.slinalg import MatrixIndex, cholesky_lower, static_size

    b, em = draw.builder, draw.em
    full = b.add_node("Concat", [draw.shape, draw.core_length(0)], axis=0)
    draw.stream(2, full)
    z = standard_normal(*draw.uniforms())
    cov_var = draw.op.dist_params(draw.node)[1]
    factor = cholesky_lower(b, cov.name, em.dtype, MatrixIndex(b, cov.name, static_size(cov_var)))
    product = b.add_node("MatMul", [factor, unsqueeze(b, z.name, [-1])])
    return mean + Value(em, b.add_node("Squeeze", [product, b.int64([-1])]), em.dtype)


@sampler(rb.PoissonRV, 2)
def sample_poisson(draw, lam):
    em = draw.em
    small = lam < 10.0
    invalid = ~(lam >= 0.0)
    u = draw.uniforms()
    by_inversion = sequential_search(
        draw, u[0], em.exp(-lam), lambda k: lam / (k + 1.0), ~small | invalid, None
    )

    # PTRS, as NumPy's random_poisson_ptrs.
    safe = em.where(small | invalid, 10.0, lam)
    log_lam = em.log(safe)
    b_ = em.sqrt(safe) * 2.53 + 0.931
    a = b_ * 0.02483 - 0.059
    log_inv_alpha = em.log(1.1239 + 1.1328 / (b_ - 3.4))
    v_r = 0.9277 - 3.6224 / (b_ - 2.0)

    def propose(u):
        centred, v = u[0] - 0.5, u[1]
        us = 0.5 - em.abs(centred)
        k = em.floor((a * 2.0 / us + b_) * centred + safe + 0.43)
        quick = (us >= 0.07) & (v <= v_r)
        rejected = (k < 0.0) | ((us < 0.013) & (v > us))
        bound = em.log(v) + log_inv_alpha - em.log(a / (us * us) + b_)
        exact = bound <= k * log_lam - safe - lgamma(em.where(k < 0.0, 1.0, k + 1.0))
        return k, quick | (~rejected & exact)

    first, accepted = propose(u)
    by_ptrs = rejection_loop(draw, first, accepted | small | invalid, propose, "ptrs")
    value = em.where(small, by_inversion, by_ptrs)
    return em.where(invalid, np.nan, value)


@sampler(rb.BinomialRV, 2)
def sample_binomial(draw, n, p):
    em = draw.em
    flipped = p > 0.5
    q_small = em.where(flipped, 1.0 - p, p)
    invalid = ~((p >= 0.0) & (p <= 1.0) & (n >= 0.0))
    small = n * q_small < 10.0
    u = draw.uniforms()
    q = 1.0 - q_small
    odds = q_small / q
    by_inversion = sequential_search(
        draw,
        u[0],
        em.node("Pow", q, n),
        lambda k: odds * (n - k) / (k + 1.0),
        ~small | invalid,
        n,
    )

    # BTRS (Hoermann 1993, as TensorFlow's binomial sampler), on parameters made safe
    # where it is not used.
    sn = em.where(small | invalid, 100.0, n)
    sp = em.where(small | invalid, 0.5, q_small)
    sq = 1.0 - sp
    spq = em.sqrt(sn * sp * sq)
    b_ = spq * 2.53 + 1.15
    a = b_ * 0.0248 + sp * 0.01 - 0.0873
    c = sn * sp + 0.5
    v_r = 0.92 - 4.2 / b_
    alpha = (5.1 / b_ + 2.83) * spq
    m = em.floor((sn + 1.0) * sp)
    log_odds = em.log(sp / sq)
    h = lgamma(m + 1.0) + lgamma(sn - m + 1.0)

    def propose(u):
        centred, v = u[0] - 0.5, u[1]
        us = 0.5 - em.abs(centred)
        k = em.floor((a * 2.0 / us + b_) * centred + c)
        quick = (us >= 0.07) & (v <= v_r)
        inside = (k >= 0.0) & (k <= sn)
        kk = em.where(inside, k, 0.0)
        bound = em.log(v * alpha / (a / (us * us) + b_))
        exact = bound <= h - lgamma(kk + 1.0) - lgamma(sn - kk + 1.0) + (kk - m) * log_odds
        return k, quick | (inside & exact)

    first, accepted = propose(u)
    by_btrs = rejection_loop(draw, first, accepted | small | invalid, propose, "btrs")
    k = em.where(small, by_inversion, by_btrs)
    k = em.where(flipped, n - k, k)
    return em.where(invalid, np.nan, k)


@sampler(("pymc.distributions.continuous", "TruncatedNormalRV"), 1)
def sample_truncated_normal(draw, mu, sigma, lower, upper):
    """PyMC's TruncatedNormal by inversion, on the tail side of the interval: with
    2 Q(t) = erfc(t / sqrt 2) for an interval above 0 (by symmetry below), so that far
    tails keep relative accuracy, and 2 Phi(t) = erfc(-t / sqrt 2) around 0."""
    em = draw.em
    (u,) = draw.uniforms()
    # Strictly inside (0, 1): erfcinv stays finite at both ends of the interval.
    v = u + 2.0 ** -(54 if draw.dtype == "float64" else 25)
    alpha, beta = (lower - mu) / sigma, (upper - mu) / sigma
    below = beta < 0.0  # mirrored: the interval then lies above 0 too
    a, b = em.where(below, -beta, alpha), em.where(below, -alpha, beta)
    tail_a, tail_b = erfc(a * _INV_SQRT2), erfc(b * _INV_SQRT2)
    in_tail = _SQRT2 * erfcinv(tail_b + v * (tail_a - tail_b))
    cdf_a, cdf_b = erfc(-a * _INV_SQRT2), erfc(-b * _INV_SQRT2)
    central = -_SQRT2 * erfcinv(cdf_a + v * (cdf_b - cdf_a))
    z = em.where(a > 0.0, in_tail, central)
    x = mu + sigma * em.where(below, -z, z)
    x = em.node("Max", em.node("Min", x, upper), lower)  # (rounding at the bounds)
    invalid = ~(sigma > 0.0) | ~(lower < upper)
    return em.where(invalid, np.nan, x)


_SQRT2 = float(np.sqrt(2.0))
_INV_SQRT2 = float(1 / np.sqrt(2.0))
SUPPORTED = sorted([cls.__name__ for cls in SAMPLERS] + [name for _, name in SAMPLERS_BY_NAME])


@onnx_funcify.register(RandomVariable)
def onnx_funcify_RandomVariable(op, node, builder, inputs, **kwargs):
    entry = _sampler_of(op)
    if entry is None:
        raise NotImplementedError(
            f"random variable {op.name!r} ({type(op).__name__}) has no ONNX sampler; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    count, fn = entry
    draw = Draw(op, node, builder, inputs)
    if count is not None:
        draw.stream(count)
    value = fn(draw, *draw.params)
    return [draw.random.next_state, draw.finish(value)]


@onnx_funcify.register(RandomVariableWithCoreShape)
def onnx_funcify_RandomVariableWithCoreShape(op, node, builder, inputs, **kwargs):
    # The inner graph is one RandomVariable node on inputs (rng, size, *params); the
    # explicit core shape (first input) is implied by the parameters.
    [rv_node] = op.fgraph.apply_nodes
    outer = dict(zip(op.fgraph.inputs, inputs))
    return onnx_funcify(
        rv_node.op, node=rv_node, builder=builder, inputs=[outer[v] for v in rv_node.inputs]
    )
