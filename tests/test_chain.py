"""Tests for autodiff.chain: matrix-chain costs, the CLRS DP, and the Jacobian-chain lesson."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodiff.chain import (
    ChainCosts,
    compare,
    cost,
    jacobian_chain,
    left_to_right,
    optimal_order,
    right_to_left,
    to_string,
)

CLRS = [(30, 35), (35, 15), (15, 5), (5, 10), (10, 20), (20, 25)]


def shapes_from_dims(p):
    return [(p[i], p[i + 1]) for i in range(len(p) - 1)]


def all_orders(i, j):
    """Every parenthesization of matrices i..j (inclusive), by brute force."""
    if i == j:
        return [i]
    return [(a, b) for s in range(i, j) for a in all_orders(i, s) for b in all_orders(s + 1, j)]


def multiply_counting(mats, order):
    """Multiply numpy matrices in `order`; return (product, scalar multiplications p*q*r)."""
    if not isinstance(order, tuple):
        return mats[order], 0
    (a, ca), (b, cb) = multiply_counting(mats, order[0]), multiply_counting(mats, order[1])
    return a @ b, ca + cb + a.shape[0] * a.shape[1] * b.shape[1]


dims_lists = st.lists(st.integers(1, 30), min_size=2, max_size=9)  # 1..8 matrices


@st.composite
def chain_and_order(draw):
    p = draw(dims_lists)

    def tree(i, j):
        if i == j:
            return i
        s = draw(st.integers(i, j - 1))
        return (tree(i, s), tree(s + 1, j))

    return shapes_from_dims(p), tree(0, len(p) - 2)


# --- the numbers of theory.md section 7 and T6 ---------------------------------------------


def test_matrix_times_vector_formulas():
    m, n, p = 7, 11, 13  # A (m x n), B (n x p), c (p x 1)
    shapes = [(m, n), (n, p), (p, 1)]
    assert cost(shapes, ((0, 1), 2)) == m * n * p + m * p
    assert cost(shapes, (0, (1, 2))) == n * p + m * n


def test_10_100_5_50():
    shapes = [(10, 100), (100, 5), (5, 50)]
    assert cost(shapes, ((0, 1), 2)) == 7500
    assert cost(shapes, (0, (1, 2))) == 75000
    assert optimal_order(shapes) == (7500, ((0, 1), 2))


def test_clrs_example():
    best, order = optimal_order(CLRS)
    assert best == 15125
    assert to_string(order) == "((A1(A2A3))((A4A5)A6))"
    assert cost(CLRS, order) == 15125


def test_big_matrices_times_vector():
    shapes = [(1000, 1000), (1000, 1000), (1000, 1)]
    assert cost(shapes, left_to_right(3)) == 1_001_000_000
    assert cost(shapes, right_to_left(3)) == 2_000_000
    assert optimal_order(shapes) == (2_000_000, (0, (1, 2)))


def test_row_vector_dp_goes_left_to_right():
    shapes = shapes_from_dims((1, 1000, 1000, 1000))
    assert shapes == [(1, 1000), (1000, 1000), (1000, 1000)]
    assert optimal_order(shapes) == (2_000_000, left_to_right(3))


# --- the DP against brute force, and cost against real multiplication ----------------------


@settings(max_examples=60, deadline=None)
@given(dims_lists)
def test_dp_matches_brute_force(p):
    shapes = shapes_from_dims(p)
    best, order = optimal_order(shapes)
    assert best == min(cost(shapes, o) for o in all_orders(0, len(shapes) - 1))
    assert cost(shapes, order) == best


@settings(max_examples=40, deadline=None)
@given(chain_and_order(), st.integers(0, 2**32 - 1))
def test_cost_counts_real_multiplications(chain, seed):
    shapes, order = chain
    rng = np.random.default_rng(seed)
    mats = [rng.standard_normal(s) / np.sqrt(s[1]) for s in shapes]
    product, counted = multiply_counting(mats, order)
    assert cost(shapes, order) == counted
    np.testing.assert_allclose(product, np.linalg.multi_dot(mats) if len(mats) > 1 else mats[0])


def test_catalan_count_of_orders():
    assert [len(all_orders(0, k - 1)) for k in range(1, 8)] == [1, 1, 2, 5, 14, 42, 132]


# --- orders and strings --------------------------------------------------------------------


def test_sequential_orders_and_strings():
    assert left_to_right(1) == right_to_left(1) == 0
    assert left_to_right(4) == (((0, 1), 2), 3)
    assert right_to_left(4) == (0, (1, (2, 3)))
    assert to_string(left_to_right(3)) == "((A1A2)A3)"
    assert to_string(right_to_left(3), names=["A", "B", "C"]) == "(A(BC))"
    assert to_string(0) == "A1"


def test_single_matrix_costs_nothing():
    assert optimal_order([(3, 4)]) == (0, 0)
    assert cost([(3, 4)], 0) == 0


def test_compare_table():
    table = compare([(10, 100), (100, 5), (5, 50)], names=["A", "B", "C"])
    lines = table.splitlines()
    assert len(lines) == 4
    assert "((AB)C)" in lines[1] and "7,500" in lines[1]
    assert "(A(BC))" in lines[2] and "75,000" in lines[2]
    assert lines[3].startswith("optimal") and "7,500" in lines[3]
    assert "15,125" in compare(CLRS)


# --- the Jacobian chain ----------------------------------------------------------------------


def test_scalar_output_reverse_is_optimal():
    c = jacobian_chain([1000, 100, 100, 1])
    assert isinstance(c, ChainCosts)
    assert c.reverse == c.optimal == 100 * 100 + 100 * 1000  # one vector-Jacobian product each
    assert c.reverse < c.forward == 100 * 100 * 1000 + 1 * 100 * 1000
    assert c.optimal_order == "((J3J2)J1)"


def test_scalar_input_forward_is_optimal():
    c = jacobian_chain([1, 100, 100, 1000])
    assert c.forward == c.optimal < c.reverse
    assert c.optimal_order == "(J3(J2J1))"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(2, 30), min_size=1, max_size=7))
def test_scalar_end_sequential_order_is_optimal(widths):
    """With no other width-1 layer, reverse (forward) is optimal for a scalar output (input)."""
    out = jacobian_chain([*widths, 1])
    assert out.reverse == out.optimal
    inp = jacobian_chain([1, *widths])
    assert inp.forward == inp.optimal


def test_width_one_bottleneck_beats_reverse():
    c = jacobian_chain([1000, 1, 1000, 2, 1])  # scalar output, but a width-1 layer inside
    assert (c.reverse, c.optimal) == (4000, 3002)
    assert c.optimal_order == "((J4(J3J2))J1)"


# --- bad input --------------------------------------------------------------------------------


def test_mismatched_shapes():
    with pytest.raises(
        ValueError, match=r"index 2: shapes\[1\] has 5 columns but shapes\[2\] has 6"
    ):
        cost([(10, 100), (100, 5), (6, 50)], ((0, 1), 2))
    with pytest.raises(ValueError, match="index 1"):
        optimal_order([(2, 3), (4, 5)])


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ((0, 1, 2), "must be a 2-tuple, not a 3-tuple"),
        ((1, (0, 2)), r"exactly once, left to right; got \[1, 0, 2\]"),
        (((0, 1), 1), r"got \[0, 1, 1\]"),
        ((0, 1), r"got \[0, 1\]"),
        (((0, 1), 3), r"got \[0, 1, 3\]"),
        (((0, 1), "2"), "must be an int matrix index"),
        ([0, [1, 2]], "must be an int matrix index or a 2-tuple"),
    ],
)
def test_malformed_order(order, message):
    with pytest.raises(ValueError, match=message):
        cost([(2, 3), (3, 4), (4, 5)], order)


def test_empty_chain():
    with pytest.raises(ValueError, match="empty chain"):
        cost([], 0)
    with pytest.raises(ValueError, match="empty chain"):
        optimal_order([])
    with pytest.raises(ValueError, match="empty chain"):
        compare([])
    with pytest.raises(ValueError, match="empty chain"):
        jacobian_chain([5])
    with pytest.raises(ValueError, match="empty chain"):
        left_to_right(0)


def test_bad_shape_entries_and_names():
    with pytest.raises(ValueError, match=r"shapes\[0\].*not a \(rows, cols\) pair"):
        optimal_order([(2.5, 3)])
    with pytest.raises(ValueError, match=r"shapes\[1\].*size < 1"):
        optimal_order([(2, 3), (3, 0)])
    with pytest.raises(ValueError, match="only 2 names"):
        to_string(((0, 1), 2), names=["A", "B"])
