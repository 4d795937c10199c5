"""Tests of sim.validation.theory against closed forms, independent computations and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from scipy.special import gammaln, logsumexp

from sim.validation.theory import (
    HOURS_PER_WEEK,
    MINUTES_PER_WEEK,
    erlang_a,
    erlang_b,
    erlang_c,
    priority_mg1,
    priority_mmc,
    time_varying_week,
)

DAY = 1440


def weekday_shifts(start_hour: int, end_hour: int, days: range = range(5)) -> list[tuple[int, int]]:
    return [(d * DAY + start_hour * 60, d * DAY + end_hour * 60) for d in days]


# --------------------------------------------------------------------------------------
# Erlang B / C
# --------------------------------------------------------------------------------------


def test_erlang_b_small_closed_forms() -> None:
    a = 1.7
    assert erlang_b(1, a) == pytest.approx(a / (1 + a), rel=1e-14)
    assert erlang_b(2, a) == pytest.approx((a * a / 2) / (1 + a + a * a / 2), rel=1e-14)


def test_erlang_c_single_server_is_mm1() -> None:
    lam, mu = 0.03, 0.05
    rho = lam / mu
    r = erlang_c(1, lam, mu)
    assert r.p_wait == pytest.approx(rho, rel=1e-14)
    assert r.mean_wait == pytest.approx(rho / (mu - lam), rel=1e-14)
    assert r.mean_queue_length == pytest.approx(rho * rho / (1 - rho), rel=1e-14)
    assert r.utilisation == pytest.approx(rho, rel=1e-14)
    t = 25.0
    assert r.p_wait_exceeds(t) == pytest.approx(rho * math.exp(-(mu - lam) * t), rel=1e-14)
    assert r.p_wait_exceeds(0.0) == pytest.approx(rho, rel=1e-14)
    assert r.p_wait_exceeds(-1.0) == 1.0


def test_erlang_c_two_servers_closed_form() -> None:
    lam, mu = 1.0, 0.8
    rho = lam / (2 * mu)
    r = erlang_c(2, lam, mu)
    assert r.p_wait == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-14)
    # M/M/2: Lq = 2 rho^3 / (1 - rho^2).
    assert r.mean_queue_length == pytest.approx(2 * rho**3 / (1 - rho**2), rel=1e-13)
    assert r.mean_wait == pytest.approx(r.mean_queue_length / lam, rel=1e-14)


def test_erlang_c_many_servers_matches_log_space_sum() -> None:
    c, lam, mu = 200, 0.95 * 200 / 30.0, 1 / 30.0
    a = lam / mu
    # Textbook form C = (a^c/c! * c/(c-a)) / (sum_{k<c} a^k/k! + a^c/c! * c/(c-a)), in logs.
    k = np.arange(c)
    log_terms = k * math.log(a) - gammaln(k + 1)
    log_top = c * math.log(a) - gammaln(c + 1) + math.log(c / (c - a))
    expected = math.exp(log_top - logsumexp(np.append(log_terms, log_top)))
    r = erlang_c(c, lam, mu)
    assert r.p_wait == pytest.approx(expected, rel=1e-11)
    assert 0.3 < r.p_wait < 0.6  # a heavily loaded, non-degenerate case


@pytest.mark.parametrize(
    ("c", "lam", "mu"),
    [(0, 1.0, 1.0), (1.5, 1.0, 1.0), (2, 0.0, 1.0), (2, 1.0, -1.0), (2, 2.0, 1.0), (2, 3.0, 1.0)],
)
def test_erlang_c_rejects_impossible_inputs(c: float, lam: float, mu: float) -> None:
    with pytest.raises(ValueError):
        erlang_c(c, lam, mu)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Erlang A
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("c", "lam", "mu"), [(1, 0.7, 1.0), (3, 1.0, 0.4), (200, 6.0, 1 / 32)])
def test_erlang_a_tiny_patience_rate_is_erlang_c(c: int, lam: float, mu: float) -> None:
    ec = erlang_c(c, lam, mu)
    ea = erlang_a(c, lam, mu, 1e-10)
    assert ea.p_wait == pytest.approx(ec.p_wait, rel=1e-7)
    assert ea.mean_wait_all == pytest.approx(ec.mean_wait, rel=1e-7)
    assert ea.mean_wait_served == pytest.approx(ec.mean_wait, rel=1e-7)
    assert ea.mean_queue_length == pytest.approx(ec.mean_queue_length, rel=1e-7)
    assert ea.p_abandon < 1e-8
    exact = erlang_a(c, lam, mu, 0.0)
    assert exact.p_wait == pytest.approx(ec.p_wait, rel=1e-12)
    assert exact.mean_wait_served == pytest.approx(ec.mean_wait, rel=1e-12)
    assert exact.p_abandon == 0.0
    assert math.isnan(exact.mean_wait_abandoned)


def _mm1m_by_linear_solve(lam: float, mu: float, theta: float, n_max: int) -> np.ndarray:
    """Stationary law of M/M/1+M by solving pi G = 0 on a truncated generator."""
    gen = np.zeros((n_max + 1, n_max + 1))
    for n in range(n_max + 1):
        if n < n_max:
            gen[n, n + 1] = lam
        if n > 0:
            gen[n, n - 1] = mu + (n - 1) * theta
        gen[n, n] = -gen[n].sum()
    # Replace one balance equation by the normalisation.
    lhs = np.vstack([gen.T[:-1], np.ones(n_max + 1)])
    rhs = np.zeros(n_max + 1)
    rhs[-1] = 1.0
    return np.linalg.solve(lhs, rhs)


def test_erlang_a_single_server_matches_independent_chain() -> None:
    lam, mu, theta = 1.3, 1.0, 0.25  # overloaded: only abandonment keeps it stable
    pi = _mm1m_by_linear_solve(lam, mu, theta, 150)
    n = np.arange(pi.size)
    queue = float(np.dot(pi, np.maximum(n - 1, 0)))
    r = erlang_a(1, lam, mu, theta)
    assert r.distribution[:40] == pytest.approx(pi[:40], abs=1e-13)
    assert r.p_wait == pytest.approx(1 - pi[0], rel=1e-12)
    assert r.mean_queue_length == pytest.approx(queue, rel=1e-11)
    # Rate balance: abandonments per minute theta*Lq out of lambda arrivals per minute.
    assert r.p_abandon == pytest.approx(theta * queue / lam, rel=1e-11)
    # Little's law over all arrivals.
    assert r.mean_wait_all == pytest.approx(queue / lam, rel=1e-11)
    assert r.mean_busy_servers == pytest.approx(1 - pi[0], rel=1e-12)


@pytest.mark.parametrize(("c", "lam", "mu", "theta"), [(3, 1.0, 0.4, 0.2), (50, 3.0, 0.05, 0.01)])
def test_erlang_a_per_arrival_formulas_agree_with_balance_laws(
    c: int, lam: float, mu: float, theta: float
) -> None:
    # p_abandon and the waits come from the tagged-arrival derivation; these identities
    # come from flow balance, an independent route.
    r = erlang_a(c, lam, mu, theta)
    assert r.p_abandon == pytest.approx(theta * r.mean_queue_length / lam, rel=1e-11)
    assert r.mean_wait_all == pytest.approx(r.mean_queue_length / lam, rel=1e-11)
    assert r.mean_busy_servers == pytest.approx(lam * (1 - r.p_abandon) / mu, rel=1e-11)
    split = (1 - r.p_abandon) * r.mean_wait_served + r.p_abandon * r.mean_wait_abandoned
    assert split == pytest.approx(r.mean_wait_all, rel=1e-12)
    assert r.distribution.sum() == pytest.approx(1.0, abs=1e-14)


def _mm1m_monte_carlo(
    lam: float, mu: float, theta: float, customers: int, batches: int, seed: int
) -> tuple[float, float, float]:
    """Served-wait estimate, its standard error, and the abandonment share, for FIFO M/M/1+M.

    With one FIFO server the wait a case would get is the work of the earlier cases that
    are served (abandoners leave no work), so each case is served iff its patience is at
    least that virtual wait.
    """
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / lam, customers).tolist()
    patience = rng.exponential(1 / theta, customers).tolist()
    service = rng.exponential(1 / mu, customers).tolist()
    served = np.zeros(customers, dtype=bool)
    waits = np.zeros(customers)
    work = 0.0
    for i in range(customers):
        work = max(0.0, work - gaps[i])
        if patience[i] >= work:
            served[i] = True
            waits[i] = work
            work += service[i]
    # Ratio estimator over batches: sum of served waits / number served.
    num = waits.reshape(batches, -1).sum(axis=1)
    den = served.reshape(batches, -1).sum(axis=1).astype(float)
    ratio = num.sum() / den.sum()
    resid = num - ratio * den
    se = math.sqrt(resid.var(ddof=1) / batches) / den.mean()
    return ratio, se, 1 - served.mean()


def test_erlang_a_served_wait_matches_monte_carlo() -> None:
    lam, mu, theta = 1.0, 1.0, 0.5
    estimate, se, abandoned = _mm1m_monte_carlo(lam, mu, theta, 200_000, 50, seed=20240601)
    r = erlang_a(1, lam, mu, theta)
    assert abs(estimate - r.mean_wait_served) < 4 * se
    assert se < 0.01 * r.mean_wait_served
    assert abandoned == pytest.approx(r.p_abandon, abs=0.006)
    # The tempting shortcut E[W]/(1 - p_abandon) is wrong, and this test can tell.
    naive = r.mean_wait_all / (1 - r.p_abandon)
    assert abs(estimate - naive) > 20 * se


def test_erlang_a_overload_and_invalid_inputs() -> None:
    r = erlang_a(2, 5.0, 1.0, 0.5)  # load 2.5, held by abandonment
    assert r.p_abandon == pytest.approx(0.5 * r.mean_queue_length / 5.0, rel=1e-11)
    # At most c mu = 2 of the 5 arrivals per minute can be served.
    assert r.p_abandon > 1 - 2 / 5
    with pytest.raises(ValueError):
        erlang_a(2, 2.0, 1.0, 0.0)
    with pytest.raises(ValueError):
        erlang_a(0, 1.0, 1.0, 0.1)
    with pytest.raises(ValueError):
        erlang_a(2, 1.0, 1.0, -0.1)
    with pytest.raises(ValueError):
        erlang_a(2, 1.0, 0.0, 0.1)


# --------------------------------------------------------------------------------------
# Priorities
# --------------------------------------------------------------------------------------


def test_priority_mmc_single_class_is_erlang_c() -> None:
    r = priority_mmc(3, [0.08], 1 / 30)
    assert r.mean_waits[0] == pytest.approx(erlang_c(3, 0.08, 1 / 30).mean_wait, rel=1e-13)


def test_priority_mmc_conserves_fcfs_mean_wait() -> None:
    c, mu = 4, 1 / 40
    rates = [0.02, 0.05, 0.015]
    r = priority_mmc(c, rates, mu)
    fcfs = erlang_c(c, sum(rates), mu)
    # Work conservation with identical exponential service: the arrival-weighted mean wait
    # does not depend on the order of service.
    assert r.mean_wait == pytest.approx(fcfs.mean_wait, rel=1e-13)
    assert r.mean_waits[0] < fcfs.mean_wait < r.mean_waits[2]
    assert r.mean_waits[0] < r.mean_waits[1] < r.mean_waits[2]
    sigma1 = rates[0] / (c * mu)
    assert r.mean_waits[0] == pytest.approx(fcfs.p_wait / (c * mu) / (1 - sigma1), rel=1e-13)


def test_priority_mg1_special_cases() -> None:
    lam, s = 0.02, 30.0
    # Deterministic service: Pollaczek-Khinchine W = lambda s^2 / (2 (1 - rho)).
    md1 = priority_mg1([lam], [s], [s * s])
    assert md1.mean_waits[0] == pytest.approx(lam * s * s / (2 * (1 - lam * s)), rel=1e-13)
    # Exponential service (E[S^2] = 2 s^2) agrees with the M/M/c formula at c = 1.
    rates = [0.004, 0.01, 0.012]
    exp_mg1 = priority_mg1(rates, [s] * 3, [2 * s * s] * 3)
    mm1 = priority_mmc(1, rates, 1 / s)
    assert exp_mg1.mean_waits == pytest.approx(mm1.mean_waits, rel=1e-13)
    with pytest.raises(ValueError):
        priority_mg1([0.01], [30.0], [800.0])  # second moment below the squared mean
    with pytest.raises(ValueError):
        priority_mg1([0.02, 0.02], [30.0, 30.0], [900.0, 900.0])  # load 1.2
    with pytest.raises(ValueError):
        priority_mmc(2, [0.05, 0.02], 1 / 30)  # load 1.05


# --------------------------------------------------------------------------------------
# Time-varying week
# --------------------------------------------------------------------------------------


def test_time_varying_constant_rates_reach_stationary_mmc() -> None:
    lam, mu, c = 0.07, 1 / 35, 3
    r = time_varying_week(np.full(HOURS_PER_WEEK, lam), mu, [[(0, MINUTES_PER_WEEK)]] * c)
    ec = erlang_c(c, lam, mu)
    assert r.max_p_full < 1e-12
    assert r.mean_queue == pytest.approx(np.full(HOURS_PER_WEEK, ec.mean_queue_length), abs=1e-9)
    assert r.mean_busy == pytest.approx(np.full(HOURS_PER_WEEK, lam / mu), abs=1e-9)
    assert r.p_wait == pytest.approx(np.full(HOURS_PER_WEEK, ec.p_wait), abs=1e-9)
    # The lowest index gets work first, so it is the busiest.
    assert np.all(np.diff(r.p_busy[0]) < 0)
    assert r.mean_overtime == pytest.approx(np.zeros(HOURS_PER_WEEK), abs=1e-15)


def _office_rates() -> np.ndarray:
    rates = np.full(HOURS_PER_WEEK, 0.01)
    for d in range(5):
        rates[d * 24 + 8 : d * 24 + 18] = 0.06
    return rates


def test_time_varying_busy_worker_lingers_after_shift_end() -> None:
    mu = 1 / 45
    shifts = [[(0, MINUTES_PER_WEEK)], weekday_shifts(9, 17), weekday_shifts(9, 17)]
    r = time_varying_week(_office_rates(), mu, shifts, max_queue=150)
    assert r.max_p_full < 1e-12
    h = 17  # Monday 17:00-18:00, first hour after workers 1 and 2 leave
    assert r.on_shift[h] == pytest.approx([1.0, 0.0, 0.0])
    assert r.mean_busy[h] > r.on_shift[h].sum() + 0.5
    # Off shift, a busy worker only finishes its case: exponential decay from 17:00.
    decay = math.exp(-60 * mu)
    start = r.p_busy_at_hour_start[h, 1]
    assert start > 0.8
    assert r.p_busy[h, 1] == pytest.approx(start * (1 - decay) / (60 * mu), rel=1e-9)
    assert r.p_busy_at_hour_start[h + 1, 1] == pytest.approx(start * decay, rel=1e-9)
    assert r.mean_overtime[h] == pytest.approx(r.p_busy[h, 1] + r.p_busy[h, 2], rel=1e-12)
    assert r.utilisation_on_shift[h] == pytest.approx(r.p_busy[h, 0], rel=1e-12)
    # Same decay over the six hours after Friday 17:00.
    friday = 4 * 24 + 17
    assert r.p_busy_at_hour_start[friday + 6, 1] == pytest.approx(
        r.p_busy_at_hour_start[friday, 1] * decay**6, rel=1e-9
    )


def _reference_week(
    rates: np.ndarray, mu: float, on: np.ndarray, q_max: int, weeks: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly E[q] and P(busy) by dense matrix exponentials, rosters changing on the hour.

    A second, deliberately plain implementation of the engine's rules: states are tuples
    enumerated in a list, and each hour is propagated with one Van Loan exponential that
    also yields the integral of the distribution over the hour.
    """
    m = on.shape[0]
    states = [(q, busy) for q in range(q_max + 1) for busy in np.ndindex(*(2,) * m)]
    index = {s: i for i, s in enumerate(states)}
    n = len(states)

    def generator(lam: float, on_now: tuple[bool, ...]) -> np.ndarray:
        g = np.zeros((n, n))
        for (q, busy), i in index.items():
            idle = [w for w in range(m) if on_now[w] and not busy[w]]
            if idle:
                new = list(busy)
                new[idle[0]] = 1
                g[i, index[(q, tuple(new))]] += lam
            elif q < q_max:
                g[i, index[(q + 1, busy)]] += lam
            for w in range(m):
                if busy[w]:
                    if on_now[w] and q > 0:
                        g[i, index[(q - 1, busy)]] += mu
                    else:
                        new = list(busy)
                        new[w] = 0
                        g[i, index[(q, tuple(new))]] += mu
            g[i, i] = -g[i].sum()
        return g

    cache: dict[tuple[float, tuple[bool, ...]], tuple[np.ndarray, np.ndarray]] = {}

    def hour_maps(lam: float, on_now: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
        if (lam, on_now) not in cache:
            big = np.zeros((2 * n, 2 * n))
            big[:n, :n] = generator(lam, on_now)
            big[:n, n:] = np.eye(n)
            e = scipy.linalg.expm(big * 60.0)
            cache[(lam, on_now)] = (e[:n, :n], e[:n, n:])  # p(60) = p e, int = p int_map
        return cache[(lam, on_now)]

    qs = np.array([s[0] for s in states], dtype=float)
    busy_cols = np.array([s[1] for s in states], dtype=float)
    p = np.zeros(n)
    p[index[(0, (0,) * m)]] = 1.0
    mean_q = np.zeros(HOURS_PER_WEEK)
    p_busy = np.zeros((HOURS_PER_WEEK, m))
    for _ in range(weeks):
        for h in range(HOURS_PER_WEEK):
            minute = h * 60
            on_now = tuple(bool(x) for x in on[:, minute])
            for w in range(m):
                if on[w, minute] and not on[w, minute - 1]:  # minute -1 wraps to Sunday
                    new_p = p.copy()
                    for (q, busy), i in index.items():
                        if q > 0 and not busy[w]:
                            nb = list(busy)
                            nb[w] = 1
                            new_p[i] -= p[i]
                            new_p[index[(q - 1, tuple(nb))]] += p[i]
                    p = new_p
            step, integral = hour_maps(float(rates[h]), on_now)
            mean_q[h] = (p @ integral) @ qs / 60
            p_busy[h] = (p @ integral) @ busy_cols / 60
            p = p @ step
    return mean_q, p_busy


# The small queue cap is deliberate: blocked arrivals are part of both models and so are
# checked too, and the solver rightly warns about them.
@pytest.mark.filterwarnings("ignore:queue truncated:RuntimeWarning")
def test_time_varying_matches_dense_reference_with_gaps_and_shift_starts() -> None:
    mu = 1 / 40
    rates = _office_rates() * 0.5
    saturday = (5 * DAY + 9 * 60, 5 * DAY + 13 * 60)
    shifts = [[*weekday_shifts(6, 22), saturday], [*weekday_shifts(9, 17), saturday]]
    # Nobody is on shift at night or on Sunday, so cases queue up and the first shift
    # start takes one at once; on Saturday both workers start at the same minute.
    on = np.zeros((2, MINUTES_PER_WEEK), dtype=bool)
    for w, intervals in enumerate(shifts):
        for s, e in intervals:
            on[w, s:e] = True
    q_max = 20
    r = time_varying_week(rates, mu, shifts, max_queue=q_max)
    ref_q, ref_busy = _reference_week(rates, mu, on, q_max, weeks=12)
    assert r.mean_queue == pytest.approx(ref_q, abs=1e-9)
    assert r.p_busy == pytest.approx(ref_busy, abs=1e-9)
    saturday_9 = 5 * 24 + 9
    assert r.mean_queue_at_hour_start[saturday_9 - 1] > 0.5  # a real backlog to take
    assert r.max_p_full > 1e-3  # and the blocking rule is exercised
    assert r.p_busy[saturday_9, 0] > r.p_busy[saturday_9, 1]


def test_time_varying_merges_touching_shifts_across_week_boundary() -> None:
    mu = 1 / 30
    rates = np.full(HOURS_PER_WEEK, 0.02)
    split = [[(0, 3000), (3000, MINUTES_PER_WEEK)]]
    whole = [[(0, MINUTES_PER_WEEK)]]
    a = time_varying_week(rates, mu, split, max_queue=40)
    b = time_varying_week(rates, mu, whole, max_queue=40)
    assert a.mean_queue == pytest.approx(b.mean_queue, abs=1e-14)


@pytest.mark.parametrize(
    "shifts",
    [
        [],  # no worker
        [[(600, 600)]],  # empty interval
        [[(0, MINUTES_PER_WEEK + 1)]],  # beyond the week
        [[(0.5, 600)]],  # not a whole minute
        [[(0, 60)]],  # far too little capacity for the arrivals
    ],
)
def test_time_varying_rejects_invalid_rosters(shifts: list[list[tuple[float, float]]]) -> None:
    with pytest.raises(ValueError):
        time_varying_week(np.full(HOURS_PER_WEEK, 0.01), 1 / 30, shifts)


def test_time_varying_rejects_invalid_rates() -> None:
    roster = [[(0, MINUTES_PER_WEEK)]]
    with pytest.raises(ValueError):
        time_varying_week(np.full(24, 0.01), 1 / 30, roster)
    with pytest.raises(ValueError):
        time_varying_week(np.full(HOURS_PER_WEEK, -0.01), 1 / 30, roster)
    with pytest.raises(ValueError):
        time_varying_week(np.full(HOURS_PER_WEEK, 0.01), 0.0, roster)


def test_time_varying_warns_when_queue_truncation_bites() -> None:
    with pytest.warns(RuntimeWarning, match="max_queue"):
        r = time_varying_week(
            np.full(HOURS_PER_WEEK, 0.03), 1 / 30, [[(0, MINUTES_PER_WEEK)]], max_queue=5
        )
    assert r.max_p_full > 1e-3
