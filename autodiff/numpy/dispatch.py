"""How traced values meet Python operators and plain NumPy.

Operators on a :class:`~autodiff.core.Box` call the primitives. Plain NumPy
functions called on a box are sent to the matching primitive through NumPy's
``__array_ufunc__`` / ``__array_function__`` protocols; a NumPy function with no
derivative rule raises a TypeError naming it, so a derivative is never dropped
silently. Functions whose output carries no derivative (comparisons, ``isfinite``,
``shape``) are evaluated on the plain values.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import scipy.special

from .. import batching
from ..core import BatchNode, Box, plain, shape_of, unbox
from . import elementwise as ew
from . import linalg, reductions, shapes

UFUNCS = {
    np.add: ew.add,
    np.subtract: ew.subtract,
    np.multiply: ew.multiply,
    np.divide: ew.divide,
    np.power: ew.power,
    np.negative: ew.negative,
    np.positive: lambda x: x,
    np.exp: ew.exp,
    np.log: ew.log,
    np.log1p: ew.log1p,
    np.expm1: ew.expm1,
    np.sqrt: ew.sqrt,
    np.square: ew.square,
    np.reciprocal: ew.reciprocal,
    np.sin: ew.sin,
    np.cos: ew.cos,
    np.tanh: ew.tanh,
    np.tan: ew.tan,
    np.sinh: ew.sinh,
    np.cosh: ew.cosh,
    np.arctan: ew.arctan,
    np.log2: ew.log2,
    np.log10: ew.log10,
    np.hypot: ew.hypot,
    np.absolute: ew.absolute,
    np.sign: ew.sign,
    np.maximum: ew.maximum,
    np.minimum: ew.minimum,
    np.logaddexp: ew.logaddexp,
    np.matmul: linalg.matmul,
    scipy.special.expit: ew.sigmoid,
    scipy.special.erf: ew.erf,
}
if hasattr(np, "vecdot"):  # a ufunc from NumPy 2.0 on
    UFUNCS[np.vecdot] = linalg.vecdot

# Their outputs are piecewise constant or boolean: no derivative to lose.
CONSTANT_UFUNCS = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.signbit, np.floor, np.ceil, np.rint, np.trunc,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert,
}  # fmt: skip

FUNCTIONS = {
    np.sum: reductions.sum,
    np.mean: reductions.mean,
    np.max: reductions.max,
    np.min: reductions.min,
    np.dot: linalg.dot,
    np.transpose: shapes.transpose,
    np.reshape: shapes.reshape,
    np.expand_dims: shapes.expand_dims,
    np.squeeze: shapes.squeeze,
    np.broadcast_to: shapes.broadcast_to,
    np.concatenate: shapes.concatenate,
    np.stack: shapes.stack,
    np.swapaxes: shapes.swapaxes,
    np.where: ew.where,
    np.clip: ew.clip,
    np.amax: reductions.max,
    np.amin: reductions.min,
    np.prod: reductions.prod,
    np.cumsum: reductions.cumsum,
    np.var: reductions.var,
    np.std: reductions.std,
    np.einsum: linalg.einsum,
    np.outer: linalg.outer,
    np.inner: linalg.inner,
    np.tensordot: linalg.tensordot,
    np.trace: linalg.trace,
    np.linalg.norm: linalg.norm,
    np.linalg.solve: linalg.solve,
    np.linalg.inv: linalg.inv,
    np.linalg.cholesky: linalg.cholesky,
    np.linalg.slogdet: linalg.slogdet,
    np.take_along_axis: shapes.take_along_axis,
    np.take: shapes.take,
    np.tile: shapes.tile,
    np.repeat: shapes.repeat,
    np.pad: shapes.pad,
    np.flip: shapes.flip,
    np.roll: shapes.roll,
    np.split: shapes.split,
    np.hstack: shapes.hstack,
    np.vstack: shapes.vstack,
    np.diag: shapes.diag,
    np.sort: shapes.sort,
    np.atleast_1d: shapes.atleast_1d,
    np.atleast_2d: shapes.atleast_2d,
}

CONSTANT_FUNCTIONS = {
    np.shape, np.ndim, np.size, np.result_type, np.zeros_like, np.ones_like, np.empty_like,
    np.full_like, np.argmax, np.argmin, np.argsort, np.isclose, np.allclose, np.array_equal,
    np.all, np.any, np.count_nonzero,
}  # fmt: skip


def _name(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    if module.startswith("numpy") and (module == "numpy" or "._" in module or "core" in module):
        module = "numpy"  # numpy._core.fromnumeric.sum is known to users as numpy.sum
    return f"{module}.{func.__name__}"


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    if ufunc in CONSTANT_UFUNCS:
        values = [unbox(x) for x in inputs]
        if method == "__call__" and any(type(v) is Box for v in values):  # batched by vmap
            return batching.elementwise_constant(ufunc, values, kwargs)
        return getattr(ufunc, method)(*values, **kwargs)
    if method != "__call__" or ufunc not in UFUNCS:
        what = _name(ufunc) + ("" if method == "__call__" else f".{method}")
        raise TypeError(
            f"{what} has no derivative rule in autodiff; use a function of autodiff.numpy "
            f"({', '.join(sorted(u.__name__ for u in UFUNCS))} are supported as ufuncs)"
        )
    if kwargs:
        raise TypeError(
            f"{_name(ufunc)} on a traced value takes no keyword arguments (got "
            f"{', '.join(sorted(kwargs))})"
        )
    return UFUNCS[ufunc](*inputs)


SHAPE_FUNCTIONS = {
    np.shape: lambda x: shape_of(x),
    np.ndim: lambda x: len(shape_of(x)),
    np.size: lambda x, axis=None: int(np.prod(shape_of(x))) if axis is None else shape_of(x)[axis],
}


def array_function(self, func, types, args, kwargs):
    if func in SHAPE_FUNCTIONS:  # one example's shape under vmap
        return SHAPE_FUNCTIONS[func](*args, **kwargs)
    if func in CONSTANT_FUNCTIONS:
        return batching.constant_map(func, [unbox(a) for a in args], kwargs)
    if func not in FUNCTIONS:
        raise TypeError(
            f"{_name(func)} has no derivative rule in autodiff; write it with autodiff.numpy "
            "functions, or call it on autodiff.unbox(x) if no derivative is wanted"
        )
    return call_checked(_name(func), FUNCTIONS[func], args, kwargs)


# Keywords NumPy functions take that change nothing at these values: accepted and dropped.
_NEUTRAL = {"out": None, "where": True, "casting": "same_kind", "order": "K", "subok": True}
_SIGNATURES: dict = {}


def _neutral(key, value, args) -> bool:
    if key == "dtype":
        if value is None:
            return True
        first = args[0] if args else None
        first = first[0] if isinstance(first, (list, tuple)) and first else first
        try:
            return np.dtype(value) == np.result_type(unbox(first))
        except TypeError:
            return False
    if key not in _NEUTRAL:
        return False
    want = _NEUTRAL[key]
    return value is want if want is None or isinstance(want, bool) else value == want


def call_checked(name: str, impl, args, kwargs):
    """``impl(*args, **kwargs)``, or a TypeError naming the NumPy function ``name`` and the
    argument it cannot take (instead of an error from inside autodiff's own helpers)."""
    kwargs = {k: v for k, v in kwargs.items() if not _neutral(k, v, args)}
    sig = _SIGNATURES.get(impl)
    if sig is None:  # a primitive takes *args, **kwargs: its forward function says what it takes
        sig = _SIGNATURES[impl] = inspect.signature(getattr(impl, "fun", impl))
    try:
        sig.bind(*args, **kwargs)
    except TypeError:
        unknown = [k for k in kwargs if k not in sig.parameters]
        if unknown:
            what = ", ".join(f"{k}={kwargs[k]!r}" for k in unknown)
            raise TypeError(
                f"{name} on a traced value does not support {what}; it takes {_parameters(sig)}"
            ) from None
        given = len(args) - (1 if name.startswith("numpy.ndarray.") else 0)  # not self
        raise TypeError(
            f"{name} on a traced value takes {_parameters(sig)}; got {given} positional "
            f"argument(s) and {', '.join(kwargs) or 'no keywords'}"
        ) from None
    return impl(*args, **kwargs)


def _parameters(sig) -> str:
    names = [
        p.name if p.kind is not p.VAR_POSITIONAL else "*" + p.name
        for p in sig.parameters.values()
        if p.name != "self"
    ]
    return "(" + ", ".join(names) + ")"


def _library_caller() -> str | None:
    """The public name of the outermost SciPy function (or NumPy Python function) on the call
    stack that called into this one, e.g. 'scipy.special.logsumexp'; None if there is none."""
    frame, found = sys._getframe(2), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        root = module.split(".")[0]
        if root in ("scipy", "numpy"):
            public = ".".join(p for p in module.split(".") if not p.startswith("_"))
            if root == "numpy" and public in ("numpy.fromnumeric", "numpy.numeric"):
                public = "numpy"  # numpy._core.fromnumeric.take is numpy.take
            found = f"{public}.{frame.f_code.co_name}"
        elif root != "autodiff" or found:
            break
        frame = frame.f_back
    return found


def _batched(x) -> bool:
    while type(x) is Box:
        if type(x.node) is BatchNode:
            return True
        x = x.value
    return False


def _to_array(self, dtype=None, copy=None):
    if np.result_type(plain(self)).kind in "iub" and not _batched(self):
        # An integer (an index, a label) has no derivative to drop: table[y] and np.take on a
        # traced label work (under autodiff.replay, reading it makes the program traced).
        value = np.asarray(unbox(self))
        return value if dtype is None else value.astype(dtype)
    if np.result_type(plain(self)).kind in "iu":
        raise TypeError(
            "a plain NumPy array indexed by an index batched by autodiff.vmap (table[i], "
            "np.take(table, i)): NumPy indexes the table itself and cannot return one answer "
            "per example; write autodiff.numpy.take(table, i), or index a traced array"
        )
    caller = _library_caller()
    if caller is not None:
        name = caller.rsplit(".", 1)[1]
        hint = f"autodiff.numpy.{name}" if name in _ANP_NAMES else "autodiff.numpy functions"
        raise TypeError(
            f"{caller} has no derivative rule in autodiff (it turns a traced value into a plain "
            f"array, which would drop its derivative); use {hint} instead"
        )
    raise TypeError(
        "a traced value cannot be turned into a plain NumPy array: that would drop its "
        "derivative. Use autodiff.numpy functions (or plain NumPy ufuncs) on it, or "
        "autodiff.unbox(x) if you really want the value without its derivative (to index a "
        "plain NumPy array with a traced or vmapped index i, write autodiff.numpy.take(array, i))."
    )


_ANP_NAMES = {"logsumexp", "softmax", "log_softmax", "erf", "expit", "norm", "solve", "inv", "take"}


def _method(name: str, impl):
    """An ndarray method on boxes: ``x.name(...)`` is ``impl(x, ...)``, its arguments checked."""
    return lambda self, *args, **kwargs: call_checked(
        f"numpy.ndarray.{name}", impl, (self, *args), kwargs
    )


def _astype(self, dtype, copy=True):
    dt = np.dtype(dtype)
    if dt == self.dtype:
        return self
    if dt.kind in "biu":  # a piecewise-constant map: its derivative is zero
        return batching.constant_map(lambda v: v.astype(dt), [unbox(self)])
    raise TypeError(
        f"numpy.ndarray.astype({dt}) of a {self.dtype} traced value has no derivative rule in "
        "autodiff (only a cast to its own dtype, or to an integer or bool dtype)"
    )


def _drops(name: str):
    def method(self, *args, **kwargs):
        raise TypeError(
            f"numpy.ndarray.{name}() of a traced value would drop its derivative; index it "
            "instead (x[()], x[0]), or call autodiff.unbox(x) first if no derivative is wanted"
        )

    return method


def _constant(name: str):
    return lambda self, *args, **kwargs: batching.constant_map(
        lambda v: getattr(v, name)(*args, **kwargs), [unbox(self)]
    )


def _refused(name: str):
    """A property for ndarray's public attribute ``name``, which Box lacks: a TypeError
    naming it (a property, not __getattr__: NumPy probes boxes for attributes on every mixed
    operation, and a Python __getattr__ would slow each probe down)."""

    def refuse(self):
        raise TypeError(
            f"numpy.ndarray.{name} has no derivative rule in autodiff; use the matching "
            "autodiff.numpy function, or autodiff.unbox(x) if no derivative is wanted"
        )

    return property(refuse)


def _reshape_method(self, *shape):
    return shapes.reshape(self, shape[0] if len(shape) == 1 else shape)


def _transpose_method(self, *axes):
    return shapes.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)


