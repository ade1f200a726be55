"""The constants a theorem uses, each with its provenance (theory §8, erratum 10).

:func:`read_run` collects a run's config facts and its step sequence ``η_0..η_T``;
:func:`run_constants` gathers every constant a bound may need, each a :class:`Value` with a
provenance:

- ``exact``: the problem's closed form (L, μ, L_max, μ_min, σ*², f*, and for the quadratic
  problems BCN's M and M_V), or a fact of the config (n, b, T) or of the log at t = 0 (Δ, ‖x_0 −
  x*‖² from an exact f* or x*);
- ``bound``: a valid one-sided bound (e.g. λmax(AᵀA)/(4n) + λ ≥ L for logistic regression);
- ``estimated``: read from the run, with the direction in which an estimation error biases a
  check (:data:`BIAS`): a max of local L̂ underestimates the global L, a min of local μ̂
  overestimates μ, a max of σ̂² on a sparse grid underestimates a uniform bound. Estimated
  constants are inflated by :data:`SAFETY` (L, σ², G², M multiplied, μ divided; raw values in the
  notes) and used only when the caller allows them (``estimated="allow"``); otherwise the
  constant is missing, and the reason says that only an estimate exists.

The ``source`` of a value says where it was read: ``problem`` (the dataset's problem constants),
``run`` (the log) or ``config``.

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
    "BIAS",
    "bounded_domain_G_sq",
    "CERTIFIED",
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
EXACT, BOUND, ESTIMATED = "exact", "bound", "estimated"
CERTIFIED = (EXACT, BOUND)
PER_SAMPLE_MISSING = "not known for this problem (the dataset's {var} is NaN or absent)"
DATA_MISSING = "the 1-D data vectors exist only for problem=lsq1d"
# how an estimation error biases a check that uses the estimate
BIAS = {
    "L": "a max of local L̂ underestimates the global L",
    "mu": "a min of local μ̂ overestimates the global μ",
    "sigma_sq": "a max of σ̂² on the estimate grid underestimates a uniform bound",
    "G_sq": "a max of σ̂²/b + ‖∇f‖² on the estimate grid underestimates a uniform bound",
    "M": "a max of σ̂²/b on the estimate grid underestimates a uniform M (with M_V = 0)",
    "M_V": "M_V = 0 chosen with the estimated M",
}
# what a missing uniform constant means as an assumption
UNCERTIFIED = (
    "no exact or bound value for this problem, only an estimate from the run ({bias}); "
    "estimated='allow' (sgdlab-report --allow-estimated) checks conditionally on it"
)


@dataclass(frozen=True)
class Value:
    """A constant's value, its provenance (exact | bound | estimated), where it was read
    (problem | run | config) and how."""

    value: Any
    provenance: str
    source: str
    note: str = ""

    @property
    def certified(self) -> bool:
        """Exact or a valid bound: not read off the run."""
        return self.provenance in CERTIFIED


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
    provenance: dict  # problem constant (dataset name) -> exact | bound


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
        provenance=yaml.safe_load(ds.attrs.get("provenance", "") or "{}") or {},
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


def _problem(run: Run, var: str, note: str) -> Value | None:
    """The dataset's problem constant ``var`` with its provenance, or None when unknown."""
    value = scalar(run.ds, var)
    if not np.isfinite(value):
        return None
    return Value(value, run.provenance.get(var, EXACT), "problem", note)


def _estimate(name: str, value: float, note: str) -> Value:
    return Value(value, ESTIMATED, "run", f"{note}; {BIAS[name]}")


