"""Primitives that move entries around without arithmetic: reshapes, transposes, indexing, joins.

All of them are linear, so each JVP is the primitive itself applied to the tangent.
"""

from __future__ import annotations

import numpy as np

from ..core import shape_of, unbox
from .registry import Variadic, defprimitive


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
)


def _inverse(axes, ndim):
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


transpose = defprimitive(
    "transpose",
    _transpose,
    vjp={0: lambda g, ans, x, axes=None: transpose(g, _inverse(axes, len(shape_of(x))))},
    jvp={0: lambda t, ans, x, axes=None: transpose(t, axes)},
    doc="permute axes (default: reverse them)",
)

expand_dims = defprimitive(
    "expand_dims",
    _expand_dims,
    vjp={0: lambda g, ans, x, axis: reshape(g, shape_of(x))},
    jvp={0: lambda t, ans, x, axis: expand_dims(t, axis)},
    doc="insert a size-1 axis at position axis",
)

squeeze = defprimitive(
    "squeeze",
    np.squeeze,
    vjp={0: lambda g, ans, x, axis=None: reshape(g, shape_of(x))},
    jvp={0: lambda t, ans, x, axis=None: squeeze(t, axis)},
    doc="drop size-1 axes (all, or those in axis)",
)


def _sum_to(x, shape):
    """Sum ``x`` over the axes that broadcasting added or stretched, to get ``shape``."""
    xshape = np.shape(x)
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
)

sum_to = defprimitive(
    "sum_to",
    _sum_to,
    vjp={0: lambda g, ans, x, shape: broadcast_to(g, shape_of(x))},
    jvp={0: lambda t, ans, x, shape: sum_to(t, shape)},
    doc="the adjoint of broadcast_to: sum x down to shape",
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
)

untake = defprimitive(
    "untake",
    _untake,
    vjp={0: lambda g, ans, x, index, shape: getitem(g, index)},
    jvp={0: lambda t, ans, x, index, shape: untake(t, index, shape)},
    doc="the adjoint of getitem: scatter-add into zeros",
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
)


def concatenate(arrays, axis: int = 0):
    """Join a sequence of arrays along an existing ``axis``."""
    arrays = list(arrays)
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
    """An index with any traced parts replaced by their plain values (indices are constants)."""
    if isinstance(index, tuple):
        return tuple(unbox(i) for i in index)
    return unbox(index)
