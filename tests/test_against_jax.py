# ruff: noqa: E501  (the JAX comparison table reads best one pair per line)
"""Optional: the new functions' values, gradients, per-example gradients (vmap) and pytree
gradients against JAX, when JAX is installed (skipped otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)

pytestmark = pytest.mark.slow
RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 4))
SPD = A @ A.T + 4 * np.eye(4)

# (name, our function, JAX's, input)
PAIRS = [
    ("tan", anp.tan, jnp.tan, RNG.uniform(-1, 1, 5)),
    ("sinh+cosh", lambda x: anp.sinh(x) * anp.cosh(x), lambda x: jnp.sinh(x) * jnp.cosh(x), RNG.normal(size=5)),
    ("arctan", anp.arctan, jnp.arctan, RNG.normal(size=5)),
    ("log2+log10", lambda x: anp.log2(x) + anp.log10(x), lambda x: jnp.log2(x) + jnp.log10(x), RNG.uniform(0.5, 2, 5)),
    ("erf", anp.erf, jax.scipy.special.erf, RNG.normal(size=5)),
    ("gelu", anp.gelu, lambda x: jax.nn.gelu(x, approximate=False), RNG.normal(size=5)),
    ("softmax", lambda x: anp.softmax(x, axis=-1), lambda x: jax.nn.softmax(x, axis=-1), RNG.normal(size=(3, 4))),
    ("prod", lambda x: anp.prod(x, axis=0), lambda x: jnp.prod(x, axis=0), RNG.normal(size=(3, 4))),
    ("cumsum", lambda x: anp.cumsum(x, axis=1), lambda x: jnp.cumsum(x, axis=1), RNG.normal(size=(3, 4))),
    ("einsum", lambda x: anp.einsum("ij,jk->ik", x, A), lambda x: jnp.einsum("ij,jk->ik", x, A), RNG.normal(size=(3, 4))),
    ("norm", anp.linalg.norm, jnp.linalg.norm, RNG.normal(size=(3, 4))),
    ("var+std", lambda x: anp.var(x, axis=0) + anp.std(x, axis=1).sum(), lambda x: jnp.var(x, axis=0) + jnp.std(x, axis=1).sum(), RNG.normal(size=(3, 4))),
    ("solve", lambda x: anp.linalg.solve(x + 4 * np.eye(4), np.ones(4)), lambda x: jnp.linalg.solve(x + 4 * jnp.eye(4), jnp.ones(4)), A),
    ("inv", lambda x: anp.linalg.inv(x + 4 * np.eye(4)), lambda x: jnp.linalg.inv(x + 4 * jnp.eye(4)), A),
    ("cholesky", lambda x: anp.linalg.cholesky(x @ x.T + np.eye(4)), lambda x: jnp.linalg.cholesky(x @ x.T + jnp.eye(4)), A),
    ("slogdet", lambda x: anp.linalg.slogdet(x + SPD)[1], lambda x: jnp.linalg.slogdet(x + SPD)[1], A),
    ("sort", lambda x: anp.sort(x, axis=1), lambda x: jnp.sort(x, axis=1), RNG.normal(size=(3, 4))),
    ("pad+roll+flip", lambda x: anp.flip(anp.roll(anp.pad(x, 1), 2, axis=0), 1), lambda x: jnp.flip(jnp.roll(jnp.pad(x, 1), 2, axis=0), 1), RNG.normal(size=(3, 4))),
    ("tile+repeat", lambda x: anp.repeat(anp.tile(x, (2, 1)), 2, axis=1), lambda x: jnp.repeat(jnp.tile(x, (2, 1)), 2, axis=1), RNG.normal(size=(3, 4))),
    ("clip lo>hi", lambda x: anp.clip(x, 1.0, 0.0), lambda x: jnp.clip(x, 1.0, 0.0), RNG.normal(size=5)),
]  # fmt: skip


@pytest.mark.parametrize("name, ours, theirs, x", PAIRS, ids=[p[0] for p in PAIRS])
def test_value_and_vjp_match_jax(name, ours, theirs, x):
    out = ours(x)
    np.testing.assert_allclose(out, theirs(x), rtol=1e-12, atol=1e-13)
    u = RNG.standard_normal(np.shape(out))
    got = autodiff.vjp(ours, x)[1](u)[0]
    want = jax.vjp(theirs, x)[1](u)[0]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    per_example = autodiff.vmap(autodiff.grad(lambda z: anp.sum(ours(z) * u)))(
        np.stack([x, 1.1 * x])
    )
    want = jax.vmap(jax.grad(lambda z: jnp.sum(theirs(z) * u)))(jnp.stack([x, 1.1 * x]))
    np.testing.assert_allclose(per_example, want, rtol=1e-9, atol=1e-11)


def test_pytree_gradient_with_aux_matches_jax():
    params = {"W": RNG.normal(size=(3, 2)), "b": [RNG.normal(size=2)]}
    X = RNG.normal(size=(5, 3))

    def ours(p):
        z = X @ p["W"] + p["b"][0]
        return anp.sum(anp.tanh(z) ** 2), z

    def theirs(p):
        z = X @ p["W"] + p["b"][0]
        return jnp.sum(jnp.tanh(z) ** 2), z

    g, aux = autodiff.grad(ours, has_aux=True)(params)
    g_jax, aux_jax = jax.grad(theirs, has_aux=True)(params)
    np.testing.assert_allclose(g["W"], g_jax["W"], rtol=1e-12)
    np.testing.assert_allclose(g["b"][0], g_jax["b"][0], rtol=1e-12)
    np.testing.assert_allclose(aux, aux_jax, rtol=1e-12)
