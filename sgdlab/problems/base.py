"""The problem contract: a finite sum f(x) = (1/n) Σᵢ fᵢ(x) written once as a per-sample loss.

A :class:`Problem` holds

- ``data``: a dict of arrays whose leading dimension is the sample index i (length n);
- ``loss(x, batch) -> (R, m)`` per-sample losses fᵢ, written with ``autodiff.numpy``. ``x`` has
  shape (R, 1, d) (one parameter vector per replicate, shared by its m samples) or (R, m, d)
  (one parameter row per sample, used for per-sample gradients); ``batch`` holds the data
  arrays with leading shape (R, m) or (1, m) (samples shared by all replicates);
- ``x0``: the default initial point, shape (d,);
- ``exact(data) -> Constants``: whatever is known exactly (f*, x*, global L and μ), computed
  with scipy; looked up once per problem through :attr:`Problem.constants`;
- ``floats_per_sample``: an estimate of the float64 numbers one (replicate, sample) pair keeps
  on the autodiff tape, used to chunk full passes under the memory cap;
- ``grad`` (optional): ``grad(x, batch) -> (R, d)``, Σᵢ ∇fᵢ(x_r) over the batch for x of shape
  (R, d), and with ``with_value=True`` the pair (Σᵢ fᵢ(x_r) (R,), that gradient): written
  without the tracer, as the VJP rules of the primitives that ``loss`` records called directly
  in the order the tape runs them, so it gives the same bits as differentiating ``loss``
  (tests/test_fused_grads.py checks every built-in problem). Minibatch steps and full passes
  use it instead of a tape, and Hessian-vector products differentiate it (it is written with
  primitives); None: the tape.
- ``linear`` (optional): a :class:`~sgdlab.problems.linear_model.LinearModel` when
  fᵢ(x) = ℓ(aᵢᵀx) + (λ/2)‖x‖²: the full-data work of the log grid (loss-and-gradient passes,
  Hessian-vector products, per-sample gradients for σ²) then runs on hand-written NumPy
  (equal to the tape's to round-off, not bit for bit); None: the tape.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import autodiff.numpy as anp

from .linear_model import LinearModel

EXACT, BOUND, ESTIMATED = "exact", "bound", "estimated"
"""Provenance of a problem constant: its closed form (or a solve to round-off), a valid
one-sided bound (an upper bound on L, σ², G², M, M_V; a lower bound on μ and f_inf), or an
estimate that certifies nothing (e.g. a local minimum found by L-BFGS on a nonconvex loss)."""


@dataclass(frozen=True)
class Constants:
    """Problem constants that are known exactly or bounded validly; NaN (or None for x*) where
    unknown. ``provenance`` maps each known field name to :data:`EXACT`, :data:`BOUND` or
    :data:`ESTIMATED` (a field missing from it is exact).

    Besides f's own constants, the per-sample ones that NSW and random-reshuffling theorems
    need: ``L_max`` = maxᵢ Lᵢ (each fᵢ is Lᵢ-smooth) and ``mu_min`` = minᵢ μᵢ (each fᵢ is
    μᵢ-strongly convex; 0 when some fᵢ is not strongly convex), and a lower bound ``f_inf``
    ≤ f(x) for every x (0 for the nonnegative losses here).

    The uniform bounds that theorems assume for *every* x (theory erratum 10: they cannot be
    read off a run), all for a single sample (b = 1):

    - ``sigma_sq_bound``: σ²(x) = (1/n) Σᵢ ‖∇fᵢ(x) − ∇f(x)‖² ≤ sigma_sq_bound;
    - ``G_sq_bound``: ‖∇fᵢ(x)‖² ≤ G_sq_bound for every i (so E‖g‖² ≤ G² for any minibatch);
    - ``M``, ``M_V``: BCN Assumption 4.3, σ²(x) ≤ M + M_V ‖∇f(x)‖².
    """

    f_star: float = float("nan")
    x_star: np.ndarray | None = None
    L_global: float = float("nan")
    mu_global: float = float("nan")
    L_max: float = float("nan")
    mu_min: float = float("nan")
    f_inf: float = float("nan")
    sigma_sq_bound: float = float("nan")
    G_sq_bound: float = float("nan")
    M: float = float("nan")
    M_V: float = float("nan")
    provenance: dict = field(default_factory=dict)

    def source(self, name: str) -> str:
        """:data:`EXACT` or :data:`BOUND` for a known constant ``name`` (``f_inf`` is a lower
        bound by definition)."""
        return self.provenance.get(name, BOUND if name == "f_inf" else EXACT)


@dataclass(eq=False)
class Problem:
    """A finite-sum problem (see the module docstring for the contract)."""

    name: str
    data: dict[str, np.ndarray]
    loss: Callable
    x0: np.ndarray
    exact: Callable[[dict[str, np.ndarray]], Constants]
    floats_per_sample: int = 16
    attrs: dict = field(default_factory=dict)
    grad: Callable | None = None
    linear: LinearModel | None = None

    @property
    def n(self) -> int:
        """Number of samples n."""
        return int(next(iter(self.data.values())).shape[0])

    @property
    def d(self) -> int:
        """Number of parameters d."""
        return int(self.x0.shape[0])

    @functools.cached_property
    def constants(self) -> Constants:
        """The exact constants, computed on first use and cached."""
        return self.exact(self.data)

    def subset(self, index: np.ndarray) -> Problem:
        """The same problem on the samples ``index`` only (constants recomputed for it)."""
        return Problem(
            self.name,
            {k: v[index] for k, v in self.data.items()},
            self.loss,
            self.x0,
            self.exact,
            self.floats_per_sample,
            dict(self.attrs),
            self.grad,
            self.linear,
        )


# Replicates per matrix product in a pass over shared samples. A BLAS product's row r depends on
# how many rows the product has (other kernels handle the edge rows, threads split large ones),
# so products of a fixed number of rows keep replicate r's bits the same whatever R and however
# the replicates are chunked. 8 rows: small R pads little (R = 8 on logistic n = 10,000, d = 50:
# passes 1.5-1.9x the one-product time with 8 rows, 2.3x with 16); at R = 32, 8 to 32 rows cost
# the same (measured).
ROW_BLOCK = 8

# A batch whose leading axis has length 1 holds either samples shared by every replicate (a
# full-data pass) or, at R = 1, the one replicate's own minibatch. The shapes are the same but
# the products are not: shared samples run in ROW_BLOCK-row blocks, own samples one product per
# replicate, and replicate r must get the same bits whatever R. Minibatch gradients say which
# through :func:`own_samples`.
_OWN_SAMPLES = contextvars.ContextVar("sgdlab_own_samples", default=False)


class own_samples:
    """Within this ``with`` block, batches with a leading axis of 1 are one replicate's own
    samples (a class, not a generator: it is entered on every minibatch step at R = 1)."""

    __slots__ = ("_token",)

    def __enter__(self):
        self._token = _OWN_SAMPLES.set(True)

    def __exit__(self, *exc_info):
        _OWN_SAMPLES.reset(self._token)


def _shared_samples(x, features) -> bool:
    """Do ``features`` (R or 1, m, d) hold samples shared by the replicates of x (R, 1, d)?"""
    return features.shape[0] == 1 and (x.shape[0] > 1 or not _OWN_SAMPLES.get())


def _in_row_blocks(x, features_t):
    """⟨x_r, aᵢ⟩ (R, m) for x (R, 1, d) and features_t (d, m), as products of exactly
    :data:`ROW_BLOCK` replicates (the last block padded with zero rows)."""
    R, d = x.shape[0], x.shape[-1]
    pad = -R % ROW_BLOCK
    if pad:
        x = anp.concatenate([x, np.zeros((pad, 1, d))])
    out = anp.reshape(anp.matmul(anp.reshape(x, (-1, ROW_BLOCK, d)), features_t), (R + pad, -1))
    return out[:R] if pad else out


def _in_row_blocks_vjp(g, x, features_t):
    """The cotangent of x (R, 1, d) for the cotangent g (R, m) of :func:`_in_row_blocks`, by the
    rules its tape runs, in their order: g padded with zero rows (the slice's rule), cut into
    blocks (reshape's), matmul's rule, then the first R rows (concatenate's)."""
    R, d = x.shape[0], x.shape[-1]
    pad = -R % ROW_BLOCK
    if pad:
        g = anp.concatenate([g, np.zeros((pad, g.shape[-1]))])
    blocks = anp.reshape(g, (-1, ROW_BLOCK, g.shape[-1]))
    out = anp.reshape(anp.matmul.vjps[0](blocks, None, blocks, features_t), (R + pad, 1, d))
    return out[:R] if pad else out


def linear(x, features):
    """Per-sample linear predictor zᵢ = ⟨x, aᵢ⟩, shape (R, m).

    ``x``: (R, 1, d) shared across samples (matrix products) or (R, m, d) per sample
    (a dot product per row); ``features``: (R or 1, m, d), a plain array.
    The replicate-own case is written so that the traced graph stays small (two recorded
    operations each way): on a minibatch step these few calls, not the arithmetic, are most of
    the cost. The shared case (full-data passes) multiplies in blocks of :data:`ROW_BLOCK`.
    """
    if x.shape[-2] == 1 and features.shape[-2] != 1:
        if _shared_samples(x, features):  # shared by all replicates: (B, d)·(d, m) gemms
            return _in_row_blocks(x, features[0].T)
        # each replicate's own samples: R products (1, d)·(d, m)
        if type(x) is np.ndarray:  # a minibatch step: the same kernel without the dispatch
            return np.matmul(x, np.swapaxes(features, -1, -2))[:, 0, :]
        return anp.squeeze(anp.matmul(x, np.swapaxes(features, -1, -2)), axis=-2)
    return anp.vecdot(x, features)


def linear_vjp(g, x, features):
    """The cotangent of x (R, 1, d) for the cotangent g (R, m) of ``linear(x, features)``, i.e.
    Σᵢ gᵢ·aᵢ per replicate, shape (R, 1, d): the VJP rules of the primitives :func:`linear`
    records (reshape or squeeze, then matmul's or vecdot's rule) called in the order the tape
    runs them, on the same operands, so the same bits as differentiating it. Written with
    primitives, so it can itself be differentiated (a Hessian-vector product)."""
    if x.shape[-2] == 1 and features.shape[-2] != 1:
        if _shared_samples(x, features):
            return _in_row_blocks_vjp(g, x, features[0].T)
        if type(g) is np.ndarray and type(x) is np.ndarray:
            # a minibatch step: matmul's rule g·(Fᵀ)ᵀ is g·F, the same kernel on the same
            # memory layout, without the dispatch (tests/test_fused_grads.py checks the bits)
            return np.matmul(g[:, None, :], features)
        rows = anp.reshape(g, (g.shape[0], 1, g.shape[-1]))  # squeeze's rule
        return anp.matmul.vjps[0](rows, None, x, np.swapaxes(features, -1, -2))
    return anp.sum_to(anp.vecdot.vjps[0](g, None, x, features), x.shape)


def half_square(r):
    """½rᵢ² per sample, (R, m), for the residuals r (R, m)."""
    return 0.5 * (r * r)


def half_square_vjp(r):
    """The cotangent of the residuals r (R, m) in Σᵢ ½rᵢ², as the tape of :func:`half_square`
    computes it from the seed cotangent 1: multiply's rules give 0.5, then 0.5·rᵢ once per
    factor, added (that is rᵢ, in the same bits as the tape)."""
    part = (np.ones(r.shape) * 0.5) * r
    return part + part


def l2(x, lam: float):
    """The ridge term (λ/2)‖x‖², shape (R, 1 or m) to broadcast against per-sample losses
    (the number 0 when λ = 0)."""
    return anp.ridge(x, lam=lam) if lam else 0.0


def l2_vjp(m: int, x, lam: float):
    """The cotangent of x (R, 1, d) from :func:`l2` (λ > 0) added to the losses of m samples
    each: the ridge primitive's rule on the seed cotangent 1 of every sample summed over the m
    samples (the broadcast's sum_to: exactly m), as the tape runs it."""
    if type(x) is np.ndarray:  # the rule's (g·λ)·x with g = m, without the dispatch
        return (float(m) * lam) * x
    return anp.ridge.vjps[0](np.full((x.shape[0], 1), float(m)), None, x, lam=lam)


M_V_FACTOR = 1.25  # BCN's M_V as a multiple of its least valid value λ_P (see below)


def least_squares_variance(A: np.ndarray, residual: np.ndarray) -> tuple[float, float, float]:
    """BCN Assumption 4.3 constants ``(M, M_V, sigma_sq_bound)`` of fᵢ(x) = ½(aᵢᵀx − bᵢ)², exact.

    ``A`` (n, d) holds the rows aᵢ; ``residual`` (n,) is ``A x* − b`` at a minimizer x*.

    Derivation. With e = x − x*, Hᵢ = aᵢaᵢᵀ, H = (1/n)ΣHᵢ and gᵢ* = ∇fᵢ(x*) = aᵢrᵢ*, the
    per-sample gradients are gᵢ(x) = Hᵢe + gᵢ* and ∇f(x) = He (Σgᵢ* = n∇f(x*) = 0), so

        σ²(x) = (1/n)Σ‖(Hᵢ − H)e + gᵢ*‖² = eᵀPe + 2eᵀq + σ*²,
        P = (1/n)Σ(Hᵢ − H)²,  q = (1/n)ΣHᵢgᵢ*,  σ*² = (1/n)Σ‖gᵢ*‖²,

    while ‖∇f(x)‖² = eᵀH²e. The bound σ²(x) ≤ M + M_V‖∇f(x)‖² holds for every e iff the
    matrix [[M_V H² − P, −q], [−qᵀ, M − σ*²]] is positive semidefinite. For H ≻ 0 and
    M_V > λ_P := λmax(H⁻¹PH⁻¹) its top-left block is positive definite, and the least valid M
    is the Schur complement bound M = σ*² + qᵀ(M_V H² − P)⁻¹q. M_V trades against M (M → ∞
    as M_V ↓ λ_P when q ≠ 0, M → σ*² as M_V → ∞); we take M_V = :data:`M_V_FACTOR`·λ_P.

    When every Hᵢ equals H (P = 0, hence q = 0: the mean problem, or 1-D data with equal |aᵢ|)
    σ²(x) = σ*² at every x: then M_V = 0 and ``sigma_sq_bound`` = σ*², else NaN (σ² grows
    without bound in x). A singular H with P ≠ 0 has no such constants: all NaN.
    """
    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    g_star = A * residual[:, None]
    sigma_star_sq = float(np.mean(np.sum(g_star**2, axis=1)))
    H = A.T @ A / n
    row_sq = np.sum(A * A, axis=1)
    P = (A.T * row_sq) @ A / n - H @ H  # (1/n)ΣHᵢ² − H², as Hᵢ² = ‖aᵢ‖²Hᵢ
    scale = max(float(np.max(np.abs(H))), 1e-300)
    if float(np.max(np.abs(P))) <= 1e-12 * scale**2:
        return sigma_star_sq, 0.0, sigma_star_sq
    eig, V = np.linalg.eigh(H)
    if eig[0] <= 1e-12 * eig[-1]:
        return float("nan"), float("nan"), float("nan")
    H_inv = (V / eig) @ V.T
    lam_P = float(np.linalg.eigvalsh(H_inv @ P @ H_inv)[-1])
    M_V = M_V_FACTOR * lam_P
    q = A.T @ np.sum(A * g_star, axis=1) / n  # (1/n)Σ aᵢ(aᵢᵀgᵢ*)
    M = sigma_star_sq + float(q @ np.linalg.solve(M_V * H @ H - P, q))
    return M, M_V, float("nan")


def lbfgs_minimum(problem_loss, data, x0: np.ndarray) -> tuple[float, np.ndarray]:
    """Minimize f(x) = mean_i loss(x, data) with scipy's L-BFGS to gradient tolerance 1e-12;
    the gradient comes from ``autodiff``. Returns (f*, x*)."""
    import scipy.optimize

    import autodiff

    batch = {k: v[None] for k, v in data.items()}

    def fun(x):
        value, grad = autodiff.value_and_grad(
            lambda z: anp.mean(problem_loss(anp.reshape(z, (1, 1, z.shape[0])), batch))
        )(x)
        return float(value), np.asarray(grad, dtype=float)

    res = scipy.optimize.minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20000, "maxcor": 30},
    )
    return float(res.fun), np.asarray(res.x, dtype=float)
