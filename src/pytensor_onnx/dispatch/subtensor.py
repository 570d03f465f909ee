"""Indexing: Subtensor, AdvancedSubtensor(1), IncSubtensor and friends.

Every indexing op is first parsed into a list of per-axis entries (:func:`index_entries`),
whatever the PyTensor line stores in ``op.idx_list`` and ``node.inputs``; the converters
only see those entries:

* reading (``x[...]``): ``Slice`` for the slices and ``Gather`` for the integer indices
  whenever NumPy's result is "one Gather per index" (basic indexing, or a single block of
  advanced indices); ``GatherElements`` for 1-D ``x[vector]`` (about 10x faster than
  ``Gather`` in onnxruntime); ``Compress`` for a 1-D boolean mask; otherwise one
  ``GatherND`` on the coordinates of the indexed region (:class:`_Region`).
* writing (``set_subtensor``/``inc_subtensor``): a scatter at the coordinates of the same
  region. Where no index can repeat, ``ScatterND``. Where indices may repeat, ``ScatterND``
  is unusable: with several threads onnxruntime runs it in parallel and loses updates of
  repeated rows (measured: wrong sums with ``reduction="add"``, and a random winner with
  ``"none"``). So increments go through ``ScatterElements(reduction="add")``, which runs
  sequentially and adds every repeat as ``np.add.at`` does, and assignments first give
  every repeat the value of the last one (NumPy's "last write wins"), which makes their
  order irrelevant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import numpy_helper
from pytensor.graph.basic import Constant
from pytensor.tensor.subtensor import (
    AdvancedIncSubtensor,
    AdvancedIncSubtensor1,
    AdvancedSubtensor,
    AdvancedSubtensor1,
    IncSubtensor,
    Subtensor,
    indices_from_subtensor,
)
from pytensor.tensor.type_other import MakeSlice, NoneTypeT, SliceType

from pytensor_onnx.dispatch.basic import onnx_funcify
from pytensor_onnx.dispatch.shape import reshape, squeeze, unsqueeze

INT64_MAX = int(np.iinfo(np.int64).max)
INT64_MIN = int(np.iinfo(np.int64).min)

# Index dtypes that onnxruntime's Gather/Scatter kernels take as they are.
_NATIVE_INDEX_DTYPES = frozenset({"int32", "int64"})


# -- parsing ---------------------------------------------------------------------------
@dataclass
class _Array:
    """An advanced index (integer array of any rank, 0-d included, or boolean mask), or
    an integer of basic indexing (a 0-d array: NumPy drops the dim either way)."""

    name: str
    dtype: str
    ndim: int
    var: object

    @property
    def is_mask(self) -> bool:
        return self.dtype == "bool"

    @property
    def axes(self) -> int:
        """How many axes of ``x`` the index consumes."""
        return self.ndim if self.is_mask else 1

    @property
    def block_ndim(self) -> int:
        """Its rank in the broadcast of the advanced indices (a mask gives one vector per
        axis it covers)."""
        return 1 if self.is_mask else self.ndim


class _NewAxis:
    pass


def _is_none(var) -> bool:
    return var is None or isinstance(getattr(var, "type", None), NoneTypeT)


def _bound(builder, var):
    """A slice bound or step: None, a Python int (constant), or a 0-d int64 ONNX value."""
    if _is_none(var):
        return None
    if isinstance(var, int | np.integer):
        return int(var)
    if isinstance(var, Constant):
        return int(np.asarray(var.data))
    return builder.cast(builder.value(var), var.type.dtype, "int64")


def _slice_entry(builder, var):
    """A PyTensor 2.38 ``SliceType`` input (a constant slice or a ``MakeSlice``)."""
    if isinstance(var, Constant):
        parts = (var.data.start, var.data.stop, var.data.step)
    elif var.owner is not None and isinstance(var.owner.op, MakeSlice):
        parts = var.owner.inputs
    else:
        raise NotImplementedError(
            f"Indexing with a symbolic slice input ({var}) cannot be converted to ONNX: "
            "its bounds are unknown"
        )
    return slice(*(_bound(builder, p) for p in parts))


def index_entries(op, builder, index_vars) -> list:
    """The index of an indexing node as a list of ``slice`` (bounds as in :func:`_bound`),
    :class:`_Array` and :class:`_NewAxis` entries, one per indexed axis of ``x``.

    PyTensor 3.0 keeps the structure in ``op.idx_list`` (integer positions into the index
    inputs); 2.38 keeps Types in ``idx_list`` for basic indexing, and for advanced indexing
    has no ``idx_list`` but passes slices and ``None`` as inputs (``MakeSlice``,
    ``NoneConst``). ``indices_from_subtensor`` rebuilds the index from either.
    """
    idx_list = getattr(op, "idx_list", None)
    structure = indices_from_subtensor(index_vars, idx_list) if idx_list else index_vars
    entries = []
    for item in structure:
        if isinstance(item, slice):
            entries.append(slice(*(_bound(builder, p) for p in (item.start, item.stop, item.step))))
        elif _is_none(item):
            entries.append(_NewAxis())
        elif isinstance(item.type, SliceType):
            entries.append(_slice_entry(builder, item))
        else:
            entries.append(
                _Array(builder.value(item), item.type.dtype, getattr(item.type, "ndim", 0), item)
            )
    return entries


def _is_full(entry) -> bool:
    """A slice that selects a whole axis, whatever its length."""
    if not isinstance(entry, slice):
        return False
    start, stop, step = entry.start, entry.stop, entry.step
    return (
        (step is None or step == 1)
        and (start is None or start == 0)
        and (stop is None or (isinstance(stop, int) and stop >= INT64_MAX))
    )


# -- small emit helpers ----------------------------------------------------------------
def _const(builder, value):
    return builder.constant(np.asarray(value, dtype="int64"))


def _vector(builder, parts) -> str:
    """A 1-D int64 tensor from Python ints, 0-d int64 values and ("1-D", name) pieces."""
    pieces, run = [], []
    for part in parts:
        if isinstance(part, int):
            run.append(part)
            continue
        if run:
            pieces.append(_const(builder, run))
            run = []
        if isinstance(part, tuple):  # already 1-D
            pieces.append(part[1])
        else:
            pieces.append(builder.add_node("Reshape", [part, _const(builder, [1])]))
    if run or not pieces:
        pieces.append(_const(builder, run))
    return pieces[0] if len(pieces) == 1 else builder.add_node("Concat", pieces, axis=0)


def _mul(builder, a, b):
    """Product of two sizes, each a Python int or a 0-d int64 value."""
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    return builder.add_node("Mul", [_scalar(builder, a), _scalar(builder, b)])


def _scalar(builder, value) -> str:
    return _const(builder, value) if isinstance(value, int) else value


def _dim(builder, x, static_shape, axis: int):
    """Length of ``x`` along ``axis``: an int if static, else a 0-d int64 value."""
    if static_shape[axis] is not None:
        return int(static_shape[axis])
    return builder.add_node(
        "Gather", [builder.add_node("Shape", [x]), _const(builder, axis)], axis=0
    )


def _index_operand(builder, entry: _Array) -> str:
    """An integer index in a dtype Gather/Scatter take; wider, so that no value changes
    (uint32 and uint64 as int64: an index above 2**63 is out of bounds either way)."""
    if entry.dtype in _NATIVE_INDEX_DTYPES:
        return entry.name
    return builder.cast(entry.name, entry.dtype, "int64")


def _expand_new_axes(builder, x, static_shape, entries):
    """Make each ``None`` of the index a length-1 axis of ``x`` indexed by a full slice.

    NumPy treats the two alike, also in deciding whether advanced indices are adjacent.
    Returns the new ``x``, its static shape, the entries and the inserted axes.
    """
    new_axes, shape, axis, source = [], [], 0, iter(static_shape)
    for entry in entries:
        if isinstance(entry, _NewAxis):
            new_axes.append(axis)
            shape.append(1)
            axis += 1
        else:
            width = entry.axes if isinstance(entry, _Array) else 1
            shape.extend(next(source) for _ in range(width))
            axis += width
    shape.extend(source)
    entries = [slice(None) if isinstance(e, _NewAxis) else e for e in entries]
    return unsqueeze(builder, x, new_axes), tuple(shape), entries, new_axes


# -- slices ----------------------------------------------------------------------------
def emit_slice(builder, x, static_shape, slices) -> str:
    """``x`` sliced like NumPy by ``slices``: a list of ``(axis, slice)`` with bounds as
    in :func:`_bound`. Full slices emit nothing."""
    starts, ends, steps, axes = [], [], [], []
    for axis, entry in slices:
        if _is_full(entry):
            continue
        start, stop, step = _slice_bounds(builder, x, static_shape, axis, entry)
        starts.append(start)
        ends.append(stop)
        steps.append(step)
        axes.append(axis)
    if not axes:
        return x
    inputs = [_vector(builder, starts), _vector(builder, ends), _const(builder, axes)]
    if any(step != 1 for step in steps):
        inputs.append(_vector(builder, steps))
    return builder.add_node("Slice", [x, *inputs])


def _slice_bounds(builder, x, static_shape, axis, entry):
    start, stop, step = entry.start, entry.stop, entry.step
    if step is None:
        step = 1
    # ONNX clamps a start below -n to 0 where Python, stepping backwards, clamps it to -1
    # (nothing selected): x[-5::-1] is [] for len(x) == 3, but Slice returns [x[0]].
    # There, an end at the clamped start (0) selects nothing, as Python does.
    fix_start = _may_start_before_first(start, step, static_shape[axis])
    if isinstance(step, int):
        if step == 0:
            raise ValueError("slice step cannot be zero")
        if start is None:
            start = 0 if step > 0 else INT64_MAX
        if stop is None:
            stop = INT64_MAX if step > 0 else INT64_MIN
        negative = None
    else:
        negative = builder.add_node("Less", [step, _const(builder, 0)])
        if start is None:
            start = builder.add_node(
                "Where", [negative, _const(builder, INT64_MAX), _const(builder, 0)]
            )
        if stop is None:
            stop = builder.add_node(
                "Where", [negative, _const(builder, INT64_MIN), _const(builder, INT64_MAX)]
            )
    if fix_start:
        minus_n = _dim(builder, x, static_shape, axis)
        minus_n = -minus_n if isinstance(minus_n, int) else builder.add_node("Neg", [minus_n])
        before = builder.add_node("Less", [_scalar(builder, start), _scalar(builder, minus_n)])
        if negative is not None:
            before = builder.add_node("And", [before, negative])
        stop = builder.add_node("Where", [before, _const(builder, 0), _scalar(builder, stop)])
    return start, stop, step


def _may_start_before_first(start, step, length) -> bool:
    """Whether a backward slice may start below -n (``step`` may be negative)."""
    if start is None or (isinstance(step, int) and step > 0):
        return False
    if isinstance(start, int):
        return start < 0 and (length is None or start < -length)
    return True


# -- reading ---------------------------------------------------------------------------
def _advanced_positions(entries) -> list[int]:
    return [i for i, e in enumerate(entries) if isinstance(e, _Array)]


def _adjacent(positions) -> bool:
    return all(b == a + 1 for a, b in zip(positions, positions[1:]))


def _gathers_suffice(entries) -> bool:
    """Whether NumPy's result is that of one Gather (or Compress) per index, from the last
    axis to the first: when at most one advanced index has dims (the others are 0-d and
    drop theirs) and it is adjacent to the 0-d ones, or it is alone (NumPy moves the dims
    of non-adjacent advanced indices to the front)."""
    positions = _advanced_positions(entries)
    with_dims = [i for i in positions if entries[i].block_ndim > 0]
    if len(with_dims) > 1:
        return False
    if any(entries[i].is_mask and entries[i].ndim != 1 for i in with_dims):
        return False
    return not with_dims or _adjacent(positions)


def _emit_gathers(builder, x, static_shape, entries) -> str:
    axes_of = _entry_axes(entries)
    x = emit_slice(
        builder,
        x,
        static_shape,
        [(axes_of[i], e) for i, e in enumerate(entries) if isinstance(e, slice)],
    )
    rank = len(static_shape)
    for i in reversed(_advanced_positions(entries)):
        entry, axis = entries[i], axes_of[i]
        if entry.is_mask:
            x = builder.add_node("Compress", [x, entry.name], axis=axis)
        elif rank == 1 and entry.ndim == 1:
            x = builder.add_node("GatherElements", [x, _index_operand(builder, entry)], axis=0)
        else:
            x = builder.add_node("Gather", [x, _index_operand(builder, entry)], axis=axis)
        rank += entry.block_ndim - entry.axes
    return x


def _entry_axes(entries) -> list[int]:
    """The first axis of ``x`` each entry indexes."""
    axes, axis = [], 0
    for entry in entries:
        axes.append(axis)
        axis += entry.axes if isinstance(entry, _Array) else 1
    return axes


def emit_getitem(builder, x, static_shape, dtype, entries) -> str:
    """``x[entries]`` with NumPy's semantics."""
    x, static_shape, entries, _ = _expand_new_axes(builder, x, static_shape, entries)
    if _gathers_suffice(entries):
        return _emit_gathers(builder, x, static_shape, entries)
    region = _Region(builder, x, static_shape, entries, normalize=False)
    if _statically_empty(entries, static_shape):
        # Not only a shortcut: see _statically_empty.
        shape = _vector(builder, [("1-D", region.shape), *region.trailing_shape()])
        zero = numpy_helper.from_array(np.zeros(1, dtype=dtype))
        return builder.add_node("ConstantOfShape", [shape], value=zero)
    return builder.add_node("GatherND", [x, region.grid()])


