"""The station model: referrals, waiting, interviews, shifts, on call and callbacks, as
SimPy events.

SimPy is the event engine; the model keeps the number of events low by waking workers
with events instead of running a process per case: a referral, an interview's end, a
person's patience running out, a callback coming due, a call-out's end and a roster
change are each one scheduled event whose callback updates the stations' state.  All
random draws are made before the run (``sim.demand``, ``sim.roster``), so the run
itself is deterministic given its inputs.  For speed, the events of nearly every case
(referrals, ends of interviews and attempts, roster changes) reuse one event object
each instead of allocating one per event, the handlers keep per-case state in Python
lists (numpy scalars are slow to touch one at a time) and log worker time into
columns, and the record columns are built with numpy once the run is over.

The rules (``docs/model.md`` states them for reviewers):

* A case is referred at ``arrival + referral delay``.  If a worker is on site at its
  station, the first idle one (in roster order) interviews the person at once; if all
  are busy the person waits in the station's queue (urgent first, then by referral
  time) until a worker is free or their patience runs out.
* When nobody is on site, the case goes to the on-call rota if one covers the station
  now, the case is eligible and the window's call-out cap is not reached; otherwise it
  goes on the callback list of its station.
* A worker who is free takes, in this order: the longest-waiting person of the highest
  urgency present at its station; the first callback of the stations it serves, by the
  callback order.  An interview in progress at the end of a shift is finished, and the
  time past the shift's end recorded as overtime; then the worker leaves.
* When the last worker on site at a station leaves, the people still waiting there are
  routed as if referred at that moment (on call or callback list).
* Roster changes at an instant are applied before anything else at that instant: a
  referral at exactly 09:00 finds the 09:00 shift on site, one at 17:00 finds the
  17:00 shift gone.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from heapq import heappop, heappush
from operator import attrgetter

import numpy as np
import simpy
from simpy.events import Event

from sim.config import Scenario
from sim.demand import Demand, draw_demand
from sim.engine import FIRST, NORMAL, Call, Recurring
from sim.records import (
    CaseRecords,
    Channel,
    EndState,
    RunRecords,
    WorkerActivity,
    WorkerRecords,
)
from sim.roster import CoveragePlan, build_plan
from sim.week import MINUTES_PER_DAY, MINUTES_PER_HOUR, covered, merge_intervals

__all__ = ["StationModel", "simulate"]

# Case states during a run; a contacted case's state says by which channel, so that one
# store per case records both.
(
    _PENDING,
    _WAITING,
    _ON_CALL,
    _CALLBACK,
    _RETRY,
    _LOST,
    _FAILED,
    _EXPIRED,
    _CONTACTED_ON_SITE,
    _CONTACTED_ON_CALL,
    _CONTACTED_BY_CALLBACK,
) = range(11)
_CHANNEL_OF_STATE = np.full(11, int(Channel.NONE))
_CHANNEL_OF_STATE[_CONTACTED_ON_SITE] = Channel.ON_SITE
_CHANNEL_OF_STATE[_CONTACTED_ON_CALL] = Channel.ON_CALL
_CHANNEL_OF_STATE[_CONTACTED_BY_CALLBACK] = Channel.CALLBACK
# The end state each run state records (not referred: set from the referral decision).
_END_STATE_OF = np.full(11, int(EndState.IN_SYSTEM))
_END_STATE_OF[_LOST] = EndState.LEFT
_END_STATE_OF[_FAILED] = EndState.CALLBACK_FAILED
_END_STATE_OF[_EXPIRED] = EndState.CALLBACK_EXPIRED
for _contacted in (_CONTACTED_ON_SITE, _CONTACTED_ON_CALL, _CONTACTED_BY_CALLBACK):
    _END_STATE_OF[_contacted] = EndState.CONTACTED

# Activity codes as plain ints: the handlers store them once per log row, and reading
# an enum member costs more than reading a module constant.
_INTERVIEW = int(WorkerActivity.INTERVIEW)
_ATTEMPT = int(WorkerActivity.CALLBACK_ATTEMPT)
_OVERTIME = int(WorkerActivity.OVERTIME)
_CALLOUT = int(WorkerActivity.CALLOUT)

_INF = float("inf")

_LOG_WIDTH = 6
"""Fields of a worker-log row: worker, activity, station, start, end, case."""

_roster_position = attrgetter("index")


class _WorkLog:
    """The blocks of worker time a run logs (interviews, failed callback attempts,
    overtime, call-outs), as six columns of Python lists: appending to a list is as
    cheap as building a row, and a list of ints or of floats becomes a numpy column
    faster than rows do."""

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
        rows = np.empty((len(self.worker), _LOG_WIDTH))
        rows[:, 0] = np.asarray(self.worker, dtype=np.int64)
        rows[:, 1] = np.asarray(self.activity, dtype=np.int64)
        rows[:, 2] = np.asarray(self.station, dtype=np.int64)
        rows[:, 3] = np.asarray(self.start, dtype=float)
        rows[:, 4] = np.asarray(self.end, dtype=float)
        rows[:, 5] = np.asarray(self.case, dtype=np.int64)
        return rows


class _Worker:
    """An on-site social worker's state during a run."""

    __slots__ = (
        "busy",
        "callback_lists",
        "index",
        "on_site",
        "serves",
        "shift_end",
        "station",
        "task_end",
    )

    def __init__(self, index: int, serves: tuple[int, ...], task_end: Recurring) -> None:
        self.index = index
        self.serves = serves
        self.task_end = task_end  # fires at the end of the current interview or attempt
        # The callback lists (heaps) of the stations served, in station order.
        self.callback_lists: list[list[tuple[int, float, int]]] = []
        self.station = -1
        self.on_site = False
        self.busy = False
        self.shift_end = 0.0


