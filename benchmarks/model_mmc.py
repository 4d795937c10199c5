"""The station model reduced to an M/M/c queue, run through the code path of a real
scenario (``sim.pipeline.tasks.run_replication``: demand, coverage plan, SimPy
engine, records and measures), for comparison with the reference engines of the benchmark suite.

The reduction: one population arriving as a Poisson process, ``c`` workers on site
around the clock (no absences, no travel), exponential interviews, every case referred
at once, nobody leaving the queue.  Callbacks and on call then never come into play,
and the queue is M/M/c FIFO.  Time is in minutes, as in the model.

Run ``python benchmarks/model_mmc.py`` for the M/M/3, load 0.9 timing and the check
against Erlang C.
"""

from __future__ import annotations

import numpy as np

from sim.config.schema import Scenario, scenario_from_dict
from sim.config.week import MINUTES_PER_DAY, MINUTES_PER_HOUR
from sim.pipeline.tasks import run_replication

try:
    from benchmarks.mmc_result import MMcResult, report_standalone
except ModuleNotFoundError:  # run as a script: python benchmarks/model_mmc.py
    from mmc_result import MMcResult, report_standalone  # type: ignore[no-redef]

__all__ = ["MMcResult", "mmc_reduction", "mmc_scenario", "simulate_mmc"]


def mmc_scenario(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> Scenario:
    """The M/M/c reduction of the model, long enough for ``n_customers`` arrivals on
    average (rates per minute; no warm-up and no drain, so every arrival is measured)."""
    days = n_customers / arrival_rate / MINUTES_PER_DAY
    return mmc_reduction(c, arrival_rate * MINUTES_PER_HOUR, 1.0 / service_rate, days, seed)


def mmc_reduction(
    c: int, per_hour: float, mean_interview: float, days: float, seed: int
) -> Scenario:
    """The model reduced to M/M/c: one population arriving as a Poisson process at
    ``per_hour``, ``c`` workers always on site, exponential interviews of mean
    ``mean_interview`` minutes, nobody leaving, every case referred at once; callbacks
    and on call then never come into play.  ``days`` measured, no warm-up, no drain."""
    return scenario_from_dict(
        {
            "name": f"mm{c}",
            "simulation": {
                "warm_up_days": 0,
                "run_days": days,
                "drain_days": 0,
                "replications": 1,
                "seed": seed,
            },
            "populations": {
                "customer": {
                    "arrivals": {"per_hour": per_hour},
                    "interview": {"dist": "exponential", "mean": mean_interview},
                }
            },
            "staffing": {
                "workers": [
                    {
                        "name": "server",
                        "count": c,
                        "roster": [{"days": "all", "start": "00:00", "end": "24:00"}],
                    }
                ]
            },
        }
    )


def simulate_mmc(
    c: int, arrival_rate: float, service_rate: float, n_customers: int, seed: int
) -> MMcResult:
    """Run the M/M/c reduction through ``run_replication`` (records and measures
    included, as for any scenario) and summarise the waits of the cases contacted.

    The number of arrivals is Poisson with mean ``n_customers``; ``customers`` in the
    result is the number that arrived.
    """
    scenario = mmc_scenario(c, arrival_rate, service_rate, n_customers, seed)
    cases = run_replication(scenario, 0).window.cases
    waits = (cases.first_contact - cases.referral)[~np.isnan(cases.first_contact)]
    return MMcResult(
        customers=len(cases),
        mean_wait=float(waits.mean()),
        p_wait=float(np.count_nonzero(waits > 0.0) / len(waits)),
    )


if __name__ == "__main__":
    report_standalone("model", simulate_mmc)
