"""What happened to each job of a sweep: its record ``job.yaml``, the sweep's list ``jobs.yaml``.

Each job writes ``job.yaml`` into its folder: ``status`` (``running``, ``done`` or ``failed``),
``config_hash`` (:func:`config_hash`: the resolved config without ``output`` and ``resume``,
and the bytes of a data file it reads), ``before`` (what this sweep found: ``done``,
``missing``, ``failed`` or ``stale``), ``action`` (``ran`` or ``skipped``), the one-line
``error`` of a failed job, its ``num``, ``overrides`` and the ``sweep`` that ran it (the
start time and pid of the sweep's lock). The dataset carries the same hash in its attribute
``config_hash``: a job is done when its dataset exists with that hash.

The sweep writes ``jobs.yaml`` into its folder before its jobs start: every job's overrides,
by job number, so that jobs which never ran are still listed (:func:`states`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import yaml
from omegaconf import OmegaConf

from .lock import holder

RECORD = "job.yaml"
MANIFEST = "jobs.yaml"
NOT_HASHED = ("output", "resume")  # where the dataset goes, and whether to resume


def config_hash(cfg) -> str:
    """A hex digest of the resolved run config ``cfg`` (without the ``hydra`` node, ``output``
    and ``resume``), and of the data file's bytes when ``problem.data`` names one."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    tree = {k: v for k, v in tree.items() if k not in NOT_HASHED and k != "hydra"}
    digest = hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode())
    data = Path(str(tree.get("problem", {}).get("data", ""))).expanduser()
    if data.suffix.lower() in (".csv", ".npz") and data.is_file():
        try:
            with open(data, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError:  # unreadable: the run says why
            pass
    return digest.hexdigest()[:16]


def dataset_hash(path: Path) -> str | None:
    """The ``config_hash`` attribute of the dataset at ``path``; None if absent or unreadable."""
    try:
        with h5py.File(path, "r") as fh:
            value = fh.attrs.get("config_hash")
    except (OSError, ValueError, RuntimeError):
        return None
    return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))


def read_record(job_dir: Path) -> dict:
    """The job's ``job.yaml`` ({} when there is none or it is unreadable)."""
    try:
        record = yaml.safe_load((Path(job_dir) / RECORD).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(job_dir: Path, **fields) -> None:
    """Write the job's ``job.yaml`` (atomically: a temporary file renamed over it)."""
    path = Path(job_dir) / RECORD
    tmp = path.with_name(f".{RECORD}.{os.getpid()}.tmp")
    try:
        tmp.write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def before(job_dir: Path, output: str, digest: str) -> str:
    """What a job folder holds for a job whose config hashes to ``digest``: ``done`` (its
    dataset, with that hash), ``failed`` (the same config failed), ``stale`` (a dataset or a
    failure of another config) or ``missing``."""
    dataset = Path(job_dir) / output
    if dataset.exists():
        return "done" if dataset_hash(dataset) == digest else "stale"
    record = read_record(job_dir)
    if record.get("status") == "failed":
        return "failed" if record.get("config_hash") == digest else "stale"
    return "missing"


def clear(job_dir: Path, output: str) -> None:
    """Remove the temporary files a killed writer left in ``job_dir`` (a dataset there stays
    until the job's new one replaces it; while the record says otherwise it is not merged)."""
    for tmp in Path(job_dir).glob(f".{output}.*.tmp"):
        tmp.unlink(missing_ok=True)


def sweep_id(sweep_dir: Path) -> str:
    """The sweep now writing ``sweep_dir``: the start time and pid in its lock ("" if none)."""
    held = holder(sweep_dir)
    return f"{held.get('started', '')} pid {held.get('pid', '')}" if held else ""


def write_manifest(sweep_dir: Path, jobs: list[list[str]]) -> None:
    """Write ``jobs.yaml``: this sweep's id and every job's overrides, by job number."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"sweep": sweep_id(sweep_dir), "jobs": jobs}, sort_keys=False)
    tmp = sweep_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, sweep_dir / MANIFEST)


@dataclass
class JobState:
    """One job of a sweep as found on disk (see the module docstring for the fields)."""

    num: int
    overrides: list[str]
    folder: Path | None  # None: the job never started
    status: str  # done | failed | missing
    record: dict

    @property
    def label(self) -> str:
        """The job's overrides on one line (``#num`` when it has none)."""
        return " ".join(self.overrides) or f"#{self.num}"


def job_dataset(job_dir: str | Path) -> Path:
    """The dataset a Hydra job directory holds: its config's ``output`` (``run.nc`` unless
    changed), read from ``.hydra/config.yaml`` when there is one."""
    job_dir = Path(job_dir)
    config = job_dir / ".hydra" / "config.yaml"
    try:
        cfg = (yaml.safe_load(config.read_text()) or {}) if config.is_file() else {}
    except (OSError, yaml.YAMLError):
        cfg = {}
    return job_dir / str(cfg.get("output", "run.nc") if isinstance(cfg, dict) else "run.nc")


def read_manifest(sweep_dir: str | Path) -> dict:
    """The sweep's ``jobs.yaml`` ({} when there is none or it is unreadable)."""
    try:
        manifest = yaml.safe_load((Path(sweep_dir) / MANIFEST).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _folders(sweep_dir: Path) -> dict[int, tuple[Path, list[str], dict]]:
    """Job number -> (folder, overrides, record) of every job folder (one with ``.hydra/``)."""
    found, unnumbered = {}, []
    for hydra_dir in sorted(sweep_dir.glob("*/.hydra")):
        folder, record = hydra_dir.parent, read_record(hydra_dir.parent)
        try:
            overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) or []
        except (OSError, yaml.YAMLError):
            overrides = []
        num = record.get("num", int(folder.name) if folder.name.isdigit() else None)
        if isinstance(num, int):
            found[num] = (folder, [str(o) for o in overrides], record)
        else:
            unnumbered.append((folder, [str(o) for o in overrides], record))
    for i, entry in enumerate(unnumbered):  # e.g. hydra.sweep.subdir=${hydra.job.id}
        found[max(found, default=-1) + 1 + i] = entry
    return found


def states(sweep_dir: str | Path, output: str | None = None) -> list[JobState]:
    """Every job of the sweep in ``sweep_dir``, by number: those ``jobs.yaml`` lists (or, for a
    sweep without one, every job folder with a ``.hydra/`` folder), each ``done`` (its dataset
    exists and its record, if any, says done), ``failed`` or ``missing`` (never started, still
    running, killed, or a folder left by another sweep with other overrides)."""
    sweep_dir = Path(sweep_dir)
    folders = _folders(sweep_dir)
    manifest = read_manifest(sweep_dir).get("jobs")
    if isinstance(manifest, list):
        expected = {i: [str(o) for o in (job or [])] for i, job in enumerate(manifest)}
    else:
        expected = {num: overrides for num, (_, overrides, _) in folders.items()}
    out = []
    for num, overrides in sorted(expected.items()):
        folder, found, record = folders.get(num, (None, None, {}))
        if folder is None or found != overrides:
            out.append(JobState(num, overrides, None, "missing", {}))
            continue
        dataset = folder / output if output is not None else job_dataset(folder)
        status = record.get("status", "done")
        if status != "failed":
            status = "done" if status == "done" and dataset.is_file() else "missing"
        out.append(JobState(num, overrides, folder, status, record))
    return out
