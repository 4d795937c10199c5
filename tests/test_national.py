"""The national model: catchments, allocation rules, the optimiser, the catchments
without a post, and a small national run end to end (serial = pool, resumable)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from sim.commands.cli import main
from sim.config.errors import ConfigError
from sim.national.allocation import (
    RULES,
    allocate,
    departements_without_post,
    highest_quotient,
    historical_facts,
)
from sim.national.config import load_national
from sim.national.measures import departement_shares, weighted_gini, weighted_quantile
from sim.national.optimise import (
    ResponseCurves,
    equity_turns,
    greedy_allocation,
    replay_allocation,
)
from sim.national.run import NationalStudy, catchment_scenario, no_post_counts
from sim.national.study import Request, run_national
from sim.pipeline.backends import LocalBackend

ROOT = Path(__file__).resolve().parents[1]
FRANCE = ROOT / "configs" / "national" / "france.yaml"
FIXED = [r for r in RULES if r != "optimised"]


@pytest.fixture(scope="module")
def france() -> NationalStudy:
    return NationalStudy.of(load_national(FRANCE))


def small_config(tmp_path: Path, codes: list[str], **changes: object) -> Path:
    """France's config restricted to a few départements, its paths made absolute."""
    document = yaml.safe_load(FRANCE.read_text(encoding="utf-8"))
    document["departements"] = str(ROOT / "configs/national/departements.csv")
    document["boundaries"] = str(ROOT / "configs/national/departements.geojson")
    document["only_departements"] = codes
    document["coverage"] = {
        "office_hours": {
            "config": str(ROOT / "configs/france_office_hours.yaml"),
            "title": "French office hours",
        }
    }
    document.update(changes)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


# -- catchments -----------------------------------------------------------------------


def test_catchments_hold_every_inhabitant_once(france: NationalStudy) -> None:
    for d in france.model.departements:
        own = [c for c in france.catchments if c.departement == d.code]
        assert own, d.code
        assert math.isclose(sum(c.population for c in own), d.population, rel_tol=1e-12)
        police = sum(c.population for c in own if c.kind == "police")
        assert math.isclose(police, d.urban_population, rel_tol=1e-12, abs_tol=1e-6)
    rule = france.model.config.catchments
    for c in france.catchments:
        assert c.population <= max(rule.police_population, rule.gendarmerie_population) + 1e-6
        if c.kind == "gendarmerie":
            # The area limit holds unless the population floor overrides it.
            assert (
                c.area_km2 <= rule.gendarmerie_max_area_km2 + 1e-6
                or c.population >= rule.gendarmerie_min_population
            )
            assert c.travel_minutes == pytest.approx(
                rule.travel_minutes_per_sqrt_km2 * math.sqrt(c.area_km2)
            )
        else:
            assert c.travel_minutes == 0


def test_the_population_floor_keeps_french_guiana_whole(france: NationalStudy) -> None:
    rule = france.model.config.catchments
    guiana = [c for c in france.catchments if c.departement == "973" and c.kind == "gendarmerie"]
    assert all(c.population >= rule.gendarmerie_min_population for c in guiana)
    assert len(guiana) < 5  # the area rule alone would make 28


# -- allocation rules -----------------------------------------------------------------


def test_sainte_lague_known_example() -> None:
    # 53, 24 and 23 votes for 7 seats: quotients 53, 24, 23, 17.7, 10.6, 8, 7.7.
    assert highest_quotient([53, 24, 23], 7).tolist() == [3, 2, 2]


@pytest.mark.parametrize("rule", FIXED)
def test_rules_deal_n_posts_and_never_take_one_back(france: NationalStudy, rule: str) -> None:
    constants = france.model.config.allocation
    previous = None
    for posts in range(202, 232):
        allocation = allocate(rule, posts, france.catchments, constants)
        assert sum(allocation.values()) == posts
        assert min(allocation.values()) >= 0
        if previous is not None:
            added = {c: allocation[c] - previous[c] for c in allocation}
            assert sorted(added.values())[0] == 0 and sum(added.values()) == 1
        previous = allocation


def posts_by_departement(allocation: dict[str, int], study: NationalStudy) -> dict[str, int]:
    held = {d.code: 0 for d in study.model.departements}
    for c in study.catchments:
        held[c.departement] += allocation[c.catchment_id]
    return held


