"""``sgdlab-report PATH [--strict]``: checks, figures, ``report.md`` and ``report.html``.

PATH is a run directory (holding ``run.nc``), a multirun directory (job directories with
``.hydra/``; ``sweep.nc`` is written if missing), or a ``.nc`` file of either kind. Everything is
written next to the data (or into ``--out``): the CSV tables of :mod:`analysis.checks`, the PNG
figures of :mod:`analysis.figures`, ``report.md`` and a self-contained ``report.html`` (figures
embedded as base64). Exit status: 0; 1 with ``--strict`` on a family-wise significant
violation that rests on certified constants, when the folder is locked by another sgdlab or
cannot be written, or when the report fails; 2 when PATH holds no run, or a file that is not an
sgdlab dataset this version reads. A sweep's failed and missing jobs are listed by their
overrides. ``--allow-estimated`` lets theorems use constants estimated from the run; such rows
say "conditional on estimated …".

:func:`write_run_report` is what the ``sgdlab`` command calls after a single run.
"""

from __future__ import annotations

import argparse
import base64
import html
import sys
from pathlib import Path

import pandas as pd
import xarray as xr
import yaml

from . import stats
from .checks import COVERAGE_PREFIX, CheckResult, check_all, write_tables
from .collect import cells, collect, job_dataset
from .explain import caption, plain_verdict, theorems_table
from .figures import run_figures, sweep_figures
from .plots import THEOREM_NAMES, theorem_label

__all__ = [
    "main",
    "strict_failure",
    "verdict",
    "verdict_of",
    "write_run_report",
    "write_sweep_report",
]

# --------------------------------------------------------------------------- documents


def _table(df: pd.DataFrame, columns: list[str] | None = None) -> tuple[str, pd.DataFrame]:
    return ("table", df[columns] if columns else df)


def _md_text(text) -> str:
    """Text for Markdown with raw HTML disarmed (a config string such as ``problem.data`` may
    hold ``<script>``): &, < and > as entities, which every renderer shows as the characters."""
    return html.escape(str(text), quote=False)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "–" if v != v else f"{v:.4g}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md(blocks: list[tuple[str, object]], out_dir: Path) -> str:
    lines = []
    for kind, body in blocks:
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + _md_text(body), ""]
        elif kind in ("p", "verdict"):
            lines += [_md_text(body), ""]
        elif kind == "table":
            df = body
            lines.append("| " + " | ".join(map(str, df.columns)) + " |")
            lines.append("|" + "---|" * len(df.columns))
            for row in df.itertuples(index=False):
                lines.append("| " + " | ".join(_md_text(_fmt(v)) for v in row) + " |")
            lines.append("")
        elif kind == "img":
            lines += [f"![{body.stem}]({body.relative_to(out_dir).as_posix()})", ""]
        elif kind == "figure":
            path, text = body
            lines += [f"![{path.stem}]({path.relative_to(out_dir).as_posix()})", "",
                      f"*{text}*", ""]  # fmt: skip
        elif kind == "pre":
            lines += ["```", str(body), "```", ""]
        elif kind == "toc":
            lines += ["Contents: " + " · ".join(f"[{h}](#{_anchor(h)})" for h in _headings(blocks)),
                      ""]  # fmt: skip
    return "\n".join(lines)


def _anchor(heading: str) -> str:
    """The HTML id (and Markdown anchor) of a section heading."""
    return "".join(c if c.isalnum() else "-" for c in heading.lower()).strip("-")


def _headings(blocks) -> list[str]:
    return [str(body) for kind, body in blocks if kind == "h2"]


STATUS_COLOURS = {"holds": "#1a7f37", "violated": "#cf222e", "inconclusive": "#9a6700",
                  "not_applicable": "#57606a", "unknown": "#9a6700"}  # fmt: skip


