"""The coverage plan of one run: who is on site where and when, and when on call is open.

Weekly rosters are unrolled over the horizon, absent days are removed (each worker draws
one uniform per day from its own stream: absent with probability ``absence_rate``,
independently, and nobody replaces an absent worker), shifts that touch at the same
station are joined, and travel time is cut from both ends of each shift at a station
that needs travel.  The plan is fixed before the run starts: the model reads it, and so
does the vectorised referral decision, so both agree on when a station is covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

import numpy as np

from sim.config import Scenario
from sim.streams import stream
from sim.week import MINUTES_PER_DAY, merge_intervals, unroll_weekly

__all__ = ["CoveragePlan", "OnSiteShift", "build_plan"]


class OnSiteShift(NamedTuple):
    """One shift of one worker after absences: paid from ``paid_start`` to ``paid_end``,
    on site at ``station`` from ``start`` to ``end`` (minutes).  A named tuple, not a
    dataclass: a plan holds one per worked day, and a tuple is built several times
    faster, which counts in a short run."""

    worker: int
    station: int
    paid_start: float
    paid_end: float
    start: float
    end: float


@dataclass(frozen=True)
class CoveragePlan:
    """Shifts of every worker, station coverage and on-call windows over the horizon."""

    worker_names: tuple[str, ...]
    shifts: tuple[OnSiteShift, ...]  # sorted by start
    absent_days: tuple[np.ndarray, ...]  # per worker: day numbers absent
    station_coverage: tuple[np.ndarray, ...]  # per station: merged on-site intervals
    on_call_windows: np.ndarray  # (n, 2), sorted, one row per rostered window
    on_call_stations: frozenset[int]

    def serves(self, worker: int) -> tuple[int, ...]:
        """Stations a worker is rostered at (its callback lists)."""
        return tuple(sorted({s.station for s in self.shifts if s.worker == worker}))


def build_plan(scenario: Scenario, replication: int) -> CoveragePlan:
    """The coverage plan for one replication (absences drawn from the workers' streams)."""
    horizon = scenario.simulation.horizon_minutes
    n_days = int(np.ceil(horizon / MINUTES_PER_DAY))
    seed = scenario.simulation.seed
    workers = scenario.expanded_workers()
    travel = np.asarray([s.travel_minutes for s in scenario.stations], dtype=float)
    shifts: list[OnSiteShift] = []
    absences: list[np.ndarray] = []
    for w, (_name, config, copy) in enumerate(workers):
        # The stream is named after the config entry and the copy number, so adding a
        # copy or another worker leaves this worker's absence days unchanged.
        rng = stream(seed, replication, f"absence/{config.name}#{copy}")
        absent = rng.random(n_days) < config.absence_rate
        absences.append(np.flatnonzero(absent))
        paid = [np.empty((0, 3))]  # rows (start, end, station)
        for window in config.roster:
            station = scenario.station_index(window.station)
            unrolled = unroll_weekly(window.day_windows(), horizon)
            worked = unrolled[~absent[(unrolled[:, 0] // MINUTES_PER_DAY).astype(np.int64)]]
            ends = np.minimum(worked[:, 1], horizon)
            paid.append(np.column_stack((worked[:, 0], ends, np.full(len(ends), station))))
        rows = np.concatenate(paid)
        rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
        shifts.extend(_join_and_travel(w, rows, travel))
    shifts.sort(key=_start_then_worker)

    coverage = []
    for station in range(len(scenario.stations)):
        on_site = np.asarray(
            [(s.start, s.end) for s in shifts if s.station == station], dtype=float
        ).reshape(-1, 2)
        coverage.append(merge_intervals(on_site))

    windows = np.empty((0, 2))
    on_call_stations: frozenset[int] = frozenset()
    if scenario.on_call is not None:
        weekly = [w for window in scenario.on_call.windows for w in window.day_windows()]
        windows = unroll_weekly(weekly, horizon)
        if scenario.on_call.stations is None:
            on_call_stations = frozenset(range(len(scenario.stations)))
        else:
            on_call_stations = frozenset(
                scenario.station_index(name) for name in scenario.on_call.stations
            )
    return CoveragePlan(
        worker_names=tuple(name for name, _, _ in workers),
        shifts=tuple(shifts),
        absent_days=tuple(absences),
        station_coverage=tuple(coverage),
        on_call_windows=windows,
        on_call_stations=on_call_stations,
    )


_start_then_worker = attrgetter("start", "worker")


def _join_and_travel(worker: int, paid: np.ndarray, travel: np.ndarray) -> list[OnSiteShift]:
    """One worker's shifts from its paid windows (rows ``(start, end, station)``, sorted):
    windows that touch at the same station joined, travel cut from both ends."""
    if len(paid) == 0:
        return []
    start, end, station = paid[:, 0], paid[:, 1], paid[:, 2]
    if np.all(start[1:] >= end[:-1]):
        # Disjoint windows, as a validated roster's are: a window joins the one before
        # when it is at the same station and starts where that one ends.
        opens = np.flatnonzero(
            np.concatenate(([True], (station[1:] != station[:-1]) | (start[1:] > end[:-1])))
        )
        start, end, station = start[opens], np.maximum.reduceat(end, opens), station[opens]
    else:
        start, end, station = _join_overlapping(paid)
    at = station.astype(np.int64)
    on_site_start, on_site_end = start + travel[at], end - travel[at]
    # All travel and no time on site: paid, recorded, but covers nothing.
    covers = on_site_end > on_site_start
    on_site_start = np.where(covers, on_site_start, start)
    on_site_end = np.where(covers, on_site_end, start)
    return list(
        map(
            OnSiteShift._make,
            zip(
                [worker] * len(at),
                at.tolist(),
                start.tolist(),
                end.tolist(),
                on_site_start.tolist(),
                on_site_end.tolist(),
                strict=True,
            ),
        )
    )


def _join_overlapping(paid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The join of :func:`_join_and_travel` for windows that may overlap."""
    joined: list[list[float]] = []
    for start, end, station in paid.tolist():
        if joined and joined[-1][2] == station and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end, station])
    out = np.asarray(joined, dtype=float).reshape(-1, 3)
    return out[:, 0], out[:, 1], out[:, 2]
