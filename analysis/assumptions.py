"""Which theorem applies to a run: each theorem's assumptions checked on the run's constants.

:func:`assess` reads one run's dataset and returns, for every theorem of
:data:`analysis.bounds.BOUNDS`,

- the constants its bound needs (from :mod:`analysis.constants`, with their provenance: a
  theorem applies only when the uniform bounds it assumes are certified, i.e. exact or a valid
  bound, unless the caller allows estimated constants, and then its checks are conditional);
- each assumption as ``holds`` / ``violated`` / ``unknown`` with a ``margin`` (for step-size
  caps ``1 − η_max/cap``: positive means room to spare) and a ``detail`` string;
- whether the theorem applies (every required assumption holds) and, if not, why.

The run-level rows (theorem ``run``) hold the unbiasedness check of the stochastic gradient.

Divergence (:func:`divergence`) never makes a theorem ``violated`` by itself: a theorem that
rests on estimated constants cannot apply to a run whose replicates ran away (no uniform bound
read off the run holds there), so it is ``not_applicable``; a conditional identity (the FPC)
uses each replicate's steps before its divergence; a theorem whose assumptions are certified
and whose step conditions hold is still checked, and a diverged replicate counts as +∞ there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import stats
from .bounds import BOUNDS, fpc_minibatch
from .constants import (
    ESTIMATED,
    EXACT,
    Run,
    Value,
    finite,
    hessian_subsampled,
    read_run,
    run_constants,
    scalar,
    starts_at_zero,
    x0_missing,
)
from .quantities import coverage, defined_steps

__all__ = [
    "Assessment",
    "Plan",
    "assess",
    "divergence",
    "fpc_steps",
    "residual_mean_test",
    "residual_norm_test",
    "unbiased_steps",
    "unbiasedness",
]

ROUNDOFF = 1e-9  # relative slack for conditions met exactly (η = 1/L with L from eigvalsh)


@dataclass
class Plan:
    """How to check one theorem on a run (``applicable`` False: ``reason`` says why)."""

    theorem: str
    applicable: bool
    reason: str
    kwargs: dict = field(default_factory=dict)  # constants passed to the bound
    lr: Any = None
    steps_ok: np.ndarray | None = None  # (S,) bool: steps the theorem speaks about
    paired: bool = False  # bound differs per replicate (kwargs arrays of shape (R, S))
    scale: np.ndarray | None = None  # (R, S): size of Q's terms, for the round-off floor
    coverage: str = ""  # why only part of the run can be checked ("" if not limited)
    conditional: tuple[str, ...] = ()  # estimated constants the check rests on
    provenance: str = ""  # e.g. "certified (exact, bound)" or "conditional on estimated L"
    cut_at_divergence: bool = False  # a conditional identity: drop replicates once diverged


@dataclass
class Assessment:
    """Everything :func:`assess` found: constants and assumptions (tidy), and a plan per id."""

    run: Run
    constants: pd.DataFrame  # theorem, constant, value, source, note, provenance
    assumptions: pd.DataFrame  # theorem, assumption, status, margin, required, detail
    plans: dict[str, Plan]
    divergence: str = ""  # what diverged and why ("" if nothing did)


# --------------------------------------------------------------------------- assumption rows


def _row(status: str, margin: float = float("nan"), detail: str = "", required: bool = True):
    return {"status": status, "margin": margin, "required": required, "detail": detail}


def _is(cond: bool, yes: str, no: str, margin: float = float("nan")) -> dict:
    return _row("holds", margin, yes) if cond else _row("violated", margin, no)


def _sgd(run: Run) -> dict:
    return _is(
        run.optimizer == "sgd",
        "optimizer=sgd: x_{t+1} = x_t − η_t g_t",
        f"optimizer={run.optimizer}: the theorem is about plain SGD x_{{t+1}} = x_t − η_t g_t",
    )


def _iid(run: Run) -> dict:
    return _is(
        run.sampler == "with_replacement",
        "sampler=with_replacement: i.i.d. minibatches, E[g_t | x_t] = ∇f(x_t)",
        f"sampler={run.sampler}: not i.i.d., g_t is not conditionally unbiased (use §6(b))",
    )


def _constant_lr(run: Run) -> dict:
    return _is(
        bool(np.all(run.lr == run.lr[0])),
        f"constant step η = {run.lr[0]:.6g} (schedule={run.schedule})",
        f"schedule={run.schedule}: the step varies; this check needs a constant step",
    )


def _strongly_convex(C: dict) -> dict:
    if "mu" not in C:
        return _row("unknown", detail="strong convexity μ unknown")
    mu = C["mu"]
    no = (
        f"μ ≥ {mu.value:.6g} is all that is certified (a lower bound): strong convexity is "
        "not established"
        if mu.provenance == "bound"
        else f"μ = {mu.value:.6g} ≤ 0 ({mu.provenance}): f is not strongly convex"
    )
    return _is(mu.value > 0, f"μ = {mu.value:.6g} > 0 ({mu.provenance})", no, float(mu.value))


def _convex(run: Run, C: dict) -> dict:
    mu_glob = scalar(run.ds, "mu_global")
    if np.isfinite(mu_glob):
        return _is(
            mu_glob >= 0, f"μ = {mu_glob:.6g} ≥ 0 (known)", f"μ = {mu_glob:.6g} < 0", mu_glob
        )
    loc = finite(run.ds["mu_local"].values)
    if loc.size and loc.min() < 0:
        if hessian_subsampled(run.ds):
            return _row(
                "unknown",
                detail=f"a subset's Hessian has eigenvalue {loc.min():.3g} < 0; f's own may not",
            )
        return _row(
            "violated", float(loc.min()), f"Hessian eigenvalue {loc.min():.3g} < 0 at an iterate"
        )
    return _row("unknown", detail="convexity is not known for this problem")


# the assumption a constant stands for, named in the reason when it is not available
ASSUMES = {
    "L": "L-smoothness of f",
    "mu": "strong convexity of f",
    "sigma_sq": "bounded variance E‖g_t − ∇f(x_t)‖² ≤ σ² at every x",
    "G_sq": "bounded second moment E‖g_t‖² ≤ G² at every x",
    "M": "BCN Assumption 4.3, V[g_t] ≤ M + M_V‖∇f(x_t)‖² at every x",
    "M_V": "BCN Assumption 4.3, V[g_t] ≤ M + M_V‖∇f(x_t)‖² at every x",
}


def _have(C: dict, missing: dict, *names: str) -> dict:
    lost: dict[str, list[str]] = {}
    for n in names:
        if n not in C:
            what = f"{n} ({ASSUMES[n]})" if n in ASSUMES else n
            lost.setdefault(missing.get(n, "not available"), []).append(what)
    if lost:
        return _row("unknown", detail="; ".join(f"{', '.join(v)}: {k}" for k, v in lost.items()))
    return _row("holds", detail=", ".join(f"{n} ({C[n].provenance})" for n in names))


def _measurable(run: Run, quantity: str) -> dict:
    ok = defined_steps(run.ds, quantity)
    if ok.any():
        return _row("holds", detail=f"{quantity} defined at {int(ok.sum())} logged steps")
    why = {
        "suboptimality": "f* unknown",
        "dist_sq": "x* unknown",
        "avg_iterate_suboptimality": "needs averaging.kind=full and f* known",
    }.get(quantity, "needs ‖∇f‖² at every step from t = 0 (log.every=1, log.geometric=false)")
    return _row("unknown", detail=f"{quantity} not measurable: {why}")


def _met(check) -> bool:
    """A step condition holds, or a cap is met exactly up to round-off in L or μ."""
    return check.ok or check.margin >= -ROUNDOFF


def _step_rows(theorem: str, lr, kw: dict, optional: tuple[str, ...] = ()) -> dict[str, dict]:
    """The bound's own step conditions with their margins (``BOUNDS[id].step_checks``)."""
    texts = dict(c.split(": ", 1) for c in BOUNDS[theorem].conditions)
    rows = {}
    for key, check in BOUNDS[theorem].step_checks(lr, **kw).items():
        text = texts.get(key, key)
        if not check.ok and _met(check):
            text = f"{text} (met up to round-off, margin {check.margin:.1e})"
        rows[key] = _row(
            "holds" if _met(check) else "violated",
            check.margin,
            text if _met(check) else f"fails: {text}",
            required=key not in optional,
        )
    return rows


