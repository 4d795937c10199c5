"""A Lindley-style lower bound on the time of an M/M/c FIFO simulation: no event loop.

For a FIFO queue with ``c`` identical servers and no abandonment, the customers can be
walked in arrival order with a min-heap of the ``c`` server free-times: the next
customer starts service at ``max(arrival, earliest free-time)`` on that server, which
then becomes free at ``start + service`` (one ``heapreplace`` per customer).  This is an
exact simulation of that queue, but it is the multi-server Lindley recursion, not a
discrete-event simulation: it has no events, so it cannot express shifts, abandonment,
priorities or anything else the station model does.  The suite reports it as a lower
bound on the time; the floor that event-driven engines are compared with is the event
loop of ``benchmarks/floor_heapq.py``.

Run ``python benchmarks/lindley_mmc.py`` for the M/M/3, load 0.9 timing and the check
against Erlang C.
"""

from __future__ import annotations

from heapq import heapreplace

try:
    from benchmarks.mmc_result import MMcResult, check_arguments, draw_customers, report_standalone
except ModuleNotFoundError:  # run as a script: python benchmarks/lindley_mmc.py
    from mmc_result import MMcResult, check_arguments, draw_customers, report_standalone  # type: ignore[no-redef]

__all__ = ["MMcResult", "simulate_mmc"]


def simulate_mmc(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> MMcResult:
    """Simulate ``n_customers`` arrivals to an empty M/M/c FIFO queue (no abandonment).

    Args:
        c: number of servers (>= 1).
        arrival_rate: Poisson arrival rate, per minute.
        service_rate: exponential service rate of one server, per minute.
        n_customers: number of arrivals to simulate; every one of them is served.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        The mean queueing time and the share of customers who waited, over all arrivals.
    """
    check_arguments(c, arrival_rate, service_rate, n_customers)

    arrivals, services = draw_customers(arrival_rate, service_rate, n_customers, seed)

    free = [0.0] * c  # min-heap of the times at which each server becomes free
    total_wait = 0.0
    n_waited = 0
    for arrival, service in zip(arrivals, services, strict=True):
        earliest = free[0]
        if earliest > arrival:
            total_wait += earliest - arrival
            n_waited += 1
            heapreplace(free, earliest + service)
        else:
            heapreplace(free, arrival + service)

    return MMcResult(
        customers=n_customers,
        mean_wait=total_wait / n_customers,
        p_wait=n_waited / n_customers,
    )


if __name__ == "__main__":
    report_standalone("lindley_mmc", simulate_mmc)
