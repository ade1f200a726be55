"""The differentiation operators users call: grad, value_and_grad, vjp, jvp, hvp, jacobian."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from . import numpy as anp
from .core import Box, JVPNode, new_trace, shape_of, unbox
from .reverse import backward, start

MODES = ("rev", "fwd")


def vjp(f, *primals):
    """Reverse mode: ``out = f(*primals)`` and ``vjp_fn(g) -> tuple of cotangents``.

    ``vjp_fn(g)`` returns ``(gᵀ ∂f/∂primal_0, gᵀ ∂f/∂primal_1, ...)``, each of its
    primal's shape; ``g`` must have ``out``'s shape. One backward pass per call,
    whatever the number of inputs. Calling ``vjp_fn`` twice gives the same result, without
    evaluating f again: for many products with one linear map (e.g. Hessian-vector products
    as the VJPs of a gradient), record once and call many times. ``vjp_fn.nbytes()`` is the
    memory the recorded trace holds.
    """
    for i, p in enumerate(primals):
        _check_differentiable(p, f, i, "vjp")
    return _vjp(f, primals)


def _vjp(f, primals, once: bool = False, op: str = "vjp"):
    """vjp without the input checks (callers have checked); ``once``: vjp_fn may run only once,
    and frees the tape as it goes; ``op``: the caller's name, for error messages."""
    tape, boxes = start(primals)
    trace = boxes[0].trace if boxes else -1
    out = _check_output(f(*boxes), op)
    out_value = out.value if _in_trace(out, trace) else out
    runs = []

    def vjp_fn(g):
        if shape_of(g) != shape_of(out_value):
            raise ValueError(
                f"vjp_fn: cotangent g has shape {shape_of(g)}, but f's output has shape "
                f"{shape_of(out_value)}; they must match"
            )
        if not _in_trace(out, trace):
            return tuple(_zeros_like(p) for p in primals)
        if once:
            if runs:
                raise RuntimeError("this vjp_fn ran once already and freed its tape")
            runs.append(1)
        adjoints = backward(tape, out.node, g, release=once)
        return tuple(
            adjoints[b.node] if b.node in adjoints else _zeros_like(p)
            for b, p in zip(boxes, primals, strict=True)
        )

    def nbytes() -> int:
        """Bytes of the arrays that the recorded trace keeps alive (the cost of holding on to
        vjp_fn); views of other arrays are not counted."""
        return sum(
            node.ans.nbytes
            for node in tape
            if type(node.ans) is np.ndarray and node.ans.flags.owndata
        )

    vjp_fn.nbytes = nbytes
    return out_value, vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J·tangents)`` in one forward pass.

    ``primals`` and ``tangents`` are tuples of the same length and shapes; the
    result's tangent has ``f``'s output shape. A full gradient of f: Rⁿ → R by
    forward mode needs n such passes (one per input direction).
    """
    for name, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):
            raise TypeError(
                f"jvp: {name} must be a tuple with one array per argument of f, got "
                f"{type(given).__name__} (write (x,) for a single argument)"
            )
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: got {len(primals)} primals but {len(tangents)} tangents; pass one tangent "
            "per primal"
        )
    for i, (p, t) in enumerate(zip(primals, tangents, strict=True)):
        _check_differentiable(p, f, i, "jvp")
        if shape_of(p) != shape_of(t):
            raise ValueError(
                f"jvp: tangent {i} has shape {shape_of(t)} but its primal has shape {shape_of(p)}"
            )
    return _jvp(f, primals, tangents)


def _jvp(f, primals, tangents, op: str = "jvp"):
    """jvp without the input checks; ``op``: the caller's name, for error messages."""
    trace = new_trace()
    out = f(*[Box(p, trace, JVPNode(t)) for p, t in zip(primals, tangents, strict=True)])
    out = _check_output(out, op)
    if not _in_trace(out, trace):
        return out, _zeros_like(out)
    return out.value, out.node.tangent


