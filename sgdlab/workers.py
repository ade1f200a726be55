"""Sweep workers that die with their parent, and their environment (BLAS thread counts).

The ``sgdlab`` command puts its pid in the environment (:data:`PARENT_ENV`) before Hydra
launches any job, so a job that finds it is a direct child of that process knows it runs in a
worker process (joblib's loky workers, for instance). :func:`follow_parent` then asks Linux to
kill the worker when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) and, as a second
guard that works everywhere, starts a thread that kills the worker once its parent pid changes
(the orphan was adopted by another process). A ``SIGKILL`` or ``SIGTERM`` of the sweep thus
ends its workers at once, before they write anything more.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PARENT_ENV = "SGDLAB_SWEEP_PID"
POLL_S = 0.2
_PR_SET_PDEATHSIG = 1
_following: int | None = None


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
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
    """In a worker of the ``sgdlab`` command (see the module docstring): die with the parent.
    Returns whether this process follows its parent; a no-op outside such a worker, and
    after the first call."""
    global _following
    parent = os.environ.get(PARENT_ENV, "")
    if _following is not None:
        return True
    if not parent.isdigit() or int(parent) != os.getppid():
        return False
    _set_pdeathsig()
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        _die()
    threading.Thread(target=_watch, args=(int(parent),), daemon=True, name="sgdlab-parent").start()
    _following = int(parent)
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


def warm_joblib(launcher) -> threading.Thread | None:
    """Start the joblib launcher's worker processes now, each importing what a job needs in
    the background while the sweep still composes and lists its jobs.

    ``launcher`` is the ``hydra.launcher`` config; only the loky backend of Hydra's joblib
    launcher is warmed (joblib reuses one executor of the same size for the launcher's own
    ``Parallel`` call, so the jobs land on these warm workers). Returns the thread, or None
    when there is nothing to warm. Call it from the sweep's main thread, after
    :func:`pin_environment`."""
    if "joblib" not in str(launcher.get("_target_", "")):
        return None
    if launcher.get("backend") not in (None, "loky") or launcher.get("require") == "sharedmem":
        return None
    # The launcher's own Parallel arguments, prepared as it prepares them: joblib reuses its
    # executor only for a Parallel call with the same worker count and memmapping settings.
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from omegaconf import OmegaConf

    kwargs = {k: v for k, v in OmegaConf.to_container(launcher).items() if k != "_target_"}
    kwargs["backend"] = "loky"
    process_joblib_cfg(kwargs)

    from joblib import Parallel, delayed, effective_n_jobs

    # Dispatched from this thread, which lives as long as the sweep: a worker dies with the
    # thread that started it (PR_SET_PDEATHSIG, see follow_parent). Another thread only
    # collects the warm-up's results.
    n = effective_n_jobs(kwargs.get("n_jobs", -1))
    try:
        results = Parallel(**kwargs, return_as="generator_unordered")(
            delayed(_warm_worker)() for _ in range(n)
        )
    except Exception:  # noqa: BLE001 - warming is an optimization: the sweep goes on cold
        return None

    def drain() -> None:
        try:
            for _ in results:
                pass
        except Exception:  # noqa: BLE001 - as above
            pass

    thread = threading.Thread(target=drain, daemon=True, name="sgdlab-warm-workers")
    thread.start()
    return thread
