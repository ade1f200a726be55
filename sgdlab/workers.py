"""Sweep workers that die with their parent, and their environment (BLAS thread counts).

The ``sgdlab`` command puts its pid in the environment (:data:`PARENT_ENV`) before Hydra
launches any job, so a job that finds that process among its ancestors knows it runs in a
worker process of this sweep on this machine: a direct child (joblib's loky workers) or a
grandchild (submitit's local executor starts a controller process that starts the job).
:func:`follow_parent` then kills the worker once the sweep process is gone: a direct child asks
Linux for it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), and a thread that works everywhere polls
the process's ancestry (the orphan is adopted by another process). A ``SIGKILL`` or ``SIGTERM``
of the sweep thus ends its workers within :data:`POLL_S`, before they write anything more.
A job of another machine (a Slurm node) never has that process among its ancestors: it is
left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

PARENT_ENV = "SGDLAB_SWEEP_PID"
POLL_S = 0.2
_PR_SET_PDEATHSIG = 1
_following: int | None = None


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _parent_of(pid: int) -> int | None:
    """The parent pid of process ``pid`` from ``/proc`` (Linux), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # field 4 of proc(5), after "pid (comm) state"


def ancestors() -> list[int]:
    """This process's ancestors, its parent first (only the parent where there is no
    ``/proc``)."""
    chain = [os.getppid()]
    while chain[-1] > 1 and len(chain) < 64:
        parent = _parent_of(chain[-1])
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return chain


def _watch(sweep: int) -> None:
    while True:
        if sweep not in ancestors():
            _die()
        time.sleep(POLL_S)


def _set_pdeathsig() -> bool:
    """Linux only: SIGKILL this process when the thread that forked it ends."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def follow_parent() -> bool:
    """In a worker of the ``sgdlab`` command (see the module docstring): die with it.
    Returns whether this process follows the sweep process; a no-op outside such a worker,
    and after the first call."""
    global _following
    if _following is not None:
        return True
    sweep = os.environ.get(PARENT_ENV, "")
    if not sweep.isdigit() or int(sweep) not in ancestors():
        return False
    sweep = int(sweep)
    if os.getppid() == sweep:
        _set_pdeathsig()
    if sweep not in ancestors():  # the sweep ended before prctl took effect
        _die()
    threading.Thread(target=_watch, args=(sweep,), daemon=True, name="sgdlab-parent").start()
    _following = sweep
    return True


def mark_parent() -> None:
    """Called by the ``sgdlab`` command: its workers will follow this process."""
    os.environ[PARENT_ENV] = str(os.getpid())


def pin_environment(env_set) -> None:
    """Put ``env_set`` (``hydra.job.env_set``: e.g. the BLAS thread counts) into this process's
    environment, so that worker processes started later read it when their BLAS loads (a job's
    own ``env_set`` comes after its worker has loaded BLAS: too late for the thread pools)."""
    os.environ.update({str(k): str(v) for k, v in (env_set or {}).items()})


def _warm_worker() -> int:
    """In a fresh worker: import what a job needs (the run, its dataset writer, Hydra's job
    runner) and follow the parent, so that the first job starts computing at once."""
    import h5netcdf  # noqa: F401
    import hydra.core.utils  # noqa: F401
    import xarray  # noqa: F401

    from . import api, cli  # noqa: F401

    follow_parent()
    return os.getpid()


def blas_threads(env_set) -> int | None:
    """The BLAS thread count ``env_set`` (``hydra.job.env_set``) gives its jobs: the least of
    its ``*_NUM_THREADS`` values (None when it sets none)."""
    counts = [
        int(str(v)) for k, v in (env_set or {}).items()
        if str(k).endswith("_NUM_THREADS") and str(v).isdigit()
    ]  # fmt: skip
    return min(counts) if counts else None


def process_count(n_jobs: int) -> int:
    """How many processes a local sweep uses for ``n_jobs`` (joblib's rule: -1 is one per
    core, -2 all but one...), the sweep's own included."""
    from joblib import effective_n_jobs

    return max(1, effective_n_jobs(n_jobs))


def pool(workers: int):
    """The loky executor of ``workers`` processes that local sweeps share (joblib's reusable
    executor: the same processes for every call with this size while they are alive)."""
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers, timeout=POOL_IDLE_S)


POOL_IDLE_S = 300  # a worker idle this long exits (the sweep has ended)


def start(hydra) -> None:
    """Start (and warm) a local sweep's workers with the environment its jobs get
    (``hydra.job.env_set``: the BLAS threads), from its ``hydra`` node; nothing for another
    launcher, and nothing more once they are started."""
    pin_environment(hydra.job.env_set)
    warm(hydra.launcher)


def warm(launcher) -> threading.Thread | None:
    """Start the local launcher's worker processes now (``hydra.launcher``: sgdlab's local
    launcher, ``hydra_plugins/sgdlab_local``), each importing what a job needs, while the
    sweep still checks its jobs; returns the thread that starts them, None when there is
    nothing to warm (the same thread again until :func:`stop`). Call it after
    :func:`pin_environment`.

    The thread lives until :func:`stop`: a worker dies with the thread that started it
    (``PR_SET_PDEATHSIG``, see :func:`follow_parent`)."""
    global _warm
    if _warm is not None:
        return _warm.thread
    if not str(launcher.get("_target_", "")).startswith("hydra_plugins.sgdlab_local."):
        return None
    n = process_count(launcher.get("n_jobs", -1)) - 1  # the sweep's own process is one
    if n < 1:
        return None
    state = _Warm()

    def start() -> None:
        try:
            with _lock:
                if state.released.is_set():
                    return
                state.executor = pool(n)
            state.futures = [state.executor.submit(_warm_worker) for _ in range(n)]
        except Exception:  # noqa: BLE001 - warming is an optimization: the sweep goes on cold
            return
        finally:
            state.submitted.set()
        state.released.wait()  # keep this thread, and so the workers, alive until stop()

    state.thread = threading.Thread(target=start, daemon=True, name="sgdlab-workers")
    _warm = state
    state.thread.start()
    return state.thread


class _Warm:
    """The workers :func:`warm` started: its thread, their executor, and the event that ends
    the thread."""

    def __init__(self):
        self.thread: threading.Thread | None = None
        self.executor = None
        self.futures: list = []  # one warm-up per worker, done when it has imported
        self.submitted = threading.Event()  # the warm-ups are submitted (or failed to be)
        self.released = threading.Event()


def warming(timeout: float = 10.0) -> list:
    """The futures of the warm-ups :func:`warm` submitted (done when a worker has imported
    what a job needs); [] when nothing is warming, or the warm-ups were not submitted within
    ``timeout`` seconds."""
    state = _warm
    if state is None or not state.submitted.wait(timeout):
        return []
    return list(state.futures)


_warm: _Warm | None = None
_lock = threading.Lock()


def stop() -> None:
    """Stop the workers :func:`warm` started, at once, and end its thread: when every job
    has ended, or when a sweep is refused after they started (they have only imported
    modules). A later :func:`warm` starts new ones."""
    global _warm
    with _lock:
        state, _warm = _warm, None
        if state is None:
            return
        state.released.set()
        if state.executor is not None:
            state.executor.shutdown(wait=False, kill_workers=True)
