"""Progress on a terminal: the phases, steps per second and time left while a run works, and
nothing when the output is not a terminal."""

import shutil
import subprocess
import sys

import pytest

RUN = ["steps=3000", "replicates=8", "problem.n=100", "problem.d=5"]


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script (a pty)")
def test_a_run_on_a_terminal_shows_its_phases_and_speed(tmp_path):
    cmd = " ".join([sys.executable, "-m", "sgdlab", *RUN, f"hydra.run.dir={tmp_path / 'run'}"])
    typescript = tmp_path / "typescript"
    # a pseudo-terminal 120 columns wide, as a user's
    subprocess.run(["script", "-qec", f"stty cols 120 rows 40; {cmd}", str(typescript)],
                   capture_output=True, timeout=300, check=True)  # fmt: skip
    screen = typescript.read_bytes().decode("utf-8", "replace").replace("\r", "\n")
    assert "simulate:" in screen and "step/s" in screen and "/3001" in screen
    for phase in ("checks", "figures", "report"):
        assert f"{phase}:" in screen, phase
    assert (tmp_path / "run" / "report.html").is_file()


def test_a_run_off_a_terminal_prints_no_progress(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sgdlab", *RUN,
                          f"hydra.run.dir={tmp_path / 'run'}"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "simulate" not in out.stderr + out.stdout and "step/s" not in out.stderr
