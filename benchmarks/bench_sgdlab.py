"""Speed and memory of the sgdlab loop (issue 3).

    python benchmarks/bench_sgdlab.py            # speed (2,000 steps) + memory (R=256, 100k steps)
    python benchmarks/bench_sgdlab.py --quick    # speed only, and memory on a 10k-step horizon

Speed: replicate-steps per second of SGD on logistic regression (n = 10,000, d = 50, b = 32,
R = 64, T = 2,000), sgdlab with logging off and on its default grid, against a hand-written
vectorized NumPy loop of the same algorithm (same index stream, same data, checked to give the
same iterates) measured in the same run, as medians of ratios of runs made back to back.
Targets: sgdlab(logging off) ≥ 0.5× hand-written; sgdlab(default logging) ≤ 1.25× sgdlab(logging
off). Also reported: the overhead of the main grid alone (σ², L, μ estimates off), and the floor
of both: the same full-data passes (loss and gradient per logged step, Lanczos Hessian-vector
products per estimate step) written by hand in NumPy, and the default run's logging time over
its own step time, both timed inside that run (``logging_time_s``, free of the load
differences between separate runs). Memory: peak RSS of a child process
running R = 256 replicates with geometric logging; target < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

N, D, B, R, T = 10_000, 50, 32, 64, 2_000
LR, LAM = 0.05, 0.01
COMMON = ["problem=logistic", f"problem.n={N}", f"problem.d={D}", f"problem.lam={LAM}",
          "optimizer=sgd", f"optimizer.lr={LR}", "sampler=with_replacement",
          f"batch_size={B}", f"replicates={R}", f"steps={T}"]  # fmt: skip


def hand_written(problem, seed: int = 0) -> tuple[float, np.ndarray]:
    """SGD on logistic regression with the gradient written out by hand (vectorized NumPy)."""
    from sgdlab.samplers import SAMPLERS, IndexStream, replicate_rngs

    X, y = problem.data["X"], problem.data["y"]
    stream = IndexStream(SAMPLERS["with_replacement"], N, B, replicate_rngs(seed, R))
    x = np.zeros((R, D))
    start = time.perf_counter()
    for _ in range(T):
        idx = stream.next()
        Xb, yb = np.take(X, idx, axis=0), np.take(y, idx, axis=0)  # (R, b, d), (R, b)
        z = np.einsum("rbd,rd->rb", Xb, x)
        p = 1.0 / (1.0 + np.exp(-z))
        g = np.einsum("rb,rbd->rd", p - yb, Xb) / B + LAM * x
        x = x - LR * g
    return time.perf_counter() - start, x


def _seconds(fun, *args) -> float:
    start = time.perf_counter()
    fun(*args)
    return time.perf_counter() - start


def hand_written_logging_floor(problem, ds) -> tuple[float, float]:
    """Seconds that hand-written NumPy needs for the full-data work of ``ds``'s log grid: one
    loss-and-gradient pass per logged step, and as many Hessian-vector passes as the run's
    Lanczos made (σ² left out): the physical limit of the grid's cost, as (main, estimates)."""
    A, y = problem.data["X"], problem.data["y"]
    n = A.shape[0]
    W = np.random.default_rng(0).normal(size=(R, D)) * 0.1
    chunks = [slice(i, i + 1024) for i in range(0, n, 1024)]  # cache-sized, as sgdlab's

    def sigmoid(Z):
        P = np.negative(Z)
        np.exp(P, out=P)
        P += 1.0
        return np.reciprocal(P, out=P)

    def loss_and_grad(W):
        loss, grad = np.zeros(R), np.zeros_like(W)
        for c in chunks:
            Z = A[c] @ W.T  # (m, R)
            U = np.abs(Z)
            np.negative(U, out=U)
            np.exp(U, out=U)
            np.log1p(U, out=U)
            U += np.maximum(Z, 0.0)
            U -= y[c, None] * Z
            loss += U.sum(axis=0)
            P = sigmoid(Z)
            P -= y[c, None]
            grad += P.T @ A[c]
        return loss / n + 0.5 * LAM * (W * W).sum(1), grad / n + LAM * W

    def hvp(W, V):
        out = np.zeros_like(V)
        for c in chunks:
            P = sigmoid(A[c] @ W.T)
            P *= 1.0 - P
            P *= A[c] @ V.T
            out += P.T @ A[c]
        return out / n + LAM * V

    per_pass = min(_seconds(loss_and_grad, W) for _ in range(3))
    per_hvp = min(_seconds(hvp, W, W) for _ in range(3))
    # the same number of Hessian-vector products as the run's Lanczos took (it stops at a
    # tolerance, warm-started from the previous estimate point)
    return int(ds.step.size) * per_pass, int(ds.attrs["hessian_products"]) * per_hvp


