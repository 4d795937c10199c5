"""The France page's data: the stored results of ``experiments/national_scale_up.yaml``
for a chosen number of posts, allocation rule and coverage model, or a fresh national
run of that one allocation on request, and the map of France by département.

The national model is imported only when a run is asked for, so that the rest of the
page works even where it cannot be loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq

from sim.app.catalog import CONFIGS, REPOSITORY
from sim.app.results import cache_folder, plain_unit
from sim.config.documents import read_mapping, read_scenario_document
from sim.config.errors import ConfigError

if TYPE_CHECKING:
    from sim.national.run import NationalStudy

__all__ = [
    "ALLOCATION_TITLES",
    "ESTIMATE_NOTE",
    "NATIONAL_CONFIG",
    "STORED",
    "WHY_NO_POST",
    "NationalView",
    "compute_national",
    "coverage_titles",
    "departement_table",
    "estimated_national",
    "interval_note",
    "national_command",
    "national_table",
    "no_post_note",
    "planned_departements",
    "progress_text",
    "stored_curves",
    "stored_curves_posts",
    "stored_national",
    "stored_table",
]

NATIONAL_CONFIG = CONFIGS / "national" / "france.yaml"
STORED = REPOSITORY / "results" / "national_scale_up"
REFERENCE = REPOSITORY / "results" / "reference" / "national_scale_up"
"""The committed reference of the experiment: its national table and map images, for a
fresh checkout where the experiment has not been run."""

ALLOCATION_TITLES = {
    "historical_2013": "As in 2013 (towns first, none in 33 départements), grown where it was",
    "proportional": "In proportion to each area's population",
    "two_per_departement_first": "Two per département first, then by population",
    "optimised": "Placed where each post removes the most unmet demand",
}


WHY_NO_POST = {
    "historical_2013": "The 2013 map left 33 départements without a post (the source "
    "document), and beyond 175 posts it grows where it already was.",
    "proportional": "Posts go to catchments (police districts and gendarmerie areas of up "
    "to 220,000 people) in proportion to their population, one at a time to the one "
    "with the highest claim (Sainte-Laguë), so a département whose catchments are all "
    "small gets none while larger catchments still claim more, even for a second or "
    "third post: a rule, not a rounding error.",
    "two_per_departement_first": "Every département gets two posts first; none should be "
    "without one.",
    "optimised": "The optimiser puts each post where it removes the most unmet demand; "
    "a small département's catchments can remove less than a second post elsewhere.",
}
"""Why a département may have no post under each rule, said under its table."""


def no_post_note(departements: pd.DataFrame, rule: str) -> str | None:
    """The sentence the page shows under the départements' table when some have no
    post: which ones, why, and what their people can still reach."""
    if departements.empty:
        return None
    none = departements[departements["posts_in_departement"] == 0]
    if none.empty:
        return None
    names = ", ".join(
        f"{row.name} ({row.population:,.0f} inhabitants)"
        for row in none.sort_values("population", ascending=False).itertuples()
    )
    return (
        f"{len(none)} département(s) without a post: {names}. {WHY_NO_POST[rule]} Their "
        "people are unmet for want of a post, except those who reach a post of a "
        "neighbouring area (service across catchment borders, docs/national.md)."
    )


@dataclass(frozen=True)
class NationalView:
    """One allocation's national table, its per-département table and its map image
    (``None`` where none was drawn); ``source`` says whether they are stored results
    or a run made on the page."""

    national: pd.DataFrame
    departements: pd.DataFrame
    map_image: Path | None
    source: str


@cache
def coverage_titles(config: Path = NATIONAL_CONFIG) -> dict[str, str]:
    """The coverage models of the national config, by key, with their titles (the
    national config's, else the station config's: ``NationalModel.coverage_title``,
    read here from the files alone so the page need not cut France to name them)."""
    document = read_mapping(config, "national config")
    titles = {}
    for key, entry in document["coverage"].items():
        title = entry.get("title")
        if not title:  # as Scenario.plain_title: the title, else the name with spaces
            station = read_scenario_document(config.parent / entry["config"])
            title = station.get("title") or str(station.get("name", key)).replace("_", " ")
        titles[key] = str(title)
    return titles


def national_command(posts: int, rule: str, coverage: str, replications: int) -> str:
    """The command that computes the same allocation."""
    return (
        f"station-sim national configs/national/france.yaml --posts {posts} "
        f"--allocation {rule} --coverage {coverage} --replications {replications}"
    )


def _select(folder: Path, coverage: str, rule: str, posts: int) -> NationalView | None:
    tables = folder / "tables"
    if not (tables / "national.parquet").is_file():
        return None
    national = pq.read_table(tables / "national.parquet").to_pandas()
    chosen = national[
        (national["coverage"] == coverage)
        & (national["allocation"] == rule)
        & (national["posts"] == posts)
    ]
    if chosen.empty:
        return None
    departements = pd.DataFrame()
    if (tables / "departements.parquet").is_file():
        every = pq.read_table(tables / "departements.parquet").to_pandas()
        departements = every[
            (every["coverage"] == coverage)
            & (every["allocation"] == rule)
            & (every["posts"] == posts)
        ]
    image = folder / "figures" / f"map_{coverage}_{rule}_{posts}.png"
    source = "stored" if folder == STORED else "computed"
    return NationalView(chosen, departements, image if image.is_file() else None, source)


def stored_national(coverage: str, rule: str, posts: int) -> NationalView | None:
    """The stored results of the national experiment for this allocation, if any: the
    experiment's own folder, else its committed reference (no per-département table)."""
    found = _select(STORED, coverage, rule, posts)
    if found is not None or not (REFERENCE / "national.csv").is_file():
        return found
    national = pd.read_csv(REFERENCE / "national.csv")
    chosen = national[
        (national["coverage"] == coverage)
        & (national["allocation"] == rule)
        & (national["posts"] == posts)
    ]
    if chosen.empty:
        return None
    image = REFERENCE / "figures" / f"map_{coverage}_{rule}_{posts}.png"
    return NationalView(chosen, pd.DataFrame(), image if image.is_file() else None, "reference")


