"""The run API and the dataset: schema, reproducibility, divergence, early stopping, averaging,
problem conformance, and bad input failing before any work."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

import sgdlab
from sgdlab import ConfigError
from sgdlab import estimators as est
from sgdlab.dataset import VARIABLES
from sgdlab.problems import PROBLEMS
from sgdlab.runner import prepare
from sgdlab.validation import check_memory, memory_needed

FAST = ["steps=30", "replicates=3", "log.estimates.num=2", "log.num=5"]
SOFTMAX = Path(__file__).resolve().parents[1] / "examples" / "softmax_regression.py"
SMALL = {
    "mean": ["problem.n=20"],
    "lsq1d": [],
    "least_squares": ["problem.n=40", "problem.d=4"],
    "logistic": ["problem.n=40", "problem.d=3"],
    "mlp": ["problem.n=40", "problem.d=3", "problem.hidden=3"],
    "custom": [
        f"problem.loss={SOFTMAX}:loss",
        f"problem.init={SOFTMAX}:init",
        f"problem.data={SOFTMAX}:blobs",
    ],
}


def test_compose_matches_cli_defaults_and_overrides():
    cfg = sgdlab.compose(["problem=logistic", "sampler=reshuffle", "optimizer.lr=0.05",
                          "replicates=16"])  # fmt: skip
    assert cfg.problem.name == "logistic" and cfg.sampler.name == "reshuffle"
    assert cfg.optimizer.lr == 0.05 and cfg.replicates == 16
    assert {"replicates", "steps", "batch_size", "seed", "log"} <= set(cfg)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_problem_conformance(problem):
    """Every problem: loss shapes in both modes, exact constants consistent with the data."""
    plan = prepare(sgdlab.compose([f"problem={problem}", *SMALL[problem]]))
    prob = plan.problem
    X = np.tile(prob.x0, (2, 1)) + 0.1
    shared = {k: v[None] for k, v in prob.data.items()}
    assert np.asarray(prob.loss(X[:, None, :], shared)).shape == (2, prob.n)
    per = np.repeat(X[:, None, :], prob.n, axis=1)
    np.testing.assert_allclose(prob.loss(per, shared), prob.loss(X[:, None, :], shared))
    c = prob.constants
    if c.x_star is not None:
        from sgdlab.estimators import loss_and_grad

        f, g = loss_and_grad(prob, c.x_star[None], 512)
        np.testing.assert_allclose(f, c.f_star, rtol=1e-10, atol=1e-12)
        assert np.linalg.norm(g) < 1e-6  # x* is stationary
        assert c.mu_global <= c.L_global


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop",
                                       "adam", "svrg"])  # fmt: skip
def test_every_problem_runs_with_every_optimizer(problem, optimizer):
    lr = 0.01 if problem != "mean" else 0.1
    ds = sgdlab.run([f"problem={problem}", *SMALL[problem], f"optimizer={optimizer}",
                     f"optimizer.lr={lr}", "batch_size=2", *FAST])  # fmt: skip
    assert set(ds["status"].values) == {"done"}
    assert np.isfinite(ds["loss"]).all() and np.isfinite(ds["x_final"]).all()
    assert ds["loss"].isel(step=-1).mean() < ds["loss"].isel(step=0).mean()


def test_dataset_schema(tmp_path):
    ds = sgdlab.run(["problem=least_squares", *SMALL["least_squares"], *FAST,
                     "averaging.kind=tail"])  # fmt: skip
    assert set(ds.dims) == {"replicate", "step", "param"}
    assert ds["step"].values[0] == 0 and ds["step"].values[-1] == 30
    assert {"epoch", "estimated"} <= set(ds.coords)
    np.testing.assert_allclose(ds["epoch"], ds["step"] * 8 / 40)
    want = {
        "x",
        "loss",
        "suboptimality",
        "grad_norm_sq",
        "dist_sq",
        "noise_sq",
        "sigma_sq",
        "second_moment",
        "L_local",
        "mu_local",
        "pl_ratio",
        "diverged",
        "lr",
        "x_final",
        "f_star",
        "x_star",
        "L_global",
        "mu_global",
        "status",
        "avg_loss",
        "x_avg_final",
    }
    assert want <= set(ds.data_vars)
    for name, var in ds.data_vars.items():
        assert var.attrs["long_name"] and var.dims == VARIABLES[name][0]
    assert ds["sigma_sq"].attrs["symbol"] == "sigma^2" and ds["lr"].attrs["symbol"] == "eta_t"
    for key in ("config", "overrides", "sgdlab_version", "git_commit", "created",
                "schema_version", "n", "d"):  # fmt: skip
        assert key in ds.attrs
    assert "least_squares" in ds.attrs["config"]
    est = ds.estimated.values
    assert np.isfinite(ds["sigma_sq"].values[:, est]).all()
    assert np.isnan(ds["sigma_sq"].values[:, ~est]).all()  # expensive ones on their own grid
    np.testing.assert_allclose(ds["suboptimality"], ds["loss"] - ds["f_star"])
    sub = ds["suboptimality"].values
    np.testing.assert_allclose(ds["pl_ratio"], ds["grad_norm_sq"] / (2 * sub), rtol=1e-12)
    pl = ds["pl_ratio"].values
    assert np.all((pl >= float(ds.mu_global) - 1e-9) & (pl <= float(ds.L_global) + 1e-9))
    path = sgdlab.write_dataset(ds, tmp_path / "run.nc")
    back = sgdlab.read_dataset(path)
    assert back["diverged"].dtype == bool and list(back["status"].values) == ["done"] * 3
    np.testing.assert_array_equal(back["x"], ds["x"])


def test_x_logged_only_when_d_is_small_and_final_iterate_always():
    ds = sgdlab.run(["problem=least_squares", *SMALL["least_squares"], *FAST,
                     "log.max_params=2"])  # fmt: skip
    assert "x" not in ds and ds["x_final"].shape == (3, 4)


def test_log_grids_every_zero_and_geometric():
    ds = sgdlab.run([*FAST, "log.geometric=false", "log.every=0", "log.estimates.num=0",
                     "log.estimates.geometric=false"])  # fmt: skip
    assert ds["step"].values.tolist() == [0, 30]
    ds = sgdlab.run([*FAST, "log.geometric=false", "log.every=10", "log.estimates.every=0",
                     "log.estimates.num=0", "log.estimates.geometric=false"])  # fmt: skip
    assert ds["step"].values.tolist() == [0, 10, 20, 30]


def test_log_every_wins_over_geometric_on_both_grids():
    ds = sgdlab.run([*FAST, "log.every=10", "log.estimates.every=15"])  # geometric stays true
    assert ds["step"].values.tolist() == [0, 10, 15, 20, 30]
    assert ds["step"].values[ds["estimated"].values].tolist() == [0, 15, 30]


def test_log_disabled_still_logs_x0_and_keeps_the_divergence_baseline():
    """``log.enabled=false`` logs t = 0 and T, so the divergence test compares f(x_T) with f(x₀)
    (the setting of the divergence test below, where some replicates blow up)."""
    over = [
        "problem=lsq1d",
        "problem.a=[1.0,3.0]",
        "problem.b=[0.0,0.0]",
        "optimizer.lr=0.3",
        "batch_size=1",
        "replicates=50",
        "steps=20",
        "divergence_factor=1e4",
        "x0=random",
    ]
    ds = sgdlab.run([*over, "log.enabled=false"])  # fmt: skip
    assert ds["step"].values.tolist() == [0, 20] and not ds["estimated"].values.any()
    x0 = prepare(sgdlab.compose([*over, "log.enabled=false"])).x0[0]
    np.testing.assert_allclose(ds["loss"].isel(step=0), 0.5 * x0**2 * (1 + 9) / 2)
    assert 0 < ds.attrs["n_diverged"] < 50


def test_estimates_of_replicate_r_do_not_depend_on_R():
    """σ² subsamples and Lanczos start vectors come from replicate r's own generator."""
    over = ["problem=least_squares", "problem.n=200", "problem.d=40", "steps=10", "log.num=2",
            "log.estimates.num=2", "log.estimates.lanczos_iters=5",
            "log.estimates.sigma_samples=100"]  # fmt: skip
    two, three = sgdlab.run([*over, "replicates=2"]), sgdlab.run([*over, "replicates=3"])
    assert two["estimated"].values.sum() == 3  # t = 0, 1, 10
    for name in ("L_local", "mu_local", "sigma_sq"):
        np.testing.assert_array_equal(two[name], three[name][:2])
    assert not np.array_equal(two["L_local"][0], two["L_local"][1])  # not a shared draw


