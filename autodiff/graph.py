"""Inspecting a computational graph: trace it, run backward, print DOT, draw a PNG."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .core import Box, unbox
from .reverse import backward, start, toposort


@dataclass
class GraphNode:
    """One node: an input or one primitive application, with its value and (later) adjoint."""

    index: int
    op: str  # "input" or the primitive's name
    value: object
    inputs: tuple[int, ...]  # indices of the nodes it was computed from
    slots: tuple = ()  # each argument: the index of an input node (int) or a constant's repr
    name: str | None = None  # the parameter name, for inputs
    adjoint: object = None  # ∂output/∂(this node), filled by Graph.backward

    @property
    def label(self) -> str:
        """``x`` for an input, else the op with its constant arguments, e.g. ``power(·, 3)``."""
        return self.describe(lambda i: "·")

    def describe(self, ref) -> str:
        """The op applied to its arguments, node arguments written as ``ref(index)``."""
        if self.op == "input":
            return self.name or f"input{self.index}"
        if all(isinstance(s, int) for s in self.slots):
            return self.op
        return f"{self.op}({', '.join(ref(s) if isinstance(s, int) else s for s in self.slots)})"


class Graph:
    """The graph of one evaluation of f: ``nodes`` in evaluation order, the last is the output."""

    def __init__(self, nodes: list[GraphNode], output: int, root, tape, by_node: dict):
        self.nodes = nodes
        self.output = output
        self._root = root
        self._tape = tape  # the tracer's tape: backward needs it alive
        self._by_node = by_node  # the tracer's node -> its GraphNode

    def __repr__(self) -> str:
        lines = [f"Graph with {len(self.nodes)} nodes:"]
        for n in self.nodes:
            adj = "" if n.adjoint is None else f", adjoint={_short(n.adjoint)}"
            call = n.describe(lambda i: f"#{i}")
            if n.op != "input" and "(" not in call:
                call += "(" + ", ".join(f"#{i}" for i in n.inputs) + ")"
            lines.append(f"  #{n.index} {call} = {_short(n.value)}{adj}")
        return "\n".join(lines)

    def backward(self) -> Graph:
        """Fill every node's ``adjoint`` (∂output/∂node) with one reverse sweep; returns self.

        Needs a scalar output. Running it again recomputes the same adjoints.
        """
        out = self.nodes[self.output]
        if np.shape(out.value) != ():
            raise ValueError(
                f"Graph.backward needs a scalar output, got shape {np.shape(out.value)}"
            )
        if self._root is None:
            return self
        adjoints = backward(self._tape, self._root, np.ones_like(out.value), keep_all=True)
        for vjp_node, node in self._by_node.items():
            adj = adjoints.get(vjp_node)
            node.adjoint = np.zeros_like(node.value) if adj is None else unbox(adj)
        return self

    def to_dot(self) -> str:
        """The graph in Graphviz DOT, one box per node with its value and adjoint."""
        lines = ["digraph autodiff {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
        for n in self.nodes:
            text = f"{n.label}\\nvalue = {_short(n.value)}"
            if n.adjoint is not None:
                text += f"\\nadjoint = {_short(n.adjoint)}"
            lines.append(f'  n{n.index} [label="{text}"];')
        for n in self.nodes:
            lines.extend(f"  n{i} -> n{n.index};" for i in n.inputs)
        lines.append("}")
        return "\n".join(lines)

    def draw(self, path, title: str | None = None) -> None:
        """Draw the graph to a PNG at ``path`` with matplotlib (no Graphviz needed).

        Inputs on the left, the output on the right; each box shows the node's op,
        its value and, after :meth:`backward`, its adjoint.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        depth: dict[int, int] = {}
        for n in self.nodes:
            depth[n.index] = 1 + max((depth[i] for i in n.inputs), default=-1)
        columns: dict[int, list[int]] = {}
        for n in self.nodes:
            columns.setdefault(depth[n.index], []).append(n.index)
        pos = {}
        for d in sorted(columns):
            members = columns[d]
            if d > 0:  # order a column by its nodes' mean parent height: fewer crossings
                members.sort(key=lambda i: -np.mean([pos[j][1] for j in self.nodes[i].inputs]))
            for k, idx in enumerate(members):
                pos[idx] = (d, (len(members) - 1) / 2 - k)

        width = max(columns) + 1
        height = max(len(m) for m in columns.values())
        fig, ax = plt.subplots(figsize=(2.6 * width + 1, 1.6 * height + 1.2))
        for n in self.nodes:
            for i in n.inputs:
                ax.annotate(
                    "",
                    xy=pos[n.index],
                    xytext=pos[i],
                    arrowprops={"arrowstyle": "-|>", "color": "0.4", "shrinkA": 38, "shrinkB": 38},
                )
        for n in self.nodes:
            text = f"{n.label}\nvalue = {_short(n.value)}"
            if n.adjoint is not None:
                text += f"\nadjoint = {_short(n.adjoint)}"
            color = "#dbe9f6" if n.op == "input" else "#fdf0d5"
            if n.index == self.output:
                color = "#d9f2d9"
            ax.text(
                *pos[n.index],
                text,
                ha="center",
                va="center",
                fontsize=10,
                bbox={"boxstyle": "round,pad=0.5", "fc": color, "ec": "0.3"},
            )
        ax.set_xlim(-0.6, width - 0.4)
        ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
        ax.axis("off")
        ax.set_title(title or "Computational graph (value, adjoint = ∂output/∂node)")
        fig.tight_layout()
        fig.savefig(path, dpi=150)
        plt.close(fig)


def _short(v) -> str:
    v = unbox(v)
    if isinstance(v, (int, float, np.number)) or (isinstance(v, np.ndarray) and v.ndim == 0):
        return f"{float(v):.6g}"
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    text = repr(v)
    return text if len(text) <= 20 else text[:17] + "..."


def trace(f, *args) -> Graph:
    """Evaluate ``f(*args)`` once and return its computational graph (adjoints not yet filled).

    Every argument is an input node (named after f's parameters when it can
    tell); call ``.backward()`` on the result to fill the adjoints.
    """
    try:
        names = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        names = []
    tape, boxes = start(args)
    out = f(*boxes)
    inputs = [b.node for b in boxes]
    root = out.node if type(out) is Box and out.trace == boxes[0].trace else None
    topo = list(reversed(toposort(root))) if root is not None else []
    order = inputs + [n for n in topo if n.prim is not None]

    index = {id(n): k for k, n in enumerate(order)}
    nodes = []
    for k, n in enumerate(order):
        if n.prim is None:
            pos = inputs.index(n)
            name = names[pos] if pos < len(names) else None
            nodes.append(GraphNode(k, "input", unbox(n.ans), (), name=name))
            continue
        traced = {argnum: index[id(p)] for argnum, p in n.parents}
        slots = tuple(traced.get(i, _short(a)) for i, a in enumerate(n.args))
        parents = tuple(traced.values())
        nodes.append(GraphNode(k, n.prim.name, unbox(n.ans), parents, slots))
    if root is None:
        nodes.append(GraphNode(len(nodes), "constant", unbox(out), ()))
    return Graph(nodes, len(nodes) - 1, root, tape, dict(zip(order, nodes, strict=False)))
