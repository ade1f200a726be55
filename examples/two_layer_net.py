"""A two-layer network (tanh hidden layer, softmax output) on two interleaved spirals,
written for one example in NumPy, with parameters as a list of (weights, bias) layers.

    sgdlab problem=custom problem.loss=examples/two_layer_net.py:loss \
        problem.init=examples/two_layer_net.py:init problem.data=examples/two_layer_net.py:spirals \
        optimizer=adam optimizer.lr=0.05 steps=300 batch_size=16

The loss is nonconvex: f* and x* are unknown (problem.solve=true would give a local minimum).
"""

import numpy as np

HIDDEN = 16


def init(rng):
    """Layers [(W₁ (2 × 16), b₁ (16)), (W₂ (16 × 2), b₂ (2))], W ~ N(0, 1/fan_in): a list of
    tuples is a pytree. ``rng`` is a numpy Generator seeded by problem.seed."""
    return [
        (rng.normal(size=(2, HIDDEN)) / np.sqrt(2), np.zeros(HIDDEN)),
        (rng.normal(size=(HIDDEN, 2)) / np.sqrt(HIDDEN), np.zeros(2)),
    ]


def loss(params, example):
    """Cross-entropy of one example (x ∈ R², class y ∈ {0, 1})."""
    (W1, b1), (W2, b2) = params
    hidden = np.tanh(example["x"] @ W1 + b1)
    logits = hidden @ W2 + b2
    return np.logaddexp(logits[0], logits[1]) - logits[example["y"]]


def spirals(n=400, seed=0):
    """Two interleaved spirals with a little noise: {"x": (n, 2), "y": (n,) in {0, 1}}."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    r = np.linspace(0.1, 1.0, n)
    angle = 2 * np.pi * r + np.pi * y
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return {"x": x + 0.03 * rng.normal(size=x.shape), "y": y}