def test_bit_identical_and_replicate_r_independent_of_R():
    a = sgdlab.run(["sampler=reshuffle", *FAST, "replicates=3"])
    b = sgdlab.run(["sampler=reshuffle", *FAST, "replicates=3"])
    c = sgdlab.run(["sampler=reshuffle", *FAST, "replicates=5"])
    np.testing.assert_array_equal(a["x_final"], b["x_final"])
    np.testing.assert_array_equal(a["x_final"], c["x_final"][:3])
    np.testing.assert_array_equal(a["loss"], c["loss"][:3])
    d = sgdlab.run(["sampler=reshuffle", *FAST, "replicates=3", "seed=1"])
    assert not np.array_equal(a["x_final"], d["x_final"])


def test_all_replicates_start_at_the_same_point():
    for x0 in ("default", "random"):
        ds = sgdlab.run([*FAST, f"x0={x0}"])
        x = ds["x"].isel(step=0).values
        assert np.all(x == x[0])
    assert np.any(ds["x"].isel(step=0).values != 0)


def test_diverging_replicates_are_frozen_and_flagged():
    """lsq1d with a = (1, 3), b = (0, 0), η = 0.3: a step on sample 1 multiplies x by 0.7, one on
    sample 2 by −1.7, so replicates that draw sample 2 often blow past 1e4·f(x₀) within 20 steps
    and the others do not. Diverged ones are frozen and flagged; the run still finishes."""
    ds = sgdlab.run(["problem=lsq1d", "problem.a=[1.0,3.0]", "problem.b=[0.0,0.0]",
                     "optimizer.lr=0.3", "batch_size=1", "replicates=100", "steps=20",
                     "divergence_factor=1e4", "log.geometric=false", "log.every=1",
                     "log.estimates.num=0"])  # fmt: skip
    status = ds["status"].values
    assert 0 < (status == "diverged").sum() < 50
    bad = np.flatnonzero(status == "diverged")
    r = bad[0]
    t = int(ds["diverged_at"][r])
    assert t > 0
    flags = ds["diverged"].isel(replicate=r).values
    assert not flags[ds.step.values < t].any() and flags[ds.step.values >= t].all()
    frozen = ds["x"].isel(replicate=r, param=0).values[ds.step.values >= t]
    assert np.isfinite(frozen).all() and np.all(frozen == frozen[0])
    good = np.flatnonzero(status == "done")
    assert np.isfinite(ds["loss"].isel(replicate=good)).all()
    assert ds.attrs["n_diverged"] == bad.size


