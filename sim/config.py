"""Scenario configuration: the YAML schema, validated once into frozen typed objects.

A scenario file describes one station system: its stations, the populations that reach
them (arrival volumes, hour-of-week profile, referral, urgency, patience, interview
time), the social workers (rosters, absences), the optional on-call rota, how the
callback list is worked, the measures' thresholds and the costs.  A file may name a
``base`` file whose content it extends (mappings are merged key by key, the scenario's
own values win), so that every shipped scenario shares one demand definition.

Everything is validated here, as a whole, before the model sees it: unknown names are
rejected, values are range-checked, and cross-references (station names) resolved.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.distributions import Distribution, Fixed
from sim.week import DAY_NAMES, DAYS_PER_YEAR, HOURS_PER_WEEK, MINUTES_PER_HOUR, parse_clock

__all__ = [
    "ConfigError",
    "Scenario",
    "apply_overrides",
    "format_validation_error",
    "load_scenario",
    "load_scenario_dict",
    "parse_path",
    "read_scenario_document",
    "scenario_from_dict",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")]

_DAY_GROUPS: dict[str, tuple[str, ...]] = {
    "weekdays": DAY_NAMES[:5],
    "weekend": DAY_NAMES[5:],
    "all": DAY_NAMES,
}


class ConfigError(ValueError):
    """A scenario or experiment file that cannot be used, with a message for the user."""


class WeeklyWindow(BaseModel):
    """A window that repeats every week on the given days, from ``start`` to ``end``
    (``"HH:MM"``, end after start, ``"24:00"`` allowed).  ``days`` is a list of day names
    (mon..sun) or one of ``weekdays``, ``weekend``, ``all``."""

    model_config = _FROZEN
    days: tuple[str, ...]
    start: str
    end: str

    @field_validator("days", mode="before")
    @classmethod
    def _expand_days(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in _DAY_GROUPS:
                raise ValueError(
                    f"'{value}' is not a day group; use one of {sorted(_DAY_GROUPS)} "
                    f"or a list of {list(DAY_NAMES)}"
                )
            return _DAY_GROUPS[value]
        return value

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one day is needed")
        for day in value:
            if day not in DAY_NAMES:
                raise ValueError(f"'{day}' is not a day; allowed: {list(DAY_NAMES)}")
        if len(set(value)) != len(value):
            raise ValueError("a day is listed twice")
        return value

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @model_validator(mode="after")
    def _ends_after_start(self) -> WeeklyWindow:
        if parse_clock(self.end) <= parse_clock(self.start):
            raise ValueError(
                f"ends at {self.end}, not after its start {self.start}; split a window "
                "that crosses midnight into two (e.g. 17:00-24:00 and 00:00-09:00)"
            )
        return self

    def day_windows(self) -> list[tuple[int, int, int]]:
        """``(day_index, start_minute, end_minute)`` for each day of the window."""
        start, end = parse_clock(self.start), parse_clock(self.end)
        return [(DAY_NAMES.index(day), start, end) for day in self.days]

    @property
    def minutes_per_week(self) -> int:
        return len(self.days) * (parse_clock(self.end) - parse_clock(self.start))


class Shift(WeeklyWindow):
    """An on-site shift of a worker's weekly roster, at one station (the only station
    when the scenario has one)."""

    station: str | None = None


def _check_disjoint(windows: tuple[WeeklyWindow, ...], what: str) -> None:
    """Reject weekly windows that overlap: a worker cannot be in two shifts at once."""
    spans = sorted(
        (day * 1440 + start, day * 1440 + end, window)
        for window in windows
        for day, start, end in window.day_windows()
    )
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            raise ValueError(
                f"{what} overlap: {list(first.days)} {first.start}-{first.end} and "
                f"{list(second.days)} {second.start}-{second.end}"
            )


class Station(BaseModel):
    """A police or gendarmerie station.  ``demand_share`` is its share of every
    population's arrivals (shares are normalised); ``travel_minutes`` is the one-way
    travel time of a worker to this station, taken from the start and the end of each
    shift there."""

    model_config = _FROZEN
    name: Name
    demand_share: Positive = 1.0
    travel_minutes: NonNegative = 0.0


class WeekdayProfile(BaseModel):
    """Relative arrival intensity by hour of the day (24 values each) for weekdays,
    Saturdays and Sundays; Saturday and Sunday default to the weekday values."""

    model_config = _FROZEN
    weekday: tuple[NonNegative, ...] = Field(min_length=24, max_length=24)
    saturday: tuple[NonNegative, ...] | None = Field(None, min_length=24, max_length=24)
    sunday: tuple[NonNegative, ...] | None = Field(None, min_length=24, max_length=24)

    def hour_of_week(self) -> np.ndarray:
        saturday = self.saturday or self.weekday
        sunday = self.sunday or saturday
        return np.asarray(self.weekday * 5 + saturday + sunday, dtype=float)


class HourOfWeekProfile(BaseModel):
    """Relative arrival intensity for each of the 168 hours of the week, Monday 00:00
    first."""

    model_config = _FROZEN
    hour_of_week: tuple[NonNegative, ...] = Field(
        min_length=HOURS_PER_WEEK, max_length=HOURS_PER_WEEK
    )

    def hour_of_week_weights(self) -> np.ndarray:
        return np.asarray(self.hour_of_week, dtype=float)


class Arrivals(BaseModel):
    """A population's arrival process: a non-homogeneous Poisson process whose mean
    volume is ``per_year`` (or ``per_hour``) and whose hour-of-week shape is ``profile``
    (``flat`` or relative weights, rescaled so that the volume is kept)."""

    model_config = _FROZEN
    per_year: NonNegative | None = None
    per_hour: NonNegative | None = None
    profile: Literal["flat"] | WeekdayProfile | HourOfWeekProfile = "flat"

    @model_validator(mode="after")
    def _one_volume(self) -> Arrivals:
        if (self.per_year is None) == (self.per_hour is None):
            raise ValueError("give exactly one of per_year and per_hour")
        if not isinstance(self.profile, str) and self._weights().sum() <= 0:
            raise ValueError("profile weights are all zero")
        return self

    def _weights(self) -> np.ndarray:
        if isinstance(self.profile, WeekdayProfile):
            return self.profile.hour_of_week()
        if isinstance(self.profile, HourOfWeekProfile):
            return self.profile.hour_of_week_weights()
        return np.ones(HOURS_PER_WEEK)

    def hourly_rates(self) -> np.ndarray:
        """Arrival rate in each hour of the week, per minute (168 values)."""
        per_hour = (
            self.per_hour if self.per_hour is not None else self.per_year / (DAYS_PER_YEAR * 24)
        )
        weights = self._weights()
        return per_hour / MINUTES_PER_HOUR * weights / weights.mean()


class Referral(BaseModel):
    """How police officers refer a case to the social worker: with ``probability`` when a
    worker is reachable (on site at the station, or on call for it), with
    ``probability_when_no_worker`` (not higher) when nobody is, after ``delay`` minutes
    from the person's first police contact."""

    model_config = _FROZEN
    probability: Probability = 1.0
    probability_when_no_worker: Probability | None = None
    delay: Distribution = Fixed(dist="fixed", value=0.0)

    @model_validator(mode="after")
    def _not_higher_when_absent(self) -> Referral:
        absent = self.probability_when_no_worker
        if absent is not None and absent > self.probability:
            raise ValueError(
                f"probability_when_no_worker ({absent}) must not exceed probability "
                f"({self.probability}): officers refer less, not more, when nobody is there"
            )
        return self

    @property
    def probability_absent(self) -> float:
        absent = self.probability_when_no_worker
        return self.probability if absent is None else absent


