"""Exact queueing-theory results used to validate the simulation engine.

Everything here is computed from closed forms or from exact numerical solutions of Markov
chains; nothing is simulated. Units follow the engine: times are in minutes and rates are
per minute (an arrival rate of 0.05 means one case every 20 minutes on average).

Contents:

* :func:`erlang_b`, :func:`erlang_c`: the M/M/c queue (Erlang C), FIFO, no abandonment.
* :func:`erlang_a`: the M/M/c+M queue (Erlang A), where waiting cases abandon after an
  exponential patience; solved exactly from its birth-death chain.
* :func:`priority_mmc`, :func:`priority_mg1`: mean waits per class under non-preemptive
  priorities (Cobham's formula).
* :func:`time_varying_week`: the periodic steady state of one station over a week with
  hourly arrival rates and per-worker shift rosters, solved from the Kolmogorov forward
  equations. It models the engine's rules for shift starts, shift ends and overtime.

Invalid inputs (fewer than one server, non-positive rates, a load that admits no steady
state) raise :class:`ValueError`.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.special import gammaln, logsumexp, pdtrc

__all__ = [
    "HOURS_PER_WEEK",
    "MINUTES_PER_HOUR",
    "MINUTES_PER_WEEK",
    "ErlangAResult",
    "ErlangCResult",
    "PriorityResult",
    "TimeVaryingResult",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "priority_mg1",
    "priority_mmc",
    "time_varying_week",
]

MINUTES_PER_HOUR = 60
HOURS_PER_WEEK = 168
MINUTES_PER_WEEK = MINUTES_PER_HOUR * HOURS_PER_WEEK

# Birth-death chains are cut where the neglected tail mass is below this bound.
_TAIL_MASS = 1e-14
# Uniformisation drops Poisson terms whose total probability is below this bound.
_POISSON_TAIL = 1e-16
# A truncated queue whose top level holds more mass than this is treated as too small.
_AUTO_QUEUE_MASS = 1e-12
# Above this mass at the top level the truncation visibly biases results, so say so.
_WARN_QUEUE_MASS = 1e-8


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


def _servers(c: int) -> int:
    # operator.index accepts numpy integers but rejects 2.0 and 2.5, which are config errors.
    try:
        n = operator.index(c)
    except TypeError:
        raise ValueError(f"number of servers must be an integer, got {c!r}") from None
    if n < 1:
        raise ValueError(f"number of servers must be at least 1, got {n}")
    return n


def _rate(name: str, value: float, *, allow_zero: bool = False) -> float:
    x = float(value)
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return x


# --------------------------------------------------------------------------------------
# M/M/c: Erlang B and Erlang C
# --------------------------------------------------------------------------------------


def erlang_b(c: int, offered_load: float) -> float:
    """Erlang B blocking probability of the M/M/c/c loss system.

    Args:
        c: number of servers (at least 1).
        offered_load: arrival rate divided by service rate (Erlangs, dimensionless), > 0.

    Returns:
        The probability that all ``c`` servers are busy, i.e. that an arrival is lost.

    The recursion ``B(k) = a B(k-1) / (k + a B(k-1))`` only ever divides numbers of
    similar size, so it stays accurate for thousands of servers where the textbook
    ``a**c / c!`` form overflows.
    """
    n = _servers(c)
    a = _rate("offered_load", offered_load)
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


@dataclass(frozen=True, slots=True)
class ErlangCResult:
    """Steady state of the M/M/c FIFO queue without abandonment.

    Attributes:
        servers: number of servers ``c``.
        arrival_rate: Poisson arrival rate ``lambda`` (per minute).
        service_rate: exponential service rate ``mu`` of one server (per minute).
        offered_load: ``a = lambda / mu`` (Erlangs): mean number of busy servers.
        utilisation: ``rho = a / c``, the long-run share of time a server is busy.
        p_wait: Erlang C probability ``C(c, a) = P(W > 0)`` that an arrival must queue.
        mean_wait: mean time in queue ``E[W]`` over all arrivals (minutes).
        mean_queue_length: mean number of cases waiting, excluding those in service.
    """

    servers: int
    arrival_rate: float
    service_rate: float
    offered_load: float
    utilisation: float
    p_wait: float
    mean_wait: float
    mean_queue_length: float

    @property
    def decay_rate(self) -> float:
        """Rate ``c mu - lambda`` (per minute) of the exponential tail of the wait."""
        return self.servers * self.service_rate - self.arrival_rate

    def p_wait_exceeds(self, t: float) -> float:
        """Probability ``P(W > t) = C(c, a) exp(-(c mu - lambda) t)`` for a wait of ``t`` minutes.

        For ``t < 0`` this is 1, since every wait is non-negative.
        """
        if t < 0:
            return 1.0
        return self.p_wait * math.exp(-self.decay_rate * t)


def erlang_c(c: int, arrival_rate: float, service_rate: float) -> ErlangCResult:
    """Exact steady state of the M/M/c queue (Erlang C).

    Args:
        c: number of servers (at least 1).
        arrival_rate: Poisson arrival rate (per minute), > 0.
        service_rate: exponential service rate of one server (per minute), > 0.

    Raises:
        ValueError: on invalid inputs, or when ``arrival_rate >= c * service_rate``, where
            the queue grows without bound and has no steady state.
    """
    n = _servers(c)
    lam = _rate("arrival_rate", arrival_rate)
    mu = _rate("service_rate", service_rate)
    a = lam / mu
    if a >= n:
        raise ValueError(f"load lambda/(c mu) = {a / n:.6g} >= 1: M/M/c has no steady state")
    b = erlang_b(n, a)
    # Standard identity between the loss and delay systems; both terms are O(1), so no
    # cancellation even when a is close to c.
    p_wait = n * b / (n - a * (1.0 - b))
    mean_wait = p_wait / (n * mu - lam)
    return ErlangCResult(
        servers=n,
        arrival_rate=lam,
        service_rate=mu,
        offered_load=a,
        utilisation=a / n,
        p_wait=p_wait,
        mean_wait=mean_wait,
        mean_queue_length=lam * mean_wait,
    )


# --------------------------------------------------------------------------------------
# M/M/c+M: Erlang A
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """Steady state of the M/M/c+M queue (Erlang A), FIFO.

    Waiting cases abandon independently at rate ``theta`` (exponential patience); a case
    in service never abandons. Every probability below is "seen by an arriving case",
    which by PASTA equals the time-stationary one.

    Attributes:
        servers: number of servers ``c``.
        arrival_rate: Poisson arrival rate ``lambda`` (per minute).
        service_rate: exponential service rate ``mu`` of one server (per minute).
        abandonment_rate: patience rate ``theta`` (per minute); mean patience ``1/theta``.
        p_wait: probability that an arrival finds all servers busy, ``P(W > 0)``.
        p_abandon: share of arrivals who abandon before service starts.
        mean_wait_all: mean time in queue over all arrivals, including the time abandoning
            cases spent waiting before they left and the zero waits (minutes).
        mean_wait_served: mean time in queue of the cases that are eventually served,
            including those served at once with zero wait (minutes).
        mean_wait_abandoned: mean time in queue before leaving of the cases that abandon
            (minutes); NaN when nobody abandons (``theta = 0``).
        mean_queue_length: mean number of cases waiting, excluding those in service.
        mean_busy_servers: mean number of busy servers; equals ``lambda (1 - p_abandon) / mu``.
        distribution: ``P(N = n)`` for the number in system ``n = 0, 1, ...``, cut where the
            remaining tail is below 1e-14.
    """

    servers: int
    arrival_rate: float
    service_rate: float
    abandonment_rate: float
    p_wait: float
    p_abandon: float
    mean_wait_all: float
    mean_wait_served: float
    mean_wait_abandoned: float
    mean_queue_length: float
    mean_busy_servers: float
    distribution: npt.NDArray[np.float64] = field(repr=False, compare=False)

    @property
    def utilisation(self) -> float:
        """Long-run share of time a server is busy."""
        return self.mean_busy_servers / self.servers


def _erlang_a_log_weights(
    c: int, lam: float, mu: float, theta: float, max_states: int
) -> npt.NDArray[np.float64]:
    """Unnormalised ``log P(N = n)`` of the Erlang A chain, long enough to hold all mass."""
    length = max(64, 4 * c)
    while True:
        n = np.arange(1, length + 1, dtype=np.float64)
        death = np.minimum(n, c) * mu + np.maximum(n - c, 0.0) * theta
        log_w = np.concatenate(([0.0], np.cumsum(np.log(lam) - np.log(death))))
        # Death rates never decrease, so once the ratio r = lambda/death is below 1 the tail
        # beyond the cut is at most a geometric series: P(N = last) * r / (1 - r).
        r = lam / (min(length + 1, c) * mu + max(length + 1 - c, 0) * theta)
        if r < 1:
            tail_bound = log_w[-1] + math.log(r / (1.0 - r))
            if tail_bound < math.log(_TAIL_MASS) + logsumexp(log_w):
                return log_w
        if length >= max_states:
            raise ValueError(
                f"Erlang A chain needs more than {max_states} states; the abandonment rate "
                "is too small for this overload"
            )
        length = min(2 * length, max_states)


def erlang_a(
    c: int,
    arrival_rate: float,
    service_rate: float,
    abandonment_rate: float,
    *,
    max_states: int = 10_000_000,
) -> ErlangAResult:
    """Exact steady state of the M/M/c+M queue (Erlang A).

    The number in system ``N`` is a birth-death chain with birth rate ``lambda`` and death
    rate ``min(n, c) mu + max(n - c, 0) theta``. Its stationary law is computed in log space
    (no overflow for large ``c`` or heavy overload) and cut where the remaining tail mass is
    below 1e-14.

    Waits are computed per arrival. An arrival that finds ``n >= c`` in system joins at
    queue position ``k = n - c + 1``. While it is at position ``j`` the next event has rate
    ``c mu + j theta``: a service completion (``c mu``, all servers are busy while anyone
    waits) or an abandonment by one of the ``j - 1`` cases ahead moves it to ``j - 1``; its
    own abandonment (``theta``) ends its wait. The holding time at each position is
    exponential regardless of which event ends it, hence

    * ``P(served | k) = prod_j (c mu + (j-1) theta)/(c mu + j theta) = c mu / (c mu + k theta)``,
    * ``E[W 1{served} | k] = P(served | k) * sum_{j=1..k} 1/(c mu + j theta)``,
    * ``E[W | k] = k / (c mu + k theta)`` and ``P(abandon | k) = theta E[W | k]``.

    The mean wait of served cases is ``E[W 1{served}] / P(served)``; it is *not*
    ``E[W] / (1 - p_abandon)``, because abandoning cases also contribute their waits to
    ``E[W]``.

    Args:
        c: number of servers (at least 1).
        arrival_rate: Poisson arrival rate ``lambda`` (per minute), > 0.
        service_rate: exponential service rate ``mu`` of one server (per minute), > 0.
        abandonment_rate: patience rate ``theta`` (per minute), >= 0. With ``theta = 0``
            the model is Erlang C and needs ``lambda < c mu``; with ``theta > 0`` a steady
            state exists at any load.
        max_states: safety cap on the length of the truncated chain.

    Raises:
        ValueError: on invalid inputs, on ``theta = 0`` with ``lambda >= c mu``, or when
            the chain would need more than ``max_states`` states.
    """
    n_srv = _servers(c)
    lam = _rate("arrival_rate", arrival_rate)
    mu = _rate("service_rate", service_rate)
    theta = _rate("abandonment_rate", abandonment_rate, allow_zero=True)
    if theta == 0 and lam >= n_srv * mu:
        raise ValueError(
            f"load lambda/(c mu) = {lam / (n_srv * mu):.6g} >= 1 without abandonment: "
            "no steady state"
        )

    log_w = _erlang_a_log_weights(n_srv, lam, mu, theta, max_states)
    pi = np.exp(log_w - logsumexp(log_w))

    cmu = n_srv * mu
    pi_q = pi[n_srv:]  # arrivals that find every server busy
    k = np.arange(1, pi_q.size + 1, dtype=np.float64)  # their queue position
    exit_rate = cmu + k * theta
    sum_inv = np.cumsum(1.0 / exit_rate)  # sum_{j<=k} 1/(c mu + j theta)
    # Written without subtraction: E[W 1{abandon} | k] = theta/(c mu + k theta) *
    # sum_{j<=k} j/(c mu + j theta). The form k/(.) - c mu sum_inv/(.) cancels badly when
    # theta is tiny.
    sum_j_inv = np.cumsum(k / exit_rate)

    p_wait = float(pi_q.sum())
    p_abandon = float(np.dot(pi_q, k * theta / exit_rate))
    wait_served = float(np.dot(pi_q, cmu * sum_inv / exit_rate))
    wait_abandoned = float(np.dot(pi_q, theta * sum_j_inv / exit_rate))
    mean_queue = float(np.dot(pi_q, k - 1.0))
    busy = float(np.dot(pi[:n_srv], np.arange(n_srv))) + n_srv * p_wait

    return ErlangAResult(
        servers=n_srv,
        arrival_rate=lam,
        service_rate=mu,
        abandonment_rate=theta,
        p_wait=p_wait,
        p_abandon=p_abandon,
        mean_wait_all=wait_served + wait_abandoned,
        mean_wait_served=wait_served / (1.0 - p_abandon),
        mean_wait_abandoned=wait_abandoned / p_abandon if p_abandon > 0 else math.nan,
        mean_queue_length=mean_queue,
        mean_busy_servers=busy,
        distribution=pi,
    )


# --------------------------------------------------------------------------------------
# Non-preemptive priorities (Cobham)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriorityResult:
    """Mean queueing waits per class under non-preemptive priorities.

    Classes are ordered from highest priority (index 0) to lowest; within a class service
    is FIFO.

    Attributes:
        arrival_rates: Poisson arrival rate of each class (per minute).
        mean_waits: mean time in queue of each class (minutes), service excluded.
        residual_work: ``E[W0]`` (minutes), the mean time an arrival must wait for the
            service in progress to free a server, averaged over all arrivals (zero when a
            server is free).
        utilisation: total load ``sum_k lambda_k E[S_k] / c``.
    """

    arrival_rates: tuple[float, ...]
    mean_waits: tuple[float, ...]
    residual_work: float
    utilisation: float

    @property
    def mean_queue_lengths(self) -> tuple[float, ...]:
        """Mean number waiting of each class, by Little's law."""
        return tuple(lam * w for lam, w in zip(self.arrival_rates, self.mean_waits, strict=True))

    @property
    def mean_wait(self) -> float:
        """Mean time in queue over all arrivals, all classes together (minutes)."""
        total = sum(self.arrival_rates)
        return sum(self.mean_queue_lengths) / total


