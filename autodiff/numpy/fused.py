"""Fused primitives: a layer or a loss that is a few NumPy operations but one node on the tape.

Each is registered like any primitive (forward, a VJP and a JVP rule per argument, a batching
rule) and gives the same values and derivatives as the composite it replaces, in the same
bits where the composite's operations are the same (tests/test_primitives.py checks each one
against its composite): fewer nodes to record and sweep, and fewer temporaries.

- :data:`dense`: ``x @ w + b``, the affine map of a layer (the bias added in place);
- :data:`softmax_nll`: ``logsumexp(z) − Σ y·z`` over ``axis``, the cross-entropy of targets y
  (one-hot or soft) under logits z, VJP in z: g·(softmax(z) − y).
"""

from __future__ import annotations

import weakref

import numpy as np

from . import batchrules
from .elementwise import _plain_float_like, add, exp
from .linalg import _matmul_vjp_a, _matmul_vjp_b, matmul
from .reductions import _kept, _logsumexp, kept_shape, logsumexp, normalize_axis
from .reductions import sum as sum_
from .registry import defprimitive


def _dense(x, w, b):
    """x @ w + b, the sum in place on the product when it has the answer's shape and dtype."""
    out = np.matmul(x, w)
    if type(out) is not np.ndarray:
        return out + b
    if type(b) is np.ndarray:  # the usual case, without np.shape's and np.result_type's wrappers
        fits = b.shape == out.shape[out.ndim - b.ndim :] and (
            b.dtype == out.dtype or np.result_type(out, b) == out.dtype
        )
    else:
        fits = np.shape(b) == out.shape[out.ndim - np.ndim(b) :]
        fits = fits and np.result_type(out, b) == out.dtype
    return np.add(out, b, out=out) if fits else out + b


def _dense_vjp_b(g, ans, x, w, b):
    """g summed to b's shape: by the tracer (as add's cotangent), except for the usual bias of
    a batch of rows (b of shape (m,), g (n, m)), summed here with the call sum_to makes."""
    if type(g) is np.ndarray and g.ndim == 2 and type(b) is np.ndarray and b.shape == g.shape[1:]:
        return np.add.reduce(g, axis=(0,))
    return g


def _dense_batch(prim, args, batched):
    """vmap of dense: matmul's batching rule, then the bias added as an elementwise sum."""
    x, w, b = args
    if batched[0] or batched[1]:
        out = batchrules.matmul(matmul, [x, w], batched[:2])
        return add(*batchrules.align([out, b], [True, batched[2]]))
    return add(*batchrules.align([matmul(x, w), b], [False, True]))


dense = defprimitive(
    "dense",
    _dense,
    vjp=[
        lambda g, ans, x, w, b: _matmul_vjp_a(g, ans, x, w),
        lambda g, ans, x, w, b: _matmul_vjp_b(g, ans, x, w),
        _dense_vjp_b,
    ],
    jvp=[
        lambda t, ans, x, w, b: matmul(t, w),
        lambda t, ans, x, w, b: matmul(x, t),
        lambda t, ans, x, w, b: t,
    ],
    doc="x @ w + b: the affine map of a dense layer as one node (matmul's rules for x and w, "
    "the cotangent summed to b's shape for b)",
    batch=_dense_batch,
)


# The logsumexp each softmax_nll answer was computed with, kept as long as that answer lives
# (keyed by the answer's id, checked against a weak reference to it), so that the VJP in z
# need not compute it again: {id(ans): (weakref to ans, logsumexp with the axis kept)}.
# The tape keeps the answer, so its entry lives until the backward pass is done with it.
_LOGSUMEXP: dict[int, tuple] = {}


def _softmax_nll(z, y, axis=-1):
    """logsumexp(z) − Σ y·z over ``axis`` (the same operations as that composite)."""
    if type(z) is not np.ndarray or not z.ndim:
        return _logsumexp(z, axis=axis) - np.add.reduce(z * y, axis=axis)
    lse = _logsumexp(z, axis=axis, keepdims=True)
    axes = normalize_axis(axis, z.ndim)
    reduced = lse.reshape([n for i, n in enumerate(z.shape) if i not in axes])
    ans = reduced - np.add.reduce(z * y, axis=axis)
    if type(ans) is np.ndarray:
        key = id(ans)
        forget = _LOGSUMEXP.pop
        _LOGSUMEXP[key] = (weakref.ref(ans, lambda _, key=key: forget(key, None)), lse)
    return ans


def _logsumexp_of(ans, z, axis):
    """The logsumexp, axis kept, that ``ans`` = softmax_nll(z) was computed with (recomputed
    when it is not remembered: the same operations, so the same bits)."""
    kept = _LOGSUMEXP.get(id(ans))
    if kept is not None and kept[0]() is ans:
        return kept[1]
    return _logsumexp(z, axis=axis, keepdims=True)


def _softmax(z, axis):
    """softmax(z) = exp(z − logsumexp(z)) over ``axis``, with the primitives the composite's
    logsumexp rule uses (so its derivatives, e.g. in a Hessian-vector product, are the
    composite's too)."""
    return exp(z - _kept(logsumexp(z, axis=axis), z, axis))


def _softmax_minus(g, ans, z, y, axis):
    """g·(softmax(z) − y), g kept on the reduced axis, the terms in the order the composite's
    backward pass adds them (−g·y, then g·softmax). With nothing traced and y of z's shape,
    the same IEEE operations on NumPy directly, g·softmax computed in place."""
    if (
        _plain_float_like(g, z)
        and type(z) is np.ndarray
        and z.dtype == np.float64
        and type(y) is np.ndarray
        and y.shape == z.shape
        and (y.dtype == np.float64 or np.can_cast(y.dtype, np.float64))
    ):
        gk = g.reshape(kept_shape(z.shape, axis))
        out = np.subtract(z, _logsumexp_of(ans, z, axis))
        np.exp(out, out=out)
        np.multiply(gk, out, out=out)  # g·softmax − g·y is −g·y + g·softmax, bit for bit
        return np.subtract(out, np.multiply(gk, y), out=out)
    gk = _kept(g, z, axis)
    return -gk * y + gk * _softmax(z, axis)


def _softmax_nll_batch(prim, args, batched, axis=-1):
    """vmap of softmax_nll: the arguments aligned, the axis counted from the right."""
    z, y = batchrules.align(list(args), batched)
    ndim = max(batchrules.example_ndim(a, b) for a, b in zip(args, batched, strict=True))
    (ax,) = normalize_axis(axis, ndim)
    return prim(z, y, axis=ax - ndim)


softmax_nll = defprimitive(
    "softmax_nll",
    _softmax_nll,
    vjp=[
        lambda g, ans, z, y, axis=-1: _softmax_minus(g, ans, z, y, axis),
        lambda g, ans, z, y, axis=-1: -_kept(g, z, axis) * z,
    ],
    jvp=[
        lambda t, ans, z, y, axis=-1: sum_(t * (_softmax(z, axis) - y), axis=axis),
        lambda t, ans, z, y, axis=-1: -sum_(t * z, axis=axis),
    ],
    doc="logsumexp(z) − Σ y·z over axis: the softmax cross-entropy of targets y under logits "
    "z as one node (VJP in z: g·(softmax(z) − y))",
    batch=_softmax_nll_batch,
)
