"""Linear models fᵢ(x) = ℓ(aᵢᵀx; sample i) + (λ/2)‖x‖² written by hand in NumPy, for the
full-data work of the log grid: loss-and-gradient passes, Hessian-vector products and
per-sample gradients.

A problem whose per-sample loss has this form (least_squares, logistic) describes it by a
:class:`LinearModel` (``Problem.linear``): the data key of the rows aᵢ, ℓ, ℓ' and ℓ'' as
NumPy functions of the logits zᵢ, and λ. Its passes are the same arithmetic as the problem's
tape up to round-off, not bit for bit (``sgdlab.estimators.LINEAR`` = False uses the tape;
tests/test_linear_model.py compares them). Over samples shared by the replicates, the logits
and gradients are matrix products on blocks of exactly :data:`BLOCK` replicates, so that
replicate r's bits do not depend on R (the reason is ``ROW_BLOCK``'s in
:mod:`sgdlab.problems.base`); over each replicate's own samples they are one product per
replicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Replicates per matrix product. Larger than base.ROW_BLOCK (8): these passes are two matrix
# products over all the samples, where 8-row products run at about half the speed of one
# product of all rows (logistic n = 10,000, d = 50, R = 64, one Hessian-vector product: 6-8 ms
# in 8-row blocks, 4.2-5 ms in 16-row blocks, 3.8 ms in 32-row blocks, 3.6-4 ms as one product),
# while padding a small R up to 16 rows costs little (R = 1: 1.0 ms; 0.6 ms in 8-row blocks,
# 1.7-2.7 ms in 32-row blocks).
BLOCK = 16


def row_blocks(x: np.ndarray) -> np.ndarray:
    """x (R, d) as (B, :data:`BLOCK`, d), the last block padded with zero rows (a view when
    R is a multiple of the block): replicate r is always row r mod 16 of block r div 16."""
    R, d = x.shape
    pad = -R % BLOCK
    if pad:
        x = np.concatenate([x, np.zeros((pad, d))])
    return x.reshape(-1, BLOCK, d)


@dataclass(frozen=True)
class LinearModel:
    """fᵢ(x) = ℓ(zᵢ; sample i) + (λ/2)‖x‖², zᵢ = aᵢᵀx, the rows aᵢ being ``data[features]``.

    ``loss(z, batch)``, ``slope(z, batch)`` and ``curvature(z, batch)``: ℓ, ℓ' and ℓ'' at the
    logits z, new arrays of z's shape (z is (R, m), or (B, 16, m) over shared samples; the
    batch's per-sample arrays, of leading shape (R, m) or (1, m), broadcast against it); a
    ``curvature`` of None means ℓ'' = 1 (a quadratic)."""

    features: str
    loss: Callable
    slope: Callable
    curvature: Callable | None = None
    lam: float = 0.0

    def value_and_grad(self, x: np.ndarray, batch: dict) -> tuple[np.ndarray, np.ndarray]:
        """(Σᵢ fᵢ(x_r) (R,), Σᵢ ∇fᵢ(x_r) (R, d)) over m samples shared by the replicates
        (batch arrays of leading shape (1, m)), for x (R, d): two matrix products."""
        A = _shared_features(batch[self.features])
        R, m = x.shape[0], A.shape[0]
        Z = np.matmul(row_blocks(x), A.T)  # (B, 16, m)
        value = self.loss(Z, batch).sum(axis=-1).reshape(-1)[:R]
        grad = np.matmul(self.slope(Z, batch), A).reshape(-1, x.shape[1])[:R]
        if self.lam:
            half_sq = 0.5 * self.lam * (x * x).sum(axis=1)
            value += m * half_sq
            grad += (m * self.lam) * x
        return value, grad

    def sample_grads(self, x: np.ndarray, batch: dict) -> np.ndarray:
        """∇fᵢ(x_r) = ℓ'(zᵢ)·aᵢ + λx_r for each replicate's own m samples (batch arrays of
        leading shape (R, m), or (1, m): the same samples for all), shape (R, m, d): one
        matrix-vector product per replicate, then the outer products."""
        A = batch[self.features]  # (R | 1, m, d)
        R = x.shape[0]
        if A.shape[0] != R:
            A = np.broadcast_to(A, (R, *A.shape[1:]))
        z = np.matmul(A, x[:, :, None])[:, :, 0]  # (R, m)
        G = self.slope(z, batch)[:, :, None] * A
        if self.lam:
            G += self.lam * x[:, None, :]
        return G

    def hessian(self, x: np.ndarray, batch: dict) -> LinearModelHessian:
        """The Hessian operator at x (R, d) over m samples shared by the replicates."""
        return LinearModelHessian(self, x, batch)


def _shared_features(A: np.ndarray) -> np.ndarray:
    if A.ndim != 3 or A.shape[0] != 1:
        raise ValueError(
            f"LinearModel: the features must be shared by the replicates, shape (1, m, d); got "
            f"{A.shape}"
        )
    return A[0]


class LinearModelHessian:
    """V (R, d) ↦ Σᵢ ∇²fᵢ(x_r)·v_r = Σᵢ ℓ''(zᵢ,r)·(aᵢᵀv_r)·aᵢ + mλ·v_r over m samples shared
    by the replicates, for a :class:`LinearModel` at x (R, d).

    The weights ℓ''(zᵢ,r) are computed once (one matrix product over the samples); each
    product is then two matrix products over the samples, on blocks of :data:`BLOCK`
    replicates. ``nbytes``: the weights kept."""

    __slots__ = ("features", "weights", "ridge", "nbytes")

    def __init__(self, model: LinearModel, x: np.ndarray, batch: dict):
        self.features = _shared_features(batch[model.features])
        self.ridge = self.features.shape[0] * float(model.lam)
        self.weights = None
        if model.curvature is not None:
            self.weights = model.curvature(np.matmul(row_blocks(x), self.features.T), batch)
        self.nbytes = 0 if self.weights is None else self.weights.nbytes

    def __call__(self, V: np.ndarray) -> np.ndarray:
        """Σᵢ ∇²fᵢ(x_r)·v_r, shape (R, d), for V (R, d)."""
        Z = np.matmul(row_blocks(V), self.features.T)  # (B, 16, m): aᵢᵀv_r
        if self.weights is not None:
            Z *= self.weights
        out = np.matmul(Z, self.features).reshape(-1, V.shape[1])[: V.shape[0]]
        if self.ridge:
            out += self.ridge * V
        return out
