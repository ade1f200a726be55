#!/usr/bin/env python3
"""Developer entry point that needs nothing but python3.

    python3 dev.py run [overrides]   # set up .venv if needed, then run the main job: the
                                     # default sgdlab experiment, its checks and its report
    python3 dev.py test              # set up .venv if needed, then run the test suite
    python3 dev.py demo              # the autodiff lecture demo (F = x³(x + 3y) at (2, 3))
    python3 dev.py lint              # ruff check + ruff format --check
    python3 dev.py bench [--quick]   # the speed benchmarks in benchmarks/

The virtual environment lives in .venv next to this file. It is (re)installed
whenever pyproject.toml changes, so a fresh clone and an old checkout both work.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".sgdlab-installed"

EXTRAS = {"run": "", "demo": "", "test": "[test]", "lint": "[lint]", "bench": "[bench]"}


def _run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def ensure_venv(extra: str) -> None:
    """Create .venv and install the project (editable) with `extra`, if not already done."""
    if not PYTHON.exists():
        _run([sys.executable, "-m", "venv", str(VENV)])
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    wanted = f"{digest}{extra}"
    done = STAMP.read_text().split() if STAMP.exists() else []
    if wanted in done:
        return
    _run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".{extra}"])
    STAMP.write_text("\n".join([d for d in done if d.startswith(digest)] + [wanted]))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(f"usage: python3 dev.py {{{','.join(EXTRAS)}}} [args...]", file=sys.stderr)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_venv(EXTRAS[task])
    if task == "run":
        cmd = [str(PYTHON), "-m", "sgdlab", *rest]
    elif task == "demo":
        cmd = [str(PYTHON), "-m", "autodiff.demo", *rest]
    elif task == "test":
        cmd = [str(PYTHON), "-m", "pytest", *rest]
    elif task == "lint":
        checked = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
        formatted = subprocess.call([str(BIN / "ruff"), "format", "--check", "."], cwd=ROOT)
        return checked or formatted
    else:
        cmd = [str(PYTHON), "benchmarks/run_all.py", *rest]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
