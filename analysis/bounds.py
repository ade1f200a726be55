"""SGD convergence bounds: one pure function per result of the theory sheet (``theory.md``).

Conventions (shared by every function in this module)
-----------------------------------------------------
* **Iteration index.** ``t = 0, 1, ...`` counts SGD steps taken: ``x_t`` is the iterate logged at
  step t, and ``η_t = lr[t]`` is the step that maps ``x_t`` to ``x_{t+1}``.
* **1-based sources** are mapped by ``k = t + 1``: BCN's ``w_k`` is ``x_{k-1}`` and ``α_k`` is
  ``η_{k-1}`` (so ``w_1 = x_0``); Rakhlin et al.'s ``w_T`` is ``x_{T-1}``.
* **Averages** at step t run over *all* iterates ``x_0..x_t`` (K = t + 1 of them, BCN's
  ``w_1..w_K``) with weights ``η_0..η_t``; a "T steps" statement ``(1/T) Σ_{t<T}`` is read at
  ``t = T - 1``.
* **Shapes.** ``steps`` is an int or an integer array (any shape) of iterations ``t >= 0``;
  every bound returns float64 values of the same shape (a NumPy scalar for a scalar ``steps``).
  ``lr`` is a positive scalar (constant step) or a 1-D array of per-step ``η_t`` covering at
  least ``η_0..η_{max(steps)}``; constant-step results accept an array only if all its entries
  are equal.
* **Validity.** Formulas are evaluated whether or not the step conditions hold; check them with
  ``BOUNDS[id].step_conditions``. Where a result says nothing (a denominator <= 0, a step it
  does not cover) the value is ``+inf``, a vacuous bound.
* **Units.** ``suboptimality`` is in units of f; ``dist_sq`` in squared parameter units; the
  gradient quantities and ``noise_sq`` in squared gradient units.

Symbol clashes (keyword here = sheet symbol = source symbol)
-------------------------------------------------------------
* ``mu``: strong convexity of f (sheet ``μ_sc``) = BCN's ``c`` = Rakhlin et al.'s ``λ``.
* ``mu_bcn``, ``mu_G``: BCN's descent constants ``μ``, ``μ_G`` (both 1 for unbiased g);
  ``M_G = M_V + μ_G²``.
* ``L``: smoothness of f = Rakhlin et al.'s ``μ``.
* ``sup_L``: ``max_i L_i`` (NSW's supL, MKR's ``L``/``L_max``); ``mu_min``: a strong-convexity
  constant of *every* ``f_i`` (MKR's ``μ``), not that of f.
* ``G_sq``: a bound on the second moment ``E‖g_t‖²`` (Reddi et al.'s "σ-bounded gradients" give
  ``G_sq = σ²``); ``sigma_sq``: a bound on the variance ``E‖g_t − ∇f(x_t)‖²``.
* ``b`` is always the minibatch size; the §5 data vectors are ``a_vec`` and ``b_vec``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from sgdlab.errors import ConfigError

__all__ = [
    "BOUNDS",
    "QUANTITIES",
    "Bound",
    "LSRegion",
    "StepCheck",
    "bcn_4_6",
    "bcn_4_7",
    "bcn_4_7_lr",
    "bcn_4_8",
    "bcn_4_10",
    "confusion_region",
    "convex_averaging",
    "fpc_minibatch",
    "ghadimi_lan_cor_2_2",
    "nsw_2_1",
    "rakhlin_1t",
    "region_of_confusion",
    "robbins_monro",
    "rr_mkr",
    "running_mean_var",
    "sc_constant_step",
    "sra_lr",
    "sra_nonconvex",
]

QUANTITIES: dict[str, str] = {
    "suboptimality": "E[f(x_t) − f*] at the last iterate",
    "avg_iterate_suboptimality": "E[f(x̄_t) − f*], x̄_t = Σ_{s≤t} η_s x_s / Σ_{s≤t} η_s",
    "dist_sq": "E‖x_t − x*‖² at the last iterate",
    "avg_grad_norm_sq": "E[(1/(t+1)) Σ_{s≤t} ‖∇f(x_s)‖²] (full gradients)",
    "weighted_avg_grad_norm_sq": "E[Σ_{s≤t} η_s ‖∇f(x_s)‖² / Σ_{s≤t} η_s]",
    "weighted_sum_grad_norm_sq": "E[Σ_{s≤t} η_s ‖∇f(x_s)‖²]",
    "noise_sq": "E‖ḡ − ∇f‖² of a sample-mean gradient (or of a running mean)",
}


# --------------------------------------------------------------------------- input checks


def _fail(name: str, value: object, allowed: str) -> ConfigError:
    shown = repr(value) if np.ndim(value) == 0 else f"<array of shape {np.shape(value)}>"
    return ConfigError(f"{name}={shown}: {allowed}")


def _num(name: str, value: object, *, strict: bool = True) -> float:
    """A finite float, > 0 if ``strict`` else >= 0; a missing (None) value is an error too."""
    allowed = f"required, a finite number {'>' if strict else '>='} 0"
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, value, allowed) from None
    if not math.isfinite(v) or v < 0 or (strict and v == 0):
        raise _fail(name, value, allowed)
    return v


def _int(name: str, value: object, low: int = 1) -> int:
    allowed = f"required, an integer >= {low}"
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(name, value, allowed) from None
    if not math.isfinite(v) or v != int(v) or v < low:
        raise _fail(name, value, allowed)
    return int(v)


def _steps(steps: ArrayLike) -> np.ndarray:
    s = np.asarray(steps)
    ok = s.dtype.kind in "iuf" and bool(np.all(np.isfinite(s)))
    if not ok or np.any(s < 0) or np.any(s != np.round(s)):
        raise _fail("steps", steps, "required, iteration numbers t: integers >= 0")
    return s.astype(np.int64)


def _lr_array(lr: ArrayLike, *, positive: bool = True) -> np.ndarray:
    """``lr`` as a 0-d or 1-D float array of finite (and, if ``positive``, > 0) entries."""
    allowed = "required, a step size > 0 or a 1-D array of them"
    try:
        arr = np.asarray(lr, dtype=float)
    except (TypeError, ValueError):
        raise _fail("lr", lr, allowed) from None
    if lr is None or arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise _fail("lr", lr, allowed)
    if positive and np.any(arr <= 0):
        raise _fail("lr", lr, allowed)
    return arr


def _lr_prefix(lr: ArrayLike, count: int) -> np.ndarray:
    """The steps ``η_0..η_{count-1}`` as a 1-D array."""
    arr = _lr_array(lr)
    if arr.ndim == 0:
        return np.full(count, float(arr))
    if arr.size < count:
        raise _fail("lr", lr, f"needs at least {count} entries (η_0..η_{count - 1})")
    return arr[:count]


def _lr_const(lr: ArrayLike, theorem: str) -> float:
    arr = _lr_array(lr)
    if arr.ndim == 1 and np.any(arr != arr[0]):
        raise _fail("lr", lr, f"{theorem} needs a constant step: a scalar or equal entries")
    return float(arr.flat[0])


def _count(t: np.ndarray) -> int:
    """How many steps η_0..η_{max t} the averages at steps ``t`` use."""
    return int(t.max()) + 1 if t.size else 0


def _cum_at(values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``Σ_{s≤t} values[s]`` for every entry of ``t``."""
    return np.cumsum(values)[t] if t.size else np.zeros(t.shape)


