"""Atomic NetCDF output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import os
import tempfile
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a file should get the umask's
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's umask (reading it means setting it; set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Load a run's dataset fully into memory (the file is closed on return)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
