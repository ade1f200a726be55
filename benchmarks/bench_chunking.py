"""Memory and time of chunked full-data passes (issue 11, point 8).

    python benchmarks/bench_chunking.py            # mlp, n = 1,000, R = 32, 100 steps
    python benchmarks/bench_chunking.py --quick    # n = 500, R = 16

The same run at three values of ``memory_mb``: one large enough that every pass is one block of
replicates, and two that split the replicates into blocks (and keep fewer Hessian records, the
rest recorded again for each product). Each run is a child process; reported: its peak resident
memory (``ru_maxrss``) and CPU time (steadier than wall time on a shared machine), the loop's
wall time and the time of its logged steps' passes (``logging_time_s``, timed inside the run),
and whether every variable equals the one-block
run's bit for bit (it must).
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, resource, sys
import sgdlab
from sgdlab.io import write_dataset
ds = sgdlab.run(sys.argv[1:])
write_dataset(ds, "{out}")
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"peak_mb": use.ru_maxrss / 1024, "cpu": use.ru_utime + use.ru_stime,
                   "wall": ds.attrs["wall_time_s"], "logging": ds.attrs["logging_time_s"]}}))
"""


def _run(args: list[str], out: str) -> dict:
    code = CHILD.format(out=out)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same_bits(a, b) -> bool:
    import numpy as np

    return all(
        np.array_equal(a[k].values, b[k].values, equal_nan=a[k].dtype.kind == "f")
        for k in a.data_vars
    )


def main(argv: list[str]) -> None:
    import tempfile
    from pathlib import Path

    from sgdlab.io import read_dataset

    quick = "--quick" in argv
    n, R = (500, 16) if quick else (1_000, 32)
    args = ["problem=mlp", f"problem.n={n}", "problem.d=20", "problem.hidden=64",
            f"replicates={R}", "steps=100", "log.estimates.num=2"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for mb in (65536, 512, 64, 16):
            out = str(Path(tmp) / f"run{mb}.nc")
            rows.append((mb, _run([*args, f"memory_mb={mb}"], out), out))
        ref = read_dataset(rows[0][2])
        for mb, got, out in rows:
            same = _same_bits(read_dataset(out), ref)
            print(f"memory_mb={mb:>6}: peak RSS {got['peak_mb']:7.0f} MB, CPU {got['cpu']:6.2f} s, "
                  f"loop {got['wall']:6.2f} s, logged passes {got['logging']:6.2f} s, "
                  f"bit-identical to one block: {same}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
