"""Tests for analysis.bounds: theory.md §11 cases, hand cases, limits, conditions, errors."""

from __future__ import annotations

import inspect
from fractions import Fraction as Fr
from itertools import combinations, permutations, product

import numpy as np
import pytest

from analysis import bounds as B

REL = 1e-12
IDS = {
    "sra_nonconvex",
    "bcn_4_6",
    "bcn_4_7",
    "bcn_4_8",
    "bcn_4_10",
    "sc_constant_step",
    "nsw_2_1",
    "rakhlin_1t",
    "convex_averaging",
    "rr_mkr",
    "fpc_minibatch",
    "region_of_confusion",
}
TOY_A, TOY_B = [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]  # §11 T3: a=(1,1,2), b=(0,2,2)

# One hand-computed case per theorem id: (steps, lr, constants, expected bounds).
CASES = {
    # S1: Δ=3, L=2, G²=4, η=1/4, t=5 → K=6: 3/(6·1/4) + 2·(1/4)·4/2 = 2 + 1 = 3.
    "sra_nonconvex": ([5], 0.25, dict(L=2, delta=3, G_sq=4), [3.0]),
    # 4.6: L=2, M=1, c=1, μ=1, F(w_1)−F*=3, ᾱ=0.1: limit 0.1·2·1/2 = 0.1;
    # t=0: 3; t=1: 0.1 + 0.9·2.9 = 2.71; t=2: 0.1 + 0.81·2.9 = 2.449.
    "bcn_4_6": ([0, 1, 2], 0.1, dict(L=2, M=1, mu=1, delta=3, M_G=1), [3.0, 2.71, 2.449]),
    # 4.7: β=2, γ=3, L=2, M=1, c=μ=1, δ=3: ν = max(4·2/(2·1), 4·3) = 12; ν/(γ+t+1) at t=0,6: 3, 1.2.
    "bcn_4_7": ([0, 6], None, dict(beta=2, gamma=3, L=2, M=1, mu=1, delta=3, M_G=1), [3.0, 1.2]),
    # 4.8: ᾱ=0.25, L=2, M=1, μ=1, δ=3, t=3 → K=4: 0.25·2 + 2·3/(4·0.25) = 0.5 + 6 = 6.5.
    "bcn_4_8": ([3], 0.25, dict(L=2, M=1, delta=3, M_G=1), [6.5]),
    # 4.10: α_k = 1/(1+k) = (1/2, 1/3, 1/4) (p = 1), L=2, M=1, μ=1, δ=3: W_t = 6 + 2Σα².
    # t=0: (6 + 2/4)/(1/2) = 13; t=2: Σα² = 61/144, W = 493/72, A = 13/12, W/A = 493/78.
    "bcn_4_10": (
        [0, 2],
        [1 / 2, 1 / 3, 1 / 4],
        dict(L=2, M=1, delta=3, M_G=1, lr_power=1),
        [13.0, 493 / 78],
    ),
    # §3a: η=0.1, μ=2, σ²=3, d0=5 (L=10): t=0: 5 + 0.15; t=2: 0.8²·5 + 0.15 = 3.35.
    "sc_constant_step": ([0, 2], 0.1, dict(mu=2, sigma_sq=3, dist0_sq=5, L=10), [5.15, 3.35]),
    # NSW: γ=0.1, μ=2, supL=4, σ²=2/3, d0=4: q = 1 − 2·0.1·2·0.6 = 0.76; limit (1/15)/1.2 = 1/18;
    # t=1: 0.76·4 + 1/18 = 3.04 + 1/18.
    "nsw_2_1": (
        [1],
        0.1,
        dict(mu=2, sup_L=4, sigma_star_sq=2 / 3, dist0_sq=4),
        [3.04 + 1 / 18],
    ),
    # RSS: μ=2, G²=3, t=4 → T=5: 4·3/(4·5) = 0.6.
    "rakhlin_1t": ([4], None, dict(mu=2, G_sq=3), [0.6]),
    # §3d: η = (1, 1/2), d0=2, G²=4, t=1: (2 + 4·(1 + 1/4))/(2·3/2) = 7/3.
    "convex_averaging": ([1], [1.0, 0.5], dict(G_sq=4, dist0_sq=2), [7 / 3]),
    # MKR with σ*² only: γ=0.1, n=3, μ=1, L=4, σ*²=2/3, d0=1: neighbourhood
    # 0.01·4·3·(2/3)/(2·1) = 0.04; t=3 (1 epoch): 0.9³ + 0.04 = 0.769; t=4 is mid-epoch: inf.
    "rr_mkr": (
        [3, 4],
        0.1,
        dict(n=3, mu_min=1, dist0_sq=1, sup_L=4, sigma_star_sq=2 / 3),
        [0.769, np.inf],
    ),
    # FPC: σ²=12, n=5, b=2: 12·3/(2·4) = 4.5 without replacement.
    "fpc_minibatch": ([0, 7], None, dict(sigma_sq=12, n=5, b=2), [4.5, 4.5]),
    # Toy, η=0.1, x0=3 (e0=2): E e_1² = (1 − 0.4 + 0.01·6)·4 + 0 + 0.01·(2/3) = 2.64 + 1/150.
    "region_of_confusion": (
        [0, 1],
        0.1,
        dict(a_vec=TOY_A, b_vec=TOY_B, x0=3.0),
        [4.0, 2.64 + 1 / 150],
    ),
}
# Unrelated constants a caller may hold; Bound.evaluate must ignore them.
JUNK = dict(T=10, sigma=1.0, unrelated=object())


