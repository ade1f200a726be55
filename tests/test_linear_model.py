"""The hand-written NumPy of the linear models (``Problem.linear``,
:mod:`sgdlab.problems.linear_model`) used for the log grid's full-data work: loss-and-gradient
passes, Hessian-vector products and σ²'s per-sample gradients equal the tape's to round-off,
replicate r's bits are the same whatever R and however the replicates are blocked, and Lanczos
on it finds the recorded operator's extremes."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab
from sgdlab import estimators as est
from sgdlab.problems import logistic
from sgdlab.problems.linear_model import BLOCK, LinearModelHessian
from sgdlab.runner import prepare
from sgdlab.samplers import replicate_rngs

PROBLEMS = {
    "logistic": ["problem=logistic", "problem.lam=0.01", "problem.n=500"],
    "logistic_no_ridge": ["problem=logistic", "problem.lam=0", "problem.n=500"],
    "least_squares": ["problem=least_squares", "problem.n=500", "problem.d=12"],
}
SMALL_MB = 0.05  # several chunks of samples, and blocks of fewer replicates


def _problem(name):
    problem = prepare(sgdlab.compose(PROBLEMS[name])).problem
    assert problem.linear is not None
    return problem


def _both(monkeypatch, fun):
    """fun() with the linear model's NumPy and with the tape (est.LINEAR = False)."""
    out = {}
    for linear in (True, False):
        monkeypatch.setattr(est, "LINEAR", linear)
        out[linear] = fun()
    return out[True], out[False]


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("memory_mb", [512, SMALL_MB])
def test_full_passes_and_sigma_sq_equal_the_tapes(name, memory_mb, monkeypatch):
    problem = _problem(name)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, problem.d))
    (loss, grad), (loss_t, grad_t) = _both(
        monkeypatch, lambda: est.loss_and_grad(problem, X, memory_mb)
    )
    np.testing.assert_allclose(loss, loss_t, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-10, atol=1e-14 * np.abs(grad_t).max())
    exact, exact_t = _both(
        monkeypatch, lambda: est.gradient_variance(problem, X, grad_t, memory_mb)
    )
    np.testing.assert_allclose(exact, exact_t, rtol=1e-12)
    # a subsample: each replicate's own indices, drawn from its own generator
    sub, sub_t = _both(
        monkeypatch,
        lambda: est.gradient_variance(problem, X, grad_t, memory_mb, 64, replicate_rngs(0, 3, 1),
                                      with_se=True),
    )  # fmt: skip
    np.testing.assert_allclose(sub, sub_t, rtol=1e-12)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_the_independent_minibatch_gradient_equals_the_steps(name, monkeypatch):
    """The running sums' second minibatch gradient (est.independent_grad) equals the step's
    minibatch_grad on the same samples to round-off, and replicate r's is the same bits
    whatever R."""
    problem = _problem(name)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, problem.d))
    index = rng.integers(0, problem.n, size=(5, 8))
    ours, tape = _both(monkeypatch, lambda: est.independent_grad(problem, X, index))
    np.testing.assert_allclose(ours, tape, rtol=1e-12, atol=1e-14 * np.abs(tape).max())
    step = est.minibatch_grad(problem, X, est.gather(problem, index))
    np.testing.assert_allclose(ours, step, rtol=1e-12, atol=1e-14 * np.abs(tape).max())
    np.testing.assert_array_equal(est.independent_grad(problem, X[:2], index[:2]), ours[:2])


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("memory_mb", [512, SMALL_MB])
def test_hessian_products_equal_autodiffs_hessian_vector_product(name, memory_mb):
    """Against forward-over-reverse autodiff.hvp of the loss (est.hessian_vector), on the full
    data and on a subset; with a tiny memory cap (most operators made again for each product)
    the same."""
    problem = _problem(name)
    rng = np.random.default_rng(0)
    X, V = rng.normal(size=(3, problem.d)), rng.normal(size=(3, problem.d))
    hessian = est.hessian_operator(problem, X, memory_mb)
    for v in (V, 2.0 * V - 1.0):
        np.testing.assert_allclose(hessian(v), est.hessian_vector(problem, X, v, 512), rtol=1e-12)
    index = np.arange(0, problem.n, 7)
    np.testing.assert_allclose(
        est.hessian_operator(problem, X, memory_mb, index)(V),
        est.hessian_vector(problem, X, V, 512, index),
        rtol=1e-12,
    )


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_a_replicates_values_do_not_depend_on_R_or_the_blocking(name):
    """Replicate r's loss, gradient, σ² and Hessian products are the same bits with R = 3, 5
    and two blocks' worth of replicates plus one, and with memory caps that block the
    replicates differently."""
    problem = _problem(name)
    rng = np.random.default_rng(1)
    R = 2 * BLOCK + 1
    X, V = rng.normal(size=(R, problem.d)), rng.normal(size=(R, problem.d))

    def everything(rows, memory_mb):
        loss, grad = est.loss_and_grad(problem, X[:rows], memory_mb)
        sigma = est.gradient_variance(problem, X[:rows], grad, memory_mb)
        sub = est.gradient_variance(problem, X[:rows], grad, memory_mb, 32,
                                    replicate_rngs(0, rows, 1))  # fmt: skip
        hv = est.hessian_operator(problem, X[:rows], memory_mb)(V[:rows])
        return loss, grad, sigma, sub, hv

    assert est.blocks(problem, R, problem.n, SMALL_MB)[0] < R  # the small cap splits them
    big = everything(R, 512)
    for rows, memory_mb in ((3, 512), (5, 512), (R, SMALL_MB), (5, SMALL_MB)):
        for small, full, what in zip(everything(rows, memory_mb), big, "lgssh", strict=True):
            np.testing.assert_array_equal(small, full[:rows], err_msg=f"{what}: R={rows}")


