"""Which figures a run or a sweep gets: tidy frames from the datasets and checks, drawn by
:mod:`analysis.plots` and written as PNG files into an output directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from . import plots
from .assumptions import divergence
from .collect import cells
from .constants import read_run, run_constants
from .experiments import experiment_figures
from .quantities import label, measure

__all__ = ["run_figures", "sweep_figures", "tidy"]


def tidy(da: xr.DataArray, keys: tuple[str, ...] = ()) -> pd.DataFrame:
    """Long format of a (keys..., replicate, step) array: columns keys, replicate, step, epoch,
    value (rows with NaN values dropped)."""
    df = da.rename("value").to_dataframe().reset_index()
    if "epoch" not in df and "epoch" in da.coords:
        df["epoch"] = np.asarray(da["epoch"].values)[np.searchsorted(da["step"].values, df["step"])]
    cols = [*keys, "replicate", "step", "epoch", "value"]
    return df[[c for c in cols if c in df]].dropna(subset=["value"])


def _quantity_frames(checks: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Checked rows with a finite bound, by quantity."""
    rows = checks[checks["status"] != "not_applicable"]
    rows = rows[np.isfinite(rows["bound"].astype(float))]
    return {q: g for q, g in rows.groupby("quantity", sort=False)}


def _default_quantity(ds: xr.Dataset) -> str:
    return "suboptimality" if np.isfinite(ds["suboptimality"].values).any() else "grad_norm_sq"


def x_axis(ds: xr.Dataset, steps, x: str) -> np.ndarray:
    """The x coordinate ``x`` of the logged ``steps`` of run ``ds``: ``step`` (t), ``epoch``
    (t·b/n), ``grad_evals`` (per-sample gradients: b per step, 2b for SVRG plus n per
    snapshot every ``inner`` steps) or ``wall_time`` (s: the run's mean time per optimizer
    step, logging excluded, times t)."""
    t = np.asarray(steps, dtype=float)
    a = ds.attrs
    T, b, n = float(a["steps"]), float(a["batch_size"]), float(a["n"])
    if x == "step":
        return t
    if x == "epoch":
        return t * b / n
    if x == "grad_evals":
        if a.get("optimizer") != "svrg":
            return t * b
        inner = float((yaml.safe_load(a.get("config", "")) or {}).get("optimizer", {})
                      .get("inner", 0) or np.ceil(n / b))  # fmt: skip
        return t * 2 * b + np.ceil(t / inner) * n
    if x == "wall_time":
        busy = float(a.get("wall_time_s", np.nan)) - float(a.get("logging_time_s", 0.0))
        return t * busy / max(T, 1.0)
    raise ValueError(f"x axis {x!r}: one of step, epoch, grad_evals, wall_time")


def run_figures(
    ds: xr.Dataset, checks: pd.DataFrame, out_dir: str | Path, x: str = "step"
) -> dict[str, Path]:
    """Convergence of every checked quantity with its bounds (against ``x``: see
    :func:`x_axis`), the constant traces and (1-D least squares) the region of confusion, as
    ``out_dir/<name>.png``."""
    out_dir, paths = Path(out_dir), {}
    frames = _quantity_frames(checks) or {_default_quantity(ds): checks.iloc[:0]}
    run = read_run(ds)
    note = divergence(run, run_constants(run)[0])
    for quantity, rows in frames.items():
        data = tidy(measure(ds, quantity))
        bounds = rows[["theorem", "step", "bound"]].copy()
        if x != "step":
            data[x] = x_axis(ds, data["step"], x)
            bounds[x] = x_axis(ds, bounds["step"].astype(float), x)
        fig = plots.convergence(
            data, bounds, quantity=quantity, title=_title(ds, quantity), note=note,
            rate=_rate(ds, quantity) if x == "step" else None, x=x,
        )  # fmt: skip
        paths[f"convergence_{quantity}"] = plots.save(fig, out_dir / f"convergence_{quantity}.png")
    if "loss" in ds and not np.isfinite(ds["suboptimality"].values).any():  # f* unknown
        title = f"Training loss (f* unknown): {_title(ds, 'loss')}"
        fig = plots.convergence(tidy(ds["loss"]), quantity="loss", note=note, title=title)
        paths["loss"] = plots.save(fig, out_dir / "loss.png")
    fig = _traces(ds)
    if fig is not None:
        paths["constant_traces"] = plots.save(fig, out_dir / "constant_traces.png")
    fig = _region(ds)
    if fig is not None:
        paths["region_of_confusion"] = plots.save(fig, out_dir / "region_of_confusion.png")
    paths.update(experiment_figures(ds, checks, (), out_dir))
    return paths


