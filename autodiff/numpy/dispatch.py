"""How traced values meet Python operators and plain NumPy.

Operators on a :class:`~autodiff.core.Box` call the primitives. Plain NumPy
functions called on a box are sent to the matching primitive through NumPy's
``__array_ufunc__`` / ``__array_function__`` protocols; a NumPy function with no
derivative rule raises a TypeError naming it, so a derivative is never dropped
silently. Functions whose output carries no derivative (comparisons, ``isfinite``,
``shape``) are evaluated on the plain values.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from ..core import Box, shape_of, unbox
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
    np.absolute: ew.absolute,
    np.sign: ew.sign,
    np.maximum: ew.maximum,
    np.minimum: ew.minimum,
    np.logaddexp: ew.logaddexp,
    np.matmul: linalg.matmul,
    scipy.special.expit: ew.sigmoid,
}
if hasattr(np, "vecdot"):  # a ufunc from NumPy 2.0 on
    UFUNCS[np.vecdot] = linalg.vecdot

# Their outputs are piecewise constant or boolean: no derivative to lose.
CONSTANT_UFUNCS = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.signbit, np.floor, np.ceil, np.rint, np.trunc,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
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
        return getattr(ufunc, method)(*[unbox(x) for x in inputs], **kwargs)
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


def array_function(self, func, types, args, kwargs):
    if func in CONSTANT_FUNCTIONS:
        return func(*[unbox(a) for a in args], **kwargs)
    if func in (np.concatenate, np.stack):
        return FUNCTIONS[func](*args, **kwargs)
    if func not in FUNCTIONS:
        raise TypeError(
            f"{_name(func)} has no derivative rule in autodiff; write it with autodiff.numpy "
            "functions, or call it on autodiff.unbox(x) if no derivative is wanted"
        )
    return FUNCTIONS[func](*args, **kwargs)


def _reshape_method(self, *shape):
    return shapes.reshape(self, shape[0] if len(shape) == 1 else shape)


def _transpose_method(self, *axes):
    return shapes.transpose(self, (axes[0] if len(axes) == 1 else axes) or None)


def _compare(op):
    return lambda self, other: op(unbox(self), unbox(other))


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
    "__getitem__": lambda self, index: shapes.getitem(self, shapes.index_value(index)),
    "__iter__": lambda self: (self[i] for i in range(len(self))),
    "__lt__": _compare(np.less),
    "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater),
    "__ge__": _compare(np.greater_equal),
    "__eq__": _compare(np.equal),
    "__ne__": _compare(np.not_equal),
    "T": property(lambda self: shapes.transpose(self)),
    "sum": lambda self, axis=None, keepdims=False: reductions.sum(
        self, axis=axis, keepdims=keepdims
    ),
    "mean": lambda self, axis=None, keepdims=False: reductions.mean(
        self, axis=axis, keepdims=keepdims
    ),
    "max": lambda self, axis=None, keepdims=False: reductions.max(
        self, axis=axis, keepdims=keepdims
    ),
    "min": lambda self, axis=None, keepdims=False: reductions.min(
        self, axis=axis, keepdims=keepdims
    ),
    "dot": lambda self, other: linalg.dot(self, other),
    "reshape": _reshape_method,
    "transpose": _transpose_method,
    "squeeze": lambda self, axis=None: shapes.squeeze(self, axis),
    "ravel": lambda self: shapes.reshape(self, (-1,)),
    "flatten": lambda self: shapes.reshape(self, (-1,)),
    "swapaxes": lambda self, a, b: shapes.swapaxes(self, a, b),
    "clip": lambda self, lo, hi: ew.clip(self, lo, hi),
}


def install() -> None:
    """Give :class:`Box` its operators and NumPy protocol methods."""
    for name, method in BOX_METHODS.items():
        setattr(Box, name, method)
    Box.__hash__ = object.__hash__  # defining __eq__ must not make boxes unhashable


__all__ = ["install", "shape_of"]
