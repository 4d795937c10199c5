"""SimPy references of the benchmark suite: the M/M/c FIFO queue written two ways.

- :func:`simulate_mmc_processes` is idiomatic SimPy: a process per customer that
  requests a ``simpy.Resource`` with ``c`` slots, holds it for its service and leaves.
- :func:`simulate_mmc_callbacks` uses SimPy's public API only, but no process per
  customer: arrivals and departures are ``Timeout`` events whose callbacks update the
  state, which is the pattern the station model's engine is built on.

Both draw every interarrival and service time up front with numpy, as the floor
(``benchmarks/floor_heapq.py``) does, so the comparison is about the event engine.
:func:`rearm_floor` is no queue: it times SimPy alone on the model's own events, with
handlers that do nothing but re-arm them (what the model's event loop costs before its
handlers do any work).

Run ``python benchmarks/simpy_mmc.py`` for the M/M/3, load 0.9 timings.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from sim.model.engine import NORMAL, Recurring

try:
    from benchmarks.mmc_result import MMcResult, draw_customers, report_standalone
except ModuleNotFoundError:  # run as a script: python benchmarks/simpy_mmc.py
    from mmc_result import MMcResult, draw_customers, report_standalone  # type: ignore[no-redef]

__all__ = ["MMcResult", "rearm_floor", "simulate_mmc_callbacks", "simulate_mmc_processes"]


def simulate_mmc_processes(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> MMcResult:
    """Idiomatic SimPy: a source process starts one process per customer, which waits
    for a slot of a ``simpy.Resource(capacity=c)`` and holds it for its service."""
    arrivals, services = draw_customers(arrival_rate, service_rate, n_customers, seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    waits: list[float] = []

    def customer(who: int) -> Generator[simpy.Event, Any, None]:
        arrived = env.now
        with servers.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(services[who])

    def source() -> Generator[simpy.Event, Any, None]:
        for who, at in enumerate(arrivals):
            yield env.timeout(at - env.now)
            env.process(customer(who))

    env.process(source())
    env.run()
    return MMcResult(
        customers=len(waits),
        mean_wait=sum(waits) / len(waits),
        p_wait=sum(1 for w in waits if w > 0.0) / len(waits),
    )


def simulate_mmc_callbacks(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> MMcResult:
    """SimPy with callbacks on ``Timeout`` events and no process per customer (public
    API only): an arrival's callback schedules the next arrival and starts a service
    or queues the customer; a departure's callback starts the next service."""
    arrivals, services = draw_customers(arrival_rate, service_rate, n_customers, seed)
    env = simpy.Environment()
    waiting: deque[int] = deque()
    last = n_customers - 1
    idle = c
    total_wait = 0.0
    n_waited = 0

    def arrive(event: simpy.Event) -> None:
        nonlocal idle
        who = event.value
        if who < last:
            env.timeout(arrivals[who + 1] - env.now, who + 1).callbacks.append(arrive)
        if idle:
            idle -= 1
            env.timeout(services[who]).callbacks.append(depart)
        else:
            waiting.append(who)

    def depart(event: simpy.Event) -> None:
        nonlocal idle, total_wait, n_waited
        if waiting:
            who = waiting.popleft()
            total_wait += env.now - arrivals[who]
            n_waited += 1
            env.timeout(services[who]).callbacks.append(depart)
        else:
            idle += 1

    env.timeout(arrivals[0], 0).callbacks.append(arrive)
    env.run()
    return MMcResult(
        customers=n_customers, mean_wait=total_wait / n_customers, p_wait=n_waited / n_customers
    )


def rearm_floor(n_events: int) -> float:
    """Seconds SimPy takes for ``n_events`` events of the kind the station model uses
    (:class:`sim.model.engine.Recurring`, two of them, as a referral and a task end
    are) whose handlers do nothing but put their event back on the queue: what the
    model's event loop costs before its handlers do any work."""
    if n_events < 2:
        raise ValueError(f"n_events must be at least 2 (the two events), got {n_events}")
    env = simpy.Environment()
    fired = 0
    scheduled = 2

    def rearm(event: simpy.Event) -> None:
        nonlocal fired, scheduled
        fired += 1
        if scheduled < n_events:
            scheduled += 1
            event.callbacks = handlers
            env.schedule(event, NORMAL, 1.0)

    handlers = [rearm]
    Recurring(env).fire_in(1.0, handlers, None, NORMAL)
    Recurring(env).fire_in(1.5, handlers, None, NORMAL)
    start = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - start
    if fired != n_events:
        raise RuntimeError(f"{fired} events fired, {n_events} scheduled")
    return elapsed


if __name__ == "__main__":
    report_standalone("simpy_callbacks", simulate_mmc_callbacks, runs=3)
    report_standalone("simpy_processes", simulate_mmc_processes, runs=3)
