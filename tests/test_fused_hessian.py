"""The hand-written Hessian operator of the linear models (``Problem.hessian``,
:class:`sgdlab.problems.base.LinearModelHessian`): equal to autodiff's Hessian-vector product to
round-off, replicate r's bits the same whatever R and however the replicates are blocked, and
Lanczos on it finds the same extremes as on the recorded operator."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab
from sgdlab import estimators as est
from sgdlab.problems import logistic
from sgdlab.problems.base import HESSIAN_ROW_BLOCK, LinearModelHessian
from sgdlab.runner import prepare
from sgdlab.samplers import replicate_rngs

PROBLEMS = {
    "logistic": ["problem=logistic", "problem.lam=0.01", "problem.n=500"],
    "logistic_no_ridge": ["problem=logistic", "problem.lam=0", "problem.n=500"],
    "least_squares": ["problem=least_squares", "problem.n=500", "problem.d=12"],
}


def _problem(name):
    problem = prepare(sgdlab.compose(PROBLEMS[name])).problem
    assert problem.hessian is not None
    return problem


@pytest.mark.parametrize("name", list(PROBLEMS))
@pytest.mark.parametrize("memory_mb", [512, 0.05])
def test_fused_hessian_equals_autodiffs_hessian_vector_product(name, memory_mb):
    """Against forward-over-reverse autodiff.hvp of the loss (est.hessian_vector), on the full
    data and on a subset; with a tiny memory cap (several chunks, most operators made again
    for each product) the same."""
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
def test_a_replicates_hessian_products_do_not_depend_on_R_or_the_blocking(name):
    """Replicate r's product is the same bits with R = 3, 5 and 2 blocks' worth of replicates
    plus one, and with memory caps that block the replicates differently."""
    problem = _problem(name)
    rng = np.random.default_rng(1)
    R = 2 * HESSIAN_ROW_BLOCK + 1
    X, V = rng.normal(size=(R, problem.d)), rng.normal(size=(R, problem.d))
    big = est.hessian_operator(problem, X, 512)(V)
    assert est.blocks(problem, R, problem.n, 0.05)[0] < R  # the small cap splits the replicates
    for rows, memory_mb in ((3, 512), (5, 512), (R, 0.05), (5, 0.05)):
        small = est.hessian_operator(problem, X[:rows], memory_mb)(V[:rows])
        np.testing.assert_array_equal(small, big[:rows], err_msg=f"R={rows}, {memory_mb} MB")


def test_logistic_curvature_is_stable_for_large_logits():
    z = np.array([-800.0, -40.0, -1.0, 0.0, 1e-3, 2.5, 40.0, 800.0])

    def sigmoid(t):
        return 1.0 / (1.0 + np.exp(-t))

    inner = z[1:-1]
    got = logistic.curvature(z.copy())
    assert np.all(np.isfinite(got)) and got[0] == got[-1] == 0.0
    np.testing.assert_allclose(got[1:-1], sigmoid(inner) * sigmoid(-inner), rtol=1e-12)
    assert got[1] > 0.0 and got[1] == got[-2]  # σ'(±40) ≈ 4e-18, kept to full precision


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_lanczos_on_the_fused_hessian_finds_the_recorded_operators_extremes(name, monkeypatch):
    problem = _problem(name)
    X = np.random.default_rng(2).normal(size=(4, problem.d))
    found = {}
    for fused in (False, True):
        monkeypatch.setattr(est, "FUSED_HESSIAN", fused)
        found[fused] = est.lanczos(problem, X, 512, problem.d, replicate_rngs(0, 4, 1))
    np.testing.assert_allclose(found[True].L, found[False].L, rtol=1e-10)
    np.testing.assert_allclose(found[True].mu, found[False].mu, rtol=1e-8, atol=1e-12)


def test_the_fused_hessian_needs_samples_shared_by_the_replicates():
    with pytest.raises(ValueError, match=r"shared by the replicates, shape \(1, m, d\)"):
        LinearModelHessian(np.zeros((2, 3)), np.zeros((2, 5, 3)))
