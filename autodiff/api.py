"""The differentiation operators users call: grad, value_and_grad, vjp, jvp, hvp, jacobian."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from . import numpy as anp
from .collector import paused
from .core import Box, JVPNode, new_trace, plain, shape_of
from .reverse import backward, start
from .tree import LEAF, float_leaf_problem, leaf_paths, tree_flatten, tree_map, tree_unflatten

MODES = ("rev", "fwd")


def vjp(f, *primals, has_aux: bool = False):
    """Reverse mode: ``out = f(*primals)`` and ``vjp_fn(g) -> tuple of cotangents``.

    Each primal is an array or a pytree (nested dicts, lists and tuples of arrays), and so
    may ``out`` be. ``vjp_fn(g)`` takes ``g`` of ``out``'s structure and shapes and returns
    ``(gᵀ ∂f/∂primal_0, gᵀ ∂f/∂primal_1, ...)``, each of its primal's structure and shapes.
    One backward pass per call, whatever the number of inputs. Calling ``vjp_fn`` twice gives
    the same result, without evaluating f again: for many products with one linear map (e.g.
    Hessian-vector products as the VJPs of a gradient), record once and call many times.
    ``vjp_fn.nbytes()`` is the memory the recorded trace holds. With ``has_aux=True``, f
    returns ``(out, aux)`` and vjp returns ``(out, vjp_fn, aux)``, aux without derivatives.
    """
    leaves, in_def = tree_flatten(primals)
    _check_tree(primals, range(len(primals)), f, "vjp")
    side: dict = {}
    flat_f = _flat_output_fun(f, in_def, has_aux, side, "vjp")
    out, flat_vjp_fn = _vjp(flat_f, leaves, op="vjp")
    out_def = side["out_def"]
    if out_def is not LEAF:
        out = _split(out, out_def, side["shapes"])

    def vjp_fn(g):
        if out_def is not LEAF:
            g_leaves, g_def = tree_flatten(g)
            if g_def != out_def:
                raise ValueError(
                    f"vjp_fn: the cotangent has structure {g_def!r}, but f's output has "
                    f"{out_def!r}; they must match"
                )
            for path, gl, shape in zip(leaf_paths(out_def), g_leaves, side["shapes"], strict=True):
                if shape_of(gl) != shape:
                    raise ValueError(
                        f"vjp_fn: cotangent{path} has shape {shape_of(gl)}, but f's output{path} "
                        f"has shape {shape}; they must match"
                    )
            g = _joined(g_leaves)
        return tree_unflatten(in_def, flat_vjp_fn(g))

    vjp_fn.nbytes = flat_vjp_fn.nbytes
    return (out, vjp_fn, side["aux"]) if has_aux else (out, vjp_fn)


def _vjp(f, primals, once: bool = False, op: str = "vjp"):
    """vjp on a list of array leaves, without the input checks (callers have checked);
    ``once``: vjp_fn may run only once, and frees the tape as it goes; ``op``: the caller's
    name, for error messages."""
    tape, boxes = start(primals)
    trace = boxes[0].trace if boxes else -1
    with paused():
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
        with paused():
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


def jvp(f, primals, tangents, has_aux: bool = False):
    """Forward mode: ``(f(*primals), J·tangents)`` in one forward pass.

    ``primals`` and ``tangents`` are tuples of the same length, each entry an array or a
    pytree, the tangent of the primal's structure and shapes; the answer's tangent has the
    structure and shapes of f's output (an array or a pytree). A full gradient of
    f: Rⁿ → R by forward mode needs n such passes (one per input direction). With
    ``has_aux=True``, f returns ``(out, aux)`` and jvp returns ``(out, tangent, aux)``.
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
    _check_tree(primals, range(len(primals)), f, "jvp")
    leaves, in_def = tree_flatten(primals)
    t_leaves, t_def = tree_flatten(tangents)
    if t_def != in_def:
        raise ValueError(
            f"jvp: the tangents have structure {t_def!r}, but the primals have {in_def!r}"
        )
    for path, p, t in zip(leaf_paths(in_def), leaves, t_leaves, strict=True):
        if shape_of(p) != shape_of(t):
            raise ValueError(
                f"jvp: tangent{path} has shape {shape_of(t)} but its primal has shape {shape_of(p)}"
            )
    return _jvp_tree(f, in_def, leaves, t_leaves, has_aux, "jvp")