def test_historical_rule_reproduces_the_facts_of_the_2013_map(france: NationalStudy) -> None:
    # [S6]: four workers in Paris, none in the Val-de-Marne, none in 33 départements;
    # [C1]: 59 % of posts in police zones, 27 % gendarmerie, 14 % mixed (half each).
    facts = france.model.config.allocation.historical_2013
    assert (facts.posts, facts.fixed_posts) == (175, {"75": 4, "94": 0})
    allocation = allocate("historical_2013", 175, france.catchments, france.model.config.allocation)
    held = posts_by_departement(allocation, france)
    assert (held["75"], held["94"]) == (4, 0)
    assert len(departements_without_post(allocation, france.catchments)) == 33
    police = sum(allocation[c.catchment_id] for c in france.catchments if c.kind == "police")
    # Sainte-Laguë between the two zones keeps each within one post of its share.
    assert abs(police - 0.66 * 175) <= 1
    # The départements left without are the least weighty: none has a large town's
    # police district bigger than the smallest posted département's weight.
    weight = {d.code: 0.0 for d in france.model.departements}
    for c in france.catchments:
        weight[c.departement] += c.population * (1.0 if c.kind == "police" else 0.08)
    without = [code for code, k in held.items() if k == 0 and code != "94"]
    posted = [code for code, k in held.items() if k > 0]
    assert max(weight[c] for c in without) <= min(weight[c] for c in posted)
    lines = {fact: (source, value) for fact, source, value in historical_facts(
        allocation, france.catchments, facts, {"75": "Paris", "94": "Val-de-Marne"}
    )}  # fmt: skip
    assert lines["posts in Paris"] == ("4", "4")
    assert lines["départements without a post"] == ("33", "33")


def test_historical_rule_is_house_monotone_through_the_2013_count(france: NationalStudy) -> None:
    # The last posts before 175 fill the départements the facts still need, and from
    # 176 the map grows where it is: no post moves at either.
    constants = france.model.config.allocation
    previous = allocate("historical_2013", 100, france.catchments, constants)
    for posts in (*range(150, 182), 350):
        allocation = allocate("historical_2013", posts, france.catchments, constants)
        assert all(allocation[c] >= previous[c] for c in allocation)
        assert sum(allocation.values()) == posts
        previous = allocation
    held = posts_by_departement(previous, france)
    assert (held["75"], held["94"]) == (8, 0)  # 4 doubled; still none
    assert len(departements_without_post(previous, france.catchments)) == 33


