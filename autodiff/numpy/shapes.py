"""Primitives that move entries around without arithmetic: reshapes, transposes, indexing, joins.

All of them are linear, so each JVP is the primitive itself applied to the tangent.
"""

from __future__ import annotations

import numpy as np

from ..core import Box, plain, shape_of, unbox, unbox_index
from .registry import Variadic, defprimitive


# ------------------------------------------------------------ batching rules
# Each gets the batched arguments with the batch on their leading axis (see batchrules).
def _size(x) -> int:
    return shape_of(x)[0]


def _reshape_batch(prim, args, batched):
    x, shape = args
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return reshape(x, (_size(x), *shape))


def _transpose_batch(prim, args, batched, axes=None):
    x, *rest = args
    axes = rest[0] if rest else axes
    n = len(shape_of(x)) - 1
    axes = range(n - 1, -1, -1) if axes is None else [a % n for a in axes]
    return transpose(x, (0, *(a + 1 for a in axes)))


def _expand_dims_batch(prim, args, batched):
    x, axis = args
    return expand_dims(x, axis % len(shape_of(x)) + 1)


def _squeeze_batch(prim, args, batched, axis=None):
    x, *rest = args
    axis = rest[0] if rest else axis
    example = shape_of(x)[1:]
    if axis is None:
        axes = tuple(i for i, s in enumerate(example) if s == 1)
    else:
        axes = tuple(a % len(example) for a in ((axis,) if np.ndim(axis) == 0 else axis))
    return squeeze(x, tuple(a + 1 for a in axes)) if axes else x


def _lift(x, ndim: int):
    """A batched x with size-1 axes after the batch axis, up to ``ndim`` example axes."""
    shape = shape_of(x)
    missing = ndim - (len(shape) - 1)
    return reshape(x, (shape[0],) + (1,) * missing + tuple(shape[1:])) if missing > 0 else x


def _broadcast_to_batch(prim, args, batched):
    x, shape = args
    shape = tuple(shape)
    return broadcast_to(_lift(x, len(shape)), (_size(x), *shape))


def _sum_to_batch(prim, args, batched):
    x, shape = args
    big = shape_of(x)[1:]
    lead = len(big) - len(shape)
    axes = tuple(range(1, lead + 1)) + tuple(
        lead + 1 + i for i, s in enumerate(shape) if s == 1 and big[lead + i] != 1
    )
    if axes:
        x = np.add.reduce(x, axis=axes) if type(x) is np.ndarray else _sum(x, axes)
    return reshape(x, (_size(x), *shape))


def _sum(x, axes):
    from .reductions import sum as sum_

    return sum_(x, axis=axes)


def _batched_index(index):
    """``index`` behind a full slice for the batch axis, if NumPy then keeps the batch axis
    first (its advanced parts, if any, side by side); None when it would not."""
    parts = index if isinstance(index, tuple) else (index,)
    advanced = [
        i
        for i, p in enumerate(parts)
        if isinstance(p, (list, np.ndarray))
        or (np.ndim(p) == 0 and isinstance(p, (int, np.integer)))
    ]
    arrays = [i for i in advanced if isinstance(parts[i], (list, np.ndarray))]
    if arrays and advanced != list(range(advanced[0], advanced[0] + len(advanced))):
        return None
    return (slice(None), *parts)


def _is_int_array_index(index) -> bool:
    return not isinstance(index, tuple) and np.result_type(plain(index)).kind in "iu"


def _flat_rows(index, size: int, n: int):
    """A batched integer index into axis 0 of each example (of length n) as an index into
    the batch flattened to size·n rows: the index in [0, n), plus n times the example's number."""
    index = wrap_index(index, n)
    return index + (np.arange(size) * n).reshape((-1,) + (1,) * (len(shape_of(index)) - 1))


def _getitem_batch(prim, args, batched):
    x, index = args
    if not batched[1] and type(index) is Box:  # an index that replay reads from its data
        # x[:, index] as (x with its batch axis second)[index], the batch axis moved back
        moved = getitem(swapaxes(x, 0, 1), index)
        return _to_front(moved, len(shape_of(index)))
    if not batched[1]:
        full = _batched_index(index)
        if full is not None:
            return getitem(x, full)
    elif _is_int_array_index(index):
        if not batched[0]:
            return getitem(x, index)
        size, n = shape_of(x)[:2]
        flat = reshape(x, (size * n, *shape_of(x)[2:]))
        return getitem(flat, _flat_rows(index, size, n))
    from ..batching import loop

    size = shape_of(args[batched.index(True)])[0]
    return loop(prim, "getitem (this kind of index)", args, batched, size, {})


