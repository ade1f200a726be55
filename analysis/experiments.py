"""The figure of each lecture experiment (``conf/experiment/*.yaml``), recognised from what a run
or a sweep holds, not from its name, so that the same figure appears for any run set up alike:

- ``sampling_mean`` (a ``sampler`` sweep of the running mean: problem ``mean``, b = 1, step
  1/(t+1)): E(x_k − x̄)² against k with σ²/k and σ²(N − k)/(k(N − 1)) (theory §6(a));
- ``reshuffling`` (a ``sampler`` sweep logged at epoch ends, x* known): E‖x − x*‖² at the end of
  each epoch against epochs, log–log, with a least-squares slope per sampler (theory §6(b));
- ``early_stopping`` (a run with a held-out split): training and held-out loss with the stops;
- ``sra_theorem`` (a ``steps`` sweep with the Sra / Ghadimi–Lan check): the average E‖∇f‖² at
  t = T against T with its bound;
- ``step_sizes`` (an ``optimizer.lr`` sweep): in :func:`analysis.figures.sweep_figures`.

:func:`experiment_figures` draws those that apply and writes them as PNG files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from . import lecture_plots, plots
from .collect import cells

__all__ = [
    "early_stopping_frame",
    "epoch_ends",
    "experiment_figures",
    "fit_slope",
    "is_running_mean",
    "is_sra_sweep",
    "sampling_mean_frame",
    "sra_frame",
]


def job_config(ds: xr.Dataset) -> dict:
    """The resolved config of a run, or of a sweep's first job (a plain dict)."""
    if "config" in ds.attrs:
        return yaml.safe_load(ds.attrs["config"]) or {}
    for _, job in cells(ds):
        return yaml.safe_load(job.attrs.get("config", "")) or {}
    return {}


def is_running_mean(ds: xr.Dataset) -> bool:
    """Whether x_k is the running mean of the first k draws: problem ``mean``, b = 1 and
    η_t = 1/(t+1) (``inverse_time`` with η₀ = γ = 1)."""
    cfg = job_config(ds)
    sched, opt = cfg.get("schedule", {}), cfg.get("optimizer", {})
    return (
        ds.attrs.get("problem") == "mean"
        and int(ds.attrs.get("batch_size", 0)) == 1
        and opt.get("name") == "sgd"
        and sched.get("name") == "inverse_time"
        and float(opt.get("lr", 0)) == 1.0
        and float(sched.get("gamma", 0)) == 1.0
    )


def sampling_mean_frame(sweep: xr.Dataset) -> pd.DataFrame:
    """Per sampler and k ≥ 1: the mean over replicates of (x_k − x̄)², its 99% t interval, and
    the formula (σ²/k with replacement, σ²(N − k)/(k(N − 1)) without); columns sampler, k,
    mean, low, high, formula, replicates. σ² is the population variance (1/N)Σ(aᵢ − x̄)²."""
    from . import stats

    N = int(sweep.attrs["n"])
    rows = []
    for sampler in np.atleast_1d(sweep["sampler"].values):
        err = sweep["dist_sq"].sel(sampler=sampler)
        sigma_sq = float(np.asarray(sweep["sigma_star_sq"].sel(sampler=sampler)).ravel()[0])
        without = sampler != "with_replacement"
        for k in err["step"].values[err["step"].values >= 1]:
            v = err.sel(step=k).values
            iv = stats.mean_interval(v[np.isfinite(v)], alpha=0.01, two_sided=True)
            formula = sigma_sq / k * ((N - k) / (N - 1) if without else 1.0)
            rows.append((str(sampler), int(k), iv.mean, iv.low, iv.high, formula, iv.count))
    cols = ["sampler", "k", "mean", "low", "high", "formula", "replicates"]
    return pd.DataFrame(rows, columns=cols)


def epoch_ends(ds: xr.Dataset) -> np.ndarray:
    """The logged steps that end a whole epoch (epoch = t·b/n an integer ≥ 1)."""
    ep = np.asarray(ds["epoch"].values, dtype=float)
    return ds["step"].values[(ep >= 1) & np.isclose(ep, np.round(ep))]


def fit_slope(epochs: np.ndarray, values: np.ndarray, first: float) -> tuple[float, float]:
    """Least-squares slope and intercept of log(value) against log(epoch) over the epochs ≥
    ``first`` with a positive value (NaN when fewer than 3 points)."""
    e, v = np.asarray(epochs, float), np.asarray(values, float)
    keep = (e >= first) & (v > 0) & np.isfinite(v)
    if keep.sum() < 3:
        return np.nan, np.nan
    slope, intercept = np.polyfit(np.log(e[keep]), np.log(v[keep]), 1)
    return float(slope), float(intercept)


