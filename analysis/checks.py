"""Bound checks: the Monte-Carlo mean of each bounded quantity against its theorem's bound.

For every theorem whose assumptions hold on a run (:func:`analysis.assumptions.assess`):

1. **Checkpoints, fixed before the data are seen** (:func:`checkpoints`): about
   :data:`CHECKPOINTS` geometric steps in [1, T] and the last step where the theorem speaks,
   chosen from the run's design alone (its log grid and what the theorem covers), never from its
   outcome.
2. **One p-value per checkpoint** for "the mean exceeds the bound": a one-sided Student-t test
   of ``H0: E Q(t) ≤ B(t)`` on the R replicate values (theory §9), or, for exact values
   (``Bound.exact``), of ``E Q(t) = B(t)`` in the direction of a larger mean (doubled, i.e. the
   upper tail of a two-sided test). A paired check (a bound per replicate, e.g. the FPC from each
   replicate's σ²) tests the mean of ``Q_r − B_r``. A replicate that diverged counts as
   ``Q = +∞`` (certified constants only: a theorem resting on estimates is not applicable to a
   diverged run) and the checkpoint is tested by the distribution-free Markov test
   :func:`analysis.stats.markov_test`; a conditional identity (the FPC, given x_t) uses the
   replicates that have not diverged by t.
3. **Error control.** A theorem's p-value is the Bonferroni minimum over its K checkpoints
   (``K · min_k p_k``); the run's theorems form one family, corrected by Holm
   (:func:`analysis.stats.holm`). Statuses:

   - ``violated``: the excess is significant at level α family-wise, over every checkpoint and
     theorem of the run, so a correct run shows a false ``violated`` with probability ≤ α;
   - ``inconclusive``: significant for this theorem alone (its own K checkpoints corrected) but
     not after the correction across theorems, or fewer than 2 replicates with the mean above
     the bound, or (exact values) a mean significantly *below* the value over the whole family
     (Bonferroni over checkpoints and theorems): the low side of a t interval under-covers a
     right-skewed Q ≥ 0, so that side is held to the family-wise level and never makes a
     violation;
   - ``holds``: no significant excess at any checkpoint.

4. **Tightness** ρ = Q̄/B with a two-sided interval at level 1 − α/K (simultaneous over the
   theorem's checkpoints), in the columns ``ratio``, ``ratio_low``, ``ratio_high``.

Comparisons allow a relative tolerance of 1e-9 (round-off) and, where the plan gives the size of
Q's terms (``Plan.scale``, e.g. σ² for the FPC), an absolute floor
:func:`analysis.stats.roundoff_floor` ``= 1e3 · u · scale``: a full batch (b = n) has the exact
FPC value 0 but logs ``noise_sq`` ≈ 1e-33 from summation order.

Each row says in ``constants_provenance`` whether its verdict rests on certified constants
(exact or bound) or is conditional on estimated ones (``estimated="allow"``).
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
from .quantities import defined_steps, measure

__all__ = [
    "CHECKPOINTS",
    "COLUMNS",
    "COVERAGE_ALL",
    "COVERAGE_NONE",
    "COVERAGE_PREFIX",
    "CheckResult",
    "check",
    "check_all",
    "checkpoints",
    "looseness",
    "summarize",
    "write_tables",
]

COLUMNS = [
    "theorem", "step", "quantity", "empirical_mean", "ci_low", "ci_high", "bound", "slack",
    "status", "reason", "p_value", "ratio", "ratio_low", "ratio_high", "constants_provenance",
]  # fmt: skip
SUMMARY_COLUMNS = [
    "theorem", "quantity", "status", "steps_checked", "coverage", "first_violation_step",
    "violation_size", "max_tightness", "ratio_final", "ratio_final_low", "ratio_final_high",
    "ratio_max", "ratio_max_low", "ratio_max_high", "ratio_max_step", "p_value",
    "constants_provenance", "reason",
]  # fmt: skip
RTOL = 1e-9
CHECKPOINTS = 8  # geometric checkpoints in [1, T], plus the last step
MARKOV_DELTA = 0.2
# summary "coverage": checkpoints over the whole run, only over the dense prefix of the log
# grid (running averages without running sums), or none (not applicable)
COVERAGE_ALL, COVERAGE_PREFIX, COVERAGE_NONE = "log grid", "dense prefix only", "none"
ORDER = {"violated": 3, "inconclusive": 2, "holds": 1, "not_applicable": 0}
ESTIMATED_OPTIONS = ("forbid", "allow")


@dataclasses.dataclass
class CheckResult:
    """The tables of one run: checkpoint rows, constants, assumptions, one row per theorem,
    and the run's divergence sentence ("" when no replicate diverged)."""

    checks: pd.DataFrame
    constants: pd.DataFrame
    assumptions: pd.DataFrame
    summary: pd.DataFrame
    assessment: Assessment | None = None
    divergence: str = ""


