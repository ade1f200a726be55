"""Batching rules shared by many primitives (see :mod:`autodiff.batching`).

A rule is ``rule(prim, args, batched, **kwargs) -> answer``: ``args`` are the primitive's
arguments, those flagged in ``batched`` carrying the batch on their leading axis, the others
being the same for every example; the answer carries the batch on its leading axis. Rules
call primitives, so the batch is differentiated too (``grad`` of a ``vmap``). Rules for one
primitive only (reshape, getitem...) sit beside that primitive.
"""

from __future__ import annotations

import string

from ..core import shape_of


def example_ndim(x, is_batched: bool) -> int:
    """The number of axes of one example of ``x``."""
    return len(shape_of(x)) - (1 if is_batched else 0)


def align(args, batched, core=None):
    """``args`` with size-1 axes inserted after the batch axis of the batched ones, so that
    their loop axes (all but the ``core`` trailing axes of each) line up under NumPy
    broadcasting with the unbatched ones, which broadcast from the right."""
    shapes = [shape_of(a) for a in args]
    loops = [len(s) - b for s, b in zip(shapes, batched, strict=True)]  # True counts as 1
    if core is not None:
        loops = [k - c for k, c in zip(loops, core, strict=True)]
    rank = max(loops)
    if all(k == rank for k, b in zip(loops, batched, strict=True) if b):
        return args  # the usual case: nothing to insert
    from .shapes import reshape

    out = list(args)
    for i, (s, b, k) in enumerate(zip(shapes, batched, loops, strict=True)):
        if b and k < rank:
            out[i] = reshape(args[i], (s[0],) + (1,) * (rank - k) + tuple(s[1:]))
    return out


def elementwise(prim, args, batched, **kwargs):
    """Rule of a broadcasting elementwise primitive (add, exp, where, clip...)."""
    return prim(*align(args, batched), **kwargs)


def gufunc(*core):
    """Rule of a primitive acting on the last ``core[i]`` axes of argument i and broadcasting
    over the others (vecdot: 1, 1; solve: 2, 2; inv: 2)."""

    def rule(prim, args, batched, **kwargs):
        return prim(*align(args, batched, core), **kwargs)

    return rule


def normalize(axis, ndim: int) -> tuple:
    """``axis`` (None, an int or a tuple, negatives allowed) as a tuple of axes >= 0."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) or not hasattr(axis, "__len__") else tuple(axis)
    return tuple(int(a) % max(ndim, 1) for a in axes)


def reduction(prim, args, batched, **kwargs):
    """Rule of a reduction ``prim(x, axis=None, keepdims=False)``: the axes move up by one."""
    x, *rest = args
    names = ("axis", "keepdims")
    given = dict(zip(names, rest, strict=False))
    given.update(kwargs)
    axis = given.pop("axis", None)
    axes = tuple(a + 1 for a in normalize(axis, example_ndim(x, True)))
    return prim(x, axis=axes, **given)


def along_axis(default):
    """Rule of ``prim(x, axis=default)`` acting along one axis or all (softmax): +1."""

    def rule(prim, args, batched, **kwargs):
        x, *rest = args
        axis = rest[0] if rest else kwargs.pop("axis", default)
        axes = tuple(a + 1 for a in normalize(axis, example_ndim(x, True)))
        return prim(x, axes if len(axes) != 1 else axes[0], **kwargs)

    return rule


def einsum(prim, args, batched):
    """Rule of einsum: a fresh label for the batch, on the batched operands and the output."""
    spec, operands = args[0], args[1:]
    label = next(c for c in string.ascii_letters if c not in spec)
    inputs, out = spec.split("->")
    terms = [label + t if b else t for t, b in zip(inputs.split(","), batched[1:], strict=True)]
    return prim(",".join(terms) + "->" + label + out, *operands)


def matmul(prim, args, batched):
    """Rule of matmul: a batch of vectors times one vector, or times one matrix, is already
    NumPy's matrix product; vectors·vectors (both batched) is a vecdot; otherwise 1-D operands
    become a row (a) or a column (b), a gufunc on the last two axes, and the added axes are
    dropped again."""
    from .linalg import vecdot
    from .shapes import expand_dims, squeeze

    a, b = args
    a_vec, b_vec = example_ndim(a, batched[0]) == 1, example_ndim(b, batched[1]) == 1
    if a_vec and b_vec and batched[0] != batched[1]:
        # (B, k) @ (k,) is NumPy's matrix-vector product (its VJP too: one BLAS call each),
        # where a vecdot's VJP would broadcast the vector to (B, k) and sum it back
        return prim(a, b) if batched[0] else prim(b, a)
    if a_vec and b_vec:
        return vecdot(*align([a, b], batched, (1, 1)))
    if a_vec and not batched[1] and len(shape_of(b)) == 2:
        return prim(a, b)  # (B, k) @ (k, m): a stack of rows is a matrix
    if a_vec:
        a = expand_dims(a, -2)
    if b_vec:
        b = expand_dims(b, -1)
    out = prim(*align([a, b], batched, (2, 2)))
    if a_vec or b_vec:
        out = squeeze(out, -2 if a_vec else -1)
    return out
