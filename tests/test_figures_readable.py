"""Every figure the project ships is readable without the code: each is drawn again from
the committed reference tables (stations, France, the sensitivity study) and every text
a reader sees is read off the drawn figure.

The rules: an axis that carries numbers is labelled (by itself or by an axis it shares),
and its label names a unit (in parentheses, a %, "number of ...", or a unit of its own
such as "posts per 100,000"); a linear cost axis starts at 0; a heatmap of a share is
on the one 0-100 % scale; no title, label, legend or note runs past the figure's edge;
no text (titles,
labels, legends, tick labels, notes) shows a config id such as ``france_office_hours``
or a rule such as ``can_take_now``, only the words for them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure, SubFigure
from matplotlib.text import Text

import sim.national.figures
import sim.pipeline.figures
import sim.sensitivity.figures
from sim.pipeline.figure_style import SHARE_SCALE_PERCENT

RESULTS = REPO / "results"
STATION_EXPERIMENTS = (
    "france_vs_belgium",
    "equal_staffing",
    "staffing_sweep",
    "scale_up_350",
    "referral_and_outreach",
)
CONFIG_ID = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
"""Snake case: how configs, rules and factors are named where people type them."""
NUMBER = re.compile(r"\d")
UNIT_WORDS = frozenset(
    {"per", "points", "EUR", "h", "hour", "hours", "day", "days", "week", "min",
     "minutes", "years", "posts", "cases", "persons", "people", "index", "ratio",
     "fraction", "number"}
)  # fmt: skip
"""Words that name a unit (``posts per 100,000``, ``percentage points``, ``index``,
``ratio``), in a label's parentheses or as the label itself."""


def names_a_unit(label: str) -> bool:
    """Whether ``label`` says its unit: a %, a multiple (``×``), or a unit word; a
    parenthesis alone is not enough ("(its 2 other settings moved with it)")."""
    words = set(re.findall(r"[A-Za-z]+", label))
    return "%" in label or "×" in label or bool(words & UNIT_WORDS)


def _texts(figure: Figure | SubFigure) -> Iterator[tuple[str, str]]:
    """Every text of a figure a reader sees, with where it is."""
    if figure._suptitle is not None:
        yield "title", figure._suptitle.get_text()
    for text in figure.texts:
        yield "note", text.get_text()
    for legend in figure.legends:
        yield "legend title", legend.get_title().get_text()
        yield from (("legend", t.get_text()) for t in legend.get_texts())
    for sub in figure.subfigs:
        yield from _texts(sub)
    for ax in figure.axes if isinstance(figure, Figure) else ():
        yield from _axes_texts(ax)


def _axes_texts(ax: Axes) -> Iterator[tuple[str, str]]:
    yield "axes title", ax.get_title()
    yield "x label", ax.get_xlabel()
    yield "y label", ax.get_ylabel()
    yield from (("annotation", t.get_text()) for t in ax.texts)
    legend = ax.get_legend()
    if legend is not None:
        yield "legend title", legend.get_title().get_text()
        yield from (("legend", t.get_text()) for t in legend.get_texts())
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        yield "tick", label.get_text()