def reshuffling_frame(sweep: xr.Dataset, keys: tuple[str, ...]) -> pd.DataFrame | None:
    """E‖x − x*‖² at each epoch end, per sampler (mean and 95% t band over replicates):
    columns sampler, epoch, mean, low, high; None unless ``sampler`` is swept, x* is known
    and at least 4 epoch ends are logged."""
    if "sampler" not in keys or "dist_sq" not in sweep or len(keys) != 1:
        return None
    steps = epoch_ends(sweep)
    if steps.size < 4:
        return None
    rows = []
    for sampler in sweep["sampler"].values:
        da = sweep["dist_sq"].sel(sampler=sampler, step=steps)
        for t in steps:
            v = da.sel(step=t).values
            lo, hi = plots.t_band(pd.Series(v[np.isfinite(v)]))
            ep = float(sweep["epoch"].sel(step=t))
            rows.append((str(sampler), ep, float(np.nanmean(v)), lo, hi))
    frame = pd.DataFrame(rows, columns=["sampler", "epoch", "mean", "low", "high"])
    return frame if np.isfinite(frame["mean"]).any() else None


def early_stopping_frame(ds: xr.Dataset) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Training and held-out loss of a run with early stopping, long format (columns split,
    replicate, step, value), and its stops (columns replicate, step, holdout: the held-out loss
    where each stopped replicate stopped); None for a run without a held-out split."""
    if "holdout_loss" not in ds:
        return None
    frames = []
    for split, name in (("training", "loss"), ("held-out", "holdout_loss")):
        df = ds[name].rename("value").to_dataframe().reset_index()[["replicate", "step", "value"]]
        df.insert(0, "split", split)
        frames.append(df)
    stopped = ds["stopped_at"].values
    reps = np.flatnonzero(stopped >= 0)
    hold = [float(ds["holdout_loss"].isel(replicate=r).sel(step=stopped[r])) for r in reps]
    stops = pd.DataFrame({"replicate": reps, "step": stopped[reps], "holdout": hold})
    return pd.concat(frames, ignore_index=True).dropna(subset=["value"]), stops


def is_sra_sweep(ds: xr.Dataset, keys: tuple[str, ...]) -> bool:
    """A sweep over the horizon T alone of SGD with replacement at the step η = c/√T."""
    cfg = job_config(ds)
    return (
        keys == ("steps",)
        and cfg.get("schedule", {}).get("name") == "horizon_sqrt"
        and cfg.get("sampler", {}).get("name") == "with_replacement"
    )


def sra_frame(jobs: list[xr.Dataset], alpha: float = 0.05) -> pd.DataFrame:
    """Sra's theorem (Reddi et al. / Ghadimi–Lan, ``sra_nonconvex``) at t = T for each run of
    ``jobs`` (one per horizon T), checked with ``estimated="allow"``: columns T, mean (the
    average (1/T) Σ E‖∇f(x_t)‖² over replicates), ci_low, ci_high, bound, status,
    provenance (e.g. "conditional on estimated L, sigma_sq"); rows sorted by T."""
    from .checks import check_all

    rows = []
    for job in jobs:
        T = int(job.attrs["steps"])
        checks = check_all(job, alpha=alpha, estimated="allow").checks
        row = checks[(checks["theorem"] == "sra_nonconvex") & (checks["step"] == T)]
        if row.empty:
            rows.append((T, np.nan, np.nan, np.nan, np.nan, "not_applicable", ""))
            continue
        r = row.iloc[0]
        rows.append((T, r["empirical_mean"], r["ci_low"], r["ci_high"], r["bound"],
                     r["status"], str(r["constants_provenance"])))  # fmt: skip
    cols = ["T", "mean", "ci_low", "ci_high", "bound", "status", "provenance"]
    return pd.DataFrame(rows, columns=cols).sort_values("T", ignore_index=True)


def experiment_figures(
    ds: xr.Dataset, checks: pd.DataFrame, keys: tuple[str, ...], out_dir: str | Path
) -> dict[str, Path]:
    """Draw every experiment figure of the module docstring that applies to the run (``keys``
    empty) or sweep ``ds``; returns ``{name: path}`` of the PNG files written into ``out_dir``."""
    out_dir, paths = Path(out_dir), {}
    if keys == ("sampler",) and is_running_mean(ds):
        frame = sampling_mean_frame(ds)
        fig = lecture_plots.sampling_mean(frame, N=int(ds.attrs["n"]))
        paths["sampling_mean"] = plots.save(fig, out_dir / "sampling_mean.png")
    frames = early_stopping_frame(ds) if not keys else None
    if frames is not None:
        cfg = job_config(ds).get("early_stopping", {})
        fig = lecture_plots.early_stopping(
            *frames, patience=int(cfg.get("patience", 0)), steps=int(ds.attrs["steps"]),
            replicates=int(ds.attrs["replicates"]),
        )  # fmt: skip
        paths["early_stopping"] = plots.save(fig, out_dir / "early_stopping.png")
    if is_sra_sweep(ds, keys):
        frame = sra_frame([job for _, job in cells(ds)])
        if np.isfinite(frame["bound"]).any():
            fig = lecture_plots.sra_theorem(frame, problem=str(ds.attrs.get("problem")))
            paths["sra_theorem"] = plots.save(fig, out_dir / "sra_theorem.png")
    frame = reshuffling_frame(ds, keys)
    if frame is not None and not is_running_mean(ds):
        first = max(2.0, float(frame["epoch"].max()) / 32)
        fits = {s: fit_slope(g["epoch"], g["mean"], first) for s, g in frame.groupby("sampler")}
        fig = lecture_plots.reshuffling(frame, fits, first=first)
        paths["reshuffling"] = plots.save(fig, out_dir / "reshuffling.png")
    return paths