def checkpoints(steps: np.ndarray, candidates: np.ndarray, num: int = CHECKPOINTS) -> np.ndarray:
    """Indices of the pre-registered checkpoints among the logged ``steps`` (S,): for each target
    ``⌈t_K^(k/num)⌉``, k = 1..num, the first candidate step at or after it, and the last
    candidate t_K itself (``candidates`` (S,) bool says where the theorem is defined by design).
    t = 0 is a checkpoint only when it is the only candidate."""
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return idx
    at = np.asarray(steps)[idx]
    if at[-1] < 1:
        return idx[-1:]
    targets = np.ceil(float(at[-1]) ** (np.arange(1, num + 1) / num) - 1e-9)
    picks = set(np.minimum(np.searchsorted(at, targets), at.size - 1).tolist())
    picks.add(at.size - 1)
    return idx[sorted(picks)]


def _row(theorem, quantity, step=np.nan, mean=np.nan, low=np.nan, high=np.nan, bound=np.nan,
         status="not_applicable", reason="", p=np.nan, ratio=(np.nan, np.nan, np.nan),
         provenance="") -> dict:  # fmt: skip
    slack = bound / mean if np.isfinite(bound) and np.isfinite(mean) and mean != 0 else np.nan
    values = [theorem, step, quantity, mean, low, high, bound, slack, status, reason, p, *ratio,
              provenance]  # fmt: skip
    return dict(zip(COLUMNS, values, strict=True))


@dataclasses.dataclass
class _Point:
    """One checkpoint's statistics before the statuses are assigned."""

    step: int
    mean: float
    low: float
    high: float
    bound: float
    ratio: tuple[float, float, float]
    p_up: float  # one-sided p of "mean above the bound" (NaN: no test)
    p_down: float  # exact values: one-sided p of "mean below the value"
    excess: bool  # the mean exceeds the bound beyond round-off
    note: str  # what was tested


@dataclasses.dataclass
class _Theorem:
    plan: Plan
    bound: Bound
    points: list[_Point]
    note: str = ""  # why nothing was checked (then points is empty)

    @property
    def factor(self) -> int:
        """Bonferroni factor: K checkpoints, doubled for a two-sided exact test."""
        return len(self.points) * (2 if self.bound.exact else 1)

    def adjusted(self, p: float) -> float:
        return min(1.0, self.factor * p) if np.isfinite(p) else np.nan

    @property
    def p_up(self) -> float:
        ps = [pt.p_up for pt in self.points if np.isfinite(pt.p_up)]
        return self.adjusted(min(ps)) if ps else np.nan


def _interval(values: np.ndarray, level: float, two_sided: bool) -> stats.Interval:
    return stats.mean_interval(values, alpha=level, n_tests=1, two_sided=two_sided)


