"""Result type shared by the M/M/c contenders of the benchmark suite, and the report of
one contender run alone."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from sim.theory import erlang_c


@dataclass(frozen=True, slots=True)
class MMcResult:
    """Summary of one M/M/c FIFO run.

    Attributes:
        customers: number of customers whose waits are summarised.
        mean_wait: mean time in queue before service starts (minutes).
        p_wait: share of those customers whose wait was strictly positive.
    """

    customers: int
    mean_wait: float
    p_wait: float


def report_standalone(
    label: str,
    simulate: Callable[[int, float, float, int, int], MMcResult],
    n_customers: int = 200_000,
    runs: int = 5,
) -> None:
    """Time one contender alone on the suite's M/M/3 at load 0.9 (``python -m
    benchmarks.NAME``) and print its rate and its waits next to Erlang C."""
    c, lam, mu = 3, 2.7, 1.0
    exact = erlang_c(c, lam, mu)
    rates, results = [], []
    for seed in range(runs):
        t0 = time.perf_counter()
        result = simulate(c, lam, mu, n_customers, seed)
        rates.append(result.customers / (time.perf_counter() - t0))
        results.append(result)
    print(f"{label} M/M/{c}, load {lam / (c * mu):.2f}, about {n_customers:,} x {runs} seeds")
    print(f"  customers/s (median of {runs}): {statistics.median(rates):,.0f}")
    for seed, result in enumerate(results):
        print(f"  seed {seed}: mean wait {result.mean_wait:.4f}  P(wait>0) {result.p_wait:.4f}")
    print(f"  Erlang C: mean wait {exact.mean_wait:.4f}  P(wait>0) {exact.p_wait:.4f}")
