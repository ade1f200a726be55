"""The ``sgdlab`` command: a ``@hydra.main`` app over the config groups in ``conf/``.

    sgdlab                                   # the default experiment, one run
    sgdlab problem=logistic sampler=reshuffle optimizer.lr=0.05 replicates=16
    sgdlab -m sampler=with_replacement,reshuffle optimizer.lr=0.01,0.1   # a sweep, one job per core
    sgdlab -m 'sampler=glob(*)' 'optimizer.lr=choice(0.01,0.1)'          # Hydra sweep syntax
    sgdlab --config-dir my_conf experiment=mine   # my_conf/experiment/mine.yaml, your own
    sgdlab --help | sgdlab --cfg job

Each job writes ``run.nc`` (``output``) into its Hydra output directory and prints a summary.
Before Hydra starts (and so before anything is written), every run of the command line, each
job of a sweep included, is composed and checked; bad input ends with one line on stderr and
exit status 2.

While it runs, the command holds the lock of its run or sweep folder (:mod:`sgdlab.sweep`): a
second ``sgdlab`` into the same folder is refused. A job that fails is recorded in its folder
(``job.yaml``: the one-line error; the traceback goes to its log) and the others go on; a
re-run of a sweep into the same folder (``hydra.sweep.dir=...``) skips the jobs already done
with the same config (``resume=false`` reruns them all; :mod:`sgdlab.jobs`). The exit status
is 1 when a job or the report failed (after every job has finished), and 1 when the folder
is locked or cannot be written; SIGTERM stops the jobs and exits with 143.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import hydra
import numpy as np
import scipy.special
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from . import jobs, launchers, lock, progress, workers
from .compose import (
    check_group_choices,
    compose,
    compose_many,
    config_dirs,
    expand_sweep,
    hydra_node,
    parse,
    values,
)
from .config import conf_dir, register
from .console import exit_status, fail, log_traceback, one_line, say
from .errors import ConfigError
from .io import write_dataset
from .sweep import FolderLock, SweepSummary  # noqa: F401 - conf/config.yaml names them here


def _f_star(ds) -> float:
    """The run's f*, NaN when it is unknown (e.g. for the mlp)."""
    return float(ds["f_star"]) if "f_star" in ds else float("nan")


def final_values(ds) -> tuple[str, np.ndarray]:
    """What a run is summarized by: a label and one value per replicate, the final
    suboptimality f(x_T) − f*, or the final loss when f* is unknown (e.g. for the mlp)."""
    if "suboptimality" in ds and (np.isfinite(_f_star(ds)) or "loss" not in ds):
        return "suboptimality f(x_T) - f*", ds["suboptimality"].isel(step=-1).values
    if "loss" in ds:
        return "loss f(x_T) (f* unknown)", ds["loss"].isel(step=-1).values
    return "final value", np.array([])


def final_mean(ds) -> tuple[str, float]:
    """The label of :func:`final_values` and their mean over the finite replicates (NaN
    when none is finite): the sweep summary's number for a job."""
    label, final = final_values(ds)
    kept = final[np.isfinite(final)]
    return label, float(np.mean(kept)) if kept.size else float("nan")


def summarize(ds, path: Path | None = None) -> str:
    """A few lines: the run, its final suboptimality over replicates (mean ± 95% CI half-width,
    median; the final loss when f* is unknown) for its sampler, and that of the averaged
    iterate when there is one, divergences and early stops, and where the dataset went."""
    a = ds.attrs
    label, final = final_values(ds)
    lines = [
        f"sgdlab: problem={a['problem']} optimizer={a['optimizer']} schedule={a['schedule']} "
        f"R={a['replicates']} T={a['steps']} b={a['batch_size']} ({a['wall_time_s']:.2f} s)",
        f"  final {label} [sampler={a['sampler']}]: {_spread(final)}",
    ]
    if "avg_loss" in ds:  # Polyak–Ruppert averaging: the iterate the theorems speak of
        avg = ds["avg_loss"].isel(step=-1).values
        if np.isfinite(_f_star(ds)):
            avg = avg - _f_star(ds)
        lines.append(f"  averaged iterate, same measure: {_spread(avg)}")
    lines.append(f"  diverged: {a['n_diverged']}/{a['replicates']} replicates")
    if "holdout_loss" in ds:  # early stopping is on
        stopped = int((ds["stopped_at"].values >= 0).sum())
        lines.append(f"  stopped early (held-out loss): {stopped}/{a['replicates']} replicates")
    if path is not None:
        lines.append(f"  dataset: {path}")
    return "\n".join(lines)


def _spread(values: np.ndarray) -> str:
    """Mean ± Student-t 95% CI half-width and median of the finite ``values`` (one per
    replicate), and how many were finite when not all."""
    ok = values[np.isfinite(values)]
    if not ok.size:
        return "n/a (no finite value)"
    if ok.size == 1:
        text = f"{ok[0]:.4g} (one replicate: no CI)"
    else:  # Student t: R is often small
        # Student t quantile from scipy.special (scipy.stats costs a sweep worker 0.4 s)
        half = scipy.special.stdtrit(ok.size - 1, 0.975) * ok.std(ddof=1) / np.sqrt(ok.size)
        text = f"{ok.mean():.4g} ± {half:.2g} (95% CI), median {np.median(ok):.4g}"
    if ok.size < values.size:
        text += f" (over the {ok.size} finite of {values.size} replicates)"
    return text


