"""What one run leaves behind: a flat record per case and a record per block of worker
time, held as columns (numpy arrays), with end-state, channel and activity codes.

The records are raw: every case the run drew gets a row (warm-up and drain included),
with its times and the state it ended in.  Nothing here applies a report setting: the
measurement window and the classification into met, met late and unmet by reason are
made by :mod:`sim.model.outcomes` and :mod:`sim.measures.catalogue`, so changing a threshold never
changes the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

__all__ = [
    "AppointmentRecords",
    "CaseRecords",
    "Channel",
    "EndState",
    "FollowupStatus",
    "RunRecords",
    "WorkerActivity",
    "WorkerRecords",
]


class EndState(IntEnum):
    """The state a case was in when the run ended.

    The codes are those of the matching :class:`sim.model.outcomes.Outcome` (``CONTACTED``
    becomes ``met`` or ``met_late`` there, by the time it took), never renumbered.
    """

    CONTACTED = 0  # first contact made (``channel`` says how)
    LEFT = 2  # left the station before being seen, and was lost
    CALLBACK_FAILED = 3  # on the callback list; every allowed attempt failed
    IN_SYSTEM = 4  # referred and still waiting for a first contact when the run ended
    NOT_REFERRED_NO_WORKER = 5  # not referred because no worker was reachable
    NOT_REFERRED = 6  # not referred, whoever was reachable
    CALLBACK_EXPIRED = 7  # dropped from the callback list unreached, too old

    @property
    def label(self) -> str:
        return self.name.lower()


class Channel(IntEnum):
    """How first contact was made."""

    NONE = 0
    ON_SITE = 1
    ON_CALL = 2
    CALLBACK = 3
    LOG = 4  # a callback to a case not referred, found in the police log (outreach)

    @property
    def label(self) -> str:
        return self.name.lower()


class WorkerActivity(IntEnum):
    """What a block of worker time was spent on (codes appended, never renumbered)."""

    SHIFT = 0  # paid on-site shift, travel included
    TRAVEL = 1
    INTERVIEW = 2  # a first interview
    CALLBACK_ATTEMPT = 3  # a failed attempt; a successful one is the interview's start
    OVERTIME = 4  # work after the shift's end
    ON_CALL_WINDOW = 5
    CALLOUT = 6  # on-call delay (phone or travel in), interview and the way back
    ABSENCE = 7  # a sick day nobody covers
    FOLLOWUP = 8  # a follow-up appointment
    ONWARD_WORK = 9  # arranging an onward referral, after the first interview
    DUTIES = 10  # other duties at the end of a shift (meetings, reports, training)
    REST = 11  # compensatory rest after a night call-out, within a shift
    LEAVE = 12  # a day of leave
    REPLACED = 13  # a sick day a replacement covers
    LOG_REVIEW = 14  # reading the police log's new entries (outreach: daily review)
    # Other duties after the shift's end: the protected share of the shift's duty time
    # that case work running late left no room for before the end (paid as overtime).
    PROTECTED_DUTIES = 15

    @property
    def label(self) -> str:
        return self.name.lower()


class FollowupStatus(IntEnum):
    """How a wanted follow-up appointment ended (codes appended, never renumbered)."""

    HELD = 0
    NO_SHOW = 1  # booked, and the person did not come
    DIARY_FULL = 2  # no slot within the booking horizon: this one and the rest unmet
    CANCELLED = 3  # the worker could not hold it, too many times
    NO_WORKER = 4  # nobody is rostered at the person's station to book it with
    PENDING = 5  # not yet held (or not yet booked) when the run ended

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class CaseRecords:
    """One row per case of the run, in arrival order (columns of equal length).

    Times are minutes from the start of the run; ``nan`` where a thing never happened.
    """

    case_id: np.ndarray
    population: np.ndarray  # index into RunRecords.population_names
    station: np.ndarray  # index into RunRecords.station_names
    urgent: np.ndarray
    arrival: np.ndarray  # first police contact
    referral: np.ndarray  # referral, or for a case logged (see ``logged``) its log entry
    first_contact: np.ndarray
    service_end: np.ndarray
    onward_referral: np.ndarray
    channel: np.ndarray  # Channel codes
    state: np.ndarray  # EndState codes
    left_station: np.ndarray  # left before being seen (then perhaps called back)
    callback_attempts: np.ndarray
    couple_violence: np.ndarray  # bool: the case concerns couple violence
    followups_wanted: np.ndarray  # further appointments the person wanted (0 if not met)
    series_end: np.ndarray  # when the person's series of appointments ended (nan: open)
    logged: np.ndarray  # bool: not referred for want of a worker, and written in the
    # police log with outreach on (its ``referral`` is the entry's time)

    def __len__(self) -> int:
        return len(self.case_id)

    def columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class WorkerRecords:
    """One row per block of worker time (columns of equal length), overlapping the run
    at any point; times in minutes.  ``worker`` indexes RunRecords.worker_names, in
    which on-call responders follow the on-site workers."""

    worker: np.ndarray
    activity: np.ndarray  # WorkerActivity codes
    station: np.ndarray  # -1 where no station applies
    start: np.ndarray
    end: np.ndarray
    case_id: np.ndarray  # -1 where no case applies

    def __len__(self) -> int:
        return len(self.worker)

    def columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class AppointmentRecords:
    """One row per follow-up appointment a person met wanted (columns of equal length):
    its number in the person's series (1, 2, ...), the worker and station it was booked
    with (-1: none), when it was booked, when it was due and when it was held (minutes;
    ``nan`` where a thing never happened), its status and how often it was rebooked."""

    case_id: np.ndarray
    number: np.ndarray
    worker: np.ndarray
    station: np.ndarray
    booked_at: np.ndarray
    due: np.ndarray
    start: np.ndarray
    end: np.ndarray
    status: np.ndarray  # FollowupStatus codes
    rebookings: np.ndarray

    def __len__(self) -> int:
        return len(self.case_id)

    def columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class RunRecords:
    """Everything one run (one scenario, one replication, one seed) recorded, and the
    run's measured span (minutes): ``windows`` consecutive measurement windows of equal
    length from ``window_start`` to ``window_end`` (:mod:`sim.model.windows`), which the
    measures apply."""

    scenario: str
    replication: int
    seed: int
    window_start: float
    window_end: float
    end_time: float
    population_names: tuple[str, ...]
    station_names: tuple[str, ...]
    worker_names: tuple[str, ...]
    cases: CaseRecords
    workers: WorkerRecords
    appointments: AppointmentRecords
    on_call_windows: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    windows: int = 1
