"""Result type shared by the reference M/M/c implementations of the benchmark suite."""

from __future__ import annotations

from dataclasses import dataclass


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


def erlang_c(c: int, arrival_rate: float, service_rate: float) -> tuple[float, float]:
    """``(P(wait > 0), mean wait)`` of the M/M/c queue in steady state (Erlang C).

    Erlang B by its recursion, then ``P(W > 0) = B / (1 - a/c (1 - B))`` and
    ``E[W] = P(W > 0) / (c mu - lambda)``, with ``a = lambda / mu`` below ``c``.
    """
    a = arrival_rate / service_rate
    if a >= c:
        raise ValueError(f"offered load {a} must be below the {c} servers")
    erlang_b = 1.0
    for k in range(1, c + 1):
        erlang_b = a * erlang_b / (k + a * erlang_b)
    p_wait = erlang_b / (1.0 - (a / c) * (1.0 - erlang_b))
    return p_wait, p_wait / (c * service_rate - arrival_rate)
