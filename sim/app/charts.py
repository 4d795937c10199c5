"""The page's figures, drawn with Altair from the stored tables: the time to first
contact (ECDF), the hour-of-week heatmap of unmet demand, and cost against unmet
demand.  Every axis and legend is in plain words, and the colours are those of the
project's PNG figures (``sim.pipeline.figure_style``): Okabe-Ito for the models,
cividis for the heatmap, both colour-blind safe."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from sim.app.catalog import CoverageModel
from sim.measures.catalogue import ALL
from sim.pipeline.figure_style import COLOURS, HEATMAP, SHARE_SCALE_PERCENT, WAIT_TICKS_HOURS

__all__ = ["cost_against_unmet", "hour_of_week_heatmap", "time_to_first_contact"]

_DAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_MODEL = "Coverage model"
_MODELS = alt.Scale(range=list(COLOURS))
"""The models' colours, in the order of the PNG figures' series."""
_BAND_OPACITY = 0.3
"""The 95 % bands: light enough to show the line, dark enough to see (0.2 was not)."""


def _title(models: Mapping[str, CoverageModel], label: str) -> str:
    return models[label].title if label in models else label.replace("_", " ")


def time_to_first_contact(
    ecdf: pd.DataFrame, models: Mapping[str, CoverageModel], population: str = ALL
) -> alt.Chart:
    """Share of the people referred who were contacted within each time, by model."""
    rows = ecdf[(ecdf["population"] == population) & (ecdf["hours"] > 0)].copy()
    rows[_MODEL] = rows["scenario"].map(lambda s: _title(models, s))
    rows["share"] = rows["mean"] * 100
    rows["low"] = rows["ci_low"] * 100
    rows["high"] = rows["ci_high"] * 100
    # The PNG figures' wait ticks (1 min ... 30 days), not Vega's decimal hours.
    ticks = [h for h, _ in WAIT_TICKS_HOURS]
    words = " : ".join(f"datum.value == {h!r} ? {label!r}" for h, label in WAIT_TICKS_HOURS)
    x = alt.X(
        "hours:Q",
        scale=alt.Scale(type="log"),
        axis=alt.Axis(values=ticks, labelExpr=f"{words} : ''"),
        title="Time from referral to first contact (log scale)",
    )
    band = (
        alt.Chart(rows)
        .mark_area(opacity=_BAND_OPACITY)
        .encode(x=x, y="low:Q", y2="high:Q", color=alt.Color(f"{_MODEL}:N", scale=_MODELS))
    )
    line = (
        alt.Chart(rows)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=alt.Y(
                "share:Q",
                title="% of referred people contacted",
                axis=alt.Axis(titleLimit=0),
            ),
            color=alt.Color(
                f"{_MODEL}:N",
                scale=_MODELS,
                legend=alt.Legend(orient="bottom", columns=1, labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip(f"{_MODEL}:N"),
                alt.Tooltip("hours:Q", title="hours", format=".1f"),
                alt.Tooltip("share:Q", title="% contacted", format=".1f"),
            ],
        )
    )
    return (band + line).properties(height=360)


def hour_of_week_heatmap(
    hours: pd.DataFrame, models: Mapping[str, CoverageModel], measure: str = "unmet_share"
) -> alt.Chart:
    """Unmet share (or mean wait) by day and hour of arrival, one panel per model."""
    rows = hours.copy()
    rows[_MODEL] = rows["scenario"].map(lambda s: _title(models, s))
    rows["Day"] = rows["day"].map(_DAYS)
    if measure == "unmet_share":
        rows["value"] = rows["unmet_share"] * 100
        legend = "% of servable cases not helped"
        scale = alt.Scale(scheme=HEATMAP, domain=list(SHARE_SCALE_PERCENT))
    else:
        rows["value"] = rows["wait_mean_h"]
        legend = "mean wait, hours"
        scale = alt.Scale(scheme=HEATMAP)
    return (
        alt.Chart(rows)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="Hour of arrival"),
            y=alt.Y("Day:N", sort=list(_DAYS.values()), title=None),
            color=alt.Color(
                "value:Q",
                title=legend,
                scale=scale,
                legend=alt.Legend(titleLimit=0),
            ),
            tooltip=[
                alt.Tooltip(f"{_MODEL}:N"),
                alt.Tooltip("Day:N"),
                alt.Tooltip("hour:O", title="hour"),
                alt.Tooltip("value:Q", title=legend, format=".1f"),
                alt.Tooltip("cases:Q", title="people (all replications)"),
            ],
        )
        .properties(height=170)
        .facet(
            row=alt.Row(
                f"{_MODEL}:N",
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top"),
            )
        )
    )


def cost_against_unmet(summary: pd.DataFrame, models: Mapping[str, CoverageModel]) -> alt.Chart:
    """Each model's yearly cost against its unmet demand, with 95 % intervals: lower
    and further left is better, and the other models show what a euro buys."""
    rows = summary[summary["population"] == ALL]
    cost = rows[rows["metric"] == "cost_eur_per_year"].set_index("scenario")
    unmet = rows[rows["metric"] == "unmet_share"].set_index("scenario")
    data = pd.DataFrame(
        {
            _MODEL: [_title(models, s) for s in cost.index],
            "cost": cost["mean"].to_numpy() / 1000,
            "cost_low": cost["ci_low"].to_numpy() / 1000,
            "cost_high": cost["ci_high"].to_numpy() / 1000,
            "unmet": unmet.loc[cost.index, "mean"].to_numpy() * 100,
            "unmet_low": unmet.loc[cost.index, "ci_low"].to_numpy() * 100,
            "unmet_high": unmet.loc[cost.index, "ci_high"].to_numpy() * 100,
        }
    )
    x = alt.X("unmet:Q", title="Unmet demand (% of the people the service could help)")
    # From 0: a cost axis starting near the cheapest model magnifies the gaps.
    y = alt.Y("cost:Q", title="Cost (thousand euros a year)", scale=alt.Scale(zero=True))
    base = alt.Chart(data)
    points = base.mark_point(size=120, filled=True).encode(
        x=x,
        y=y,
        color=alt.Color(
            f"{_MODEL}:N",
            scale=_MODELS,
            legend=alt.Legend(orient="bottom", columns=1, labelLimit=0),
        ),
        tooltip=[
            alt.Tooltip(f"{_MODEL}:N"),
            alt.Tooltip("unmet:Q", title="% unmet", format=".1f"),
            alt.Tooltip("cost:Q", title="thousand euros a year", format=",.0f"),
        ],
    )
    across = base.mark_rule().encode(x="unmet_low:Q", x2="unmet_high:Q", y=y)
    up = base.mark_rule().encode(x=x, y="cost_low:Q", y2="cost_high:Q")
    return (across + up + points).properties(height=360)