def test_registry_covers_exactly_the_twelve_ids_and_the_cases():
    assert set(B.BOUNDS) == IDS
    assert set(CASES) == IDS


@pytest.mark.parametrize("tid", sorted(IDS))
def test_hand_case_and_conditions(tid):
    steps, lr, consts, expected = CASES[tid]
    entry = B.BOUNDS[tid]
    got = entry.evaluate(steps, lr, **consts, **JUNK)
    assert got.shape == (len(steps),) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=REL, atol=0)
    conds = entry.step_conditions(lr, **consts, **JUNK)
    assert all(conds.values()), conds


@pytest.mark.parametrize("tid", sorted(IDS))
def test_registry_entry_is_consistent(tid):
    e = B.BOUNDS[tid]
    assert e.id == tid and e.citation
    assert e.quantity in B.QUANTITIES and set(e.alt_quantities) <= set(B.QUANTITIES)
    params = inspect.signature(e.fn).parameters
    assert set(e.constants) | set(e.optional) <= set(params)
    assert ("lr" in params) == e.takes_lr
    assert all(p.kind == p.KEYWORD_ONLY for n, p in params.items() if n != "steps")
    keys = [c.split(":")[0] for c in e.conditions]
    steps, lr, consts, _ = CASES[tid]
    assert set(e.step_conditions(lr, **consts)) <= set(keys)
    assert e.fn.__doc__ and "Assumptions" in e.fn.__doc__ and "Citation" in e.fn.__doc__


@pytest.mark.parametrize("tid", sorted(IDS))
@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5, 3.0])
def test_step_check_margins_agree_with_their_conditions(tid, scale):
    steps, lr, consts, _ = CASES[tid]
    lr = None if lr is None else np.asarray(lr, float) * scale
    checks = B.BOUNDS[tid].step_checks(lr, **consts)
    assert B.BOUNDS[tid].step_conditions(lr, **consts) == {k: c.ok for k, c in checks.items()}
    for key, c in checks.items():
        if np.isfinite(c.margin) and c.margin != 0:
            assert c.ok == (c.margin > 0), (key, c)


def test_step_check_margins_are_one_minus_value_over_cap():
    bcn = B.BOUNDS["bcn_4_6"].step_checks
    assert bcn(0.25, L=2, M_G=2)["lr_cap"] == (True, 0.0)  # cap μ/(L M_G) = 1/4
    assert bcn(0.3, L=2, M_G=2)["lr_cap"].margin == pytest.approx(-0.2, rel=REL)
    assert bcn(0.1, L=2, M_V=1, mu_G=2)["lr_cap"].margin == pytest.approx(1 - 0.1 * 10, rel=REL)
    c47 = B.BOUNDS["bcn_4_7"].step_checks(None, beta=4, gamma=3, L=2, mu=1, M_G=1)
    assert c47["beta_gt"].margin == pytest.approx(1 - 1 / 4, rel=REL)  # 1 − 1/(βcμ)
    assert c47["first_lr_cap"].margin == pytest.approx(1 - (4 / 4) / 0.5, rel=REL)
    assert not c47["first_lr_cap"].ok and np.isnan(c47["lr_schedule"].margin)
    nsw = B.BOUNDS["nsw_2_1"].step_checks(0.25, sup_L=4)["lr_lt_inv_sup_L"]
    assert nsw == (False, 0.0)  # strict: met exactly is not enough


