"""Persons a saturated post passes on (``cross_border.pass_on_saturated``): where they
go, that the post receiving them simulates them with its own persons, that each person
is counted once where they live, and that passing on helps where one post is swamped
beside one that is not."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_national import FRANCE, small_config

from sim.commands.cli import main
from sim.config.errors import ConfigError
from sim.model.outcomes import UNMET_OUTCOMES
from sim.model.station import simulate
from sim.national.catchments import Catchment
from sim.national.config import CrossBorder, load_national
from sim.national.neighbours import Neighbourhood
from sim.national.run import (
    COUNTS,
    CatchmentCounts,
    NationalStudy,
    catchment_scenario,
    national_plan,
    passed_on_population,
    simulated_points,
)
from sim.national.saturation import passed_on_flows
from sim.national.study import Request, run_national, run_passed_on
from sim.pipeline.backends import LocalBackend
from sim.pipeline.execute import run_experiment
from sim.pipeline.results import StoredResults

# -- where they go (no simulation) ------------------------------------------------------


def _catchment(cid: str, departement: str) -> Catchment:
    return Catchment(cid, departement, "police", 100_000.0, 100.0, 10.0)


# Three départements in a row, 50 km apart, 26 km across within each: a touches b,
# b touches c.
_ROW = Neighbourhood(
    centroid={"a": (0.0, 0.0), "b": (0.45, 0.0), "c": (0.9, 0.0)},
    neighbours={"a": ("b",), "b": ("a", "c"), "c": ("b",)},
    area_km2={"a": 2500.0, "b": 2500.0, "c": 2500.0},
)
_CATCHMENTS = [
    _catchment("a-P1", "a"),
    _catchment("b-P1", "b"),
    _catchment("b-P2", "b"),
    _catchment("c-P1", "c"),
]
_RULE = CrossBorder(enabled=True, pass_on_saturated=True, half_uptake_minutes=60.0)


def test_a_swamped_post_passes_its_expired_to_the_nearest_post_that_expires_fewer() -> None:
    allocation = {"a-P1": 1, "b-P1": 1, "b-P2": 3, "c-P1": 1}
    expired = {"a-P1": 300.0, "b-P1": 10.0, "b-P2": 0.0, "c-P1": 0.0}
    need = {"a-P1": 1000.0, "b-P1": 1000.0, "b-P2": 1000.0, "c-P1": 1000.0}
    flows = passed_on_flows(_CATCHMENTS, allocation, _ROW, _RULE, expired, need, 0.002)
    minutes = _RULE.minutes_per_km * _ROW.distance_km("a", "b")
    population = 300.0 * _RULE.uptake(minutes) / 0.002
    # a's persons go to b (the nearest département with a post that expires fewer,
    # its own has none other), shared by posts; b-P1 passes to b-P2 in its own
    # département (nearer than c, which expires as few); those who expire nobody
    # pass nobody.
    assert set(flows) == {"a-P1", "b-P1"}
    assert flows["a-P1"] == {
        "b-P1": pytest.approx(population / 4),
        "b-P2": pytest.approx(3 * population / 4),
    }
    own = _RULE.minutes_per_km * _ROW.distance_km("b", "b")
    assert flows["b-P1"] == {"b-P2": pytest.approx(10.0 * _RULE.uptake(own) / 0.002)}


def test_nobody_is_passed_to_a_post_that_expires_as_many_nor_to_itself() -> None:
    allocation = {"a-P1": 1, "b-P1": 1, "b-P2": 0, "c-P1": 1}
    same = {"a-P1": 50.0, "b-P1": 50.0, "b-P2": 0.0, "c-P1": 50.0}
    need = {cid: 1000.0 for cid in same}
    assert passed_on_flows(_CATCHMENTS, allocation, _ROW, _RULE, same, need, 0.002) == {}
    # The worst post passes on; a catchment without a post is never a destination.
    worse = {**same, "b-P1": 80.0}
    flows = passed_on_flows(_CATCHMENTS, allocation, _ROW, _RULE, worse, need, 0.002)
    assert set(flows) == {"b-P1"}
    assert set(flows["b-P1"]) == {"a-P1"}  # a and c tie on time: table order


def test_posts_are_compared_by_the_share_of_their_persons_they_let_expire() -> None:
    """A share, not a count: a post letting 150 of 3,000 expire (5 %) takes from one
    letting 100 of 1,000 (10 %); a post nobody needs expires none (0 %) and takes
    too; half a person a year expiring is passed on; a catchment the allocation does
    not list has no post."""
    allocation = {"a-P1": 1, "b-P1": 2, "b-P2": 1}  # c-P1 unlisted: no post
    expired = {"a-P1": 100.0, "b-P1": 150.0, "b-P2": 0.0, "c-P1": 500.0}
    need = {"a-P1": 1000.0, "b-P1": 3000.0, "b-P2": 0.0, "c-P1": 1000.0}
    flows = passed_on_flows(_CATCHMENTS, allocation, _ROW, _RULE, expired, need, 0.002)
    assert set(flows) == {"a-P1", "b-P1"}
    assert set(flows["a-P1"]) == {"b-P1", "b-P2"}
    assert flows["a-P1"]["b-P1"] == pytest.approx(2 * flows["a-P1"]["b-P2"])
    assert set(flows["b-P1"]) == {"b-P2"}
    small = passed_on_flows(
        _CATCHMENTS, allocation, _ROW, _RULE, {**expired, "a-P1": 0.5}, need, 0.002
    )
    minutes = _RULE.minutes_per_km * _ROW.distance_km("a", "b")
    assert sum(small["a-P1"].values()) == pytest.approx(0.5 * _RULE.uptake(minutes) / 0.002)


@pytest.mark.parametrize("need", [0.0, -0.001])
def test_the_persons_in_need_per_inhabitant_must_be_positive(need: float) -> None:
    with pytest.raises(ValueError, match="need_per_inhabitant"):
        passed_on_flows(_CATCHMENTS, {}, _ROW, _RULE, {}, {}, need)


def test_passing_on_needs_cross_border_service(tmp_path: Path, capsys) -> None:
    cross_border = {"enabled": False, "pass_on_saturated": True}
    path = small_config(tmp_path, ["19"], cross_border=cross_border)
    with pytest.raises(ConfigError, match=r"pass_on_saturated needs cross_border\.enabled"):
        load_national(path)
    code = main(
        ["national", str(FRANCE), "--posts", "10", "--set", "cross_border.enabled=false",
         "--set", "cross_border.pass_on_saturated=true"]
    )  # fmt: skip
    assert code == 2
    assert "pass_on_saturated needs cross_border.enabled" in capsys.readouterr().err


# -- the post that receives them ----------------------------------------------------------


@pytest.fixture(scope="module")
def france() -> NationalStudy:
    overrides = {"cross_border.pass_on_saturated": True}
    return NationalStudy.of(load_national(FRANCE, overrides=overrides))


def test_persons_passed_on_are_all_referred_and_load_the_post(france: NationalStudy) -> None:
    catchment = france.catchment("87-P1")
    plain = catchment_scenario(france, "office_hours", catchment, 1, 1, inflow=0)
    passed = catchment_scenario(france, "office_hours", catchment, 1, 1, passed_on=123_457)
    for name in france.model.config.demand_per_100k:
        population = passed.populations[passed_on_population(name)]
        assert population.referral.probability == 1
        assert population.referral.probability_no_worker == 1
        assert population.arrivals.per_year == pytest.approx(
            france.model.config.demand_per_100k[name] * 1.23457
        )
        assert passed_on_population(name) not in plain.populations
    a, b = simulate(plain, 0), simulate(passed, 0)
    own = len(plain.population_names)
    # Its own persons are the same persons (their own streams); they fare worse.
    np.testing.assert_array_equal(a.cases.arrival, b.cases.arrival[b.cases.population < own])
    assert (b.cases.population >= own).sum() > 100


# -- the country ------------------------------------------------------------------------


def _swamped_and_idle(tmp_path: Path, pass_on: bool) -> Path:
    """The Haute-Vienne: its police district with one post (swamped), a gendarmerie
    area with four (idle), a short road between them and a strong uptake."""
    cross_border = {
        "enabled": True,
        "pass_on_saturated": pass_on,
        "uptake_at_zero": 0.8,
        "half_uptake_minutes": 600,
    }
    path = small_config(tmp_path, ["87"], cross_border=cross_border)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = tmp_path / f"swamped_{pass_on}.yaml"
    out.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return out


def _counts(tmp_path: Path, pass_on: bool, allocation: dict[str, int], replications: int):
    study = NationalStudy.of(load_national(_swamped_and_idle(tmp_path, pass_on)))
    plan = national_plan(study, simulated_points(study, allocation), ["office_hours"],
                         replications, "swamped")  # fmt: skip
    runs = tmp_path / f"runs_{pass_on}"
    run_experiment(plan, runs, LocalBackend(1), show_progress=False, figures=False,
                   measures_only=True)  # fmt: skip
    counts = CatchmentCounts(study, plan, StoredResults(runs).table("replications"))
    added = run_passed_on(counts, {"office_hours": [allocation]}, tmp_path / f"po_{pass_on}",
                          LocalBackend(1))  # fmt: skip
    return study, counts, added


def test_passing_on_helps_a_swamped_post_beside_an_idle_one(tmp_path: Path) -> None:
    replications = 6
    study = NationalStudy.of(load_national(_swamped_and_idle(tmp_path, True)))
    ids = [c.catchment_id for c in study.catchments]
    town = next(c for c in ids if "-P" in c)
    allocation = {cid: 0 for cid in ids}
    allocation[town] = 1
    idle = next(c for c in ids if "-G" in c)
    allocation[idle] = 4
    _, off, added_off = _counts(tmp_path, False, allocation, replications)
    study, on, added_on = _counts(tmp_path, True, allocation, replications)
    assert added_off == 0 and added_on == replications  # one post receives
    flows = on.flows("office_hours", allocation)
    assert set(flows.passed_on) == {town}
    assert set(flows.passed_on[town]) == {idle}
    a, per_a, before = off.national("office_hours", allocation)
    b, per_b, contributions = on.national("office_hours", allocation)
    # Every person once, in every replication: the persons in need are the same
    # persons (only the outcomes of those passed on move), met and unmet add up.
    np.testing.assert_allclose(b["servable"], a["servable"], rtol=1e-12)
    np.testing.assert_allclose(b["met"] + b["unmet"], b["servable"], rtol=1e-12)
    reasons = sum(b[o.label] for o in UNMET_OUTCOMES) + b["no_post"]
    np.testing.assert_allclose(reasons, b["unmet"], rtol=1e-12)
    totals = contributions.totals()
    for name in COUNTS:
        np.testing.assert_allclose(totals[name], b[name], rtol=1e-12, atol=1e-9, err_msg=name)
    # Those passed on are drawn by the post that receives them: their randomness, so
    # the intervals, are that post's streams', not their origin's.
    row = {cid: k for k, cid in enumerate(contributions.catchments)}
    np.testing.assert_allclose(contributions.sums["passed_on"][row[idle]], b["passed_on"])
    assert (contributions.sums["passed_on"][row[town]] == 0).all()
    assert (contributions.sums["met_passed_on"][row[idle]] > 0).all()
    # The town's streams give what they gave without passing on; the persons it
    # passed on leave its expired from the idle post's row.
    for name in ("callback_expired", "unmet", "servable"):
        np.testing.assert_allclose(
            contributions.sums[name][row[town]], before.sums[name][row[town]], rtol=1e-12
        )
    np.testing.assert_allclose(
        contributions.sums["callback_expired"][row[idle]]
        - before.sums["callback_expired"][row[idle]],
        b["callback_expired"] - a["callback_expired"],
        rtol=1e-9,
    )
    # The swamped post's expired persons go, a share of them is contacted: paired by
    # replication (common random numbers), unmet falls, each and every time.
    passed = b["passed_on"]
    assert (passed > 0).all()
    assert (b["met_passed_on"] > 0).all() and (b["met_passed_on"] <= passed).all()
    np.testing.assert_allclose(per_b[town]["passed_on"], passed)
    assert (b["callback_expired"] < a["callback_expired"]).all()
    assert (b["unmet"] < a["unmet"]).all()
    assert (b["met_across_border"] > 0).all()
    # The idle post's own persons are the same persons, sharing its time with those
    # passed on: never better off.
    np.testing.assert_allclose(per_b[idle]["servable"], per_a[idle]["servable"], rtol=1e-12)
    assert per_b[idle]["unmet"].sum() >= per_a[idle]["unmet"].sum()


def test_a_person_passed_on_moves_from_expired_to_what_the_other_post_made_of_them() -> None:
    from sim.national.run import _attributed

    got = {
        "cases": np.array([10.0]),
        "servable": np.array([10.0]),
        "referred": np.array([10.0]),
        "met": np.array([6.0]),
        "met_late": np.array([1.0]),
        "unmet": np.array([4.0]),
        "within_24h": np.array([5.0]),
        "callback_failed": np.array([3.0]),
        "callback_expired": np.array([1.0]),
        "left": np.array([0.0]),
        "waiting_at_end": np.array([0.0]),
        "not_referred_no_worker": np.array([0.0]),
        "couple_violence_met": np.array([2.0]),
    }
    added = _attributed(got, 0.5, passed_on=True)
    # In need and referred they already were: only their outcomes move.
    assert not {"cases", "servable", "referred", "within_24h"} & set(added)
    assert added["met"] == added["met_late"] == 3.0  # contacted, days after the referral
    assert added["unmet"] == 2.0 - 5.0  # their unmet, in place of 5 expired
    assert added["callback_expired"] == 0.5 - 5.0
    assert added["callback_failed"] == 1.5
    assert added["passed_on"] == added["across_border"] == 5.0
    assert added["met_across_border"] == 3.0
    assert added["couple_violence_met"] == 1.0
    assert added["met"] + added["unmet"] == 0  # nobody added, nobody lost
    # From a catchment without a post, everything, as before.
    plain = _attributed(got, 0.5, passed_on=False)
    assert plain["servable"] == 5.0 and plain["within_24h"] == 2.5 and "passed_on" not in plain


def test_passing_on_with_no_uptake_is_no_passing_on(tmp_path: Path) -> None:
    """With nobody going anywhere the national tables are those without passing on,
    to the last digit."""
    tables = {}
    for pass_on in (False, True):
        path = small_config(
            tmp_path,
            ["19", "87"],
            cross_border={"enabled": True, "pass_on_saturated": pass_on, "uptake_at_zero": 0.0},
        )
        study = NationalStudy.of(load_national(path))
        out = run_national(study, [Request(4, "proportional", "office_hours")],
                           tmp_path / f"out_{pass_on}", LocalBackend(1), 2,
                           show_progress=False)  # fmt: skip
        tables[pass_on] = out.tables["national"].to_pylist()
        assert not (tmp_path / f"out_{pass_on}" / "runs_passed_on").exists()
    pd.testing.assert_frame_equal(pd.DataFrame(tables[True]), pd.DataFrame(tables[False]))


def test_the_cli_passes_on_and_reports_it(tmp_path: Path) -> None:
    path = small_config(tmp_path, ["86", "87"], cross_border={"enabled": True})
    out = tmp_path / "out"
    code = main(["national", str(path), "--posts", "3", "--replications", "2", "--jobs", "1",
                 "--set", "cross_border.pass_on_saturated=true", "--out", str(out)])  # fmt: skip
    assert code == 0
    national = pd.read_csv(out / "tables" / "national.csv").set_index("metric")
    catchments = pd.read_csv(out / "tables" / "catchments.csv")
    passed = national.loc["national_passed_on", "mean"]
    assert passed > 0 and passed == pytest.approx(catchments["passed_on"].sum())
    assert (out / "runs_passed_on" / "office_hours").is_dir()
    # The folder says what ran: the file as written, and with the --set applied.
    written = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    ran = yaml.safe_load((out / "config_resolved.yaml").read_text(encoding="utf-8"))
    assert "pass_on_saturated" not in written["cross_border"]
    assert ran["cross_border"]["pass_on_saturated"] is True
    assert ran["cross_border"]["uptake_at_zero"] == CrossBorder().uptake_at_zero  # default
    assert math.isfinite(national.loc["national_passed_on", "half_width"])


def _pass_on_study(tmp_path: Path, pass_on: bool) -> NationalStudy:
    path = small_config(
        tmp_path,
        ["16", "19", "23", "24", "86", "87"],
        cross_border={"enabled": True, "pass_on_saturated": pass_on},
    )
    return NationalStudy.of(load_national(path))


def test_a_national_study_passing_on_resumes_and_refreshes_its_own_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    requests = [Request(6, "proportional", "office_hours")]

    def run(pass_on: bool, **how) -> tuple[pd.DataFrame, int]:
        runs = []
        outcome = run_national(_pass_on_study(tmp_path, pass_on), requests, out,
                               LocalBackend(1), 2, show_progress=False,
                               on_run=lambda done, total: runs.append(done), **how)  # fmt: skip
        return pd.DataFrame(outcome.tables["national"].to_pylist()), len(runs)

    plain, first = run(False)
    assert first > 0 and not (out / "runs_passed_on").exists()
    # Turned on over a folder without it: only the posts that receive are run.
    passing, more = run(True, resume=True)
    receiving = sorted((out / "runs_passed_on" / "office_hours" / "tasks").iterdir())
    assert 0 < more == len(receiving) < first
    national = passing.set_index("metric")["mean"]
    assert national["national_passed_on"] > 0
    assert plain.set_index("metric")["mean"]["national_passed_on"] == 0
    # Every run is reused; --fresh runs everything again, to the same numbers.
    again, none = run(True, resume=True)
    assert none == 0
    pd.testing.assert_frame_equal(again, passing)
    fresh, all_runs = run(True, fresh=True)
    assert all_runs == first + more
    pd.testing.assert_frame_equal(fresh, passing)
    # A chain: some post both passes persons on and is passed persons.
    catchments = pd.read_csv(out / "tables" / "catchments.csv")
    assert ((catchments.passed_on > 0) & (catchments.passed_population > 0)).any()


def test_a_foreign_file_among_the_passed_on_runs_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    requests = [Request(6, "proportional", "office_hours")]
    run_national(_pass_on_study(tmp_path, True), requests, out, LocalBackend(1), 2,
                 show_progress=False)  # fmt: skip
    mine = out / "runs_passed_on" / "notes.txt"
    mine.write_text("mine", encoding="utf-8")
    for how in ({"fresh": True}, {"resume": True}):
        with pytest.raises(ConfigError, match=r"runs_passed_on/ holds 'notes\.txt'"):
            run_national(_pass_on_study(tmp_path, True), requests, out, LocalBackend(1), 2,
                         show_progress=False, **how)  # fmt: skip
    assert mine.read_text(encoding="utf-8") == "mine"
    assert (out / "tables").is_dir() and (out / "runs").is_dir()