def _point(t, q, b, bound: Bound, plan: Plan, alpha: float, k: int, floor: float) -> _Point:
    """Statistics of one checkpoint from the replicate values ``q`` and bounds ``b`` (R,)."""
    exact, level = bound.exact, alpha / k
    bnd = float(np.mean(b))
    if np.isinf(q).any():  # diverged replicates (certified constants): distribution-free test
        who = np.flatnonzero(np.isinf(q)).tolist()
        text = f"replicate(s) {who} diverged by t={t}"
        if np.all(q[np.isfinite(q)] >= 0) and bnd > 0:
            mk = stats.markov_test(q, bnd, delta=MARKOV_DELTA, alpha=level)
            text += (
                f"; Markov test (δ = {MARKOV_DELTA}): {mk.exceed}/{mk.count} replicates above B/δ"
            )
            p = mk.p_value
        else:
            p = np.nan
        inf3 = (np.inf, np.inf, np.inf)
        return _Point(t, np.inf, np.inf, np.inf, bnd, inf3, p, np.nan, True, text)
    mean_q = float(np.mean(q)) if q.size else np.nan
    diff = q - b if plan.paired else q
    target = 0.0 if plan.paired else bnd
    ci = _interval(diff, level, exact)  # one-sided α/K limits, or two-sided for exact values
    two = _interval(diff, level, True)  # for the ratio: simultaneous two-sided
    shift = mean_q - ci.mean  # paired: back from Q − B to Q
    tol = max(RTOL * max(abs(bnd), abs(mean_q), 1e-300), floor)
    sd = ci.se * np.sqrt(ci.count) if ci.count > 1 else np.nan
    p_up = stats.t_pvalue(ci.mean, sd, ci.count, target + tol)
    p_down = stats.t_pvalue(-ci.mean, sd, ci.count, -(target - tol)) if exact else np.nan
    ratio = (np.nan, np.nan, np.nan)
    if bnd > 0:
        ratio = (mean_q / bnd, (two.low + shift) / bnd, (two.high + shift) / bnd)
    return _Point(
        t, mean_q, ci.low + shift, ci.high + shift, bnd, ratio, p_up, p_down,
        mean_q > bnd + tol, "",
    )  # fmt: skip


def evaluate(ds: xr.Dataset, plan: Plan, bound: Bound, alpha: float = 0.05) -> _Theorem:
    """The checkpoint statistics of one applicable theorem on one run."""
    steps = np.asarray(ds["step"].values)
    q = np.array(measure(ds, bound.quantity).values, dtype=float)
    diverged = np.asarray(ds["diverged"].values, dtype=bool)
    if not plan.cut_at_divergence:
        q[diverged] = np.inf
    candidates = plan.steps_ok & defined_steps(ds, bound.quantity)
    picks = checkpoints(steps, candidates)
    if picks.size == 0:
        why = "no logged step where the theorem speaks and the quantity is defined"
        return _Theorem(plan, bound, [], why + " (see the log grid and the theorem's steps)")
    kwargs = dict(plan.kwargs)
    if plan.paired:  # per-replicate constants: keep the checkpoints' columns
        kwargs = {k: v[:, picks] if np.shape(v) == q.shape else v for k, v in kwargs.items()}
    grid = np.broadcast_to(steps[picks], (q.shape[0], picks.size)) if plan.paired else steps[picks]
    try:
        with np.errstate(all="ignore"):
            b2 = np.broadcast_to(
                np.asarray(bound.evaluate(grid, plan.lr, **kwargs), dtype=float),
                (q.shape[0], picks.size),
            )
    except ConfigError as err:  # a constant the bound rejects (e.g. μ ≤ 0 or a missing one)
        return _Theorem(plan, bound, [], f"the bound rejects its input: {err}")
    scale = None if plan.scale is None else np.abs(np.asarray(plan.scale, dtype=float))
    points = []
    for col, j in enumerate(picks):
        keep = ~diverged[:, j] if plan.cut_at_divergence else np.ones(q.shape[0], dtype=bool)
        qj, bj = q[keep, j], b2[keep, col]
        if not np.isfinite(bj).all() or np.isnan(qj).any() or qj.size == 0:
            continue  # a vacuous bound (+inf) or an undefined value says nothing here
        floor = 0.0 if scale is None else stats.roundoff_floor(np.nanmean(scale[keep, j]))
        point = _point(int(steps[j]), qj, bj, bound, plan, alpha, picks.size, floor)
        if plan.cut_at_divergence and not keep.all():
            point.note = f"{int((~keep).sum())} diverged replicate(s) left out (conditional on x_t)"
        points.append(point)
    if not points and plan.cut_at_divergence and diverged[:, picks].all():
        where = ", ".join(str(int(t)) for t in steps[picks])
        return _Theorem(plan, bound, [], f"every replicate had diverged by its checkpoints (t = "
                        f"{where}); the identity is conditional on x_t, so diverged replicates "
                        "are left out")  # fmt: skip
    if not points:
        return _Theorem(plan, bound, [], "no checkpoint where the bound is finite and Q defined")
    return _Theorem(plan, bound, points)


