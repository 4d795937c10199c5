"""The web page for policy teams (``station-sim app``), tested headless with Streamlit's
AppTest: it loads, runs a comparison, refuses bad input by name, and gives away a
config and a command that reproduce its numbers."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the app extra is not installed")

from streamlit.testing.v1 import AppTest

import sim
from sim.app.request import FIGURES
from sim.app.results import COMPARISON_COLUMNS
from sim.app.rosters import RosterError, off_site_windows, parse_week
from sim.commands.cli import main

PAGE = Path(__file__).resolve().parents[1] / "sim" / "app" / "page.py"
BELGIAN = "Belgian model: office hours plus a 24/7 on-call rota"


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("STATION_SIM_APP_CACHE", str(tmp_path / "cache"))
    app = AppTest.from_file(str(PAGE), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def _errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def _run(app: AppTest, replications: int = 2) -> AppTest:
    app.number_input(key="replications").set_value(replications)
    app.run()
    app.button(key="run").click()
    app.run()
    assert not app.exception, app.exception
    assert not _errors(app), _errors(app)
    return app


def test_the_page_loads_with_its_three_tabs_and_no_error(page: AppTest) -> None:
    assert [t.label for t in page.tabs][:3] == [
        "One station: compare coverage models",
        "France: national programmes",
        "How the model works",
    ]
    assert not _errors(page)
    assert page.multiselect(key="models").value == ["france_office_hours", "belgium_24_7"]
    assert not page.button(key="run").disabled
    # The settings name the workers in words, not by their config names.
    labels = [n.label for n in page.number_input if n.key.endswith(".posts")]
    labels += [s.label for s in page.selectbox if s.key.endswith(".roster")]
    assert "Roster: social workers (ISCG)" in labels
    assert "Posts: social workers (ISCG)" in labels
    assert "Posts: police social workers (victim assistance)" in labels
    snake = [label for label in labels if re.search(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", label)]
    assert not snake, snake


def test_a_run_of_two_models_gives_the_paired_comparison_table(page: AppTest) -> None:
    _run(page)
    # A static table, so that its words wrap and every column shows at the page's width.
    table = page.table[0].value.reset_index()
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert set(table["Coverage model"]) == {BELGIAN}
    unmet = table[table["Measure"] == "Unmet demand"].iloc[0]
    assert unmet["95 % CI from"] <= unmet["Difference"] <= unmet["95 % CI to"]
    assert "computed in" in page.success[0].value
    # The same request again comes from the cache: nothing runs.
    page.button(key="run").click()
    page.run()
    assert "read from the page's cache" in page.success[0].value


def test_numbers_outside_their_range_are_named_and_nothing_runs(page: AppTest) -> None:
    page.number_input(key="belgium_24_7.0.posts").set_value(0)
    page.number_input(key="replications").set_value(100000)
    page.number_input(key="demand").set_value(7.5)
    page.run()
    assert not page.exception, page.exception
    errors = _errors(page)
    for field, words in (
        ("police social workers (victim assistance): posts", "0 is outside the allowed range 1-50"),
        ("Replications", "100,000 is outside the allowed range 2-200"),
        ("Demand level", "7.5 is outside the allowed range 0.5-2"),
    ):
        assert any(field in e and words in e for e in errors), (field, errors)
    assert page.button(key="run").disabled


def test_an_empty_selection_is_named_and_nothing_runs(page: AppTest) -> None:
    page.multiselect(key="models").set_value([])
    page.run()
    assert not page.exception, page.exception
    assert any("Coverage models to compare" in e and "at least two" in e for e in _errors(page))
    assert page.button(key="run").disabled


def test_impossible_rosters_are_refused_with_the_reason(page: AppTest) -> None:
    # The Belgian workers take the on-call rota: on site around the clock, they cannot.
    page.selectbox(key="belgium_24_7.0.roster").set_value("around_the_clock")
    page.selectbox(key="france_office_hours.0.roster").set_value("custom")
    page.run()
    page.text_input(key="france_office_hours.0.custom").set_value("mon-fri 17:00-09:00")
    page.run()
    assert not page.exception, page.exception
    errors = _errors(page)
    assert any("roster" in e and "on-call windows must lie outside" in e for e in errors), errors
    assert any("roster" in e and "not after it starts" in e for e in errors), errors
    assert page.button(key="run").disabled


def test_the_downloaded_config_validates_and_reproduces_the_page(
    page: AppTest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(PAGE.parents[2])  # the command names configs/ from the repository
    page.number_input(key="belgium_24_7.0.posts").set_value(3)
    page.selectbox(key="belgium_24_7.on_call.hours").set_value("nights")
    _run(page)
    summary = page.dataframe[0].value
    # The model changed on the page says so wherever it is named.
    changed = f"{BELGIAN} (changed on this page: 3 posts, its own on-call hours)"
    assert BELGIAN not in set(summary["Coverage model"])
    assert any(changed in h.value for h in page.subheader) or changed in set(
        summary["Coverage model"]
    )
    shown = summary[(summary["Measure"] == "Unmet demand") & (summary["Coverage model"] == changed)]
    page_unmet = float(shown["Mean"].iloc[0])

    config_text = next(c.value for c in page.code if c.value.startswith("# belgium_24_7 as"))
    config = tmp_path / "belgium_24_7.yaml"
    config.write_text(config_text, encoding="utf-8")
    assert main(["validate", str(config)]) == 0
    assert "valid scenario" in capsys.readouterr().out
    alone = sim.run(config, records=False)
    unmet = alone.summary.query("metric == 'unmet_share' and population == 'all'")["mean"]
    assert round(float(unmet.iloc[0]) * 100, 1) == page_unmet

    command = next(
        c.value for c in page.code if c.value.startswith("station-sim run configs/belgium")
    )
    words = shlex.split(command)
    assert "staffing.workers[0].count=3" in words
    out = tmp_path / "again"
    assert main([*words[1:], "--out", str(out), "--no-records"]) == 0
    again = sim.load(out).summary.query("metric == 'unmet_share' and population == 'all'")
    assert round(float(again["mean"].iloc[0]) * 100, 1) == page_unmet


def test_the_spec_download_is_a_valid_experiment(page: AppTest, tmp_path: Path) -> None:
    from sim.pipeline.plan import load_plan

    _run(page)
    spec_text = next(c.value for c in page.code if "name: page_comparison" in c.value)
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "page_comparison.yaml").write_text(
        spec_text.replace("configs: ../configs", f"configs: {PAGE.parents[2] / 'configs'}"),
        encoding="utf-8",
    )
    plan = load_plan(experiments / "page_comparison.yaml")
    assert plan.labels == ("france_office_hours", "belgium_24_7")
    assert plan.spec.replications == 2
    assert [f.kind for f in plan.spec.figures] == list(FIGURES)


def test_app_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "streamlit" else real(name, *a),
    )
    assert main(["app"]) == 2
    error = capsys.readouterr().err
    assert 'pip install -e ".[app]"' in error and "Traceback" not in error
    assert main(["app", "--port", "70000"]) == 2


def test_a_custom_week_is_read_and_on_call_fills_the_hours_off_site() -> None:
    assert parse_week("mon-wed 09:00-12:30; sat 9:00-12:00") == [
        {"days": ["mon", "tue", "wed"], "start": "09:00", "end": "12:30"},
        {"days": ["sat"], "start": "09:00", "end": "12:00"},
    ]
    for bad in ("", "someday 09:00-10:00", "mon 25:00-26:00", "fri-mon 09:00-10:00"):
        with pytest.raises(RosterError):
            parse_week(bad)
    windows = off_site_windows(
        [{"days": "all", "start": "00:00", "end": "24:00"}],
        [{"days": "weekdays", "start": "08:30", "end": "17:00"}],
    )
    assert windows == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "00:00", "end": "08:30"},
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "17:00", "end": "24:00"},
        {"days": ["sat", "sun"], "start": "00:00", "end": "24:00"},
    ]


def test_the_france_page_shows_the_national_table_of_the_reference_at_once(
    page: AppTest,
) -> None:
    from sim.app import national

    if national.stored_national("office_hours", "proportional", 350) is None:
        pytest.skip("no national results stored and no committed reference")
    page.number_input(key="national.posts").set_value(350)
    page.selectbox(key="national.rule").set_value("proportional")
    page.selectbox(key="national.coverage").set_value("office_hours")
    page.run()
    assert not page.exception, page.exception
    shown = [frame.value for frame in page.dataframe]
    national_tables = [t for t in shown if "Measure" in t.columns and "Unit" in t.columns]
    assert national_tables, shown
    unmet = national_tables[-1].set_index("Measure").loc["Unmet demand"]
    assert 0 < unmet["Mean"] < 100
    assert any("France, 350 posts" in h.value for h in page.subheader)


def test_between_stored_counts_the_france_page_estimates_at_once_and_says_so(
    page: AppTest,
) -> None:
    """A number of posts the experiment did not simulate gets, without a run, the
    estimate from the stored response curves, its leave-one-out error beside it, and
    the words that it is not a simulation."""
    from sim.app import national

    if national.estimated_national("office_hours", "proportional", 300) is None:
        pytest.skip("no national results stored and no committed reference")
    page.number_input(key="national.posts").set_value(300)
    page.selectbox(key="national.rule").set_value("proportional")
    page.selectbox(key="national.coverage").set_value("office_hours")
    page.run()
    assert not page.exception, page.exception
    assert any("300 posts" in h.value and "estimated" in h.value for h in page.subheader)
    (table,) = [f.value for f in page.dataframe if "Estimate" in f.value.columns]
    unmet = table.set_index("Measure").loc["Unmet demand"]
    assert 0 < unmet["Estimate"] < 100 and unmet["Simulated at"] == "175 and 350 posts"
    assert any("not simulated" in c.value for c in page.caption)
    # The map of where the rule puts the 300 posts, drawn without a simulation.
    from sim.app.maps import MAP_NOTE

    assert any(c.value == MAP_NOTE for c in page.caption)
    assert page.get("vega_lite_chart")
    # The optimiser's too, replayed from its stored response curves.
    page.selectbox(key="national.rule").set_value("optimised")
    page.run()
    assert not page.exception, page.exception
    assert any("replayed from the optimiser's" in m.value for m in page.markdown)
    assert any(c.value == MAP_NOTE for c in page.caption)


def test_where_a_fixed_rule_puts_the_posts_needs_no_simulation() -> None:
    """The estimate's map: every post of a fixed rule in a département, its density
    from the shipped populations."""
    from sim.app.national import planned_departements

    planned = planned_departements("proportional", 300)
    assert planned is not None and len(planned) == 101
    assert planned["posts_in_departement"].sum() == 300
    density = planned["posts_in_departement"] / planned["population"] * 100_000
    assert (planned["posts_per_100k"] - density).abs().max() < 1e-12
    assert planned_departements("two_per_departement_first", 100) is None  # needs 202


def test_the_optimised_map_is_replayed_from_the_stored_response_curves() -> None:
    """Between the stored counts the optimiser's allocation comes from its stored
    curves, no simulation: at a stored count it is the allocation the experiment
    evaluated (its départements without a post), and past the curves there is none."""
    from sim.app import national

    table = national.stored_table()
    if table is None or national.stored_curves() is None:
        pytest.skip("no national results stored and no committed reference")
    for posts in (175, 450):
        planned = national.planned_departements("optimised", posts, "office_hours")
        assert planned is not None and planned["posts_in_departement"].sum() == posts
        evaluated = table[
            (table["coverage"] == "office_hours")
            & (table["allocation"] == "optimised")
            & (table["posts"] == posts)
            & (table["metric"] == "departements_without_post")
        ]["mean"]
        assert (planned["posts_in_departement"] == 0).sum() == int(evaluated.iloc[0])
    between = national.planned_departements("optimised", 500, "office_hours")
    assert between is not None and between["posts_in_departement"].sum() == 500
    assert national.planned_departements("optimised", 2640, "office_hours") is None
    assert national.planned_departements("optimised", 450, "belgian") is None
    assert national.stored_curves_posts("office_hours") == 600


def test_the_national_table_never_shows_a_negative_count_or_a_share_past_100() -> None:
    import pandas as pd

    from sim.app import national

    # Two replications: the t-interval of a count that varies reaches below zero.
    frame = pd.DataFrame(
        {
            "metric": ["national_unmet_callback_expired", "national_unmet_share"],
            "n": [2, 2],
            "mean": [293.0, 0.97],
            "ci_low": [-89.0, 0.90],
            "ci_high": [675.0, 1.04],
        }
    )
    table = national.national_table(frame).set_index("Measure")
    expired = table.loc["Unmet: callback expired"]
    assert (expired["Mean"], expired["95 % CI from"], expired["95 % CI to"]) == (293, 0, 675)
    share = table.loc["Unmet demand"]
    assert (share["Mean"], share["95 % CI from"], share["95 % CI to"]) == (97.0, 90.0, 100.0)
    note = national.interval_note(frame)
    assert "2 replications" in note and "1 degree(s) of freedom" in note and "cut" in note
    # Intervals from the catchments say how many degrees of freedom they rest on.
    frame["dof"] = [95.4, 120.2]
    note = national.interval_note(frame)
    assert "catchments' own replications" in note and "about 120 degrees" in note
    assert "worst département's" in note and "1 degree(s) of freedom" in note


def test_a_departement_without_a_post_is_named_with_the_reason() -> None:
    import pandas as pd

    from sim.app import national

    assert set(national.WHY_NO_POST) == set(national.ALLOCATION_TITLES)
    departements = pd.DataFrame(
        {
            "name": ["Aude", "Cher", "Paris"],
            "population": [370_260, 302_306, 2_187_526],
            "posts_in_departement": [0, 0, 12],
        }
    )
    note = national.no_post_note(departements, "proportional")
    assert note is not None
    assert note.startswith("2 département(s) without a post: Aude (370,260 inhabitants), Cher")
    assert national.WHY_NO_POST["proportional"] in note
    assert "Paris" not in note
    covered = departements.assign(posts_in_departement=[1, 1, 12])
    assert national.no_post_note(covered, "proportional") is None
    assert national.no_post_note(pd.DataFrame(), "proportional") is None


def test_the_page_draws_in_the_palette_of_the_png_figures():
    """One colour-blind-safe palette for the PNGs and the page (Okabe-Ito for models,
    cividis for heatmaps and maps), visible bands, unmet maps on 0-100 %."""
    import pandas as pd

    from sim.app.charts import cost_against_unmet, hour_of_week_heatmap, time_to_first_contact
    from sim.app.maps import departement_map
    from sim.pipeline.figure_style import COLOURS, HEATMAP, WAIT_TICKS_HOURS

    ecdf = pd.DataFrame(
        {
            "scenario": ["a", "a", "b", "b"],
            "population": ["all"] * 4,
            "hours": [1.0, 10.0, 1.0, 10.0],
            "mean": [0.2, 0.5, 0.4, 0.9],
            "ci_low": [0.1, 0.4, 0.3, 0.8],
            "ci_high": [0.3, 0.6, 0.5, 1.0],
        }
    )
    spec = time_to_first_contact(ecdf, {}).to_dict()
    band, line = spec["layer"]
    assert band["mark"]["opacity"] >= 0.3
    # Plain wait units on the log axis (1 min ... 30 days), as on the PNG figures.
    assert line["encoding"]["x"]["axis"]["values"] == [h for h, _ in WAIT_TICKS_HOURS]
    for layer in (band, line):
        assert layer["encoding"]["color"]["scale"]["range"] == list(COLOURS)
    hours = pd.DataFrame(
        {
            "scenario": ["a"],
            "day": ["mon"],
            "hour": [9],
            "unmet_share": [0.5],
            "wait_mean_h": [3.0],
            "cases": [10],
        }
    )
    heat = hour_of_week_heatmap(hours, {}).to_dict()
    assert heat["spec"]["encoding"]["color"]["scale"] == {"scheme": HEATMAP, "domain": [0, 100]}
    summary = pd.DataFrame(
        {
            "scenario": ["a", "a"],
            "population": ["all", "all"],
            "metric": ["cost_eur_per_year", "unmet_share"],
            "mean": [80_000.0, 0.5],
            "ci_low": [79_000.0, 0.45],
            "ci_high": [81_000.0, 0.55],
        }
    )
    points = cost_against_unmet(summary, {}).to_dict()["layer"][-1]
    assert points["encoding"]["y"]["scale"]["zero"] is True
    assert points["encoding"]["color"]["scale"]["range"] == list(COLOURS)
    departements = pd.DataFrame(
        {
            "departement": ["75", "971"],
            "unmet_share": [0.4, 1.0],
            "posts_per_100k": [0.5, 0.0],
            "posts_in_departement": [4, 0],
        }
    )
    unmet = _map_colours(departement_map(departements, "unmet").to_dict())
    assert unmet and all(
        c["scale"] == {"scheme": HEATMAP, "reverse": True, "domain": [0, 100]} for c in unmet
    )
    assert all(c["legend"]["titleLimit"] == 0 for c in unmet)
    density = _map_colours(departement_map(departements, "posts").to_dict())
    assert density and all(
        c["scale"] == {"scheme": HEATMAP, "domain": [0.0, 3.0], "clamp": True} for c in density
    )


def _map_colours(spec: dict) -> list[dict]:
    """Every colour encoding of a (nested) Vega-Lite spec."""
    found = [spec["encoding"]["color"]] if "color" in spec.get("encoding", {}) else []
    for key in ("hconcat", "vconcat", "layer"):
        for part in spec.get(key, []):
            found.extend(_map_colours(part))
    return found


def test_the_page_map_shows_overseas_and_the_inner_ring_and_writes_the_posts():
    """Every département is drawn (the overseas ones and Paris's inner ring in panels of
    their own, named), and its posts are written on it once."""
    import json

    import pandas as pd

    from sim.app.catalog import CONFIGS
    from sim.app.maps import departement_map

    features = json.loads((CONFIGS / "national" / "departements.geojson").read_text())["features"]
    codes = [f["properties"]["code"] for f in features]
    departements = pd.DataFrame(
        {
            "departement": codes,
            "unmet_share": [0.5] * len(codes),
            "posts_per_100k": [1.0] * len(codes),
            "posts_in_departement": range(1, len(codes) + 1),
        }
    )
    spec = departement_map(departements, "posts").to_dict()
    side, mainland = spec["hconcat"]
    titles = [panel["title"]["text"] for panel in side["vconcat"]]
    assert titles == [
        "Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte", "Paris and its inner ring"
    ]  # fmt: skip
    shapes, written = [], []
    for panel in (*side["vconcat"], mainland):
        for layer in panel["layer"]:
            values = layer["data"]["values"]
            if layer["mark"]["type"] == "geoshape":
                shapes.extend(v["properties"]["code"] for v in values)
            elif "stroke" not in layer["mark"]:  # the halo under the numbers repeats them
                written.extend(v["posts"] for v in values)
    assert sorted(set(shapes)) == sorted(codes)
    assert sorted(written) == list(range(1, len(codes) + 1))


def test_the_national_progress_estimates_the_time_left_from_the_runs_done():
    from sim.app.national import progress_text

    assert progress_text(0, 400, 3.0) == "0 of 400 catchment runs done"
    assert progress_text(100, 400, 10.0) == "100 of 400 catchment runs done, about 30 s left"
    assert progress_text(100, 400, 60.0) == "100 of 400 catchment runs done, about 3 min left"
    assert progress_text(400, 400, 60.0).endswith("summing the catchments")
