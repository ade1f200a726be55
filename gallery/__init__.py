"""``sgdlab-gallery [--quick] [--out DIR]``: regenerate every figure of the lecture.

A driver on top of the three packages (it runs experiments with ``sgdlab`` and draws them with
``analysis``, which itself never runs an optimizer).

The autodiff figures (:mod:`analysis.autodiff_figures`) and one figure per experiment of
``conf/experiment/``: each experiment's jobs (its ``hydra.sweeper.params``, or its one run) are
run in this process with :func:`sgdlab.run`, written as a multirun directory (``run.nc`` and
``.hydra/overrides.yaml`` per job, what ``sgdlab experiment=NAME`` writes) in a temporary
folder and collected, and the experiment's figure is drawn by the same code as the
report's (:func:`analysis.experiments.experiment_figures`). ``--quick`` runs smaller versions
(fewer replicates and steps) for the tests. Writes ``DIR/<figure>.png`` (default
``docs/figures``) and prints each figure's path and time.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import pandas as pd
import xarray as xr
import yaml

__all__ = ["EXPERIMENTS", "QUICK", "main", "run_experiment"]

# experiment: the figure it contributes (file stem written by experiment_figures/run_figures)
EXPERIMENTS = {
    "sampling_mean": "sampling_mean",
    "reshuffling": "reshuffling",
    "early_stopping": "early_stopping",
    "sra_theorem": "sra_theorem",
    "step_sizes": "step_size_sweep",
    "region_of_confusion": "region_of_confusion",
}
QUICK = {  # smaller versions for --quick (the tests), same figures: (overrides, smaller sweep)
    "sampling_mean": (["replicates=400"], {}),
    "reshuffling": (["replicates=40", "steps=3200"], {}),
    "early_stopping": (["replicates=8", "steps=600"], {}),
    "sra_theorem": (["replicates=8"], {"steps": ["100", "400"]}),
    "step_sizes": (["replicates=4", "steps=200"], {"optimizer.lr": ["0.1", "10"]}),
    "region_of_confusion": (["replicates=16", "steps=400"], {}),
}


def sweep_params(experiment: str) -> dict[str, list[str]]:
    """``{key: [values]}`` of an experiment's own sweep (``hydra.sweeper.params``; {} for one
    run), read from its file in ``conf/experiment``."""
    from sgdlab.config import conf_dir

    text = (Path(conf_dir()) / "experiment" / f"{experiment}.yaml").read_text()
    params = ((yaml.safe_load(text) or {}).get("hydra") or {}).get("sweeper", {}).get("params")
    return {k: [v.strip() for v in str(vals).split(",")] for k, vals in (params or {}).items()}


def run_experiment(
    experiment: str, out_dir: Path, overrides: list[str] = (), sweep: dict | None = None
) -> xr.Dataset:
    """Run every job of ``experiment`` (with ``overrides``; ``sweep`` replaces some of its swept
    keys' values) into the multirun directory ``out_dir`` and return the collected sweep, or
    the dataset of a one-run experiment."""
    import sgdlab
    from analysis.collect import collect
    from sgdlab.io import write_dataset

    params = sweep_params(experiment) | (sweep or {})
    base = [f"experiment={experiment}", *overrides]
    if not params:
        return sgdlab.run(base)
    jobs = [[f"{k}={v}" for k, v in zip(params, combo, strict=True)]
            for combo in itertools.product(*params.values())]  # fmt: skip
    for i, job in enumerate(jobs):
        job_dir = out_dir / str(i)
        (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([*job, *base]))
        write_dataset(sgdlab.run([*base, *job]), job_dir / "run.nc")
    return collect(out_dir)


def experiment_figure(experiment: str, out: Path, quick: bool, work: Path) -> Path:
    """Run ``experiment`` (smaller with ``quick``) in ``work/<experiment>`` and write its
    figure as ``out/<experiment>.png``."""
    from analysis.checks import check_all
    from analysis.experiments import experiment_figures
    from analysis.figures import run_figures, sweep_figures

    runs = work / experiment
    overrides, sweep = QUICK[experiment] if quick else ([], {})
    ds = run_experiment(experiment, runs, overrides, sweep)
    keys = tuple(yaml.safe_load(ds.attrs.get("swept_keys", "[]")) or [])
    stem = EXPERIMENTS[experiment]
    figures_dir = runs / "figures"
    if not keys:
        paths = run_figures(ds, check_all(ds).checks, figures_dir)
    elif stem == "step_size_sweep":
        empty = pd.DataFrame(columns=["theorem", "step", "quantity", "bound", "status"])
        paths = sweep_figures(ds, empty, list(keys), figures_dir)
    else:
        paths = experiment_figures(ds, pd.DataFrame(), keys, figures_dir)
    target = out / f"{experiment}.png"
    target.write_bytes(paths[stem].read_bytes())
    return target


def autodiff_figures(out: Path, quick: bool) -> list[Path]:
    """The three autodiff figures as ``out/backprop.png``, ``forward_vs_reverse.png`` and
    ``matrix_chain.png``; the timings go up to n = 10⁴ (10³ with ``quick``)."""
    from analysis import autodiff_figures as af
    from analysis import plots

    ns = [10, 30, 100, 300, 1000] + ([] if quick else [3000, 10000])
    return [
        plots.save(af.backprop()[0], out / "backprop.png"),
        plots.save(af.forward_vs_reverse(af.gradient_timings(ns)), out / "forward_vs_reverse.png"),
        plots.save(af.matrix_chain()[0], out / "matrix_chain.png"),
    ]


def main(argv: list[str] | None = None) -> int:
    """Console entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="sgdlab-gallery", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs (under a minute)")
    parser.add_argument("--out", default="docs/figures", help="folder for the PNG files")
    parser.add_argument("--only", nargs="*", help="experiments or 'autodiff' (default: all)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = args.only or ["autodiff", *EXPERIMENTS]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sgdlab-gallery-") as work:
        for name in wanted:
            t0 = time.perf_counter()
            paths = (
                autodiff_figures(out, args.quick)
                if name == "autodiff"
                else [experiment_figure(name, out, args.quick, Path(work))]
            )
            for p in paths:
                print(f"{p}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"sgdlab-gallery: {len(wanted)} groups in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