def test_steps_shape_is_preserved():
    out = B.sc_constant_step(np.array([[0, 1], [2, 3]]), lr=0.1, mu=1, sigma_sq=1, dist0_sq=1)
    assert out.shape == (2, 2)
    assert B.sc_constant_step(4, lr=0.1, mu=1, sigma_sq=1, dist0_sq=1).shape == ()


# --------------------------------------------------------------------------- §1


def test_T7_sra_s1():
    # Δ=2, L=1, σ=1, T=100: c = √(2·2/1) = 2, η = 0.2, each term 0.1, bound √(2·1·2/100) = 0.2.
    eta = B.sra_lr(100, L=1, delta=2, G_sq=1)
    assert eta == pytest.approx(0.2, rel=REL)
    terms = B.sra_nonconvex(99, lr=eta, L=1, delta=2, G_sq=0)  # Δ/(Tη) alone
    assert terms == pytest.approx(0.1, rel=REL)
    assert B.sra_nonconvex(99, lr=eta, L=1, delta=2, G_sq=1) == pytest.approx(0.2, rel=REL)


def test_sra_s2_variance_form_and_tuned_step():
    # S2: Δ=3, L=2, σ²=4, η=1/4, t=5 (K=6): 2·3/(6/4) + 2·(1/4)·4 = 4 + 2 = 6.
    got = B.sra_nonconvex(5, lr=0.25, L=2, delta=3, sigma_sq=4, variance_form=True)
    assert got == pytest.approx(6.0, rel=REL)
    L, delta, s2 = 2.0, 3.0, 4.0
    for T in (1, 10, 100, 10_000):
        eta = B.sra_lr(T, L=L, delta=delta, sigma_sq=s2, variance_form=True)
        assert eta <= 1 / L
        bound = B.sra_nonconvex(T - 1, lr=eta, L=L, delta=delta, sigma_sq=s2, variance_form=True)
        r = np.sqrt(2 * L * delta / T)
        assert bound <= 2 * L * delta / T + 2 * np.sqrt(s2) * r + 1e-12


def test_T9_ghadimi_lan():
    # L=1, D_f²=4 (Δ=2), σ=1, N=100, D̃=2: γ = min(1, 2/10) = 0.2; 4/100 + (2 + 2)/10 = 0.44.
    gamma, bound = B.ghadimi_lan_cor_2_2(L=1, delta=2, sigma_sq=1, N=100, D_tilde=2)
    assert gamma == pytest.approx(0.2, rel=REL) and bound == pytest.approx(0.44, rel=REL)
    # L=2, Δ=4 (D_f²=4), σ²=1, N=100, D̃=2: γ = min(0.5, 0.2); B_N = 2·4/100 + 0.4 = 0.48; ·L.
    assert B.ghadimi_lan_cor_2_2(L=2, delta=4, sigma_sq=1, N=100, D_tilde=2)[1] == pytest.approx(
        0.96, rel=REL
    )


# --------------------------------------------------------------------------- §2 BCN (T8)


T8 = dict(L=2, mu=1, mu_bcn=1, mu_G=1, M=1, M_V=0)  # c=1 is `mu`