def run_constants(run: Run, *, estimated: bool = False) -> tuple[dict[str, Value], dict[str, str]]:
    """Every constant a bound may need (theory §8), and for those that cannot be had the reason.

    Certified values (exact or bound) come first; an estimate from the run is used only with
    ``estimated`` (else the constant is missing and the reason names the estimate). The
    minibatch of b samples with replacement divides σ², M and M_V by b (BCN §4.2)."""
    ds, out, missing = run.ds, {}, {}
    est = np.asarray(ds["estimated"].values, dtype=bool)
    k_est = int(est.sum())
    subset = hessian_subsampled(ds)
    where = f" (Hessians of {ds.attrs['hessian_samples']}-sample subsets)" if subset else ""
    b = run.b

    def offer(name: str, certified: Value | None, estimate: Value | None, why: str) -> None:
        if certified is not None:
            out[name] = certified
        elif estimate is not None and estimated:
            out[name] = estimate
        elif estimate is not None:
            missing[name] = UNCERTIFIED.format(bias=BIAS[name])
        else:
            missing[name] = why

    def scaled(v: Value | None, factor: float, note: str) -> Value | None:
        return None if v is None else Value(v.value * factor, v.provenance, v.source, note)

    # L and μ of f
    L_loc, mu_loc = finite(ds["L_local"].values), finite(ds["mu_local"].values)
    L_est = mu_est = None
    if L_loc.size:
        raw = float(L_loc.max())
        L_est = _estimate(
            "L", SAFETY * raw, f"{SAFETY} × max L_local = {raw:.6g} over {k_est} steps{where}"
        )
    if mu_loc.size:
        raw = float(mu_loc.min())
        mu_est = _estimate(
            "mu", raw / SAFETY if raw > 0 else raw, f"min mu_local = {raw:.6g} (÷{SAFETY} if > 0)"
        )
    offer("L", _problem(run, "L_global", "global smoothness of f"), L_est, "no L estimate logged")
    offer(
        "mu",
        _problem(run, "mu_global", "global strong convexity of f"),
        mu_est,
        "no μ estimate logged",
    )
    # uniform bounds on the gradient noise: σ², G², BCN's M and M_V
    sig, gns = ds["sigma_sq"].values, ds["grad_norm_sq"].values
    sig_est = g2_est = m_est = None
    if finite(sig).size:
        raw = float(finite(sig).max())
        sig_est = _estimate(
            "sigma_sq", SAFETY * raw / b, f"{SAFETY} × max σ²(x_t) / b = {SAFETY} × {raw:.6g} / {b}"
        )
        m_est = _estimate("M", sig_est.value, "BCN M = max_t V_t with M_V = 0")
        g2 = finite(sig / b + gns)
        g2_est = _estimate(
            "G_sq", SAFETY * float(g2.max()), f"{SAFETY} × max (σ²(x_t)/b + ‖∇f(x_t)‖²)"
        )
    none = "no exact or bound value for this problem and no σ² estimate logged"
    sig_known = _problem(run, "sigma_sq_bound", "σ²(x) ≤ this for every x")
    offer("sigma_sq", scaled(sig_known, 1 / b, f"sup_x σ²(x) / b, b = {b}"), sig_est, none)
    G_sq = _problem(run, "G_sq_bound", "‖∇f_i(x)‖² ≤ this for every i, x")
    offer("G_sq", G_sq or bounded_domain_G_sq(run), g2_est, none)
    M_known, MV_known = _problem(run, "bcn_M", ""), _problem(run, "bcn_M_V", "")
    if M_known is not None and MV_known is not None:
        out["M"] = scaled(M_known, 1 / b, f"σ²(x) ≤ M + M_V‖∇f(x)‖² for every x, ÷ b = {b}")
        out["M_V"] = scaled(MV_known, 1 / b, f"see M, ÷ b = {b}")
    else:
        offer("M", None, m_est, none)
        if "M" in out:
            out["M_V"] = Value(0.0, ESTIMATED, "config", BIAS["M_V"])
        else:
            missing["M_V"] = missing["M"]
    out["mu_bcn"] = Value(1.0, EXACT, "config", "BCN μ = μ_G = 1 for an unbiased g")
    # Δ = f(x_0) − f_inf (f_inf = f*, or the problem's lower bound) and ‖x_0 − x*‖²
    if not starts_at_zero(ds):
        for name in ("delta", "delta_star", "dist0_sq"):
            missing[name] = x0_missing(ds)
    else:
        f0 = float(np.nanmax(ds["loss"].isel(step=0).values))
        f_star, f_inf = _problem(run, "f_star", ""), _problem(run, "f_inf", "")
        if f_star is not None and not (f_star.certified or estimated):
            f_star = None  # e.g. a local minimum of a custom loss: Δ from f_inf instead
            missing["delta_star"] = UNCERTIFIED.format(bias="f* is a numerical local solution")
        if f_star is not None:
            note = f"f(x_0) − f* = {f0:.6g} − {f_star.value:.6g}"
            out["delta"] = Value(f0 - f_star.value, f_star.provenance, "run", note)
            out["delta_star"] = out["delta"]
        else:
            missing.setdefault("delta_star", "f* unknown")
            if f_inf is not None:
                note = f"f(x_0) − f_inf with the problem's f_inf = {f_inf.value:.6g} ≤ f*"
                out["delta"] = Value(f0 - f_inf.value, BOUND, "run", note)
            else:
                missing["delta"] = "f* unknown and no lower bound f_inf"
        prov = run.provenance.get("x_star", EXACT)
        if prov == ESTIMATED and not estimated:
            missing["dist0_sq"] = UNCERTIFIED.format(bias="x* is a numerical local solution")
        elif "dist_sq" in ds and np.isfinite(ds["dist_sq"].isel(step=0).values).all():
            d0 = float(np.max(ds["dist_sq"].isel(step=0).values))
            out["dist0_sq"] = Value(d0, prov, "run", "‖x_0 − x*‖²")
        else:
            missing["dist0_sq"] = "x* unknown"
    out["n"] = Value(run.n, EXACT, "config", "number of samples")
    out["b"] = Value(run.b, EXACT, "config", "minibatch size batch_size")
    out["T"] = Value(run.T, EXACT, "config", "steps")
    # per-sample constants of the problem
    per_sample = {
        "sup_L": ("L_max", "max_i L_i: every f_i is L-smooth with this L"),
        "mu_min": ("mu_min", "min_i μ_i: every f_i is μ-strongly convex with this μ"),
        "sigma_star_sq": ("sigma_star_sq", "σ²(x*) = (1/n) Σ_i ‖∇f_i(x*) − ∇f(x*)‖²"),
    }
    for name, (var, note) in per_sample.items():
        v = _problem(run, var, note)
        if v is not None and (v.certified or estimated):
            out[name] = v
        elif v is not None:
            missing[name] = UNCERTIFIED.format(bias=f"{var} at a numerical local solution")
        else:
            missing[name] = PER_SAMPLE_MISSING.format(var=var)
    a, bv = lsq1d_data(run)
    if a is not None:
        note = "the problem's data, rebuilt from its config"
        out["a_vec"], out["b_vec"] = (
            Value(a, EXACT, "config", note),
            Value(bv, EXACT, "config", note),
        )
    else:
        for name in ("a_vec", "b_vec"):
            missing[name] = DATA_MISSING
    return out, missing


