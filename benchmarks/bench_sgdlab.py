"""Speed and memory of the sgdlab loop (issue 3).

    python benchmarks/bench_sgdlab.py            # speed (2,000 steps) + memory (R=256, 100k steps)
    python benchmarks/bench_sgdlab.py --quick    # speed only, and memory on a 10k-step horizon

Speed: replicate-steps per second of SGD on logistic regression (n = 10,000, d = 50, b = 32,
R = 64, T = 2,000), sgdlab with logging off and on its default grid, against a hand-written
vectorized NumPy loop of the same algorithm (same index stream, same data, checked to give the
same iterates) measured in the same run. Targets: sgdlab(logging off) ≥ 0.5× hand-written;
sgdlab(default logging) ≤ 1.25× sgdlab(logging off); the overhead of the main grid alone
(σ², L, μ estimates off) is reported too. Memory: peak RSS of a child process running
R = 256 replicates with geometric logging; target < 1 GB.
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


def speed(rounds: int = 3) -> dict:
    """Replicate-steps/s of the hand-written loop and of sgdlab (logging off, main grid only,
    default logging), each round timing all four back to back; medians over the rounds, so
    that load from elsewhere on the machine hits every variant alike."""
    import statistics

    import sgdlab
    from sgdlab.runner import prepare

    problem = prepare(sgdlab.compose(COMMON)).problem
    times: dict[str, list[float]] = {"hand": [], "off": [], "main_grid": [], "on": []}
    for _ in range(rounds):
        hand_time, hand_x = hand_written(problem)
        off = sgdlab.run([*COMMON, "log.enabled=false"])
        main_grid = sgdlab.run([*COMMON, "log.estimates.num=0"])
        on = sgdlab.run(COMMON)
        times["hand"].append(hand_time)
        for name, ds in (("off", off), ("main_grid", main_grid), ("on", on)):
            times[name].append(float(ds.attrs["wall_time_s"]))
    t = {name: statistics.median(v) for name, v in times.items()}
    rs = R * T
    return {
        "hand_written_rsteps_per_s": rs / t["hand"],
        "sgdlab_log_off_rsteps_per_s": rs / t["off"],
        "sgdlab_default_log_rsteps_per_s": rs / t["on"],
        "ratio_off_vs_hand": t["hand"] / t["off"],
        "ratio_off_vs_hand_per_round": [
            round(h / o, 3) for h, o in zip(times["hand"], times["off"], strict=True)
        ],
        "logging_overhead": t["on"] / t["off"] - 1.0,
        "logging_overhead_main_grid_only": t["main_grid"] / t["off"] - 1.0,
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
    res = speed(rounds=2 if args.quick else 3)
    for key, value in res.items():
        print(f"{key:34s} {value:.4g}" if isinstance(value, float) else f"{key:34s} {value}")
    mem = memory(10_000 if args.quick else 100_000)
    print(
        f"memory: R=256, {mem['steps']} steps, geometric logging ({mem['logged_steps']} "
        f"logged): peak RSS {mem['peak_rss_mb']:.0f} MB in {mem['seconds']:.0f} s"
    )
    ok = (res["ratio_off_vs_hand"] >= 0.5 and res["logging_overhead"] <= 0.25
          and mem["peak_rss_mb"] < 1024)  # fmt: skip
    print("targets met" if ok else "TARGETS NOT MET")


if __name__ == "__main__":
    main()
