"""Figures from tidy DataFrames (seaborn on matplotlib's Agg backend); PNG at 150 dpi.

Every function takes long-format data (one row per replicate and step, say), draws one figure
and returns it; :func:`save` writes it. Bands are the Student-t confidence interval of the mean
over replicates (:data:`LEVEL`, not Bonferroni-corrected: the bands are descriptive, the
verdicts come from ``analysis.checks``). Bounds are dashed lines in the colour of the curve they
bound, one dash pattern per theorem. Legends are titled with the swept key they distinguish.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from . import stats  # noqa: E402
from .quantities import label  # noqa: E402

__all__ = [
    "LEVEL",
    "constant_traces",
    "convergence",
    "facets",
    "region_of_confusion",
    "replacement",
    "save",
    "step_size_sweep",
]

LEVEL = 0.95
DPI = 150
DASHES = [(4, 2), (1, 1.5), (6, 2, 1, 2), (2, 2), (8, 3), (3, 1, 1, 1, 1, 1)]
MARKERS = ["v", "^", "s", "D", "P", "o"]  # one per theorem, so that coinciding bounds show
THEOREM_NAMES = {  # plain names for titles and legends (citations: analysis.bounds.BOUNDS)
    "sra_nonconvex": "Sra's theorem (Reddi et al. = Ghadimi–Lan)",
    "bcn_4_6": "Bottou–Curtis–Nocedal Thm 4.6",
    "bcn_4_7": "Bottou–Curtis–Nocedal Thm 4.7",
    "bcn_4_8": "Bottou–Curtis–Nocedal Thm 4.8",
    "bcn_4_10": "Bottou–Curtis–Nocedal Thm 4.10",
    "sc_constant_step": "strongly convex, constant step (theory §3(a))",
    "nsw_2_1": "Needell–Srebro–Ward Thm 2.1",
    "rakhlin_1t": "Rakhlin–Shamir–Sridharan, step 1/(μt)",
    "convex_averaging": "convex, averaged iterate (theory §3(d))",
    "rr_mkr": "random reshuffling, Mishchenko–Khaled–Richtárik",
    "fpc_minibatch": "finite-population correction (theory §6(a))",
    "region_of_confusion": "region of confusion, stationary value (theory §5)",
}


def theorem_label(theorem: str) -> str:
    """``name (exact)`` or ``name (bound)``: the theorem's plain name and whether its value is
    an equality (:attr:`analysis.bounds.Bound.exact`) or an upper bound."""
    from .bounds import BOUNDS

    exact = theorem in BOUNDS and BOUNDS[theorem].exact
    return f"{THEOREM_NAMES.get(theorem, theorem)} ({'exact' if exact else 'bound'})"


def wrap(title: str, width: int = 80) -> str:
    """``title`` wrapped to lines of at most ``width`` characters (nothing clipped)."""
    return "\n".join(textwrap.fill(line, width) for line in title.split("\n"))


STEP_LABEL = "iteration t (steps)"
EPOCH_LABEL = "epoch t·b/n (passes over the data)"
X_LABELS = {  # the x axes a convergence figure can use (column of the data: axis label)
    "step": STEP_LABEL,
    "epoch": EPOCH_LABEL,
    "grad_evals": "per-sample gradient evaluations (SVRG's snapshots included)",
    "wall_time": "wall time of the optimizer steps (s; the run's mean time per step × t)",
}


def t_band(values: pd.Series) -> tuple[float, float]:
    """Two-sided :data:`LEVEL` Student-t interval of the mean (the band of every curve)."""
    iv = stats.mean_interval(np.asarray(values, dtype=float), alpha=1 - LEVEL, two_sided=True)
    return (iv.low, iv.high) if np.isfinite(iv.low) else (iv.mean, iv.mean)


def save(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` as a 150 dpi PNG and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _palette(data: pd.DataFrame, hue: str | None) -> dict | None:
    if hue is None:
        return None
    levels = list(pd.unique(data[hue]))
    colours = sns.color_palette(None if len(levels) <= 10 else "husl", n_colors=len(levels))
    return dict(zip(levels, colours, strict=True))  # no colour used twice


def _scales(ax: plt.Axes, x: np.ndarray, y: np.ndarray, loglog: bool | None) -> None:
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.any():  # nothing drawn (every replicate diverged): no log axis to fit
        return
    x, y = x[keep], y[keep]
    if loglog is None:
        xs = x[x > 0]
        loglog = bool(xs.size and xs.max() / xs.min() >= 100)
    if loglog:
        ax.set_xscale("log")
    if y.size and y.min() > 0 and y.max() / y.min() >= 10:
        ax.set_yscale("log")


def _curves(
    ax: plt.Axes,
    data: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None,
    palette: dict | None,
    points: bool = False,
) -> None:
    """Mean over replicates of ``y`` against ``x`` with its t band, one curve per ``hue``
    level; ``points``: the means as points with t error bars, unjoined (estimates taken only
    at some steps)."""
    keep = np.isfinite(data[y].to_numpy(float))  # a diverged replicate's values are ±inf
    finite = data[keep]
    if not keep.all() and "replicate" in data:  # say so: the mean is over the others
        who = ["replicate"] + ([hue] if hue else [])  # replicate r of each curve
        count = len(data.loc[~keep, who].drop_duplicates())
        ax.annotate(f"non-finite values of {count} diverged replicate(s) left out", (0.01, 0.01),
                    xycoords="axes fraction", fontsize=7, color="0.4")  # fmt: skip
    if finite.empty:
        ax.text(0.5, 0.5, "no finite value to draw\n(every replicate diverged)",
                transform=ax.transAxes, ha="center", va="center")  # fmt: skip
        return
    if points:
        sns.lineplot(
            data=finite, x=x, y=y, hue=hue, palette=palette, errorbar=t_band, estimator="mean",
            ax=ax, legend=hue is not None, err_style="bars", marker="o", linestyle="", ms=5,
        )  # fmt: skip
        return
    # curves: the means and t bands of every (level, x) cell in one grouped pass (seaborn's
    # per-cell callback was a large part of a sweep report's time); drawn as seaborn does
    # (a line per level, sorted by x, its band at alpha 0.2), levels in seaborn's order
    bands = mean_bands(finite, [hue, x] if hue else [x], y)
    levels = _levels(finite[hue]) if hue else [None]
    for level in levels:
        cell = bands[bands[hue] == level] if hue else bands
        colour = palette[level] if hue else sns.color_palette()[0]
        ax.plot(cell[x], cell["mean"], color=colour, label=str(level) if hue else None)
        ax.fill_between(cell[x], cell["low"], cell["high"], color=colour, alpha=0.2, lw=0)


def mean_bands(data: pd.DataFrame, by: list[str], y: str) -> pd.DataFrame:
    """Per group of ``by``: the mean of ``y`` and its two-sided :data:`LEVEL` Student-t
    interval (``low``, ``high``; both the mean for a group of one), as columns next to
    ``by``, the groups sorted: :func:`t_band` of every group at once."""
    cells = data.groupby(by, sort=True)[y].agg(["mean", "std", "count"]).reset_index()
    count = cells["count"].to_numpy()
    half = np.zeros(len(cells))
    for n in np.unique(count[count >= 2]):  # one t quantile per group size
        rows = count == n
        q = stats.t_quantile(1 - (1 - LEVEL) / 2, int(n) - 1)
        half[rows] = q * cells["std"].to_numpy()[rows] / np.sqrt(n)
    half = np.where(np.isfinite(half), half, 0.0)
    cells["low"], cells["high"] = cells["mean"] - half, cells["mean"] + half
    return cells


def _levels(values: pd.Series) -> list:
    """The hue levels in seaborn's order: sorted when numeric, else as they first appear."""
    levels = list(pd.unique(values))
    return sorted(levels) if pd.api.types.is_numeric_dtype(values) else levels


