"""The autodiff lecture figures, the step-size figure and the gallery: the numbers they show."""

import numpy as np
import pandas as pd
import pytest

from analysis import autodiff_figures as af
from analysis import plots


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_backprop_graph_has_the_lecture_numbers_on_nodes_and_edges():
    g = af.lecture_graph(2.0, 3.0)
    out = g["nodes"][g["output"]]
    assert out["value"] == 88 and out["adjoint"] == 1
    assert out["tangents"] == (140, 24)  # forward mode: the two passes give the gradient
    x, y = g["nodes"][0], g["nodes"][1]
    assert (x["adjoint"], y["adjoint"]) == (140, 24)  # reverse mode: one pass
    locals_ = sorted(d for _, _, d in g["edges"])
    # ∂c/∂x = 3x² = 12, ∂(3y)/∂y = 3, ∂s/∂x = ∂s/∂(3y) = 1, ∂F/∂c = s = 11, ∂F/∂s = c = 8
    assert locals_ == [1, 1, 3, 8, 11, 12]
    # each adjoint is the sum over outgoing edges of local derivative × the child's adjoint
    adj = {n["index"]: n["adjoint"] for n in g["nodes"]}
    for i in adj:
        if i != g["output"]:
            assert adj[i] == sum(d * adj[b] for a, b, d in g["edges"] if a == i)
    fig, numbers = af.backprop()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "value = 88" in texts and "adjoint = 140" in texts and "= 12" in texts
    assert numbers == {"F": 88, "dF_dx": 140, "dF_dy": 24, "tangents_F": (140, 24)}


def test_forward_vs_reverse_times_both_gradients_and_draws_their_ratio():
    rows = af.gradient_timings([10, 300], repeats=1)
    assert [r["n"] for r in rows] == [10, 300]
    # no timed assertion: both ways give the same gradient (checked inside) and the figure
    # draws both lines and their ratio
    fig = af.forward_vs_reverse(rows)
    left, right = fig.axes
    assert {ln.get_label() for ln in left.lines} >= {"forward mode: n JVPs (one per input)",
                                                     "reverse mode: one pass"}  # fmt: skip
    np.testing.assert_allclose(right.lines[0].get_ydata(), [r["ratio"] for r in rows])


def test_matrix_chain_costs_every_order():
    assert len(af.parenthesizations(0, 3)) == 5 and len(af.parenthesizations(0, 4)) == 14
    fig, n = af.matrix_chain(1000, 1000, 1000)
    assert n["(AB)c"] == 1000 * 1000 * 1000 + 1000 * 1000  # mp(n + 1)
    assert n["A(Bc)"] == 2 * 1000 * 1000  # n(m + p)
    assert n["abcd_orders"] == 5 and n["abcd_optimal"] == 10_500 < n["abcd_worst"]
    assert n["jacobian_reverse"] == n["jacobian_optimal"] < n["jacobian_forward"]
    assert len(fig.axes) == 3


def test_step_size_figure_marks_diverged_steps_and_one_over_L():
    rows = [{"optimizer.lr": lr, "opt": o, "replicate": r, "value": lr * (1 + r),
             "diverged": lr >= 10 and r < 2}
            for lr in (0.1, 1.0, 10.0) for o in ("sgd", "adam") for r in range(4)]  # fmt: skip
    fig = plots.step_size_sweep(pd.DataFrame(rows), quantity="suboptimality", hue="opt",
                                marks={"1/L (exact)": 0.5, "2/L (exact)": 1.0},
                                start=3.0)  # fmt: skip
    ax = fig.axes[0]
    crosses = [ln for ln in ax.lines if ln.get_marker() == "X" and len(ln.get_xdata())]
    assert len(crosses) == 2 and all(list(ln.get_xdata()) == [10.0] for ln in crosses)
    assert sorted(a.get_text() for a in ax.texts) == ["2/4", "2/4"]
    vlines = sorted(ln.get_xdata()[0] for ln in ax.lines if len(set(ln.get_xdata())) == 1
                    and ln.get_linestyle() != "None")  # fmt: skip
    assert vlines == [0.5, 1.0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "1/L (exact) = 0.5" in labels and any("diverged" in t for t in labels)
    assert "value at t = 0: 3" in labels
    # the mean at lr = 10 is over the replicates that did not diverge (values 30 and 40)
    curves = [ln for ln in ax.lines if len(ln.get_xdata()) == 3]
    assert len(curves) == 2
    for ln in curves:
        np.testing.assert_allclose(ln.get_ydata(), [0.25, 2.5, 35.0])


@pytest.mark.slow
def test_quick_gallery_writes_every_figure(tmp_path):
    import gallery

    assert gallery.main(["--quick", "--out", str(tmp_path)]) == 0
    names = {"backprop", "forward_vs_reverse", "matrix_chain", *gallery.EXPERIMENTS}
    assert {p.stem for p in tmp_path.glob("*.png")} == names
    assert all(p.stat().st_size > 10_000 for p in tmp_path.glob("*.png"))
