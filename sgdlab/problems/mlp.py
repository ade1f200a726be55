"""``mlp``: one hidden tanh layer and softmax cross-entropy (nonconvex).

Parameters x = (W₁ ∈ R^{p×h}, b₁ ∈ R^h, W₂ ∈ R^{h×k}, b₂ ∈ R^k) flattened in that order, for p
input features, h = ``problem.hidden`` units and k classes:
fᵢ(x) = logsumexp(ℓᵢ) − ℓᵢ[yᵢ] + (λ/2)‖x‖², ℓᵢ = W₂ᵀ tanh(W₁ᵀaᵢ + b₁) + b₂.
f*, x*, L and μ are not known exactly (NaN); x₀ is drawn once from the data seed
(W ~ N(0, 1/fan_in), biases 0).
"""

from __future__ import annotations

import functools

import numpy as np

import autodiff.numpy as anp

from ..errors import require
from . import data
from .base import BOUND, Constants, Problem, l2


def _affine(inputs, W, b, shared: bool):
    """inputs·W + b for inputs (R|1, m, p); W (R, 1|m, p, q) flattened from x."""
    if shared:
        return anp.matmul(inputs, anp.squeeze(W, axis=1)) + b
    return anp.squeeze(anp.matmul(anp.expand_dims(inputs, -2), W), axis=-2) + b


def loss(x, batch, p: int, h: int, k: int, lam: float):
    """Per-sample cross-entropy plus (λ/2)‖x‖²; x (R, m|1, d) → (R, m)."""
    F, Y = batch["X"], batch["Y"]
    shared = x.shape[-2] == 1 and F.shape[-2] != 1
    lead = tuple(x.shape[:-1])
    o1, o2, o3 = p * h, p * h + h, p * h + h + h * k
    W1 = anp.reshape(x[..., :o1], lead + (p, h))
    W2 = anp.reshape(x[..., o2:o3], lead + (h, k))
    hidden = anp.tanh(_affine(F, W1, x[..., o1:o2], shared))
    logits = _affine(hidden, W2, x[..., o3:], shared)
    nll = anp.logsumexp(logits, axis=-1) - anp.sum(logits * Y, axis=-1)
    return nll + l2(x, lam) if lam else nll  # no "+ 0.0" node on the tape when λ = 0


def exact(data_arrays) -> Constants:
    """Nothing is known exactly for the nonconvex network."""
    return Constants(f_inf=0.0, provenance={"f_inf": BOUND})  # cross-entropy ≥ 0


def build(cfg) -> Problem:
    """Load the data of ``problem.data``; one-hot labels; draw x₀ from ``problem.seed``."""
    h, lam = int(cfg.hidden), float(cfg.lam)
    require(h >= 1, "problem.hidden", cfg.hidden, "must be a positive integer")
    require(lam >= 0.0, "problem.lam", cfg.lam, "the L2 weight λ must be ≥ 0")
    X, y = data.load(cfg)
    p, k = X.shape[1], int(y.max()) + 1
    rng = np.random.default_rng(int(cfg.seed) + 1)
    x0 = np.concatenate(
        [
            rng.normal(size=p * h) / np.sqrt(p),
            np.zeros(h),
            rng.normal(size=h * k) / np.sqrt(h),
            np.zeros(k),
        ]
    )
    fn = functools.partial(loss, p=p, h=h, k=k, lam=lam)
    return Problem(
        "mlp",
        {"X": X, "Y": np.eye(k)[y]},
        fn,
        x0,
        exact,
        floats_per_sample=4 * x0.size + 4 * (p + h + k),
        attrs={"hidden": h, "classes": k, "features": p},
    )
