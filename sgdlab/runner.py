"""The vectorized loop: R replicates of one optimizer on one problem, stepping together.

:func:`prepare` checks the config and builds everything (problem, sampler, schedule, optimizer,
log grids) before any work; :func:`simulate` runs the loop and returns plain arrays;
``sgdlab.dataset.to_dataset`` turns them into the logged ``xarray.Dataset``.

Per step t (parameters X of shape (R, d)):

1. on a log step, record f(x_t), ∇f(x_t) and what derives from them (and, on the sparser
   estimate grid, σ², L_local, μ_local);
2. draw each replicate's minibatch B_t (R, b) and form the optimizer's gradient estimate g_t;
3. x_{t+1} = update(g_t, x_t): a replicate whose new iterate is not finite, or whose loss on a
   log step exceeds ``divergence_factor``·f(x₀), is frozen and flagged; the others run on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from math import isfinite
from typing import Any

import numpy as np

from . import estimators as est
from .dataset import VARIABLES
from .grids import log_grid
from .optimizers import Optimizer, make_optimizer, minibatch_estimate
from .problems import Problem, make_problem
from .samplers import (
    ESTIMATES_KEY,
    PRODUCTS_KEY,
    SAMPLERS,
    IndexStream,
    Sampler,
    replicate_rngs,
    shared_rng,
)
from .schedules import Schedule, make_schedule
from .validation import check_config, check_memory, check_problem_fit


@dataclass
class Plan:
    """Everything a run needs, built and checked before the first step."""

    cfg: Any
    problem: Problem
    holdout: Problem | None
    sampler: Sampler
    schedule: Schedule
    optimizer: Optimizer
    x0: np.ndarray
    steps: np.ndarray  # (S,) logged iteration numbers
    estimated: np.ndarray  # (S,) bool: σ², L, μ estimated at this step
    avg_start: int | None  # first iterate averaged (None: no averaging)
    running_sums: bool = False  # log unbiased running sums of ‖∇f(x_s)‖² (log.running_average)
    attrs: dict = field(default_factory=dict)


def _params(node, drop=("name", "lr")) -> dict:
    return {k: v for k, v in node.items() if k not in drop}


def prepare(cfg) -> Plan:
    """Check ``cfg`` and build the run; raises ConfigError before any work on bad input."""
    check_config(cfg)
    problem = make_problem(cfg.problem)
    holdout = None
    if cfg.early_stopping.patience > 0:
        n = problem.n
        n_hold = max(1, int(round(cfg.early_stopping.holdout * n)))
        order = np.random.default_rng([int(cfg.problem.seed), 2]).permutation(n)
        check_problem_fit(cfg, n - n_hold)
        holdout, problem = problem.subset(order[:n_hold]), problem.subset(order[n_hold:])
    check_problem_fit(cfg, problem.n)
    check_memory(cfg, problem)  # now that n, d and the floats per sample are known
    T, b = int(cfg.steps), int(cfg.batch_size)
    opt_params = _params(cfg.optimizer)
    if cfg.optimizer.name == "svrg" and opt_params["inner"] == 0:
        opt_params["inner"] = max(1, math.ceil(problem.n / b))
    x0 = problem.x0.copy()
    if cfg.x0 == "random":
        x0 = x0 + np.random.default_rng([int(cfg.seed), 1]).normal(size=problem.d)
    log, e = cfg.log, cfg.log.estimates
    main, sparse = np.array([0, T]), np.zeros(0, dtype=np.int64)  # log.enabled=false: t = 0, T
    if log.enabled:
        main = log_grid(T, every=log.every, geometric=log.geometric, num=log.num)
        if e.num > 0 or e.every > 0:
            sparse = log_grid(T, every=e.every, geometric=e.geometric, num=e.num)
    steps = np.union1d(main, sparse).astype(np.int64)
    optimizer = make_optimizer(cfg.optimizer.name, **opt_params)
    # ⟨g_t, h_t⟩ is unbiased for ‖∇f(x_t)‖² only when g_t is a with-replacement minibatch
    # gradient at x_t (the setting of the running-average theorems)
    running_sums = bool(
        log.enabled
        and log.running_average
        and cfg.sampler.name == "with_replacement"
        and optimizer.estimate is minibatch_estimate
    )
    kind = cfg.averaging.kind
    avg_start = (
        None if kind == "none" else (0 if kind == "full" else int((1 - cfg.averaging.tail) * T))
    )
    return Plan(
        cfg=cfg,
        problem=problem,
        holdout=holdout,
        sampler=SAMPLERS[cfg.sampler.name],
        schedule=make_schedule(
            cfg.schedule.name, float(cfg.optimizer.lr), T, **_params(cfg.schedule, ("name",))
        ),
        optimizer=optimizer,
        x0=x0,
        steps=steps,
        estimated=np.isin(steps, sparse),
        avg_start=avg_start,
        running_sums=running_sums,
    )


# The float (replicate, step) variables of the schema that every run records (NaN where not
# computed); the flag ``diverged`` and the optional held-out and averaged losses and running
# sums are set up apart.
PER_STEP = tuple(
    name
    for name, (dims, _, _) in VARIABLES.items()
    if dims == ("replicate", "step")
    and name
    not in ("diverged", "holdout_loss", "avg_loss", "grad_norm_sq_sum", "grad_norm_sq_wsum")
)


def simulate(plan: Plan, progress=None) -> dict[str, np.ndarray]:
    """Run the loop of the module docstring; returns the recorded arrays by variable name.
    ``progress(done, estimating)``, when given, is called about 200 times over the run (and at
    each estimate step) with the number of steps done (:func:`sgdlab.progress.steps`)."""
    cfg, prob = plan.cfg, plan.problem
    R, T, b, mem = int(cfg.replicates), int(cfg.steps), int(cfg.batch_size), float(cfg.memory_mb)
    S, d = plan.steps.size, prob.d
    const = prob.constants
    rec = {name: np.full((R, S), np.nan) for name in PER_STEP}
    rec["diverged"] = np.zeros((R, S), dtype=bool)
    log_x = d <= cfg.log.max_params
    if log_x:
        rec["x"] = np.full((R, S, d), np.nan)
        rec["noise"] = np.full((R, S, d), np.nan)
    if plan.holdout is not None:
        rec["holdout_loss"] = np.full((R, S), np.nan)
    if plan.avg_start is not None:
        rec["avg_loss"] = np.full((R, S), np.nan)
    lrs = np.asarray(plan.schedule(np.arange(T + 1)), dtype=float)
    if plan.running_sums:  # Σ_{s≤t} Z_s and Σ η_s Z_s, Z_s = ‖∇f(x_s)‖² or ⟨g_s, h_s⟩
        rec["grad_norm_sq_sum"] = np.full((R, S), np.nan)
        rec["grad_norm_sq_wsum"] = np.full((R, S), np.nan)
        z_sum, z_wsum = np.zeros(R), np.zeros(R)
        products = IndexStream(
            SAMPLERS["with_replacement"], prob.n, b, replicate_rngs(int(cfg.seed), R, PRODUCTS_KEY)
        )
    stream = IndexStream(plan.sampler, prob.n, b, replicate_rngs(int(cfg.seed), R))
    est_rngs = replicate_rngs(int(cfg.seed), R, key=ESTIMATES_KEY)
    x = np.tile(plan.x0, (R, 1))
    state = plan.optimizer.init(x)
    active = np.ones(R, dtype=bool)
    diverged_at = np.full(R, -1, dtype=np.int64)
    stopped_at = np.full(R, -1, dtype=np.int64)
    avg, avg_count = np.zeros_like(x), 0
    best, best_at = np.full(R, np.inf), np.zeros(R, dtype=np.int64)
    loss0, full_grad, s = None, None, 0
    ritz, hessian_products = None, 0
    tol = 1e-12 * max(1.0, abs(const.f_star)) if np.isfinite(const.f_star) else np.nan

    def full_grad_fn(P):
        return est.loss_and_grad(prob, P, mem)[1]

    # the step's callables bound once (a lookup per step is a measurable part of a small step)
    gather, minibatch_grad, next_indices = est.gather, est.minibatch_grad, stream.next
    update, estimate = plan.optimizer.update, plan.optimizer.estimate
    plain = estimate is minibatch_estimate
    step_sizes = lrs.tolist()  # η_t as Python floats: the same values, cheaper to use
    all_active = True  # active.all(), kept up to date where active changes
    start_time, logging_time, estimates_time = time.perf_counter(), 0.0, 0.0
    stride = max(1, (T + 1) // 200)
    with np.errstate(all="ignore"):
        for t in range(T + 1):
            logging_now = s < S and plan.steps[s] == t
            if progress is not None:
                estimating_now = bool(logging_now and plan.estimated[s])
                if t % stride == 0 or estimating_now:
                    progress(t, estimating_now)
            if plan.avg_start is not None and t >= plan.avg_start:
                avg_count += 1
                avg += (x - avg) / avg_count
            if logging_now:
                log_start = time.perf_counter()
                loss, full_grad = est.loss_and_grad(prob, x, mem)
                if loss0 is None:
                    loss0 = loss.copy()
                limit = np.where(loss0 > 0, cfg.divergence_factor * loss0, np.inf)
                bad = active & ~((loss <= limit) & np.isfinite(full_grad).all(axis=1))
                diverged_at[bad], active[bad] = t, False
                all_active = bool(active.all())
                gns = (full_grad**2).sum(axis=1)
                sub = loss - const.f_star
                rec["loss"][:, s], rec["suboptimality"][:, s] = loss, sub
                rec["grad_norm_sq"][:, s] = gns
                rec["pl_ratio"][:, s] = np.where(sub > tol, gns / (2 * sub), np.nan)
                if const.x_star is not None:
                    rec["dist_sq"][:, s] = ((x - const.x_star) ** 2).sum(axis=1)
                rec["diverged"][:, s] = diverged_at >= 0
                if plan.running_sums:
                    z_sum += gns
                    z_wsum += lrs[t] * gns
                    rec["grad_norm_sq_sum"][:, s], rec["grad_norm_sq_wsum"][:, s] = z_sum, z_wsum
                if log_x:
                    rec["x"][:, s] = x
                if plan.estimated[s]:
                    estimates_start = time.perf_counter()
                    sig, se = est.gradient_variance(
                        prob,
                        x,
                        full_grad,
                        mem,
                        int(cfg.log.estimates.sigma_samples),
                        est_rngs,
                        with_se=True,
                    )
                    rec["sigma_sq"][:, s], rec["second_moment"][:, s] = sig, sig + gns
                    rec["sigma_sq_se"][:, s] = se
                    found = est.lanczos(
                        prob,
                        x,
                        mem,
                        int(cfg.log.estimates.lanczos_iters),
                        est_rngs,
                        samples=int(cfg.log.estimates.hessian_samples),
                        subset_rng=shared_rng(int(cfg.seed), ESTIMATES_KEY, t),
                        tol=float(cfg.log.estimates.lanczos_tol),
                        start=ritz,  # the previous estimate point's extreme directions
                    )
                    ritz, hessian_products = found.vectors, hessian_products + found.steps
                    rec["L_local"][:, s], rec["mu_local"][:, s] = found.L, found.mu
                    estimates_time += time.perf_counter() - estimates_start
                if plan.avg_start is not None and avg_count > 0:
                    rec["avg_loss"][:, s] = est.loss_only(prob, avg, mem)
                if plan.holdout is not None:
                    hold = est.loss_only(plan.holdout, x, mem)
                    rec["holdout_loss"][:, s] = hold
                    # early stopping: patience counts steps (not log points) since the last
                    # improvement of the held-out loss, checked on log steps; reaching t = T is
                    # finishing, not stopping early
                    better = hold < best
                    best = np.where(better, hold, best)
                    best_at = np.where(better, t, best_at)
                    waited = t - best_at >= cfg.early_stopping.patience
                    stop = active & waited & (t < T)
                    stopped_at[stop], active[stop] = t, False
                    all_active = bool(active.all())
                logging_time += time.perf_counter() - log_start
            if t == T:
                break
            batch = gather(prob, next_indices())
            if plain:  # g_t = minibatch_grad(x_t), without a closure per step
                g = minibatch_grad(prob, x, batch)
            else:
                g, state = estimate(
                    lambda P, batch=batch: minibatch_grad(prob, P, batch),
                    full_grad_fn,
                    x,
                    state,
                    t,
                )
            if plan.running_sums and not logging_now:
                # E[⟨g_t, h_t⟩ | x_t] = ‖∇f(x_t)‖² for independent unbiased g_t and h_t
                sums_start = time.perf_counter()
                h = est.independent_grad(prob, x, products.next())
                y = np.einsum("rd,rd->r", g, h)
                z_sum += y
                z_wsum += lrs[t] * y
                logging_time += time.perf_counter() - sums_start
            if logging_now:
                noise = g - full_grad
                rec["noise_sq"][:, s] = (noise**2).sum(axis=1)
                if log_x:
                    rec["noise"][:, s] = noise
                s += 1
            x_new, state = update(g, x, state, step_sizes[t])
            # the common case in one reduction: every replicate active and every entry finite
            # (a sum is finite only if all its terms are)
            if all_active and isfinite(x_new.sum()):
                x = x_new
                continue
            finite = np.isfinite(x_new).all(axis=1)
            diverged_at[active & ~finite] = t + 1
            x = np.where((active & finite)[:, None], x_new, x)
            active &= finite
            all_active = bool(active.all())

    if progress is not None:
        progress(T + 1, False)
    rec["wall_time_s"] = np.array(time.perf_counter() - start_time)
    # the full-data passes of the log grid (estimates and running sums included) and the
    # estimates alone, timed inside the run: what logging costs, free of the load differences
    # between separate runs
    rec["logging_time_s"] = np.array(logging_time)
    rec["estimates_time_s"] = np.array(estimates_time)
    rec["hessian_products"] = np.array(hessian_products)
    rec["sigma_star_sq"] = np.array(_sigma_star_sq(prob, mem))
    rec["lr"] = lrs[plan.steps]
    rec["lr_sum"] = np.cumsum(lrs)[plan.steps]
    rec["x_final"] = x
    if plan.avg_start is not None:
        rec["x_avg_final"] = avg
    rec["diverged_at"], rec["stopped_at"] = diverged_at, stopped_at
    rec["status"] = np.where(
        diverged_at >= 0, "diverged", np.where(stopped_at >= 0, "stopped", "done")
    ).astype(object)
    return rec


def _sigma_star_sq(problem, memory_mb: float) -> float:
    """σ*² = σ²(x*) = (1/n) Σᵢ ‖∇fᵢ(x*) − ∇f(x*)‖², exactly, over all n samples (NaN when
    x* is unknown); NSW and random reshuffling state their bounds with it."""
    x_star = problem.constants.x_star
    if x_star is None:
        return float("nan")
    X = np.asarray(x_star, dtype=float)[None, :]
    full_grad = est.loss_and_grad(problem, X, memory_mb)[1]
    return float(est.gradient_variance(problem, X, full_grad, memory_mb)[0])
