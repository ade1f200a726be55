"""Products: matmul (with NumPy's 1-D and batch rules), vecdot, and dot on top of matmul."""

from __future__ import annotations

import builtins
import string

import numpy as np

from ..core import shape_of, unbox
from . import batchrules
from .elementwise import absolute, sqrt
from .reductions import max, min, sum  # noqa: A004 - NumPy's names
from .registry import Variadic, defprimitive
from .shapes import (
    _diagonal_index,
    broadcast_to,
    expand_dims,
    getitem,
    reshape,
    squeeze,
    swapaxes,
    transpose,
)


def _ndim(x) -> int:
    return len(shape_of(x))


def _matmul_vjp_a(g, ans, a, b):
    if type(g) is np.ndarray and type(b) is np.ndarray and b.ndim >= 2 and _ndim(a) >= 2:
        # nothing traced: NumPy's own calls, the same as the primitives below make
        return np.matmul(g, b.swapaxes(-1, -2))
    if _ndim(b) == 1:
        return g * b if _ndim(a) == 1 else expand_dims(g, -1) * b
    if _ndim(a) == 1:
        # (k,) @ (..., k, m): the cotangent is b @ g, summed over b's batch axes by the tracer
        return matmul(b, g) if _ndim(b) == 2 else squeeze(matmul(b, expand_dims(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _matmul_vjp_b(g, ans, a, b):
    if type(g) is np.ndarray and type(a) is np.ndarray and a.ndim >= 2 and _ndim(b) >= 2:
        return np.matmul(a.swapaxes(-1, -2), g)  # nothing traced: as below, without dispatch
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
    batch=batchrules.matmul,
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
    batch=batchrules.gufunc(1, 1),
)


def _ridge(x, *, lam=1.0):
    """(λ/2)·Σₖ x[..., k]², as (0.5·λ)·vecdot(x, x) (the same bits)."""
    return (0.5 * lam) * _vecdot(x, x)


ridge = defprimitive(
    "ridge",
    _ridge,
    vjp=[lambda g, ans, x, *, lam=1.0: expand_dims(g * lam, -1) * x],
    jvp=[lambda t, ans, x, *, lam=1.0: lam * vecdot(x, t)],
    doc="(λ/2)·Σₖ x[..., k]² over the last axis (λ the keyword lam, a constant): an L2 "
    "penalty as one recorded operation, VJP λ·g·x",
    batch=batchrules.gufunc(1),
)


def dot(a, b):
    """np.dot for scalars, vectors and matrices (a product of scalars, else ``a @ b``)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    if _ndim(a) > 2 or _ndim(b) > 2:
        raise TypeError("autodiff.numpy.dot supports up to 2-D operands; use matmul for batches")
    return matmul(a, b)


def outer(a, b):
    """Outer product of the flattened a and b: shape (a.size, b.size)."""
    return expand_dims(reshape(a, (-1,)), 1) * expand_dims(reshape(b, (-1,)), 0)


def tensordot(a, b, axes=2):
    """Sum of products over ``axes`` of a and b, as ``np.tensordot`` (via one matmul)."""
    na, nb = len(shape_of(a)), len(shape_of(b))
    if np.ndim(axes) == 0:
        axes_a, axes_b = list(range(na - int(axes), na)), list(range(int(axes)))
    else:
        axes_a, axes_b = axes
        axes_a = [int(i) % na for i in np.atleast_1d(axes_a)]
        axes_b = [int(i) % nb for i in np.atleast_1d(axes_b)]
    free_a = [i for i in range(na) if i not in axes_a]
    free_b = [i for i in range(nb) if i not in axes_b]
    sa, sb = shape_of(a), shape_of(b)
    k = int(np.prod([sa[i] for i in axes_a]))
    a2 = reshape(transpose(a, tuple(free_a + axes_a)), (-1, k))
    b2 = reshape(transpose(b, tuple(axes_b + free_b)), (k, -1))
    return reshape(matmul(a2, b2), tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))


def inner(a, b):
    """Sum of products over the last axes of a and b (a scalar factor: a plain product)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [-1]))


def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """Sum along the ``offset`` diagonal of the axes ``axis1`` and ``axis2``, as ``np.trace``."""
    ndim = _ndim(x)
    a1, a2 = axis1 % ndim, axis2 % ndim
    rest = [i for i in range(ndim) if i not in (a1, a2)]
    moved = transpose(x, (a1, a2, *rest))
    shape = shape_of(moved)
    rows, cols = _diagonal_index(shape[0], shape[1], offset)
    return sum(getitem(moved, (rows, cols)), axis=0)


