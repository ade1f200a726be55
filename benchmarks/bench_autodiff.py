"""Speed of the autodiff engine, as ratios against baselines measured in the same run.

    python benchmarks/bench_autodiff.py [--quick]

1. Per-operation overhead of a 10,000-op scalar chain (forward + backward), in µs
   per op, beside micrograd and HIPS autograd when they are installed
   (``pip install .[bench]``).
2. value_and_grad(f) / f, and value_and_grad / hand-written NumPy loss + gradient,
   for logistic regression (X 10,000 × 100) and a 2-layer MLP
   (100 → 256 tanh → 10, softmax cross-entropy, batch 256), the MLP written with the fused
   primitives a model would use (``anp.dense`` layers, ``anp.softmax_nll``).
3. The full gradient of f(x) = sum(tanh(A x)), x ∈ Rⁿ, by reverse mode (one
   backward pass) and by forward mode (n JVPs), for n = 10, 100, 1000.

Every figure is the median of several repeats; ratios are what to compare across
machines, since absolute times on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import scipy.special

import autodiff
import autodiff.numpy as anp

TARGETS = {
    "value_and_grad / f": 3.0,
    "value_and_grad / hand-written": 1.10,  # issue 12, P2
    "per-op overhead / micrograd": 0.8,  # issue 12, P1 (cyclic GC on, plain process)
}


def median_time(fn, repeats: int = 7, number: int = 1) -> float:
    """Median over ``repeats`` of the mean time of ``number`` calls of ``fn``, in seconds."""
    return interleaved({"fn": fn}, repeats, number)["fn"]


def interleaved(fns: dict, repeats: int = 7, number: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation round by round.

    Alternating means a burst of load from elsewhere on the machine slows all of
    them alike, so their ratios stay meaningful on a noisy machine.
    """
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(t) for name, t in times.items()}


# ------------------------------------------------------------ 1. scalar chain
def scalar_chain(n_ops: int, repeats: int) -> dict[str, float]:
    """µs per op of forward + backward through x ← x·1.0001 + 0.1 (2 ops a step)."""
    steps = n_ops // 2

    def chain(x):
        for _ in range(steps):
            x = x * 1.0001 + 0.1
        return x

    fns = {"autodiff": lambda: autodiff.grad(chain)(0.5)}
    try:
        from micrograd.engine import Value

        fns["micrograd"] = lambda: chain(Value(0.5)).backward()
    except ImportError:
        pass
    try:
        import autograd

        fns["HIPS autograd"] = lambda: autograd.grad(chain)(0.5)
    except ImportError:
        pass
    # micrograd sorts its graph recursively: a 10,000-op chain needs a deeper stack.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * n_ops))
    try:
        times = interleaved(fns, repeats)
    finally:
        sys.setrecursionlimit(limit)
    return {name: t / n_ops * 1e6 for name, t in times.items()}


# ----------------------------------------------- 2. logistic regression, MLP
def logistic_problem(rng):
    X = rng.standard_normal((10_000, 100))
    y = np.where(rng.random(10_000) < 0.5, -1.0, 1.0)

    def loss(w):
        return anp.mean(anp.softplus(-y * (X @ w)))

    def hand(w):
        z = -y * (X @ w)
        value = np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))))  # stable softplus
        return value, X.T @ (-y * scipy.special.expit(z)) / len(y)

    return loss, hand, (rng.standard_normal(100) * 0.1,)


def mlp_problem(rng):
    X = rng.standard_normal((256, 100))
    labels = rng.integers(0, 10, 256)
    onehot = np.eye(10)[labels]
    rows = np.arange(256)

    def loss(W1, b1, W2, b2):  # written with the fused dense layer and cross-entropy
        h = anp.tanh(anp.dense(X, W1, b1))
        logits = anp.dense(h, W2, b2)
        return anp.mean(anp.softmax_nll(logits, onehot, axis=1))

    def hand(W1, b1, W2, b2):
        h = np.tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        top = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - top)
        s = e.sum(axis=1, keepdims=True)
        value = np.mean(np.log(s[:, 0]) + top[:, 0] - logits[rows, labels])
        d_logits = (e / s - onehot) / 256
        d_h = (d_logits @ W2.T) * (1.0 - h * h)
        return value, (X.T @ d_h, d_h.sum(0), h.T @ d_logits, d_logits.sum(0))

    params = (
        rng.standard_normal((100, 256)) * 0.1,
        np.zeros(256),
        rng.standard_normal((256, 10)) * 0.1,
        np.zeros(10),
    )
    return loss, hand, params


