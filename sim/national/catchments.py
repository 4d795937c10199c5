"""Catchments: the parts of a département a post can serve.

A département's urban population (communes of 20,000 or more, the police zone's proxy
[G7]) is cut into ``ceil(urban / police_population)`` police districts of equal
population; the rest of its people (the gendarmerie zone) into
``ceil(max(rest / gendarmerie_population, area / gendarmerie_max_area_km2))``
gendarmerie areas of equal population and area, but never so many that one has fewer
than ``gendarmerie_min_population`` people (the police districts' land is neglected:
a few % of the area).  A worker posted to a gendarmerie area travels to the brigade of the
day: ``travel_minutes_per_sqrt_km2 * sqrt(area)`` minutes each way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sim.config.errors import ConfigError
from sim.national.config import Catchments, Departement

__all__ = ["MAX_CATCHMENTS", "Catchment", "cut_catchments"]

Kind = Literal["police", "gendarmerie"]


@dataclass(frozen=True)
class Catchment:
    """One catchment: ``catchment_id`` is ``<département code>-<P|G><number>``."""

    catchment_id: str
    departement: str
    kind: Kind
    population: float
    area_km2: float
    travel_minutes: float


MAX_CATCHMENTS = 20_000
"""The most catchments a national config may cut its territory into (France has 447)."""


def _counts(d: Departement, rule: Catchments) -> tuple[int, int]:
    """A département's police districts and gendarmerie areas."""
    urban = d.urban_population
    rest = d.population - urban
    police = math.ceil(urban / rule.police_population) if urban > 0 else 0
    gendarmerie = 0
    if rest > 0:
        by_population = rest / rule.gendarmerie_population
        by_area = d.area_km2 / rule.gendarmerie_max_area_km2
        # The area rule would cut a vast, empty territory (French Guiana) into
        # dozens of catchments of a few thousand people: never below the floor.
        largest = max(1, math.floor(rest / rule.gendarmerie_min_population))
        gendarmerie = min(math.ceil(max(by_population, by_area)), largest)
    return police, gendarmerie


def cut_catchments(departements: Sequence[Departement], rule: Catchments) -> tuple[Catchment, ...]:
    """Every département's catchments, in table order, police districts first."""
    counts = [_counts(d, rule) for d in departements]
    total = sum(p + g for p, g in counts)
    if total > MAX_CATCHMENTS:
        raise ConfigError(
            f"catchments: police_population {rule.police_population:g}, "
            f"gendarmerie_population {rule.gendarmerie_population:g} and "
            f"gendarmerie_max_area_km2 {rule.gendarmerie_max_area_km2:g} cut the territory "
            f"into {total:,} catchments; at most {MAX_CATCHMENTS:,} are allowed: give "
            "larger catchments"
        )
    out: list[Catchment] = []
    for d, (police, gendarmerie) in zip(departements, counts, strict=True):
        urban = d.urban_population
        rest = d.population - urban
        for k in range(police):
            out.append(Catchment(f"{d.code}-P{k + 1}", d.code, "police", urban / police, 0.0, 0.0))
        for k in range(gendarmerie):
            area = d.area_km2 / gendarmerie
            travel = rule.travel_minutes_per_sqrt_km2 * math.sqrt(area)
            out.append(
                Catchment(
                    f"{d.code}-G{k + 1}", d.code, "gendarmerie", rest / gendarmerie, area, travel
                )
            )
    return tuple(out)
