"""Optimizers as explicit ``(init, update)`` pairs over replicate-stacked parameters.

Contract (every entry of :data:`OPTIMIZERS` meets it; state is a NamedTuple of arrays, so it
can be inspected and logged):

- ``init(x) -> state`` for parameters x of shape (R, d);
- ``update(g, x, state, lr) -> (x_new, state)`` for a gradient estimate g of shape (R, d) at x
  and the step size η_t = ``lr`` of this step (a float);
- ``estimate(batch_grad, full_grad, x, state, t) -> (g, state)``: the gradient estimate g_t
  the update uses. ``batch_grad(points)`` is the current minibatch's gradient at points (R, d),
  ``full_grad(points)`` the full gradient ∇f. Plain SGD-type methods use g_t = batch_grad(x_t),
  an unbiased estimate of ∇f(x_t) with E‖g_t − ∇f(x_t)‖² = σ²/b under sampling with replacement.

Symbols: η (step size), β (momentum), ε (damping), g_t (stochastic gradient), ∇f (full
gradient). All operations are elementwise over the (R, d) array, so replicates never interact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Array = np.ndarray


class Optimizer(NamedTuple):
    """An optimizer: ``init``, ``update`` and the gradient ``estimate`` it feeds to ``update``."""

    init: Callable[[Array], Any]
    update: Callable[[Array, Array, Any, float], tuple[Array, Any]]
    estimate: Callable[..., tuple[Array, Any]]


def minibatch_estimate(batch_grad, full_grad, x, state, t):
    """g_t = (1/b) Σ_{i∈B_t} ∇f_i(x_t), the plain minibatch gradient."""
    return batch_grad(x), state


class CountState(NamedTuple):
    """SGD's state: the number of updates taken."""

    count: Array


class MomentumState(NamedTuple):
    """Heavy-ball / Nesterov state: update count and velocity v (R, d)."""

    count: Array
    velocity: Array


class AdagradState(NamedTuple):
    """AdaGrad state: update count and the running sum of squared gradients G (R, d)."""

    count: Array
    sum_sq: Array


class RMSPropState(NamedTuple):
    """RMSProp state: update count and the moving average of squared gradients ν (R, d)."""

    count: Array
    nu: Array


class AdamState(NamedTuple):
    """Adam state: update count, first moment m (``mu``) and second moment v (``nu``), (R, d)."""

    count: Array
    mu: Array
    nu: Array


class SVRGState(NamedTuple):
    """SVRG state: update count, snapshot x̃ (R, d) and its full gradient ∇f(x̃) (R, d)."""

    count: Array
    snapshot: Array
    snapshot_grad: Array


def sgd() -> Optimizer:
    """Plain SGD: x_{t+1} = x_t − η_t g_t.

    With η ≤ 1/L and E‖g_t − ∇f‖² ≤ σ², E‖∇f‖² averaged over T steps is at most
    2Δ/(Tη) + Lησ² (theory §1, Thm S2).
    """

    def init(x):
        return CountState(np.zeros((), dtype=np.int64))

    def update(g, x, state, lr):
        return x - lr * g, CountState(state.count + 1)

    return Optimizer(init, update, minibatch_estimate)


def momentum(*, beta: float) -> Optimizer:
    """Heavy ball: v_{t+1} = β v_t + g_t,  x_{t+1} = x_t − η_t v_{t+1}."""

    def init(x):
        return MomentumState(np.zeros((), dtype=np.int64), np.zeros_like(x))

    def update(g, x, state, lr):
        v = beta * state.velocity + g
        return x - lr * v, MomentumState(state.count + 1, v)

    return Optimizer(init, update, minibatch_estimate)


def nesterov(*, beta: float) -> Optimizer:
    """Nesterov momentum (Sutskever form, gradient at x_t):
    v_{t+1} = β v_t + g_t,  x_{t+1} = x_t − η_t (β v_{t+1} + g_t)."""

    def init(x):
        return MomentumState(np.zeros((), dtype=np.int64), np.zeros_like(x))

    def update(g, x, state, lr):
        v = beta * state.velocity + g
        return x - lr * (beta * v + g), MomentumState(state.count + 1, v)

    return Optimizer(init, update, minibatch_estimate)


def adagrad(*, eps: float) -> Optimizer:
    """AdaGrad: G_{t+1} = G_t + g_t²,  x_{t+1} = x_t − η_t g_t / (√G_{t+1} + ε) (per coordinate)."""

    def init(x):
        return AdagradState(np.zeros((), dtype=np.int64), np.zeros_like(x))

    def update(g, x, state, lr):
        s = state.sum_sq + g * g
        return x - lr * g / (np.sqrt(s) + eps), AdagradState(state.count + 1, s)

    return Optimizer(init, update, minibatch_estimate)