# ----------------------------------------------------------------------- einsum
def _einsum_parse(subscripts: str, shapes) -> tuple[list[str], str]:
    """Explicit per-operand and output labels, with each ``...`` spelled out in unused letters."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"numpy.einsum: {len(terms)} operands in {subscripts!r} but {len(shapes)} given"
        )
    free = [c for c in string.ascii_letters if c not in subscripts]
    n_ell = builtins.max(
        [
            len(s) - len(t.replace("...", ""))
            for t, s in zip(terms, shapes, strict=True)
            if "..." in t
        ]
        or [0]
    )
    ell = "".join(free[:n_ell])
    spelled = []
    for t, s in zip(terms, shapes, strict=True):
        if "..." in t:
            t = t.replace("...", ell[n_ell - (len(s) - len(t.replace("...", ""))) :])
        if len(t) != len(s):
            raise ValueError(f"numpy.einsum: term {t!r} does not fit an operand of shape {s}")
        spelled.append(t)
    if arrow:
        out = output.replace("...", ell)
    else:
        letters = "".join(spelled)
        out = ell + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        )
    for t in spelled:
        if len(set(t)) != len(t):
            raise TypeError(
                f"numpy.einsum: a label repeated within one operand ({t!r}, a diagonal) has no "
                "derivative rule in autodiff; take the diagonal with np.diag first"
            )
    return spelled, out


def _einsum_forward(spec, *operands):
    return np.einsum(spec, *operands)


def _einsum_vjp(k, g, ans, spec, *operands):
    """Cotangent of operand k: g contracted with the other operands onto k's labels; labels of
    k found nowhere else (summed over k alone) come back by broadcasting."""
    terms, out = spec.split("->")[0].split(","), spec.split("->")[1]
    mine = terms[k]
    others = [t for j, t in enumerate(terms) if j != k]
    known = set(out).union(*others)
    kept = "".join(c for c in mine if c in known)
    spec_k = ",".join([out, *others]) + "->" + kept
    piece = einsum_spec(spec_k, g, *[x for j, x in enumerate(operands) if j != k])
    if kept == mine:
        return piece
    sizes = dict(zip(mine, shape_of(operands[k]), strict=True))
    piece = reshape(piece, tuple(sizes[c] if c in kept else 1 for c in mine))
    return broadcast_to(piece, shape_of(operands[k]))


def _einsum_jvp(k, t, ans, spec, *operands):
    return einsum_spec(spec, *[t if j == k else x for j, x in enumerate(operands)])


einsum_spec = defprimitive(
    "einsum",
    _einsum_forward,
    vjp=Variadic(1, _einsum_vjp),
    jvp=Variadic(1, _einsum_jvp),
    doc="np.einsum with explicit subscripts 'ab,bc->ac' (spec first, then the operands)",
    batch=batchrules.einsum,
)


def einsum(subscripts: str, *operands, optimize=False):
    """Einstein summation, as ``np.einsum`` (string subscripts; no label repeated in one
    operand). ``optimize`` is accepted and ignored: the contraction is done by NumPy."""
    if not isinstance(subscripts, str):
        raise TypeError("numpy.einsum: only the string form of the subscripts is supported")
    terms, out = _einsum_parse(subscripts, [shape_of(x) for x in operands])
    return einsum_spec(",".join(terms) + "->" + out, *operands)


# ----------------------------------------------------------------- linear systems
def _mT(x):
    return swapaxes(x, -1, -2)


solve_matrix = defprimitive(
    "solve",
    np.linalg.solve,
    vjp=[
        lambda g, ans, a, b: -matmul(solve_matrix(_mT(a), g), _mT(ans)),
        lambda g, ans, a, b: solve_matrix(_mT(a), g),
    ],
    jvp=[
        lambda t, ans, a, b: -solve_matrix(a, matmul(t, ans)),
        lambda t, ans, a, b: solve_matrix(a, t),
    ],
    doc="x with a @ x = b, for a (..., n, n) and b (..., n, k)",
    batch=batchrules.gufunc(2, 2),
)


def solve(a, b):
    """The solution x of a @ x = b, as ``np.linalg.solve`` (b of shape (n,) or (..., n, k))."""
    if _ndim(b) == 1:
        return squeeze(solve_matrix(a, expand_dims(b, -1)), -1)
    return solve_matrix(a, b)


inv = defprimitive(
    "inv",
    np.linalg.inv,
    vjp=[lambda g, ans, a: -matmul(_mT(ans), matmul(g, _mT(ans)))],
    jvp=[lambda t, ans, a: -matmul(ans, matmul(t, ans))],
    doc="the inverse of a square matrix (or a batch of them)",
    batch=batchrules.gufunc(2),
)


def _lower_half(n: int):
    """Mask Φ of the Cholesky rules: the strict lower triangle, and 1/2 on the diagonal."""
    return np.tril(np.ones((n, n))) - 0.5 * np.eye(n)


def _cholesky_vjp(g, ans, a):
    n = shape_of(a)[-1]
    p = _lower_half(n) * matmul(_mT(ans), g)
    s = _mT(solve_matrix(_mT(ans), _mT(solve_matrix(_mT(ans), p))))
    return 0.5 * (s + _mT(s))


def _cholesky_jvp(t, ans, a):
    n = shape_of(a)[-1]
    t = 0.5 * (t + _mT(t))
    inner_ = _mT(solve_matrix(ans, _mT(solve_matrix(ans, t))))
    return matmul(ans, _lower_half(n) * inner_)


cholesky = defprimitive(
    "cholesky",
    np.linalg.cholesky,
    vjp=[_cholesky_vjp],
    jvp=[_cholesky_jvp],
    doc="lower-triangular L with a = L Lᵀ, a symmetric positive definite (derivatives are "
    "taken for symmetric perturbations of a)",
    batch=batchrules.gufunc(2),
)

logabsdet = defprimitive(
    "logabsdet",
    lambda a: np.linalg.slogdet(a)[1],
    vjp=[lambda g, ans, a: expand_dims(expand_dims(g, -1), -1) * _mT(inv(a))],
    jvp=[lambda t, ans, a: sum(_mT(inv(a)) * t, axis=(-2, -1))],
    doc="log |det a| of a square matrix (or a batch of them)",
    batch=batchrules.gufunc(2),
)


def slogdet(a):
    """(sign, log |det a|) as ``np.linalg.slogdet``; the sign is a constant."""
    return np.linalg.slogdet(unbox(a))[0], logabsdet(a)


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002 - NumPy's name
    """Vector or matrix norm, as ``np.linalg.norm``: vector ord None/2, 1, inf, -inf and
    p > 0; matrix ord None/'fro', 1, -1, inf, -inf (2, -2 and 'nuc' are not supported)."""
    ndim = _ndim(x)
    if axis is None and (ord is None or ndim == 1):
        axes = tuple(range(ndim))
        if ord is None or ndim != 1:
            return sqrt(sum(x * x, axis=axes, keepdims=keepdims))
        axis = 0
    elif axis is None:
        axis = (0, 1) if ndim == 2 else None
    if axis is None:
        raise ValueError("numpy.linalg.norm: give axis for an ord on arrays of more than 2 axes")
    if np.ndim(axis) == 0 or len(axis) == 1:
        a = int(np.ravel(axis)[0])
        if ord is None or ord == 2:
            return sqrt(sum(x * x, axis=a, keepdims=keepdims))
        if ord == np.inf:
            return max(absolute(x), axis=a, keepdims=keepdims)
        if ord == -np.inf:
            return min(absolute(x), axis=a, keepdims=keepdims)
        if isinstance(ord, (int, float)) and ord > 0:
            return sum(absolute(x) ** ord, axis=a, keepdims=keepdims) ** (1.0 / ord)
    else:
        r, c = (int(i) % ndim for i in axis)
        if ord is None or ord == "fro":
            return sqrt(sum(x * x, axis=(r, c), keepdims=keepdims))
        if ord in (1, -1, np.inf, -np.inf):
            along, across = (r, c) if ord in (1, -1) else (c, r)
            sums = sum(absolute(x), axis=along, keepdims=True)
            pick = max if ord > 0 else min
            out = pick(sums, axis=across, keepdims=True)
            return out if keepdims else squeeze(out, (r, c))
    raise TypeError(f"numpy.linalg.norm: ord={ord!r} has no derivative rule in autodiff")
