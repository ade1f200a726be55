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