def problem_data(run: Run, name: str) -> dict[str, np.ndarray] | None:
    """The data arrays of a run of ``problem=name``, rebuilt from its config (given or drawn
    from ``problem.seed``; cheap for the 1-D problems); None for another problem or when early
    stopping trained on a split of the data."""
    if run.problem != name or int(run.cfg.get("early_stopping", {}).get("patience", 0)) > 0:
        return None
    from omegaconf import OmegaConf

    from sgdlab.problems import make_problem

    return make_problem(OmegaConf.create(run.cfg["problem"])).data


def lsq1d_data(run: Run) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The data vectors (a, b) of a ``problem=lsq1d`` run (:func:`problem_data`), else None."""
    data = problem_data(run, "lsq1d")
    return (None, None) if data is None else (data["a"], data["b"])


def bounded_domain_G_sq(run: Run) -> Value | None:
    """A stated sufficient condition for a uniform G² along the run: on ``problem=mean`` with
    plain SGD and every η_t ≤ 1, x_{t+1} = (1 − η_t)x_t + η_t·mean_{i∈B}(aᵢ) is a convex
    combination, so every iterate stays in K = conv{x_0, a_1, …, a_n}, where
    ‖∇fᵢ(x)‖² = ‖x − aᵢ‖² ≤ diam(K)²; hence E‖g_t‖² ≤ diam(K)² at every step. None when the
    condition does not hold (or x_0 is not logged)."""
    if run.optimizer != "sgd" or float(np.max(run.lr)) > 1 or "x" not in run.ds:
        return None
    data = problem_data(run, "mean")
    if data is None or not starts_at_zero(run.ds):
        return None
    x0 = np.asarray(run.ds["x"].isel(step=0).values, dtype=float).ravel()
    points = np.concatenate([np.asarray(data["a"], dtype=float).ravel(), x0])
    if not np.isfinite(points).all():
        return None
    diam_sq = float((points.max() - points.min()) ** 2)
    note = (
        f"η_t ≤ 1 keeps x_t in conv{{x_0, a_i}} (problem=mean): ‖∇f_i(x)‖² ≤ diam² = "
        f"{diam_sq:.6g} there"
    )
    return Value(diam_sq, BOUND, "run", note)
