"""Products: matmul (with NumPy's 1-D and batch rules), vecdot, and dot on top of matmul."""

from __future__ import annotations

import numpy as np

from ..core import shape_of
from .registry import defprimitive
from .shapes import expand_dims, squeeze, swapaxes


def _ndim(x) -> int:
    return len(shape_of(x))


def _matmul_vjp_a(g, ans, a, b):
    if _ndim(b) == 1:
        return g * b if _ndim(a) == 1 else expand_dims(g, -1) * b
    if _ndim(a) == 1:
        # (k,) @ (..., k, m): the cotangent is b @ g, summed over b's batch axes by the tracer
        return matmul(b, g) if _ndim(b) == 2 else squeeze(matmul(b, expand_dims(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _matmul_vjp_b(g, ans, a, b):
    if _ndim(a) == 1:
        return g * a if _ndim(b) == 1 else expand_dims(a, -1) * expand_dims(g, -2)
    if _ndim(b) == 1:
        # (..., n, k) @ (k,): the cotangent is aᵀg; g @ a is the same product without a transpose
        return (
            matmul(g, a)
            if _ndim(a) == 2
            else squeeze(matmul(swapaxes(a, -1, -2), expand_dims(g, -1)), -1)
        )
    return matmul(swapaxes(a, -1, -2), g)


matmul = defprimitive(
    "matmul",
    np.matmul,
    vjp=[_matmul_vjp_a, _matmul_vjp_b],
    jvp=[lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t)],
    doc="a @ b: matrix product, with NumPy's rules for 1-D operands and batch axes",
)


def _vecdot(a, b):
    """Σₖ a[..., k]·b[..., k], never conjugating (np.vecdot conjugates a complex ``a``)."""
    if hasattr(np, "vecdot") and not (np.iscomplexobj(a) or np.iscomplexobj(b)):
        return np.vecdot(a, b)  # NumPy >= 2.0: a gufunc, one pass without the a * b temporary
    return np.einsum("...k,...k->...", a, b)


vecdot = defprimitive(
    "vecdot",
    _vecdot,
    vjp=[
        lambda g, ans, a, b: expand_dims(g, -1) * b,
        lambda g, ans, a, b: expand_dims(g, -1) * a,
    ],
    jvp=[lambda t, ans, a, b: vecdot(t, b), lambda t, ans, a, b: vecdot(a, t)],
    doc="Σₖ a[..., k]·b[..., k]: dot products over the last axis, broadcasting the others "
    "(real arrays); one recorded operation where sum(a * b, axis=-1) takes two",
)


def dot(a, b):
    """np.dot for scalars, vectors and matrices (a product of scalars, else ``a @ b``)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    if _ndim(a) > 2 or _ndim(b) > 2:
        raise TypeError("autodiff.numpy.dot supports up to 2-D operands; use matmul for batches")
    return matmul(a, b)
