"""analysis.collect and analysis.callback: a multirun directory becomes one dataset with one
dimension per swept key; the callback writes sweep.nc, the checks and the figures."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import sgdlab
from analysis import cells, check_sweep, collect, figures
from analysis.collect import parse_overrides, swept_keys

FIXED = ["replicates=4", "steps=30", "problem.n=40", "problem.d=3"]
GRID = [(s, lr) for s in ("with_replacement", "reshuffle") for lr in ("0.05", "0.2")]


def _fake_sweep(root: Path) -> Path:
    """Hydra's multirun layout (job dirs 0..3 with run.nc and .hydra/) from sgdlab.run."""
    for num, (sampler, lr) in enumerate(GRID):
        overrides = [f"sampler={sampler}", f"optimizer.lr={lr}", *FIXED]
        job = root / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"output": "run.nc"}))
        sgdlab.write_dataset(sgdlab.run(overrides), job / "run.nc")
    return root


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    return _fake_sweep(tmp_path_factory.mktemp("multirun"))


def test_overrides_are_parsed_and_swept_keys_found():
    a = parse_overrides(["sampler=reshuffle", "optimizer.lr=0.1", "+foo=bar", "~baz", "steps=3"])
    assert a == {"sampler": "reshuffle", "optimizer.lr": 0.1, "foo": "bar", "steps": 3}
    b = parse_overrides(["sampler=cyclic", "optimizer.lr=0.1", "steps=3"])
    assert swept_keys([a, b]) == ["sampler", "foo"]


def test_collect_has_one_dimension_per_swept_key(sweep_dir):
    sweep = collect(sweep_dir)
    assert sweep.sizes["sampler"] == 2 and sweep.sizes["optimizer.lr"] == 2
    assert sweep.sizes["replicate"] == 4 and sweep.sizes["param"] == 3
    assert list(sweep["sampler"].values) == ["reshuffle", "with_replacement"]
    assert np.allclose(sweep["optimizer.lr"].values, [0.05, 0.2])
    assert sweep["loss"].dims == ("sampler", "optimizer.lr", "replicate", "step")
    assert "epoch" in sweep.coords and sweep["estimated"].dtype == bool
    assert yaml.safe_load(sweep.attrs["swept_keys"]) == ["sampler", "optimizer.lr"]
    cell = sweep["lr"].sel({"sampler": "reshuffle", "optimizer.lr": 0.2})
    assert np.allclose(cell.values, 0.2)  # each job landed at its own coordinates


def test_cells_give_back_each_job_and_the_sweep_survives_netcdf(sweep_dir, tmp_path):
    path = tmp_path / "sweep.nc"
    sgdlab.write_dataset(collect(sweep_dir), path)
    sweep = sgdlab.read_dataset(path)
    jobs = list(cells(sweep))
    assert len(jobs) == 4
    for where, ds in jobs:
        assert ds.attrs["sampler"] == where["sampler"]
        assert yaml.safe_load(ds.attrs["config"])["optimizer"]["lr"] == where["optimizer.lr"]
        original = xr.open_dataset(
            sweep_dir
            / str(GRID.index((where["sampler"], f"{where['optimizer.lr']:g}")))
            / "run.nc",
            engine="h5netcdf",
        )
        assert np.array_equal(ds["loss"].values, original["loss"].values)
        original.close()


def test_check_sweep_adds_the_swept_keys_to_every_table(sweep_dir):
    result = check_sweep(collect(sweep_dir))
    for table in (result.checks, result.summary, result.constants, result.assumptions):
        assert list(table.columns[:2]) == ["sampler", "optimizer.lr"]
    s = result.summary.set_index(["sampler", "optimizer.lr", "theorem"])["status"]
    assert s[("with_replacement", 0.05, "bcn_4_6")] == "holds"
    assert s[("reshuffle", 0.05, "bcn_4_6")] == "not_applicable"


