"""The cyclic garbage collector is paused while autodiff records and sweeps a tape, and put
back as it was on every exit path (autodiff/collector.py)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp


@pytest.fixture(params=[True, False], ids=["gc-on", "gc-off"])
def collector(request):
    """Run the test with the collector on, then off; restore the test runner's state."""
    was = gc.isenabled()
    (gc.enable if request.param else gc.disable)()
    yield request.param
    (gc.enable if was else gc.disable)()


def _seen_inside(log):
    def f(x):
        log.append(gc.isenabled())
        return anp.sum(anp.tanh(x) ** 2)

    return f


def test_collector_is_off_while_recording_and_restored_after(collector):
    log = []
    f = _seen_inside(log)
    x = np.linspace(-1.0, 1.0, 5)
    autodiff.grad(f)(x)
    autodiff.value_and_grad(f)(x)
    out, vjp_fn = autodiff.vjp(f, x)
    vjp_fn(1.0)
    autodiff.jvp(f, (x,), (x,))
    autodiff.hvp(f, x, x)
    assert log and not any(log)
    assert gc.isenabled() is collector


def test_collector_state_restored_after_an_exception_inside_a_traced_function(collector):
    def bad(x):
        assert not gc.isenabled()
        raise ZeroDivisionError("inside the trace")

    x = np.ones(3)
    for transform in (
        lambda: autodiff.grad(bad)(x),
        lambda: autodiff.vjp(bad, x),
        lambda: autodiff.jvp(bad, (x,), (x,)),
        lambda: autodiff.hvp(bad, x, x),
        lambda: autodiff.grad(lambda y: anp.sum(autodiff.grad(bad)(y)))(x),
    ):
        with pytest.raises(ZeroDivisionError, match="inside the trace"):
            transform()
        assert gc.isenabled() is collector


def test_collector_state_restored_after_an_error_raised_by_autodiff(collector):
    with pytest.raises(ValueError, match="scalar"):
        autodiff.grad(lambda x: x * 2.0)(np.ones(3))
    assert gc.isenabled() is collector


def test_nested_transformations_restore_the_collector(collector):
    log = []

    def f(x):
        log.append(gc.isenabled())
        return anp.sum(anp.sin(x) * x)

    x = np.array([0.3, -0.7])
    inner_grad = autodiff.grad(f)

    def outer(y):
        g = inner_grad(y)
        log.append(gc.isenabled())  # after the inner gradient returned: still paused
        return anp.sum(g * g)

    second = autodiff.grad(outer)(x)
    autodiff.jacobian(autodiff.grad(f), mode="fwd")(x)
    autodiff.jacobian(autodiff.grad(f), mode="rev")(x)
    assert log and not any(log)
    assert gc.isenabled() is collector
    # and the nesting still differentiates correctly
    assert autodiff.check_grad(outer, x) <= 1e-6
    assert np.all(np.isfinite(second))


def test_the_collector_is_on_again_between_gradients():
    """A long run of gradients does not leave the collector off (it is not only restored on
    the last call): its state after each call is the state before."""
    was = gc.isenabled()
    gc.enable()
    try:
        g = autodiff.grad(lambda x: anp.sum(x * x))
        for _ in range(5):
            g(np.ones(2))
            assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
