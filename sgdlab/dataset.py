"""The logged dataset's schema, and the conversion of a run's arrays into an ``xarray.Dataset``.

Dims: ``replicate`` (r = 0..R−1), ``step`` (coordinate: the iteration number t; also ``epoch`` =
t·b/n and ``estimated``, true where σ², L and μ were estimated), ``param`` (0..d−1).
:data:`VARIABLES` lists every variable with its dims, ``long_name`` and the theorem symbol it
estimates. Attributes carry the resolved config as YAML, the overrides, the package version, the
git commit, the creation time and ``schema_version``, and the run's timings in seconds:
``wall_time_s`` (the whole loop), ``logging_time_s`` (its logged steps' full-data passes,
estimates included, and the running sums between them) and ``estimates_time_s`` (σ², L and μ
alone).
"""

from __future__ import annotations

import datetime as _dt
import subprocess
from pathlib import Path

import numpy as np
import xarray as xr
import yaml
from omegaconf import OmegaConf

from .estimators import subsample_size

SCHEMA_VERSION = "2"  # 2: certified constants, their provenance, running sums
# the run's timings in seconds, recorded by the runner and written as attributes
TIMINGS = ("wall_time_s", "logging_time_s", "estimates_time_s")

# name: (dims, long_name, symbol or None)
VARIABLES: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "x": (("replicate", "step", "param"), "iterate x_t", "x_t"),
    "loss": (("replicate", "step"), "objective on the full data f(x_t)", "f(x_t)"),
    "suboptimality": (("replicate", "step"), "suboptimality f(x_t) - f*", "f(x_t) - f*"),
    "grad_norm_sq": (("replicate", "step"), "squared full-gradient norm", "||grad f(x_t)||^2"),
    "dist_sq": (("replicate", "step"), "squared distance to the minimizer", "||x_t - x*||^2"),
    "noise_sq": (
        ("replicate", "step"),
        "squared error of the gradient estimate used at step t",
        "||g_t - grad f(x_t)||^2",
    ),
    "noise": (
        ("replicate", "step", "param"),
        "error of the gradient estimate used at step t (logged when d <= log.max_params)",
        "g_t - grad f(x_t)",
    ),
    "sigma_sq": (
        ("replicate", "step"),
        "per-sample gradient variance (1/n) sum_i ||grad f_i - grad f||^2",
        "sigma^2",
    ),
    "sigma_sq_se": (
        ("replicate", "step"),
        "standard error of sigma_sq: 0 when exact (all n samples), else the sample standard "
        "deviation of its log.estimates.sigma_samples terms over their square root",
        None,
    ),
    "second_moment": (
        ("replicate", "step"),
        "per-sample gradient second moment (1/n) sum_i ||grad f_i||^2 = sigma^2 + ||grad f||^2",
        "G^2",
    ),
    "L_local": (("replicate", "step"), "largest Hessian eigenvalue at x_t (Lanczos)", "L"),
    "mu_local": (("replicate", "step"), "smallest Hessian eigenvalue at x_t (Lanczos)", "mu"),
    "pl_ratio": (
        ("replicate", "step"),
        "Polyak-Lojasiewicz ratio ||grad f||^2 / (2 (f - f*))",
        "mu_PL",
    ),
    "grad_norm_sq_sum": (
        ("replicate", "step"),
        "unbiased estimate of sum_{s<=t} ||grad f(x_s)||^2: exact on logged steps, <g_s, h_s> "
        "of two independent minibatch gradients between them",
        "sum_s ||grad f(x_s)||^2",
    ),
    "grad_norm_sq_wsum": (
        ("replicate", "step"),
        "unbiased estimate of sum_{s<=t} eta_s ||grad f(x_s)||^2 (as grad_norm_sq_sum)",
        "sum_s eta_s ||grad f(x_s)||^2",
    ),
    "diverged": (("replicate", "step"), "replicate has diverged and is frozen", None),
    "holdout_loss": (("replicate", "step"), "loss on the held-out split", None),
    "avg_loss": (("replicate", "step"), "f at the Polyak-Ruppert average of the iterates", None),
    "lr": (("step",), "step size used at step t", "eta_t"),
    "lr_sum": (("step",), "sum of the step sizes eta_0 + ... + eta_t", "sum_s eta_s"),
    "x_final": (("replicate", "param"), "final iterate x_T", "x_T"),
    "x_avg_final": (("replicate", "param"), "final Polyak-Ruppert averaged iterate", None),
    "diverged_at": (("replicate",), "iteration at which the replicate diverged (-1: never)", None),
    "stopped_at": (("replicate",), "iteration at which early stopping froze it (-1: never)", None),
    "status": (("replicate",), "run status: done | diverged | stopped", None),
    "f_star": ((), "optimal value (NaN: unknown)", "f*"),
    "x_star": (("param",), "minimizer (NaN: unknown)", "x*"),
    "L_global": ((), "global smoothness constant (NaN: unknown)", "L"),
    "mu_global": ((), "global strong-convexity constant (NaN: unknown)", "mu"),
    "L_max": ((), "max_i L_i: every f_i is L_max-smooth (NaN: unknown)", "sup L"),
    "mu_min": ((), "min_i mu_i: every f_i is mu_min-strongly convex (NaN: unknown)", "mu_min"),
    "f_inf": ((), "a lower bound on f (NaN: unknown)", "f_inf"),
    "sigma_star_sq": (
        (),
        "gradient variance at the minimizer (1/n) sum_i ||grad f_i(x*)||^2 (NaN: x* unknown)",
        "sigma_*^2",
    ),
    "sigma_sq_bound": (
        (),
        "uniform bound: sigma^2(x) <= this for every x (NaN: none known)",
        "sup_x sigma^2(x)",
    ),
    "G_sq_bound": (
        (),
        "uniform bound: ||grad f_i(x)||^2 <= this for every i and x (NaN: none known)",
        "G^2",
    ),
    "bcn_M": ((), "BCN Assumption 4.3: sigma^2(x) <= M + M_V ||grad f(x)||^2 (b = 1)", "M"),
    "bcn_M_V": ((), "BCN Assumption 4.3: sigma^2(x) <= M + M_V ||grad f(x)||^2 (b = 1)", "M_V"),
}

