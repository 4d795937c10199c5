"""The measures: every number the project reports about a run, each defined once.

A :class:`Measure` is a name with everything the rest of the project needs to know
about it: its title and unit, how it is shown (scale, digits, per year), whether it is
computed per population (each population, and ``all`` of them together) or for the
system as a whole, how it combines across parts (populations, stations, catchments),
which standard lists it belongs to, and how it is computed from a run's records.  The
summary, the printed tables, the figures, the comparison tables, the checks of an
experiment spec and the reproduction check all read :func:`measures_for`; adding a
measure is one entry in :func:`_population_measures`, :func:`_followup_measures` or
:func:`_system_measures` (the national measures are in :mod:`sim.national.measures`).

The list depends on the scenario only through its thresholds (``within_4h_share``
exists when ``measures.thresholds_hours`` lists 4).  Every measure is computed per
replication over the cases that arrived in the measurement window
(:func:`sim.model.outcomes.measured`), and summarised across replications as a mean with a
Student-t interval (:mod:`sim.measures.stats`).

Standard lists (``lists``):

- ``comparison``: the measures of the Markdown comparison table by default;
- ``reference``: the measures the committed reference tables keep;
- ``overview``: the columns of the table ``station-sim experiment`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np

from sim.config.schema import RESERVED_POPULATION, Scenario, threshold_name
from sim.config.week import DAYS_PER_YEAR, MINUTES_PER_DAY, MINUTES_PER_HOUR, MINUTES_PER_WEEK
from sim.measures.costs import fixed_cost_eur_per_year, variable_cost_eur_per_year
from sim.model.outcomes import UNMET_OUTCOMES, Outcome, classify, measured
from sim.model.records import Channel, EndState, FollowupStatus, RunRecords, WorkerActivity
from sim.model.windows import window_views

__all__ = [
    "ALL",
    "Measure",
    "MeasureList",
    "mean_over_windows",
    "mean_where_defined",
    "measure_run",
    "measure_window",
    "measure_windows",
    "measures_for",
    "share",
    "threshold_name",
]

ALL = RESERVED_POPULATION
"""The population label of measures over every population together (and of the system
measures)."""

Scope = Literal["population", "system", "national"]
Aggregate = Literal["sum", "ratio", "none"]


@dataclass(frozen=True)
class Measure:
    """One measure.

    ``scale`` and ``digits`` say how a value is shown (a share of 0.25 with scale 100
    is shown as 25.0); counts of cases are per year of the measurement window.
    ``aggregate`` says how the measure of a whole combines the measures of its parts
    (of the populations into ``all``, of catchments into a country): ``sum``, ``ratio``
    of two other measures (``ratio_of``: numerator, denominator), or ``none`` (a
    percentile, say, must be computed from the whole).
    ``threshold_hours`` is set on the measures built from a threshold.
    Every measure is a count, a time, a cost, an index or a share, so none is below 0;
    ``upper_bound`` is 1 for a share of people (and for an index bounded by 1), and its
    intervals stay within ``[0, upper_bound]`` (:mod:`sim.measures.stats`).
    """

    name: str
    title: str
    unit: str = ""
    scale: float = 1.0
    digits: int = 1
    scope: Scope = "population"
    aggregate: Aggregate = "none"
    ratio_of: tuple[str, str] | None = None
    lists: frozenset[str] = frozenset()
    heading: str = ""
    threshold_hours: float | None = None
    upper_bound: float = math.inf
    compute: Callable[[Any], float] | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """Title and unit, as an axis or a table heading shows them."""
        return f"{self.title} ({self.unit})" if self.unit else self.title

    @property
    def support(self) -> tuple[float, float]:
        """The values the measure can take: its intervals never leave them."""
        return (0.0, self.upper_bound)

    @property
    def short(self) -> str:
        """A compact column heading."""
        return self.heading or self.name.replace("_", " ")

    def show(self, value: float) -> str:
        """A value as a table shows it (``-`` when undefined)."""
        if value is None or np.isnan(value):
            return "-"
        return f"{value * self.scale:.{self.digits}f}"


STORED_FIELDS = tuple(f.name for f in fields(Measure) if f.name != "compute")
"""The fields of a measure kept in a results folder's ``measures`` table."""


