"""Conformance tests over every registered sampler, schedule and optimizer, plus grids, I/O
and docstrings."""

import importlib
import inspect
import os
import pkgutil
import stat
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import xarray as xr
from omegaconf import OmegaConf

import sgdlab
from sgdlab.config import SCHEMAS, conf_dir
from sgdlab.grids import log_grid
from sgdlab.io import read_dataset, write_dataset
from sgdlab.optimizers import OPTIMIZERS, make_optimizer
from sgdlab.problems import PROBLEMS
from sgdlab.samplers import SAMPLERS, IndexStream, replicate_rngs
from sgdlab.schedules import SCHEDULES, make_schedule

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_optimizer.py"


def stream(name, n, b, seed=0, R=3, steps=50):
    s = IndexStream(SAMPLERS[name], n, b, replicate_rngs(seed, R), block=17)
    return np.stack([s.next() for _ in range(steps)], axis=1)  # (R, steps, b)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name):
    idx = stream(name, n=10, b=3)
    assert idx.shape == (3, 50, 3) and idx.dtype.kind == "i"
    assert idx.min() >= 0 and idx.max() < 10
    # reproducible: same seed, same stream
    np.testing.assert_array_equal(idx, stream(name, n=10, b=3))
    # replicate r's stream does not depend on R (nor on the block size)
    np.testing.assert_array_equal(idx[:2], stream(name, n=10, b=3, R=2))
    other = IndexStream(SAMPLERS[name], 10, 3, replicate_rngs(0, 5), block=4096)
    np.testing.assert_array_equal(idx, np.stack([other.next() for _ in range(50)], 1)[:3])


@pytest.mark.parametrize("name", ["reshuffle", "shuffle_once", "cyclic"])
def test_without_replacement_visits_every_sample_once_per_epoch(name):
    n, b = 12, 4
    idx = stream(name, n=n, b=b, R=4, steps=30).reshape(4, -1, n)  # (R, epochs, n)
    for row in idx.reshape(-1, n):
        np.testing.assert_array_equal(np.sort(row), np.arange(n))


def test_reshuffle_permutations_differ_between_epochs_and_replicates():
    idx = stream("reshuffle", n=20, b=5, R=2, steps=40).reshape(2, -1, 20)
    assert not np.array_equal(idx[0, 0], idx[0, 1])
    assert not np.array_equal(idx[0, 0], idx[1, 0])
    once = stream("shuffle_once", n=20, b=5, R=2, steps=40).reshape(2, -1, 20)
    assert (once[:, 1:] == once[:, :1]).all()


def test_with_replacement_is_uniform_chi_square():
    n = 10
    idx = stream("with_replacement", n=n, b=8, R=4, steps=500)
    counts = np.bincount(idx.ravel(), minlength=n)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_replicates_are_independent_chi_square():
    n = 5
    idx = stream("with_replacement", n=n, b=1, R=2, steps=5000)[:, :, 0]
    table = np.zeros((n, n))
    np.add.at(table, (idx[0], idx[1]), 1)
    assert scipy.stats.chi2_contingency(table).pvalue > 1e-3


def test_schedules_values():
    t = np.arange(5)
    T = 100
    np.testing.assert_allclose(make_schedule("constant", 0.5, T)(t), 0.5)
    np.testing.assert_allclose(make_schedule("inverse_time", 1.0, T, gamma=1.0)(t), 1 / (t + 1))
    np.testing.assert_allclose(make_schedule("inverse_time", 2.0, T, gamma=4.0)(t), 8 / (4 + t))
    np.testing.assert_allclose(make_schedule("inverse_sqrt", 2.0, T)(t), 2 / np.sqrt(t + 1))
    np.testing.assert_allclose(make_schedule("horizon_sqrt", 2.0, T)(t), 0.2)
    sd = make_schedule("step_decay", 1.0, T, factor=0.5, every=2)
    np.testing.assert_allclose(sd(t), [1, 1, 0.5, 0.5, 0.25])


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_contract(name):
    params = {"inverse_time": {"gamma": 1.0}, "step_decay": {"factor": 0.5, "every": 3},
              "custom": {"fn": f"{EXAMPLE}:cosine"}}  # fmt: skip
    fn = make_schedule(name, 0.3, 50, **params.get(name, {}))
    values = np.asarray(fn(np.arange(50)))
    assert values.shape == (50,) and np.all(values > 0) and np.all(np.diff(values) <= 1e-15)
    assert float(fn(0)) <= 0.3 + 1e-15  # every schedule scales η₀
    assert np.isclose(float(fn(7)), values[7])