def _class_rates(arrival_rates: Sequence[float]) -> tuple[float, ...]:
    rates = tuple(_rate("arrival rate of each class", x) for x in arrival_rates)
    if not rates:
        raise ValueError("at least one priority class is needed")
    return rates


def _cobham_waits(
    rates: Sequence[float], loads: Sequence[float], residual: float
) -> tuple[float, ...]:
    # loads[k] is class k's share of the total service capacity; sigma is the cumulative
    # share of the classes served before or with class k.
    waits = []
    sigma_before = 0.0
    for load in loads:
        sigma = sigma_before + load
        waits.append(residual / ((1.0 - sigma_before) * (1.0 - sigma)))
        sigma_before = sigma
    return tuple(waits)


def priority_mmc(c: int, arrival_rates: Sequence[float], service_rate: float) -> PriorityResult:
    """Mean wait per class in the M/M/c queue with non-preemptive priorities.

    All classes share one exponential service rate, so the order of service does not change
    the number of busy servers and Cobham's formula is exact:
    ``W_k = E[W0] / ((1 - sigma_{k-1}) (1 - sigma_k))`` with
    ``sigma_k = sum_{i<=k} lambda_i / (c mu)`` and ``E[W0] = C(c, a) / (c mu)``: the Erlang C
    probability that all servers are busy times the mean time until one of the ``c`` busy
    servers frees.

    Args:
        c: number of servers (at least 1).
        arrival_rates: arrival rate of each class (per minute), highest priority first.
        service_rate: exponential service rate of one server (per minute), same for all.

    Raises:
        ValueError: on invalid inputs or when the total load is >= 1.
    """
    n = _servers(c)
    rates = _class_rates(arrival_rates)
    mu = _rate("service_rate", service_rate)
    fcfs = erlang_c(n, sum(rates), mu)
    residual = fcfs.p_wait / (n * mu)
    loads = [lam / (n * mu) for lam in rates]
    return PriorityResult(
        arrival_rates=rates,
        mean_waits=_cobham_waits(rates, loads, residual),
        residual_work=residual,
        utilisation=fcfs.utilisation,
    )