# --------------------------------------------------------------------------- §1 nonconvex


def sra_nonconvex(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    L: float | None = None,
    delta: float | None = None,
    G_sq: float | None = None,
    sigma_sq: float | None = None,
    variance_form: bool = False,
) -> np.ndarray:
    """Thm S1 (or S2): bound on the average squared full-gradient norm, nonconvex f (sheet §1).

    Assumptions:
      - (A1) f is L-smooth; (A2) f ≥ f_inf, ``delta = Δ = f(x_0) − f_inf``;
      - (A3) i.i.d. sampling with replacement, so ``E[g_t | x_t] = ∇f(x_t)``;
      - S1: (A4G) ``E‖g_t‖² ≤ G²`` (``G_sq``; Reddi's ``‖∇f_i‖ ≤ σ`` gives ``G² = σ²``);
      - S2 (``variance_form=True``): (A4σ) ``E‖g_t − ∇f(x_t)‖² ≤ σ²`` (``sigma_sq``), η ≤ 1/L.

    Bound, constant step η, K = t + 1 iterates::

        S1: (1/K) Σ_{s≤t} E‖∇f(x_s)‖² ≤ Δ/(Kη) + LηG²/2     (= G√(2LΔ/K) at η = c/√K)
        S2: (1/K) Σ_{s≤t} E‖∇f(x_s)‖² ≤ 2Δ/(Kη) + Lησ²

    The min over iterates obeys the same bound. Citation: Reddi, Hefny, Sra, Póczos & Smola,
    ICML 2016 (SGD baseline theorem), i.e. Ghadimi & Lan, SIAM J. Optim. 23(4), 2013.
    Returns ``avg_grad_norm_sq`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    eta = _lr_const(lr, "sra_nonconvex")
    L, delta = _num("L", L), _num("delta", delta, strict=False)
    K = t + 1.0
    if variance_form:
        return 2 * delta / (K * eta) + L * eta * _num("sigma_sq", sigma_sq, strict=False)
    return delta / (K * eta) + L * eta * _num("G_sq", G_sq, strict=False) / 2


def sra_lr(
    T: int,
    *,
    L: float | None = None,
    delta: float | None = None,
    G_sq: float | None = None,
    sigma_sq: float | None = None,
    variance_form: bool = False,
) -> float:
    """The tuned constant step for horizon T (T iterates): S1 ``c/√T`` with ``c = √(2Δ/(LG²))``;
    S2 ``min{1/L, √(2Δ/(Lσ²T))}``, which gives ``≤ 2LΔ/T + 2σ√(2LΔ/T)`` (sheet §1)."""
    T, L, delta = _int("T", T), _num("L", L), _num("delta", delta)
    if variance_form:
        return min(1 / L, math.sqrt(2 * delta / (L * _num("sigma_sq", sigma_sq) * T)))
    return math.sqrt(2 * delta / (L * _num("G_sq", G_sq))) / math.sqrt(T)


def ghadimi_lan_cor_2_2(
    *,
    L: float | None = None,
    delta: float | None = None,
    sigma_sq: float | None = None,
    N: int | None = None,
    D_tilde: float | None = None,
) -> tuple[float, float]:
    """Ghadimi & Lan 2013, Cor 2.2 (sheet §1): returns ``(γ, bound on E‖∇f(x_R)‖²)``.

    Assumptions: L-smooth f ≥ f*, unbiased g with variance ≤ σ², N steps of size
    ``γ = min{1/L, D̃/(σ√N)}``, output ``x_R`` with R uniform (so the bound also holds for the
    average over the N iterates). With ``D_f² = 2Δ/L`` the corollary states
    ``(1/L) E‖∇f(x_R)‖² ≤ B_N = L D_f²/N + (D̃ + D_f²/D̃) σ/√N``; this returns ``L·B_N``.
    """
    L, delta, N = _num("L", L), _num("delta", delta, strict=False), _int("N", N)
    sigma, d_tilde = math.sqrt(_num("sigma_sq", sigma_sq)), _num("D_tilde", D_tilde)
    df_sq = 2 * delta / L
    gamma = min(1 / L, d_tilde / (sigma * math.sqrt(N)))
    b_n = L * df_sq / N + (d_tilde + df_sq / d_tilde) * sigma / math.sqrt(N)
    return gamma, L * b_n


# --------------------------------------------------------------------------- §2 BCN 2018


def bcn_4_6(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    L: float | None = None,
    M: float | None = None,
    mu: float | None = None,
    delta: float | None = None,
    mu_bcn: float = 1.0,
) -> np.ndarray:
    """BCN Thm 4.6: strongly convex f, fixed step ᾱ; bound on ``E[F(x_t) − F*]`` (sheet §2).

    Assumptions:
      - 4.1: ∇F is L-Lipschitz;
      - 4.3: F ≥ F_inf = F*; ``∇Fᵀ E g ≥ μ‖∇F‖²``, ``‖E g‖ ≤ μ_G‖∇F‖``,
        ``V[g] ≤ M + M_V‖∇F‖²`` (μ = ``mu_bcn``);
      - 4.5: F is c-strongly convex (c = ``mu``);
      - step ``0 < ᾱ ≤ μ/(L M_G)``.

    Bound, ``delta = F(w_1) − F*`` and k = t + 1::

        E[F(w_k) − F*] ≤ ᾱLM/(2cμ) + (1 − ᾱcμ)^{k−1} (F(w_1) − F* − ᾱLM/(2cμ))  → ᾱLM/(2cμ)

    Citation: Bottou, Curtis & Nocedal, SIAM Rev. 60(2), 2018, Thm 4.6.
    Returns ``suboptimality`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    a = _lr_const(lr, "bcn_4_6")
    L, M, c = _num("L", L), _num("M", M, strict=False), _num("mu", mu)
    delta, m = _num("delta", delta, strict=False), _num("mu_bcn", mu_bcn)
    limit = a * L * M / (2 * c * m)
    return limit + (1 - a * c * m) ** t * (delta - limit)


def bcn_4_7_lr(
    steps: ArrayLike, *, beta: float | None = None, gamma: float | None = None
) -> np.ndarray:
    """BCN Thm 4.7's steps in this module's indexing, ``η_t = α_{t+1} = β/(γ + t + 1)``, at each
    of ``steps`` (same shape)."""
    t = _steps(steps)
    return _num("beta", beta) / (_num("gamma", gamma) + t + 1.0)


def bcn_4_7(
    steps: ArrayLike,
    *,
    beta: float | None = None,
    gamma: float | None = None,
    L: float | None = None,
    M: float | None = None,
    mu: float | None = None,
    delta: float | None = None,
    mu_bcn: float = 1.0,
) -> np.ndarray:
    """BCN Thm 4.7: strongly convex f, steps ``α_k = β/(γ+k)``; bound on ``E[F(x_t) − F*]``.

    Assumptions: 4.1, 4.3, 4.5 as in :func:`bcn_4_6` (c = ``mu``, μ = ``mu_bcn``), and
      - ``β > 1/(cμ)``, ``γ > 0``, ``α_1 = β/(γ+1) ≤ μ/(L M_G)``.

    Bound, k = t + 1 (the steps are ``η_t = β/(γ+t+1)``, see :func:`bcn_4_7_lr`)::

        E[F(w_k) − F*] ≤ ν/(γ+k),  ν = max{β²LM/(2(βcμ−1)), (γ+1)(F(w_1) − F*)}

    With ``β = 2/(cμ)`` the first term is ``(2/μ²)(L/c)(M/c)``. ``+inf`` if ``βcμ ≤ 1``.
    Citation: Bottou, Curtis & Nocedal, SIAM Rev. 60(2), 2018, Thm 4.7.
    Returns ``suboptimality`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    beta, gamma = _num("beta", beta), _num("gamma", gamma)
    L, M, c = _num("L", L), _num("M", M, strict=False), _num("mu", mu)
    delta, m = _num("delta", delta, strict=False), _num("mu_bcn", mu_bcn)
    if beta * c * m <= 1:
        return np.full(t.shape, np.inf)
    nu = max(beta**2 * L * M / (2 * (beta * c * m - 1)), (gamma + 1) * delta)
    return nu / (gamma + t + 1.0)


