"""Speed of a custom problem (issue 13): the built-in logistic problem against the same loss
written for one example in plain NumPy (``problem=custom``), vectorized by autodiff.vmap.

    python benchmarks/bench_custom.py [--quick]

Both run SGD on the same data (logistic's synthetic n = 10,000, d = 50), b = 32, R = 64,
logging off; they are checked to give the same iterates. The time compared is the steps'
(minibatch sampling, value-and-gradient and update): the run's own ``wall_time_s`` less its
``logging_time_s`` (the full-data passes at t = 0 and T, which differ between the problems:
the built-in one also logs ‖x − x*‖² and more). Reported: the median over back-to-back pairs
of the ratio custom / built-in, and the same for the minibatch gradient alone (the median of
interleaved timings). Target (issue 13): ≤ 1.5.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

import sgdlab

HERE = Path(__file__).resolve()
N, D, B, R, LAM = 10_000, 50, 32, 64, 0.01
BASE = ["problem.seed=0", "optimizer=sgd", "optimizer.lr=0.05", "sampler=with_replacement",
        f"batch_size={B}", f"replicates={R}", "log.enabled=false"]  # fmt: skip
TARGET = 1.5


def loss(params, example):
    """Logistic loss of one example with the ridge term: the built-in problem's fᵢ."""
    z = example["x"] @ params
    return np.logaddexp(0.0, z) - example["y"] * z + 0.5 * LAM * (params @ params)


def init():
    """x₀ = 0, as the built-in problem."""
    return np.zeros(D)


def data():
    """The built-in logistic problem's data (synthetic, standardized)."""
    from sgdlab.problems import make_problem

    cfg = sgdlab.compose(["problem=logistic", f"problem.n={N}", f"problem.d={D}"]).problem
    arrays = make_problem(cfg).data
    return {"x": arrays["X"], "y": arrays["y"]}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    steps, pairs = (300, 3) if args.quick else (2000, 5)
    builtin = [*BASE, "problem=logistic", f"problem.n={N}", f"problem.d={D}",
               f"problem.lam={LAM}", f"steps={steps}"]  # fmt: skip
    custom = [*BASE, "problem=custom", f"problem.loss={HERE}:loss",
              f"problem.init={HERE}:init", f"problem.data={HERE}:data",
              "problem.standardize=false", f"steps={steps}"]  # fmt: skip
    ratios, times = [], []
    for _ in range(pairs):
        a, b = sgdlab.run(builtin), sgdlab.run(custom)
        np.testing.assert_allclose(b["loss"].values, a["loss"].values, rtol=1e-9)
        ta, tb = (float(d.attrs["wall_time_s"] - d.attrs["logging_time_s"]) for d in (a, b))
        ratios.append(tb / ta)
        times.append((ta, tb))
    ta, tb = (statistics.median(t) for t in zip(*times, strict=True))
    ratio = statistics.median(ratios)
    print(f"custom problem, {steps} SGD steps, R={R}, b={B}, d={D} (median of {pairs} pairs)")
    print(f"   built-in logistic {ta:.3f} s   custom (vmap) {tb:.3f} s   →  "
          f"custom/built-in {ratio:.2f} (≤ {TARGET})")  # fmt: skip
    grads = gradient_times(builtin, custom, 20 if args.quick else 100)
    print(f"   minibatch gradient: built-in {grads[0] * 1e6:.0f} µs   "
          f"custom {grads[1] * 1e6:.0f} µs   →  custom/built-in {grads[2]:.2f}")  # fmt: skip


def gradient_times(builtin: list[str], custom: list[str], rounds: int) -> tuple:
    """Median time of one minibatch gradient (b = 32, R = 64) for each problem, timed in
    alternation, and the median of the per-round ratios."""
    import timeit

    from sgdlab import estimators as est
    from sgdlab.runner import prepare

    rng = np.random.default_rng(0)
    calls = []
    for overrides in (builtin, custom):
        problem = prepare(sgdlab.compose(overrides)).problem
        X = 0.1 * rng.standard_normal((R, problem.d))
        batch = est.gather(problem, rng.integers(0, problem.n, (R, B)))
        est.minibatch_grad(problem, X, batch)  # records the program
        calls.append(lambda p=problem, X=X, batch=batch: est.minibatch_grad(p, X, batch))
    times = [[timeit.timeit(c, number=20) / 20 for c in calls] for _ in range(rounds)]
    a, b = (statistics.median(t) for t in zip(*times, strict=True))
    return a, b, statistics.median(tb / ta for ta, tb in times)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
