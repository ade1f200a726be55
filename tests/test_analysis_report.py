"""analysis.report: the single-run report, and the sgdlab-report command (run and sweep)."""

import dataclasses
import warnings

import pandas as pd
import pytest
from test_analysis_collect import _fake_sweep

import sgdlab
from analysis import report, write_run_report
from analysis.bounds import BOUNDS
from analysis.checks import COVERAGE_ALL, COVERAGE_NONE, COVERAGE_PREFIX
from analysis.report import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    ds = sgdlab.run(["problem.n=40", "problem.d=3", "steps=30", "replicates=8"])
    sgdlab.write_dataset(ds, root / "run.nc")
    return root


def test_write_run_report_writes_tables_figures_and_a_self_contained_page(run_dir, tmp_path):
    ds = sgdlab.read_dataset(run_dir / "run.nc")
    paths = write_run_report(ds, tmp_path)
    for name in ("checks", "constants", "assumptions", "summary", "report_md", "report_html",
                 "convergence_suboptimality", "constant_traces"):  # fmt: skip
        assert paths[name].exists() and paths[name].stat().st_size > 0, name
    assert paths["convergence_suboptimality"].suffix == ".png"
    page = paths["report_html"].read_text()
    assert page.count("data:image/png;base64,") == sum(p.suffix == ".png" for p in paths.values())
    assert "src='convergence" not in page  # nothing outside the file
    md = paths["report_md"].read_text()
    assert "least_squares" in md and "sgd" in md and "with_replacement" in md
    for theorem in BOUNDS:
        assert theorem in md
    assert "## Assumption checks" in md and "lr_cap" in md


