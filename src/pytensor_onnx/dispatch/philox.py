"""A counter-based random generator (Philox4x32-10) built from ONNX integer ops.

ONNX's ``RandomUniform``/``RandomNormal`` give different numbers per run and per runtime.
Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) is a pure
function of a 64-bit key and a 128-bit counter, so a draw is reproducible from the generator
state in every runtime. Its rounds need only the full 64-bit product of two 32-bit words, an
xor, a shift and a mask: onnxruntime has ``Mul``, ``BitShift``, ``BitwiseXor`` and
``BitwiseAnd`` kernels for uint64 (probed with onnxruntime 1.32), so every 32-bit word is
held in a uint64 and products are exact. The rounds are unrolled (about 70 nodes).

Generator state: a uint64 tensor of shape ``(2,)``, ``[key, counter]``. A draw of ``n``
values taking ``k`` uniforms each uses the Philox blocks ``counter, counter + 1, ...,
counter + B - 1`` (``B`` = enough 4-word blocks for ``n * k`` uniforms) and returns the
state ``[key, counter + B]``. The 128-bit Philox counter of block ``i`` is
``(lo32(counter + i), hi32(counter + i), lane, 0)``: lane 0 holds a draw's first ``k``
uniforms per value, and rejection samplers take the proposals of their round ``r`` from
lane ``r``. Lanes belong to the blocks of their draw, so the state advances by ``B`` however
many rounds a rejection sampler needed: the next state depends on the number of values
only, never on the values drawn.

Uniforms: float64 from 53 random bits (two words), float32 from 24 bits (one word), both
``k * 2**-bits`` in ``[0, 1)``, as NumPy makes them.
"""

from __future__ import annotations

import numpy as np

from pytensor_onnx.dispatch.shape import unsqueeze

PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)
PHILOX_ROUNDS = 10
_MASK32 = 0xFFFFFFFF
# The state tensor: uint64 [key, counter].
STATE_DTYPE = "uint64"
STATE_SHAPE = (2,)


def philox4x32_reference(key: tuple[int, int], counters: np.ndarray) -> np.ndarray:
    """Philox4x32-10 in NumPy: ``counters`` ``(n, 4)`` words -> ``(n, 4)`` output words.

    The specification the ONNX lowering is tested against (itself checked against the
    Random123 known-answer vectors).
    """
    ctr = np.asarray(counters, dtype=np.uint64).T.copy()
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    mask = np.uint64(_MASK32)
    for r in range(PHILOX_ROUNDS):
        p0 = np.uint64(PHILOX_M[0]) * ctr[0]
        p1 = np.uint64(PHILOX_M[1]) * ctr[2]
        ctr = np.stack(
            [
                (p1 >> np.uint64(32)) ^ ctr[1] ^ k0,
                p1 & mask,
                (p0 >> np.uint64(32)) ^ ctr[3] ^ k1,
                p0 & mask,
            ]
        )
        if r < PHILOX_ROUNDS - 1:
            k0 = (k0 + np.uint64(PHILOX_W[0])) & mask
            k1 = (k1 + np.uint64(PHILOX_W[1])) & mask
    return np.ascontiguousarray(ctr.T, dtype=np.uint32)


def _u64(builder, value) -> str:
    return builder.constant(np.asarray(value, dtype=np.uint64))


def _reshape(builder, x: str, dims) -> str:
    return builder.add_node("Reshape", [x, builder.int64(dims)])


def emit_philox(builder, key_pair: str, even: str, odd: str) -> str:
    """Philox4x32-10 rounds on ``(2, B)`` uint64 words; returns the ``(4, B)`` output words.

    ``key_pair`` is the ``(2, 1)`` key ``(k0, k1)``; ``even`` the counter words
    ``(c0, c2)``, ``odd`` ``(c1, c3)`` of B blocks. Rows of the result are the output words
    c0..c3. A round multiplies both even words at once; reversing the products' rows lines
    their high halves up with the odd words they are xored with.
    """
    b = builder
    multipliers = _u64(b, np.array(PHILOX_M).reshape(2, 1))
    mask = _u64(b, _MASK32)
    shift = _u64(b, 32)
    reverse = dict(starts=b.int64([-1]), ends=b.int64([np.iinfo(np.int64).min]))
    rounds_key = key_pair
    for r in range(PHILOX_ROUNDS):
        if r > 0:
            bumped = b.add_node("Add", [key_pair, _u64(b, np.array(PHILOX_W).reshape(2, 1) * r)])
            rounds_key = b.add_node("BitwiseAnd", [bumped, mask])
        products = b.add_node("Mul", [even, multipliers])
        swapped = b.add_node(
            "Slice",
            [products, reverse["starts"], reverse["ends"], b.int64([0]), b.int64([-1])],
        )
        high = b.add_node("BitShift", [swapped, shift], direction="RIGHT")
        even, odd = (
            b.add_node("BitwiseXor", [high, b.add_node("BitwiseXor", [odd, rounds_key])]),
            b.add_node("BitwiseAnd", [swapped, mask]),
        )
    words = b.add_node("Concat", [even, odd], axis=0)  # rows c0, c2, c1, c3
    return b.add_node("Gather", [words, b.int64([0, 2, 1, 3])], axis=0)


