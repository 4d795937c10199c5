"""The coverage plan of one run: who is on site where and when, who is on call, and the
diary slots in which follow-up appointments can be booked.

Weekly rosters are unrolled over the horizon.  Absences are drawn per *post* (the n-th
worker of the scenario, whatever its config entry is called), so that two scenarios
compared with common random numbers give their n-th posts the same absences:

- **leave**: blocks of whole weeks a year (``absence.leave_weeks``), the first starting in
  a week of ``absence.main_leave_season``, the others anywhere in the year without
  overlapping; known in advance, so no appointment is booked on leave;
- **sickness**: whole days, each with probability ``absence.sickness_rate``, unforeseen;
  with ``absence.replacement_after_days`` a replacement covers a sickness from its
  (N+1)-th rostered day on.

Shifts that touch at the same station are joined; travel time is cut from both ends of
each shift at a station that needs travel; the last ``other_duties_share`` of each
shift's on-site time is for other duties (its *case time* ends before).  The plan is
fixed before the run starts: the model reads it, and so does the vectorised referral
decision.  (A compensatory rest after a night call-out, which the model applies during
the run, is not in the plan: officers refer by the posted schedule.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, TypeVar

import numpy as np

from sim.config.schema import Scenario, Worker
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_WEEK, merge_intervals, unroll_weekly
from sim.model.streams import stream

__all__ = [
    "EXTERNAL",
    "NOBODY",
    "SHIFT_CASE_END",
    "SHIFT_END",
    "SHIFT_FIELDS",
    "SHIFT_PAID_END",
    "SHIFT_PAID_START",
    "SHIFT_START",
    "SHIFT_STATION",
    "SHIFT_WORKER",
    "CoveragePlan",
    "OnSiteShift",
    "build_plan",
]

EXTERNAL = -1
"""On-call slot taken by an outside responder (``staffed_by: external``)."""
NOBODY = -2
"""On-call slot that no member of a staff rota could take (all absent that day)."""

T = TypeVar("T")

_WEEKS_PER_YEAR = 52
_DAYS_PER_PLAN_YEAR = 7 * _WEEKS_PER_YEAR


(
    SHIFT_WORKER,
    SHIFT_STATION,
    SHIFT_PAID_START,
    SHIFT_PAID_END,
    SHIFT_START,
    SHIFT_END,
    SHIFT_CASE_END,
) = range(7)
SHIFT_FIELDS = 7
"""The columns of :attr:`CoveragePlan.shift_table`, the fields of :class:`OnSiteShift`."""


class OnSiteShift(NamedTuple):
    """One shift of one worker after absences: paid from ``paid_start`` to ``paid_end``,
    on site at ``station`` from ``start`` to ``end``, taking cases until ``case_end``
    (then other duties).  Minutes.  A row of :attr:`CoveragePlan.shift_table`, as
    :attr:`CoveragePlan.shifts` gives it."""

    worker: int
    station: int
    paid_start: float
    paid_end: float
    start: float
    end: float
    case_end: float


@dataclass(frozen=True)
class CoveragePlan:
    """Shifts, absences, diary slots, station coverage and on-call windows of one run.

    ``diary_slots[w]`` holds rows ``(start, case_end, station)`` of worker ``w``'s
    planned shifts (leave removed, sickness not: it is unforeseen).  ``on_call_staff``
    gives, for each on-call window and responder slot, the worker who takes it, or
    :data:`EXTERNAL`, or :data:`NOBODY`.
    """

    worker_names: tuple[str, ...]
    shift_table: np.ndarray
    """One row per shift, the fields of :class:`OnSiteShift` as columns (floats),
    sorted by start then worker: what the model and the records read (a plan holds
    one shift per worked day, and building them as arrays keeps a short run short)."""
    diary_slots: tuple[np.ndarray, ...]
    sick_days: tuple[np.ndarray, ...]  # per worker: day numbers absent sick, not replaced
    leave_days: tuple[np.ndarray, ...]  # per worker: day numbers on leave
    replaced_days: tuple[np.ndarray, ...]  # per worker: sick days a replacement covers
    station_coverage: tuple[np.ndarray, ...]  # per station: merged case-time intervals
    on_call_windows: np.ndarray  # (n, 2), sorted, one row per rostered window
    on_call_staff: np.ndarray  # (n, responders) ints
    on_call_stations: frozenset[int]

    @cached_property
    def shifts(self) -> tuple[OnSiteShift, ...]:
        """The shifts as named tuples, sorted by start then worker."""
        return tuple(
            OnSiteShift(int(w), int(s), *times) for w, s, *times in self.shift_table.tolist()
        )

    def serves(self, worker: int) -> tuple[int, ...]:
        """Stations a worker is rostered at (its callback lists)."""
        table = self.shift_table
        mine = table[table[:, SHIFT_WORKER] == worker, SHIFT_STATION]
        return tuple(np.unique(mine).astype(np.int64).tolist())

    def changes(
        self, people: Sequence[T]
    ) -> tuple[list[float], list[tuple[list[T], list[tuple[T, int, float, float]]]]]:
        """The instants the staff on site changes, in order, and at each the people
        (``people[w]`` for worker ``w``) whose case time ends, and those who arrive,
        each with their station, case-time end and shift end; both lists in shift
        order.  Shifts with no time on site change nothing."""
        table = self.shift_table
        table = table[table[:, SHIFT_END] > table[:, SHIFT_START]]
        start, case_end = table[:, SHIFT_START], table[:, SHIFT_CASE_END]
        times = np.unique(np.concatenate((start, case_end)))
        # Stable sorts: the shifts of one instant stay in shift order.
        by_start = np.argsort(start, kind="stable")
        by_end = np.argsort(case_end, kind="stable")
        who = [people[w] for w in table[:, SHIFT_WORKER].astype(np.int64).tolist()]
        ending = [who[i] for i in by_end.tolist()]
        arriving = list(
            zip(
                [who[i] for i in by_start.tolist()],
                table[by_start, SHIFT_STATION].astype(np.int64).tolist(),
                case_end[by_start].tolist(),
                table[by_start, SHIFT_END].tolist(),
                strict=True,
            )
        )
        bounds = zip(
            np.searchsorted(case_end[by_end], times, "left").tolist(),
            np.searchsorted(case_end[by_end], times, "right").tolist(),
            np.searchsorted(start[by_start], times, "left").tolist(),
            np.searchsorted(start[by_start], times, "right").tolist(),
            strict=True,
        )
        changes = [(ending[a:b], arriving[c:d]) for a, b, c, d in bounds]
        return times.tolist(), changes

    def first_shift_of_day(self) -> list[tuple[int, float]]:
        """(station, start) of the first shift of each day at each station that takes
        cases (case time and time on site both longer than nothing), by station, then
        day (of its start)."""
        table = self.shift_table
        start = table[:, SHIFT_START]
        takes = np.minimum(table[:, SHIFT_END], table[:, SHIFT_CASE_END]) > start
        station = table[takes, SHIFT_STATION].astype(np.int64)
        start = start[takes]
        day = (start // MINUTES_PER_DAY).astype(np.int64)
        order = np.lexsort((start, day, station))
        station, day, start = station[order], day[order], start[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (station[1:] != station[:-1]) | (day[1:] != day[:-1])
        return list(zip(station[first].tolist(), start[first].tolist(), strict=True))

    @property
    def staffed_windows(self) -> np.ndarray:
        """The on-call windows somebody takes (a row of ``on_call_windows`` each)."""
        if self.on_call_staff.size == 0:
            return self.on_call_windows
        return self.on_call_windows[(self.on_call_staff != NOBODY).any(axis=1)]


def build_plan(scenario: Scenario, replication: int) -> CoveragePlan:
    """The coverage plan for one replication (absences drawn from the posts' streams)."""
    horizon = scenario.simulation.horizon_minutes
    n_days = int(np.ceil(horizon / MINUTES_PER_DAY))
    seed = scenario.simulation.seed
    workers = scenario.expanded_workers()
    travel = np.asarray([s.travel_minutes for s in scenario.stations], dtype=float)
    shifts: list[np.ndarray] = [np.empty((0, SHIFT_FIELDS))]
    slots: list[np.ndarray] = []
    sick: list[np.ndarray] = []
    leave: list[np.ndarray] = []
    replaced: list[np.ndarray] = []
    for w, (_name, config, _copy) in enumerate(workers):
        rostered = [
            (scenario.station_index(window.station), unroll_weekly(window.day_windows(), horizon))
            for window in config.roster
        ]
        days = np.unique(
            np.concatenate([(u[:, 0] // MINUTES_PER_DAY).astype(np.int64) for _, u in rostered])
        )
        on_leave = _leave_days(config, n_days, stream(seed, replication, f"leave/post{w}"))
        sickness = stream(seed, replication, f"sickness/post{w}").random(n_days)
        is_sick = (sickness < config.absence.sickness_rate) & ~on_leave
        covered_by_replacement = _replaced(is_sick, days, config.absence.replacement_after_days)
        is_sick &= ~covered_by_replacement
        sick.append(np.flatnonzero(is_sick))
        leave.append(np.flatnonzero(on_leave))
        replaced.append(np.flatnonzero(covered_by_replacement))
        planned = _worker_shifts(w, config, rostered, on_leave, horizon, travel)
        start, case_end = planned[:, SHIFT_START], planned[:, SHIFT_CASE_END]
        slots.append(planned[case_end > start][:, [SHIFT_START, SHIFT_CASE_END, SHIFT_STATION]])
        absent = on_leave | is_sick
        paid_day = (planned[:, SHIFT_PAID_START] // MINUTES_PER_DAY).astype(np.int64)
        shifts.append(planned[~absent[paid_day]])
    table = np.concatenate(shifts)
    # Stable, as the sort of the shifts by (start, worker) was: equal keys keep the
    # order of the workers' own lists.
    table = table[np.lexsort((table[:, SHIFT_WORKER], table[:, SHIFT_START]))]
    table.flags.writeable = False  # read by the model, and cached as shifts: never edited

    coverage = []
    for station in range(len(scenario.stations)):
        here = table[table[:, SHIFT_STATION] == station]
        coverage.append(merge_intervals(here[:, [SHIFT_START, SHIFT_CASE_END]]))

    windows = np.empty((0, 2))
    staff = np.empty((0, 0), dtype=np.int64)
    on_call_stations: frozenset[int] = frozenset()
    on_call = scenario.on_call
    if on_call is not None:
        weekly = [w for window in on_call.windows for w in window.day_windows()]
        windows = unroll_weekly(weekly, horizon)
        if on_call.stations is None:
            on_call_stations = frozenset(range(len(scenario.stations)))
        else:
            on_call_stations = frozenset(scenario.station_index(n) for n in on_call.stations)
        if on_call.staffed_by == "external":
            staff = np.full((len(windows), on_call.responders), EXTERNAL, dtype=np.int64)
        else:
            named = set(on_call.rota) if on_call.rota else None
            members = [
                w
                for w, (_, config, _) in enumerate(workers)
                if named is None or config.name in named
            ]
            absent_on = [
                set(sick[w].tolist()) | set(leave[w].tolist()) for w in range(len(workers))
            ]
            staff = _rota(windows, members, absent_on, on_call.responders)
    return CoveragePlan(
        worker_names=tuple(name for name, _, _ in workers),
        shift_table=table,
        diary_slots=tuple(slots),
        sick_days=tuple(sick),
        leave_days=tuple(leave),
        replaced_days=tuple(replaced),
        station_coverage=tuple(coverage),
        on_call_windows=windows,
        on_call_staff=staff,
        on_call_stations=on_call_stations,
    )


def _worker_shifts(
    w: int,
    config: Worker,
    rostered: list[tuple[int, np.ndarray]],
    on_leave: np.ndarray,
    horizon: float,
    travel: np.ndarray,
) -> np.ndarray:
    """A worker's shifts on the days it is not on leave, rows of
    :data:`SHIFT_FIELDS` columns (sickness is removed after: these are also its
    diary's slots)."""
    paid = [np.empty((0, 3))]  # rows (start, end, station)
    for station, unrolled in rostered:
        worked = unrolled[~on_leave[(unrolled[:, 0] // MINUTES_PER_DAY).astype(np.int64)]]
        ends = np.minimum(worked[:, 1], horizon)
        paid.append(np.column_stack((worked[:, 0], ends, np.full(len(ends), station))))
    rows = np.concatenate(paid)
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    return _join_and_travel(w, rows, travel, config.other_duties_share)


def _leave_days(config: Worker, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """Whether the worker is on leave each day: each plan year of 52 weeks gets the
    blocks of ``leave_weeks``, the first starting in the main season."""
    on_leave = np.zeros(n_days, dtype=bool)
    blocks = config.absence.leave_weeks
    season = config.absence.main_leave_season
    n_years = int(np.ceil(n_days / _DAYS_PER_PLAN_YEAR))
    for year in range(n_years):
        # One draw per block and attempt, always made, so that a year's leave does not
        # depend on how many attempts an earlier year needed.
        draws = rng.random((len(blocks), 32))
        taken = np.zeros(_WEEKS_PER_YEAR, dtype=bool)
        for b, weeks in enumerate(blocks):
            first, last = (1, _WEEKS_PER_YEAR) if (b or season is None) else season
            last = min(last, _WEEKS_PER_YEAR - weeks + 1)
            first = min(first, last)
            for u in draws[b]:
                week = first - 1 + int(u * (last - first + 1))
                if not taken[week : week + weeks].any():
                    taken[week : week + weeks] = True
                    break
        days = (np.flatnonzero(taken)[:, None] * 7 + np.arange(7)).ravel()
        days += year * _DAYS_PER_PLAN_YEAR
        on_leave[days[days < n_days]] = True
    return on_leave


def _replaced(sick: np.ndarray, rostered_days: np.ndarray, after: int | None) -> np.ndarray:
    """The sick days a replacement covers: from the (after+1)-th rostered day of a run
    of consecutive rostered days absent sick."""
    covered = np.zeros(len(sick), dtype=bool)
    if after is None or not len(rostered_days):
        return covered
    streak = 0
    for day in rostered_days.tolist():
        if day >= len(sick):
            break
        streak = streak + 1 if sick[day] else 0
        if streak > after:
            covered[day] = True
    return covered


def _rota(
    windows: np.ndarray, members: list[int], absent_on: list[set[int]], responders: int
) -> np.ndarray:
    """Who takes each slot of each on-call window: the members in weekly turns, a member
    absent on the window's first day skipped for the next in line."""
    staff = np.full((len(windows), responders), NOBODY, dtype=np.int64)
    n = len(members)
    for i, start in enumerate(windows[:, 0].tolist()):
        week, day = int(start // MINUTES_PER_WEEK), int(start // MINUTES_PER_DAY)
        used: set[int] = set()
        for j in range(responders):
            for k in range(n):
                member = members[(week * responders + j + k) % n]
                if member not in used and day not in absent_on[member]:
                    staff[i, j] = member
                    used.add(member)
                    break
    return staff


def _join_and_travel(
    worker: int, paid: np.ndarray, travel: np.ndarray, duties_share: float
) -> np.ndarray:
    """One worker's shifts from its paid windows (rows ``(start, end, station)``, sorted):
    windows that touch at the same station joined, travel cut from both ends, the last
    ``duties_share`` of the time on site kept for other duties."""
    if len(paid) == 0:
        return np.empty((0, SHIFT_FIELDS))
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
    case_end = on_site_end - duties_share * (on_site_end - on_site_start)
    return np.column_stack(
        (np.full(len(at), worker), at, start, end, on_site_start, on_site_end, case_end)
    ).astype(float)


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
