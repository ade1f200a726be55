"""Sweeps on a cluster: the launcher configs in ``conf/hydra/launcher/`` (Slurm and its local
rehearsal through submitit, Ray), a real ``sgdlab -m`` sweep through submitit's local executor
(the ``cluster`` extra, which the ``test`` extra installs), and workers that follow the sweep
process from further down the process tree, as submitit's jobs do."""

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xarray as xr
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from analysis.collect import collect
from sgdlab import jobs, launchers, lock, workers
from sgdlab.config import conf_dir, register
from sgdlab.errors import ConfigError

LAUNCHERS = conf_dir() / "hydra" / "launcher"
QUICK = ["steps=40", "replicates=2", "log.estimates.num=0"]


def launcher_config(name: str) -> dict:
    """``hydra.launcher`` of the sweep config with ``hydra/launcher=name``, resolved."""
    register()
    with initialize_config_dir(str(conf_dir()), version_base="1.3", job_name="sgdlab"):
        cfg = compose("config", [f"hydra/launcher={name}"], return_hydra_config=True)
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def test_slurm_config_runs_one_single_threaded_task_per_job():
    conf = launcher_config("slurm")
    assert conf["_target_"] == "hydra_plugins.sgdlab_cluster.SlurmLauncher"
    assert conf["cpus_per_task"] == 1 and conf["tasks_per_node"] == 1 and conf["nodes"] == 1
    assert conf["max_num_timeout"] == 0  # a timed-out job is rerun by resuming, not requeued
    env_set = yaml.safe_load((conf_dir() / "config.yaml").read_text())["hydra"]["job"]["env_set"]
    assert conf["setup"] == [f"export {k}={v}" for k, v in env_set.items()]


def test_local_cluster_is_submitit_local_with_the_slurm_job_settings():
    conf, slurm = launcher_config("local_cluster"), launcher_config("slurm")
    assert conf["_target_"] == "hydra_plugins.sgdlab_cluster.LocalLauncher"
    for key in ("timeout_min", "cpus_per_task", "tasks_per_node", "nodes"):
        assert conf[key] == slurm[key], key


def test_ray_config_names_the_ray_launcher_plugin():
    """hydra-ray-launcher is not installed here: its file is read as YAML only."""
    conf = OmegaConf.load(LAUNCHERS / "ray_cluster.yaml")
    assert list(conf.defaults) == ["ray", "_self_"]  # the plugin's hydra/launcher/ray
    assert conf.ray.init.address is None
    assert conf.ray.remote == {"num_cpus": 1, "max_calls": 1}
    assert "pip install hydra-ray-launcher" in (LAUNCHERS / "ray_cluster.yaml").read_text()


def test_help_lists_the_launchers_without_their_plugins_loading():
    out = subprocess.run([sys.executable, "-m", "sgdlab", "--hydra-help"], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("hydra/launcher:"))
    for name in ("local", "joblib", "basic", "slurm", "local_cluster", "ray_cluster",
                 "submitit_local"):  # fmt: skip
        assert name in line


