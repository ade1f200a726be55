"""Reverse mode: record the tape, then walk it backwards accumulating adjoints."""

from __future__ import annotations

from . import core
from .core import Box, VJPNode, new_trace, shape_of


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


def backward(root: VJPNode, g, keep_all: bool = False) -> dict[int, object]:
    """Propagate the cotangent ``g`` of ``root`` to every node; returns ``{id(node): adjoint}``.

    Only the adjoints of inputs (nodes without parents) are kept unless
    ``keep_all``. Nothing is stored on the nodes, so calling it twice gives the
    same answer twice (no accumulation across calls).
    """
    adjoints = {id(root): g}
    kept = {}
    for node in toposort(root):
        g = adjoints.pop(id(node), None) if not keep_all else adjoints.get(id(node))
        if g is None:
            continue
        if keep_all or not node.parents:
            kept[id(node)] = g
        prim = node.prim
        for argnum, parent in node.parents:
            arg = node.args[argnum]
            contrib = prim.vjps[argnum](g, node.ans, *node.args, **node.kwargs)
            if shape_of(contrib) != shape_of(arg):
                contrib = core.sum_to(contrib, shape_of(arg))
            key = id(parent)
            prev = adjoints.get(key)
            adjoints[key] = contrib if prev is None else core.add(prev, contrib)
    return kept


def start(values) -> tuple[int, list[Box]]:
    """Open a reverse-mode trace and box each of ``values`` as one of its inputs."""
    trace = new_trace()
    return trace, [Box(v, trace, VJPNode(None, (), {}, v, ())) for v in values]