def test_cli_exit_status_follows_strict_and_violations(run_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "run_figures", lambda *a, **k: {})  # figures: tested above
    assert main([str(run_dir), "--strict", "--out", str(tmp_path / "b")]) == 0
    for name in ("bcn_4_6", "sc_constant_step"):
        bound = BOUNDS[name]
        broken = dataclasses.replace(bound, fn=lambda s, bound=bound, **kw: 0.1 * bound.fn(s, **kw))
        monkeypatch.setitem(BOUNDS, name, broken)
    assert main([str(run_dir), "--out", str(tmp_path / "c")]) == 0
    assert main([str(run_dir), "--strict", "--out", str(tmp_path / "d")]) == 1
    summary = pd.read_csv(tmp_path / "d" / "summary.csv").set_index("theorem")
    assert summary.loc["bcn_4_6", "status"] == "violated"
    assert summary.loc["sc_constant_step", "status"] == "not_applicable"  # σ² not certified
    assert "bcn_4_6: violated" in capsys.readouterr().out
    # a violation that rests on estimated constants is shown, but --strict does not fail on it
    monkeypatch.setitem(BOUNDS, "bcn_4_6", dataclasses.replace(BOUNDS["bcn_4_8"], id="bcn_4_6"))
    out = tmp_path / "e"
    assert main([str(run_dir), "--strict", "--allow-estimated", "--out", str(out)]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index("theorem")
    assert summary.loc["sc_constant_step", "status"] == "violated"
    assert summary.loc["sc_constant_step", "constants_provenance"].startswith("conditional")
    assert "Conditional on constants estimated" in capsys.readouterr().out
    assert main([str(tmp_path / "nothing-here")]) == 2


@pytest.mark.slow
def test_cli_on_a_multirun_directory_collects_and_reports(tmp_path):
    sweep_dir = _fake_sweep(tmp_path / "multi")
    assert main([str(sweep_dir), "--strict"]) == 0
    for name in ("sweep.nc", "checks.csv", "summary.csv", "report.md", "report.html",
                 "step_size_sweep.png", "replacement.png", "replacement_2.png"):  # fmt: skip
        assert (sweep_dir / name).stat().st_size > 0, name  # every slice of the sweep drawn
    summary = pd.read_csv(sweep_dir / "summary.csv")
    assert list(summary.columns[:3]) == ["sampler", "optimizer.lr", "theorem"]
    assert len(summary) == 4 * len(BOUNDS)
    assert main([str(sweep_dir / "sweep.nc"), "--out", str(tmp_path / "again")]) == 0


def test_cli_on_a_sweep_of_one_job(tmp_path):
    """``sgdlab -m`` without a swept key is a sweep of one job: its report uses that job's
    config (the merged sweep has none of its own)."""
    job = tmp_path / "one" / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- steps=20\n")
    (job / ".hydra" / "config.yaml").write_text("output: run.nc\n")
    sgdlab.write_dataset(sgdlab.run(["problem.n=40", "problem.d=3", "steps=20"]), job / "run.nc")
    assert main([str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / "report.html").stat().st_size > 0


def test_verdict_states_the_family_wise_level_in_plain_words():
    summary = pd.DataFrame(
        {"theorem": ["a", "b", "c"], "status": ["holds", "holds", "not_applicable"],
         "coverage": [COVERAGE_ALL, COVERAGE_PREFIX, COVERAGE_NONE],
         "constants_provenance": ["certified (exact)", "conditional on estimated L", ""]}
    )  # fmt: skip
    text = report.verdict(summary, alpha=0.025, divergence="2/8 replicates diverged")
    assert text.startswith("Verdict: 2 holds, 1 not_applicable.")
    assert "at most a 0.025 chance of a false alarm over all checkpoints and theorems" in text
    assert "0.05" not in text
    assert "Conditional on constants estimated from the run, not certified: b." in text
    assert "(early steps): b." in text
    assert text.endswith("2/8 replicates diverged.")


@pytest.mark.parametrize("alpha", ["0", "1", "2", "-0.5", "nan", "abc"])
def test_report_refuses_an_alpha_outside_0_1(run_dir, tmp_path, alpha, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(run_dir), "--alpha", alpha, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--alpha" in err and "strictly between 0 and 1" in err
    assert not list(tmp_path.iterdir())  # nothing written
    with pytest.raises(ValueError, match="alpha must be"):
        write_run_report(sgdlab.read_dataset(run_dir / "run.nc"), tmp_path, alpha=0.0)
    assert not list(tmp_path.iterdir())


def test_report_uses_alpha_and_shows_partial_coverage(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "run_figures", lambda *a, **k: {})  # figures: tested above
    ds = sgdlab.run(["problem.n=40", "problem.d=3", "steps=30", "replicates=8",
                     "log.running_average=false"])  # fmt: skip
    sgdlab.write_dataset(ds, tmp_path / "run.nc")
    assert main([str(tmp_path), "--alpha", "0.01"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    md = (tmp_path / "report.md").read_text()
    for text in (line, md):
        assert "at most a 0.01 chance" in text and "0.05 chance" not in text
        # no running sums on the geometric grid: running averages exist on a prefix only
        prefix = text.split("Checked only on the dense prefix of the log grid")[1]
        assert all(t in prefix for t in ("bcn_4_8", "bcn_4_10"))
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("theorem")
    assert summary.loc["bcn_4_8", "coverage"] == COVERAGE_PREFIX
    assert "| coverage |" in md and COVERAGE_PREFIX in md


def test_report_of_a_run_where_every_replicate_diverged(tmp_path):
    """Every value is ±inf or huge: the dataset's report is still written (figures say there is
    nothing finite to draw), without warnings."""
    ds = sgdlab.run(["optimizer.lr=1e300", "replicates=4", "steps=50", "problem.n=40",
                     "problem.d=3"])  # fmt: skip
    assert bool(ds["diverged"].isel(step=-1).all())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = write_run_report(ds, tmp_path)
    assert paths["report_html"].stat().st_size > 0
    assert "diverged by step" in paths["verdict"].read_text()  # the step was too large
    assert "is too large" in paths["report_md"].read_text()


def test_report_finds_a_run_written_under_another_output_name(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "run_figures", lambda *a, **k: {})  # figures: tested above
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("output: other.nc\n")
    ds = sgdlab.run(["replicates=2", "steps=10", "output=other.nc"])
    sgdlab.write_dataset(ds, tmp_path / "other.nc")
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "report.md").is_file()


def test_report_reads_for_a_newcomer(run_dir, tmp_path):
    import re

    from analysis.bounds import BOUNDS as B

    ds = sgdlab.read_dataset(run_dir / "run.nc")
    paths = write_run_report(ds, tmp_path)
    page = paths["report_html"].read_text()
    # the verdict in plain words comes first, the statistics last
    plain = page.index("class='verdict'")
    assert plain < page.index("<nav>") < page.index("id='figures'")
    assert page.index("id='theorems'") < page.index("id='statistical-details'")
    assert page.index("Bonferroni") > page.index("id='statistical-details'")
    assert "The measurements agree with" in page[plain : page.index("<nav>")]
    # every contents link points at a section of the page
    links = re.findall(r"<a href='#([^']+)'>", page)
    ids = set(re.findall(r"<h2 id='([^']+)'>", page))
    assert links and set(links) == ids
    # each figure has a caption; theorems by name with their citation and formula
    assert page.count("<figure>") == page.count("<figcaption>") >= 2
    summary = pd.read_csv(paths["summary"])
    held = summary.loc[summary["status"] == "holds", "theorem"]
    assert len(held)
    theorems = page[page.index("id='theorems'") : page.index("id='theorems-that-do-not-apply'")]
    for th in held:
        assert html_escape(B[th].citation) in theorems
    assert "≤" in theorems  # a formula
    assert "bcn_4_6" not in page[: page.index("id='statistical-details'")]  # names, not ids
    # tables cannot push the page wider than its column
    assert "class='wide'" in page and "max-width:1180px" in page


def html_escape(text):
    import html

    return html.escape(text)


def test_report_md_escapes_raw_html_from_config_strings(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "run_figures", lambda *a, **k: {})  # figures: tested above
    ds = sgdlab.run(["problem.n=40", "problem.d=3", "steps=10", "replicates=2"])
    ds.attrs["overrides"] = "- problem.data=<script>alert(1)</script>\n"
    paths = write_run_report(ds, tmp_path)
    md = paths["report_md"].read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "<script>" not in paths["report_html"].read_text()


def test_report_x_axis_is_chosen_on_the_command_line(run_dir, tmp_path, monkeypatch, capsys):
    seen = {}

    def figures(ds, checks, out_dir, x="step"):
        seen["x"] = x
        return {}

    monkeypatch.setattr(report, "run_figures", figures)
    assert main([str(run_dir), "--x", "epoch", "--out", str(tmp_path / "a")]) == 0
    assert seen["x"] == "epoch"
    with pytest.raises(SystemExit) as info:
        main([str(run_dir), "--x", "minutes", "--out", str(tmp_path / "b")])
    assert info.value.code == 2 and "--x" in capsys.readouterr().err