def bcn_4_8(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    L: float | None = None,
    M: float | None = None,
    delta: float | None = None,
    mu_bcn: float = 1.0,
) -> np.ndarray:
    """BCN Thm 4.8: nonconvex f, fixed step ᾱ; bound on the average of ``E‖∇F‖²`` (sheet §2).

    Assumptions: 4.1 and 4.3 (see :func:`bcn_4_6`), ``delta = F(w_1) − F_inf``, and
      - ``0 < ᾱ ≤ μ/(L M_G)``.

    Bound, K = t + 1 iterates ``w_1..w_K = x_0..x_t``::

        E[(1/K) Σ_{k=1}^K ‖∇F(w_k)‖²] ≤ ᾱLM/μ + 2(F(w_1) − F_inf)/(Kμᾱ)  → ᾱLM/μ

    Citation: Bottou, Curtis & Nocedal, SIAM Rev. 60(2), 2018, Thm 4.8.
    Returns ``avg_grad_norm_sq`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    a = _lr_const(lr, "bcn_4_8")
    L, M = _num("L", L), _num("M", M, strict=False)
    delta, m = _num("delta", delta, strict=False), _num("mu_bcn", mu_bcn)
    return a * L * M / m + 2 * delta / ((t + 1.0) * m * a)


def bcn_4_10(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    L: float | None = None,
    M: float | None = None,
    delta: float | None = None,
    mu_bcn: float = 1.0,
    quantity: str = "weighted_avg_grad_norm_sq",
) -> np.ndarray:
    """BCN Thm 4.10 (finite-K form): nonconvex f, diminishing steps (sheet §2).

    Assumptions: 4.1 and 4.3 (see :func:`bcn_4_6`), ``delta = F(w_1) − F_inf``, and
      - ``0 < α_k ≤ μ/(L M_G)`` for every k (Robbins–Monro is needed only for the limits).

    Bound, K = t + 1, ``A_K = Σ_{k≤K} α_k``::

        Σ_{k=1}^K α_k E‖∇F(w_k)‖² ≤ 2(F(w_1) − F_inf)/μ + (LM/μ) Σ_{k=1}^K α_k²

    ``quantity="weighted_avg_grad_norm_sq"`` (default) divides by ``A_K``;
    ``"weighted_sum_grad_norm_sq"`` returns the sum itself. ``lr`` may vary with t.
    Citation: Bottou, Curtis & Nocedal, SIAM Rev. 60(2), 2018, Thm 4.10 (proof).
    Returns bounds of shape of ``steps``.
    """
    if quantity not in ("weighted_avg_grad_norm_sq", "weighted_sum_grad_norm_sq"):
        raise _fail("quantity", quantity, "weighted_avg_grad_norm_sq or weighted_sum_grad_norm_sq")
    t = _steps(steps)
    eta = _lr_prefix(lr, _count(t))
    L, M = _num("L", L), _num("M", M, strict=False)
    delta, m = _num("delta", delta, strict=False), _num("mu_bcn", mu_bcn)
    total = 2 * delta / m + L * M / m * _cum_at(eta**2, t)
    if quantity == "weighted_sum_grad_norm_sq":
        return total
    return total / _cum_at(eta, t)


# --------------------------------------------------------------------------- §3 convex


def sc_constant_step(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    mu: float | None = None,
    sigma_sq: float | None = None,
    dist0_sq: float | None = None,
) -> np.ndarray:
    """Strongly convex f, constant step, variance form; bound on ``E‖x_t − x*‖²`` (sheet §3a).

    Assumptions:
      - f is μ-strongly convex and L-smooth;
      - g unbiased with ``E‖g_t − ∇f(x_t)‖² ≤ σ²`` at every iterate;
      - ``η ≤ 1/L``.

    Recursion ``E‖x_{t+1}−x*‖² ≤ (1−ημ) E‖x_t−x*‖² + η²σ²``, hence::

        E‖x_t − x*‖² ≤ (1 − ημ)^t ‖x_0 − x*‖² + ησ²/μ  → ησ²/μ

    Citation: derived (theory.md §3(a)); the standard variance-form SGD bound.
    Returns ``dist_sq`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    eta = _lr_const(lr, "sc_constant_step")
    mu, sigma_sq = _num("mu", mu), _num("sigma_sq", sigma_sq, strict=False)
    d0 = _num("dist0_sq", dist0_sq, strict=False)
    return (1 - eta * mu) ** t * d0 + eta * sigma_sq / mu


def nsw_2_1(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    mu: float | None = None,
    sup_L: float | None = None,
    sigma_star_sq: float | None = None,
    dist0_sq: float | None = None,
) -> np.ndarray:
    """Needell–Srebro–Ward Thm 2.1: bound on ``E‖x_t − x*‖²`` (sheet §3b).

    Assumptions:
      - every f_i is convex and L_i-smooth with ``L_i ≤ supL`` (``sup_L``);
      - f = E f_i is μ-strongly convex; ``σ² = E‖∇f_i(x*)‖²`` (``sigma_star_sq``);
      - constant step ``γ < 1/supL``.

    Bound::

        E‖x_t − x*‖² ≤ [1 − 2γμ(1 − γ supL)]^t ‖x_0 − x*‖² + γσ²/(μ(1 − γ supL))

    ``+inf`` if ``γ supL ≥ 1``. Citation: Needell, Srebro & Ward, Math. Prog. 155, 2016
    (NIPS 2014), Thm 2.1. Returns ``dist_sq`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    g = _lr_const(lr, "nsw_2_1")
    mu, sup_L = _num("mu", mu), _num("sup_L", sup_L)
    s2, d0 = (
        _num("sigma_star_sq", sigma_star_sq, strict=False),
        _num("dist0_sq", dist0_sq, strict=False),
    )
    slack = 1 - g * sup_L
    if slack <= 0:
        return np.full(t.shape, np.inf)
    return (1 - 2 * g * mu * slack) ** t * d0 + g * s2 / (mu * slack)


