"""autodiff.vmap: axes, pytrees, nesting with the differentiation operators, fallbacks, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
from autodiff import batching
from autodiff.core import Primitive

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 3))
Y = (RNG.random(6) > 0.5).astype(float)
W = RNG.standard_normal(3)


def logistic(w, x, y):
    """Loss of one example: log(1 + exp(−s·xᵀw)), s = ±1."""
    s = 2 * y - 1
    return anp.softplus(-s * (x @ w))


def test_batched_loss_and_per_example_gradients_match_the_formula():
    losses = autodiff.vmap(logistic, in_axes=(None, 0, 0))(W, X, Y)
    s = 2 * Y - 1
    np.testing.assert_allclose(losses, np.logaddexp(0, -s * (X @ W)), rtol=1e-13)
    per_example = autodiff.vmap(autodiff.grad(logistic), in_axes=(None, 0, 0))(W, X, Y)
    sig = 1 / (1 + np.exp(s * (X @ W)))
    np.testing.assert_allclose(per_example, (-s * sig)[:, None] * X, rtol=1e-12)
    mean_grad = autodiff.grad(lambda w: anp.mean(autodiff.vmap(logistic, (None, 0, 0))(w, X, Y)))(W)
    np.testing.assert_allclose(mean_grad, per_example.mean(0), rtol=1e-12)


def test_in_axes_and_out_axes_move_the_batch_axis():
    A = RNG.standard_normal((3, 4, 5))  # batch on axis 1
    out = autodiff.vmap(lambda a: anp.sum(a, axis=0) * 2, in_axes=1, out_axes=-1)(A)
    np.testing.assert_allclose(out, 2 * A.sum(0).T)
    assert out.shape == (5, 4)
    out = autodiff.vmap(lambda a, b: a @ b, in_axes=(-1, None))(A, np.ones(4))
    np.testing.assert_allclose(out, np.stack([A[:, :, k] @ np.ones(4) for k in range(5)]))


def test_pytree_inputs_outputs_and_in_axes():
    params = {"w": W, "b": 0.5}
    batch = {"x": X, "y": Y}

    def f(p, ex):
        z = ex["x"] @ p["w"] + p["b"]
        return {"z": z, "both": (z * ex["y"], ex["x"])}

    out = autodiff.vmap(f, in_axes=(None, {"x": 0, "y": 0}))(params, batch)
    np.testing.assert_allclose(out["z"], X @ W + 0.5)
    np.testing.assert_allclose(out["both"][0], (X @ W + 0.5) * Y)
    np.testing.assert_allclose(out["both"][1], X)
    out = autodiff.vmap(f, in_axes=(None, 0), out_axes={"z": 0, "both": (0, 1)})(params, batch)
    np.testing.assert_allclose(out["both"][1], X.T)


def test_unbatched_outputs_are_broadcast_and_shapes_inside_are_one_examples():
    seen = []

    def f(x):
        seen.append((x.shape, np.shape(x), x.ndim, len(x)))
        return np.ones(2)

    out = autodiff.vmap(f)(X)
    assert out.shape == (6, 2) and seen == [((3,), (3,), 1, 3)]


def test_comparisons_where_and_argmax_under_vmap():
    def f(x):
        relu = np.where(x > 0, x, 0.1 * x)
        return anp.sum(relu) + x[np.argmax(x)] + anp.sum(anp.clip(x, -0.5, 0.5))

    got = autodiff.vmap(f)(X)
    np.testing.assert_allclose(got, [f(x) for x in X], rtol=1e-13)
    g = autodiff.vmap(autodiff.grad(f))(X)
    np.testing.assert_allclose(g, [autodiff.grad(f)(x) for x in X], rtol=1e-13)


def test_nested_vmap_and_forward_mode():
    M = RNG.standard_normal((4, 5, 3))
    out = autodiff.vmap(
        autodiff.vmap(lambda a, b: anp.sum(a * b), in_axes=(0, None)), in_axes=(0, None)
    )(M, X[0])
    np.testing.assert_allclose(out, M @ X[0])
    t = RNG.standard_normal(3)
    value, tangent = autodiff.jvp(
        lambda w: autodiff.vmap(logistic, (None, 0, 0))(w, X, Y), (W,), (t,)
    )
    per_example = autodiff.vmap(autodiff.grad(logistic), in_axes=(None, 0, 0))(W, X, Y)
    np.testing.assert_allclose(tangent, per_example @ t, rtol=1e-12)
    hv = autodiff.vmap(lambda x, y: autodiff.hvp(lambda w: logistic(w, x, y), W, t))(X, Y)
    want = [
        autodiff.hvp(lambda w, x=x, y=y: logistic(w, x, y), W, t) for x, y in zip(X, Y, strict=True)
    ]
    np.testing.assert_allclose(hv, want)


def test_primitive_without_batching_rule_loops_and_warns_once_by_name():
    cube = Primitive(
        "cube_for_test",
        lambda x: x**3,
        {0: lambda g, ans, x: 3 * g * x * x},
        {0: lambda t, ans, x: 3 * t * x * x},
    )
    batching._WARNED.discard("cube_for_test")
    with pytest.warns(RuntimeWarning, match="cube_for_test has no batching rule"):
        out = autodiff.vmap(cube)(X)
    np.testing.assert_allclose(out, X**3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = autodiff.vmap(autodiff.grad(lambda x: anp.sum(cube(x))))(X)  # no second warning
    np.testing.assert_allclose(g, 3 * X**2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: autodiff.vmap(anp.sin)(np.ones((2, 3)), np.ones((3, 3))), "TypeError"),
        (
            lambda: autodiff.vmap(anp.add)(np.ones((2, 3)), np.ones((3, 3))),
            "different batch sizes 2 .* 3",
        ),
        (lambda: autodiff.vmap(anp.sin, in_axes=None)(np.ones(2)), "nothing to map over"),
        (lambda: autodiff.vmap(anp.sin, in_axes=2)(np.ones(2)), "in_axes 2 is out of range"),
        (
            lambda: autodiff.vmap(anp.add, in_axes=(0,))(np.ones(2), np.ones(2)),
            "1 entries but there are 2",
        ),
        (lambda: autodiff.vmap(lambda x: 1.0 if x > 0 else 0.0)(np.ones(2)), "control flow"),
        (
            lambda: autodiff.vmap(lambda x, i: x[None, i])(np.ones((2, 3, 3)), np.array([0, 1])),
            "integers, integer arrays and slices.*no None",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises((TypeError, ValueError), match=match if match != "TypeError" else None):
        call()


def test_batched_integer_indices_pick_and_scatter_per_example():
    """x[i] with i batched (labels): plain, negative, 2-D, nested in two vmaps, and the
    gradient (a scatter) of each, against a loop."""
    A = RNG.standard_normal((4, 5, 3))
    idx = np.array([[0, -1], [4, 2], [-5, 1], [3, 3]])

    def pick(a, i):
        return anp.sum(a[i] ** 2)

    got = autodiff.vmap(pick)(A, idx)
    np.testing.assert_allclose(got, [pick(a, i) for a, i in zip(A, idx, strict=True)])
    g = autodiff.vmap(autodiff.grad(pick))(A, idx)
    np.testing.assert_allclose(g, [autodiff.grad(pick)(a, i) for a, i in zip(A, idx, strict=True)])
    # two levels: replicates × samples, the label batched on both, the table on the outer only
    labels = RNG.integers(-3, 3, (2, 6))
    tables = RNG.standard_normal((2, 3))
    inner = autodiff.vmap(lambda t, y: t[y] * 2.0, in_axes=(None, 0))
    got = autodiff.vmap(inner)(tables, labels)
    np.testing.assert_allclose(got, 2 * np.take_along_axis(tables, labels % 3, axis=1))
    g = autodiff.grad(lambda t: anp.sum(autodiff.vmap(inner)(t, labels) ** 2))(tables)
    want = np.zeros_like(tables)
    for r in range(2):
        np.add.at(want[r], labels[r] % 3, 8 * tables[r, labels[r] % 3])
    np.testing.assert_allclose(g, want)


def test_tuple_of_batched_integer_indices():
    """x[i, j] with i, j batched (negative too), one of them unbatched, and its gradient;
    a plain table indexed by a batched label goes through autodiff.numpy.take (np.take and
    table[i] cannot be intercepted: NumPy does not dispatch on the indices)."""
    M = RNG.standard_normal((3, 4, 2))
    i, j = np.array([0, -1, 2, 1, -3]), np.array([3, 0, -2, 1, 2])
    Ms = np.stack([M * (1 + k) for k in range(5)])

    def pick(m, a, b):
        return anp.sum(m[a, b] ** 2) + m[a, 1][0]

    got = autodiff.vmap(pick)(Ms, i, j)
    np.testing.assert_allclose(got, [pick(m, a, b) for m, a, b in zip(Ms, i, j, strict=True)])
    g = autodiff.vmap(autodiff.grad(pick), in_axes=(None, 0, 0))(M, i, j)
    want = [autodiff.grad(pick)(M, a, b) for a, b in zip(i, j, strict=True)]
    np.testing.assert_allclose(g, want)
    table = np.arange(4.0) * 10
    got = autodiff.vmap(lambda a: anp.take(table, a) * 2)(np.array([3, 0, -1]))
    np.testing.assert_allclose(got, [60.0, 0.0, 60.0])
    with pytest.raises(TypeError, match=r"NumPy indexes the table itself.*autodiff\.numpy\.take"):
        autodiff.vmap(lambda a: table[a])(np.array([3, 0]))
    with pytest.raises(TypeError, match=r"np\.take\(table, i\).*autodiff\.numpy\.take"):
        autodiff.vmap(lambda a: np.take(table, a))(np.array([3, 0]))


MIXED = {
    "x[:, i]": lambda x, i, j: x[:, i],
    "x[i, 1:3]": lambda x, i, j: x[i, 1:3],
    "x[i, :, j]": lambda x, i, j: x[i, :, j],
    "x[1:, i, ::2]": lambda x, i, j: x[1:, i, ::2],
    "x[0, :, i]": lambda x, i, j: x[0, :, i],
    "x[..., j]": lambda x, i, j: x[..., j],
    "x[:, i, j]": lambda x, i, j: x[:, i, j],
    "x[i, ..., 2:]": lambda x, i, j: x[i, ..., 2:],
    "x[-1, i, 1:4]": lambda x, i, j: x[-1, i, 1:4],
    "x[:, [0, 2], i]": lambda x, i, j: x[:, [0, 2], i],
}


@pytest.mark.parametrize("name", sorted(MIXED))
def test_slices_beside_batched_indices(name):
    """Index tuples mixing slices, plain integers and batched integer indices (NumPy's rule
    for where the indexed axes go, adjacent or not), and their gradients, against a loop."""
    f = MIXED[name]
    x = RNG.standard_normal((4, 5, 6))
    X = np.stack([x * (1 + b) for b in range(3)])
    I, J = np.array([[0, -1], [2, 3], [1, 1]]), np.array([4, 0, -2])
    want = np.stack([f(X[b], I[b], J[b]) for b in range(3)])
    np.testing.assert_array_equal(autodiff.vmap(f)(X, I, J), want)
    u = RNG.standard_normal(want.shape[1:])
    grad = autodiff.grad(lambda x, i, j: anp.sum(f(x, i, j) * u))
    want = np.stack([grad(x, I[b], J[b]) for b in range(3)])
    np.testing.assert_array_equal(autodiff.vmap(grad, in_axes=(None, 0, 0))(x, I, J), want)


def test_a_plain_table_indexed_by_a_traced_label():
    """table[y] and np.take(table, y) with a plain table: fine for a traced (not batched)
    integer label, which has no derivative (replay then traces); under vmap a clear error."""
    from autodiff import replay

    table = np.arange(5.0) ** 2

    def f(w, d):
        return anp.sum(w * table[d["y"]]) + w[0] * np.take(table, d["y"][0])

    replayed = replay.grad(f)
    for y in ([1, 2], [4, -1]):
        d = {"y": np.array(y)}
        want = table[y] + np.array([table[y[0]], 0.0])
        np.testing.assert_array_equal(replayed(np.ones(2), d), want)
    assert "reads a traced value" in replayed.why_not()[0]
    with pytest.raises(TypeError, match="NumPy indexes the table itself"):
        autodiff.vmap(lambda a: np.take(table, a))(np.array([3, 0]))


def test_out_axes_none_and_per_leaf_out_axes():
    """out_axes=None returns an output that does not depend on the mapped inputs once, as
    f gave it (a closed-over constant, a value of an unmapped input); one that does is an
    error naming out_axes and the output; a pytree of out_axes places each leaf's axis."""
    X = RNG.standard_normal((4, 3))
    w = RNG.standard_normal(3)

    def f(x, w):
        return {"dot": x @ w, "norm": anp.sum(w**2), "col": x * w}

    got = autodiff.vmap(f, in_axes=(0, None), out_axes={"dot": 0, "norm": None, "col": 1})(X, w)
    np.testing.assert_allclose(got["dot"], X @ w)
    assert np.shape(got["norm"]) == () and got["norm"] == np.sum(w**2)
    np.testing.assert_allclose(got["col"], (X * w).T)
    # under grad, the unbatched output keeps its derivative
    g = autodiff.grad(
        lambda w: autodiff.vmap(f, (0, None), {"dot": 0, "norm": None, "col": 0})(X, w)["norm"]
    )(w)
    np.testing.assert_allclose(g, 2 * w)
    assert autodiff.vmap(lambda x: (x, 2.0), out_axes=(0, None))(X)[1] == 2.0
    with pytest.raises(ValueError, match=r"out_axes is None for output\['col'\], but it depends"):
        autodiff.vmap(f, in_axes=(0, None), out_axes=None)(X, w)
    with pytest.raises(ValueError, match=r"out_axes is None for output, but it depends"):
        autodiff.vmap(anp.sin, out_axes=None)(X)
