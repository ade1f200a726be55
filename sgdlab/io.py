"""Atomic NetCDF output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import xarray as xr


def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as NetCDF4 (h5netcdf) to ``path`` atomically: an interrupted write leaves
    either the old file or none, never a truncated one. Returns the path written."""
    path = Path(path)
    # String variables (e.g. ``status``) of a lazily merged sweep: load them (they are small),
    # since NetCDF needs their values to pick a string type and xarray warns when it must.
    lazy_strings = [k for k, v in ds.variables.items() if v.dtype == object and v.chunks]
    if lazy_strings:
        ds = ds.copy()
        for name in lazy_strings:
            ds[name] = ds[name].load()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temporary(path)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _new_temporary(path: Path) -> str:
    """A new empty file ``.<name>.<random>.tmp`` beside ``path``, created with mode 0666 less
    the umask (as any file; ``tempfile.mkstemp`` would make it 0600, and the rename keeps it)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return str(tmp)
        except FileExistsError:
            continue


def read_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Load a run's dataset fully into memory (the file is closed on return)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
