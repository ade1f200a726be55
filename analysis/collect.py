"""Merge a Hydra multirun directory into one dataset with one dimension per swept key.

Each job directory holds the run's dataset (``run.nc``, the config key ``output``) and
``.hydra/overrides.yaml``. A *swept key* is an override key whose value differs between jobs
(``sampler``, ``optimizer.lr``, ...); it becomes a dimension of that name whose coordinate holds
its sorted values (integers, floats, or strings). Jobs missing from a non-rectangular
sweep leave NaN. Job attributes that differ between jobs (``config``, ``overrides``,
``schedule``, ...) become string or number variables over the swept dimensions, named
``attr_<name>``; the others stay attributes. A job without such an attribute (the mlp's
``hidden`` in a sweep over problems) holds NaN there (numbers, which then read back as floats)
or "" (strings), and :func:`cells` leaves it out of that job's attributes.
``attrs["swept_keys"]`` lists the swept keys (YAML) and ``attrs["job_attrs"]`` the attributes
turned into variables. :func:`cells` gives back each job's own dataset (attributes restored,
padding dropped).

Only the jobs that are done are merged (:func:`sgdlab.jobs.states`): a sweep's ``jobs.yaml``
lists every job it launched, so a failed job, or one that never ran or was killed, is named
by its overrides in ``attrs["failed_jobs"]`` and ``attrs["missing_jobs"]`` (YAML lists of
``{overrides, error}``), and a job folder left by another sweep is not merged. Every file
must be an sgdlab dataset of a schema version this sgdlab reads (else a one-line
:class:`sgdlab.io.DatasetError`).

A sweep whose job files hold more than ``EAGER_BYTES`` on disk is opened lazily with dask when
it is installed (so sweeps larger than memory still merge); a smaller one, or any sweep without
dask, is loaded into memory (computing a small sweep chunk by chunk costs more than loading
it). The jobs are concatenated along one dimension and unstacked into the swept keys, in time
and memory linear in the number of jobs (``benchmarks/bench_collect.py`` merges 1,000 job
files); xarray's cache of open files is enlarged to hold them all.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from sgdlab.io import open_dataset
from sgdlab.jobs import job_dataset, states

__all__ = ["cells", "collect", "find_jobs", "parse_overrides", "swept_keys", "unfinished"]


def parse_overrides(lines: list[str]) -> dict[str, object]:
    """``["a.b=1", "+c=x", "~d"]`` → ``{"a.b": 1, "c": "x"}`` (values parsed as YAML)."""
    out = {}
    for line in lines:
        line = str(line).strip()
        if line.startswith("~") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            parsed = value
        out[key.lstrip("+")] = parsed if isinstance(parsed, (int, float, str)) else value
    return out


def find_jobs(sweep_dir: str | Path, output: str | None = None) -> list[tuple[Path, dict]]:
    """``(dataset path, overrides)`` of every finished job under ``sweep_dir``, by job number."""
    jobs = []
    for job in states(sweep_dir, output):
        if job.status == "done":
            path = job.folder / output if output is not None else job_dataset(job.folder)
            jobs.append((path, parse_overrides(job.overrides)))
    return jobs


def unfinished(sweep_dir: str | Path, output: str | None = None) -> dict[str, list[dict]]:
    """``{"failed_jobs": [...], "missing_jobs": [...]}``: the sweep's jobs that failed (with
    their one-line error) or have no dataset, each ``{"overrides": [...], "error": ...}``."""
    out: dict[str, list[dict]] = {"failed_jobs": [], "missing_jobs": []}
    for job in states(sweep_dir, output):
        if job.status != "done":
            entry = {"overrides": job.overrides, "job": job.num}
            if job.status == "failed":
                entry["error"] = str(job.record.get("error", ""))
            out[f"{job.status}_jobs"].append(entry)
    return out


def swept_keys(overrides: list[dict]) -> list[str]:
    """The keys whose value differs between jobs, in the order they first appear."""
    keys = list(dict.fromkeys(k for o in overrides for k in o))
    return [k for k in keys if len({repr(o.get(k)) for o in overrides}) > 1]


def _is_number(v) -> bool:
    """An int or float (Python or NumPy), not a bool."""
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


def _coord(values: list) -> np.ndarray:
    numeric = all(_is_number(v) for v in values)
    if numeric and all(isinstance(v, int) for v in values):
        return np.asarray(sorted(set(values)), dtype=np.int64)
    if numeric:
        return np.asarray(sorted({float(v) for v in values}), dtype=float)
    return np.asarray(sorted({str(v) for v in values}), dtype=object)


def _value(v, coord: np.ndarray):
    kind = coord.dtype.kind
    return int(v) if kind == "i" else float(v) if kind == "f" else str(v)


def _keep_open(n_files: int) -> None:
    """Let xarray keep ``n_files`` files open at once (its cache holds 128 by default; past
    that, reading a lazily merged sweep closes and reopens its files over and over), raising
    this process's limit on open files (the soft limit, up to the hard one) when needed."""
    wanted = n_files + 64
    if xr.get_options()["file_cache_maxsize"] < wanted:
        xr.set_options(file_cache_maxsize=wanted)
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < wanted + 256:
            top = wanted + 256 if hard == resource.RLIM_INFINITY else min(hard, wanted + 256)
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, top), hard))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the cache still holds what it can


