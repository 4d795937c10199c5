"""The station model: referrals, waiting, interviews, shifts, on call and callbacks, as
SimPy events.

SimPy is the event engine; the model keeps the number of events low by waking workers
with events instead of running a process per case: a referral, an interview's end, a
person's patience running out, a callback coming due, a call-out's end and a roster
change are each one scheduled event whose callback updates the stations' state.  All
random draws are made before the run (``sim.demand``, ``sim.roster``), so the run
itself is deterministic given its inputs.

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

from bisect import bisect_right
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT, Event

from sim.config import Scenario
from sim.demand import Demand, draw_demand
from sim.records import (
    CaseRecords,
    Channel,
    Outcome,
    RunRecords,
    WorkerActivity,
    WorkerRecords,
)
from sim.roster import CoveragePlan, build_plan
from sim.week import MINUTES_PER_DAY, MINUTES_PER_HOUR, covered, merge_intervals

__all__ = ["StationModel", "simulate"]

# Case states during a run.
_PENDING, _WAITING, _ON_CALL, _CALLBACK, _RETRY, _CONTACTED, _LOST, _FAILED, _EXPIRED = range(9)


class _Call(Event):
    """An event that runs ``handler(event)`` at ``now + delay``: a ``Timeout`` with a
    priority, so that roster changes at an instant come before everything else."""

    def __init__(
        self, env: simpy.Environment, delay: float, handler: Any, value: Any, priority: int
    ) -> None:
        self.env = env
        self.callbacks = [handler]
        self._value = value
        self._ok = True
        env.schedule(self, priority, delay)


class _Worker:
    """An on-site social worker's state during a run."""

    __slots__ = ("busy", "index", "on_site", "serves", "shift_end", "station")

    def __init__(self, index: int, serves: tuple[int, ...]) -> None:
        self.index = index
        self.serves = serves
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
        for s, intervals in enumerate(plan.station_coverage):
            at = demand.station == s
            reachable[at] = covered(intervals, demand.arrival[at])
            if s in plan.on_call_stations:
                reachable[at] |= covered(on_call, demand.arrival[at])
        u = demand.referral_uniform
        self.referred = u < np.where(reachable, p_present, p_absent)
        self.lost_to_absence = ~reachable & (u >= p_absent) & (u < p_present)
        referral = demand.arrival + demand.referral_delay
        self.referral_order = [
            int(i)
            for i in np.flatnonzero(self.referred)[
                np.argsort(referral[self.referred], kind="stable")
            ]
        ]

        # Per-case state as Python lists: the event handlers touch single elements.
        self.referral_time: list[float] = referral.tolist()
        self.station_of: list[int] = demand.station.tolist()
        self.rank: list[int] = np.where(demand.urgent, 0, 1).tolist()
        self.patience: list[float] = demand.patience.tolist()
        self.interview: list[float] = demand.interview.tolist()
        self.callback_uniform: list[list[float]] = demand.callback_uniform.tolist()
        self.state = [_PENDING] * n
        self.first_contact = [np.nan] * n
        self.service_end = [np.nan] * n
        self.channel = [int(Channel.NONE)] * n
        self.left_station = [False] * n
        self.attempts = [0] * n
        self.worker_log: list[tuple[int, int, int, float, float, int]] = []

        self.stations = [_Station() for _ in scenario.stations]
        self.workers = [_Worker(w, plan.serves(w)) for w in range(len(plan.worker_names))]
        for worker in self.workers:
            for s in worker.serves:
                self.stations[s].callback_workers.append(worker)

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
        self.on_call_delay: list[float] = demand.on_call_delay.tolist()
        self.on_call_by_phone: list[bool] = demand.on_call_by_phone.tolist()
        self.n_workers = len(self.workers)

    # -- running --------------------------------------------------------------------

    def run(self) -> RunRecords:
        """Run to the horizon and return the records."""
        self._schedule_roster()
        if self.referral_order:
            self._next_referral = 0
            first = self.referral_order[0]
            _Call(self.env, self.referral_time[first], self._on_referral, first, NORMAL)
        self.env.run(until=self.horizon)
        return self._records()

    def _schedule_roster(self) -> None:
        changes: dict[float, tuple[list[int], list[tuple[int, int, float]]]] = {}
        for shift in self.plan.shifts:
            if shift.end <= shift.start:
                continue
            changes.setdefault(shift.start, ([], []))[1].append(
                (shift.worker, shift.station, shift.end)
            )
            changes.setdefault(shift.end, ([], []))[0].append(shift.worker)
        self._roster_times = sorted(changes)
        self._roster_changes = changes
        self._roster_next = 0
        if self._roster_times:
            _Call(self.env, self._roster_times[0], self._on_roster, None, URGENT)

    def _on_roster(self, event: Event) -> None:
        now = self.env.now
        ends, starts = self._roster_changes.pop(now)
        self._roster_next += 1
        if self._roster_next < len(self._roster_times):
            delay = self._roster_times[self._roster_next] - now
            _Call(self.env, delay, self._on_roster, None, URGENT)
        # Ends before starts: a worker moving between stations at an instant first
        # leaves; a colleague starting at the instant another leaves keeps the station
        # covered, so the queue is only sent away if nobody is left once both are done.
        emptied = set()
        for w in ends:
            worker = self.workers[w]
            station = self.stations[worker.station]
            station.present.remove(worker)
            worker.on_site = False
            if not station.present:
                emptied.add(worker.station)
        arrived = []
        for w, s, end in starts:
            worker = self.workers[w]
            worker.on_site = True
            worker.station = s
            worker.shift_end = end
            present = self.stations[s].present
            present.append(worker)
            present.sort(key=lambda x: x.index)
            emptied.discard(s)
            arrived.append(worker)
        for s in sorted(emptied):
            self._send_away_waiting(s)
        for worker in arrived:
            if not worker.busy:
                self._next_task(worker)

    def _send_away_waiting(self, s: int) -> None:
        queue = self.stations[s].queue
        waiting = [case for _, _, case in sorted(queue) if self.state[case] == _WAITING]
        queue.clear()
        for case in waiting:
            self._no_worker(case)

    # -- referral and routing -----------------------------------------------------------

    def _on_referral(self, event: Event) -> None:
        case = event._value
        self._next_referral += 1
        if self._next_referral < len(self.referral_order):
            following = self.referral_order[self._next_referral]
            delay = self.referral_time[following] - self.env.now
            _Call(self.env, delay, self._on_referral, following, NORMAL)
        station = self.stations[self.station_of[case]]
        if station.present:
            for worker in station.present:
                if not worker.busy:
                    self._start_interview(worker, case, Channel.ON_SITE)
                    return
            self.state[case] = _WAITING
            heappush(station.queue, (self.rank[case], self.referral_time[case], case))
            patience = self.patience[case]
            if patience != np.inf:
                _Call(self.env, patience, self._on_patience_end, case, NORMAL)
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
                and self.station_of[case] in self.plan.on_call_stations
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
        case = event._value
        if self.state[case] != _WAITING:
            return
        self.left_station[case] = True
        if self.lose_leavers:
            self.state[case] = _LOST
        else:
            self._add_callback(case)

    # -- on-site work ---------------------------------------------------------------------

    def _start_interview(self, worker: _Worker, case: int, channel: Channel) -> None:
        now = self.env.now
        self.state[case] = _CONTACTED
        self.first_contact[case] = now
        self.channel[case] = channel
        worker.busy = True
        _Call(
            self.env,
            self.interview[case],
            self._on_interview_end,
            (worker, case, now, worker.station, worker.shift_end),
            NORMAL,
        )

    def _on_interview_end(self, event: Event) -> None:
        worker, case, start, station, shift_end = event._value
        now = self.env.now
        self.service_end[case] = now
        log = self.worker_log
        log.append((worker.index, WorkerActivity.INTERVIEW, station, start, now, case))
        if now > shift_end:
            log.append(
                (worker.index, WorkerActivity.OVERTIME, station, max(start, shift_end), now, case)
            )
        worker.busy = False
        if worker.on_site:
            self._next_task(worker)

    def _next_task(self, worker: _Worker) -> None:
        """Give a free, on-site worker the next person waiting, else the next callback."""
        queue = self.stations[worker.station].queue
        state = self.state
        while queue:
            case = heappop(queue)[2]
            if state[case] == _WAITING:
                self._start_interview(worker, case, Channel.ON_SITE)
                return
        oldest_referral = self.env.now - self.expiry_minutes
        while True:
            best = None
            for s in worker.serves:
                callbacks = self.stations[s].callbacks
                if callbacks and (best is None or callbacks[0] < best[0]):
                    best = callbacks
            if best is None:
                return
            case = heappop(best)[2]
            if self.referral_time[case] >= oldest_referral:
                self._attempt_callback(worker, case)
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
                self._next_task(worker)

    def _attempt_callback(self, worker: _Worker, case: int) -> None:
        now = self.env.now
        attempt = self.attempts[case]
        self.attempts[case] = attempt + 1
        delay = now - self.referral_time[case]
        reach = self.reach_floor + (self.reach_initial - self.reach_floor) * 0.5 ** (
            delay / self.reach_half_life
        )
        if self.callback_uniform[case][attempt] < reach:
            self._start_interview(worker, case, Channel.CALLBACK)
            return
        self.state[case] = _RETRY
        worker.busy = True
        _Call(
            self.env,
            self.attempt_minutes,
            self._on_attempt_end,
            (worker, case, now, worker.station, worker.shift_end),
            NORMAL,
        )

    def _on_attempt_end(self, event: Event) -> None:
        worker, case, start, station, shift_end = event._value
        now = self.env.now
        log = self.worker_log
        log.append((worker.index, WorkerActivity.CALLBACK_ATTEMPT, station, start, now, case))
        if now > shift_end:
            log.append(
                (worker.index, WorkerActivity.OVERTIME, station, max(start, shift_end), now, case)
            )
        if self.attempts[case] >= self.max_attempts:
            self.state[case] = _FAILED
        elif self.retry_minutes > 0:
            _Call(self.env, self.retry_minutes, self._on_retry_due, case, NORMAL)
        worker.busy = False
        if worker.on_site:
            self._next_task(worker)
        # A retry due at once goes back on the list after this worker has moved on, so
        # that it is not phoned twice in a row while others are waiting.
        if self.state[case] == _RETRY and self.retry_minutes <= 0:
            self._add_callback(case)

    def _on_retry_due(self, event: Event) -> None:
        self._add_callback(event._value)

    # -- on call --------------------------------------------------------------------------

    def _start_callout(self, responder: int, case: int) -> None:
        now = self.env.now
        response = self.on_call_delay[case]
        self.state[case] = _CONTACTED
        self.first_contact[case] = now + response
        self.channel[case] = Channel.ON_CALL
        self.service_end[case] = now + response + self.interview[case]
        back = 0.0 if self.on_call_by_phone[case] else response
        _Call(
            self.env,
            response + self.interview[case] + back,
            self._on_callout_end,
            (responder, case, now),
            NORMAL,
        )

    def _on_callout_end(self, event: Event) -> None:
        responder, case, start = event._value
        index = self.n_workers + responder
        station = self.station_of[case]
        self.worker_log.append((index, WorkerActivity.CALLOUT, station, start, self.env.now, case))
        if self.on_call_queue:
            self._start_callout(responder, heappop(self.on_call_queue)[2])
        else:
            self.free_responders.append(responder)
            self.free_responders.sort()

    # -- records --------------------------------------------------------------------------

    def _records(self) -> RunRecords:
        scenario = self.scenario
        demand = self.demand
        end_time = self.env.now
        window_start, window_end = scenario.simulation.window_minutes
        first_contact = np.asarray(self.first_contact, dtype=float)
        service_end = np.asarray(self.service_end, dtype=float)
        # An on-call first contact is set when the call-out starts; one still in the
        # future at the end did not happen within the run.
        unfinished = first_contact > end_time
        first_contact[unfinished] = np.nan
        service_end[service_end > end_time] = np.nan
        state = np.asarray(self.state)
        state[unfinished] = _ON_CALL
        # Cases left on the list past their expiry were dropped then, not at the end.
        on_list = (state == _CALLBACK) | (state == _RETRY)
        state[on_list & (end_time - np.asarray(self.referral_time) > self.expiry_minutes)] = (
            _EXPIRED
        )
        referral = np.where(self.referred, np.asarray(self.referral_time), np.nan)

        late = scenario.measures.late_after_hours * MINUTES_PER_HOUR
        contacted = ~np.isnan(first_contact)
        outcome = np.full(len(demand), int(Outcome.WAITING_AT_END))
        outcome[state == _LOST] = Outcome.LEFT
        outcome[state == _FAILED] = Outcome.CALLBACK_FAILED
        outcome[state == _EXPIRED] = Outcome.CALLBACK_EXPIRED
        with np.errstate(invalid="ignore"):
            outcome[contacted] = np.where(
                first_contact[contacted] - referral[contacted] <= late,
                Outcome.MET,
                Outcome.MET_LATE,
            )
        outcome[~self.referred] = Outcome.NOT_REFERRED
        outcome[self.lost_to_absence] = Outcome.NOT_REFERRED_NO_WORKER

        onward = np.where(
            contacted & demand.onward & ~np.isnan(service_end),
            service_end + demand.onward_delay,
            np.nan,
        )
        keep = (demand.arrival >= window_start) & (demand.arrival < window_end)
        channel = np.asarray(self.channel)
        channel[unfinished] = Channel.NONE
        cases = CaseRecords(
            case_id=np.flatnonzero(keep),
            population=demand.population[keep],
            station=demand.station[keep],
            urgent=demand.urgent[keep],
            arrival=demand.arrival[keep],
            referral=referral[keep],
            first_contact=first_contact[keep],
            service_end=service_end[keep],
            onward_referral=onward[keep],
            channel=channel[keep],
            outcome=outcome[keep],
            left_station=np.asarray(self.left_station)[keep],
            callback_attempts=np.asarray(self.attempts)[keep],
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
            workers=self._worker_records(),
            on_call_windows=self.plan.on_call_windows,
        )

    def _responder_names(self) -> tuple[str, ...]:
        n = 0 if self.scenario.on_call is None else self.scenario.on_call.responders
        return tuple(f"on_call_{r + 1}" for r in range(n))

    def _worker_records(self) -> WorkerRecords:
        rows = list(self.worker_log)
        for shift in self.plan.shifts:
            rows.append(
                (
                    shift.worker,
                    WorkerActivity.SHIFT,
                    shift.station,
                    shift.paid_start,
                    shift.paid_end,
                    -1,
                )
            )
            if shift.start > shift.paid_start:
                rows.append(
                    (
                        shift.worker,
                        WorkerActivity.TRAVEL,
                        shift.station,
                        shift.paid_start,
                        shift.start,
                        -1,
                    )
                )
                rows.append(
                    (
                        shift.worker,
                        WorkerActivity.TRAVEL,
                        shift.station,
                        shift.end,
                        shift.paid_end,
                        -1,
                    )
                )
        for w, days in enumerate(self.plan.absent_days):
            for day in days.tolist():
                start = day * MINUTES_PER_DAY
                rows.append((w, WorkerActivity.ABSENCE, -1, start, start + MINUTES_PER_DAY, -1))
        for r in range(len(self._responder_names())):
            for start, end in self.plan.on_call_windows.tolist():
                rows.append((self.n_workers + r, WorkerActivity.ON_CALL_WINDOW, -1, start, end, -1))
        if not rows:
            empty = np.empty(0)
            return WorkerRecords(
                *(empty.astype(np.int64),) * 3, empty, empty, empty.astype(np.int64)
            )
        worker, activity, station, start, end, case = (
            np.asarray(c) for c in zip(*rows, strict=True)
        )
        order = np.lexsort((activity, worker, start))
        return WorkerRecords(
            worker=worker[order].astype(np.int64),
            activity=activity[order].astype(np.int64),
            station=station[order].astype(np.int64),
            start=start[order].astype(float),
            end=end[order].astype(float),
            case_id=case[order].astype(np.int64),
        )


def simulate(scenario: Scenario, replication: int = 0) -> RunRecords:
    """Run one replication of a scenario: draw its demand and plan, run the model."""
    demand = draw_demand(scenario, replication)
    plan = build_plan(scenario, replication)
    return StationModel(scenario, demand, plan, replication).run()
