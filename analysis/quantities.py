"""How each bounded quantity (``analysis.bounds.QUANTITIES``) is measured from a run's dataset.

:func:`measure` returns the per-replicate values ``Q_r(t)`` (dims ``replicate``, ``step``) with
NaN where the run does not determine them:

- running averages over ``x_0..x_t`` (:data:`RUNNING`) need ``‖∇f(x_s)‖²`` at *every*
  ``s ≤ t``. A run that logged the running sums ``grad_norm_sq_sum``/``grad_norm_sq_wsum``
  (``log.running_average``: exact on logged steps, the inner product ⟨g_s, h_s⟩ of two
  independent minibatch gradients between them, E[⟨g_s, h_s⟩ | x_s] = ‖∇f(x_s)‖²) gives an
  unbiased estimate of each replicate's average at every logged step: the replicates stay
  i.i.d., so a confidence interval over them accounts for the estimator's extra variance.
  Otherwise they exist only on the dense prefix of the log grid (``log.every=1`` makes the
  whole run dense); :func:`coverage` says so when that leaves part of the run unchecked;
- ``avg_iterate_suboptimality`` is ``f(x̄_t) − f*`` from ``avg_loss`` (``averaging.kind=full``,
  uniform weights, which equal the step weights for a constant step).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["LABELS", "RUNNING", "coverage", "defined_steps", "dense_prefix", "measure"]

# quantity: (axis label with symbols, units)
LABELS: dict[str, tuple[str, str]] = {
    "suboptimality": ("f(x_t) − f*", "units of f"),
    "avg_iterate_suboptimality": ("f(x̄_t) − f*", "units of f"),
    "dist_sq": ("‖x_t − x*‖²", "squared parameter units"),
    "avg_grad_norm_sq": ("(1/(t+1)) Σ_{s≤t} ‖∇f(x_s)‖²", "squared gradient units"),
    "weighted_avg_grad_norm_sq": ("Σ_{s≤t} η_s‖∇f(x_s)‖² / Σ_{s≤t} η_s", "squared gradient units"),
    "weighted_sum_grad_norm_sq": ("Σ_{s≤t} η_s‖∇f(x_s)‖²", "gradient² × step units"),
    "noise_sq": ("‖g_t − ∇f(x_t)‖²", "squared gradient units"),
    "grad_norm_sq": ("‖∇f(x_t)‖²", "squared gradient units"),
    "x": ("x_t", "parameter units"),
}


RUNNING = ("avg_grad_norm_sq", "weighted_avg_grad_norm_sq", "weighted_sum_grad_norm_sq")


def label(quantity: str, expectation: bool = True) -> str:
    """Axis label ``E[symbol] (units)`` of a quantity (or a logged variable)."""
    symbol, units = LABELS.get(quantity, (quantity, ""))
    text = f"E[{symbol}]" if expectation else symbol
    return f"{text} ({units})" if units else text


def dense_prefix(ds: xr.Dataset) -> int:
    """Number k of logged steps that are exactly ``0, 1, ..., k−1`` (the dense prefix)."""
    steps = np.asarray(ds["step"].values)
    same = steps == np.arange(steps.size)
    return int(steps.size if same.all() else np.argmin(same))


def has_running_sums(ds: xr.Dataset) -> bool:
    """Whether the run logged unbiased running sums of ‖∇f(x_s)‖² (``log.running_average``;
    in a merged sweep, a job that did not has NaN there, even at t = 0)."""
    if "grad_norm_sq_sum" not in ds or "lr_sum" not in ds or ds.sizes["step"] == 0:
        return False
    return bool(np.isfinite(ds["grad_norm_sq_sum"].isel(step=0).values).any())


def defined_steps(ds: xr.Dataset, quantity: str) -> np.ndarray:
    """(S,) bool: the logged steps where ``quantity`` is defined by the run's design (its config
    and problem, not its outcome): e.g. ‖x_t − x*‖² needs x*, ``noise_sq`` exists before T only
    (no step is taken at T), a running average needs running sums or the dense prefix."""
    steps = np.asarray(ds["step"].values)
    T = int(ds.attrs.get("steps", steps[-1] if steps.size else 0))
    known = {"f_star": np.isfinite(float(ds["f_star"].values)) if "f_star" in ds else False}
    if quantity in ("suboptimality",):
        return np.full(steps.shape, known["f_star"])
    if quantity == "dist_sq":
        x_star = np.asarray(ds["x_star"].values) if "x_star" in ds else np.array([np.nan])
        return np.full(steps.shape, bool(np.isfinite(x_star).all()))
    if quantity == "avg_iterate_suboptimality":
        return np.full(steps.shape, bool(known["f_star"] and "avg_loss" in ds))
    if quantity == "noise_sq":
        return steps < T
    if quantity in RUNNING:
        if has_running_sums(ds):
            return np.ones(steps.shape, dtype=bool)
        return np.arange(steps.size) < dense_prefix(ds)
    return np.ones(steps.shape, dtype=bool)


def coverage(ds: xr.Dataset, quantity: str) -> str:
    """Why ``quantity`` is determined only on part of the logged steps ("" if it is not limited
    so): a running average (:data:`RUNNING`) without running sums exists only on the dense
    prefix of the log grid."""
    k, steps = dense_prefix(ds), np.asarray(ds["step"].values)
    if quantity not in RUNNING or has_running_sums(ds) or k == 0 or k == steps.size:
        return ""
    horizon = int(ds.attrs.get("steps", steps[-1]))
    return (
        f"checked at t ≤ {k - 1} only, of T = {horizon} (the dense prefix of the log grid; "
        "log.running_average=true with sampler=with_replacement and optimizer=sgd, or "
        "log.every=1, checks the whole horizon)"
    )


def measure(ds: xr.Dataset, quantity: str) -> xr.DataArray:
    """Per-replicate ``Q_r(t)`` of ``quantity`` at the logged steps (NaN where undetermined)."""
    if quantity in ("suboptimality", "dist_sq", "noise_sq", "grad_norm_sq"):
        return ds[quantity].astype(float)
    if quantity == "avg_iterate_suboptimality":
        if "avg_loss" not in ds:
            return xr.full_like(ds["loss"], np.nan)
        return ds["avg_loss"] - ds["f_star"]
    if quantity not in RUNNING:
        raise KeyError(f"quantity={quantity!r}: not one of analysis.bounds.QUANTITIES")
    if has_running_sums(ds):
        if quantity == "avg_grad_norm_sq":
            return ds["grad_norm_sq_sum"] / (ds["step"] + 1.0)
        if quantity == "weighted_avg_grad_norm_sq":
            return ds["grad_norm_sq_wsum"] / ds["lr_sum"]
        return ds["grad_norm_sq_wsum"].astype(float)
    head = {"step": slice(0, dense_prefix(ds))}
    gns = ds["grad_norm_sq"].isel(head)
    if quantity == "avg_grad_norm_sq":
        count = xr.DataArray(np.arange(1, gns.sizes["step"] + 1), dims="step")
        out = gns.cumsum("step") / count
    else:
        eta = ds["lr"].isel(head)
        out = (eta * gns).cumsum("step")
        if quantity == "weighted_avg_grad_norm_sq":
            out = out / eta.cumsum("step")
    out = out.transpose(*[d for d in ds["grad_norm_sq"].dims if d in out.dims])
    return out.reindex(step=ds["step"]).assign_coords(ds["grad_norm_sq"].coords)