class OnwardReferral(BaseModel):
    """Referral to a partner (shelter, hospital, victim support, perpetrator programme)
    after the interview: with ``probability``, ``delay`` minutes after it ends."""

    model_config = _FROZEN
    probability: Probability = 0.0
    delay: Distribution = Fixed(dist="fixed", value=0.0)


class Population(BaseModel):
    """One population reaching the station (victims, perpetrators, third parties).
    ``patience`` is how long a person present at the station waits for a busy worker,
    in minutes from referral (omitted: waits until seen); ``interview`` is the first
    interview's duration in minutes."""

    model_config = _FROZEN
    arrivals: Arrivals
    urgent_share: Probability = 0.0
    referral: Referral = Referral()
    patience: Distribution | None = None
    interview: Distribution
    onward_referral: OnwardReferral = OnwardReferral()


class Worker(BaseModel):
    """A social worker (or ``count`` identical ones): the weekly on-site roster, the
    daily absence probability (whole days, independent, nobody replaces an absent
    worker) and the FTE paid (by default, rostered hours over a full-time week)."""

    model_config = _FROZEN
    name: Name
    count: Annotated[int, Field(ge=1)] = 1
    roster: tuple[Shift, ...] = Field(min_length=1)
    absence_rate: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    fte: Positive | None = None

    @model_validator(mode="after")
    def _shifts_disjoint(self) -> Worker:
        _check_disjoint(self.roster, "roster shifts")
        return self