# --------------------------------------------------------------------------- theorems


def _failed(rows: dict[str, dict]) -> list[str]:
    """The required assumptions that do not hold, violated ones first, as ``key: detail``."""
    bad = [(r["status"] != "violated", k, r) for k, r in rows.items() if r["required"]]
    return [
        f"{k}: {r['detail']}"
        for _, k, r in sorted(bad, key=lambda x: x[0])
        if r["status"] != "holds"
    ]


def _values(C: dict, names: tuple[str, ...]) -> dict:
    return {n: C[n].value for n in names if n in C}


def _plan(run, C, missing, theorem, rows, names, lr, **extra) -> tuple[Plan, dict, dict]:
    """Add the constants' availability, then the step conditions if they can be evaluated."""
    rows = {"constants": _have(C, missing, *names), **rows}
    kw = _values(C, names) | extra.pop("kw", {})
    if rows["constants"]["status"] == "holds":
        rows |= _step_rows(theorem, lr, kw, extra.pop("optional", ()))
    used = {n: C[n] for n in names if n in C} | extra.pop("used", {})
    if "delta_star" in kw:  # F_inf = F*: the theorem's Δ is f(x_0) − f*
        kw["delta"] = kw.pop("delta_star")
        used["delta"] = used.pop("delta_star")
    bad = _failed(rows)
    plan = Plan(theorem, not bad, "; ".join(bad) or "every required assumption holds", kw, lr)
    for key, value in extra.items():
        setattr(plan, key, value)
    return plan, rows, used


