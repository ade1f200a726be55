"""Pytree parameters and has_aux on every differentiation operator (hand-computed answers)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
from autodiff.tree import tree_flatten, tree_map, tree_unflatten

Pair = namedtuple("Pair", ["w", "b"])
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((5, 3)), RNG.standard_normal(5)
PARAMS = {"w": RNG.standard_normal(3), "extra": [np.array(0.5), (np.array([1.0, -2.0]),)]}


def loss(p):
    """½‖Xw + c − y‖² + ‖v‖², with c = p["extra"][0] and v = p["extra"][1][0]."""
    r = X @ p["w"] + p["extra"][0] - Y
    return 0.5 * anp.sum(r * r) + anp.sum(p["extra"][1][0] ** 2)


def hand_grad(p):
    r = X @ p["w"] + p["extra"][0] - Y
    return {"w": X.T @ r, "extra": [np.sum(r), (2 * p["extra"][1][0],)]}


def assert_tree_close(got, want, **kw):
    g_leaves, g_def = tree_flatten(got)
    w_leaves, w_def = tree_flatten(want)
    assert g_def == w_def, f"{g_def!r} != {w_def!r}"
    for a, b in zip(g_leaves, w_leaves, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, **kw)


def test_flatten_unflatten_round_trip_and_order():
    tree = {"b": [1, (2, None)], "a": Pair(3, {"z": 4, "y": 5})}
    leaves, treedef = tree_flatten(tree)
    assert leaves == [3, 5, 4, 1, 2]  # dict keys sorted, as JAX
    back = tree_unflatten(treedef, leaves)
    assert back == tree and type(back["a"]) is Pair and type(back["b"][1]) is tuple
    assert tree_map(lambda a, b: a + b, tree, tree) == tree_unflatten(treedef, [6, 10, 8, 2, 4])
    with pytest.raises(ValueError, match="holds 5 leaves, got 4"):
        tree_unflatten(treedef, leaves[:4])
    with pytest.raises(ValueError, match="structure"):
        tree_map(lambda a, b: a, tree, [1])


def test_grad_and_value_and_grad_of_a_nested_dict():
    assert_tree_close(autodiff.grad(loss)(PARAMS), hand_grad(PARAMS))
    value, g = autodiff.value_and_grad(loss)(PARAMS)
    assert np.isclose(value, loss(PARAMS))
    assert_tree_close(g, hand_grad(PARAMS))


def test_grad_of_namedtuple_and_argnums_tuple():
    def f(p, scale):
        return scale * anp.sum(anp.tanh(X @ p.w + p.b))

    p, scale = Pair(RNG.standard_normal(3), 0.3), 2.0
    gp, gs = autodiff.grad(f, argnums=(0, 1))(p, scale)
    t = np.tanh(X @ p.w + p.b)
    assert type(gp) is Pair
    np.testing.assert_allclose(gp.w, scale * X.T @ (1 - t**2), rtol=1e-12)
    np.testing.assert_allclose(gp.b, scale * np.sum(1 - t**2), rtol=1e-12)
    np.testing.assert_allclose(gs, np.sum(t), rtol=1e-12)


def test_has_aux_on_grad_and_value_and_grad():
    def f(p):
        r = X @ p["w"] - Y
        return anp.sum(r * r), {"residual": r, "note": "kept"}

    p = {"w": np.ones(3)}
    g, aux = autodiff.grad(f, has_aux=True)(p)
    r = X @ p["w"] - Y
    assert_tree_close(g, {"w": 2 * X.T @ r})
    np.testing.assert_allclose(aux["residual"], r)
    assert type(aux["residual"]) is np.ndarray and aux["note"] == "kept"  # no boxes leak out
    (value, aux2), g2 = autodiff.value_and_grad(f, has_aux=True)(p)
    assert np.isclose(value, r @ r)
    np.testing.assert_allclose(aux2["residual"], r)
    with pytest.raises(TypeError, match="has_aux=True, f must return a pair"):
        autodiff.grad(lambda p: anp.sum(p["w"]), has_aux=True)(p)


def test_vjp_and_jvp_with_pytree_inputs_and_outputs():
    def f(p):
        return {"y": X @ p["w"], "s": [anp.sum(p["b"] ** 2)]}

    p = {"w": RNG.standard_normal(3), "b": RNG.standard_normal(2)}
    out, vjp_fn = autodiff.vjp(f, p)
    np.testing.assert_allclose(out["y"], X @ p["w"])
    g = {"y": RNG.standard_normal(5), "s": [np.float64(1.5)]}
    (cot,) = vjp_fn(g)
    assert_tree_close(cot, {"b": 1.5 * 2 * p["b"], "w": X.T @ g["y"]})
    t = {"w": RNG.standard_normal(3), "b": RNG.standard_normal(2)}
    out2, tangent = autodiff.jvp(f, (p,), (t,))
    assert_tree_close(out2, out)
    assert_tree_close(tangent, {"y": X @ t["w"], "s": [2 * p["b"] @ t["b"]]})
    # transposes of each other: <g, J t> = <Jᵀ g, t>
    lhs = g["y"] @ tangent["y"] + g["s"][0] * tangent["s"][0]
    assert np.isclose(lhs, cot["w"] @ t["w"] + cot["b"] @ t["b"])
    with pytest.raises(ValueError, match="structure"):
        vjp_fn({"y": g["y"]})
    with pytest.raises(ValueError, match=r"cotangent\['y'\] has shape \(4,\)"):
        vjp_fn({"y": np.ones(4), "s": [1.0]})
    with pytest.raises(ValueError, match="structure"):
        autodiff.jvp(f, (p,), ({"w": t["w"]},))


def test_vjp_and_jvp_has_aux():
    out, vjp_fn, aux = autodiff.vjp(lambda x: (anp.sin(x), x * 2), np.ones(2), has_aux=True)
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0], np.cos(np.ones(2)))
    np.testing.assert_allclose(aux, 2 * np.ones(2))
    out, t, aux = autodiff.jvp(lambda x: (x**2, "aux"), (3.0,), (1.0,), has_aux=True)
    assert (out, t, aux) == (9.0, 6.0, "aux")


def test_hvp_and_jacobian_on_pytrees():
    def f(p):
        return anp.sum(p["a"] ** 3) + p["a"][0] * p["b"] ** 2

    p, v = {"a": np.array([1.0, 2.0]), "b": 3.0}, {"a": np.array([1.0, -1.0]), "b": 0.5}
    # Hessian: d²/da² = diag(6a) ; d²/da0 db = 2b ; d²/db² = 2 a0
    hv = autodiff.hvp(f, p, v)
    want = {
        "a": np.array([6 * 1.0 * 1.0 + 2 * 3.0 * 0.5, 6 * 2.0 * -1.0]),
        "b": 2 * 3.0 * 1.0 + 2 * 1.0 * 0.5,
    }
    assert_tree_close(hv, want)
    hv2, aux = autodiff.hvp(lambda q: (f(q), q["b"] + 1), p, v, has_aux=True)
    assert_tree_close(hv2, want)
    assert aux == 4.0

    def g(p):
        return anp.stack([p["a"][0] * p["b"], anp.sum(p["a"])])

    for mode in ("rev", "fwd"):
        jac = autodiff.jacobian(g, mode=mode)(p)
        assert_tree_close(jac, {"a": np.array([[3.0, 0.0], [1.0, 1.0]]), "b": np.array([1.0, 0.0])})
        jac2, aux = autodiff.jacobian(lambda q: (g(q), q["b"]), mode=mode, has_aux=True)(p)
        assert_tree_close(jac2, jac)
        assert aux == 3.0


def test_bad_pytree_leaves_are_named_by_path():
    with pytest.raises(TypeError, match=r"argument 0 \(p\)\['w'\] has dtype int64"):
        autodiff.grad(lambda p: anp.sum(p["w"]))({"w": np.arange(3)})
    with pytest.raises(TypeError, match=r"argument 0 \(p\)\['b'\]\[0\] is a str"):
        autodiff.grad(lambda p: 0.0)({"w": np.ones(2), "b": ["x"]})
    with pytest.raises(TypeError, match="empty dict"):
        autodiff.grad(lambda p: 0.0)({})
    with pytest.raises(ValueError, match="hvp: v has structure"):
        autodiff.hvp(loss, PARAMS, {"w": np.ones(3)})


def test_nested_grad_of_pytree_function():
    """A gradient of a gradient through pytrees: ∂/∂s of ‖∇_p loss(s·p)‖² by hand."""
    p = {"w": np.array([0.3, -0.2, 0.1])}

    def h(s):
        g = autodiff.grad(lambda q: anp.sum(anp.sin(X @ q["w"])))({"w": s * p["w"]})
        return anp.sum(g["w"] ** 2)

    assert autodiff.check_grad(h, 0.7) < 1e-7


def _vjp_rows(f, p):
    """The Jacobian of f at p, one vjp per output entry: {output path: [x tree per entry]}."""
    out, vjp_fn = autodiff.vjp(f, p)
    leaves, out_def = tree_flatten(out)
    rows = []
    for k, leaf in enumerate(leaves):
        per_entry = []
        for e in range(np.size(leaf)):
            cot = [np.zeros(np.shape(o)) for o in leaves]
            cot[k] = np.zeros(np.size(leaf))
            cot[k][e] = 1.0
            cot[k] = cot[k].reshape(np.shape(leaf))
            per_entry.append(vjp_fn(tree_unflatten(out_def, cot))[0])
        rows.append(per_entry)
    return leaves, out_def, rows


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_pytree_outputs_matches_a_loop_of_vjps(mode):
    """f: pytree → pytree: the Jacobian has the output's structure, each leaf x's structure
    with leaves of shape out_leaf.shape + x_leaf.shape, equal to one vjp per output entry."""

    def f(p):
        r = X @ p["w"] + p["extra"][0] - Y
        return {"r": r, "pair": (anp.sum(r**2), anp.tanh(p["extra"][1][0]) * p["w"][:2])}

    jac = autodiff.jacobian(f, mode=mode)(PARAMS)
    leaves, _, rows = _vjp_rows(f, PARAMS)
    blocks = [jac["pair"][0], jac["pair"][1], jac["r"]]  # the output's leaves, in order
    x_leaves, x_def = tree_flatten(PARAMS)
    for out_leaf, block, per_entry in zip(leaves, blocks, rows, strict=True):
        got, got_def = tree_flatten(block)
        assert got_def == x_def
        for j, x_leaf in enumerate(x_leaves):
            want = np.stack([tree_flatten(r)[0][j] for r in per_entry])
            want = want.reshape(np.shape(out_leaf) + np.shape(x_leaf))
            np.testing.assert_allclose(got[j], want, rtol=1e-13, atol=1e-15)
    jac2, aux = autodiff.jacobian(lambda q: (f(q), "aux"), mode=mode, has_aux=True)(PARAMS)
    assert aux == "aux"
    np.testing.assert_array_equal(jac2["pair"][1]["w"], jac["pair"][1]["w"])