def stored_posts() -> list[int]:
    """The numbers of posts the stored national results hold."""
    national = stored_table()
    return [] if national is None else sorted({int(p) for p in national["posts"]})


def stored_table() -> pd.DataFrame | None:
    """The national table of the stored results, else of the committed reference."""
    return _stored("national")


def _stored(name: str) -> pd.DataFrame | None:
    """Table ``name`` of the stored results, else of the committed reference (which
    keeps some of them, as CSV)."""
    path = STORED / "tables" / f"{name}.parquet"
    if path.is_file():
        return pq.read_table(path).to_pandas()
    if (REFERENCE / f"{name}.csv").is_file():
        return pd.read_csv(REFERENCE / f"{name}.csv")
    return None


@cache
def _study() -> NationalStudy:
    """The national model cut into its catchments (about a second), once per server."""
    from sim.national.config import load_national
    from sim.national.run import NationalStudy

    return NationalStudy.of(load_national(NATIONAL_CONFIG))


def planned_departements(
    rule: str, posts: int, coverage: str = "office_hours"
) -> pd.DataFrame | None:
    """Where ``rule`` puts ``posts``: posts and posts per 100,000 inhabitants by
    département, no simulation needed (the map beside an estimate). The optimiser's
    allocation is replayed from the response curves the stored results kept for
    ``coverage`` (``replay_allocation``). None for a count a fixed rule cannot share,
    or one beyond the optimiser's stored curves."""
    from sim.national.allocation import allocate, posts_by_departement

    study = _study()
    if rule == "optimised":
        allocation = _replayed(coverage, posts)
        if allocation is None:
            return None
    else:
        try:
            allocation = allocate(rule, posts, study.catchments, study.model.config.allocation)
        except ConfigError:
            return None
    by_departement = posts_by_departement(allocation, study.catchments)
    return pd.DataFrame(
        [
            {
                "departement": d.code,
                "name": d.name,
                "population": d.population,
                "posts_in_departement": by_departement.get(d.code, 0),
                "posts_per_100k": by_departement.get(d.code, 0) / d.population * 100_000,
            }
            for d in study.model.departements
        ]
    )