def _common(run: Run, C: dict, quantity: str, *, iid=True, sc=False, const=True) -> dict:
    rows = {"sgd_update": _sgd(run)}
    if iid:
        rows["unbiased_iid"] = _iid(run)
    if sc:
        rows["strongly_convex"] = _strongly_convex(C)
    if const:
        rows["constant_step"] = _constant_lr(run)
    rows["measured"] = _measurable(run, quantity)
    return rows


def _sra(run, C, missing):
    small = "L" in C and _met(
        BOUNDS["sra_nonconvex"].step_checks(run.lr, L=C["L"].value, variance_form=True)[
            "lr_le_inv_L"
        ]
    )
    # S2 (bounded variance, η ≤ 1/L) when σ² is available and the step is small enough, else
    # S1 (bounded second moment G²); a certified G² wins over an estimated σ²
    variance = (
        small
        and "sigma_sq" in C
        and (C["sigma_sq"].certified or "G_sq" not in C or not C["G_sq"].certified)
    )
    names = ("L", "delta", "sigma_sq" if variance else "G_sq")
    if not variance and "G_sq" not in C and "sigma_sq" in C and "L" in C:
        missing = dict(missing)
        missing["G_sq"] = (
            f"{missing.get('G_sq', 'not available')} (the variance form S2 with σ² needs "
            f"η ≤ 1/L = {1 / C['L'].value:.6g})"
        )
    used = {"variance_form": Value(variance, EXACT, "config", "S2 if η ≤ 1/L, else S1")}
    rows = _common(run, C, "avg_grad_norm_sq")
    return _plan(
        run,
        C,
        missing,
        "sra_nonconvex",
        rows,
        names,
        run.lr[0],
        kw={"variance_form": variance},
        used=used,
    )


def _bcn_fixed(theorem: str, sc: bool):
    def build(run, C, missing):
        quantity = "suboptimality" if sc else "avg_grad_norm_sq"
        rows = _common(run, C, quantity, sc=sc)
        names = ("L", "M", "M_V", "mu_bcn") + (("mu", "delta_star") if sc else ("delta",))
        return _plan(run, C, missing, theorem, rows, names, run.lr[0])

    return build


def _bcn_4_7(run, C, missing):
    rows = _common(run, C, "suboptimality", sc=True, const=False)
    gamma_s = float(run.cfg["schedule"].get("gamma", np.nan))
    ok = run.schedule == "inverse_time" and gamma_s > 1
    rows["schedule"] = _is(
        ok,
        f"η_t = η₀γ/(γ+t) = β/(γ_BCN + t + 1) with γ_BCN = γ − 1 = {gamma_s - 1:.6g} > 0",
        f"schedule={run.schedule} (gamma={gamma_s}): needs inverse_time with gamma > 1",
    )
    names = ("L", "M", "M_V", "mu_bcn", "mu", "delta_star")
    if not ok:  # β and γ do not exist, so neither do the step conditions
        return Plan("bcn_4_7", False, "; ".join(_failed(rows))), rows, {}
    beta = float(run.lr[0]) * gamma_s
    used = {
        "beta": Value(beta, EXACT, "config", "β = η₀·gamma"),
        "gamma": Value(gamma_s - 1, EXACT, "config", "γ_BCN = gamma − 1"),
    }
    kw = {"beta": beta, "gamma": gamma_s - 1}
    return _plan(run, C, missing, "bcn_4_7", rows, names, run.lr, kw=kw, used=used)


def _bcn_4_10(run, C, missing):
    rows = _common(run, C, "weighted_avg_grad_norm_sq", const=False)
    return _plan(
        run,
        C,
        missing,
        "bcn_4_10",
        rows,
        ("L", "M", "M_V", "mu_bcn", "delta"),
        run.lr,
        kw={"lr_power": _lr_power(run)},
        optional=("robbins_monro",),
    )