def rakhlin_1t(
    steps: ArrayLike,
    *,
    mu: float | None = None,
    G_sq: float | None = None,
    L: float | None = None,
    quantity: str = "dist_sq",
) -> np.ndarray:
    """Rakhlin–Shamir–Sridharan, step ``η_t = 1/(μ(t+1))`` (their ``1/(λt)``) (sheet §3c).

    Assumptions:
      - F is μ-strongly convex (their λ) on a convex domain, projected SGD;
      - ``E‖ĝ_t‖² ≤ G²`` (``G_sq``) on that domain;
      - for ``quantity="suboptimality"``: F is L-smooth at w* (their μ), i.e.
        ``F(w) − F* ≤ (L/2)‖w − w*‖²``.

    Bound, with their ``w_T = x_{T−1}``, i.e. T = t + 1::

        Lemma 1: E‖w_T − w*‖² ≤ 4G²/(μ²T);   Thm 1: E[F(w_T) − F*] ≤ 2LG²/(μ²T)

    Citation: Rakhlin, Shamir & Sridharan, ICML 2012, Lemma 1 and Thm 1.
    Returns ``dist_sq`` (default) or ``suboptimality`` bounds, shape of ``steps``.
    """
    if quantity not in ("dist_sq", "suboptimality"):
        raise _fail("quantity", quantity, "dist_sq or suboptimality")
    t = _steps(steps)
    mu, G_sq = _num("mu", mu), _num("G_sq", G_sq, strict=False)
    dist = 4 * G_sq / (mu**2 * (t + 1.0))
    return dist if quantity == "dist_sq" else _num("L", L) / 2 * dist


def convex_averaging(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    G_sq: float | None = None,
    dist0_sq: float | None = None,
) -> np.ndarray:
    """Convex f with step-weighted iterate averaging, any step sequence (sheet §3d).

    Assumptions:
      - f is convex with a minimizer x*; g unbiased with ``E‖g_t‖² ≤ G²`` (``G_sq``);
      - any steps ``η_t > 0``.

    Bound, ``x̄_t = Σ_{s≤t} η_s x_s / Σ_{s≤t} η_s``::

        E f(x̄_t) − f* ≤ (‖x_0 − x*‖² + G² Σ_{s≤t} η_s²) / (2 Σ_{s≤t} η_s)

    (``= RG/√T`` for T = t + 1 iterates with η = R/(G√T), R² = ``dist0_sq``.)
    Citation: derived (theory.md §3(d)); cf. Nemirovski, Juditsky, Lan & Shapiro,
    SIAM J. Optim. 19(4), 2009, §2.2. Returns ``avg_iterate_suboptimality``, shape of ``steps``.
    """
    t = _steps(steps)
    eta = _lr_prefix(lr, _count(t))
    G_sq, d0 = _num("G_sq", G_sq, strict=False), _num("dist0_sq", dist0_sq, strict=False)
    return (d0 + G_sq * _cum_at(eta**2, t)) / (2 * _cum_at(eta, t))


# --------------------------------------------------------------------------- §6 sampling