RATES = {  # schedule: ({quantity, ...}, exponent p of the predicted rate t^-p, label)
    "inverse_time": ({"suboptimality", "dist_sq"}, 1.0,
                     "reference ∝ 1/t (strongly convex, η_t ∝ 1/t: Rakhlin et al., BCN Thm 4.7)"),
    "inverse_sqrt": ({"avg_grad_norm_sq", "weighted_avg_grad_norm_sq",
                      "avg_iterate_suboptimality"}, 0.5,
                     "reference ∝ 1/√t (η_t ∝ 1/√t: averaged rates, theory §1, §3(d))"),
}  # fmt: skip


def _rate(ds: xr.Dataset, quantity: str) -> tuple[float, str] | None:
    """The rate a theorem predicts for ``quantity`` under the run's schedule (:data:`RATES`),
    as (p, label) of t^-p; None when there is none (e.g. a constant step: a floor)."""
    entry = RATES.get(str(ds.attrs.get("schedule")))
    if entry is None or quantity not in entry[0]:
        return None
    return entry[1], entry[2]


def _symbol(quantity: str) -> str:
    """The quantity's symbol (``‖x_t − x*‖²``), not its id (``dist_sq``)."""
    return label(quantity, expectation=False).split(" (")[0]


def _title(ds: xr.Dataset, quantity: str) -> str:
    a = ds.attrs
    return (f"{_symbol(quantity)}: {a.get('problem')}, {a.get('optimizer')}, "
            f"{a.get('schedule')} step, sampler {a.get('sampler')}, "
            f"b\u00a0=\u00a0{a.get('batch_size')}")  # fmt: skip


def _traces(ds: xr.Dataset, keys: tuple[str, ...] = (), hue: str | None = None):
    names = [v for v in ("L_local", "mu_local", "sigma_sq") if v in ds]
    frames = []
    for name in names:
        est = ds[name].where(ds["estimated"]) if "estimated" in ds.coords else ds[name]
        df = tidy(est, keys)
        df["constant"] = name
        frames.append(df)
    data = pd.concat(frames) if frames else pd.DataFrame()
    if data.empty:
        return None
    if not keys:  # one run, or a sweep of one job (whose config is that job's)
        used = _used_constants(next(job for _, job in cells(ds)) if _is_sweep(ds) else ds)
    else:  # each job's own values, keyed by its hue label (as _combine writes it)
        used = {name: {} for name in names}
        for where, job in cells(ds):
            label = _hue_label(where, keys)
            for name, value in _used_constants(job).items():
                if name in used:
                    used[name][label] = value
    if hue is not None:
        data = _combine(data, keys, hue)
    return plots.constant_traces(data, used, hue=hue)


