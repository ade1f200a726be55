"""The sweep's Hydra callbacks: one writer per folder, the job list, and the summary.

- :class:`FolderLock` holds ``sgdlab.lock`` (:mod:`sgdlab.lock`) in the run or sweep folder
  from before the first job until after the report: a second ``sgdlab`` into the same folder
  is refused in one line naming the holder, exit status 1;
- :class:`SweepSummary` writes the sweep's ``jobs.yaml`` before its jobs start (and puts
  ``hydra.job.env_set`` in the environment the workers start with), and at the end prints one
  line per job, what resuming found, and the failed and missing jobs (exit status 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from . import jobs, lock, workers
from .compose import config_dirs, expand_sweep, parse
from .console import fail, one_line, say
from .io import DatasetError, open_dataset


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
        sys.stderr.write(f"sgdlab: error: {why}\n")
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
        workers.start(config.hydra)
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            planned = sweep_jobs(config)
        except Exception:  # noqa: BLE001 - e.g. a sweeper of another kind: no list, and
            (sweep_dir / jobs.MANIFEST).unlink(missing_ok=True)  # not an older sweep's one
            return
        jobs.write_manifest(sweep_dir, planned)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        """Print the sweep's table from every job's record (or ``run.nc``) under the sweep
        directory."""
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
            try:
                label, mean = _final(job.record, path)
            except (DatasetError, OSError) as err:
                rows.append(f"  {job.label}: unreadable ({one_line(err)})")
                continue
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
        listed = [f"  failed: {j.label}: {j.record.get('error', '')}\n" for j in failed]
        listed += [f"  missing (no dataset): {j.label}\n" for j in missing]
        sys.stderr.write("".join(listed))
        if failed or missing:
            fail(f"{len(failed)} failed and {len(missing)} missing of {len(found)} jobs in "
                 f"{sweep_dir}; run the same sweep again to rerun only those")  # fmt: skip


def _final(record: dict, path: Path) -> tuple[str, float]:
    """A done job's summary: what its final value is and its mean over the finite
    replicates, from its record (written with the dataset), else read from the dataset."""
    from .cli import final_mean

    final = record.get("final")
    if isinstance(final, dict) and {"label", "mean"} <= final.keys():
        return str(final["label"]), float(final["mean"])
    with open_dataset(path) as ds:  # lazily: only the final values are read
        return final_mean(ds)


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """Every job's overrides of the sweep ``config`` describes (its ``hydra.sweeper.params``,
    then the command line's), in Hydra's job order."""
    task_overrides = [str(o) for o in config.hydra.overrides.task]
    searchpath = [str(o) for o in config.hydra.overrides.hydra if "searchpath" in str(o)]
    dirs = [
        s.path for s in config.hydra.runtime.config_sources
        if s.schema == "file" and s.provider in ("command-line", "hydra.searchpath in command-line")
    ]  # fmt: skip
    # as Hydra's basic sweeper: the config's hydra.sweeper.params (e.g. an experiment that
    # sweeps by itself) first, then the command line's overrides
    params = OmegaConf.select(config, "hydra.sweeper.params", default=None) or {}
    from_config = [f"{k}={v}" for k, v in params.items()]
    parsed = parse([*from_config, *task_overrides])
    return expand_sweep(parsed, config_dirs(dirs or None, parse(searchpath)))