def convergence(
    data: pd.DataFrame,
    bounds: pd.DataFrame | None = None,
    *,
    quantity: str,
    hue: str | None = None,
    x: str = "step",
    loglog: bool | None = None,
    title: str | None = None,
    note: str = "",
    rate: tuple[float, str] | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Mean of ``value`` over replicates against ``x`` (a band per curve), one curve per ``hue``
    level; ``bounds`` (columns ``x``, ``bound``, ``theorem`` and ``hue``) dashed on top; ``note``
    (e.g. what diverged and why) written under the axes; ``rate`` = (p, text): a grey
    reference line ∝ x^(−p) through the mean at the last step, labelled ``text`` (the rate a
    theorem predicts), on log–log axes only. Drawn into ``ax`` when given (a facet; the
    caller lays the figure out), else into a new figure.

    Log–log when the logged steps span two decades (t = 0 is then left out) and the values one.
    """
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(10, 4.8 + (0.4 if note else 0.0)))
    else:
        fig = ax.figure
    d = data[data[x] > 0] if _wants_log(data[x], loglog) else data
    palette = _palette(data, hue)
    _curves(ax, d, x, "value", hue, palette)
    handles = []
    if bounds is not None and len(bounds):
        b = bounds[np.isfinite(bounds["bound"])]
        b = b[b[x] > 0] if _wants_log(data[x], loglog) else b
        for k, (theorem, g) in enumerate(b.groupby("theorem", sort=False)):
            dash, marker = DASHES[k % len(DASHES)], MARKERS[k % len(MARKERS)]
            # one run: each theorem its own colour; a sweep: each curve's colour
            own = sns.color_palette()[(k + 1) % 10]
            groups = g.groupby(hue, sort=False) if hue else [(None, g)]
            for level, gg in groups:
                colour = palette[level] if hue else own
                gg = gg.sort_values(x)
                ax.plot(gg[x], gg["bound"], color=colour, dashes=dash, lw=1.4, marker=marker,
                        ms=4, mfc="none", gid=f"bound:{theorem}")  # fmt: skip
            key = "0.3" if hue else own
            text = theorem_label(theorem) + (" (in each curve's colour)" if hue else "")
            handles.append(Line2D([], [], color=key, dashes=dash, marker=marker, ms=4,
                                  mfc="none", label=text))  # fmt: skip
    _scales(ax, d[x].to_numpy(float), d["value"].to_numpy(float), _wants_log(data[x], loglog))
    if rate is not None and ax.get_xscale() == "log" and ax.get_yscale() == "log" and not hue:
        means = d[np.isfinite(d["value"])].groupby(x)["value"].mean()
        means = means[(means.index > 0) & (means > 0)]
        if len(means) >= 2:
            t = np.geomspace(means.index.min(), means.index.max(), 30)
            anchor_t, anchor_v = float(means.index[-1]), float(means.iloc[-1])
            ax.plot(t, anchor_v * (t / anchor_t) ** (-rate[0]), color="0.45", ls=":", lw=1.3,
                    gid="reference")  # fmt: skip
            handles.append(Line2D([], [], color="0.45", ls=":", label=rate[1]))
    xlabel = X_LABELS.get(x, x)
    ax.set_xlabel(xlabel + (", log axis (0 left out)" if _wants_log(data[x], loglog) else ""))
    ax.set_ylabel(label(quantity))
    symbol = label(quantity, expectation=False).split(" (")[0]
    ax.set_title(wrap(title or f"Convergence of {symbol}", 75), fontsize=10)
    _legend(ax, hue, handles, f"mean over replicates, {LEVEL:.0%} t band", outside=True)
    _log_floor(ax, d["value"].to_numpy(float))
    if not own:
        return fig
    if note:
        fig.text(0.01, 0.01, textwrap.fill(note, 120), fontsize=7, color="firebrick", va="bottom")
        fig.tight_layout(rect=(0, 0.08, 1, 1))
    else:
        fig.tight_layout()
    return fig


def _log_floor(ax: plt.Axes, values: np.ndarray) -> None:
    """On a log y axis, keep the lower limit near the smallest positive mean value, so a band
    whose t interval reaches zero does not stretch the axis over empty decades."""
    v = values[np.isfinite(values) & (values > 0)]
    if ax.get_yscale() == "log" and v.size:
        bottom = ax.get_ylim()[0]
        ax.set_ylim(bottom=max(bottom, float(v.min()) / 5))


def _wants_log(x: pd.Series, loglog: bool | None) -> bool:
    if loglog is not None:
        return loglog
    xs = np.asarray(x, dtype=float)
    xs = xs[np.isfinite(xs) & (xs > 0)]
    return bool(xs.size and xs.max() / xs.min() >= 100)


def _legend(
    ax: plt.Axes, hue: str | None, extra: list, what: str, outside: bool = False,
    points: bool = False,
):  # fmt: skip
    """The legend: the hue levels (or ``what`` for the one curve, a point key if ``points``)
    and the ``extra`` handles; ``outside``: to the right of the axes, covering no data."""
    handles, labels = ax.get_legend_handles_labels()
    if not hue:
        style = {"marker": "o", "ls": "none"} if points else {}
        handles, labels = [Line2D([], [], color=sns.color_palette()[0], **style)], [what]
    handles += extra
    labels += [textwrap.fill(h.get_label(), 42) for h in extra]
    where = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if outside else {}
    if handles:
        ax.legend(handles, labels, title=hue, fontsize=8, title_fontsize=8, **where)


def replacement(
    data: pd.DataFrame, *, quantity: str, sampler: str = "sampler", title: str | None = None
) -> plt.Figure:
    """With against without replacement: ``quantity`` against epochs, one curve per sampler."""
    return convergence(
        data,
        quantity=quantity,
        hue=sampler,
        x="epoch",
        title=title or "With against without replacement",
    )


SYMBOLS = {  # logged constant: (panel title, axis label with symbol and units)
    "L_local": ("largest Hessian eigenvalue", "L (units of f / parameter²)"),
    "mu_local": ("smallest Hessian eigenvalue", "μ (units of f / parameter²)"),
    "sigma_sq": ("per-sample gradient variance", "σ² (squared gradient units)"),
    "pl_ratio": ("Polyak–Łojasiewicz ratio", "μ_PL (units of f / parameter²)"),
}


def constant_traces(
    data: pd.DataFrame,
    used: dict[str, float | dict] | None = None,
    *,
    hue: str | None = None,
    title: str | None = None,
) -> plt.Figure:
    """One panel per ``constant`` (columns step, replicate, constant, value[, hue]): the logged
    estimates as points at their estimate steps (mean, t error bar), and dashed the value a
    theorem used: ``used[constant]`` is one
    number, or ``{hue level: number}`` for one dashed line per job in its curve's colour."""
    names = list(pd.unique(data["constant"]))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), squeeze=False)
    palette = _palette(data, hue)
    for ax, name in zip(axes[0], names, strict=True):
        d = data[data["constant"] == name]
        _curves(ax, d, "step", "value", hue, palette, points=True)
        extra, value = [], (used or {}).get(name)
        if isinstance(value, dict):  # one value per job
            for level, v in value.items():
                if np.isfinite(v) and palette is not None and level in palette:
                    ax.axhline(v, color=palette[level], ls="--", lw=1.2)
            if any(np.isfinite(v) for v in value.values()):
                extra.append(Line2D([], [], color="k", ls="--", label="used (each job's colour)"))
            value = None
        elif value is not None and np.isfinite(value):
            ax.axhline(value, color="k", ls="--", lw=1.2)
            extra.append(Line2D([], [], color="k", ls="--", label=f"used: {value:.4g}"))
        _scales(ax, d["step"].to_numpy(float), d["value"].to_numpy(float), False)
        _flat(ax, d["value"].to_numpy(float), value)
        heading, ylabel = SYMBOLS.get(name, (name, name))
        ax.set_xlabel(STEP_LABEL)
        ax.set_ylabel(ylabel)
        ax.set_title(heading)
        _legend(ax, hue, extra, "estimates (points), mean and t interval", points=True)
    fig.suptitle(title or "Estimated assumption constants along the run")
    fig.tight_layout()
    return fig