@onnx_funcify.register(MakeSlice)
def onnx_funcify_MakeSlice(op, node, builder, inputs, **kwargs):
    # A slice has no ONNX value: the indexing ops that take it read its bounds.
    return [None]


@onnx_funcify.register(Subtensor)
@onnx_funcify.register(AdvancedSubtensor)
@onnx_funcify.register(AdvancedSubtensor1)
def onnx_funcify_Subtensor(op, node, builder, inputs, **kwargs):
    x_var, *index_vars = node.inputs
    entries = index_entries(op, builder, index_vars)
    return emit_getitem(builder, inputs[0], x_var.type.shape, x_var.type.dtype, entries)


# -- the indexed region ----------------------------------------------------------------
def _trim(entries) -> list:
    """The entries without trailing full slices (the axes they keep are not indexed)."""
    entries = list(entries)
    while entries and _is_full(entries[-1]):
        entries.pop()
    return entries


class _Region:
    """The coordinates of the elements ``x[entries]`` selects, laid out as NumPy lays out
    the result: one int64 tensor per indexed axis of ``x`` (the first ``self.k`` axes),
    each broadcastable to the region's shape (``self.rank`` dims).

    With ``normalize``, negative indices are wrapped and every index is checked against
    its axis (a ``Gather`` from ``arange(n)``): needed where coordinates are combined into
    one linear index, in which an out-of-bounds coordinate could pass for a valid one.
    """

    def __init__(self, builder, x, static_shape, entries, *, normalize: bool):
        self.builder, self.x, self.static_shape = builder, x, static_shape
        entries = _trim(entries)
        axes_of = _entry_axes(entries)
        self.k = axes_of[-1] + _width(entries[-1]) if entries else 0
        positions = _advanced_positions(entries)
        block_ndim = max((entries[i].block_ndim for i in positions), default=0)
        # NumPy puts the dims of the advanced indices where the first one is if they are
        # adjacent, else in front.
        block_start = 0
        if positions and _adjacent(positions):
            block_start = sum(isinstance(e, slice) for e in entries[: positions[0]])
        self.rank = sum(isinstance(e, slice) for e in entries) + block_ndim

        coords = []  # (coordinate, its rank, the region dim after its last dim)
        self._shape_parts = []  # (region dim, 1-D shape)
        block_coords, block_shapes = [], []
        region_dim = 0
        for entry, axis in zip(entries, axes_of):
            if region_dim == block_start and positions:
                region_dim += block_ndim
            if isinstance(entry, slice):
                coord = self._slice_coordinate(axis, entry)
                coords.append((coord, 1, region_dim + 1))
                self._shape_parts.append((region_dim, coord))
                region_dim += 1
                continue
            if entry.is_mask:
                nonzero = builder.add_node("NonZero", [entry.name])
                rows = [
                    builder.add_node("Gather", [nonzero, _const(builder, row)], axis=0)
                    for row in range(entry.ndim)
                ]
                coords.extend((row, 1, block_start + block_ndim) for row in rows)
                block_coords.extend(rows)
                block_shapes.extend((None,) for _ in rows)
                continue
            if normalize:
                coord = builder.add_node(
                    "Gather", [self._arange(axis), _index_operand(builder, entry)], axis=0
                )
            else:
                coord = builder.cast(entry.name, entry.dtype, "int64")
            coords.append((coord, entry.ndim, block_start + block_ndim))
            if entry.ndim:
                block_coords.append(coord)
                block_shapes.append(entry.var.type.shape)
        if block_coords:
            self._shape_parts.append((block_start, [block_coords, block_shapes]))
        # Trailing length-1 dims align each coordinate's dims with its place in the region.
        self.coords = [
            unsqueeze(builder, coord, range(ndim, ndim + self.rank - end))
            for coord, ndim, end in coords
        ]
        self._shape = None

    @property
    def shape(self) -> str:
        """The region's shape, a 1-D int64 value."""
        if self._shape is None:
            parts = []
            for _, source in sorted(self._shape_parts, key=lambda part: part[0]):
                if isinstance(source, list):  # the advanced indices broadcast together
                    parts.extend(_broadcast_shape(self.builder, *source))
                else:
                    parts.append(("1-D", self.builder.add_node("Shape", [source])))
            self._shape = _vector(self.builder, parts)
        return self._shape

    def _arange(self, axis):
        n = _dim(self.builder, self.x, self.static_shape, axis)
        return self.builder.add_node(
            "Range", [_const(self.builder, 0), _scalar(self.builder, n), _const(self.builder, 1)]
        )

    def _slice_coordinate(self, axis, entry):
        arange = self._arange(axis)
        return emit_slice(self.builder, arange, (self.static_shape[axis],), [(0, entry)])

    def expanded(self, coord) -> str:
        """A coordinate at the region's full shape."""
        if len(self.coords) == 1:  # a lone coordinate has the region's shape
            return coord
        return self.builder.add_node("Expand", [coord, self.shape])

    def grid(self) -> str:
        """All coordinates, stacked on a last axis: the indices of GatherND/ScatterND."""
        columns = [unsqueeze(self.builder, self.expanded(c), [self.rank]) for c in self.coords]
        if len(columns) == 1:
            return columns[0]
        return self.builder.add_node("Concat", columns, axis=-1)

    def trailing_shape(self) -> list:
        """The dims of ``x`` after the indexed ones (ints, or 0-d values)."""
        return [
            _dim(self.builder, self.x, self.static_shape, axis)
            for axis in range(self.k, len(self.static_shape))
        ]

    def size(self):
        """The number of positions in the first ``k`` axes of ``x``."""
        size = 1
        for axis in range(self.k):
            size = _mul(self.builder, size, _dim(self.builder, self.x, self.static_shape, axis))
        return size

    def linear(self) -> str:
        """The flat position of each element in ``x``'s first ``k`` axes, as a vector."""
        builder = self.builder
        linear, stride = None, 1
        for axis in reversed(range(self.k)):
            coord = self.coords[axis]
            if stride != 1:
                coord = builder.add_node("Mul", [coord, _scalar(builder, stride)])
            linear = coord if linear is None else builder.add_node("Add", [linear, coord])
            if axis:
                stride = _mul(builder, stride, _dim(builder, self.x, self.static_shape, axis))
        if self.rank == 1 and len(self.coords) == 1:
            return linear
        return builder.add_node("Reshape", [self.expanded(linear), _const(builder, [-1])])


