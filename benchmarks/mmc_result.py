"""Result type shared by the M/M/c contenders of the benchmark suite, and the report of
one contender run alone."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.validation.theory import erlang_c


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


def check_arguments(c: int, arrival_rate: float, service_rate: float, n_customers: int) -> None:
    """Reject an M/M/c the contenders cannot simulate: no server, a rate that is not
    positive, no customer."""
    if c < 1:
        raise ValueError(f"c must be >= 1, got {c}")
    if arrival_rate <= 0.0 or service_rate <= 0.0:
        raise ValueError("arrival_rate and service_rate must be > 0")
    if n_customers < 1:
        raise ValueError(f"n_customers must be >= 1, got {n_customers}")


def draw_customers(
    arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> tuple[list[float], list[float]]:
    """Arrival times and service times of ``n_customers``, drawn in advance with numpy
    (the floor's way: no generator call inside the event loop)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / arrival_rate, n_customers)).tolist()
    services = rng.exponential(1.0 / service_rate, n_customers).tolist()
    return arrivals, services


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