def _flat(ax: plt.Axes, values: np.ndarray, used: float | None) -> None:
    """Readable limits for a constant trace: no offset ticks, and a ±5% window when flat."""
    v = values[np.isfinite(values)]
    if ax.get_yscale() == "linear":
        ax.ticklabel_format(axis="y", useOffset=False)
    if v.size and v.max() - v.min() <= 1e-6 * max(abs(v.max()), 1e-300):
        pts = [float(v.mean())] + ([used] if used is not None and np.isfinite(used) else [])
        pad = 0.05 * max(abs(min(pts)), abs(max(pts)), 1e-300)
        ax.set_ylim(min(pts) - pad, max(pts) + pad)


def step_size_sweep(
    data: pd.DataFrame,
    *,
    quantity: str,
    lr: str = "optimizer.lr",
    hue: str | None = None,
    title: str | None = None,
    marks: dict[str, float] | None = None,
    start: float | None = None,
) -> plt.Figure:
    """Final ``quantity`` (column ``value``, one row per replicate; optional bool column
    ``diverged``) against the step size ``lr``: mean with a t band over the replicates that did
    not diverge, one curve per ``hue`` (e.g. optimizer); a step at which some replicates
    diverged is a cross on the top edge in the curve's colour, with their count; ``marks``
    ({label: step}, e.g. 1/L and 2/L) are vertical dotted lines; ``start`` (the value at t = 0)
    a horizontal dash-dotted line: a run that ends above it did worse than not moving."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    palette = _palette(data, hue)
    div = data["diverged"].astype(bool) if "diverged" in data else pd.Series(False, data.index)
    ok = data[~div & np.isfinite(data["value"].to_numpy(float))]
    if len(ok):
        sns.lineplot(
            data=ok, x=lr, y="value", hue=hue, palette=palette, errorbar=t_band, marker="o",
            ax=ax, legend=hue is not None,
        )  # fmt: skip
    extra = []
    if div.any():
        groups = data.groupby(hue, sort=False) if hue else [(None, data)]
        for level, g in groups:
            gd = g[div[g.index]]
            if gd.empty:
                continue
            colour = palette[level] if hue else sns.color_palette()[0]
            counts = gd.groupby(lr).size()
            totals = g.groupby(lr).size()
            ax.plot(counts.index, np.ones(len(counts)), ls="none", marker="X", ms=9,
                    color=colour, transform=ax.get_xaxis_transform(), clip_on=False)  # fmt: skip
            for x_lr, k in counts.items():
                ax.annotate(f"{k}/{totals[x_lr]}", (x_lr, 1), xycoords=("data", "axes fraction"),
                            xytext=(0, -14), textcoords="offset points", ha="center",
                            fontsize=6.5, color=colour)  # fmt: skip
        text = "diverged (replicates diverged/all), left out of the mean"
        extra.append(Line2D([], [], ls="none", marker="X", color="0.3", label=text))
    for k, (name, x) in enumerate((marks or {}).items()):
        if np.isfinite(x):
            ls = (0, (1, 1.5)) if k == 0 else (0, (4, 2))
            ax.axvline(x, color="0.25", ls=ls, lw=1.1)
            extra.append(Line2D([], [], color="0.25", ls=ls, label=f"{name} = {x:.3g}"))
    if start is not None and np.isfinite(start):
        ax.axhline(start, color="0.4", ls="-.", lw=1.0)
        extra.append(Line2D([], [], color="0.4", ls="-.", label=f"value at t = 0: {start:.3g}"))
    ax.set_xscale("log")
    v = ok["value"].to_numpy(float)
    if v.size and v.max() > 0 and (v.min() <= 0 or v.max() / v.min() >= 10):
        floor = v[v > 0].min() if (v > 0).any() else 1e-300
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor / 2)
    ax.set_xlabel(f"step size η₀ ({lr}), log axis")
    ax.set_ylabel(f"final {label(quantity)} at t = T")
    ax.set_title(title or "Step-size sweep: final value at t = T", fontsize=10)
    _legend(ax, hue, extra, "mean over replicates")
    fig.tight_layout()
    return fig


def mark_stops(ax: plt.Axes, steps, values, colour: str, label: str) -> list[Line2D]:
    """Mark where replicates stopped early (crosses at (step, value)) and their median step (a
    dotted vertical line); returns the two legend handles."""
    ax.plot(steps, values, ls="none", marker="x", color=colour, ms=7, zorder=4)
    median = float(np.median(steps))
    ax.axvline(median, color=colour, ls=":", lw=1.2)
    return [
        Line2D([], [], ls="none", marker="x", color=colour, label=label),
        Line2D([], [], color=colour, ls=":", label=f"median stop, t = {median:g}"),
    ]


def region_of_confusion(
    data: pd.DataFrame,
    *,
    lo: float,
    hi: float,
    x_star: float,
    paths: int = 8,
    title: str | None = None,
    ax: plt.Axes | None = None,
    stops: pd.DataFrame | None = None,
) -> plt.Figure:
    """1-D iterates ``x`` against ``step`` (columns step, replicate, x): the first ``paths``
    replicates thin, their mean with a band, the region [lo, hi] shaded and x* dashed; drawn
    into ``ax`` when given (a facet of a sweep), else into a new figure. ``stops`` (columns
    step, x): where early stopping on a held-out split stopped each replicate, as crosses
    with the median stop dotted."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    ax.axhspan(lo, hi, color="0.85")
    for r in list(pd.unique(data["replicate"]))[:paths]:
        g = data[data["replicate"] == r].sort_values("step")
        ax.plot(g["step"], g["x"], color="C0", alpha=0.35, lw=0.8)
    sns.lineplot(data=data, x="step", y="x", errorbar=t_band, color="C3", ax=ax)
    ax.axhline(x_star, color="k", ls="--", lw=1.2)
    shown = min(paths, data["replicate"].nunique())
    region = f"region of confusion [{lo:.3g}, {hi:.3g}]"
    handles = [
        plt.Rectangle((0, 0), 1, 1, color="0.85", label=region),
        Line2D([], [], color="C0", alpha=0.5, label=f"{shown} replicates"),
        Line2D([], [], color="C3", label=f"mean, {LEVEL:.0%} t band"),
        Line2D([], [], color="k", ls="--", label=f"x* = {x_star:.4g}"),
    ]  # fmt: skip
    if stops is not None and len(stops):
        label = f"early stop on held-out split ({len(stops)} replicates)"
        handles += mark_stops(ax, stops["step"], stops["x"], "C2", label)
    ax.legend(handles=handles, fontsize=7 if not own else 8)
    if _wants_log(data["step"], None):
        ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel("iterate x_t (parameter units)")
    ax.set_title(title or "SGD iterates and the region of confusion", fontsize=10 if own else 9)
    if own:
        fig.tight_layout()
    return fig


def facets(count: int, width: float = 5.0, height: float = 3.8, cols: int = 3):
    """A figure with ``count`` panels on a grid of at most ``cols`` columns (one per slice of a
    sweep); returns (figure, flat list of the ``count`` axes used; the rest are hidden)."""
    cols = max(1, min(cols, count))
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]
