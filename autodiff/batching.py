"""Vectorizing map: ``vmap(f)`` runs f, written for one example, on a batch of them at once.

A batching trace is one more kind of trace (see :mod:`autodiff.core`): the inputs being
mapped over are boxed with a :class:`~autodiff.core.BatchNode`, their value carrying the
batch on its leading axis; user code sees the shape of one example. Each primitive called
on such a box runs its batching rule (registered beside its VJP and JVP rules), which
computes the whole batch's answer with NumPy's own vectorization; a primitive without a
rule falls back to a loop over the examples, with a one-time warning naming it.

Batching traces nest with differentiation traces in either order: ``grad(vmap(f))``,
``vmap(grad(f))`` (per-example gradients), ``jvp`` of either, and ``vmap(vmap(f))``.
"""

from __future__ import annotations

import functools
import warnings

from .core import BatchNode, Box, new_trace, shape_of
from .tree import LEAF, TreeDef, leaf_paths, tree_flatten, tree_unflatten

_WARNED: set[str] = set()


def batch_call(prim, argvals, parents, size: int, kwargs):
    """``prim`` on a batch: its batching rule, or a loop over the ``size`` examples."""
    batched = [False] * len(argvals)
    for i, _ in parents:
        batched[i] = True
    if prim.batch is None:
        return loop(prim, prim.name, argvals, batched, size, kwargs)
    return prim.batch(prim, argvals, batched, **kwargs)


def loop(fun, name: str, args, batched, size: int, kwargs):
    """``fun`` called once per example (batched arguments sliced on their leading axis),
    the answers stacked: the fallback for a primitive without a batching rule."""
    from . import numpy as anp

    if name not in _WARNED:
        _WARNED.add(name)
        warnings.warn(
            f"autodiff.vmap: {name} has no batching rule; looping over the batch in Python "
            "(correct, but one call per example)",
            RuntimeWarning,
            stacklevel=4,
        )
    outs = [
        fun(*[a[b] if is_b else a for a, is_b in zip(args, batched, strict=True)], **kwargs)
        for b in range(size)
    ]
    return anp.stack(outs, axis=0)


def innermost(args):
    """``(trace, node)`` of the innermost batching box among ``args`` (None, None if none)."""
    top, node = -1, None
    for a in args:
        if type(a) is Box and type(a.node) is BatchNode and a.trace > top:
            top, node = a.trace, a.node
    return top, node


def constant_map(fun, args, kwargs=None):
    """``fun(*args)`` for a function without derivatives (comparisons, argmax, ...): under
    vmap, once per example on the plain values, stacked into a batched answer."""
    import numpy as np

    kwargs = kwargs or {}
    top, node = innermost(args)
    if node is None:
        return fun(*args, **kwargs)
    vals = [a.value if type(a) is Box and a.trace == top else a for a in args]
    batched = [type(a) is Box and a.trace == top for a in args]
    outs = [
        constant_map(
            fun, [v[b] if is_b else v for v, is_b in zip(vals, batched, strict=True)], kwargs
        )
        for b in range(node.size)
    ]
    if any(type(o) is Box for o in outs):  # nested vmaps: still batched on an outer level
        return Box(_stack(outs), top, node)
    return Box(np.stack([np.asarray(o) for o in outs]), top, node)


def _stack(outs):
    from . import numpy as anp

    return anp.stack(outs, axis=0)


def elementwise_constant(ufunc, inputs, kwargs):
    """A ufunc without derivative (a comparison, isfinite, ...) on batched inputs: one NumPy
    call on the batch, the inputs' example axes aligned as broadcasting wants."""
    top, node = innermost(inputs)
    vals, batched = [], []
    for a in inputs:
        is_b = type(a) is Box and a.trace == top
        vals.append(a.value if is_b else a)
        batched.append(is_b)
    from .numpy.batchrules import align

    return Box(ufunc(*align(vals, batched), **kwargs), top, node)


