"""Elementwise primitives (NumPy broadcasting rules apply to every binary one).

A rule may return a cotangent of the broadcast shape: the tracer sums it back to
each argument's own shape.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from ..core import Box, shape_of, unbox
from . import batchrules
from .registry import defprimitive


def _unary(name: str, fun, deriv, doc: str):
    """A unary primitive whose VJP and JVP are both 'multiply by deriv(ans, x)'."""
    return defprimitive(
        name,
        fun,
        vjp=[lambda g, ans, x: g * deriv(ans, x)],
        jvp=[lambda t, ans, x: t * deriv(ans, x)],
        doc=doc,
        batch=batchrules.elementwise,
    )


def _zero(g, ans, *args, **kwargs):
    """Rule of a piecewise-constant function: its derivative is zero wherever it exists."""
    return np.zeros(shape_of(ans))


# ----------------------------------------------------------------- arithmetic
negative = defprimitive(
    "negative",
    np.negative,
    vjp=[lambda g, ans, x: -g],
    jvp=[lambda t, ans, x: -t],
    doc="-x",
    batch=batchrules.elementwise,
)
add = defprimitive(
    "add",
    np.add,
    vjp=[lambda g, ans, x, y: g, lambda g, ans, x, y: g],
    jvp=[lambda t, ans, x, y: t, lambda t, ans, x, y: t],
    doc="x + y",
    batch=batchrules.elementwise,
)
subtract = defprimitive(
    "subtract",
    np.subtract,
    vjp=[lambda g, ans, x, y: g, lambda g, ans, x, y: -g],
    jvp=[lambda t, ans, x, y: t, lambda t, ans, x, y: -t],
    doc="x - y",
    batch=batchrules.elementwise,
)
multiply = defprimitive(
    "multiply",
    np.multiply,
    vjp=[lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x],
    jvp=[lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t],
    doc="x * y",
    batch=batchrules.elementwise,
)
divide = defprimitive(
    "divide",
    np.divide,
    vjp=[lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y],
    jvp=[lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y],
    doc="x / y",
    batch=batchrules.elementwise,
)


def _log_base(x):
    """log(x) where x > 0, else 0: the factor in d(x**y)/dy = x**y log x."""
    positive = unbox(x) > 0
    return where(positive, log(where(positive, x, 1.0)), 0.0)


power = defprimitive(
    "power",
    np.power,
    vjp=[
        lambda g, ans, x, y: g * y * x ** (y - 1),
        lambda g, ans, x, y: g * ans * _log_base(x),
    ],
    jvp=[
        lambda t, ans, x, y: t * y * x ** (y - 1),
        lambda t, ans, x, y: t * ans * _log_base(x),
    ],
    doc="x ** y",
    batch=batchrules.elementwise,
)

# ------------------------------------------------------------ transcendental
exp = _unary("exp", np.exp, lambda ans, x: ans, "exp(x)")
log = _unary("log", np.log, lambda ans, x: 1.0 / x, "natural log")
log1p = _unary("log1p", np.log1p, lambda ans, x: 1.0 / (1.0 + x), "log(1 + x), accurate near 0")
expm1 = _unary("expm1", np.expm1, lambda ans, x: ans + 1.0, "exp(x) - 1, accurate near 0")
sqrt = _unary("sqrt", np.sqrt, lambda ans, x: 0.5 / ans, "square root")
sin = _unary("sin", np.sin, lambda ans, x: cos(x), "sine (radians)")
cos = _unary("cos", np.cos, lambda ans, x: -sin(x), "cosine (radians)")


def _tanh_grad(g, ans, x):
    """g · (1 − tanh²(x)), on one buffer when nothing is traced (the same operations)."""
    if _plain_float_like(ans, g, x) and shape_of(g) == ans.shape:
        s = np.multiply(ans, ans)
        np.subtract(1.0, s, out=s)
        return np.multiply(g, s, out=s)
    return g * (1.0 - ans * ans)


tanh = defprimitive(
    "tanh",
    np.tanh,
    vjp=[_tanh_grad],
    jvp=[_tanh_grad],
    doc="hyperbolic tangent",
    batch=batchrules.elementwise,
)
tan = _unary("tan", np.tan, lambda ans, x: 1.0 + ans * ans, "tangent (radians)")
sinh = _unary("sinh", np.sinh, lambda ans, x: cosh(x), "hyperbolic sine")
cosh = _unary("cosh", np.cosh, lambda ans, x: sinh(x), "hyperbolic cosine")
arctan = _unary("arctan", np.arctan, lambda ans, x: 1.0 / (1.0 + x * x), "inverse tangent")
log2 = _unary("log2", np.log2, lambda ans, x: 1.0 / (x * np.log(2.0)), "base-2 log")
log10 = _unary("log10", np.log10, lambda ans, x: 1.0 / (x * np.log(10.0)), "base-10 log")
erf = _unary(
    "erf",
    scipy.special.erf,
    lambda ans, x: (2.0 / np.sqrt(np.pi)) * exp(-(x * x)),
    "the error function (2/√π) ∫₀ˣ exp(−t²) dt",
)


def _gelu(x):
    """x Φ(x), Φ the standard normal CDF (the exact GELU, not the tanh approximation)."""
    return 0.5 * x * (1.0 + scipy.special.erf(x / np.sqrt(2.0)))


gelu = _unary(
    "gelu",
    _gelu,
    lambda ans, x: 0.5 * (1.0 + erf(x / np.sqrt(2.0))) + x * exp(-0.5 * x * x) / np.sqrt(2 * np.pi),
    "x Φ(x), Φ the standard normal CDF (exact GELU); derivative Φ(x) + x φ(x)",
)
stop_gradient = defprimitive(
    "stop_gradient",
    lambda x: x,
    vjp=[lambda g, ans, x: np.zeros(shape_of(x))],
    jvp=[lambda t, ans, x: np.zeros(shape_of(ans))],
    doc="x itself, with derivative zero: a value treated as a constant by every derivative",
    batch=batchrules.elementwise,
)
hypot = defprimitive(
    "hypot",
    np.hypot,
    vjp=[lambda g, ans, x, y: g * x / ans, lambda g, ans, x, y: g * y / ans],
    jvp=[lambda t, ans, x, y: t * x / ans, lambda t, ans, x, y: t * y / ans],
    doc="sqrt(x² + y²) without overflow",
    batch=batchrules.elementwise,
)


def _sigmoid(x):
    """1 / (1 + exp(−x)), in place on one float64 buffer: 3x faster than scipy's expit on
    large arrays (NumPy's exp is vectorized). Within 2 ulps of expit for x ≥ −700; exp(−x) is
    capped at e⁷⁰⁰ so that it never overflows, so below −700 the answer stays ≈ 1e-304 instead
    of shrinking to 0 (an absolute error under 1e-303)."""
    if type(x) is not np.ndarray or x.dtype != np.float64 or not x.ndim:
        return scipy.special.expit(x)
    out = np.negative(x)
    np.minimum(out, 700.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


sigmoid = _unary("sigmoid", _sigmoid, lambda ans, x: ans * (1.0 - ans), "1 / (1 + exp(-x)), stable")
absolute = _unary("absolute", np.abs, lambda ans, x: sign(x), "|x|; derivative sign(x), 0 at 0")
sign = defprimitive(
    "sign",
    np.sign,
    vjp=[_zero],
    jvp=[_zero],
    doc="sign(x); derivative 0",
    batch=batchrules.elementwise,
)


def _logaddexp_partial(ans, x):
    return exp(x - ans)


def _logaddexp(x, y):
    """log(exp(x) + exp(y)) = max + log1p(exp(min − max)), NumPy's formula on vectorized
    ufuncs: np.logaddexp calls libm per element, 4-5x slower at 2k elements (NumPy 2.4,
    x86-64); the same to rounding (an ulp or two of the terms). logaddexp(0, z) has
    _softplus's bits."""
    big = np.maximum(x, y)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.minimum(x, y) - big  # ≤ 0; NaN for equal infinities (and NaN inputs)
        out = big + np.log1p(np.exp(d))
    if np.isnan(d).any():  # equal infinities are themselves (NumPy: x + log 2)
        out = np.where(np.isnan(d) & (x == y), big, out)
    return out


logaddexp = defprimitive(
    "logaddexp",
    _logaddexp,
    vjp=[
        lambda g, ans, x, y: g * _logaddexp_partial(ans, x),
        lambda g, ans, x, y: g * _logaddexp_partial(ans, y),
    ],
    jvp=[
        lambda t, ans, x, y: t * _logaddexp_partial(ans, x),
        lambda t, ans, x, y: t * _logaddexp_partial(ans, y),
    ],
    doc="log(exp(x) + exp(y)), stable",
    batch=batchrules.elementwise,
)


# ------------------------------------------------------- piecewise selections
def _share(x, y, wins):
    """Weight of x in a max/min of (x, y): 1 where it wins, 1/2 at a tie, else 0 (a constant)."""
    x, y = unbox(x), unbox(y)
    return np.where(wins(x, y), 1.0, np.where(x == y, 0.5, 0.0))


def _selection(name: str, fun, wins, doc: str):
    return defprimitive(
        name,
        fun,
        vjp=[
            lambda g, ans, x, y: g * _share(x, y, wins),
            lambda g, ans, x, y: g * _share(y, x, wins),
        ],
        jvp=[
            lambda t, ans, x, y: t * _share(x, y, wins),
            lambda t, ans, x, y: t * _share(y, x, wins),
        ],
        doc=doc,
        batch=batchrules.elementwise,
    )


maximum = _selection("maximum", np.maximum, np.greater, "elementwise max; ties share the gradient")
minimum = _selection("minimum", np.minimum, np.less, "elementwise min; ties share the gradient")

_where = defprimitive(
    "where",
    np.where,
    vjp={
        1: lambda g, ans, c, x, y: _where(c, g, 0.0),
        2: lambda g, ans, c, x, y: _where(c, 0.0, g),
    },
    jvp={
        1: lambda t, ans, c, x, y: _where(c, t, 0.0),
        2: lambda t, ans, c, x, y: _where(c, 0.0, t),
    },
    doc="x where condition else y; the condition is a constant",
    batch=batchrules.elementwise,
)


def where(condition, x, y):
    """Elementwise ``x if condition else y`` (broadcasting); differentiable in x and y."""
    return _where(unbox(condition), x, y)


def _clip_owner(x, lo, hi):
    """Which argument np.clip's answer min(max(x, lo), hi) comes from, elementwise, as
    constants (x_wins, lo_wins, hi_wins): hi wins wherever max(x, lo) > hi (so everywhere when
    lo > hi, where NumPy returns hi), x wins inside [lo, hi] (bounds included), lo below it."""
    x, lo, hi = unbox(x), unbox(lo), unbox(hi)
    hi_wins = np.maximum(x, lo) > hi
    x_wins = (x >= lo) & ~hi_wins
    return x_wins, ~hi_wins & ~x_wins, hi_wins


clip_args = defprimitive(
    "clip",
    np.clip,
    vjp=[
        lambda g, ans, x, lo, hi: g * _clip_owner(x, lo, hi)[0],
        lambda g, ans, x, lo, hi: g * _clip_owner(x, lo, hi)[1],
        lambda g, ans, x, lo, hi: g * _clip_owner(x, lo, hi)[2],
    ],
    jvp=[
        lambda t, ans, x, lo, hi: t * _clip_owner(x, lo, hi)[0],
        lambda t, ans, x, lo, hi: t * _clip_owner(x, lo, hi)[1],
        lambda t, ans, x, lo, hi: t * _clip_owner(x, lo, hi)[2],
    ],
    doc="min(max(x, lo), hi) elementwise, as np.clip (hi everywhere when lo > hi)",
    batch=batchrules.elementwise,
)


def clip(a, a_min=None, a_max=None, *, min=None, max=None):  # noqa: A002 - NumPy's names
    """``a`` limited to [a_min, a_max], as ``np.clip`` (``min``/``max`` are NumPy 2's spelling;
    a None bound is no bound; a_max wins everywhere if a_min > a_max)."""
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if lo is None and hi is None:
        raise TypeError("numpy.clip: give at least one of the bounds a_min and a_max (both None)")
    return clip_args(a, -np.inf if lo is None else lo, np.inf if hi is None else hi)


def _softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(−|x|)): stable, 3x faster than logaddexp."""
    if type(x) is not np.ndarray or x.dtype != np.float64 or not x.ndim:
        return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    u = np.abs(x)  # one buffer, reused in place: on large arrays fresh temporaries cost more
    np.negative(u, out=u)
    np.exp(u, out=u)
    np.log1p(u, out=u)
    u += np.maximum(x, 0.0)
    return u


def _plain_float_like(ans, *arrays) -> bool:
    """True when every one of ``arrays`` is untraced and ``ans`` is a float64 array with at
    least one axis: then a rule may compute in place on one fresh buffer of ``ans``'s shape
    (the same IEEE operations in the same order as the primitives, so the same bits)."""
    for a in arrays:
        if type(a) is Box:
            return False
    return type(ans) is np.ndarray and ans.dtype == np.float64 and ans.ndim > 0


def _softplus_grad(g, ans, x):
    """g · sigmoid(x) = g · (−expm1(−softplus(x))): one transcendental on the answer."""
    if _plain_float_like(ans, g, x) and shape_of(g) == ans.shape:
        s = np.negative(ans)
        np.expm1(s, out=s)
        np.negative(s, out=s)
        return np.multiply(g, s, out=s)
    return g * -expm1(-ans)


# d softplus/dx = sigmoid(x) = 1 − exp(−softplus(x)) = −expm1(−ans): one transcendental on the
# answer already computed, half the cost of sigmoid(x), and accurate at both ends. (NumPy's
# np.logaddexp(0, x) gives the same values but, measured with NumPy 2.4 on x86-64, is 5-8x
# slower than _softplus at 2k-100k elements, so it is not the kernel here; the logaddexp
# primitive computes NumPy's formula with vectorized ufuncs instead, see _logaddexp.)
softplus = defprimitive(
    "softplus",
    _softplus,
    vjp=[_softplus_grad],
    jvp=[_softplus_grad],
    doc="log(1 + exp(x)), stable",
    batch=batchrules.elementwise,
)


def _logistic_nll(z, y):
    """softplus(z) − y·z, on one buffer when z is a float64 array of the answer's shape."""
    out = _softplus(z)
    yz = np.multiply(y, z)
    if type(out) is np.ndarray and out.shape == yz.shape:
        return np.subtract(out, yz, out=out)
    return out - yz


def _nll_dz(g, ans, z, y):
    """g · (sigmoid(z) − y): the residual of the logistic model, computed once."""
    if _plain_float_like(ans, g, z, y) and z.shape == ans.shape and shape_of(g) == ans.shape:
        s = _sigmoid(z)
        np.subtract(s, y, out=s)
        return np.multiply(g, s, out=s)
    return g * (sigmoid(z) - y)


logistic_nll = defprimitive(
    "logistic_nll",
    _logistic_nll,
    vjp=[_nll_dz, lambda g, ans, z, y: -(g * z)],
    jvp=[_nll_dz, lambda t, ans, z, y: -(t * z)],
    doc="softplus(z) − y·z: the negative log-likelihood of label y ∈ [0, 1] under logit z, one "
    "node on the tape (VJP in z: g·(sigmoid(z) − y))",
    batch=batchrules.elementwise,
)


# ------------------------------------------------- composites (no new rules)


def square(x):
    """x * x."""
    return x * x


def reciprocal(x):
    """1 / x."""
    return 1.0 / x
