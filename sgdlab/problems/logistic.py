"""``logistic``: binary logistic regression with L2 weight λ (strongly convex when λ > 0).

fᵢ(x) = log(1 + exp(aᵢᵀx)) − yᵢ·aᵢᵀx + (λ/2)‖x‖², labels yᵢ ∈ {0, 1}, no intercept.
Exact: x* and f* by L-BFGS to gradient tolerance 1e-12; global L = λmax(AᵀA)/(4n) + λ
(the logistic curvature is at most ¼) and μ = λ.
"""

from __future__ import annotations

import functools

import numpy as np

import autodiff.numpy as anp

from ..errors import require
from . import data
from .base import (
    BOUND,
    Constants,
    Problem,
    l2,
    l2_vjp,
    lbfgs_minimum,
    linear,
    linear_vjp,
)
from .linear_model import LinearModel


def loss(x, batch, lam: float):
    """fᵢ(x) = softplus(zᵢ) − yᵢzᵢ + (λ/2)‖x‖², zᵢ = aᵢᵀx; x (R, m|1, d) → (R, m)."""
    return _loss_of_logits(linear(x, batch["X"]), x, batch["y"], lam)


def _loss_of_logits(z, x, y, lam: float):
    """fᵢ from the logits zᵢ (R, m): the likelihood term is one fused primitive
    (``anp.logistic_nll``, VJP σ(zᵢ) − yᵢ), and the ridge term is left out when λ = 0."""
    nll = anp.logistic_nll(z, y)
    return nll + l2(x, lam) if lam else nll


def grad(x, batch, lam: float, with_value: bool = False):
    """Σᵢ ∇fᵢ(x_r) over the batch, (R, d) for x (R, d) (and Σᵢ fᵢ(x_r), (R,), first when
    ``with_value``), without the tracer: the rules the tape of :func:`loss` runs —
    logistic_nll's VJP σ(zᵢ) − yᵢ on the seed cotangent 1, then
    :func:`~sgdlab.problems.base.linear_vjp` and the ridge's — so the same bits."""
    x3 = x[:, None, :]
    features, y = batch["X"], batch["y"]
    z = linear(x3, features)
    seed = np.ones(z.shape)  # the cotangent of each sample's loss in Σᵢ fᵢ
    g = linear_vjp(anp.logistic_nll.vjps[0](seed, z, z, y), x3, features)
    if lam:
        g = l2_vjp(features.shape[-2], x3, lam) + g
    if with_value:
        return anp.sum(_loss_of_logits(z, x3, y, lam), axis=-1), g[:, 0, :]
    return g[:, 0, :]


def _nll(z, batch):
    """softplus(z) − y·z per (replicate, sample) in NumPy: max(z, 0) + log1p(exp(−|z|)) − y·z."""
    u = np.abs(z)
    np.negative(u, out=u)
    np.exp(u, out=u)
    np.log1p(u, out=u)
    u += np.maximum(z, 0.0)
    u -= batch["y"] * z
    return u


def _residual(z, batch):
    """σ(z) − y, the slope of the negative log-likelihood: for z < −709 exp(−z) overflows to
    inf and σ(z) to 0, its value to 1e-308 (no warning; a cap on exp's argument would cost a
    quarter of this function's time)."""
    s = np.negative(z)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)
    s -= batch["y"]
    return s


def curvature(z, batch=None):
    """The logistic loss's second derivative σ(z)σ(−z) = e/(1 + e)², e = exp(−|z|) (no
    overflow, full relative precision for large |z|), a new array."""
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    denominator = e + 1.0
    denominator *= denominator
    return np.divide(e, denominator, out=e)


def exact(data_arrays, lam: float) -> Constants:
    """f*, x* by L-BFGS (exact to its tolerance); valid bounds for the rest:

    - ∇²fᵢ = s'(zᵢ)aᵢaᵢᵀ + λI with the logistic s' ≤ ¼: L ≤ λmax(AᵀA)/(4n) + λ,
      Lᵢ ≤ ‖aᵢ‖²/4 + λ, and μ ≥ λ, μᵢ ≥ λ; f ≥ 0 (softplus(z) − yz ≥ 0);
    - ∇fᵢ(x) = (s(zᵢ) − yᵢ)aᵢ + λx with |s(zᵢ) − yᵢ| ≤ 1: the λx terms cancel in
      gᵢ − ∇f, so σ²(x) ≤ (1/n)Σᵢ‖aᵢ‖² for every x (BCN: M = that, M_V = 0); with λ = 0 also
      ‖∇fᵢ(x)‖² ≤ maxᵢ‖aᵢ‖² for every x (the G² of Sra's theorem S1), while with λ > 0 the
      gradients grow with ‖x‖ and no G² exists.
    """
    X = data_arrays["X"]
    d = X.shape[1]
    fn = functools.partial(loss, lam=lam)
    f_star, x_star = lbfgs_minimum(fn, data_arrays, np.zeros(d))
    L = float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1] / 4.0 + lam)
    row_sq = (X * X).sum(axis=1)
    mean_sq = float(row_sq.mean())
    bounded = ("L_global", "mu_global", "L_max", "mu_min", "f_inf", "sigma_sq_bound", "M", "M_V")
    return Constants(
        f_star,
        x_star,
        L,
        float(lam),
        L_max=float(row_sq.max() / 4.0 + lam),
        mu_min=float(lam),
        f_inf=0.0,
        sigma_sq_bound=mean_sq,
        G_sq_bound=float(row_sq.max()) if lam == 0 else float("nan"),
        M=mean_sq,
        M_V=0.0,
        provenance={name: BOUND for name in (*bounded, "G_sq_bound")},
    )


def build(cfg) -> Problem:
    """Load the data of ``problem.data``; x₀ = 0."""
    lam = float(cfg.lam)
    require(lam >= 0.0, "problem.lam", cfg.lam, "the L2 weight λ must be ≥ 0")
    X, y = data.load(cfg)
    require(
        int(y.max()) == 1,
        "problem.data",
        str(cfg.data),
        "logistic regression needs exactly 2 label values",
    )
    return Problem(
        "logistic",
        {"X": X, "y": y.astype(float)},
        functools.partial(loss, lam=lam),
        np.zeros(X.shape[1]),
        functools.partial(exact, lam=lam),
        floats_per_sample=4 * X.shape[1] + 16,
        grad=functools.partial(grad, lam=lam),
        linear=LinearModel("X", _nll, _residual, curvature, lam),
    )
