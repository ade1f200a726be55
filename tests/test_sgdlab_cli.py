"""The ``sgdlab`` command end to end: a default run, a joblib multirun, help, bad input."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from omegaconf import OmegaConf

import sgdlab
from sgdlab import ConfigError, cli

ROOT = Path(__file__).resolve().parents[1]


def sgdlab_cmd(args, cwd, python=sys.executable, env=None):
    return subprocess.run([python, "-m", "sgdlab", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


def test_default_run_writes_dataset_and_prints_summary(tmp_path):
    out = sgdlab_cmd([], tmp_path)
    assert out.returncode == 0, out.stderr
    files = list(tmp_path.glob("outputs/*/*/run.nc"))
    assert len(files) == 1
    assert "final suboptimality" in out.stdout and "sampler=with_replacement" in out.stdout
    assert str(files[0]) in out.stdout
    ds = sgdlab.read_dataset(files[0])
    assert ds.attrs["replicates"] == 32 and (ds["status"].values == "done").all()
    assert np.nanmean(ds["suboptimality"].isel(step=-1)) < np.nanmean(ds["suboptimality"][:, 0])
    assert not list(tmp_path.glob("outputs/*/*/.run.nc.*"))  # no temporary file left


def test_help_and_cfg_show_groups_and_options(tmp_path):
    out = sgdlab_cmd(["--help"], tmp_path)
    assert out.returncode == 0
    for line in [
        "problem: custom, least_squares, logistic, lsq1d, mean, mlp",
        "sampler: cyclic, reshuffle, shuffle_once, with_replacement",
        "optimizer: adagrad, adam, custom, momentum, nesterov, rmsprop, sgd, svrg",
        "schedule: constant, custom, horizon_sqrt, inverse_sqrt, inverse_time, step_decay",
    ]:
        assert line in out.stdout  # fmt: skip
    out = sgdlab_cmd(["--cfg", "job", "problem=mean"], tmp_path)
    assert out.returncode == 0 and "name: mean" in out.stdout and "replicates:" in out.stdout
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_multirun_with_joblib_launcher(tmp_path):
    out = sgdlab_cmd(["-m", "sampler=with_replacement,reshuffle", "optimizer.lr=0.01,0.1",
                      "steps=50", "replicates=4"], tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    runs = sorted(tmp_path.glob("multirun/*/*/*/run.nc"))
    assert len(runs) == 4
    assert "joblib workers" in out.stdout + out.stderr  # the local launcher ran the jobs
    seen = set()
    for path in runs:
        ds = sgdlab.read_dataset(path)
        seen.add((ds.attrs["sampler"], OmegaConf.create(ds.attrs["config"]).optimizer.lr))
    assert seen == {(s, lr) for s in ("with_replacement", "reshuffle") for lr in (0.01, 0.1)}
    assert "sgdlab sweep: 4 runs" in out.stdout


BAD = [
    (["optimizer.lr=0"], "optimizer.lr"),
    (["optimizer.lr=-1"], "optimizer.lr"),
    (["batch_size=100000"], "batch_size"),
    (["replicates=0"], "replicates"),
    (["log.estimates.hessian_samples=-1"], "log.estimates.hessian_samples"),
    (["early_stopping.patience=3", "log.enabled=false"], "early_stopping.patience"),
    (["problem=lsq1d", "problem.a=[1.0,nan]", "problem.b=[0.0,1.0]"], "problem.a"),
    (["problem=logistic", "problem.data=/no/such/file.csv"], "problem.data"),
    (["problem=logistic", "problem.data="], "problem.data='': must be one of synthetic"),
    (["output=/tmp/elsewhere/x.nc"], "output='/tmp/elsewhere/x.nc': must be a file name"),
    (["output=run.csv"], "output='run.csv'"),
    (["problem=nope"], "problem"),
    (["-m", "optimizer.lr=0.1,-0.1"], "optimizer.lr"),  # every job of a sweep is checked
    (["-m", "sampler=choice(reshuffle,sideways)"], "sampler='sideways'"),
    (["-m", "sampler=glob(zz*)"], "matches no option"),
    (["-m", "optimizer.lr=interval(0.1,1)"], "interval sweep"),
    (["steps"], "override 'steps'"),
    (["--config-dir", "/no/such/dir", "experiment=mine"], "--config-dir"),
    (["--cfg", "job", "problem=nope"], "problem"),  # checked even when only printing
    # Hydra's + adds a key past the schema: a misspelt one is named, not ignored or a traceback
    (["optimizer=momentum", "+optimizer.betta=0.5"], "optimizer.betta=0.5: not a key of optim"),
    (["schedule=step_decay", "+schedule.gama=2"], "schedule.gama"),
    (["+problem.foo=1"], "problem.foo=1: not a key of problem=least_squares"),
    (["+log.estimates.foo=1"], "log.estimates.foo=1: not a key of log.estimates"),
    (["+foo=1"], "foo=1: not a key of the config"),
    (["problem.n=???"], "problem.n='???': needs a value"),
    (["+problem.foo=???"], "problem.foo='???': not a key"),  # misspelt before missing
    (["sampler=null"], "sampler='null': unknown option"),
    (["experiment=null"], "for no experiment, leave the override out"),
    (["-m", "problem=logistic,mlp", "+problem.lam=0.1"], "write ++key=value"),
    (["-m", "problem=logistic,mlp", "problem.foo=1"], "no swept problem option"),
    (["experiment=region_of_confusion", "problem=logistic"], "Key 'a' not in 'LogisticConfig'"),
    # Hydra composes a sweep's base with the default problem, which has no lam
    (["-m", "problem=logistic,mlp", "problem.lam=0.1"], "write ++problem.lam=0.1"),
    (["-m", "problem=logistic,mlp", "problem.hidden=4"], "only ['mlp'] of the swept problem"),
    (["problem.cond=inf"], "problem.cond=inf: condition number must be a finite number"),
    (["problem.cond=nan"], "problem.cond=nan: condition number must be a finite number"),
    # refused before any allocation, naming the memory the run needs
    (["replicates=100000000000"], "replicates=100000000000: the run needs at least"),
    (["steps=100000000000000", "log.enabled=false"], "steps=100000000000000: the run needs"),
    (["-m", "replicates=2,100000000000"], "GiB of memory"),
    (["memory_mb=0.05"], "memory_mb=0.05: a full-data pass needs at least"),
]


@pytest.mark.parametrize("args,key", BAD)
def test_bad_input_one_line_exit_2_nothing_written(args, key, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sgdlab", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sgdlab: error: ") and key in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name,content,fragment",
    [
        ("nan.csv", "a,y\n1,0\nnan,1\n", "NaN"),
        ("bad.csv", "a,y\n1,0\n2,x\n", "malformed"),
        ("ragged.csv", "a,y\n1,0\n2,1,3\n", "number of columns changed"),
        ("nofeature.csv", "y\n0\n1\n0\n1\n", "at least 1 feature column"),
        ("len.npz", None, "lengths must match"),
        # overflowing feature scales: never standardized into zeros
        ("huge.csv", "a,b,y\n1e300,1,0\n-1e300,2,1\n1.5e300,3,0\n", "overflows float64"),
        ("huge.npz", 1e300, "feature scale overflows float64 (feature column(s) [1]"),
        ("inf.npz", np.inf, "NaN or infinite"),
        ("tiny.npz", 1e-300, "feature scale underflows float64 (feature column(s) [1]"),
    ],
)
def test_bad_data_files_from_the_cli(name, content, fragment, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    path = data / name
    if content is None:
        np.savez(path, X=np.zeros((4, 2)), y=np.array([0, 1, 0]))
    elif isinstance(content, float):  # the second feature column scaled by `content`
        X = np.random.default_rng(0).normal(size=(6, 2)) * np.array([1.0, content])
        np.savez(path, X=X, y=np.arange(6) % 2)
    else:
        path.write_text(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sgdlab", "problem=logistic", f"problem.data={path}"])
    with pytest.raises(SystemExit):
        cli.main()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "problem.data" in err
    assert "usecols" not in err  # numpy's hint names numpy's API, not ours
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize("standardize", ["true", "false"])
def test_overflowing_features_are_refused_whether_or_not_standardized(standardize, tmp_path):
    path = tmp_path / "huge.csv"
    rows = [f"{(i % 3 + 1) * 1e300},{i},{i % 2}" for i in range(8)]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    over = ["problem=logistic", f"problem.data={path}", f"problem.standardize={standardize}"]
    with pytest.raises(ConfigError, match="feature scale overflows float64"):
        sgdlab.run(over)


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_an_unreadable_data_file_says_permission_denied(suffix, tmp_path, monkeypatch):
    from sgdlab.problems import data

    path = tmp_path / f"secret{suffix}"
    if suffix == ".npz":
        np.savez(path, X=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    else:
        path.write_text("a,y\n1,0\n2,1\n")
    if os.geteuid() == 0:  # root reads any file: make this one refuse, as the kernel would

        def refuse(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return open(file, *args, **kwargs)

        monkeypatch.setattr(data, "open", refuse, raising=False)
    else:
        path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied") as info:
        sgdlab.run(["problem=logistic", f"problem.data={path}"])
    assert "zip" not in str(info.value)


def test_bad_input_end_to_end_subprocess(tmp_path):
    out = sgdlab_cmd(["optimizer.lr=-0.5"], tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "sgdlab: error: optimizer.lr=-0.5: must be a positive finite number"
    ]
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_non_editable_install_runs_from_another_directory(tmp_path):
    src = tmp_path / "src"  # build from a copy: pip would leave build/ in the repo
    keep = ["sgdlab", "conf", "autodiff", "analysis", "pyproject.toml", "README.md"]
    for name in keep:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        elif (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--target", str(target), str(src)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    if pip.returncode != 0 and "setuptools" in pip.stderr and "No matching" in pip.stderr:
        pytest.skip("cannot fetch the build backend (offline)")
    assert pip.returncode == 0, pip.stderr
    assert (target / "sgdlab" / "conf" / "problem" / "mean.yaml").is_file()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    probe = subprocess.run([sys.executable, "-c", "import sgdlab; print(sgdlab.__file__)"],
                           cwd=work, capture_output=True, text=True, env=env)  # fmt: skip
    assert probe.stdout.startswith(str(target))
    out = subprocess.run([str(target / "bin" / "sgdlab"), "problem=mean", "steps=20",
                          "replicates=2"], cwd=work, capture_output=True, text=True,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert len(list(work.glob("outputs/*/*/run.nc"))) == 1


def _prepared(monkeypatch):
    """Record the config of every job the precheck composes (instead of building it)."""
    seen = []
    monkeypatch.setattr("sgdlab.runner.prepare", seen.append)
    return seen


@pytest.mark.parametrize(
    "sweep,samplers",
    [
        ("sampler=choice(with_replacement,reshuffle)", ["with_replacement", "reshuffle"]),
        ("sampler=glob(*)", ["cyclic", "reshuffle", "shuffle_once", "with_replacement"]),
        ("sampler=glob(*,exclude=[cyclic,shuffle_once])", ["reshuffle", "with_replacement"]),
    ],
)
def test_hydra_sweep_syntax_passes_the_precheck(sweep, samplers, monkeypatch):
    seen = _prepared(monkeypatch)
    cli.precheck(["-m", sweep, "optimizer.lr=choice(0.01,0.1)", "steps=5"])
    jobs = {(c.sampler.name, c.optimizer.lr) for c in seen}
    assert len(seen) == 2 * len(samplers)
    assert jobs == {(s, lr) for s in samplers for lr in (0.01, 0.1)}


def test_config_dir_adds_user_experiments(tmp_path, monkeypatch):
    """``--config-dir DIR experiment=mine`` (Hydra's way to add configs) reaches compose."""
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nsteps: 7\n")
    (tmp_path / "experiment" / "bad.yaml").write_text("# @package _global_\nsteps: -7\n")
    seen = _prepared(monkeypatch)
    cli.precheck(["--config-dir", str(tmp_path), "experiment=mine"])
    cli.precheck(["-m", "--config-dir", str(tmp_path), "experiment=glob(m*)"])
    assert [c.steps for c in seen] == [7, 7]
    with pytest.raises(ConfigError, match="experiment='mine'"):
        cli.precheck(["experiment=mine"])
    with pytest.raises(ConfigError, match="steps"):
        sgdlab.run(sgdlab.compose(["experiment=bad"], config_dir=tmp_path))
    out = sgdlab_cmd(["--cfg", "job", "--config-dir", str(tmp_path), "experiment=mine"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "steps: 7" in out.stdout


def test_hydra_searchpath_adds_user_experiments(tmp_path, monkeypatch):
    """``hydra.searchpath=[file://DIR]`` is Hydra's other way to add configs: the pre-check and
    compose see its options too, and a bad entry is a one-line error naming the key."""
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nsteps: 7\n")
    seen = _prepared(monkeypatch)
    cli.precheck([f"hydra.searchpath=[file://{tmp_path}]", "experiment=mine"])
    cli.precheck(["-m", f"hydra.searchpath=[file://{tmp_path}]", "experiment=glob(m*)"])
    assert [c.steps for c in seen] == [7, 7]
    assert sgdlab.compose([f"hydra.searchpath=[file://{tmp_path}]", "experiment=mine"]).steps == 7
    monkeypatch.chdir(tmp_path)  # file:// paths are relative to the working directory
    assert sgdlab.compose(["hydra.searchpath=[file://.]", "experiment=mine"]).steps == 7
    for bad in ("file:///no/such/dir", "pkg://no_such_package_xyz", "http://x"):
        with pytest.raises(ConfigError, match="hydra.searchpath"):
            cli.precheck([f"hydra.searchpath=[{bad}]", "experiment=mine"])
    out = sgdlab_cmd(["--cfg", "job", f"hydra.searchpath=[file://{tmp_path}]", "experiment=mine"],
                     tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "steps: 7" in out.stdout


def test_hydra_searchpath_pkg_entry_adds_a_packages_configs(tmp_path, monkeypatch):
    """``pkg://package`` names an importable package's folder, for the pre-check, compose and
    Hydra itself alike."""
    package = tmp_path / "my_lab_configs"
    (package / "experiment").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "experiment" / "mine.yaml").write_text("# @package _global_\nsteps: 9\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = _prepared(monkeypatch)
    cli.precheck(["hydra.searchpath=[pkg://my_lab_configs]", "experiment=mine"])
    assert [c.steps for c in seen] == [9]
    assert sgdlab.compose(["hydra.searchpath=[pkg://my_lab_configs]", "experiment=mine"]).steps == 9
    out = sgdlab_cmd(["--cfg", "job", "hydra.searchpath=[pkg://my_lab_configs]", "experiment=mine"],
                     tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "steps: 9" in out.stdout


def test_a_key_only_the_swept_options_have_is_set_with_plus_plus(monkeypatch):
    seen = _prepared(monkeypatch)
    cli.precheck(["-m", "problem=logistic,mlp", "++problem.lam=0.1"])
    assert [(c.problem.name, c.problem.lam) for c in seen] == [("logistic", 0.1), ("mlp", 0.1)]


def test_summary_without_f_star_reports_the_final_loss():
    ds = sgdlab.run(["problem=mlp", "problem.n=60", "problem.hidden=3", "replicates=3",
                     "steps=5", "log.estimates.num=0"])  # fmt: skip
    text = cli.summarize(ds)
    assert "loss f(x_T) (f* unknown)" in text and "nan" not in text
    label, values = cli.final_values(ds)
    np.testing.assert_array_equal(values, ds["loss"].isel(step=-1).values)


def test_summary_ci_uses_student_t_for_small_R():
    final = np.array([1.0, 2.0, 3.0])  # R = 3: half-width t(0.975, 2)·s/√3 = 2.48, not 1.13
    ds = xr.Dataset({"suboptimality": (("replicate", "step"), np.stack([final * 9, final], 1))})
    ds.attrs.update(problem="mean", optimizer="sgd", schedule="constant", sampler="cyclic",
                    replicates=3, steps=1, batch_size=1, wall_time_s=0.0, n_diverged=0)  # fmt: skip
    assert "2 ± 2.5 (95% CI)" in cli.summarize(ds)


def test_summary_of_one_replicate_has_no_nan_interval():
    text = cli.summarize(sgdlab.run(["experiment=gd_least_squares", "steps=20"]))
    assert "(one replicate: no CI)" in text and "nan" not in text


def test_summary_reports_the_averaged_iterate_and_early_stops():
    over = ["replicates=4", "steps=200", "log.estimates.num=0"]
    averaged = sgdlab.run([*over, "averaging.kind=tail"])
    text = cli.summarize(averaged)
    f_star = float(averaged["f_star"])
    mean = (averaged["avg_loss"].isel(step=-1).values - f_star).mean()
    assert f"averaged iterate, same measure: {mean:.4g} ±" in text
    assert "stopped early" not in text
    stopping = sgdlab.run([*over, "early_stopping.patience=1", "early_stopping.holdout=0.5"])
    stopped = int((stopping["stopped_at"].values >= 0).sum())
    assert f"stopped early (held-out loss): {stopped}/4 replicates" in cli.summarize(stopping)


def test_interrupt_during_the_precheck_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sgdlab"])

    def interrupted(args, on_local_sweep=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "precheck", interrupted)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 130
    assert capsys.readouterr().err == "sgdlab: interrupted before any work; nothing written\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["steps=20"], ["-m", "steps=20,30"]])
def test_a_reader_that_leaves_early_gets_no_traceback(args, tmp_path):
    """``sgdlab | head``: every line to stdout meets a closed pipe (its read end is closed
    before the child starts); the runs are still written and nothing is printed on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sgdlab", *args, "replicates=2"],
                                cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE)  # fmt: skip
    finally:
        os.close(write_end)
    _, err = proc.communicate(timeout=300)
    err = err.decode()
    assert proc.returncode == 0 and "Traceback" not in err and "Error" not in err, err
    jobs = 2 if "-m" in args else 1
    assert len(list(tmp_path.glob("*/*/*/run.nc")) + list(tmp_path.glob("*/*/*/*/run.nc"))) == jobs


def test_a_sweep_checked_by_the_precheck_is_not_composed_again_by_hydra(monkeypatch):
    """Once the precheck has composed every job of a sweep, Hydra's basic sweeper launches
    them without composing each one again; a single run leaves Hydra's check alone."""
    from hydra.core.plugins import Plugins
    from hydra.plugins.sweeper import Sweeper

    BasicSweeper = Plugins.instance().class_name_to_class[cli.BASIC_SWEEPER]  # noqa: N806
    monkeypatch.setattr(BasicSweeper, "validate_batch_is_legal", Sweeper.validate_batch_is_legal)
    with pytest.raises(ConfigError):
        cli.precheck(["-m", "seed=0,1", "optimizer.lr=0.1,-1"])  # a bad job: no sweep at all
    assert BasicSweeper.validate_batch_is_legal is Sweeper.validate_batch_is_legal
    _prepared(monkeypatch)
    cli.precheck(["steps=5"])
    assert BasicSweeper.validate_batch_is_legal is Sweeper.validate_batch_is_legal
    cli.precheck(["-m", "seed=0,1", "steps=5"])
    assert BasicSweeper.validate_batch_is_legal is cli._checked_already


def test_the_precheck_hands_a_local_sweeps_settings_to_its_early_workers(monkeypatch):
    """A sweep with the local launcher (the default) hands its hydra node to
    ``on_local_sweep`` as soon as its base composes, before its jobs are checked (the
    workers import meanwhile); another launcher, or a single run, hands none."""
    _prepared(monkeypatch)
    seen = []
    cli.precheck(["-m", "seed=0,1", "steps=5", "hydra.launcher.n_jobs=3",
                  "hydra.job.env_set.OMP_NUM_THREADS=2"], on_local_sweep=seen.append)  # fmt: skip
    (hydra,) = seen
    assert hydra.launcher._target_ == "hydra_plugins.sgdlab_local.LocalLauncher"
    assert hydra.launcher.n_jobs == 3
    assert str(hydra.job.env_set.OMP_NUM_THREADS) == "2"
    seen.clear()
    with pytest.raises(ConfigError, match="optimizer.lr"):  # a bad job: found after the start
        cli.precheck(["-m", "seed=0,1", "optimizer.lr=0.1,fast"], on_local_sweep=seen.append)
    assert len(seen) == 1
    seen.clear()
    cli.precheck(["-m", "seed=0,1", "steps=5", "hydra/launcher=basic"], on_local_sweep=seen.append)
    cli.precheck(["steps=5"], on_local_sweep=seen.append)
    assert seen == []
    with pytest.raises(ConfigError, match=r"problem.lam"):  # a base that does not compose
        cli.precheck(["-m", "problem=logistic,mlp", "problem.lam=0.1"], on_local_sweep=seen.append)
    assert seen == []


@pytest.mark.parametrize("args", [["steps=5"], ["-m", "steps=5", "hydra/launcher=basic"]])
def test_a_job_in_this_process_runs_with_the_blas_threads_of_env_set(args, monkeypatch, tmp_path):
    """A single run, and a basic-launcher job, compute with the BLAS threads that
    ``hydra.job.env_set`` gives jobs (one by default), although BLAS loaded before Hydra put
    them in the environment; the thread count is restored afterwards."""
    from threadpoolctl import threadpool_info

    def blas() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen, real = [], sgdlab.api.run

    def run(cfg, **kwargs):
        seen.append(blas())
        return real(cfg, **kwargs)

    before = blas()
    monkeypatch.setattr("sgdlab.api.run", run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sgdlab", *args, "hydra.sweep.dir=sweep"])
    cli.main()
    assert seen == [{1}]
    assert blas() == before


@pytest.mark.parametrize("after", ["swallowed", "exit_1"])
def test_sigterm_whose_exception_is_lost_on_the_way_up_still_exits_143(
    after, monkeypatch, capsys, tmp_path
):
    """SIGTERM's exception raised where something swallows it (a finalizer) or turns it into
    an error and an exit 1 (a library, then Hydra): the command still says terminated, 143."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sgdlab", "steps=5"])
    monkeypatch.setattr(cli, "_terminating", type(cli._terminating)())

    def hydra_main():
        try:
            cli._terminated(15, None)
        except cli.Terminated:
            if after == "exit_1":
                raise SystemExit(1) from None

    monkeypatch.setattr(cli, "_hydra_main", hydra_main)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 143
    assert capsys.readouterr().err.endswith("sgdlab: terminated (SIGTERM); run the same command "
                                            "again to finish\n")  # fmt: skip