def test_non_finite_iterates_are_frozen_at_last_finite_value():
    ds = sgdlab.run(["problem=least_squares", *SMALL["least_squares"], "optimizer.lr=1e200",
                     "divergence_factor=1e300", *FAST])  # fmt: skip
    assert (ds["status"].values == "diverged").all()
    assert np.isfinite(ds["x_final"]).all()


def test_early_stopping_on_holdout():
    ds = sgdlab.run(["problem=logistic", "problem.n=200", "problem.d=20", "problem.lam=0",
                     "optimizer.lr=0.5", "early_stopping.patience=2", "steps=400",
                     "replicates=4", "log.geometric=false", "log.every=10",
                     "log.estimates.num=0"])  # fmt: skip
    assert ds.attrs["n"] == 160  # 20% held out
    assert "holdout_loss" in ds
    assert (ds["status"].values == "stopped").any()
    r = int(np.flatnonzero(ds["status"].values == "stopped")[0])
    t = int(ds["stopped_at"][r])
    x = ds["x"].isel(replicate=r).sel(step=slice(t, None)).values
    assert np.all(x == x[0])


def test_polyak_ruppert_full_average_is_mean_of_iterates():
    ds = sgdlab.run(["problem=mean", "averaging.kind=full", "batch_size=1", "steps=20",
                     "replicates=2", "log.geometric=false", "log.every=1",
                     "log.estimates.num=0"])  # fmt: skip
    np.testing.assert_allclose(ds["x_avg_final"], ds["x"].mean("step"), rtol=1e-12)
    tail = sgdlab.run(["problem=mean", "averaging.kind=tail", "averaging.tail=0.5",
                       "batch_size=1", "steps=20", "replicates=2", "log.geometric=false",
                       "log.every=1", "log.estimates.num=0"])  # fmt: skip
    np.testing.assert_allclose(tail["x_avg_final"], tail["x"].sel(step=slice(10, 20)).mean("step"))