class Staffing(BaseModel):
    """The social workers placed at the stations, in priority order: when several are
    free, the first listed takes the case."""

    model_config = _FROZEN
    workers: tuple[Worker, ...] = Field(min_length=1)


class OnCall(BaseModel):
    """An on-call rota reachable by officers in ``windows`` when nobody is on site.
    ``responders`` people are on call at once; a call-out reaches the person by phone
    (share ``phone_share``, after ``phone_delay`` minutes) or by travelling in (after
    ``travel_delay`` minutes, and the same time to return); ``eligible`` says which
    referrals are passed to on call; ``max_callouts_per_window`` caps call-outs in
    each rostered window (omitted: no cap)."""

    model_config = _FROZEN
    windows: tuple[WeeklyWindow, ...] = Field(min_length=1)
    stations: tuple[str, ...] | None = None
    responders: Annotated[int, Field(ge=1)] = 1
    eligible: Literal["urgent", "all"] = "urgent"
    phone_share: Probability = 1.0
    phone_delay: Distribution = Fixed(dist="fixed", value=0.0)
    travel_delay: Distribution = Fixed(dist="fixed", value=0.0)
    max_callouts_per_window: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _windows_disjoint(self) -> OnCall:
        _check_disjoint(self.windows, "on-call windows")
        return self


class ReachProbability(BaseModel):
    """Chance that a callback attempt reaches the person, falling with the delay since
    referral: ``floor + (initial - floor) * 0.5 ** (delay_hours / half_life_hours)``."""

    model_config = _FROZEN
    initial: Probability = 0.9
    half_life_hours: Positive = 72.0
    floor: Probability = 0.0

    @model_validator(mode="after")
    def _floor_below_initial(self) -> ReachProbability:
        if self.floor > self.initial:
            raise ValueError(f"floor ({self.floor}) must not exceed initial ({self.initial})")
        return self


class Callbacks(BaseModel):
    """The callback list: referrals that nobody could take at once, phoned back by
    on-site workers when they have no one waiting in front of them.  ``order`` sets which
    case is called first; each attempt takes ``attempt_minutes`` when it fails; after a
    failure the case is tried again no sooner than ``retry_after_hours`` later, up to
    ``max_attempts`` attempts; a case still unreached ``expire_after_days`` after its
    referral is dropped from the list (omitted: never).  ``left_before_seen`` says
    whether a person who leaves the station before being seen goes on the list
    (``callback``) or is lost (``lost``)."""

    model_config = _FROZEN
    order: Literal["urgent_then_oldest", "oldest_first", "newest_first"] = "urgent_then_oldest"
    attempt_minutes: Positive = 10.0
    max_attempts: Annotated[int, Field(ge=1)] = 3
    retry_after_hours: NonNegative = 24.0
    reach_probability: ReachProbability = ReachProbability()
    expire_after_days: Positive | None = None
    left_before_seen: Literal["callback", "lost"] = "callback"


