"""Faults are one-line errors: a full disk, a read-only folder, a failed report, a corrupted or
foreign file, another schema version; nothing partial or temporary is left behind."""

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import sgdlab
from analysis import report
from analysis.collect import collect
from sgdlab import io
from sgdlab.dataset import SCHEMA_VERSION
from sgdlab.io import DatasetError, WriteError

TINY = ["problem=mean", "steps=5", "replicates=2", "log.estimates.num=0"]


@pytest.fixture(scope="module")
def tiny():
    return sgdlab.run(TINY)


def sgdlab_cmd(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "sgdlab", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


def hooked_env(tmp_path, code: str) -> dict:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(textwrap.dedent(code))
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(hook), *sys.path])}


def one_error_line(text: str, prefix: str = "sgdlab: error: ") -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), text
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MB tmpfs (as root; skipped otherwise), unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


# ------------------------------------------------------------------------------ disk full


def test_disk_full_while_writing_is_one_line_and_leaves_nothing(tmp_path, tiny, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    with pytest.raises(WriteError, match="cannot write .*run.nc: No space left on device$"):
        io.write_dataset(tiny, tmp_path / "run.nc")
    assert list(tmp_path.iterdir()) == []


def test_no_room_for_the_dataset_is_refused_before_writing(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(io.shutil, "disk_usage", lambda p: SimpleNamespace(free=1000))
    with pytest.raises(WriteError) as info:
        io.write_dataset(tiny, tmp_path / "run.nc")
    assert info.value.errno == errno.ENOSPC and "0.001 MB free" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_disk_full_on_a_real_tmpfs_run_and_sweep(tmpfs, tmp_path):
    # the space check is bypassed: the file system itself refuses the write part-way
    env = hooked_env(tmp_path, "import sgdlab.io\nsgdlab.io._check_space = lambda ds, p: None\n")
    big = ["replicates=400", "steps=50", "log.estimates.num=0", "~hydra.callbacks.report"]
    out = sgdlab_cmd([*big, f"hydra.run.dir={tmpfs}/run"], tmp_path, env=env)
    assert out.returncode == 1, out.stderr
    assert "No space left on device" in one_error_line(out.stderr)
    sweep = ["-m", "hydra/launcher=basic", "optimizer.lr=0.01,0.02", f"hydra.sweep.dir={tmpfs}/sw"]
    out = sgdlab_cmd([*sweep, *big], tmp_path, env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr  # no crash (was exit 139)
    assert out.stderr.count("No space left on device") == 4  # two jobs, each also in the list
    assert "2 failed and 0 missing of 2 jobs" in out.stderr
    left = [p for p in tmpfs.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".nc")]
    assert left == []


# ------------------------------------------------------------------------------ read-only


@pytest.fixture
def read_only(tmp_path):
    """A folder this process cannot write: a read-only tmpfs as root, mode 0555 otherwise."""
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "inside").mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
        (ro / "inside").chmod(0o555)
        yield ro
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(ro)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        out = sgdlab_cmd([*TINY, f"hydra.run.dir={ro}/inside", "~hydra.callbacks.report"],
                         tmp_path)  # fmt: skip
        assert out.returncode == 0, out.stderr
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        yield ro
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


@pytest.mark.slow
def test_a_read_only_folder_is_one_line(read_only, tmp_path):
    out = sgdlab_cmd([*TINY, f"hydra.run.dir={read_only}/run"], tmp_path)
    assert out.returncode == 1
    assert "cannot write to" in one_error_line(out.stderr)
    out = sgdlab_cmd(["-m", "steps=5,6", f"hydra.sweep.dir={read_only}/sw"], tmp_path)
    assert out.returncode == 1 and "cannot write to" in one_error_line(out.stderr)
    if (read_only / "inside" / "run.nc").is_file():  # root: a run to report on, read-only
        done = subprocess.run([sys.executable, "-m", "analysis.report", str(read_only / "inside")],
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 1
        assert "cannot write the report" in one_error_line(done.stderr, "sgdlab-report: error: ")


# ------------------------------------------------------------------------------ reports


def test_a_failed_report_exits_1_in_one_line(tmp_path, tiny, monkeypatch, capsys):
    sgdlab.write_dataset(tiny, tmp_path / "run.nc")

    def broken(*args, **kwargs):
        raise RuntimeError("figure exploded\nmore")

    monkeypatch.setattr(report, "write_run_report", broken)
    assert report.main([str(tmp_path)]) == 1
    line = one_error_line(capsys.readouterr().err, "sgdlab-report: error: ")
    assert line.endswith("the report failed: RuntimeError: figure exploded")
    assert not (tmp_path / "sgdlab.lock").exists()


@pytest.mark.slow
def test_the_report_after_a_run_failing_makes_the_run_exit_1(tmp_path):
    env = hooked_env(
        tmp_path,
        """
        import analysis.report

        def broken(*args, **kwargs):
            raise RuntimeError("figure exploded")

        analysis.report.write_run_report = broken
    """,
    )
    out = sgdlab_cmd([*TINY, "hydra.run.dir=run"], tmp_path, env=env)
    assert out.returncode == 1
    assert "the report failed: RuntimeError: figure exploded" in one_error_line(out.stderr)
    assert (tmp_path / "run" / "run.nc").is_file()  # the run itself is kept


# ------------------------------------------------------------------------------ integrity


def _foreign(path: Path) -> None:
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")


def _other_version(path: Path, ds) -> None:
    other = ds.copy()
    other.attrs = dict(ds.attrs, schema_version="99")
    other.to_netcdf(path, engine="h5netcdf")


def test_reading_checks_the_schema_version_and_the_format(tmp_path, tiny):
    good = sgdlab.write_dataset(tiny, tmp_path / "good.nc")
    assert sgdlab.read_dataset(good).attrs["schema_version"] == SCHEMA_VERSION
    _foreign(tmp_path / "foreign.nc")
    with pytest.raises(
        DatasetError, match=f"not an sgdlab dataset .*reads schema_version {SCHEMA_VERSION}"
    ):
        sgdlab.read_dataset(tmp_path / "foreign.nc")
    _other_version(tmp_path / "v99.nc", tiny)
    with pytest.raises(
        DatasetError, match=f"schema_version 99, but this sgdlab reads .* {SCHEMA_VERSION}$"
    ):
        sgdlab.read_dataset(tmp_path / "v99.nc")
    (tmp_path / "cut.nc").write_bytes(good.read_bytes()[:2000])
    (tmp_path / "text.nc").write_text("hello\n")
    for name in ("cut.nc", "text.nc"):
        with pytest.raises(DatasetError, match="not a readable NetCDF4/HDF5 file") as info:
            sgdlab.read_dataset(tmp_path / name)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["foreign", "v99", "corrupted"])
def test_sgdlab_report_on_a_bad_file_is_one_line_exit_2(kind, tmp_path, tiny, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / "run.nc"
    if kind == "foreign":
        _foreign(path)
    elif kind == "v99":
        _other_version(path, tiny)
    else:
        good = sgdlab.write_dataset(tiny, tmp_path / "good.nc")
        path.write_bytes(good.read_bytes()[:3000])
    assert report.main([str(run_dir)]) == 2
    line = one_error_line(capsys.readouterr().err, "sgdlab-report: error: ")
    assert str(path) in line
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.nc"]  # no report, no lock


def test_collect_refuses_a_foreign_job_file(tmp_path, tiny):
    for num in (0, 1):
        (tmp_path / str(num) / ".hydra").mkdir(parents=True)
        (tmp_path / str(num) / ".hydra" / "overrides.yaml").write_text(f"- seed={num}\n")
    sgdlab.write_dataset(tiny, tmp_path / "0" / "run.nc")
    _foreign(tmp_path / "1" / "run.nc")
    with pytest.raises(DatasetError, match="1/run.nc: not an sgdlab dataset"):
        collect(tmp_path)