def loss_and_gradient(problem, repeats: int) -> dict[str, float]:
    """Times of f, value_and_grad(f) and the hand-written version, with the gradient checked."""
    loss, hand, params = problem(np.random.default_rng(0))
    vg = autodiff.value_and_grad(loss, argnums=tuple(range(len(params))))
    value, grads = vg(*params)
    hand_value, hand_grads = hand(*params)
    hand_grads = hand_grads if isinstance(hand_grads, tuple) else (hand_grads,)
    assert np.isclose(value, hand_value, rtol=1e-12)
    for g, h in zip(grads, hand_grads, strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-8, atol=1e-12)
    return interleaved(
        {
            "f": lambda: loss(*params),
            "value_and_grad": lambda: vg(*params),
            "hand-written": lambda: hand(*params),
        },
        repeats,
        number=10,
    )


# ------------------------------------------------ 3. reverse vs forward mode
def modes(n: int, repeats: int) -> dict[str, float]:
    """Times of f, of the gradient by one backward pass, and by n forward passes."""
    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)

    def f(x):
        return anp.sum(anp.tanh(A @ x))

    rev = autodiff.grad(f)
    fwd = autodiff.jacobian(f, mode="fwd")
    np.testing.assert_allclose(rev(x), fwd(x), rtol=1e-10, atol=1e-12)
    times = interleaved({"f": lambda: f(x), "reverse": lambda: rev(x)}, repeats, number=10)
    times["forward"] = median_time(lambda: fwd(x), max(1, repeats // 3) if n >= 1000 else repeats)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller chain")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 9
    report: dict = {}

    print("1. Scalar chain, forward + backward (µs per op, median)")
    n_ops = 2_000 if args.quick else 10_000
    chain = scalar_chain(n_ops, repeats)
    for name, us in chain.items():
        print(f"   {name:<14} {us:8.2f} µs/op")
    if "micrograd" in chain:
        ratio = chain["autodiff"] / chain["micrograd"]
        report["per-op overhead / micrograd"] = ratio
        print(f"   autodiff / micrograd = {ratio:.2f}  (target ≤ 0.8)")
    else:
        print("   micrograd not installed (pip install .[bench]); no ratio")
    if "HIPS autograd" not in chain:
        print("   HIPS autograd not installed (pip install .[bench])")

    print("\n2. value_and_grad against f and against hand-written NumPy (ms, median)")
    problems = [("logistic 10000×100", logistic_problem), ("MLP 100-256-10", mlp_problem)]
    for name, problem in problems:
        t = loss_and_gradient(problem, repeats)
        r_f, r_hand = t["value_and_grad"] / t["f"], t["value_and_grad"] / t["hand-written"]
        report[f"{name}: value_and_grad / f"] = r_f
        report[f"{name}: value_and_grad / hand-written"] = r_hand
        print(
            f"   {name:<20} f {t['f'] * 1e3:7.3f}  value_and_grad {t['value_and_grad'] * 1e3:7.3f}"
            f"  hand {t['hand-written'] * 1e3:7.3f}  →  vg/f {r_f:.2f} (≤ 3.0),"
            f"  vg/hand {r_hand:.2f} (≤ 1.10)"
        )

    print("\n3. Full gradient of sum(tanh(A x)), x ∈ Rⁿ: reverse (1 pass) vs forward (n passes)")
    for n in (10, 100, 1000):
        t = modes(n, repeats)
        report[f"n={n}: reverse / f"] = t["reverse"] / t["f"]
        report[f"n={n}: forward / f"] = t["forward"] / t["f"]
        print(
            f"   n={n:<5} f {t['f'] * 1e3:8.3f} ms   reverse {t['reverse'] * 1e3:8.3f} ms "
            f"({t['reverse'] / t['f']:5.1f}× f)   forward {t['forward'] * 1e3:9.3f} ms "
            f"({t['forward'] / t['f']:7.1f}× f)"
        )
    print_issue_rows(report)
    return report


def print_issue_rows(report: dict) -> None:
    """Issue 12's rows measured here (P1, P2): measured, target, met / NOT MET."""
    rows = [
        ("P1 scalar chain per op / micrograd", "per-op overhead / micrograd", 0.8),
        ("P2 logistic vg / hand-written", "logistic 10000×100: value_and_grad / hand-written", 1.1),
        ("P2 MLP vg / hand-written", "MLP 100-256-10: value_and_grad / hand-written", 1.1),
    ]
    print()
    for name, key, target in rows:
        if key not in report:
            print(f"{name:40s} {'n/a':>8s}  target <= {target:<5} (micrograd not installed)")
            continue
        met = "met" if report[key] <= target else "NOT MET"
        print(f"{name:40s} {report[key]:8.3g}  target <= {target:<5} {met}")


if __name__ == "__main__":
    main(sys.argv[1:])
