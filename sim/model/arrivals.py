"""Arrival times of a non-homogeneous Poisson process with a weekly, hour-by-hour rate.

The rate is piecewise constant over the hours of the week, so the cumulative intensity
is piecewise linear and can be inverted exactly: the points of a unit-rate Poisson
process (cumulated exponential gaps) are mapped through the inverse of the cumulative
intensity.  This is exact, not a discretisation, and draws one exponential per arrival,
so a longer horizon extends the same arrival sequence instead of reshuffling it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sim.config.week import HOURS_PER_WEEK, MINUTES_PER_HOUR

__all__ = ["poisson_arrivals"]

_BLOCK = 4096
_CACHED_HOURS = 5 * 366 * 24  # longer horizons are computed afresh, not kept in memory


def poisson_arrivals(
    hourly_rates: np.ndarray, horizon_minutes: float, rng: np.random.Generator
) -> np.ndarray:
    """Sorted arrival times in ``[0, horizon_minutes)``.

    ``hourly_rates`` holds the rate (per minute) of each of the 168 hours of the week,
    Monday 00:00 first; the clock starts on a Monday at 00:00.
    """
    rates = np.asarray(hourly_rates, dtype=float)
    if rates.shape != (HOURS_PER_WEEK,):
        raise ValueError(f"need {HOURS_PER_WEEK} hourly rates, got shape {rates.shape}")
    if np.any(rates < 0) or not np.all(np.isfinite(rates)):
        raise ValueError("hourly rates must be finite and non-negative")
    if horizon_minutes <= _CACHED_HOURS * MINUTES_PER_HOUR:
        hour_rates, cumulative = _cached_intensity(rates.tobytes(), float(horizon_minutes))
    else:
        hour_rates, cumulative = _cumulative_intensity(rates, float(horizon_minutes))
    total = cumulative[-1]
    if total <= 0:
        return np.empty(0)

    # Unit-rate points up to the total intensity, drawn in blocks of exponentials.
    blocks: list[np.ndarray] = []
    reached = 0.0
    expected = int(total + 6 * np.sqrt(total)) + 16
    while reached < total:
        gaps = rng.exponential(1.0, max(expected, _BLOCK) if not blocks else _BLOCK)
        points = reached + np.cumsum(gaps)
        blocks.append(points)
        reached = points[-1]
    unit_points = np.concatenate(blocks)
    unit_points = unit_points[unit_points < total]

    # Invert the piecewise-linear cumulative intensity.  side="right" never lands in a
    # zero-rate hour, whose cumulative value equals the next one's.
    hour = np.searchsorted(cumulative, unit_points, side="right") - 1
    times = hour * MINUTES_PER_HOUR + (unit_points - cumulative[hour]) / hour_rates[hour]
    return np.minimum(times, np.nextafter(horizon_minutes, 0))


def _cumulative_intensity(
    rates: np.ndarray, horizon_minutes: float
) -> tuple[np.ndarray, np.ndarray]:
    """The rate of each hour up to the horizon and the cumulative intensity at each hour
    boundary (read-only)."""
    n_hours = int(np.ceil(horizon_minutes / MINUTES_PER_HOUR))
    hour_rates = np.resize(rates, n_hours)
    hour_length = np.full(n_hours, float(MINUTES_PER_HOUR))
    hour_length[-1] = horizon_minutes - (n_hours - 1) * MINUTES_PER_HOUR
    cumulative = np.concatenate(([0.0], np.cumsum(hour_rates * hour_length)))
    hour_rates.flags.writeable = False
    cumulative.flags.writeable = False
    return hour_rates, cumulative


@lru_cache(maxsize=32)
def _cached_intensity(rates: bytes, horizon_minutes: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_cumulative_intensity`, kept: every replication of a scenario asks for it."""
    return _cumulative_intensity(np.frombuffer(rates, dtype=float), horizon_minutes)