def _jvp_tree(f, in_def, leaves, t_leaves, has_aux, op):
    """jvp on flat leaves, for an output that is an array or a pytree."""
    trace = new_trace()
    boxes = [Box(p, trace, JVPNode(t)) for p, t in zip(leaves, t_leaves, strict=True)]
    with paused():
        res = f(*tree_unflatten(in_def, boxes))
    aux = None
    if has_aux:
        res, aux = _split_aux(res, op)
        aux = _strip(aux, trace)
    out_leaves, out_def = tree_flatten(res)
    if out_def is LEAF or not out_leaves:
        _check_output(res, op)
    values, outs = [], []
    for leaf in out_leaves:
        _check_output(leaf, op)
        if _in_trace(leaf, trace):
            values.append(leaf.value)
            outs.append(leaf.node.tangent)
        else:
            values.append(leaf)
            outs.append(_zeros_like(leaf))
    out, tangent = tree_unflatten(out_def, values), tree_unflatten(out_def, outs)
    return (out, tangent, aux) if has_aux else (out, tangent)


def _jvp(f, primals, tangents, op: str = "jvp"):
    """jvp of an array-valued f of arrays, without the input checks; ``op``: the caller's
    name, for error messages."""
    trace = new_trace()
    with paused():
        out = f(*[Box(p, trace, JVPNode(t)) for p, t in zip(primals, tangents, strict=True)])
    out = _check_output(out, op)
    if not _in_trace(out, trace):
        return out, _zeros_like(out)
    return out.value, out.node.tangent


def value_and_grad(f, argnums: int | tuple[int, ...] = 0, has_aux: bool = False):
    """``f`` → function returning ``(f(*args), ∇f)``; ∇ w.r.t. ``argnums`` (an int or a tuple).

    ``f`` must return a scalar (shape ``()``). The gradient has the structure and shapes of
    its argument, an array or a pytree (a tuple of gradients when ``argnums`` is a tuple).
    With ``has_aux=True``, f returns ``(loss, aux)`` and the answer is ``((loss, aux), ∇f)``.
    Costs one forward and one backward pass, a small constant times the cost of ``f``.
    """
    return _value_and_grad(f, argnums, "grad", has_aux)


def _value_and_grad(f, argnums, op: str, has_aux: bool = False):
    """value_and_grad, with ``op`` (the operator the user called) naming it in errors."""
    nums = _check_argnums(argnums, op)

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        # The collector stays off while the tape exists; the tape is freed (by reference
        # counting) when _run returns, before the collector is back on.
        with paused():
            return _run(*args, **kwargs)

    def _run(*args, **kwargs):
        for i in nums:
            if i >= len(args):
                raise TypeError(
                    f"{op}: argnums asks for positional argument {i}, but only {len(args)} were "
                    "given"
                )
        selected = tuple(args[i] for i in nums)
        if not has_aux and not any(type(s) in _CONTAINERS or _is_namedtuple(s) for s in selected):
            leaves, sel_def = selected, None  # arrays only: no pytree work on the hot path
            for i in nums:
                _check_differentiable(args[i], f, i, op)
        else:
            leaves, sel_def = tree_flatten(selected)
            _check_tree(selected, nums, f, op)
        side: dict = {}

        def f_of_leaves(*ls):
            sel = ls if sel_def is None else tree_unflatten(sel_def, ls)
            full = list(args)
            for i, s in zip(nums, sel, strict=True):
                full[i] = s
            res = f(*full, **kwargs)
            if has_aux:
                res, aux = _split_aux(res, op)
                side["aux"] = _strip(aux, ls[0].trace if ls else -1)
            return res

        out, vjp_fn = _vjp(f_of_leaves, leaves, once=True, op=op)
        if shape_of(out) != ():
            raise ValueError(
                f"{op} needs f to return a scalar, but it returned shape {shape_of(out)}; "
                "use autodiff.vjp or autodiff.jacobian for non-scalar outputs"
            )
        grads = vjp_fn(_one_like(out))
        if sel_def is not None:
            grads = tree_unflatten(sel_def, grads)
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((out, side["aux"]), grads) if has_aux else (out, grads)

    return value_and_grad_f


