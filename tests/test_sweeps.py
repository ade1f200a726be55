"""Sweeps that survive: resume, failed jobs kept, one writer per folder, workers that die with
their parent, and the launchers. Most run real ``sgdlab -m`` subprocesses (marked slow)."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

import sgdlab
from analysis.collect import collect, unfinished
from sgdlab import jobs, lock, workers
from sgdlab.cli import final_mean

QUICK = ["steps=50", "replicates=2", "log.estimates.num=0", "~hydra.callbacks.report"]


def sgdlab_cmd(args, cwd, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "sgdlab", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


def hooked_env(tmp_path, code: str) -> dict:
    """An environment whose Python processes (the sweep and its workers) first run ``code``
    (a ``sitecustomize`` module on PYTHONPATH): how a test makes one job fail."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(textwrap.dedent(code))
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(hook), *sys.path])}


FAIL_LR_002 = """
    import sgdlab.api

    _run = sgdlab.api.run

    def run(cfg, *args, **kwargs):
        if cfg.optimizer.lr == 0.02:
            raise RuntimeError("boom from the test\\nsecond line")
        return _run(cfg, *args, **kwargs)

    sgdlab.api.run = run
"""


# ------------------------------------------------------------------------------ resume


def test_config_hash_ignores_where_the_output_goes_and_sees_the_data(tmp_path):
    base = sgdlab.compose(["steps=10"])
    same = sgdlab.compose(["steps=10", "output=other.nc", "resume=false"])
    assert jobs.config_hash(base) == jobs.config_hash(same)
    assert jobs.config_hash(base) != jobs.config_hash(sgdlab.compose(["steps=11"]))
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,0\n2,1\n")
    over = ["problem=logistic", f"problem.data={data}"]
    before = jobs.config_hash(sgdlab.compose(over))
    data.write_text("a,y\n1,0\n3,1\n")
    assert jobs.config_hash(sgdlab.compose(over)) != before  # same path, other data: stale


def test_job_folder_states(tmp_path):
    ds = sgdlab.run(["problem=mean", "steps=5", "replicates=2", "log.estimates.num=0"])
    job = tmp_path / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- seed=0\n")
    assert jobs.before(job, "run.nc", "abc") == "missing"
    jobs.write_record(job, status="failed", config_hash="abc", error="x")
    assert jobs.before(job, "run.nc", "abc") == "failed"
    assert jobs.before(job, "run.nc", "xyz") == "stale"
    assert [j.status for j in jobs.states(tmp_path)] == ["failed"]
    ds.attrs["config_hash"] = "abc"
    sgdlab.write_dataset(ds, job / "run.nc")
    jobs.write_record(job, status="done", config_hash="abc")
    assert jobs.before(job, "run.nc", "abc") == "done"
    assert jobs.before(job, "run.nc", "xyz") == "stale"
    assert [j.status for j in jobs.states(tmp_path)] == ["done"]
    (job / ".run.nc.0123.tmp").write_text("left by a killed writer")
    jobs.clear(job, "run.nc")
    assert sorted(p.name for p in job.iterdir()) == [".hydra", "job.yaml", "run.nc"]
    jobs.write_record(job, status="running", config_hash="xyz")  # rerun, then killed:
    assert [j.status for j in jobs.states(tmp_path)] == ["missing"]  # its old data not merged


