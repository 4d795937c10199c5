"""The vocabulary of a run: the codes a case's state, a worker's activity and an
appointment's status take while the handlers run, and the mutable state the handlers
update (a worker, a station, the work log, an appointment row).

These are plain ints and slotted objects, not enums, because the handlers touch them
once per event: reading a module constant or a slot is cheaper than an enum member or a
dict.  The codes map onto the record types of :mod:`sim.model.records` once the run is
over (:data:`CHANNEL_OF_STATE`, :data:`END_STATE_OF`).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from sim.model.engine import Recurring
from sim.model.records import Channel, EndState, FollowupStatus, WorkerActivity

# Case states during a run; a contacted case's state says by which channel, so that one
# store per case records both.
(
    PENDING,
    WAITING,
    ON_CALL,
    CALLBACK,
    RETRY,
    LOST,
    FAILED,
    EXPIRED,
    CONTACTED_ON_SITE,
    CONTACTED_ON_CALL,
    CONTACTED_BY_CALLBACK,
) = range(11)
CHANNEL_OF_STATE = np.full(11, int(Channel.NONE))
CHANNEL_OF_STATE[CONTACTED_ON_SITE] = Channel.ON_SITE
CHANNEL_OF_STATE[CONTACTED_ON_CALL] = Channel.ON_CALL
CHANNEL_OF_STATE[CONTACTED_BY_CALLBACK] = Channel.CALLBACK
# The end state each run state records (not referred: set from the referral decision).
END_STATE_OF = np.full(11, int(EndState.IN_SYSTEM))
END_STATE_OF[LOST] = EndState.LEFT
END_STATE_OF[FAILED] = EndState.CALLBACK_FAILED
END_STATE_OF[EXPIRED] = EndState.CALLBACK_EXPIRED
for _contacted in (CONTACTED_ON_SITE, CONTACTED_ON_CALL, CONTACTED_BY_CALLBACK):
    END_STATE_OF[_contacted] = EndState.CONTACTED

# Activity and status codes as plain ints: the handlers store them once per log row,
# and reading an enum member costs more than reading a module constant.
INTERVIEW = int(WorkerActivity.INTERVIEW)
ATTEMPT = int(WorkerActivity.CALLBACK_ATTEMPT)
OVERTIME = int(WorkerActivity.OVERTIME)
CALLOUT = int(WorkerActivity.CALLOUT)
FOLLOWUP = int(WorkerActivity.FOLLOWUP)
ONWARD_WORK = int(WorkerActivity.ONWARD_WORK)
DUTIES = int(WorkerActivity.DUTIES)
REST = int(WorkerActivity.REST)
LOG_REVIEW = int(WorkerActivity.LOG_REVIEW)
PROTECTED_DUTIES = int(WorkerActivity.PROTECTED_DUTIES)
HELD = int(FollowupStatus.HELD)
NO_SHOW = int(FollowupStatus.NO_SHOW)
DIARY_FULL = int(FollowupStatus.DIARY_FULL)
CANCELLED = int(FollowupStatus.CANCELLED)
NO_WORKER = int(FollowupStatus.NO_WORKER)
BOOKED = int(FollowupStatus.PENDING)  # booked, not yet held: pending if the run ends

_NAN = float("nan")

LOG_WIDTH = 6
"""Fields of a worker-log row: worker, activity, station, start, end, case."""


class WorkLog:
    """The blocks of worker time a run logs (interviews, appointments, failed callback
    attempts, onward-referral work, duties, rest, overtime, call-outs), as six columns
    of Python lists: appending to a list is as cheap as building a row, and a list of
    ints or of floats becomes a numpy column faster than rows do."""

    __slots__ = ("activity", "case", "end", "start", "station", "worker")

    def __init__(self) -> None:
        self.worker: list[int] = []
        self.activity: list[int] = []
        self.station: list[int] = []
        self.start: list[float] = []
        self.end: list[float] = []
        self.case: list[int] = []

    def add(
        self, worker: int, activity: int, station: int, start: float, end: float, case: int
    ) -> None:
        """Log one block (the hot paths append to the columns themselves)."""
        self.worker.append(worker)
        self.activity.append(activity)
        self.station.append(station)
        self.start.append(start)
        self.end.append(end)
        self.case.append(case)

    def rows(self) -> np.ndarray:
        """The log as an (n, 6) float array, one row per block (the ints are exact)."""
        rows = np.empty((len(self.worker), LOG_WIDTH))
        rows[:, 0] = np.asarray(self.worker, dtype=np.int64)
        rows[:, 1] = np.asarray(self.activity, dtype=np.int64)
        rows[:, 2] = np.asarray(self.station, dtype=np.int64)
        rows[:, 3] = np.asarray(self.start, dtype=float)
        rows[:, 4] = np.asarray(self.end, dtype=float)
        rows[:, 5] = np.asarray(self.case, dtype=np.int64)
        return rows


class WorkerState:
    """An on-site social worker's state during a run, its diary included."""

    __slots__ = (
        "away_until",
        "busy",
        "callback_lists",
        "callout_after",
        "diary_ends",
        "diary_starts",
        "diary_stations",
        "duty_until",
        "index",
        "on_site",
        "pending",
        "protected",
        "rest_until",
        "serves",
        "shift_end",
        "shift_start",
        "slot_ends",
        "slot_room",
        "slot_starts",
        "slot_stations",
        "station",
        "task_end",
    )

    def __init__(
        self,
        index: int,
        serves: tuple[int, ...],
        task_end: Recurring,
        slots: np.ndarray,
        bookable_share: float,
    ) -> None:
        self.index = index
        self.serves = serves
        self.task_end = task_end  # fires at the end of the current task
        # The callback lists (heaps) of the stations served, in station order.
        self.callback_lists: list[list[tuple[int, float, int]]] = []
        self.station = -1
        self.on_site = False  # on site and taking cases
        self.busy = False
        self.shift_end = 0.0  # end of the current shift on site: later work is overtime
        self.shift_start = 0.0  # start of that shift: earlier work is not overtime past it
        self.duty_until = 0.0  # other duties run from the end of case time to here
        # Minutes of the current shift's duties that case work cannot take (its
        # protected share), owed until the worker turns to its duties.
        self.protected = 0.0
        self.pending: deque[list[Any]] = deque()  # appointments due, the person waiting
        self.away_until = 0.0  # out on a call-out until then
        self.rest_until = 0.0  # compensatory rest until then
        # A call-out of the worker's on-call turn, waiting for the task in hand (work
        # past the end of a shift) to end: (slot, case).
        self.callout_after: tuple[int, int] | None = None
        # The diary: planned case time (slots) and the booked appointments not yet over
        # at the last booking, both sorted.
        self.slot_starts: list[float] = slots[:, 0].tolist()
        self.slot_ends: list[float] = slots[:, 1].tolist()
        self.slot_stations: list[int] = slots[:, 2].astype(np.int64).tolist()
        self.diary_stations = frozenset(self.slot_stations)  # where it books follow-ups
        # Minutes each slot may still have booked (its bookable share of case time).
        self.slot_room: list[float] = (bookable_share * (slots[:, 1] - slots[:, 0])).tolist()
        self.diary_starts: list[float] = []
        self.diary_ends: list[float] = []


class StationState:
    """A station's state: who is on site, who waits there, its callback list."""

    __slots__ = ("callback_workers", "callbacks", "present", "queue")

    def __init__(self) -> None:
        self.present: list[WorkerState] = []  # on site for cases now, in roster order
        self.queue: list[tuple[int, float, int]] = []  # heap of (urgency rank, referral, case)
        self.callbacks: list[tuple[int, float, int]] = []  # heap, key by callback order
        self.callback_workers: list[WorkerState] = []  # who works this list, roster order


# The fields of an appointment row (a Python list: one per follow-up wanted, created as
# it is booked or given up, and passed to its events, so that a handler reaches it
# without a lookup).
(
    A_CASE,
    A_NUMBER,
    A_WORKER,
    A_STATION,
    A_BOOKED_AT,
    A_DUE,
    A_START,
    A_END,
    A_STATUS,
    A_REBOOKINGS,
    A_DURATION,
) = range(11)


def new_appointment(
    case: int, number: int, worker: int, station: int, status: int, booked_at: float
) -> list[Any]:
    """A new appointment row, not yet due, started or ended."""
    return [case, number, worker, station, booked_at, _NAN, _NAN, _NAN, status, 0, 0.0]