def stored_curves_posts(coverage: str) -> int | None:
    """The most posts the optimiser's stored response curves for ``coverage`` were
    trained for (the national experiment's ``optimise.max_posts``); None when none
    are stored."""
    table = stored_curves()
    if table is None or not (table["coverage"] == coverage).any():
        return None
    stored = stored_table()
    if stored is None:
        return None
    chosen = stored[(stored["coverage"] == coverage) & (stored["allocation"] == "optimised")]
    return int(chosen["posts"].max()) if not chosen.empty else None


def stored_curves() -> pd.DataFrame | None:
    """The optimiser's response curves of the stored results, else of the committed
    reference: ``coverage, catchment, posts, unmet, not_within_24h``."""
    return _stored("response_curves")


def _replayed(coverage: str, posts: int) -> dict[str, int] | None:
    from sim.national.optimise import ResponseCurves, replay_allocation

    table = stored_curves()
    if table is None:
        return None
    table = table[table["coverage"] == coverage]
    points = {
        (str(row.catchment), int(row.posts)): (float(row.unmet), float(row.not_within_24h))
        for row in table.itertuples()
    }
    study = _study()
    replications = study.model.config.allocation.training_replications
    return replay_allocation(ResponseCurves(study, coverage, replications, points), posts)


def estimated_national(coverage: str, rule: str, posts: int) -> pd.DataFrame | None:
    """The national measures at ``posts`` estimated from the stored results' response
    curves (``sim.national.interpolation``), in plain words, each beside its curve's
    largest error when a simulated count is left out; None where nothing is stored on both sides of
    ``posts`` for this rule and coverage model."""
    from sim.national.interpolation import estimate
    from sim.national.measures import NATIONAL_MEASURES

    national = stored_table()
    if national is None:
        return None
    found = estimate(national, coverage, rule, posts)
    if not found:
        return None
    known = {m.name: m for m in NATIONAL_MEASURES}
    rows = []
    for guess in found:
        measure = known[guess.metric]
        scale, digits = measure.scale, measure.digits
        low, high = guess.between
        rows.append(
            {
                "Measure": measure.title,
                "Unit": plain_unit(measure.unit.replace("persons", "people")),
                "Estimate": round(guess.mean * scale, digits),
                "Largest error, a simulated count left out (±)": round(guess.error * scale, digits),
                "Simulated at": f"{low} posts" if low == high else f"{low} and {high} posts",
            }
        )
    return pd.DataFrame(rows)


ESTIMATE_NOTE = (
    "Estimated, not simulated: each measure is interpolated between the numbers of posts "
    "the national experiment simulated (a monotone cubic curve against the logarithm of "
    "the posts, docs/national.md). The error column is the most that curve misses a "
    "simulated count by when that count is left out: a guide to this estimate's error "
    "(at four counts between the stored ones, under office hours and the proportional "
    "rule, direct simulations fell within it), not a confidence interval. *Compute "
    "this allocation now* simulates it."
)


def computed_folder(coverage: str, rule: str, posts: int, replications: int) -> Path:
    """Where the page keeps a national run it made."""
    return cache_folder() / "national" / f"{coverage}-{rule}-{posts}-r{replications}"


def computed_national(
    coverage: str, rule: str, posts: int, replications: int
) -> NationalView | None:
    """A national run the page made earlier, if any."""
    folder = computed_folder(coverage, rule, posts, replications)
    manifest = folder / "national.json"
    if not manifest.is_file():
        return None
    if json.loads(manifest.read_text(encoding="utf-8")).get("status") != "complete":
        return None
    return _select(folder, coverage, rule, posts)