def test_sigma_subsample_is_recorded_and_close():
    exact = sgdlab.run(["problem=logistic", "problem.n=400", "problem.d=3", *FAST])
    sub = sgdlab.run(["problem=logistic", "problem.n=400", "problem.d=3", *FAST,
                      "log.estimates.sigma_samples=300"])  # fmt: skip
    assert exact.attrs["sigma_sq_samples"] == 400 and sub.attrs["sigma_sq_samples"] == 300
    e = exact["sigma_sq"].isel(step=0).values
    np.testing.assert_allclose(sub["sigma_sq"].isel(step=0), e, rtol=0.5)


def _same_bits(a, b):
    """Every variable of dataset ``a`` equals ``b``'s bit for bit (NaN where NaN)."""
    assert set(a.data_vars) == set(b.data_vars)
    for name, var in a.data_vars.items():
        x, y = var.values, b[name].values
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def test_memory_check_counts_what_the_built_problem_cannot_chunk():
    """The refusal names the memory the run needs beyond the chunked passes (its iterates,
    logged arrays, Lanczos basis, minibatch, data) and the setting that needs most of it."""
    cfg = sgdlab.compose(["problem=mlp", "problem.hidden=50", "replicates=64"])
    prob = prepare(cfg).problem
    terms = memory_needed(cfg, prob)
    need = sum(size for _, _, size, _ in terms)
    assert need > 8 * 64 * prob.d * 12 + sum(v.nbytes for v in prob.data.values())
    check_memory(cfg, prob, total=int(need))  # fits
    with pytest.raises(ConfigError, match=r"^replicates=64: the run needs at least [\d.]+ GiB"):
        check_memory(cfg, prob, total=int(need) - 1)
    with pytest.raises(ConfigError, match=r"^memory_mb=0.1: a full-data pass needs at least"):
        check_memory(OmegaConf.merge(cfg, {"memory_mb": 0.1}), prob, total=int(need))


BLOCKED = {
    "least_squares": ["early_stopping.patience=10"],  # held-out losses: loss_only passes
    "logistic": ["log.estimates.sigma_samples=12", "log.estimates.hessian_samples=20"],
    "mlp": [],
}


@pytest.mark.parametrize("problem", sorted(BLOCKED))
def test_replicate_blocks_and_R_leave_every_variable_unchanged(problem, monkeypatch):
    """A memory_mb so small that every full-data pass goes one replicate at a time gives the
    same bits as one block, and replicate r is the same whatever R."""
    monkeypatch.setattr(est, "CHUNK_BYTES", 2**12)  # several chunks of samples per pass
    args = [f"problem={problem}", *SMALL[problem], *BLOCKED[problem], "steps=30", "log.num=5",
            "log.estimates.num=2", "averaging.kind=full"]  # fmt: skip
    prob = prepare(sgdlab.compose(args)).problem
    R, m_b = 5, est.blocks(prob, 1, prob.n, 512)[1]
    tiny_mb = est.MAX_FACTOR * m_b * prob.floats_per_sample * 8 / 2**20  # the least allowed
    assert m_b < prob.n and est.blocks(prob, R, prob.n, tiny_mb, factor=2)[0] == 1
    one_block = sgdlab.run([*args, f"replicates={R}"])
    assert est.blocks(prob, R, prob.n, 512, factor=est.MAX_FACTOR)[0] == R
    _same_bits(sgdlab.run([*args, f"replicates={R}", f"memory_mb={tiny_mb}"]), one_block)
    _same_bits(sgdlab.run([*args, "replicates=3"]), one_block.isel(replicate=slice(0, 3)))


