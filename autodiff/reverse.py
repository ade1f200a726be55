"""Reverse mode: record the tape, then walk it backwards accumulating adjoints."""

from __future__ import annotations

import weakref

from . import core
from .core import Box, Tape, VJPNode, new_trace


def toposort(root: VJPNode) -> list[VJPNode]:
    """Nodes reachable from ``root``, each before all of its parents (iterative, no recursion)."""
    order: list[VJPNode] = []
    seen: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for _, parent in node.parents:
            if id(parent) not in seen:
                stack.append((parent, False))
    order.reverse()
    return order


def backward(
    tape: Tape, root: VJPNode, g, keep_all: bool = False, release: bool = False
) -> dict[VJPNode, object]:
    """Propagate the cotangent ``g`` of ``root`` to every node; returns ``{node: adjoint}``.

    Walks ``tape`` (the trace's nodes in computation order) backwards from
    ``root``. Only the adjoints of inputs (nodes without parents) are returned
    unless ``keep_all``. Nothing is stored on the nodes, so calling it twice
    gives the same answer twice (no accumulation across calls) — unless
    ``release``, which empties each node once its rule has run, so that the
    forward pass's arrays are freed during the sweep instead of after it (less
    memory and better cache use; for callers that run backward only once).
    """
    adjoints = {root: g}
    end = len(tape) if root.prim is None else _position(tape, root) + 1
    for k in range(end - 1, -1, -1):
        node = tape[k]
        g = adjoints.get(node) if keep_all else adjoints.pop(node, None)
        if g is None:
            continue
        prim, args, ans, kwargs = node.prim, node.args, node.ans, node.kwargs
        for argnum, parent in node.parents:
            contrib = prim.vjps[argnum](g, ans, *args, **kwargs)
            shape = getattr(args[argnum], "shape", ())
            if getattr(contrib, "shape", ()) != shape:  # plain arrays: sum_to's function directly
                contrib = (core.sum_to if type(contrib) is Box else core.sum_to.fun)(contrib, shape)
            prev = adjoints.get(parent)
            if prev is None:
                adjoints[parent] = contrib
            elif type(prev) is Box or type(contrib) is Box:  # recorded by an outer trace
                adjoints[parent] = core.add(prev, contrib)
            else:  # plain arrays: NumPy's add directly, without the primitive's dispatch
                adjoints[parent] = prev + contrib
        if release:
            node.args = node.ans = node.kwargs = None
            node.parents = ()
    return adjoints


def _position(tape: list, node: VJPNode) -> int:
    """Index of ``node`` in ``tape``: usually the last entry, so search from the end."""
    for k in range(len(tape) - 1, -1, -1):
        if tape[k] is node:
            return k
    raise ValueError("node is not on its trace's tape")


def start(values) -> tuple[Tape, list[Box]]:
    """Open a reverse-mode trace; returns its tape and each of ``values`` boxed as an input.

    The caller must hold on to the tape for as long as it wants to run backward.
    """
    trace = new_trace()
    tape = Tape()
    ref = weakref.ref(tape)
    return tape, [Box(v, trace, VJPNode(None, (), {}, v, (), ref)) for v in values]
