"""How each bounded quantity (``analysis.bounds.QUANTITIES``) is measured from a run's dataset.

:func:`measure` returns the per-replicate values ``Q_r(t)`` (dims ``replicate``, ``step``) with
NaN where the run does not determine them:

- running averages over ``x_0..x_t`` (:data:`RUNNING`) need ``‖∇f(x_s)‖²`` at *every*
  ``s ≤ t``, so they exist only on the dense prefix of the log grid (``log.every=1`` makes the
  whole run dense); :func:`coverage` says so when that leaves part of the run unchecked;
- ``avg_iterate_suboptimality`` is ``f(x̄_t) − f*`` from ``avg_loss`` (``averaging.kind=full``,
  uniform weights, which equal the step weights for a constant step).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["LABELS", "RUNNING", "coverage", "dense_prefix", "measure"]

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


def coverage(ds: xr.Dataset, quantity: str) -> str:
    """Why ``quantity`` is determined only on part of the logged steps ("" if it is not limited
    so): a running average (:data:`RUNNING`) exists only on the dense prefix of the log grid."""
    k, steps = dense_prefix(ds), np.asarray(ds["step"].values)
    if quantity not in RUNNING or k == 0 or k == steps.size:
        return ""
    horizon = int(ds.attrs.get("steps", steps[-1]))
    return (
        f"checked at t ≤ {k - 1} only, of T = {horizon} (the dense prefix of the log grid; "
        "log.every=1 checks every step)"
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
