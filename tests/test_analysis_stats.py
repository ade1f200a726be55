"""analysis.stats: the §9 procedure against theory.md T12, and the robust alternatives."""

import numpy as np
import pytest

from analysis import stats


def test_t12_lower_confidence_bound_declares_a_violation():
    # theory.md T12: R=20, Q̄=1.2, s=0.3, B=1, α=0.05 → t=1.729133, LCB=1.084006 > 1, p=0.0038
    assert stats.t_quantile(0.95, 19) == pytest.approx(1.729133, abs=5e-7)
    assert stats.t_quantile(0.95, 99) == pytest.approx(1.660391, abs=5e-7)
    iv = stats.interval_from_stats(1.2, 0.3, 20, alpha=0.05)
    assert iv.low == pytest.approx(1.084006, abs=5e-7)
    assert iv.low > 1.0
    assert stats.t_pvalue(1.2, 0.3, 20, 1.0) == pytest.approx(0.0038, abs=5e-5)


def test_bonferroni_level_and_two_sided_quantile():
    iv = stats.interval_from_stats(0.0, 1.0, 10, alpha=0.05, n_tests=5)
    assert iv.low == pytest.approx(-stats.t_quantile(0.99, 9) / np.sqrt(10))
    two = stats.interval_from_stats(0.0, 1.0, 10, alpha=0.05, n_tests=5, two_sided=True)
    assert two.high == pytest.approx(stats.t_quantile(0.995, 9) / np.sqrt(10))


def test_mean_interval_by_hand_and_needs_two_values():
    # v = (1, 2, 4, 7): Q̄ = 3.5, s² = 21/3 = 7 (ddof = 1), SE = √7/2, t_{0.95,3} = 2.353363
    iv = stats.mean_interval(np.array([1.0, 2.0, 4.0, 7.0]))
    assert iv.mean == 3.5 and iv.count == 4
    assert iv.se == pytest.approx(np.sqrt(7) / 2, rel=1e-12)
    assert iv.low == pytest.approx(3.5 - 2.353363 * np.sqrt(7) / 2, abs=1e-6)
    assert iv.high == pytest.approx(3.5 + 2.353363 * np.sqrt(7) / 2, abs=1e-6)
    two = stats.mean_interval(np.array([1.0, 2.0, 4.0, 7.0]), alpha=0.1, two_sided=True)
    assert two.low == pytest.approx(iv.low, rel=1e-12)  # two-sided at 2α = one-sided at α
    one = stats.mean_interval(np.array([3.0]))
    assert one.mean == 3.0 and np.isnan(one.low) and np.isnan(one.high)


def test_markov_test_flags_only_mass_far_above_the_bound():
    high = stats.markov_test(np.full(20, 10.0), bound=1.0, delta=0.2)
    assert high.exceed == 20 and high.flagged and high.p_value < 1e-10
    low = stats.markov_test(np.linspace(0, 2, 20), bound=1.0, delta=0.2)  # none above B/δ = 5
    assert low.exceed == 0 and not low.flagged and low.p_value == 1.0


def test_roundoff_floor_is_a_thousand_ulps_of_the_scale():
    assert stats.roundoff_floor(1.0) == pytest.approx(1e3 * np.finfo(float).eps, rel=1e-15)
    assert stats.roundoff_floor(-4.0) == 4 * stats.roundoff_floor(1.0)
    assert 1e-33 < stats.roundoff_floor(0.09) < 1e-12  # full-batch noise_sq vs σ² of problem=mean


def test_bootstrap_lcb_is_close_to_the_t_bound_for_normal_data():
    v = np.random.default_rng(0).normal(1.0, 0.3, size=200)
    t_low = stats.mean_interval(v).low
    b_low = stats.bootstrap_lcb(v, resamples=2000)
    assert b_low < v.mean()
    assert b_low == pytest.approx(t_low, abs=0.01)