def task(cfg: DictConfig) -> None:
    """One job: run, write ``run.nc`` atomically into the Hydra output directory, summarize;
    in a sweep, skip it when it is already done with the same config (``resume``). A job that
    raises is recorded in its folder and reported in one line (see the module docstring)."""
    from .api import run

    if _terminating.is_set():  # SIGTERM arrived (and its exception was swallowed): no new job
        raise Terminated
    hc = HydraConfig.get()
    sweeping = hc.mode == RunMode.MULTIRUN
    if sweeping:
        workers.follow_parent()
    out_dir = Path(hc.runtime.output_dir)
    num = OmegaConf.select(hc, "job.num", default=0)
    overrides = [str(o) for o in hc.overrides.task]
    sweep_dir = Path(hc.sweep.dir) if sweeping else out_dir
    digest = jobs.config_hash(cfg)
    found = jobs.before(out_dir, cfg.output, digest)
    record = {"num": num, "overrides": overrides, "config_hash": digest, "before": found,
              "sweep": jobs.sweep_id(sweep_dir)}  # fmt: skip
    if sweeping and cfg.resume and found == "done":
        final = jobs.read_record(out_dir).get("final")  # the summary line's numbers, kept
        jobs.write_record(out_dir, status="done", action="skipped", **record,
                          **({"final": final} if final else {}))  # fmt: skip
        say(f"sgdlab: job {num} ({' '.join(overrides)}): skipped, done with the same config")
        return
    try:
        jobs.clear(out_dir, cfg.output)
        jobs.write_record(out_dir, status="running", action="ran", **record)
        # the BLAS threads hydra.job.env_set gives jobs, also where BLAS loaded before Hydra
        # set them in the environment (this process: a single run, the basic launcher's jobs,
        # the local launcher's own)
        blas = threadpool_limits(limits=workers.blas_threads(hc.job.env_set))
        with blas, progress.steps(int(cfg.steps) + 1) as bar:
            ds = run(cfg, progress=bar)
        ds.attrs["config_hash"] = digest
        path = write_dataset(ds, out_dir / cfg.output)
    except Exception as err:  # noqa: BLE001 - recorded, reported in one line, the others go on
        line = one_line(err) if isinstance(err, ConfigError | OSError) else _typed(err)
        log_traceback(f"job {num} failed: {line}")
        try:
            jobs.write_record(out_dir, status="failed", action="ran", error=line, **record)
        except OSError:
            pass  # e.g. the disk is full: the line below still says what happened
        where = f"job {num} ({' '.join(overrides)}) failed: " if sweeping else ""
        fail(f"{where}{line}")
        return
    label, mean = final_mean(ds)
    jobs.write_record(out_dir, status="done", action="ran", **record,
                      final={"label": label, "mean": mean})  # fmt: skip
    say(summarize(ds, path))


def _typed(err: BaseException) -> str:
    """``Type: first line`` of an unexpected exception."""
    return f"{type(err).__name__}: {one_line(err)}"


