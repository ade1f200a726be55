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

# Replicates per matrix product. Larger than base.ROW_BLOCK (8): a pass here is two matrix
# products over all the samples, and products of few rows run at a fraction of the speed of one
# product of all rows (logistic n = 10,000, d = 50, R = 64, minima over repeats: a
# Hessian-vector product takes 6-8 ms in 8-row blocks, 3.9-4.0 ms in 16-row blocks, 3.35-3.5
# ms in 32-row blocks, 3.3 ms as one product; a loss-and-gradient pass 7.4-8.4 ms in 16-row
# blocks, 7.0 ms in 32-row ones). The price is the padding of a small R: at R = 1 a pass takes
# 1.8 ms (1.3 ms in 16-row blocks, 0.8 ms on the tape's 8-row blocks) and a product 1.6 ms
# (0.9, 0.8); only the products pay it, the elementwise work is on the R rows alone.
BLOCK = 32


def row_blocks(x: np.ndarray) -> np.ndarray:
    """x (R, d) as (B, :data:`BLOCK`, d), the last block padded with zero rows (a view when
    R is a multiple of the block): replicate r is always row r mod 32 of block r div 32."""
    R, d = x.shape
    pad = -R % BLOCK
    if pad:
        x = np.concatenate([x, np.zeros((pad, d))])
    return x.reshape(-1, BLOCK, d)


@dataclass(frozen=True)
class LinearModel:
    """fᵢ(x) = ℓ(zᵢ; sample i) + (λ/2)‖x‖², zᵢ = aᵢᵀx, the rows aᵢ being ``data[features]``.

    ``loss(z, batch)``, ``slope(z, batch)`` and ``curvature(z, batch)``: ℓ, ℓ' and ℓ'' at the
    logits z (R, m), new arrays of z's shape (the batch's per-sample arrays, of leading shape
    (R, m) or (1, m), broadcast against it); a
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
        Z = _logits(x, A)
        value = self.loss(Z, batch).sum(axis=-1)
        grad = np.matmul(row_blocks(self.slope(Z, batch)), A).reshape(-1, x.shape[1])[:R]
        if self.lam:
            half_sq = 0.5 * self.lam * (x * x).sum(axis=1)
            value += m * half_sq
            grad += (m * self.lam) * x
        return value, grad

    def batch_grad(self, x: np.ndarray, batch: dict) -> np.ndarray:
        """Σᵢ ∇fᵢ(x_r) over each replicate's own b samples (batch arrays of leading shape
        (R, b)), shape (R, d), for x (R, d): two matrix-vector products per replicate."""
        A = batch[self.features]  # (R, b, d)
        z = np.matmul(A, x[:, :, None])[:, :, 0]  # (R, b)
        g = np.matmul(self.slope(z, batch)[:, None, :], A)[:, 0, :]
        if self.lam:
            g += (A.shape[1] * self.lam) * x
        return g

    def sample_grads(self, x: np.ndarray, batch: dict, minus=None) -> np.ndarray:
        """∇fᵢ(x_r) = ℓ'(zᵢ)·aᵢ + λx_r for each replicate's own m samples (batch arrays of
        leading shape (R, m), or (1, m): the same samples for all), shape (R, m, d), less
        ``minus`` (R, d) when given: one matrix-vector product per replicate, then one pass
        over the outer products."""
        A = batch[self.features]  # (R | 1, m, d)
        R = x.shape[0]
        if A.shape[0] != R:
            A = np.broadcast_to(A, (R, *A.shape[1:]))
        z = np.matmul(A, x[:, :, None])[:, :, 0]  # (R, m)
        G = self.slope(z, batch)[:, :, None] * A
        shift = self.lam * x if self.lam else None
        if minus is not None:
            shift = -minus if shift is None else shift - minus
        if shift is not None:
            G += shift[:, None, :]
        return G

    def hessian(self, x: np.ndarray, batch: dict) -> LinearModelHessian:
        """The Hessian operator at x (R, d) over m samples shared by the replicates."""
        return LinearModelHessian(self, x, batch)


def _logits(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    """zᵢ,r = aᵢᵀx_r, (R, m), for x (R, d) and A (m, d): products of :data:`BLOCK` rows, the
    padding rows dropped (so that elementwise work on the logits is only the R rows')."""
    return np.matmul(row_blocks(x), A.T).reshape(-1, A.shape[0])[: x.shape[0]]


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
    replicates. ``nbytes()``: the bytes of the weights kept (as a recorded operator's)."""

    __slots__ = ("features", "weights", "ridge")

    def __init__(self, model: LinearModel, x: np.ndarray, batch: dict):
        self.features = _shared_features(batch[model.features])
        self.ridge = self.features.shape[0] * float(model.lam)
        self.weights = None
        if model.curvature is not None:
            self.weights = model.curvature(_logits(x, self.features), batch)  # (R, m)

    def nbytes(self) -> int:
        """Bytes of the curvature weights this operator keeps."""
        return 0 if self.weights is None else self.weights.nbytes

    def __call__(self, V: np.ndarray) -> np.ndarray:
        """Σᵢ ∇²fᵢ(x_r)·v_r, shape (R, d), for V (R, d)."""
        R, m = V.shape[0], self.features.shape[0]
        Z = np.matmul(row_blocks(V), self.features.T)  # (B, 32, m): aᵢᵀv_r, 0 on padding rows
        if self.weights is not None:
            Z.reshape(-1, m)[:R] *= self.weights
        out = np.matmul(Z, self.features).reshape(-1, V.shape[1])[:R]
        if self.ridge:
            out += self.ridge * V
        return out
