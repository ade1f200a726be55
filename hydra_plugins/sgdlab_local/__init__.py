"""sgdlab's local launcher (``hydra/launcher=local``, the default in ``conf/config.yaml``).

Hydra's joblib launcher, with the sweep's own process as one of its ``n_jobs`` processes: it
runs jobs itself (as ``hydra/launcher=basic`` would) while ``n_jobs - 1`` loky worker
processes (:func:`sgdlab.workers.pool`, started and warmed when the sweep starts) run the
others; each process takes the next job when it is free. So a sweep of short jobs is never
slower than the same jobs in sequence (the sweep starts on its first job at once, the workers
join as soon as they have imported), and long jobs run ``n_jobs`` at a time.

(A Hydra plugin module: Hydra takes launchers only from the ``hydra_plugins`` package.)
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    setup_globals,
)
from hydra_plugins.hydra_joblib_launcher._core import execute_job
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

log = logging.getLogger(__name__)


def _lost(num: int, overrides: Sequence[str]) -> JobReturn:
    """A job whose worker process died (killed, out of memory, a crash): one line on stderr,
    and a JobReturn without a result; the sweep's summary finds the job missing on disk."""
    label = " ".join(filter_overrides(overrides))
    sys.stderr.write(f"sgdlab: job {num} ({label}) ended without a result: its worker process "
                     "died (killed, or out of memory)\n")  # fmt: skip
    return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)


class LocalLauncher(JoblibLauncher):
    """Hydra's joblib launcher whose own process runs jobs too (see the module docstring);
    it takes the joblib launcher's settings, of which it reads ``n_jobs``."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        """Run every job, in this process and in the pool's workers; their JobReturns in
        job order. A job whose worker died is a missing job (one line; the others go on, in
        this process if the pool broke); another exception is raised once every job ended."""
        from sgdlab import workers

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        processes = workers.process_count(self.joblib.get("n_jobs", -1))
        log.info(
            f"Launching {len(job_overrides)} jobs on {processes} processes (this one and "
            f"{processes - 1} joblib workers), sweep output dir: {self.config.hydra.sweep.dir}"
        )
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        todo = deque(enumerate(job_overrides, start=initial_job_idx))
        args = (self.hydra_context, self.config, self.task_function, Singleton.get_state())
        returns: dict[int, JobReturn] = {}
        futures, lock = [], threading.Lock()
        changed = threading.Condition(lock)
        outstanding = 0  # jobs handed to a worker and not finished yet

        def take():
            with lock:
                return todo.popleft() if todo else None

        def submit(pool) -> None:  # the next job to a worker that is free
            nonlocal outstanding
            with lock:
                if not todo:
                    return
                item = todo.popleft()
                outstanding += 1
            try:
                future = pool.submit(execute_job, *item, *args)
            except Exception:  # noqa: BLE001 - the pool is broken: this process runs it
                with lock:
                    todo.appendleft(item)
                    outstanding -= 1
                    changed.notify_all()
                return
            with lock:
                futures.append((item, future))
            future.add_done_callback(lambda _: finished(pool))

        def finished(pool) -> None:
            nonlocal outstanding
            submit(pool)  # the next one first: outstanding stays > 0 while jobs remain
            with lock:
                outstanding -= 1
                changed.notify_all()

        pool = workers.pool(processes - 1) if processes > 1 and len(todo) > 1 else None
        if pool is not None:
            # a worker gets its first job once it has imported what a job needs (its warm-up
            # done), not before: until then this process takes the jobs, so a short sweep
            # never waits for a worker that is still starting
            warm_ups = workers.warming()
            for k in range(processes - 1):
                if k < len(warm_ups):
                    warm_ups[k].add_done_callback(lambda _: submit(pool))
                else:
                    submit(pool)
        # this process works too (its jobs pin their BLAS threads themselves: sgdlab.cli.task)
        while True:
            while (item := take()) is not None:
                returns[item[0]] = execute_job(*item, *args)
            with lock:  # then wait for the workers' jobs (or one handed back to us)
                while outstanding and not todo:
                    changed.wait()
                if not outstanding and not todo:
                    break
        if pool is not None:  # every job has ended: stop the workers now, not at exit
            pool.shutdown(wait=False, kill_workers=True)
        workers.stop()  # and those warmed for this sweep (unused when it had one job)
        errors = []
        for (idx, overrides), future in futures:
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                returns[idx] = _lost(idx, overrides)
            elif error is not None:
                errors.append(error)
            else:
                returns[idx] = future.result()
        if errors:
            raise errors[0]
        return [returns[idx] for idx in sorted(returns)]
