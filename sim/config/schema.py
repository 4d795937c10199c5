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

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.config.distributions import Distribution, Fixed
from sim.config.documents import read_scenario_document
from sim.config.errors import ConfigError, format_validation_error
from sim.config.limits import (
    MAX_CASES,
    MAX_DAYS,
    MAX_NAME_LENGTH,
    MAX_REPLICATIONS,
    MAX_WINDOWS,
    Magnitude,
    PositiveMagnitude,
    WholeNumber,
)
from sim.config.paths import apply_overrides, check_path
from sim.config.week import (
    DAY_NAMES,
    DAYS_PER_YEAR,
    HOURS_PER_WEEK,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    parse_clock,
)

__all__ = [
    "RESERVED_POPULATION",
    "TITLE_LIMIT",
    "Scenario",
    "load_scenario",
    "override_document",
    "scenario_from_dict",
    "threshold_name",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Magnitude
Positive = PositiveMagnitude
Days = Annotated[float, Field(ge=0, le=MAX_DAYS, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=MAX_NAME_LENGTH)]

_DAY_GROUPS: dict[str, tuple[str, ...]] = {
    "weekdays": DAY_NAMES[:5],
    "weekend": DAY_NAMES[5:],
    "all": DAY_NAMES,
}


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
    # Sorted by time only: two windows with equal times must not be compared.
    spans = sorted(
        (
            (day * 1440 + start, day * 1440 + end, window)
            for window in windows
            for day, start, end in window.day_windows()
        ),
        key=lambda span: span[:2],
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
    worker is reachable (the scenario's ``referral_rule`` says what reachable means),
    and with a probability not higher when nobody is: ``ratio_when_no_worker`` times
    ``probability`` (1: officers refer alike whoever is there), or an absolute
    ``probability_when_no_worker`` (not both; neither: officers refer alike), after
    ``delay`` minutes from the person's first police contact.

    ``log_probability`` is the chance that a case not referred for want of a worker is
    written in the police log (the *main courante*) in a way a worker reading it can act
    on; the scenario's ``outreach.log_access`` says whether a worker reads it."""

    model_config = _FROZEN
    probability: Probability = 1.0
    probability_when_no_worker: Probability | None = None
    ratio_when_no_worker: Probability | None = None
    log_probability: Probability = 0.0
    delay: Distribution = Fixed(dist="fixed", value=0.0)

    @model_validator(mode="after")
    def _not_higher_when_absent(self) -> Referral:
        absent = self.probability_when_no_worker
        if absent is not None and self.ratio_when_no_worker is not None:
            raise ValueError(
                "give ratio_when_no_worker or probability_when_no_worker, not both: they "
                "say the same thing (the ratio times probability is the probability)"
            )
        if absent is not None and absent > self.probability:
            raise ValueError(
                f"probability_when_no_worker ({absent}) must not exceed probability "
                f"({self.probability}): officers refer less, not more, when nobody is "
                "there (ratio_when_no_worker, from 0 to 1, cannot)"
            )
        return self

    @property
    def probability_no_worker(self) -> float:
        """The probability of referral when no worker is reachable: ``probability``
        times ``ratio_when_no_worker``, or ``probability_when_no_worker``, or
        ``probability`` when neither is set."""
        if self.ratio_when_no_worker is not None:
            return self.probability * self.ratio_when_no_worker
        absent = self.probability_when_no_worker
        return self.probability if absent is None else absent


class OnwardReferral(BaseModel):
    """Referral to a partner (shelter, hospital, victim support, perpetrator programme)
    after the first interview: with ``probability``, ``delay`` minutes after it ends.
    Arranging it takes the worker ``work_minutes`` right after the interview (phoning
    the partner, writing the referral)."""

    model_config = _FROZEN
    probability: Probability = 0.0
    delay: Distribution = Fixed(dist="fixed", value=0.0)
    work_minutes: Distribution = Fixed(dist="fixed", value=0.0)


class Followups(BaseModel):
    """Follow-up appointments after a first contact.  A person met wants ``count``
    further appointments (a draw, rounded down to a whole number, at most
    ``max_count``); each is booked with the same worker, in that worker's diary, at
    the first free slot at least ``gap_days`` after the previous appointment (see
    ``Diary``); it lasts ``duration`` minutes, and the person does not come with
    probability ``no_show``."""

    model_config = _FROZEN
    count: Distribution
    max_count: Annotated[WholeNumber, Field(ge=1, le=50)] = 12
    gap_days: Distribution
    duration: Distribution
    no_show: Probability = 0.0


class Population(BaseModel):
    """One population reaching the station (victims, perpetrators, third parties).
    ``patience`` is how long a person present at the station waits for a busy worker,
    in minutes from referral (omitted: waits until seen); ``interview`` is the first
    interview's duration in minutes; ``followups`` the appointments that follow it
    (omitted: none); ``couple_violence_share`` the share of its cases that concern
    couple violence (for the measures compared with published caseloads)."""

    model_config = _FROZEN
    arrivals: Arrivals
    urgent_share: Probability = 0.0
    referral: Referral = Referral()
    patience: Distribution | None = None
    interview: Distribution
    onward_referral: OnwardReferral = OnwardReferral()
    followups: Followups | None = None
    couple_violence_share: Probability = 0.0


class Absence(BaseModel):
    """A worker's absences.  ``leave_weeks`` are the blocks of leave a year, in whole
    weeks (Monday to Sunday), known in advance: the first block starts in a week of
    ``main_leave_season`` (ISO weeks, the first week of the run being week 1), the
    others anywhere in the year, never overlapping.  Sickness takes whole days, each
    independently with probability ``sickness_rate``, unforeseen.  When
    ``replacement_after_days`` is set, a replacement takes over (the same roster and
    diary) from the next rostered day once an absence has lasted that many rostered
    days; otherwise nobody replaces the worker."""

    model_config = _FROZEN
    sickness_rate: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    leave_weeks: tuple[Annotated[WholeNumber, Field(ge=1, le=8)], ...] = ()
    main_leave_season: tuple[Annotated[WholeNumber, Field(ge=1, le=52)], ...] | None = None
    replacement_after_days: Annotated[WholeNumber, Field(ge=1, le=365)] | None = None

    @model_validator(mode="after")
    def _season(self) -> Absence:
        if sum(self.leave_weeks) > 20:
            raise ValueError(f"leave_weeks {list(self.leave_weeks)}: more than 20 weeks a year")
        season = self.main_leave_season
        if season is not None and (len(season) != 2 or season[0] > season[1]):
            raise ValueError(
                f"main_leave_season {list(season)}: give [first week, last week], in order"
            )
        return self


TITLE_LIMIT = 160
"""The longest ``title`` a scenario (or a worker entry) may have, in characters."""


class Worker(BaseModel):
    """A social worker (or ``count`` identical ones): the weekly on-site roster, the
    absences, the share of each shift's on-site time spent on other duties
    (partnership meetings, reports, training: the last ``other_duties_share`` of each
    shift, during which the worker takes no new case), the share of that duty time
    protected from case work (``protected_duties_share``: work that runs late leaves
    the worker at least that much, after the shift's end if need be, paid as overtime)
    and the FTE paid (by default, rostered hours over a full-time week)."""

    model_config = _FROZEN
    name: Name
    # What a reader sees for these workers (the web page's inputs); empty: the name.
    title: str = Field(default="", max_length=TITLE_LIMIT)
    count: Annotated[WholeNumber, Field(ge=1, le=1000)] = 1
    roster: tuple[Shift, ...] = Field(min_length=1)
    absence: Absence = Absence()
    other_duties_share: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    protected_duties_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    fte: Positive | None = None

    @property
    def plain_title(self) -> str:
        """These workers in words: their ``title``, or their name with spaces."""
        return self.title or self.name.replace("_", " ")

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
    """An on-call rota reachable by officers in ``windows`` when nobody is on site, for
    the ``stations`` it covers (default: all; a rota may be shared by several stations
    or zones).  ``responders`` people are on call at once.  ``staffed_by: staff``: the
    scenario's own workers (those named in ``rota``, default all) take the rota in
    weekly turns, a member absent that day being skipped; a call-out that starts between
    ``night_start`` and ``night_end`` gives its responder ``rest_hours`` of rest from
    its end, which delays the start of their next shift.  ``staffed_by: external``: an
    outside rota (e.g. trained officers) with its own costs.  A call-out reaches the
    person by phone (share ``phone_share``, after ``phone_delay`` minutes) or by
    travelling in (after ``travel_delay`` minutes, and the same time to return): its
    *on-call delay* (``Demand.on_call_delay`` in the model);
    ``eligible`` says which referrals are passed to on call;
    ``max_callouts_per_window`` caps call-outs in each rostered window (omitted: no
    cap)."""

    model_config = _FROZEN
    windows: tuple[WeeklyWindow, ...] = Field(min_length=1)
    stations: tuple[str, ...] | None = None
    responders: Annotated[WholeNumber, Field(ge=1, le=100)] = 1
    staffed_by: Literal["staff", "external"] = "staff"
    rota: tuple[Name, ...] | None = None
    rest_hours: NonNegative = 0.0
    night_start: str = "22:00"
    night_end: str = "06:00"
    eligible: Literal["urgent", "all"] = "urgent"
    phone_share: Probability = 1.0
    phone_delay: Distribution = Fixed(dist="fixed", value=0.0)
    travel_delay: Distribution = Fixed(dist="fixed", value=0.0)
    max_callouts_per_window: Annotated[WholeNumber, Field(ge=0)] | None = None

    @field_validator("night_start", "night_end")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @property
    def night(self) -> tuple[int, int]:
        """The night window as minutes after midnight (start, end; end may be before
        start: the window then spans midnight)."""
        return parse_clock(self.night_start), parse_clock(self.night_end)

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


class RampUp(BaseModel):
    """A post that has just opened: officers learn of it slowly (the seed's "slow
    integration"), so their referral propensity, both when a worker is reachable and
    when none is, starts at ``initial_share`` of its full value when the run starts
    (the post's opening) and rises in a straight line to the full value at
    ``days``."""

    model_config = _FROZEN
    days: Annotated[float, Field(gt=0, le=MAX_DAYS, allow_inf_nan=False)]
    initial_share: Probability

    def share(self, minutes: np.ndarray) -> np.ndarray:
        """The share of the full referral propensity at each time (minutes from the
        opening)."""
        progress = np.minimum(np.asarray(minutes) / (self.days * MINUTES_PER_DAY), 1.0)
        return self.initial_share + (1.0 - self.initial_share) * progress


class Outreach(BaseModel):
    """Outreach from the police log (the *main courante*): whether a worker learns of
    the cases officers did not refer for want of a worker, and then phones them back.

    ``log_access`` is ``none`` (a case not referred is lost for good), ``daily_review``
    (at the first on-site shift of each day at a station, a worker there reads the
    entries written since the last review, ``review_minutes`` each, and puts them on
    the callback list) or ``networked`` (officers' entries reach the station's callback
    list as they are written, as a computerised log shared with the worker would [S17]).
    Workers "work on the *mains courantes*" [S11]; ministers asked for their access to
    them [S17].  Which cases are written in the log is each population's
    ``referral.log_probability``."""

    model_config = _FROZEN
    log_access: Literal["none", "daily_review", "networked"] = "none"
    review_minutes: NonNegative = 3.0


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
    max_attempts: Annotated[WholeNumber, Field(ge=1)] = 3
    retry_after_hours: NonNegative = 24.0
    reach_probability: ReachProbability = ReachProbability()
    expire_after_days: Positive | None = None
    left_before_seen: Literal["callback", "lost"] = "callback"


class Diary(BaseModel):
    """How follow-up appointments are booked.  A slot lies within one of the worker's
    planned on-site shifts at the person's station (its case time: before other
    duties; leave is known in advance, sickness is not), overlaps no other
    appointment, and keeps each shift's booked time within ``bookable_share`` of its
    case time (the rest stays free for walk-ins and callbacks).  A follow-up with no
    such slot within ``horizon_days`` of its earliest date is not booked: the
    diary is full, and that follow-up and the rest of the series are unmet.  An
    appointment the worker cannot hold (absent, resting) is rebooked, at most
    ``max_rebookings`` times, then counted unmet (cancelled)."""

    model_config = _FROZEN
    horizon_days: Positive = 42.0
    bookable_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    max_rebookings: Annotated[WholeNumber, Field(ge=0, le=20)] = 2


class Simulation(BaseModel):
    """Run length and seeding.  A replication measures ``windows`` consecutive windows
    of ``run_days`` after one warm-up of ``warm_up_days``; the run continues
    ``drain_days`` after the last (with arrivals) so that its cases can reach an
    outcome.  Window k's cases are followed for ``drain_days`` into window k + 1, as
    the last window's are into the drain, so every window is measured alike; a
    replication's value of a measure is its mean over its windows, and replications
    stay independent (``docs/model.md``, "Warm-up, windows and replications")."""

    model_config = _FROZEN
    warm_up_days: Days = 14.0
    run_days: Annotated[float, Field(gt=0, le=MAX_DAYS, allow_inf_nan=False)] = 364.0
    windows: Annotated[WholeNumber, Field(ge=1, le=MAX_WINDOWS)] = 1
    drain_days: Days = 14.0
    replications: Annotated[WholeNumber, Field(ge=1, le=MAX_REPLICATIONS)] = 10
    seed: Annotated[WholeNumber, Field(ge=0, lt=2**63)] = 0

    @model_validator(mode="after")
    def _measured_span_bounded(self) -> Simulation:
        if self.windows * self.run_days > MAX_DAYS:
            raise ValueError(
                f"windows x run_days is {self.windows} x {self.run_days:g} = "
                f"{self.windows * self.run_days:,.0f} days; at most {MAX_DAYS:,.0f} days "
                "are measured in one replication: fewer windows or shorter ones"
            )
        return self

    @property
    def window_minutes(self) -> tuple[float, float]:
        """Start of the first measurement window and end of the last, in minutes."""
        # Days times 24 times 60, in that order: the minutes of earlier runs, to the bit.
        start = self.warm_up_days * 24 * MINUTES_PER_HOUR
        return start, start + self.windows * self.run_days * 24 * MINUTES_PER_HOUR

    @property
    def horizon_minutes(self) -> float:
        """The length of a run: warm-up, every window and the drain, in minutes."""
        days = self.warm_up_days + self.windows * self.run_days + self.drain_days
        return days * 24 * MINUTES_PER_HOUR

    @property
    def simulated_days_per_measured_year(self) -> float:
        """Days simulated for each 364 days measured: the cost of the design."""
        days = self.warm_up_days + self.windows * self.run_days + self.drain_days
        return days * 364.0 / (self.windows * self.run_days)


class Measures(BaseModel):
    """Thresholds of the measures: shares contacted within ``thresholds_hours`` of
    referral, and first contacts later than ``late_after_hours`` count as met late.
    The follow-up measures count the persons first contacted at least
    ``followup_observation_days`` before the run ends, so that their series can run
    its course within the run."""

    model_config = _FROZEN
    followup_observation_days: NonNegative = 150.0
    thresholds_hours: tuple[Positive, ...] = Field((1.0, 24.0, 72.0), min_length=1, max_length=12)
    late_after_hours: Positive = 72.0

    @field_validator("thresholds_hours")
    @classmethod
    def _unique_and_sorted(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"{list(value)} lists a threshold twice")
        if list(value) != sorted(value):
            raise ValueError(f"{list(value)}: list the thresholds in increasing order")
        names = [threshold_name(hours) for hours in value]
        for a, b, name in zip(value, value[1:], names, strict=False):
            if threshold_name(b) == name:
                raise ValueError(
                    f"{a:.12g} and {b:.12g} both name the measure {name}: thresholds must "
                    "differ in their first 6 significant digits"
                )
        return value


def threshold_name(hours: float) -> str:
    """Name of the 'share contacted within ``hours`` of referral' measure
    (``within_24h_share``): ``hours`` to 6 significant digits."""
    return f"within_{hours:g}h_share"


class Costs(BaseModel):
    """Cost rates in euros.  The FTE cost default (39,000 EUR a year) is the seed's
    6.8 M EUR for 175 posts; the others are assumptions that each config states.  A
    replacement costs an FTE's pay for each day it covers (``fte_eur_per_year`` over
    ``working_days_per_fte_year``); an external on-call rota costs its premium per hour
    on call and its rate per hour of call-out, which a scenario with one must state
    (no default: an outside rota is not free)."""

    model_config = _FROZEN
    fte_eur_per_year: NonNegative = 39_000.0
    hours_per_fte_week: Positive = 35.0
    working_days_per_fte_year: Positive = 226.0
    on_call_eur_per_hour: NonNegative = 0.0
    overtime_eur_per_hour: NonNegative = 0.0
    external_on_call_eur_per_hour: NonNegative | None = None
    external_callout_eur_per_hour: NonNegative | None = None


RESERVED_POPULATION = "all"
"""The population label of the measures over every population together."""


class Scenario(BaseModel):
    """A whole scenario, validated: what the model runs.  ``referral_rule`` says when an
    officer sees a worker as reachable (and refers with the higher probability):
    ``can_take_now``, a worker is on site for cases, or the on-call rota covers the
    station now and this case is eligible for it; ``on_duty``, a worker is on site or
    any on-call window covering the station is open, whatever the case.  ``ramp_up``
    (omitted: an established post) makes officers refer less while a new post becomes
    known.  ``title`` is what readers see for it in figures and on the web page (empty:
    its name); a file that extends it through ``base`` does not inherit it."""

    model_config = _FROZEN
    name: Name
    # What a reader sees in figures, tables and the web page; empty: the name.
    title: str = Field(default="", max_length=TITLE_LIMIT)
    description: str = ""
    simulation: Simulation = Simulation()
    stations: tuple[Station, ...] = (Station(name="station"),)
    populations: dict[Name, Population] = Field(min_length=1)
    staffing: Staffing
    on_call: OnCall | None = None
    referral_rule: Literal["can_take_now", "on_duty"] = "can_take_now"
    ramp_up: RampUp | None = None
    callbacks: Callbacks = Callbacks()
    outreach: Outreach = Outreach()
    diary: Diary = Diary()
    measures: Measures = Measures()
    costs: Costs = Costs()

    @property
    def plain_title(self) -> str:
        """The scenario's name in words: its ``title``, or its name with spaces."""
        return self.title or self.name.replace("_", " ")

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        if RESERVED_POPULATION in self.populations:
            raise ValueError(
                f"populations: '{RESERVED_POPULATION}' is reserved for the measures over every "
                "population together; give the population another name"
            )
        if not self.stations:
            raise ValueError("stations: list at least one station")
        names = [s.name for s in self.stations]
        if len(set(names)) != len(names):
            raise ValueError(f"stations: names must be unique, got {names}")
        for w, worker in enumerate(self.staffing.workers):
            for k, shift in enumerate(worker.roster):
                where = f"staffing.workers[{w}].roster[{k}].station"
                if shift.station is None and len(names) > 1:
                    raise ValueError(f"{where}: required when there are several stations")
                if shift.station is not None and shift.station not in names:
                    raise ValueError(f"{where}: '{shift.station}' is not a station; known: {names}")
        worker_names = [w.name for w in self.staffing.workers]
        if len(set(worker_names)) != len(worker_names):
            raise ValueError(f"staffing.workers: names must be unique, got {worker_names}")
        if self.on_call is not None and self.on_call.stations is not None:
            for station in self.on_call.stations:
                if station not in names:
                    raise ValueError(
                        f"on_call.stations: '{station}' is not a station; known: {names}"
                    )
        if self.on_call is not None and self.on_call.staffed_by == "staff":
            self._check_staff_rota(worker_names)
        if self.on_call is not None and self.on_call.staffed_by == "external":
            for key in ("external_on_call_eur_per_hour", "external_callout_eur_per_hour"):
                if getattr(self.costs, key) is None:
                    raise ValueError(
                        f"costs.{key}: required with on_call.staffed_by: external (an "
                        "outside rota is paid; state its rate in EUR, with its source or "
                        "as an ASSUMPTION)"
                    )
        self._check_volume()
        return self

    def _check_volume(self) -> None:
        """Refuse a run that expects more cases than memory holds (see ``MAX_CASES``)."""
        minutes = self.simulation.horizon_minutes
        expected = sum(
            float(p.arrivals.hourly_rates().mean()) * minutes for p in self.populations.values()
        )
        if not expected <= MAX_CASES:
            raise ValueError(
                f"populations: the arrivals expect {expected:,.0f} cases in one replication "
                f"of {minutes / MINUTES_PER_DAY:,.0f} days; a replication may expect at most "
                f"{MAX_CASES:,} (lower the arrivals or the run's days, and add replications)"
            )

    def _check_staff_rota(self, worker_names: list[str]) -> None:
        on_call = self.on_call
        assert on_call is not None
        for name in on_call.rota or ():
            if name not in worker_names:
                raise ValueError(f"on_call.rota: '{name}' is not a worker; known: {worker_names}")
        members = [w for w in self.staffing.workers if w.name in (on_call.rota or worker_names)]
        if sum(w.count for w in members) < on_call.responders:
            raise ValueError(
                f"on_call.responders = {on_call.responders}: the rota has fewer members "
                f"({sum(w.count for w in members)}); name more workers in on_call.rota or "
                "use staffed_by: external"
            )
        for worker in members:
            try:
                _check_disjoint((*worker.roster, *on_call.windows), "windows")
            except ValueError:
                index = self.staffing.workers.index(worker)
                raise ValueError(
                    f"on_call: with staffed_by: staff, the on-call windows must lie outside "
                    f"the shifts of the rota's members, and worker '{worker.name}' "
                    f"(staffing.workers[{index}].roster) is on site during one of "
                    "on_call.windows; change the windows or the rota, or use staffed_by: "
                    "external"
                ) from None

    def station_index(self, name: str | None) -> int:
        """Index of a station by name (``None``: the only station)."""
        if name is None:
            return 0
        return [s.name for s in self.stations].index(name)

    @property
    def population_names(self) -> tuple[str, ...]:
        return tuple(self.populations)

    @property
    def posts(self) -> int:
        """On-site posts: the social workers of the staffing, ``count`` included."""
        return sum(worker.count for worker in self.staffing.workers)

    def expanded_workers(self) -> list[tuple[str, Worker, int]]:
        """``(name, entry, copy number)`` of every on-site worker, ``count`` expanded:
        an entry ``iscg`` with count 2 gives ``iscg_1`` and ``iscg_2``."""
        return [
            (worker.name if worker.count == 1 else f"{worker.name}_{copy + 1}", worker, copy)
            for worker in self.staffing.workers
            for copy in range(worker.count)
        ]


# ---------------------------------------------------------------------------------------
# Loading


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read a scenario file (its ``base`` files merged in), set the ``overrides`` (dotted
    paths, each checked to exist in the scenario) and validate the result."""
    document = read_scenario_document(path)
    if overrides:
        document = override_document(document, overrides, source=str(path))
    return scenario_from_dict(document, source=str(path))


def override_document(
    document: dict[str, Any], overrides: dict[str, Any], source: str
) -> dict[str, Any]:
    """``document`` with ``overrides`` set, each path checked against the resolved
    scenario first (when the document validates without them: an override may also be
    what makes a document valid, and then validation names what is still wrong)."""
    try:
        resolved = Scenario.model_validate(document).model_dump(mode="json")
    except ValidationError:
        resolved = None
    if resolved is not None:
        name = str(resolved.get("name", source))
        for path in overrides:
            check_path(path, resolved, f"{source}: override", name)
    return apply_overrides(document, overrides, source, defaults=resolved)


def scenario_from_dict(document: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario given as a mapping (``base`` files already merged)."""
    try:
        return Scenario.model_validate(document)
    except ValidationError as error:
        if "scenarios" in document and "populations" not in document:
            raise ConfigError(
                f"{source}: this is an experiment spec (it lists scenarios), not a scenario; "
                "run it with station-sim experiment"
            ) from None
        raise ConfigError(format_validation_error(error, document, source, Scenario)) from None