def _to_front(x, axis: int):
    """x with axis ``axis`` moved to the front."""
    n = len(shape_of(x))
    return transpose(x, (axis, *(a for a in range(n) if a != axis))) if axis else x


def _untake_batch(prim, args, batched):
    g, index, shape = args
    if not batched[1] and type(index) is Box:  # the adjoint of the case in _getitem_batch
        k = len(shape_of(index))
        n = len(shape_of(g))
        g = transpose(g, (*range(1, k + 1), 0, *range(k + 1, n)))
        return swapaxes(untake(g, index, (shape[0], _size(args[0]), *shape[1:])), 0, 1)
    if not batched[1]:
        full = _batched_index(index)
        if full is not None:
            return untake(g, full, (_size(g), *shape))
    elif _is_int_array_index(index):
        size = shape_of(index)[0]
        if not batched[0]:
            g = broadcast_to(g, (size, *shape_of(g)))
        n = shape[0]
        out = untake(g, _flat_rows(index, size, n), (size * n, *shape[1:]))
        return reshape(out, (size, *shape))
    from ..batching import loop

    size = shape_of(args[batched.index(True)])[0]
    return loop(prim, "untake (this kind of index)", args, batched, size, {})


def _concatenate_batch(prim, args, batched):
    axis, arrays = args[0], args[1:]
    size = next(_size(a) for a, b in zip(arrays, batched[1:], strict=True) if b)
    arrays = [
        a if b else broadcast_to(a, (size, *shape_of(a)))
        for a, b in zip(arrays, batched[1:], strict=True)
    ]
    return concatenate_args(axis + 1, *arrays)


# The forward functions call ndarray methods where they can: np.reshape, np.transpose and
# np.expand_dims add 1-3 µs of Python each, which is most of their cost on small arrays.
def _reshape(x, shape):
    return x.reshape(shape) if type(x) is np.ndarray else np.reshape(x, shape)


def _transpose(x, axes=None):
    return x.transpose(axes) if type(x) is np.ndarray else np.transpose(x, axes)


def _expand_dims(x, axis):
    if type(x) is not np.ndarray or type(axis) is not int:
        return np.expand_dims(x, axis)
    axis = axis % (x.ndim + 1)
    return x.reshape(x.shape[:axis] + (1,) + x.shape[axis:])


reshape = defprimitive(
    "reshape",
    _reshape,
    vjp={0: lambda g, ans, x, shape: reshape(g, shape_of(x))},
    jvp={0: lambda t, ans, x, shape: reshape(t, shape)},
    doc="x with a new shape (one entry may be -1)",
    batch=_reshape_batch,
)


def _inverse(axes, ndim):
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


transpose = defprimitive(
    "transpose",
    _transpose,
    vjp={0: lambda g, ans, x, axes=None: transpose(g, _inverse(axes, len(shape_of(x))))},
    jvp={0: lambda t, ans, x, axes=None: transpose(t, axes)},
    doc="permute axes (default: reverse them)",
    batch=_transpose_batch,
)

expand_dims = defprimitive(
    "expand_dims",
    _expand_dims,
    vjp={0: lambda g, ans, x, axis: reshape(g, shape_of(x))},
    jvp={0: lambda t, ans, x, axis: expand_dims(t, axis)},
    doc="insert a size-1 axis at position axis",
    batch=_expand_dims_batch,
)

squeeze = defprimitive(
    "squeeze",
    np.squeeze,
    vjp={0: lambda g, ans, x, axis=None: reshape(g, shape_of(x))},
    jvp={0: lambda t, ans, x, axis=None: squeeze(t, axis)},
    doc="drop size-1 axes (all, or those in axis)",
    batch=_squeeze_batch,
)


