"""The national intervals estimated from the catchments (``sim.national.variance``):
they cover at their level, they agree with the spread between many national
replications, and the catchments' contributions add up to the national sums."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from test_national import small_config

from sim.measures.stats import intervals
from sim.national.variance import Contributions, catchment_difference, catchment_intervals


def _share(sums: dict[str, object]) -> dict[str, float]:
    return {"share": float(sums["unmet"]) / float(sums["servable"])}  # type: ignore[arg-type]


def _country(rng: np.random.Generator, catchments: int, replications: int, shift: float):
    """Contributions of independent catchments of unequal spread; ``shift`` moves the
    unmet of each catchment by a common random amount (a second allocation, paired),
    and of three of them (a third; with the true difference of its share)."""
    need = rng.uniform(500, 1500, catchments)
    spread = rng.uniform(5, 60, catchments)
    noise = rng.normal(size=(catchments, replications))
    servable = need[:, None] + 10 * rng.normal(size=(catchments, replications))
    unmet = 0.5 * need[:, None] + spread[:, None] * noise
    other = (
        unmet
        - shift * need[:, None]
        + 0.3 * spread[:, None] * rng.normal(size=(catchments, replications))
    )
    departements = {"servable": servable[:, :, None], "unmet": unmet[:, :, None]}
    first = Contributions(
        tuple(map(str, range(catchments))), {"servable": servable, "unmet": unmet}, departements
    )
    second = Contributions(first.catchments, {"servable": servable, "unmet": other}, departements)
    # A third allocation that differs from the first in three catchments only.
    few = unmet.copy()
    few[:3] = other[:3]
    third = Contributions(first.catchments, {"servable": servable, "unmet": few}, departements)
    return first, second, third, shift * need[:3].sum() / need.sum()


def test_catchment_intervals_cover_at_their_level_from_two_replications() -> None:
    """Two replications of 40 independent catchments: the interval of the national
    share, and of a paired difference, from the catchments' spread covers the true
    value at least 95 % of the time and at most 98 % (a 99 % binomial band over 2,000
    countries either side: Satterthwaite's degrees of freedom, estimated, are on the
    low side), at a fraction of the width of the Student t of the two national
    replications; so does a difference that three catchments make."""
    rng = np.random.default_rng(2028)
    trials, covered, paired_covered, few_covered, ratio, dofs = 2000, 0, 0, 0, [], []
    for _ in range(trials):
        first, second, third, few_truth = _country(rng, 40, 2, shift=0.05)
        truth = 0.5  # unmet is half the need in expectation; servable is the need
        # The share's own expectation, to first order: E[unmet] / E[servable].
        totals = first.totals()
        values = np.array([[totals["unmet"][r] / totals["servable"][r]] for r in range(2)])
        effects = first.effects(_share, ["share"])
        summary, dof = catchment_intervals(values, effects, ["share"])
        covered += summary.ci_low[0] <= truth <= summary.ci_high[0]
        ratio.append(summary.half_width[0] / intervals(values).half_width[0])
        dofs.append(dof[0])
        other = second.totals()
        theirs = np.array([other["unmet"][r] / other["servable"][r] for r in range(2)])
        d, _ = catchment_difference(
            values[:, 0], theirs, effects.of("share"), second.effects(_share, ["share"]).of("share")
        )
        paired_covered += d.ci_low <= 0.05 <= d.ci_high
        assert d.half_width < d.unpaired_half_width
        few = third.totals()
        theirs = np.array([few["unmet"][r] / few["servable"][r] for r in range(2)])
        d, few_dof = catchment_difference(
            values[:, 0], theirs, effects.of("share"), third.effects(_share, ["share"]).of("share")
        )
        few_covered += d.ci_low <= few_truth <= d.ci_high
        assert few_dof < 3.1  # about one for each catchment that differs, no more
    band = 2.576 * math.sqrt(0.95 * 0.05 / trials)
    for hits in (covered, paired_covered, few_covered):
        assert 0.95 - band < hits / trials < 0.98 + band
    assert np.median(ratio) < 0.3  # the t of one degree of freedom is 12.7
    assert np.median(dofs) > 10  # several catchments' worth of degrees of freedom, not one


@pytest.mark.slow  # about 40 s: a small country simulated 40 times
def test_catchment_intervals_agree_with_the_spread_of_many_national_replications(
    tmp_path: Path,
) -> None:
    """The model's own national run: the catchments' contributions add up to the
    national sums, and the spread between 40 national replications matches the one the
    catchments predict, for the unmet share and for a paired difference, within the
    99 % band of a standard deviation from 40 replications."""
    from sim.national.allocation import allocate
    from sim.national.config import load_national
    from sim.national.measures import measure_nation
    from sim.national.run import CatchmentCounts, NationalStudy, national_plan, simulated_points
    from sim.national.study import Request, run_national
    from sim.pipeline.backends import LocalBackend
    from sim.pipeline.results import StoredResults

    study = NationalStudy.of(load_national(small_config(tmp_path, ["19", "23", "86", "87"])))
    replications = 40
    requests = [
        Request(3, "proportional", "office_hours"),
        Request(6, "proportional", "office_hours"),
    ]
    run_national(
        study, requests, tmp_path / "out", LocalBackend(2), replications, show_progress=False
    )
    constants = study.model.config.allocation
    allocations = [allocate(r.rule, r.posts, study.catchments, constants) for r in requests]
    points = set().union(*(simulated_points(study, a) for a in allocations))
    name = f"{study.model.config.name}-catchments"
    plan = national_plan(study, points, ["office_hours"], replications, name)
    counts = CatchmentCounts(
        study, plan, StoredResults(tmp_path / "out" / "runs").table("replications")
    )
    shares, effects = [], []
    for allocation in allocations:
        totals, _, contributions = counts.national("office_hours", allocation)
        summed = contributions.totals()
        for name, values in totals.items():
            np.testing.assert_allclose(summed[name], values, rtol=1e-12, atol=1e-9)
        shares.append(totals["unmet"] / totals["servable"])
        effects.append(contributions.effects(measure_nation, ["national_unmet_share"]).values[0])
    # The 99 % interval of sigma from a sample standard deviation of 40 values.
    dof = replications - 1
    low = math.sqrt(dof / stats.chi2.ppf(0.995, dof))
    high = math.sqrt(dof / stats.chi2.ppf(0.005, dof))
    for observed, predicted in (
        (shares[0], effects[0]),
        (shares[1] - shares[0], effects[1] - effects[0]),
    ):
        sd_between = float(np.std(observed, ddof=1))
        sd_from_catchments = math.sqrt(float(predicted.var(axis=1, ddof=1).sum()))
        # The catchments' estimate has its own noise (a fraction of the national one's).
        assert low * 0.9 < sd_between / sd_from_catchments < high * 1.1