def priority_mg1(
    arrival_rates: Sequence[float],
    mean_service_times: Sequence[float],
    second_moments: Sequence[float],
) -> PriorityResult:
    """Mean wait per class in the M/G/1 queue with non-preemptive priorities (Cobham).

    ``W_k = R / ((1 - sigma_{k-1}) (1 - sigma_k))`` with ``sigma_k = sum_{i<=k} lambda_i E[S_i]``
    and ``R = sum_i lambda_i E[S_i^2] / 2`` the mean residual service work seen by an arrival.
    With a single class this is the Pollaczek-Khinchine mean wait.

    Args:
        arrival_rates: arrival rate of each class (per minute), highest priority first.
        mean_service_times: ``E[S_k]`` of each class (minutes), > 0.
        second_moments: ``E[S_k^2]`` of each class (minutes squared); at least
            ``E[S_k]^2`` (equality for deterministic service, ``2 E[S_k]^2`` for exponential).

    Raises:
        ValueError: on invalid or inconsistent inputs, or when the total load is >= 1.
    """
    rates = _class_rates(arrival_rates)
    means = tuple(_rate("mean service time", s) for s in mean_service_times)
    seconds = tuple(_rate("second moment of service time", s) for s in second_moments)
    if not len(rates) == len(means) == len(seconds):
        raise ValueError("arrival_rates, mean_service_times and second_moments differ in length")
    for m1, m2 in zip(means, seconds, strict=True):
        # Relative slack so that deterministic service given as m1**2 is not rejected.
        if m2 < m1 * m1 * (1.0 - 1e-12):
            raise ValueError(f"second moment {m2} is below the squared mean {m1 * m1}")
    loads = [lam * s for lam, s in zip(rates, means, strict=True)]
    total = sum(loads)
    if total >= 1:
        raise ValueError(f"total load {total:.6g} >= 1: M/G/1 has no steady state")
    residual = 0.5 * sum(lam * s2 for lam, s2 in zip(rates, seconds, strict=True))
    return PriorityResult(
        arrival_rates=rates,
        mean_waits=_cobham_waits(rates, loads, residual),
        residual_work=residual,
        utilisation=total,
    )