OPT_PARAMS = {"momentum": {"beta": 0.5}, "nesterov": {"beta": 0.5}, "svrg": {"inner": 5},
              "adagrad": {"eps": 1e-8}, "rmsprop": {"decay": 0.9, "eps": 1e-8},
              "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
              "custom": {"make": f"{EXAMPLE}:make", "params": {"beta": 0.5}}}  # fmt: skip


@pytest.mark.parametrize(
    "group,table,positional",
    [("optimizer", OPTIMIZERS, ()), ("schedule", SCHEDULES, ("lr", "horizon"))],
)
def test_factories_have_no_defaults_and_take_exactly_the_yaml_keys(group, table, positional):
    """Each default lives only in conf/<group>/<name>.yaml: the factories take every parameter
    as a required keyword, and exactly the keys the YAML sets (besides name and lr)."""
    for name, factory in table.items():
        params = inspect.signature(factory).parameters.values()
        assert [p.name for p in params if p.kind is not p.KEYWORD_ONLY] == list(positional)
        assert all(p.default is p.empty for p in params), name
        yaml = OmegaConf.load(conf_dir() / group / f"{name}.yaml")
        keyword = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
        assert keyword == set(yaml) - {"defaults", "name", "lr"}, name


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_converges_on_parabola(name):
    """Every optimizer, fed exact gradients of f(x) = ½‖x − c‖² (R = 3 replicates), converges."""
    opt = make_optimizer(name, **OPT_PARAMS.get(name, {}))
    c = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]])
    x = np.zeros((3, 2))
    state = opt.init(x)
    lr = {"adagrad": 0.5, "rmsprop": 0.01, "adam": 0.05}.get(name, 0.2)
    for t in range(2000):
        g, state = opt.estimate(
            lambda P: P - np.tile(c, (len(P) // 3, 1)), lambda P: P - c, x, state, t
        )
        x, state = opt.update(g, x, state, lr)
    np.testing.assert_allclose(x, c, atol=0.05)
    assert int(state.count) == 2000  # the state is a NamedTuple with a step count


def test_optimizer_update_equations_one_step():
    g, x = np.array([[2.0]]), np.array([[1.0]])
    lr = 0.1
    assert make_optimizer("sgd").update(g, x, make_optimizer("sgd").init(x), lr)[0] == 0.8
    m = make_optimizer("momentum", beta=0.9)
    x1, s = m.update(g, x, m.init(x), lr)
    x2, _ = m.update(g, x1, s, lr)
    np.testing.assert_allclose(x2, x1 - lr * (0.9 * 2 + 2))
    nv = make_optimizer("nesterov", beta=0.9)
    np.testing.assert_allclose(nv.update(g, x, nv.init(x), lr)[0], 1 - lr * (0.9 * 2 + 2))
    ad = make_optimizer("adam", beta1=0.9, beta2=0.999, eps=1e-8)
    np.testing.assert_allclose(ad.update(g, x, ad.init(x), lr)[0], 1 - lr, rtol=1e-6)
    ag = make_optimizer("adagrad", eps=0.0)
    np.testing.assert_allclose(ag.update(g, x, ag.init(x), lr)[0], 1 - lr)


def test_log_grid():
    np.testing.assert_array_equal(log_grid(10, every=0, geometric=False, num=5), [0, 10])
    np.testing.assert_array_equal(log_grid(10, every=3, geometric=False, num=5), [0, 3, 6, 9, 10])
    geo = log_grid(1000, every=0, geometric=True, num=10)
    assert geo[0] == 0 and geo[-1] == 1000 and np.all(np.diff(geo) > 0)
    assert np.all(np.diff(np.log(geo[1:])) > 0.5)


def test_log_grid_every_wins_over_geometric():
    """``every`` = k > 0 logs every k steps even with ``geometric`` on (the default)."""
    np.testing.assert_array_equal(log_grid(100, every=25, geometric=True, num=5),
                                  [0, 25, 50, 75, 100])  # fmt: skip


def test_public_functions_and_classes_have_their_own_docstring():
    """Every public function, class and method of sgdlab has a docstring of its own (not the
    ``Name(field, ...)`` one that dataclasses and NamedTuples generate)."""
    missing = []
    for info in pkgutil.walk_packages(sgdlab.__path__, "sgdlab."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            members = [(name, obj)]
            if inspect.isclass(obj):
                members += [(f"{name}.{k}", v) for k, v in vars(obj).items()
                            if inspect.isfunction(v) and not k.startswith("_")]  # fmt: skip
            for label, member in members:
                doc = member.__doc__ or ""
                if not doc.strip() or doc.startswith(f"{member.__name__}("):
                    missing.append(f"{module.__name__}.{label}")
    assert missing == []


def test_atomic_write_replaces_and_leaves_no_partial_file(tmp_path, monkeypatch):
    ds = xr.Dataset({"a": ("step", np.arange(3.0))})
    path = write_dataset(ds, tmp_path / "run.nc")
    assert read_dataset(path)["a"].values.tolist() == [0, 1, 2]

    def broken(self, target, *args, **kwargs):
        with open(target, "wb") as fh:
            fh.write(b"truncated")
        raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(xr.Dataset({"a": ("step", np.arange(5.0))}), tmp_path / "run.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]
    monkeypatch.undo()
    assert read_dataset(tmp_path / "run.nc")["a"].size == 3  # the old file, intact
    with pytest.raises(KeyboardInterrupt):
        monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
        write_dataset(ds, tmp_path / "new.nc")
    assert not (tmp_path / "new.nc").exists()


def test_written_dataset_gets_the_umasks_permissions_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_dataset(xr.Dataset({"a": ("step", np.arange(3.0))}), tmp_path / "run.nc")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        path = write_dataset(xr.Dataset({"a": ("step", np.arange(3.0))}), tmp_path / "own.nc")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_each_group_registry_and_its_schemas_name_the_same_options():
    registries = {"problem": PROBLEMS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES,
                  "sampler": SAMPLERS}  # fmt: skip
    for group, table in registries.items():
        assert set(SCHEMAS[group]) == set(table), group


def test_shared_streams_are_apart_from_every_replicate_stream():
    """The Hessian subset's generator must not repeat the x0 draw (default_rng([seed, 1])) or
    any replicate's minibatch or estimation stream."""
    from sgdlab.samplers import ESTIMATES_KEY, replicate_rngs, shared_rng

    def head(rng):
        return tuple(rng.integers(0, 2**62, size=4))

    seen = {head(np.random.default_rng([7, 1]))}
    seen |= {head(r) for r in replicate_rngs(7, 4)}
    seen |= {head(r) for r in replicate_rngs(7, 4, key=ESTIMATES_KEY)}
    shared = {head(shared_rng(7, ESTIMATES_KEY, t)) for t in range(4)}
    assert len(shared) == 4 and not shared & seen
    assert head(shared_rng(7, ESTIMATES_KEY, 0)) == head(shared_rng(7, ESTIMATES_KEY, 0))