@pytest.mark.slow
def test_a_real_multirun_is_collected_and_reported_by_the_callback(tmp_path):
    multi = tmp_path / "multi"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [
        sys.executable, "-m", "sgdlab", "-m",
        "sampler=with_replacement,reshuffle", "optimizer.lr=0.05,0.2", *FIXED,
        f"hydra.sweep.dir={multi}", "hydra.launcher.n_jobs=2",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "report failed" not in done.stderr, done.stderr[-3000:]
    assert "Verdict:" in done.stdout and "report.html" in done.stdout
    sweep = collect(multi)
    assert dict(sweep.sizes) | {"step": 0} == {
        "sampler": 2, "optimizer.lr": 2, "replicate": 4, "param": 3, "step": 0
    }  # fmt: skip
    assert sorted(sweep["sampler"].values) == ["reshuffle", "with_replacement"]
    assert np.allclose(sweep["optimizer.lr"].values, [0.05, 0.2])
    for name in ("sweep.nc", "checks.csv", "constants.csv", "summary.csv", "report.md",
                 "report.html", "step_size_sweep.png", "replacement.png",
                 "convergence_suboptimality.png"):  # fmt: skip
        assert (multi / name).stat().st_size > 0, name
    on_disk = sgdlab.read_dataset(multi / "sweep.nc")
    assert on_disk.sizes["sampler"] == 2 and on_disk.sizes["optimizer.lr"] == 2


@pytest.mark.parametrize("case", ["big-with-dask", "small-with-dask", "big-without-dask"])
def test_collect_is_lazy_for_big_sweeps_with_dask_and_equal_otherwise(sweep_dir, monkeypatch, case):
    """Job files larger than EAGER_BYTES in all are opened lazily with dask (chunked, not
    loaded); a small sweep, or any sweep without dask, is loaded; all give the same values."""
    collect_module = sys.modules["analysis.collect"]  # `analysis.collect` is the function

    if case.startswith("big"):
        monkeypatch.setattr(collect_module, "EAGER_BYTES", 0)
    if case.endswith("without-dask"):
        real = collect_module.importlib.util.find_spec
        monkeypatch.setattr(
            collect_module.importlib.util,
            "find_spec",
            lambda name, *a: None if name == "dask" else real(name, *a),
        )
    else:
        pytest.importorskip("dask")
    sweep = collect(sweep_dir)
    assert (sweep["loss"].chunks is not None) == (case == "big-with-dask")
    reference = xr.open_dataset(sweep_dir / "0" / "run.nc", engine="h5netcdf").load()
    job = sweep.sel({"sampler": "with_replacement", "optimizer.lr": 0.05})
    np.testing.assert_array_equal(job["loss"].values, reference["loss"].values)


def test_sweep_constant_traces_show_each_jobs_used_constants(sweep_dir):
    """The sweep's constants figure has, per job, the L the theorems used on that job."""
    sweep = collect(sweep_dir)
    keys = ("sampler", "optimizer.lr")
    fig = figures._traces(sweep, keys, ", ".join(keys))
    ax = fig.axes[0]  # L_local
    dashed = [ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
    expected = [figures._used_constants(job)["L_local"] for _, job in cells(sweep)]
    assert len(dashed) == len(expected) == len(GRID)  # one per job
    assert sorted(dashed) == sorted(expected)


def test_a_sweep_over_problems_merges_attributes_only_some_jobs_have(tmp_path):
    """The mlp's ``hidden`` (a number) exists in one job only; logistic's in neither: the merged
    sweep is written, and each job gets back exactly its own attributes."""
    fixed = ["replicates=2", "steps=5", "problem.n=30", "problem.d=2", "log.estimates.num=0"]
    for num, problem in enumerate(("logistic", "mlp")):
        job = tmp_path / str(num)
        (job / ".hydra").mkdir(parents=True)
        overrides = [f"problem={problem}", *fixed]
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"output": "run.nc"}))
        sgdlab.write_dataset(sgdlab.run(overrides), job / "run.nc")
    own = {p: sgdlab.read_dataset(tmp_path / str(k) / "run.nc").attrs
           for k, p in enumerate(("logistic", "mlp"))}  # fmt: skip
    only_mlp = set(own["mlp"]) - set(own["logistic"])
    assert only_mlp, "the test needs an attribute that only the mlp has"
    sweep = collect(tmp_path)
    sgdlab.write_dataset(sweep, tmp_path / "sweep.nc")
    seen = set()
    for where, job in cells(sgdlab.read_dataset(tmp_path / "sweep.nc")):
        problem = where["problem"]
        for a in only_mlp:
            assert (a in job.attrs) == (problem == "mlp"), (a, problem)
            if problem == "mlp":
                assert job.attrs[a] == own["mlp"][a]
        seen.add(problem)
    assert seen == {"logistic", "mlp"}


def test_hue_labels_of_numeric_keys_match_between_frames_and_jobs():
    """batch_size=4 must be "4" in the curves' labels as in the jobs' (a row-wise apply over
    an all-numeric frame made it "4.0", and the sweep report failed on the colour lookup)."""
    keys = ("batch_size", "optimizer.lr")
    frame = pd.DataFrame({"batch_size": [4, 8], "optimizer.lr": [0.01, 0.02], "value": [1.0, 2.0]})
    labels = figures._combine(frame, keys, "hue")["hue"].tolist()
    jobs = [figures._hue_label({"batch_size": 4, "optimizer.lr": 0.01}, keys),
            figures._hue_label({"batch_size": 8, "optimizer.lr": 0.02}, keys)]  # fmt: skip
    assert labels == jobs == ["4, 0.01", "8, 0.02"]