class Simulation(BaseModel):
    """Run length and seeding.  Statistics cover cases arriving after ``warm_up_days``
    and within the next ``run_days``; the run continues ``drain_days`` longer (with
    arrivals) so that those cases can reach an outcome."""

    model_config = _FROZEN
    warm_up_days: NonNegative = 14.0
    run_days: Positive = 364.0
    drain_days: NonNegative = 14.0
    replications: Annotated[int, Field(ge=1)] = 10
    seed: Annotated[int, Field(ge=0)] = 0

    @property
    def window_minutes(self) -> tuple[float, float]:
        """Start and end of the measurement window, in minutes."""
        start = self.warm_up_days * 24 * MINUTES_PER_HOUR
        return start, start + self.run_days * 24 * MINUTES_PER_HOUR

    @property
    def horizon_minutes(self) -> float:
        return (self.warm_up_days + self.run_days + self.drain_days) * 24 * MINUTES_PER_HOUR


class Measures(BaseModel):
    """Thresholds of the measures: shares contacted within ``thresholds_hours`` of
    referral, and first contacts later than ``late_after_hours`` count as met late."""

    model_config = _FROZEN
    thresholds_hours: tuple[Positive, ...] = (1.0, 24.0, 72.0)
    late_after_hours: Positive = 72.0


class Costs(BaseModel):
    """Cost rates in euros.  The FTE cost default (39,000 EUR a year) is the seed's
    6.8 M EUR for 175 posts; the others are assumptions that each config states."""

    model_config = _FROZEN
    fte_eur_per_year: NonNegative = 39_000.0
    hours_per_fte_week: Positive = 35.0
    on_call_eur_per_hour: NonNegative = 0.0
    overtime_eur_per_hour: NonNegative = 0.0


class Scenario(BaseModel):
    """A whole scenario, validated: what the model runs."""

    model_config = _FROZEN
    name: Name
    description: str = ""
    simulation: Simulation = Simulation()
    stations: tuple[Station, ...] = (Station(name="station"),)
    populations: dict[Name, Population] = Field(min_length=1)
    staffing: Staffing
    on_call: OnCall | None = None
    callbacks: Callbacks = Callbacks()
    measures: Measures = Measures()
    costs: Costs = Costs()

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        names = [s.name for s in self.stations]
        if len(set(names)) != len(names):
            raise ValueError(f"station names must be unique, got {names}")
        for w, worker in enumerate(self.staffing.workers):
            for k, shift in enumerate(worker.roster):
                where = f"staffing.workers[{w}].roster[{k}].station"
                if shift.station is None and len(names) > 1:
                    raise ValueError(f"{where}: required when there are several stations")
                if shift.station is not None and shift.station not in names:
                    raise ValueError(f"{where}: '{shift.station}' is not a station; known: {names}")
        worker_names = [w.name for w in self.staffing.workers]
        if len(set(worker_names)) != len(worker_names):
            raise ValueError(f"worker names must be unique, got {worker_names}")
        if self.on_call is not None and self.on_call.stations is not None:
            for station in self.on_call.stations:
                if station not in names:
                    raise ValueError(
                        f"on_call.stations: '{station}' is not a station; known: {names}"
                    )
        return self

    def station_index(self, name: str | None) -> int:
        """Index of a station by name (``None``: the only station)."""
        if name is None:
            return 0
        return [s.name for s in self.stations].index(name)

    @property
    def population_names(self) -> tuple[str, ...]:
        return tuple(self.populations)


# ---------------------------------------------------------------------------------------
# Loading


