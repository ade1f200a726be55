"""``mean``: fᵢ(x) = ½(x − aᵢ)², aᵢ ~ U(0, 1); f is minimized by the sample mean.

With step 1/(t+1) and b = 1 the iterate x_t is exactly the running mean of the samples drawn
(the with/without-replacement experiment of the lecture, theory §6(a)).
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp

from ..errors import require
from .base import Constants, Problem, half_square, half_square_vjp, least_squares_variance


def loss(x, batch):
    """fᵢ(x) = ½(x − aᵢ)²; x (R, m|1, 1), a (R|1, m) → (R, m)."""
    return half_square(x[..., 0] - batch["a"])


def grad(x, batch, with_value: bool = False):
    """Σᵢ (x_r − aᵢ) over the batch, (R, 1) for x (R, 1) (and Σᵢ fᵢ(x_r), (R,), first when
    ``with_value``), without the tracer: the rules the tape of :func:`loss` runs (summing the
    residuals to x[..., 0], then getitem's), so the same bits."""
    x3 = x[:, None, :]
    r = x3[..., 0] - batch["a"]
    dx0 = anp.sum_to(half_square_vjp(r), (x.shape[0], 1))
    g = anp.getitem.vjps[0](dx0, None, x3, (Ellipsis, 0))[:, 0, :]
    return (anp.sum(half_square(r), axis=-1), g) if with_value else g


def exact(data) -> Constants:
    """x* = mean(a), f* = ½·var(a), L = μ = 1; σ²(x) = var(a) at every x (so M = var(a),
    M_V = 0); all exact."""
    a = data["a"]
    M, M_V, sigma_sq_bound = least_squares_variance(np.ones((a.size, 1)), a.mean() - a)
    return Constants(
        float(0.5 * np.var(a)),
        np.array([a.mean()]),
        1.0,
        1.0,
        L_max=1.0,
        mu_min=1.0,
        f_inf=0.0,
        sigma_sq_bound=sigma_sq_bound,
        M=M,
        M_V=M_V,
    )


def build(cfg) -> Problem:
    """Draw n samples aᵢ ~ U(0, 1) with the data seed ``problem.seed``; x₀ = 0."""
    require(int(cfg.n) >= 1, "problem.n", cfg.n, "must be a positive integer")
    a = np.random.default_rng(int(cfg.seed)).uniform(0.0, 1.0, size=int(cfg.n))
    return Problem("mean", {"a": a}, loss, np.zeros(1), exact, floats_per_sample=8, grad=grad)
