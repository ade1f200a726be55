"""The backpropagation lecture's figures (theory §7), computed with :mod:`autodiff`:

- :func:`backprop`: the graph of F = x³(x + 3y) at (2, 3) with each node's forward value, its
  tangents in the two forward-mode passes (ẋ = 1 and ẏ = 1), its adjoint, and the local
  derivative ∂(node)/∂(input) on each edge (88, 140, 24);
- :func:`forward_vs_reverse`: the measured time of a full gradient of f: ℝⁿ → ℝ by n
  Jacobian-vector products against one reverse pass, for n from 10 to 10⁴;
- :func:`matrix_chain`: the cost of every parenthesization of a chain, the lecture's (AB)c
  against A(Bc), and a Jacobian chain multiplied from either side.

Each returns a matplotlib figure and the numbers it shows.
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import autodiff  # noqa: E402
import autodiff.numpy as anp  # noqa: E402
from autodiff import chain  # noqa: E402
from autodiff.graph import trace  # noqa: E402

__all__ = [
    "backprop",
    "forward_vs_reverse",
    "gradient_timings",
    "lecture_graph",
    "matrix_chain",
    "parenthesizations",
]


def lecture_F(x, y):
    """The lecture's function F(x, y) = x³(x + 3y)."""
    return x**3 * (x + 3 * y)


def _local_derivative(node, slot: int, values: dict[int, float]) -> float:
    """∂(node)/∂(argument ``slot``) at the traced values: the primitive re-evaluated by
    :func:`autodiff.grad` in that argument, the others held at their values."""
    prim = getattr(anp, node.op)
    args = [values[s] if isinstance(s, int) else float(s) for s in node.slots]

    def one(v):
        return prim(*[v if k == slot else a for k, a in enumerate(args)])

    return float(autodiff.grad(one)(float(args[slot])))


def lecture_graph(x: float = 2.0, y: float = 3.0) -> dict:
    """The traced graph of F at (x, y) as plain numbers: ``nodes`` (index, label, value,
    adjoint, tangents (ẋ-pass, ẏ-pass)) and ``edges`` (from, to, local derivative); the
    tangents are propagated forward along the edges, the adjoints come from autodiff's reverse
    pass, so F's row shows both ways to the gradient (140, 24)."""
    g = trace(lecture_F, x, y).backward()
    values = {n.index: float(n.value) for n in g.nodes}
    edges, tangents = [], {}
    for n in g.nodes:
        if n.op == "input":
            tangents[n.index] = (1.0, 0.0) if n.index == 0 else (0.0, 1.0)
            continue
        tan = np.zeros(2)
        for k, s in enumerate(n.slots):
            if isinstance(s, int):
                local = _local_derivative(n, k, values)
                edges.append((s, n.index, local))
                tan += local * np.asarray(tangents[s])
        tangents[n.index] = tuple(tan)
    nodes = [
        {"index": n.index, "label": n.describe(lambda i: f"#{i}"), "value": values[n.index],
         "adjoint": float(n.adjoint), "tangents": tangents[n.index]}
        for n in g.nodes
    ]  # fmt: skip
    return {"nodes": nodes, "edges": edges, "output": g.output}


