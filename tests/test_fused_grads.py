"""Hand-fused minibatch gradients (``Problem.grad``) give the same bits as differentiating the
problem's loss, on every built-in problem that has one, every batch layout and every optimizer."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
import sgdlab
from sgdlab import estimators as est
from sgdlab.problems.base import own_samples
from sgdlab.runner import prepare

FUSED = {
    "logistic": ["problem=logistic", "problem.lam=0.01"],
    "logistic_no_ridge": ["problem=logistic", "problem.lam=0"],
    "least_squares": ["problem=least_squares"],
    "mean": ["problem=mean"],
    "lsq1d": ["problem=lsq1d"],
}
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "svrg"]
# (R, b, shared): shared batches are the same samples for every replicate, shape (1, b)
LAYOUTS = [(1, 8, False), (1, 1, False), (3, 4, False), (3, 1, False), (4, 5, True), (1, 5, True),
           (6, 32, False)]  # fmt: skip


@pytest.mark.parametrize("name", list(FUSED))
def test_fused_gradient_equals_the_traced_one_bit_for_bit(name):
    problem = prepare(sgdlab.compose(FUSED[name])).problem
    assert problem.grad is not None

    def summed(Z, batch):
        return anp.sum(problem.loss(Z, batch))

    rng = np.random.default_rng(0)
    for R, b, shared in LAYOUTS:
        X = rng.standard_normal((R, problem.d))
        index = rng.integers(0, problem.n, (b,) if shared else (R, b))
        batch = (
            {k: v[None, index] for k, v in problem.data.items()}
            if shared
            else est.gather(problem, index)
        )
        # own samples are said to be so (at R = 1 they have the shape of shared ones), as
        # minibatch steps say it
        with contextlib.nullcontext() if shared else own_samples():
            traced = autodiff.grad(summed)(X[:, None, :], batch)[:, 0, :]
            fused = problem.grad(X, batch)
        np.testing.assert_array_equal(fused, traced, err_msg=f"{R=} {b=} {shared=}")


def test_the_mlp_has_no_fused_gradient_and_uses_the_tape():
    assert prepare(sgdlab.compose(["problem=mlp"])).problem.grad is None


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("name", ["logistic", "least_squares", "mean", "lsq1d"])
def test_runs_with_fused_gradients_equal_runs_with_tracing(name, optimizer, monkeypatch):
    """The whole run (iterates, losses, gradient noise, running sums) is the same to the last
    bit with the fused gradient or the traced one."""
    overrides = [*FUSED[name], f"optimizer={optimizer}", "replicates=3", "steps=40",
                 "log.estimates.num=0"]  # fmt: skip
    monkeypatch.setattr(est, "FUSED", False)
    monkeypatch.setattr(est, "REPLAY", False)
    traced = sgdlab.run(overrides)
    monkeypatch.setattr(est, "FUSED", True)
    calls = []
    problem_grad = est.minibatch_grad

    def counted(problem, X, batch):
        calls.append(problem.grad is not None)
        return problem_grad(problem, X, batch)

    monkeypatch.setattr(est, "minibatch_grad", counted)
    fused = sgdlab.run(overrides)
    assert calls and all(calls)
    for var in ("x_final", "loss", "noise_sq", "grad_norm_sq_sum"):
        if var in traced:
            np.testing.assert_array_equal(fused[var].values, traced[var].values, err_msg=var)


@pytest.mark.parametrize("name", list(FUSED))
def test_full_passes_and_hessian_products_are_the_same_with_the_fused_gradient(name, monkeypatch):
    """loss_and_grad (values and gradients, chunked) and the recorded Hessian operator give the
    same bits whether they use the problem's fused gradient or trace its loss."""
    problem = prepare(sgdlab.compose(FUSED[name])).problem
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, problem.d))
    V = rng.standard_normal((3, problem.d))
    out = {}
    monkeypatch.setattr(est, "LINEAR", False)  # the fused gradient or the tape, both ways
    for fused in (False, True):
        monkeypatch.setattr(est, "FUSED", fused)
        loss, grad = est.loss_and_grad(problem, X, memory_mb=0.05)  # several chunks
        hvp = est.hessian_operator(problem, X, memory_mb=0.05)(V)
        out[fused] = (loss, grad, hvp)
    for traced, fused, what in zip(out[False], out[True], ("loss", "grad", "hvp"), strict=True):
        np.testing.assert_array_equal(fused, traced, err_msg=what)
