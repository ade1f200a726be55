"""The ``sgdlab`` command: a ``@hydra.main`` app over the config groups in ``conf/``.

    sgdlab                                   # the default experiment, one run
    sgdlab problem=logistic sampler=reshuffle optimizer.lr=0.05 replicates=16
    sgdlab -m sampler=with_replacement,reshuffle optimizer.lr=0.01,0.1   # joblib sweep
    sgdlab --help | sgdlab --cfg job

Each job writes ``run.nc`` (``output``) into its Hydra output directory and prints a summary.
Before Hydra starts (and so before anything is written), every run of the command line, each
job of a sweep included, is composed and checked; bad input ends with one line on stderr and
exit status 2.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .compose import compose
from .config import conf_dir, register
from .errors import ConfigError
from .io import read_dataset, write_dataset

HYDRA_INFO_FLAGS = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i",
                    "--shell-completion", "-sc", "--resolve", "--package", "-p"}  # fmt: skip
HYDRA_VALUE_FLAGS = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                     "--experimental-rerun"}  # fmt: skip


def summarize(ds, path: Path | None = None) -> str:
    """A few lines: the run, its final suboptimality over replicates (mean ± 95% CI half-width,
    median) for its sampler, divergences, and where the dataset went."""
    a = ds.attrs
    final = ds["suboptimality"].isel(step=-1).values if "suboptimality" in ds else np.array([])
    ok = final[np.isfinite(final)]
    if ok.size:
        half = 1.96 * ok.std(ddof=1) / np.sqrt(ok.size) if ok.size > 1 else float("nan")
        stat = f"{ok.mean():.4g} ± {half:.2g} (95% CI), median {np.median(ok):.4g}"
    else:
        stat = "n/a (f* unknown)"
    lines = [
        f"sgdlab: problem={a['problem']} optimizer={a['optimizer']} schedule={a['schedule']} "
        f"R={a['replicates']} T={a['steps']} b={a['batch_size']} ({a['wall_time_s']:.2f} s)",
        f"  final suboptimality f(x_T) - f* [sampler={a['sampler']}]: {stat}",
        f"  diverged: {a['n_diverged']}/{a['replicates']} replicates",
    ]
    if path is not None:
        lines.append(f"  dataset: {path}")
    return "\n".join(lines)


def task(cfg: DictConfig) -> None:
    """One job: run, write ``run.nc`` atomically into the Hydra output directory, summarize."""
    from .api import run

    ds = run(cfg)
    path = write_dataset(ds, Path(HydraConfig.get().runtime.output_dir) / cfg.output)
    print(summarize(ds, path), flush=True)


class SweepSummary(Callback):
    """At the end of a multirun: one line per job with its overrides and final suboptimality."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = []
        for path in sorted(sweep_dir.glob(f"*/{config.output}")):
            ds = read_dataset(path)
            final = ds["suboptimality"].isel(step=-1).values
            overrides = ds.attrs["overrides"].replace("\n", " ").replace("- ", "").strip()
            rows.append(f"  {overrides}: mean final f - f* = {np.nanmean(final):.4g}  ({path})")
        print(f"sgdlab sweep: {len(rows)} runs in {sweep_dir}", *rows, sep="\n", flush=True)


def _split_args(args: list[str]) -> tuple[list[str], bool, bool]:
    """(overrides, multirun?, info-only?) from the command line."""
    overrides, multirun, info, skip = [], False, False, False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-m", "--multirun"):
            multirun = True
        elif arg.split("=")[0] in HYDRA_INFO_FLAGS:
            info = True
        elif arg in HYDRA_VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-") and not arg.lstrip("+~").startswith("hydra"):
            overrides.append(arg)
    return overrides, multirun, info


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """Every job's override list of a basic sweep (the cartesian product of its choices)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = []
    for o in parsed:
        key = o.get_key_element()
        if o.is_sweep_override():
            choices.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([f"{key}={o.get_value_element_as_str()}"])
    return [list(job) for job in itertools.product(*choices)]


def precheck(args: list[str]) -> None:
    """Compose and check every job the command line will run; raise ConfigError on bad input."""
    from .compose import check_group_choices
    from .runner import prepare

    overrides, multirun, info = _split_args(args)
    check_group_choices(overrides)
    if info:
        return
    jobs = expand_sweep(overrides) if multirun else [overrides]
    for job in jobs:
        prepare(compose(job))


_hydra_main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(
    task
)


def main() -> None:
    """Console entry point: check the command line, then hand it to Hydra."""
    register()
    try:
        precheck(sys.argv[1:])
    except ConfigError as err:
        print(f"sgdlab: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    _hydra_main()


if __name__ == "__main__":
    main()
