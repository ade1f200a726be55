"""Merging a big sweep (issue 11, point 8): time and peak memory of ``analysis.collect``.

    python benchmarks/bench_collect.py            # 1,000 job files (R = 32, 500 logged steps)
    python benchmarks/bench_collect.py --quick    # 100 job files
    python benchmarks/bench_collect.py --jobs 300 # any number

One real run (least squares, R = 32, T = 500, every step logged) is written once and copied
into N job folders of a sweep over ``seed`` (with each job's ``.hydra/`` files and
``job.yaml``, as a sweep leaves them). A child process then merges them with
:func:`analysis.collect.collect` and writes ``sweep.nc``; reported: the merge time, the write
time and the child's peak resident memory (target: < 2 GB for 1,000 files).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

RUN = ["replicates=32", "steps=500", "log.every=1", "log.estimates.num=0"]

CHILD = """
import json, resource, sys, time
from pathlib import Path
from analysis.collect import collect
from sgdlab.io import write_dataset

sweep_dir = Path(sys.argv[1])
start = time.perf_counter()
merged = collect(sweep_dir)
merged_s = time.perf_counter() - start
write_dataset(merged, sweep_dir / "sweep.nc")
print(json.dumps({
    "merge_s": merged_s,
    "write_s": time.perf_counter() - start - merged_s,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "sizes": dict(merged.sizes),
}))
"""


def make_sweep(root: Path, n_jobs: int) -> float:
    """Write ``n_jobs`` job folders under ``root``; returns the size of one job file in MB."""
    import sgdlab
    from sgdlab import jobs

    one = sgdlab.write_dataset(sgdlab.run(RUN), root / "one.nc")
    config = sgdlab.compose(RUN)
    for num in range(n_jobs):
        job = root / "sweep" / str(num)
        (job / ".hydra").mkdir(parents=True)
        overrides = [*RUN, f"seed={num}"]
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job / ".hydra" / "config.yaml").write_text(f"output: {config.output}\n")
        jobs.write_record(job, status="done", num=num, overrides=overrides)
        shutil.copyfile(one, job / "run.nc")
    jobs.write_manifest(root / "sweep", [[*RUN, f"seed={n}"] for n in range(n_jobs)])
    return one.stat().st_size / 1e6


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_collect")
    parser.add_argument("--quick", action="store_true", help="100 job files")
    parser.add_argument("--jobs", type=int, default=None, help="number of job files")
    args = parser.parse_args(argv)
    n_jobs = args.jobs or (100 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="bench_collect_") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        size_mb = make_sweep(root, n_jobs)
        made_s = time.perf_counter() - start
        child = subprocess.run([sys.executable, "-c", CHILD, str(root / "sweep")],
                               capture_output=True, text=True, check=True)  # fmt: skip
        result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"collect: {n_jobs} job files of {size_mb:.2f} MB (R=32, 501 logged steps), "
          f"made in {made_s:.1f} s")  # fmt: skip
    print(
        f"  merge {result['merge_s']:.1f} s, write sweep.nc {result['write_s']:.1f} s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB (target < 2048 MB); sizes {result['sizes']}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