def test_T8_bcn_fixed_step():
    cond = B.BOUNDS["bcn_4_6"].step_conditions
    assert cond(0.5, **T8)["lr_cap"] and not cond(0.5 + 1e-9, **T8)["lr_cap"]  # ᾱ_max = 0.5
    b = B.bcn_4_6(np.arange(6), lr=0.1, delta=3, **{k: T8[k] for k in ("L", "M", "mu")})
    lim = 0.1
    np.testing.assert_allclose((b[1:] - lim) / (b[:-1] - lim), 0.9, rtol=REL)  # contraction
    assert B.bcn_4_6(10**5, lr=0.1, L=2, M=1, mu=1, delta=3) == pytest.approx(lim, rel=REL)
    # 4.8 with F(w_1) − F_inf = 3, K = 100 (t = 99): 0.1·2 + 6/(100·0.1) = 0.8.
    assert B.bcn_4_8(99, lr=0.1, L=2, M=1, delta=3) == pytest.approx(0.8, rel=REL)
    assert B.bcn_4_8(10**15, lr=0.1, L=2, M=1, delta=3) == pytest.approx(0.2, rel=REL)


def test_T8_bcn_4_7():
    cond = B.BOUNDS["bcn_4_7"].step_conditions
    assert all(cond(None, beta=2, gamma=3, **T8).values())  # γ ≥ 3 needed
    assert not cond(None, beta=2, gamma=2.99, **T8)["first_lr_cap"]
    assert not cond(None, beta=1, gamma=3, **T8)["beta_gt"]  # β must exceed 1/(cμ) = 1
    lr = B.bcn_4_7_lr(np.arange(5), beta=2, gamma=3)
    assert cond(lr, beta=2, gamma=3, **T8)["lr_schedule"]
    assert not cond(np.full(5, 0.5), beta=2, gamma=3, **T8)["lr_schedule"]
    # ν₁ = 4·2·1/(2·(2−1)) = 4 = (4.24) (2/μ²)(L/c)(M/c); δ=0 so ν = ν₁; t=0: 4/(3+1) = 1.
    got = B.bcn_4_7(0, beta=2, gamma=3, L=2, M=1, mu=1, delta=0)
    assert got == pytest.approx(1.0, rel=REL)
    # (4.24) with c=1/2, μ=1, L=2, M=1, β=2/(cμ)=4: 16·2/(2·1) = 16 = 2·(2/0.5)·(1/0.5).
    assert B.bcn_4_7(0, beta=4, gamma=1, L=2, M=1, mu=0.5, delta=0) == pytest.approx(8, rel=REL)
    assert np.isinf(B.bcn_4_7(0, beta=1, gamma=3, L=2, M=1, mu=1, delta=0))


def test_bcn_4_10_matches_4_8_for_constant_step_and_robbins_monro():
    t = np.arange(50)
    kw = dict(L=2, M=1, delta=3)
    np.testing.assert_allclose(B.bcn_4_10(t, lr=0.1, **kw), B.bcn_4_8(t, lr=0.1, **kw), rtol=REL)
    # Unnormalized: 2·3 + 2·(0.01·50) = 7 at t = 49.
    s = B.bcn_4_10(49, lr=0.1, quantity="weighted_sum_grad_norm_sq", **kw)
    assert s == pytest.approx(7.0, rel=REL)
    cond = B.BOUNDS["bcn_4_10"].step_conditions
    lr = B.bcn_4_7_lr(t, beta=2, gamma=3)
    assert cond(lr, lr_power=1, **T8)["robbins_monro"]
    assert not cond(lr, lr_power=0.5, **T8)["robbins_monro"]
    assert not cond(lr, **T8)["robbins_monro"]  # a finite array alone establishes nothing
    assert not cond(0.1, lr_power=1, **T8)["robbins_monro"]
    assert not cond(np.r_[0.6, lr], **T8)["lr_cap"]


# --------------------------------------------------------------------------- §3


def test_sc_constant_step_limit_and_monotone():
    b = B.sc_constant_step(np.arange(400), lr=0.1, mu=2, sigma_sq=3, dist0_sq=5)
    assert np.all(np.diff(b[:100]) < 0) and np.all(np.diff(b) <= 0)
    assert b[-1] == pytest.approx(0.1 * 3 / 2, rel=REL)
    cond = B.BOUNDS["sc_constant_step"].step_conditions
    assert cond(0.1, L=10)["lr_le_inv_L"] and not cond(0.11, L=10)["lr_le_inv_L"]