def _lr_power(run: Run) -> float | None:
    """p of η_t ∝ (γ + t)^−p for the schedules of that form (None: not of that form)."""
    return {"inverse_time": 1.0, "inverse_sqrt": 0.5}.get(run.schedule)


def _sc(run, C, missing):
    rows = _common(run, C, "dist_sq", sc=True)
    return _plan(
        run, C, missing, "sc_constant_step", rows, ("mu", "sigma_sq", "dist0_sq", "L"), run.lr[0]
    )


def _nsw(run, C, missing):
    rows = _common(run, C, "dist_sq", sc=True)
    plan, rows, used = _plan(
        run, C, missing, "nsw_2_1", rows, ("mu", "sup_L", "sigma_star_sq", "dist0_sq"), run.lr[0]
    )
    if "sigma_star_sq" in plan.kwargs:  # a minibatch of b i.i.d. samples: E‖∇f_B(x*)‖² = σ*²/b
        plan.kwargs["sigma_star_sq"] /= run.b
        v = used["sigma_star_sq"]
        note = f"{v.note}, ÷ b = {run.b} (minibatch mean at x*)"
        used["sigma_star_sq"] = Value(plan.kwargs["sigma_star_sq"], v.provenance, v.source, note)
    return plan, rows, used


def _rakhlin(run, C, missing):
    rows = _common(run, C, "dist_sq", sc=True, const=False)
    gamma_s = float(run.cfg["schedule"].get("gamma", np.nan))
    lam = 1 / float(run.lr[0])
    form = run.schedule == "inverse_time" and gamma_s == 1
    rows["schedule"] = _is(
        form,
        f"η_t = η₀/(t+1) = 1/(λ(t+1)) with λ = 1/η₀ = {lam:.6g}",
        f"schedule={run.schedule} (gamma={gamma_s}): needs inverse_time with gamma = 1",
    )
    if form and "mu" in C:
        rows["lambda_le_mu"] = _is(
            lam <= C["mu"].value * (1 + ROUNDOFF),
            f"f is λ-strongly convex: λ = {lam:.6g} ≤ μ = {C['mu'].value:.6g}",
            f"λ = 1/η₀ = {lam:.6g} > μ = {C['mu'].value:.6g}: f is not λ-strongly convex",
            margin=1 - lam / C["mu"].value,
        )
    used = {"mu": Value(lam, EXACT, "config", "λ = 1/η₀ (schedule η_t = 1/(λ(t+1)))")}
    plan, rows, used = _plan(
        run, C, missing, "rakhlin_1t", rows, ("G_sq",), run.lr, kw={"mu": lam}, used=used
    )
    return plan, rows, used


def _averaging(run, C, missing):
    rows = _common(run, C, "avg_iterate_suboptimality", iid=True, const=False)
    kind = str(run.cfg.get("averaging", {}).get("kind", "none"))
    rows["full_average"] = _is(
        kind == "full",
        "averaging.kind=full: avg_loss is f at the average of x_0..x_t",
        f"averaging.kind={kind}: avg_loss is not f at the average of all iterates x_0..x_t "
        "(the theorem's x̄_t); needs averaging.kind=full",
    )
    rows["uniform_weights"] = _is(
        bool(np.all(run.lr == run.lr[0])),
        f"constant step η = {run.lr[0]:.6g}: the logged uniform average is the step-weighted "
        "x̄_t of the theorem",
        f"schedule={run.schedule}: the step varies, so the logged uniform average is not the "
        "step-weighted x̄_t = Σ η_s x_s / Σ η_s of the theorem",
    )
    rows["convex"] = _convex(run, C)
    return _plan(run, C, missing, "convex_averaging", rows, ("G_sq", "dist0_sq"), run.lr)


def _rr(run, C, missing):
    rows = {"sgd_update": _sgd(run)}
    rows["reshuffling"] = _is(
        run.sampler in ("reshuffle", "shuffle_once") and run.b == 1,
        f"sampler={run.sampler}, b = 1: n steps per epoch, one f_π(i) each",
        f"sampler={run.sampler}, b = {run.b}: needs reshuffle or shuffle_once with batch_size=1",
    )
    rows["strongly_convex_each"] = (
        _is(
            C["mu_min"].value > 0,
            f"every f_i is μ-strongly convex, μ = min_i μ_i = {C['mu_min'].value:.6g}",
            "some f_i is not strongly convex",
            C["mu_min"].value,
        )
        if "mu_min" in C
        else _row("unknown", detail="min_i μ_i (strong convexity of every f_i) is not known")
    )
    rows["constant_step"] = _constant_lr(run)
    rows["measured"] = _measurable(run, "dist_sq")
    steps = np.asarray(run.ds["step"].values)
    plan, rows, used = _plan(
        run,
        C,
        missing,
        "rr_mkr",
        rows,
        ("n", "mu_min", "dist0_sq", "sup_L", "sigma_star_sq"),
        run.lr[0],
        steps_ok=steps % run.n == 0,
    )
    return plan, rows, used