def rr_mkr(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    n: int | None = None,
    mu_min: float | None = None,
    dist0_sq: float | None = None,
    sup_L: float | None = None,
    sigma_star_sq: float | None = None,
    sigma_shuffle_sq: float | None = None,
) -> np.ndarray:
    """Mishchenko–Khaled–Richtárik: random reshuffling, bound on ``E‖x − x*‖²`` at epoch ends.

    Assumptions:
      - every f_i is ``mu_min``-strongly convex and L-smooth, ``L = sup_L = max_i L_i``;
      - random reshuffling (or shuffle-once), constant step ``γ ≤ 1/L``.

    Bound after T epochs, i.e. at step ``t = nT`` (``steps`` that are not multiples of ``n``
    are mid-epoch iterates, not covered: ``+inf``)::

        E‖x_T − x*‖² ≤ (1 − γμ)^{nT} ‖x_0 − x*‖² + 2γσ²_Shuffle/μ

    ``σ²_Shuffle`` is ``sigma_shuffle_sq`` if given; otherwise its upper bound
    ``γLnσ*²/4`` is used, giving the neighbourhood ``γ²Lnσ*²/(2μ)`` (needs ``sup_L``,
    ``sigma_star_sq``). ProxRR writes ``σ²_rad = σ²_Shuffle/γ``.
    Citation: Mishchenko, Khaled & Richtárik, NeurIPS 2020 (arXiv 2006.05988); ProxRR
    (2021/22) Thm 2 with ψ = 0. Returns ``dist_sq`` bounds, shape of ``steps``.
    """
    t = _steps(steps)
    g = _lr_const(lr, "rr_mkr")
    n, mu, d0 = _int("n", n), _num("mu_min", mu_min), _num("dist0_sq", dist0_sq, strict=False)
    if sigma_shuffle_sq is not None:
        shuffle = _num("sigma_shuffle_sq", sigma_shuffle_sq, strict=False)
    else:
        s2 = _num("sigma_star_sq", sigma_star_sq, strict=False)
        shuffle = g * _num("sup_L", sup_L) * n * s2 / 4
    out = (1 - g * mu) ** t * d0 + 2 * g * shuffle / mu
    return np.where(t % n == 0, out, np.inf)


def _mean_var(sigma_sq: ArrayLike, n: object, k: ArrayLike, replace: bool, k_name: str):
    s2 = np.asarray(sigma_sq, dtype=float) if sigma_sq is not None else None
    if s2 is None or not np.all(np.isfinite(s2)) or np.any(s2 < 0):
        raise _fail("sigma_sq", sigma_sq, "required, finite numbers >= 0")
    n = _int("n", n)
    kk = np.asarray(k)
    if kk.dtype.kind not in "iuf" or np.any(kk < 1) or np.any(kk != np.round(kk)):
        raise _fail(k_name, k, "required, integers >= 1")
    kk = kk.astype(float)
    if replace:
        return s2 / kk
    if np.any(kk > n):
        raise _fail(k_name, k, f"at most n={n} draws without replacement")
    return s2 / kk * np.where(kk >= n, 0.0, (n - kk) / max(n - 1, 1))


def running_mean_var(
    k: ArrayLike,
    *,
    sigma_sq: ArrayLike = None,
    n: int | None = None,
    replace: bool = False,
) -> np.ndarray:
    """Variance of the mean of k draws from a population of n with variance ``σ²`` (sheet §6a).

    ``σ²/k`` with replacement, ``(σ²/k)(n−k)/(n−1)`` without (k ≤ n; exactly 0 at k = n). For a
    running mean logged at step t, k = t + 1. ``k`` and ``sigma_sq`` broadcast together.
    """
    return _mean_var(sigma_sq, n, k, replace, "k")


def fpc_minibatch(
    steps: ArrayLike,
    *,
    sigma_sq: ArrayLike = None,
    n: int | None = None,
    b: int | None = None,
    replace: bool = False,
) -> np.ndarray:
    """Finite-population correction: ``E‖ḡ_B − ∇f(x_t)‖²`` for a size-b minibatch (sheet §6a).

    Assumptions:
      - finite sum of n terms, ``σ²(x) = (1/n) Σ_i ‖g_i(x) − ∇f(x)‖²`` (``sigma_sq``: a scalar,
        or per-step values ``σ²(x_t)`` of the shape of ``steps``);
      - the b indices are uniform without replacement (default) or i.i.d. with replacement.

    Exact equalities (checked two-sided)::

        without replacement: σ²(x)(n − b)/(b(n − 1));   with replacement: σ²(x)/b

    Citation: the standard finite-population correction (sampling theory), theory.md §6(a);
    :func:`running_mean_var` is the same formula for a running mean of k draws.
    Returns ``noise_sq`` values, shape of ``steps``.
    """
    t = _steps(steps)
    value = _mean_var(sigma_sq, n, _int("b", b), replace, "b")
    if value.ndim and value.shape != t.shape:
        raise _fail("sigma_sq", sigma_sq, f"a scalar or an array of the shape of steps {t.shape}")
    return np.broadcast_to(value, t.shape).astype(float)


# --------------------------------------------------------------------------- §5 1-D least squares


class LSRegion(NamedTuple):
    """Constants of ``f(x) = (1/2n) Σ (a_i x − b_i)²`` (sheet §5)."""

    lo: float  # min_i b_i/a_i: left end of the region of confusion
    hi: float  # max_i b_i/a_i: right end
    x_star: float  # Σ a_i b_i / Σ a_i²
    m2: float  # mean(a_i²) = L = μ_sc
    m4: float  # mean(a_i⁴)
    var_a2: float  # population variance of a_i², m4 − m2²
    sigma_star_sq: float  # mean((a_i²(x* − x_i*))²) = mean(∇f_i(x*)²)
    cross: float  # mean(a_i² ∇f_i(x*)), drives the transient of the exact recursion


def confusion_region(a_vec: ArrayLike, b_vec: ArrayLike) -> LSRegion:
    """Region of confusion, optimum and moments of the 1-D least-squares toy (sheet §5)."""
    a = np.asarray(a_vec, dtype=float) if a_vec is not None else np.empty(0)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a == 0):
        raise _fail("a_vec", a_vec, "required, a 1-D array of finite nonzero numbers")
    bv = np.asarray(b_vec, dtype=float) if b_vec is not None else np.empty(0)
    if bv.shape != a.shape or not np.all(np.isfinite(bv)):
        raise _fail("b_vec", b_vec, f"required, a 1-D array of {a.size} finite numbers")
    xi = bv / a
    a2 = a**2
    x_star = float(np.sum(a * bv) / np.sum(a2))
    g_star = a2 * (x_star - xi)
    m2, m4 = float(a2.mean()), float((a2**2).mean())
    return LSRegion(
        float(xi.min()),
        float(xi.max()),
        x_star,
        m2,
        m4,
        m4 - m2**2,
        float(np.mean(g_star**2)),
        float(np.mean(a2 * g_star)),
    )