def test_T4_nsw_against_exact_sgd():
    # γ=0.1, supL=4, μ=2, σ*²=2/3: limit (0.1·2/3)/(2·0.6) = 1/18; exact SGD 1/51; ratio 2.8333.
    nsw = B.nsw_2_1(10**4, lr=0.1, mu=2, sup_L=4, sigma_star_sq=2 / 3, dist0_sq=1)
    exact = B.region_of_confusion(0, lr=0.1, a_vec=TOY_A, b_vec=TOY_B)
    assert nsw == pytest.approx(1 / 18, rel=REL) and exact == pytest.approx(1 / 51, rel=REL)
    assert nsw / exact == pytest.approx(51 / 18, rel=REL)
    cond = B.BOUNDS["nsw_2_1"].step_conditions
    assert cond(0.2, sup_L=4)["lr_lt_inv_sup_L"] and not cond(0.25, sup_L=4)["lr_lt_inv_sup_L"]
    assert np.isinf(B.nsw_2_1(1, lr=0.25, mu=2, sup_L=4, sigma_star_sq=1, dist0_sq=1))


def test_T10_averaging_and_rakhlin():
    # R=G=1, T=100, η=0.1: (1 + 100·0.01)/(2·10) = 0.1 = RG/√T.
    assert B.convex_averaging(99, lr=0.1, G_sq=1, dist0_sq=1) == pytest.approx(0.1, rel=REL)
    # λ=G=1, T=100: 4/100 = 0.04; with L=1: 2/100 = 0.02.
    assert B.rakhlin_1t(99, mu=1, G_sq=1) == pytest.approx(0.04, rel=REL)
    sub = B.rakhlin_1t(99, mu=1, G_sq=1, L=1, quantity="suboptimality")
    assert sub == pytest.approx(0.02, rel=REL)
    # μ=2, G²=3, L=5, T=5: 2·5·3/(4·5) = 1.5.
    sub = B.rakhlin_1t(4, mu=2, G_sq=3, L=5, quantity="suboptimality")
    assert sub == pytest.approx(1.5, rel=REL)
    cond = B.BOUNDS["rakhlin_1t"].step_conditions
    assert cond(1 / (2 * np.arange(1, 11)), mu=2)["lr_schedule"]
    assert not cond(0.5, mu=2)["lr_schedule"]


# --------------------------------------------------------------------------- §6b MKR (T5)


def _toy_fractions():
    a2 = [Fr(1), Fr(1), Fr(4)]
    b = [Fr(0), Fr(2), Fr(2)]
    a = [Fr(1), Fr(1), Fr(2)]
    x_star = sum(ai * bi for ai, bi in zip(a, b, strict=True)) / sum(a2)
    g_star = [ai * (ai * x_star - bi) for ai, bi in zip(a, b, strict=True)]
    return a, b, a2, x_star, g_star


def _shuffle_variance(gamma):
    """σ²_Shuffle = max_i (1/γ) E_π D_{f_{π_i}}(x*^i, x*), by enumerating all permutations."""
    a, b, _, x_star, g_star = _toy_fractions()
    n, perms = 3, list(permutations(range(3)))

    def bregman(j, u):
        f = lambda x: (a[j] * x - b[j]) ** 2 / 2  # noqa: E731
        return f(u) - f(x_star) - g_star[j] * (u - x_star)

    per_i = []
    for i in range(1, n):
        vals = [bregman(p[i], x_star - gamma * sum(g_star[p[j]] for j in range(i))) for p in perms]
        per_i.append(sum(vals) / len(perms) / gamma)
    return max(per_i)


def _rr_stationary(gamma):
    """Exact epoch-end stationary E(x − x*)² of RR on the toy (1-D epoch maps commute)."""
    _, _, a2, _, g_star = _toy_fractions()
    contraction = (1 - gamma * a2[0]) * (1 - gamma * a2[1]) * (1 - gamma * a2[2])
    shifts = []
    for p in permutations(range(3)):
        c = Fr(0)
        for i, j in enumerate(p):
            tail = Fr(1)
            for k in p[i + 1 :]:
                tail *= 1 - gamma * a2[k]
            c -= gamma * tail * g_star[j]
        shifts.append(c)
    ec, ec2 = sum(shifts) / 6, sum(c * c for c in shifts) / 6
    mean = ec / (1 - contraction)
    return (ec2 + 2 * contraction * ec * mean) / (1 - contraction**2)


