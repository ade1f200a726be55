"""Checking derivatives against central finite differences."""

from __future__ import annotations

import numpy as np

from .api import jvp, vjp
from .core import shape_of, unbox


class GradientCheckError(AssertionError):
    """A derivative disagrees with finite differences by more than the tolerance."""


def _directional_fd(f, args, i, v, h):
    """Richardson-extrapolated central difference of f along v in argument i: O(h⁴) accurate."""

    def along(s):
        moved = list(args)
        moved[i] = args[i] + s * v
        return np.asarray(unbox(f(*moved)), dtype=np.float64)

    d1 = (along(h) - along(-h)) / (2 * h)
    d2 = (along(h / 2) - along(-h / 2)) / h
    return (4 * d2 - d1) / 3


def check_grad(f, *args, modes=("rev", "fwd"), rtol=1e-6, h=1e-4, seed=0):
    """Compare f's derivatives with central differences; return the max relative error.

    For each argument and a random direction ``v`` (and, for non-scalar ``f``, a
    random output weighting ``u``), compares ``uᵀJv`` from reverse mode (``vjp``)
    and from forward mode (``jvp``) with a Richardson-extrapolated central
    difference of step ``h`` (scaled by the argument's magnitude). The relative
    error is ``|ad − fd| / max(|ad|, |fd|, 1e-10)``. Raises
    :class:`GradientCheckError` naming the argument and the mode when it exceeds
    ``rtol``. Arguments should be float64 arrays away from kinks.
    """
    rng = np.random.default_rng(seed)
    args = tuple(np.asarray(a, dtype=np.float64) if np.ndim(a) else float(a) for a in args)
    out = unbox(f(*args))
    u = rng.standard_normal(shape_of(out))
    worst = 0.0
    for i, x in enumerate(args):
        v = rng.standard_normal(shape_of(x))
        step = h * max(1.0, float(np.max(np.abs(x))) if np.size(x) else 1.0)
        fd = float(np.sum(u * _directional_fd(f, args, i, v, step)))
        for mode in modes:
            if mode == "rev":
                _, vjp_fn = vjp(lambda xi, i=i: f(*args[:i], xi, *args[i + 1 :]), x)
                ad = float(np.sum(unbox(vjp_fn(u[()])[0]) * v))
            elif mode == "fwd":
                _, tangent = jvp(lambda xi, i=i: f(*args[:i], xi, *args[i + 1 :]), (x,), (v[()],))
                ad = float(np.sum(u * unbox(tangent)))
            else:
                raise ValueError(f"check_grad: modes may contain 'rev' and 'fwd', got {mode!r}")
            err = abs(ad - fd) / max(abs(ad), abs(fd), 1e-10)
            if err > rtol:
                raise GradientCheckError(
                    f"{mode}-mode derivative of {getattr(f, '__name__', 'f')} w.r.t. argument "
                    f"{i} is off: autodiff gives {ad:.12g}, central differences {fd:.12g} "
                    f"(relative error {err:.2e} > rtol {rtol:.0e})"
                )
            worst = max(worst, err)
    return worst
