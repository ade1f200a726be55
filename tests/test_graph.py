"""Graph inspection (trace, backward, DOT, PNG) and the lecture demo."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff
import autodiff.numpy as anp
from autodiff.demo import F, main


def test_trace_lists_inputs_then_ops_in_evaluation_order():
    graph = autodiff.trace(F, 2.0, 3.0)
    assert [n.label for n in graph.nodes[:2]] == ["x", "y"]
    assert [n.op for n in graph.nodes] == ["input", "input", "multiply", "add", "power", "multiply"]
    for node in graph.nodes:
        assert all(i < node.index for i in node.inputs)
        assert node.adjoint is None  # not before backward
    assert graph.nodes[graph.output].value == 88


def test_backward_fills_adjoints_that_match_grad():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4))

    def f(x, w):
        return anp.sum(anp.tanh(A @ x) * w)

    x, w = rng.standard_normal(4), rng.standard_normal(3)
    graph = autodiff.trace(f, x, w).backward()
    gx, gw = autodiff.grad(f, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(graph.nodes[0].adjoint, gx)
    np.testing.assert_allclose(graph.nodes[1].adjoint, gw)
    assert "adjoint=array(4,)" in repr(graph)


def test_backward_needs_a_scalar_output():
    with pytest.raises(ValueError, match="scalar output"):
        autodiff.trace(lambda x: x * 2, np.ones(3)).backward()


def test_to_dot_has_every_node_and_edge():
    dot = autodiff.trace(F, 2.0, 3.0).backward().to_dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("[label=") == 6 and dot.count("->") == 6
    assert 'n0 [label="x\\nvalue = 2\\nadjoint = 140"]' in dot


def test_draw_writes_a_png(tmp_path):
    path = tmp_path / "g.png"
    autodiff.trace(F, 2.0, 3.0).backward().draw(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_demo_prints_the_lecture_numbers_and_pass_counts(tmp_path, capsys):
    result = main(["--out", str(tmp_path)])
    assert result == {"F": 88, "dF_dx": 140, "dF_dy": 24, "fwd_passes": 2, "rev_passes": 1}
    out = capsys.readouterr().out
    assert "F = 88   ∂F/∂x = 140   ∂F/∂y = 24" in out
    assert "2,000,000" in out and "1,001,000,000" in out
    assert (tmp_path / "backprop_graph.png").stat().st_size > 10_000
