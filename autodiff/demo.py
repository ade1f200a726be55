"""The backprop lecture example, run: ``python -m autodiff.demo [--out DIR]``.

F(x, y) = x³(x + 3y) at (2, 3): F = 88, ∂F/∂x = 140, ∂F/∂y = 24. Forward mode
needs one pass per input, reverse mode one pass in all; multiplying the
Jacobian chain from the output side is the same choice as A(Bc) over (AB)c.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import chain, jacobian, value_and_grad
from .graph import trace


def F(x, y):
    """The lecture's function: x³(x + 3y)."""
    return x**3 * (x + 3 * y)


def count_calls(f):
    """Wrap f so that ``wrapped.calls`` counts its evaluations (one per forward/JVP pass)."""

    def wrapped(*args):
        wrapped.calls += 1
        return f(*args)

    wrapped.calls = 0
    return wrapped


def main(argv: list[str] | None = None) -> dict:
    """Print the lecture numbers, the pass counts and a matrix-chain table; draw the graph."""
    parser = argparse.ArgumentParser(prog="python -m autodiff.demo", description=__doc__)
    parser.add_argument("--out", default=".", help="folder for backprop_graph.png (default: .)")
    args = parser.parse_args(argv)

    x, y = 2.0, 3.0
    value, (dx, dy) = value_and_grad(F, argnums=(0, 1))(x, y)
    print("F(x, y) = x³(x + 3y) at (x, y) = (2, 3)")
    print(f"  F = {value:g}   ∂F/∂x = {dx:g}   ∂F/∂y = {dy:g}   (by hand: 88, 140, 24)")

    def F_vec(v):
        return F(v[0], v[1])

    import numpy as np

    point = np.array([x, y])
    fwd, rev = count_calls(F_vec), count_calls(F_vec)
    jacobian(fwd, mode="fwd")(point)
    jacobian(rev, mode="rev")(point)
    print(f"  forward mode: {fwd.calls} passes (one per input); reverse mode: {rev.calls} pass")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    graph = trace(F, x, y).backward()
    png = out / "backprop_graph.png"
    graph.draw(png, title="F = x³(x + 3y) at (2, 3): value and adjoint of each node")
    print(f"  graph: {len(graph.nodes)} nodes, drawn to {png}")

    m = n = p = 1000
    print(f"\nMatrix chain A ({m}×{n}) · B ({n}×{p}) · c ({p}×1), in scalar multiplications:")
    print(chain.compare([(m, n), (n, p), (p, 1)], names=["A", "B", "c"]))
    costs = chain.jacobian_chain([1000, 1000, 1000, 1])
    print(
        "A Jacobian chain R^1000 → R^1000 → R^1000 → R (scalar loss): "
        f"reverse {costs.reverse:,}, forward {costs.forward:,}, optimal {costs.optimal:,}"
    )
    return {"F": value, "dF_dx": dx, "dF_dy": dy, "fwd_passes": fwd.calls, "rev_passes": rev.calls}


if __name__ == "__main__":
    main()