def _width(entry) -> int:
    return entry.axes if isinstance(entry, _Array) else 1


def _broadcast_shape(builder, names, static_shapes):
    """The shape the tensors ``names`` broadcast to: the ints, if their static shapes tell,
    else a 1-D value (Expand broadcasts both ways)."""
    if all(None not in shape for shape in static_shapes):
        return list(np.broadcast_shapes(*static_shapes))
    shape = builder.add_node("Shape", [names[0]])
    for name in names[1:]:
        shape = builder.add_node("Shape", [builder.add_node("Expand", [name, shape])])
    return [("1-D", shape)]


# -- writing ---------------------------------------------------------------------------
def emit_setitem(
    builder, x, static_shape, entries, y, y_type, *, mode: str, unique: bool, y_fits: bool = False
):
    """``x`` with ``x[entries]`` set to ``y`` (``mode="set"``), incremented by ``y``
    counting repeated indices as ``np.add.at`` does (``"add"``), or incremented as NumPy's
    buffered ``x[entries] += y`` does, where the last repeat wins (``"add_buffered"``).

    ``unique``: no element of ``x`` can be selected twice. ``y_fits``: ``y`` has the shape
    of ``x[entries]`` (it need not be broadcast).
    """
    if _statically_empty(entries, static_shape):
        return x  # nothing to write; _statically_empty says why this matters
    x, static_shape, entries, new_axes = _expand_new_axes(builder, x, static_shape, entries)
    entries = _trim(entries)
    if not entries:  # the whole of x
        if mode == "set":
            result = builder.add_node("Expand", [y, builder.add_node("Shape", [x])])
        else:
            result = builder.add_node("Add", [x, y])
        return squeeze(builder, result, new_axes)

    # Wrapping negative indices matters where coordinates are compared or combined: to
    # find repeats, and to linearise several axes. Scatter ops wrap a lone index.
    linearised = not unique and (
        mode != "add" or _entry_axes(entries)[-1] + _width(entries[-1]) > 1
    )
    region = _Region(builder, x, static_shape, entries, normalize=linearised)
    trailing = region.trailing_shape()
    updates = y
    if not y_fits:
        extra = y_type.ndim - region.rank - len(trailing)
        if extra > 0:  # NumPy drops leading length-1 dims of the value
            updates = builder.add_node("Squeeze", [y, _const(builder, list(range(extra)))])
        updates_shape = _vector(builder, [("1-D", region.shape), *trailing])
        updates = builder.add_node("Expand", [updates, updates_shape])

    if unique:
        reduction = "none" if mode == "set" else "add"
        result = builder.add_node("ScatterND", [x, region.grid(), updates], reduction=reduction)
    else:
        result = _scatter_repeated(builder, x, region, trailing, updates, mode)
    return squeeze(builder, result, new_axes)