def _theorems(count: int) -> str:
    return f"{count} theorem" + ("" if count == 1 else "s")


def _describe(pt: _Point, status: str, exact: bool, p: float, family: int) -> str:
    """The reason of one checkpoint row."""
    if pt.note.startswith("replicate("):
        verdict = {"violated": "family-wise significant", "inconclusive": "significant for this "
                   "theorem alone", "holds": "not significant"}[status]  # fmt: skip
        return (
            f"{pt.note}, p = {p:.2g} ({verdict})"
            if np.isfinite(p)
            else (f"{pt.note}: no distribution-free test for a signed or zero bound")
        )
    if not np.isfinite(pt.low):
        text = "fewer than 2 replicates: no confidence interval"
        return text + (f"; mean {pt.mean:.6g} > bound {pt.bound:.6g}" if pt.excess else "")
    ci = f"[{pt.low:.6g}, {pt.high:.6g}]"
    if exact:
        head = f"exact value {pt.bound:.6g}, mean {pt.mean:.6g}, CI {ci}"
    else:
        head = f"mean {pt.mean:.6g} (LCB {pt.low:.6g}) vs bound {pt.bound:.6g}"
    if status == "violated":
        text = f"{head}: the excess is family-wise significant (p = {p:.2g} over the theorem's "
        text += f"checkpoints; Holm over the run's {_theorems(family)})"
    elif status == "inconclusive" and exact and not pt.excess:
        text = f"{head}: mean significantly below the exact value; the low side of a t "
        text += "interval under-covers a right-skewed Q ≥ 0, so this is never called a violation"
    elif status == "inconclusive":
        text = f"{head}: significant for this theorem alone (p = {p:.2g}) but not after the "
        text += f"correction across the run's {_theorems(family)}; rerun with more replicates"
    elif pt.excess:
        text = f"{head}: above the bound, but not significantly (p = {p:.2g})"
    else:
        text = f"{head}: " + ("inside the CI" if exact else "mean ≤ bound")
    return text + (f"; {pt.note}" if pt.note else "")


def _rows(
    th: _Theorem, status_of: dict, alpha: float, critical: float | None, family: int
) -> list[dict]:
    plan, bound = th.plan, th.bound
    rows = []
    for pt in th.points:
        p = th.adjusted(pt.p_up)
        # the low side of a t interval under-covers a right-skewed Q ≥ 0 (a sample that misses
        # the rare large values has a small mean *and* a small s), so a mean below an exact
        # value must be significant over the whole family (Bonferroni over the m theorems)
        low_side = bound.exact and family * th.adjusted(pt.p_down) <= alpha
        if critical is not None and np.isfinite(p) and p <= critical:
            status = "violated"
        elif (np.isfinite(p) and p <= alpha) or low_side:
            status = "inconclusive"
        elif not np.isfinite(pt.low) and pt.excess:
            status = "inconclusive"
        else:
            status = "holds"
        reason = _describe(pt, status, bound.exact, p, family)
        if plan.conditional:
            reason += f"; {plan.provenance}"
        if plan.coverage:
            reason += f"; {plan.coverage}"
        rows.append(
            _row(
                plan.theorem,
                bound.quantity,
                pt.step,
                pt.mean,
                pt.low,
                pt.high,
                pt.bound,
                status,
                reason,
                p,
                pt.ratio,
                plan.provenance,
            )  # fmt: skip
        )
    status_of[plan.theorem] = max((r["status"] for r in rows), key=ORDER.__getitem__)
    return rows