def read_scenario_document(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a scenario file with its ``base`` files merged in."""
    return _read_with_base(Path(path), seen=())


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (UTF-8 expected)") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return document


def _read_with_base(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"{path}: 'base' files include each other in a loop")
    document = _read_yaml(path)
    base = document.pop("base", None)
    if base is None:
        return document
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base = {base!r}: expected the path of a YAML file")
    parent = _read_with_base(path.parent / base, (*seen, resolved))
    return _deep_merge(parent, document)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, merge, override and validate a scenario file."""
    document = read_scenario_document(path)
    if overrides:
        document = apply_overrides(document, overrides, source=str(path))
    return scenario_from_dict(document, source=str(path))


def load_scenario_dict(document: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario given as a mapping (already merged)."""
    return scenario_from_dict(document, source=source)


def scenario_from_dict(document: dict[str, Any], source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(document)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, document, source)) from None


def format_validation_error(error: ValidationError, document: Any, source: str) -> str:
    """One readable message naming each bad field, its value and what is allowed."""
    lines = [f"{source}: invalid configuration"]
    items = error.errors(include_url=False)
    for item in items:
        # A list that is "too short" only because its bad entries were rejected says
        # nothing new: the entries' own errors are listed.
        if item["type"] == "too_short" and any(
            other is not item and other["loc"][: len(item["loc"])] == item["loc"] for other in items
        ):
            continue
        location = _dotted(tuple(p for p in item["loc"] if not _is_union_tag(p)))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            lines.append(f"  {location}: unknown setting (check the spelling)")
            continue
        if item["type"] == "missing":
            lines.append(f"  {location}: required setting is missing")
            continue
        if item["type"] == "union_tag_invalid":
            message = f"unknown distribution; allowed: {item['ctx']['expected_tags']}"
        value = _lookup(document, item["loc"])
        shown = "" if value is _MISSING else f" = {_short(value)}"
        lines.append(f"  {location}{shown}: {message}")
    return "\n".join(lines)


_MISSING = object()


def _short(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_UNION_TAGS = {
    "exponential",
    "lognormal",
    "gamma",
    "uniform",
    "triangular",
    "fixed",
    "empirical",
    "WeekdayProfile",
    "HourOfWeekProfile",
    "literal['flat']",
    "function-after[_expand_days(), ",
}


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in _UNION_TAGS or part.startswith(("function-", "literal["))
    )


def _dotted(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _lookup(document: Any, loc: tuple[Any, ...]) -> Any:
    node = document
    for part in loc:
        if _is_union_tag(part):
            continue
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        else:
            return _MISSING
    return node


# ---------------------------------------------------------------------------------------
# Overrides by dotted path

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``"staffing.workers[0].count"`` -> ``["staffing", "workers", 0, "count"]``."""
    parts: list[str | int] = []
    for chunk in path.split("."):
        matches = list(_PATH_PART.finditer(chunk))
        if not chunk or "".join(m.group(0) for m in matches) != chunk:
            raise ConfigError(f"'{path}' is not a dotted path like staffing.workers[0].count")
        for match in matches:
            parts.append(match.group(1) if match.group(1) else int(match.group(2)))
    return parts


def apply_overrides(
    document: dict[str, Any], overrides: dict[str, Any], source: str = "scenario"
) -> dict[str, Any]:
    """A copy of ``document`` with each dotted path set to its value.

    Mapping keys that the document leaves to their defaults are created on the way, and
    validation then rejects any name the schema does not know; list items must exist.
    """
    result = copy.deepcopy(document)
    for path, value in overrides.items():
        parts = parse_path(path)
        node: Any = result
        for depth, part in enumerate(parts[:-1]):
            node = _step(node, part, path, parts[: depth + 1], source)
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise ConfigError(f"{source}: override '{path}': index [{last}] does not exist")
        elif not isinstance(node, dict):
            raise ConfigError(f"{source}: override '{path}': '{last}' is not inside a mapping")
        node[last] = copy.deepcopy(value)
    return result


def _step(node: Any, part: str | int, path: str, so_far: list[str | int], source: str) -> Any:
    if isinstance(part, int):
        if isinstance(node, list) and part < len(node):
            return node[part]
    elif isinstance(node, dict):
        return node.setdefault(part, {})
    raise ConfigError(
        f"{source}: override '{path}': '{_dotted(tuple(so_far))}' does not exist in the scenario"
    )