BAD = [
    (["optimizer.lr=0"], "optimizer.lr"),
    (["optimizer.lr=-0.1"], "optimizer.lr"),
    (["batch_size=501"], "batch_size"),
    (["replicates=0"], "replicates"),
    (["replicates=-3"], "replicates"),
    (["steps=0"], "steps"),
    (["problem=lsq1d", "problem.a=[1.0,nan]", "problem.b=[1.0,2.0]"], "problem.a"),
    (["problem=lsq1d", "problem.a=[1.0,2.0]", "problem.b=[1.0]"], "problem.a"),
    (["problem=lsq1d", "problem.a=[1.0,inf]", "problem.b=[1.0,2.0]"], "problem.a"),
    (["problem=logistic", "problem.data=/nonexistent/file.csv"], "problem.data"),
    (["problem=logistic", "problem.data=digits.txt"], "problem.data"),
    (["problem=lsq1d", "problem.a=[1.0,2.0]", "problem.b=[1.0,-inf]"], "problem.b"),
    (["sampler=sideways"], "sampler"),
    (["optimizer=adam", "optimizer.beta1=1.5"], "optimizer.beta1"),
    (["averaging.kind=some"], "averaging.kind"),
    (["optimizer.lr=abc"], "optimizer.lr"),
]


@pytest.mark.parametrize("overrides,key", BAD)
def test_bad_input_fails_with_one_line_naming_the_key(overrides, key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        sgdlab.run(overrides)
    msg = str(info.value)
    assert key in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []


def _write_csv(path, rows, header="f1,f2,y"):
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def test_data_files_csv_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    csv = _write_csv(tmp_path / "d.csv", np.column_stack([X, y]).tolist())
    npz = tmp_path / "d.npz"
    np.savez(npz, X=X, target=y)
    a = sgdlab.run(["problem=logistic", f"problem.data={csv}", *FAST])
    b = sgdlab.run(["problem=logistic", f"problem.data={npz}", "problem.label=target", *FAST])
    assert a.attrs["n"] == b.attrs["n"] == 30 and a.attrs["d"] == 2
    np.testing.assert_allclose(a["loss"], b["loss"])
    c = sgdlab.run(["problem=mlp", f"problem.data={csv}", "problem.hidden=2", *FAST])
    assert c.attrs["d"] == 2 * 2 + 2 + 2 * 2 + 2


@pytest.mark.parametrize(
    "content,label,fragment",
    [
        ("f1,f2,y\n1,2,0\n3,nan,1\n", "y", "NaN"),
        ("f1,f2,y\n1,2,0\n3,inf,1\n", "y", "NaN or infinite"),
        ("f1,f2,y\n1,2,0\n3,x,1\n", "y", "malformed"),
        ("f1,f2,y\n1,2,0\n3,4\n", "y", "malformed"),
        ("f1,f2,label\n1,2,0\n3,4,1\n", "y", "no label column"),
        ("f1,f2,y\n1,2,0\n3,4,0\n", "y", "at least 2 values"),
        ("f1,f2,y\n1,2,0\n3,4,1\n5,6,2\n", "y", "exactly 2 label values"),
    ],
)
def test_bad_csv_files(tmp_path, content, label, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=fragment) as info:
        sgdlab.run(["problem=logistic", f"problem.data={path}", f"problem.label={label}",
                    "batch_size=1"])  # fmt: skip
    assert "problem.data" in str(info.value) and "\n" not in str(info.value)


def test_bad_npz_files(tmp_path):
    mismatched = tmp_path / "m.npz"
    np.savez(mismatched, X=np.zeros((5, 2)), y=np.arange(4) % 2)
    with pytest.raises(ConfigError, match="lengths must match"):
        sgdlab.run(["problem=logistic", f"problem.data={mismatched}", "batch_size=1"])
    missing = tmp_path / "n.npz"
    np.savez(missing, features=np.zeros((5, 2)))
    with pytest.raises(ConfigError, match="needs arrays"):
        sgdlab.run(["problem=logistic", f"problem.data={missing}", "batch_size=1"])
    broken = tmp_path / "b.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ConfigError, match="not a valid .npz file"):
        sgdlab.run(["problem=logistic", f"problem.data={broken}", "batch_size=1"])
    objects = tmp_path / "o.npz"
    np.savez(objects, X=np.array([None, 1.0], dtype=object), y=np.arange(2))
    with pytest.raises(ConfigError, match="malformed .npz file; needs numeric arrays"):
        sgdlab.run(["problem=logistic", f"problem.data={objects}", "batch_size=1"])


@pytest.mark.parametrize("content,fragment", [("f1,f2,y\n", "no data rows"), ("", "CSV is empty")])
def test_header_only_or_empty_csv_says_so_without_a_warning(tmp_path, content, fragment):
    path = tmp_path / "h.csv"
    path.write_text(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match=fragment):
            sgdlab.run(["problem=logistic", f"problem.data={path}", "batch_size=1"])


def test_sklearn_sources_need_sklearn_or_load():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="scikit-learn"):
            sgdlab.run(["problem=logistic", "problem.data=breast_cancer"])
        return
    ds = sgdlab.run(["problem=logistic", "problem.data=digits", *FAST])
    assert ds.attrs["n"] == 1797 and ds.attrs["d"] == 64