def looseness(row: pd.Series | dict, alpha: float = 0.05) -> str:
    """How loose a bound is, in words, from a summary row: e.g. "the bound is 3.2× the measured
    value at t = 2000 (simultaneous 95% CI 2.9–3.6×)"."""
    rho, low, high = (float(row[k]) for k in ("ratio_final", "ratio_final_low", "ratio_final_high"))
    step = row.get("final_step", np.nan) if isinstance(row, dict) else np.nan
    if not np.isfinite(rho) or rho <= 0:
        return ""
    at = f" at t = {int(step)}" if np.isfinite(step) else " at the last checkpoint"
    inv_hi = 1 / low if np.isfinite(low) and low > 0 else np.inf
    inv_lo = 1 / high if np.isfinite(high) and high > 0 else np.nan
    ci = f" (CI {inv_lo:.3g}–{inv_hi:.3g}×)" if np.isfinite(inv_lo) else ""
    return f"the bound is {1 / rho:.3g}× the measured value{at}{ci}"


def _coverage(status: str, plan: Plan | None) -> str:
    if status == "not_applicable":
        return COVERAGE_NONE
    return COVERAGE_PREFIX if plan is not None and plan.coverage else COVERAGE_ALL


def summarize(
    checks: pd.DataFrame, assessment: Assessment | None = None, p_values: dict | None = None
) -> pd.DataFrame:
    """One row per theorem: status, the checkpoints (count and coverage), the first violation
    (step and size), the tightness ρ = Q̄/B at the last checkpoint and at its largest (each with
    its simultaneous interval; ``max_tightness`` = ``ratio_max``), the theorem's Holm-adjusted
    p-value, the provenance of its constants, and the reason."""
    out = []
    for theorem, g in checks.groupby("theorem", sort=False):
        status = max(g["status"], key=ORDER.__getitem__)
        plan = assessment.plans.get(theorem) if assessment is not None else None
        first = g[g["status"] == "violated"].head(1)
        checked = g[g["step"].notna()]
        final = checked.tail(1)
        finite = checked[np.isfinite(checked["ratio"].astype(float))]
        top = finite.loc[[finite["ratio"].astype(float).idxmax()]] if len(finite) else final
        ratio = {}
        for name, pick in (("final", final), ("max", top)):
            for col, src in (("", "ratio"), ("_low", "ratio_low"), ("_high", "ratio_high")):
                ratio[f"ratio_{name}{col}"] = float(pick[src].iloc[0]) if len(pick) else np.nan
        row = {
            "theorem": theorem,
            "quantity": g["quantity"].iloc[0],
            "status": status,
            "steps_checked": int(len(checked)),
            "coverage": _coverage(status, plan),
            "first_violation_step": float(first["step"].iloc[0]) if len(first) else np.nan,
            "violation_size": float(first["ci_low"].iloc[0] - first["bound"].iloc[0])
            if len(first)
            else np.nan,
            "max_tightness": ratio["ratio_max"],
            **ratio,
            "ratio_max_step": float(top["step"].iloc[0]) if len(top) else np.nan,
            "p_value": (p_values or {}).get(theorem, np.nan),
            "constants_provenance": g["constants_provenance"].iloc[0],
        }
        steps = checked["step"].astype(int).tolist()
        where = (
            f"t = {', '.join(map(str, steps))}"
            if len(steps) <= 10
            else f"t = {steps[0]} … {steps[-1]}"
        )
        loose = looseness(row | {"final_step": steps[-1] if steps else np.nan})
        if status == "not_applicable":
            row["reason"] = g["reason"].iloc[0]
        elif status == "holds" and theorem in BOUNDS and BOUNDS[theorem].exact:
            row["reason"] = (
                f"at all {len(steps)} checkpoints ({where}) the exact value is consistent with "
                "the mean"
            )
        elif status == "holds":
            row["reason"] = (
                f"no significant excess at any of {len(steps)} checkpoints ({where})"
                + (f"; {loose}" if loose else "")
            )
        else:
            pick = first if len(first) else g[g["status"] == status].head(1)
            row["reason"] = f"t={int(pick['step'].iloc[0])}: {pick['reason'].iloc[0]}"
        if status != "not_applicable" and plan is not None and plan.conditional:
            if plan.provenance not in row["reason"]:
                row["reason"] += f"; {plan.provenance}"
        if status != "not_applicable" and plan is not None and plan.coverage:
            if plan.coverage not in row["reason"]:
                row["reason"] += f"; {plan.coverage}"
        out.append(row)
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _estimated(option) -> bool:
    if option in (True, False):
        return bool(option)
    if option not in ESTIMATED_OPTIONS:
        raise ValueError(
            f"estimated={option!r}: allowed values are 'forbid' (theorems need certified "
            "constants; the default) and 'allow' (conditional checks on estimated constants)"
        )
    return option == "allow"