def test_T5_mkr_bound_with_the_enumerated_shuffle_variance():
    # σ²_Shuffle enumerated over all permutations (σ²_rad = 5/6 for every γ) fed to rr_mkr:
    # neighbourhood 2γ²σ²_rad/μ = 2·0.01·(5/6) = 1/60 at γ = 0.1 (μ = min a² = 1).
    gamma = 0.1
    kw = dict(lr=gamma, n=3, mu_min=1, dist0_sq=1)
    shuffle = float(_shuffle_variance(Fr(1, 10)))
    limit = B.rr_mkr(3 * 10**4, **kw, sigma_shuffle_sq=shuffle)
    assert limit == pytest.approx(1 / 60, rel=REL)
    # T5 slack against the exact RR stationary value: ×16.958 at γ = 0.1, ×216.25 at γ = 0.01
    assert limit / float(_rr_stationary(Fr(1, 10))) == pytest.approx(16.958, rel=1e-4)
    shuffle01 = float(_shuffle_variance(Fr(1, 100)))
    kw01 = dict(kw, lr=0.01, sigma_shuffle_sq=shuffle01)
    ratio = B.rr_mkr(3 * 10**6, **kw01) / float(_rr_stationary(Fr(1, 100)))
    assert ratio == pytest.approx(216.25, rel=1e-4)
    # Epoch indexing: T epochs end at t = nT; (1 − γμ)^{nT} d0 + 1/60 at T=2; mid-epoch inf.
    got = B.rr_mkr([6, 7], **kw, sigma_shuffle_sq=shuffle)
    assert got[0] == pytest.approx(0.9**6 + 1 / 60, rel=REL) and np.isinf(got[1])
    cond = B.BOUNDS["rr_mkr"].step_conditions
    assert cond(0.25, sup_L=4)["lr_le_inv_sup_L"] and not cond(0.26, sup_L=4)["lr_le_inv_sup_L"]


@pytest.mark.parametrize("gamma", [Fr(1, 4), Fr(1, 10), Fr(1, 100)])
def test_mkr_sigma_star_form_dominates_the_exact_shuffle_variance(gamma):
    # rr_mkr without σ²_Shuffle uses its upper bound γ·supL·n·σ*²/4 (σ*² from confusion_region):
    # never below the bound with the enumerated σ²_Shuffle, nor below the exact RR value.
    r = B.confusion_region(TOY_A, TOY_B)
    kw = dict(lr=float(gamma), n=3, mu_min=1, dist0_sq=1)
    steps = [0, 3, 30, 3 * 10**5]
    upper = B.rr_mkr(steps, **kw, sup_L=4, sigma_star_sq=r.sigma_star_sq)
    exact_var = B.rr_mkr(steps, **kw, sigma_shuffle_sq=float(_shuffle_variance(gamma)))
    assert np.all(upper >= exact_var) and upper[-1] > exact_var[-1]
    assert exact_var[-1] >= float(_rr_stationary(gamma))


# --------------------------------------------------------------------------- §6a FPC (T2, T2b)


def test_T2_fpc():
    assert B.running_mean_var(50, sigma_sq=1, n=100) == pytest.approx(50 / 99 / 50, rel=REL)
    s2 = 833.25  # population variance of 1..100
    with_r = B.fpc_minibatch([9], sigma_sq=s2, n=100, b=50, replace=True)
    without = B.fpc_minibatch([9], sigma_sq=s2, n=100, b=50)
    assert with_r[0] == pytest.approx(16.665, rel=REL)
    assert without[0] == pytest.approx(101 / 12, rel=REL)


def test_T2b_fpc_by_exact_enumeration():
    pop = [Fr(v) for v in (0, 1, 2, 3, 7, 10)]
    mean = sum(pop) / 6
    s2 = sum((v - mean) ** 2 for v in pop) / 6

    def var_of_mean(samples):
        samples = list(samples)
        return sum((sum(s) / len(s) - mean) ** 2 for s in samples) / len(samples)

    without = var_of_mean(combinations(pop, 3))
    with_r = var_of_mean(product(pop, repeat=3))
    got = B.running_mean_var(3, sigma_sq=float(s2), n=6)
    assert got == pytest.approx(float(without), rel=REL)
    assert got == pytest.approx(2.494444, abs=1e-6)  # theory.md T2b
    got = B.running_mean_var(3, sigma_sq=float(s2), n=6, replace=True)
    assert got == pytest.approx(float(with_r), rel=REL)
    assert got == pytest.approx(4.157407, abs=1e-6)
    assert B.running_mean_var(6, sigma_sq=float(s2), n=6) == 0.0  # k = N: exactly 0


