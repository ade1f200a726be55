"""Hydra's submitit launchers (Slurm, and submitit's local executor) for sgdlab sweeps.

(A Hydra plugin module: Hydra takes launchers only from the ``hydra_plugins`` package.
Without the ``cluster`` extra it defines nothing.)

``conf/hydra/launcher/slurm.yaml`` and ``local_cluster.yaml`` name these classes: the
plugin's launchers (the ``cluster`` extra), except that a job which ends without a result —
stopped at Slurm's time or memory limit, preempted, or killed by hand — no longer stops the
sweep with submitit's traceback while the other jobs still run. The sweep waits for every job;
such a job is one line on stderr and a missing job of the sweep (its ``job.yaml`` still says
``running``): the summary lists it, the report is written, the command exits 1, and the same
sweep again reruns it. A job that raised was already recorded as failed by the job itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hydra.core.utils import JobReturn, JobStatus, filter_overrides

try:
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
except ImportError:  # no cluster extra: no launchers here
    plugin = None


def _wait_for_each(jobs, job_overrides: Sequence[Sequence[str]], first: int) -> list[JobReturn]:
    """Each submitit job's JobReturn, waiting for all of them; a job without a result gives
    an empty completed JobReturn (the sweep's summary finds it missing on disk)."""
    import submitit

    returns = []
    for num, (job, overrides) in enumerate(zip(jobs, job_overrides, strict=True), start=first):
        try:
            returns.append(job.results()[0])
        except submitit.core.utils.UncompletedJobError:
            label = " ".join(filter_overrides(overrides))
            sys.stderr.write(
                f"sgdlab: job {num} ({label}) ended without a result (killed, or stopped at a "
                f"time or memory limit); submitit's log: {job.paths.stderr}\n"
            )
            returns.append(JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED))
    return returns


class _WaitsForAll:
    """Mixin over the plugin's launcher: launch through it, then :func:`_wait_for_each`."""

    def launch(self, job_overrides, initial_job_idx):
        """Submit the jobs as the plugin does and wait for every one (see the module doc)."""
        import submitit

        submitted = []
        map_array = submitit.AutoExecutor.map_array

        def keep(executor, fn, *iterables):  # the plugin's own submission, its jobs kept
            jobs = map_array(executor, fn, *iterables)
            submitted.extend(jobs)
            return [_Done() for _ in jobs]

        submitit.AutoExecutor.map_array = keep
        try:
            super().launch(job_overrides, initial_job_idx)
        finally:
            submitit.AutoExecutor.map_array = map_array
        return _wait_for_each(submitted, job_overrides, initial_job_idx)


class _Done:
    """Stands for a submitted job inside the plugin's launch, which then returns at once."""

    def results(self):
        return [None]


if plugin is not None:

    class SlurmLauncher(_WaitsForAll, plugin.SlurmLauncher):
        """The plugin's Slurm launcher; waits for every job (see the module docstring)."""

    class LocalLauncher(_WaitsForAll, plugin.LocalLauncher):
        """The plugin's local-executor launcher; waits for every job (see the module doc)."""
