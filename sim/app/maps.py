"""The page's map of France by département: unmet demand or posts per 100,000 in
colour, on the PNG maps' fixed scales and palette (sim/national/figures.py), with each
département's number of posts written on it.

Metropolitan France is one panel; the five overseas départements and Paris with its
inner ring, too small or too far to read on it, are drawn beside it in panels of their
own, each fitted to its shape, on the same colour scale.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import altair as alt
import pandas as pd

from sim.app.catalog import CONFIGS
from sim.pipeline.figure_style import (
    DENSITY_SCALE_PER_100K,
    HEATMAP,
    INNER_RING,
    OVERSEAS,
    SHARE_SCALE_PERCENT,
)

__all__ = ["MAP_NOTE", "departement_map"]

MAP_NOTE = (
    "Numbers: the posts in each département. The overseas départements and Paris with "
    "its inner ring are drawn again beside the mainland, each at its own scale. "
    f"Posts per 100,000 are coloured on one scale from 0 to {DENSITY_SCALE_PER_100K[1]:g} "
    "(denser départements take its top colour, yellow); unmet demand from 0 to 100 %, "
    "darker worse."
)


@cache
def _features() -> tuple[dict[str, Any], ...]:
    document = json.loads(
        (CONFIGS / "national" / "departements.geojson").read_text(encoding="utf-8")
    )
    return tuple(document["features"])


def departement_map(departements: pd.DataFrame, measure: str = "unmet") -> alt.HConcatChart:
    """France by département: ``measure`` "unmet" (% of persons in need) or posts per
    100,000 inhabitants in colour, each département's posts written on it."""
    # cividis, reversed for unmet so that dark is worse on both, as on the PNG maps.
    by_code = departements.set_index("departement")
    if measure == "unmet":
        values = by_code["unmet_share"] * 100
        title = "Unmet demand (% of persons in need)"
        scale = alt.Scale(scheme=HEATMAP, reverse=True, domain=list(SHARE_SCALE_PERCENT))
    else:
        values = by_code["posts_per_100k"]
        title = f"Posts per 100,000 inhabitants ({DENSITY_SCALE_PER_100K[1]:g} or more: top colour)"
        scale = alt.Scale(scheme=HEATMAP, domain=list(DENSITY_SCALE_PER_100K), clamp=True)
    posts = by_code["posts_in_departement"]
    features = []
    for feature in _features():
        code = str(feature["properties"]["code"])
        properties = dict(
            feature["properties"],
            value=float(values.get(code, float("nan"))),
            posts=int(posts[code]) if code in posts.index else None,
        )
        features.append({**feature, "properties": properties})
    color = alt.Color(
        "properties.value:Q", title=title, scale=scale, legend=alt.Legend(titleLimit=0)
    )

    def panel(
        codes: set[str], labelled: set[str], size: tuple[int, int], name: str | None
    ) -> alt.Chart:
        """The départements ``codes`` fitted to one panel of ``size`` (width, height in
        pixels), posts written on ``labelled``."""
        shown = [f for f in features if f["properties"]["code"] in codes]
        shapes = (
            alt.Chart(alt.Data(values=shown))
            .mark_geoshape(stroke="white", strokeWidth=0.5)
            .encode(
                color=color,
                tooltip=[
                    alt.Tooltip("properties.name:N", title="Département"),
                    alt.Tooltip("properties.value:Q", title=title, format=".1f"),
                    alt.Tooltip("properties.posts:Q", title="Posts"),
                ],
            )
        )
        layers: list[alt.Chart] = [shapes]
        if labelled:
            points = [
                {
                    "lon": f["properties"]["lon"],
                    "lat": f["properties"]["lat"],
                    "posts": f["properties"]["posts"],
                }
                for f in shown
                if f["properties"]["code"] in labelled and f["properties"]["posts"] is not None
            ]
            numbers = alt.Chart(alt.Data(values=points)).encode(
                longitude="lon:Q", latitude="lat:Q", text="posts:Q"
            )
            # A white halo first, then the numbers over it: Vega strokes a text's
            # outline over its fill, which a single layer would blur.
            layers.append(numbers.mark_text(fontSize=9, stroke="white", strokeWidth=2))
            layers.append(numbers.mark_text(fontSize=9))
        chart = alt.layer(*layers).project(type="mercator")
        chart = chart.properties(width=size[0], height=size[1])
        return chart.properties(title=alt.Title(name, fontSize=11)) if name else chart

    names = {str(f["properties"]["code"]): f["properties"]["name"] for f in features}
    inner = set(INNER_RING)
    side = [panel({code}, {code}, (120, 55), names[code]) for code in OVERSEAS]
    side.append(panel(inner, inner, (120, 110), "Paris and its inner ring"))
    # The inner ring stays on the mainland, unlabelled there: its numbers would cover
    # each other, and its panel has them.
    mainland = {c for c in names if c not in OVERSEAS}
    main = panel(mainland, mainland - inner, (520, 500), None)
    return alt.hconcat(alt.vconcat(*side, spacing=4), main).resolve_scale(color="shared")
