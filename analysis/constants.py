"""The constants a run measures (theory §8), each with where it came from.

:func:`read_run` collects a run's config facts and its step sequence ``η_0..η_T``;
:func:`run_constants` estimates L, μ, σ², G², BCN's M, Δ = f(x_0) − f_inf, ‖x_0 − x*‖², takes
the per-sample constants ``sup_L`` (maxᵢ Lᵢ), ``mu_min`` (minᵢ μᵢ) and ``σ*²`` from the run's
dataset where the problem knows them, and the data vectors of 1-D least squares from the config
(``problem=lsq1d`` with ``problem.a``/``problem.b``). Sources: ``known`` (exact, from the problem),
``logged`` (estimated along the run) or ``config`` (the configuration, or a stated choice).

Estimated constants are inflated by :data:`SAFETY` (theory §8: a too-small L̂ or σ̂² makes a
bound too small and produces false violations): ``L``, ``σ²``, ``G²``, ``M`` are multiplied by
it and an estimated ``μ`` is divided by it; the raw values are in the notes.

Δ and ‖x_0 − x*‖² are read at the first logged step only if it is t = 0
(:func:`starts_at_zero`); otherwise they are missing, with :func:`x0_missing` as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
import yaml

__all__ = [
    "SAFETY",
    "Run",
    "Value",
    "finite",
    "read_run",
    "run_constants",
    "scalar",
    "starts_at_zero",
    "x0_missing",
]

SAFETY = 1.1
PER_SAMPLE_MISSING = "not known for this problem (the dataset's {var} is NaN or absent)"
DATA_MISSING = "the 1-D data vectors are known only for problem=lsq1d with problem.a and problem.b"


@dataclass(frozen=True)
class Value:
    """A constant's value, where it came from (known | logged | config) and how."""

    value: Any
    source: str
    note: str = ""


@dataclass
class Run:
    """The facts of one run that the theorems depend on."""

    ds: xr.Dataset
    cfg: dict
    problem: str
    optimizer: str
    sampler: str
    schedule: str
    n: int
    b: int
    T: int
    R: int
    lr: np.ndarray  # η_0..η_T from the schedule in the config (checked against the log)


def read_run(ds: xr.Dataset) -> Run:
    """Collect the run's config facts and its step sequence ``η_0..η_T``."""
    from sgdlab.schedules import make_schedule

    cfg = yaml.safe_load(ds.attrs["config"])
    T = int(ds.attrs["steps"])
    params = {k: v for k, v in cfg["schedule"].items() if k != "name"}
    lr = np.asarray(
        make_schedule(cfg["schedule"]["name"], float(cfg["optimizer"]["lr"]), T, **params)(
            np.arange(T + 1)
        ),
        dtype=float,
    )
    logged = np.asarray(ds["lr"].values, dtype=float)
    if not np.allclose(lr[np.asarray(ds["step"].values)], logged, rtol=1e-12, atol=0):
        raise ValueError("the schedule in the config does not reproduce the logged lr")
    return Run(
        ds=ds,
        cfg=cfg,
        problem=str(ds.attrs["problem"]),
        optimizer=str(ds.attrs["optimizer"]),
        sampler=str(ds.attrs["sampler"]),
        schedule=str(ds.attrs["schedule"]),
        n=int(ds.attrs["n"]),
        b=int(ds.attrs["batch_size"]),
        T=T,
        R=int(ds.sizes["replicate"]),
        lr=lr,
    )


def finite(a) -> np.ndarray:
    """The finite entries of ``a``, flattened."""
    a = np.asarray(a, dtype=float).ravel()
    return a[np.isfinite(a)]


def scalar(ds: xr.Dataset, name: str) -> float:
    """A scalar variable of the dataset as a float (NaN when absent)."""
    return float(ds[name].values) if name in ds else float("nan")


def starts_at_zero(ds: xr.Dataset) -> bool:
    """Whether the first logged step is t = 0, i.e. the log holds x_0 (and f(x_0), x_0 − x*)."""
    return ds.sizes["step"] > 0 and int(ds["step"].values[0]) == 0


def x0_missing(ds: xr.Dataset) -> str:
    """Why x_0 is not in the log (for a run whose first logged step is not t = 0)."""
    first = f"t = {int(ds['step'].values[0])}" if ds.sizes["step"] else "none"
    return (
        f"x_0 is not logged: the first logged step is {first}, not t = 0 "
        "(e.g. log.enabled=false logs only t = T)"
    )


def hessian_subsampled(ds: xr.Dataset) -> bool:
    """Whether L_local and mu_local come from the Hessian of a random subset of the samples
    (``log.estimates.hessian_samples`` < n): then they err towards larger L and smaller μ, and
    a negative mu_local does not show that f is nonconvex."""
    n = ds.attrs.get("n")
    return n is not None and int(ds.attrs.get("hessian_samples", n)) < int(n)


