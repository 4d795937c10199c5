"""The floor of the benchmark suite: a minimal pure-Python event loop for the M/M/c queue.

Every discrete-event engine in the suite is compared to this one.  It is what an
event-driven simulation costs with nothing on top: a ``heapq`` of pending events
(arrivals and departures, ordered by time), a FIFO queue of waiting customers, a count
of idle servers, and all interarrival and service times drawn up front with numpy.
Each customer costs two events, as in any event-driven engine (SimPy, Ciw, the station
model): its arrival and its departure.

``benchmarks/lindley_mmc.py`` is faster still, but it is no event loop: it is the
Lindley-style recursion that only a FIFO queue without abandonment allows, so it is
reported as a lower bound on the time, not as the floor.

Run ``python benchmarks/floor_heapq.py`` for the M/M/3, load 0.9 timing and the check
against Erlang C.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

try:
    from benchmarks.mmc_result import MMcResult, check_arguments, draw_customers, report_standalone
except ModuleNotFoundError:  # run as a script: python benchmarks/floor_heapq.py
    from mmc_result import MMcResult, check_arguments, draw_customers, report_standalone  # type: ignore[no-redef]

__all__ = ["MMcResult", "simulate_mmc"]

_DEPARTURE = -1  # the event's "who" for a departure; an arrival carries its customer


def simulate_mmc(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> MMcResult:
    """Simulate ``n_customers`` arrivals to an empty M/M/c FIFO queue (no abandonment),
    running until every one of them has been served.

    Args:
        c: number of servers (>= 1).
        arrival_rate: Poisson arrival rate, per minute.
        service_rate: exponential service rate of one server, per minute.
        n_customers: number of arrivals to simulate.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        The mean queueing time and the share of customers who waited, over all arrivals.
    """
    check_arguments(c, arrival_rate, service_rate, n_customers)

    arrivals, services = draw_customers(arrival_rate, service_rate, n_customers, seed)

    # An event is (time, who): who is the arriving customer, or _DEPARTURE.  Times are
    # continuous, so ties (then broken by who) have probability zero.
    events: list[tuple[float, int]] = [(arrivals[0], 0)]
    waiting: deque[int] = deque()  # customers in arrival order
    idle = c
    last = n_customers - 1
    total_wait = 0.0
    n_waited = 0
    while events:
        now, who = heappop(events)
        if who != _DEPARTURE:
            if who < last:
                heappush(events, (arrivals[who + 1], who + 1))
            if idle:
                idle -= 1
                heappush(events, (now + services[who], _DEPARTURE))
            else:
                waiting.append(who)
        elif waiting:
            customer = waiting.popleft()
            total_wait += now - arrivals[customer]
            n_waited += 1
            heappush(events, (now + services[customer], _DEPARTURE))
        else:
            idle += 1

    return MMcResult(
        customers=n_customers,
        mean_wait=total_wait / n_customers,
        p_wait=n_waited / n_customers,
    )


if __name__ == "__main__":
    report_standalone("floor_heapq", simulate_mmc)