def _compare(op):
    return lambda self, other: op(unbox(self), unbox(other))


def _getitem(self, index):
    index = shapes.index_value(index)
    if isinstance(index, tuple) and any(type(i) is Box for i in index):
        return _gather(self, index)
    return shapes.getitem(self, index)


def _gather(x, parts):
    """``x[parts]`` for an index tuple holding integer indices some of which are traced
    (batched by vmap, or read from replay's data), beside slices and plain integers: the
    integer axes moved to the front and gathered as one index into them flattened,
    ((i mod n₀)·n₁ + (j mod n₁))·n₂ + ... (which vmap batches like any single integer index),
    then the slices applied, and the gathered axes put where NumPy puts them (in place of the
    integer axes when those are adjacent, else first)."""
    shape = shape_of(x)
    dots = [a for a, p in enumerate(parts) if p is Ellipsis]
    if len(dots) == 1:
        at = dots[0]
        fill = len(shape) - (len(parts) - 1)
        parts = parts[:at] + (slice(None),) * fill + parts[at + 1 :]
    parts = tuple(np.asarray(p) if isinstance(p, list) else p for p in parts)
    bad = [
        p
        for p in parts
        if p is None
        or p is Ellipsis
        or not (isinstance(p, slice) or type(p) is Box or np.result_type(p).kind in "iu")
    ]
    if bad or len(parts) > len(shape):
        raise TypeError(
            "indexing with a tuple holding a traced or vmapped index takes integers, integer "
            "arrays and slices, at most one per axis (no None, booleans or a second ...); "
            f"got {parts!r} for shape {shape}"
        )
    ints = [a for a, p in enumerate(parts) if not isinstance(p, slice)]
    rest = [a for a in range(len(shape)) if a not in ints]
    if ints != list(range(len(ints))):
        x = shapes.transpose(x, (*ints, *rest))
    flat = 0
    for a in ints:
        flat = flat * shape[a] + shapes.wrap_index(parts[a], shape[a])
    k = len(ints)
    rows = int(np.prod([shape[a] for a in ints]))
    moved = shapes.reshape(x, (rows, *(shape[a] for a in rest)))
    out = shapes.getitem(moved, flat)
    nb = len(shape_of(flat))
    slices = tuple(parts[a] for a in rest if a < len(parts))
    if any(s != slice(None) for s in slices):  # slices only: comparing them reads no value
        out = shapes.getitem(out, (slice(None),) * nb + slices)
    first = ints[0]
    if nb and first and ints == list(range(first, first + k)):  # adjacent: back in place
        n = len(shape_of(out))
        order = [*range(nb, nb + first), *range(nb), *range(nb + first, n)]
        out = shapes.transpose(out, tuple(order))
    return out


