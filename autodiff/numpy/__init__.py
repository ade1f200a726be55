"""``import autodiff.numpy as anp``: a NumPy-like namespace of differentiable primitives.

Each primitive is registered once (see :data:`PRIMITIVES`) with its forward
function, its VJP rule and its JVP rule; composites such as ``var``, ``stack``
and ``square`` are written with primitives and need no rules of their own.
Constants (``zeros``, ``arange``, ``pi``...) are NumPy's own.
"""

from numpy import arange, e, eye, float32, float64, inf, linspace, nan, newaxis, ones, pi, zeros

from .. import batching, core
from ..core import unbox
from . import dispatch
from .elementwise import (
    absolute,
    add,
    arctan,
    clip,
    cos,
    cosh,
    divide,
    erf,
    exp,
    expm1,
    gelu,
    hypot,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logistic_nll,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    reciprocal,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    stop_gradient,
    subtract,
    tan,
    tanh,
    where,
)
from .fused import dense, softmax_nll
from .linalg import (
    cholesky,
    dot,
    einsum,
    inner,
    inv,
    logabsdet,
    matmul,
    norm,
    outer,
    ridge,
    slogdet,
    solve,
    tensordot,
    trace,
    vecdot,
)
from .reductions import (
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    std,
    sum,
    var,
)
from .registry import PRIMITIVES
from .shapes import (
    atleast_1d,
    atleast_2d,
    broadcast_to,
    concatenate,
    diag,
    expand_dims,
    flip,
    getitem,
    hstack,
    pad,
    repeat,
    reshape,
    roll,
    sort,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    take,
    take_along_axis,
    tile,
    transpose,
    vstack,
)

abs = absolute  # noqa: A001
true_divide = divide
amax, amin = max, min


class linalg:  # noqa: N801 - a namespace, spelt like numpy.linalg
    """``anp.linalg.solve`` etc., as in NumPy."""

    cholesky, inv, norm, slogdet, solve = (
        staticmethod(cholesky),
        staticmethod(inv),
        staticmethod(norm),
        staticmethod(slogdet),
        staticmethod(solve),
    )


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


dispatch.install()
core.use_shape_ops(add, sum_to, broadcast_to)
core.batch_call = batching.batch_call

__all__ = sorted(
    n for n in dir() if not n.startswith("_") and n not in ("batching", "core", "dispatch")
)
