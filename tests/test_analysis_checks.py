"""analysis.assumptions and analysis.checks on small real runs: the checks hold where the theory
says so, and can fail (broken bound, step above 2/L, too few replicates)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import sgdlab
from analysis import check, check_all
from analysis.bounds import BOUNDS

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
    assert list(constants.columns[:4]) == ["theorem", "constant", "value", "source"]
    assert set(constants["source"]) <= {"known", "logged", "config"}
    assert set(checks["theorem"]) == set(BOUNDS)
    assert checks["reason"].str.len().gt(0).all()
    on_disk = pd.read_csv(tmp_path / "checks.csv")
    assert len(on_disk) == len(checks)
    assert (tmp_path / "constants.csv").exists() and (tmp_path / "assumptions.csv").exists()


def test_theorems_that_apply_hold_on_strongly_convex_least_squares(lsq_result):
    for theorem in ("sra_nonconvex", "bcn_4_6", "bcn_4_8", "bcn_4_10", "sc_constant_step"):
        assert _status(lsq_result, theorem) == "holds", theorem
    rows = lsq_result.checks.query("theorem == 'bcn_4_6'")
    assert len(rows) == 101 and (rows["ci_low"] <= rows["empirical_mean"]).all()
    assert np.allclose(rows["slack"], rows["bound"] / rows["empirical_mean"])


def test_constants_say_where_they_come_from(lsq_result):
    c = lsq_result.constants.query("theorem == 'bcn_4_6'").set_index("constant")
    assert c.loc["L", "source"] == "known" and c.loc["L", "value"] == pytest.approx(1.0)
    assert c.loc["mu", "source"] == "known" and c.loc["mu", "value"] == pytest.approx(0.1)
    assert c.loc["M", "source"] == "logged"
    assert c.loc["delta", "source"] == "known"


def test_a_bound_scaled_by_a_tenth_is_violated_with_first_step_and_size(lsq):
    result = check_all(lsq, bounds=_scaled("sc_constant_step", 0.1))
    assert _status(result, "sc_constant_step") == "violated"
    row = result.summary.set_index("theorem").loc["sc_constant_step"]
    rows = result.checks.query("theorem == 'sc_constant_step'")
    bad = rows[rows["status"] == "violated"]
    assert row["first_violation_step"] == bad["step"].min()
    first = bad.iloc[0]
    assert row["violation_size"] == pytest.approx(first["ci_low"] - first["bound"])
    assert row["violation_size"] > 0
    assert "LCB" in first["reason"]


def test_a_step_above_two_over_L_violates_the_step_assumption():
    ds = sgdlab.run([*SMALL[:2], "steps=20", "replicates=4", "optimizer.lr=2.5"])  # L = 1
    result = check_all(ds)
    a = result.assumptions.set_index(["theorem", "assumption"])
    row = a.loc[("sc_constant_step", "lr_le_inv_L")]
    assert row["status"] == "violated" and row["margin"] == pytest.approx(1 - 2.5)
    assert a.loc[("bcn_4_6", "lr_cap"), "status"] == "violated"
    summary = result.summary.set_index("theorem")
    assert summary.loc["sc_constant_step", "status"] == "not_applicable"
    assert "lr_le_inv_L" in summary.loc["sc_constant_step", "reason"]


def test_two_replicates_make_a_close_call_inconclusive():
    ds = sgdlab.run([*SMALL, "replicates=2", "optimizer.lr=0.2"])
    mean = ds["dist_sq"].mean("replicate").values

    def close(steps, **kw):  # 3% below the empirical mean (t = 0 left out: it is deterministic)
        steps = np.asarray(steps)
        return np.where(steps == 0, np.inf, 0.97 * mean[steps])

    fake = {"sc_constant_step": dataclasses.replace(BOUNDS["sc_constant_step"], fn=close)}
    result = check_all(ds, bounds=fake)
    assert _status(result, "sc_constant_step") == "inconclusive"
    rows = result.checks.query("theorem == 'sc_constant_step'")
    assert (rows["empirical_mean"] > rows["bound"]).all()
    assert (rows["ci_low"] <= rows["bound"]).all()


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
                "schedule.gamma=21",
                "optimizer.lr=0.6",
            ]
        )
    )  # β = 12.6 > 1/μ
    assert _status(bcn47, "bcn_4_7") == "holds"
    c = bcn47.constants.query("theorem == 'bcn_4_7'").set_index("constant")["value"]
    assert c["beta"] == pytest.approx(12.6) and c["gamma"] == pytest.approx(20.0)
    rakhlin = check_all(
        sgdlab.run(
            [*SMALL, "replicates=8", "problem.cond=1", "schedule=inverse_time", "optimizer.lr=1.0"]
        )
    )  # λ = μ = 1
    assert _status(rakhlin, "rakhlin_1t") == "holds"
    avg = check_all(sgdlab.run([*SMALL, "replicates=8", "averaging.kind=full"]))
    assert _status(avg, "convex_averaging") == "holds"


@pytest.fixture(scope="module")
def toy():
    return sgdlab.run(["experiment=region_of_confusion", "steps=100", "replicates=40",
                       "log.geometric=false", "log.every=1"])  # fmt: skip


def test_exact_checks_hold_on_the_1d_toy_and_fail_when_scaled(toy):
    result = check_all(toy)
    for theorem in ("nsw_2_1", "sc_constant_step", "fpc_minibatch"):
        assert _status(result, theorem) == "holds", theorem
    # the exact E(x_t − x*)²: never significantly exceeded; a few steps whose mean falls below
    # the value are inconclusive (the low side of a t interval is unreliable for skewed Q ≥ 0)
    rows = result.checks.query("theorem == 'region_of_confusion'")
    assert _status(result, "region_of_confusion") in ("holds", "inconclusive")
    assert (rows["status"] == "holds").mean() > 0.9
    assert rows["bound"].iloc[-1] == pytest.approx(1 / 51, rel=1e-3)  # theory.md T4
    nsw = result.constants.query("theorem == 'nsw_2_1'").set_index("constant")
    assert nsw.loc["sup_L", "value"] == 4.0 and nsw.loc["sup_L", "source"] == "known"
    assert nsw.loc["sigma_star_sq", "value"] == pytest.approx(2 / 3)
    run_rows = result.assumptions.query("theorem == 'run'").set_index("assumption")
    assert run_rows.loc["unbiased_gradient", "status"] == "holds"
    broken = check_all(toy, bounds=_scaled("region_of_confusion", 0.8))
    assert _status(broken, "region_of_confusion") == "violated"
    too_big = check_all(toy, bounds=_scaled("region_of_confusion", 1.5))
    assert _status(too_big, "region_of_confusion") == "inconclusive"


def test_random_reshuffling_bound_is_checked_at_epoch_ends():
    ds = sgdlab.run(["experiment=region_of_confusion", "steps=60", "replicates=16",
                     "sampler=reshuffle", "log.geometric=false", "log.every=1"])  # fmt: skip
    result = check_all(ds)
    assert _status(result, "rr_mkr") == "holds"
    steps = result.checks.query("theorem == 'rr_mkr'")["step"]
    assert (steps % 3 == 0).all() and len(steps) == 21
    assert _status(result, "sc_constant_step") == "not_applicable"  # not i.i.d. sampling
