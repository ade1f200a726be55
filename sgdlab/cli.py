"""The ``sgdlab`` command: a ``@hydra.main`` app over the config groups in ``conf/``.

    sgdlab                                   # the default experiment, one run
    sgdlab problem=logistic sampler=reshuffle optimizer.lr=0.05 replicates=16
    sgdlab -m sampler=with_replacement,reshuffle optimizer.lr=0.01,0.1   # joblib sweep
    sgdlab -m 'sampler=glob(*)' 'optimizer.lr=choice(0.01,0.1)'          # Hydra sweep syntax
    sgdlab --config-dir my_conf experiment=mine   # my_conf/experiment/mine.yaml, your own
    sgdlab --help | sgdlab --cfg job

Each job writes ``run.nc`` (``output``) into its Hydra output directory and prints a summary.
Before Hydra starts (and so before anything is written), every run of the command line, each
job of a sweep included, is composed and checked; bad input ends with one line on stderr and
exit status 2.

While it runs, the command holds the lock of its run or sweep folder (:mod:`sgdlab.lock`): a
second ``sgdlab`` into the same folder is refused. A job that fails is recorded in its folder
(``job.yaml``: the one-line error; the traceback goes to its log) and the others go on; a
re-run of a sweep into the same folder (``hydra.sweep.dir=...``) skips the jobs already done
with the same config (``resume=false`` reruns them all; :mod:`sgdlab.jobs`). The exit status
is 1 when a job or the report failed (after every job has finished), and 1 when the folder
is locked or cannot be written.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
from pathlib import Path

import hydra
import numpy as np
import scipy.stats
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Override
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from . import jobs, lock, workers
from .compose import check_group_choices, compose, config_dirs, parse, values
from .config import conf_dir, register
from .errors import ConfigError
from .io import DatasetError, open_dataset, write_dataset

_exit_status = [0]  # what the command exits with once Hydra returns (see fail())


def fail(message: str | None = None, status: int = 1) -> None:
    """Print ``sgdlab: error: message`` (one line) and make the command exit non-zero once
    Hydra returns; for what runs after the jobs (callbacks) and in-process jobs."""
    if message is not None:  # one write: the lines of parallel workers do not interleave
        sys.stderr.write(f"sgdlab: error: {one_line(message)}\n")
        sys.stderr.flush()
    _exit_status[0] = max(_exit_status[0], status)


def one_line(text) -> str:
    """The first non-empty line of ``text`` (an exception's message can span lines)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else (type(text).__name__ if isinstance(text, BaseException) else "")


def log_traceback(message: str) -> None:
    """Write ``message`` and the current exception's traceback to the job's log file(s) only
    (the console gets one line)."""
    record = logging.LogRecord("sgdlab", logging.ERROR, __file__, 0, message, None, sys.exc_info())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


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


def say(*lines: str) -> None:
    """Print ``lines`` to stdout; when the reader has gone (``sgdlab | head``), print nothing
    more instead of failing: the run is on disk either way."""
    try:  # one write: the lines of parallel workers do not interleave
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit


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
        half = scipy.stats.t.ppf(0.975, ok.size - 1) * ok.std(ddof=1) / np.sqrt(ok.size)
        text = f"{ok.mean():.4g} ± {half:.2g} (95% CI), median {np.median(ok):.4g}"
    if ok.size < values.size:
        text += f" (over the {ok.size} finite of {values.size} replicates)"
    return text


def task(cfg: DictConfig) -> None:
    """One job: run, write ``run.nc`` atomically into the Hydra output directory, summarize;
    in a sweep, skip it when it is already done with the same config (``resume``). A job that
    raises is recorded in its folder and reported in one line (see the module docstring)."""
    from .api import run

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
        jobs.write_record(out_dir, status="done", action="skipped", **record)
        say(f"sgdlab: job {num} ({' '.join(overrides)}): skipped, done with the same config")
        return
    try:
        jobs.clear(out_dir, cfg.output)
        jobs.write_record(out_dir, status="running", action="ran", **record)
        ds = run(cfg)
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
    jobs.write_record(out_dir, status="done", action="ran", **record)
    say(summarize(ds, path))


def _typed(err: BaseException) -> str:
    """``Type: first line`` of an unexpected exception."""
    return f"{type(err).__name__}: {one_line(err)}"


class FolderLock(Callback):
    """Holds ``sgdlab.lock`` in the run or sweep folder while the command writes there: a
    second writer is refused in one line naming the holder (exit status 1)."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        """Lock the run folder before the job writes into it."""
        _take(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Lock the sweep folder before any job starts."""
        _take(config.hydra.sweep.dir)

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        """Release the run folder."""
        lock.release_all()

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Release the sweep folder (the last callback to run)."""
        lock.release_all()


def _take(folder) -> None:
    try:
        lock.acquire(folder, command=" ".join(["sgdlab", *sys.argv[1:]]))
    except (lock.FolderLocked, OSError) as err:
        why = one_line(err) if isinstance(err, lock.FolderLocked) else _os_error(err, folder)
        print(f"sgdlab: error: {why}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def _os_error(err: OSError, where) -> str:
    return f"cannot write to {where}: {err.strerror or one_line(err)}"


class SweepSummary(Callback):
    """A multirun's job list and summary: ``jobs.yaml`` before the jobs start, and at the end
    one line per job with its overrides and final suboptimality, what resuming found, and the
    jobs that failed or are missing (which make the command exit 1)."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Write the sweep's ``jobs.yaml``: every job's overrides, by job number; and set the
        jobs' environment (``hydra.job.env_set``) here, for the workers to start with."""
        workers.pin_environment(config.hydra.job.env_set)
        try:
            planned = sweep_jobs(config)
        except Exception:  # noqa: BLE001 - e.g. a sweeper of another kind: no list, no harm
            return
        jobs.write_manifest(Path(config.hydra.sweep.dir), planned)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Print the sweep's table from every job's ``run.nc`` under the sweep directory."""
        sweep_dir = Path(config.hydra.sweep.dir)
        found = jobs.states(sweep_dir, str(config.output))
        this = jobs.sweep_id(sweep_dir)
        rows, counts = [], dict.fromkeys(("done", "missing", "failed", "stale"), 0)
        skipped = 0
        for job in found:
            ran_here = job.record.get("sweep") == this
            if ran_here and job.record.get("action") == "skipped":
                skipped += 1
            elif ran_here:
                counts[job.record.get("before", "missing")] += 1
            if job.status != "done":
                continue
            path = job.folder / str(config.output)
            try:  # Lazily: only the final values are read (the report reads the whole files).
                with open_dataset(path) as ds:
                    label, final = final_values(ds)
            except (DatasetError, OSError) as err:
                rows.append(f"  {job.label}: unreadable ({one_line(err)})")
                continue
            mean = np.mean(final[np.isfinite(final)]) if np.isfinite(final).any() else np.nan
            rows.append(f"  {job.label}: mean final {label} = {mean:.4g}  ({path})")
        done = sum(j.status == "done" for j in found)
        ran = sum(counts.values())
        lines = [f"sgdlab sweep: {done} runs in {sweep_dir}", *rows]
        if skipped or counts["done"] or counts["failed"] or counts["stale"]:
            again = f", {counts['done']} done already (resume=false)" if counts["done"] else ""
            lines.append(
                f"  resumed: {skipped} skipped (done with the same config), {ran} run "
                f"({counts['missing']} missing, {counts['failed']} failed, "
                f"{counts['stale']} stale{again})"
            )
        say(*lines)
        failed = [j for j in found if j.status == "failed"]
        missing = [j for j in found if j.status == "missing"]
        for job in failed:
            print(f"  failed: {job.label}: {job.record.get('error', '')}", file=sys.stderr)
        for job in missing:
            print(f"  missing (no dataset): {job.label}", file=sys.stderr)
        if failed or missing:
            fail(f"{len(failed)} failed and {len(missing)} missing of {len(found)} jobs in "
                 f"{sweep_dir}; run the same sweep again to rerun only those")  # fmt: skip


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """Every job's overrides of the sweep ``config`` describes, in Hydra's job order."""
    task_overrides = [str(o) for o in config.hydra.overrides.task]
    searchpath = [str(o) for o in config.hydra.overrides.hydra if "searchpath" in str(o)]
    dirs = [
        s.path for s in config.hydra.runtime.config_sources
        if s.schema == "file" and s.provider in ("command-line", "hydra.searchpath in command-line")
    ]  # fmt: skip
    parsed = parse(task_overrides)
    return expand_sweep(parsed, config_dirs(dirs or None, parse(searchpath)))


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


def expand_sweep(parsed: list[Override], config_dir=None) -> list[list[str]]:
    """Every job's override list of a basic sweep: the cartesian product of the overrides'
    values (a later override of a key replaces an earlier one, as in Hydra's basic sweeper)."""
    choices: dict[str, list[str]] = {}
    for o in parsed:
        key = o.get_key_element()
        if o.is_sweep_override():
            choices[key] = [f"{key}={v}" for v in values(o, config_dir)]
        else:  # written as Hydra's sweeper writes it (the jobs' overrides.yaml)
            choices[key] = [f"{key}={o.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]


def precheck(args: list[str]) -> None:
    """Compose and check every job the command line will run; raise ConfigError on bad input.

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
    if ns.multirun:
        _check_sweep_base(parsed, config_dir)
    jobs = expand_sweep(parsed, config_dir) if ns.multirun else [[o.input_line for o in parsed]]
    for job in jobs:
        prepare(compose(job, config_dir))


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


def main() -> None:
    """Console entry point: check the command line, then hand it to Hydra."""
    register()
    try:
        precheck(sys.argv[1:])
    except ConfigError as err:
        print(f"sgdlab: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("sgdlab: interrupted before any work; nothing written", file=sys.stderr)
        raise SystemExit(130) from None
    logging.raiseExceptions = False  # Hydra's log lines to a closed pipe: no traceback per line
    workers.mark_parent()
    try:
        _hydra_main()
    except KeyboardInterrupt:  # a dataset is written atomically: none or a whole one exists
        print("sgdlab: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        lock.release_all()
    if _exit_status[0]:
        raise SystemExit(_exit_status[0])


if __name__ == "__main__":
    main()