def _sum_to(x, shape):
    """Sum ``x`` over the axes that broadcasting added or stretched, to get ``shape``."""
    xshape = x.shape if type(x) is np.ndarray else np.shape(x)
    lead = len(xshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and xshape[lead + i] != 1
    )
    return _reshape(np.add.reduce(x, axis=axes) if axes else x, shape)


def _broadcast_to(x, shape):
    """np.broadcast_to; for a C-contiguous array, the same read-only view made directly (zero
    strides on the stretched axes), at less than half the cost of np.broadcast_to's checks."""
    shape = tuple(shape)
    if type(x) is np.float64 or type(x) is float:
        x = np.asarray(x)
    if type(x) is not np.ndarray or not x.flags.c_contiguous or x.ndim > len(shape):
        return np.broadcast_to(x, shape)
    if x.shape == shape:
        out = x.view()
        out.flags.writeable = False
        return out
    lead = len(shape) - x.ndim
    strides = [0] * lead
    for have, want, stride in zip(x.shape, shape[lead:], x.strides, strict=True):
        if have != want and have != 1:
            return np.broadcast_to(x, shape)  # not broadcastable: let NumPy raise its error
        strides.append(stride if have == want else 0)
    out = np.ndarray(shape, x.dtype, x, 0, tuple(strides))
    out.flags.writeable = False
    return out


broadcast_to = defprimitive(
    "broadcast_to",
    _broadcast_to,
    vjp={0: lambda g, ans, x, shape: sum_to(g, shape_of(x))},
    jvp={0: lambda t, ans, x, shape: broadcast_to(t, shape)},
    doc="x repeated along new or size-1 axes to reach shape",
    batch=_broadcast_to_batch,
)

sum_to = defprimitive(
    "sum_to",
    _sum_to,
    vjp={0: lambda g, ans, x, shape: broadcast_to(g, shape_of(x))},
    jvp={0: lambda t, ans, x, shape: sum_to(t, shape)},
    doc="the adjoint of broadcast_to: sum x down to shape",
    batch=_sum_to_batch,
)


def _has_array_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype != bool for p in parts)