# problem constants (dataset name: field of sgdlab.problems.Constants); their provenance
# (exact | bound) is the dataset attribute ``provenance`` (YAML), so that it survives a merge
PROBLEM_CONSTANTS = {
    "f_star": "f_star",
    "x_star": "x_star",
    "L_global": "L_global",
    "mu_global": "mu_global",
    "L_max": "L_max",
    "mu_min": "mu_min",
    "f_inf": "f_inf",
    "sigma_star_sq": "x_star",  # σ²(x*) is as exact as x*
    "sigma_sq_bound": "sigma_sq_bound",
    "G_sq_bound": "G_sq_bound",
    "bcn_M": "M",
    "bcn_M_V": "M_V",
}


def git_commit() -> str:
    """The commit of the source tree the package runs from, or "unknown"."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def provenance(const, values: dict) -> str:
    """YAML ``{variable: exact | bound}`` of the problem constants that are known (finite)."""
    known = {}
    for name, field_name in PROBLEM_CONSTANTS.items():
        if name in values and np.isfinite(np.asarray(values[name], dtype=float)).all():
            known[name] = const.source(field_name)
    return yaml.safe_dump(known, sort_keys=False)


def to_dataset(plan, rec: dict[str, np.ndarray], overrides: list[str] | None = None) -> xr.Dataset:
    """Build the dataset of one run from the :class:`~sgdlab.runner.Plan` and recorded arrays."""
    from . import __version__

    cfg, prob = plan.cfg, plan.problem
    const = prob.constants
    values = dict(rec)
    values["x_star"] = const.x_star if const.x_star is not None else np.full(prob.d, np.nan)
    for name, field_name in PROBLEM_CONSTANTS.items():
        if name not in values:  # (x* set above; σ*² is computed by the run)
            values[name] = np.array(getattr(const, field_name))
    data_vars = {}
    for name, (dims, long_name, symbol) in VARIABLES.items():
        if name not in values:
            continue
        attrs = {"long_name": long_name}
        if symbol:
            attrs["symbol"] = symbol
        data_vars[name] = xr.Variable(dims, np.asarray(values[name]), attrs)
    steps = plan.steps
    coords = {
        "replicate": ("replicate", np.arange(int(cfg.replicates)), {"long_name": "replicate r"}),
        "step": ("step", steps, {"long_name": "iteration number t"}),
        "epoch": ("step", steps * int(cfg.batch_size) / prob.n, {"long_name": "epochs t*b/n"}),
        "estimated": ("step", plan.estimated, {"long_name": "sigma^2, L, mu estimated here"}),
        "param": ("param", np.arange(prob.d), {"long_name": "parameter index"}),
    }
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "sgdlab_version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": OmegaConf.to_yaml(cfg, resolve=True),
        "overrides": OmegaConf.to_yaml(OmegaConf.create(list(overrides or []))),
        "problem": prob.name,
        "optimizer": str(cfg.optimizer.name),
        "schedule": str(cfg.schedule.name),
        "sampler": str(cfg.sampler.name),
        "n": prob.n,
        "d": prob.d,
        "replicates": int(cfg.replicates),
        "steps": int(cfg.steps),
        "batch_size": int(cfg.batch_size),
        "sigma_sq_samples": subsample_size(int(cfg.log.estimates.sigma_samples), prob.n),
        "hessian_samples": subsample_size(int(cfg.log.estimates.hessian_samples), prob.n),
        **{name: float(rec[name]) for name in TIMINGS},
        "hessian_products": int(rec.get("hessian_products", 0)),
        "n_diverged": int((rec["diverged_at"] >= 0).sum()),
        "provenance": provenance(const, values),
    }
    for key, value in prob.attrs.items():
        attrs[key] = value
    for name in TIMINGS:
        data_vars.pop(name, None)
    return xr.Dataset(data_vars, coords, attrs)
