"""Ciw reference of the benchmark suite: the same M/M/c FIFO queue as ``floor_heapq``, in Ciw.

Ciw (3.2.x) is a mature, general-purpose queueing-network library, so it is the "what an
off-the-shelf engine costs" yardstick. The model is one node with ``c`` servers, Poisson
arrivals and exponential services (``ciw.dists.Exponential``), the default FIFO discipline,
unlimited queue, no abandonment. Ciw samples from its module-level random streams, seeded
with ``ciw.seed``; that global state is acceptable for a benchmark yardstick.

Run ``python -m benchmarks.ciw_mmc`` for the M/M/3, load 0.9 timing and the check against
Erlang C.
"""

from __future__ import annotations

import ciw

try:
    from benchmarks.mmc_result import MMcResult, check_arguments, report_standalone
except ModuleNotFoundError:  # run as a script: python benchmarks/ciw_mmc.py
    from mmc_result import MMcResult, check_arguments, report_standalone  # type: ignore[no-redef]

__all__ = ["MMcResult", "simulate_mmc"]


def simulate_mmc(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> MMcResult:
    """Simulate an empty M/M/c FIFO queue in Ciw until ``n_customers`` have been served.

    Args:
        c: number of servers (>= 1).
        arrival_rate: Poisson arrival rate, per minute.
        service_rate: exponential service rate of one server, per minute.
        n_customers: number of completed services to simulate (Ciw's ``"Complete"`` method).
        seed: seed passed to ``ciw.seed`` (global state of Ciw).

    Returns:
        The mean queueing time and the share of customers who waited, over the served
        customers (Ciw's ``waiting_time`` of each ``"service"`` record).
    """
    check_arguments(c, arrival_rate, service_rate, n_customers)

    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
        service_distributions=[ciw.dists.Exponential(rate=service_rate)],
        number_of_servers=[c],
    )
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(n_customers, method="Complete")
    waits = [record.waiting_time for record in sim.get_all_records(only=["service"])]

    return MMcResult(
        customers=len(waits),
        mean_wait=sum(waits) / len(waits),
        p_wait=sum(1 for w in waits if w > 0.0) / len(waits),
    )


if __name__ == "__main__":
    report_standalone(f"ciw {ciw.__version__}", simulate_mmc, n_customers=50_000)