# --------------------------------------------------------------------------------------
# Time-varying week: periodic steady state of the Kolmogorov forward equations
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeVaryingResult:
    """Periodic steady state of one station over a week, resolved by hour of the week.

    Hour ``h`` covers minutes ``[60 h, 60 h + 60)`` of the week, hour 0 being Monday
    00:00-01:00. Hourly values are exact time averages over the hour; ``*_at_hour_start``
    values are instantaneous, taken just after any shift start at that instant.

    Attributes:
        hourly_rates: arrival rate in each hour (per minute), shape (168,).
        service_rate: exponential service rate of a worker (per minute).
        on_shift: share of each hour that each worker is on shift, shape (168, workers).
        mean_queue: expected number of cases waiting (not in service), shape (168,).
        mean_busy: expected number of busy workers, overtime included, shape (168,).
        p_busy: probability that each worker is busy, shape (168, workers).
        mean_overtime: expected number of workers busy while off shift, shape (168,).
        utilisation_on_shift: busy on-shift worker-minutes over on-shift worker-minutes in
            the hour; NaN in hours where nobody is on shift. Shape (168,).
        p_wait: share of the hour's arrivals that find no idle on-shift worker and must
            queue (equal to the time average, by PASTA, as the rate is constant within the
            hour). Shape (168,).
        p_full: time-average probability that the truncated queue is full (arrivals are
            then blocked), shape (168,). Should be negligible.
        mean_queue_at_hour_start: expected queue length at each hour start, shape (168,).
        p_busy_at_hour_start: busy probability of each worker at each hour start,
            shape (168, workers).
        week_start_distribution: the periodic state distribution at Monday 00:00, indexed
            by ``q * 2**workers + busy_mask`` (bit ``i`` of the mask = worker ``i`` busy).
        max_queue: queue capacity ``Q`` of the truncated chain.
        weeks: number of weeks integrated from the empty system.
        convergence_error: estimated L1 distance between the week-start distribution
            behind the hourly values and the exact periodic one.
    """

    hourly_rates: npt.NDArray[np.float64] = field(repr=False)
    service_rate: float
    on_shift: npt.NDArray[np.float64] = field(repr=False)
    mean_queue: npt.NDArray[np.float64] = field(repr=False)
    mean_busy: npt.NDArray[np.float64] = field(repr=False)
    p_busy: npt.NDArray[np.float64] = field(repr=False)
    mean_overtime: npt.NDArray[np.float64] = field(repr=False)
    utilisation_on_shift: npt.NDArray[np.float64] = field(repr=False)
    p_wait: npt.NDArray[np.float64] = field(repr=False)
    p_full: npt.NDArray[np.float64] = field(repr=False)
    mean_queue_at_hour_start: npt.NDArray[np.float64] = field(repr=False)
    p_busy_at_hour_start: npt.NDArray[np.float64] = field(repr=False)
    week_start_distribution: npt.NDArray[np.float64] = field(repr=False)
    max_queue: int
    weeks: int
    convergence_error: float

    @property
    def workers(self) -> int:
        """Number of workers."""
        return int(self.p_busy.shape[1])

    @property
    def max_p_full(self) -> float:
        """Largest probability of a full queue, over hour averages and hour starts."""
        q_top = self.max_queue << self.workers
        return float(max(self.p_full.max(), self.week_start_distribution[q_top:].sum()))