def test_per_sample_constants_are_exact():
    """L_max, mu_min, f_inf and σ*² = σ²(x*) against a brute-force computation on the data."""
    import sgdlab
    from sgdlab.runner import prepare

    over = ["problem.n=40", "problem.d=3", "steps=5", "replicates=2"]
    ds = sgdlab.run(over)
    A, b = (prepare(sgdlab.compose(over)).problem.data[k] for k in ("A", "b"))
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    per_sample = A * (A @ x_star - b)[:, None]  # ∇f_i(x*) = a_i (a_iᵀx* − b_i)
    sigma_star_sq = np.mean(np.sum((per_sample - per_sample.mean(0)) ** 2, axis=1))
    assert float(ds["sigma_star_sq"]) == pytest.approx(sigma_star_sq, rel=1e-9)
    assert float(ds["L_max"]) == pytest.approx(np.max(np.sum(A * A, axis=1)), rel=1e-12)
    assert float(ds["mu_min"]) == 0.0 and float(ds["f_inf"]) == 0.0
    toy = sgdlab.run(["experiment=region_of_confusion", "steps=5", "replicates=2"])
    # theory.md T3: a = (1, 1, 2), b = (0, 2, 2): sup L = 4, min μ_i = 1, σ*² = 2/3
    assert (float(toy["L_max"]), float(toy["mu_min"])) == (4.0, 1.0)
    assert float(toy["sigma_star_sq"]) == pytest.approx(2 / 3, rel=1e-12)
    mlp = sgdlab.run(["problem=mlp", "steps=3", "replicates=2"])
    assert np.isnan(float(mlp["sigma_star_sq"])) and np.isnan(float(mlp["L_max"]))


def test_run_times_its_logging_and_estimates_inside_the_run():
    over = ["problem=least_squares", "problem.n=200", "problem.d=5", "replicates=4", "steps=300"]
    ds = sgdlab.run(over)
    wall, logging, estimates = (
        float(ds.attrs[k]) for k in ("wall_time_s", "logging_time_s", "estimates_time_s")
    )
    assert 0 < estimates < logging < wall
    assert float(sgdlab.run([*over, "log.estimates.num=0"]).attrs["estimates_time_s"]) == 0.0
    off = sgdlab.run([*over, "log.enabled=false"])
    assert float(off.attrs["estimates_time_s"]) == 0.0
    assert 0 < float(off.attrs["logging_time_s"]) < float(off.attrs["wall_time_s"])