def _statically_empty(entries, static_shape) -> bool:
    """Whether the static shapes tell that ``x[entries]`` has no elements.

    Such a region is never built, which is not only a shortcut: onnxruntime (1.32) drops
    an Expand whose target shape is a constant with a 0 where the input has a static
    length 1 (its ExpandElimination takes that for a no-op), so that coordinates expanded
    to an empty region, whose shape is a constant when static shapes are known, keep
    their length 1.
    """
    if 0 in static_shape:
        return True
    x_shape = iter(static_shape)
    for entry in entries:
        if isinstance(entry, _NewAxis):
            continue
        if isinstance(entry, slice):
            length = next(x_shape)
            bounds = (entry.start, entry.stop, entry.step)
            if length is not None and all(b is None or isinstance(b, int) for b in bounds):
                if entry.step != 0 and not len(range(length)[entry]):
                    return True
            continue
        for _ in range(entry.axes):
            next(x_shape)
        if 0 in getattr(entry.var.type, "shape", ()):
            return True
        if entry.is_mask and isinstance(entry.var, Constant) and not entry.var.data.any():
            return True
    return False


def _scatter_repeated(builder, x, region, trailing, updates, mode) -> str:
    # Work on x as a matrix: one row per position of its first k axes, the trailing dims
    # flattened into the columns (a vector when there are none), so that repeated indices
    # are repeated rows.
    linear = region.linear()
    columns = 1
    for dim in trailing:
        columns = _mul(builder, columns, dim)
    row_shape = [columns] if trailing else []
    flat = len(region.static_shape) == 1
    flat_x = x if flat else reshape(builder, x, _vector(builder, [region.size(), *row_shape]))
    n = None if region.rank == 1 and not trailing else builder.add_node("Size", [linear])
    flat_updates = updates
    if n is not None:
        flat_updates = reshape(builder, updates, _vector(builder, [n, *row_shape]))

    if mode == "add":
        index = linear
        if trailing:
            index = builder.add_node(
                "Expand",
                [unsqueeze(builder, linear, [1]), builder.add_node("Shape", [flat_updates])],
            )
        result = builder.add_node(
            "ScatterElements", [flat_x, index, flat_updates], axis=0, reduction="add"
        )
    else:
        if mode == "add_buffered":  # the values read before any write, plus y
            current = builder.add_node("Gather", [flat_x, linear], axis=0)
            flat_updates = builder.add_node("Add", [current, flat_updates])
        # The last update of each position: the largest update number scattered there.
        if n is None:
            n = builder.add_node("Size", [linear])
        numbers = builder.add_node("Range", [_const(builder, 0), n, _const(builder, 1)])
        unset = builder.add_node(
            "ConstantOfShape",
            [_vector(builder, [region.size()])],
            value=numpy_helper.from_array(np.array([-1], dtype="int64")),
        )
        last = builder.add_node(
            "ScatterElements", [unset, linear, numbers], axis=0, reduction="max"
        )
        winner = builder.add_node("GatherElements", [last, linear], axis=0)
        flat_updates = builder.add_node("Gather", [flat_updates, winner], axis=0)
        # Every repeat now writes the same value, so the order of the writes cannot matter.
        result = builder.add_node(
            "ScatterND", [flat_x, unsqueeze(builder, linear, [1]), flat_updates]
        )
    if flat:
        return result
    return reshape(builder, result, builder.add_node("Shape", [x]))


