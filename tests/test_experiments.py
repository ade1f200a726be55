"""The lecture experiments (conf/experiment/*.yaml): each one's quantitative outcome, from the
data its config produces, and the figure that shows it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import sgdlab
from analysis import experiments


def _sweep(experiment: str, key: str, values: list, extra=()) -> xr.Dataset:
    """The runs of ``experiment`` over ``key`` = each value, stacked as a one-key sweep."""
    runs = [sgdlab.run([f"experiment={experiment}", f"{key}={v}", *extra]) for v in values]
    keep = [v for v in runs[0].data_vars if all(v in r for r in runs)]
    sweep = xr.concat([r[keep] for r in runs], dim=pd.Index(values, name=key),
                      combine_attrs="override")  # fmt: skip
    sweep.attrs["config"] = runs[0].attrs["config"]
    return sweep


def _sweep_params(experiment: str) -> dict:
    """The sweep an experiment file runs (its ``hydra.sweeper.params``)."""
    from sgdlab.config import conf_dir

    text = (Path(conf_dir()) / "experiment" / f"{experiment}.yaml").read_text()
    return {k: str(v) for k, v in yaml.safe_load(text)["hydra"]["sweeper"]["params"].items()}


@pytest.fixture(scope="module")
def sampling():
    return _sweep("sampling_mean", "sampler", ["with_replacement", "reshuffle"])


def test_sampling_mean_config_is_the_lecture_project():
    cfg = sgdlab.compose(["experiment=sampling_mean"])
    assert cfg.replicates >= 1000 and cfg.problem.n == 100 and cfg.steps == cfg.problem.n
    assert _sweep_params("sampling_mean") == {"sampler": "with_replacement,reshuffle"}
    assert sgdlab.compose(["experiment=lecture_mean"]).replicates == cfg.replicates  # the alias


def test_sampling_mean_is_exactly_zero_at_k_equal_n_without_replacement(sampling):
    N = int(sampling.attrs["n"])
    err = np.abs(sampling["x"].sel(param=0) - sampling["x_star"].sel(param=0))
    without = err.sel(sampler="reshuffle", step=N).values
    # zero in exact arithmetic: what is left is the round-off of 100 running updates (< 1e-14),
    # twelve orders below the with-replacement error at the same k (~3e-2)
    assert np.all(without < 1e-14)
    assert err.sel(sampler="with_replacement", step=N).mean() > 1e-3
    assert np.all(err.sel(sampler="reshuffle", step=N - 1).values > 1e-6)  # but not at k = N-1


def test_sampling_mean_variances_match_their_formulas_at_half_the_population(sampling):
    frame = experiments.sampling_mean_frame(sampling)
    half = frame[frame["k"] == int(sampling.attrs["n"]) // 2].set_index("sampler")
    assert set(half.index) == {"with_replacement", "reshuffle"}
    for _, row in half.iterrows():  # each formula inside its 99% interval of the measured mean
        assert row["low"] <= row["formula"] <= row["high"], row
    # and the two formulas are told apart: their intervals do not overlap
    w, wo = half.loc["with_replacement"], half.loc["reshuffle"]
    assert wo["high"] < w["low"]
    assert wo["formula"] == pytest.approx(w["formula"] * 50 / 99)


def test_sampling_mean_figure_is_log_log_and_marks_the_exact_zero(sampling, tmp_path):
    paths = experiments.experiment_figures(sampling, pd.DataFrame(), ("sampler",), tmp_path)
    assert paths["sampling_mean"].stat().st_size > 10_000
    from analysis import lecture_plots

    fig = lecture_plots.sampling_mean(experiments.sampling_mean_frame(sampling), N=100)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("0 up to round-off" in t for t in labels)
    assert any("σ²/k" in t for t in labels) and any("σ²(N − k)/(k(N − 1))" in t for t in labels)


@pytest.mark.slow
def test_reshuffling_converges_at_a_steeper_rate():
    sweep = _sweep("reshuffling", "sampler", ["with_replacement", "reshuffle"])
    frame = experiments.reshuffling_frame(sweep, ("sampler",))
    assert frame is not None and frame["epoch"].max() == 256
    slopes = {
        s: experiments.fit_slope(g["epoch"], g["mean"], first=8)[0]
        for s, g in frame.groupby("sampler")
    }
    # theory §6(b): with replacement E‖x_K − x*‖² ~ 1/K (slope −1 ± 0.15 here), reshuffled
    # ~ 1/K² (asymptotically; −2.7 over these 256 epochs): steeper by at least 1 in log–log
    assert slopes["with_replacement"] == pytest.approx(-1.0, abs=0.15)
    assert slopes["reshuffle"] < slopes["with_replacement"] - 1.0


@pytest.mark.slow
def test_one_command_runs_the_sampling_experiment_and_draws_its_figure(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sgdlab", "experiment=sampling_mean", "replicates=1000",
         f"hydra.sweep.dir={tmp_path}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "sampling_mean.png").stat().st_size > 10_000
    assert (tmp_path / "0" / "run.nc").exists() and (tmp_path / "1" / "run.nc").exists()


@pytest.fixture(scope="module")
def stopping():
    return sgdlab.run(["experiment=early_stopping"])


def test_early_stopping_counts_patience_in_steps(stopping):
    patience, every = 200, 10  # conf/experiment/early_stopping.yaml
    stopped = stopping["stopped_at"].values
    assert (stopped > 0).mean() >= 0.9  # the model overfits: most replicates stop
    hold = stopping["holdout_loss"]
    for r in np.flatnonzero(stopped >= 0):
        curve = hold.isel(replicate=r).sel(step=slice(0, stopped[r]))
        best_at = int(curve["step"][int(np.argmin(curve.values))])
        # the first log step at least `patience` steps after the best held-out loss
        assert patience <= stopped[r] - best_at < patience + every
    # and stopping helped: the held-out loss at the stop is below that at T without stopping
    assert (
        hold.isel(step=-1).mean()
        < sgdlab.run(["experiment=early_stopping", "early_stopping.patience=100000"])[
            "holdout_loss"
        ]
        .isel(step=-1)
        .mean()
    )


def test_a_stop_at_the_horizon_is_not_early():
    ds = sgdlab.run(["experiment=early_stopping", "steps=300", "early_stopping.patience=300",
                     "replicates=4"])  # fmt: skip
    assert (ds["stopped_at"].values == -1).all() and (ds["status"].values == "done").all()


def test_early_stopping_figure_draws_both_losses_and_every_stop(stopping, tmp_path):
    from analysis import lecture_plots

    data, stops = experiments.early_stopping_frame(stopping)
    assert set(data["split"]) == {"training", "held-out"}
    assert len(stops) == int((stopping["stopped_at"].values >= 0).sum())
    fig = lecture_plots.early_stopping(data, stops, patience=200, steps=1500, replicates=32)
    lines = [ln for ln in fig.axes[0].lines if len(ln.get_xdata())]
    crosses = [ln for ln in lines if ln.get_marker() == "x"]
    assert len(crosses) == 1 and len(crosses[0].get_xdata()) == len(stops)
    paths = experiments.experiment_figures(stopping, pd.DataFrame(), (), tmp_path)
    assert paths["early_stopping"].stat().st_size > 10_000


def test_a_run_without_f_star_draws_its_loss_curve(stopping, tmp_path):
    from analysis import figures

    assert not np.isfinite(stopping["suboptimality"].values).any()  # the mlp: f* unknown
    columns = ["theorem", "step", "quantity", "bound", "status"]
    paths = figures.run_figures(stopping, pd.DataFrame(columns=columns), tmp_path)
    assert paths["loss"].stat().st_size > 10_000


@pytest.mark.slow
def test_sra_theorem_bound_holds_at_every_horizon_and_the_average_falls():
    horizons = [250, 1000, 4000]  # the experiment's sweep (hydra.sweeper.params.steps)
    assert _sweep_params("sra_theorem") == {"steps": ",".join(map(str, horizons))}
    frame = experiments.sra_frame([sgdlab.run(["experiment=sra_theorem", f"steps={T}"])
                                   for T in horizons])  # fmt: skip
    assert frame["T"].tolist() == horizons
    assert (frame["status"] == "holds").all()
    assert (frame["ci_high"] < frame["bound"]).all()  # the bound holds at each T
    assert frame["provenance"].str.contains("conditional on estimated").all()
    assert np.all(np.diff(frame["mean"]) < 0)  # the measured average decreases with T
    # ... and its upper interval end at 4T stays below the lower end at T
    assert np.all(frame["ci_high"].to_numpy()[1:] < frame["ci_low"].to_numpy()[:-1])
    from analysis import lecture_plots

    fig = lecture_plots.sra_theorem(frame, problem="mlp")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("conditional on estimated" in t for t in texts)
    assert "Ghadimi & Lan" in fig.axes[0].get_title()


def test_region_of_confusion_marks_where_held_out_early_stopping_stops(tmp_path):
    from analysis import figures

    ds = sgdlab.run(["experiment=region_of_confusion", "problem.a=null", "problem.b=null",
                     "problem.n=40", "early_stopping.patience=100", "early_stopping.holdout=0.25",
                     "replicates=16", "log.geometric=false", "log.every=5"])  # fmt: skip
    stopped = ds["stopped_at"].values
    assert (stopped >= 0).sum() >= 12  # constant-step SGD stalls in the region: most stop
    lo, hi = ds.attrs["region_of_confusion"]
    x_stop = [float(ds["x"].isel(replicate=r, param=0).sel(step=stopped[r]))
              for r in np.flatnonzero(stopped >= 0)]  # fmt: skip
    assert all(lo <= x <= hi for x in x_stop)  # ... inside the region of confusion
    fig = figures._region(ds)
    crosses = [ln for ln in fig.axes[0].lines if ln.get_marker() == "x"]
    assert len(crosses) == 1 and sorted(crosses[0].get_ydata()) == sorted(x_stop)