@pytest.mark.filterwarnings("error")
def test_logistic_passes_are_finite_and_quiet_for_huge_logits(monkeypatch):
    """Logits of ±10⁴ (exp overflows): the loss, gradient, σ² and Hessian products stay
    finite, raise no warning and equal the tape's."""
    problem = _problem("logistic")
    X = 1e3 * np.random.default_rng(4).normal(size=(3, problem.d))
    (loss, grad), (loss_t, grad_t) = _both(monkeypatch, lambda: est.loss_and_grad(problem, X, 512))
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, loss_t, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-9, atol=1e-12 * np.abs(grad_t).max())
    sigma = est.gradient_variance(problem, X, grad, 512)
    hv = est.hessian_operator(problem, X, 512)(np.ones_like(X))
    assert np.isfinite(sigma).all() and np.isfinite(hv).all()


def test_logistic_curvature_is_stable_for_large_logits():
    def sigmoid(t):
        return 1.0 / (1.0 + np.exp(-t))

    z = np.array([-800.0, -40.0, -1.0, 0.0, 1e-3, 2.5, 40.0, 800.0])
    inner = z[1:-1]
    got = logistic.curvature(z)
    assert np.all(np.isfinite(got)) and got[0] == got[-1] == 0.0
    np.testing.assert_allclose(got[1:-1], sigmoid(inner) * sigmoid(-inner), rtol=1e-12)
    assert got[1] > 0.0 and got[1] == got[-2]  # σ'(±40) ≈ 4e-18, kept to full precision


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_lanczos_on_the_linear_model_finds_the_recorded_operators_extremes(name, monkeypatch):
    problem = _problem(name)
    X = np.random.default_rng(2).normal(size=(4, problem.d))
    ours, recorded = _both(
        monkeypatch, lambda: est.lanczos(problem, X, 512, problem.d, replicate_rngs(0, 4, 1))
    )
    np.testing.assert_allclose(ours.L, recorded.L, rtol=1e-10)
    np.testing.assert_allclose(ours.mu, recorded.mu, rtol=1e-8, atol=1e-12)


def test_the_hessian_needs_samples_shared_by_the_replicates():
    problem = _problem("logistic")
    with pytest.raises(ValueError, match=r"shared by the replicates, shape \(1, m, d\)"):
        LinearModelHessian(
            problem.linear, np.zeros((2, problem.d)), est.gather(problem, np.zeros((2, 5), int))
        )