def _known_unique(entries, static_shape) -> bool:
    """Whether no element can be selected twice: slices and single integers never repeat
    a position, nor does one boolean mask, nor one constant array without repeats."""
    x_shape = iter(static_shape)
    arrays = []
    for entry in entries:
        if isinstance(entry, _Array):
            dims = [next(x_shape, None) for _ in range(entry.axes)]
            if entry.block_ndim:
                arrays.append((entry, dims[0]))
        elif not isinstance(entry, _NewAxis):
            next(x_shape, None)
    if not arrays:
        return True
    if len(arrays) > 1:
        return False
    entry, length = arrays[0]
    if entry.is_mask:
        return True
    if not isinstance(entry.var, Constant):
        return False
    values = np.asarray(entry.var.data).astype("int64").ravel()
    if (values < 0).any():
        if length is None:
            return False
        values = np.where(values < 0, values + length, values)
    return len(np.unique(values)) == len(values)


@onnx_funcify.register(IncSubtensor)
@onnx_funcify.register(AdvancedIncSubtensor)
@onnx_funcify.register(AdvancedIncSubtensor1)
def onnx_funcify_IncSubtensor(op, node, builder, inputs, **kwargs):
    x_var, y_var, *index_vars = node.inputs
    entries = index_entries(op, builder, index_vars)
    # AdvancedIncSubtensor1 refuses to broadcast y at run time: a y of the rank of x
    # without length-1 dims has the shape of the region.
    y_fits = (
        isinstance(op, AdvancedIncSubtensor1)
        and y_var.type.ndim == x_var.type.ndim
        and 1 not in y_var.type.shape
    )
    if op.set_instead_of_inc:
        mode = "set"
    elif getattr(op, "ignore_duplicates", False):
        mode = "add_buffered"
    else:
        mode = "add"
    return emit_setitem(
        builder,
        inputs[0],
        x_var.type.shape,
        entries,
        builder.cast(inputs[1], y_var.type.dtype, x_var.type.dtype),
        y_var.type,
        mode=mode,
        unique=_known_unique(entries, x_var.type.shape),
        y_fits=y_fits,
    )
