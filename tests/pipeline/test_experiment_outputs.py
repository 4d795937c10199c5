"""Figures and tables come from the stored results only; ``reproduce`` reruns every spec
and fails on any difference from the reference tables beyond floating-point noise."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pytest
from experiment_specs import ALL_FIGURES, write_spec

import sim.pipeline.tasks
from sim.commands.cli import main
from sim.pipeline.results import StoredResults

FIGURE_STEMS = ("wait_ecdf", "hour_of_week_heatmap", "staffing_response", "cost_frontier")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny experiment with every kind of figure, its tables written by `experiment`
    and its figures drawn by `plot` while the model is unavailable: figures come from
    the stored tables only."""
    folder = tmp_path_factory.mktemp("figures")
    spec = write_spec(folder, figures=ALL_FIGURES)
    out = folder / "out"
    args = ["experiment", str(spec), "--out", str(out), "--jobs", "1", "--no-figures"]
    assert main(args) == 0
    assert not (out / "figures").exists()

    def no_simulation(*args, **kwargs):
        raise AssertionError("plot must not run the model")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim.pipeline.tasks, "simulate", no_simulation)
        assert main(["plot", str(out)]) == 0
    return out


def test_every_figure_is_drawn_with_its_data(finished):
    figures = finished / "figures"
    for stem in FIGURE_STEMS:
        for suffix in ("png", "pdf", "csv"):
            path = figures / f"{stem}.{suffix}"
            assert path.is_file() and path.stat().st_size > 0, path.name
    assert pacsv.read_csv(figures / "wait_ecdf.csv").num_rows > 0


def test_the_comparison_table_pairs_each_model_with_the_baseline(finished):
    text = (finished / "figures" / "comparison.md").read_text()
    assert (
        "# Comparison with French standard: one worker, weekday office hours "
        "(`france_office_hours`)" in text
    )
    # Rows are read by people: the scenario's title, with the id a person types.
    assert "| Belgian model: office hours plus a 24/7 on-call rota (`belgium_24_7`) |" in text
    assert "95 % CI (paired)" in text
    assert "## Unmet demand (% of servable cases)" in text
    assert pacsv.read_csv(finished / "figures" / "comparison.csv").num_rows > 0


def test_figures_select_a_point_by_a_factor_that_is_not_a_number(tmp_path):
    # Text values are stored as JSON text in the tables; `at` gives them as in the spec.
    order = {"name": "order", "path": "callbacks.order", "values": ["oldest_first", "newest_first"]}
    figures = [
        {"kind": "wait_ecdf", "at": {"order": "newest_first"}},
        {"kind": "cost_frontier", "at": {"order": "oldest_first"}},
    ]
    spec = write_spec(
        tmp_path,
        scenarios=["belgium_24_7"],
        comparison=None,
        design={"kind": "grid", "factors": [order]},
        replications=2,
        figures=figures,
    )
    out = tmp_path / "out"
    assert main(["experiment", str(spec), "--out", str(out), "--jobs", "1"]) == 0
    frontier = pacsv.read_csv(out / "figures" / "cost_frontier.csv")
    assert frontier.num_rows == 1  # the one point `at` selects, not none
    assert (out / "figures" / "wait_ecdf.png").is_file()


def test_plot_refuses_a_folder_without_results(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a station-sim results folder" in capsys.readouterr().err


@pytest.mark.parametrize("manifest", ["national.json", "sensitivity.json"])
def test_plot_names_a_national_or_sensitivity_folder_and_how_to_redraw_it(
    tmp_path, capsys, manifest
):
    (tmp_path / manifest).write_text("{}", encoding="utf-8")
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"a {manifest.split('.')[0]} results folder" in err and "--resume" in err


def test_reproduce_checks_the_tables_against_the_reference(tmp_path, capsys):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    write_spec(experiments, name="tiny_a", replications=2)
    results = tmp_path / "results"
    args = ["reproduce", "--experiments", str(experiments), "--results", str(results)]
    args += ["--jobs", "1"]

    assert main([*args, "--update-reference"]) == 0
    reference = results / "reference" / "tiny_a"
    assert (reference / "summary.csv").is_file() and (reference / "comparison.csv").is_file()
    capsys.readouterr()

    assert main(args) == 0
    assert "tiny_a: 16 runs" in capsys.readouterr().out

    # Noise far below the tolerance passes; a real difference fails, and says where.
    summary = reference / "summary.csv"
    table = pacsv.read_csv(summary).to_pylist()
    for row in table:
        if row["metric"] == "unmet_share" and row["mean"]:
            row["mean"] *= 1 + 1e-13
    import pyarrow as pa

    pacsv.write_csv(pa.Table.from_pylist(table), summary)
    assert main(args) == 0
    capsys.readouterr()
    for row in table:
        if row["metric"] == "cost_eur_per_year":
            row["mean"] *= 1.001
    pacsv.write_csv(pa.Table.from_pylist(table), summary)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "DIFFERS from the reference" in out and "cost_eur_per_year" in out


def test_reproduce_fails_without_a_reference(tmp_path, capsys):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    write_spec(experiments, name="tiny_b", replications=1, comparison=None)
    args = ["reproduce", "--experiments", str(experiments), "--results", str(tmp_path / "r")]
    assert main([*args, "--jobs", "1"]) == 1
    assert "--update-reference" in capsys.readouterr().out


def test_the_thresholds_of_the_configs_reach_every_table_and_figure(tmp_path, capsys):
    overrides = {
        "simulation.run_days": 28,
        "simulation.warm_up_days": 7,
        "simulation.drain_days": 7,
        "measures.thresholds_hours": [4],
    }
    spec = write_spec(
        tmp_path, design=None, overrides=overrides, figures=["wait_ecdf"], replications=2
    )
    out = tmp_path / "out"
    assert main(["experiment", str(spec), "--out", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "<=4h %" in printed and "<=24h" not in printed
    results = StoredResults(out)
    assert results.measures.thresholds_hours == (4.0,)
    metrics = set(results.table("summary")["metric"].to_pylist())
    assert "within_4h_share" in metrics and "within_24h_share" not in metrics
    hours = set(results.table("wait_ecdf")["hours"].to_pylist())
    assert 4.0 in hours and 24.0 not in hours
    assert (
        "## Contacted within 4 h (% of referred)" in (out / "figures" / "comparison.md").read_text()
    )