def _html(blocks: list[tuple[str, object]], title: str) -> str:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:1180px;"
        "margin:auto;padding:0 12px;line-height:1.45}table{border-collapse:collapse;"
        "font-size:12px;max-width:100%}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:left;vertical-align:top;max-width:30em;overflow-wrap:anywhere}"
        ".wide{overflow-x:auto;max-width:100%}img{max-width:100%}figure{margin:1em 0}"
        "figcaption{font-size:13px;color:#444}pre{white-space:pre-wrap;font-size:12px;"
        "margin:0}nav a{margin-right:1em}.verdict{font-size:16px;border-left:4px solid #888;"
        "padding-left:10px}</style></head><body>",
    ]
    for kind, body in blocks:
        if kind == "h2":
            parts.append(f"<h2 id='{_anchor(str(body))}'>{html.escape(str(body))}</h2>")
        elif kind in ("h1", "h3"):
            parts.append(f"<{kind}>{html.escape(str(body))}</{kind}>")
        elif kind == "verdict":
            parts.append(f"<p class='verdict'>{html.escape(str(body))}</p>")
        elif kind == "toc":
            links = "".join(f"<a href='#{_anchor(h)}'>{html.escape(h)}</a>"
                            for h in _headings(blocks))  # fmt: skip
            parts.append(f"<nav><b>Contents:</b> {links}</nav>")
        elif kind == "pre":
            parts.append(f"<pre>{html.escape(str(body))}</pre>")
        elif kind == "figure":
            path, text = body
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(path.stem)}' "
                         f"src='data:image/png;base64,{data}'><figcaption>"
                         f"{html.escape(text)}</figcaption></figure>")  # fmt: skip
        elif kind == "p":
            parts.append(f"<p>{html.escape(str(body))}</p>")
        elif kind == "table":
            df = body
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
            rows = []
            for row in df.itertuples(index=False):
                cells_ = []
                for v in row:
                    text = html.escape(_fmt(v).replace("\\|", "|")).replace("\n", "<br>")
                    colour = STATUS_COLOURS.get(str(v))
                    cells_.append(f"<td style='color:{colour}'><b>{text}</b></td>" if colour
                                  else f"<td>{text}</td>")  # fmt: skip
                rows.append("<tr>" + "".join(cells_) + "</tr>")
            parts.append(f"<div class='wide'><table><tr>{head}</tr>{''.join(rows)}</table></div>")
        elif kind == "img":
            data = base64.b64encode(Path(body).read_bytes()).decode("ascii")
            parts.append(
                f"<p><img alt='{html.escape(body.stem)}' src='data:image/png;base64,{data}'></p>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def _write(blocks, out_dir: Path, title: str) -> dict[str, Path]:
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(_md(blocks, out_dir), encoding="utf-8")
    page.write_text(_html(blocks, title), encoding="utf-8")
    return {"report_md": md, "report_html": page}


def _run_facts(ds: xr.Dataset) -> str:
    a = ds.attrs
    cfg = yaml.safe_load(a.get("config", "{}")) or {}
    lr = cfg.get("optimizer", {}).get("lr", "?")
    return (
        f"Problem: {a.get('problem')} (n = {a.get('n')}, d = {a.get('d')}). "
        f"Algorithm: {a.get('optimizer')} with η₀ = {lr}, schedule {a.get('schedule')}, "
        f"sampler {a.get('sampler')}, batch size b = {a.get('batch_size')}. "
        f"R = {a.get('replicates')} replicates, T = {a.get('steps')} steps."
    )


SUMMARY_COLS = ["theorem", "status", "steps_checked", "coverage", "ratio_final",
                "ratio_final_low", "ratio_final_high", "ratio_max", "p_value",
                "constants_provenance", "reason"]  # fmt: skip


def verdict(
    summary: pd.DataFrame, alpha: float = 0.05, divergence: str = "", sweep: bool = False
) -> str:
    """The verdict of a run (or of each job of a ``sweep``) in plain words: the theorems
    counted by status, what ``violated`` means (family-wise error over checkpoints and
    theorems), which rows rest on estimated constants or cover only early steps, and what
    diverged, e.g.
    ``Verdict: 3 holds, 9 not_applicable. Each theorem is tested at ...``"""
    counts = summary["status"].value_counts()
    order = ["violated", "inconclusive", "holds", "not_applicable"]
    text = ", ".join(f"{counts[s]} {s}" for s in order if s in counts)
    scope = "each job" if sweep else "the run"
    out = (
        f"Verdict: {text}. Each theorem is tested at a few checkpoints fixed before the data "
        "are read (about 8 steps spread geometrically up to T, and the last step); a bound is "
        f"called violated only if the replicates contradict it with at most a {alpha:.2g} chance "
        f"of a false alarm over all checkpoints and theorems of {scope} together (Bonferroni "
        "within a theorem, Holm across theorems)."
    )
    if "constants_provenance" in summary:
        prov = summary["constants_provenance"].fillna("").astype(str)
        cond = summary.loc[prov.str.startswith("conditional"), "theorem"].unique()
        if len(cond):
            out += (
                f" Conditional on constants estimated from the run, not certified: "
                f"{', '.join(cond)}."
            )
    if "coverage" in summary:
        prefix = summary.loc[summary["coverage"] == COVERAGE_PREFIX, "theorem"].unique()
        if len(prefix):
            out += (
                f" Checked only on the dense prefix of the log grid (early steps): "
                f"{', '.join(prefix)}."
            )
    if divergence:
        out += f" {divergence[0].upper()}{divergence[1:]}."
    return out


def _results(applied: pd.DataFrame, keys: list[str] = ()) -> pd.DataFrame:
    """The short results table: per theorem (and job) its name, outcome, measured/bound at T
    with its interval, and whether its constants were certified or estimated."""
    out = applied[[*keys]].copy() if keys else pd.DataFrame(index=applied.index)
    out["theorem"] = applied["theorem"].map(theorem_label)
    out["outcome"] = applied["status"]
    if "ratio_final" in applied:
        out["measured / theorem at T"] = [
            f"{r:.3g} [{lo:.3g}, {hi:.3g}]" if pd.notna(r) else "–"
            for r, lo, hi in zip(applied["ratio_final"], applied["ratio_final_low"],
                                 applied["ratio_final_high"], strict=True)
        ]  # fmt: skip
    if "constants_provenance" in applied:
        out["constants"] = applied["constants_provenance"].fillna("")
    return out.reset_index(drop=True)


def _not_applied(summary: pd.DataFrame, keys: list[str] = ()) -> pd.DataFrame:
    """Theorem name and the reason it does not apply, one row per theorem (and job)."""
    rows = summary[summary["status"] == "not_applicable"]
    out = rows[[*keys]].copy() if keys else pd.DataFrame(index=rows.index)
    out["theorem"] = rows["theorem"].map(theorem_label)
    out["why it does not apply"] = rows["reason"]
    return out.reset_index(drop=True)


def strict_failure(summary: pd.DataFrame) -> bool:
    """Whether ``--strict`` fails: a family-wise significant violation that rests on certified
    constants (a violation conditional on estimated constants does not count)."""
    if summary.empty:
        return False
    prov = summary.get("constants_provenance", pd.Series("", index=summary.index))
    certified = prov.fillna("").astype(str).str.startswith("certified")
    return bool(((summary["status"] == "violated") & certified).any())


# --------------------------------------------------------------------------- run and sweep


def write_run_report(
    ds: xr.Dataset,
    out_dir: str | Path,
    *,
    alpha: float = 0.05,
    result: CheckResult | None = None,
    estimated: str = "forbid",
    x: str = "step",
    phase=None,
) -> dict[str, Path]:
    """Checks (CSV), figures (PNG), verdict.txt, report.md and report.html of one run, into
    ``out_dir``; returns ``{name: path}`` (names: checks, constants, assumptions, summary, the
    figures, verdict, report_md, report_html). ``x``: the convergence figures' x axis (step,
    epoch, grad_evals or wall_time; :func:`analysis.figures.x_axis`). ``phase(name)`` is
    called as the checks, figures and report begin (:func:`sgdlab.progress.phases`)."""
    phase = phase or (lambda name: None)
    out_dir = Path(out_dir)
    phase("checks")
    result = result or check_all(ds, alpha=alpha, estimated=estimated)
    paths = write_tables(result, out_dir)
    phase("figures")
    figs = run_figures(ds, result.checks, out_dir, x=x)
    paths |= figs
    text = verdict(result.summary, alpha, result.divergence)
    paths["verdict"] = out_dir / "verdict.txt"
    paths["verdict"].write_text(text + "\n", encoding="utf-8")
    phase("report")
    summary = result.summary
    applied = summary[summary["status"] != "not_applicable"]
    blocks = [
        ("h1", f"sgdlab report: {ds.attrs.get('problem')} with {ds.attrs.get('optimizer')}"),
        ("verdict", plain_verdict(summary)),
        ("p", _run_facts(ds)),
        ("toc", None),
        ("h2", "Results by theorem"),
        _table(_results(applied), None),
        ("h2", "Figures"),
        *[("figure", (p, caption(name))) for name, p in figs.items()],
        ("h2", "Theorems"),
        _table(theorems_table(applied["theorem"])),
        ("h2", "Theorems that do not apply"),
        _table(_not_applied(summary), None),
        ("h2", "Statistical details"),
        ("p", text),
        ("p", "Overrides: " + " ".join(yaml.safe_load(ds.attrs.get("overrides", "[]")) or [])),
        ("h3", "Bound checks"),
        _table(summary, SUMMARY_COLS),
        ("h3", "Assumption checks"),
        _table(result.assumptions),
        ("h3", "Constants used by each bound"),
        _table(result.constants),
    ]
    return paths | _write(blocks, out_dir, "sgdlab report")


def check_sweep(
    sweep: xr.Dataset, *, alpha: float = 0.05, estimated: str = "forbid"
) -> CheckResult:
    """Check every job of a collected sweep (each job's family-wise error at most ``alpha``);
    each table gets one column per swept key, and ``divergence`` names the jobs that diverged."""
    keys = yaml.safe_load(sweep.attrs.get("swept_keys", "[]")) or []
    parts: dict[str, list[pd.DataFrame]] = {"checks": [], "constants": [], "assumptions": [],
                                            "summary": []}  # fmt: skip
    diverged = []
    for where, ds in cells(sweep):
        result = check_all(ds, alpha=alpha, estimated=estimated)
        for name, frames in parts.items():
            df = getattr(result, name).copy()
            for k in reversed(keys):
                df.insert(0, k, where[k])
            frames.append(df)
        if result.divergence:
            job = ", ".join(f"{k}={v}" for k, v in where.items())
            diverged.append(f"{job}: {result.divergence}" if job else result.divergence)
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    return CheckResult(**tables, divergence="; ".join(diverged))


def write_sweep_report(
    sweep: xr.Dataset, out_dir: str | Path, *, alpha: float = 0.05, estimated: str = "forbid"
) -> dict[str, Path]:
    """Checks of every job, sweep figures, verdict.txt, report.md and report.html into
    ``out_dir``."""
    out_dir = Path(out_dir)
    keys = yaml.safe_load(sweep.attrs.get("swept_keys", "[]")) or []
    result = check_sweep(sweep, alpha=alpha, estimated=estimated)
    paths = write_tables(result, out_dir)
    text = verdict(result.summary, alpha, result.divergence, sweep=True)
    paths["verdict"] = out_dir / "verdict.txt"
    paths["verdict"].write_text(text + "\n", encoding="utf-8")
    figs = sweep_figures(sweep, result.checks, keys, out_dir)
    paths |= figs
    some = result.summary.groupby("theorem")["status"].transform(
        lambda st: (st != "not_applicable").any()
    )  # theorems that apply to at least one job get a column
    if keys and some.any():
        status = (
            result.summary[some.astype(bool)]
            .pivot_table(
                index=keys, columns="theorem", values="status", aggfunc="first", sort=False
            )
            .rename(columns=THEOREM_NAMES)
            .reset_index()
        )
    elif keys:
        status = result.summary[keys].drop_duplicates()
    else:
        status = result.summary[["theorem", "status"]]
    a = sweep.attrs
    n_jobs = len(result.summary.groupby(keys)) if keys else 1
    summary = result.summary
    applied = summary[summary["status"] != "not_applicable"]
    blocks = [
        ("h1", f"sgdlab sweep report: {a.get('problem', 'several problems')}"),
        ("verdict", plain_verdict(summary, sweep=True)),
        ("p", f"Swept keys: {', '.join(keys) or 'none'}; {n_jobs} jobs from {a.get('sweep_dir')}."),
        ("toc", None),
        ("h2", "Status per job and theorem"),
        _table(status),
        ("h2", "Results by theorem"),
        _table(_results(applied, keys), None),
        ("h2", "Figures"),
        *[("figure", (p, caption(name))) for name, p in figs.items()],
        ("h2", "Theorems"),
        _table(theorems_table(applied["theorem"])),
        ("h2", "Theorems that do not apply"),
        _table(_not_applied(summary, keys), None),
        ("h2", "Statistical details"),
        ("p", text),
        ("h3", "Bound checks"),
        _table(applied, [*keys, *SUMMARY_COLS]),
        ("p", "The assumption checks and constants of every job are in assumptions.csv and "
              "constants.csv."),
    ]  # fmt: skip
    lost = unfinished_jobs(sweep)
    if len(lost):  # right after the verdict: what the sweep does not cover
        blocks[3:3] = [("h2", "Failed and missing jobs"), _table(lost)]
    return paths | _write(blocks, out_dir, "sgdlab sweep report")


def unfinished_jobs(sweep: xr.Dataset) -> pd.DataFrame:
    """The sweep's failed and missing jobs (its ``failed_jobs``/``missing_jobs`` attributes) as
    a table: job, state and the one-line error."""
    rows = []
    for name, state in (("failed_jobs", "failed"), ("missing_jobs", "missing (no dataset)")):
        for job in yaml.safe_load(sweep.attrs.get(name, "[]") or "[]") or []:
            rows.append({"job": " ".join(job.get("overrides", [])), "state": state,
                         "error": job.get("error", "")})  # fmt: skip
    return pd.DataFrame(rows, columns=["job", "state", "error"])


def summary_of(out: dict[str, Path]) -> pd.DataFrame:
    """The per-theorem summary table a report wrote."""
    return pd.read_csv(out["summary"])


def verdict_of(out: dict[str, Path]) -> str:
    """The verdict sentence a report wrote (verdict.txt)."""
    return out["verdict"].read_text(encoding="utf-8").strip()


# --------------------------------------------------------------------------- command line


def _resolve(path: Path) -> tuple[str, xr.Dataset, Path]:
    """("run" | "sweep", dataset, directory) for a run dir, sweep dir or .nc file."""
    from sgdlab.io import read_dataset, write_dataset

    if path.is_file():
        ds = read_dataset(path)
        return ("sweep" if "swept_keys" in ds.attrs else "run"), ds, path.parent
    if job_dataset(path).is_file():
        return "run", read_dataset(job_dataset(path)), path
    if list(path.glob("*/.hydra")):
        sweep = collect(path)
        write_dataset(sweep, path / "sweep.nc")
        return "sweep", sweep, path
    if (path / "sweep.nc").is_file():
        return "sweep", read_dataset(path / "sweep.nc"), path
    raise FileNotFoundError(f"{path}: no run.nc, sweep.nc or Hydra job directories")


def _level(text: str) -> float:
    """argparse type for --alpha: the message of :func:`analysis.stats.check_alpha`."""
    try:
        return stats.check_alpha(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``sgdlab-report``; returns (and exits with) the status."""
    parser = argparse.ArgumentParser(
        prog="sgdlab-report",
        description="Check a run or a sweep against the convergence theorems and write a report.",
    )
    parser.add_argument("path", type=Path, help="run directory, multirun directory, or .nc file")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on a family-wise significant violation that rests on certified constants",
    )
    parser.add_argument(
        "--alpha",
        type=_level,
        default=0.05,
        help="family-wise error level of a run's checks (all checkpoints and theorems), in (0, 1)",
    )
    parser.add_argument(
        "--allow-estimated",
        action="store_true",
        help="let theorems use constants estimated from the run (checks marked conditional)",
    )
    parser.add_argument(
        "--x",
        choices=["step", "epoch", "grad_evals", "wall_time"],
        default="step",
        help="x axis of a run's convergence figures (default: step)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: PATH)")
    args = parser.parse_args(argv)
    from sgdlab import lock
    from sgdlab.io import DatasetError

    folder = args.out or (args.path.parent if args.path.is_file() else args.path)
    command = " ".join(["sgdlab-report", *map(str, sys.argv[1:] if argv is None else argv)])
    try:
        if args.path.exists():  # one writer per folder: not while a sweep writes there
            lock.acquire(folder, command=command)
        return _report(args)
    except (lock.FolderLocked, DatasetError) as err:
        print(f"sgdlab-report: error: {_first_line(err)}", file=sys.stderr)
        return 1 if isinstance(err, lock.FolderLocked) else 2
    except OSError as err:  # a read-only folder, a full disk
        where = f"{err.filename}: " if err.filename else ""
        print(f"sgdlab-report: error: cannot write the report: {where}{_first_line(err)}",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        lock.release_all()


def _first_line(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def _report(args) -> int:
    """The report of ``sgdlab-report`` (:func:`main`, with its folder locked)."""
    try:
        kind, ds, where = _resolve(args.path)
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f"sgdlab-report: error: {_first_line(err)}", file=sys.stderr)
        return 2
    out_dir = args.out or where
    estimated = "allow" if args.allow_estimated else "forbid"
    try:
        if kind == "sweep":
            paths = write_sweep_report(ds, out_dir, alpha=args.alpha, estimated=estimated)
        else:
            paths = write_run_report(ds, out_dir, alpha=args.alpha, estimated=estimated, x=args.x)
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001 - one line: what failed, non-zero exit
        print(f"sgdlab-report: error: the report failed: {type(err).__name__}: "
              f"{_first_line(err)}", file=sys.stderr)  # fmt: skip
        return 1
    summary = summary_of(paths)
    print(f"sgdlab-report: {kind} {args.path}: {verdict_of(paths)}")
    keys = [c for c in summary.columns[: summary.columns.get_loc("theorem")]]
    for _, row in summary[summary["status"] != "not_applicable"].iterrows():
        job = ", ".join(f"{k}={row[k]}" for k in keys)
        print(f"  {job + ': ' if job else ''}{row['theorem']}: {row['status']}")
    for name, what in (("failed_jobs", "failed"), ("missing_jobs", "missing (no dataset)")):
        for job in yaml.safe_load(ds.attrs.get(name, "[]")) or []:
            error = f": {job['error']}" if job.get("error") else ""
            print(f"  {what}: {' '.join(job['overrides'])}{error}")
    print(f"  report: {paths['report_html']}")
    return 1 if args.strict and strict_failure(summary) else 0


if __name__ == "__main__":
    raise SystemExit(main())