class RandomStream:
    """The uniforms of one random-variable draw: ``count`` per element of ``shape``.

    ``state`` is the ONNX name of the uint64 ``[key, counter]`` state, ``shape`` an int64
    vector (the shape of the values drawn), ``dtype`` the float dtype of the uniforms.
    :attr:`next_state` is the state after the draw; :meth:`uniforms` the uniforms of a lane.
    """

    def __init__(self, builder, state: str, shape: str, count: int, dtype: str):
        b = self.builder = builder
        self.shape, self.count, self.dtype = shape, count, dtype
        self.bits = 53 if dtype == "float64" else 24
        words_per_uniform = 2 if dtype == "float64" else 1
        key = b.add_node("Slice", [state, b.int64([0]), b.int64([1])])  # (1,)
        counter = b.add_node("Slice", [state, b.int64([1]), b.int64([2])])
        # (k0, k1) = (lo32, hi32) of the key, as a (2, 1) column.
        halves = b.add_node(
            "BitShift",
            [_reshape(b, key, [1, 1]), _u64(b, [[0], [32]])],
            direction="RIGHT",
        )
        self.key_pair = b.add_node("BitwiseAnd", [halves, _u64(b, _MASK32)])
        self.size = b.add_node("ReduceProd", [shape], keepdims=0)
        self.n_words = b.add_node("Mul", [self.size, b.int64(count * words_per_uniform)])
        n_blocks = b.add_node("Div", [b.add_node("Add", [self.n_words, b.int64(3)]), b.int64(4)])
        index = b.add_node("Range", [b.int64(0), n_blocks, b.int64(1)])
        blocks = b.add_node("Add", [b.cast(index, "int64", "uint64"), counter])
        self.low = unsqueeze(b, b.add_node("BitwiseAnd", [blocks, _u64(b, _MASK32)]), [0])
        high = b.add_node("BitShift", [blocks, _u64(b, 32)], direction="RIGHT")
        self.block_shape = b.add_node("Shape", [self.low])  # (1, B)
        zeros = b.add_node("Expand", [_u64(b, 0), self.block_shape])
        self.odd = b.add_node("Concat", [unsqueeze(b, high, [0]), zeros], axis=0)
        self.zero_lane = zeros
        advanced = b.add_node(
            "Add", [counter, b.cast(_reshape(b, n_blocks, [1]), "int64", "uint64")]
        )
        self.next_state = b.add_node("Concat", [key, advanced], axis=0, hint="next_rng_state")

    def words(self, lane: str | None = None) -> str:
        """The ``(4, B)`` Philox output words of ``lane`` (an int64 scalar; None: lane 0)."""
        b = self.builder
        if lane is None:
            lane_row = self.zero_lane
        else:
            lane_row = b.add_node("Expand", [b.cast(lane, "int64", "uint64"), self.block_shape])
        even = b.add_node("Concat", [self.low, lane_row], axis=0)
        return emit_philox(b, self.key_pair, even, self.odd)

    def uniforms(self, lane: str | None = None) -> list[str]:
        """``count`` tensors of ``shape`` of uniforms in ``[0, 1)``, from ``lane``."""
        b = self.builder
        flat = _reshape(b, self.words(lane), [-1])
        used = b.add_node("Slice", [flat, b.int64([0]), _reshape(b, self.n_words, [1])])
        if self.dtype == "float64":
            # 53 bits: the top 21 bits of one word, then the top 32 of another.
            halves = b.add_node("Reshape", [used, b.int64([2, -1])])
            high = b.add_node("Gather", [halves, b.int64(0)], axis=0)
            low = b.add_node("Gather", [halves, b.int64(1)], axis=0)
            bits = b.add_node(
                "BitwiseOr",
                [
                    b.add_node("BitShift", [high, _u64(b, 21)], direction="LEFT"),
                    b.add_node("BitShift", [low, _u64(b, 11)], direction="RIGHT"),
                ],
            )
        else:
            bits = b.add_node("BitShift", [used, _u64(b, 8)], direction="RIGHT")
        scaled = b.add_node(
            "Mul",
            [
                b.cast(bits, "uint64", self.dtype),
                b.constant(np.asarray(2.0**-self.bits, self.dtype)),
            ],
        )
        shaped = b.add_node(
            "Reshape",
            [scaled, b.add_node("Concat", [b.int64([self.count]), self.shape], axis=0)],
            allowzero=1,  # a 0 in the shape is an empty axis, not a copied one
        )
        return [b.add_node("Gather", [shaped, b.int64(i)], axis=0) for i in range(self.count)]
