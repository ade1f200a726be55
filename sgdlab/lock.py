"""One writer per folder: a lock file ``sgdlab.lock`` in a run or sweep folder.

The file holds the holder's pid, host, start time and (on Linux) the kernel's start tick of
that process, so a recycled pid is not mistaken for the holder. A second writer is refused
with a one-line :class:`FolderLocked` naming the holder; a lock whose process is gone (on this
host) is stale and taken over. Taking over renames the stale file away first, so of two
writers that find the same stale lock only one gets the folder.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
import socket
from pathlib import Path

import yaml

LOCK_NAME = "sgdlab.lock"
_held: set[Path] = set()


class FolderLocked(RuntimeError):
    """Another live process holds the folder's lock; the message names it."""


def _start_tick(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), after "pid (comm)"


def _alive(holder: dict) -> bool:
    """Whether the process that wrote ``holder`` still runs (always assumed on another host)."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    tick = holder.get("start_tick")
    return tick is None or _start_tick(pid) in (None, str(tick))


def _describe(holder: dict) -> str:
    return (
        f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}: "
        f"{holder.get('command', '?')}"
    )


def _read(path: Path) -> dict:
    try:
        holder = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return holder if isinstance(holder, dict) else {}


def acquire(folder: str | os.PathLike, command: str = "sgdlab") -> Path:
    """Create ``folder`` if needed and lock it for this process; returns the lock file.

    Raises :class:`FolderLocked` when a live process holds it, and OSError (e.g. a read-only
    or full disk) when the lock cannot be written. Locking a folder twice is a no-op."""
    folder = Path(folder).resolve()
    path = folder / LOCK_NAME
    if path in _held:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "start_tick": _start_tick(os.getpid()),
        "command": command,
    }
    for _ in range(20):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder and _alive(holder):
                raise FolderLocked(
                    f"{folder} is in use by another sgdlab ({_describe(holder)}); wait for it "
                    "to finish or choose another folder"
                ) from None
            stale = folder / f".{LOCK_NAME}.{secrets.token_hex(6)}.stale"
            try:  # one of several takers wins the rename; the others see the new lock
                os.rename(path, stale)
                stale.unlink()
            except FileNotFoundError:
                pass
            continue
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(yaml.safe_dump(me, sort_keys=False))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        _held.add(path)
        return path
    raise FolderLocked(f"{folder}: could not take its lock {LOCK_NAME} (it keeps changing)")


def release(path: str | os.PathLike) -> None:
    """Remove the lock file ``path`` if this process holds it."""
    path = Path(path)
    if path in _held:
        _held.discard(path)
        if _read(path).get("pid") == os.getpid():
            path.unlink(missing_ok=True)


def release_all() -> None:
    """Release every lock this process holds (on the way out of the command)."""
    for path in list(_held):
        release(path)


def holder(folder: str | os.PathLike) -> dict:
    """The content of ``folder``'s lock file ({} when there is none)."""
    return _read(Path(folder) / LOCK_NAME)
