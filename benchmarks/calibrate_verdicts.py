"""Calibration of the verdicts: power and false-alarm rates of ``analysis.check_all``.

    python benchmarks/calibrate_verdicts.py [--quick]

For every theorem, :data:`HOMES` names a small run on which it applies with certified
constants. One simulation with ``RUNS × R`` replicates is cut into ``RUNS`` independent runs of
R = 32 replicates (replicates are i.i.d., so each slice is a run of its own), and each slice is
checked:

- **power**: with the theorem's bound scaled by 0.1 (and by 0.5), the fraction of runs in which
  it is ``violated`` (the other theorems of the run keep their true bounds, so the family-wise
  correction is the real one);
- **false alarms**: with every bound as it is, the fraction of runs with any ``violated``
  theorem, which the checks promise to keep at most α (family-wise over checkpoints and
  theorems).

Not a speed benchmark (``run_all.py`` runs only ``bench_*.py``); the slow tests in
``tests/test_verdict_calibration.py`` assert its numbers.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import sgdlab
from analysis import check_all
from analysis.bounds import BOUNDS

R = 32
MEAN = ["problem=mean", "batch_size=1", "steps=100"]
HOMES: dict[str, list[str]] = {
    # f_i = ½(x − a_i)²: σ²(x) = var(a) exactly, M_V = 0, and η ≤ 1 keeps x_t in conv{x_0, a}
    "sra_nonconvex": [*MEAN, "optimizer.lr=0.5"],
    "bcn_4_6": [*MEAN, "optimizer.lr=0.5"],
    "bcn_4_7": [
        *MEAN,
        "schedule=inverse_time",
        "schedule.gamma=2",
        "optimizer.lr=1.0",
        "x0=random",
    ],  # fmt: skip
    "bcn_4_8": [*MEAN, "optimizer.lr=0.5"],
    "bcn_4_10": [*MEAN, "optimizer.lr=0.5"],
    "sc_constant_step": [*MEAN, "optimizer.lr=0.5"],
    "nsw_2_1": [*MEAN, "optimizer.lr=0.5"],
    "rakhlin_1t": [*MEAN, "schedule=inverse_time", "optimizer.lr=1.0"],
    "convex_averaging": [*MEAN, "optimizer.lr=0.1", "averaging.kind=full"],
    "fpc_minibatch": [
        "problem=least_squares",
        "problem.n=40",
        "problem.d=4",
        "steps=100",
        "batch_size=4",
        "log.estimates.num=8",
    ],  # fmt: skip
    # equal |a_i|: every f_i has μ_i = L_i, so MKR's contraction (1 − γμ)^t is nearly attained
    "rr_mkr": [
        "problem=lsq1d",
        "problem.a=[1,1,1]",
        "problem.b=[0,1,2]",
        "sampler=reshuffle",
        "batch_size=1",
        "optimizer.lr=0.05",
        "steps=60",
    ],  # fmt: skip
    "region_of_confusion": ["problem=lsq1d", "batch_size=1", "optimizer.lr=0.1", "steps=100"],
}
# valid runs for the false-alarm rate: the homes above and the default problem
VALID = {
    "mean, constant step": HOMES["sra_nonconvex"],
    "mean, 1/(t+1)": HOMES["rakhlin_1t"],
    "least_squares (default)": ["steps=400"],
    "lsq1d, b = 1": HOMES["region_of_confusion"],
}


def runs(overrides: list[str], count: int, seed: int = 0):
    """``count`` independent runs of R replicates of ``overrides``, from one simulation."""
    ds = sgdlab.run([*overrides, f"replicates={count * R}", f"seed={seed}"])
    return [ds.isel(replicate=slice(k * R, (k + 1) * R)) for k in range(count)]


def scaled(theorem: str, factor: float) -> dict:
    """:data:`BOUNDS` with ``theorem``'s bound multiplied by ``factor``."""
    bound = BOUNDS[theorem]

    def fn(*args, **kwargs):
        return factor * bound.fn(*args, **kwargs)

    return {**BOUNDS, theorem: dataclasses.replace(bound, fn=fn)}


def power(
    theorem: str, factor: float, count: int, alpha: float = 0.05, relative: bool = False
) -> tuple[int, int]:
    """(violated, checked): runs of :data:`HOMES` in which ``theorem`` scaled by ``factor`` is
    violated, and runs in which it applied. ``relative``: scale to ``factor`` times the measured
    mean at the bound's tightest checkpoint instead (``factor · ρ_max``, ρ_max = max_t Q̄/B from
    all the runs pooled), i.e. a bound that is wrong by 1/factor whatever its slack."""
    slices = runs(HOMES[theorem], count)
    if relative:
        pooled = sgdlab.run([*HOMES[theorem], f"replicates={count * R}", "seed=0"])
        rho = check_all(pooled).summary.set_index("theorem").loc[theorem, "ratio_max"]
        factor = factor * float(rho)
    bounds, hits, checked = scaled(theorem, factor), 0, 0
    for ds in slices:
        status = check_all(ds, alpha=alpha, bounds=bounds).summary.set_index("theorem")
        status = status.loc[theorem, "status"]
        checked += status != "not_applicable"
        hits += status == "violated"
    return hits, checked


def false_alarms(overrides: list[str], count: int, alpha: float = 0.05) -> tuple[int, int]:
    """(runs with any violated theorem, runs) over ``count`` valid runs."""
    bad = 0
    for ds in runs(overrides, count, seed=1):
        bad += bool((check_all(ds, alpha=alpha).summary["status"] == "violated").any())
    return bad, count


def main(argv: list[str]) -> None:
    """Print the power table (0.1× and 0.5×) and the false-alarm rates."""
    count = 20 if "--quick" in argv else 200
    start = time.perf_counter()
    print(f"power: fraction of {count} runs (R = {R}) with the scaled bound violated, α = 0.05")
    print("(B/10: the bound scaled to a tenth of the measured mean at its tightest checkpoint)")
    print(f"{'theorem':22} {'0.1×':>8} {'0.5×':>8} {'B/10':>8} {'ρ_max':>8}")
    for theorem in HOMES:
        cells = []
        for factor, relative in ((0.1, False), (0.5, False), (0.1, True)):
            hits, checked = power(theorem, factor, count, relative=relative)
            cells.append(f"{hits / max(checked, 1):8.3f}" + ("" if checked == count else "*"))
        pooled = sgdlab.run([*HOMES[theorem], f"replicates={count * R}"])
        rho = check_all(pooled).summary.set_index("theorem").loc[theorem, "ratio_max"]
        print(f"{theorem:22} {' '.join(cells)} {rho:8.3f}")
    print(f"\nfalse alarms: runs with any violated theorem, {count} valid runs each, α = 0.05")
    for name, overrides in VALID.items():
        bad, n = false_alarms(overrides, count)
        print(f"{name:26} {bad:4d}/{n} = {bad / n:.3f}")
    print(f"({time.perf_counter() - start:.0f} s; * = the theorem did not apply in every run)")


if __name__ == "__main__":
    main(sys.argv[1:])