def value_and_grad(f, argnums: int | tuple[int, ...] = 0):
    """``f`` → function returning ``(f(*args), ∇f)``; ∇ w.r.t. ``argnums`` (an int or a tuple).

    ``f`` must return a scalar (shape ``()``). The gradient has the shape of its
    argument (a tuple of gradients when ``argnums`` is a tuple). Costs one forward
    and one backward pass, a small constant times the cost of ``f``.
    """
    return _value_and_grad(f, argnums, "grad")


def _value_and_grad(f, argnums, op: str):
    """value_and_grad, with ``op`` (the operator the user called) naming it in errors."""
    nums = _check_argnums(argnums, op)

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        for i in nums:
            if i >= len(args):
                raise TypeError(
                    f"{op}: argnums asks for positional argument {i}, but only {len(args)} were "
                    "given"
                )

        def f_of_selected(*selected):
            full = list(args)
            for i, s in zip(nums, selected, strict=True):
                full[i] = s
            return f(*full, **kwargs)

        for i in nums:
            _check_differentiable(args[i], f, i, op)
        out, vjp_fn = _vjp(f_of_selected, [args[i] for i in nums], once=True, op=op)
        if shape_of(out) != ():
            raise ValueError(
                f"{op} needs f to return a scalar, but it returned shape {shape_of(out)}; "
                "use autodiff.vjp or autodiff.jacobian for non-scalar outputs"
            )
        grads = vjp_fn(_one_like(out))
        return out, (grads[0] if isinstance(argnums, int) else grads)

    return value_and_grad_f


def grad(f, argnums: int | tuple[int, ...] = 0):
    """``f`` → its gradient function: same arguments, returns ∇f w.r.t. ``argnums``.

    Example: ``grad(lambda x, y: x**3 * (x + 3*y), argnums=(0, 1))(2.0, 3.0) == (140.0, 24.0)``.
    """
    value_and_grad_f = value_and_grad(f, argnums)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        return value_and_grad_f(*args, **kwargs)[1]

    return grad_f


def hvp(f, x, v):
    """Hessian-vector product ∇²f(x)·v of a scalar ``f``, by forward-over-reverse (exact).

    ``x`` and ``v`` have the same shape; so has the result. Costs about one
    gradient evaluation, never forms the Hessian.
    """
    _check_differentiable(x, f, 0, "hvp")
    if shape_of(x) != shape_of(v):
        raise ValueError(f"hvp: v has shape {shape_of(v)} but x has shape {shape_of(x)}")
    grad_f = _value_and_grad(f, 0, "hvp")
    return _jvp(lambda x_: grad_f(x_)[1], (x,), (v,), op="hvp")[1]


def jacobian(f, argnums: int = 0, mode: str = "rev"):
    """``f`` → function returning the Jacobian ∂f/∂x of shape ``out.shape + x.shape``.

    ``mode="rev"`` builds it row by row, one backward pass per output entry;
    ``mode="fwd"`` column by column, one forward pass per input entry. Pick the
    one with the fewer passes: rev for few outputs, fwd for few inputs.
    """
    if mode not in MODES:
        raise ValueError(f"jacobian: mode must be one of {MODES}, got {mode!r}")
    if not _is_index(argnums):
        raise TypeError(f"jacobian: argnums must be a non-negative int, got {argnums!r}")

    @functools.wraps(f)
    def jacobian_f(*args, **kwargs):
        if argnums >= len(args):
            raise TypeError(
                f"jacobian: argnums asks for positional argument {argnums}, but only {len(args)} "
                "were given"
            )
        x = args[argnums]
        _check_differentiable(x, f, argnums, "jacobian")

        def f_of_x(x_):
            full = list(args)
            full[argnums] = x_
            return f(*full, **kwargs)

        x_shape = shape_of(x)
        n_in = int(np.prod(x_shape))
        if mode == "rev":
            out, vjp_fn = _vjp(f_of_x, (x,), op="jacobian")
            out_shape = shape_of(out)
            rows = [vjp_fn(_basis(out_shape, k, out))[0] for k in range(int(np.prod(out_shape)))]
            flat = [anp.reshape(r, (n_in,)) for r in rows]
            return anp.reshape(anp.stack(flat, axis=0), out_shape + x_shape)
        out = None
        cols = []
        for k in range(n_in):
            out, col = _jvp(f_of_x, (x,), (_basis(x_shape, k, x),), op="jacobian")
            cols.append(anp.reshape(col, (-1,)))
        out_shape = shape_of(out) if n_in else shape_of(f_of_x(x))
        return anp.reshape(anp.stack(cols, axis=-1), out_shape + x_shape)

    return jacobian_f