def test_a_launcher_that_cannot_run_here_is_one_line_before_anything_is_written(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no srun
    with pytest.raises(ConfigError, match=r"hydra/launcher='slurm': needs sbatch and srun on PATH"):
        launchers.check("slurm")
    launchers.check("local_cluster")  # the cluster extra is installed with the tests
    launchers.check("joblib")
    assert launchers.base_option("ray_cluster") == "ray"
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None:
        with pytest.raises(ConfigError, match="pip install hydra-ray-launcher"):
            launchers.check("ray_cluster")
    sweep = ["-m", "hydra/launcher=slurm", "hydra.sweep.dir=sw", *QUICK]
    out = _sgdlab(sweep, tmp_path, os.environ | {"PATH": str(tmp_path)})
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert not (tmp_path / "sw").exists()


# ------------------------------------------------------------------ workers down the tree

CHAIN = """
    import os, subprocess, sys, time
    if sys.argv[1] == "middle":  # submitit's controller: starts the job, waits
        subprocess.run([sys.executable, __file__, "job"])
    else:  # the job: follows the sweep process two levels up
        from sgdlab import workers
        print(workers.follow_parent(), flush=True)
        time.sleep(60)
"""


def test_a_grandchild_worker_dies_with_the_sweep_process(tmp_path):
    """As under submitit's local executor: sweep -> controller -> job. Killing the sweep
    (SIGKILL) ends the job within a few seconds though its own parent lives on."""
    script = tmp_path / "chain.py"
    script.write_text(textwrap.dedent(CHAIN))
    sweep = subprocess.Popen(  # stands in for `sgdlab -m`: marks itself, starts the middle
        [sys.executable, "-c", textwrap.dedent(f"""
            import subprocess, sys, time
            from sgdlab import workers
            workers.mark_parent()
            subprocess.Popen([sys.executable, {str(script)!r}, "middle"])
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    started = []
    try:
        assert sweep.stdout.readline().strip() == "True"  # the job follows the sweep
        started = _descendants(sweep.pid)  # [middle, job]
        sweep.kill()
        sweep.wait()
        deadline = time.monotonic() + 5
        while _alive(started[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(started[-1]), "the job outlived the sweep process"
    finally:
        for pid in started or _descendants(sweep.pid):
            _kill(pid)
        sweep.kill()
        sweep.wait()


def test_a_job_that_does_not_descend_from_the_sweep_is_left_alone(monkeypatch):
    """A Slurm job inherits SGDLAB_SWEEP_PID through sbatch, on another machine."""
    monkeypatch.setenv(workers.PARENT_ENV, str(_unused_pid()))
    assert workers.follow_parent() is False


def _unused_pid() -> int:
    pid = 4_000_000
    while Path(f"/proc/{pid}").exists():
        pid -= 1
    return pid


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in out.stdout.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------ a sweep through submitit

HOOK = """
    import os
    from pathlib import Path

    # the environment this process started with, before NumPy loaded its BLAS
    start = dict(e.split("=", 1) for e in Path("/proc/self/environ").read_text("latin-1")
                 .split("\\0") if "=" in e)
    if "SUBMITIT_EXECUTOR" in start and os.environ.get("SGDLAB_TEST_LOG"):
        with open(os.environ["SGDLAB_TEST_LOG"], "a") as fh:
            fh.write(f"{os.getpid()} {start.get('OPENBLAS_NUM_THREADS', 'unset')}\\n")

    if os.environ.get("SGDLAB_TEST_FAIL"):
        import sgdlab.api

        _run = sgdlab.api.run

        def run(cfg, *args, **kwargs):
            if cfg.optimizer.lr == 0.02 and cfg.seed == 0:
                raise RuntimeError("boom from the test")
            if cfg.optimizer.lr == 0.02 and cfg.seed == 1:  # as Slurm at a job's time limit
                os.kill(os.getpid(), 9)
            return _run(cfg, *args, **kwargs)

        sgdlab.api.run = run
"""


@pytest.mark.slow
def test_a_sweep_through_submitit_fails_one_job_then_resumes_and_reports(tmp_path):
    """local_cluster (submitit's local executor): each job a process of its own with one
    BLAS thread from its start; a job that raises is recorded as failed, a job killed (as at
    Slurm's time limit) is missing, the others finish and the sweep exits 1 without a
    traceback; the same sweep again (through the plugin's own submitit_local) reruns only those
    two, merges sweep.nc, reports and exits 0."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(HOOK))
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(hook), *sys.path]),
                        "SGDLAB_TEST_LOG": str(tmp_path / "blas.log")}  # fmt: skip
    grid = ["-m", "optimizer.lr=0.01,0.02", "seed=0,1", *QUICK, "hydra.sweep.dir=sw"]

    first = _sgdlab([*grid, "hydra/launcher=local_cluster"], tmp_path,
                    env | {"SGDLAB_TEST_FAIL": "1"})  # fmt: skip
    assert first.returncode == 1, first.stderr
    sw = tmp_path / "sw"
    assert "Traceback" not in first.stderr
    assert "1 failed and 1 missing of 4 jobs" in first.stderr
    assert "job 3 (optimizer.lr=0.02 seed=1 steps=40" in first.stderr
    assert "ended without a result (killed, or stopped at a time or memory limit)" in first.stderr
    assert "sgdlab sweep: 2 runs" in first.stdout
    states = {j.label.split(" steps")[0]: j for j in jobs.states(sw)}
    assert states["optimizer.lr=0.02 seed=0"].status == "failed"
    assert states["optimizer.lr=0.02 seed=0"].record["error"] == "RuntimeError: boom from the test"
    assert states["optimizer.lr=0.02 seed=1"].status == "missing"
    assert list(sw.glob(".submitit/*/*_log.out"))  # the jobs ran through submitit
    blas = [ln.split() for ln in (tmp_path / "blas.log").read_text().splitlines()]
    assert len({pid for pid, _ in blas}) >= 4 and {v for _, v in blas} == {"1"}, blas
    assert not (sw / lock.LOCK_NAME).exists()

    again = _sgdlab([*grid, "hydra/launcher=submitit_local"], tmp_path, env)
    assert again.returncode == 0, again.stderr
    assert "resumed: 2 skipped (done with the same config), 2 run (1 missing, 1 failed" \
        in again.stdout  # fmt: skip
    assert all(j.status == "done" for j in jobs.states(sw))
    assert (sw / "report.html").is_file() and (sw / "summary.csv").is_file()
    merged = xr.open_dataset(sw / "sweep.nc")
    assert merged.sizes["optimizer.lr"] == 2 and merged.sizes["seed"] == 2
    assert not yaml.safe_load(merged.attrs["failed_jobs"])
    # the same data as the default launcher gives (replicates do not depend on the launcher)
    ref = _sgdlab([*grid[:-1], "hydra.sweep.dir=ref", "~hydra.callbacks.report"], tmp_path, env)
    assert ref.returncode == 0, ref.stderr
    data = [v for v in merged.data_vars if not v.startswith("attr_")]
    xr.testing.assert_equal(collect(sw)[data].load(), collect(tmp_path / "ref")[data].load())


def _sgdlab(args, cwd, env):
    return subprocess.run([sys.executable, "-m", "sgdlab", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


SBATCH = """#!/bin/bash
# stands in for Slurm's sbatch: runs the array's tasks on this machine, detached, as Slurm
# would start them (after submitit has named its pickles by the job id printed below)
script="${@: -1}"
cp "$script" "$(dirname "$0")/submitted.sh"
range=$(grep -- '--array=' "$script" | sed 's/.*--array=\\([0-9]*\\)-\\([0-9]*\\).*/\\1 \\2/')
read first last <<<"$range"
for i in $(seq "$first" "$last"); do
  (sleep 1; export SLURM_JOB_ID=$((5000 + i)) SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID=$i \\
     SLURM_JOB_NUM_NODES=1 SLURM_NODEID=0 SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NTASKS=1 \\
     SLURM_JOB_NODELIST=localhost SLURMD_NODENAME=localhost; setsid bash "$script") \\
     >/dev/null 2>&1 &
done
echo "Submitted batch job 4242"
"""
SRUN = """#!/bin/bash
# stands in for srun --unbuffered --output OUT --error ERR command...
shift; out=$2; err=$4; shift 4
sub() { local s=${1//%A/$SLURM_ARRAY_JOB_ID}; s=${s//%a/$SLURM_ARRAY_TASK_ID}; echo "${s//%t/0}"; }
exec "$@" >>"$(sub "$out")" 2>>"$(sub "$err")"
"""


@pytest.mark.slow
def test_the_slurm_config_runs_a_sweep_through_stand_ins_for_sbatch_and_srun(tmp_path):
    """hydra/launcher=slurm end to end, Slurm's commands played by shell scripts: the batch
    script asks for one CPU per job and sets one BLAS thread; the jobs run, the sweep merges
    and reports."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"sbatch": SBATCH, "srun": SRUN, "sacct": "#!/bin/sh\n",
                       "scancel": "#!/bin/sh\n"}.items():  # fmt: skip
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = os.environ | {"PATH": os.pathsep.join([str(bin_dir), os.environ["PATH"]])}
    sweep = ["-m", "hydra/launcher=slurm", "hydra.launcher.partition=cpu", "optimizer.lr=0.01,0.1"]
    out = _sgdlab([*sweep, *QUICK, "hydra.sweep.dir=sw"], tmp_path, env)
    assert out.returncode == 0, out.stderr
    script = (bin_dir / "submitted.sh").read_text()
    for line in ("#SBATCH --cpus-per-task=1", "#SBATCH --partition=cpu", "#SBATCH --mem=2GB",
                 "#SBATCH --array=0-1%2", "export OPENBLAS_NUM_THREADS=1"):  # fmt: skip
        assert line in script, line
    assert "sgdlab sweep: 2 runs" in out.stdout
    assert all(j.status == "done" for j in jobs.states(tmp_path / "sw"))
    assert (tmp_path / "sw" / "sweep.nc").is_file() and (tmp_path / "sw" / "report.html").is_file()
