"""A user's optimizer and schedule for ``optimizer=custom`` and ``schedule=custom``.

    sgdlab optimizer=custom optimizer.make=examples/custom_optimizer.py:make \
        +optimizer.params.beta=0.8 schedule=custom schedule.fn=examples/custom_optimizer.py:cosine

The same contract as the built-in optimizers (sgdlab/optimizers.py): parameters x of shape
(R, d), one row per replicate; the state a NamedTuple of arrays with a step count.
"""

from typing import NamedTuple

import numpy as np


class State(NamedTuple):
    """The step count and the velocity v (R, d)."""

    count: np.ndarray
    velocity: np.ndarray


def make(beta=0.9):
    """Heavy ball: v_{t+1} = β v_t + g_t, x_{t+1} = x_t − η_t v_{t+1}."""

    def init(x):
        return State(np.zeros((), dtype=np.int64), np.zeros_like(x))

    def update(g, x, state, lr):
        v = beta * state.velocity + g
        return x - lr * v, State(state.count + 1, v)

    return init, update


def cosine(t, lr, horizon):
    """η_t = η₀ (1 + cos(π t / T)) / 2: cosine decay from η₀ towards 0 at the horizon T."""
    return lr * 0.5 * (1.0 + np.cos(np.pi * np.minimum(np.asarray(t), horizon) / horizon))