# ---------------------------------------------------------------- helpers


def _in_trace(x, trace: int) -> bool:
    return type(x) is Box and x.trace == trace


def _dtype_of(x):
    return np.result_type(unbox(x))


def _zeros_like(x):
    return np.zeros(shape_of(x), dtype=_float_dtype(x))[()]


def _one_like(x):
    if type(x) is np.float64 or (type(x) is np.ndarray and x.dtype == np.float64 and not x.ndim):
        return np.float64(1.0)  # the usual scalar loss, without the dtype checks below
    return np.ones(shape_of(x), dtype=_float_dtype(x))[()]


def _float_dtype(x):
    dt = _dtype_of(x)
    return dt if np.issubdtype(dt, np.inexact) else np.float64


def _basis(shape, k: int, like):
    e = np.zeros(int(np.prod(shape)), dtype=_float_dtype(like))
    e[k] = 1.0
    return e.reshape(shape)[()]


def _arg_name(f, i: int) -> str:
    """``"argument 0 (x)"`` when f's signature names it, else ``"argument 0"``."""
    try:
        params = [
            p.name
            for p in inspect.signature(f).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return f"argument {i} ({params[i]})" if i < len(params) else f"argument {i}"


def _check_argnums(argnums, op: str) -> tuple[int, ...]:
    """``argnums`` as a tuple of non-negative ints (bools are refused, not read as 0 or 1)."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(_is_index(i) for i in nums):
        raise TypeError(
            f"{op}: argnums must be a non-negative int or a tuple of them, got {argnums!r}"
        )
    return nums


def _is_index(i) -> bool:
    return isinstance(i, int) and not isinstance(i, bool) and i >= 0


def _check_output(out, op: str):
    """``out`` unchanged if it is a number or a numeric array (traced or not), else a TypeError:
    a forgotten ``return`` or a tuple of outputs would otherwise differentiate as a constant."""
    if type(out) is Box:
        return out
    kind = np.asarray(out).dtype.kind if isinstance(out, (np.ndarray, np.generic)) else ""
    if isinstance(out, (bool, int, float, complex)) or kind in ("b", "i", "u", "f", "c"):
        return out
    hint = (
        "; differentiate one output at a time, e.g. lambda x: f(x)[0]"
        if isinstance(out, (tuple, list))
        else ""
    )
    raise TypeError(
        f"{op}: f must return a number or a numeric NumPy array, but it returned a "
        f"{type(out).__name__}{hint}"
    )


def _check_differentiable(x, f, i: int, op: str) -> None:
    """Raise a TypeError naming argument ``i`` of ``f`` unless x is a float scalar or array."""
    value = unbox(x)
    if type(value) is float or (type(value) is np.ndarray and value.dtype.kind == "f"):
        return  # the common cases, without the slower checks below
    name = _arg_name(f, i)
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (float, int, np.ndarray, np.generic)
    ):
        raise TypeError(
            f"{op}: {name} is a {type(value).__name__}; only float scalars and float NumPy arrays "
            "can be differentiated (wrap lists with np.asarray(..., dtype=float))"
        )
    dt = np.result_type(value)
    if not np.issubdtype(dt, np.floating):
        raise TypeError(
            f"{op}: {name} has dtype {dt}; only floating-point inputs can be differentiated "
            "(write 2.0 instead of 2, or use x.astype(float))"
        )
