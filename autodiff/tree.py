"""Pytrees: nested dicts, lists and tuples of arrays, flattened to a list of leaves and back.

    leaves, treedef = tree_flatten({"W": W, "b": [b1, b2]})   # [W, b1, b2]
    tree_unflatten(treedef, [2 * l for l in leaves])          # {"W": 2W, "b": [2b1, 2b2]}

Containers are dicts (keys in sorted order, as JAX), lists, tuples and named tuples; None is
an empty container (no leaves). Anything else — an array, a number, a traced value — is a
leaf. Every differentiation operator in :mod:`autodiff.api` and :func:`autodiff.vmap` flattens
its inputs and outputs with this one module.
"""

from __future__ import annotations

import numpy as np


class TreeDef:
    """The shape of a pytree without its leaves: a container kind, its keys and children."""

    __slots__ = ("kind", "meta", "children", "num_leaves", "_hash")

    def __init__(self, kind, meta, children: tuple):
        self.kind = kind  # None for a leaf, else the container's type
        self.meta = meta  # a dict's sorted keys; None otherwise
        self.children = children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)
        self._hash = hash((kind, meta, children))  # structures key caches (vmap's axes)

    def __eq__(self, other) -> bool:
        return self is other or (
            isinstance(other, TreeDef)
            and self._hash == other._hash
            and self.kind is other.kind
            and self.meta == other.meta
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        if self.kind is dict:
            inner = ", ".join(
                f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children, strict=True)
            )
            return "{" + inner + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"{self.kind.__name__}({inner})"


LEAF = TreeDef(None, None, ())


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def tree_flatten(tree) -> tuple[list, TreeDef]:
    """``(leaves, treedef)``: the leaves of ``tree`` in a fixed order, and its structure."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves: list) -> TreeDef:
    kind = type(tree)
    if kind is dict:
        keys = tuple(sorted(tree))
        return TreeDef(dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if kind is list or kind is tuple or _is_namedtuple(tree):
        return TreeDef(kind, None, tuple(_flatten(c, leaves) for c in tree))
    if tree is None:
        return TreeDef(type(None), None, ())
    leaves.append(tree)
    return LEAF


def tree_unflatten(treedef: TreeDef, leaves) -> object:
    """The pytree of structure ``treedef`` holding ``leaves`` (in :func:`tree_flatten` order)."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"tree_unflatten: the structure {treedef!r} holds {treedef.num_leaves} leaves, "
            f"got {len(leaves)}"
        )
    it = iter(leaves)
    return _build(treedef, it)


def _build(treedef: TreeDef, it):
    kind = treedef.kind
    if kind is None:
        return next(it)
    if kind is type(None):
        return None
    children = [_build(c, it) for c in treedef.children]
    if kind is dict:
        return dict(zip(treedef.meta, children, strict=True))
    if kind is list:
        return children
    if kind is tuple:
        return tuple(children)
    return kind(*children)  # a named tuple


def tree_leaves(tree) -> list:
    """The leaves of ``tree``, in :func:`tree_flatten` order."""
    return tree_flatten(tree)[0]


def tree_map(f, tree, *rest):
    """``f`` applied leaf by leaf to ``tree`` (and to the matching leaves of ``rest``, which
    must have the same structure); the answer has ``tree``'s structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for i, r in enumerate(rest):
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise ValueError(
                f"tree_map: argument {i + 1} has structure {r_def!r}, but the first has {treedef!r}"
            )
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def leaf_paths(treedef: TreeDef) -> list[str]:
    """A readable path per leaf (``['W']``, ``[1][0]``...), for error messages."""
    out: list[str] = []
    _walk(treedef, "", out)
    return out


def _walk(d: TreeDef, path: str, out: list) -> None:
    if d.kind is None:
        out.append(path)
        return
    keys = d.meta if d.kind is dict else range(len(d.children))
    for k, c in zip(keys, d.children, strict=True):
        _walk(c, f"{path}[{k!r}]", out)


def float_leaf_problem(value) -> str | None:
    """Why ``value`` (a plain leaf, boxes removed) is not a float scalar or float array, as
    the end of a sentence ("is a str", "has dtype int64"); None when it is one. The one test
    behind both the differentiation functions' argument check and sgdlab's parameters."""
    if type(value) is float or (type(value) is np.ndarray and value.dtype.kind == "f"):
        return None  # the common cases, without the slower checks below
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (float, int, np.ndarray, np.generic)
    ):
        return f"is a {type(value).__name__}"
    dt = np.result_type(value)
    return None if np.issubdtype(dt, np.floating) else f"has dtype {dt}"
