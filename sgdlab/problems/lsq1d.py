"""``lsq1d``: one-dimensional least squares fᵢ(x) = ½(aᵢx − bᵢ)² (theory §5).

Component i is minimized at xᵢ* = bᵢ/aᵢ and x* = Σaᵢbᵢ/Σaᵢ² is a convex combination of them,
inside the region of confusion [min bᵢ/aᵢ, max bᵢ/aᵢ]; L = μ = mean(aᵢ²).
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp

from ..errors import ConfigError, require
from .base import Constants, Problem, half_square, half_square_vjp, least_squares_variance


def loss(x, batch):
    """fᵢ(x) = ½(aᵢx − bᵢ)²; x (R, m|1, 1), a and b (R|1, m) → (R, m)."""
    return half_square(x[..., 0] * batch["a"] - batch["b"])


def grad(x, batch, with_value: bool = False):
    """Σᵢ aᵢ(aᵢx_r − bᵢ) over the batch, (R, 1) for x (R, 1) (and Σᵢ fᵢ(x_r), (R,), first when
    ``with_value``), without the tracer: the rules the tape of :func:`loss` runs (multiply's,
    summed to x[..., 0], then getitem's), so the same bits."""
    x3 = x[:, None, :]
    a = batch["a"]
    r = x3[..., 0] * a - batch["b"]
    dx0 = anp.sum_to(half_square_vjp(r) * a, (x.shape[0], 1))
    g = anp.getitem.vjps[0](dx0, None, x3, (Ellipsis, 0))[:, 0, :]
    return (anp.sum(half_square(r), axis=-1), g) if with_value else g


def exact(data) -> Constants:
    """x* = Σaᵢbᵢ/Σaᵢ², f* = f(x*), L = μ = mean(aᵢ²), BCN's M and M_V; all exact."""
    a, b = data["a"], data["b"]
    xs = float(a @ b / (a @ a))
    m2 = float(np.mean(a * a))
    f_star = float(0.5 * np.mean((a * xs - b) ** 2))
    a2 = a * a  # fᵢ'' = aᵢ²: each fᵢ is aᵢ²-smooth and aᵢ²-strongly convex
    M, M_V, sigma_sq_bound = least_squares_variance(a[:, None], a * xs - b)
    return Constants(
        f_star,
        np.array([xs]),
        m2,
        m2,
        L_max=float(a2.max()),
        mu_min=float(a2.min()),
        f_inf=0.0,
        sigma_sq_bound=sigma_sq_bound,
        M=M,
        M_V=M_V,
    )


def region(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The region of confusion [min bᵢ/aᵢ, max bᵢ/aᵢ]."""
    ratios = b / a
    return float(ratios.min()), float(ratios.max())


def build(cfg) -> Problem:
    """Data from ``problem.a``/``problem.b`` (lists) or drawn: aᵢ ~ U(0.5, 2), bᵢ ~ N(0, 1).
    x₀ lies outside the region of confusion, one region width beyond its right end."""
    if cfg.a is not None or cfg.b is not None:
        if cfg.a is None or cfg.b is None:
            raise ConfigError("problem.a/problem.b: give both lists or neither")
        try:
            a = np.asarray(list(cfg.a), dtype=float)
            b = np.asarray(list(cfg.b), dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(
                f"problem.a={cfg.a!r}, problem.b={cfg.b!r}: must be lists of numbers"
            ) from None
        require(
            a.ndim == 1 and a.shape == b.shape and a.size >= 1,
            "problem.a",
            list(cfg.a),
            f"must be a non-empty list as long as problem.b ({b.size} values)",
        )
        for key, v in (("problem.a", a), ("problem.b", b)):
            require(
                bool(np.all(np.isfinite(v))),
                key,
                v.tolist(),
                "values must be finite (no NaN or inf)",
            )
        require(bool(np.all(a != 0)), "problem.a", list(cfg.a), "every aᵢ must be non-zero")
    else:
        require(int(cfg.n) >= 1, "problem.n", cfg.n, "must be a positive integer")
        rng = np.random.default_rng(int(cfg.seed))
        a = rng.uniform(0.5, 2.0, size=int(cfg.n))
        b = rng.normal(size=int(cfg.n))
    lo, hi = region(a, b)
    x0 = np.array([hi + max(hi - lo, 1.0)])
    attrs = {"region_of_confusion": [lo, hi]}
    return Problem(
        "lsq1d", {"a": a, "b": b}, loss, x0, exact, floats_per_sample=8, attrs=attrs, grad=grad
    )
