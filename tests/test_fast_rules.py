"""The derivative rules' NumPy fast paths (taken when nothing is traced) give the bits of the
primitive paths they shortcut, and softmax_nll's remembered logsumexp lives only as long as
its answer."""

from __future__ import annotations

import gc

import numpy as np

import autodiff
import autodiff.numpy as anp
from autodiff import replay
from autodiff.numpy import fused

RNG = np.random.default_rng(12)
X = RNG.standard_normal((16, 5))
Y = np.eye(3)[RNG.integers(0, 3, 16)]
PARAMS = (RNG.standard_normal((5, 7)), RNG.standard_normal(7), RNG.standard_normal((7, 3)),
          RNG.standard_normal(3))  # fmt: skip


def mlp(W1, b1, W2, b2):
    """The benchmark's MLP: dense, tanh, dense, mean softmax cross-entropy."""
    h = anp.tanh(anp.dense(X, W1, b1))
    return anp.mean(anp.softmax_nll(anp.dense(h, W2, b2), Y, axis=1))


def test_fast_paths_give_the_bits_of_the_traced_rules():
    """The gradient computed on plain arrays (fast paths) equals, bit for bit, the same gradient
    computed while a forward trace watches it (every rule then runs on boxes, through the
    primitives)."""
    argnums = (0, 1, 2, 3)
    plain = autodiff.grad(mlp, argnums=argnums)(*PARAMS)
    tangents = tuple(RNG.standard_normal(np.shape(p)) for p in PARAMS)
    traced, _ = autodiff.jvp(autodiff.grad(mlp, argnums=argnums), PARAMS, tangents)
    for fast, slow in zip(plain, traced, strict=True):
        np.testing.assert_array_equal(fast, slow)


def test_softmax_nll_vjp_is_the_same_with_or_without_the_remembered_logsumexp():
    z, g = 3 * RNG.standard_normal((6, 4)), RNG.standard_normal(6)
    y = np.eye(4)[RNG.integers(0, 4, 6)]
    ans = fused._softmax_nll(z, y, axis=-1)
    assert id(ans) in fused._LOGSUMEXP
    remembered = fused._softmax_minus(g, ans, z, y, -1)
    recomputed = fused._softmax_minus(g, ans.copy(), z, y, -1)  # a copy is not remembered
    np.testing.assert_array_equal(remembered, recomputed)
    softmax = np.exp(z - np.log(np.exp(z).sum(-1, keepdims=True)))
    np.testing.assert_allclose(remembered, g[:, None] * (softmax - y), rtol=1e-12)


def test_the_remembered_logsumexp_is_dropped_with_its_answer():
    gc.collect()
    before = set(fused._LOGSUMEXP)
    vg = autodiff.value_and_grad(mlp, argnums=(0, 1, 2, 3))
    for _ in range(5):
        vg(*PARAMS)
    mlp(*PARAMS)
    assert not set(fused._LOGSUMEXP) - before  # nothing left behind by the answers that died
    ans = anp.softmax_nll(X[:, :3], Y)
    assert id(ans) in fused._LOGSUMEXP
    key = id(ans)
    del ans
    assert key not in fused._LOGSUMEXP


def test_replayed_mlp_of_fused_layers_equals_tracing_bit_for_bit():
    shapes = [np.shape(p) for p in PARAMS]
    sizes = [int(n) for n in np.cumsum([0] + [int(np.prod(s)) for s in shapes])]

    def f(x, data):
        parts = [
            anp.reshape(x[a:b], s) for a, b, s in zip(sizes[:-1], sizes[1:], shapes, strict=True)
        ]
        h = anp.tanh(anp.dense(data["X"], parts[0], parts[1]))
        return anp.mean(anp.softmax_nll(anp.dense(h, parts[2], parts[3]), data["Y"], axis=1))

    replayed = replay.grad(f, strict=True)
    x = np.concatenate([np.ravel(p) for p in PARAMS])
    for k in range(3):
        data = {"X": X + k, "Y": np.roll(Y, k, axis=0)}
        value, grad = replayed.value_and_grad(x + 0.1 * k, data)
        want_value, want_grad = autodiff.value_and_grad(f)(x + 0.1 * k, data)
        assert value == want_value
        np.testing.assert_array_equal(grad, want_grad)
    assert len(replayed.programs) == 1 and not replayed.why_not()


def test_mean_is_one_node_with_the_bits_of_sum_over_count():
    x = RNG.standard_normal((5, 4, 3))
    for axis, keepdims in [(None, False), (1, False), ((0, 2), True), (-1, True)]:
        count = x.size // np.sum(x, axis=axis, keepdims=keepdims).size
        u = RNG.standard_normal(np.shape(np.sum(x, axis=axis, keepdims=keepdims)))

        def fused(x_, axis=axis, keepdims=keepdims, u=u):
            return anp.sum(u * anp.mean(x_, axis=axis, keepdims=keepdims))

        def composite(x_, axis=axis, keepdims=keepdims, u=u, count=count):
            return anp.sum(u * (anp.sum(x_, axis=axis, keepdims=keepdims) / count))

        got, want = autodiff.value_and_grad(fused)(x), autodiff.value_and_grad(composite)(x)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
    graph = autodiff.trace(lambda x_: anp.mean(x_), x)
    assert [node.op for node in graph.nodes] == ["input", "mean"]