class _Station:
    """A station's state: who is on site, who waits there, its callback list."""

    __slots__ = ("callback_workers", "callbacks", "present", "queue")

    def __init__(self) -> None:
        self.present: list[_Worker] = []  # on site now, in roster order
        self.queue: list[tuple[int, float, int]] = []  # heap of (urgency rank, referral, case)
        self.callbacks: list[tuple[int, float, int]] = []  # heap, key by callback order
        self.callback_workers: list[_Worker] = []  # who works this list, roster order


class StationModel:
    """One run of a scenario: build it from the scenario, its demand and its coverage
    plan, then call :meth:`run`."""

    def __init__(
        self, scenario: Scenario, demand: Demand, plan: CoveragePlan, replication: int = 0
    ) -> None:
        self.scenario = scenario
        self.demand = demand
        self.plan = plan
        self.replication = replication
        self.env = simpy.Environment()
        self.horizon = scenario.simulation.horizon_minutes
        n = len(demand)

        # Referral decision, vectorised: the plan says who is reachable at arrival, on
        # site or on call (officers who can phone a worker refer as if one were there).
        populations = list(scenario.populations.values())
        p_present = np.asarray([p.referral.probability for p in populations])[demand.population]
        p_absent = np.asarray([p.referral.probability_absent for p in populations])[
            demand.population
        ]
        reachable = np.zeros(n, dtype=bool)
        on_call = merge_intervals(plan.on_call_windows)
        single_station = len(plan.station_coverage) == 1
        for s, intervals in enumerate(plan.station_coverage):
            at = slice(None) if single_station else demand.station == s
            reachable[at] = covered(intervals, demand.arrival[at])
            if s in plan.on_call_stations:
                reachable[at] |= covered(on_call, demand.arrival[at])
        u = demand.referral_uniform
        self.referred = u < np.where(reachable, p_present, p_absent)
        self.lost_to_absence = ~reachable & (u >= p_absent) & (u < p_present)
        referral = demand.arrival + demand.referral_delay
        self.referral = referral
        self.referral_order: list[int] = np.flatnonzero(self.referred)[
            np.argsort(referral[self.referred], kind="stable")
        ].tolist()

        # Per-case state as Python lists: the event handlers touch single elements.
        # Attributes read only on rarer paths (callback attempts, call-outs) stay numpy
        # arrays and are read with float()/bool(), which gives the same values.
        self.referral_time: list[float] = referral.tolist()
        self.station_of: list[int] = demand.station.tolist()
        self.rank: list[int] = np.where(demand.urgent, 0, 1).tolist()
        self.patience: list[float] = demand.patience.tolist()
        self.interview: list[float] = demand.interview.tolist()
        self.callback_uniform: np.ndarray = demand.callback_uniform
        self.state = [_PENDING] * n
        self.first_contact = [np.nan] * n
        self.service_end = [np.nan] * n
        # Rare per-case facts are kept sparse: cheaper to build and to turn into columns.
        self.left_station: list[int] = []  # cases that left before being seen
        self.attempts: dict[int, int] = {}  # callback attempts made, by case
        self.worker_log = _WorkLog()

        self.stations = [_Station() for _ in scenario.stations]
        self.workers = [
            _Worker(w, plan.serves(w), Recurring(self.env)) for w in range(len(plan.worker_names))
        ]
        for worker in self.workers:
            for s in worker.serves:
                self.stations[s].callback_workers.append(worker)
                worker.callback_lists.append(self.stations[s].callbacks)

        callbacks = scenario.callbacks
        self.attempt_minutes = callbacks.attempt_minutes
        self.max_attempts = callbacks.max_attempts
        self.retry_minutes = callbacks.retry_after_hours * MINUTES_PER_HOUR
        self.reach_initial = callbacks.reach_probability.initial
        self.reach_floor = callbacks.reach_probability.floor
        self.reach_half_life = callbacks.reach_probability.half_life_hours * MINUTES_PER_HOUR
        self.lose_leavers = callbacks.left_before_seen == "lost"
        self.expiry_minutes = (
            np.inf
            if callbacks.expire_after_days is None
            else callbacks.expire_after_days * MINUTES_PER_DAY
        )
        order = callbacks.order
        if order == "urgent_then_oldest":
            self._callback_key = lambda case: (self.rank[case], self.referral_time[case], case)
        elif order == "oldest_first":
            self._callback_key = lambda case: (0, self.referral_time[case], case)
        else:
            self._callback_key = lambda case: (0, -self.referral_time[case], case)

        on_call = scenario.on_call
        self.on_call_starts: list[float] = plan.on_call_windows[:, 0].tolist()
        self.on_call_ends: list[float] = plan.on_call_windows[:, 1].tolist()
        self.callouts = [0] * len(self.on_call_starts)
        self.on_call_all = on_call is not None and on_call.eligible == "all"
        self.callout_cap = None if on_call is None else on_call.max_callouts_per_window
        self.free_responders = [] if on_call is None else list(range(on_call.responders))
        self.on_call_queue: list[tuple[int, float, int]] = []
        self.on_call_stations = plan.on_call_stations
        self.on_call_delay: np.ndarray = demand.on_call_delay
        self.on_call_by_phone: np.ndarray = demand.on_call_by_phone
        self.n_workers = len(self.workers)
        # The callbacks of the recurring events, built once.
        self._referral = Recurring(self.env)
        self._referral_handlers = [self._on_referral]
        self._interview_end_handlers = [self._on_interview_end]
        self._attempt_end_handlers = [self._on_attempt_end]

    # -- running --------------------------------------------------------------------

    def run(self) -> RunRecords:
        """Run to the horizon and return the records (once: building the records
        releases the run's state)."""
        self._schedule_roster()
        self._next_referral = 0
        if self.referral_order:
            first = self.referral_order[0]
            delay = self.referral_time[first]
            self._referral.fire_in(delay, self._referral_handlers, first, NORMAL)
        self.env.run(until=self.horizon)
        return self._records()

    def _schedule_roster(self) -> None:
        # At each instant: the workers who leave, and those who arrive with their
        # station and shift end (objects, not indexes: this is read at every change).
        changes: dict[float, tuple[list[_Worker], list[tuple[_Worker, int, float]]]] = {}
        workers = self.workers
        for w, station, _, _, start, end in self.plan.shifts:
            if end <= start:
                continue
            changes.setdefault(start, ([], []))[1].append((workers[w], station, end))
            changes.setdefault(end, ([], []))[0].append(workers[w])
        self._roster_times = sorted(changes)
        self._roster_changes = [changes[t] for t in self._roster_times]
        self._roster_next = 0
        self._roster_handlers = [self._on_roster]
        if self._roster_times:
            roster = Recurring(self.env)
            roster.fire_in(self._roster_times[0], self._roster_handlers, None, FIRST)

    def _on_roster(self, event: Event) -> None:
        now = self.env.now
        ends, starts = self._roster_changes[self._roster_next]
        self._roster_next += 1
        if self._roster_next < len(self._roster_times):
            delay = self._roster_times[self._roster_next] - now
            event.fire_in(delay, self._roster_handlers, None, FIRST)
        # Ends before starts: a worker moving between stations at an instant first
        # leaves; a colleague starting at the instant another leaves keeps the station
        # covered, so the queue is only sent away if nobody is left once both are done.
        stations = self.stations
        emptied = set()
        for worker in ends:
            present = stations[worker.station].present
            present.remove(worker)
            worker.on_site = False
            if not present:
                emptied.add(worker.station)
        for worker, s, end in starts:
            worker.on_site = True
            worker.station = s
            worker.shift_end = end
            insort(stations[s].present, worker, key=_roster_position)
            emptied.discard(s)
        if emptied:
            for s in sorted(emptied):
                self._send_away_waiting(s)
        for worker, _, _ in starts:
            if not worker.busy:
                self._next_task(worker, now)

    def _send_away_waiting(self, s: int) -> None:
        queue = self.stations[s].queue
        waiting = [case for _, _, case in sorted(queue) if self.state[case] == _WAITING]
        queue.clear()
        for case in waiting:
            self._no_worker(case)

    # -- referral and routing -----------------------------------------------------------

    def _on_referral(self, event: Event) -> None:
        case = event.payload
        env = self.env
        # Referrals are scheduled one at a time, each by the one before, so that the
        # event queue stays short.
        now = env.now
        position = self._next_referral + 1
        self._next_referral = position
        if position < len(self.referral_order):
            following = self.referral_order[position]
            delay = self.referral_time[following] - now
            # fire_in, inlined: this runs once per case.
            event.callbacks = self._referral_handlers
            event.payload = following
            env.schedule(event, NORMAL, delay)
        station = self.stations[self.station_of[case]]
        present = station.present
        if present:
            for worker in present:
                if not worker.busy:
                    self._start_interview(worker, case, _CONTACTED_ON_SITE, now)
                    return
            self.state[case] = _WAITING
            heappush(station.queue, (self.rank[case], self.referral_time[case], case))
            patience = self.patience[case]
            if patience != _INF:
                Call(env, patience, self._on_patience_end, case, NORMAL)
        else:
            self._no_worker(case)

    def _no_worker(self, case: int) -> None:
        """Route a case that nobody on site can take: on call, else the callback list."""
        if self.on_call_starts and (self.on_call_all or self.rank[case] == 0):
            now = self.env.now
            window = bisect_right(self.on_call_starts, now) - 1
            if (
                window >= 0
                and now < self.on_call_ends[window]
                and self.station_of[case] in self.on_call_stations
                and (self.callout_cap is None or self.callouts[window] < self.callout_cap)
            ):
                self.callouts[window] += 1
                self.state[case] = _ON_CALL
                if self.free_responders:
                    self._start_callout(self.free_responders.pop(0), case)
                else:
                    heappush(self.on_call_queue, (self.rank[case], self.referral_time[case], case))
                return
        self._add_callback(case)

    def _on_patience_end(self, event: Event) -> None:
        case = event.payload
        if self.state[case] != _WAITING:
            return
        self.left_station.append(case)
        if self.lose_leavers:
            self.state[case] = _LOST
        else:
            self._add_callback(case)

    # -- on-site work ---------------------------------------------------------------------

    def _start_interview(self, worker: _Worker, case: int, contacted: int, now: float) -> None:
        """Start a first interview now; ``contacted`` is the contacted state of its
        channel."""
        self.state[case] = contacted
        self.first_contact[case] = now
        worker.busy = True
        # fire_in, inlined: this runs once per case.
        task_end = worker.task_end
        task_end.callbacks = self._interview_end_handlers
        task_end.payload = (worker, case, now, worker.station, worker.shift_end)
        self.env.schedule(task_end, NORMAL, self.interview[case])

    def _on_interview_end(self, event: Event) -> None:
        worker, case, start, station, shift_end = event.payload
        now = self.env.now
        self.service_end[case] = now
        # _WorkLog.add, inlined: this runs once per case.
        log = self.worker_log
        log.worker.append(worker.index)
        log.activity.append(_INTERVIEW)
        log.station.append(station)
        log.start.append(start)
        log.end.append(now)
        log.case.append(case)
        if now > shift_end:
            log.add(worker.index, _OVERTIME, station, max(start, shift_end), now, case)
        worker.busy = False
        if worker.on_site:
            self._next_task(worker, now)

    def _next_task(self, worker: _Worker, now: float) -> None:
        """Give a free, on-site worker the next person waiting, else the next callback."""
        queue = self.stations[worker.station].queue
        state = self.state
        while queue:
            case = heappop(queue)[2]
            if state[case] == _WAITING:
                self._start_interview(worker, case, _CONTACTED_ON_SITE, now)
                return
        lists = worker.callback_lists
        oldest_referral = None
        while True:
            best = None
            for callbacks in lists:
                if callbacks and (best is None or callbacks[0] < best[0]):
                    best = callbacks
            if best is None:
                return
            if oldest_referral is None:
                oldest_referral = now - self.expiry_minutes
            case = heappop(best)[2]
            if self.referral_time[case] >= oldest_referral:
                self._attempt_callback(worker, case, now)
                return
            state[case] = _EXPIRED

    # -- callbacks ------------------------------------------------------------------------

    def _add_callback(self, case: int) -> None:
        self.state[case] = _CALLBACK
        s = self.station_of[case]
        station = self.stations[s]
        heappush(station.callbacks, self._callback_key(case))
        for worker in station.callback_workers:
            if not station.callbacks:
                return
            if worker.on_site and not worker.busy:
                self._next_task(worker, self.env.now)

    def _attempt_callback(self, worker: _Worker, case: int, now: float) -> None:
        attempt = self.attempts.get(case, 0)
        self.attempts[case] = attempt + 1
        delay = now - self.referral_time[case]
        reach = self.reach_floor + (self.reach_initial - self.reach_floor) * 0.5 ** (
            delay / self.reach_half_life
        )
        if float(self.callback_uniform[case, attempt]) < reach:
            self._start_interview(worker, case, _CONTACTED_BY_CALLBACK, now)
            return
        self.state[case] = _RETRY
        worker.busy = True
        worker.task_end.fire_in(
            self.attempt_minutes,
            self._attempt_end_handlers,
            (worker, case, now, worker.station, worker.shift_end),
            NORMAL,
        )

    def _on_attempt_end(self, event: Event) -> None:
        worker, case, start, station, shift_end = event.payload
        now = self.env.now
        log = self.worker_log
        log.add(worker.index, _ATTEMPT, station, start, now, case)
        if now > shift_end:
            log.add(worker.index, _OVERTIME, station, max(start, shift_end), now, case)
        if self.attempts[case] >= self.max_attempts:
            self.state[case] = _FAILED
        elif self.retry_minutes > 0:
            Call(self.env, self.retry_minutes, self._on_retry_due, case, NORMAL)
        worker.busy = False
        if worker.on_site:
            self._next_task(worker, now)
        # A retry due at once goes back on the list after this worker has moved on, so
        # that it is not phoned twice in a row while others are waiting.
        if self.state[case] == _RETRY and self.retry_minutes <= 0:
            self._add_callback(case)

    def _on_retry_due(self, event: Event) -> None:
        self._add_callback(event.payload)

    # -- on call --------------------------------------------------------------------------

    def _start_callout(self, responder: int, case: int) -> None:
        now = self.env.now
        response = float(self.on_call_delay[case])
        self.state[case] = _CONTACTED_ON_CALL
        self.first_contact[case] = now + response
        self.service_end[case] = now + response + self.interview[case]
        back = 0.0 if self.on_call_by_phone[case] else response
        Call(
            self.env,
            response + self.interview[case] + back,
            self._on_callout_end,
            (responder, case, now),
            NORMAL,
        )

    def _on_callout_end(self, event: Event) -> None:
        responder, case, start = event.payload
        index = self.n_workers + responder
        station = self.station_of[case]
        self.worker_log.add(index, _CALLOUT, station, start, self.env.now, case)
        if self.on_call_queue:
            self._start_callout(responder, heappop(self.on_call_queue)[2])
        else:
            self.free_responders.append(responder)
            self.free_responders.sort()

    # -- records --------------------------------------------------------------------------

    def _records(self) -> RunRecords:
        # The run's Python lists are dropped as soon as they have become columns, so
        # that a long run peaks at about its records, not its records plus the objects
        # they came from.
        workers = self._worker_records()
        self.worker_log = _WorkLog()
        self.referral_order = self.referral_time = self.patience = self.interview = []
        self.station_of = self.rank = []
        scenario = self.scenario
        demand = self.demand
        end_time = self.env.now
        window_start, window_end = scenario.simulation.window_minutes
        first_contact = np.asarray(self.first_contact, dtype=float)
        self.first_contact = []
        service_end = np.asarray(self.service_end, dtype=float)
        self.service_end = []
        # An on-call first contact is set when the call-out starts; one still in the
        # future at the end did not happen within the run.
        unfinished = first_contact > end_time
        first_contact[unfinished] = np.nan
        service_end[service_end > end_time] = np.nan
        state = np.asarray(self.state, dtype=np.int64)
        self.state = []
        state[unfinished] = _ON_CALL
        # Cases left on the list past their expiry were dropped then, not at the end.
        on_list = (state == _CALLBACK) | (state == _RETRY)
        state[on_list & (end_time - self.referral > self.expiry_minutes)] = _EXPIRED
        referral = np.where(self.referred, self.referral, np.nan)
        end_state = _END_STATE_OF[state]
        end_state[~self.referred] = EndState.NOT_REFERRED
        end_state[self.lost_to_absence] = EndState.NOT_REFERRED_NO_WORKER

        contacted = ~np.isnan(first_contact)
        onward = np.where(
            contacted & demand.onward & ~np.isnan(service_end),
            service_end + demand.onward_delay,
            np.nan,
        )
        left_station = np.zeros(len(demand), dtype=bool)
        left_station[self.left_station] = True
        attempts = np.zeros(len(demand), dtype=np.int64)
        attempts[list(self.attempts)] = list(self.attempts.values())
        cases = CaseRecords(
            case_id=np.arange(len(demand), dtype=np.int64),
            population=demand.population,
            station=demand.station,
            urgent=demand.urgent,
            arrival=demand.arrival,
            referral=referral,
            first_contact=first_contact,
            service_end=service_end,
            onward_referral=onward,
            channel=_CHANNEL_OF_STATE[state],
            state=end_state,
            left_station=left_station,
            callback_attempts=attempts,
        )
        return RunRecords(
            scenario=scenario.name,
            replication=self.replication,
            seed=scenario.simulation.seed,
            window_start=window_start,
            window_end=window_end,
            end_time=end_time,
            population_names=scenario.population_names,
            station_names=tuple(s.name for s in scenario.stations),
            worker_names=self.plan.worker_names + self._responder_names(),
            cases=cases,
            workers=workers,
            on_call_windows=self.plan.on_call_windows,
        )

    def _responder_names(self) -> tuple[str, ...]:
        n = 0 if self.scenario.on_call is None else self.scenario.on_call.responders
        return tuple(f"on_call_{r + 1}" for r in range(n))

    def _worker_records(self) -> WorkerRecords:
        # Rows in a fixed order before the stable sort: the run's log, then each shift
        # (paid shift, then its travel at both ends), absences, on-call windows.
        parts = [self.worker_log.rows()]
        shifts = np.asarray(self.plan.shifts, dtype=float).reshape(-1, 6)
        worker, station, paid_start, paid_end, start, end = shifts.T
        blocks = np.empty((len(shifts), 3, _LOG_WIDTH))
        blocks[:, :, 0] = worker[:, None]
        blocks[:, :, 2] = station[:, None]
        blocks[:, :, 5] = -1
        blocks[:, 0, 1] = WorkerActivity.SHIFT
        blocks[:, 0, 3:5] = shifts[:, 2:4]
        blocks[:, 1:, 1] = WorkerActivity.TRAVEL
        blocks[:, 1, 3], blocks[:, 1, 4] = paid_start, start
        blocks[:, 2, 3], blocks[:, 2, 4] = end, paid_end
        travels = start > paid_start
        parts.append(blocks[np.column_stack((np.ones_like(travels), travels, travels))])
        for w, days in enumerate(self.plan.absent_days):
            day_start = days.astype(float) * MINUTES_PER_DAY
            parts.append(_rows(w, WorkerActivity.ABSENCE, day_start, day_start + MINUTES_PER_DAY))
        windows = self.plan.on_call_windows
        for r in range(len(self._responder_names())):
            responder = self.n_workers + r
            parts.append(
                _rows(responder, WorkerActivity.ON_CALL_WINDOW, windows[:, 0], windows[:, 1])
            )
        rows = np.concatenate(parts)
        if not len(rows):
            empty = np.empty(0)
            return WorkerRecords(
                *(empty.astype(np.int64),) * 3, empty, empty, empty.astype(np.int64)
            )
        order = np.lexsort((rows[:, 1], rows[:, 0], rows[:, 3]))
        return WorkerRecords(
            worker=rows[order, 0].astype(np.int64),
            activity=rows[order, 1].astype(np.int64),
            station=rows[order, 2].astype(np.int64),
            start=rows[order, 3],
            end=rows[order, 4],
            case_id=rows[order, 5].astype(np.int64),
        )


def _rows(worker: int, activity: int, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Worker-log rows of one worker's blocks of one activity, at no station, no case."""
    rows = np.empty((len(start), _LOG_WIDTH))
    rows[:, 0], rows[:, 1], rows[:, 2] = worker, activity, -1
    rows[:, 3], rows[:, 4], rows[:, 5] = start, end, -1
    return rows


def simulate(scenario: Scenario, replication: int = 0) -> RunRecords:
    """Run one replication of a scenario: draw its demand and plan, run the model."""
    demand = draw_demand(scenario, replication)
    plan = build_plan(scenario, replication)
    return StationModel(scenario, demand, plan, replication).run()
