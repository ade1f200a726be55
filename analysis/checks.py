"""Bound checks: the Monte-Carlo mean of each bounded quantity against its theorem's bound.

For every theorem whose assumptions hold on a run (:func:`analysis.assumptions.assess`), at each
logged step t it speaks about, the replicate values ``Q_r(t)`` give the mean Q̄ and a Student-t
confidence interval Bonferroni-corrected over the theorem's |𝒯| checked steps (theory §9):

- upper bounds: ``ci_low`` is the one-sided (1 − α/|𝒯|) lower confidence bound (``ci_high`` the
  matching upper one). A step is ``violated`` iff ``ci_low > bound``, ``inconclusive`` if only
  Q̄ exceeds it (too few replicates to tell), else ``holds``;
- exact values (``Bound.exact``): two-sided (1 − α/|𝒯|) interval. ``violated`` iff the value
  lies below it (the mean is significantly larger); a value above it is only ``inconclusive``:
  for a right-skewed Q ≥ 0 (squared norms) the low side of a t interval under-covers badly in
  the Bonferroni tails (small samples miss the rare large values and shrink s), while the high
  side is conservative. (On the 1-D toy with R = 40 the t interval claimed p < 1e-4 for a
  deviation a χ² model puts at p ≈ 0.2.)
  Paired checks (a bound per replicate, e.g. the FPC from each replicate's σ²) test the mean
  of ``Q_r − B_r``; the table shows ``bound`` as the mean of ``B_r``;
- a replicate that diverged has ``Q = +inf`` from then on (a violation if the theorem applies).

A theorem's status is the worst over its steps: ``violated`` > ``inconclusive`` > ``holds``;
``not_applicable`` (with the failed assumption as reason) when it cannot be checked. A running
average exists only on the dense prefix of the log grid (:func:`analysis.quantities.coverage`):
then every row's reason, the summary's reason and its ``coverage`` column say so.
``slack = bound / empirical_mean``. Comparisons allow a relative tolerance of 1e-9 (round-off)
and, where the plan gives the size of Q's terms (``Plan.scale``, e.g. σ² for the FPC), an
absolute floor :func:`analysis.stats.roundoff_floor` ``= 1e3 · u · scale``: a full batch (b = n)
has the exact FPC value 0 but logs ``noise_sq`` ≈ 1e-33 from summation order, which a purely
relative tolerance would call a violation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from sgdlab.errors import ConfigError

from . import stats
from .assumptions import Assessment, Plan, assess
from .bounds import BOUNDS, Bound
from .quantities import measure

__all__ = [
    "COLUMNS",
    "COVERAGE_ALL",
    "COVERAGE_NONE",
    "COVERAGE_PREFIX",
    "CheckResult",
    "check",
    "check_all",
    "summarize",
    "write_tables",
]

COLUMNS = [
    "theorem", "step", "quantity", "empirical_mean", "ci_low", "ci_high", "bound", "slack",
    "status", "reason", "p_value",
]  # fmt: skip
RTOL = 1e-9
# summary "coverage": the log grid (every logged step where Q and B are defined), only its
# dense prefix (running averages on a sparse grid), or none (not applicable)
COVERAGE_ALL, COVERAGE_PREFIX, COVERAGE_NONE = "log grid", "dense prefix only", "none"
ORDER = {"violated": 3, "inconclusive": 2, "holds": 1, "not_applicable": 0}


@dataclasses.dataclass
class CheckResult:
    """The tables of one run: step checks, constants, assumptions, and one row per theorem."""

    checks: pd.DataFrame
    constants: pd.DataFrame
    assumptions: pd.DataFrame
    summary: pd.DataFrame
    assessment: Assessment | None = None


def _row(theorem, quantity, step=np.nan, mean=np.nan, low=np.nan, high=np.nan, bound=np.nan,
         status="not_applicable", reason="", p=np.nan) -> dict:  # fmt: skip
    slack = bound / mean if np.isfinite(bound) and np.isfinite(mean) and mean != 0 else np.nan
    return dict(zip(COLUMNS, [theorem, step, quantity, mean, low, high, bound, slack, status,
                              reason, p], strict=True))  # fmt: skip


def _verdict(iv: stats.Interval, bound: float, exact: bool, floor: float = 0.0) -> tuple[str, str]:
    tol = max(RTOL * max(abs(bound), abs(iv.mean), 1e-300), floor)
    if not np.isfinite(iv.low):
        return "inconclusive", f"{iv.count} replicate(s): no confidence interval"
    if exact:
        if iv.low - tol <= bound <= iv.high + tol:
            return "holds", f"value {bound:.6g} inside the CI [{iv.low:.6g}, {iv.high:.6g}]"
        if bound < iv.low:
            return "violated", (
                f"value {bound:.6g} below the CI [{iv.low:.6g}, {iv.high:.6g}] by "
                f"{iv.low - bound:.3g}"
            )
        return "inconclusive", (
            f"value {bound:.6g} above the CI [{iv.low:.6g}, {iv.high:.6g}] by "
            f"{bound - iv.high:.3g}: the low side of a t interval is unreliable for a "
            "right-skewed Q ≥ 0, so a mean below the exact value is not declared a violation"
        )
    if iv.low > bound + tol:
        return "violated", f"LCB {iv.low:.6g} > bound {bound:.6g} by {iv.low - bound:.3g}"
    if iv.mean > bound + tol:
        return "inconclusive", (
            f"mean {iv.mean:.6g} > bound {bound:.6g} but LCB {iv.low:.6g} ≤ bound "
            f"({iv.count} replicates are too few to tell)"
        )
    return "holds", f"mean {iv.mean:.6g} ≤ bound {bound:.6g}"


def theorem_rows(ds: xr.Dataset, plan: Plan, bound: Bound, alpha: float = 0.05) -> list[dict]:
    """The step rows of one theorem on one run (one ``not_applicable`` row if it is not)."""
    quantity = bound.quantity
    if not plan.applicable:
        return [_row(plan.theorem, quantity, reason=plan.reason)]
    steps = np.asarray(ds["step"].values)
    q = np.array(measure(ds, quantity).values, dtype=float)
    q[np.asarray(ds["diverged"].values, dtype=bool)] = np.inf
    ok = plan.steps_ok & ~np.isnan(q).any(axis=0)
    kwargs = dict(plan.kwargs)
    if plan.paired:  # per-replicate constants: keep the candidate steps' columns
        kwargs = {k: v[:, ok] if np.shape(v) == q.shape else v for k, v in kwargs.items()}
    grid = np.broadcast_to(steps[ok], (q.shape[0], int(ok.sum()))) if plan.paired else steps[ok]
    b2 = np.full(q.shape, np.nan)
    if ok.any():
        try:
            with np.errstate(all="ignore"):
                b2[:, ok] = np.asarray(bound.evaluate(grid, plan.lr, **kwargs), dtype=float)
        except ConfigError as err:  # a constant the bound rejects (e.g. μ ≤ 0 or a missing one)
            return [_row(plan.theorem, quantity, reason=f"the bound rejects its input: {err}")]
    ok &= np.isfinite(b2).all(axis=0)
    if not ok.any():
        return [
            _row(
                plan.theorem,
                quantity,
                reason="no logged step where the quantity and the "
                "bound are both defined (see the log grid and the theorem's steps)",
            )
        ]
    n_tests = int(ok.sum())
    scale = None if plan.scale is None else np.abs(np.asarray(plan.scale, dtype=float))
    rows = []
    for j in np.flatnonzero(ok):
        t, qj, bj = int(steps[j]), q[:, j], b2[:, j]
        bnd = float(bj.mean())
        if np.isinf(qj).any():
            who = np.flatnonzero(np.isinf(qj)).tolist()
            rows.append(
                _row(
                    plan.theorem,
                    quantity,
                    t,
                    np.inf,
                    np.inf,
                    np.inf,
                    bnd,
                    "violated",
                    f"replicate(s) {who} diverged by t={t}",
                    0.0,
                )
            )
            continue
        if plan.paired:
            diff = stats.mean_interval(qj - bj, alpha=alpha, n_tests=n_tests, two_sided=bound.exact)
            shift = float(qj.mean()) - diff.mean
            iv = stats.Interval(
                float(qj.mean()), diff.low + shift, diff.high + shift, diff.se, diff.count
            )
        else:
            iv = stats.mean_interval(qj, alpha=alpha, n_tests=n_tests, two_sided=bound.exact)
        floor = 0.0 if plan.scale is None else stats.roundoff_floor(np.nanmean(scale[:, j]))
        status, reason = _verdict(iv, bnd, bound.exact, floor)
        if plan.coverage:
            reason += f"; {plan.coverage}"
        sd = iv.se * np.sqrt(iv.count) if iv.count > 1 else np.nan
        p = stats.t_pvalue(iv.mean, sd, iv.count, bnd)
        if bound.exact and np.isfinite(p):
            p = 2 * min(p, 1 - p)
        if status == "violated" and not bound.exact and not plan.paired and np.all(qj >= 0):
            mk = stats.markov_test(qj, bnd, alpha=alpha / n_tests)
            reason += (
                f"; Markov test (δ = 0.2): {mk.exceed}/{mk.count} replicates above B/δ, "
                f"p = {mk.p_value:.2g}"
            )
        rows.append(
            _row(
                plan.theorem,
                quantity,
                t,
                iv.mean,
                iv.low,
                iv.high,
                bnd,
                status,
                reason,
                min(1.0, p * n_tests) if np.isfinite(p) else np.nan,
            )
        )
    return rows


def _coverage(status: str, plan: Plan | None) -> str:
    if status == "not_applicable":
        return COVERAGE_NONE
    return COVERAGE_PREFIX if plan is not None and plan.coverage else COVERAGE_ALL


def summarize(checks: pd.DataFrame, assessment: Assessment | None = None) -> pd.DataFrame:
    """One row per theorem: status, steps checked and their coverage (:data:`COVERAGE_ALL`,
    :data:`COVERAGE_PREFIX` when a running average exists only on the dense prefix of the log
    grid, :data:`COVERAGE_NONE`), first violation (step and size), the tightest ratio ρ = Q̄/B,
    and the reason (plus the constants' sources when violated, and the coverage if partial)."""
    out = []
    for theorem, g in checks.groupby("theorem", sort=False):
        status = max(g["status"], key=ORDER.__getitem__)
        plan = assessment.plans.get(theorem) if assessment is not None else None
        first = g[g["status"] == "violated"].head(1)
        later = g[g["step"] > 0]  # at t = 0 most bounds equal the (deterministic) value
        later = later if len(later) else g  # ... unless t = 0 is all the theorem speaks of
        ratio = (later["empirical_mean"] / later["bound"]).replace([np.inf, -np.inf], np.nan)
        row = {
            "theorem": theorem,
            "quantity": g["quantity"].iloc[0],
            "status": status,
            "steps_checked": int(g["step"].notna().sum()),
            "coverage": _coverage(status, plan),
            "first_violation_step": float(first["step"].iloc[0]) if len(first) else np.nan,
            "violation_size": float(first["ci_low"].iloc[0] - first["bound"].iloc[0])
            if len(first) and np.isfinite(first["ci_low"].iloc[0])
            else (np.inf if len(first) else np.nan),
            "max_tightness": float(ratio.max()) if ratio.notna().any() else np.nan,
        }
        if status == "not_applicable":
            row["reason"] = g["reason"].iloc[0]
        elif status == "holds" and theorem in BOUNDS and BOUNDS[theorem].exact:
            row["reason"] = (
                f"at all {row['steps_checked']} checked steps the exact value lies in the "
                f"two-sided CI (largest Q̄/B = {row['max_tightness']:.3g})"
            )
        elif status == "holds":
            row["reason"] = (
                f"at all {row['steps_checked']} checked steps the mean is at most the "
                f"bound (tightest Q̄/B = {row['max_tightness']:.3g})"
            )
        else:
            pick = first if len(first) else g[g["status"] == status].head(1)
            row["reason"] = f"t={int(pick['step'].iloc[0])}: {pick['reason'].iloc[0]}"
            # a statistical rejection, not a diverged replicate (whose Q is +inf)
            rejected = status == "violated" and bool(np.isfinite(pick["empirical_mean"].iloc[0]))
            if rejected and theorem in BOUNDS and BOUNDS[theorem].exact:
                row["reason"] += (
                    "; an exact identity: even when it is true, a check at level α flags it "
                    "with probability up to α/2, and jobs that share a seed share their draws, "
                    "so confirm with more replicates or another seed before suspecting the run"
                )
            elif rejected and assessment is not None:
                src = assessment.constants.query("theorem == @theorem")
                est = src[src["source"] == "logged"]["constant"].tolist()
                if est:
                    row["reason"] += (
                        f"; estimated constants {est}: first suspect an "
                        "underestimated L̂ or σ̂² (theory §9)"
                    )
        if status != "not_applicable" and plan is not None and plan.coverage:
            row["reason"] += f"; {plan.coverage}"
        out.append(row)
    cols = ["theorem", "quantity", "status", "steps_checked", "coverage", "first_violation_step",
            "violation_size", "max_tightness", "reason"]  # fmt: skip
    return pd.DataFrame(out, columns=cols)


def check_all(
    ds: xr.Dataset, *, alpha: float = 0.05, bounds: dict[str, Bound] | None = None
) -> CheckResult:
    """Assess and check every theorem of ``bounds`` (default :data:`BOUNDS`) on one run."""
    bounds = BOUNDS if bounds is None else bounds
    alpha = stats.check_alpha(alpha)
    a = assess(ds, alpha=alpha)
    rows = []
    for theorem, plan in a.plans.items():
        if theorem in bounds:
            rows += theorem_rows(ds, plan, bounds[theorem], alpha)
    checks = pd.DataFrame(rows, columns=COLUMNS)
    return CheckResult(checks, a.constants, a.assumptions, summarize(checks, a), a)


def write_tables(result: CheckResult, out_dir: str | Path) -> dict[str, Path]:
    """Write checks.csv, constants.csv, assumptions.csv and summary.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("checks", "constants", "assumptions", "summary"):
        paths[name] = out_dir / f"{name}.csv"
        getattr(result, name).to_csv(paths[name], index=False)
    return paths


def check(
    ds: xr.Dataset,
    path: str | Path | None = None,
    *,
    alpha: float = 0.05,
    bounds: dict[str, Bound] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(checks, constants)`` of one run; with ``path`` (the run's directory or its ``run.nc``)
    also write checks.csv, constants.csv, assumptions.csv and summary.csv next to the run."""
    result = check_all(ds, alpha=alpha, bounds=bounds)
    if path is not None:
        path = Path(path)
        write_tables(result, path.parent if path.suffix == ".nc" else path)
    return result.checks, result.constants