def unbiased_steps(run: Run) -> np.ndarray:
    """Logged steps where the minibatch is a fresh uniform draw given x_t, so that
    ``E[g_t | x_t] = ∇f(x_t)``: every step with replacement, an epoch start under reshuffle,
    t = 0 under shuffle_once, none under cyclic (theory §8: within an RR epoch a step is only
    marginally uniform)."""
    steps = np.asarray(run.ds["step"].values)
    if run.sampler == "with_replacement":
        return np.ones(steps.shape, dtype=bool)
    if run.sampler == "reshuffle" and run.b <= run.n:  # a fresh permutation at an epoch start
        return steps * run.b % run.n == 0
    if run.sampler == "shuffle_once":
        return steps == 0
    return np.zeros(steps.shape, dtype=bool)


def fpc_steps(run: Run) -> np.ndarray:
    """Logged steps where ``E[noise_sq | x_t]`` is exactly the FPC formula for the sampler: the
    :func:`unbiased_steps` where σ² was estimated."""
    return unbiased_steps(run) & np.asarray(run.ds["estimated"].values, dtype=bool)


def _fpc(run, C, missing):
    replace = run.sampler == "with_replacement"
    rows = {
        "minibatch_gradient": _is(
            run.optimizer != "svrg",
            f"optimizer={run.optimizer}: g_t is the plain minibatch gradient",
            "optimizer=svrg: g_t is a control-variate estimate, not a minibatch mean",
        ),
        "random_sampler": _is(
            run.sampler != "cyclic",
            f"sampler={run.sampler}: {'with' if replace else 'without'} replacement",
            "sampler=cyclic: the minibatch is deterministic",
        ),
    }
    ok = fpc_steps(run) & defined_steps(run.ds, "noise_sq")  # by design, not by outcome
    rows["measured"] = (
        _row("holds", detail=f"noise_sq and σ² at {int(ok.sum())} steps where the batch is fresh")
        if ok.any()
        else _row("unknown", detail="no logged step with σ² estimated and a fresh minibatch")
    )
    sig = np.asarray(run.ds["sigma_sq"].values, dtype=float)
    samples = int(run.ds.attrs.get("sigma_sq_samples", run.n))
    # σ²(x_t) enters the identity linearly and is measured at the same x_t, so an unbiased
    # estimate from m < n samples keeps the identity's expectation: it needs no opt-in
    how = (
        "exact: all n per-sample gradients at x_t"
        if samples >= run.n
        else f"unbiased estimate from {samples} per-sample gradients at x_t (keeps the identity)"
    )
    used = {
        "sigma_sq": Value("σ²(x_t) per replicate", EXACT, "run", f"the logged sigma_sq; {how}"),
        "n": C["n"],
        "b": C["b"],
        "replace": Value(replace, EXACT, "config", f"sampler={run.sampler}"),
    }
    kw = {"sigma_sq": sig, "n": run.n, "b": run.b, "replace": replace}
    return _plan(
        run,
        C,
        missing,
        "fpc_minibatch",
        rows,
        (),
        None,
        kw=kw,
        used=used,
        steps_ok=ok,
        paired=True,
        scale=sig,  # noise_sq = 0 exactly at b = n: round-off is judged against σ²
        cut_at_divergence=True,  # E[noise_sq | x_t] = c_b σ²(x_t): conditional on x_t
    )


def _region(run, C, missing):
    rows = {"sgd_update": _sgd(run), "unbiased_iid": _iid(run)}
    rows["problem"] = _is(
        run.problem == "lsq1d",
        "problem=lsq1d",
        f"problem={run.problem}: the formula is for 1-D least squares",
    )
    rows["measured"] = _measurable(run, "dist_sq")
    logged = "x" in run.ds and starts_at_zero(run.ds)
    x0 = run.ds["x"].isel(step=0, param=0).values if logged else np.array([np.nan])
    same = bool(np.all(x0 == x0[0]) and np.isfinite(x0[0]))
    if logged:
        rows["deterministic_x0"] = _is(
            same, "every replicate starts at the same x_0", "x_0 differs between replicates"
        )
    else:
        why = x0_missing(run.ds) if "x" in run.ds else "the iterate x is not logged"
        rows["deterministic_x0"] = _row("unknown", detail=why)
    kw = {"b": run.b, "x0": float(x0[0]) if same else None}
    used = {"x0": Value(kw["x0"], EXACT, "run", "x at t = 0"), "b": C["b"]}
    return _plan(
        run,
        C,
        missing,
        "region_of_confusion",
        rows,
        ("a_vec", "b_vec"),
        run.lr,
        kw=kw,
        used=used,
        optional=("lr_constant", "lr_stationary"),
    )


