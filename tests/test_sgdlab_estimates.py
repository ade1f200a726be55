"""The run's estimates of L and μ: Lanczos stopped at a tolerance and warm-started from the
previous estimate point is within 2% of the exact extreme eigenvalues (numpy's eigvalsh of the
full Hessian) on every built-in problem at the default settings, and is the same replicate
whatever R."""

import numpy as np
import pytest

import sgdlab
from sgdlab import estimators as est
from sgdlab.runner import prepare
from sgdlab.samplers import replicate_rngs


def _exact_extremes(problem, X):
    """eigvalsh of each replicate's full Hessian, column by column from the recorded operator."""
    hessian = est.hessian_operator(problem, X, 512)
    H = np.stack([hessian(np.tile(e, (X.shape[0], 1))) for e in np.eye(problem.d)], axis=-1)
    eig = np.linalg.eigvalsh(0.5 * (H + np.swapaxes(H, 1, 2)))
    return eig[:, -1], eig[:, 0], np.abs(eig).max(axis=1)


@pytest.mark.parametrize("name", ["least_squares", "logistic", "mlp"])
def test_lanczos_at_the_default_tolerance_is_within_two_percent(name):
    plan = prepare(sgdlab.compose([f"problem={name}"]))  # the default lanczos_iters and _tol
    e, problem = plan.cfg.log.estimates, plan.problem
    rng = np.random.default_rng(0)
    X = plan.x0 + 0.3 * rng.normal(size=(8, problem.d))
    later = X + 0.05 * rng.normal(size=X.shape)  # the next estimate point of a run
    cold = est.lanczos(problem, X, 512, e.lanczos_iters, replicate_rngs(0, 8, 1),
                       tol=e.lanczos_tol)  # fmt: skip
    warm = est.lanczos(problem, later, 512, e.lanczos_iters, replicate_rngs(1, 8, 1),
                       tol=e.lanczos_tol, start=cold.vectors)  # fmt: skip
    for found, at in ((cold, X), (warm, later)):
        L, mu, scale = _exact_extremes(problem, at)
        assert np.all(np.abs(found.L - L) <= 0.02 * scale), name
        assert np.all(np.abs(found.mu - mu) <= 0.02 * scale), name
    assert warm.steps <= cold.steps  # the warm start needs no more products


def test_the_runs_estimates_match_the_exact_hessian_and_cost_fewer_products():
    for name in ("least_squares", "logistic"):  # d ≤ log.max_params: the iterates are logged
        ds = sgdlab.run([f"problem={name}", "replicates=4", "steps=300"])
        problem = prepare(sgdlab.compose([f"problem={name}"])).problem
        at = ds.isel(step=np.flatnonzero(ds["estimated"].values))
        for j in range(at.sizes["step"]):
            X = at["x"].isel(step=j).values
            L, mu, scale = _exact_extremes(problem, X)
            assert np.all(np.abs(at["L_local"].isel(step=j).values - L) <= 0.02 * scale)
            assert np.all(np.abs(at["mu_local"].isel(step=j).values - mu) <= 0.02 * scale)
        # 20 products per point before (the old fixed count); warm starts need fewer
        assert ds.attrs["hessian_products"] < 20 * at.sizes["step"], name


def test_estimates_of_a_replicate_do_not_depend_on_R():
    """Each replicate stops its own Lanczos, and σ²'s per-sample terms are summed once whatever
    the chunks (which depend on R), so a replicate's estimates are bit-identical whatever R."""
    over = ["problem=mlp", "steps=30", "log.estimates.num=3"]
    small, big = sgdlab.run([*over, "replicates=2"]), sgdlab.run([*over, "replicates=5"])
    for name in ("L_local", "mu_local", "sigma_sq", "second_moment", "sigma_sq_se"):
        np.testing.assert_array_equal(small[name].values, big[name].values[:2])


def test_a_lanczos_tolerance_outside_0_1_is_a_one_line_error():
    with pytest.raises(sgdlab.ConfigError, match="log.estimates.lanczos_tol"):
        sgdlab.run(["log.estimates.lanczos_tol=1.5"])


def test_sigma_sq_from_a_subsample_has_an_interval_that_covers_the_exact_value():
    """n = 4000 > sigma_samples = 256: σ̂² is an unbiased estimate with a standard error; over
    the 64 replicates × 2 estimate points, its 95% t intervals cover the exact σ²(x_r) (all n
    per-sample gradients) about 95% of the time. With n ≤ sigma_samples σ² is exact (se 0)."""
    import scipy.stats

    over = ["problem=logistic", "problem.n=4000", "problem.d=10", "replicates=64", "steps=50",
            "log.estimates.num=1", "log.estimates.sigma_samples=256"]  # fmt: skip
    ds = sgdlab.run(over)
    problem = prepare(sgdlab.compose(over)).problem
    at = np.flatnonzero(ds["estimated"].values)
    covered = total = 0
    for j in at:
        X = ds["x"].isel(step=j).values
        full = est.loss_and_grad(problem, X, 512)[1]
        exact = est.gradient_variance(problem, X, full, 512)
        est_sq = ds["sigma_sq"].isel(step=j).values
        half = scipy.stats.t.ppf(0.975, 255) * ds["sigma_sq_se"].isel(step=j).values
        covered += int((np.abs(est_sq - exact) <= half).sum())
        total += exact.size
        assert np.all(half > 0)
    assert scipy.stats.binomtest(covered, total, 0.95).pvalue > 1e-3, (covered, total)
    exact_run = sgdlab.run(["problem.n=100", "problem.d=3", "replicates=2", "steps=5"])
    se = exact_run["sigma_sq_se"].values
    assert np.all(se[np.isfinite(se)] == 0.0) and np.isfinite(se).any()


@pytest.mark.parametrize("problem", ["least_squares", "logistic"])
def test_every_logged_variable_of_a_replicate_is_the_same_whatever_R(problem):
    """Issue 11's case: replicate r of R = 4 and of R = 16, bit for bit, every variable; and
    R = 1, whose minibatch has the shape of a full-data pass's shared samples (leading axis 1)
    but must run the products of a replicate's own samples."""
    over = [f"problem={problem}", "steps=60"]
    big = sgdlab.run([*over, "replicates=16"])
    for R in (1, 4):
        small = sgdlab.run([*over, f"replicates={R}"])
        for name, var in small.data_vars.items():
            if "replicate" in var.dims:
                np.testing.assert_array_equal(
                    var.values, big[name].isel(replicate=slice(0, R)).values, err_msg=name
                )
