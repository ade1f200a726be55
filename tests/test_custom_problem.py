"""Bring your own problem, optimizer and schedule: examples through the CLI, agreement with
the built-in problems and optimizers, and one-line errors for bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sgdlab
from sgdlab import cli
from sgdlab.problems import make_problem

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHORT = ["replicates=4", "steps=100", "~hydra.callbacks.report"]


def sgdlab_cmd(args, cwd):
    return subprocess.run([sys.executable, "-m", "sgdlab", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def run_dataset(tmp_path, args):
    out = sgdlab_cmd(args, tmp_path)
    assert out.returncode == 0, out.stderr
    (path,) = tmp_path.glob("outputs/*/*/run.nc")
    return sgdlab.read_dataset(path)


def test_softmax_regression_example_runs_through_the_cli(tmp_path):
    ex = EXAMPLES / "softmax_regression.py"
    ds = run_dataset(tmp_path, [
        "problem=custom", f"problem.loss={ex}:loss", f"problem.init={ex}:init",
        f"problem.data={ex}:blobs", "problem.solve=true", "optimizer.lr=0.2", *SHORT,
    ])  # fmt: skip
    sub = ds["suboptimality"].mean("replicate").values
    assert ds.attrs["problem"] == "custom" and np.isfinite(float(ds["f_star"]))
    assert sub[-1] < 0.1 * sub[0] and sub[-1] > -1e-9  # f* from L-BFGS is below every iterate
    assert (
        "L-BFGS-B" in ds.attrs["constants_source"] and "gtol=1e-12" in ds.attrs["constants_source"]
    )
    assert ds.attrs["custom_loss"] == f"{ex}:loss"


@pytest.mark.slow
def test_softmax_regression_on_digits(tmp_path):
    pytest.importorskip("sklearn")
    ex = EXAMPLES / "softmax_regression.py"
    ds = run_dataset(tmp_path, [
        "problem=custom", f"problem.loss={ex}:loss", f"problem.init={ex}:init",
        "problem.data=digits", "problem.solve=true", *SHORT,
    ])  # fmt: skip
    assert ds.sizes["param"] == 650 if "param" in ds.sizes else True
    assert float(ds["loss"].isel(step=-1).mean()) < float(ds["loss"].isel(step=0).mean())


def test_two_layer_net_example_runs_through_the_cli(tmp_path):
    ex = EXAMPLES / "two_layer_net.py"
    ds = run_dataset(tmp_path, [
        "problem=custom", f"problem.loss={ex}:loss", f"problem.init={ex}:init",
        f"problem.data={ex}:spirals", "optimizer=adam", "optimizer.lr=0.05", *SHORT,
    ])  # fmt: skip
    loss = ds["loss"].mean("replicate").values
    assert loss[-1] < 0.85 * loss[0]
    assert not np.isfinite(float(ds["f_star"])) if "f_star" in ds else True


# ------------------------------------------------------- agreement with built-in problems
LOGISTIC = """
import numpy as np

LAM = 0.01

def loss(params, example):
    z = example["x"] @ params["w"]
    return np.logaddexp(0.0, z) - example["y"] * z + 0.5 * LAM * np.sum(params["w"] ** 2)

def init():
    return {"w": np.zeros(5)}