BUILDERS = {
    "sra_nonconvex": _sra,
    "bcn_4_6": _bcn_fixed("bcn_4_6", sc=True),
    "bcn_4_7": _bcn_4_7,
    "bcn_4_8": _bcn_fixed("bcn_4_8", sc=False),
    "bcn_4_10": _bcn_4_10,
    "sc_constant_step": _sc,
    "nsw_2_1": _nsw,
    "rakhlin_1t": _rakhlin,
    "convex_averaging": _averaging,
    "rr_mkr": _rr,
    "fpc_minibatch": _fpc,
    "region_of_confusion": _region,
}


# --------------------------------------------------------------------------- run-level rows


def unbiasedness(run: Run, alpha: float = 0.05) -> dict:
    """Unbiasedness of g_t (theory §8), by two tests with Bonferroni t intervals:

    - the mean of the residuals ``e_t = g_t − ∇f(x_t)`` (logged as ``noise`` when d ≤
      ``log.max_params``) against zero, coordinate by coordinate, on each replicate's time
      average over the :func:`unbiased_steps` before its own divergence
      (:func:`residual_mean_test`);
    - their squared norm against the FPC value ``c_b σ²`` (:func:`residual_norm_test`), which
      also sees a bias in a coordinate of x that is not logged.

    Each test runs at level α/2, so that the pair rejects a true unbiasedness with probability
    at most α. ``violated`` if either test rejects, ``holds`` if one holds and neither rejects,
    else ``unknown``; ``margin`` and ``detail`` are those of the tests, mean test first."""
    rows = [residual_mean_test(run, alpha / 2), residual_norm_test(run, alpha / 2)]
    statuses = [r["status"] for r in rows]
    status = next((s for s in ("violated", "holds") if s in statuses), "unknown")
    margin = next((r["margin"] for r in rows if np.isfinite(r["margin"])), float("nan"))
    return _row(status, margin, "; ".join(r["detail"] for r in rows), required=False)


def residual_mean_test(run: Run, alpha: float = 0.05) -> dict:
    """The mean of ``e_t = g_t − ∇f(x_t)`` against 0 (theory §8's averaged draws ḡ_K), per
    coordinate k: each replicate's residuals summed over the N :func:`unbiased_steps` up to its
    own divergence and divided by N, ``ē_{r,k} = (1/N) Σ_{t < τ_r} e_{t,k}``, have mean 0 when g
    is unbiased (the e_t are martingale differences and a replicate's divergence τ_r is decided
    from x_t before e_t is drawn, so the cut is a stopping time; the fixed divisor N keeps the
    average unbiased), and the R replicates' ē_r are independent; a two-sided t interval of
    their mean, Bonferroni-corrected over the d coordinates, must contain 0.

    Averaging over steps before testing keeps the t interval honest: a single step's residuals
    are often skewed (a few samples with large gradients), and the t interval of a skewed mean
    undercovers badly in the far tails that a correction over every (step, coordinate) pair
    would use. ``violated`` iff an interval excludes 0 by more than the round-off floor of the
    size of the gradients on those steps; ``margin`` is the largest |mean| / max(half-width,
    floor) (above 1 where an interval excludes 0 beyond round-off)."""
    name = "mean of g_t − ∇f(x_t) = 0"
    if "noise" not in run.ds:
        return _row("unknown", required=False, detail=f"{name}: not logged (d > log.max_params)")
    unbiased = unbiased_steps(run)
    if run.R < 2 or not unbiased.any():
        return _row(
            "unknown",
            required=False,
            detail=f"{name}: needs R ≥ 2 and a random sampler (a fresh minibatch given x_t)",
        )
    logged = np.asarray(run.ds["noise"].values, dtype=float)  # (R, S, d)
    diverged = np.asarray(run.ds["diverged"].values, dtype=bool)
    keep = ~diverged & np.isfinite(logged).all(axis=2)  # (R, S)
    # steps where every replicate that has not diverged logged its residuals (not so e.g. for a
    # job of a sweep whose d > log.max_params)
    use = unbiased & (keep | diverged).all(axis=0) & keep.any(axis=0)
    if not use.any():
        return _row(
            "unknown",
            required=False,
            detail=f"{name}: no unbiased step where the replicates' residuals are logged",
        )
    mask = keep & use  # (R, S): each replicate's steps before its divergence
    means = np.where(mask[:, :, None], logged, 0.0).sum(axis=1) / int(use.sum())  # (R, d)
    sizes = np.concatenate(
        [np.asarray(run.ds[v].values)[mask].ravel() for v in ("second_moment", "grad_norm_sq")]
    )
    sizes = sizes[np.isfinite(sizes)]
    # round-off in e_t is relative to the size of the gradients summed into g_t
    floor = stats.roundoff_floor(float(np.sqrt(sizes.max()))) if sizes.size else 0.0
    d = means.shape[1]
    worst, bad = 0.0, []
    for k in range(d):
        iv = stats.mean_interval(means[:, k], alpha=alpha, n_tests=d, two_sided=True)
        half = 0.5 * (iv.high - iv.low)
        if np.isfinite(half):
            worst = max(worst, abs(iv.mean) / max(half, floor, 1e-300))
        if iv.low > floor or iv.high < -floor:
            bad.append(f"coordinate {k}: mean {iv.mean:.3g}, CI [{iv.low:.3g}, {iv.high:.3g}]")
    cut = int((~mask[:, use]).sum())
    steps = f"{int(use.sum())} step(s) and {means.shape[0]} replicates"
    if cut:
        steps += f" ({cut} replicate-step(s) after a divergence left out)"
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        return _row("violated", worst, f"{name} rejected over {steps}: {shown}", required=False)
    return _row(
        "holds",
        worst,
        f"{name} not rejected over {steps} (two-sided {100 * (1 - alpha):.4g}% Bonferroni t "
        f"intervals of the {d} coordinates all contain 0)",
        required=False,
    )


