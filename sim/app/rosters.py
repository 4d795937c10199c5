"""Weekly rosters and on-call hours as the page offers them: a few named presets, a
short text form for a custom week, and on-call hours derived from the on-site hours.

Everything here returns plain shift mappings (``{"days": [...], "start": "HH:MM",
"end": "HH:MM"}``) to be set by dotted path; the scenario schema
(:class:`sim.config.schema.WeeklyWindow`) stays the judge of what a valid week is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.config.week import DAY_NAMES

__all__ = [
    "AS_CONFIGURED",
    "CUSTOM",
    "ON_CALL_PRESETS",
    "ROSTER_PRESETS",
    "RosterError",
    "WeekPreset",
    "describe_week",
    "off_site_windows",
    "parse_week",
]

AS_CONFIGURED = "as_configured"
CUSTOM = "custom"

Shift = dict[str, Any]

_GROUPS: dict[str, tuple[str, ...]] = {
    "weekdays": tuple(DAY_NAMES[:5]),
    "weekend": tuple(DAY_NAMES[5:]),
    "all": tuple(DAY_NAMES),
}
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


class RosterError(ValueError):
    """A custom week that cannot be read; the message says what to write instead."""


@dataclass(frozen=True)
class WeekPreset:
    """A named week: its plain title and its shifts (empty for the choices that keep
    the config's or take the user's text)."""

    key: str
    title: str
    shifts: tuple[Shift, ...] = ()


def _shift(days: str | Sequence[str], start: str, end: str) -> Shift:
    return {"days": days if isinstance(days, str) else list(days), "start": start, "end": end}


ROSTER_PRESETS: tuple[WeekPreset, ...] = (
    WeekPreset(AS_CONFIGURED, "As the model has it"),
    WeekPreset(
        "office_hours",
        "Weekday office hours, 09:00-12:30 and 13:30-17:00 (35 h)",
        (_shift("weekdays", "09:00", "12:30"), _shift("weekdays", "13:30", "17:00")),
    ),
    WeekPreset(
        "weekday_days", "Weekdays 08:30-17:00 (42.5 h)", (_shift("weekdays", "08:30", "17:00"),)
    ),
    WeekPreset(
        "weekday_evenings",
        "Weekdays 12:00-20:00, into the evening (40 h)",
        (_shift("weekdays", "12:00", "20:00"),),
    ),
    WeekPreset(
        "six_days",
        "Monday to Saturday 09:00-17:00 (48 h)",
        (_shift(DAY_NAMES[:6], "09:00", "17:00"),),
    ),
    WeekPreset(
        "around_the_clock",
        "On site around the clock, every day (168 h)",
        (_shift("all", "00:00", "24:00"),),
    ),
    WeekPreset(CUSTOM, "Custom week (type it)"),
)

ON_CALL_PRESETS: tuple[WeekPreset, ...] = (
    WeekPreset(AS_CONFIGURED, "As the model has it"),
    WeekPreset("off_site", "Every hour nobody is on site", (_shift("all", "00:00", "24:00"),)),
    WeekPreset(
        "nights",
        "Nights, 20:00-08:00, when nobody is on site",
        (_shift("all", "00:00", "08:00"), _shift("all", "20:00", "24:00")),
    ),
    WeekPreset(
        "weekends", "Weekends, when nobody is on site", (_shift("weekend", "00:00", "24:00"),)
    ),
    WeekPreset(CUSTOM, "Custom hours (type them)"),
)


def parse_week(text: str) -> list[Shift]:
    """Shifts from text such as ``"mon-fri 09:00-12:30; sat 10:00-14:00"``: one shift per
    part (separated by ``;`` or new lines), each its days (``weekdays``, ``weekend``,
    ``all``, a day ``tue``, a range ``mon-fri`` or a list ``tue,thu``) and its hours."""
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts:
        raise RosterError('no shift given; write e.g. "mon-fri 09:00-17:00; sat 09:00-12:00"')
    return [_parse_shift(part) for part in parts]


def _parse_shift(part: str) -> Shift:
    words = part.split()
    if len(words) != 2 or words[1].count("-") != 1:
        raise RosterError(f'"{part}": write the days then the hours, e.g. "mon-fri 09:00-17:00"')
    days, hours = words
    start, end = hours.split("-")
    for clock in (start, end):
        if not _CLOCK.match(clock) or (clock.startswith("24") and clock != "24:00"):
            raise RosterError(f'"{part}": "{clock}" is not a time of day (HH:MM, 00:00-24:00)')
    start, end = _two_digits(start), _two_digits(end)
    if _minutes(end) <= _minutes(start):
        raise RosterError(
            f'"{part}": ends at {end}, not after it starts ({start}); split a shift across '
            'midnight into two, e.g. "mon 20:00-24:00; tue 00:00-08:00"'
        )
    return _shift(_parse_days(days, part), start, end)


def _parse_days(text: str, part: str) -> list[str]:
    text = text.lower()
    if text in _GROUPS:
        return list(_GROUPS[text])
    days: list[str] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        for name in (first, last) if last else (first,):
            if name not in DAY_NAMES:
                raise RosterError(
                    f'"{part}": "{name}" is not a day; use {", ".join(DAY_NAMES)}, '
                    "weekdays, weekend or all"
                )
        if last:
            low, high = DAY_NAMES.index(first), DAY_NAMES.index(last)
            if high < low:
                raise RosterError(f'"{part}": the days {item} run backwards')
            days += DAY_NAMES[low : high + 1]
        else:
            days.append(first)
    return days


def _two_digits(clock: str) -> str:
    hours, minutes = clock.split(":")
    return f"{int(hours):02d}:{minutes}"


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_of(shift: Shift) -> tuple[str, ...]:
    days = shift["days"]
    return _GROUPS[days] if isinstance(days, str) else tuple(days)


def off_site_windows(wanted: Iterable[Shift], on_site: Iterable[Shift]) -> list[Shift]:
    """The parts of the ``wanted`` hours in which no ``on_site`` shift runs, one window
    per day and gap: an on-call rota of the workers themselves may not overlap their
    own shifts."""
    wanted, on_site = list(wanted), list(on_site)
    windows: list[Shift] = []
    for day in DAY_NAMES:
        busy = sorted(
            (_minutes(s["start"]), _minutes(s["end"])) for s in on_site if day in _days_of(s)
        )
        for shift in wanted:
            if day not in _days_of(shift):
                continue
            start, end = _minutes(shift["start"]), _minutes(shift["end"])
            for low, high in busy:
                if high <= start or low >= end:
                    continue
                if low > start:
                    windows.append(_shift([day], _clock(start), _clock(low)))
                start = max(start, high)
            if start < end:
                windows.append(_shift([day], _clock(start), _clock(end)))
    return _merge_days(windows)


def _merge_days(windows: list[Shift]) -> list[Shift]:
    """One window per span of hours, over all the days it runs (shorter to read)."""
    by_hours: dict[tuple[str, str], list[str]] = {}
    for window in windows:
        by_hours.setdefault((window["start"], window["end"]), []).extend(window["days"])
    merged = [_shift(days, start, end) for (start, end), days in by_hours.items()]
    return sorted(merged, key=lambda w: (DAY_NAMES.index(w["days"][0]), w["start"]))


def describe_week(shifts: Iterable[Shift]) -> str:
    """A week in the text form :func:`parse_week` reads."""
    parts = []
    for shift in shifts:
        days = _days_of(shift)
        named = next((g for g, members in _GROUPS.items() if members == days), None)
        parts.append(f"{named or ','.join(days)} {shift['start']}-{shift['end']}")
    return "; ".join(parts)