def speed(rounds: int = 3, pairs: int = 7) -> dict:
    """Replicate-steps/s of the hand-written loop and of sgdlab, as medians of ratios between
    runs made back to back, so that load from elsewhere on the machine hits both sides alike:
    ``pairs`` alternations of hand-written / sgdlab(logging off) for the speed ratio, then
    ``rounds`` of sgdlab(logging off) / (main grid only) / (default logging) for the overhead."""
    import statistics

    import sgdlab
    from sgdlab.runner import prepare

    problem = prepare(sgdlab.compose(COMMON)).problem
    hand_times, off_times = [], []
    for _ in range(pairs):
        hand_time, hand_x = hand_written(problem)
        off = sgdlab.run([*COMMON, "log.enabled=false"])
        hand_times.append(hand_time)
        off_times.append(float(off.attrs["wall_time_s"]))
    overhead: dict[str, list[float]] = {
        "main_grid": [], "on": [], "floor": [], "floor_main": [], "in_run": [], "vs_floor": []
    }  # fmt: skip
    for _ in range(rounds):
        base = float(sgdlab.run([*COMMON, "log.enabled=false"]).attrs["wall_time_s"])
        main_grid = sgdlab.run([*COMMON, "log.estimates.num=0"])
        on = sgdlab.run(COMMON)
        overhead["main_grid"].append(float(main_grid.attrs["wall_time_s"]) / base - 1.0)
        overhead["on"].append(float(on.attrs["wall_time_s"]) / base - 1.0)
        floor_main, floor_estimates = hand_written_logging_floor(problem, on)
        overhead["floor"].append((floor_main + floor_estimates) / base)
        overhead["floor_main"].append(floor_main / base)
        # timed inside the default run: its logging against its own steps (no between-run load)
        logging = float(on.attrs["logging_time_s"])
        overhead["in_run"].append(logging / (float(on.attrs["wall_time_s"]) - logging))
        overhead["vs_floor"].append(logging / (floor_main + floor_estimates))
    ratios = [h / o for h, o in zip(hand_times, off_times, strict=True)]
    rs = R * T
    return {
        "hand_written_rsteps_per_s": rs / statistics.median(hand_times),
        "sgdlab_log_off_rsteps_per_s": rs / statistics.median(off_times),
        "ratio_off_vs_hand": statistics.median(ratios),
        "ratio_off_vs_hand_per_pair": [round(r, 3) for r in ratios],
        "logging_overhead": statistics.median(overhead["on"]),
        "logging_overhead_main_grid_only": statistics.median(overhead["main_grid"]),
        # the default grid's full-data work done by hand-written NumPy, over the same run:
        # the overhead that no implementation of this grid can go below
        "logging_overhead_hand_written_floor": statistics.median(overhead["floor"]),
        "main_grid_only_hand_written_floor": statistics.median(overhead["floor_main"]),
        # the default run's logging time over its own step time, both timed inside the run
        "logging_overhead_in_run": statistics.median(overhead["in_run"]),
        "logging_time_vs_hand_written_floor": statistics.median(overhead["vs_floor"]),
        "default_grid_steps": int(on.step.size),
        "default_estimate_steps": int(on.estimated.sum()),
        "max_abs_diff_vs_hand": float(np.abs(off["x_final"].values - hand_x).max()),
    }


def memory_child(steps: int) -> None:
    import sgdlab

    over = [c for c in COMMON if not c.startswith(("replicates", "steps"))]
    start = time.perf_counter()
    ds = sgdlab.run([*over, "replicates=256", f"steps={steps}", "log.geometric=true"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB (Linux)
    print(json.dumps({"steps": steps, "peak_rss_mb": peak, "seconds": time.perf_counter() - start,
                      "logged_steps": int(ds.step.size)}))  # fmt: skip


def memory(steps: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(steps)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    res = speed(rounds=2 if args.quick else 3, pairs=3 if args.quick else 7)
    for key, value in res.items():
        print(f"{key:34s} {value:.4g}" if isinstance(value, float) else f"{key:34s} {value}")
    mem = memory(10_000 if args.quick else 100_000)
    print(
        f"memory: R=256, {mem['steps']} steps, geometric logging ({mem['logged_steps']} "
        f"logged): peak RSS {mem['peak_rss_mb']:.0f} MB in {mem['seconds']:.0f} s"
    )
    targets = {
        "speed, logging off >= 0.5x hand-written": res["ratio_off_vs_hand"] >= 0.5,
        "default logging <= +25%": res["logging_overhead"] <= 0.25,
        "peak RSS < 1 GB": mem["peak_rss_mb"] < 1024,
    }
    for name, met in targets.items():
        print(f"target {name:40s} {'met' if met else 'NOT MET'}")
    if res["logging_overhead_hand_written_floor"] > 0.25:
        print("  (the default grid's full-data work costs "
              f"+{res['logging_overhead_hand_written_floor']:.0%} even hand-written)")  # fmt: skip


if __name__ == "__main__":
    main()
