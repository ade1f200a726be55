"""``import autodiff.numpy as anp``: a NumPy-like namespace of differentiable primitives.

Each primitive is registered once (see :data:`PRIMITIVES`) with its forward
function, its VJP rule and its JVP rule; composites such as ``mean``, ``stack``
and ``softplus`` are written with primitives and need no rules of their own.
Constants (``zeros``, ``arange``, ``pi``...) are NumPy's own.
"""

from numpy import arange, e, eye, float32, float64, inf, linspace, nan, newaxis, ones, pi, zeros

from .. import core
from ..core import unbox
from . import dispatch
from .elementwise import (
    absolute,
    add,
    clip,
    cos,
    divide,
    exp,
    expm1,
    log,
    log1p,
    logaddexp,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    reciprocal,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    square,
    subtract,
    tanh,
    where,
)
from .linalg import dot, matmul, vecdot
from .reductions import logsumexp, max, mean, min, sum
from .registry import PRIMITIVES
from .shapes import (
    broadcast_to,
    concatenate,
    expand_dims,
    getitem,
    reshape,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
)

abs = absolute  # noqa: A001
true_divide = divide


def zeros_like(x, dtype=None):
    """Zeros with x's shape (a constant)."""
    return zeros(core.shape_of(x), dtype=dtype or unbox(x).dtype)


def ones_like(x, dtype=None):
    """Ones with x's shape (a constant)."""
    return ones(core.shape_of(x), dtype=dtype or unbox(x).dtype)


def shape(x) -> tuple:
    """The shape of an array, a traced value or a scalar."""
    return core.shape_of(x)


def ndim(x) -> int:
    """The number of axes of x."""
    return len(core.shape_of(x))


def log_softmax(x, axis=-1):
    """x − logsumexp(x) along ``axis``: log-probabilities of a softmax, stable."""
    return x - logsumexp(x, axis=axis, keepdims=True)


dispatch.install()
core.use_shape_ops(add, sum_to, broadcast_to)

__all__ = sorted(n for n in dir() if not n.startswith("_") and n not in ("core", "dispatch"))