@pytest.mark.slow
def test_resume_skips_done_jobs_and_reruns_missing_failed_and_stale(tmp_path):
    # in the sgdlab process (basic launcher): quicker, and resuming is the launcher's business
    sweep = ["-m", "optimizer.lr=0.01,0.02,0.03", *QUICK, "hydra.sweep.dir=sw",
             "hydra/launcher=basic"]  # fmt: skip
    out = sgdlab_cmd(sweep, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "resumed" not in out.stdout  # a fresh sweep has nothing to resume
    sw = tmp_path / "sw"
    kept = (sw / "0" / "run.nc").stat().st_mtime_ns
    final = jobs.read_record(sw / "0")["final"]  # the summary's number, kept with the job
    label, mean = final_mean(sgdlab.read_dataset(sw / "0" / "run.nc"))
    assert final == {"label": label, "mean": mean}
    jobs.write_record(
        sw / "0", **(jobs.read_record(sw / "0") | {"final": {**final, "mean": 123.0}})
    )
    (sw / "1" / "run.nc").unlink()  # missing
    (sw / "2" / "run.nc").unlink()  # failed with the same config
    record = jobs.read_record(sw / "2") | {"status": "failed", "error": "earlier failure"}
    jobs.write_record(sw / "2", **record)
    out = sgdlab_cmd(sweep, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "resumed: 1 skipped (done with the same config), 2 run (1 missing, 1 failed, " \
        "0 stale)" in out.stdout  # fmt: skip
    assert "job 0 (optimizer.lr=0.01" in out.stdout and "skipped" in out.stdout
    assert (sw / "0" / "run.nc").stat().st_mtime_ns == kept
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("  optimizer.lr=0.01 "))
    assert f": mean final {label} = 123  (" in line, line
    assert jobs.read_record(sw / "0")["final"]["mean"] == 123.0  # a skipped job keeps it
    assert "sgdlab sweep: 3 runs" in out.stdout
    out = sgdlab_cmd([*sweep, "steps=60"], tmp_path)  # another config: every job is stale
    assert "0 skipped (done with the same config), 3 run (0 missing, 0 failed, 3 stale)" \
        in out.stdout  # fmt: skip
    assert {sgdlab.read_dataset(p).attrs["steps"] for p in sw.glob("*/run.nc")} == {60}
    out = sgdlab_cmd([*sweep, "steps=60", "resume=false"], tmp_path)
    assert out.returncode == 0 and "3 done already (resume=false)" in out.stdout


@pytest.mark.slow
def test_killed_sweep_resumed_equals_the_uninterrupted_sweep_and_its_workers_die(tmp_path):
    """SIGKILL of ``sgdlab -m`` part-way: its workers are gone within 10 s and write nothing
    more; the same sweep again takes over the stale lock, reruns only the unfinished jobs, and
    merges to the same data as the sweep run without interruption."""
    # jobs of about a second each: the sweep is still running when it is killed
    grid = ["-m", "optimizer.lr=0.01,0.02,0.03,0.04", "steps=40000", "replicates=2",
            "log.estimates.num=0", "~hydra.callbacks.report"]  # fmt: skip
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", *grid, "hydra.sweep.dir=cut"],
                            cwd=tmp_path, **quiet)  # fmt: skip
    cut = tmp_path / "cut"
    deadline = time.monotonic() + 120
    while not list(cut.glob("*/run.nc")) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert workers, "the sweep started no worker process"
    proc.kill()
    proc.wait()
    assert (cut / lock.LOCK_NAME).exists()  # left behind: its holder is gone
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "workers outlived the killed sweep"
    files = {p: p.stat().st_mtime_ns for p in cut.rglob("*")}
    time.sleep(1.0)
    assert {p: p.stat().st_mtime_ns for p in cut.rglob("*")} == files  # nothing more written
    finished = len(list(cut.glob("*/run.nc")))
    assert 1 <= finished < 4

    out = sgdlab_cmd([*grid, "hydra.sweep.dir=cut"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"resumed: {finished} skipped (done with the same config), {4 - finished} run" \
        in out.stdout  # fmt: skip
    assert not (cut / lock.LOCK_NAME).exists()
    # uninterrupted, and in one process: the data do not depend on the launcher either
    out = sgdlab_cmd([*grid, "hydra.sweep.dir=whole", "hydra/launcher=basic"], tmp_path)
    assert out.returncode == 0, out.stderr
    resumed, whole = collect(cut), collect(tmp_path / "whole")
    assert not yaml.safe_load(resumed.attrs["missing_jobs"])
    data = [v for v in whole.data_vars if not v.startswith("attr_")]
    xr.testing.assert_equal(resumed[data].load(), whole[data].load())


@pytest.mark.slow
def test_sigterm_stops_the_sweep_its_workers_and_releases_the_lock(tmp_path):
    grid = ["-m", "optimizer.lr=0.01,0.02,0.03,0.04", "steps=60000", "replicates=2",
            "log.estimates.num=0", "~hydra.callbacks.report", "hydra.sweep.dir=sw"]  # fmt: skip
    pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", *grid], cwd=tmp_path, **pipes)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "sw").glob("*/run.nc")) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("sgdlab: terminated (SIGTERM)")
    assert "Traceback" not in err
    assert not (tmp_path / "sw" / lock.LOCK_NAME).exists()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped


# ------------------------------------------------------------------------------ failed jobs


@pytest.mark.slow
def test_a_failed_job_is_kept_the_others_go_on_and_the_sweep_exits_1(tmp_path):
    sweep = ["-m", "optimizer.lr=0.01,0.02,0.03", *QUICK, "hydra.sweep.dir=sw"]
    out = sgdlab_cmd(sweep, tmp_path, env=hooked_env(tmp_path, FAIL_LR_002))
    assert out.returncode == 1, out.stderr
    sw = tmp_path / "sw"
    assert (sw / "0" / "run.nc").is_file() and (sw / "2" / "run.nc").is_file()
    assert not (sw / "1" / "run.nc").exists()
    record = jobs.read_record(sw / "1")
    assert record["status"] == "failed"
    assert record["error"] == "RuntimeError: boom from the test"
    assert "Traceback" in (sw / "1" / "sgdlab.log").read_text()
    assert "Traceback" not in out.stderr and "second line" not in out.stderr
    assert "job 1 (optimizer.lr=0.02 steps=50" in out.stderr
    assert "1 failed and 0 missing of 3 jobs" in out.stderr
    assert "sgdlab sweep: 2 runs" in out.stdout
    left = unfinished(sw)
    assert [j["overrides"][0] for j in left["failed_jobs"]] == ["optimizer.lr=0.02"]
    assert left["failed_jobs"][0]["error"] == "RuntimeError: boom from the test"
    merged = collect(sw)
    assert merged.sizes["optimizer.lr"] == 2
    assert "optimizer.lr=0.02" in merged.attrs["failed_jobs"]

    report = subprocess.run([sys.executable, "-m", "analysis.report", str(sw)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "failed: optimizer.lr=0.02" in report.stdout
    md = (sw / "report.md").read_text()  # the document lists it too, with its error
    assert "## Failed and missing jobs" in md and "boom from the test" in md

    # a job that never started is listed as missing, by its overrides
    for p in sorted((sw / "2").rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (sw / "2").rmdir()
    assert [j["overrides"][0] for j in unfinished(sw)["missing_jobs"]] == ["optimizer.lr=0.03"]

    out = sgdlab_cmd([*sweep, "hydra/launcher=basic"], tmp_path)  # no fault: only those two
    assert out.returncode == 0, out.stderr
    assert "1 skipped (done with the same config), 2 run (1 missing, 1 failed" in out.stdout


@pytest.mark.slow
def test_basic_launcher_runs_a_sweep_and_keeps_going_after_a_failure(tmp_path):
    sweep = ["-m", "hydra/launcher=basic", "optimizer.lr=0.01,0.02,0.03", *QUICK,
             "hydra.sweep.dir=sw"]  # fmt: skip
    out = sgdlab_cmd(sweep, tmp_path, env=hooked_env(tmp_path, FAIL_LR_002))
    assert out.returncode == 1
    assert "joblib workers" not in out.stdout + out.stderr
    assert len(list((tmp_path / "sw").glob("*/run.nc"))) == 2
    out = sgdlab_cmd(sweep, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2 skipped (done with the same config), 1 run (0 missing, 1 failed" in out.stdout


@pytest.mark.slow
def test_sweep_workers_start_with_the_configured_blas_threads(tmp_path):
    """``hydra.job.env_set`` (one BLAS thread by default) is in each worker's environment
    from its start, before NumPy loads its BLAS (read from /proc/self/environ)."""
    env = hooked_env(tmp_path, """
        import os
        from pathlib import Path

        start = dict(e.split("=", 1) for e in Path("/proc/self/environ").read_text("latin-1")
                     .split("\\0") if "=" in e)
        out = Path(os.environ["SGDLAB_TEST_ENVLOG"])
        if out.is_dir():
            (out / str(os.getpid())).write_text(start.get("OPENBLAS_NUM_THREADS", "unset"))
    """)  # fmt: skip
    (tmp_path / "envlog").mkdir()
    env["SGDLAB_TEST_ENVLOG"] = str(tmp_path / "envlog")
    out = sgdlab_cmd(["-m", "optimizer.lr=0.01,0.02", *QUICK, "hydra.launcher.n_jobs=2",
                      "hydra.job.env_set.OPENBLAS_NUM_THREADS=3"], tmp_path, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    seen = {p.name: p.read_text() for p in (tmp_path / "envlog").iterdir()}
    workers = {pid: v for pid, v in seen.items() if v != "unset"}
    assert workers and set(workers.values()) == {"3"}, seen
    config = yaml.safe_load((sgdlab.config.conf_dir() / "config.yaml").read_text())
    assert config["hydra"]["job"]["env_set"]["OPENBLAS_NUM_THREADS"] == "1"


PIDS = """
    import os
    from pathlib import Path

    import sgdlab.api

    _run = sgdlab.api.run

    def run(cfg, *args, **kwargs):  # which process ran which job
        Path(os.environ["SGDLAB_TEST_PIDS"], f"{cfg.optimizer.lr}").write_text(str(os.getpid()))
        return _run(cfg, *args, **kwargs)

    sgdlab.api.run = run
"""


@pytest.mark.slow
def test_the_local_launcher_runs_jobs_in_the_sweep_process_and_in_warm_workers(tmp_path):
    """hydra/launcher=local (the default): the sweep's own process runs jobs, and so do its
    n_jobs - 1 workers; the result equals the basic launcher's."""
    env = hooked_env(tmp_path, PIDS)
    (tmp_path / "pids").mkdir()
    env["SGDLAB_TEST_PIDS"] = str(tmp_path / "pids")
    lrs = "optimizer.lr=0.01,0.02,0.03,0.04,0.05,0.06"
    sweep = ["-m", lrs, "steps=3000", "replicates=8", "log.estimates.num=0",
             "~hydra.callbacks.report"]  # fmt: skip
    out = sgdlab_cmd([*sweep, "hydra.sweep.dir=local", "hydra.launcher.n_jobs=2"], tmp_path,
                     env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "on 2 processes (this one and 1 joblib workers)" in out.stdout + out.stderr
    pids = {p.read_text() for p in (tmp_path / "pids").iterdir()}
    assert len(pids) == 2, pids  # the sweep process and one worker
    out = sgdlab_cmd([*sweep, "hydra.sweep.dir=basic", "hydra/launcher=basic"], tmp_path)
    assert out.returncode == 0, out.stderr
    for job in (tmp_path / "basic").glob("*/run.nc"):
        ours = sgdlab.read_dataset(tmp_path / "local" / job.parent.name / "run.nc")
        np.testing.assert_array_equal(ours["loss"].values, sgdlab.read_dataset(job)["loss"].values)


SLOW_WARM_UP = """
    import os
    import sys
    import time

    if os.environ.get("SGDLAB_SWEEP_PID") not in (None, str(os.getpid())):  # a worker
        import sgdlab.workers

        _warm = sgdlab.workers._warm_worker

        def slow():  # a worker that takes 20 s to be ready
            time.sleep(20)
            return _warm()

        sgdlab.workers._warm_worker = slow
"""


@pytest.mark.slow
def test_a_worker_gets_a_job_only_once_it_is_warm(tmp_path):
    """Until a worker has imported what a job needs, the sweep's process takes the jobs: a
    short sweep does not wait for a worker that is still starting."""
    env = hooked_env(tmp_path, PIDS + SLOW_WARM_UP)
    (tmp_path / "pids").mkdir()
    env["SGDLAB_TEST_PIDS"] = str(tmp_path / "pids")
    sweep = ["-m", "optimizer.lr=0.01,0.02,0.03", *QUICK, "hydra.launcher.n_jobs=2",
             "hydra.sweep.dir=sw"]  # fmt: skip
    start = time.monotonic()
    out = sgdlab_cmd(sweep, tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    pids = {p.read_text() for p in (tmp_path / "pids").iterdir()}
    assert len(pids) == 1, pids  # all in the sweep's process
    assert time.monotonic() - start < 20  # without waiting for the worker


KILL_FIRST_WORKER_JOB = """
    import os
    import signal
    import time
    from pathlib import Path

    import sgdlab.api

    _run = sgdlab.api.run

    def run(cfg, *args, **kwargs):  # the first job a worker runs kills its process
        marker = Path(os.environ["SGDLAB_TEST_MARKER"])
        if str(os.getpid()) != os.environ.get("SGDLAB_SWEEP_PID") and not marker.exists():
            marker.write_text(str(cfg.optimizer.lr))
            os.kill(os.getpid(), signal.SIGKILL)
        if not marker.exists():  # the sweep's own jobs wait: a worker surely takes one
            time.sleep(3)
        return _run(cfg, *args, **kwargs)

    sgdlab.api.run = run
"""


@pytest.mark.slow
def test_a_worker_that_dies_leaves_one_missing_job_and_the_others_run(tmp_path):
    """A job's worker process killed (here by the job itself): one line naming the job, the
    other jobs still run (in the sweep process once the pool is broken), the summary lists
    the job as missing, exit 1, no traceback; the same sweep again runs only that job."""
    env = hooked_env(tmp_path, KILL_FIRST_WORKER_JOB)
    env["SGDLAB_TEST_MARKER"] = str(tmp_path / "killed")
    sweep = ["-m", "optimizer.lr=0.01,0.02,0.03,0.04", "hydra.launcher.n_jobs=2", *QUICK,
             "hydra.sweep.dir=sw"]  # fmt: skip
    out = sgdlab_cmd(sweep, tmp_path, env=env)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    killed = (tmp_path / "killed").read_text()
    assert f"optimizer.lr={killed}" in out.stderr and "its worker process died" in out.stderr
    assert "1 missing of 4 jobs" in out.stderr
    assert len(list((tmp_path / "sw").glob("*/run.nc"))) == 3
    out = sgdlab_cmd(sweep, tmp_path, env=env)  # the marker exists: nothing is killed now
    assert out.returncode == 0, out.stderr
    assert "3 skipped (done with the same config), 1 run (1 missing" in out.stdout


def test_warm_starts_the_local_launchers_workers_with_what_a_job_imports():
    """warm() starts n_jobs - 1 workers of the pool the local launcher uses, each importing
    what a job needs; nothing for another launcher or for one process."""
    from omegaconf import OmegaConf

    assert workers.warm(OmegaConf.create({"_target_": "basic"})) is None
    one = {"_target_": "hydra_plugins.sgdlab_local.LocalLauncher", "n_jobs": 1}
    assert workers.warm(OmegaConf.create(one)) is None
    thread = workers.warm(OmegaConf.create(one | {"n_jobs": 2}))
    assert thread is not None and workers.warm(OmegaConf.create(one | {"n_jobs": 2})) is thread
    pool = workers.pool(1)
    probe = "[m in __import__('sys').modules for m in ('sgdlab.api', 'h5netcdf')]"
    deadline = time.monotonic() + 120  # the warm-up is submitted by its thread, maybe later
    while (seen := pool.submit(eval, probe).result(timeout=120)) != [True, True]:  # eval
        assert time.monotonic() < deadline, seen  # imports nothing itself
        time.sleep(0.2)
    assert workers.blas_threads({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "3"}) == 1
    assert workers.blas_threads({"OTHER": "x"}) is None


# ------------------------------------------------------------------------------ one writer


def test_lock_refuses_a_live_holder_and_takes_over_a_stale_one(tmp_path):
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / lock.LOCK_NAME).write_text(yaml.safe_dump({
            "pid": holder.pid, "host": os.uname().nodename, "started": "then",
            "start_tick": lock._start_tick(holder.pid), "command": "sgdlab -m x=1,2"}))  # fmt: skip
        with pytest.raises(lock.FolderLocked, match=f"pid {holder.pid} on .*sgdlab -m x=1,2"):
            lock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    path = lock.acquire(tmp_path)  # the holder is gone: stale, taken over
    assert lock.holder(tmp_path)["pid"] == os.getpid()
    assert lock.acquire(tmp_path) == path  # a second acquire by the holder is a no-op
    lock.release(path)
    assert not path.exists()
    other = {"pid": 1, "host": "another-host", "started": "then"}
    path.write_text(yaml.safe_dump(other))  # another host: cannot tell, so it is held
    with pytest.raises(lock.FolderLocked, match="another-host"):
        lock.acquire(tmp_path)
    path.write_text(yaml.safe_dump({"pid": os.getpid(), "host": os.uname().nodename,
                                    "start_tick": "1"}))  # fmt: skip
    lock.acquire(tmp_path)  # our pid, but another start time: a recycled pid, stale
    lock.release_all()


@pytest.mark.slow
def test_a_second_sweep_into_a_locked_folder_is_refused(tmp_path):
    script = "from sgdlab import lock; import sys, time; lock.acquire(sys.argv[1]); " \
        "print('locked', flush=True); time.sleep(120)"  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "sw")],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        basic = ["-m", "hydra/launcher=basic", "optimizer.lr=0.01,0.02", *QUICK]
        out = sgdlab_cmd([*basic, "hydra.sweep.dir=sw"], tmp_path)
        assert out.returncode == 1
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {holder.pid}" in lines[0], out.stderr
        assert lines[0].startswith("sgdlab: error: ") and "in use" in lines[0]
        assert [p.name for p in (tmp_path / "sw").iterdir()] == [lock.LOCK_NAME]
    finally:
        holder.kill()
        holder.wait()
    out = sgdlab_cmd([*basic, "hydra.sweep.dir=sw"], tmp_path)
    assert out.returncode == 0, out.stderr  # its holder was killed: the lock was stale
    assert len(list((tmp_path / "sw").glob("*/run.nc"))) == 2


def test_a_run_into_a_locked_folder_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    script = "from sgdlab import lock; import sys, time; lock.acquire(sys.argv[1]); " \
        "print('locked', flush=True); time.sleep(120)"  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", script, str(run_dir)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = sgdlab_cmd(["steps=5", "replicates=2", f"hydra.run.dir={run_dir}"], tmp_path)
        report = subprocess.run([sys.executable, "-m", "analysis.report", str(run_dir)],
                                capture_output=True, text=True)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert out.returncode == 1 and f"pid {holder.pid}" in out.stderr
    assert out.stderr.count("\n") == 1
    assert report.returncode == 1 and "in use by another sgdlab" in report.stderr
    assert [p.name for p in run_dir.iterdir()] == [lock.LOCK_NAME]


def test_sweep_jobs_match_hydras_job_overrides():
    """The list a sweep writes (jobs.yaml) names each job as Hydra's basic sweeper does."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from sgdlab import sweep

    def config(task):
        return OmegaConf.create({"hydra": {"overrides": {"task": task, "hydra": []},
                                           "runtime": {"config_sources": []}}})  # fmt: skip

    task = ["optimizer.lr=0.1,1e-2", "steps=5", "+x='a b'", "~y", "seed=range(0,2)", "steps=6"]
    hydra = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(task), None)
    assert sweep.sweep_jobs(config(task)) == hydra[0]
    globbed = sweep.sweep_jobs(config(["sampler=glob(*,exclude=[cyclic,shuffle_once])"]))
    assert globbed == [["sampler=reshuffle"], ["sampler=with_replacement"]]
    # an experiment that sweeps by itself: the config's sweeper params come first, as Hydra's
    with_params = config(["replicates=4"])
    with_params.hydra.sweeper = {"params": {"sampler": "with_replacement,reshuffle"}}
    want = BasicSweeper.split_arguments(
        OverridesParser.create().parse_overrides(
            ["sampler=with_replacement,reshuffle", "replicates=4"]
        ),
        None,
    )[0]
    assert sweep.sweep_jobs(with_params) == want and len(want) == 2


def test_states_of_a_sweep_without_records_or_list(tmp_path):
    """A sweep written before job.yaml and jobs.yaml existed: its job folders are its jobs."""
    ds = sgdlab.run(["problem=mean", "steps=5", "replicates=2", "log.estimates.num=0"])
    for num, lr in enumerate(["0.1", "0.2"]):
        (tmp_path / str(num) / ".hydra").mkdir(parents=True)
        (tmp_path / str(num) / ".hydra" / "overrides.yaml").write_text(f"- optimizer.lr={lr}\n")
    sgdlab.write_dataset(ds, tmp_path / "0" / "run.nc")
    found = jobs.states(tmp_path)
    assert [(j.num, j.status, j.overrides) for j in found] == [
        (0, "done", ["optimizer.lr=0.1"]),
        (1, "missing", ["optimizer.lr=0.2"]),
    ]


def test_a_sweep_folder_left_by_another_sweep_is_not_merged(tmp_path):
    ds = sgdlab.run(["problem=mean", "steps=5", "replicates=2", "log.estimates.num=0"])
    for num, lr in enumerate(["0.1", "0.2", "0.3"]):
        (tmp_path / str(num) / ".hydra").mkdir(parents=True)
        (tmp_path / str(num) / ".hydra" / "overrides.yaml").write_text(f"- optimizer.lr={lr}\n")
        jobs.write_record(tmp_path / str(num), status="done", num=num,
                          overrides=[f"optimizer.lr={lr}"])  # fmt: skip
        sgdlab.write_dataset(ds, tmp_path / str(num) / "run.nc")
    listed = {"jobs": [["optimizer.lr=0.1"], ["optimizer.lr=0.2"]]}
    (tmp_path / jobs.MANIFEST).write_text(yaml.safe_dump(listed))
    merged = collect(tmp_path)
    np.testing.assert_array_equal(merged["optimizer.lr"].values, [0.1, 0.2])


# ------------------------------------------------------------------------------ pre-check


SWEEPS = [
    ["optimizer.lr=0.1,1e-2,3", "seed=0,1", "steps=5"],
    ["problem=least_squares,logistic", "optimizer.lr=0.1,0.2", "replicates=3"],
    ["optimizer=sgd,adam", "optimizer.lr=0.5", "+problem.foo=1", "problem.n=50"],
    ["experiment=lecture_mean,region_of_confusion", "optimizer.lr=0.3", "seed=3"],
    ["problem=lsq1d", "problem.a=[1.0,2.0]", "problem.b=[0.5,1.5]", "steps=2,3"],
    ["schedule=step_decay", "schedule.factor=0.5", "averaging.kind=none,tail", "x0=random"],
    ["~log.estimates", "log.every=2,3"],
    ["log.estimates=null", "problem.data='a b'"],
    ["optimizer.betta=0.5", "steps=3,4"],  # a misspelt key: the same error as compose's
    ["replicates=abc"],
]


@pytest.mark.parametrize("sweep", SWEEPS, ids=range(len(SWEEPS)))
def test_compose_many_gives_what_compose_gives(sweep):
    """The pre-check composes each group choice once and applies the jobs' values to it: the
    configs, and the errors, are those of composing every job on its own."""
    from omegaconf import OmegaConf

    from sgdlab.compose import compose, compose_many, expand_sweep, parse

    jobs = expand_sweep(parse(sweep))

    def each(compose_one):
        try:
            return [OmegaConf.to_yaml(c) for c in compose_one()]
        except sgdlab.ConfigError as err:
            return f"error: {err}"

    alone = each(lambda: [compose(job) for job in jobs])
    assert each(lambda: compose_many(jobs)) == alone


def test_compose_many_composes_each_group_choice_once(monkeypatch):
    import importlib

    module = importlib.import_module("sgdlab.compose")  # (sgdlab.compose is also the function)

    calls = []
    real = module._hydra_compose
    monkeypatch.setattr(module, "_hydra_compose", lambda over: calls.append(over) or real(over))
    jobs = module.expand_sweep(module.parse(["sampler=reshuffle,cyclic", "optimizer.lr=0.1,0.2",
                                             "seed=0,1,2", "steps=5"]))  # fmt: skip
    configs = list(module.compose_many(jobs))
    assert len(configs) == 12 and len(calls) == 2
    assert [(c.sampler.name, c.optimizer.lr, c.seed) for c in configs][:4] == [
        ("reshuffle", 0.1, 0),
        ("reshuffle", 0.1, 1),
        ("reshuffle", 0.1, 2),
        ("reshuffle", 0.2, 0),
    ]