def _untake(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated integer indices accumulate)."""
    out = np.zeros(shape, dtype=np.result_type(g, np.float64))
    if _has_array_index(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


getitem = defprimitive(
    "getitem",
    lambda x, index: x[index],
    vjp={0: lambda g, ans, x, index: untake(g, index, shape_of(x))},
    jvp={0: lambda t, ans, x, index: getitem(t, index)},
    doc="x[index]: basic slicing, boolean masks and integer-array indexing",
    batch=_getitem_batch,
)


def _wrap_index(index, n):
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        raise IndexError(
            f"only integers can index an array under autodiff.vmap, got dtype {index.dtype}"
        )
    if index.size and (index.min() < -n or index.max() >= n):
        bad = index[(index < -n) | (index >= n)].flat[0]
        raise IndexError(f"index {bad} is out of bounds for axis 0 with size {n}")
    return np.where(index < 0, index + n, index)


def _wrap_index_batch(prim, args, batched):
    return wrap_index(*args)


# A primitive (not a comparison on the values) so that autodiff.replay records it: an index
# read from data stays part of the program.
wrap_index = defprimitive(
    "wrap_index",
    _wrap_index,
    doc="integer indices into an axis of length n, negatives counted from its end, checked "
    "to be in range; no derivative (indices are constants)",
    batch=_wrap_index_batch,
)

untake = defprimitive(
    "untake",
    _untake,
    vjp={0: lambda g, ans, x, index, shape: getitem(g, index)},
    jvp={0: lambda t, ans, x, index, shape: untake(t, index, shape)},
    doc="the adjoint of getitem: scatter-add into zeros",
    batch=_untake_batch,
)


def _concatenate(axis, *arrays):
    return np.concatenate(arrays, axis=axis)


def _piece(g, axis, arrays, i):
    """The block of ``g`` that came from ``arrays[i]`` in a concatenation along ``axis``."""
    sizes = [shape_of(a)[axis] for a in arrays]
    start = int(np.sum(sizes[:i]))
    index = [slice(None)] * len(shape_of(g))
    index[axis] = slice(start, start + sizes[i])
    return getitem(g, tuple(index))


def _tangent_block(t, axis, arrays, i):
    """Tangent of a concatenation when only ``arrays[i]`` moves (by ``t``)."""
    parts = [t if j == i else np.zeros(shape_of(a)) for j, a in enumerate(arrays)]
    return concatenate_args(axis, *parts)


concatenate_args = defprimitive(
    "concatenate",
    _concatenate,
    vjp=Variadic(1, lambda k, g, ans, axis, *arrays: _piece(g, axis, arrays, k)),
    jvp=Variadic(1, lambda k, t, ans, axis, *arrays: _tangent_block(t, axis, arrays, k)),
    doc="arrays joined along axis (positional form: axis first)",
    batch=_concatenate_batch,
)


def concatenate(arrays, axis: int | None = 0):
    """Join a sequence of arrays along an existing ``axis`` (None: flatten them first)."""
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [reshape(a, (-1,)) for a in arrays], 0
    ndim = len(shape_of(arrays[0]))
    return concatenate_args(int(axis) % ndim, *arrays)


def stack(arrays, axis: int = 0):
    """Join a sequence of same-shape arrays along a new ``axis``."""
    arrays = list(arrays)
    ndim = len(shape_of(arrays[0])) + 1
    axis = int(axis) % ndim
    return concatenate_args(axis, *[expand_dims(a, axis) for a in arrays])


def swapaxes(x, axis1: int, axis2: int):
    """x with two axes exchanged."""
    ndim = len(shape_of(x))
    a, b = axis1 % ndim, axis2 % ndim
    return transpose(x, tuple(b if i == a else a if i == b else i for i in range(ndim)))


def index_value(index):
    """An index with any traced parts replaced by their plain values (indices are constants),
    except a part autodiff.replay reads from its data (see :func:`autodiff.core.unbox_index`)."""
    if isinstance(index, tuple):
        return tuple(unbox_index(i) for i in index)
    return unbox_index(index)


def _along(axis: int, index):
    """The index tuple applying ``index`` to axis ``axis`` (>= 0) and nothing to the others."""
    return (slice(None),) * axis + (index,)


def _axis(axis, ndim: int, fun: str) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"numpy.{fun}: axis {axis} is out of bounds for {ndim} dimensions")
    return int(axis) % max(ndim, 1)


def flip(x, axis=None):
    """x with the order of entries reversed along ``axis`` (None: every axis)."""
    ndim = len(shape_of(x))
    axes = range(ndim) if axis is None else (axis,) if np.ndim(axis) == 0 else axis
    index = [slice(None)] * ndim
    for a in axes:
        index[_axis(a, ndim, "flip")] = slice(None, None, -1)
    return getitem(x, tuple(index))


def roll(x, shift, axis=None):
    """Entries shifted by ``shift`` along ``axis``, wrapping around (None: the flat array)."""
    if axis is None:
        return reshape(roll(reshape(x, (-1,)), shift, 0), shape_of(x))
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    for s, a in zip(shifts.ravel(), axes.ravel(), strict=True):
        a = _axis(a, len(shape_of(x)), "roll")
        n = shape_of(x)[a]
        x = getitem(x, _along(a, (np.arange(n) - int(s)) % n)) if n else x
    return x


def repeat(x, repeats, axis=None):
    """Each entry repeated ``repeats`` times along ``axis`` (None: the flat array)."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    a = _axis(axis, len(shape_of(x)), "repeat")
    return getitem(x, _along(a, np.repeat(np.arange(shape_of(x)[a]), repeats)))


def tile(x, reps):
    """x repeated ``reps`` times along each axis, as ``np.tile``."""
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    shape = shape_of(x)
    ndim = max(len(shape), len(reps))
    x = reshape(x, (1,) * (ndim - len(shape)) + tuple(shape))
    reps = (1,) * (ndim - len(reps)) + reps
    for a, r in enumerate(reps):
        if r != 1:
            x = getitem(x, _along(a, np.tile(np.arange(shape_of(x)[a]), r)))
    return x