def test_historical_facts_are_dropped_on_part_of_the_country(tmp_path: Path) -> None:
    # The facts describe the whole country; Paris alone keeps only the weights.
    study = NationalStudy.of(load_national(small_config(tmp_path, ["75", "48"])))
    assert not study.model.config.allocation.historical_2013.has_facts
    allocation = allocate("historical_2013", 12, study.catchments, study.model.config.allocation)
    assert posts_by_departement(allocation, study)["75"] > 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fixed_posts": {"75": 4}, "posts": None}, "give posts"),
        ({"fixed_posts": {"750": 4}}, "'750' is not a département code"),
        ({"fixed_posts": {"75": 400}}, "more than posts = 175"),
        ({"posts": 60}, "cannot leave exactly 33"),
        ({"fixed_posts": {"75": 0, "13": 0}, "departements_without_post": 1}, "more than"),
    ],
)
def test_impossible_historical_facts_are_refused(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    document = yaml.safe_load(FRANCE.read_text(encoding="utf-8"))
    document["departements"] = str(ROOT / "configs/national/departements.csv")
    document["boundaries"] = str(ROOT / "configs/national/departements.geojson")
    document["coverage"] = {
        "office_hours": {
            "config": str(ROOT / "configs/france_office_hours.yaml"),
            "title": "French office hours",
        }
    }
    document["allocation"]["historical_2013"].update(change)
    path = tmp_path / "facts.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_national(path)


def test_a_coverage_model_without_its_station_config_is_refused_naming_the_key(
    tmp_path: Path,
) -> None:
    # Found by the fuzz suite: the message named the missing file, not the national
    # config or the key that points at it.
    path = small_config(tmp_path, ["48"])
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["coverage"]["office_hours"]["config"] = "abc"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_national(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: coverage.office_hours.config (abc): ")
    assert "no such scenario file" in message


def test_two_per_departement_first(france: NationalStudy) -> None:
    constants = france.model.config.allocation
    allocation = allocate("two_per_departement_first", 202, france.catchments, constants)
    for d in france.model.departements:
        assert (
            sum(allocation[c.catchment_id] for c in france.catchments if c.departement == d.code)
            == 2
        )
    with pytest.raises(Exception, match="at least 202"):
        allocate("two_per_departement_first", 201, france.catchments, constants)


# -- common random numbers ------------------------------------------------------------


def test_a_catchment_keeps_its_seed_across_posts_and_coverage(france: NationalStudy) -> None:
    a, b = france.catchments[0], france.catchments[1]
    seeds = {
        catchment_scenario(france, coverage, a, posts, 2).simulation.seed
        for coverage in france.model.scenarios
        for posts in (1, 2, 5)
    }
    assert len(seeds) == 1
    assert catchment_scenario(france, "office_hours", b, 1, 2).simulation.seed not in seeds


def test_posts_are_dealt_to_the_worker_entries_in_turn(france: NationalStudy) -> None:
    c = france.catchments[0]
    workers = catchment_scenario(france, "extended_hours", c, 3, 2).staffing.workers
    assert [(w.name, w.count) for w in workers] == [("iscg_early", 2), ("iscg_late", 1)]
    one = catchment_scenario(france, "extended_hours", c, 1, 2).staffing.workers
    assert [(w.name, w.count) for w in one] == [("iscg_early", 1)]


# -- catchments without a post --------------------------------------------------------


def test_persons_without_a_post_are_in_need_and_unmet(france: NationalStudy) -> None:
    catchment = france.catchments[5]
    replications = 400
    counts = no_post_counts(france, catchment.catchment_id, replications)
    scenario = france.model.scenarios["office_hours"]
    years = scenario.simulation.run_days / 365.25
    expected = sum(
        per_year * scenario.populations[name].referral.probability
        for name, per_year in france.arrivals_per_year(catchment).items()
    )
    # Poisson: the count over the window has variance equal to its mean.
    se = math.sqrt(expected * years) / years / math.sqrt(replications)
    assert abs(counts["servable"].mean() - expected) < 4 * se
    np.testing.assert_array_equal(counts["unmet"], counts["servable"])
    np.testing.assert_array_equal(counts["no_post"], counts["servable"])
    assert (counts["met"] == 0).all() and (counts["cases"] >= counts["servable"]).all()


# -- the optimiser --------------------------------------------------------------------


class _NoBackend:
    description = "none"

    def run(self, *args: object) -> None:
        raise AssertionError("every curve point was given: nothing should be simulated")


def _convex_curves(tmp_path: Path, seed: int, levels: int) -> tuple[ResponseCurves, list[str]]:
    """Three catchments on their own (no cross-border service: the quantity is
    separable), each curve falling exponentially at a rate of its own, known up to
    ``levels`` posts (both quantities alike)."""
    path = small_config(tmp_path, ["48", "90", "05"], cross_border={"enabled": False})
    study = NationalStudy.of(load_national(path))
    ids = [c.catchment_id for c in study.catchments]
    curves = ResponseCurves(study, "office_hours", 1, {})
    rng = np.random.default_rng(seed)
    for c in ids:
        in_need = curves.value(c, 0, "unmet")
        rate = rng.uniform(0.2, 1.5)
        for k in range(1, levels + 1):
            value = in_need * math.exp(-rate * k)
            curves.points[(c, k)] = (value, value)
    return curves, ids


def test_greedy_finds_the_best_allocation_of_convex_curves(tmp_path: Path) -> None:
    curves, ids = _convex_curves(tmp_path, seed=7, levels=7)
    posts = 6
    chosen = greedy_allocation(curves, posts, _NoBackend(), guess={c: 6 for c in ids})  # type: ignore[arg-type]
    assert sum(chosen.values()) == posts

    def total(allocation: dict[str, int]) -> float:
        return sum(curves.value(c, k, "unmet") for c, k in allocation.items())

    best = min(
        (
            dict(zip(ids, split, strict=True))
            for split in itertools.product(range(posts + 1), repeat=len(ids))
            if sum(split) == posts
        ),
        key=total,
    )
    assert total(chosen) == pytest.approx(total(best))

    # From a start allocation, its posts kept: the best of the allocations above it.
    start = {ids[0]: 3}
    onward = greedy_allocation(curves, posts, _NoBackend(), start=start, guess={c: 6 for c in ids})  # type: ignore[arg-type]
    assert onward[ids[0]] >= 3 and sum(onward.values()) == posts
    best_onward = min(
        (
            dict(zip(ids, split, strict=True))
            for split in itertools.product(range(posts + 1), repeat=len(ids))
            if sum(split) == posts and split[0] >= 3
        ),
        key=total,
    )
    assert total(onward) == pytest.approx(total(best_onward))


def test_the_optimised_allocation_is_replayed_from_its_stored_points_alone(
    tmp_path: Path,
) -> None:
    # The web page's optimised map between the stored post counts: the greedy's own
    # allocation at every count its points reach, nested, and None (never a
    # simulation) past them.
    curves, ids = _convex_curves(tmp_path, seed=11, levels=5)
    previous = {c: 0 for c in ids}
    for posts in range(1, len(ids) * 5 + 2):
        replayed = replay_allocation(curves, posts)
        try:
            dealt = greedy_allocation(curves, posts, _NoBackend())  # type: ignore[arg-type]
        except AssertionError:  # the greedy would simulate a point: no replay
            assert replayed is None
            break
        assert replayed == dealt and sum(dealt.values()) == posts
        assert all(previous[c] <= dealt[c] for c in ids)  # one post more each time
        previous = dealt
    assert 3 < sum(previous.values()) < len(ids) * 5  # both branches were taken


def test_equity_weight_one_finds_the_smallest_worst_departement(tmp_path: Path) -> None:
    # Water-filling: each post to the worst-off département; on falling convex curves it
    # reaches the smallest possible worst share (brute force over every allocation).
    path = small_config(tmp_path, ["48", "90", "05", "2A"], cross_border={"enabled": False})
    study = NationalStudy.of(load_national(path))
    ids = [c.catchment_id for c in study.catchments]
    curves = ResponseCurves(study, "office_hours", 1, {})
    rng = np.random.default_rng(11)
    for c in ids:
        in_need = curves.value(c, 0, "unmet")
        rate = rng.uniform(0.2, 1.5)
        for k in range(1, 8):
            value = in_need * math.exp(-rate * k)
            curves.points[(c, k)] = (value, value)
    departement = {c.catchment_id: c.departement for c in study.catchments}
    need: dict[str, float] = {}
    for c in ids:
        need[departement[c]] = need.get(departement[c], 0.0) + curves.value(c, 0, "unmet")

    def worst(allocation: dict[str, int]) -> float:
        left: dict[str, float] = {}
        for c, k in allocation.items():
            left[departement[c]] = left.get(departement[c], 0.0) + curves.value(c, k, "unmet")
        return max(left[d] / need[d] for d in need)

    def total(allocation: dict[str, int]) -> float:
        return sum(curves.value(c, k, "unmet") for c, k in allocation.items())

    posts = 6
    every = [
        dict(zip(ids, split, strict=True))
        for split in itertools.product(range(posts + 1), repeat=len(ids))
        if sum(split) == posts
    ]
    guess = {c: 6 for c in ids}
    fair = greedy_allocation(curves, posts, _NoBackend(), guess=guess, equity_weight=1.0)  # type: ignore[arg-type]
    assert worst(fair) == pytest.approx(min(worst(a) for a in every))
    plain = greedy_allocation(curves, posts, _NoBackend(), guess=guess)  # type: ignore[arg-type]
    assert total(plain) == pytest.approx(min(total(a) for a in every))
    # The two ends differ here: equity costs unmet demand, and buys a better worst.
    assert worst(fair) < worst(plain) and total(fair) > total(plain)
    half = greedy_allocation(curves, posts, _NoBackend(), guess=guess, equity_weight=0.5)  # type: ignore[arg-type]
    assert worst(fair) <= worst(half) <= worst(plain)
    with pytest.raises(ValueError, match="equity_weight"):
        greedy_allocation(curves, posts, _NoBackend(), guess=guess, equity_weight=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("posts", "weight"), [(6, 0.0), (6, 0.5), (10, 0.3), (7, 0.25), (175, 1.0)]
)
def test_the_equity_weight_is_the_share_of_posts_dealt_worst_off_first(
    posts: int, weight: float
) -> None:
    turns = equity_turns(posts, weight)
    assert sum(turns) == math.floor(posts * weight + 1e-9)
    # Spread evenly: every prefix of the order holds its share, to one post.
    for k in range(1, posts + 1):
        assert abs(sum(turns[:k]) - k * weight) < 1


# -- equity between départements ------------------------------------------------------


def test_weighted_gini_is_the_gini_of_the_population_it_weighs() -> None:
    # Integer weights: the Gini of each value repeated that many times, by the sorted
    # formula G = sum((2i - n - 1) x_i) / (n sum x), i = 1..n.
    rng = np.random.default_rng(7)
    values, weights = rng.uniform(0, 1, 12), rng.integers(1, 9, 12)
    people = np.sort(np.repeat(values, weights))
    n = len(people)
    expected = np.sum((2 * np.arange(1, n + 1) - n - 1) * people) / (n * people.sum())
    assert weighted_gini(values, weights.astype(float)) == pytest.approx(expected, rel=1e-12)
    assert weighted_gini(np.array([0.0, 1.0]), np.array([1.0, 1.0])) == 0.5
    assert weighted_gini(np.full(5, 0.3), np.arange(1.0, 6.0)) == 0.0
    assert weighted_gini(np.zeros(3), np.ones(3)) == 0.0


def test_weighted_quantile_counts_persons_not_departements() -> None:
    # 90 persons at 10 % unmet, 10 at 100 %: the 90th percentile person is at 10 %,
    # the 91st at 100 %.
    shares, need = np.array([1.0, 0.1]), np.array([10.0, 90.0])
    assert weighted_quantile(shares, need, 0.9) == 0.1
    assert weighted_quantile(shares, need, 0.91) == 1.0
    totals = {"departement_servable": [90.0, 0.0, 10.0], "departement_unmet": [9.0, 0.0, 10.0]}
    values, weights = departement_shares(totals)  # the empty département is left out
    assert values.tolist() == [0.1, 1.0] and weights.tolist() == [90.0, 10.0]


# -- a small national run ---------------------------------------------------------------


def _tables(folder: Path) -> dict[str, object]:
    return {p.stem: pq.read_table(p) for p in sorted((folder / "tables").glob("*.parquet"))}


def test_a_small_national_run_end_to_end(tmp_path: Path) -> None:
    study = NationalStudy.of(load_national(small_config(tmp_path, ["48", "90"])))
    assert len(study.catchments) == 3
    requests = [
        Request(1, "proportional", "office_hours"),
        Request(3, "proportional", "office_hours"),
        Request(2, "optimised", "office_hours"),
    ]
    serial = run_national(
        study, requests, tmp_path / "serial", LocalBackend(1), 2, show_progress=False
    )
    national = {
        (r["allocation"], r["posts"], r["metric"]): r["mean"]
        for r in serial.tables["national"].to_pylist()
    }
    catchments = serial.tables["catchments"].to_pylist()
    for allocation, posts in (("proportional", 1), ("proportional", 3), ("optimised", 2)):
        rows = [r for r in catchments if (r["allocation"], r["posts"]) == (allocation, posts)]
        assert sum(r["posts_in_catchment"] for r in rows) == posts
        in_need = national[(allocation, posts, "national_persons_in_need")]
        assert in_need == pytest.approx(sum(r["persons_in_need"] for r in rows))
        assert national[(allocation, posts, "national_unmet")] == pytest.approx(
            sum(r["unmet"] for r in rows)
        )
        share = national[(allocation, posts, "national_unmet_share")]
        assert 0 < share < 1
    # One post for three catchments: two of them have none, and their people are unmet
    # but for those who reach the post (the Territoire de Belfort's; the Lozère does
    # not touch it, and its persons reach nobody).
    no_post = [r for r in catchments if r["posts"] == 1 and r["posts_in_catchment"] == 0]
    assert len(no_post) == 2
    assert national[("proportional", 1, "national_unmet_no_post")] == pytest.approx(
        sum(r["persons_in_need"] - r["in_need_across_border"] for r in no_post)
    )
    lozere = next(r for r in no_post if r["departement"] == "48")
    belfort = next(r for r in no_post if r["departement"] == "90")
    assert lozere["unmet_share"] == 1.0 and lozere["sent_share"] == 0
    assert belfort["sent_share"] > 0 and belfort["contacted_across_border"] > 0
    assert belfort["unmet_share"] < 1.0
    # A département left with no post is wholly unmet in every replication: the worst.
    assert national[("proportional", 1, "departement_unmet_max")] == 1.0
    gini = national[("proportional", 1, "departement_unmet_gini")]
    assert 0 < gini < national[("proportional", 1, "departement_unmet_max")]
    # More posts, less unmet demand (paired by replication: the same persons).
    assert (
        national[("proportional", 3, "national_unmet_share")]
        < national[("proportional", 1, "national_unmet_share")]
    )
    assert (tmp_path / "serial" / "figures" / "frontier.png").is_file()

    progress: list[tuple[int, int]] = []
    pool = run_national(
        study, requests, tmp_path / "pool", LocalBackend(2), 2, show_progress=False,
        on_run=lambda done, total: progress.append((done, total)),
    )  # fmt: skip
    # The page's progress bar: one call a catchment run, counting up to all of them.
    total = progress[0][1]
    assert progress == [(k, total) for k in range(1, total + 1)]
    for name, table in _tables(tmp_path / "serial").items():
        assert table.to_pandas().equals(_tables(tmp_path / "pool")[name].to_pandas()), name

    again = run_national(
        study, requests, tmp_path / "serial", LocalBackend(1), 2, resume=True, show_progress=False
    )
    assert again.tables["national"].to_pandas().equals(pool.tables["national"].to_pandas())


# -- bad input ------------------------------------------------------------------------


def _refused(args: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_bad_national_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _refused(
        ["national", str(FRANCE), "--posts", "150", "--allocation", "two_per_departement_first",
         "--out", str(out)],
        capsys, "at least 202",
    )  # fmt: skip
    _refused(["national", str(FRANCE), "--budget", "-5", "--out", str(out)], capsys, "--budget")
    _refused(
        ["national", str(FRANCE), "--posts", "10", "--allocation", "random", "--out", str(out)],
        capsys, "random", "proportional",
    )  # fmt: skip
    _refused(
        ["national", str(FRANCE), "--posts", "10", "--replications", "0", "--out", str(out)],
        capsys, "--replications 0",
    )  # fmt: skip
    _refused(
        ["national", str(FRANCE), "--posts", "10", "--allocation", "optimised", "--next", "5",
         "--out", str(out)],
        capsys, "fixed rule",
    )  # fmt: skip
    _refused(
        ["national", str(FRANCE), "--posts", "250", "--allocation", "two_per_departement_first",
         "--next", "5", "--posts", "150", "--out", str(out)],
        capsys, "at least 202",
    )  # fmt: skip
    _refused(
        ["national", str(FRANCE), "--posts", "1000000000", "--out", str(out)], capsys, "--posts"
    )
    # Catchments so small that France would be millions of them: refused, naming why.
    _refused(
        ["national", str(FRANCE), "--posts", "10", "--set", "catchments.police_population=1e-300",
         "--out", str(out)],
        capsys, "catchments.police_population", "greater than or equal to 1000",
    )  # fmt: skip
    _refused(
        ["national", str(FRANCE), "--posts", "10", "--set",
         "catchments.gendarmerie_max_area_km2=1", "--set",
         "catchments.gendarmerie_min_population=1000", "--out", str(out)],
        capsys, str(FRANCE), "40,815 catchments", "at most 20,000",
    )  # fmt: skip
    assert not out.exists()
    missing = small_config(tmp_path, ["48"], departements=str(tmp_path / "none.csv"))
    _refused(["national", str(missing), "--posts", "1", "--out", str(out)], capsys, "no such file")
    unknown = small_config(tmp_path, ["48", "100"])
    _refused(["national", str(unknown), "--posts", "1", "--out", str(out)], capsys, "'100'")
    broken = tmp_path / "broken.csv"
    broken.write_text("code,name,population\n01,Ain,12\n", encoding="utf-8")
    malformed = small_config(tmp_path, ["01"], departements=str(broken))
    _refused(
        ["national", str(malformed), "--posts", "1", "--out", str(out)], capsys, "missing columns"
    )
    assert not out.exists()  # nothing written before the input was checked


@pytest.mark.slow  # about 30 s: a cluster's start and the optimiser's training
def test_a_dask_cluster_gives_the_same_national_tables(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    config = small_config(tmp_path, ["48", "90"])
    study = NationalStudy.of(load_national(config))
    requests = [Request(2, "optimised", "office_hours")]
    local = run_national(
        study, requests, tmp_path / "local", LocalBackend(1), 2, show_progress=False
    )
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        args = ["national", str(config), "--posts", "2", "--allocation", "optimised"]
        args += ["--replications", "2", "--out", str(tmp_path / "dask")]
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    for name, table in local.tables.items():
        produced = pq.read_table(tmp_path / "dask" / "tables" / f"{name}.parquet")
        assert produced.to_pandas().equals(table.to_pandas()), name


@pytest.mark.slow  # about 35 s: two countries simulated
def test_a_national_experiment_spec_with_its_sanity_country(tmp_path: Path) -> None:
    from sim.commands.reproduce import reference_tables

    config = small_config(tmp_path, ["48", "90"])
    zones = {
        "name": "tiny",
        "zones": 2,
        "population": 120000,
        "area_km2": 900,
        "demand_per_100k": {"victim": 500, "perpetrator": 109, "third_party": 95},
        "catchments": yaml.safe_load(config.read_text(encoding="utf-8"))["catchments"],
        "coverage": {
            "office_hours": {"config": str(ROOT / "configs/france_office_hours.yaml"), "title": "x"}
        },
        "seed": 1,
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(zones), encoding="utf-8")
    spec = {
        "kind": "national",
        "name": "small_grid",
        "config": str(config),
        "posts": [1, 2],
        "allocations": ["proportional", "historical_2013", "optimised"],
        "coverage": ["office_hours"],
        "optimise": {"coverage": ["office_hours"], "max_posts": 2},
        "frontier": {"coverage": "office_hours", "posts": 2, "equity_weights": [0, 1]},
        "replications": 2,
        "maps": [{"coverage": "office_hours", "allocation": "proportional", "posts": [1, 2]}],
        "sanity": {
            "config": str(tmp_path / "tiny.yaml"),
            "posts": 2,
            "allocation": "proportional",
            "coverage": "office_hours",
            "compare_posts": [2],
        },
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["experiment", str(path), "--out", str(out), "--jobs", "1"]) == 0
    sanity = pq.read_table(out / "tables" / "sanity.parquet").to_pylist()
    assert [(r["country"], r["posts"]) for r in sanity] == [("tiny", 2), ("france", 2)]
    assert (out / "figures" / "map_change_office_hours_proportional_1_to_2.png").is_file()
    # The frontier's weight 0 is the grid's optimised cell; weight 1 is its own.
    labels = {
        r["allocation"] for r in pq.read_table(out / "tables" / "national.parquet").to_pylist()
    }
    assert {"optimised", "optimised_equity_1"} <= labels
    frontier = pacsv.read_csv(out / "figures" / "frontier_equity.csv").to_pylist()
    assert sorted(r["equity_weight"] for r in frontier if r["equity_weight"] is not None) == [0, 1]
    kept = {"national", "gains", "sanity", "response_curves"}
    assert set(reference_tables(out / "tables")) == kept
    # The study's tables have CSV copies; its catchment runs' tables, Parquet only.
    assert (out / "tables" / "national.csv").is_file()
    runs_tables = {p.name for p in (out / "runs" / "tables").iterdir()}
    assert "replications.parquet" in runs_tables
    assert not [name for name in runs_tables if name.endswith(".csv")]
    # A map of a cell the grid does not have is refused before anything runs.
    spec["maps"] = [{"coverage": "office_hours", "allocation": "proportional", "posts": [3]}]
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["experiment", str(path), "--out", str(tmp_path / "other")]) == 2
    # So are a number of posts given twice and an optimiser for a coverage not in the grid.
    for change in (
        {"maps": [], "posts": [1, 1]},
        {"maps": [], "optimise": {"coverage": ["x"], "max_posts": 2}},
        {"maps": [], "frontier": {"coverage": "x", "posts": 2, "equity_weights": [0, 1]}},
        {"maps": [], "frontier": {"coverage": "office_hours", "posts": 2, "equity_weights": [2]}},
    ):
        path.write_text(yaml.safe_dump({**spec, **change}), encoding="utf-8")
        assert main(["validate", str(path)]) == 2
    assert not (tmp_path / "other").exists()


def test_an_interrupted_national_run_says_how_to_finish_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import sim.national.study as study_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(study_module, "run_national", interrupted)
    config = small_config(tmp_path, ["48"])
    argv = ["national", str(config), "--posts", "1", "--out", str(tmp_path / "o"), "--fresh"]
    monkeypatch.setattr(sys, "argv", ["station-sim", *argv])
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "--fresh" not in err.split("Finish with:")[1]


# -- the optimiser earns its place: a case with a known best allocation ----------------


def _town_and_country(tmp_path: Path) -> Path:
    """Two départements of 200,000 people each: a town (one police district, no travel)
    and a country of 40,000 km2 (one gendarmerie area, 92 minutes each way a shift)."""
    table = tmp_path / "two.csv"
    table.write_text(
        "code,name,population,communes_20k_plus,population_in_communes_20k_plus,area_km2\n"
        "01,Town,200000,3,200000,300\n"
        "02,Country,200000,0,0,40000\n",
        encoding="utf-8",
    )
    document = yaml.safe_load(small_config(tmp_path, ["48"]).read_text(encoding="utf-8"))
    document.update(departements=str(table), boundaries=None, only_departements=None)
    document["cross_border"] = {"enabled": False}
    document["allocation"] = {"historical_2013": {"rural_weight": 0.08}}
    document["catchments"].update(
        police_population=1e6, gendarmerie_population=1e6, gendarmerie_max_area_km2=1e6
    )
    path = tmp_path / "town_and_country.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_the_optimiser_finds_the_known_best_allocation_and_beats_proportional(
    tmp_path: Path,
) -> None:
    from sim.national.run import CatchmentCounts, national_plan, simulated_points
    from sim.pipeline.execute import run_experiment
    from sim.pipeline.results import StoredResults

    study = NationalStudy.of(load_national(_town_and_country(tmp_path)))
    town, country = (c.catchment_id for c in study.catchments)
    assert study.catchment(country).travel_minutes > 90
    posts, replications = 3, 10
    # The best split by brute force, on the evaluation's own replications.
    splits = [{town: k, country: posts - k} for k in range(posts + 1)]
    points = set().union(*(simulated_points(study, a) for a in splits))
    plan = national_plan(study, points, ["office_hours"], replications, "brute")
    run_experiment(
        plan, tmp_path / "brute", LocalBackend(1), show_progress=False, figures=False,
        measures_only=True,
    )  # fmt: skip
    counts = CatchmentCounts(study, plan, StoredResults(tmp_path / "brute").table("replications"))
    unmet = []
    for split in splits:
        totals, _, _ = counts.national("office_hours", split)
        unmet.append(float(np.mean(totals["unmet"] / totals["servable"])))
    best = splits[int(np.argmin(unmet))]
    # A post in the country spends three hours a day on the road: it needs two posts
    # to serve what one post serves in the town, and proportional splits 2-1 the
    # wrong way round.
    assert best == {town: 1, country: 2}

    requests = [
        Request(posts, "proportional", "office_hours"),
        Request(posts, "optimised", "office_hours"),
    ]
    outcome = run_national(
        study, requests, tmp_path / "out", LocalBackend(1), replications, show_progress=False
    )
    assert outcome.allocations[requests[0].key] == {town: 2, country: 1}
    assert outcome.allocations[requests[1].key] == best
    gain = next(
        g
        for g in outcome.tables["gains"].to_pylist()
        if (g["allocation"], g["baseline"], g["metric"])
        == ("optimised", "proportional", "national_unmet_share")
    )
    assert gain["ci_high"] < 0, gain  # the paired 95 % CI excludes zero


def test_national_figures_name_rules_and_coverage_models_in_words() -> None:
    from sim.national.figures import _Titles

    titles = _Titles({"office_hours": "French office hours"}, {"974": "La Réunion"})
    assert titles.cell("office_hours", "historical_2013") == (
        "French office hours, 2013 map, grown where it was"
    )
    assert titles.rule("two_per_departement_first_450+optimised") == (
        "two per département first to 450, then optimised (national unmet)"
    )
    assert titles.rule("optimised_equity_0.5").startswith("optimised, W = 0.5")
    assert titles.coverage("belgian") == "belgian"  # no title: the name, spaced
    assert titles.departements["974"] == "La Réunion"


def test_a_coverage_model_reads_as_its_station_config_everywhere(
    france: NationalStudy, tmp_path: Path
) -> None:
    from sim.app.national import coverage_titles

    model = france.model
    for name, scenario in model.scenarios.items():
        assert scenario.title and model.coverage_title(name) == scenario.title
    # The page names them from the files alone, with the same words.
    assert coverage_titles(FRANCE) == {n: model.coverage_title(n) for n in model.scenarios}
    # A national config may still name a model for its own purpose (small_config does).
    path = small_config(tmp_path, ["75"])
    assert load_national(path).coverage_title("office_hours") == "French office hours"


def test_the_national_config_sets_the_windows_of_every_coverage_model() -> None:
    """``windows`` replaces the station configs' own (3 shipped) in every coverage model,
    and a value out of range is refused naming the field."""
    from sim.config.errors import ConfigError

    shipped = load_national(FRANCE)
    assert shipped.config.windows == 1
    assert {s.simulation.windows for s in shipped.scenarios.values()} == {1}
    two = load_national(FRANCE, overrides={"windows": 2})
    assert {s.simulation.windows for s in two.scenarios.values()} == {2}
    with pytest.raises(ConfigError, match="windows"):
        load_national(FRANCE, overrides={"windows": 0})


def test_a_coverage_model_s_own_windows_override_wins_over_the_national_key() -> None:
    from sim.config.errors import ConfigError

    with pytest.raises(ConfigError, match="every coverage model must measure the same windows"):
        load_national(FRANCE, coverage="belgian", coverage_overrides={"simulation.windows": 2})