def _label_of(ax: Axes, which: str) -> str:
    """An axis' label, or that of an axis it shares (a shared axis is labelled once)."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for other in (ax, *shared.get_siblings(ax)):
        label = other.get_xlabel() if which == "x" else other.get_ylabel()
        if label.strip():
            return label
    return ""


def problems(stem: str, figure: Figure) -> list[str]:
    """What a reader could not read in ``figure`` (empty: nothing)."""
    found = []
    for where, text in _texts(figure):
        for match in CONFIG_ID.findall(text):
            found.append(f"{stem}: a config id {match!r} in the {where} {text!r}")
    for ax in figure.axes:
        for image in ax.images:  # a heatmap of a share: the one 0-100 % scale
            share = "%" in ax.get_title() and not isinstance(image.norm, LogNorm)
            if share and (image.norm.vmin, image.norm.vmax) != SHARE_SCALE_PERCENT:
                found.append(
                    f"{stem}: the heatmap {ax.get_title()!r} runs from "
                    f"{image.norm.vmin:g} to {image.norm.vmax:g}, not 0-100 %"
                )
        if not ax.axison:
            continue  # a map: the département shapes carry no axis
        for which in ("x", "y"):
            ticks = ax.get_xticklabels() if which == "x" else ax.get_yticklabels()
            if not any(NUMBER.search(t.get_text()) for t in ticks):
                continue  # categories (days, models, rules): named by their ticks
            label = _label_of(ax, which)
            # Ticks written in units ("1 min", "1 h", "1 day") carry the unit themselves.
            ticked = any(names_a_unit(t.get_text()) for t in ticks)
            if not label:
                found.append(f"{stem}: a {which} axis of numbers without a label")
            elif not names_a_unit(label) and not ticked:
                found.append(f"{stem}: the {which} axis {label!r} names no unit")
            scale = ax.get_xscale() if which == "x" else ax.get_yscale()
            low = (ax.get_xlim() if which == "x" else ax.get_ylim())[0]
            if "EUR" in label and scale == "linear" and low > 0:
                found.append(f"{stem}: the cost axis {label!r} starts at {low:g}, not 0")
    return found


def _text_artists(figure: Figure | SubFigure) -> Iterator[Text]:
    """The texts of a figure a reader must see whole: titles, axis labels, legends,
    notes and annotations (tick labels are placed by matplotlib inside the figure)."""
    if figure._suptitle is not None:
        yield figure._suptitle
    yield from figure.texts
    for legend in figure.legends:
        yield legend.get_title()
        yield from legend.get_texts()
    for sub in figure.subfigs:
        yield from _text_artists(sub)
    for ax in figure.axes if isinstance(figure, Figure) else ():
        yield from (ax.title, ax._left_title, ax._right_title)
        yield from (ax.xaxis.label, ax.yaxis.label, *ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            yield legend.get_title()
            yield from legend.get_texts()


def clipped(stem: str, figure: Figure) -> list[str]:
    """The texts of ``figure`` that run past its edges, as drawn."""
    canvas = FigureCanvasAgg(figure)  # drawn as the PNG is: layout done, texts placed
    canvas.draw()
    renderer = canvas.get_renderer()
    edge = figure.bbox
    found = []
    for text in _text_artists(figure):
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if (
            box.x0 < edge.x0 - 1
            or box.x1 > edge.x1 + 1
            or box.y0 < edge.y0 - 1
            or (box.y1 > edge.y1 + 1)
        ):
            found.append(f"{stem}: the text {text.get_text()!r} runs past the figure's edge")
    return found


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """Every figure drawn while the test runs, by stem (each module's own save)."""
    figures: dict[str, Figure] = {}

    def keeping(module: Any) -> None:
        save = module.save_figure

        def keep(figure: Figure, data: Any, folder: Path, stem: str) -> None:
            figures[stem] = figure
            save(figure, data, folder, stem)

        monkeypatch.setattr(module, "save_figure", keep)

    for module in (sim.pipeline.figures, sim.national.figures, sim.sensitivity.figures):
        keeping(module)
    return figures


def _check(drawn: dict[str, Figure]) -> None:
    assert drawn, "no figure was drawn"
    found = [
        p
        for stem, figure in drawn.items()
        for p in (*problems(stem, figure), *clipped(stem, figure))
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name", STATION_EXPERIMENTS)
def test_every_station_figure_reads_without_the_code(name, drawn, tmp_path):
    """From the stored results of ``station-sim reproduce`` (``results/NAME``, not
    committed: a fresh clone runs the slow test below instead)."""
    source = RESULTS / name
    if not (source / "tables").is_dir():
        pytest.skip(f"no stored results in {source}: the slow test runs the experiment")
    copy = tmp_path / name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("tasks", "figures"))
    sim.pipeline.figures.draw_figures(copy)
    _check(drawn)


def test_every_kind_of_station_figure_of_a_tiny_run_reads_without_the_code(
    drawn, tmp_path, monkeypatch
):
    """On a fresh clone too (the tests above need ``results/``): the four kinds of
    station figure drawn from a tiny experiment of 28-day runs (16 runs, a few
    seconds), read as drawn."""
    monkeypatch.syspath_prepend(str(REPO / "tests" / "pipeline"))
    from experiment_specs import ALL_FIGURES, write_spec

    from sim.pipeline.backends import LocalBackend
    from sim.pipeline.execute import run_experiment
    from sim.pipeline.plan import load_plan

    plan = load_plan(write_spec(tmp_path, figures=ALL_FIGURES))
    outcome = run_experiment(plan, tmp_path / "out", LocalBackend(1), figures=True)
    assert outcome.status == "complete"
    assert {"wait_ecdf", "hour_of_week_heatmap", "staffing_response", "cost_frontier"} <= set(drawn)
    _check(drawn)


@pytest.mark.slow
def test_every_station_figure_of_a_fresh_run_reads_without_the_code(drawn, tmp_path):
    """Every shipped station experiment run afresh (about 80 s on 2 cores), its figures
    read as drawn."""
    from sim.commands.cli import main

    for name in STATION_EXPERIMENTS:
        spec = str(REPO / "experiments" / f"{name}.yaml")
        assert main(["experiment", spec, "--out", str(tmp_path / name), "--jobs", "2"]) == 0
    assert {"wait_ecdf", "hour_of_week_heatmap", "staffing_response", "cost_frontier"} <= set(drawn)
    _check(drawn)


def _national_check(
    drawn: dict[str, Figure], folder: Path, experiment: Any, rules: set[str] | None = None
) -> None:
    maps = [
        (m.coverage, m.allocation, m.posts)
        for m in experiment.spec.maps
        if rules is None or m.allocation in rules
    ]
    sim.national.figures.draw_national_figures(folder, experiment.study, maps)
    assert "frontier" in drawn and any(stem.startswith("map_") for stem in drawn)
    _check(drawn)
    for stem, figure in drawn.items():
        if stem.startswith("map_") and not stem.startswith("map_change_"):
            _check_posts_written(stem, figure)


def _check_posts_written(stem: str, figure: Figure) -> None:
    """The density panel of a map writes each département's posts (on the mainland, in
    the inset for Paris and its inner ring, in the overseas panels' titles): together
    they are the map's posts. Its colours are on the one fixed density scale."""
    from matplotlib.collections import PolyCollection

    from sim.pipeline.figure_style import DENSITY_SCALE_PER_100K

    density = figure.subfigs[0]
    written = 0
    for ax in (*density.axes, *(c for a in density.axes for c in a.child_axes)):
        for text in (*(t.get_text() for t in ax.texts), ax.get_title()):
            last = re.split(r"[\s:]+", text.strip())[-1] if text.strip() else ""
            written += int(last) if last.isdigit() else 0
        for collection in ax.collections:
            if isinstance(collection, PolyCollection) and collection.get_array() is not None:
                assert (collection.norm.vmin, collection.norm.vmax) == DENSITY_SCALE_PER_100K
    assert written == int(stem.rsplit("_", 1)[1]), (stem, written)


def test_every_national_figure_reads_without_the_code(drawn, tmp_path):
    from sim.national.spec import load_national_experiment

    source = RESULTS / "national_scale_up"
    if not (source / "tables").is_dir():
        pytest.skip(f"no stored results in {source}: the slow test runs a slice")
    experiment = load_national_experiment(REPO / "experiments" / "national_scale_up.yaml")
    shutil.copytree(source / "tables", tmp_path / "tables")
    _national_check(drawn, tmp_path, experiment)


@pytest.mark.slow
def test_every_national_figure_of_a_fresh_slice_reads_without_the_code(drawn, tmp_path):
    """The national figures drawn from a fresh run of the cells their maps show."""
    from sim.national.spec import load_national_experiment
    from sim.national.study import run_national
    from sim.pipeline.backends import LocalBackend

    experiment = load_national_experiment(REPO / "experiments" / "national_scale_up.yaml")
    # The optimised maps need the optimiser's training (minutes): the rules' maps only.
    rules = {m.allocation for m in experiment.spec.maps if "optimised" not in m.allocation}
    cells = {
        (m.coverage, m.allocation, p)
        for m in experiment.spec.maps
        if m.allocation in rules
        for p in m.posts
    }
    requests = [r for r in experiment.requests if r.key_tuple in cells]
    assert requests
    run_national(
        experiment.study, requests, tmp_path, LocalBackend(2), 2, show_progress=False, maps=[]
    )
    drawn.clear()
    _national_check(drawn, tmp_path, experiment, rules)


def test_every_sensitivity_figure_reads_without_the_code(drawn, tmp_path):
    """From the committed reference tables of the sensitivity study."""
    import pyarrow.csv as pacsv

    from sim.sensitivity.run import reader_words
    from sim.sensitivity.spec import load_sensitivity_spec

    source = RESULTS / "reference" / "sensitivity_headlines"
    study = load_sensitivity_spec(REPO / "experiments" / "sensitivity" / "headlines.yaml")
    tables = {path.stem: pacsv.read_csv(path) for path in sorted(source.glob("*.csv"))}
    sim.sensitivity.figures.draw_sensitivity_figures(
        tables, tmp_path / "figures", *reader_words(study)
    )
    assert {"morris", "sobol", "one_way", "robustness"} <= set(drawn)
    _check(drawn)


def test_the_reader_finds_a_config_id_and_an_axis_without_unit():
    """The rules can fail: a figure written as the issue found them."""
    figure = Figure()
    ax = figure.subplots()
    ax.plot([1, 2], [3, 4], label="france_office_hours")
    ax.legend()
    ax.set_xlabel("staffing (its settings moved together)")  # a parenthesis, no unit
    ax.set_ylabel("cost (k EUR a year)")
    ax.set_ylim(3, 4)
    assert any("starts at 3, not 0" in p for p in problems("bad", figure))
    ax.set_ylabel("")
    found = problems("bad", figure)
    assert any("config id 'france_office_hours'" in p for p in found)
    assert any("names no unit" in p for p in found)
    assert any("y axis of numbers without a label" in p for p in found)


def test_a_one_way_plot_of_options_draws_a_point_per_option(drawn, tmp_path):
    """A factor of options (three follow-up distributions) can be a conclusion's most
    influential: its one-way plot is a point per option, each with its interval."""
    import json

    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = RESULTS / "reference" / "sensitivity_headlines"
    tables = {path.stem: pacsv.read_csv(path) for path in sorted(source.glob("*.csv"))}
    factors = tables["factors"].to_pylist()
    ((path, options),) = json.loads(
        next(f for f in factors if f["factor"] == "followup_count")["settings"]
    ).items()
    rows = tables["one_way"].to_pylist()
    first = rows[0]["conclusion"]
    mine = [r for r in rows if r["conclusion"] == first][: len(options)]
    for row, option in zip(mine, options, strict=True):
        row.update(factor="followup_count", setting=json.dumps({path: option}))
    others = [r for r in rows if r["conclusion"] != first]
    tables["one_way"] = pa.Table.from_pylist(mine + others)
    sim.sensitivity.figures.draw_sensitivity_figures(tables, tmp_path / "figures")
    ax = drawn["one_way"].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    means = [
        sum(v * w for v, w in zip(o["values"], o["weights"], strict=True)) / sum(o["weights"])
        for o in options
    ]
    assert ticks == [f"option {k + 1}: mean {m:.1f}" for k, m in enumerate(means)]
    assert [f"{m:.1f}" for m in means] == ["2.4", "3.7", "5.2"]  # as the factor's rationale
    assert len(ax.containers) == 1 and len(ax.lines) >= 1  # error bars, not a band
