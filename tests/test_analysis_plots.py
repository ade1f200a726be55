"""analysis.plots: each figure is non-empty with the expected number of lines and bands."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from analysis import plots


def _lines(ax):  # drawn lines (seaborn also adds empty proxy lines for its legend)
    return [ln for ln in ax.lines if len(ln.get_xdata())]


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _frame(hue_levels=("0.05", "0.2"), steps=(0, 1, 3, 10, 30, 100, 300), reps=5, key="lr"):
    rng = np.random.default_rng(0)
    rows = [
        {key: h, "replicate": r, "step": t, "epoch": t / 10,
         "value": (1 + t) ** -0.5 * rng.uniform(0.5, 1.5)}
        for h in hue_levels
        for r in range(reps)
        for t in steps
    ]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_convergence_draws_a_band_per_curve_and_a_dashed_bound_per_theorem_and_level():
    data = _frame(("a", "b", "c"))
    bounds = pd.DataFrame(
        [{"lr": h, "theorem": th, "step": t, "bound": 2.0 + k}
         for h in "abc" for k, th in enumerate(("bcn_4_6", "sc_constant_step"))
         for t in (0, 1, 3, 10, 30, 100, 300)]
    )  # fmt: skip
    fig = plots.convergence(data, bounds, quantity="suboptimality", hue="lr")
    ax = fig.axes[0]
    dashed = [ln for ln in _lines(ax) if str(ln.get_gid()).startswith("bound:")]
    solid = [ln for ln in _lines(ax) if ln not in dashed]
    assert len(solid) == 3 and len(dashed) == 3 * 2
    assert len(_bands(ax)) == 3
    colours = {tuple(ln.get_color()) for ln in solid}
    assert {tuple(ln.get_color()) for ln in dashed} == colours  # bounds in the curves' colours
    assert ax.get_xscale() == "log" and ax.get_legend().get_title().get_text() == "lr"
    assert "f(x_t) − f*" in ax.get_ylabel() and ax.get_title()


def test_convergence_without_hue_has_one_curve_and_band():
    fig = plots.convergence(_frame(("x",)).drop(columns="lr"), quantity="dist_sq")
    ax = fig.axes[0]
    assert len(_lines(ax)) == 1 and len(_bands(ax)) == 1


def test_constant_traces_one_panel_per_constant_with_the_used_value(tmp_path):
    base = _frame(("x",)).drop(columns="lr")
    data = pd.concat([base.assign(constant=c) for c in ("L_local", "mu_local", "sigma_sq")])
    fig = plots.constant_traces(data, {"L_local": 2.0, "mu_local": 0.5, "sigma_sq": 1.0})
    assert len(fig.axes) == 3
    for ax in fig.axes:
        drawn = _lines(ax)
        points = [ln for ln in drawn if ln.get_marker() == "o"]
        assert len(points) == 1 and points[0].get_linestyle() == "None"  # points, not a line
        assert len(ax.collections) == 1  # their error bars
        assert len(points[0].get_xdata()) == base["step"].nunique()
        assert sum(ln.get_linestyle() == "--" for ln in ax.lines) == 1
        assert ax.get_ylabel() and ax.get_title()
    path = plots.save(fig, tmp_path / "c.png")
    assert path.stat().st_size > 1000


def test_constant_traces_of_a_sweep_dash_each_jobs_used_value_in_its_colour():
    base = _frame(("a", "b"))
    data = pd.concat([base.assign(constant=c) for c in ("L_local", "sigma_sq")])
    used = {"L_local": {"a": 2.0, "b": 3.0}, "sigma_sq": {"a": 1.0, "b": np.nan}}
    fig = plots.constant_traces(data, used, hue="lr")
    for ax, expected in zip(fig.axes, ({2.0, 3.0}, {1.0}), strict=True):
        dashed = [ln for ln in _lines(ax) if ln.get_linestyle() == "--"]
        assert {ln.get_ydata()[0] for ln in dashed} == expected
        solid = {tuple(ln.get_color()) for ln in _lines(ax) if ln.get_linestyle() != "--"}
        assert {tuple(ln.get_color()) for ln in dashed} <= solid  # in the curves' colours


def test_convergence_says_when_diverged_replicates_are_left_out():
    data = _frame(("x",)).drop(columns="lr")
    data.loc[(data["replicate"] == 2) & (data["step"] >= 30), "value"] = np.inf
    ax = plots.convergence(data, quantity="suboptimality").axes[0]
    notes = [t.get_text() for t in ax.texts]
    assert any("1 diverged replicate(s) left out" in t for t in notes), notes
    assert len(_lines(ax)) == 1 and np.isfinite(_lines(ax)[0].get_ydata()).all()
    two = _frame(("a", "b"))  # replicate 2 of each curve: two replicates, not one
    two.loc[(two["replicate"] == 2) & (two["step"] >= 30), "value"] = np.inf
    ax = plots.convergence(two, quantity="suboptimality", hue="lr").axes[0]
    assert any("2 diverged replicate(s)" in t.get_text() for t in ax.texts)


def test_step_size_sweep_one_curve_per_sampler():
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        [{"optimizer.lr": lr, "sampler": s, "replicate": r, "value": lr * rng.uniform(1, 2)}
         for lr in (0.01, 0.03, 0.1) for s in ("reshuffle", "with_replacement") for r in range(4)]
    )  # fmt: skip
    fig = plots.step_size_sweep(data, quantity="suboptimality", hue="sampler")
    ax = fig.axes[0]
    assert len(_lines(ax)) == 2 and len(_bands(ax)) == 2
    assert ax.get_xscale() == "log" and "η₀" in ax.get_xlabel()
    assert ax.get_legend().get_title().get_text() == "sampler"


def test_replacement_plots_against_epochs_per_sampler():
    data = _frame(("reshuffle", "with_replacement"), key="sampler")
    fig = plots.replacement(data, quantity="dist_sq")
    ax = fig.axes[0]
    assert len(_lines(ax)) == 2 and len(_bands(ax)) == 2 and "epoch" in ax.get_xlabel()


def test_region_of_confusion_paths_mean_band_and_interval():
    rng = np.random.default_rng(2)
    data = pd.DataFrame(
        [{"replicate": r, "step": t, "x": 1 + 3 * 0.8**t + 0.1 * rng.normal()}
         for r in range(12) for t in range(30)]
    )  # fmt: skip
    fig = plots.region_of_confusion(data, lo=0.0, hi=2.0, x_star=1.0, paths=8)
    ax = fig.axes[0]
    assert len(_lines(ax)) == 8 + 1 + 1  # paths, mean, x*
    assert len(_bands(ax)) == 1 and len(ax.patches) == 1  # the CI band, the region


def test_bounds_are_named_with_exact_or_bound_and_coinciding_ones_stay_visible():
    data = _frame(("a",), key="lr").drop(columns="lr")
    bounds = pd.DataFrame([{"theorem": th, "step": t, "bound": 2.0}  # the same values
                           for th in ("nsw_2_1", "region_of_confusion")
                           for t in (1, 10, 100)])  # fmt: skip
    fig = plots.convergence(data, bounds, quantity="dist_sq")
    ax = fig.axes[0]
    texts = [t.get_text().replace("\n", " ") for t in ax.get_legend().get_texts()]
    assert "Needell–Srebro–Ward Thm 2.1 (bound)" in texts
    assert any(t.endswith("(exact)") and "region of confusion" in t for t in texts)
    drawn = [ln for ln in _lines(ax) if str(ln.get_gid()).startswith("bound:")]
    assert len(drawn) == 2 and drawn[0].get_marker() != drawn[1].get_marker()
    # a one-run figure gives each theorem its own colour, and its legend key the same colour
    assert drawn[0].get_color() != drawn[1].get_color()
    keys = ax.get_legend().get_lines()[1:]
    assert [k.get_color() for k in keys] == [ln.get_color() for ln in drawn]
    assert "nsw_2_1" not in " ".join(texts) and "dist_sq" not in ax.get_title()


def test_facets_give_one_visible_panel_per_slice():
    fig, axes = plots.facets(4)
    assert len(axes) == 4 and sum(ax.get_visible() for ax in fig.axes) == 4
    data = pd.DataFrame({"step": [0, 1, 2] * 2, "replicate": [0] * 3 + [1] * 3,
                         "x": [4.0, 2.0, 1.0, 4.0, 1.5, 1.2]})  # fmt: skip
    for k, ax in enumerate(axes):
        plots.region_of_confusion(data, lo=0, hi=2, x_star=1, ax=ax, title=f"job {k}")
    assert [ax.get_title() for ax in axes] == [f"job {k}" for k in range(4)]


def test_a_predicted_rate_is_drawn_as_a_reference_slope():
    data = _frame(("x",)).drop(columns="lr")
    ax = plots.convergence(data, quantity="dist_sq", rate=(1.0, "reference ∝ 1/t")).axes[0]
    ref = [ln for ln in ax.lines if ln.get_gid() == "reference"]
    assert len(ref) == 1
    x, y = ref[0].get_xdata(), ref[0].get_ydata()
    assert np.polyfit(np.log(x), np.log(y), 1)[0] == pytest.approx(-1.0)
    assert "reference ∝ 1/t" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert not [ln for ln in plots.convergence(data, quantity="dist_sq").axes[0].lines
                if ln.get_gid() == "reference"]  # fmt: skip


def test_the_x_axis_can_be_gradient_evaluations_or_wall_time(tmp_path):
    import sgdlab
    from analysis.checks import check_all
    from analysis.figures import run_figures, x_axis

    ds = sgdlab.run(["problem=least_squares", "problem.n=40", "problem.d=3", "optimizer=svrg",
                     "optimizer.lr=0.1", "batch_size=4", "steps=40", "replicates=4",
                     "log.estimates.num=0"])  # fmt: skip
    t = np.array([0, 5, 10, 40])
    # SVRG: 2b per step and a full gradient (n) at each snapshot, every n/b = 10 steps
    np.testing.assert_allclose(x_axis(ds, t, "grad_evals"), t * 8 + np.ceil(t / 10) * 40)
    np.testing.assert_allclose(x_axis(ds, t, "epoch"), t * 4 / 40)
    wall = x_axis(ds, t, "wall_time")
    assert wall[0] == 0 and np.all(np.diff(wall) > 0)
    with pytest.raises(ValueError, match="x axis"):
        x_axis(ds, t, "minutes")
    checks = check_all(ds).checks
    paths = run_figures(ds, checks, tmp_path, x="grad_evals")
    assert any(k.startswith("convergence_") for k in paths)


def test_a_two_key_sweep_shows_every_slice_as_a_panel():
    from analysis.figures import _convergence_facets

    a = _frame(("0.1", "1", "10"), key="lr").assign(sampler="reshuffle")
    b = _frame(("0.1", "1", "10"), key="lr").assign(sampler="with_replacement")
    data = pd.concat([a, b], ignore_index=True)
    fig = _convergence_facets(data, None, ("lr", "sampler"), "suboptimality")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 2  # sampler has the fewest values: one panel each
    assert [ax.get_title().split("= ")[-1] for ax in panels] == ["reshuffle", "with_replacement"]
    for ax in panels:  # every lr in every panel, each in its own colour
        assert len(_lines(ax)) == 3 and len({tuple(ln.get_color()) for ln in _lines(ax)}) == 3
        assert ax.get_legend().get_title().get_text() == "lr"


def test_more_than_ten_curves_get_distinct_colours():
    levels = [str(k) for k in range(24)]
    assert len(set(plots._palette(pd.DataFrame({"h": levels}), "h").values())) == 24


def test_the_legend_label_of_several_swept_keys_also_for_no_rows():
    """A three-key sweep (lr × sampler × seed) whose bounds have no row for one panel."""
    from analysis.figures import _combine

    rows = pd.DataFrame({"sampler": ["cyclic", "reshuffle"], "seed": [0, 1], "v": [1.0, 2.0]})
    assert list(_combine(rows, ("sampler", "seed"), "sampler, seed")["sampler, seed"]) == [
        "cyclic, 0",
        "reshuffle, 1",
    ]
    empty = _combine(rows.iloc[:0], ("sampler", "seed"), "sampler, seed")
    assert list(empty.columns) == ["sampler", "seed", "v", "sampler, seed"] and empty.empty


def test_mean_bands_are_the_t_band_of_every_group():
    """The curves' bands, computed for all groups at once, are t_band of each group (a group
    of one: the mean itself)."""
    data = _frame(reps=5)
    data = pd.concat([data, pd.DataFrame([{"lr": "0.2", "replicate": 0, "step": 1000,
                                           "epoch": 100.0, "value": 0.3}])])  # fmt: skip
    bands = plots.mean_bands(data, ["lr", "step"], "value")
    assert len(bands) == data.groupby(["lr", "step"]).ngroups
    for _, row in bands.iterrows():
        cell = data[(data["lr"] == row["lr"]) & (data["step"] == row["step"])]["value"]
        low, high = plots.t_band(cell)
        np.testing.assert_allclose([row["low"], row["high"]], [low, high], rtol=1e-12)
        assert row["mean"] == pytest.approx(cell.mean(), rel=1e-14)
    single = bands[bands["step"] == 1000].iloc[0]
    assert single["low"] == single["high"] == single["mean"] == 0.3