class MeasureList(Sequence[Measure]):
    """The measures of a scenario (or of an experiment), in table order."""

    def __init__(self, measures: Sequence[Measure]) -> None:
        self._measures = tuple(measures)
        self._by_name = {m.name: m for m in self._measures}
        if len(self._by_name) != len(self._measures):
            raise ValueError("two measures share a name")

    def __getitem__(self, index: Any) -> Any:
        return self._measures[index]

    def __len__(self) -> int:
        return len(self._measures)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> Measure | None:
        return self._by_name.get(name)

    def named(self, name: str) -> Measure:
        """The measure called ``name`` (``KeyError`` if there is none)."""
        return self._by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def supports(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The lower and upper bounds of the measures ``names`` (one each, in order):
        what :func:`sim.measures.stats.intervals` keeps every interval within."""
        bounds = np.array([self._by_name[n].support for n in names], dtype=float)
        return bounds[:, 0], bounds[:, 1]

    def in_list(self, name: str) -> tuple[Measure, ...]:
        """The measures of a standard list (``comparison``, ``reference``, ``overview``)."""
        return tuple(m for m in self._measures if name in m.lists)

    def of_scope(self, scope: Scope) -> tuple[Measure, ...]:
        return tuple(m for m in self._measures if m.scope == scope)

    @property
    def thresholds_hours(self) -> tuple[float, ...]:
        return tuple(m.threshold_hours for m in self._measures if m.threshold_hours is not None)

    def union(self, other: MeasureList) -> MeasureList:
        """These measures, then those of ``other`` not among them."""
        return MeasureList([*self, *(m for m in other if m.name not in self)])

    def records(self) -> list[dict[str, Any]]:
        """One row per measure, the stored fields only (for a results folder)."""
        rows = []
        for m in self._measures:
            row = {name: getattr(m, name) for name in STORED_FIELDS}
            row["lists"] = ",".join(sorted(m.lists))
            row["ratio_of"] = ",".join(m.ratio_of) if m.ratio_of else ""
            rows.append(row)
        return rows

    @classmethod
    def from_records(cls, rows: Sequence[dict[str, Any]]) -> MeasureList:
        """The list as stored by :meth:`records` (without the ways to compute them)."""
        measures = []
        for row in rows:
            # A folder written before a field existed has the field's default.
            values = {name: row[name] for name in STORED_FIELDS if name in row}
            values["lists"] = frozenset(filter(None, str(row["lists"] or "").split(",")))
            ratio = str(row["ratio_of"] or "")
            values["ratio_of"] = tuple(ratio.split(",")) if ratio else None
            threshold = values.get("threshold_hours")
            values["threshold_hours"] = (
                None if threshold is None or np.isnan(threshold) else float(threshold)
            )
            measures.append(Measure(**values))
        return cls(measures)


def measures_for(scenario: Scenario) -> MeasureList:
    """Every measure of a run of ``scenario``."""
    return _measures_with(scenario.measures.thresholds_hours)


@lru_cache(maxsize=32)
def _measures_with(thresholds: tuple[float, ...]) -> MeasureList:
    # Built once per set of thresholds: every task of an experiment asks for it.
    return MeasureList([*_population_measures(thresholds), *_system_measures()])


# ---------------------------------------------------------------------------------------
# The measures of the cases of one population (or of all of them)


_UNMET_FOLLOWUPS = (
    FollowupStatus.NO_SHOW,
    FollowupStatus.DIARY_FULL,
    FollowupStatus.CANCELLED,
    FollowupStatus.NO_WORKER,
)
"""Follow-up outcomes counted as unmet follow-up."""


class _Series:
    """Per measured case, what its follow-up appointments came to: counts by status, the
    end of the last one held, and whether the series is observed whole (the cohort:
    first contacted at least ``measures.followup_observation_days`` before the run
    ended)."""

    def __init__(self, run: RunRecords, scenario: Scenario) -> None:
        cases = run.cases
        n = len(cases)
        rows = run.appointments
        position = np.searchsorted(cases.case_id, rows.case_id)
        inside = position < n
        inside[inside] = cases.case_id[position[inside]] == rows.case_id[inside]
        position, status = position[inside], rows.status[inside]
        # Each appointment row's case (its position among the cases) and status: a
        # group counts its rows from these, not from per-case counts of every case.
        self.position: np.ndarray = position
        self.status: np.ndarray = status.astype(np.int64, copy=False)
        held = status == FollowupStatus.HELD
        self.last_held = np.full(n, np.nan)
        order = np.argsort(rows.end[inside][held], kind="stable")
        self.last_held[position[held][order]] = rows.end[inside][held][order]
        observed = run.end_time - scenario.measures.followup_observation_days * MINUTES_PER_DAY
        contacted = cases.state == EndState.CONTACTED
        with np.errstate(invalid="ignore"):
            self.cohort = contacted & (cases.first_contact <= observed)
        self.persons_met = int(np.count_nonzero(contacted))
        self.open_minutes = _open_minutes(run, contacted)


def _open_minutes(run: RunRecords, contacted: np.ndarray) -> float:
    """Person-minutes in the window of series open: from a person's first contact to the
    end of their last appointment (or the end of the run, if still open)."""
    cases = run.cases
    start = cases.first_contact[contacted]
    end = np.where(np.isnan(cases.series_end[contacted]), run.end_time, cases.series_end[contacted])
    lo, hi = run.window_start, run.window_end
    return float((np.clip(end, lo, hi) - np.clip(start, lo, hi)).clip(min=0).sum())


class _Cases:
    """The measured cases of one population (or all), and what several measures share.

    Waits are in hours, over the cases contacted; shares of "referred" count a case
    never contacted as not within any time.
    """

    def __init__(
        self, run: RunRecords, outcome: np.ndarray, mask: np.ndarray, series: _Series
    ) -> None:
        self.cases = run.cases
        self.mask = mask
        self.outcome = outcome[mask]
        self.years = (run.window_end - run.window_start) / (DAYS_PER_YEAR * MINUTES_PER_DAY)
        self.n = len(self.outcome)
        self.series = series

    @cached_property
    def met(self) -> int:
        return int(self.counts[Outcome.MET] + self.counts[Outcome.MET_LATE])

    @cached_property
    def cohort(self) -> np.ndarray:
        """The persons of this group whose follow-up series is observed whole."""
        return self.series.cohort[self.mask]

    @cached_property
    def _followups_by_status(self) -> np.ndarray:
        """Follow-ups of the cohort by how they ended (indexed by ``FollowupStatus``)."""
        series = self.series
        chosen = (self.mask & series.cohort)[series.position]
        return np.bincount(series.status[chosen], minlength=len(FollowupStatus))

    def followups(self, status: FollowupStatus) -> int:
        """Follow-ups of the cohort that ended with ``status``."""
        return int(self._followups_by_status[status])

    @cached_property
    def followups_settled(self) -> int:
        """Follow-ups of the cohort that were held or definitely unmet (not pending)."""
        wanted = int(self.cases.followups_wanted[self.mask][self.cohort].sum())
        return wanted - self.followups(FollowupStatus.PENDING)

    @cached_property
    def followup_days(self) -> np.ndarray:
        """Days from first contact to the end of the last appointment held, for the
        cohort's persons with one held at least."""
        last = self.series.last_held[self.mask]
        chosen = self.cohort & ~np.isnan(last)
        return (last - self._contact)[chosen] / MINUTES_PER_DAY

    @cached_property
    def followups_unmet(self) -> int:
        return sum(self.followups(s) for s in _UNMET_FOLLOWUPS)

    @cached_property
    def counts(self) -> np.ndarray:
        return np.bincount(self.outcome, minlength=len(Outcome))

    @cached_property
    def servable(self) -> int:
        """Cases that coverage could serve: all but those never referred anyway."""
        return int(self.n - self.counts[Outcome.NOT_REFERRED])

    @cached_property
    def unmet(self) -> int:
        return int(sum(self.counts[o] for o in UNMET_OUTCOMES))

    @cached_property
    def unmet_capacity(self) -> int:
        """Unmet cases that were referred (or found in the police log): not reached
        for want of capacity or coverage, as opposed to never referred."""
        return self.unmet - int(self.counts[Outcome.NOT_REFERRED_NO_WORKER])

    @cached_property
    def referred(self) -> int:
        """Cases an officer referred (a case found in the police log was not)."""
        return int(np.count_nonzero(self._referred))

    @cached_property
    def _referred(self) -> np.ndarray:
        return ~np.isnan(self.cases.referral[self.mask]) & ~self.cases.logged[self.mask]

    @cached_property
    def logged(self) -> int:
        return int(np.count_nonzero(self.cases.logged[self.mask]))

    @cached_property
    def _contact(self) -> np.ndarray:
        return self.cases.first_contact[self.mask]

    @cached_property
    def _contacted(self) -> np.ndarray:
        return ~np.isnan(self._contact)

    @cached_property
    def wait_referral(self) -> np.ndarray:
        # Over the referred: a case found in the police log has no referral to wait from.
        referral = self.cases.referral[self.mask]
        return (self._contact - referral)[self._contacted & self._referred] / MINUTES_PER_HOUR

    @cached_property
    def wait_arrival(self) -> np.ndarray:
        arrival = self.cases.arrival[self.mask]
        return (self._contact - arrival)[self._contacted] / MINUTES_PER_HOUR

    def quantiles(self, origin: str) -> list[float]:
        """Median, 90th and 95th percentile of the waits from ``origin``."""
        key = f"_quantiles_{origin}"
        if key not in self.__dict__:
            waits = getattr(self, f"wait_{origin}")
            # One call for all: numpy partitions once.
            self.__dict__[key] = (
                np.quantile(waits, (0.5, 0.9, 0.95)).tolist() if len(waits) else [np.nan] * 3
            )
        return self.__dict__[key]

    @cached_property
    def channels(self) -> np.ndarray:
        return np.bincount(self.cases.channel[self.mask][self._contacted], minlength=len(Channel))


def share(part: float, whole: float) -> float:
    """``part / whole``, or NaN when there is no whole (a share of nothing is undefined)."""
    return float(part) / whole if whole else np.nan


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else np.nan


_OUTCOME_TITLES = {
    Outcome.MET: "Met",
    Outcome.MET_LATE: "Met late",
    Outcome.LEFT: "Left before being seen and lost",
    Outcome.CALLBACK_FAILED: "Callback failed",
    Outcome.WAITING_AT_END: "Waiting at the end of the run",
    Outcome.NOT_REFERRED_NO_WORKER: "Not referred: no worker reachable",
    Outcome.NOT_REFERRED: "Not referred",
    Outcome.CALLBACK_EXPIRED: "Callback expired",
}

_OUTCOME_HEADINGS = {
    Outcome.NOT_REFERRED_NO_WORKER: "not referred: no worker",
    Outcome.MET_LATE: "met late (met)",
}

_STATISTICS = (
    ("median", "Median", 0),
    ("p90", "90th percentile", 1),
    ("p95", "95th percentile", 2),
)
_ORIGINS = (("referral", "referral"), ("arrival", "first police contact"))
_CHANNELS = (
    (Channel.ON_SITE, "on site"),
    (Channel.ON_CALL, "on call"),
    (Channel.CALLBACK, "by callback"),
    (Channel.LOG, "from the police log"),
)
_COUNT = {"unit": "cases a year", "digits": 0, "aggregate": "sum"}
_PERCENT = {"scale": 100.0, "digits": 1, "upper_bound": 1.0}  # a share of people
_COMPARED = frozenset({"comparison", "reference"})


def _population_measures(thresholds: Sequence[float]) -> Iterator[Measure]:
    # Counts are per year of the measurement window, so that runs of any length compare.
    yield Measure(
        "cases",
        "Cases",
        lists=frozenset({"reference"}),
        compute=lambda c: c.n / c.years,
        **_COUNT,
    )
    yield Measure(
        "referred",
        "Referred",
        lists=frozenset({"reference"}),
        heading="referred/yr",
        compute=lambda c: c.referred / c.years,
        **_COUNT,
    )
    yield Measure(
        "servable",
        "Cases coverage could serve",
        compute=lambda c: c.servable / c.years,
        **_COUNT,
    )
    for outcome in Outcome:
        yield Measure(
            outcome.label,
            _OUTCOME_TITLES[outcome],
            heading=_OUTCOME_HEADINGS.get(outcome, outcome.label.replace("_", " ")),
            compute=lambda c, code=int(outcome): c.counts[code] / c.years,
            **_COUNT,
        )
    yield Measure("unmet", "Unmet cases", compute=lambda c: c.unmet / c.years, **_COUNT)
    yield Measure(
        "unmet_capacity",
        "Unmet cases referred but not reached",
        heading="not reached",
        compute=lambda c: c.unmet_capacity / c.years,
        **_COUNT,
    )
    yield Measure(
        "logged",
        "Not referred, found in the police log",
        heading="logged",
        compute=lambda c: c.logged / c.years,
        **_COUNT,
    )
    yield Measure(
        "unmet_share",
        "Unmet demand",
        "% of servable cases",
        aggregate="ratio",
        ratio_of=("unmet", "servable"),
        lists=_COMPARED | {"overview"},
        heading="unmet %",
        compute=lambda c: share(c.unmet, c.servable),
        **_PERCENT,
    )
    # The two parts of unmet_share, which add up to it: what rests on how officers refer
    # when nobody can take the case (an assumption), and what capacity and coverage do.
    yield Measure(
        "unmet_not_referred_share",
        "Unmet: not referred, no worker reachable (officers' behaviour)",
        "% of servable cases",
        aggregate="ratio",
        ratio_of=("not_referred_no_worker", "servable"),
        lists=_COMPARED | {"overview"},
        heading="not referred %",
        compute=lambda c: share(c.counts[Outcome.NOT_REFERRED_NO_WORKER], c.servable),
        **_PERCENT,
    )
    yield Measure(
        "unmet_capacity_share",
        "Unmet: referred but not reached (capacity and coverage)",
        "% of servable cases",
        aggregate="ratio",
        ratio_of=("unmet_capacity", "servable"),
        lists=_COMPARED | {"overview"},
        heading="not reached %",
        compute=lambda c: share(c.unmet_capacity, c.servable),
        **_PERCENT,
    )
    yield Measure(
        "met_late_share",
        "Met late",
        "% of servable cases",
        aggregate="ratio",
        ratio_of=("met_late", "servable"),
        lists=_COMPARED,
        compute=lambda c: share(c.counts[Outcome.MET_LATE], c.servable),
        **_PERCENT,
    )
    yield Measure(
        "left_station",
        "Left before being seen, then called back or lost",
        compute=lambda c: np.count_nonzero(c.cases.left_station[c.mask]) / c.years,
        **_COUNT,
    )
    for origin, described in _ORIGINS:
        compared = _COMPARED if origin == "referral" else frozenset()
        yield Measure(
            f"wait_{origin}_mean_h",
            f"Mean wait from {described}",
            "h",
            lists=compared | ({"overview"} if origin == "referral" else set()),
            heading="mean wait h",
            compute=lambda c, o=origin: _mean(getattr(c, f"wait_{o}")),
        )
        for key, title, k in _STATISTICS:
            lists = compared - {"comparison"} if key == "p95" else compared
            yield Measure(
                f"wait_{origin}_{key}_h",
                f"{title} wait from {described}",
                "h",
                lists=lists | ({"overview"} if (origin, key) == ("referral", "p90") else set()),
                heading=f"{key} wait h",
                compute=lambda c, o=origin, k=k: c.quantiles(o)[k],
            )
    overview = 24.0 if 24.0 in thresholds else thresholds[len(thresholds) // 2]
    for hours in thresholds:
        yield Measure(
            threshold_name(hours),
            f"Contacted within {hours:g} h",
            "% of referred",
            lists=_COMPARED | ({"overview"} if hours == overview else set()),
            heading=f"<={hours:g}h %",
            threshold_hours=float(hours),
            compute=lambda c, h=hours: share(np.count_nonzero(c.wait_referral <= h), c.referred),
            **_PERCENT,
        )
    yield from _followup_measures()
    for channel, described in _CHANNELS:
        yield Measure(
            f"{channel.label}_share",
            f"First contacts {described}",
            "% of contacts",
            compute=lambda c, code=int(channel): share(c.channels[code], c.channels.sum()),
            **_PERCENT,
        )


_FOLLOWUP_COUNT = {"unit": "follow-ups of the cohort", "digits": 0, "aggregate": "sum"}


def _followup_measures() -> Iterator[Measure]:
    yield Measure(
        "persons_met_per_year",
        "Persons met",
        "a year",
        digits=0,
        aggregate="sum",
        lists=frozenset({"reference"}),
        compute=lambda c: c.met / c.years,
    )
    yield Measure(
        "couple_violence_met_per_year",
        "Persons met for couple violence",
        "a year",
        digits=0,
        aggregate="sum",
        compute=lambda c: (
            np.count_nonzero(c.cases.couple_violence[c.mask] & c._contacted) / c.years
        ),
    )
    yield Measure(
        "share_of_persons_met",
        "Share of the persons met",
        "% of all persons met",
        compute=lambda c: share(c.met, c.series.persons_met),
        **_PERCENT,
    )
    yield Measure(
        "appointments_per_person",
        "Appointments per person met",
        "first contact and follow-ups held",
        digits=2,
        lists=frozenset({"reference"}),
        compute=lambda c: share(c.cohort.sum() + c.followups(FollowupStatus.HELD), c.cohort.sum()),
    )
    yield Measure(
        "followup_days",
        "Follow-up duration",
        "days from first contact to the last appointment",
        digits=0,
        compute=lambda c: _mean(
            (
                (c.series.last_held[c.mask] - c._contact)[
                    c.cohort & ~np.isnan(c.series.last_held[c.mask])
                ]
            )
            / MINUTES_PER_DAY
        ),
    )
    yield Measure(
        "followups_wanted",
        "Follow-ups wanted",
        compute=lambda c: float(c.followups_settled + c.followups(FollowupStatus.PENDING)),
        **_FOLLOWUP_COUNT,
    )
    for status in FollowupStatus:
        yield Measure(
            f"followups_{status.label}",
            f"Follow-ups: {status.label.replace('_', ' ')}",
            compute=lambda c, s=status: float(c.followups(s)),
            **_FOLLOWUP_COUNT,
        )
    yield Measure(
        "followups_unmet_share",
        "Unmet follow-ups",
        "% of follow-ups wanted and settled",
        aggregate="ratio",
        ratio_of=("followups_unmet", "followups_settled"),
        lists=frozenset({"reference", "comparison"}),
        compute=lambda c: share(c.followups_unmet, c.followups_settled),
        **_PERCENT,
    )
    yield Measure(
        "followups_unmet",
        "Unmet follow-ups",
        compute=lambda c: float(c.followups_unmet),
        **_FOLLOWUP_COUNT,
    )
    yield Measure(
        "followups_settled",
        "Follow-ups held or unmet",
        compute=lambda c: float(c.followups_settled),
        **_FOLLOWUP_COUNT,
    )


# ---------------------------------------------------------------------------------------
# The measures of the system: worker time and costs


class _System:
    """Worker time in the measurement window (blocks clipped to it), and costs."""

    def __init__(
        self, run: RunRecords, scenario: Scenario, outcome: np.ndarray, series: _Series
    ) -> None:
        records = run.workers
        start, end = run.window_start, run.window_end
        self.scenario = scenario
        self.posts = scenario.posts
        self.series = series
        self.years = (end - start) / (DAYS_PER_YEAR * MINUTES_PER_DAY)
        self.weeks = (end - start) / MINUTES_PER_WEEK
        self.clipped = np.clip(records.end, start, end) - np.clip(records.start, start, end)
        # On-site workers come first; an outside rota's responders after them.
        self.on_site_worker = records.worker < self.posts
        self.activity = records.activity
        # Call-outs and replacement days count in the window they start in.
        starts_inside = (records.start >= start) & (records.start < end)
        self.callouts = (records.activity == WorkerActivity.CALLOUT) & starts_inside
        self.replaced_days = int(
            np.count_nonzero((records.activity == WorkerActivity.REPLACED) & starts_inside)
        )
        met = (outcome == Outcome.MET) | (outcome == Outcome.MET_LATE)
        self.met_per_year = np.count_nonzero(met) / self.years
        cases = run.cases
        self.couple_violence_per_year = (
            np.count_nonzero(cases.couple_violence & (cases.state == EndState.CONTACTED))
            / self.years
        )

    def minutes(self, activity: WorkerActivity) -> float:
        """Minutes of on-site workers' time spent on ``activity``."""
        return float(self.clipped[(self.activity == activity) & self.on_site_worker].sum())

    def hours_per_year(self, minutes: float) -> float:
        return minutes / MINUTES_PER_HOUR / self.years

    @cached_property
    def on_site(self) -> float:
        """Minutes paid at the station (shifts less travel)."""
        return self.minutes(WorkerActivity.SHIFT) - self.minutes(WorkerActivity.TRAVEL)

    @cached_property
    def case_overtime(self) -> float:
        """Minutes of case work after the shift's end."""
        return self.minutes(WorkerActivity.OVERTIME)

    @cached_property
    def overtime(self) -> float:
        """Minutes paid as overtime: case work after the shift's end, and the protected
        duties that case work pushed past it."""
        return self.case_overtime + self.minutes(WorkerActivity.PROTECTED_DUTIES)

    @cached_property
    def work(self) -> float:
        """Minutes of case work: first interviews, follow-ups, failed callback attempts
        and onward-referral work, overtime included."""
        return sum(self.minutes(a) for a in _CASE_WORK)

    @cached_property
    def busy(self) -> float:
        """Minutes of case work within shifts (overtime apart)."""
        return self.work - self.case_overtime

    @cached_property
    def available(self) -> float:
        """Minutes on site for cases: on site less other duties and rest."""
        duties = self.minutes(WorkerActivity.DUTIES)
        return self.on_site - duties - self.minutes(WorkerActivity.REST)

    @cached_property
    def callout_minutes(self) -> float:
        return float(self.clipped[self.callouts].sum())

    @cached_property
    def cost(self) -> float:
        variable = variable_cost_eur_per_year(
            self.scenario,
            self.hours_per_year(self.overtime),
            self.hours_per_year(self.callout_minutes),
            self.replaced_days / self.years,
        )
        return fixed_cost_eur_per_year(self.scenario) + variable


_CASE_WORK = (
    WorkerActivity.INTERVIEW,
    WorkerActivity.FOLLOWUP,
    WorkerActivity.CALLBACK_ATTEMPT,
    WorkerActivity.ONWARD_WORK,
    WorkerActivity.LOG_REVIEW,
)


_HOURS = {"scope": "system", "unit": "hours a year", "digits": 0, "aggregate": "sum"}
_TIME_BREAKDOWN = (
    (WorkerActivity.INTERVIEW, "Worker hours in first contacts"),
    (WorkerActivity.FOLLOWUP, "Worker hours in follow-up appointments"),
    (WorkerActivity.CALLBACK_ATTEMPT, "Worker hours in failed callback attempts"),
    (WorkerActivity.ONWARD_WORK, "Worker hours arranging onward referrals"),
    (WorkerActivity.LOG_REVIEW, "Worker hours reading the police log"),
    (WorkerActivity.DUTIES, "Worker hours on other duties"),
    (WorkerActivity.PROTECTED_DUTIES, "Worker hours on protected duties after the shift"),
    (WorkerActivity.REST, "Worker hours of compensatory rest"),
)


def _system_measures() -> Iterator[Measure]:
    yield Measure(
        "utilisation",
        "Worker utilisation",
        "% of case time on site",
        scope="system",
        aggregate="ratio",
        ratio_of=("busy_hours_per_year", "case_hours_per_year"),
        lists=_COMPARED,
        compute=lambda s: share(s.busy, s.available),
        # Case work within shifts over the time on site for cases: at most 1 (the
        # free hours, their difference, are never negative; tests/test_conservation.py).
        **_PERCENT,
    )
    yield Measure(
        "on_site_hours_per_year",
        "Worker hours on site",
        compute=lambda s: s.hours_per_year(s.on_site),
        **_HOURS,
    )
    yield Measure(
        "travel_hours_per_year",
        "Worker hours travelling",
        compute=lambda s: s.hours_per_year(s.minutes(WorkerActivity.TRAVEL)),
        **_HOURS,
    )
    yield Measure(
        "overtime_hours_per_year",
        "Overtime",
        compute=lambda s: s.hours_per_year(s.overtime),
        **_HOURS,
    )
    yield Measure(
        "callouts_per_week",
        "On-call call-outs",
        "per week",
        digits=2,
        scope="system",
        aggregate="sum",
        lists=frozenset({"reference"}),
        compute=lambda s: np.count_nonzero(s.callouts) / s.weeks,
    )
    yield Measure(
        "callout_hours_per_year",
        "Call-out hours",
        compute=lambda s: s.hours_per_year(s.callout_minutes),
        **_HOURS,
    )
    yield Measure(
        "cost_eur_per_year",
        "Cost",
        "EUR a year",
        digits=0,
        scope="system",
        aggregate="sum",
        lists=_COMPARED | {"overview"},
        heading="EUR a year",
        compute=lambda s: s.cost,
    )
    yield Measure(
        "cost_per_case_met_eur",
        "Cost per case met",
        "EUR",
        digits=0,
        scope="system",
        lists=_COMPARED,
        compute=lambda s: s.cost / s.met_per_year if s.met_per_year else np.nan,
    )
    yield Measure(
        "busy_hours_per_year",
        "Worker hours with a case on site",
        compute=lambda s: s.hours_per_year(s.busy),
        **_HOURS,
    )
    yield Measure(
        "case_hours_per_year",
        "Worker hours on site for cases",
        compute=lambda s: s.hours_per_year(s.available),
        **_HOURS,
    )
    for activity, title in _TIME_BREAKDOWN:
        yield Measure(
            f"{activity.label}_hours_per_year",
            title,
            compute=lambda s, a=activity: s.hours_per_year(s.minutes(a)),
            **_HOURS,
        )
    yield Measure(
        "idle_hours_per_year",
        "Worker hours on site for cases, free",
        compute=lambda s: s.hours_per_year(s.available - s.busy),
        **_HOURS,
    )
    yield Measure(
        "persons_met_per_post_year",
        "Persons met per post",
        "a year",
        digits=0,
        scope="system",
        lists=frozenset({"reference"}),
        compute=lambda s: s.met_per_year / s.posts,
    )
    yield Measure(
        "couple_violence_per_post_year",
        "Persons met for couple violence per post",
        "a year",
        digits=0,
        scope="system",
        compute=lambda s: s.couple_violence_per_year / s.posts,
    )
    yield Measure(
        "caseload_open",
        "Open cases per post",
        "persons in follow-up, time average",
        digits=1,
        scope="system",
        lists=frozenset({"reference"}),
        compute=lambda s: (
            s.series.open_minutes / (s.years * DAYS_PER_YEAR * MINUTES_PER_DAY) / s.posts
        ),
    )
    yield Measure(
        "replaced_days_per_year",
        "Days a replacement covers",
        "days a year",
        digits=0,
        scope="system",
        aggregate="sum",
        compute=lambda s: s.replaced_days / s.years,
    )


# ---------------------------------------------------------------------------------------
# Measuring a run


def measure_run(
    run: RunRecords, scenario: Scenario, measures: MeasureList | None = None
) -> dict[str, np.ndarray]:
    """Every measure of one run, as columns ``population``, ``metric``, ``value``: each
    population measure for each population and for ``all``, then the system measures
    (population ``all``).  A run of several measurement windows gives each measure's
    mean over its windows (:func:`measure_windows`)."""
    if run.windows > 1:
        return mean_over_windows(measure_windows(run, scenario, measures))
    window = measured(run)
    outcome = classify(window.cases, scenario.measures.late_after_hours * MINUTES_PER_HOUR)
    return measure_window(window, outcome, scenario, measures)


def measure_windows(
    run: RunRecords, scenario: Scenario, measures: MeasureList | None = None
) -> list[dict[str, np.ndarray]]:
    """The measures of each measurement window of ``run`` in turn, each window seen as
    a run of its own (:func:`sim.model.windows.window_views`)."""
    late = scenario.measures.late_after_hours * MINUTES_PER_HOUR
    return [
        measure_window(view, classify(view.cases, late), scenario, measures)
        for view in window_views(run)
    ]


def mean_over_windows(per_window: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One replication's measures from those of its windows: each value the mean over
    the windows where it is defined (``nan`` where it is in none, as a window of no
    case of a population leaves it)."""
    first = per_window[0]
    if len(per_window) == 1:
        return first
    mean = mean_where_defined(np.vstack([columns["value"] for columns in per_window]))
    return {"population": first["population"], "metric": first["metric"], "value": mean}


def mean_where_defined(values: np.ndarray) -> np.ndarray:
    """The mean of each column of ``values`` (windows x values) over its rows that are
    not ``nan`` (``nan`` where none is)."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=0)
    total = np.where(defined, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def measure_window(
    window: RunRecords,
    outcome: np.ndarray,
    scenario: Scenario,
    measures: MeasureList | None = None,
) -> dict[str, np.ndarray]:
    """:func:`measure_run` of a run already cut to its window, its cases' outcomes
    given (for callers that need them too)."""
    measures = measures_for(scenario) if measures is None else measures
    cases = window.cases
    per_population = measures.of_scope("population")
    system = measures.of_scope("system")
    populations: list[str] = []
    metrics: list[str] = []
    values: list[float] = []
    series = _Series(window, scenario)
    names = window.population_names
    for p, name in enumerate((*names, ALL)):
        if p == len(names) == 1:
            # Every case is of the one population: the same cases, the same values.
            values.extend(values[: len(per_population)])
        else:
            mask = cases.population == p if p < len(names) else np.ones(len(cases), dtype=bool)
            group = _Cases(window, outcome, mask, series)
            values.extend(measure.compute(group) for measure in per_population)  # type: ignore[misc]
        populations.extend([name] * len(per_population))
        metrics.extend(measure.name for measure in per_population)
    whole = _System(window, scenario, outcome, series)
    for measure in system:
        populations.append(ALL)
        metrics.append(measure.name)
        values.append(measure.compute(whole))  # type: ignore[misc]
    return {
        "population": np.asarray(populations, dtype=object),
        "metric": np.asarray(metrics, dtype=object),
        "value": np.asarray(values, dtype=float),
    }