def command_line(args: list[str]) -> argparse.Namespace | None:
    """Hydra's own reading of the command line (``hydra.main`` runs the same parser): flags
    and overrides; None when Hydra will reject it (and report why itself)."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.exit_on_error = False
    try:
        return parser.parse_known_args(args)[0]
    except argparse.ArgumentError:
        return None


def precheck(args: list[str], on_local_sweep=None) -> None:
    """Compose and check every job the command line will run; raise ConfigError on bad input.

    ``on_local_sweep(hydra)``, when given, is called with the ``hydra`` node of a sweep with
    the local launcher as soon as its base config composes, before its jobs are composed and
    checked (``main`` starts the sweep's workers then: they import while the jobs are checked).

    Left to Hydra: command lines it rejects, and ``--config-path``/``--config-name``/
    ``--experimental-rerun`` (another primary config); of the ``hydra.*`` overrides only
    ``hydra.searchpath`` is read (its directories hold config group options)."""
    from .runner import prepare

    ns = command_line(args)
    if ns is None or ns.config_path or ns.config_name or ns.experimental_rerun:
        return
    everything = parse(ns.overrides)
    config_dir = config_dirs(ns.config_dir, everything)
    parsed = [o for o in everything if not o.is_hydra_override()]
    check_group_choices(parsed, config_dir)
    if ns.help or ns.hydra_help or ns.cfg or ns.info or ns.shell_completion:
        return
    for o in everything:  # the launcher's plugin (and Slurm's commands) must be here
        if o.key_or_group == launchers.GROUP and not o.is_delete():
            launchers.check(o.get_value_element_as_str(), config_dir)
    if ns.multirun:
        base = _sweep_base_hydra(everything, ns.config_dir)
        if base is None:  # say why the base does not compose, in one line (or leave it to Hydra)
            _check_sweep_base(parsed, config_dir)
        elif on_local_sweep is not None and _local(everything):
            on_local_sweep(base)
    jobs = expand_sweep(parsed, config_dir) if ns.multirun else [[o.input_line for o in parsed]]
    for cfg in compose_many(jobs, config_dir):
        prepare(cfg)
    if ns.multirun:
        _skip_hydras_second_composition()


def _sweep_base_hydra(everything, config_dir):
    """The ``hydra`` node of the sweep's base config (the overrides that are not sweeps), as
    Hydra composes it before launching; None when that composition fails."""
    fixed = [o.input_line for o in everything if not o.is_sweep_override()]
    try:
        return hydra_node(fixed, config_dir)
    except Exception:  # noqa: BLE001 - the caller finds out why (or Hydra does)
        return None


def _local(everything) -> bool:
    """Whether the sweep runs with the local launcher (the default, or chosen plainly)."""
    chosen = [o for o in everything if o.key_or_group == launchers.GROUP]
    return all(_plainly(o, "local") for o in chosen)


def _plainly(o, option: str) -> bool:
    """Whether override ``o`` chooses ``option`` (not a sweep, not a deletion)."""
    return not (o.is_sweep_override() or o.is_delete()) and o.get_value_element_as_str() == option


def _skip_hydras_second_composition() -> None:
    """Every job is composed and checked (above): Hydra's basic sweeper need not compose each
    of them again in this process before launching them (its ``validate_batch_is_legal``, a
    quarter of a second per job, all before the first job starts)."""
    from hydra.core.plugins import Plugins

    # the class Hydra will instantiate: its plugin scan re-executes the module that defines it
    sweeper = Plugins.instance().class_name_to_class[BASIC_SWEEPER]
    sweeper.validate_batch_is_legal = _checked_already


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def _checked_already(self, batch) -> None:
    """Stands for Hydra's check of a sweep's batch once :func:`precheck` has made it."""


def _check_sweep_base(parsed, config_dir) -> None:
    """Hydra composes a sweep's base config from the defaults and the overrides that are not
    sweeps before it launches any job; an override of a key that only the swept options have
    (``-m problem=logistic,mlp problem.lam=0.1`` against the default least_squares) fails
    there. Say so in one line, and how to write it when every swept option has the key."""
    fixed = [o for o in parsed if not o.is_sweep_override()]
    try:
        compose([o.input_line for o in fixed], config_dir)
    except ConfigError as err:
        culprit = next((o for o in fixed if f"'{o.key_or_group}'" in str(err)), None)
        if culprit is None or culprit.is_delete() or culprit.is_add() or culprit.is_force_add():
            raise
        group, _, key = culprit.key_or_group.partition(".")
        sweep = next((o for o in parsed if o.is_sweep_override() and o.key_or_group == group), None)
        if sweep is None or not key or "." in key:
            raise
        others = [o.input_line for o in fixed if o is not culprit]
        if key in compose(others, config_dir)[group]:
            raise  # the key exists in the base: the error is about its value
        options = values(sweep, config_dir)
        have = [n for n in options if key in compose([*others, f"{group}={n}"], config_dir)[group]]
        line = culprit.input_line
        base = f"{line}: Hydra first composes the sweep with the default {group} ({err})"
        if have == options:
            raise ConfigError(f"{base}; write ++{line} to set it in every swept {group}") from None
        if not have:
            raise ConfigError(f"{base}; no swept {group} option {options} has '{key}'") from None
        raise ConfigError(
            f"{base}, and only {have} of the swept {group} options {options} have '{key}': "
            "sweep those on their own, or set it in an experiment file"
        ) from None


_hydra_main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(
    task
)


class Terminated(BaseException):
    """SIGTERM arrived: unwind (the workers stop with this process; the lock is released)."""


_terminating = threading.Event()  # SIGTERM arrived (kept: its exception may be swallowed)


def _terminated(signum, frame) -> None:
    _terminating.set()
    raise Terminated


def main() -> None:
    """Console entry point: check the command line, then hand it to Hydra."""
    register()
    workers.mark_parent()
    try:
        precheck(sys.argv[1:], on_local_sweep=workers.start)
    except ConfigError as err:
        workers.stop()
        print(f"sgdlab: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        workers.stop()
        print("sgdlab: interrupted before any work; nothing written", file=sys.stderr)
        raise SystemExit(130) from None
    logging.raiseExceptions = False  # Hydra's log lines to a closed pipe: no traceback per line
    signal.signal(signal.SIGTERM, _terminated)
    try:
        _hydra_main()
    except KeyboardInterrupt:  # a dataset is written atomically: none or a whole one exists
        print("sgdlab: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except (Terminated, SystemExit):
        # SIGTERM's exception can surface as another one (raised inside a finalizer, or
        # turned into an error, then an exit, on the way up): the flag says what happened
        if not _terminating.is_set():
            raise
    finally:
        lock.release_all()
    if _terminating.is_set():
        print("sgdlab: terminated (SIGTERM); run the same command again to finish", file=sys.stderr)
        raise SystemExit(143)
    if exit_status():
        raise SystemExit(exit_status())


if __name__ == "__main__":
    main()