def residual_norm_test(run: Run, alpha: float = 0.05) -> dict:
    """Unbiasedness of g_t from the logged squared residuals (theory §8, the Z test with K = 1).

    ``E[‖g_t − ∇f(x_t)‖² | x_t] = tr Cov_b(x_t) + ‖E g_t − ∇f(x_t)‖²``, and ``tr Cov_b`` is the
    FPC value ``c_b σ²(x_t)``; so the residuals ``e_r = noise_sq_r − c_b σ²_r`` have mean 0 when
    g is unbiased and mean ``‖bias‖² > 0`` when it is not. The identity is conditional on x_t,
    so each step uses the replicates that have not diverged by then. One-sided: ``violated``
    iff some step's Bonferroni t lower confidence bound of the mean residual is above the
    round-off floor :func:`analysis.stats.roundoff_floor` of σ² (a full batch b = n has
    ``c_b = 0`` and residuals of ~1e-33). ``margin`` is the largest mean residual relative to
    ``c_b σ²`` (or to that floor if larger).
    """
    diverged = np.asarray(run.ds["diverged"].values, dtype=bool)
    noise_all = np.asarray(run.ds["noise_sq"].values)
    keep = ~diverged & np.isfinite(noise_all)
    ok = fpc_steps(run) & (keep.sum(axis=0) >= 2)
    if run.optimizer == "svrg" or run.sampler == "cyclic" or not ok.any() or run.R < 2:
        return _row(
            "unknown",
            required=False,
            detail="E‖g_t − ∇f‖² = c_b σ²: needs R ≥ 2, a random sampler, plain minibatch g, "
            "and σ² logged at a step with a fresh minibatch",
        )
    steps = np.asarray(run.ds["step"].values)[ok]
    noise = noise_all[:, ok]
    sig = np.asarray(run.ds["sigma_sq"].values)[:, ok]
    pred = fpc_minibatch(
        np.broadcast_to(steps, sig.shape),
        sigma_sq=sig,
        n=run.n,
        b=run.b,
        replace=run.sampler == "with_replacement",
    )
    worst, bad = -np.inf, []
    for j, t in enumerate(steps):
        rows = keep[:, ok][:, j]
        iv = stats.mean_interval(noise[rows, j] - pred[rows, j], alpha=alpha, n_tests=steps.size)
        floor = stats.roundoff_floor(float(sig[rows, j].mean()))
        worst = max(worst, iv.mean / max(float(pred[rows, j].mean()), floor, 1e-300))
        if iv.low > floor:
            bad.append(f"t={t}: mean residual {iv.mean:.3g}, LCB {iv.low:.3g} > 0")
    if bad:
        return _row("violated", worst, "E‖g_t − ∇f‖² > c_b σ²: " + "; ".join(bad), required=False)
    text = (
        f"E‖g_t − ∇f‖² ≤ c_b σ²(x_t) not rejected at {steps.size} step(s), each on the "
        f"replicates that have not diverged by then (one-sided {100 * (1 - alpha):.4g}% "
        "Bonferroni t bounds of the residual ≤ 0)"
    )
    return _row("holds", worst, text, required=False)


