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
  on the autodiff tape, used to chunk full passes under the memory cap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import autodiff.numpy as anp


@dataclass(frozen=True)
class Constants:
    """Exactly known problem constants; NaN (or None for x*) where unknown.

    Besides f's own constants, the per-sample ones that NSW and random-reshuffling theorems
    need: ``L_max`` = maxᵢ Lᵢ (each fᵢ is Lᵢ-smooth) and ``mu_min`` = minᵢ μᵢ (each fᵢ is
    μᵢ-strongly convex; 0 when some fᵢ is not strongly convex), and a lower bound ``f_inf``
    ≤ f(x) for every x (0 for the nonnegative losses here).
    """

    f_star: float = float("nan")
    x_star: np.ndarray | None = None
    L_global: float = float("nan")
    mu_global: float = float("nan")
    L_max: float = float("nan")
    mu_min: float = float("nan")
    f_inf: float = float("nan")


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
        )


def linear(x, features):
    """Per-sample linear predictor zᵢ = ⟨x, aᵢ⟩, shape (R, m).

    ``x``: (R, 1, d) shared across samples (one matrix product) or (R, m, d) per sample
    (a dot product per row); ``features``: (R or 1, m, d), a plain array.
    The shared case is written so that the traced graph stays small (two recorded operations
    each way): on a minibatch step these few calls, not the arithmetic, are most of the cost.
    """
    if x.shape[-2] == 1 and features.shape[-2] != 1:
        if features.shape[0] == 1:  # samples shared by all replicates: one (R, d)·(d, m) gemm
            return anp.matmul(anp.reshape(x, (x.shape[0], x.shape[-1])), features[0].T)
        # each replicate's own samples: R products (1, d)·(d, m)
        return anp.squeeze(anp.matmul(x, np.swapaxes(features, -1, -2)), axis=-2)
    return anp.vecdot(x, features)


def l2(x, lam: float):
    """The ridge term (λ/2)‖x‖², shape (R, 1 or m) to broadcast against per-sample losses
    (the number 0 when λ = 0)."""
    return (0.5 * lam) * anp.vecdot(x, x) if lam else 0.0


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
