"""Drawing the lecture experiments' figures (the data come from :mod:`analysis.experiments`).

Each function takes a small tidy frame, draws one figure and returns it. Values that are zero
up to round-off are drawn as markers on the bottom edge of a log axis, labelled as such, so
the axis stays logarithmic and the zero stays visible.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

__all__ = ["SAMPLER_NAMES", "early_stopping", "reshuffling", "sampling_mean", "sra_theorem"]

SAMPLER_NAMES = {
    "with_replacement": "with replacement",
    "reshuffle": "without replacement (reshuffled)",
    "shuffle_once": "without replacement (shuffled once)",
    "cyclic": "cyclic order",
}
COLOURS = {"with_replacement": "C0", "reshuffle": "C3", "shuffle_once": "C2", "cyclic": "C4"}


def _zero_marks(ax: plt.Axes, x: np.ndarray, colour: str) -> Line2D | None:
    """Triangles on the bottom edge of the axes at ``x`` (values that are 0 up to round-off)."""
    if not len(x):
        return None
    ax.plot(x, np.zeros_like(x, dtype=float), ls="none", marker="v", ms=9, color=colour,
            transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)  # fmt: skip
    return Line2D([], [], ls="none", marker="v", color=colour, label="0 up to round-off")


def sampling_mean(frame: pd.DataFrame, *, N: int, floor: float = 1e-20) -> plt.Figure:
    """E(x_k − x̄)² against k, log–log, per sampler (columns sampler, k, mean, low, high,
    formula): the measured mean with its 99% interval as a band, the formula dashed; a mean
    below ``floor`` (0 up to round-off) is a triangle on the bottom edge."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    handles = []
    for sampler, g in frame.groupby("sampler", sort=False):
        colour, name = COLOURS.get(sampler, "C1"), SAMPLER_NAMES.get(sampler, sampler)
        g = g.sort_values("k")
        pos = g[g["mean"] > floor]
        ax.fill_between(pos["k"], pos["low"].clip(lower=floor), pos["high"], color=colour,
                        alpha=0.25, lw=0)  # fmt: skip
        ax.plot(pos["k"], pos["mean"], color=colour, lw=1.6)
        f = g[g["formula"] > 0]
        without = sampler != "with_replacement"
        formula = "σ²(N − k)/(k(N − 1))" if without else "σ²/k"
        ax.plot(f["k"], f["formula"], color="k" if not without else "0.35",
                dashes=(4, 2) if without else (1, 1.5), lw=1.3)  # fmt: skip
        handles.append(Line2D([], [], color=colour, lw=1.6, label=f"{name}: measured, 99% band"))
        handles.append(Line2D([], [], color="k" if not without else "0.35",
                              dashes=(4, 2) if without else (1, 1.5),
                              label=f"{name}: exact {formula}"))  # fmt: skip
        mark = _zero_marks(ax, g.loc[g["mean"] <= floor, "k"].to_numpy(float), colour)
        if mark is not None:
            mark.set_label(f"{name}: 0 up to round-off (k = N)")
            handles.append(mark)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("k, number of draws (= step t)")
    ax.set_ylabel("E(x_k − x̄)², squared error of the running mean")
    reps = int(frame["replicates"].max())
    ax.set_title(f"Running mean of N = {N} draws from U(0, 1), {reps} replicates\n"
                 "with against without replacement (theory §6(a))", fontsize=10)  # fmt: skip
    ax.legend(handles=handles, fontsize=7.5, loc="lower left")
    fig.tight_layout()
    return fig