def backprop(x: float = 2.0, y: float = 3.0) -> tuple[plt.Figure, dict]:
    """Draw :func:`lecture_graph`: inputs left, F right; each box holds the node's operation,
    value, forward-mode tangents and adjoint; each edge its local derivative."""
    graph = lecture_graph(x, y)
    nodes = {n["index"]: n for n in graph["nodes"]}
    parents: dict[int, list[int]] = {i: [] for i in nodes}
    for a, b, _ in graph["edges"]:
        parents[b].append(a)
    depth: dict[int, int] = {}
    for i in sorted(nodes):
        depth[i] = 1 + max((depth[p] for p in parents[i]), default=-1)
    columns: dict[int, list[int]] = {}
    for i in sorted(nodes):
        columns.setdefault(depth[i], []).append(i)
    pos, w = {}, 1.5  # box centres and half-width (data units)
    for d in sorted(columns):
        members = columns[d]
        if d > 0:  # order a column by its nodes' mean parent height: no crossings here
            members.sort(key=lambda i: -np.mean([pos[j][1] for j in parents[i]]))
        for k, i in enumerate(members):
            pos[i] = (d * 4.4, ((len(members) - 1) / 2 - k) * 2.8)
    fig, ax = plt.subplots(figsize=(13, 6))
    for a, b, local in graph["edges"]:
        start, end = (pos[a][0] + w, pos[a][1]), (pos[b][0] - w, pos[b][1])
        ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": "0.45"})
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx, my + 0.12, f"∂#{b}/∂#{a} = {local:g}", ha="center", va="bottom", fontsize=9,
                color="C3", bbox={"fc": "white", "ec": "none", "pad": 0.5}, zorder=4)  # fmt: skip
    for i, n in nodes.items():
        tx, ty = n["tangents"]
        text = "\n".join([f"#{i} {n['label']}", f"value = {n['value']:g}",
                          f"tangent ẋ-pass = {tx:g}, ẏ-pass = {ty:g}",
                          f"adjoint = {n['adjoint']:g}"])  # fmt: skip
        colour = "#d9f2d9" if i == graph["output"] else ("#dbe9f6" if not parents[i] else "#fdf0d5")
        ax.text(*pos[i], text, ha="center", va="center", fontsize=8.5, zorder=3,
                bbox={"boxstyle": "round,pad=0.5", "fc": colour, "ec": "0.3"})  # fmt: skip
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - w - 0.3, max(xs) + w + 0.3)
    ax.set_ylim(min(ys) - 1.2, max(ys) + 1.2)
    ax.axis("off")
    out = nodes[graph["output"]]
    ax.set_title(
        f"F = x³(x + 3y) at (x, y) = ({x:g}, {y:g}): F = {out['value']:g}, "
        f"∂F/∂x = {nodes[0]['adjoint']:g}, ∂F/∂y = {nodes[1]['adjoint']:g}\n"
        "forward mode: 2 passes (one per input, tangents in each box); reverse mode: 1 pass "
        "(adjoints); red: local derivative of each edge", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig, {"F": out["value"], "dF_dx": nodes[0]["adjoint"], "dF_dy": nodes[1]["adjoint"],
                 "tangents_F": out["tangents"]}  # fmt: skip


def _loss(x):
    """The timed function ℝⁿ → ℝ: Σ sin(xᵢ)·xᵢ + (Σ xᵢ)² (a few elementwise ops and sums)."""
    return anp.sum(anp.sin(x) * x) + anp.sum(x) ** 2


def gradient_timings(ns, repeats: int = 3) -> list[dict]:
    """For each n of ``ns``: the best-of-``repeats`` wall time (s) of the full gradient of
    :func:`_loss` at a random x ∈ ℝⁿ by n forward-mode JVPs (one per basis vector) and by one
    reverse pass; rows n, forward_s, reverse_s, ratio. The two gradients are checked equal."""
    rows = []
    rng = np.random.default_rng(0)
    for n in ns:
        x = rng.normal(size=int(n))
        eye = np.eye(int(n)) if n <= 2000 else None

        def by_forward(x=x, n=int(n), eye=eye):
            out = np.empty(n)
            for k in range(n):
                e = eye[k] if eye is not None else np.eye(1, n, k)[0]
                out[k] = autodiff.jvp(_loss, (x,), (e,))[1]
            return out

        def by_reverse(x=x):
            return autodiff.grad(_loss)(x)

        times = {}
        for name, fn in (("forward_s", by_forward), ("reverse_s", by_reverse)):
            best, result = np.inf, None
            for _ in range(repeats if name == "reverse_s" or n <= 1000 else 1):
                start = time.perf_counter()
                result = fn()
                best = min(best, time.perf_counter() - start)
            times[name], times[name + "_grad"] = best, result
        np.testing.assert_allclose(times["forward_s_grad"], times["reverse_s_grad"], rtol=1e-9)
        rows.append({"n": int(n), "forward_s": times["forward_s"], "reverse_s": times["reverse_s"],
                     "ratio": times["forward_s"] / times["reverse_s"]})  # fmt: skip
    return rows


def forward_vs_reverse(rows: list[dict]) -> plt.Figure:
    """Two panels from :func:`gradient_timings`: both times against n (log–log, with a slope-1
    reference through the first forward point) and their ratio forward/reverse."""
    n = np.array([r["n"] for r in rows], dtype=float)
    fwd = np.array([r["forward_s"] for r in rows])
    rev = np.array([r["reverse_s"] for r in rows])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.4))
    a.plot(n, fwd, "o-", color="C0", label="forward mode: n JVPs (one per input)")
    a.plot(n, rev, "s-", color="C3", label="reverse mode: one pass")
    a.plot(n, fwd[0] * n / n[0], ":", color="0.5", label="∝ n (reference)")
    a.plot(n, fwd[0] * (n / n[0]) ** 2, "--", color="0.7", label="∝ n² (n passes of cost ∝ n)")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("n, number of inputs (f: ℝⁿ → ℝ)")
    a.set_ylabel("wall time of the full gradient (s)")
    a.set_title("Time of ∇f", fontsize=10)
    a.legend(fontsize=8)
    b.plot(n, fwd / rev, "o-", color="C2")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("n, number of inputs")
    b.set_ylabel("forward time / reverse time")
    b.set_title("Ratio forward/reverse: grows with n (n passes against one)", fontsize=10)
    fig.suptitle("Forward against reverse mode for a gradient, f(x) = Σ sin(xᵢ)xᵢ + (Σ xᵢ)²",
                 fontsize=11)  # fmt: skip
    fig.tight_layout()
    return fig