def rmsprop(*, decay: float, eps: float) -> Optimizer:
    """RMSProp: ν_{t+1} = ρ ν_t + (1−ρ) g_t²,  x_{t+1} = x_t − η_t g_t / (√ν_{t+1} + ε),
    with ρ = ``decay``."""

    def init(x):
        return RMSPropState(np.zeros((), dtype=np.int64), np.zeros_like(x))

    def update(g, x, state, lr):
        nu = decay * state.nu + (1.0 - decay) * g * g
        return x - lr * g / (np.sqrt(nu) + eps), RMSPropState(state.count + 1, nu)

    return Optimizer(init, update, minibatch_estimate)


def adam(*, beta1: float, beta2: float, eps: float) -> Optimizer:
    """Adam: m_{t+1} = β₁m_t + (1−β₁)g_t,  v_{t+1} = β₂v_t + (1−β₂)g_t²,
    x_{t+1} = x_t − η_t m̂/(√v̂ + ε) with m̂ = m_{t+1}/(1−β₁^{t+1}), v̂ = v_{t+1}/(1−β₂^{t+1})."""

    def init(x):
        return AdamState(np.zeros((), dtype=np.int64), np.zeros_like(x), np.zeros_like(x))

    def update(g, x, state, lr):
        count = state.count + 1
        mu = beta1 * state.mu + (1.0 - beta1) * g
        nu = beta2 * state.nu + (1.0 - beta2) * g * g
        mu_hat = mu / (1.0 - beta1**count)
        nu_hat = nu / (1.0 - beta2**count)
        return x - lr * mu_hat / (np.sqrt(nu_hat) + eps), AdamState(count, mu, nu)

    return Optimizer(init, update, minibatch_estimate)


def svrg(*, inner: int) -> Optimizer:
    """SVRG: every ``inner`` steps take a snapshot x̃ = x_t and its full gradient ∇f(x̃); between
    snapshots use the control-variate estimate g_t = ∇f_B(x_t) − ∇f_B(x̃) + ∇f(x̃) (unbiased,
    with variance → 0 as x_t, x̃ → x*), and step x_{t+1} = x_t − η_t g_t."""

    def init(x):
        return SVRGState(np.zeros((), dtype=np.int64), x.copy(), np.zeros_like(x))

    def estimate(batch_grad, full_grad, x, state, t):
        if t % inner == 0:
            state = SVRGState(state.count, x.copy(), full_grad(x))
        g = batch_grad(np.concatenate([x, state.snapshot]))
        r = x.shape[0]
        return g[:r] - g[r:] + state.snapshot_grad, state

    def update(g, x, state, lr):
        return x - lr * g, state._replace(count=state.count + 1)

    return Optimizer(init, update, estimate)


def custom(*, make: str, params) -> Optimizer:
    """Your own optimizer: ``make`` (``module:function`` or ``path/to/file.py:function``) is
    called with the keyword arguments ``params`` and returns an :class:`Optimizer`, an
    ``(init, update)`` or ``(init, update, estimate)`` tuple, or an object with ``init`` and
    ``update`` (and optionally ``estimate``) attributes, meeting the contract above; without
    ``estimate``, g_t is the minibatch gradient. Checked on a small probe before any work."""
    from .errors import ConfigError
    from .plugins import describe, load_function

    factory = load_function(make, "optimizer.make")
    kwargs = dict(params or {})
    try:
        built = factory(**kwargs)
    except Exception as err:  # noqa: BLE001 - the user's factory failed
        raise ConfigError(f"optimizer.make={make!r} failed: {describe(err)}") from None
    if isinstance(built, tuple) and not isinstance(built, Optimizer) and len(built) in (2, 3):
        parts = tuple(built)
    else:
        parts = tuple(getattr(built, k, None) for k in ("init", "update", "estimate"))
    init, update = parts[0], parts[1]
    estimate = parts[2] if len(parts) > 2 and parts[2] is not None else minibatch_estimate
    if not (callable(init) and callable(update) and callable(estimate)):
        raise ConfigError(
            f"optimizer.make={make!r}: must return (init, update) functions (or an object with "
            f"init and update), got {type(built).__name__}"
        )
    x = np.zeros((2, 3))
    try:
        state = init(x)
        x_new, _ = update(np.ones((2, 3)), x, state, 0.1)
    except Exception as err:  # noqa: BLE001
        raise ConfigError(
            f"optimizer.make={make!r}: init(x) then update(g, x, state, lr) on x of shape (2, 3) "
            f"failed: {describe(err)}"
        ) from None
    if np.shape(x_new) != (2, 3):
        raise ConfigError(
            f"optimizer.make={make!r}: update must return (x_new, state) with x_new of x's shape "
            f"(R, d); got shape {np.shape(x_new)} for x of shape (2, 3)"
        )
    return Optimizer(init, update, estimate)


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "svrg": svrg,
    "custom": custom,
}


def make_optimizer(name: str, **params: Any) -> Optimizer:
    """Build optimizer ``name`` (a key of :data:`OPTIMIZERS`) with its parameters, all required
    (their defaults live in ``conf/optimizer/<name>.yaml`` only)."""
    return OPTIMIZERS[name](**params)
