"""analysis.assumptions and analysis.checks on small real runs: the checks hold where the theory
says so, and can fail (broken bound, step above 2/L, too few replicates)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import sgdlab
from analysis import check, check_all
from analysis.assumptions import (
    _step_rows,
    fpc_steps,
    residual_mean_test,
    residual_norm_test,
    unbiasedness,
)
from analysis.bounds import BOUNDS
from analysis.checks import (
    COVERAGE_ALL,
    COVERAGE_NONE,
    COVERAGE_PREFIX,
    _row,
    checkpoints,
    summarize,
)
from analysis.constants import read_run, run_constants
from analysis.quantities import dense_prefix

SPEC_COLUMNS = ["theorem", "step", "quantity", "empirical_mean", "ci_low", "ci_high", "bound",
                "slack", "status"]  # fmt: skip
SMALL = ["problem.n=50", "problem.d=5", "steps=100", "log.geometric=false", "log.every=1"]


@pytest.fixture(scope="module")
def lsq():
    return sgdlab.run([*SMALL, "replicates=16", "optimizer.lr=0.2"])


@pytest.fixture(scope="module")
def lsq_result(lsq):
    return check_all(lsq)


def _status(result, theorem):
    return result.summary.set_index("theorem").loc[theorem, "status"]


def _scaled(theorem, factor):
    bound = BOUNDS[theorem]

    def fn(steps, **kw):
        return factor * bound.fn(steps, **kw)

    return {theorem: dataclasses.replace(bound, fn=fn)}


def test_tables_have_the_documented_columns_and_are_written(lsq, tmp_path):
    checks, constants = check(lsq, tmp_path)
    assert list(checks.columns[: len(SPEC_COLUMNS)]) == SPEC_COLUMNS
    assert {"ratio", "ratio_low", "ratio_high", "constants_provenance"} <= set(checks.columns)
    assert list(constants.columns) == [
        "theorem", "constant", "value", "source", "note", "provenance"
    ]  # fmt: skip
    assert set(constants["source"]) <= {"problem", "run", "config"}
    assert set(constants["provenance"]) <= {"exact", "bound", "estimated"}
    assert set(checks["theorem"]) == set(BOUNDS)
    assert checks["reason"].str.len().gt(0).all()
    on_disk = pd.read_csv(tmp_path / "checks.csv")
    assert len(on_disk) == len(checks)
    assert (tmp_path / "constants.csv").exists() and (tmp_path / "assumptions.csv").exists()


def test_theorems_that_apply_hold_on_strongly_convex_least_squares(lsq, lsq_result):
    for theorem in ("bcn_4_6", "bcn_4_8", "bcn_4_10", "fpc_minibatch"):
        assert _status(lsq_result, theorem) == "holds", theorem
    # least squares has no uniform σ² or G² (they grow with ‖x − x*‖): not certified
    s = lsq_result.summary.set_index("theorem")
    assert "bounded variance" in s.loc["sc_constant_step", "reason"]
    assert "bounded second moment" in s.loc["sra_nonconvex", "reason"]
    assert _status(lsq_result, "sc_constant_step") == "not_applicable"
    rows = lsq_result.checks.query("theorem == 'bcn_4_6'")
    assert rows["step"].tolist() == [2, 4, 6, 10, 18, 32, 57, 100]  # ⌈100^(k/8)⌉ and T
    assert np.allclose(rows["slack"], rows["bound"] / rows["empirical_mean"])
    assert (rows["constants_provenance"] == "certified (exact)").all()
    # opting in: the estimated σ̂² makes the check conditional, and every row says so
    allowed = check_all(lsq, estimated="allow")
    assert _status(allowed, "sc_constant_step") == "holds"
    rows = allowed.checks.query("theorem == 'sc_constant_step'")
    assert rows["reason"].str.contains("conditional on estimated sigma_sq").all()
    assert (
        "conditional on estimated"
        in allowed.summary.set_index("theorem").loc["sc_constant_step", "reason"]
    )
    with pytest.raises(ValueError, match="estimated='sometimes'.*'forbid'.*'allow'"):
        check_all(lsq, estimated="sometimes")


def test_ci_low_is_the_bonferroni_t_bound_of_the_replicate_values(lsq, lsq_result):
    # theory §9 by hand (scipy, not analysis.stats): Q̄ − t_{1−α/|𝒯|, R−1}·s/√R, |𝒯| = 8
    # checkpoints; the ratio's interval is two-sided at α/|𝒯|
    q = lsq["suboptimality"].sel(step=57).values
    se = q.std(ddof=1) / np.sqrt(q.size)
    want = q.mean() - scipy.stats.t.ppf(1 - 0.05 / 8, q.size - 1) * se
    row = lsq_result.checks.query("theorem == 'bcn_4_6' and step == 57").iloc[0]
    assert row["empirical_mean"] == pytest.approx(q.mean(), rel=1e-12)
    assert row["ci_low"] == pytest.approx(want, rel=1e-9)
    half = scipy.stats.t.ppf(1 - 0.05 / 16, q.size - 1) * se
    assert row["ratio"] == pytest.approx(q.mean() / row["bound"], rel=1e-12)
    assert row["ratio_low"] == pytest.approx((q.mean() - half) / row["bound"], rel=1e-9)
    assert row["ratio_high"] == pytest.approx((q.mean() + half) / row["bound"], rel=1e-9)
    # the p-value: one-sided t, Bonferroni over the 8 checkpoints
    p = scipy.stats.t.sf((q.mean() - row["bound"]) / se, q.size - 1)
    assert row["p_value"] == pytest.approx(min(1.0, 8 * p), rel=1e-6)


def test_constants_say_where_they_come_from(lsq, lsq_result):
    c = lsq_result.constants.query("theorem == 'bcn_4_6'").set_index("constant")
    assert c.loc["L", "provenance"] == "exact" and c.loc["L", "value"] == pytest.approx(1.0)
    assert c.loc["mu", "provenance"] == "exact" and c.loc["mu", "value"] == pytest.approx(0.1)
    # BCN's M and M_V from the data, for a minibatch of b = 8 drawn with replacement
    assert c.loc["M", "provenance"] == "exact" and c.loc["M", "source"] == "problem"
    assert c.loc["M", "value"] == pytest.approx(float(lsq["bcn_M"]) / 8)
    assert c.loc["M_V", "value"] == pytest.approx(float(lsq["bcn_M_V"]) / 8)
    assert c.loc["delta", "provenance"] == "exact"
    est = check_all(lsq, estimated="allow").constants
    sig = est.query("theorem == 'sc_constant_step' and constant == 'sigma_sq'").iloc[0]
    assert sig["provenance"] == "estimated" and sig["source"] == "run"
    assert "underestimates a uniform bound" in sig["note"]


def test_a_bound_scaled_by_a_tenth_is_violated_with_first_step_and_size(lsq):
    result = check_all(lsq, bounds=_scaled("bcn_4_8", 0.1))
    assert _status(result, "bcn_4_8") == "violated"
    row = result.summary.set_index("theorem").loc["bcn_4_8"]
    assert row["p_value"] <= 0.05
    rows = result.checks.query("theorem == 'bcn_4_8'")
    bad = rows[rows["status"] == "violated"]
    assert row["first_violation_step"] == bad["step"].min()
    first = bad.iloc[0]
    assert row["violation_size"] == pytest.approx(first["ci_low"] - first["bound"])
    assert row["violation_size"] > 0
    assert "LCB" in first["reason"] and "family-wise significant" in first["reason"]


def test_a_step_above_two_over_L_violates_the_step_assumption():
    ds = sgdlab.run([*SMALL[:2], "steps=20", "replicates=4", "optimizer.lr=2.5"])  # L = 1
    result = check_all(ds)
    a = result.assumptions.set_index(["theorem", "assumption"])
    row = a.loc[("nsw_2_1", "lr_lt_inv_sup_L")]
    assert row["status"] == "violated"
    assert row["margin"] == pytest.approx(1 - 2.5 * float(ds["L_max"]))
    cap = 1 / (1.0 * (1 + float(ds["bcn_M_V"]) / 8))  # μ/(L M_G), M_G = M_V/b + 1
    row = a.loc[("bcn_4_6", "lr_cap")]
    assert row["status"] == "violated" and row["margin"] == pytest.approx(1 - 2.5 / cap)
    summary = result.summary.set_index("theorem")
    assert summary.loc["bcn_4_6", "status"] == "not_applicable"
    assert "lr_cap" in summary.loc["bcn_4_6", "reason"]


def _at_p(ds, quantity, p):
    """A fake bound below the replicates' mean at every step, placed so that the one-sided t
    test of its excess has p-value ``p`` at each step."""
    q = ds[quantity].values
    se = q.std(axis=0, ddof=1) / np.sqrt(q.shape[0])
    b = q.mean(axis=0) - scipy.stats.t.isf(p, q.shape[0] - 1) * se

    def fn(steps, **kw):
        return b[np.searchsorted(ds["step"].values, np.asarray(steps))]

    return fn


def test_significant_alone_is_inconclusive_and_family_wise_is_violated(lsq, lsq_result):
    """Per checkpoint p = 0.004: Bonferroni over the 8 checkpoints gives the theorem p = 0.032,
    significant alone but not after Holm over the run's 4 theorems (0.032 > 0.05/4):
    inconclusive. Per checkpoint p = 1e-5 (theorem p = 8e-5): violated."""
    applicable = (lsq_result.summary["status"] != "not_applicable").sum()
    assert applicable == 4
    for p, status in ((0.004, "inconclusive"), (1e-5, "violated")):
        fake = dataclasses.replace(BOUNDS["bcn_4_6"], fn=_at_p(lsq, "suboptimality", p))
        result = check_all(lsq, bounds={**BOUNDS, "bcn_4_6": fake})
        assert _status(result, "bcn_4_6") == status, p
        row = result.summary.set_index("theorem").loc["bcn_4_6"]
        assert row["p_value"] == pytest.approx(min(1, 4 * 8 * p), rel=1e-6)  # Holm's first step
        for other in ("bcn_4_8", "bcn_4_10", "fpc_minibatch"):
            assert _status(result, other) == "holds", other
    # a single replicate above the bound is never a violation; two replicates with the mean 3%
    # above it everywhere cannot tell (not significant): no red flag
    two = sgdlab.run([*SMALL, "replicates=2", "optimizer.lr=0.2"])
    mean = two["suboptimality"].mean("replicate").values

    def close(steps, **kw):
        return 0.97 * mean[np.asarray(steps)]

    result = check_all(two, bounds={"bcn_4_6": dataclasses.replace(BOUNDS["bcn_4_6"], fn=close)})
    rows = result.checks.query("theorem == 'bcn_4_6'")
    assert (rows["empirical_mean"] > rows["bound"]).all() and (rows["status"] != "violated").all()
    assert rows["reason"].str.contains("not significantly").all()


def test_not_applicable_theorems_say_why(lsq_result):
    s = lsq_result.summary.set_index("theorem")
    assert "γ < 1/supL" in s.loc["nsw_2_1", "reason"]  # η = 0.2 is above 1/max_i ‖a_i‖²
    assert "some f_i is not strongly convex" in s.loc["rr_mkr", "reason"]  # least squares, d = 5
    assert "inverse_time" in s.loc["bcn_4_7", "reason"]
    assert "averaging" in s.loc["convex_averaging", "reason"]
    assert (s["reason"].str.len() > 0).all()


def test_diminishing_step_and_averaging_theorems_apply_when_their_setting_is_run():
    bcn47 = check_all(
        sgdlab.run(
            [
                *SMALL,
                "replicates=8",
                "schedule=inverse_time",
                "schedule.gamma=51",
                "optimizer.lr=0.2",
            ]
        )
    )  # β = 10.2 > 1/μ, α_1 = β/(γ_BCN + 1) = 0.2 below BCN's cap 1/(1 + M_V/b) ≈ 0.235
    assert _status(bcn47, "bcn_4_7") == "holds"
    c = bcn47.constants.query("theorem == 'bcn_4_7'").set_index("constant")["value"]
    assert c["beta"] == pytest.approx(10.2) and c["gamma"] == pytest.approx(50.0)
    # Rakhlin needs a uniform G², which least squares does not have: only conditionally
    run = sgdlab.run(
        [*SMALL, "replicates=8", "problem.cond=1", "schedule=inverse_time", "optimizer.lr=1.0"]
    )  # λ = μ = 1
    assert _status(check_all(run), "rakhlin_1t") == "not_applicable"
    assert _status(check_all(run, estimated="allow"), "rakhlin_1t") == "holds"
    # logistic regression with λ = 0: ‖∇f_i(x)‖ ≤ ‖a_i‖ certifies G², so averaging applies
    avg = check_all(
        sgdlab.run(
            [
                "problem=logistic",
                "problem.lam=0",
                "averaging.kind=full",
                "steps=100",
                "replicates=8",
            ]
        )  # fmt: skip
    )
    assert _status(avg, "convex_averaging") == "holds"
    c = avg.constants.query("theorem == 'convex_averaging'").set_index("constant")
    assert c.loc["G_sq", "provenance"] == "bound"


@pytest.fixture(scope="module")
def toy():
    return sgdlab.run(["experiment=region_of_confusion", "steps=100", "replicates=40",
                       "log.geometric=false", "log.every=1"])  # fmt: skip


def test_exact_checks_hold_on_the_1d_toy_and_fail_when_scaled(toy):
    result = check_all(toy)
    for theorem in ("nsw_2_1", "bcn_4_6", "fpc_minibatch", "region_of_confusion"):
        assert _status(result, theorem) == "holds", theorem
    rows = result.checks.query("theorem == 'region_of_confusion'")
    assert rows["bound"].iloc[-1] == pytest.approx(1 / 51, rel=1e-3)  # theory.md T4
    nsw = result.constants.query("theorem == 'nsw_2_1'").set_index("constant")
    assert nsw.loc["sup_L", "value"] == 4.0 and nsw.loc["sup_L", "provenance"] == "exact"
    assert nsw.loc["sigma_star_sq", "value"] == pytest.approx(2 / 3)
    run_rows = result.assumptions.query("theorem == 'run'").set_index("assumption")
    assert run_rows.loc["unbiased_gradient", "status"] == "holds"
    broken = check_all(toy, bounds=_scaled("region_of_confusion", 0.5))
    assert _status(broken, "region_of_confusion") == "violated"
    # a mean significantly below an exact value: the low side of the t interval under-covers
    # a skewed Q ≥ 0, so it is inconclusive, never violated
    too_big = check_all(toy, bounds=_scaled("region_of_confusion", 1.5))
    assert _status(too_big, "region_of_confusion") == "inconclusive"
    assert "never called a violation" in too_big.summary.loc[0, "reason"]


def test_random_reshuffling_bound_is_checked_at_epoch_ends():
    ds = sgdlab.run(["experiment=region_of_confusion", "steps=60", "replicates=16",
                     "sampler=reshuffle", "log.geometric=false", "log.every=1"])  # fmt: skip
    result = check_all(ds)
    assert _status(result, "rr_mkr") == "holds"
    steps = result.checks.query("theorem == 'rr_mkr'")["step"]
    epochs = np.arange(0, 61, 3)
    assert steps.tolist() == epochs[checkpoints(epochs, np.ones(21, bool))].tolist()
    assert (steps % 3 == 0).all() and steps.iloc[-1] == 60
    assert _status(result, "sc_constant_step") == "not_applicable"  # not i.i.d. sampling


# --------------------------------------------------------------------------- review fixes


def test_x0_constants_are_missing_unless_the_log_starts_at_t0(toy):
    full, full_missing = run_constants(read_run(toy))
    assert {"delta", "delta_star", "dist0_sq"} <= set(full)  # control: t = 0 is logged
    late = toy.isel(step=slice(1, None))  # as with log.enabled=false: x_0 is not in the log
    consts, missing = run_constants(read_run(late))
    for name in ("delta", "delta_star", "dist0_sq"):
        assert name not in consts, name
        assert "x_0 is not logged" in missing[name] and "t = 1" in missing[name]
    result = check_all(late)
    a = result.assumptions.set_index(["theorem", "assumption"])
    assert a.loc[("sc_constant_step", "constants"), "status"] == "unknown"
    assert "x_0 is not logged" in a.loc[("sc_constant_step", "constants"), "detail"]
    assert a.loc[("region_of_confusion", "deterministic_x0"), "status"] == "unknown"
    s = result.summary.set_index("theorem")
    for theorem in ("sc_constant_step", "nsw_2_1", "region_of_confusion"):
        assert s.loc[theorem, "status"] == "not_applicable", theorem
        assert "x_0 is not logged" in s.loc[theorem, "reason"], theorem


FULL_BATCH = ["problem=mean", "batch_size=100", "sampler=reshuffle", "steps=5", "replicates=8"]


@pytest.mark.parametrize("seed", range(5))
def test_full_batch_fpc_is_not_violated_by_round_off(seed):
    ds = sgdlab.run([*FULL_BATCH, f"seed={seed}"])
    result = check_all(ds)  # FPC value 0 exactly at b = n
    assert _status(result, "fpc_minibatch") == "holds"
    run_rows = result.assumptions.query("theorem == 'run'").set_index("assumption")
    assert run_rows.loc["unbiased_gradient", "status"] == "holds"
    # residuals of ~1e-17 from summation order: far below the round-off floors of both tests
    assert residual_mean_test(read_run(ds))["margin"] < 1e-2
    assert abs(residual_norm_test(read_run(ds))["margin"]) < 1e-6


@pytest.fixture(scope="module")
def full_batch():
    return sgdlab.run(FULL_BATCH)


def test_round_off_floor_is_tiny_against_sigma_sq(full_batch):
    sig = float(full_batch["sigma_sq"].max())
    jitter = 1 + 0.01 * np.random.default_rng(0).random(full_batch["noise_sq"].shape)
    # summation-order noise of ~1e-32 at every replicate: the LCB is above 0, yet it is round-off
    tiny = full_batch.assign(noise_sq=(full_batch["noise_sq"].dims, jitter * 1.2e-32))
    result = check_all(tiny)
    assert _status(result, "fpc_minibatch") == "holds"
    run_rows = result.assumptions.query("theorem == 'run'").set_index("assumption")
    assert run_rows.loc["unbiased_gradient", "status"] == "holds"
    # a real excess of 1e-8·σ² is far above the floor (1e3·u·σ²) and is still a violation
    real = full_batch.assign(noise_sq=(full_batch["noise_sq"].dims, jitter * 1e-8 * sig))
    result = check_all(real)
    assert _status(result, "fpc_minibatch") == "violated"
    run_rows = result.assumptions.query("theorem == 'run'").set_index("assumption")
    assert run_rows.loc["unbiased_gradient", "status"] == "violated"


def test_convex_averaging_needs_the_full_average_with_a_constant_step():
    tail = check_all(sgdlab.run([*SMALL, "replicates=4", "averaging.kind=tail"]))
    a = tail.assumptions.set_index(["theorem", "assumption"])
    assert a.loc[("convex_averaging", "full_average"), "status"] == "violated"
    assert _status(tail, "convex_averaging") == "not_applicable"
    assert (
        "averaging.kind=tail" in tail.summary.set_index("theorem").loc["convex_averaging", "reason"]
    )
    decaying = check_all(
        sgdlab.run([*SMALL, "replicates=4", "averaging.kind=full", "schedule=inverse_time"])
    )  # the logged average is uniform, the theorem's x̄_t is step-weighted
    a = decaying.assumptions.set_index(["theorem", "assumption"])
    assert a.loc[("convex_averaging", "full_average"), "status"] == "holds"
    assert a.loc[("convex_averaging", "uniform_weights"), "status"] == "violated"
    assert _status(decaying, "convex_averaging") == "not_applicable"


def test_running_averages_are_checked_over_the_whole_horizon_on_a_sparse_grid():
    """With running sums (the default for SGD with replacement) the running-average theorems
    are checked up to T on the geometric grid; without them, only on its dense prefix."""
    over = ["problem.n=50", "problem.d=5", "steps=200", "replicates=4"]  # geometric grid
    ds = sgdlab.run(over)
    k = dense_prefix(ds)
    assert 0 < k < ds.sizes["step"]
    s = check_all(ds).summary.set_index("theorem")
    for theorem in ("bcn_4_8", "bcn_4_10"):
        assert s.loc[theorem, "status"] == "holds", theorem
        assert s.loc[theorem, "coverage"] == COVERAGE_ALL, theorem
        assert "only" not in s.loc[theorem, "reason"]
    result = check_all(sgdlab.run([*over, "log.running_average=false"]))
    s = result.summary.set_index("theorem")
    note = f"checked at t ≤ {k - 1} only, of T = 200"
    for theorem in ("bcn_4_8", "bcn_4_10"):
        assert s.loc[theorem, "status"] == "holds", theorem
        assert s.loc[theorem, "coverage"] == COVERAGE_PREFIX, theorem
        assert note in s.loc[theorem, "reason"] and "log.every=1" in s.loc[theorem, "reason"]
        rows = result.checks.query("theorem == @theorem")
        assert rows["step"].max() == k - 1 and rows["reason"].str.contains(note).all()
    assert s.loc["bcn_4_6", "coverage"] == COVERAGE_ALL
    assert "only" not in s.loc["bcn_4_6", "reason"]
    assert s.loc["bcn_4_7", "coverage"] == COVERAGE_NONE


def test_step_margins_come_from_the_bound_and_respect_a_given_M_G():
    # BCN cap μ/(L M_G) = 1/(2·2) = 0.25 with M_G = 2 given; η = 0.3 is 20% above it
    kw = {"L": 2.0, "M": 1.0, "M_G": 2.0, "mu_bcn": 1.0}
    rows = _step_rows("bcn_4_6", 0.3, kw)
    assert rows["lr_cap"]["status"] == "violated"
    assert rows["lr_cap"]["margin"] == pytest.approx(-0.2, rel=1e-12)
    assert _step_rows("bcn_4_6", 0.25, kw)["lr_cap"]["margin"] == 0.0
    # a margin for every capped condition, also the ones the old table missed
    rows = _step_rows("region_of_confusion", 0.66, {"a_vec": [1, 1, 2], "b_vec": [0, 2, 2]})
    assert rows["lr_stationary"]["margin"] == pytest.approx(1 - 0.66 / (2 / 3), rel=1e-12)


def test_lsq1d_sigma_star_sq_is_only_the_datasets(toy):
    consts, _ = run_constants(read_run(toy))
    assert consts["sigma_star_sq"].provenance == "exact"
    assert consts["sigma_star_sq"].value == pytest.approx(2 / 3)
    blank = toy.assign(sigma_star_sq=np.nan)  # no second source for the same fact
    consts, missing = run_constants(read_run(blank))
    assert "sigma_star_sq" not in consts and "NaN" in missing["sigma_star_sq"]
    assert list(consts["a_vec"].value) == [1.0, 1.0, 2.0]  # the data vectors still come from cfg


def test_hessian_subsample_does_not_override_known_constants_or_refute_convexity():
    """L_local from Hessian subsets errs upwards (Jensen), so it must not replace a known
    L_global; and a negative subset eigenvalue does not show that f is nonconvex."""
    from analysis.assumptions import _convex
    from analysis.constants import hessian_subsampled, read_run, run_constants

    over = ["problem=least_squares", "problem.n=100", "problem.d=5", "replicates=4", "steps=20",
            "log.estimates.num=2"]  # fmt: skip
    exact = sgdlab.run(over)
    subset = sgdlab.run([*over, "log.estimates.hessian_samples=20"])
    assert not hessian_subsampled(exact) and hessian_subsampled(subset)
    assert float(subset["L_local"].max()) > float(subset["L_global"])  # the upward error
    for ds in (exact, subset):
        L = run_constants(read_run(ds))[0]["L"]
        assert L.provenance == "exact" and L.value == float(ds["L_global"])
    lowered = subset.copy()
    lowered["mu_global"] = np.nan  # as if μ were unknown
    lowered["mu_local"] = lowered["mu_local"] - 10.0
    assert _convex(read_run(lowered), {})["status"] == "unknown"
    lowered.attrs["hessian_samples"] = lowered.attrs["n"]
    assert _convex(read_run(lowered), {})["status"] == "violated"


def test_tightness_of_a_theorem_checked_only_at_t0_is_reported():
    rows = [_row("fpc_minibatch", "noise_sq", 0, 2.0, 1.5, 2.5, 4.0, "holds", "inside", 0.5,
                 (0.5, 0.375, 0.625), "certified (exact)")]  # fmt: skip
    summary = summarize(pd.DataFrame(rows)).set_index("theorem")
    assert summary.loc["fpc_minibatch", "max_tightness"] == 0.5
    assert summary.loc["fpc_minibatch", "ratio_final_high"] == 0.625
    assert "nan" not in summary.loc["fpc_minibatch", "reason"]


# ------------------------------------------------------------------ unbiasedness: the mean test


@pytest.fixture(scope="module")
def small_run():
    return sgdlab.run(["problem=least_squares", "problem.n=60", "problem.d=4", "replicates=16",
                       "steps=40", "log.num=8"])  # fmt: skip


def test_runner_logs_the_gradient_error_whose_norm_is_noise_sq(small_run):
    noise = small_run["noise"]
    assert noise.dims == ("replicate", "step", "param") and noise.attrs["symbol"]
    logged = np.isfinite(small_run["noise_sq"].values)
    np.testing.assert_allclose(
        (noise.values**2).sum(axis=2)[logged], small_run["noise_sq"].values[logged], rtol=1e-12
    )
    wide = sgdlab.run(["problem=least_squares", "problem.n=60", "problem.d=4", "replicates=2",
                       "steps=5", "log.max_params=3"])  # fmt: skip
    assert "noise" not in wide and "x" not in wide


def _with_noise(ds, values):
    return ds.assign(noise=(ds["noise"].dims, values))


def test_residual_mean_test_rejects_a_true_mean_at_about_alpha(small_run):
    """Strongly skewed (centred exponential) residuals of mean 0: over 300 draws the rejection
    rate at α = 0.05 is not significantly above α (99% Clopper–Pearson lower bound below α).
    Testing every (step, coordinate) pair on its own instead rejected 139 of 300."""
    rng = np.random.default_rng(0)
    shape = small_run["noise"].shape
    rejected = sum(
        residual_mean_test(
            read_run(_with_noise(small_run, rng.exponential(size=shape) - 1.0)), 0.05
        )["status"]
        == "violated"
        for _ in range(300)
    )
    assert scipy.stats.beta.ppf(0.01, rejected, 300 - rejected + 1) < 0.05, rejected
    assert residual_mean_test(read_run(small_run))["status"] == "holds"


def test_residual_mean_test_finds_a_bias_in_one_coordinate(small_run):
    rng = np.random.default_rng(1)
    noise = rng.normal(size=small_run["noise"].shape)
    noise[:, :, 2] += 3.0  # a bias of 3 standard deviations in coordinate 2, at every step
    row = residual_mean_test(read_run(_with_noise(small_run, noise)))
    assert row["status"] == "violated" and row["margin"] > 1
    assert "coordinate 2" in row["detail"] and "coordinate 0" not in row["detail"]


def test_residual_mean_test_ignores_what_follows_a_divergence(small_run):
    """A diverged replicate's huge later gradients neither set the round-off floor (which
    would silence the test) nor enter the averages."""
    noise = np.random.default_rng(1).normal(size=small_run["noise"].shape)
    noise[:, :, 2] += 3.0
    biased = _with_noise(small_run, noise)
    diverged = biased["diverged"].values.copy()
    diverged[0, -2:] = True
    grad_sq = biased["grad_norm_sq"].values.copy()
    grad_sq[0, -2:] = 1e40
    noise[0, -2:] = 1e20
    late = biased.assign(
        diverged=(biased["diverged"].dims, diverged),
        grad_norm_sq=(biased["grad_norm_sq"].dims, grad_sq),
        noise=(biased["noise"].dims, noise),
    )
    row = residual_mean_test(read_run(late))
    assert row["status"] == "violated" and "coordinate 2" in row["detail"]
    # each half of the unbiasedness check runs at α/2: its level is written in full (residuals
    # of exactly 0 hold whatever the seed)
    zero = _with_noise(small_run, np.zeros(small_run["noise"].shape))
    assert "two-sided 97.5% Bonferroni" in unbiasedness(read_run(zero))["detail"]


def test_residual_norm_test_ignores_what_follows_a_divergence(small_run):
    diverged = small_run["diverged"].values.copy()
    diverged[0, -4:] = True  # from t = 12, an FPC step
    noise_sq = small_run["noise_sq"].values.copy()
    noise_sq[0, -4:] = 1e30
    late = small_run.assign(diverged=(small_run["diverged"].dims, diverged),
                            noise_sq=(small_run["noise_sq"].dims, noise_sq))  # fmt: skip
    logged = np.isfinite(small_run["noise_sq"].values).all(axis=0)  # no step is taken at T
    steps = int((fpc_steps(read_run(small_run)) & logged).sum())  # on the replicates running
    row = residual_norm_test(read_run(late))
    assert (
        row["status"] == "holds"
        and f"at {steps} step(s), each on the replicates" in (row["detail"])
    )


def test_svrg_gets_the_mean_test_and_cyclic_gets_neither():
    over = ["problem=least_squares", "problem.n=60", "problem.d=4", "replicates=8", "steps=20"]
    svrg = read_run(sgdlab.run([*over, "optimizer=svrg"]))
    assert residual_mean_test(svrg)["status"] == "holds"
    assert residual_norm_test(svrg)["status"] == "unknown"
    cyclic = read_run(sgdlab.run([*over, "sampler=cyclic"]))
    assert residual_mean_test(cyclic)["status"] == "unknown"