def reshuffling(frame: pd.DataFrame, fits: dict[str, tuple[float, float]], *, first: float):
    """E‖x − x*‖² at the end of each epoch against epochs, log–log, per sampler (columns
    sampler, epoch, mean, low, high), with each sampler's fitted line ``fits[sampler]`` =
    (slope, intercept of log E‖x − x*‖² against log K over epochs ≥ ``first``) dashed."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    handles = []
    for sampler, g in frame.groupby("sampler", sort=False):
        colour, name = COLOURS.get(sampler, "C1"), SAMPLER_NAMES.get(sampler, sampler)
        g = g.sort_values("epoch")
        pos = g[g["mean"] > 0]
        ax.fill_between(pos["epoch"], pos["low"].clip(lower=pos["mean"].min() / 10),
                        pos["high"], color=colour, alpha=0.25, lw=0)  # fmt: skip
        ax.plot(pos["epoch"], pos["mean"], color=colour, marker="o", ms=3, lw=1.4)
        slope, intercept = fits.get(sampler, (np.nan, np.nan))
        if np.isfinite(slope):
            e = g.loc[g["epoch"] >= first, "epoch"].to_numpy(float)
            ax.plot(e, np.exp(intercept) * e**slope, color=colour, ls="--", lw=1)
        text = f"{name}: mean, 95% band; fitted slope {slope:.2f}"
        handles.append(Line2D([], [], color=colour, marker="o", ms=3, label=text))
    fit = f"least-squares fit over epochs ≥ {first:g}"
    handles.append(Line2D([], [], color="0.3", ls="--", label=fit))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epochs K (passes over the data; value at the end of epoch K)")
    ax.set_ylabel("E‖x_K − x*‖² (squared parameter units)")
    ax.set_title("Random reshuffling against sampling with replacement\n"
                 "(SGD ~ 1/K; RR ~ 1/K², Gürbüzbalaban–Ozdaglar–Parrilo, HaoChen–Sra)",
                 fontsize=10)  # fmt: skip
    ax.legend(handles=handles, fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def _mean_band(ax: plt.Axes, g: pd.DataFrame, colour: str, label: str) -> Line2D:
    """Mean of ``value`` over replicates against ``step`` with its 95% t band."""
    from .plots import t_band

    by = g.groupby("step")["value"]
    mean = by.mean()
    band = np.array([t_band(v) for _, v in by])
    ax.fill_between(mean.index, band[:, 0], band[:, 1], color=colour, alpha=0.25, lw=0)
    (line,) = ax.plot(mean.index, mean.values, color=colour, lw=1.6, label=label)
    return line


def early_stopping(
    data: pd.DataFrame, stops: pd.DataFrame, *, patience: int, steps: int, replicates: int
) -> plt.Figure:
    """Training and held-out loss against steps (``data``: columns split, replicate, step,
    value; mean and 95% band over replicates, each replicate frozen once stopped) and each
    replicate's stop (``stops``: columns step, holdout) as a cross, the median stop dotted."""
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    handles = [
        _mean_band(ax, data[data["split"] == "training"], "C0", "training loss, mean, 95% band"),
        _mean_band(ax, data[data["split"] == "held-out"], "C1", "held-out loss, mean, 95% band"),
    ]
    if len(stops):
        from .plots import mark_stops

        label = f"stop of a replicate ({len(stops)}/{replicates} stopped early)"
        handles += mark_stops(ax, stops["step"], stops["holdout"], "C3", label)
    ax.set_xlim(0, steps)
    ax.set_xlabel("iteration t (steps)")
    ax.set_ylabel("loss f(x_t) (units of f; f* unknown)")
    ax.set_title(f"Early stopping on a held-out split: patience {patience} steps, "
                 f"horizon T = {steps}\n(a stopped replicate keeps its last iterate)",
                 fontsize=10)  # fmt: skip
    ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return fig


def sra_theorem(frame: pd.DataFrame, *, problem: str) -> plt.Figure:
    """The average (1/T) Σ E‖∇f(x_t)‖² at t = T against the horizon T, log–log (``frame`` of
    :func:`analysis.experiments.sra_frame`): the measured mean with its interval, the bound of
    Sra's theorem (conditional when its constants were estimated), and a 1/√T reference
    through the first measured point."""
    from .bounds import BOUNDS

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    f = frame[np.isfinite(frame["mean"])]
    err = [f["mean"] - f["ci_low"].fillna(f["mean"]), f["ci_high"].fillna(f["mean"]) - f["mean"]]
    ax.errorbar(f["T"], f["mean"], yerr=np.clip(np.array(err, dtype=float), 0, None),
                color="C0", marker="o", capsize=3, lw=1.6)  # fmt: skip
    b = frame[np.isfinite(frame["bound"])]
    ax.plot(b["T"], b["bound"], color="C3", marker="s", ms=4, dashes=(4, 2), lw=1.4)
    T0, m0 = float(f["T"].iloc[0]), float(f["mean"].iloc[0])
    T = np.geomspace(f["T"].min(), f["T"].max(), 20)
    ax.plot(T, m0 * np.sqrt(T0 / T), color="0.5", ls=":", lw=1.2)
    provenance = next((p for p in b["provenance"] if p), "certified constants")
    provenance = provenance.replace("sigma_sq", "σ²")
    citation = BOUNDS["sra_nonconvex"].citation.split(";")[0]
    statuses = ", ".join(f"T={t}: {s}" for t, s in zip(frame["T"], frame["status"], strict=True))
    handles = [
        Line2D([], [], color="C0", marker="o", label="measured (1/T) Σ E‖∇f(x_t)‖², interval"),
        Line2D([], [], color="C3", marker="s", ms=4, dashes=(4, 2),
               label=f"bound Δ/(Tη) + Lησ²/2 ({provenance})"),
        Line2D([], [], color="0.5", ls=":", label="reference slope 1/√T"),
    ]  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon T (steps); step η = c/√T")
    ax.set_ylabel("(1/T) Σ_{t<T} E‖∇f(x_t)‖² (squared gradient units)")
    heading = f"Sra's theorem on the {problem} (nonconvex), SGD with replacement"
    ax.set_title(heading + "\n" + textwrap.fill(citation, 95), fontsize=9)
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    fig.text(0.01, 0.01, f"verdicts at t = T: {statuses}", fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