def pad(x, pad_width, mode="constant", constant_values=0):
    """x surrounded by ``pad_width`` entries of ``constant_values`` (mode "constant" only)."""
    if mode != "constant":
        raise TypeError(
            f"numpy.pad: mode={mode!r} has no derivative rule in autodiff; only mode='constant'"
        )
    shape = shape_of(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (len(shape), 2))
    padded = tuple(int(s + b + a) for s, (b, a) in zip(shape, widths, strict=True))
    index = tuple(slice(int(b), int(b) + s) for s, (b, _) in zip(shape, widths, strict=True))
    out = untake(x, index, padded)
    if np.any(np.asarray(constant_values) != 0):
        if np.ndim(constant_values) != 0:
            raise TypeError("numpy.pad: only a single number as constant_values is supported")
        frame = np.full(padded, float(constant_values))
        frame[index] = 0.0
        out = out + frame
    return out


def split(x, indices_or_sections, axis=0):
    """A list of sub-arrays of x cut along ``axis``, as ``np.split``."""
    a = _axis(axis, len(shape_of(x)), "split")
    pieces = np.split(np.arange(shape_of(x)[a]), indices_or_sections)
    ends = np.cumsum([0] + [len(p) for p in pieces])
    return [
        getitem(x, _along(a, slice(int(b), int(e))))
        for b, e in zip(ends[:-1], ends[1:], strict=True)
    ]


def atleast_1d(x):
    """x, with a scalar turned into shape (1,)."""
    return reshape(x, (1,)) if shape_of(x) == () else x


def atleast_2d(x):
    """x with at least two axes (leading size-1 axes added), as ``np.atleast_2d``."""
    shape = shape_of(x)
    return reshape(x, (1,) * (2 - len(shape)) + tuple(shape)) if len(shape) < 2 else x


def hstack(arrays):
    """Arrays joined column-wise: along axis 1, or axis 0 for 1-D arrays."""
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if len(shape_of(arrays[0])) == 1 else 1)


def vstack(arrays):
    """Arrays joined row-wise (1-D arrays become rows)."""
    return concatenate([atleast_2d(a) for a in arrays], axis=0)


def take_along_axis(x, indices, axis):
    """Entries of x picked by ``indices`` along ``axis``, as ``np.take_along_axis``."""
    indices = np.asarray(unbox(indices))
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    shape = shape_of(x)
    a = _axis(axis, len(shape), "take_along_axis")
    if indices.ndim != len(shape):
        raise ValueError(
            f"numpy.take_along_axis: indices have {indices.ndim} dimensions, x has {len(shape)}"
        )
    index = []
    for d, n in enumerate(shape):
        if d == a:
            index.append(indices)
        else:
            index.append(np.arange(n).reshape((1,) * d + (-1,) + (1,) * (len(shape) - d - 1)))
    return getitem(x, tuple(index))


def sort(x, axis=-1):
    """x sorted along ``axis`` (None: the flat array); the gradient follows the permutation."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    order = np.argsort(unbox(x), axis=axis, kind="stable")
    return take_along_axis(x, order, axis)


def _diagonal_index(n_rows: int, n_cols: int, k: int):
    """Row and column indices of the k-th diagonal of an n_rows × n_cols matrix."""
    length = max(0, min(n_rows - max(-k, 0), n_cols - max(k, 0)))
    return np.arange(length) + max(-k, 0), np.arange(length) + max(k, 0)


def diag(v, k: int = 0):
    """The k-th diagonal of a matrix, or a square matrix with vector v on its k-th diagonal."""
    shape = shape_of(v)
    if len(shape) == 1:
        n = shape[0] + abs(k)
        return untake(v, _diagonal_index(n, n, k), (n, n))
    if len(shape) == 2:
        return getitem(v, _diagonal_index(shape[0], shape[1], k))
    raise ValueError(f"numpy.diag: input must be 1-D or 2-D, got {len(shape)}-D")


def take(a, indices, axis=None):
    """Entries of ``a`` at integer ``indices`` along ``axis`` (None: the flat array), as
    ``np.take``; the indices may be traced or batched (by vmap), the array plain or traced."""
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = _axis(axis, len(shape_of(a)), "take")
    if axis == 0:
        return getitem(a, indices)
    order = (axis, *(i for i in range(len(shape_of(a))) if i != axis))
    picked = getitem(transpose(a, order), indices)  # (*indices.shape, others...)
    k = len(shape_of(indices))
    rest = len(shape_of(a)) - 1
    back = tuple(range(k, k + axis)) + tuple(range(k)) + tuple(range(k + axis, k + rest))
    return transpose(picked, back)
