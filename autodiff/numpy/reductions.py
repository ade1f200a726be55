"""Reductions over axes: sum, max, min, logsumexp (and mean on top of sum)."""

from __future__ import annotations

import builtins
import math

import numpy as np

from ..batching import constant_map
from ..core import Box, shape_of, unbox
from . import batchrules
from .elementwise import exp, where
from .registry import defprimitive
from .shapes import _broadcast_to, _reshape, broadcast_to, getitem, reshape


def normalize_axis(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple; negatives allowed) as a sorted tuple of axes >= 0."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:
        return (axis % ndim,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(int(a) % builtins.max(ndim, 1))
    return tuple(sorted(out))


def kept_shape(shape: tuple, axis) -> tuple:
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    axes = normalize_axis(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _kept(r, x, axis):
    """A reduced value ``r`` reshaped so that it broadcasts against ``x`` (a 0-d ``r``, the
    reduction over every axis, broadcasts as it is)."""
    if shape_of(r) == ():
        return r
    return reshape(r, kept_shape(shape_of(x), axis))


def _spread(g, x, axis):
    """A reduction's cotangent ``g`` spread back over ``x``'s shape (a read-only view, or a
    small fresh array)."""
    if type(g) is not Box:  # nothing traced: the primitives' own functions, without dispatch
        shape = shape_of(x)
        if not np.ndim(g):  # a full reduction's scalar: a small array is cheaper made than viewed
            return np.full(shape, g) if math.prod(shape) <= 4096 else _broadcast_to(g, shape)
        return _broadcast_to(_reshape(g, kept_shape(shape, axis)), shape)
    return broadcast_to(_kept(g, x, axis), shape_of(x))


def _reducer(fun, ufunc):
    """``fun`` with the signature the rules use, (x, axis=None, keepdims=False); arrays go
    straight to ``ufunc.reduce`` (np.sum's Python wrapper costs more than a small sum)."""

    def reduce(x, axis=None, keepdims=False):
        if type(x) is np.ndarray and x.ndim:
            return ufunc.reduce(x, axis=axis, keepdims=keepdims)
        return fun(x, axis=axis, keepdims=keepdims)

    return reduce


sum = defprimitive(  # noqa: A001 - NumPy's name, on purpose
    "sum",
    _reducer(np.sum, np.add),
    vjp=[lambda g, ans, x, axis=None, keepdims=False: _spread(g, x, axis)],
    jvp=[lambda t, ans, x, axis=None, keepdims=False: sum(t, axis=axis, keepdims=keepdims)],
    doc="sum over axis (None: all), optionally keeping reduced axes as size 1",
    batch=batchrules.reduction,
)


def _argext_weights(ans, x, axis):
    """Where x attains its max/min along axis, with ties sharing equally (a constant)."""
    xv = unbox(x)
    hit = xv == np.reshape(unbox(ans), kept_shape(np.shape(xv), axis))
    return hit / np.sum(hit, axis=normalize_axis(axis, np.ndim(xv)), keepdims=True)


def _weighted(name: str, fun, partials, doc: str):
    """A reduction whose derivative is ``partials(ans, x, axis)``, ∂ans/∂x entry by entry
    (broadcast against x): VJP g·partials, JVP the reduction of t·partials."""
    return defprimitive(
        name,
        fun,
        vjp=[
            lambda g, ans, x, axis=None, keepdims=False: _kept(g, x, axis) * partials(ans, x, axis)
        ],
        jvp=[
            lambda t, ans, x, axis=None, keepdims=False: sum(
                t * partials(ans, x, axis), axis=axis, keepdims=keepdims
            )
        ],
        doc=doc,
        batch=batchrules.reduction,
    )


max = _weighted(  # noqa: A001
    "max",
    _reducer(np.max, np.maximum),
    _argext_weights,
    "maximum over axis; ties share the gradient",
)
min = _weighted(  # noqa: A001
    "min",
    _reducer(np.min, np.minimum),
    _argext_weights,
    "minimum over axis; ties share the gradient",
)


def _logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x) over axis, shifted by the max for stability (4x faster than scipy's)."""
    if type(x) is np.ndarray and x.ndim and x.dtype.kind == "f":  # reduce without np.max's wrapper
        top = np.maximum.reduce(x, axis=axis, keepdims=True)
        if not np.isfinite(top).all():
            top = np.where(np.isfinite(top), top, 0.0)
        e = np.subtract(x, top)
        np.exp(e, out=e)
        out = np.log(np.add.reduce(e, axis=axis, keepdims=True))
        out += top
    else:
        top = np.max(x, axis=axis, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    if keepdims:
        return out
    return np.reshape(
        out,
        tuple(
            np.shape(x)[i] for i in range(np.ndim(x)) if i not in normalize_axis(axis, np.ndim(x))
        ),
    )


logsumexp = defprimitive(
    "logsumexp",
    _logsumexp,
    vjp=[lambda g, ans, x, axis=None, keepdims=False: _kept(g, x, axis) * _softmax(ans, x, axis)],
    jvp=[
        lambda t, ans, x, axis=None, keepdims=False: sum(
            t * _softmax(ans, x, axis), axis=axis, keepdims=keepdims
        )
    ],
    doc="log(sum(exp(x))) over axis, stable",
    batch=batchrules.reduction,
)


def _softmax(ans, x, axis):
    return exp(x - _kept(ans, x, axis))


def _count(shape: tuple, axis) -> int:
    """How many entries a reduction over ``axis`` of an array of ``shape`` combines."""
    return math.prod([shape[a] for a in normalize_axis(axis, len(shape))])


_sum = sum.fun  # the sum primitive's NumPy function, without the tracer


def _mean(x, axis=None, keepdims=False):
    """sum(x) / count: the operations of the composite ``sum(x) / count``, so its bits."""
    if axis is None and type(x) is np.ndarray and x.ndim:  # the usual loss: every entry
        return np.add.reduce(x, axis=None, keepdims=keepdims) / x.size
    return _sum(x, axis, keepdims) / _count(np.shape(x), axis)


def _mean_vjp(g, ans, x, axis=None, keepdims=False):
    """g / count spread over x (the composite's divide rule, then sum's)."""
    if axis is None and type(x) is np.ndarray and type(g) is not Box and not np.ndim(g):
        return _spread(g / x.size, x, None)  # the usual loss, without counting axes
    return _spread(g / _count(shape_of(x), axis), x, axis)


mean = defprimitive(
    "mean",
    _mean,
    vjp=[_mean_vjp],
    jvp=[
        lambda t, ans, x, axis=None, keepdims=False: (
            sum(t, axis=axis, keepdims=keepdims) / _count(shape_of(x), axis)
        )
    ],
    doc="arithmetic mean over axis (None: all), optionally keeping reduced axes as size 1: "
    "one node where sum(x) / count takes two, with the same bits",
    batch=batchrules.reduction,
)


def _softmax_forward(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


softmax = defprimitive(
    "softmax",
    _softmax_forward,
    vjp=[lambda g, ans, x, axis=-1: ans * (g - sum(g * ans, axis=axis, keepdims=True))],
    jvp=[lambda t, ans, x, axis=-1: ans * (t - sum(t * ans, axis=axis, keepdims=True))],
    doc="exp(x) / sum(exp(x)) along axis (None: all), stable; as scipy.special.softmax",
    batch=batchrules.along_axis(-1),
)


def log_softmax(x, axis=-1):
    """x − logsumexp(x) along ``axis``: log-probabilities of a softmax, stable."""
    return x - logsumexp(x, axis=axis, keepdims=True)


def _others_product(x, axis):
    """Π of x over ``axis`` leaving out each entry in turn (a constant, exact with zeros):
    exclusive cumulative products from the left and from the right, multiplied."""
    axes = normalize_axis(axis, np.ndim(x))
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    lead = moved.shape[: moved.ndim - len(axes)]
    flat = moved.reshape(lead + (-1,))
    ones = np.ones(lead + (1,))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    out = (left * right).reshape(moved.shape)
    return np.moveaxis(out, tuple(range(-len(axes), 0)), axes)


def _prod_partials(ans, x, axis):
    """∂ prod/∂xᵢ: ans / xᵢ where xᵢ ≠ 0 (differentiable again), the product of the others
    where xᵢ = 0 (a constant there: second derivatives at exact zeros are not exact)."""
    xv = unbox(x)
    if type(xv) is not Box and np.all(xv != 0):
        return _kept(ans, x, axis) / x
    nonzero = xv != 0
    safe = where(nonzero, x, 1.0)
    others = constant_map(lambda v: _others_product(v, axis), [xv])
    return where(nonzero, _kept(ans, x, axis) / safe, others)


prod = _weighted(
    "prod",
    _reducer(np.prod, np.multiply),
    _prod_partials,
    "product over axis (None: all), optionally keeping reduced axes as size 1",
)


def _flip(x, axis):
    return getitem(x, (slice(None),) * axis + (slice(None, None, -1),))


cumsum_axis = defprimitive(
    "cumsum",
    lambda x, axis: np.cumsum(x, axis=axis),
    vjp={0: lambda g, ans, x, axis: _flip(cumsum_axis(_flip(g, axis), axis), axis)},
    jvp={0: lambda t, ans, x, axis: cumsum_axis(t, axis)},
    doc="running sums along an axis (the axis given explicitly, >= 0)",
    batch=batchrules.along_axis(None),
)


def cumsum(x, axis=None):
    """Running sums along ``axis``; None sums the flattened array, as ``np.cumsum``."""
    if axis is None:
        return cumsum_axis(reshape(x, (-1,)), 0)
    return cumsum_axis(x, normalize_axis(axis, len(shape_of(x)))[0])


def var(x, axis=None, ddof=0, keepdims: bool = False):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom, as ``np.var``."""
    shape = shape_of(x)
    count = int(np.prod([shape[a] for a in normalize_axis(axis, len(shape))]))
    centred = x - mean(x, axis=axis, keepdims=True)
    return sum(centred * centred, axis=axis, keepdims=keepdims) / (count - ddof)


def std(x, axis=None, ddof=0, keepdims: bool = False):
    """Standard deviation, sqrt of :func:`var` (infinite derivative where it is 0)."""
    return var(x, axis=axis, ddof=ddof, keepdims=keepdims) ** 0.5
