"""Confidence bounds for a Monte-Carlo mean over R replicates (theory.md §9).

The null hypothesis of a bound check at step t is ``E Q(t) ≤ B(t)``. With the sample mean Q̄,
the standard deviation s and ``SE = s/√R`` over the R replicates, the one-sided lower
confidence bound is ``LCB = Q̄ − t_{1−α', R−1}·SE`` with the Bonferroni level ``α' = α/|𝒯|``
over the |𝒯| checked steps; a violation is declared iff ``LCB > B``. A single replicate above B
is never a violation. Robust alternatives for heavy-tailed Q ≥ 0: a bootstrap LCB and the
distribution-free Markov/binomial test.

:func:`roundoff_floor` is the absolute tolerance below which a difference is treated as float
round-off (for exact values, e.g. the FPC value 0 of a full batch b = n).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy import stats as _st

__all__ = [
    "Interval",
    "bootstrap_lcb",
    "check_alpha",
    "holm",
    "interval_from_stats",
    "markov_test",
    "mean_interval",
    "roundoff_floor",
    "t_pvalue",
    "t_quantile",
]


class Interval(NamedTuple):
    """A mean and its confidence limits; ``low``/``high`` are NaN when R < 2."""

    mean: float
    low: float
    high: float
    se: float
    count: int


ROUNDOFF_ULPS = 1e3  # round-off allowance in units of machine epsilon, times the scale


def roundoff_floor(scale: float) -> float:
    """Absolute tolerance ``1e3 · u · scale`` (u = float64 machine epsilon ≈ 2.2e-16) for a
    quantity whose terms have magnitude ``scale``: a value within it of an exact value is
    round-off. E.g. a full-batch minibatch gradient has ``‖g − ∇f‖² = 0`` exactly but logs
    ~1e-33 from summation order; with ``scale`` = σ²(x) the floor is ~2e-13·σ², far below the
    smallest nonzero FPC value σ²/(n−1)² (b = n − 1) for any n up to ~10⁶."""
    return ROUNDOFF_ULPS * float(np.finfo(float).eps) * abs(float(scale))


@functools.lru_cache(maxsize=4096)
def t_quantile(level: float, df: int) -> float:
    """``t_{level, df}``, the ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(_st.t.ppf(level, df))


def interval_from_stats(
    mean: float,
    sd: float,
    count: int,
    *,
    alpha: float = 0.05,
    n_tests: int = 1,
    two_sided: bool = False,
) -> Interval:
    """Bonferroni t interval from summary statistics (mean, sd with ddof=1, R).

    One-sided (default): ``low`` is the (1 − α/n_tests) lower confidence bound
    ``Q̄ − t_{1−α', R−1}·s/√R`` and ``high`` the matching upper bound (so [low, high] is a
    two-sided 1 − 2α' interval). ``two_sided``: both limits use ``t_{1−α'/2, R−1}``.
    """
    if count < 2 or not np.isfinite(mean) or not np.isfinite(sd):
        se = float("nan") if count < 2 else float(sd) / np.sqrt(count)
        return Interval(float(mean), float("nan"), float("nan"), se, int(count))
    level = alpha / max(int(n_tests), 1)
    q = t_quantile(1 - (level / 2 if two_sided else level), count - 1)
    se = float(sd) / np.sqrt(count)
    return Interval(float(mean), float(mean - q * se), float(mean + q * se), se, int(count))


def check_alpha(alpha) -> float:
    """``alpha`` as a float if it is a level strictly between 0 and 1, else a one-line ValueError
    (α = 0 would make every interval infinite, α ≥ 1 or < 0 meaningless)."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise ValueError(f"alpha must be a level strictly between 0 and 1 (e.g. 0.05), got {alpha}")
    return value


def mean_interval(
    values: np.ndarray, *, alpha: float = 0.05, n_tests: int = 1, two_sided: bool = False
) -> Interval:
    """:func:`interval_from_stats` for the replicate values ``values`` (1-D, finite)."""
    v = np.asarray(values, dtype=float).ravel()
    sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
    mean = float(v.mean()) if v.size else float("nan")
    return interval_from_stats(mean, sd, v.size, alpha=alpha, n_tests=n_tests, two_sided=two_sided)


def t_pvalue(mean: float, sd: float, count: int, bound: float) -> float:
    """One-sided p-value of ``H0: E Q ≤ bound`` by the t statistic ``(Q̄ − B)/(s/√R)``
    (not multiplicity-adjusted; multiply by |𝒯| for Bonferroni)."""
    if count < 2 or not np.isfinite(sd):
        return float("nan")
    if sd == 0:
        return 0.0 if mean > bound else 1.0
    return float(_st.t.sf((mean - bound) / (sd / np.sqrt(count)), count - 1))


def bootstrap_lcb(
    values: np.ndarray,
    *,
    alpha: float = 0.05,
    n_tests: int = 1,
    resamples: int = 2000,
    seed: int = 0,
) -> float:
    """Percentile-bootstrap lower confidence bound of the mean at level ``α/n_tests``
    (``resamples`` ≥ 2000 as theory §9 asks; seeded, so reproducible)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    return float(np.quantile(means, alpha / max(int(n_tests), 1)))


def holm(p_values: dict[str, float], alpha: float = 0.05) -> dict[str, tuple[float, float | None]]:
    """Holm's step-down correction of a family of p-values (NaN ones are left out).

    Returns ``{name: (adjusted p, critical level or None)}``: sorted ascending, the i-th smallest
    p (i = 1..m) is rejected while ``p_(i) ≤ α/(m − i + 1)``, and the first that is not stops
    the descent; a rejected hypothesis gets the level ``α/(m − i + 1)`` it was rejected at, the
    others None. The adjusted p-values ``max_{k≤i} min(1, (m − k + 1) p_(k))`` are ≤ α exactly
    for the rejected ones. The family-wise error is at most α under any dependence."""
    finite = sorted((p, name) for name, p in p_values.items() if np.isfinite(p))
    m, out, running, rejecting = len(finite), {}, 0.0, True
    for i, (p, name) in enumerate(finite):
        level = alpha / (m - i)
        running = max(running, min(1.0, (m - i) * p))
        rejecting = rejecting and p <= level
        out[name] = (running, level if rejecting else None)
    return out


class MarkovResult(NamedTuple):
    """Markov/binomial test: ``exceed`` of ``count`` replicates had ``Q_r > B/δ``."""

    exceed: int
    count: int
    p_value: float
    flagged: bool


def markov_test(
    values: np.ndarray, bound: float, *, delta: float = 0.2, alpha: float = 0.05
) -> MarkovResult:
    """Distribution-free test of ``E Q ≤ B`` for ``Q ≥ 0``: under the null
    ``P(Q_r > B/δ) ≤ δ`` (Markov), so flag when ``P(Bin(R, δ) ≥ #{r: Q_r > B/δ}) < α``."""
    v = np.asarray(values, dtype=float).ravel()
    k = int(np.sum(v > bound / delta))
    p = float(_st.binom.sf(k - 1, v.size, delta)) if v.size else float("nan")
    return MarkovResult(k, int(v.size), p, bool(p < alpha))
