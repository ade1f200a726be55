"""autodiff.replay: a recorded loss-and-gradient program replayed gives the same bits as
tracing, on every built-in problem and optimizer, and falls back to tracing (or refuses with
a clear error) when the program could change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
import sgdlab
from autodiff import replay
from sgdlab import estimators as est
from sgdlab.runner import prepare

PROBLEMS = ["least_squares", "logistic", "mlp", "mean", "lsq1d"]
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "svrg"]
SOFTMAX = Path(__file__).resolve().parents[1] / "examples" / "softmax_regression.py"
CUSTOM = [
    "problem=custom",
    f"problem.loss={SOFTMAX}:loss",
    f"problem.init={SOFTMAX}:init",
    f"problem.data={SOFTMAX}:blobs",
]


@pytest.fixture
def program_calls(monkeypatch):
    """Counts replayed programs (so a test knows replay was used, not its fallback)."""
    calls = []
    run = replay.Program.__call__

    def counted(self, x, leaves):
        calls.append(1)
        return run(self, x, leaves)

    monkeypatch.setattr(replay.Program, "__call__", counted)
    return calls


def _summed(problem):
    return lambda Z, batch: anp.sum(problem.loss(Z, batch))


@pytest.mark.parametrize("name", PROBLEMS)
def test_replayed_gradient_equals_the_traced_one_bit_for_bit(name, program_calls):
    problem = prepare(sgdlab.compose([f"problem={name}"])).problem
    f = _summed(problem)
    replayed = replay.grad(f, strict=True)
    rng = np.random.default_rng(0)
    for R, b in [(3, 4), (3, 4), (1, 8), (3, 4), (5, 1)]:
        X = rng.standard_normal((R, problem.d))[:, None, :]
        batch = est.gather(problem, rng.integers(0, problem.n, (R, b)))
        np.testing.assert_array_equal(replayed(X, batch), autodiff.grad(f)(X, batch))
        value, _ = replayed.value_and_grad(X, batch)
        assert value == autodiff.value_and_grad(f)(X, batch)[0]
    assert len(replayed.programs) == 3  # one program per shape, reused
    assert len(program_calls) == 10 and not replayed.why_not()


def _run(overrides, monkeypatch, use_replay: bool):
    monkeypatch.setattr(est, "FUSED", False)  # the tape, not a problem's fused gradient
    monkeypatch.setattr(est, "REPLAY", use_replay)
    return sgdlab.run(overrides)


def _assert_replay_equals_tracing(overrides, monkeypatch, program_calls) -> None:
    """The run of ``overrides`` traced, then replayed (which it must do): the iterates, losses
    and gradient noise are the same to the last bit."""
    traced = _run(overrides, monkeypatch, False)
    assert not program_calls
    replayed = _run(overrides, monkeypatch, True)
    assert program_calls, "the run did not replay its minibatch gradients"
    for var in ("x_final", "loss", "noise_sq"):
        np.testing.assert_array_equal(replayed[var].values, traced[var].values, err_msg=var)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("problem", PROBLEMS)
def test_runs_with_replay_equal_runs_with_tracing(problem, optimizer, monkeypatch, program_calls):
    """Every built-in problem and optimizer: the whole run (iterates, losses, gradient noise)
    is the same to the last bit with minibatch gradients replayed or traced."""
    overrides = [
        f"problem={problem}", f"optimizer={optimizer}", "replicates=3", "steps=40",
        "log.estimates.num=0",
    ]  # fmt: skip
    _assert_replay_equals_tracing(overrides, monkeypatch, program_calls)


TWO_LAYER = Path(__file__).resolve().parents[1] / "examples" / "two_layer_net.py"
EXAMPLES = {
    "softmax_regression": CUSTOM,
    "two_layer_net": [
        "problem=custom",
        f"problem.loss={TWO_LAYER}:loss",
        f"problem.init={TWO_LAYER}:init",
        f"problem.data={TWO_LAYER}:spirals",
    ],
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_custom_problem_runs_the_same_with_replay(example, monkeypatch, program_calls):
    """The examples' vmapped losses index with the label (``logits[example["y"]]``): the
    label stays a slot of the program, so they replay, and the run is the same bit for bit."""
    overrides = [*EXAMPLES[example], "replicates=2", "steps=20", "log.estimates.num=0"]
    _assert_replay_equals_tracing(overrides, monkeypatch, program_calls)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_custom_minibatch_programs_equal_tracing_on_new_labels(example, program_calls):
    """The vmapped example losses replayed (strict: no fallback) on minibatches with other
    labels, per-replicate and shared batches, give the traced gradient bit for bit."""
    problem = prepare(sgdlab.compose(EXAMPLES[example])).problem
    f = _summed(problem)
    replayed = replay.grad(f, strict=True)
    rng = np.random.default_rng(3)
    for R, b in [(3, 5), (3, 5), (1, 4), (3, 5)]:
        X = 0.3 * rng.standard_normal((R, problem.d))[:, None, :]
        batch = est.gather(problem, rng.integers(0, problem.n, (R, b)))
        want = autodiff.value_and_grad(f)(X, batch)
        got = replayed.value_and_grad(X, batch)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
    X = 0.3 * rng.standard_normal((3, problem.d))[:, None, :]
    shared = {k: v[None, :6] for k, v in problem.data.items()}
    np.testing.assert_array_equal(replayed(X, shared), autodiff.grad(f)(X, shared))
    assert len(program_calls) == 5 and not replayed.why_not()


def _picked(x, data):
    """Indices read from the data: a plain table, the parameters and a pair of indices."""
    i, j = data["i"], data["j"]
    return anp.sum(anp.take(data["table"], i) * x[i]) + x[j, 1] * x[-1, 0]


def test_indices_from_the_data_are_replayed_not_frozen(program_calls):
    replayed = replay.grad(_picked, strict=True)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 2))
    for i, j in [([0, 4], 1), ([3, 3], -2), ([-1, 2], 4)]:
        data = {"table": rng.standard_normal(5), "i": np.array(i), "j": np.array(j)}
        np.testing.assert_array_equal(replayed(x, data), autodiff.grad(_picked)(x, data))
    assert len(program_calls) == 3
    vmapped = replay.grad(
        lambda x, data: anp.sum(autodiff.vmap(_picked, in_axes=(None, 0))(x, data)), strict=True
    )
    data = {"table": rng.standard_normal((3, 5)), "i": rng.integers(-5, 5, (3, 2))}
    data["j"] = rng.integers(-5, 5, 3)
    for _ in range(2):
        want = autodiff.grad(lambda x: anp.sum(autodiff.vmap(_picked, (None, 0))(x, data)))(x)
        np.testing.assert_array_equal(vmapped(x, data), want)
        data["i"], data["j"] = data["i"][::-1].copy(), -1 - data["j"]
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 5"):
        data["j"] = np.array([0, 5, 1])
        vmapped(x, data)


def _branchy(x, data):
    """A Python branch on a traced value: the program depends on the values."""
    if anp.sum(x) > 0:
        return anp.sum(anp.sin(x) * data["a"])
    return anp.sum(anp.cos(x) * data["a"])


def _masked(x, data):
    """A comparison feeding np.where: its mask would be frozen in a recording."""
    return anp.sum(anp.where(x > 0, x, 0.0) * data["a"])


@pytest.mark.parametrize("f", [_branchy, _masked])
def test_value_dependent_programs_fall_back_to_tracing(f, program_calls):
    replayed = replay.grad(f)
    data = {"a": np.array([1.0, 2.0, 3.0])}
    for x in (np.array([0.5, 1.0, 2.0]), np.array([-0.5, -1.0, 2.0]), np.array([-3.0, 1.0, 0.2])):
        np.testing.assert_array_equal(replayed(x, data), autodiff.grad(f)(x, data))
    assert not program_calls
    (reason,) = replayed.why_not()
    assert "reads a traced value" in reason


def test_strict_refuses_with_the_reason():
    replayed = replay.grad(_branchy, strict=True)
    with pytest.raises(replay.NotReplayable, match="branch, a comparison or unbox"):
        replayed(np.ones(3), {"a": np.ones(3)})


def test_a_new_shape_or_dtype_records_a_new_program(program_calls):
    def f(x, data):
        return anp.sum(anp.tanh(x * data["a"]) ** 2)

    replayed = replay.grad(f, strict=True)
    rng = np.random.default_rng(1)
    cases = [
        (rng.standard_normal(3), {"a": rng.standard_normal(3)}),
        (rng.standard_normal(4), {"a": rng.standard_normal(4)}),
        (rng.standard_normal(3), {"a": rng.standard_normal((2, 3))}),
        (rng.standard_normal(3).astype(np.float32), {"a": rng.standard_normal(3)}),
        (rng.standard_normal(3), {"a": rng.standard_normal(3)}),
    ]
    for x, data in cases:
        np.testing.assert_array_equal(replayed(x, data), autodiff.grad(f)(x, data))
    assert len(replayed.programs) == 4 and len(program_calls) == 5


def test_a_branch_on_shapes_is_replayed_per_shape():
    def f(x, data):
        a = data["a"]
        return anp.sum(x * a) if a.shape[0] == 1 else anp.sum(anp.exp(x) * a)

    replayed = replay.grad(f, strict=True)
    x = np.array([0.1, 0.2])
    for a in (np.ones((1, 2)), np.ones((3, 2)), np.full((1, 2), 2.0)):
        np.testing.assert_array_equal(replayed(x, {"a": a}), autodiff.grad(f)(x, {"a": a}))


def test_inside_another_differentiation_it_traces():
    """A replaying gradient differentiated again (a traced x) gives the traced answer."""

    def f(x, data):
        return anp.sum(anp.sin(x) * data["a"])

    replayed = replay.grad(f)
    data = {"a": np.array([1.0, -2.0])}
    x = np.array([0.3, 0.4])
    second = autodiff.grad(lambda y: anp.sum(replayed(y, data)))(x)
    np.testing.assert_allclose(second, -np.sin(x) * data["a"], rtol=1e-14)
    assert not replayed.programs


def test_an_error_while_recording_leaves_no_watch_behind():
    from autodiff import core

    def bad(x, data):
        raise ZeroDivisionError("inside")

    with pytest.raises(ZeroDivisionError):
        replay.grad(bad)(np.ones(2), {"a": np.ones(2)})
    assert core.replay_watch == -1 and not core.replay_reads
    # and an ordinary gradient afterwards records nothing for replay
    autodiff.grad(lambda x: anp.sum(anp.where(x > 0, x, 0.0)))(np.ones(2))
    assert not core.replay_reads
