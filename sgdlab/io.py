"""Atomic NetCDF output (a temporary file beside the target, renamed over it) and checked
input: a file that is not an sgdlab dataset of a schema version we read is a one-line
:class:`DatasetError`; a write that fails (disk full, read-only folder) is a one-line
:class:`WriteError` and leaves no file behind."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from pathlib import Path

import xarray as xr

from .dataset import SCHEMA_VERSION

READS = (SCHEMA_VERSION,)  # the schema versions this sgdlab reads


class DatasetError(ValueError):
    """A file that is not an sgdlab dataset we can read; the message is one line."""


class WriteError(OSError):
    """A dataset could not be written (nothing was left behind); the message is one line."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.errno = code


def _one_line(err: BaseException) -> str:
    text = (getattr(err, "strerror", None) or str(err) or type(err).__name__).strip()
    return text.splitlines()[0] if text else type(err).__name__


def check_schema(attrs, path) -> None:
    """Raise :class:`DatasetError` unless ``attrs`` (a dataset's attributes) carry a
    ``schema_version`` this sgdlab reads."""
    reads = ", ".join(READS)
    version = attrs.get("schema_version")
    if version is None:
        raise DatasetError(
            f"{path}: not an sgdlab dataset (no schema_version attribute; this sgdlab reads "
            f"schema_version {reads})"
        )
    if str(version) not in READS:
        raise DatasetError(
            f"{path}: schema_version {version!s}, but this sgdlab reads schema_version {reads}"
        )


def open_dataset(path: str | os.PathLike, **kwargs) -> xr.Dataset:
    """``xarray.open_dataset(path, engine="h5netcdf", **kwargs)``, checked: a missing,
    unreadable, corrupted or foreign file, or another schema version, is a one-line
    :class:`DatasetError` (FileNotFoundError for a missing file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        ds = xr.open_dataset(path, engine="h5netcdf", **kwargs)
    except PermissionError:
        raise DatasetError(f"{path}: permission denied") from None
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        raise DatasetError(
            f"{path}: not a readable NetCDF4/HDF5 file (corrupted, truncated or of another "
            f"format: {_one_line(err)})"
        ) from None
    try:
        check_schema(ds.attrs, path)
    except DatasetError:
        ds.close()
        raise
    return ds


def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` as NetCDF4 (h5netcdf) to ``path`` atomically: an interrupted write leaves
    either the old file or none, never a truncated one; ``schema_version`` is set when ``ds``
    has none. Returns the path written; a failure is a one-line :class:`WriteError`."""
    path = Path(path)
    if "schema_version" not in ds.attrs:  # every file sgdlab writes says which schema it has
        ds = ds.assign_attrs(schema_version=SCHEMA_VERSION)
    # String variables (e.g. ``status``) of a lazily merged sweep: load them (they are small),
    # since NetCDF needs their values to pick a string type and xarray warns when it must.
    lazy_strings = [k for k, v in ds.variables.items() if v.dtype == object and v.chunks]
    if lazy_strings:
        ds = ds.copy()
        for name in lazy_strings:
            ds[name] = ds[name].load()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_space(ds, path)
        tmp = _new_temporary(path)
    except OSError as err:
        raise WriteError(err.errno, f"cannot write {path}: {_one_line(err)}") from None
    try:
        encoded = _in_memory(ds)
        if encoded is None:  # large: HDF5 writes the file itself
            ds.to_netcdf(tmp, engine="h5netcdf")
        with open(tmp, "r+b" if encoded is None else "wb") as fh:
            if encoded is not None:
                fh.write(encoded)
                fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, (OSError, RuntimeError, ValueError)) and not isinstance(err, WriteError):
            code = getattr(err, "errno", None)
            raise WriteError(code, f"cannot write {path}: {_one_line(err)}") from None
        raise
    return path


IN_MEMORY_BYTES = 256 * 2**20


def _in_memory(ds: xr.Dataset) -> memoryview | None:
    """The NetCDF4 file of ``ds`` as bytes when it is small enough (≤ 256 MiB of data), else
    None. Written by Python, a full disk is an ordinary OSError: HDF5, when its own writes
    fail part-way, can crash the interpreter when the file is closed."""
    if ds.nbytes > IN_MEMORY_BYTES:
        return None
    try:
        return ds.to_netcdf(engine="h5netcdf")
    except (TypeError, NotImplementedError):  # an xarray that cannot: write the file directly
        return None


def _check_space(ds: xr.Dataset, path: Path) -> None:
    """Refuse (ENOSPC) before writing when the disk has less room than the data need: HDF5
    does not recover well from a full disk part-way through a file."""
    need = int(ds.nbytes) + (1 << 16)
    free = shutil.disk_usage(path.parent).free
    if free < need:
        raise OSError(
            errno.ENOSPC,
            f"No space left on device (the dataset needs about {need / 1e6:.3g} MB, "
            f"{free / 1e6:.3g} MB free)",
        )


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
    """Load a run's (or a sweep's) dataset fully into memory (the file is closed on return);
    see :func:`open_dataset` for the errors."""
    with open_dataset(path) as ds:
        try:
            return ds.load()
        except (OSError, ValueError, RuntimeError) as err:
            raise DatasetError(f"{path}: corrupted data ({_one_line(err)})") from None