EAGER_BYTES = 256 * 2**20  # job files up to this size in all are loaded into memory


def _open(path: Path, lazy: bool) -> xr.Dataset:
    if lazy and importlib.util.find_spec("dask") is not None:
        return open_dataset(path, chunks={})
    with open_dataset(path) as ds:
        return ds.load()


def _on_disk(paths: list[Path]) -> int:
    """The files' total size in bytes (an unreadable one counts 0: opening it says why)."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def collect(sweep_dir: str | Path, output: str | None = None) -> xr.Dataset:
    """One dataset for the whole sweep under ``sweep_dir`` (see the module docstring)."""
    jobs = find_jobs(sweep_dir, output)
    left = unfinished(sweep_dir, output)
    if not jobs:
        counts = ", ".join(f"{len(v)} {k.split('_')[0]}" for k, v in left.items() if v)
        raise FileNotFoundError(
            f"{sweep_dir}: no job directory with .hydra/ and a finished dataset"
            + (f" ({counts})" if counts else "")
        )
    keys = swept_keys([o for _, o in jobs])
    coords = {k: _coord([o.get(k) for _, o in jobs]) for k in keys}
    _keep_open(len(jobs))
    lazy = _on_disk([path for path, _ in jobs]) > EAGER_BYTES  # small: no dask overhead
    parts = [_open(path, lazy) for path, _ in jobs]
    attr_names = list(dict.fromkeys(a for ds in parts for a in ds.attrs))
    varying = [
        a for a in attr_names if len({repr(ds.attrs.get(a)) for ds in parts}) > 1 or a == "config"
    ]
    missing = {a: _missing_attr([ds.attrs[a] for ds in parts if a in ds.attrs]) for a in varying}
    stripped = []
    for ds in parts:
        ds = ds.reset_coords([c for c in ("epoch", "estimated") if c in ds.coords])
        for a in varying:
            value = ds.attrs.get(a, missing[a])
            if not (np.ndim(value) == 0 and isinstance(missing[a], float)):
                value = str(value)  # one type per variable: NetCDF cannot mix str and numbers
            ds[f"attr_{a}"] = xr.Variable((), value)
        ds.attrs = {}
        stripped.append(ds)
    merged = _stack(stripped, [o for _, o in jobs], keys, coords)
    for c in ("epoch", "estimated"):
        if c in merged and not set(keys) & set(merged[c].dims):
            merged = merged.set_coords(c)
    for c in ("epoch", "estimated"):  # identical across jobs: a coordinate again
        if c in merged.data_vars and _constant_over(merged[c], keys):
            merged[c] = merged[c].isel({k: 0 for k in keys if k in merged[c].dims})
            merged = merged.set_coords(c)
    if (
        "estimated" in merged.coords
        and not np.isnan(merged["estimated"].values.astype(float)).any()
    ):
        merged = merged.assign_coords(estimated=merged["estimated"].astype(bool))
    common = {a: v for a, v in parts[0].attrs.items() if a not in varying}
    merged.attrs = common | {
        "swept_keys": yaml.safe_dump(keys),
        "job_attrs": yaml.safe_dump(varying),
        "sweep_dir": str(Path(sweep_dir)),
        **{k: yaml.safe_dump(v, sort_keys=False) for k, v in left.items()},
    }
    return merged


def _stack(parts: list[xr.Dataset], overrides: list[dict], keys: list[str], coords: dict):
    """The jobs' datasets along one dimension per swept key: concatenated along a ``job``
    dimension (outer join of their steps, replicates and parameters), which is then unstacked
    into the swept keys; combinations no job ran are NaN. Linear in the number of jobs (a merge
    of datasets each expanded along the swept keys would align every job with every other)."""
    if not keys:  # every job has the same overrides: they are one job
        return parts[0]
    stacked = xr.concat(parts, dim="job", join="outer", data_vars="all", coords="different",
                        compat="equals", combine_attrs="drop")  # fmt: skip
    index = {k: ("job", [_value(o.get(k), coords[k]) for o in overrides]) for k in keys}
    stacked = stacked.assign_coords(index)
    if len(keys) == 1:
        stacked = stacked.swap_dims(job=keys[0])
    else:
        stacked = stacked.set_index(job=keys).unstack("job")
    return stacked.reindex(coords).transpose(*keys, ...)


def _missing_attr(values: list) -> float | str:
    """What a job without the attribute gets (e.g. ``hidden`` of the mlp in a sweep over
    problems): NaN when every job that has it holds a number, else the empty string."""
    return float("nan") if all(_is_number(v) for v in values) else ""


def _constant_over(da: xr.DataArray, keys: list[str]) -> bool:
    dims = [k for k in keys if k in da.dims]
    if not dims:
        return True
    first = da.isel({k: 0 for k in dims})
    return bool((da == first).all()) if da.dtype != object else False


def cells(sweep: xr.Dataset) -> Iterator[tuple[dict, xr.Dataset]]:
    """``({key: value}, job dataset)`` for every job present in a collected sweep."""
    keys = yaml.safe_load(sweep.attrs.get("swept_keys", "[]")) or []
    job_attrs = yaml.safe_load(sweep.attrs.get("job_attrs", "[]")) or []
    sweep_only = ("swept_keys", "job_attrs", "sweep_dir", "failed_jobs", "missing_jobs")
    base = {a: v for a, v in sweep.attrs.items() if a not in sweep_only}
    for values in itertools.product(*(sweep[k].values.tolist() for k in keys)):
        where = dict(zip(keys, values, strict=True))
        ds = sweep.sel(where)
        if "loss" in ds and not np.isfinite(ds["loss"].values).any():
            continue  # a job missing from the sweep
        ds = _trim(ds)
        attrs = dict(base)
        for a in job_attrs:
            name = f"attr_{a}"
            if name in ds:
                value = ds[name].values.item()
                if not (value == "" or (isinstance(value, float) and np.isnan(value))):
                    attrs[a] = value  # else this job did not have the attribute
                ds = ds.drop_vars(name)
        for c in ("epoch", "estimated"):
            if c in ds.data_vars:
                ds = ds.set_coords(c)
        if "estimated" in ds.coords:
            ds = ds.assign_coords(estimated=ds["estimated"].astype(bool))
        if "diverged" in ds:
            ds["diverged"] = ds["diverged"].astype(bool)
        ds.attrs = attrs
        yield where, ds.drop_vars(keys, errors="ignore")


def _trim(ds: xr.Dataset) -> xr.Dataset:
    """Drop the steps, replicates and parameters that only an outer join added."""
    loss = ds["loss"]
    ds = ds.isel(step=np.isfinite(loss.values).any(axis=0))
    ds = ds.isel(replicate=np.isfinite(ds["loss"].values).any(axis=1))
    if "param" in ds.dims and "x_final" in ds:
        ds = ds.isel(param=np.isfinite(ds["x_final"].values).any(axis=0))
    return ds
