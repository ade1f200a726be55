"""The issue's known-behaviour tests: every claim checked against theory, statistical ones with
a confidence interval over many replicates."""

import numpy as np
import pytest
import scipy.stats

import sgdlab
from sgdlab import estimators as est
from sgdlab.runner import prepare
from sgdlab.samplers import SAMPLERS, IndexStream, replicate_rngs

MEAN_STEP = ["problem=mean", "schedule=inverse_time", "optimizer.lr=1.0", "batch_size=1",
             "log.geometric=false", "log.every=1", "log.estimates.num=0"]  # fmt: skip


@pytest.mark.parametrize("sampler", ["with_replacement", "reshuffle"])
def test_mean_iterate_is_running_sample_mean(sampler):
    ds = sgdlab.run([*MEAN_STEP, f"sampler={sampler}", "steps=150", "replicates=5"])
    cfg = sgdlab.compose([*MEAN_STEP, f"sampler={sampler}", "steps=150", "replicates=5"])
    a = prepare(cfg).problem.data["a"]
    s = IndexStream(SAMPLERS[sampler], a.size, 1, replicate_rngs(0, 5))
    drawn = a[np.concatenate([s.next() for _ in range(150)], axis=1)]  # (R, T)
    running = np.cumsum(drawn, axis=1) / np.arange(1, 151)
    x = ds["x"].sel(param=0).values  # (R, S), S = T + 1 with every=1
    np.testing.assert_allclose(x[:, 1:], running, rtol=0, atol=1e-12)
    if sampler == "reshuffle":  # one epoch without replacement: exactly the mean
        np.testing.assert_allclose(ds["x"].sel(step=100, param=0), a.mean(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(ds["x"].sel(step=100, param=0), ds["x_star"][0], atol=1e-12)


def _at_point(problem_overrides, R=3):
    cfg = sgdlab.compose([*problem_overrides, f"replicates={R}"])
    plan = prepare(cfg)
    rng = np.random.default_rng(5)
    X = plan.x0 + rng.normal(size=(R, plan.problem.d))
    return plan.problem, X


@pytest.mark.parametrize(
    "overrides",
    [["problem=least_squares", "problem.n=40", "problem.d=4"],
     ["problem=logistic", "problem.n=30", "problem.d=3"],
     ["problem=mlp", "problem.n=25", "problem.d=3", "problem.hidden=4"],
     ["problem=lsq1d"], ["problem=mean", "problem.n=20"]],
)  # fmt: skip
def test_sigma_sq_equals_brute_force_per_sample_loop(overrides):
    import autodiff
    import autodiff.numpy as anp

    prob, X = _at_point(overrides)
    loss, full = est.loss_and_grad(prob, X, 512)
    sigma = est.gradient_variance(prob, X, full, memory_mb=0.001)  # blocks of 1 replicate
    brute = np.zeros(len(X))
    for r, x in enumerate(X):
        grads = []
        for i in range(prob.n):  # the slow oracle: one gradient per sample
            batch = {k: v[None, i : i + 1] for k, v in prob.data.items()}
            grads.append(autodiff.grad(lambda z, b=batch: anp.sum(prob.loss(z[None, None], b)))(x))
        grads = np.array(grads)
        np.testing.assert_allclose(grads.mean(0), full[r], rtol=1e-10, atol=1e-12)  # unbiased
        brute[r] = ((grads - grads.mean(0)) ** 2).sum(1).mean()
    np.testing.assert_allclose(sigma, brute, rtol=1e-10)
    np.testing.assert_allclose(est.gradient_variance(prob, X, full, 512), brute, rtol=1e-10)


def test_logged_sigma_sq_matches_brute_force_in_dataset():
    ds = sgdlab.run(["problem=least_squares", "problem.n=30", "problem.d=3", "replicates=2",
                     "steps=5", "log.estimates.num=3"])  # fmt: skip
    cfg = sgdlab.compose(["problem=least_squares", "problem.n=30", "problem.d=3"])
    A, b = (prepare(cfg).problem.data[k] for k in ("A", "b"))
    sel = ds.sel(step=ds.step[ds.estimated])
    for r in range(2):
        for j in range(sel.step.size):
            x = sel["x"].values[r, j]
            G = (A @ x - b)[:, None] * A
            want = ((G - G.mean(0)) ** 2).sum(1).mean()
            np.testing.assert_allclose(sel["sigma_sq"].values[r, j], want, rtol=1e-10)


def test_L_local_on_least_squares_is_lambda_max_over_n():
    for d, iters in [(6, 30), (40, 30)]:
        cfg = sgdlab.compose(["problem=least_squares", "problem.n=60", f"problem.d={d}",
                              "problem.cond=50"])  # fmt: skip
        prob = prepare(cfg).problem
        A = prob.data["A"]
        eig = np.linalg.eigvalsh(A.T @ A / A.shape[0])
        X = np.random.default_rng(0).normal(size=(4, d))
        L, mu = est.lanczos(prob, X, 512, iters, replicate_rngs(0, len(X)))[:2]
        np.testing.assert_allclose(L, eig[-1], rtol=1e-6)
        np.testing.assert_allclose(prob.constants.L_global, eig[-1], rtol=1e-12)
        if d <= iters:
            np.testing.assert_allclose(mu, eig[0], rtol=1e-6)


@pytest.mark.parametrize("memory_mb", [512, 0.01])
def test_hessian_operator_matches_hvp_when_recorded_and_when_recomputed(memory_mb):
    """The recorded (reverse-over-reverse) products equal autodiff.hvp's; with a tiny memory
    cap only the first block is kept and the rest are recorded again, with the same result."""
    cfg = sgdlab.compose(["problem=logistic", "problem.n=300", "problem.d=6"])
    prob = prepare(cfg).problem
    rng = np.random.default_rng(0)
    X, V = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    hessian = est.hessian_operator(prob, X, memory_mb)
    for v in (V, 2.0 * V - 1.0):
        np.testing.assert_allclose(hessian(v), est.hessian_vector(prob, X, v, 512), rtol=1e-12)
    index = np.arange(0, 300, 7)
    np.testing.assert_allclose(
        est.hessian_operator(prob, X, memory_mb, index)(V),
        est.hessian_vector(prob, X, V, 512, index),
        rtol=1e-12,
    )


def test_hessian_subsample_is_exact_at_n_and_errs_towards_larger_L_and_smaller_mu():
    """hessian_samples = m < n: Lanczos on the Hessian Ĥ of a random m-subset. E[Ĥ] = H, so by
    Jensen E[λmax(Ĥ)] ≥ L and E[λmin(Ĥ)] ≤ μ; over 200 subsets, a 99% t-interval of the
    mean of λmax(Ĥ) − L must lie above 0 (and of μ − λmin(Ĥ) too). With m = n it is exact."""
    cfg = sgdlab.compose(["problem=least_squares", "problem.n=100", "problem.d=8"])
    prob = prepare(cfg).problem
    A = prob.data["A"]
    eig = np.linalg.eigvalsh(A.T @ A / A.shape[0])
    X = np.zeros((1, 8))
    rngs = replicate_rngs(0, 1)
    full = est.lanczos(prob, X, 512, 8, rngs, samples=100, subset_rng=None)[:2]
    np.testing.assert_allclose([full[0][0], full[1][0]], [eig[-1], eig[0]], rtol=1e-9)
    rng = np.random.default_rng(0)
    draws = np.array(
        [[v[0] for v in est.lanczos(prob, X, 512, 8, rngs, 20, rng)[:2]] for _ in range(200)]
    )
    for excess in (draws[:, 0] - eig[-1], eig[0] - draws[:, 1]):
        half = scipy.stats.t.ppf(0.995, excess.size - 1) * excess.std(ddof=1) / excess.size**0.5
        assert excess.mean() - half > 0


def test_hessian_samples_recorded_and_independent_of_R():
    over = ["problem=logistic", "problem.n=300", "problem.d=5", "steps=10", "log.num=2",
            "log.estimates.num=1", "log.estimates.hessian_samples=50"]  # fmt: skip
    two, three = sgdlab.run([*over, "replicates=2"]), sgdlab.run([*over, "replicates=3"])
    assert two.attrs["hessian_samples"] == 50
    np.testing.assert_array_equal(two["L_local"], three["L_local"][:2])
    exact = sgdlab.run([*over, "replicates=2", "log.estimates.hessian_samples=0"])
    assert exact.attrs["hessian_samples"] == 300
    assert not np.allclose(exact["L_local"].sel(step=0), two["L_local"].sel(step=0))
    # m >= n is the exact Hessian, recorded as n
    whole = sgdlab.run([*over, "replicates=2", "log.estimates.hessian_samples=500"])
    assert whole.attrs["hessian_samples"] == 300
    np.testing.assert_array_equal(whole["L_local"], exact["L_local"])


@pytest.mark.parametrize(
    ("requested", "n", "used"), [(0, 10, 10), (3, 10, 3), (9, 10, 9), (10, 10, 10), (11, 10, 10)]
)
def test_subsample_size_is_all_n_unless_0_lt_m_lt_n(requested, n, used):
    assert est.subsample_size(requested, n) == used


def test_L_local_logged_in_dataset():
    # lanczos_tol=0: all min(d, lanczos_iters) = d products, so Lanczos is exact
    ds = sgdlab.run(["problem=least_squares", "problem.n=50", "problem.d=5", "replicates=3",
                     "steps=10", "log.estimates.num=2", "log.estimates.lanczos_tol=0"])  # fmt: skip
    L = ds["L_local"].sel(step=ds.step[ds.estimated]).values
    np.testing.assert_allclose(L, float(ds["L_global"]), rtol=1e-6)
    np.testing.assert_allclose(
        ds["mu_local"].sel(step=ds.step[ds.estimated]), float(ds["mu_global"]), rtol=1e-6
    )


@pytest.mark.parametrize("sampler", ["with_replacement", "reshuffle"])
def test_noise_sq_matches_sigma_sq_over_b_with_finite_population_correction(sampler):
    """At the shared start x₀ every replicate's first minibatch is an independent draw, so the
    mean of noise_sq over R replicates estimates E‖g − ∇f‖²: σ²/b with replacement and
    σ²/b·(n−b)/(n−1) without (theory §6(a)). A 99% t-interval must cover it."""
    n, b, R = 40, 8, 3000
    ds = sgdlab.run(["problem=least_squares", f"problem.n={n}", "problem.d=3", f"sampler={sampler}",
                     f"batch_size={b}", f"replicates={R}", "steps=1", "log.estimates.num=1",
                     "log.estimates.lanczos_iters=1"])  # fmt: skip
    noise = ds["noise_sq"].sel(step=0).values
    sigma = ds["sigma_sq"].sel(step=0).values
    assert np.ptp(sigma) < 1e-12 * sigma[0]  # the same point for every replicate
    want = sigma[0] / b * ((n - b) / (n - 1) if sampler == "reshuffle" else 1.0)
    half = scipy.stats.t.ppf(0.995, R - 1) * noise.std(ddof=1) / np.sqrt(R)
    assert abs(noise.mean() - want) < half, (noise.mean(), want, half)
    other = sigma[0] / b * ((n - b) / (n - 1) if sampler != "reshuffle" else 1.0)
    assert abs(noise.mean() - other) > half  # the test can tell the two formulas apart


def test_gd_with_step_one_over_L_decreases_f_monotonically():
    ds = sgdlab.run(["experiment=gd_least_squares", "steps=100", "log.estimates.num=0"])
    assert float(ds["L_global"]) == pytest.approx(1.0)
    loss = ds["loss"].isel(replicate=0).values
    assert np.all(np.diff(loss) <= 1e-14 * loss[0])
    assert loss[-1] < loss[0] and np.all(np.isfinite(loss))
    np.testing.assert_allclose(ds["noise_sq"].values[:, :-1], 0.0, atol=1e-20)  # b = n: exact


def test_sgd_constant_step_enters_region_of_confusion_and_stays_near_it():
    """lsq1d with a = (1, 1, 2), b = (0, 2, 2) (theory T3/T4): R = [0, 2], x* = 1, start outside.
    Every replicate enters R, and the late iterates' mean squared distance to x* matches the
    exact stationary value η σ*²/(2m2 − η m4) = 1/51 within a 99% interval."""
    ds = sgdlab.run(["experiment=region_of_confusion", "replicates=200", "steps=3000",
                     "log.geometric=false", "log.every=10", "log.estimates.num=0"])  # fmt: skip
    lo, hi = ds.attrs["region_of_confusion"]
    assert (lo, hi) == (0.0, 2.0) and float(ds["x_star"][0]) == pytest.approx(1.0)
    x = ds["x"].sel(param=0)
    assert float(x.isel(step=0)[0]) > hi  # starts outside
    entered = ((x >= lo) & (x <= hi)).any("step")
    assert bool(entered.all())
    late = x.sel(step=slice(1000, None)).values
    assert np.mean((late >= lo - 0.5) & (late <= hi + 0.5)) > 0.999  # stays near it
    sq = ((late - 1.0) ** 2).mean(axis=1)  # one time-average per replicate
    half = scipy.stats.t.ppf(0.995, sq.size - 1) * sq.std(ddof=1) / np.sqrt(sq.size)
    assert abs(sq.mean() - 1 / 51) < half + 1e-4, (sq.mean(), half)
