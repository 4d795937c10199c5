"""What one run leaves behind: a flat record per case and a record per block of worker
time, held as columns (numpy arrays), with outcome and channel codes.

Every case that arrives in the measurement window gets exactly one outcome, so lost
demand is counted, never dropped:

- ``met``: first contact with a social worker within the "late" threshold of referral;
- ``met_late``: first contact, but later than that threshold;
- ``left``: left the station before being seen and was not put on the callback list;
- ``callback_failed``: on the callback list, and every attempt to reach the person failed;
- ``callback_expired``: on the callback list, and dropped unreached when it became too old;
- ``waiting_at_end``: referred but still not contacted when the run ended;
- ``not_referred_no_worker``: would have been referred had a worker been on site;
- ``not_referred``: not referred, whoever was on site (outside the coverage question).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

__all__ = ["CaseRecords", "Channel", "Outcome", "RunRecords", "WorkerActivity", "WorkerRecords"]


class Outcome(IntEnum):
    """How a case ended; see the module docstring."""

    MET = 0
    MET_LATE = 1
    LEFT = 2
    CALLBACK_FAILED = 3
    WAITING_AT_END = 4
    NOT_REFERRED_NO_WORKER = 5
    NOT_REFERRED = 6
    CALLBACK_EXPIRED = 7  # codes are appended, never renumbered

    @property
    def label(self) -> str:
        return self.name.lower()


UNMET_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.LEFT,
    Outcome.CALLBACK_FAILED,
    Outcome.CALLBACK_EXPIRED,
    Outcome.WAITING_AT_END,
    Outcome.NOT_REFERRED_NO_WORKER,
)
"""Outcomes counted as unmet demand (met late is reported apart, as met)."""


class Channel(IntEnum):
    """How first contact was made."""

    NONE = 0
    ON_SITE = 1
    ON_CALL = 2
    CALLBACK = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class WorkerActivity(IntEnum):
    """What a block of worker time was spent on."""

    SHIFT = 0  # paid on-site shift, travel included
    TRAVEL = 1
    INTERVIEW = 2
    CALLBACK_ATTEMPT = 3  # a failed attempt; a successful one is the interview's start
    OVERTIME = 4  # interview time after the shift's end
    ON_CALL_WINDOW = 5
    CALLOUT = 6  # on-call response (phone or travel in) and interview
    ABSENCE = 7

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class CaseRecords:
    """One row per case arriving in the measurement window (columns of equal length).

    Times are minutes from the start of the run; ``nan`` where a thing never happened.
    """

    case_id: np.ndarray
    population: np.ndarray  # index into RunRecords.population_names
    station: np.ndarray  # index into RunRecords.station_names
    urgent: np.ndarray
    arrival: np.ndarray  # first police contact
    referral: np.ndarray
    first_contact: np.ndarray
    service_end: np.ndarray
    onward_referral: np.ndarray
    channel: np.ndarray  # Channel codes
    outcome: np.ndarray  # Outcome codes
    left_station: np.ndarray  # left before being seen (then perhaps called back)
    callback_attempts: np.ndarray

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
class RunRecords:
    """Everything one run (one scenario, one replication, one seed) recorded."""

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
    on_call_windows: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
