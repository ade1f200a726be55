"""``least_squares``: fᵢ(x) = ½(aᵢᵀx − bᵢ)², i.e. f(x) = (1/2n)‖Ax − b‖².

Synthetic A (n × d) with a chosen condition number κ = L/μ of the Hessian AᵀA/n:
A = √n·U·diag(s)·Vᵀ with s logarithmically spaced in [1/√κ, 1], so L = 1 and μ = 1/κ (when
n ≥ d); b = A x_true + noise·N(0, 1). Exact: L = λmax(AᵀA)/n, μ = λmin(AᵀA)/n (theory §8(iii)).
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp

from ..errors import require
from .base import (
    Constants,
    Problem,
    half_square,
    half_square_vjp,
    least_squares_variance,
    linear,
    linear_vjp,
)
from .linear_model import LinearModel


def loss(x, batch):
    """fᵢ(x) = ½(aᵢᵀx − bᵢ)²; x (R, m|1, d), A (R|1, m, d), b (R|1, m) → (R, m)."""
    return half_square(linear(x, batch["A"]) - batch["b"])


def grad(x, batch, with_value: bool = False):
    """Σᵢ ∇fᵢ(x_r) = Σᵢ rᵢaᵢ over the batch, (R, d) for x (R, d) (and Σᵢ fᵢ(x_r), (R,), first
    when ``with_value``), without the tracer: the rules the tape of :func:`loss` runs, so the
    same bits."""
    x3 = x[:, None, :]
    features = batch["A"]
    r = linear(x3, features) - batch["b"]
    g = linear_vjp(half_square_vjp(r), x3, features)[:, 0, :]
    return (anp.sum(half_square(r), axis=-1), g) if with_value else g


def _half_square(z, batch):
    """½(z − b)² per (replicate, sample) in NumPy."""
    r = z - batch["b"]
    r *= r
    r *= 0.5
    return r


def _residual(z, batch):
    """z − b, the slope of ½(z − b)²."""
    return z - batch["b"]


def exact(data) -> Constants:
    """x* by lstsq, f* = f(x*), L and μ from eigvalsh(AᵀA)/n, BCN's M and M_V from the data
    (:func:`~sgdlab.problems.base.least_squares_variance`); all exact."""
    A, b = data["A"], data["b"]
    n = A.shape[0]
    xs = np.linalg.lstsq(A, b, rcond=None)[0]
    eig = np.linalg.eigvalsh(A.T @ A / n)
    row_sq = (A * A).sum(axis=1)  # ∇²fᵢ = aᵢaᵢᵀ: Lᵢ = ‖aᵢ‖², μᵢ = 0 unless d = 1
    mu_min = float(row_sq.min()) if A.shape[1] == 1 else 0.0
    M, M_V, sigma_sq_bound = least_squares_variance(A, A @ xs - b)
    return Constants(
        float(0.5 * np.mean((A @ xs - b) ** 2)),
        xs,
        float(eig[-1]),
        float(eig[0]),
        L_max=float(row_sq.max()),
        mu_min=mu_min,
        f_inf=0.0,
        sigma_sq_bound=sigma_sq_bound,
        M=M,
        M_V=M_V,
    )


def build(cfg) -> Problem:
    """Draw A and b from the data seed ``problem.seed``; x₀ = 0."""
    n, d = int(cfg.n), int(cfg.d)
    require(n >= 1, "problem.n", cfg.n, "must be a positive integer")
    require(d >= 1, "problem.d", cfg.d, "must be a positive integer")
    cond = float(cfg.cond)
    require(np.isfinite(cond) and cond >= 1.0, "problem.cond", cfg.cond,
            "condition number must be a finite number ≥ 1")  # fmt: skip
    require(float(cfg.noise) >= 0.0, "problem.noise", cfg.noise, "must be ≥ 0")
    rng = np.random.default_rng(int(cfg.seed))
    k = min(n, d)
    u, _ = np.linalg.qr(rng.normal(size=(n, k)))
    v, _ = np.linalg.qr(rng.normal(size=(d, k)))
    s = np.logspace(0.0, -0.5 * np.log10(float(cfg.cond)), k)
    A = np.sqrt(n) * (u * s) @ v.T
    b = A @ rng.normal(size=d) + float(cfg.noise) * rng.normal(size=n)
    return Problem(
        "least_squares",
        {"A": A, "b": b},
        loss,
        np.zeros(d),
        exact,
        floats_per_sample=4 * d + 8,
        grad=grad,
        linear=LinearModel("A", _half_square, _residual),
    )
