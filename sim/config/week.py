"""The simulation calendar: minutes counted from Monday 00:00, and weekly windows.

Time is a float number of minutes since the start of the run, which is a Monday at
00:00, so ``t % MINUTES_PER_WEEK`` is the minute of the week and ``(t // 60) % 168`` the
hour of the week (0 = Monday 00:00-01:00).  Rosters and on-call rotas are written as
weekly windows (days, start, end) and unrolled here into absolute intervals over the
simulated horizon.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
HOURS_PER_WEEK = 168
DAYS_PER_YEAR = 365.25
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_clock(text: str) -> int:
    """Minutes after midnight of a ``"HH:MM"`` time; ``"24:00"`` is the end of the day."""
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"'{text}' is not a time of day; write it as HH:MM, e.g. '09:30'")
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes != 0):
        raise ValueError(f"'{text}' is not a time of day between 00:00 and 24:00")
    return hours * MINUTES_PER_HOUR + minutes


def merge_intervals(intervals: np.ndarray) -> np.ndarray:
    """Union of half-open intervals ``[start, end)`` (each with ``end >= start``), sorted,
    with touching ones joined.

    Joining touching intervals matters: a worker rostered Monday 00:00-24:00 and
    Tuesday 00:00-24:00 is on site without a break at Tuesday midnight.
    """
    if len(intervals) == 0:
        return np.empty((0, 2))
    ordered = np.asarray(intervals, dtype=float)[np.argsort(intervals[:, 0], kind="stable")]
    starts, ends = ordered[:, 0], ordered[:, 1]
    # An interval opens a new block when it starts after every earlier one has ended;
    # with end >= start, the latest earlier end is that of the block it would join.
    reach = np.maximum.accumulate(ends)
    opens = np.concatenate(([0], np.flatnonzero(starts[1:] > reach[:-1]) + 1))
    return np.column_stack((starts[opens], np.maximum.reduceat(ends, opens)))


def unroll_weekly(windows: Iterable[tuple[int, int, int]], horizon_minutes: float) -> np.ndarray:
    """Absolute intervals ``[start, end)`` of weekly windows repeated up to the horizon.

    ``windows`` holds ``(day_index, start_minute, end_minute)`` with day 0 = Monday and
    minutes after that day's midnight.  The result is sorted by start and not merged, so
    that each row stays one rostered window (call-out limits count per window).
    """
    weekly = np.asarray(sorted(windows), dtype=np.int64).reshape(-1, 3)
    if len(weekly) == 0:
        return np.empty((0, 2))
    n_weeks = int(np.ceil(horizon_minutes / MINUTES_PER_WEEK))
    # Integer minutes, week by week and window by window: exact, and in the order of
    # the windows within each week before the stable sort.
    offset = weekly[:, 0] * MINUTES_PER_DAY
    week = np.arange(n_weeks, dtype=np.int64)[:, None] * MINUTES_PER_WEEK
    out = np.column_stack(
        ((week + offset + weekly[:, 1]).ravel(), (week + offset + weekly[:, 2]).ravel())
    ).astype(float)
    out = out[out[:, 0] < horizon_minutes]
    return out[np.argsort(out[:, 0], kind="stable")]


def covered(intervals: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Whether each time lies in one of the sorted, disjoint intervals ``[start, end)``."""
    if len(intervals) == 0:
        return np.zeros(len(times), dtype=bool)
    index = np.searchsorted(intervals[:, 0], times, side="right") - 1
    inside = index >= 0
    inside[inside] = times[inside] < intervals[index[inside], 1]
    return inside


def hour_of_week(times: np.ndarray) -> np.ndarray:
    """Hour of the week (0 = Monday 00:00-01:00, 167 = Sunday 23:00-24:00) of each time."""
    return (np.floor_divide(times, MINUTES_PER_HOUR) % HOURS_PER_WEEK).astype(np.int64)