@dataclass(frozen=True, slots=True)
class _Segment:
    """Stretch of the week with constant arrival rate and constant set of on-shift workers."""

    start: int  # minute of the week
    duration: int  # minutes
    hour: int
    on_mask: int  # bit i set: worker i on shift
    starting: tuple[int, ...]  # workers whose shift starts at `start`, ascending


def _whole_minute(value: float) -> int:
    x = float(value)
    if not x.is_integer():
        raise ValueError(f"shift boundaries must be whole minutes, got {value!r}")
    return int(x)


def _roster(worker_shifts: Sequence[Sequence[tuple[float, float]]]) -> npt.NDArray[np.bool_]:
    """On-shift indicator per worker and minute of the week, shape (workers, 10080)."""
    on = np.zeros((len(worker_shifts), MINUTES_PER_WEEK), dtype=bool)
    for i, shifts in enumerate(worker_shifts):
        for interval in shifts:
            start, end = (_whole_minute(x) for x in interval)
            if not 0 <= start < end <= MINUTES_PER_WEEK:
                raise ValueError(
                    f"worker {i}: shift ({start}, {end}) must satisfy "
                    f"0 <= start < end <= {MINUTES_PER_WEEK}"
                )
            # A union, so touching or overlapping intervals form one continuous shift.
            on[i, start:end] = True
    return on


def _segments(on: npt.NDArray[np.bool_]) -> list[_Segment]:
    # Rolling makes the roster periodic: a shift running to the end of Sunday and one from
    # Monday 00:00 join into one shift without an end and a start at the week boundary.
    before = np.roll(on, 1, axis=1)
    minute = np.arange(MINUTES_PER_WEEK)
    cut = (minute % MINUTES_PER_HOUR == 0) | (on != before).any(axis=0)
    starts = np.flatnonzero(cut)
    ends = np.append(starts[1:], MINUTES_PER_WEEK)
    bits = 1 << np.arange(on.shape[0])
    segments = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        starting = tuple(np.flatnonzero(on[:, s] & ~before[:, s]).tolist())
        segments.append(
            _Segment(
                start=s,
                duration=e - s,
                hour=s // MINUTES_PER_HOUR,
                on_mask=int(bits[on[:, s]].sum()),
                starting=starting,
            )
        )
    return segments


