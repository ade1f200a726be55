"""Speed and memory of the sgdlab loop (issues 3 and 12).

    python benchmarks/bench_sgdlab.py            # speed (2,000 steps) + memory (R=256, 100k steps)
    python benchmarks/bench_sgdlab.py --quick    # speed only, and memory on a 10k-step horizon

Speed: replicate-steps per second of SGD on logistic regression (n = 10,000, d = 50, b = 32,
R = 64, T = 2,000), sgdlab with logging off and on its default grid, against a hand-written
vectorized NumPy loop of the same algorithm (same index stream, same data, checked to give the
same iterates) measured in the same run, as medians of ratios of runs made back to back.
Targets (issue 12): sgdlab(logging off) ≥ 0.85× hand-written (P3), and ≥ 0.40× at R = 1
(P4, same alternation of pairs); the default run's logging
time (``logging_time_s``, timed inside the run, free of the load differences between separate
runs) ≤ 1.2× the hand-written floor of the same work, and the default run ≤ 2.0× the
logging-off run (P7). The floor: the same work written by hand in NumPy (a loss-and-gradient
pass per logged step; at each estimate step the curvature weights σ'(zᵢ) once, as many
Hessian-vector products (two matrix products per chunk) as the run's Lanczos made and σ² from
the same number of per-sample gradients; the running sums' extra
minibatch gradient per unlogged step). Also reported: the overhead of the main grid alone.
Memory: peak RSS of a child process running R = 256 replicates with geometric logging; target
< 1 GB.

Both sides run with one BLAS thread (threadpoolctl), as every sgdlab job does
(``hydra.job.env_set``): under load, BLAS threads waiting for a core make wall times, and above
all the in-run logging time against the floor's best-of-three, meaningless (a loss-and-gradient
pass at R = 64 took 11 ms with one thread and 100 ms with two while the other core was busy).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

N, D, B, R, T = 10_000, 50, 32, 64, 2_000
PRODUCTS = 100  # the floor of the running sums times this many products in a row
LR, LAM = 0.05, 0.01
COMMON = ["problem=logistic", f"problem.n={N}", f"problem.d={D}", f"problem.lam={LAM}",
          "optimizer=sgd", f"optimizer.lr={LR}", "sampler=with_replacement",
          f"batch_size={B}", f"replicates={R}", f"steps={T}"]  # fmt: skip


def hand_written(problem, seed: int = 0, replicates: int = R) -> tuple[float, np.ndarray]:
    """SGD on logistic regression with the gradient written out by hand (vectorized NumPy)."""
    from sgdlab.samplers import SAMPLERS, IndexStream, replicate_rngs

    X, y = problem.data["X"], problem.data["y"]
    stream = IndexStream(SAMPLERS["with_replacement"], N, B, replicate_rngs(seed, replicates))
    x = np.zeros((replicates, D))
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


def hand_written_logging_floor(problem, ds) -> tuple[float, float, float]:
    """Seconds that hand-written NumPy needs for the logging work of ``ds``: one
    loss-and-gradient pass per logged step (main), at each estimate step the curvature weights
    σ'(zᵢ) once, as many Hessian-vector products as the run's Lanczos made (two matrix products
    per chunk on those weights) plus σ² from the same number of per-sample gradients
    (estimates), and one extra minibatch gradient and inner product per unlogged step (the
    running sums): the physical limit of the same work, as (main, estimates, sums)."""
    A, y = problem.data["X"], problem.data["y"]
    n = A.shape[0]
    rng = np.random.default_rng(0)
    W = rng.normal(size=(R, D)) * 0.1
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

    def curvature(W):  # σ'(zᵢ) at an estimate point, kept for its Hessian-vector products
        weights = []
        for c in chunks:
            P = sigmoid(A[c] @ W.T)
            P *= 1.0 - P
            weights.append(P)
        return weights

    def hvp(weights, V):  # two matrix products per chunk, as sgdlab's Hessian operator
        out = np.zeros_like(V)
        for c, w in zip(chunks, weights, strict=True):
            P = A[c] @ V.T
            P *= w
            out += P.T @ A[c]
        return out / n + LAM * V

    cfg = yaml.safe_load(ds.attrs["config"])
    m = int(ds.attrs["sigma_sq_samples"])
    index = rng.integers(0, n, size=(R, m))

    def sigma_sq(W, grad):  # per-sample gradients (s(z_i) − y_i) a_i + λx, m per replicate
        out = np.empty(R)
        for r in range(R):  # one replicate at a time: (m, d) temporaries stay in cache
            Xs = np.take(A, index[r], axis=0)  # (m, d)
            P = sigmoid(Xs @ W[r]) - np.take(y, index[r])
            G = P[:, None] * Xs
            G += LAM * W[r] - grad[r]
            out[r] = np.einsum("md,md->", G, G) / m
        return out

    # a fresh random minibatch per product, drawn in the timed loop as the run draws it (one
    # batch reused would stay in cache; the run's draws are part of its logging time)
    batch_shape = (R, int(cfg["batch_size"]))

    def product(W, g, batch):  # an independent minibatch gradient h and ⟨g, h⟩
        Xb, yb = np.take(A, batch, axis=0), np.take(y, batch, axis=0)
        P = sigmoid(np.matmul(Xb, W[:, :, None])[:, :, 0]) - yb  # a product per replicate
        h = np.matmul(P[:, None, :], Xb)[:, 0, :] / Xb.shape[1] + LAM * W
        return np.vecdot(g, h)

    def products(W, g):
        for _ in range(PRODUCTS):
            product(W, g, rng.integers(0, n, size=batch_shape))

    grad = loss_and_grad(W)[1]
    per_pass = min(_seconds(loss_and_grad, W) for _ in range(3))
    weights = curvature(W)
    per_point = min(_seconds(curvature, W) for _ in range(3))
    per_hvp = min(_seconds(hvp, weights, W) for _ in range(3))
    per_sigma = min(_seconds(sigma_sq, W, grad) for _ in range(3))
    per_product = min(_seconds(products, W, grad) for _ in range(3)) / PRODUCTS
    points = int(ds.estimated.sum())
    estimates = int(ds.attrs["hessian_products"]) * per_hvp + points * (per_sigma + per_point)
    sums = (T + 1 - int(ds.step.size)) * per_product if "grad_norm_sq_sum" in ds else 0.0
    return int(ds.step.size) * per_pass, estimates, sums


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
    # P4: the same at R = 1, where the per-step bookkeeping, not the arithmetic, dominates
    one = [c for c in COMMON if not c.startswith("replicates")] + ["replicates=1"]
    single_ratios, single_diff = [], 0.0
    for _ in range(pairs):
        hand_time_1, hand_x_1 = hand_written(problem, replicates=1)
        off_1 = sgdlab.run([*one, "log.enabled=false"])
        single_ratios.append(hand_time_1 / float(off_1.attrs["wall_time_s"]))
        single_diff = max(single_diff, float(np.abs(off_1["x_final"].values - hand_x_1).max()))
    overhead: dict[str, list[float]] = {
        "main_grid": [], "on": [], "floor": [], "floor_main": [], "in_run": [], "vs_floor": []
    }  # fmt: skip
    for _ in range(rounds):
        base = float(sgdlab.run([*COMMON, "log.enabled=false"]).attrs["wall_time_s"])
        main_grid = sgdlab.run([*COMMON, "log.estimates.num=0"])
        on = sgdlab.run(COMMON)
        overhead["main_grid"].append(float(main_grid.attrs["wall_time_s"]) / base - 1.0)
        overhead["on"].append(float(on.attrs["wall_time_s"]) / base - 1.0)
        floor_main, floor_estimates, floor_sums = hand_written_logging_floor(problem, on)
        floor = floor_main + floor_estimates + floor_sums
        overhead["floor"].append(floor / base)
        overhead["floor_main"].append(floor_main / base)
        # timed inside the default run: its logging against its own steps (no between-run load)
        logging = float(on.attrs["logging_time_s"])
        overhead["in_run"].append(logging / (float(on.attrs["wall_time_s"]) - logging))
        overhead["vs_floor"].append(logging / floor)
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
        "ratio_off_vs_hand_R1": statistics.median(single_ratios),
        "ratio_off_vs_hand_R1_per_pair": [round(r, 3) for r in single_ratios],
        "max_abs_diff_vs_hand_R1": single_diff,
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
    with threadpool_limits(limits=1):  # both sides: one BLAS thread, as sgdlab's jobs
        res = speed(rounds=2 if args.quick else 3, pairs=3 if args.quick else 7)
    for key, value in res.items():
        print(f"{key:34s} {value:.4g}" if isinstance(value, float) else f"{key:34s} {value}")
    mem = memory(10_000 if args.quick else 100_000)
    print(
        f"memory: R=256, {mem['steps']} steps, geometric logging ({mem['logged_steps']} "
        f"logged): peak RSS {mem['peak_rss_mb']:.0f} MB in {mem['seconds']:.0f} s"
    )
    # issue 12's rows: (name, measured, target, met)
    rows = [
        ("P3 logging off / hand-written loop", res["ratio_off_vs_hand"], ">= 0.85",
         res["ratio_off_vs_hand"] >= 0.85),
        ("P4 logging off / hand-written, R = 1", res["ratio_off_vs_hand_R1"], ">= 0.40",
         res["ratio_off_vs_hand_R1"] >= 0.40),
        ("P7 logging time / hand-written floor", res["logging_time_vs_hand_written_floor"],
         "<= 1.2", res["logging_time_vs_hand_written_floor"] <= 1.2),
        ("P7 default run / logging-off run", 1 + res["logging_overhead"], "<= 2.0",
         1 + res["logging_overhead"] <= 2.0),
        ("peak RSS (MB)", mem["peak_rss_mb"], "< 1024", mem["peak_rss_mb"] < 1024),
    ]  # fmt: skip
    for name, value, target, met in rows:
        print(f"{name:40s} {value:8.3g}  target {target:8s} {'met' if met else 'NOT MET'}")
    floor = 1 + res["logging_overhead_hand_written_floor"]
    print(f"  (hand-written floor of the default grid's work: {floor:.2f}x the logging-off run)")


if __name__ == "__main__":
    main()
