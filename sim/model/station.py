"""The station model: referrals, waiting, interviews, follow-up appointments, shifts,
on call and callbacks, as SimPy events.

SimPy is the event engine; the model keeps the number of events low by waking workers
with events instead of running a process per case: a referral, the end of a task, a
person's patience running out, a callback or an appointment coming due, a call-out's
end and a roster change are each one scheduled event whose callback updates the
stations' state.  All random draws are made before the run (``sim.model.demand``,
``sim.model.roster``), and so is the officers' referral decision
(``sim.model.referrals``), so the run itself is deterministic given its inputs.  The
codes and state objects the handlers update are in ``sim.model.state``; the records are
built after the run by ``sim.model.recording``.

For speed, the events of nearly every case (referrals, ends of tasks, roster changes)
reuse one event object each instead of allocating one per event, one-shot events
(appointments coming due, patience, retries, call-outs) are reused once fired
(``sim.model.engine``), and the handlers keep per-case state in Python lists (numpy
scalars are slow to touch one at a time) and log worker time into columns.

The rules (``docs/model.md`` states them for reviewers, each with its test):

* A case is referred at ``arrival + referral delay``.  If a worker is on site at its
  station for cases, the first idle one (in roster order) interviews the person at
  once; if all are busy the person waits in the station's queue (urgent first, then by
  referral time) until a worker is free or their patience runs out.
* When nobody is on site for cases, the case goes to the on-call rota if one covers
  the station now, the case is eligible and the window's call-out cap is not reached;
  otherwise it goes on the callback list of its station.
* A worker who is free takes, in this order: a follow-up appointment that is due (the
  person is there); the longest-waiting person of the highest urgency present at its
  station; the first callback of the stations it serves, by the callback order.  A task
  in progress at the end of a shift is finished, the time past the shift's end recorded
  as overtime.
* After a first interview the worker arranges the onward referral (if any), and books
  the person's next follow-up in its diary (``Diary``); after each appointment, the next
  one.  An appointment the worker is not there to hold is rebooked from the next day.
* At the end of a shift's case time the worker takes no new case: it finishes what it
  is doing and the appointments already due, then turns to other duties until the
  shift ends, or later, busy, until the shift's protected duty time is done.  When the
  last worker for cases leaves a station, the people still waiting there are routed
  as if referred at that moment (on call or callback list).
* A staff on-call responder out on a call-out, or resting after a night call-out, joins
  its shift when it is back.
* Roster changes at an instant are applied before anything else at that instant: a
  referral at exactly 09:00 finds the 09:00 shift on site, one at 17:00 finds the
  17:00 shift gone.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

import numpy as np
import simpy
from simpy.events import Event

from sim.config.schema import Scenario
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.model.demand import Demand, draw_demand
from sim.model.engine import FIRST, NORMAL, Recurring, Spares
from sim.model.garbage import collector_paused
from sim.model.recording import run_records
from sim.model.records import RunRecords
from sim.model.referrals import decide_referrals
from sim.model.roster import EXTERNAL, NOBODY, CoveragePlan, build_plan
from sim.model.state import (
    A_BOOKED_AT,
    A_CASE,
    A_DUE,
    A_DURATION,
    A_END,
    A_NUMBER,
    A_REBOOKINGS,
    A_START,
    A_STATION,
    A_STATUS,
    A_WORKER,
    ATTEMPT,
    BOOKED,
    CALLBACK,
    CALLOUT,
    CANCELLED,
    CONTACTED_BY_CALLBACK,
    CONTACTED_ON_CALL,
    CONTACTED_ON_SITE,
    DIARY_FULL,
    DUTIES,
    EXPIRED,
    FAILED,
    HELD,
    LOG_REVIEW,
    LOST,
    NO_SHOW,
    NO_WORKER,
    ON_CALL,
    ONWARD_WORK,
    OVERTIME,
    PENDING,
    PROTECTED_DUTIES,
    REST,
    RETRY,
    WAITING,
    StationState,
    WorkerState,
    WorkLog,
    new_appointment,
)

__all__ = ["StationModel", "simulate"]

_INF = float("inf")
_NAN = float("nan")
_roster_position = attrgetter("index")


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
        on_call = scenario.on_call

        self.referred, self.not_referred_no_worker = decide_referrals(scenario, demand, plan)
        # Outreach: the cases lost for want of a worker that the police log records.
        self.log_access = scenario.outreach.log_access
        self.review_minutes = scenario.outreach.review_minutes
        self.logged: np.ndarray = self.not_referred_no_worker & (
            demand.logged if self.log_access != "none" else False
        )
        referral = demand.arrival + demand.referral_delay
        self.referral = referral
        self.referral_order: list[int] = np.flatnonzero(self.referred)[
            np.argsort(referral[self.referred], kind="stable")
        ].tolist()

        # Per-case state as Python lists: the event handlers touch single elements.
        # Attributes read only on rarer paths (callback attempts, call-outs, follow-ups)
        # stay numpy arrays and are read with float()/int(), which gives the same values.
        self.referral_time: list[float] = referral.tolist()
        self.station_of: list[int] = demand.station.tolist()
        self.rank: list[int] = np.where(demand.urgent, 0, 1).tolist()
        patience = demand.patience  # nobody leaving: one infinity n times, not n floats
        self.patience: list[float] = [_INF] * n if (patience == _INF).all() else patience.tolist()
        self.interview: list[float] = demand.interview.tolist()
        # A run in which nobody wants a follow-up or has onward work ends its interviews
        # on a shorter path: no series to book, no diary to honour, no onward work.
        onward_work = np.where(demand.onward, demand.onward_work, 0.0)
        first_contact_only = not (demand.followups.any() or np.any(onward_work > 0))
        self.onward_work: list[float] = [] if first_contact_only else onward_work.tolist()
        self.followups: list[int] = demand.followups.tolist()
        self.callback_uniform: np.ndarray = demand.callback_uniform
        self.state = [PENDING] * n
        self.first_contact = [np.nan] * n
        self.service_end = [np.nan] * n
        # The first interviews and follow-ups held, in the order they ended, with who
        # held each interview and where: their rows of worker time are built from
        # these after the run (``sim.model.recording``), which costs less than logging
        # each as it ends.
        self.interviewed: list[int] = []
        self.interviewer = [-1] * n
        self.interview_station = [-1] * n
        self.held: list[list[Any]] = []
        self.series_end = [np.nan] * n
        # Rare per-case facts are kept sparse: cheaper to build and to turn into columns.
        self.left_station: list[int] = []  # cases that left before being seen
        self.attempts: dict[int, int] = {}  # callback attempts made, by case
        self.followup_worker: dict[int, int] = {}  # whose diary a person's series is in
        self.booked_numbers: dict[int, int] = {}  # follow-ups given a row, by case
        self.worker_log = WorkLog()
        self.appointments: list[list[Any]] = []

        self.stations = [StationState() for _ in scenario.stations]
        self.workers = [
            WorkerState(
                w,
                plan.serves(w),
                Recurring(self.env),
                plan.diary_slots[w],
                scenario.diary.bookable_share,
            )
            for w in range(len(plan.worker_names))
        ]
        for worker in self.workers:
            for s in worker.serves:
                self.stations[s].callback_workers.append(worker)
                worker.callback_lists.append(self.stations[s].callbacks)
        # The worker a station's follow-ups are booked with when the first contact was
        # made by someone without a diary there (an on-call responder).
        self.diary_of_station = [
            next((w.index for w in self.workers if s in w.diary_stations), -1)
            for s in range(len(self.stations))
        ]
        populations = list(scenario.populations.values())
        self.no_show = [0.0 if p.followups is None else p.followups.no_show for p in populations]
        self.population_of: list[int] = demand.population.tolist()
        diary = scenario.diary
        self.diary_horizon = diary.horizon_days * MINUTES_PER_DAY
        self.max_rebookings = diary.max_rebookings
        # Read one element at a time, with .item(): faster than indexing then float().
        self.gap: np.ndarray = demand.followup_gap
        self.duration: np.ndarray = demand.followup_duration
        self.no_show_draw: np.ndarray = demand.followup_no_show

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

        self.on_call_starts: list[float] = plan.on_call_windows[:, 0].tolist()
        self.on_call_ends: list[float] = plan.on_call_windows[:, 1].tolist()
        self.on_call_staff: list[list[int]] = plan.on_call_staff.tolist()
        self.callouts = [0] * len(self.on_call_starts)
        self.on_call_all = on_call is not None and on_call.eligible == "all"
        self.callout_cap = None if on_call is None else on_call.max_callouts_per_window
        self.free_slots = [] if on_call is None else list(range(on_call.responders))
        self.on_call_queue: list[tuple[int, float, int, int]] = []
        self.callout_window: dict[int, int] = {}
        self.on_call_stations = plan.on_call_stations
        self.on_call_delay: np.ndarray = demand.on_call_delay
        self.on_call_by_phone: np.ndarray = demand.on_call_by_phone
        self.rest_minutes = 0.0 if on_call is None else on_call.rest_hours * MINUTES_PER_HOUR
        self.night = (0, 0) if on_call is None else on_call.night
        self.n_workers = len(self.workers)
        self.protected_share = [
            config.protected_duties_share for _, config, _ in scenario.expanded_workers()
        ]
        # The callbacks of the recurring events, built once.
        self._referral = Recurring(self.env)
        self._referral_handlers = [self._on_referral]
        self._interview_end_handlers = [
            self._on_first_contact_end if first_contact_only else self._on_interview_end
        ]
        self._attempt_end_handlers = [self._on_attempt_end]
        self._appointment_end_handlers = [self._on_appointment_end]
        self._onward_end_handlers = [self._on_onward_end]
        self.one_shots = Spares(self.env)
        self._back_handlers = [self._on_back]
        self._patience_handlers = [self._on_patience_end]
        self._due_handlers = [self._on_appointment_due]
        self._retry_handlers = [self._on_retry_due]
        self._callout_end_handlers = [self._on_callout_end]
        self._log_entry_handlers = [self._on_log_entry]
        self._review_end_handlers = [self._on_review_end]
        self._protected_end_handlers = [self._on_protected_end]
        self._reviews: dict[float, list[int]] = {}

    # -- running --------------------------------------------------------------------

    def run(self) -> RunRecords:
        """Run to the horizon and return the records (once: building the records
        releases the run's state)."""
        self._schedule_roster()
        self._schedule_outreach()
        self._next_referral = 0
        self._referrals = len(self.referral_order)
        if self.referral_order:
            first = self.referral_order[0]
            delay = self.referral_time[first]
            self._referral.fire_in(delay, self._referral_handlers, first, NORMAL)
        self.env.run(until=self.horizon)
        return self.records()

    def records(self) -> RunRecords:
        """The records of the finished run (once: building them releases the run's
        state)."""
        return run_records(self)

    def _schedule_roster(self) -> None:
        # Objects, not indexes: the changes are read at every one.
        self._roster_times, self._roster_changes = self.plan.changes(self.workers)
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
            if not worker.on_site:  # still away or resting: never joined this shift
                continue
            present = stations[worker.station].present
            present.remove(worker)
            worker.on_site = False
            if not present:
                emptied.add(worker.station)
            if not worker.busy and not worker.pending:
                self._to_duties(worker, now)
        joined = []
        for worker, s, case_end, end in starts:
            back = max(worker.away_until, worker.rest_until)
            if back > now:
                self._join_later(worker, s, case_end, end, now)
                continue
            self._join(worker, s, case_end, end)
            emptied.discard(s)
            joined.append(worker)
        if emptied:
            for s in sorted(emptied):
                self._send_away_waiting(s)
        if self._reviews:
            for s in self._reviews.get(now, ()):
                self._review_log(s, now)
        for worker in joined:
            if not worker.busy:
                self._next_task(worker, now)

    def _join(self, worker: WorkerState, s: int, case_end: float, end: float) -> None:
        worker.on_site = True
        worker.station = s
        worker.shift_start = self.env.now
        worker.shift_end = end
        worker.duty_until = end
        worker.protected = self.protected_share[worker.index] * (end - case_end)
        insort(self.stations[s].present, worker, key=_roster_position)

    def _join_later(
        self, worker: WorkerState, s: int, case_end: float, end: float, now: float
    ) -> None:
        """A shift starting while its worker is out on a call-out or resting: the worker
        joins when back (rest is logged as such), or not at all if back too late."""
        back = max(worker.away_until, worker.rest_until)
        rest_from = max(now, worker.away_until)
        if worker.rest_until > rest_from:
            self.worker_log.add(worker.index, REST, s, rest_from, min(worker.rest_until, end), -1)
        if back < case_end:
            # NORMAL, not FIRST: a call-out ending at that instant is handled first, and
            # may set a rest that pushes the join later again.
            self.one_shots.fire_in(back - now, self._back_handlers, (worker, s, case_end, end))
        elif back < end:
            self.worker_log.add(worker.index, DUTIES, s, back, end, -1)

    def _on_back(self, event: Event) -> None:
        self.one_shots.release(event)
        worker, s, case_end, end = event.payload
        now = self.env.now
        if max(worker.away_until, worker.rest_until) > now:
            worker.away_until = max(worker.away_until, now)  # rest logged from here on
            self._join_later(worker, s, case_end, end, now)
            return
        self._join(worker, s, case_end, end)
        if not worker.busy:
            self._next_task(worker, now)

    def _to_duties(self, worker: WorkerState, now: float) -> None:
        """The worker's case time is over and its work done: other duties until the
        shift ends, and on past the end (busy, paid as overtime) until the shift's
        protected duty time is done."""
        until = worker.duty_until
        protected_end = now + worker.protected
        worker.protected = 0.0
        if until > now:
            self.worker_log.add(worker.index, DUTIES, worker.station, now, until, -1)
            worker.duty_until = now
        start = max(now, until)
        if protected_end > start:
            self.worker_log.add(
                worker.index, PROTECTED_DUTIES, worker.station, start, protected_end, -1
            )
            worker.busy = True
            worker.task_end.fire_in(
                protected_end - now, self._protected_end_handlers, worker, NORMAL
            )

    def _on_protected_end(self, event: Event) -> None:
        """The protected duties after a shift are done."""
        worker = event.payload
        worker.busy = False
        self._worker_free(worker, self.env.now)

    def _send_away_waiting(self, s: int) -> None:
        queue = self.stations[s].queue
        waiting = [case for _, _, case in sorted(queue) if self.state[case] == WAITING]
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
        if position < self._referrals:
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
                    # _start_interview, inlined: this runs for nearly every case.
                    self.state[case] = CONTACTED_ON_SITE
                    self.first_contact[case] = now
                    worker.busy = True
                    task_end = worker.task_end
                    task_end.callbacks = self._interview_end_handlers
                    task_end.payload = (worker, case, now, worker.station, worker.shift_end)
                    env.schedule(task_end, NORMAL, self.interview[case])
                    return
            self.state[case] = WAITING
            heappush(station.queue, (self.rank[case], self.referral_time[case], case))
            patience = self.patience[case]
            if patience != _INF:
                self.one_shots.fire_in(patience, self._patience_handlers, case)
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
                staffed = [
                    j for j, member in enumerate(self.on_call_staff[window]) if member != NOBODY
                ]
                if staffed:
                    self.callouts[window] += 1
                    self.state[case] = ON_CALL
                    self.callout_window[case] = window
                    free = [j for j in self.free_slots if j in staffed]
                    if free:
                        self.free_slots.remove(free[0])
                        self._start_callout(free[0], case)
                    else:
                        entry = (self.rank[case], self.referral_time[case], case, window)
                        heappush(self.on_call_queue, entry)
                    return
        self._add_callback(case)

    def _on_patience_end(self, event: Event) -> None:
        self.one_shots.spare.append(event)  # release, inlined: once per waiting case
        case = event.payload
        if self.state[case] != WAITING:
            return
        self.left_station.append(case)
        if self.lose_leavers:
            self.state[case] = LOST
        else:
            self._add_callback(case)

    # -- on-site work ---------------------------------------------------------------------

    def _start_interview(self, worker: WorkerState, case: int, contacted: int, now: float) -> None:
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
        self.interviewed.append(case)
        self.interviewer[case] = worker.index
        self.interview_station[case] = station
        if now > shift_end:
            self._log_overtime(worker, station, start, shift_end, now, case)
        self._start_series(case, worker.index, now, now)
        work = self.onward_work[case]
        if work > 0:
            # The onward work starts now, in the shift the worker is on now (which may
            # have begun while the interview went on).
            payload = (worker, case, now, station, worker.shift_end)
            worker.task_end.fire_in(work, self._onward_end_handlers, payload, NORMAL)
            return
        worker.busy = False
        self._worker_free(worker, now)

    def _on_first_contact_end(self, event: Event) -> None:
        """:meth:`_on_interview_end` for a run without follow-ups or onward work (the
        M/M/c reduction, the validation cases): the worker is free at once, and no
        appointment can be waiting for it.  The series end is the service end, which
        the records set (``sim.model.recording``)."""
        worker, case, start, station, shift_end = event.payload
        now = self.env.now
        self.service_end[case] = now
        self.interviewed.append(case)
        self.interviewer[case] = worker.index
        self.interview_station[case] = station
        if now > shift_end:
            self._log_overtime(worker, station, start, shift_end, now, case)
        if not worker.on_site:
            worker.busy = False
            self._worker_free(worker, now)
            return
        # _next_task and _start_interview, inlined: this runs once per case, and no
        # appointment can be pending in a run without follow-ups.
        queue = self.stations[worker.station].queue
        state = self.state
        while queue:
            case = heappop(queue)[2]
            if state[case] == WAITING:
                state[case] = CONTACTED_ON_SITE
                self.first_contact[case] = now
                # The event is the worker's task_end, just done: it is reused.
                event.callbacks = self._interview_end_handlers
                event.payload = (worker, case, now, worker.station, worker.shift_end)
                self.env.schedule(event, NORMAL, self.interview[case])
                return
        worker.busy = False
        self._next_task(worker, now)  # nobody waiting: a callback, if any

    def _on_onward_end(self, event: Event) -> None:
        worker, case, start, station, shift_end = event.payload
        now = self.env.now
        log = self.worker_log
        log.add(worker.index, ONWARD_WORK, station, start, now, case)
        if now > shift_end:
            self._log_overtime(worker, station, start, shift_end, now, case)
        worker.busy = False
        self._worker_free(worker, now)

    def _log_overtime(
        self,
        worker: WorkerState,
        station: int,
        start: float,
        shift_end: float,
        now: float,
        case: int,
    ) -> None:
        """Record as overtime the part of a piece of on-site work (``start`` to ``now``,
        minutes) past the end of the shift it started in, ``shift_end``: up to ``now``, or
        up to the worker's next time on site if it began while the work went on (that
        time is rostered, and paid as such)."""
        # ``>=``: a next shift may start the very minute this one ends (at another
        # station; touching shifts at one station are one shift).
        end = min(now, worker.shift_start) if worker.shift_start >= shift_end else now
        begin = max(start, shift_end)
        if end > begin:
            self.worker_log.add(worker.index, OVERTIME, station, begin, end, case)

    def _worker_free(self, worker: WorkerState, now: float) -> None:
        """A worker has just finished a task: the next one, or its duties.  A person
        waiting for a booked appointment is seen before a call-out that came in during
        the overrun (they are at the station; the call-out waits its turn)."""
        if worker.pending:
            self._start_appointment(worker, worker.pending.popleft(), now)
        elif worker.on_site:
            self._next_task(worker, now)
        else:
            self._to_duties(worker, now)
            if worker.callout_after is not None and not worker.busy:
                slot, case = worker.callout_after
                worker.callout_after = None
                self._start_callout(slot, case)

    def _next_task(self, worker: WorkerState, now: float) -> None:
        """Give a free, on-site worker the next person waiting, else the next callback."""
        if worker.pending:
            self._start_appointment(worker, worker.pending.popleft(), now)
            return
        queue = self.stations[worker.station].queue
        state = self.state
        while queue:
            case = heappop(queue)[2]
            if state[case] == WAITING:
                self._start_interview(worker, case, CONTACTED_ON_SITE, now)
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
            state[case] = EXPIRED

    # -- follow-up appointments -----------------------------------------------------------

    def _start_series(self, case: int, worker: int, now: float, interview_end: float) -> None:
        """A first contact that ended at ``interview_end`` (before ``now`` for a call-out
        with a way back) is over: book the first follow-up now, the gap from the
        interview's end, with the worker who met the person when that worker keeps a
        diary at their station, else with the first worker who does."""
        if not self.followups[case]:
            self.series_end[case] = interview_end
            return
        station = self.station_of[case]
        if worker < 0 or station not in self.workers[worker].diary_stations:
            worker = self.diary_of_station[station]
        self.followup_worker[case] = worker
        earliest = interview_end + self.gap.item(case, 0)
        # A gap shorter than the way back cannot put the appointment in the past.
        self._book(case, 1, earliest if earliest > now else now, now, None)

    def _book_next(self, case: int, done: int, now: float) -> None:
        """Book the follow-up after number ``done`` (0: the first contact), or close the
        series."""
        number = done + 1
        if number > self.followups[case]:
            self.series_end[case] = now
            return
        earliest = now + self.gap.item(case, number - 1)
        self._book(case, number, earliest, now, None)

    def _book(
        self, case: int, number: int, earliest: float, now: float, row: list[Any] | None
    ) -> None:
        """Put follow-up ``number`` in the diary at the first free slot from
        ``earliest`` (``row``: its row when it is rebooked), or give up the series.

        The slot is the first ``(slot, start)`` from ``earliest`` where an appointment
        of its duration fits the worker's planned case time at the person's station, no
        other appointment and the slot's bookable share, within the booking horizon.
        (The search is written out here, not in a method of its own: this runs once
        per appointment wanted, and a call costs as much as the search usually does.)
        """
        w = self.followup_worker[case]
        station = self.station_of[case]
        if w < 0:
            self._give_up(case, number, NO_WORKER, now, row)
            return
        worker = self.workers[w]
        duration = self.duration.item(case, number - 1)
        starts, ends = worker.slot_starts, worker.slot_ends
        stations, room = worker.slot_stations, worker.slot_room
        diary_starts, diary_ends = worker.diary_starts, worker.diary_ends
        if diary_ends and diary_ends[0] <= now:
            # Appointments over by now cannot hold a slot from ``earliest`` (never
            # before now): dropped, the diary stays a few weeks long, not a run long.
            over = bisect_right(diary_ends, now)
            del diary_starts[:over], diary_ends[:over]
        limit = earliest + self.diary_horizon
        n = len(starts)
        i = bisect_right(ends, earliest)
        while i < n and starts[i] <= limit:
            if stations[i] == station and duration <= room[i] + 1e-9:
                t = earliest if earliest > starts[i] else starts[i]
                slot_end = ends[i]
                # Booked appointments never overlap, so once t is past the one it falls
                # in, the candidates are the following ones in order: walk them.
                k = bisect_right(diary_starts, t)
                if k and diary_ends[k - 1] > t:
                    t = diary_ends[k - 1]  # inside an appointment: try after it
                booked = len(diary_starts)
                while t + duration <= slot_end and t <= limit:
                    # The next appointment starts too soon, or just at t (then t is in
                    # it, which matters for an appointment of no duration).
                    if k < booked and (diary_starts[k] < t + duration or diary_starts[k] == t):
                        t = diary_ends[k]
                        k += 1
                    else:
                        break
                else:
                    i += 1
                    continue
                break
            i += 1
        else:
            if earliest + self.diary_horizon > self.horizon:
                # The diary ends with the run, not because it is full: the follow-up
                # stays pending, and the series open.
                return
            self._give_up(case, number, DIARY_FULL, now, row)
            return
        room[i] -= duration
        k = bisect_right(diary_starts, t)
        diary_starts.insert(k, t)
        diary_ends.insert(k, t + duration)
        if row is None:
            row = [case, number, w, station, now, t, _NAN, _NAN, BOOKED, 0, duration]
            self.appointments.append(row)
            self.booked_numbers[case] = number
        else:
            row[A_BOOKED_AT] = now
            row[A_DUE] = t
        self.one_shots.fire_in(t - now, self._due_handlers, row)

    def _give_up(
        self, case: int, number: int, status: int, now: float, row: list[Any] | None
    ) -> None:
        """Follow-up ``number`` cannot be held, and the series ends: it and every later
        one the person wanted are unmet, for ``status``."""
        w = self.followup_worker.get(case, -1)
        station = self.station_of[case]
        if row is not None:
            row[A_STATUS] = status
            number += 1
        for k in range(number, self.followups[case] + 1):
            self.appointments.append(new_appointment(case, k, w, station, status, _NAN))
        self.booked_numbers[case] = self.followups[case]
        self.series_end[case] = now

    def _on_appointment_due(self, event: Event) -> None:
        self.one_shots.spare.append(event)  # release, inlined: once per appointment
        row = event.payload
        now = self.env.now
        case = row[A_CASE]
        number = row[A_NUMBER]
        worker = self.workers[row[A_WORKER]]
        if not (worker.on_site and worker.station == row[A_STATION]):
            # The worker is absent or not back yet: the appointment is rebooked.
            row[A_REBOOKINGS] += 1
            if row[A_REBOOKINGS] > self.max_rebookings:
                row[A_STATUS] = CANCELLED
                self._book_next(case, number, now)
                return
            tomorrow = (now // MINUTES_PER_DAY + 1) * MINUTES_PER_DAY
            self._book(case, number, tomorrow, now, row)
            return
        if self.no_show_draw.item(case, number - 1) < self.no_show[self.population_of[case]]:
            row[A_STATUS] = NO_SHOW
            self._book_next(case, number, now)
            return
        if worker.busy:
            worker.pending.append(row)
        else:
            self._start_appointment(worker, row, now)

    def _start_appointment(self, worker: WorkerState, row: list[Any], now: float) -> None:
        row[A_START] = now
        worker.busy = True
        # fire_in, inlined: this runs once per appointment.
        task_end = worker.task_end
        task_end.callbacks = self._appointment_end_handlers
        task_end.payload = (worker, row, now, worker.shift_end)
        self.env.schedule(task_end, NORMAL, row[A_DURATION])

    def _on_appointment_end(self, event: Event) -> None:
        worker, row, start, shift_end = event.payload
        now = self.env.now
        case = row[A_CASE]
        row[A_END] = now
        row[A_STATUS] = HELD
        self.held.append(row)  # its row of worker time is built from it
        if now > shift_end:
            self._log_overtime(worker, row[A_STATION], start, shift_end, now, case)
        # _book_next, inlined: this runs once per appointment.
        done = row[A_NUMBER]
        if done < self.followups[case]:
            self._book(case, done + 1, now + self.gap.item(case, done), now, None)
        else:
            self.series_end[case] = now
        worker.busy = False
        # _worker_free, inlined.
        if worker.pending:
            self._start_appointment(worker, worker.pending.popleft(), now)
        elif worker.on_site:
            self._next_task(worker, now)
        else:
            self._worker_free(worker, now)

    # -- callbacks ------------------------------------------------------------------------

    def _add_callback(self, case: int) -> None:
        self.state[case] = CALLBACK
        s = self.station_of[case]
        station = self.stations[s]
        heappush(station.callbacks, self._callback_key(case))
        for worker in station.callback_workers:
            if not station.callbacks:
                return
            if worker.on_site and not worker.busy:
                self._next_task(worker, self.env.now)

    def _attempt_callback(self, worker: WorkerState, case: int, now: float) -> None:
        attempt = self.attempts.get(case, 0)
        self.attempts[case] = attempt + 1
        delay = now - self.referral_time[case]
        reach = self.reach_floor + (self.reach_initial - self.reach_floor) * 0.5 ** (
            delay / self.reach_half_life
        )
        if self.callback_uniform.item(case, attempt) < reach:
            self._start_interview(worker, case, CONTACTED_BY_CALLBACK, now)
            return
        self.state[case] = RETRY
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
        log.add(worker.index, ATTEMPT, station, start, now, case)
        if now > shift_end:
            self._log_overtime(worker, station, start, shift_end, now, case)
        if self.attempts[case] >= self.max_attempts:
            self.state[case] = FAILED
        elif self.retry_minutes > 0:
            self.one_shots.fire_in(self.retry_minutes, self._retry_handlers, case)
        worker.busy = False
        self._worker_free(worker, now)
        # A retry due at once goes back on the list after this worker has moved on, so
        # that it is not phoned twice in a row while others are waiting.
        if self.state[case] == RETRY and self.retry_minutes <= 0:
            self._add_callback(case)

    def _on_retry_due(self, event: Event) -> None:
        self.one_shots.release(event)
        self._add_callback(event.payload)

    # -- outreach from the police log -----------------------------------------------------

    def _schedule_outreach(self) -> None:
        """Send the police log's entries on their way to the worker: each to its
        station's callback list as it is written (``networked``), or to the review at
        the first on-site shift of each day (``daily_review``)."""
        if self.log_access == "none" or not self.logged.any():
            return
        logged = np.flatnonzero(self.logged)
        logged = logged[np.argsort(self.referral[logged], kind="stable")]
        if self.log_access == "networked":
            for case in logged.tolist():
                self.one_shots.fire_in(self.referral_time[case], self._log_entry_handlers, case)
            return
        station = self.demand.station[logged]
        self._log_cases = [logged[station == s].tolist() for s in range(len(self.stations))]
        self._log_times = [[self.referral_time[c] for c in cases] for cases in self._log_cases]
        self._log_read = [0] * len(self.stations)
        for s, start in self.plan.first_shift_of_day():
            self._reviews.setdefault(start, []).append(s)

    def _on_log_entry(self, event: Event) -> None:
        self.one_shots.release(event)
        self._add_callback(event.payload)

    def _review_log(self, s: int, now: float) -> None:
        """The day's first shift at station ``s`` has begun: its first free worker (in
        roster order) reads the entries written since the last review.  With nobody
        free there, the entries wait for the next day's review."""
        for worker in self.stations[s].present:
            if not worker.busy and not worker.pending:
                break
        else:
            return
        read = self._log_read[s]
        upto = bisect_right(self._log_times[s], now)
        if upto == read:
            return
        self._log_read[s] = upto
        entries = self._log_cases[s][read:upto]
        worker.busy = True
        worker.task_end.fire_in(
            len(entries) * self.review_minutes,
            self._review_end_handlers,
            (worker, entries, now, s, worker.shift_end),
            NORMAL,
        )

    def _on_review_end(self, event: Event) -> None:
        """The review is done: its entries join the station's callback list, to be
        phoned like any callback (reach falling from the entry's time)."""
        worker, entries, start, s, shift_end = event.payload
        now = self.env.now
        if now > start:
            self.worker_log.add(worker.index, LOG_REVIEW, s, start, now, -1)
            if now > shift_end:
                self._log_overtime(worker, s, start, shift_end, now, -1)
        station = self.stations[s]
        for case in entries:
            self.state[case] = CALLBACK
            heappush(station.callbacks, self._callback_key(case))
        worker.busy = False
        self._worker_free(worker, now)
        for other in station.callback_workers:
            if not station.callbacks:
                break
            if other.on_site and not other.busy:
                self._next_task(other, now)

    # -- on call --------------------------------------------------------------------------

    def _responder(self, slot: int, case: int) -> int:
        """The worker-log index of who makes the call-out: the staff member of the
        window, or the slot's outside responder (numbered after the workers)."""
        member = self.on_call_staff[self.callout_window[case]][slot]
        return self.n_workers + slot if member == EXTERNAL else member

    def _start_callout(self, slot: int, case: int) -> None:
        """The slot's responder answers ``case`` now, or, a staff member still at work
        past the end of a shift, as soon as that work is done."""
        responder = self._responder(slot, case)
        if responder < self.n_workers and self.workers[responder].busy:
            self.workers[responder].callout_after = (slot, case)
            return
        now = self.env.now
        delay = float(self.on_call_delay[case])
        self.state[case] = CONTACTED_ON_CALL
        self.first_contact[case] = now + delay
        self.service_end[case] = now + delay + self.interview[case]
        back = 0.0 if self.on_call_by_phone[case] else delay
        end = now + delay + self.interview[case] + back
        if responder < self.n_workers:
            worker = self.workers[responder]
            worker.away_until = max(worker.away_until, end)
        self.one_shots.fire_in(end - now, self._callout_end_handlers, (slot, case, now))

    def _is_night(self, minute_of_day: float) -> bool:
        start, end = self.night
        if start <= end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end

    def _on_callout_end(self, event: Event) -> None:
        self.one_shots.release(event)
        slot, case, start = event.payload
        now = self.env.now
        responder = self._responder(slot, case)
        station = self.station_of[case]
        self.worker_log.add(responder, CALLOUT, station, start, now, case)
        staff = responder < self.n_workers
        if staff and self.rest_minutes > 0 and self._is_night(start % MINUTES_PER_DAY):
            worker = self.workers[responder]
            worker.rest_until = max(worker.rest_until, now + self.rest_minutes)
        self._start_series(case, responder if staff else -1, now, float(self.service_end[case]))
        while self.on_call_queue:
            _, _, waiting, window = heappop(self.on_call_queue)
            if now >= self.on_call_ends[window]:
                # Its window has closed while it waited: the shift is starting, or the
                # rota is over; it goes on the callback list.
                self._add_callback(waiting)
                continue
            if self.on_call_staff[window][slot] == NOBODY:
                heappush(self.on_call_queue, (self.rank[waiting], 0.0, waiting, window))
                break
            self._start_callout(slot, waiting)
            return
        self.free_slots.append(slot)
        self.free_slots.sort()


def simulate(scenario: Scenario, replication: int = 0) -> RunRecords:
    """Run one replication of a scenario: draw its demand and plan, run the model."""
    with collector_paused():
        demand = draw_demand(scenario, replication)
        plan = build_plan(scenario, replication)
        return StationModel(scenario, demand, plan, replication).run()
