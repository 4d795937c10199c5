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

from sim.measures.stats import intervals, paired_difference
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


def _two_departements(rng: np.random.Generator, catchments: int, replications: int):
    """Contributions of counts in the thousands, split 40-60 between two départements."""
    unmet = rng.normal(5000, 300, size=(catchments, replications))
    servable = rng.normal(9000, 200, size=(catchments, replications))
    split = np.array([0.4, 0.6])
    grids = {"servable": servable[:, :, None] * split, "unmet": unmet[:, :, None] * split}
    names = tuple(f"c{k}" for k in range(catchments))
    return Contributions(names, {"unmet": unmet, "servable": servable}, grids)


def _measures(sums: dict[str, object]) -> dict[str, float]:
    unmet, servable = float(sums["unmet"]), float(sums["servable"])  # type: ignore[arg-type]
    second = np.asarray(sums["departement_unmet"])[1]
    second_share = second / np.asarray(sums["departement_servable"])[1]
    return {"unmet": unmet, "second": float(second), "share": unmet / servable,
            "second_share": float(second_share)}  # fmt: skip


def test_one_catchment_gives_the_national_replications_own_interval() -> None:
    """With one catchment the national sums are its own, so the interval from the
    catchments is the Student t of the national replications exactly: half-width,
    standard deviation and R - 1 degrees of freedom (one, for two replications), and
    the paired difference's too;
    a sum's effects are each replication's deviation from the catchment's mean, in the
    national sums and in each département."""
    rng = np.random.default_rng(3)
    first, second = _two_departements(rng, 1, 2), _two_departements(rng, 1, 2)
    names = ["unmet", "second", "departement_unmet_max"]
    effects = first.effects(_measures, ["unmet", "second"])
    unmet = first.sums["unmet"]
    np.testing.assert_allclose(effects.of("unmet"), unmet - unmet.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(
        effects.of("second"), 0.6 * (unmet - unmet.mean(axis=1, keepdims=True)), rtol=1e-9
    )
    totals = first.totals()
    values = np.column_stack(
        [
            totals["unmet"],
            totals["departement_unmet"][:, 1],
            totals["departement_unmet"].max(axis=1),
        ]
    )
    summary, dof = catchment_intervals(values, effects, names)
    plain = intervals(values)
    np.testing.assert_allclose(summary.half_width, plain.half_width, rtol=1e-9)
    np.testing.assert_allclose(summary.sd, plain.sd, rtol=1e-9)
    np.testing.assert_allclose(dof, [1, 1, 1], rtol=1e-9)  # the worst's over replications
    # A ratio of a département's sums: the delta method, to first order (a 6 % spread).
    grid = first.totals()
    ratio = grid["departement_unmet"][:, 1] / grid["departement_servable"][:, 1]
    delta, _ = catchment_intervals(
        ratio[:, None], first.effects(_measures, ["second_share"]), ["second_share"]
    )
    assert delta.half_width[0] == pytest.approx(intervals(ratio).half_width[0], rel=0.05)
    with pytest.raises(AttributeError):  # frozen: one estimate, never edited
        effects.values = effects.values  # type: ignore[misc]
    with pytest.raises(AttributeError):
        first.sums = {}  # type: ignore[misc]
    other = second.totals()["unmet"]
    d, d_dof = catchment_difference(
        totals["unmet"],
        other,
        effects.of("unmet"),
        second.effects(_measures, ["unmet"]).of("unmet"),
    )
    expected = paired_difference(totals["unmet"], other)
    assert d.half_width == pytest.approx(expected.half_width, rel=1e-9)
    assert (d.ci_low, d.ci_high) == pytest.approx((expected.ci_low, expected.ci_high), rel=1e-9)
    assert d.sd == pytest.approx(expected.sd, rel=1e-9)
    assert d.difference == pytest.approx(expected.difference, rel=1e-12)
    assert d_dof == pytest.approx(1, rel=1e-9)


def test_the_catchments_variances_add_up_and_undefined_values_fall_back() -> None:
    """Two catchments and three replications: the interval is Satterthwaite's from the
    two catchments' variances, whatever measures before it had to fall back to the
    replications (undefined in a replication, or where a catchment moves the sums);
    one replication gives no interval; a paired difference undefined in a replication
    is the paired t of the replications that define it."""
    rng = np.random.default_rng(4)
    country = _two_departements(rng, 2, 3)

    def with_a_gap(sums: dict[str, object]) -> dict[str, float]:
        # Defined in every replication, but not where one catchment moves the sums.
        return {**_measures(sums), "gap": math.nan}

    effects = country.effects(with_a_gap, ["share", "gap", "unmet"])
    totals = country.totals()
    undefined = np.array([np.nan, 1.0, 2.0])
    defined = np.array([1.0, 2.0, 4.0])
    values = np.column_stack([undefined, defined, totals["unmet"]])
    summary, dof = catchment_intervals(values, effects, ["share", "gap", "unmet"])
    v = country.sums["unmet"].var(axis=1, ddof=1) / 3
    satterthwaite = v.sum() ** 2 / (v**2 / 2).sum()
    assert dof[2] == pytest.approx(satterthwaite, rel=1e-9)
    assert summary.half_width[2] == pytest.approx(
        stats.t.ppf(0.975, satterthwaite) * math.sqrt(v.sum()), rel=1e-9
    )
    assert dof[0] == 1  # the two replications that define it
    assert summary.half_width[0] == pytest.approx(intervals(undefined).half_width[0])
    assert dof[1] == 2  # effects undefined: the replications' own interval
    assert summary.half_width[1] == pytest.approx(intervals(defined).half_width[0])
    # The worst département's keeps the replications' interval even where its effects
    # were computed (the national tables compute every measure's); so does a measure
    # whose effects were not.
    worst = country.effects(
        lambda sums: {"departement_unmet_max": float(np.max(sums["departement_unmet"]))},
        ["departement_unmet_max"],
    )
    kept, kept_dof = catchment_intervals(defined[:, None], worst, ["departement_unmet_max"])
    assert kept_dof[0] == 2 and kept.half_width[0] == pytest.approx(
        intervals(defined).half_width[0]
    )
    # ... and the measures after it are the catchments' again.
    _, both_dof = catchment_intervals(
        np.column_stack([defined, totals["unmet"]]),
        effects,
        ["departement_unmet_max", "unmet"],
    )
    assert both_dof[1] == pytest.approx(satterthwaite, rel=1e-9)
    other, other_dof = catchment_intervals(defined[:, None], worst, ["unmet"])
    assert other_dof[0] == 2 and other.half_width[0] == pytest.approx(
        intervals(defined).half_width[0]
    )
    alone = _two_departements(rng, 2, 1)
    single, _ = catchment_intervals(
        alone.totals()["unmet"][:, None], alone.effects(_measures, ["unmet"]), ["unmet"]
    )
    assert math.isnan(single.half_width[0])
    d, d_dof = catchment_difference(
        undefined, totals["unmet"] / 1e4, effects.of("unmet"), effects.of("unmet")
    )
    assert d.n == 2 and d_dof == 1
    # Defined in every replication, undefined where a catchment moves the sums.
    d, d_dof = catchment_difference(defined, totals["unmet"], effects.of("gap"), effects.of("gap"))
    assert d.n == 3 and d_dof == 2
    assert d.half_width == pytest.approx(paired_difference(defined, totals["unmet"]).half_width)


def test_a_measure_no_catchment_moves_has_an_interval_of_zero_and_no_support() -> None:
    """Two allocations that differ nowhere: a paired difference of exactly 0 with an
    interval of 0 (no division by a zero spread); and with no support given, an
    interval may reach below 0 (a difference, a change)."""
    rng = np.random.default_rng(5)
    country = _two_departements(rng, 3, 2)
    effects = country.effects(_measures, ["unmet"]).of("unmet")
    totals = country.totals()["unmet"]
    d, dof = catchment_difference(totals, totals, effects, effects)
    assert (d.difference, d.half_width, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0, 0.0)
    assert dof == math.inf
    centred = country.effects(lambda sums: {"change": float(sums["unmet"]) - 15_000.0}, ["change"])
    change = totals[:, None] - 15_000.0
    summary, _ = catchment_intervals(change, centred, ["change"])
    assert summary.ci_low[0] < 0 and summary.mean[0] < 0
    assert summary.ci_low[0] == pytest.approx(summary.mean[0] - summary.half_width[0])