def region_of_confusion(
    steps: ArrayLike,
    *,
    lr: ArrayLike = None,
    a_vec: ArrayLike = None,
    b_vec: ArrayLike = None,
    b: int = 1,
    x0: float | None = None,
) -> np.ndarray:
    """Exact ``E(x_t − x*)²`` of SGD on ``f(x) = (1/2n) Σ (a_i x − b_i)²`` (sheet §5).

    Assumptions:
      - data ``a_vec`` (all ``a_i ≠ 0``) and ``b_vec``; ``x* = Σ a_i b_i / Σ a_i²`` lies in the
        region of confusion ``[min b_i/a_i, max b_i/a_i]`` (see :func:`confusion_region`);
      - each step uses the mean gradient of b indices drawn i.i.d. with replacement;
      - deterministic start ``x0`` (or none: stationary value).

    With ``x0=None``: the stationary value for a constant step (the t → ∞ limit, returned at
    every step; ``+inf`` unless ``η < 2m2/(m2² + Var(a²)/b)``, which is ``2m2/m4`` at b = 1)::

        lim E(x_t − x*)² = η(σ*²/b) / (2m2 − η(m2² + Var(a²)/b))   (= ησ*²/(2m2 − ηm4) at b = 1)

    With ``x0`` given: the exact value at every step for any steps η_t, from
    ``e = x − x*``, ``m_{t+1} = (1 − η_t m2) m_t`` and
    ``E e_{t+1}² = (1 − 2η_t m2 + η_t²(m2² + Var(a²)/b)) E e_t² + 2η_t² m_t E[a²∇f_i(x*)]/b
    + η_t² σ*²/b``.
    Citation: Bertsekas, *Reinforcement Learning and Optimal Control*, Ex. 3.1.10 (via Sra,
    MIT 18.065 L25); the variance formulas are derived (theory.md §5).
    Returns ``dist_sq`` values (exact), shape of ``steps``.
    """
    t = _steps(steps)
    r = confusion_region(a_vec, b_vec)
    b = _int("b", b)
    a2_mom, s2, cross = r.m2**2 + r.var_a2 / b, r.sigma_star_sq / b, r.cross / b
    if x0 is None:
        eta = _lr_const(lr, "region_of_confusion (x0=None)")
        denom = 2 * r.m2 - eta * a2_mom
        return np.full(t.shape, eta * s2 / denom if denom > 0 else np.inf)
    try:
        e = float(x0) - r.x_star
    except (TypeError, ValueError):
        raise _fail("x0", x0, "a finite number (the deterministic start), or None") from None
    if not math.isfinite(e):
        raise _fail("x0", x0, "a finite number (the deterministic start), or None")
    eta = _lr_prefix(lr, int(t.max()) if t.size else 0)
    mean, second = e, e * e
    values = [second]
    for h in eta:
        second = (
            (1 - 2 * h * r.m2 + h * h * a2_mom) * second + 2 * h * h * cross * mean + h * h * s2
        )
        mean *= 1 - h * r.m2
        values.append(second)
    return np.asarray(values)[t] if t.size else np.zeros(t.shape)


# --------------------------------------------------------------------------- step conditions


def robbins_monro(lr: ArrayLike = None, *, lr_power: float | None = None) -> bool:
    """Robbins–Monro (``α_k > 0``, ``Σα_k = ∞``, ``Σα_k² < ∞``; sheet §4) for ``α_k ∝ 1/(γ+k)^p``.

    True iff ``1/2 < lr_power ≤ 1``. A scalar (constant) ``lr`` fails; a finite array cannot
    establish it, so without ``lr_power`` the answer is False ("not established").
    """
    if lr is not None and np.ndim(lr) == 0:
        return False
    return lr_power is not None and 0.5 < float(lr_power) <= 1.0


def _M_G(c: dict) -> float:
    if c.get("M_G") is not None:
        return _num("M_G", c["M_G"])
    if c.get("M_V") is None:
        raise _fail("M_G", None, "required, a finite number > 0 (or give M_V >= 0 and mu_G)")
    return _num("M_V", c["M_V"], strict=False) + _num("mu_G", c.get("mu_G", 1.0)) ** 2


class StepCheck(NamedTuple):
    """One step condition: whether it holds, and its ``margin`` ``1 − value/cap`` (positive:
    room to spare, 0: met exactly, negative: by how much it fails; NaN for conditions that are
    not a cap, e.g. a schedule's form)."""

    ok: bool
    margin: float


_NO_MARGIN = float("nan")


def _cap(value: ArrayLike, cap: float, *, strict: bool = False) -> StepCheck:
    """``max(value) ≤ cap`` (``<`` if ``strict``) with the margin ``1 − max(value)/cap``."""
    v = float(np.max(value))
    return StepCheck(bool(v < cap if strict else v <= cap), 1 - v / cap)


def _flag(ok: bool) -> StepCheck:
    return StepCheck(bool(ok), _NO_MARGIN)


def _basic(lr: ArrayLike) -> tuple[np.ndarray, dict[str, StepCheck]]:
    arr = _lr_array(lr, positive=False)
    return arr, {
        "lr_positive": _flag(np.all(arr > 0)),
        "lr_constant": _flag(np.all(arr == arr.flat[0])),
    }


def _matches(lr: ArrayLike, schedule: Callable[[np.ndarray], np.ndarray]) -> bool:
    if lr is None:
        return True
    arr = _lr_array(lr, positive=False)
    return arr.ndim == 1 and bool(
        np.allclose(arr, schedule(np.arange(arr.size)), rtol=1e-9, atol=0)
    )


def _bcn_cap(c: dict) -> float:
    """BCN's step cap ``μ/(L M_G)`` (μ = ``mu_bcn``; M_G given, or M_V + μ_G²)."""
    return _num("mu_bcn", c.get("mu_bcn", 1.0)) / (_num("L", c.get("L")) * _M_G(c))


def _cond_sra(lr: ArrayLike, variance_form: bool = False, **c) -> dict[str, StepCheck]:
    arr, out = _basic(lr)
    if variance_form:
        out["lr_le_inv_L"] = _cap(arr, 1 / _num("L", c.get("L")))
    return out


