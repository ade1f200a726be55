"""Index samplers: which samples each replicate's minibatch uses at each step.

A sampler is a pair of small functions (the contract every entry of :data:`SAMPLERS` meets):

- ``init(rng, n) -> state``: the sampler's per-replicate state (e.g. a fixed permutation);
- ``epoch(rng, n, state) -> indices``: the next ``n`` entries of that replicate's index stream,
  an int array of shape (n,) with values in ``[0, n)``.

The stream of a replicate is the concatenation of its epochs, and step t uses the entries
``[t·b, (t+1)·b)`` of it, so one epoch is n/b steps when b divides n. :class:`IndexStream`
serves the (R, b) index array of all replicates at once. Every replicate draws only from its own
generator, so replicate r's stream does not depend on how many replicates run beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np


class Sampler(NamedTuple):
    """A sampler: ``init(rng, n) -> state`` and ``epoch(rng, n, state) -> (n,) int indices``."""

    init: Callable[[np.random.Generator, int], Any]
    epoch: Callable[[np.random.Generator, int, Any], np.ndarray]
    without_replacement: bool


def _no_state(rng: np.random.Generator, n: int) -> None:
    return None


with_replacement = Sampler(
    init=_no_state,
    epoch=lambda rng, n, state: rng.integers(0, n, size=n),
    without_replacement=False,
)
"""i.i.d. uniform indices: every index is drawn independently from {0, …, n−1}."""

reshuffle = Sampler(
    init=_no_state,
    epoch=lambda rng, n, state: rng.permutation(n),
    without_replacement=True,
)
"""Random reshuffling: a fresh uniform permutation every epoch (without replacement)."""

shuffle_once = Sampler(
    init=lambda rng, n: rng.permutation(n),
    epoch=lambda rng, n, perm: perm,
    without_replacement=True,
)
"""One uniform permutation drawn at the start and reused every epoch."""

cyclic = Sampler(
    init=_no_state,
    epoch=lambda rng, n, state: np.arange(n),
    without_replacement=True,
)
"""The fixed order 0, 1, …, n−1 every epoch (deterministic; identical for all replicates)."""

SAMPLERS: dict[str, Sampler] = {
    "with_replacement": with_replacement,
    "reshuffle": reshuffle,
    "shuffle_once": shuffle_once,
    "cyclic": cyclic,
}


ESTIMATES_KEY = 1
"""Spawn key of the replicate generators that draw the estimates' randomness (σ² subsample
indices, Lanczos start vectors), apart from the minibatch stream."""


PRODUCTS_KEY = 3
"""Spawn key of the replicate generators that draw the second, independent minibatch h_t whose
inner product with g_t estimates ‖∇f(x_t)‖² between logged steps (``log.running_average``)."""


SHARED_KEY = 2**32 - 1
"""First spawn-key entry of the streams shared by all replicates (no replicate has this index)."""


def shared_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator shared by all replicates, apart from every replicate's own streams: child
    (SHARED_KEY, *key) of ``SeedSequence(seed)`` (e.g. the Hessian subset of an estimate step,
    the same whatever R is)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SHARED_KEY, *key)))


def replicate_rngs(seed: int, replicates: int, key: int | None = None) -> list[np.random.Generator]:
    """One generator per replicate: replicate r uses child r of ``SeedSequence(seed).spawn(R)``
    (its minibatch stream), or with ``key`` = k that child's own child k (spawn key (r, k)), an
    independent stream for another purpose. Replicate r's generator is the same whatever R is."""
    children = np.random.SeedSequence(seed).spawn(replicates)
    if key is not None:
        children = [
            np.random.SeedSequence(c.entropy, spawn_key=(*c.spawn_key, key)) for c in children
        ]
    return [np.random.default_rng(c) for c in children]


class IndexStream:
    """Serves the minibatch indices of R replicates, step after step.

    ``next()`` returns an int array of shape (R, b): row r is replicate r's minibatch at this
    step. Epochs are generated in blocks of at least ``block`` indices per replicate, so the cost
    per step is a slice; the stream itself does not depend on the block size.
    """

    def __init__(
        self,
        sampler: Sampler,
        n: int,
        batch_size: int,
        rngs: Sequence[np.random.Generator],
        block: int = 4096,
    ):
        self.sampler, self.n, self.b, self.rngs = sampler, n, batch_size, list(rngs)
        self.states = [sampler.init(rng, n) for rng in self.rngs]
        self.epochs_per_block = max(1, -(-max(block, batch_size) // n))
        self.buffer = np.empty((len(self.rngs), 0), dtype=np.int64)
        self.pos = 0

    def _refill(self) -> None:
        fresh = np.stack(
            [
                np.concatenate(
                    [self.sampler.epoch(rng, self.n, st) for _ in range(self.epochs_per_block)]
                )
                for rng, st in zip(self.rngs, self.states, strict=True)
            ]
        )
        self.buffer = np.concatenate([self.buffer[:, self.pos :], fresh], axis=1)
        self.pos = 0

    def next(self) -> np.ndarray:
        """The (R, b) indices of the next step."""
        if self.pos + self.b > self.buffer.shape[1]:
            self._refill()
        out = self.buffer[:, self.pos : self.pos + self.b]
        self.pos += self.b
        return out
