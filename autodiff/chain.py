"""Matrix-chain ordering, and why reverse mode multiplies a Jacobian chain from the output side.

A chain A_1 A_2 ... A_k is given by its ``shapes``, a list of ``(rows, cols)`` pairs with
``cols(A_i) == rows(A_{i+1})``. A parenthesization ("order") is written as nested 2-tuples of
0-based matrix indices: ``((0, 1), 2)`` is (A1 A2) A3 and a bare int is a single matrix.
Every cost is a count of scalar multiplications: a (p x q) times (q x r) product costs p*q*r.
See theory.md section 7 and test case T6.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

__all__ = [
    "ChainCosts",
    "compare",
    "cost",
    "jacobian_chain",
    "left_to_right",
    "optimal_order",
    "right_to_left",
    "to_string",
]


def _check_shapes(shapes) -> list[int]:
    """Validate a chain and return its dimension list p_0, p_1, ..., p_k (A_i is p_{i-1} x p_i)."""
    if len(shapes) == 0:
        raise ValueError("empty chain: shapes must hold at least one (rows, cols) pair")
    dims = []
    for i, shape in enumerate(shapes):
        try:
            rows, cols = (operator.index(n) for n in shape)
        except (TypeError, ValueError):
            raise ValueError(
                f"shapes[{i}] = {shape!r} is not a (rows, cols) pair of ints"
            ) from None
        if rows < 1 or cols < 1:
            raise ValueError(f"shapes[{i}] = {shape!r} has a size < 1")
        if i == 0:
            dims.append(rows)
        elif rows != dims[-1]:
            raise ValueError(
                f"shapes do not chain at index {i}: shapes[{i - 1}] has {dims[-1]} columns "
                f"but shapes[{i}] has {rows} rows"
            )
        dims.append(cols)
    return dims


def _leaves(order) -> list[int]:
    """The matrix indices of `order` from left to right; ValueError if it is not a binary tree."""
    if isinstance(order, tuple):
        if len(order) != 2:
            raise ValueError(f"order node {order!r} must be a 2-tuple, not a {len(order)}-tuple")
        return _leaves(order[0]) + _leaves(order[1])
    if isinstance(order, bool):
        raise ValueError(f"order leaf {order!r} must be an int matrix index")
    try:
        return [operator.index(order)]
    except TypeError:
        raise ValueError(f"order leaf {order!r} must be an int matrix index or a 2-tuple") from None


def _check_order(order, k: int) -> None:
    leaves = _leaves(order)
    if leaves != list(range(k)):
        raise ValueError(
            f"order must use each index 0..{k - 1} exactly once, left to right; got {leaves}"
        )


def cost(shapes, order) -> int:
    """Scalar multiplications needed to multiply the chain `shapes` in the parenthesization `order`.

    `shapes` is a list of (rows, cols) pairs for A_1..A_k; `order` is nested 2-tuples of the
    0-based indices 0..k-1 (or a bare int when k == 1). Raises ValueError on a bad chain or order.
    """
    p = _check_shapes(shapes)
    _check_order(order, len(shapes))

    def walk(node) -> tuple[int, int, int]:  # (first index, last index, cost)
        if not isinstance(node, tuple):
            return node, node, 0
        i, s, left = walk(node[0])
        _, j, right = walk(node[1])
        return i, j, left + right + p[i] * p[s + 1] * p[j + 1]

    return walk(order)[2]


def optimal_order(shapes) -> tuple[int, object]:
    """Cheapest parenthesization of the chain `shapes`, by the CLRS O(k^3) dynamic program.

    m[i,i] = 0 and m[i,j] = min over i <= s < j of m[i,s] + m[s+1,j] + p_{i-1} p_s p_j.
    Returns ``(cost, order)``: the minimal number of scalar multiplications and the order as
    nested 2-tuples of 0-based indices. Ties go to the smallest split s, as in CLRS.
    """
    p = _check_shapes(shapes)
    k = len(shapes)
    m = [[0] * k for _ in range(k)]  # m[i][j]: cheapest cost of A_i..A_j (0-based)
    split = [[0] * k for _ in range(k)]
    for length in range(2, k + 1):
        for i in range(k - length + 1):
            j = i + length - 1
            m[i][j], split[i][j] = min(
                (m[i][s] + m[s + 1][j] + p[i] * p[s + 1] * p[j + 1], s) for s in range(i, j)
            )

    def build(i: int, j: int):
        if i == j:
            return i
        s = split[i][j]
        return (build(i, s), build(s + 1, j))

    return m[0][k - 1], build(0, k - 1)


def to_string(order, names=None) -> str:
    """Render `order` like ``((A1(A2A3))((A4A5)A6))``; names default to A1..Ak (1-based).

    `names`, if given, is a list with one name per matrix index (0-based) and overrides the default.
    """
    leaves = _leaves(order)
    if names is None:
        names = [f"A{i + 1}" for i in range(max(leaves) + 1)]
    if max(leaves) >= len(names) or min(leaves) < 0:
        raise ValueError(f"order uses indices {leaves} but only {len(names)} names were given")

    def render(node) -> str:
        if isinstance(node, tuple):
            return f"({render(node[0])}{render(node[1])})"
        return str(names[node])

    return render(order)


def left_to_right(k: int):
    """The order ((A1 A2) A3)... for a chain of k >= 1 matrices, as nested tuples."""
    if k < 1:
        raise ValueError(f"empty chain: k must be >= 1, got {k}")
    order = 0
    for i in range(1, k):
        order = (order, i)
    return order


def right_to_left(k: int):
    """The order A1 (A2 (A3 ...)) for a chain of k >= 1 matrices, as nested tuples."""
    if k < 1:
        raise ValueError(f"empty chain: k must be >= 1, got {k}")
    order = k - 1
    for i in range(k - 2, -1, -1):
        order = (i, order)
    return order


@dataclass(frozen=True)
class ChainCosts:
    """Costs (scalar multiplications) of accumulating the Jacobian chain J_K ... J_1."""

    reverse: int  # from the output side: ((J_K J_{K-1}) J_{K-2}) ...
    forward: int  # from the input side: J_K (... (J_2 J_1))
    optimal: int  # the dynamic-programming minimum
    optimal_order: str  # e.g. "((J3J2)J1)"


def jacobian_chain(dims) -> ChainCosts:
    """Cost of forming the full Jacobian J_K ... J_1 of a K-layer map in three orders.

    `dims = [n_0, ..., n_K]`: input x in R^{n_0}, intermediates, output in R^{n_K}; layer i has
    Jacobian J_i of shape (n_i x n_{i-1}), so the chain's shapes are
    [(n_K, n_{K-1}), ..., (n_1, n_0)]. `reverse` multiplies from the output side (left to right,
    what reverse mode does), `forward` from the input side (right to left, forward mode).

    Scalar output (n_K = 1): J_K is a row vector, every reverse step is a vector-Jacobian product,
    and reverse == optimal provided every other n_i >= 2. Symmetrically, for a scalar input
    (n_0 = 1) forward == optimal provided every other n_i >= 2. A width-1 layer elsewhere can
    beat both: dims [1000, 1, 1000, 2, 1] gives reverse 4000 but optimal 3002.
    """
    if len(dims) < 2:
        raise ValueError(f"empty chain: dims needs n_0 and at least one layer, got {list(dims)}")
    K = len(dims) - 1
    shapes = [(dims[i], dims[i - 1]) for i in range(K, 0, -1)]
    best, order = optimal_order(shapes)
    return ChainCosts(
        reverse=cost(shapes, left_to_right(K)),
        forward=cost(shapes, right_to_left(K)),
        optimal=best,
        optimal_order=to_string(order, [f"J{i}" for i in range(K, 0, -1)]),
    )


def compare(shapes, names=None) -> str:
    """A small text table of the left-to-right, right-to-left and optimal orders and their costs."""
    best, order = optimal_order(shapes)  # validates shapes
    k = len(shapes)
    rows = [
        ("left-to-right", to_string(left_to_right(k), names), cost(shapes, left_to_right(k))),
        ("right-to-left", to_string(right_to_left(k), names), cost(shapes, right_to_left(k))),
        ("optimal", to_string(order, names), best),
    ]
    width = max(len(s) for _, s, _ in rows)
    lines = [f"{'':13}  {'order':<{width}}  {'scalar mults':>15}"]
    lines += [f"{label:13}  {s:<{width}}  {c:>15,}" for label, s, c in rows]
    return "\n".join(lines)
