"""What the ``sgdlab`` command prints, and the status it exits with.

Every message is written with one ``write`` call, so the lines of parallel workers sharing a
terminal do not interleave; errors are one line (tracebacks go to the job's log file only);
what runs after the jobs (Hydra callbacks) and jobs run in the ``sgdlab`` process record a
failure with :func:`fail`, and the command exits with :func:`exit_status` once Hydra returns.
"""

from __future__ import annotations

import logging
import os
import sys


def say(*lines: str) -> None:
    """Print ``lines`` to stdout; when the reader has gone (``sgdlab | head``), print nothing
    more instead of failing: the run is on disk either way."""
    try:  # one write: the lines of parallel workers do not interleave
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit


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


def exit_status() -> int:
    """The status the command exits with: 0, or the largest status :func:`fail` was given."""
    return _exit_status[0]
