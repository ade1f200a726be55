"""Words for a newcomer: the verdict in plain words, each theorem's name, formula and citation,
and a caption for each figure of a report. Everything is derived from one place: names from
:data:`analysis.plots.THEOREM_NAMES`, citations from :data:`analysis.bounds.BOUNDS`, formulas
from the ``Bound ...::`` block of each bound function's docstring in :mod:`analysis.bounds`.
"""

from __future__ import annotations

import pandas as pd

from .bounds import BOUNDS
from .plots import THEOREM_NAMES, theorem_label
from .quantities import label

__all__ = ["caption", "formula", "plain_verdict", "theorems_table"]


def formula(theorem: str) -> str:
    """The displayed formula of ``theorem``: the indented lines after the first line ending in
    ``::`` of its bound function's docstring ("" when there is none)."""
    doc = (BOUNDS[theorem].fn.__doc__ or "") if theorem in BOUNDS else ""
    lines = doc.splitlines()
    for k, line in enumerate(lines):
        if line.rstrip().endswith("::"):
            block = []
            for nxt in lines[k + 1 :]:
                if nxt.strip() == "":
                    if block:
                        break
                    continue
                if not nxt.startswith(" " * 8):
                    break
                block.append(nxt.strip())
            return "\n".join(block)
    return ""


def theorems_table(theorems) -> pd.DataFrame:
    """One row per theorem id of ``theorems`` (in that order, once each): name, what kind of
    value it gives (exact value or upper bound), the quantity it bounds, formula, citation."""
    rows = []
    for th in dict.fromkeys(theorems):
        if th not in BOUNDS:
            continue
        b = BOUNDS[th]
        rows.append({
            "theorem": THEOREM_NAMES.get(th, th),
            "gives": "exact value" if b.exact else "upper bound",
            "quantity": label(b.quantity),
            "formula": formula(th),
            "citation": b.citation,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["theorem", "gives", "quantity", "formula", "citation"])


def plain_verdict(summary: pd.DataFrame, sweep: bool = False) -> str:
    """The outcome in plain words, before any statistics: which theorems the data agree with,
    which they contradict, which could not be decided, and how many did not apply."""
    if summary.empty:
        return "No theorem was checked."
    names = summary.assign(name=summary["theorem"].map(theorem_label))
    where = "some jobs of the sweep" if sweep else "this run"
    parts = []
    bad = names.loc[names["status"] == "violated", "name"].unique()
    if len(bad):
        parts.append(f"The measurements contradict {len(bad)} theorem(s) on {where}: "
                     f"{'; '.join(bad)}.")  # fmt: skip
    good = names.loc[names["status"] == "holds", "name"].unique()
    if len(good):
        parts.append(f"The measurements agree with {len(good)} theorem(s): {'; '.join(good)}.")
    unsure = names.loc[names["status"] == "inconclusive", "name"].unique()
    if len(unsure):
        parts.append(f"Undecided (a hint of a violation, not strong enough): {'; '.join(unsure)}.")
    skipped = names.loc[names["status"] == "not_applicable", "theorem"].nunique()
    if skipped:
        parts.append(f"{skipped} theorem(s) do not apply here (their assumptions are not met or "
                     "not certified; the reasons are listed below).")  # fmt: skip
    if "constants_provenance" in names:
        cond = names.loc[names["constants_provenance"].fillna("").astype(str)
                         .str.startswith("conditional"), "name"].unique()  # fmt: skip
        if len(cond):
            parts.append("These use constants estimated from the run itself, so their verdict "
                         f"is conditional: {'; '.join(cond)}.")  # fmt: skip
    return " ".join(parts)


CAPTIONS = {
    "constant_traces": "The constants the theorems need (L, μ, σ²), estimated along the run "
    "(mean over replicates); dashed: the value the checks used.",
    "region_of_confusion": "The 1-D iterates (thin: a few replicates; red: their mean with a "
    "95% band) against the region of confusion [min bᵢ/aᵢ, max bᵢ/aᵢ] (grey) and x* (dashed).",
    "step_size_sweep": "Final value against the constant step size, one curve per setting; "
    "1/L and 2/L dotted and dashed, diverged replicates as crosses on the top edge.",
    "loss": "The training loss f(x_t) (f* unknown, so no suboptimality), mean and 95% band.",
    "sampling_mean": "The running mean's squared error against k, with and without "
    "replacement, and the exact formulas σ²/k and σ²(N − k)/(k(N − 1)).",
    "reshuffling": "E‖x − x*‖² at the end of each epoch, log–log, with fitted slopes.",
    "early_stopping": "Training and held-out loss with each replicate's stop.",
    "sra_theorem": "The average E‖∇f‖² at t = T against T, and the bound of Sra's theorem.",
}


def caption(name: str) -> str:
    """The caption under figure ``name`` (a key of a report's figures: ``convergence_<q>``,
    ``replacement[_k]``, ``constant_traces``, ...)."""
    if name.startswith("convergence_"):
        q = name.removeprefix("convergence_")
        return (f"{label(q)} against the iteration: the mean over replicates with its 95% "
                "t band (solid), and each checked theorem's value (named in the legend as an "
                "exact value or an upper bound).")  # fmt: skip
    if name.startswith("replacement"):
        return ("With against without replacement: the same quantity for each sampler against "
                "epochs (one figure per setting of the other swept keys).")  # fmt: skip
    return CAPTIONS.get(name, name.replace("_", " "))