class _WeekChain:
    """Continuous-time Markov chain of one station with state ``(q, busy mask)``.

    State index ``q * 2**m + mask`` with ``q`` in ``0..Q`` cases waiting and bit ``i`` of
    ``mask`` set when worker ``i`` is busy, on shift or in overtime.
    """

    def __init__(self, workers: int, max_queue: int, service_rate: float) -> None:
        self.m = workers
        self.max_queue = max_queue
        self.mu = service_rate
        self.n = (max_queue + 1) << workers
        idx = np.arange(self.n, dtype=np.int64)
        self.q = idx >> workers
        self.mask = idx & ((1 << workers) - 1)
        self.busy = ((self.mask[:, None] >> np.arange(workers)) & 1).astype(np.float64)
        self.full = self.q == max_queue
        self._uniformised: dict[tuple[float, int], tuple[sparse.csr_array, float]] = {}
        self._weights: dict[float, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}
        self._must_wait: dict[int, npt.NDArray[np.bool_]] = {}
        self._jumps = [self._jump_indices(i) for i in range(workers)]

    def _jump_indices(self, worker: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        # At its shift start an idle worker takes the head of the queue: (q, mask) ->
        # (q - 1, mask | bit). A worker still busy from overtime needs no jump: being on
        # shift again, it takes the next case when it finishes.
        bit = 1 << worker
        src = np.flatnonzero(((self.mask & bit) == 0) & (self.q > 0))
        return src, src - (1 << self.m) + bit

    def shift_start(self, p: npt.NDArray[np.float64], worker: int) -> None:
        """Apply, in place, the jump of the distribution at ``worker``'s shift start."""
        src, dst = self._jumps[worker]
        moved = p[src]
        p[src] = 0.0
        # dst states have the worker's bit set, so they are disjoint from src and distinct.
        p[dst] += moved

    def must_wait(self, on_mask: int) -> npt.NDArray[np.bool_]:
        """States in which an arrival finds no idle on-shift worker."""
        if on_mask not in self._must_wait:
            self._must_wait[on_mask] = (on_mask & ~self.mask) == 0
        return self._must_wait[on_mask]

    def uniformised(self, rate: float, on_mask: int) -> tuple[sparse.csr_array, float]:
        """Uniformised transition matrix ``P = I + A / Lambda`` (column form) and ``Lambda``.

        ``A`` is the transposed generator, so ``dp/dt = A p`` for a column vector ``p``.
        """
        key = (rate, on_mask)
        if key not in self._uniformised:
            self._uniformised[key] = self._build(rate, on_mask)
        return self._uniformised[key]

    def _build(self, rate: float, on_mask: int) -> tuple[sparse.csr_array, float]:
        idx = np.arange(self.n, dtype=np.int64)
        level = 1 << self.m
        src_parts: list[npt.NDArray[np.int64]] = []
        dst_parts: list[npt.NDArray[np.int64]] = []
        rate_parts: list[npt.NDArray[np.float64]] = []

        if rate > 0:
            idle_on = on_mask & ~self.mask
            lowest = idle_on & -idle_on  # the lowest-index idle on-shift worker takes it
            served = idle_on != 0
            dst = np.where(served, idx | lowest, idx + level)
            # With no idle on-shift worker and a full queue the arrival is blocked.
            ok = served | (self.q < self.max_queue)
            src_parts.append(idx[ok])
            dst_parts.append(dst[ok])
            rate_parts.append(np.full(int(ok.sum()), rate))

        for i in range(self.m):
            bit = 1 << i
            src = idx[(self.mask & bit) != 0]
            # On shift a worker takes the next queued case if any; at the end of overtime
            # it leaves without taking new work.
            on_duty = bool(on_mask & bit)
            dst = np.where(on_duty & (self.q[src] > 0), src - level, src - bit)
            src_parts.append(src)
            dst_parts.append(dst)
            rate_parts.append(np.full(src.size, self.mu))

        src = np.concatenate(src_parts)
        dst = np.concatenate(dst_parts)
        rates = np.concatenate(rate_parts)
        out_rate = np.bincount(src, weights=rates, minlength=self.n)
        big_lambda = float(out_rate.max())
        if big_lambda == 0:
            return sparse.identity(self.n, format="csr"), 0.0
        diag = 1.0 - out_rate / big_lambda
        matrix = sparse.coo_array(
            (
                np.concatenate((rates / big_lambda, diag)),
                (np.concatenate((dst, idx)), np.concatenate((src, idx))),
            ),
            shape=(self.n, self.n),
        )
        return sparse.csr_array(matrix), big_lambda

    def poisson_weights(
        self, mean: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``P(N = k)`` and ``P(N > k)`` for ``N ~ Poisson(mean)``, cut where negligible."""
        if mean not in self._weights:
            k_max = int(mean + 12.0 * math.sqrt(mean) + 60.0)
            k = np.arange(k_max + 1, dtype=np.float64)
            tail = pdtrc(k, mean)
            last = int(np.argmax(tail < _POISSON_TAIL))
            k = k[: last + 1]
            pmf = np.exp(k * math.log(mean) - mean - gammaln(k + 1.0))
            self._weights[mean] = (pmf, tail[: last + 1])
        return self._weights[mean]

    def advance(
        self, p: npt.NDArray[np.float64], rate: float, on_mask: int, duration: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Solve the forward equations over ``duration`` minutes with constant rates.

        Returns ``p(duration)`` and ``integral_0^duration p(s) ds``, both by uniformisation:
        ``p(t) = sum_k Poisson(Lambda t; k) P^k p(0)`` and, integrating term by term,
        ``integral = sum_k P(N > k) P^k p(0) / Lambda`` with ``N ~ Poisson(Lambda t)``. Every
        term is non-negative, so there is no cancellation, and the only error is the dropped
        Poisson tail (below 1e-16).
        """
        matrix, big_lambda = self.uniformised(rate, on_mask)
        if big_lambda == 0:
            return p.copy(), p * duration
        pmf, tail = self.poisson_weights(big_lambda * duration)
        v = p
        p_end = pmf[0] * v
        integral = tail[0] * v
        for w, t in zip(pmf[1:].tolist(), tail[1:].tolist(), strict=True):
            v = matrix @ v
            p_end += w * v
            integral += t * v
        return p_end, integral / big_lambda


@dataclass
class _WeekTotals:
    """Per-hour integrals over one pass through the week (units: minutes)."""

    queue: npt.NDArray[np.float64]
    busy: npt.NDArray[np.float64]
    busy_on_shift: npt.NDArray[np.float64]
    must_wait: npt.NDArray[np.float64]
    full: npt.NDArray[np.float64]
    queue_at_start: npt.NDArray[np.float64]
    busy_at_start: npt.NDArray[np.float64]

    @classmethod
    def zeros(cls, workers: int) -> _WeekTotals:
        h = HOURS_PER_WEEK
        return cls(
            queue=np.zeros(h),
            busy=np.zeros((h, workers)),
            busy_on_shift=np.zeros(h),
            must_wait=np.zeros(h),
            full=np.zeros(h),
            queue_at_start=np.zeros(h),
            busy_at_start=np.zeros((h, workers)),
        )


def _one_week(
    chain: _WeekChain,
    segments: Sequence[_Segment],
    rates: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], _WeekTotals]:
    totals = _WeekTotals.zeros(chain.m)
    p = p.copy()
    for seg in segments:
        # Simultaneous starts are applied in worker order, so the lowest index takes the
        # first queued case, as for arrivals.
        for worker in seg.starting:
            chain.shift_start(p, worker)
        if seg.start % MINUTES_PER_HOUR == 0:
            totals.queue_at_start[seg.hour] = chain.q @ p
            totals.busy_at_start[seg.hour] = p @ chain.busy
        p, integral = chain.advance(p, float(rates[seg.hour]), seg.on_mask, seg.duration)
        busy = integral @ chain.busy
        on_bits = ((seg.on_mask >> np.arange(chain.m)) & 1).astype(bool)
        totals.queue[seg.hour] += chain.q @ integral
        totals.busy[seg.hour] += busy
        totals.busy_on_shift[seg.hour] += busy[on_bits].sum()
        totals.must_wait[seg.hour] += integral[chain.must_wait(seg.on_mask)].sum()
        totals.full[seg.hour] += integral[chain.full].sum()
    return p, totals


def _solve_week(
    chain: _WeekChain,
    segments: Sequence[_Segment],
    rates: npt.NDArray[np.float64],
    tol: float,
    max_weeks: int,
) -> tuple[npt.NDArray[np.float64], _WeekTotals, int, float]:
    """Iterate the week map from the empty station until the week start is periodic."""
    p = np.zeros(chain.n)
    p[0] = 1.0
    previous_step = math.inf
    for week in range(1, max_weeks + 1):
        p_next, totals = _one_week(chain, segments, rates, p)
        step = float(np.abs(p_next - p).sum())
        # The week map is a linear contraction towards the periodic law; with factor r the
        # start of this pass is within step / (1 - r) of it (geometric series), and r is
        # estimated from successive steps.
        ratio = step / previous_step if previous_step > 0 else 0.0
        error = step / (1.0 - ratio) if ratio < 1 else math.inf
        # Round-off alone moves a probability vector by ~1e-16 per entry each week.
        if error < tol or step < 1e-15 * chain.n:
            return p, totals, week, error
        p, previous_step = p_next, step
    raise RuntimeError(
        f"no periodic steady state within {max_weeks} weeks (last weekly change {step:.3g})"
    )


def time_varying_week(
    hourly_rates: npt.ArrayLike,
    service_rate: float,
    worker_shifts: Sequence[Sequence[tuple[float, float]]],
    *,
    max_queue: int | None = None,
    tol: float = 1e-10,
    max_weeks: int = 1000,
) -> TimeVaryingResult:
    """Exact periodic steady state of one station over a week with shifts and overtime.

    Model (the engine's rules; one station, one FIFO queue, no abandonment):

    * Arrivals are Poisson with a rate that is constant within each hour of the week.
    * Each worker follows a weekly roster of on-shift intervals; rosters repeat weekly.
    * Interviews are exponential with rate ``service_rate``, the same for every worker.
    * An arriving case goes to the idle on-shift worker with the lowest index, or joins
      the queue when there is none.
    * A worker finishing an interview takes the next queued case if it is on shift;
      otherwise (overtime) it becomes idle and off duty.
    * At a shift start an idle worker takes the head of the queue, if any. Workers whose
      shifts start at the same minute do so in index order.
    * At a shift end an idle worker leaves; a busy one finishes its interview (overtime)
      and then leaves without taking new work, until its next shift start.

    Nothing requires a worker to be on shift at all times: cases arriving when nobody is
    on shift wait for the next shift start.

    The state is the queue length ``q`` (``0..max_queue``) and a busy flag per worker, so
    the chain has ``(max_queue + 1) * 2**workers`` states. Arrivals finding ``q =
    max_queue`` and no idle on-shift worker are blocked (lost); ``max_queue`` must be large
    enough for this to be negligible, see ``TimeVaryingResult.p_full``.

    The week is cut into segments of constant arrival rate and roster (every hour and every
    shift boundary). In each the forward equations ``dp/dt = p G`` have a constant generator
    and are solved exactly by uniformisation, which also yields the exact time integral of
    ``p`` for the hourly averages; shift starts apply their jump to ``p``. Weeks are
    iterated from the empty station until the distribution at the week start has converged.

    Args:
        hourly_rates: 168 arrival rates (per minute), hour 0 = Monday 00:00-01:00; >= 0.
        service_rate: exponential interview rate of one worker (per minute), > 0.
        worker_shifts: for each worker, its ``(start_minute, end_minute)`` on-shift
            intervals within ``[0, 10080)``, whole minutes, minute 0 = Monday 00:00.
            Touching or overlapping intervals are merged, including across the week
            boundary. A shift crossing Sunday midnight is given as two intervals.
        max_queue: queue capacity ``Q`` of the truncated chain. ``None`` picks one: it
            starts at 64 and doubles until the time-average probability of a full queue is
            below 1e-12 in every hour (up to 4096).
        tol: bound on the L1 error of the periodic week-start distribution behind the
            results. Keep it above ~1e-13, where round-off dominates.
        max_weeks: give up after this many weeks.

    Returns:
        Hourly time averages of the periodic steady state, see :class:`TimeVaryingResult`.

    Raises:
        ValueError: on invalid inputs, or when the weekly arrivals are not below the weekly
            on-shift capacity, so that no periodic steady state exists.
        RuntimeError: when the iteration has not converged after ``max_weeks`` weeks.
    """
    rates = np.asarray(hourly_rates, dtype=np.float64)
    if rates.shape != (HOURS_PER_WEEK,):
        raise ValueError(f"hourly_rates must have shape ({HOURS_PER_WEEK},), got {rates.shape}")
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("hourly_rates must be finite and non-negative")
    mu = _rate("service_rate", service_rate)
    workers = len(worker_shifts)
    if workers < 1:
        raise ValueError("at least one worker is needed")
    if tol <= 0:
        raise ValueError(f"tol must be positive, got {tol}")
    on = _roster(worker_shifts)

    # Overtime adds at most one interview per shift end, a bounded amount of work per week,
    # so stability is decided by on-shift capacity alone.
    weekly_arrivals = float(rates.sum()) * MINUTES_PER_HOUR
    weekly_capacity = mu * float(on.sum())
    if weekly_arrivals >= weekly_capacity:
        raise ValueError(
            f"weekly arrivals {weekly_arrivals:.6g} >= weekly on-shift capacity "
            f"{weekly_capacity:.6g}: no periodic steady state"
        )

    segments = _segments(on)
    if max_queue is None:
        queue_sizes = [64 << k for k in range(7)]
    else:
        try:
            q_cap = operator.index(max_queue)
        except TypeError:
            raise ValueError(f"max_queue must be an integer, got {max_queue!r}") from None
        if q_cap < 1:
            raise ValueError(f"max_queue must be at least 1, got {q_cap}")
        queue_sizes = [q_cap]

    for size in queue_sizes:
        chain = _WeekChain(workers, size, mu)
        p_start, totals, weeks, error = _solve_week(chain, segments, rates, tol, max_weeks)
        hour = float(MINUTES_PER_HOUR)
        on_share = on.reshape(workers, HOURS_PER_WEEK, MINUTES_PER_HOUR).mean(axis=2).T
        on_minutes = on_share.sum(axis=1) * hour
        with np.errstate(invalid="ignore", divide="ignore"):
            utilisation = np.where(on_minutes > 0, totals.busy_on_shift / on_minutes, np.nan)
        busy_total = totals.busy.sum(axis=1)
        result = TimeVaryingResult(
            hourly_rates=rates.copy(),
            service_rate=mu,
            on_shift=on_share,
            mean_queue=totals.queue / hour,
            mean_busy=busy_total / hour,
            p_busy=totals.busy / hour,
            mean_overtime=(busy_total - totals.busy_on_shift) / hour,
            utilisation_on_shift=utilisation,
            p_wait=totals.must_wait / hour,
            p_full=totals.full / hour,
            mean_queue_at_hour_start=totals.queue_at_start,
            p_busy_at_hour_start=totals.busy_at_start,
            week_start_distribution=p_start,
            max_queue=size,
            weeks=weeks,
            convergence_error=error,
        )
        if max_queue is not None or result.max_p_full < _AUTO_QUEUE_MASS:
            break

    if result.max_p_full > _WARN_QUEUE_MASS:
        warnings.warn(
            f"queue truncated at {result.max_queue} holds probability {result.max_p_full:.3g} "
            "at its top level; raise max_queue",
            RuntimeWarning,
            stacklevel=2,
        )
    return result