def check_all(
    ds: xr.Dataset,
    *,
    alpha: float = 0.05,
    bounds: dict[str, Bound] | None = None,
    estimated: str = "forbid",
) -> CheckResult:
    """Assess and check every theorem of ``bounds`` (default :data:`BOUNDS`) on one run, with
    family-wise error at most ``alpha`` over all checkpoints and theorems (module docstring).
    ``estimated="allow"`` lets theorems use constants estimated from the run (conditionally)."""
    bounds = BOUNDS if bounds is None else bounds
    alpha = stats.check_alpha(alpha)
    a = assess(ds, alpha=alpha, estimated=_estimated(estimated))
    evaluated: dict[str, _Theorem] = {}
    rows = []
    for theorem, plan in a.plans.items():
        if theorem not in bounds:
            continue
        if not plan.applicable:
            rows.append(_row(theorem, bounds[theorem].quantity, reason=plan.reason))
            continue
        th = evaluate(ds, plan, bounds[theorem], alpha)
        if th.points:
            evaluated[theorem] = th
        else:
            rows.append(_row(theorem, bounds[theorem].quantity, reason=th.note))
    family = {name: th.p_up for name, th in evaluated.items()}
    holm = stats.holm(family, alpha)
    status_of: dict[str, str] = {}
    for name, th in evaluated.items():
        adjusted, critical = holm.get(name, (np.nan, None))
        rows += _rows(th, status_of, alpha, critical, len(family))
    order = {name: i for i, name in enumerate(a.plans)}
    checks = pd.DataFrame(rows, columns=COLUMNS)
    checks = checks.sort_values("theorem", key=lambda s: s.map(order), kind="stable")
    checks = checks.reset_index(drop=True)
    p_values = {name: holm[name][0] for name in holm}
    summary = summarize(checks, a, p_values)
    return CheckResult(checks, a.constants, a.assumptions, summary, a, a.divergence)


FORMULA_STARTS = ("=", "+", "-", "@")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell that a spreadsheet would run as a formula (one starting with
    = + - or @, e.g. from a config string) prefixed by a quote; numbers are left as they are."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v
            )
    return out


def write_tables(result: CheckResult, out_dir: str | Path) -> dict[str, Path]:
    """Write checks.csv, constants.csv, assumptions.csv and summary.csv into ``out_dir`` (text
    cells made :func:`csv_safe`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("checks", "constants", "assumptions", "summary"):
        paths[name] = out_dir / f"{name}.csv"
        csv_safe(getattr(result, name)).to_csv(paths[name], index=False)
    return paths


def check(
    ds: xr.Dataset,
    path: str | Path | None = None,
    *,
    alpha: float = 0.05,
    bounds: dict[str, Bound] | None = None,
    estimated: str = "forbid",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(checks, constants)`` of one run; with ``path`` (the run's directory or its ``run.nc``)
    also write checks.csv, constants.csv, assumptions.csv and summary.csv next to the run.
    ``estimated="allow"``: conditional checks on constants estimated from the run."""
    result = check_all(ds, alpha=alpha, bounds=bounds, estimated=estimated)
    if path is not None:
        path = Path(path)
        write_tables(result, path.parent if path.suffix == ".nc" else path)
    return result.checks, result.constants