# ------------------------------------------------------------------------ vmap
def vmap(f, in_axes=0, out_axes=0):
    """``f`` (written for one example) → the function that maps it over a batch.

    ``in_axes`` says where each argument's batch axis is: an int for all arguments, None
    for an argument that is the same for every example (not mapped), or a tuple with one
    entry per argument, each an int, None or a pytree of them matching the argument
    (arguments may be pytrees). ``out_axes`` says where the batch axis goes in the answer,
    likewise for f's output pytree (an int or None for every output, or a pytree prefix of
    the output with an int or None per leaf or subtree). Every mapped input must have the
    same batch size B; the answer has f's output structure, each leaf of shape B plus the
    example's shape (at ``out_axes``), or, where out_axes is None, the leaf as f returned it
    for every example alike (an error if it depends on the mapped inputs). Example:
    per-example gradients ``vmap(grad(loss), in_axes=(None, 0))``.
    """

    in_cache: dict = {}  # the axis of each input leaf, by the inputs' structure
    out_cache: dict = {}  # likewise for the outputs

    @functools.wraps(f)
    def vmapped(*args, **kwargs):
        leaves, in_def = tree_flatten(args)
        axes = in_cache.get(in_def)
        if axes is None:
            axes = in_cache[in_def] = _leaf_axes(in_axes, args, in_def, "in_axes")
        size, node, trace = None, None, new_trace()
        boxed = list(leaves)
        for k, (leaf, ax) in enumerate(zip(leaves, axes, strict=True)):
            if ax is None:
                continue
            shape = shape_of(leaf)
            if not -len(shape) <= ax < len(shape):
                raise ValueError(
                    f"vmap: in_axes {ax} is out of range for an input of shape {shape}"
                )
            if size is None:
                size, node = shape[ax], BatchNode(shape[ax])
            elif shape[ax] != size:
                raise ValueError(
                    f"vmap: the mapped inputs have different batch sizes {size} and "
                    f"{shape[ax]} (shape {shape})"
                )
            boxed[k] = Box(leaf if ax == 0 else _moveaxis(leaf, ax, 0), trace, node)
        if size is None:
            raise ValueError("vmap: every in_axes is None, so there is nothing to map over")
        out = f(*tree_unflatten(in_def, boxed), **kwargs)
        out_leaves, out_def = tree_flatten(out)
        leaf_axes = out_cache.get(out_def)
        if leaf_axes is None:
            leaf_axes = out_cache[out_def] = _leaf_axes(out_axes, out, out_def, "out_axes")
        outs = []
        for k, (leaf, ax) in enumerate(zip(out_leaves, leaf_axes, strict=True)):
            batched = type(leaf) is Box and leaf.trace == trace
            if ax is None:
                if batched:
                    where = leaf_paths(out_def)[k]
                    raise ValueError(
                        f"vmap: out_axes is None for output{where}, but it depends on the "
                        "mapped inputs (it differs between examples); give out_axes an int there"
                    )
                outs.append(leaf)
                continue
            if batched:
                value = leaf.value
            else:
                from . import numpy as anp

                value = anp.broadcast_to(leaf, (size, *shape_of(leaf)))
            outs.append(value if ax == 0 else _moveaxis(value, 0, ax))
        return tree_unflatten(out_def, outs)

    return vmapped


def _moveaxis(x, src: int, dst: int):
    ndim = len(shape_of(x))
    src, dst = src % ndim, dst % ndim
    if src == dst:
        return x
    from . import numpy as anp

    order = [i for i in range(ndim) if i != src]
    order.insert(dst, src)
    return anp.transpose(x, tuple(order))


def _leaf_axes(spec, tree, treedef: TreeDef, what: str) -> list:
    """One axis (an int or None) per leaf of ``tree``, from ``spec``: an int or None for all,
    or a pytree prefix of ``tree`` (a tuple with one entry per argument, for in_axes)."""
    if spec is None or isinstance(spec, int):
        return [spec] * treedef.num_leaves
    out: list = []
    _prefix(spec, tree, out, what, "")
    return out


def _prefix(spec, tree, out: list, what: str, path: str) -> None:
    if spec is None or (isinstance(spec, int) and not isinstance(spec, bool)):
        out.extend([spec] * len(tree_flatten(tree)[0]))
        return
    _, d = tree_flatten(tree)
    if (
        d is LEAF
        or type(spec) is not type(tree)
        and not (isinstance(spec, (list, tuple)) and isinstance(tree, (list, tuple)))
    ):
        raise ValueError(
            f"vmap: {what}{path} is {spec!r}, which does not match the structure of the "
            f"argument there ({d!r}); give an int, None, or a matching container"
        )
    if isinstance(tree, dict):
        if set(spec) != set(tree):
            raise ValueError(
                f"vmap: {what}{path} has keys {sorted(spec)}, the argument {sorted(tree)}"
            )
        for k in sorted(tree):
            _prefix(spec[k], tree[k], out, what, f"{path}[{k!r}]")
        return
    if len(spec) != len(tree):
        raise ValueError(
            f"vmap: {what}{path} has {len(spec)} entries but there are {len(tree)} "
            + ("arguments" if not path else "entries")
        )
    for i, (s, t) in enumerate(zip(spec, tree, strict=True)):
        _prefix(s, t, out, what, f"{path}[{i}]")