def _is_sweep(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a collected sweep (``analysis.collect``), not one run."""
    return "swept_keys" in ds.attrs


def _used_constants(ds: xr.Dataset) -> dict[str, float]:
    """The L, μ and σ² (per sample, as ``sigma_sq`` is logged) that the theorems used on run
    ``ds``, NaN where a constant is missing."""
    C, _ = run_constants(read_run(ds))
    b = int(ds.attrs["batch_size"])
    return {
        "L_local": C["L"].value if "L" in C else np.nan,
        "mu_local": C["mu"].value if "mu" in C else np.nan,
        "sigma_sq": C["sigma_sq"].value * b if "sigma_sq" in C else np.nan,
    }


def _region(ds: xr.Dataset, ax=None, title: str | None = None):
    if ds.attrs.get("problem") != "lsq1d" or "x" not in ds:
        return None
    lo, hi = np.asarray(ds.attrs["region_of_confusion"], dtype=float)
    data = tidy(ds["x"].isel(param=0)).rename(columns={"value": "x"})
    x_star = float(np.asarray(ds["x_star"].values).ravel()[0])
    stops = None
    if "stopped_at" in ds and (ds["stopped_at"].values >= 0).any():  # early stopping was on
        at = ds["stopped_at"].values
        reps = np.flatnonzero(at >= 0)
        x = ds["x"].isel(param=0)
        stops = pd.DataFrame({"step": at[reps], "x": [float(x.isel(replicate=r).sel(step=at[r]))
                                                       for r in reps]})  # fmt: skip
    return plots.region_of_confusion(data, lo=lo, hi=hi, x_star=x_star, ax=ax, title=title,
                                     stops=stops)  # fmt: skip


def _region_facets(sweep: xr.Dataset, keys: tuple[str, ...]):
    """The region of confusion of every job of a 1-D least-squares sweep, one panel each."""
    jobs = [(where, job) for where, job in cells(sweep) if job.attrs.get("problem") == "lsq1d"]
    jobs = [(w, j) for w, j in jobs if "x" in j and "region_of_confusion" in j.attrs]
    if not jobs:
        return None
    fig, axes = plots.facets(len(jobs))
    for ax, (where, job) in zip(axes, jobs, strict=True):
        _region(job, ax=ax, title=", ".join(f"{k} = {v}" for k, v in where.items()))
    fig.suptitle("SGD iterates and the region of confusion, one panel per job")
    fig.tight_layout()
    return fig


def _combine(df: pd.DataFrame, keys: tuple[str, ...], hue: str) -> pd.DataFrame:
    """Add the column ``hue`` = "v1, v2, ..." of the swept keys (one legend for all)."""
    df = df.copy()
    df[hue] = _hue_label(df, keys)
    return df


def _hue_label(values, keys: tuple[str, ...]):
    """The legend label of a job (``values``: its {key: value}) or of every row of a frame: the
    value of the one swept key, or "v1, v2, ..." (each value as ``str``, so that 4 stays "4"
    as in the sweep's coordinates; a row-wise apply would turn an all-numeric row into floats)."""
    if len(keys) == 1:
        return values[keys[0]]
    if isinstance(values, pd.DataFrame):  # (agg over the rows of an empty frame gives a frame)
        rows = values[list(keys)].astype(str).itertuples(index=False)
        return pd.Series([", ".join(row) for row in rows], index=values.index, dtype=object)
    return ", ".join(str(values[k]) for k in keys)


def _step_marks(sweep: xr.Dataset) -> dict[str, float]:
    """1/L and 2/L of the sweep's problem (L exact or a bound, from ``L_global``) when every
    job has the same L; {} otherwise."""
    if "L_global" not in sweep:
        return {}
    L = np.unique(np.asarray(sweep["L_global"].values, dtype=float))
    L = L[np.isfinite(L)]
    if L.size != 1 or L[0] <= 0:
        return {}
    kind = yaml.safe_load(sweep.attrs.get("provenance", "")) or {}
    what = "exact" if kind.get("L_global") == "exact" else "L a bound"
    return {f"1/L ({what})": 1 / L[0], f"2/L ({what})": 2 / L[0]}


def _step_title(sweep: xr.Dataset) -> str:
    a = sweep.attrs
    return (f"Constant step sizes on {a.get('problem')} (n = {a.get('n')}, d = {a.get('d')}), "
            f"b = {a.get('batch_size')}, T = {a.get('steps')}")  # fmt: skip


def _convergence_facets(data, bounds, keys: tuple[str, ...], quantity: str):
    """A multi-key sweep's convergence: one panel per value of the swept key with the fewest
    values (every slice shown), one curve per setting of the other keys in each panel."""
    facet = min(keys, key=lambda k: data[k].nunique())
    others = tuple(k for k in keys if k != facet)
    hue = ", ".join(others)
    values = list(pd.unique(data[facet]))
    fig, axes = plots.facets(len(values), width=10, height=4.2, cols=1)
    for ax, value in zip(axes, values, strict=True):
        part = _combine(data[data[facet] == value], others, hue)
        b = None
        if bounds is not None:
            b = _combine(bounds[bounds[facet] == value], others, hue)
        plots.convergence(part, b, quantity=quantity, hue=hue, ax=ax,
                          title=f"{_symbol(quantity)}: {facet} = {value}")  # fmt: skip
    fig.tight_layout()
    return fig


def sweep_figures(
    sweep: xr.Dataset, checks: pd.DataFrame, keys: list[str], out_dir: str | Path
) -> dict[str, Path]:
    """Sweep figures: convergence per checked quantity (one curve per job, bounds dashed in the
    same colour), the constants, the step-size sweep (``optimizer.lr`` swept) and with against
    without replacement (``sampler`` swept), as PNG files in ``out_dir``."""
    out_dir, paths, keys = Path(out_dir), {}, tuple(keys)
    hue = ", ".join(keys) if keys else None
    frames = _quantity_frames(checks)
    if not frames:
        frames = {_default_quantity(sweep): checks.iloc[:0]}
    for quantity, rows in frames.items():
        data = tidy(measure(sweep, quantity), keys)
        bounds = rows[[*keys, "theorem", "step", "bound"]] if len(rows) else None
        if len(keys) >= 2:  # one panel per value of the key with fewest values, the rest hues
            fig = _convergence_facets(data, bounds, keys, quantity)
        else:
            if hue:
                data = _combine(data, keys, hue)
                bounds = _combine(bounds, keys, hue) if bounds is not None else None
            title = f"{_symbol(quantity)} across the sweep ({hue})"
            fig = plots.convergence(data, bounds, quantity=quantity, hue=hue, title=title)
        paths[f"convergence_{quantity}"] = plots.save(fig, out_dir / f"convergence_{quantity}.png")
    fig = _traces(sweep, keys, hue)
    if fig is not None:
        paths["constant_traces"] = plots.save(fig, out_dir / "constant_traces.png")
    quantity = _default_quantity(sweep)
    if "optimizer.lr" in keys:
        final = tidy(measure(sweep, quantity).isel(step=-1), keys).drop(columns="step")
        flags = sweep["diverged"].isel(step=-1).rename("diverged").to_dataframe().reset_index()
        final = final.merge(flags[[*keys, "replicate", "diverged"]], on=[*keys, "replicate"])
        others = tuple(k for k in keys if k != "optimizer.lr")
        other_hue = ", ".join(others) if others else None
        if other_hue:
            final = _combine(final, others, other_hue)
        first = measure(sweep, quantity).isel(step=0).values
        start = float(np.nanmean(first)) if np.isfinite(first).any() else None
        fig = plots.step_size_sweep(final, quantity=quantity, hue=other_hue, start=start,
                                    marks=_step_marks(sweep), title=_step_title(sweep))  # fmt: skip
        paths["step_size_sweep"] = plots.save(fig, out_dir / "step_size_sweep.png")
    if "sampler" in keys:
        data = tidy(measure(sweep, quantity), keys)
        others = [k for k in keys if k != "sampler"]
        slices = data.groupby(others, sort=True) if others else [((), data)]
        for i, (values, part) in enumerate(slices):  # one figure per setting of the others
            values = values if isinstance(values, tuple) else (values,)
            where = ", ".join(f"{k} = {v}" for k, v in zip(others, values, strict=True))
            title = "With against without replacement" + (f" ({where})" if where else "")
            fig = plots.replacement(part, quantity=quantity, title=title)
            name = "replacement" if i == 0 else f"replacement_{i + 1}"  # one file per slice
            paths[name] = plots.save(fig, out_dir / f"{name}.png")
    fig = _region_facets(sweep, keys)
    if fig is not None:
        paths["region_of_confusion"] = plots.save(fig, out_dir / "region_of_confusion.png")
    paths.update(experiment_figures(sweep, checks, keys, out_dir))
    return paths