# --------------------------------------------------------------------------- entry point


def divergence(run: Run, C: dict | None = None) -> str:
    """What diverged and why, in one sentence ("" if no replicate diverged): how many
    replicates, by which step, and the step size against the largest stable steps that are
    known (2/L for full-batch gradient descent on an L-smooth f; 2/L_max for single samples)."""
    at = np.asarray(run.ds["diverged_at"].values) if "diverged_at" in run.ds else np.array([])
    gone = at[at >= 0]
    if gone.size == 0:
        return ""
    eta = float(np.max(run.lr))
    text = (
        f"{gone.size}/{run.R} replicates diverged by step {int(gone.max())} (first at step "
        f"{int(gone.min())}): the step η = {eta:.4g} is too large for this problem"
    )
    C = C or {}
    stable = []
    if "L" in C:
        stable.append(f"2/L = {2 / C['L'].value:.4g} (full-batch gradient descent)")
    if "sup_L" in C:
        stable.append(f"2/L_max = {2 / C['sup_L'].value:.4g} (single samples, b = 1)")
    if stable:
        text += "; largest stable steps: " + ", ".join(stable)
    return text


def _provenance(used: dict[str, Value]) -> tuple[tuple[str, ...], str]:
    """The estimated constants a check rests on, and a one-phrase provenance of its constants."""
    est = tuple(n for n, v in used.items() if v.provenance == ESTIMATED)
    if est:
        return est, "conditional on estimated " + ", ".join(est)
    kinds = sorted({v.provenance for v in used.values() if v.provenance != ESTIMATED})
    return (), "certified (" + ", ".join(kinds or [EXACT]) + ")"


def assess(ds: xr.Dataset, *, alpha: float = 0.05, estimated: bool = False) -> Assessment:
    """Constants, assumption checks and a check plan for every theorem on one run.

    ``estimated``: let theorems whose uniform bounds are not certified use the run's estimates
    (their checks are then conditional on those estimates and say so)."""
    run = read_run(ds)
    C, missing = run_constants(run, estimated=estimated)
    diverged = divergence(run, C)
    const_rows, assume_rows, plans = [], [], {}
    assume_rows.append(
        {"theorem": "run", "assumption": "unbiased_gradient", **unbiasedness(run, alpha)}
    )
    for theorem, build in BUILDERS.items():
        plan, rows, used = build(run, C, missing)
        if plan.steps_ok is None:
            plan.steps_ok = np.ones(ds.sizes["step"], dtype=bool)
        plan.coverage = coverage(ds, BOUNDS[theorem].quantity)
        plan.conditional, plan.provenance = _provenance(used)
        if plan.applicable and plan.conditional and diverged:
            # an estimate read off the run is no uniform bound where the iterates ran away
            rows["no_divergence"] = _row(
                "violated",
                detail=f"{diverged}; the estimated {', '.join(plan.conditional)} cannot bound "
                "this run (a uniform bound fails where the iterates run away)",
            )
            plan.applicable, plan.reason = False, "; ".join(_failed(rows))
        plans[theorem] = plan
        for key, row in rows.items():
            assume_rows.append({"theorem": theorem, "assumption": key, **row})
        for name, v in used.items():
            shown = v.value.tolist() if isinstance(v.value, np.ndarray) else v.value
            const_rows.append(
                {
                    "theorem": theorem,
                    "constant": name,
                    "value": shown,
                    "provenance": v.provenance,
                    "source": v.source,
                    "note": v.note,
                }
            )
        if BOUNDS[theorem].takes_lr:
            lr = run.lr
            shown = (
                float(lr[0]) if np.all(lr == lr[0]) else f"schedule {run.schedule}, η₀={lr[0]:.6g}"
            )
            const_rows.append(
                {
                    "theorem": theorem,
                    "constant": "lr",
                    "value": shown,
                    "provenance": EXACT,
                    "source": "config",
                    "note": f"schedule={run.schedule}",
                }
            )
    constants = pd.DataFrame(
        const_rows, columns=["theorem", "constant", "value", "source", "note", "provenance"]
    )
    assumptions = pd.DataFrame(
        assume_rows, columns=["theorem", "assumption", "status", "margin", "required", "detail"]
    )
    return Assessment(run, constants, assumptions, plans, diverged)