def parenthesizations(i: int, j: int):
    """Every full parenthesization of matrices i..j (0-based, inclusive) as nested 2-tuples
    (the order format of :mod:`autodiff.chain`); Catalan(j − i) of them."""
    if i == j:
        return [i]
    out = []
    for s in range(i, j):
        for left in parenthesizations(i, s):
            for right in parenthesizations(s + 1, j):
                out.append((left, right))
    return out


def matrix_chain(m: int = 1000, n: int = 1000, p: int = 1000) -> tuple[plt.Figure, dict]:
    """Three panels: the lecture's A (m×n) B (n×p) c (p×1) in both orders; every order of a
    4-matrix chain with its cost (the optimum marked); and the Jacobian chain of a 3-layer map
    ℝ¹⁰⁰⁰ → ℝ¹⁰⁰⁰ → ℝ¹⁰⁰⁰ → ℝ multiplied from the output side (reverse) or the input side
    (forward). Returns the figure and ``{name: cost}`` in scalar multiplications."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    lecture = [(m, n), (n, p), (p, 1)]
    orders = {"(AB)c": ((0, 1), 2), "A(Bc)": (0, (1, 2))}
    costs = {k: chain.cost(lecture, o) for k, o in orders.items()}
    ax = axes[0]
    ax.barh(list(costs), list(costs.values()), color=["C0", "C3"])
    ax.set_xscale("log")
    for k, c in enumerate(costs.values()):
        ax.text(c, k, f" {c:.3g}", va="center", fontsize=9)
    ax.set_xlabel("scalar multiplications, log axis")
    ax.set_title(f"The lecture's A ({m}×{n}) B ({n}×{p}) c ({p}×1)", fontsize=10)
    ax.set_xlim(right=max(costs.values()) * 30)

    shapes = [(50, 10), (10, 40), (40, 30), (30, 5)]
    names = ["A", "B", "C", "D"]
    every = parenthesizations(0, len(shapes) - 1)
    best, best_order = chain.optimal_order(shapes)
    rows = sorted((chain.cost(shapes, o), chain.to_string(o, names)) for o in every)
    ax = axes[1]
    colours = ["C2" if c == best else "0.6" for c, _ in rows]
    ax.barh([s for _, s in rows], [c for c, _ in rows], color=colours)
    for k, (c, _) in enumerate(rows):
        ax.text(c, k, f" {c:,}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(right=max(c for c, _ in rows) * 1.35)
    ax.set_xlabel("scalar multiplications")
    dims = "×".join(str(d) for d in [shapes[0][0], *(s[1] for s in shapes)])
    ax.set_title(f"Every order of ABCD ({dims}); green: optimal (DP)", fontsize=10)

    jc = chain.jacobian_chain([1000, 1000, 1000, 1])
    ax = axes[2]
    jac = {"reverse\n(from the output)": jc.reverse, "forward\n(from the input)": jc.forward}
    ax.barh(list(jac), list(jac.values()), color=["C3", "C0"])
    ax.set_xscale("log")
    for k, c in enumerate(jac.values()):
        ax.text(c, k, f" {c:.3g}", va="center", fontsize=9)
    ax.set_xlim(right=max(jac.values()) * 30)
    ax.set_xlabel("scalar multiplications, log axis")
    ax.set_title("Jacobian chain ℝ¹⁰⁰⁰→ℝ¹⁰⁰⁰→ℝ¹⁰⁰⁰→ℝ:\n"
                 f"J₃J₂J₁, optimal = reverse ({jc.optimal_order})", fontsize=10)  # fmt: skip
    fig.tight_layout()
    numbers = {**costs, "abcd_optimal": best, "abcd_worst": rows[-1][0],
               "abcd_orders": len(every), "jacobian_reverse": jc.reverse,
               "jacobian_forward": jc.forward, "jacobian_optimal": jc.optimal}  # fmt: skip
    assert chain.cost(shapes, best_order) == best
    return fig, numbers