def run_constants(run: Run) -> tuple[dict[str, Value], dict[str, str]]:
    """Run-level constants (theory §8) and, for those that cannot be had, the reason."""
    ds, out, missing = run.ds, {}, {}
    est = np.asarray(ds["estimated"].values, dtype=bool)
    k_est = int(est.sum())
    # L: max of the global constant and the local estimates
    L_glob, L_loc = scalar(ds, "L_global"), finite(ds["L_local"].values)
    subset = hessian_subsampled(ds)
    source = f" (Hessians of {ds.attrs['hessian_samples']}-sample subsets)" if subset else ""
    # A subset's λmax overestimates L on average (Jensen): it cannot refute a known L_global.
    if np.isfinite(L_glob) and (L_loc.size == 0 or subset or L_glob >= L_loc.max() * (1 - 1e-6)):
        out["L"] = Value(L_glob, "known", "global smoothness of the problem")
    elif L_loc.size:
        raw = float(L_loc.max())
        out["L"] = Value(
            SAFETY * raw,
            "logged",
            f"{SAFETY} × max L_local = {raw:.6g} over {k_est} steps{source}",
        )
    else:
        missing["L"] = "L_global unknown and no L_local estimate logged"
    # mu: strong convexity
    mu_glob, mu_loc = scalar(ds, "mu_global"), finite(ds["mu_local"].values)
    if np.isfinite(mu_glob):
        out["mu"] = Value(mu_glob, "known", "global strong convexity of the problem")
    elif mu_loc.size:
        raw = float(mu_loc.min())
        val = raw / SAFETY if raw > 0 else raw
        out["mu"] = Value(
            val,
            "logged",
            f"min mu_local = {raw:.6g} (÷{SAFETY} if > 0): local, overestimates μ{source}",
        )
    else:
        missing["mu"] = "mu_global unknown and no mu_local estimate logged"
    # sigma^2 of g_t (with-replacement minibatch of b), G^2 = max E‖g_t‖²
    sig = ds["sigma_sq"].values
    if finite(sig).size:
        raw = float(finite(sig).max())
        out["sigma_sq"] = Value(
            SAFETY * raw / run.b,
            "logged",
            f"{SAFETY} × max σ²(x_t) / b = {SAFETY} × {raw:.6g} / {run.b} (i.i.d. minibatch)",
        )
        out["M"] = Value(out["sigma_sq"].value, "logged", "BCN M = max_t V_t with M_V = 0")
        g2 = finite(sig / run.b + ds["grad_norm_sq"].values)
        out["G_sq"] = Value(
            SAFETY * float(g2.max()),
            "logged",
            f"{SAFETY} × max (σ²(x_t)/b + ‖∇f(x_t)‖²) = {SAFETY} × {g2.max():.6g}",
        )
    else:
        for name in ("sigma_sq", "M", "G_sq"):
            missing[name] = "no sigma_sq estimate logged"
    out["M_V"] = Value(0.0, "config", "chosen M_V = 0 (theory §8); M_G = M_V + μ_G² = 1")
    out["mu_bcn"] = Value(1.0, "config", "BCN μ = μ_G = 1 for an unbiased g")
    # delta = f(x0) - f_inf (f_inf = f*, or the problem's lower bound) and ‖x_0 − x*‖²
    if not starts_at_zero(ds):
        for name in ("delta", "delta_star", "dist0_sq"):
            missing[name] = x0_missing(ds)
    else:
        f0 = float(np.nanmax(ds["loss"].isel(step=0).values))
        f_star = scalar(ds, "f_star")
        if np.isfinite(f_star):
            out["delta"] = Value(f0 - f_star, "known", f"f(x_0) − f* = {f0:.6g} − {f_star:.6g}")
            out["delta_star"] = out["delta"]
        else:
            missing["delta_star"] = "f* unknown"
            f_inf = scalar(ds, "f_inf")
            if np.isfinite(f_inf):
                out["delta"] = Value(
                    f0 - f_inf, "known", f"f(x_0) − f_inf with the problem's f_inf = {f_inf:.6g}"
                )
            else:
                missing["delta"] = "f* unknown and no lower bound f_inf"
        if "dist_sq" in ds and np.isfinite(ds["dist_sq"].isel(step=0).values).all():
            d0 = float(np.max(ds["dist_sq"].isel(step=0).values))
            out["dist0_sq"] = Value(d0, "known", "‖x_0 − x*‖² (exact)")
        else:
            missing["dist0_sq"] = "x* unknown"
    out["n"] = Value(run.n, "config", "number of samples")
    out["b"] = Value(run.b, "config", "minibatch size batch_size")
    out["T"] = Value(run.T, "config", "steps")
    # per-sample constants, known exactly by the problem
    per_sample = {
        "sup_L": ("L_max", "max_i L_i: every f_i is L-smooth with this L"),
        "mu_min": ("mu_min", "min_i μ_i: every f_i is μ-strongly convex with this μ"),
        "sigma_star_sq": ("sigma_star_sq", "σ²(x*) = (1/n) Σ_i ‖∇f_i(x*) − ∇f(x*)‖², exact"),
    }
    for name, (var, note) in per_sample.items():
        value = scalar(ds, var) if var in ds else float("nan")
        if np.isfinite(value):
            out[name] = Value(value, "known", note)
        else:
            missing[name] = PER_SAMPLE_MISSING.format(var=var)
    prob = run.cfg.get("problem", {})
    if run.problem == "lsq1d" and prob.get("a") is not None and prob.get("b") is not None:
        a, bv = np.asarray(prob["a"], float), np.asarray(prob["b"], float)
        note = "from problem.a, problem.b"
        out["a_vec"], out["b_vec"] = Value(a, "config", note), Value(bv, "config", note)
    else:
        for name in ("a_vec", "b_vec"):
            missing[name] = DATA_MISSING
    return out, missing