def _cond_bcn_fixed(lr: ArrayLike, **c) -> dict[str, StepCheck]:
    arr, out = _basic(lr)
    out["lr_cap"] = _cap(arr, _bcn_cap(c))
    return out


def _cond_bcn_4_7(lr: ArrayLike, **c) -> dict[str, StepCheck]:
    beta, gamma = _num("beta", c.get("beta")), _num("gamma", c.get("gamma"))
    m, mu = _num("mu_bcn", c.get("mu_bcn", 1.0)), _num("mu", c.get("mu"))
    return {
        "beta_gt": _cap(1 / (mu * m), beta, strict=True),  # 1/(cμ) < β
        "first_lr_cap": _cap(beta / (gamma + 1), _bcn_cap(c)),
        "lr_schedule": _flag(_matches(lr, lambda t: beta / (gamma + t + 1.0))),
    }


def _cond_bcn_4_10(lr: ArrayLike, **c) -> dict[str, StepCheck]:
    arr, out = _basic(lr)
    del out["lr_constant"]
    out["lr_cap"] = _cap(arr, _bcn_cap(c))
    out["robbins_monro"] = _flag(robbins_monro(lr, lr_power=c.get("lr_power")))
    return out


def _cond_cap(key: str, name: str, strict: bool) -> Callable[..., dict[str, StepCheck]]:
    def check(lr: ArrayLike, **c) -> dict[str, StepCheck]:
        arr, out = _basic(lr)
        out[key] = _cap(arr, 1 / _num(name, c.get(name)), strict=strict)
        return out

    return check


def _cond_rakhlin(lr: ArrayLike, **c) -> dict[str, StepCheck]:
    mu = _num("mu", c.get("mu"))
    return {"lr_schedule": _flag(_matches(lr, lambda t: 1 / (mu * (t + 1.0))))}


def _cond_averaging(lr: ArrayLike, **c) -> dict[str, StepCheck]:
    return {"lr_positive": _basic(lr)[1]["lr_positive"]}


def _cond_none(lr: ArrayLike = None, **c) -> dict[str, StepCheck]:
    return {}


def _cond_region(lr: ArrayLike, **c) -> dict[str, StepCheck]:
    arr, out = _basic(lr)
    r = confusion_region(c.get("a_vec"), c.get("b_vec"))
    b = _int("b", c.get("b", 1))
    out["lr_stationary"] = _cap(arr, 2 * r.m2 / (r.m2**2 + r.var_a2 / b), strict=True)
    return out


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Bound:
    """One convergence result: how to evaluate it and when it applies.

    - ``fn(steps, [lr,] **constants)`` returns the bound at each step (``takes_lr``: whether it
      has an ``lr`` argument); ``constants`` are its required keywords, ``optional`` the rest
      (alternatives and selectors such as ``quantity``).
    - ``quantity`` (a key of :data:`QUANTITIES`) is what ``fn`` bounds by default;
      ``alt_quantities`` can be selected with ``fn(..., quantity=...)``.
    - ``conditions`` are ``"key: text"`` strings; ``step_checks(lr, **constants)`` returns
      ``{key: StepCheck(ok, margin)}`` for those that apply (it reads ``condition_constants``,
      ignores others), and ``step_conditions`` just ``{key: ok}``.
    - ``exact``: the value is an equality, so a check can be two-sided.
    """

    id: str
    fn: Callable[..., np.ndarray]
    quantity: str
    constants: tuple[str, ...]
    optional: tuple[str, ...]
    takes_lr: bool
    conditions: tuple[str, ...]
    step_checks: Callable[..., dict[str, StepCheck]]
    condition_constants: tuple[str, ...]
    citation: str
    exact: bool = False
    alt_quantities: tuple[str, ...] = ()

    def evaluate(self, steps: ArrayLike, lr: ArrayLike = None, **constants) -> np.ndarray:
        """Call ``fn`` with only the constants it accepts (extra keys are ignored)."""
        names = set(self.constants) | set(self.optional)
        kwargs = {k: v for k, v in constants.items() if k in names}
        if self.takes_lr:
            kwargs["lr"] = lr
        return self.fn(steps, **kwargs)

    def step_conditions(self, lr: ArrayLike = None, **constants) -> dict[str, bool]:
        """``{key: holds}`` of :meth:`step_checks` (the margins dropped)."""
        return {k: v.ok for k, v in self.step_checks(lr, **constants).items()}


_LR_POS = "lr_positive: η_t > 0"
_LR_CONST = "lr_constant: η_t = η is the same at every step"
_BCN_CAP = "lr_cap: 0 < α ≤ μ/(L M_G) (μ = mu_bcn, M_G = M_V + μ_G²)"
_BCN_CONSTS = ("L", "M_G", "M_V", "mu_G", "mu_bcn")  # M_G, or M_V (+ mu_G, default 1)
_BCN = "Bottou, Curtis & Nocedal, Optimization Methods for Large-Scale Machine Learning, "
_BCN += "SIAM Rev. 60(2):223-311, 2018, "