def compute_national(
    coverage: str,
    rule: str,
    posts: int,
    replications: int,
    on_run: Callable[[int, int], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> NationalView:
    """Run the national model for one allocation on every core (``station-sim
    national`` with the same options); a mistake raises ``ConfigError``.  ``on_run(done,
    total)`` follows the catchment runs, ``note`` the steps before them (the
    optimiser's training)."""
    from sim.national.study import Request, check_requests, run_national
    from sim.pipeline.backends import LocalBackend, default_jobs

    study = _study()
    request = Request(posts, rule, coverage)
    check_requests(study, [request], "France page")
    folder = computed_folder(coverage, rule, posts, replications)
    folder.parent.mkdir(parents=True, exist_ok=True)
    backend = LocalBackend(default_jobs())
    try:
        run_national(
            study, [request], folder, backend, replications, fresh=folder.exists(),
            command=["station-sim", "app"], show_progress=False, on_run=on_run, note=note,
        )  # fmt: skip
    finally:
        backend.close()
    view = _select(folder, coverage, rule, posts)
    if view is None:
        raise RuntimeError(f"the national run wrote no row for {request.key} in {folder}")
    return view


def progress_text(done: int, total: int, elapsed_s: float) -> str:
    """What the page's progress bar says after ``done`` of ``total`` catchment runs:
    the time left estimated from the runs so far (their mean time), never promised
    before the first run is done."""
    if done <= 0:
        return f"0 of {total} catchment runs done"
    left = elapsed_s / done * (total - done)
    if done >= total:
        return f"{total} of {total} catchment runs done; summing the catchments"
    when = f"about {left:.0f} s left" if left < 120 else f"about {left / 60:.0f} min left"
    return f"{done} of {total} catchment runs done, {when}"


def national_table(national: pd.DataFrame) -> pd.DataFrame:
    """The national measures in plain words: mean and 95 % interval (from the
    catchments' replications, or the national replications': `interval_note`).

    Every national measure is a count, a share, an index or a cost, none below 0 and no
    share above 100 %: where the interval reaches past that (the worst département's,
    on the national replications alone, is wide), it is shown cut at the bound, never
    as a negative number of people (`interval_note` says so beside the table)."""
    from sim.national.measures import NATIONAL_MEASURES

    known = {m.name: m for m in NATIONAL_MEASURES}
    rows = []
    for _, row in national.iterrows():
        measure = known.get(row["metric"])
        if measure is None:
            continue
        scale, digits = measure.scale, measure.digits
        # Within the measure's support, as stored since the support was kept (a
        # folder written before keeps its t interval's ends).
        low, high = measure.support
        rows.append(
            {
                "Measure": measure.title,
                "Unit": plain_unit(measure.unit.replace("persons", "people")),
                "Mean": round(row["mean"] * scale, digits),
                "95 % CI from": round(max(row["ci_low"], low) * scale, digits),
                "95 % CI to": round(min(row["ci_high"], high) * scale, digits),
            }
        )
    return pd.DataFrame(rows)


def interval_note(national: pd.DataFrame) -> str:
    """What the intervals of the national table rest on, in words."""
    replications = int(national["n"].min()) if "n" in national and len(national) else 0
    if replications < 2:
        return "One replication: the table has no confidence intervals."
    cut = " An interval that would reach below 0 (or a share above 100 %) is shown cut there."
    across = f"{replications - 1} degree(s) of freedom" + (
        " and is wide" if replications < 5 else ""
    )
    dof = national["dof"] if "dof" in national else pd.Series(dtype=float)
    chosen = dof[national["metric"] == "national_unmet_share"].dropna() if len(dof) else dof
    if chosen.empty:  # a folder written before the catchments' intervals
        return f"Over {replications} replications, so each 95 % interval rests on {across}.{cut}"
    return (
        f"Means over {replications} replications of every catchment. Each 95 % interval "
        "comes from the spread of the catchments' own replications (they are independent: "
        f"about {chosen.median():.0f} degrees of freedom for the unmet share), but the "
        "worst département's and the 90th-percentile person's, which rest on the "
        f"national replications: {across}.{cut}"
    )


def departement_table(departements: pd.DataFrame) -> pd.DataFrame:
    """One row per département, the least served first."""
    if departements.empty:
        return pd.DataFrame()
    shown = pd.DataFrame(
        {
            "Département": departements["name"],
            "Code": departements["departement"],
            "Inhabitants": departements["population"],
            "Posts": departements["posts_in_departement"],
            "Posts per 100,000": departements["posts_per_100k"].round(2),
            "People in need a year": departements["persons_in_need"].round(0),
            "Unmet (% of people in need)": (departements["unmet_share"] * 100).round(1),
            "Contacted within 24 h (%)": (departements["within_24h_share_of_need"] * 100).round(1),
            # Results stored before cross-border service have no such column: nobody.
            "Contacted at a post of another catchment, a year": departements.get(
                "contacted_across_border", pd.Series(0.0, index=departements.index)
            ).round(0),
            "Cost (euros a year)": departements["cost_eur_per_year"].round(0),
        }
    )
    return shown.sort_values("Unmet (% of people in need)", ascending=False, ignore_index=True)