def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    return {"x": X, "y": (rng.random(40) < 0.5).astype(float)}
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write ``source`` as module ``name`` in a folder on the path; returns the writer."""

    def write(name, source):
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return write


def _custom_cfg(**problem):
    return sgdlab.compose(["problem=custom", *(f"problem.{k}={v}" for k, v in problem.items())])


def test_custom_loss_matches_the_built_in_logistic_problem(user_module):
    """The vmapped per-example loss gives the built-in problem's losses and per-sample
    gradients, for shared (R, 1, d) and per-sample (R, m, d) parameters."""
    path = user_module("mylogistic", LOGISTIC)
    cfg = _custom_cfg(loss=f"{path}:loss", init="mylogistic:init", data="mylogistic:data")
    custom = make_problem(cfg.problem)
    data = custom.data
    X, y = data["x"], data["y"]
    builtin = sgdlab.compose(["problem=logistic", "problem.lam=0.01"]).problem
    ref = make_problem(builtin)
    rng = np.random.default_rng(1)
    batch_custom = {"x": X[None, :7], "y": y[None, :7]}
    batch_ref = {"X": X[None, :7], "y": y[None, :7]}
    import autodiff

    for x in (rng.normal(size=(3, 1, 5)), rng.normal(size=(3, 7, 5))):
        np.testing.assert_allclose(custom.loss(x, batch_custom), ref.loss(x, batch_ref), rtol=1e-12)
        g_custom = autodiff.grad(lambda z: autodiff.numpy.sum(custom.loss(z, batch_custom)))(x)
        g_ref = autodiff.grad(lambda z: autodiff.numpy.sum(ref.loss(z, batch_ref)))(x)
        np.testing.assert_allclose(g_custom, g_ref, rtol=1e-12, atol=1e-14)
    # each replicate with its own samples: batch leading shape (R, m)
    x = rng.normal(size=(3, 1, 5))
    own = {"x": np.stack([X[:7], X[7:14], X[14:21]]), "y": np.stack([y[:7], y[7:14], y[14:21]])}
    np.testing.assert_allclose(
        custom.loss(x, own), ref.loss(x, {"X": own["x"], "y": own["y"]}), rtol=1e-12
    )
    # the minibatch gradient replays its recorded program (strict: no fallback), bit for bit
    from autodiff import replay

    summed = lambda z, b: autodiff.numpy.sum(custom.loss(z, b))  # noqa: E731
    replayed = replay.grad(summed, strict=True)
    for x, batch in [(rng.normal(size=(3, 1, 5)), own), (rng.normal(size=(3, 1, 5)), own)]:
        np.testing.assert_array_equal(replayed(x, batch), autodiff.grad(summed)(x, batch))
    x = rng.normal(size=(3, 1, 5))
    np.testing.assert_array_equal(replayed(x, batch_custom), autodiff.grad(summed)(x, batch_custom))


def test_solve_gives_a_stationary_x_star_and_records_how(user_module):
    from sgdlab.estimators import loss_and_grad

    user_module("mylogistic", LOGISTIC)
    cfg = _custom_cfg(loss="mylogistic:loss", init="mylogistic:init", data="mylogistic:data")
    assert not np.isfinite(make_problem(cfg.problem).constants.f_star)  # solve=false: unknown
    cfg = _custom_cfg(
        loss="mylogistic:loss", init="mylogistic:init", data="mylogistic:data", solve="true"
    )
    prob = make_problem(cfg.problem)
    c = prob.constants
    f, g = loss_and_grad(prob, c.x_star[None], 512)
    np.testing.assert_allclose(f, c.f_star, rtol=1e-12)
    assert np.linalg.norm(g) < 1e-8
    assert np.isnan(c.L_global) and np.isnan(c.mu_global)  # never claimed for a custom loss
    assert "gtol=1e-12" in prob.attrs["constants_source"]


def test_custom_optimizer_and_schedule_reproduce_the_built_in_ones(user_module):
    user_module("myopt", """
        import numpy as np
        from typing import NamedTuple

        class State(NamedTuple):
            count: np.ndarray

        def make(scale=1.0):
            def init(x):
                return State(np.zeros((), dtype=np.int64))

            def update(g, x, state, lr):
                return x - scale * lr * g, State(state.count + 1)

            return init, update

        def inverse_time(t, lr, horizon):
            return lr * 10.0 / (10.0 + t)
    """)  # fmt: skip
    common = ["problem=least_squares", "replicates=3", "steps=60", "optimizer.lr=0.02"]
    ref = sgdlab.run([*common, "optimizer=sgd", "schedule=inverse_time", "schedule.gamma=10"])
    mine = sgdlab.run([*common, "optimizer=custom", "optimizer.make=myopt:make",
                       "+optimizer.params.scale=1.0", "schedule=custom",
                       "schedule.fn=myopt:inverse_time"])  # fmt: skip
    np.testing.assert_array_equal(mine["loss"].values, ref["loss"].values)
    half = sgdlab.run([*common, "optimizer=custom", "optimizer.make=myopt:make",
                       "+optimizer.params.scale=0.5"])  # fmt: skip
    assert not np.array_equal(half["loss"].values, ref["loss"].values)


# ------------------------------------------------------------------------- bad input
GOOD = {"loss": "mylogistic:loss", "init": "mylogistic:init", "data": "mylogistic:data"}
BAD_SOURCES = {
    "vector": "import numpy as np\ndef loss(p, ex):\n    return ex['x'] * p['w']\n",
    "median": "import numpy as np\ndef loss(p, ex):\n    return np.median(ex['x'] * p['w'])\n",
    "shapes": (
        "import numpy as np\ndef loss(p, ex):\n    return np.sum(ex['x'] @ np.ones((3, 2)))\n"
    ),
    "intinit": "import numpy as np\ndef init():\n    return {'w': np.arange(5)}\n",
    "strinit": "def init():\n    return {'w': [0.0, 'a']}\n",
    "broken": "import numpy as np\nraise RuntimeError('broken module')\n",
    "baddata": "def data():\n    return [1, 2, 3]\n",
    "raggeddata": (
        "import numpy as np\ndef data():\n    return {'x': np.ones((4, 5)), 'y': np.ones(3)}"
    ),
    "badopt": "def make():\n    return 42\n",
    "shapeopt": "def make():\n    return (lambda x: None, lambda g, x, s, lr: (x[0], s))\n",
    "negsched": "def fn(t, lr, horizon):\n    return -lr + 0 * t\n",
}
BAD = [
    ({"loss": "vector:loss"}, [], "must return a scalar"),
    ({"loss": "median:loss"}, [], "numpy.median has no derivative rule"),
    ({"loss": "median:loss"}, [], "median.py:3"),
    ({"loss": "shapes:loss"}, [], "shapes.py:3"),
    ({"loss": "nosuchmodule:loss"}, [], "importing nosuchmodule failed: ModuleNotFoundError"),
    ({"loss": "mylogistic:nosuch"}, [], "has no attribute 'nosuch'"),
    ({"loss": "just_a_name"}, [], "write module:function"),
    ({"loss": "broken:loss"}, [], "RuntimeError: broken module"),
    ({"loss": "missing/file.py:loss"}, [], "not found"),
    ({"init": "intinit:init"}, [], "parameters['w'] has dtype int64"),
    ({"init": "strinit:init"}, [], "parameters['w'][1] is a str"),
    ({"data": "baddata:data"}, [], "must return a dict of arrays"),
    ({"data": "raggeddata:data"}, [], "leading (sample) dimension"),
    ({"data": "nosuchset"}, [], "scikit-learn data set"),
    ({}, ["optimizer=custom", "optimizer.make=badopt:make"], "must return (init, update)"),
    ({}, ["optimizer=custom", "optimizer.make=shapeopt:make"], "x_new of x's shape"),
    ({}, ["schedule=custom", "schedule.fn=negsched:fn"], "finite step sizes ≥ 0"),
    ({"loss": "???"}, [], "problem.loss='???': needs a value"),
]


@pytest.mark.parametrize("problem, extra, fragment", BAD)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    problem, extra, fragment, user_module, monkeypatch, capsys, tmp_path
):
    user_module("mylogistic", LOGISTIC)
    for name, source in BAD_SOURCES.items():
        user_module(name, source)
    before = sorted(p.name for p in tmp_path.iterdir())
    keys = {**GOOD, **problem}
    args = ["problem=custom", *(f"problem.{k}={v}" for k, v in keys.items()), *extra]
    monkeypatch.setattr(sys, "argv", ["sgdlab", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sgdlab: error: "), err
    assert fragment in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".pyc") == before


def test_csv_and_npz_data_give_x_and_y_examples(user_module, tmp_path):
    """CSV (label column y) and NPZ (arrays X and y) data: examples {"x", "y"}, x
    standardized, integer labels usable as indices."""
    user_module("pick", """
        import numpy as np

        def loss(params, example):
            return np.sum((example["x"] - params["c"][example["y"]]) ** 2)

        def init():
            return {"c": np.zeros((3, 2))}
    """)  # fmt: skip
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)) * [1.0, 10.0] + 5.0, rng.integers(0, 3, 30)
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y, strict=True)))
    np.savez(tmp_path / "d.npz", X=X, y=y)
    for source in (csv, tmp_path / "d.npz"):
        prob = make_problem(_custom_cfg(loss="pick:loss", init="pick:init", data=source).problem)
        Z = (X - X.mean(0)) / X.std(0)
        np.testing.assert_allclose(prob.data["x"], Z, atol=1e-12)
        assert prob.data["y"].dtype.kind == "i" and prob.data["y"].tolist() == y.tolist()
        x = rng.normal(size=(2, 1, 6))
        got = prob.loss(x, {k: v[None] for k, v in prob.data.items()})
        want = [((Z - x[r, 0].reshape(3, 2)[y]) ** 2).sum(1) for r in range(2)]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_solved_custom_f_star_is_an_estimate_that_no_theorem_takes_for_granted(user_module):
    """L-BFGS finds a local minimum of an arbitrary loss: f* and x* are recorded as estimated,
    so Δ comes from the lower bound f_inf (none here) and the theorems that need f* or x* do
    not apply unless estimated constants are allowed (and then say so)."""
    from analysis import check_all

    user_module("mylogistic", LOGISTIC)
    ds = sgdlab.run(["problem=custom", "problem.loss=mylogistic:loss",
                     "problem.init=mylogistic:init", "problem.data=mylogistic:data",
                     "problem.solve=true", "steps=40", "replicates=4"])  # fmt: skip
    assert "f_star: estimated" in ds.attrs["provenance"]
    result = check_all(ds)
    s = result.summary.set_index("theorem")
    assert s.loc["nsw_2_1", "status"] == "not_applicable"
    assert "numerical local solution" in s.loc["nsw_2_1", "reason"]
    allowed = check_all(ds, estimated="allow").constants
    row = allowed.query("theorem == 'nsw_2_1' and constant == 'dist0_sq'").iloc[0]
    assert row["provenance"] == "estimated"