def grad(f, argnums: int | tuple[int, ...] = 0, has_aux: bool = False):
    """``f`` → its gradient function: same arguments, returns ∇f w.r.t. ``argnums``.

    Arguments may be arrays or pytrees (the gradient has their structure). With
    ``has_aux=True``, f returns ``(loss, aux)`` and the gradient function ``(∇f, aux)``.
    Example: ``grad(lambda x, y: x**3 * (x + 3*y), argnums=(0, 1))(2.0, 3.0) == (140.0, 24.0)``.
    """
    value_and_grad_f = _value_and_grad(f, argnums, "grad", has_aux)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        (value, g) = value_and_grad_f(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


def hvp(f, x, v, has_aux: bool = False):
    """Hessian-vector product ∇²f(x)·v of a scalar ``f``, by forward-over-reverse (exact).

    ``x`` is an array or a pytree and ``v`` has its structure and shapes; so has the result.
    Costs about one gradient evaluation, never forms the Hessian. With ``has_aux=True``, f
    returns ``(loss, aux)`` and hvp returns ``(∇²f(x)·v, aux)``.
    """
    _check_tree((x,), (0,), f, "hvp")
    x_leaves, x_def = tree_flatten(x)
    v_leaves, v_def = tree_flatten(v)
    if v_def != x_def:
        raise ValueError(f"hvp: v has structure {v_def!r} but x has {x_def!r}")
    for path, a, b in zip(leaf_paths(x_def), x_leaves, v_leaves, strict=True):
        if shape_of(a) != shape_of(b):
            raise ValueError(
                f"hvp: v{path} has shape {shape_of(b)} but x{path} has shape {shape_of(a)}"
            )
    grad_f = _value_and_grad(f, 0, "hvp", has_aux)
    if x_def is LEAF and not has_aux:
        return _jvp(lambda x_: grad_f(x_)[1], (x,), (v,), op="hvp")[1]

    def grad_only(x_):
        value, g = grad_f(x_)
        return (g, value[1]) if has_aux else g

    res = _jvp_tree(grad_only, tree_flatten((x,))[1], x_leaves, v_leaves, has_aux, "hvp")
    return (res[1], res[2]) if has_aux else res[1]


def jacobian(f, argnums: int = 0, mode: str = "rev", has_aux: bool = False):
    """``f`` → function returning the Jacobian ∂f/∂x of shape ``out.shape + x.shape``.

    ``x`` (argument ``argnums``) and f's output may be pytrees: the Jacobian then has the
    output's structure, each of its leaves a pytree of x's structure whose leaves have shape
    ``out_leaf.shape + x_leaf.shape`` (as JAX). ``mode="rev"`` builds
    it row by row, one backward pass per output entry; ``mode="fwd"`` column by column, one
    forward pass per input entry. Pick the one with the fewer passes: rev for few outputs,
    fwd for few inputs. With ``has_aux=True``, f returns ``(out, aux)`` and the answer is
    ``(jacobian, aux)``.
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
        _check_tree((x,), (argnums,), f, "jacobian")
        leaves, x_def = tree_flatten(x)
        side: dict = {}

        def f_of_leaves(*ls):
            full = list(args)
            full[argnums] = tree_unflatten(x_def, ls)
            res = f(*full, **kwargs)
            if has_aux:
                res, aux = _split_aux(res, "jacobian")
                side.setdefault("aux", _strip(aux, ls[0].trace if ls else -1))
            outs, out_def = tree_flatten(res)
            if not outs:  # None, or empty containers: nothing to differentiate
                _check_output(res, "jacobian")
            side["out"] = out_def, [shape_of(o) for o in outs]
            if out_def is LEAF:
                return res
            # a pytree of outputs: one vector of all their entries, cut apart afterwards
            outs = [anp.reshape(_check_output(o, "jacobian"), (-1,)) for o in outs]
            return anp.concatenate(outs)

        shapes = [shape_of(leaf) for leaf in leaves]
        sizes = [int(np.prod(s)) for s in shapes]
        if mode == "rev":
            out, vjp_fn = _vjp(f_of_leaves, leaves, op="jacobian")
            out_shape = shape_of(out)
            rows = [vjp_fn(_basis(out_shape, k, out)) for k in range(int(np.prod(out_shape)))]
            jac = []
            for j, (shape, n) in enumerate(zip(shapes, sizes, strict=True)):
                flat = [anp.reshape(r[j], (n,)) for r in rows]
                stacked = anp.stack(flat, axis=0) if flat else np.zeros((0, n))
                jac.append(anp.reshape(stacked, out_shape + shape))
        else:
            out, jac = None, []
            for j, (shape, n) in enumerate(zip(shapes, sizes, strict=True)):
                cols = []
                for k in range(n):
                    tangents = [
                        _basis(shape, k, leaf) if i == j else _zeros_like(leaf)
                        for i, leaf in enumerate(leaves)
                    ]
                    out, col = _jvp(f_of_leaves, leaves, tangents, op="jacobian")
                    cols.append(anp.reshape(col, (-1,)))
                out_shape = shape_of(out) if out is not None else shape_of(f_of_leaves(*leaves))
                stacked = (
                    anp.stack(cols, axis=-1) if cols else np.zeros((int(np.prod(out_shape)), 0))
                )
                jac.append(anp.reshape(stacked, out_shape + shape))
        if "out" not in side:
            f_of_leaves(*leaves)
        jac = _cut_outputs(jac, *side["out"], shapes, x_def)
        if has_aux:
            if "aux" not in side:
                f_of_leaves(*leaves)
            return jac, side["aux"]
        return jac

    return jacobian_f


# ---------------------------------------------------------------- helpers


def _in_trace(x, trace: int) -> bool:
    return type(x) is Box and x.trace == trace


def _dtype_of(x):
    return np.result_type(plain(x))


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
        "; differentiate one output at a time, e.g. lambda x: f(x)[0], or pass has_aux=True "
        "if f returns (loss, aux)"
        if isinstance(out, (tuple, list))
        else ""
    )
    raise TypeError(
        f"{op}: f must return a number or a numeric NumPy array, but it returned a "
        f"{type(out).__name__}{hint}"
    )


def _check_differentiable(x, f, i: int, op: str, path: str = "") -> None:
    """Raise a TypeError naming argument ``i`` of ``f`` (and the leaf's ``path`` in it) unless
    x is a float scalar or array."""
    problem = float_leaf_problem(plain(x))
    if problem is None:
        return
    name = _arg_name(f, i) + path
    raise TypeError(
        f"{op}: {name} {problem}; only float scalars and float NumPy arrays can be "
        "differentiated (write 2.0 instead of 2, np.asarray(..., dtype=float) for lists)"
    )


_CONTAINERS = (dict, list, tuple)


def _check_tree(args, nums, f, op: str) -> None:
    """Each of ``args`` (argument ``nums[k]`` of f) must be a pytree of float arrays: a
    TypeError names the argument and the leaf's path otherwise."""
    for a, i in zip(args, nums, strict=True):
        if type(a) not in _CONTAINERS and not _is_namedtuple(a):
            _check_differentiable(a, f, i, op)
            continue
        leaves, treedef = tree_flatten(a)
        if not leaves:
            raise TypeError(f"{op}: {_arg_name(f, i)} is an empty {type(a).__name__}: no arrays")
        for path, leaf in zip(leaf_paths(treedef), leaves, strict=True):
            _check_differentiable(leaf, f, i, op, path)


def _cut_outputs(jac: list, out_def, out_shapes: list, x_shapes: list, x_def):
    """The Jacobian's pytree from one block per x leaf (rows: f's output leaves' entries, one
    after another): f's output structure of x's structure."""
    if out_def is LEAF:
        return tree_unflatten(x_def, jac)
    blocks, start = [], 0
    for out_shape in out_shapes:
        n = int(np.prod(out_shape))
        parts = [
            anp.reshape(block[start : start + n], out_shape + x_shape)
            for block, x_shape in zip(jac, x_shapes, strict=True)
        ]
        blocks.append(tree_unflatten(x_def, parts))
        start += n
    return tree_unflatten(out_def, blocks)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _split_aux(res, op: str):
    """``(out, aux)`` from what an f with has_aux returned, or a TypeError saying what it was."""
    if not (isinstance(res, (tuple, list)) and len(res) == 2):
        what = f"a {type(res).__name__}" + (
            f" of length {len(res)}" if isinstance(res, (tuple, list)) else ""
        )
        raise TypeError(f"{op}: with has_aux=True, f must return a pair (out, aux), got {what}")
    return res[0], res[1]


def _strip(tree, trace: int):
    """``tree`` with this trace's boxes replaced by their values (aux carries no derivative)."""
    return tree_map(lambda leaf: leaf.value if _in_trace(leaf, trace) else leaf, tree)


def _flat_output_fun(f, in_def, has_aux: bool, side: dict, op: str):
    """f of flat leaves returning one array: a pytree output is joined into one vector (its
    structure and leaf shapes saved in ``side``), and aux set aside there."""

    def flat_f(*leaves):
        res = f(*tree_unflatten(in_def, leaves))
        if has_aux:
            res, aux = _split_aux(res, op)
            side["aux"] = _strip(aux, leaves[0].trace if leaves else -1)
        out_leaves, out_def = tree_flatten(res)
        side["out_def"] = out_def
        if out_def is LEAF or not out_leaves:
            return res  # _check_output names what it is, when it is not an array
        for leaf in out_leaves:
            _check_output(leaf, op)
        side["shapes"] = [shape_of(leaf) for leaf in out_leaves]
        return _joined(out_leaves)

    return flat_f


def _joined(leaves):
    """The leaves raveled and concatenated into one vector (recorded, so it has a VJP)."""
    return anp.concatenate([anp.reshape(leaf, (-1,)) for leaf in leaves], axis=0)


def _split(vector, treedef, shapes):
    """The inverse of :func:`_joined`: the pytree of ``treedef`` cut out of ``vector``."""
    out, start_ = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(anp.reshape(vector[start_ : start_ + n], shape))
        start_ += n
    return tree_unflatten(treedef, out)