BOX_METHODS = {
    "__array_ufunc__": array_ufunc,
    "__array_function__": array_function,
    "__add__": lambda self, other: ew.add(self, other),
    "__radd__": lambda self, other: ew.add(other, self),
    "__sub__": lambda self, other: ew.subtract(self, other),
    "__rsub__": lambda self, other: ew.subtract(other, self),
    "__mul__": lambda self, other: ew.multiply(self, other),
    "__rmul__": lambda self, other: ew.multiply(other, self),
    "__truediv__": lambda self, other: ew.divide(self, other),
    "__rtruediv__": lambda self, other: ew.divide(other, self),
    "__pow__": lambda self, other: ew.power(self, other),
    "__rpow__": lambda self, other: ew.power(other, self),
    "__matmul__": lambda self, other: linalg.matmul(self, other),
    "__rmatmul__": lambda self, other: linalg.matmul(other, self),
    "__neg__": lambda self: ew.negative(self),
    "__pos__": lambda self: self,
    "__abs__": lambda self: ew.absolute(self),
    "__getitem__": _getitem,
    "__and__": _compare(np.bitwise_and),
    "__rand__": _compare(np.bitwise_and),
    "__or__": _compare(np.bitwise_or),
    "__ror__": _compare(np.bitwise_or),
    "__xor__": _compare(np.bitwise_xor),
    "__invert__": lambda self: np.invert(unbox(self)),
    "__iter__": lambda self: (self[i] for i in range(len(self))),
    "__lt__": _compare(np.less),
    "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater),
    "__ge__": _compare(np.greater_equal),
    "__eq__": _compare(np.equal),
    "__ne__": _compare(np.not_equal),
    "T": property(lambda self: shapes.transpose(self)),
    "__array__": _to_array,
    "sum": _method("sum", reductions.sum),
    "mean": _method("mean", reductions.mean),
    "max": _method("max", reductions.max),
    "min": _method("min", reductions.min),
    "prod": _method("prod", reductions.prod),
    "cumsum": _method("cumsum", reductions.cumsum),
    "var": _method("var", reductions.var),
    "std": _method("std", reductions.std),
    "astype": _method("astype", _astype),
    "copy": _method("copy", lambda self: self),
    "item": _drops("item"),
    "tolist": _drops("tolist"),
    "argmax": _constant("argmax"),
    "argmin": _constant("argmin"),
    "argsort": _constant("argsort"),
    "all": _constant("all"),
    "any": _constant("any"),
    "nonzero": _constant("nonzero"),
    "dot": _method("dot", linalg.dot),
    "reshape": _method("reshape", _reshape_method),
    "transpose": _method("transpose", _transpose_method),
    "squeeze": _method("squeeze", lambda self, axis=None: shapes.squeeze(self, axis)),
    "ravel": _method("ravel", lambda self: shapes.reshape(self, (-1,))),
    "flatten": _method("flatten", lambda self: shapes.reshape(self, (-1,))),
    "swapaxes": _method("swapaxes", shapes.swapaxes),
    "clip": _method("clip", ew.clip),
    "repeat": _method("repeat", shapes.repeat),
}


def install() -> None:
    """Give :class:`Box` its operators and NumPy protocol methods."""
    for name, method in BOX_METHODS.items():
        setattr(Box, name, method)
    for name in dir(np.ndarray):
        if not name.startswith("_") and not hasattr(Box, name):
            setattr(Box, name, _refused(name))
    Box.__hash__ = object.__hash__  # defining __eq__ must not make boxes unhashable


__all__ = ["install", "shape_of"]
