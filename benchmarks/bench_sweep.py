"""Local sweeps (issue 11, point 6): joblib against the sequential launcher, and the report's
share of the sweep.

    python benchmarks/bench_sweep.py            # 3 interleaved pairs of each sweep
    python benchmarks/bench_sweep.py --quick    # 1 pair

Each sweep is the real ``sgdlab -m`` command in a child process (its whole wall time: start,
composition, jobs, summary), 8 jobs over ``seed``:

- P6 short jobs: 8 jobs of about 0.2 s of computing each (``SHORT``), report off;
- P6 long jobs: 8 jobs of at least 2 s each (``LONG``), report off;
- report share: the long sweep under joblib with its report on; the share is the report's own
  time (printed by the report callback) over that command's wall time.

The two launchers of a pair run one after the other, so that they see the same load; the
ratios are medians over the pairs (targets: short ≥ 1.0, long ≥ 1.7, report ≤ 20%).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEEDS = "seed=" + ",".join(str(s) for s in range(8))
SHORT = ["steps=400", "replicates=16"]
LONG = ["problem=logistic", "steps=6000", "replicates=32"]
NO_REPORT = "~hydra.callbacks.report"
REPORT_S = re.compile(r"report: .* \((\d+(?:\.\d+)?) s\)")
JOB_S = re.compile(r"^sgdlab: problem=.* \((\d+(?:\.\d+)?) s\)$", re.MULTILINE)


def sweep(root: Path, name: str, args: list[str]) -> tuple[float, str]:
    """Run ``sgdlab -m ARGS`` into ``root/name``; its wall time in seconds and its output."""
    cmd = [sys.executable, "-m", "sgdlab", "-m", SEEDS, *args, f"hydra.sweep.dir={root / name}"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench_sweep: {' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return wall, done.stdout + done.stderr


def pair(root: Path, tag: str, job: list[str]) -> float:
    """basic ÷ joblib wall time of the same sweep, the two run back to back."""
    basic, out = sweep(root, f"{tag}-basic", ["hydra/launcher=basic", *job, NO_REPORT])
    joblib, _ = sweep(root, f"{tag}-joblib", [*job, NO_REPORT])
    each = statistics.median(float(s) for s in JOB_S.findall(out))
    print(
        f"  {tag}: basic {basic:.2f} s, joblib {joblib:.2f} s, ratio {basic / joblib:.2f} "
        f"(a job computes for {each:.2f} s)"
    )
    return basic / joblib


def report_share(root: Path, tag: str) -> float:
    """The report's time over the wall time of the long joblib sweep with its report."""
    wall, out = sweep(root, f"{tag}-report", LONG)
    found = REPORT_S.search(out)
    if found is None:
        raise SystemExit("bench_sweep: the report callback printed no time")
    share = float(found.group(1)) / wall
    print(f"  {tag}: sweep with report {wall:.2f} s, report {found.group(1)} s ({share:.0%})")
    return share


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    pairs = 1 if args.quick else 3
    short, long, share = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(pairs):
            short.append(pair(root, f"short{i}", SHORT))
            long.append(pair(root, f"long{i}", LONG))
            share.append(report_share(root, f"long{i}"))
    rows = [
        ("P6 short jobs: basic / joblib", statistics.median(short), ">= 1.0",
         statistics.median(short) >= 1.0),
        ("P6 jobs >= 2 s: basic / joblib", statistics.median(long), ">= 1.7",
         statistics.median(long) >= 1.7),
        ("P6 report / sweep wall time", statistics.median(share), "<= 0.20",
         statistics.median(share) <= 0.20),
    ]  # fmt: skip
    for name, value, target, met in rows:
        print(f"{name:40s} {value:8.3g}  target {target:8s} {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main(sys.argv[1:])
