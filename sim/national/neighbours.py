"""Service across catchment borders: which départements touch, how far apart they are,
and where the persons of a catchment without a post go under an allocation.

Two départements are neighbours when their boundaries (the shipped, simplified GeoJSON)
come within ``neighbour_gap_km`` of each other.  The road time between two
départements is ``minutes_per_km`` times the great-circle distance between their
centroids; within one département it is ``minutes_per_km`` times the mean distance
between two points of a square of its area (0.5214 times the side).  These are the
only positions the model has: a catchment is a share of its département, not a place.

A person of a catchment without a post reaches a post with probability
``uptake(minutes)`` (:class:`~sim.national.config.CrossBorder`), ``minutes`` being the
road time to the nearest département (its own included) that has posts; those who go
are shared among that département's catchments with posts in proportion to their
posts.  The others stay unmet for want of a post.  A catchment with a post keeps its
persons, even when the post is saturated, unless ``cross_border.pass_on_saturated``
(:mod:`sim.national.saturation`: its flows join these in :class:`Flows`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from sim.config.errors import ConfigError
from sim.national.catchments import Catchment
from sim.national.config import CrossBorder, Departement

__all__ = ["Flows", "Neighbourhood", "cross_border_flows", "read_neighbourhood"]

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE_LATITUDE = 110.57
KM_PER_DEGREE_LONGITUDE_AT_EQUATOR = 111.32
MEAN_DISTANCE_IN_UNIT_SQUARE = 0.5214
"""The mean distance between two uniform points of a unit square (Robbins' constant)."""


@dataclass(frozen=True)
class Neighbourhood:
    """The départements' centroids (degrees) and which départements touch."""

    centroid: Mapping[str, tuple[float, float]]
    """Département code: (longitude, latitude) of its area's centroid."""
    neighbours: Mapping[str, tuple[str, ...]]
    """Département code: the codes of the départements it touches, in table order."""
    area_km2: Mapping[str, float]
    _reach: dict[tuple[str, float], tuple[tuple[float, str], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def distance_km(self, a: str, b: str) -> float:
        """Road-free distance between two départements: the great circle between
        their centroids, or, within one, the mean distance between two of its points."""
        if a == b:
            return MEAN_DISTANCE_IN_UNIT_SQUARE * math.sqrt(self.area_km2[a])
        (lon1, lat1), (lon2, lat2) = self.centroid[a], self.centroid[b]
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))

    def reach(self, home: str, minutes_per_km: float) -> tuple[tuple[float, str], ...]:
        """The départements a person of ``home`` can reach (its own and those it
        touches) with the road time to each, nearest first (equal times: its own,
        then table order)."""
        key = (home, minutes_per_km)
        cache = self._reach
        if key not in cache:
            places = (home, *self.neighbours.get(home, ()))
            timed = [(minutes_per_km * self.distance_km(home, d), d) for d in places]
            cache[key] = tuple(sorted(timed, key=lambda t: t[0]))  # stable: ties keep order
        return cache[key]


def read_neighbourhood(
    path: Path, departements: Sequence[Departement], gap_km: float, where: str
) -> Neighbourhood:
    """The neighbourhood of ``departements`` from a GeoJSON of their boundaries (only
    the départements listed: a region's border départements lose their neighbours
    outside it)."""
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        shapes = {f["properties"]["code"]: _rings(f["geometry"]) for f in features}
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise ConfigError(f"{where}: cannot read the boundaries' polygons ({error})") from None
    codes = [d.code for d in departements]
    centroid: dict[str, tuple[float, float]] = {}
    points, owner = [], []
    for k, code in enumerate(codes):
        rings = shapes.get(code)
        if not rings:
            raise ConfigError(f"{where}: département {code} has no polygon")
        centroid[code] = _centroid(rings)
        for ring in rings:
            points.append(ring)
            owner.append(np.full(len(ring), k))
    lonlat = np.concatenate(points)
    who = np.concatenate(owner)
    # Local kilometres: two points a few km apart share their latitude's scale.
    xy = np.column_stack(
        [
            lonlat[:, 0] * KM_PER_DEGREE_LONGITUDE_AT_EQUATOR * np.cos(np.radians(lonlat[:, 1])),
            lonlat[:, 1] * KM_PER_DEGREE_LATITUDE,
        ]
    )
    pairs = cKDTree(xy).query_pairs(gap_km, output_type="ndarray")
    a, b = who[pairs[:, 0]], who[pairs[:, 1]]
    touching = {(int(i), int(j)) for i, j in zip(a, b, strict=True) if i != j}
    touching |= {(j, i) for i, j in touching}
    neighbours = {
        code: tuple(codes[j] for j in range(len(codes)) if (k, j) in touching)
        for k, code in enumerate(codes)
    }
    area = {d.code: d.area_km2 for d in departements}
    return Neighbourhood(centroid, neighbours, area)


def _rings(geometry: Mapping) -> list[np.ndarray]:
    """The outer rings of a Polygon or MultiPolygon, as (longitude, latitude) arrays."""
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        raise ValueError(f"geometry type {geometry['type']!r} is not a polygon")
    return [np.asarray(polygon[0], dtype=float)[:, :2] for polygon in polygons]


def _centroid(rings: Sequence[np.ndarray]) -> tuple[float, float]:
    """The area-weighted centroid of outer rings (shoelace, in degrees: the
    départements are small enough for it), whichever way each ring turns."""
    total, cx, cy = 0.0, 0.0, 0.0
    for ring in rings:
        x, y = ring[:, 0], ring[:, 1]
        x1, y1 = np.roll(x, -1), np.roll(y, -1)
        cross = x * y1 - x1 * y
        area = cross.sum() / 2  # signed: negative for a clockwise ring
        if area == 0:
            continue
        # Each ring's own centroid (its moments over its signed area), weighed by
        # its size, so that rings turning opposite ways do not cancel.
        total += abs(area)
        cx += abs(area) * ((x + x1) * cross).sum() / (6 * area)
        cy += abs(area) * ((y + y1) * cross).sum() / (6 * area)
    if total == 0:
        ring = np.concatenate(rings)
        return float(ring[:, 0].mean()), float(ring[:, 1].mean())
    return float(cx / total), float(cy / total)


@dataclass(frozen=True)
class Flows:
    """Where the persons of the catchments without a post go under one allocation."""

    uptake: Mapping[str, float]
    """Catchment without a post: the share of its persons who reach a post (0 when no
    département within reach has one)."""
    minutes: Mapping[str, float]
    """Catchment without a post whose persons reach a post: the road time there."""
    brought: Mapping[str, Mapping[str, float]]
    """Catchment without a post: {catchment with posts: the population whose persons
    go there} (its population times its uptake, shared by the posts)."""
    passed_on: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Catchment with posts that passes on persons it let expire
    (:mod:`sim.national.saturation`): {catchment with posts: the population whose
    persons it passes there}.  Empty unless ``cross_border.pass_on_saturated``."""

    def with_passed_on(self, passed_on: Mapping[str, Mapping[str, float]]) -> Flows:
        """These flows and those of the persons saturated posts pass on."""
        return replace(self, passed_on=passed_on)

    @cached_property
    def _received(self) -> dict[str, dict[str, float]]:
        """Catchment with posts: {origin: the population whose persons it receives}."""
        return _by_destination(self.brought)

    @cached_property
    def _passed(self) -> dict[str, dict[str, float]]:
        """Catchment with posts: {saturated post's catchment: the population whose
        persons it is passed}."""
        return _by_destination(self.passed_on)

    @cached_property
    def inflow(self) -> dict[str, float]:
        """Catchment with posts: the population whose persons it receives."""
        return {d: sum(origins.values()) for d, origins in self._received.items()}

    @cached_property
    def passed_inflow(self) -> dict[str, float]:
        """Catchment with posts: the population whose persons saturated posts pass it."""
        return {d: sum(origins.values()) for d, origins in self._passed.items()}

    def origins(self, destination: str) -> dict[str, float]:
        """The catchments whose persons ``destination`` receives, with the share of its
        inflow each brings (summing to 1)."""
        return _shares(self._received.get(destination, {}))

    def passers(self, destination: str) -> dict[str, float]:
        """The catchments whose saturated posts pass persons on to ``destination``,
        with the share of what it is passed each brings (summing to 1)."""
        return _shares(self._passed.get(destination, {}))

    def whole_inflow(self) -> dict[str, int]:
        """:attr:`inflow` in whole persons of population."""
        return _whole(self.inflow)

    def whole_passed_inflow(self) -> dict[str, int]:
        """:attr:`passed_inflow` in whole persons of population."""
        return _whole(self.passed_inflow)


def _by_destination(flows: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for origin, shares in flows.items():
        for destination, population in shares.items():
            if population > 0:
                out.setdefault(destination, {})[origin] = population
    return out


def _shares(received: Mapping[str, float]) -> dict[str, float]:
    total = sum(received.values())
    return {origin: population / total for origin, population in received.items()}


def _whole(populations: Mapping[str, float]) -> dict[str, int]:
    # Whole persons, but never 0 for a post that receives someone: its senders'
    # persons are already counted as gone (the attribution keeps the exact flows).
    return {cid: max(1, round(population)) for cid, population in populations.items()}


def cross_border_flows(
    catchments: Sequence[Catchment],
    allocation: Mapping[str, int],
    neighbourhood: Neighbourhood,
    rule: CrossBorder,
) -> Flows:
    """The flows of persons from the catchments without a post to the nearest posts."""
    posts_in: dict[str, dict[str, int]] = {}
    for c in catchments:
        if allocation.get(c.catchment_id, 0) > 0:
            posts_in.setdefault(c.departement, {})[c.catchment_id] = allocation[c.catchment_id]
    uptake: dict[str, float] = {}
    minutes: dict[str, float] = {}
    brought: dict[str, dict[str, float]] = {}
    for c in catchments:
        if allocation.get(c.catchment_id, 0) > 0:
            continue
        nearest = next(
            (
                (t, d)
                for t, d in neighbourhood.reach(c.departement, rule.minutes_per_km)
                if d in posts_in
            ),
            None,
        )
        if nearest is None:
            uptake[c.catchment_id] = 0.0
            continue
        time, departement = nearest
        posts = posts_in[departement]
        total = sum(posts.values())
        share = rule.uptake(time)
        uptake[c.catchment_id] = share
        minutes[c.catchment_id] = time
        brought[c.catchment_id] = {
            cid: share * c.population * k / total for cid, k in posts.items()
        }
    return Flows(uptake, minutes, brought)