def test_T11_toy_minibatch_noise_and_per_step_sigma():
    # Toy at x=0.3: g_i = (0.3, −1.7, −2.8), σ² = 4.94/3; b=2: σ²/2 and σ²·1/(2·2).
    s2 = 4.94 / 3
    assert B.fpc_minibatch(0, sigma_sq=s2, n=3, b=2, replace=True) == pytest.approx(s2 / 2, rel=REL)
    assert B.fpc_minibatch(0, sigma_sq=s2, n=3, b=2) == pytest.approx(0.411667, abs=1e-6)
    per_step = B.fpc_minibatch([0, 1], sigma_sq=[4.0, 8.0], n=5, b=2)  # ·3/8
    np.testing.assert_allclose(per_step, [1.5, 3.0], rtol=REL)


# --------------------------------------------------------------------------- §5 region (T3)


def _component_gradients(x, a_vec=TOY_A, b_vec=TOY_B):
    """∇f_i(x) = a_i(a_i x − b_i) of f_i(x) = (a_i x − b_i)²/2 (the test's oracle)."""
    a, b = np.asarray(a_vec, float), np.asarray(b_vec, float)
    return a * (a * x - b)


def test_T3_region_and_component_gradients():
    r = B.confusion_region(TOY_A, TOY_B)
    assert (r.lo, r.hi, r.x_star, r.m2, r.m4) == (0.0, 2.0, 1.0, 2.0, 6.0)
    assert r.sigma_star_sq == pytest.approx(2 / 3, rel=REL)
    g_star = _component_gradients(r.x_star)
    assert g_star.mean() == pytest.approx(0.0, abs=1e-15)  # x* is the minimizer
    assert r.sigma_star_sq == pytest.approx(np.mean(g_star**2), rel=REL)
    assert r.cross == pytest.approx(np.mean(np.array(TOY_A) ** 2 * g_star), rel=REL)
    assert r.var_a2 == pytest.approx(np.var(np.array(TOY_A) ** 2), rel=REL)


@pytest.mark.parametrize("a_vec,b_vec", [(TOY_A, TOY_B), ([1.0, 2.0, -1.0], [1.0, 0.0, 3.0])])
def test_region_of_confusion_is_where_the_component_gradients_disagree(a_vec, b_vec):
    r = B.confusion_region(a_vec, b_vec)
    assert r.lo <= r.x_star <= r.hi
    eps = 1e-9 * max(1.0, r.hi - r.lo)
    for x in (r.lo - eps, r.hi + eps):  # outside: every f_i pulls the same way
        g = _component_gradients(x, a_vec, b_vec)
        assert np.all(g > 0) or np.all(g < 0), x
    for x in (r.lo + eps, r.x_star, r.hi - eps):  # inside: some component points the wrong way
        g = _component_gradients(x, a_vec, b_vec)
        assert g.min() < 0 < g.max(), x