_ENTRIES = [
    Bound(
        id="sra_nonconvex",
        fn=sra_nonconvex,
        quantity="avg_grad_norm_sq",
        constants=("L", "delta", "G_sq"),
        optional=("sigma_sq", "variance_form"),
        takes_lr=True,
        conditions=(_LR_POS, _LR_CONST, "lr_le_inv_L: η ≤ 1/L (S2, variance_form=True, only)"),
        step_checks=_cond_sra,
        condition_constants=("L", "variance_form"),
        citation="Reddi, Hefny, Sra, Póczos & Smola, ICML 2016 (SGD baseline theorem) = "
        "Ghadimi & Lan, SIAM J. Optim. 23(4), 2013; theory.md §1 Thm S1/S2",
    ),
    Bound(
        id="bcn_4_6",
        fn=bcn_4_6,
        quantity="suboptimality",
        constants=("L", "M", "mu", "delta"),
        optional=("mu_bcn",),
        takes_lr=True,
        conditions=(_LR_POS, _LR_CONST, _BCN_CAP),
        step_checks=_cond_bcn_fixed,
        condition_constants=_BCN_CONSTS,
        citation=_BCN + "Thm 4.6",
    ),
    Bound(
        id="bcn_4_7",
        fn=bcn_4_7,
        quantity="suboptimality",
        constants=("beta", "gamma", "L", "M", "mu", "delta"),
        optional=("mu_bcn",),
        takes_lr=False,
        conditions=(
            "beta_gt: β > 1/(cμ) (c = mu, μ = mu_bcn)",
            "first_lr_cap: α_1 = β/(γ+1) ≤ μ/(L M_G)",
            "lr_schedule: η_t = β/(γ+t+1) (True when lr is None)",
        ),
        step_checks=_cond_bcn_4_7,
        condition_constants=("beta", "gamma", "mu", *_BCN_CONSTS),
        citation=_BCN + "Thm 4.7",
    ),
    Bound(
        id="bcn_4_8",
        fn=bcn_4_8,
        quantity="avg_grad_norm_sq",
        constants=("L", "M", "delta"),
        optional=("mu_bcn",),
        takes_lr=True,
        conditions=(_LR_POS, _LR_CONST, _BCN_CAP),
        step_checks=_cond_bcn_fixed,
        condition_constants=_BCN_CONSTS,
        citation=_BCN + "Thm 4.8",
    ),
    Bound(
        id="bcn_4_10",
        fn=bcn_4_10,
        quantity="weighted_avg_grad_norm_sq",
        alt_quantities=("weighted_sum_grad_norm_sq",),
        constants=("L", "M", "delta"),
        optional=("mu_bcn", "quantity"),
        takes_lr=True,
        conditions=(
            _LR_POS,
            "lr_cap: α_k ≤ μ/(L M_G) for every k",
            "robbins_monro: Σα_k = ∞, Σα_k² < ∞ (for the limit statements only, not for the "
            "finite-K bound; decided from lr_power p of α_k ∝ (γ+k)^-p; a constant lr fails)",
        ),
        step_checks=_cond_bcn_4_10,
        condition_constants=(*_BCN_CONSTS, "lr_power"),
        citation=_BCN + "Thm 4.10 (finite-K bound from its proof)",
    ),
    Bound(
        id="sc_constant_step",
        fn=sc_constant_step,
        quantity="dist_sq",
        constants=("mu", "sigma_sq", "dist0_sq"),
        optional=(),
        takes_lr=True,
        conditions=(_LR_POS, _LR_CONST, "lr_le_inv_L: η ≤ 1/L"),
        step_checks=_cond_cap("lr_le_inv_L", "L", strict=False),
        condition_constants=("L",),
        citation="derived variance form, theory.md §3(a)",
    ),
    Bound(
        id="nsw_2_1",
        fn=nsw_2_1,
        quantity="dist_sq",
        constants=("mu", "sup_L", "sigma_star_sq", "dist0_sq"),
        optional=(),
        takes_lr=True,
        conditions=(_LR_POS, _LR_CONST, "lr_lt_inv_sup_L: γ < 1/supL"),
        step_checks=_cond_cap("lr_lt_inv_sup_L", "sup_L", strict=True),
        condition_constants=("sup_L",),
        citation="Needell, Srebro & Ward, Stochastic gradient descent, weighted sampling, and "
        "the randomized Kaczmarz algorithm, Math. Prog. 155, 2016, Thm 2.1",
    ),
    Bound(
        id="rakhlin_1t",
        fn=rakhlin_1t,
        quantity="dist_sq",
        alt_quantities=("suboptimality",),
        constants=("mu", "G_sq"),
        optional=("L", "quantity"),
        takes_lr=False,
        conditions=("lr_schedule: η_t = 1/(μ(t+1)) (their 1/(λt)); True when lr is None",),
        step_checks=_cond_rakhlin,
        condition_constants=("mu",),
        citation="Rakhlin, Shamir & Sridharan, Making gradient descent optimal for strongly "
        "convex stochastic optimization, ICML 2012, Lemma 1 and Thm 1",
    ),
    Bound(
        id="convex_averaging",
        fn=convex_averaging,
        quantity="avg_iterate_suboptimality",
        constants=("G_sq", "dist0_sq"),
        optional=(),
        takes_lr=True,
        conditions=(_LR_POS,),
        step_checks=_cond_averaging,
        condition_constants=(),
        citation="derived, theory.md §3(d); cf. Nemirovski, Juditsky, Lan & Shapiro, SIAM J. "
        "Optim. 19(4), 2009, §2.2",
    ),
    Bound(
        id="rr_mkr",
        fn=rr_mkr,
        quantity="dist_sq",
        constants=("n", "mu_min", "dist0_sq", "sup_L", "sigma_star_sq"),
        optional=("sigma_shuffle_sq",),
        takes_lr=True,
        conditions=(_LR_POS, _LR_CONST, "lr_le_inv_sup_L: γ ≤ 1/L (L = sup_L = max_i L_i)"),
        step_checks=_cond_cap("lr_le_inv_sup_L", "sup_L", strict=False),
        condition_constants=("sup_L",),
        citation="Mishchenko, Khaled & Richtárik, Random reshuffling: simple analysis with "
        "vast improvements, NeurIPS 2020 (arXiv 2006.05988); ProxRR Thm 2 with ψ = 0",
    ),
    Bound(
        id="fpc_minibatch",
        fn=fpc_minibatch,
        quantity="noise_sq",
        exact=True,
        constants=("sigma_sq", "n", "b"),
        optional=("replace",),
        takes_lr=False,
        conditions=(),
        step_checks=_cond_none,
        condition_constants=(),
        citation="finite-population correction (standard sampling theory), theory.md §6(a)",
    ),
    Bound(
        id="region_of_confusion",
        fn=region_of_confusion,
        quantity="dist_sq",
        exact=True,
        constants=("a_vec", "b_vec"),
        optional=("b", "x0"),
        takes_lr=True,
        conditions=(
            _LR_POS,
            "lr_constant: η_t = η (needed for the stationary value, x0=None)",
            "lr_stationary: η < 2m2/(m2² + Var(a²)/b) (= 2m2/m4 at b = 1)",
        ),
        step_checks=_cond_region,
        condition_constants=("a_vec", "b_vec", "b"),
        citation="Bertsekas, Reinforcement Learning and Optimal Control, Ex. 3.1.10 (via S. "
        "Sra, MIT 18.065 L25); stationary variance derived, theory.md §5",
    ),
]
BOUNDS: dict[str, Bound] = {entry.id: entry for entry in _ENTRIES}
