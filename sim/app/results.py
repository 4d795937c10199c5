"""Running a comparison request through the pipeline and reading its tables back as the
page shows them: plain titles and units, values scaled for reading.

A request's results are stored in a folder named by its digest under the page's cache
(``$STATION_SIM_APP_CACHE``, by default ``station-sim-app`` in the temporary folder):
an identical request later, even after a restart, reads them back and runs nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import sim
from sim.app.catalog import CONFIGS, CoverageModel
from sim.app.request import ResolvedRequest
from sim.measures.catalogue import ALL
from sim.pipeline.backends import LocalBackend, default_jobs
from sim.pipeline.execute import run_experiment
from sim.pipeline.plan import load_plan

__all__ = [
    "POPULATION_TITLES",
    "ComparisonTables",
    "cache_folder",
    "comparison_table",
    "load_comparison",
    "plain_unit",
    "results_folder",
    "run_comparison",
    "summary_table",
]

POPULATION_TITLES = {
    ALL: "everyone",
    "victim": "victims",
    "perpetrator": "perpetrators",
    "third_party": "third parties (relatives, witnesses, children)",
}


def cache_folder() -> Path:
    """Where the page keeps the results it computed."""
    chosen = os.environ.get("STATION_SIM_APP_CACHE")
    return Path(chosen) if chosen else Path(tempfile.gettempdir()) / "station-sim-app"


def results_folder(request: ResolvedRequest) -> Path:
    """The results folder of a request (it may not exist yet)."""
    return cache_folder() / "one-station" / request.key()


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("status") == "complete"
    except (OSError, ValueError):
        return False


def run_comparison(
    request: ResolvedRequest, on_progress: Callable[[int, int], None] | None = None
) -> float:
    """Run a request's replications on every core (nothing when its folder holds them
    already) and return the seconds it took; ``on_progress(done, total)`` after each."""
    folder = results_folder(request)
    if is_complete(folder):
        return 0.0
    started = time.monotonic()
    folder.parent.mkdir(parents=True, exist_ok=True)
    spec = folder.parent / f"{folder.name}.yaml"
    spec.write_text(request.spec_text(configs=str(CONFIGS), figures=False), encoding="utf-8")
    plan = load_plan(spec)
    total = plan.runs
    done = 0

    def advance(_task: object) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    outcome = run_experiment(
        plan,
        folder,
        LocalBackend(default_jobs()),
        resume=(folder / "manifest.json").is_file(),
        show_progress=False,
        figures=False,
        command=["station-sim", "app"],
        on_task_done=advance,
    )
    if outcome.status != "complete":
        raise sim.RunFailed(outcome)
    return time.monotonic() - started


@dataclass(frozen=True)
class ComparisonTables:
    """The stored tables of a comparison that the page shows."""

    summary: pd.DataFrame
    comparison: pd.DataFrame
    wait_ecdf: pd.DataFrame
    hour_of_week: pd.DataFrame
    measures: pd.DataFrame


def load_comparison(folder: Path) -> ComparisonTables:
    """Read a finished comparison (computes nothing)."""
    result = sim.load(folder)
    comparison = result.comparison
    return ComparisonTables(
        summary=result.summary,
        comparison=comparison if comparison is not None else pd.DataFrame(),
        wait_ecdf=result.wait_ecdf,
        hour_of_week=result.hour_of_week,
        measures=result.measures,
    )


# Units in the words of the people the page is for.
_UNITS = {
    "h": "hours",
    "% of servable cases": "% of the people the service could help",
    "% of referred": "% of the people referred",
    "EUR a year": "euros a year",
    "EUR": "euros",
}


def plain_unit(unit: str) -> str:
    """A measure's unit in plain words."""
    return _UNITS.get(unit, unit)


def _shown_measures(measures: pd.DataFrame) -> pd.DataFrame:
    listed = measures[
        measures["lists"].fillna("").str.split(",").apply(lambda x: "comparison" in x)
    ]
    return listed.set_index("name")


def _titles(models: dict[str, CoverageModel]) -> Callable[[str], str]:
    return lambda label: models[label].title if label in models else label.replace("_", " ")


def summary_table(
    tables: ComparisonTables, models: dict[str, CoverageModel], population: str = ALL
) -> pd.DataFrame:
    """Each model's mean and 95 % confidence interval of the headline measures, one
    row per measure, scaled and rounded as the measure says."""
    shown = _shown_measures(tables.measures)
    rows = tables.summary[
        (tables.summary["population"] == population) & tables.summary["metric"].isin(shown.index)
    ]
    title = _titles(models)
    out = []
    for metric in shown.index:
        measure = shown.loc[metric]
        for _, row in rows[rows["metric"] == metric].iterrows():
            scale, digits = float(measure["scale"]), int(measure["digits"])
            out.append(
                {
                    "Measure": measure["title"],
                    "Unit": plain_unit(measure["unit"]),
                    "Coverage model": title(row["scenario"]),
                    "Mean": round(row["mean"] * scale, digits),
                    "95 % CI from": round(row["ci_low"] * scale, digits),
                    "95 % CI to": round(row["ci_high"] * scale, digits),
                }
            )
    return pd.DataFrame(out)


COMPARISON_COLUMNS = (
    "Measure",
    "Unit",
    "Coverage model",
    "Baseline",
    "This model",
    "Difference",
    "95 % CI from",
    "95 % CI to",
    "Clear difference?",
)


def comparison_table(
    tables: ComparisonTables, models: dict[str, CoverageModel], population: str = ALL
) -> pd.DataFrame:
    """The paired comparison with the baseline: each other model's mean, the baseline's,
    their difference and its paired 95 % confidence interval (the same people in the
    same replication under both models), for the headline measures."""
    shown = _shown_measures(tables.measures)
    if tables.comparison.empty:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    rows = tables.comparison[
        (tables.comparison["population"] == population)
        & tables.comparison["metric"].isin(shown.index)
    ]
    title = _titles(models)
    out = []
    for metric in shown.index:
        measure = shown.loc[metric]
        scale, digits = float(measure["scale"]), int(measure["digits"])
        for _, row in rows[rows["metric"] == metric].iterrows():
            low, high = row["ci_low"], row["ci_high"]
            clear = "yes" if (low > 0 or high < 0) else "no"
            out.append(
                {
                    "Measure": measure["title"],
                    "Unit": plain_unit(measure["unit"]),
                    "Coverage model": title(row["scenario"]),
                    "Baseline": round(row["baseline_mean"] * scale, digits),
                    "This model": round(row["scenario_mean"] * scale, digits),
                    "Difference": round(row["difference"] * scale, digits),
                    "95 % CI from": round(low * scale, digits),
                    "95 % CI to": round(high * scale, digits),
                    "Clear difference?": clear,
                }
            )
    return pd.DataFrame(out, columns=list(COMPARISON_COLUMNS))