@pytest.mark.parametrize("batch,tmax", [(1, 5), (2, 3)])
def test_region_exact_recursion_matches_enumeration(batch, tmax):
    a, b = [1.0, 2.0, -1.0], [1.0, 0.0, 3.0]  # mean(a²∇f_i(x*)) ≠ 0: the cross term matters
    eta = [0.1, 0.05, 0.2, 0.1, 0.08]
    got = B.region_of_confusion(np.arange(tmax + 1), lr=eta, a_vec=a, b_vec=b, b=batch, x0=2.0)
    want = [_brute_force_dist_sq(a, b, 2.0, eta, t, batch) for t in range(tmax + 1)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _brute_force_dist_sq(a, b, x0, eta, t, batch):
    """E(x_t − x*)² by enumerating every sequence of with-replacement minibatches."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    x_star = a @ b / (a @ a)
    draws = list(product(range(len(a)), repeat=batch))
    total = 0.0
    for path in product(draws, repeat=t):
        x = x0
        for s, idx in enumerate(path):
            x -= eta[s] * np.mean([a[i] * (a[i] * x - b[i]) for i in idx])
        total += (x - x_star) ** 2
    return total / len(draws) ** t


def test_region_stationary_limit_minibatch_and_cap():
    # Exact recursion from x0 = 3 converges to 1/51; minibatch b=2:
    # 0.1·(1/3)/(4 − 0.1·(4 + 2/2)) = 1/105.
    far = B.region_of_confusion(400, lr=0.1, a_vec=TOY_A, b_vec=TOY_B, x0=3.0)
    assert far == pytest.approx(1 / 51, rel=REL)
    mb = B.region_of_confusion(0, lr=0.1, a_vec=TOY_A, b_vec=TOY_B, b=2)
    assert mb == pytest.approx(1 / 105, rel=REL)
    cond = B.BOUNDS["region_of_confusion"].step_conditions
    ok = dict(a_vec=TOY_A, b_vec=TOY_B)
    assert cond(0.66, **ok)["lr_stationary"] and not cond(2 / 3, **ok)["lr_stationary"]
    assert np.isinf(B.region_of_confusion(0, lr=0.7, a_vec=TOY_A, b_vec=TOY_B))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: B.bcn_4_6(1, lr=0.1, M=1, mu=1, delta=1), "L"),
        (lambda: B.bcn_4_6(1, lr=0.1, L=0, M=1, mu=1, delta=1), "L"),
        (lambda: B.bcn_4_6(1, lr=0.1, L=1, M=1, mu=-2, delta=1), "mu"),
        (lambda: B.bcn_4_6(1, lr=[0.1, 0.2], L=1, M=1, mu=1, delta=1), "lr"),
        (lambda: B.bcn_4_8(1, lr=-0.1, L=1, M=1, delta=1), "lr"),
        (lambda: B.bcn_4_8(1, lr=0.1, L=1, M="x", delta=1), "M"),
        (lambda: B.bcn_4_10(5, lr=[0.1, 0.1], L=1, M=1, delta=1), "lr"),
        (lambda: B.bcn_4_10(1, lr=0.1, L=1, M=1, delta=1, quantity="x"), "quantity"),
        (lambda: B.sc_constant_step(-1, lr=0.1, mu=1, sigma_sq=1, dist0_sq=1), "steps"),
        (lambda: B.sc_constant_step(1.5, lr=0.1, mu=1, sigma_sq=1, dist0_sq=1), "steps"),
        (lambda: B.sra_nonconvex(1, lr=0.1, L=1, delta=1), "G_sq"),
        (lambda: B.sra_nonconvex(1, lr=0.1, L=1, delta=1, variance_form=True), "sigma_sq"),
        (lambda: B.rakhlin_1t(1, mu=1, G_sq=1, quantity="suboptimality"), "L"),
        (lambda: B.rr_mkr(3, lr=0.1, n=0, mu_min=1, dist0_sq=1, sigma_shuffle_sq=1), "n"),
        (lambda: B.rr_mkr(3, lr=0.1, n=3, mu_min=1, dist0_sq=1, sigma_star_sq=1), "sup_L"),
        (lambda: B.fpc_minibatch(0, sigma_sq=1, n=5, b=6), "b"),
        (lambda: B.fpc_minibatch(0, sigma_sq=-1, n=5, b=2), "sigma_sq"),
        (lambda: B.running_mean_var(0, sigma_sq=1, n=5), "k"),
        (lambda: B.region_of_confusion(0, lr=0.1, a_vec=[1, 0], b_vec=[1, 1]), "a_vec"),
        (lambda: B.region_of_confusion(0, lr=0.1, a_vec=[1, 2], b_vec=[1]), "b_vec"),
        (lambda: B.BOUNDS["bcn_4_6"].step_conditions(0.1, L=1), "M_G"),
        (lambda: B.BOUNDS["sc_constant_step"].step_conditions(0.1), "L"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}=") as info:
        call()
    assert "\n" not in str(info.value)
