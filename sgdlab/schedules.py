"""Step-size schedules: plain ``t -> η_t`` functions, all scaling the base step η₀.

Each factory takes the base step size ``lr`` (η₀), the run's horizon ``horizon`` (T, the number
of steps) and the schedule's own parameters (keyword-only and required: their defaults live in
``conf/schedule/<name>.yaml`` only), and returns a function of the iteration number
``t = 0, 1, ...`` (an int or an integer array) giving η_t (a float or a float array).

The table :data:`SCHEDULES` maps the config name (``schedule=<name>``) to its factory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Schedule = Callable[[np.ndarray | int], np.ndarray | float]


def constant(lr: float, horizon: int) -> Schedule:
    """η_t = η₀ for every t."""
    return lambda t: lr * np.ones_like(np.asarray(t, dtype=float))


def inverse_time(lr: float, horizon: int, *, gamma: float) -> Schedule:
    """η_t = η₀·γ/(γ + t); with η₀ = γ = 1 this is 1/(t+1) (Robbins–Monro, BCN Thm 4.7)."""
    return lambda t: lr * gamma / (gamma + np.asarray(t, dtype=float))


def inverse_sqrt(lr: float, horizon: int) -> Schedule:
    """η_t = η₀/√(t+1)."""
    return lambda t: lr / np.sqrt(np.asarray(t, dtype=float) + 1.0)


def horizon_sqrt(lr: float, horizon: int) -> Schedule:
    """η_t = η₀/√T for the run's horizon T, constant in t (the step of Sra's / Ghadimi–Lan's
    theorem, η = c/√T)."""
    value = lr / np.sqrt(max(horizon, 1))
    return lambda t: value * np.ones_like(np.asarray(t, dtype=float))


def step_decay(lr: float, horizon: int, *, factor: float, every: int) -> Schedule:
    """η_t = η₀·factor^⌊t/every⌋: multiply the step by ``factor`` every ``every`` steps."""
    return lambda t: lr * factor ** (np.asarray(t) // every)


def custom(lr: float, horizon: int, *, fn: str) -> Schedule:
    """Your own schedule: η_t = fn(t, lr, horizon) for ``fn`` named by ``module:function`` or
    ``path/to/file.py:function``; t is an int or an integer array (answer of its shape),
    lr = η₀ and horizon = T. Checked on t = 0, 1, 2 before any work (finite, ≥ 0)."""
    from .errors import ConfigError
    from .plugins import describe, load_function

    user = load_function(fn, "schedule.fn")

    def schedule(t):
        return np.asarray(user(np.asarray(t), lr, horizon), dtype=float)

    try:
        probe = schedule(np.arange(3))
    except Exception as err:  # noqa: BLE001 - the user's function failed
        raise ConfigError(f"schedule.fn={fn!r} failed on t = [0, 1, 2]: {describe(err)}") from None
    if probe.shape != (3,) or not np.all(np.isfinite(probe)) or np.any(probe < 0):
        raise ConfigError(
            f"schedule.fn={fn!r}: must return finite step sizes ≥ 0 of t's shape; on t = "
            f"[0, 1, 2] it returned {probe!r}"
        )
    return schedule


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "inverse_time": inverse_time,
    "inverse_sqrt": inverse_sqrt,
    "horizon_sqrt": horizon_sqrt,
    "step_decay": step_decay,
    "custom": custom,
}


def make_schedule(name: str, lr: float, horizon: int, **params: float) -> Schedule:
    """Build the schedule ``name`` (a key of :data:`SCHEDULES`) with base step ``lr``."""
    return SCHEDULES[name](lr, horizon, **params)
