"""Service across catchment borders: the départements' neighbours from their
boundaries, where the persons of a catchment without a post go, that the posts they
reach simulate them, and that the country counts every person once, where they live."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from test_national import FRANCE, small_config

from sim.commands.cli import main
from sim.config.errors import ConfigError
from sim.model.station import simulate
from sim.national.allocation import allocate
from sim.national.config import load_national
from sim.national.neighbours import MEAN_DISTANCE_IN_UNIT_SQUARE, _centroid, cross_border_flows
from sim.national.run import NationalStudy, catchment_scenario, neighbour_population
from sim.national.study import Request, run_national
from sim.pipeline.backends import LocalBackend

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def france() -> NationalStudy:
    study = NationalStudy.of(load_national(FRANCE))
    assert study.cross_border, "france.yaml ships with cross-border service on"
    return study


# -- neighbours -----------------------------------------------------------------------


def test_neighbours_are_the_departements_that_touch(france: NationalStudy) -> None:
    touching = france.neighbourhood.neighbours
    assert touching["75"] == ("92", "93", "94")
    assert set(touching["92"]) == {"75", "78", "91", "93", "94", "95"}
    assert set(touching["13"]) == {"04", "30", "83", "84"}
    assert touching["2A"] == ("2B",) and touching["2B"] == ("2A",)
    for island in ("971", "972", "973", "974", "976"):
        assert touching[island] == ()
    for code, others in touching.items():
        assert code not in others
        for other in others:
            assert code in touching[other], (code, other)


def test_distances_between_and_within_departements(france: NationalStudy) -> None:
    hood = france.neighbourhood
    paris = next(d for d in france.model.departements if d.code == "75")
    assert hood.distance_km("75", "75") == pytest.approx(
        MEAN_DISTANCE_IN_UNIT_SQUARE * math.sqrt(paris.area_km2)
    )
    # Centroids: Paris to the Hauts-de-Seine about 10 km, to the Bouches-du-Rhône 660.
    assert 5 < hood.distance_km("75", "92") < 15
    assert 600 < hood.distance_km("75", "13") < 720
    assert hood.distance_km("92", "75") == hood.distance_km("75", "92")


def test_the_kilometres_of_a_degree_are_the_wgs84_ellipsoid_s_at_the_equator() -> None:
    from sim.national import neighbours

    # WGS84: semi-major axis a, flattening f. A degree of longitude at the equator is
    # a circle's arc, a degree of latitude the meridian's (radius of curvature
    # a (1 - e^2) there); the local projection scales longitude by cos(latitude).
    a, f = 6378.137, 1 / 298.257223563
    e2 = f * (2 - f)
    degree = math.pi / 180
    longitude, latitude = (
        neighbours.KM_PER_DEGREE_LONGITUDE_AT_EQUATOR,
        neighbours.KM_PER_DEGREE_LATITUDE,
    )
    assert longitude == pytest.approx(a * degree, abs=0.01)
    assert latitude == pytest.approx(a * (1 - e2) * degree, abs=0.01)


def test_the_mean_distance_in_a_square_is_robbins_constant() -> None:
    # The mean distance between two uniform points of a unit square, in closed form.
    exact = (2 + math.sqrt(2) + 5 * math.log(1 + math.sqrt(2))) / 15
    assert exact == pytest.approx(MEAN_DISTANCE_IN_UNIT_SQUARE, abs=1e-4)
    rng = np.random.default_rng(5)
    a, b = rng.random((2, 200_000, 2))
    assert np.linalg.norm(a - b, axis=1).mean() == pytest.approx(exact, abs=3e-3)


@pytest.mark.parametrize("clockwise", [True, False])
def test_a_centroid_weighs_area_not_vertices(clockwise: bool) -> None:
    # A 2 x 1 rectangle with its top edge cut into many vertices: the vertices' mean
    # is pulled up, the area's centroid is not.
    ring = [(0, 0), (0, 1), (0.5, 1), (0.8, 1), (1.1, 1), (1.4, 1), (2, 1), (2, 0), (0, 0)]
    if not clockwise:
        ring = ring[::-1]
    assert _centroid([np.array(ring, dtype=float)]) == pytest.approx((1.0, 0.5))
    # Two rings: the larger weighs more.
    small = np.array([(10, 0), (10, 1), (11, 1), (11, 0), (10, 0)], dtype=float)
    x, y = _centroid([np.array(ring, dtype=float), small])
    assert (x, y) == pytest.approx(((2 * 1.0 + 1 * 10.5) / 3, 0.5))
    # No area at all (a line): the mean of its points, each coordinate its own.
    line = np.array([(0, 0), (2, 1), (4, 2), (0, 0)], dtype=float)
    assert _centroid([line]) == pytest.approx((1.5, 0.75))


def test_boundaries_that_are_not_polygons_are_refused(tmp_path: Path) -> None:
    import json

    from sim.national.neighbours import read_neighbourhood

    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "48"},
                "geometry": {"type": "LineString", "coordinates": [[3.0, 44.0], [3.5, 44.5]]},
            }
        ],
    }
    path = tmp_path / "lines.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    departements = [d for d in load_national(FRANCE).departements if d.code == "48"]
    with pytest.raises(ConfigError, match="cannot read the boundaries' polygons"):
        read_neighbourhood(path, departements, 2.0, "here")


def test_no_uptake_sends_nobody(france: NationalStudy) -> None:
    rule = france.model.config.cross_border.model_copy(update={"uptake_at_zero": 0.0})
    constants = france.model.config.allocation
    allocation = allocate("historical_2013", 175, france.catchments, constants)
    flows = cross_border_flows(france.catchments, allocation, france.neighbourhood, rule)
    assert flows.inflow == {}
    assert all(share == 0 for share in flows.uptake.values())


def test_a_flow_of_less_than_one_person_of_population_still_reaches_its_post() -> None:
    from sim.national.neighbours import Flows

    flows = Flows(
        uptake={"a": 0.01, "b": 0.5},
        minutes={"a": 200.0, "b": 0.0},
        brought={"a": {"p": 0.4}, "b": {"p": 1.6}},
    )
    assert flows.inflow == {"p": pytest.approx(2.0)}
    assert flows.origins("p") == {"a": pytest.approx(0.2), "b": pytest.approx(0.8)}
    assert flows.origins("nobody") == {}


# -- flows ------------------------------------------------------------------------------


def test_persons_without_a_post_go_to_the_nearest_posts(france: NationalStudy) -> None:
    constants = france.model.config.allocation
    rule = france.model.config.cross_border
    allocation = allocate("historical_2013", 175, france.catchments, constants)
    flows = france.flows(allocation)
    by_id = france.by_id
    sent = 0.0
    for c in france.catchments:
        cid = c.catchment_id
        if allocation[cid] > 0:
            assert cid not in flows.uptake and cid not in flows.brought
            continue
        share = flows.uptake[cid]
        if share == 0:
            assert cid not in flows.brought
            continue
        # The uptake is the rule's at the road time there, and the posts share them.
        assert share == pytest.approx(rule.uptake(flows.minutes[cid]))
        brought = flows.brought[cid]
        assert sum(brought.values()) == pytest.approx(share * c.population)
        homes = {by_id[d].departement for d in brought}
        assert len(homes) == 1
        home = homes.pop()
        assert home == c.departement or home in france.neighbourhood.neighbours[c.departement]
        assert all(allocation[d] > 0 for d in brought)
        # Its road time is the rule's, to where they go.
        assert flows.minutes[cid] == pytest.approx(
            rule.minutes_per_km * france.neighbourhood.distance_km(c.departement, home)
        )
        # Nearest: no département within reach that has posts is closer.
        covered = {by_id[d].departement for d, k in allocation.items() if k > 0}
        for place in (c.departement, *france.neighbourhood.neighbours[c.departement]):
            if place in covered:
                time = rule.minutes_per_km * france.neighbourhood.distance_km(c.departement, place)
                assert time >= flows.minutes[cid] - 1e-9, (cid, place)
        # The posts of that département share them by their posts.
        posts = {d: allocation[d] for d in brought}
        for d, population in brought.items():
            assert population == pytest.approx(
                share * c.population * posts[d] / sum(posts.values())
            )
        sent += share * c.population
    assert sum(flows.inflow.values()) == pytest.approx(sent)
    # The Val-de-Marne has no post in 2013: its people reach those of Paris or a
    # neighbour, the nearest first.
    val_de_marne = [c for c in france.catchments if c.departement == "94"]
    for c in val_de_marne:
        assert flows.uptake[c.catchment_id] > 0.3
    for destination, in_flow in flows.inflow.items():
        origins = flows.origins(destination)
        assert sum(origins.values()) == pytest.approx(1.0)
        assert in_flow > 0


def test_uptake_falls_with_road_time(france: NationalStudy) -> None:
    rule = france.model.config.cross_border
    times = [0, 15, 30, 60, 120]
    shares = [rule.uptake(t) for t in times]
    assert shares[0] == rule.uptake_at_zero
    assert shares[2] == pytest.approx(rule.uptake_at_zero / 2)
    assert all(a > b for a, b in itertools.pairwise(shares))


def test_a_catchment_with_no_post_within_reach_sends_nobody(france: NationalStudy) -> None:
    # Only Paris has a post: the Bouches-du-Rhône's persons reach nobody.  (An
    # allocation may leave out the catchments without a post.)
    paris = next(c.catchment_id for c in france.catchments if c.departement == "75")
    allocation = {paris: 1}
    rule = france.model.config.cross_border
    flows = cross_border_flows(france.catchments, allocation, france.neighbourhood, rule)
    for c in france.catchments:
        if c.departement == "13":
            assert flows.uptake[c.catchment_id] == 0.0
        if c.departement in ("75", "92", "93", "94") and c.catchment_id != paris:
            assert set(flows.brought[c.catchment_id]) == {paris}


# -- the posts simulate them ------------------------------------------------------------


def test_a_post_receiving_nobody_runs_exactly_as_without_cross_border(
    france: NationalStudy,
) -> None:
    without = NationalStudy.of(load_national(FRANCE, overrides={"cross_border.enabled": False}))
    c = france.catchments[3]
    with_border = catchment_scenario(france, "office_hours", c, 1, 1)
    plain = catchment_scenario(without, "office_hours", c, 1, 1)
    assert set(with_border.populations) - set(plain.populations) == {
        neighbour_population(p) for p in plain.populations
    }
    a, b = simulate(with_border, 0), simulate(plain, 0)
    for name, column in b.cases.columns().items():
        np.testing.assert_array_equal(getattr(a.cases, name), column, err_msg=name)
    for name, column in b.workers.columns().items():
        np.testing.assert_array_equal(getattr(a.workers, name), column, err_msg=name)


def test_received_persons_load_the_post_they_reach(france: NationalStudy) -> None:
    c = france.catchments[3]
    alone = simulate(catchment_scenario(france, "office_hours", c, 1, 1, inflow=0), 0)
    loaded = simulate(catchment_scenario(france, "office_hours", c, 1, 1, inflow=300_000), 0)
    names = catchment_scenario(france, "office_hours", c, 1, 1).population_names
    own = [k for k, n in enumerate(names) if not n.endswith("_from_neighbour")]
    mine = np.isin(loaded.cases.population, own)
    # The post's own persons are the same persons (common random numbers) ...
    np.testing.assert_array_equal(loaded.cases.arrival[mine], alone.cases.arrival)
    assert (~mine).sum() > 1000
    # ... and those from elsewhere take the post's time, so its own fare worse.
    contacted = 0  # EndState.CONTACTED
    assert (loaded.cases.state[mine] == contacted).sum() < (alone.cases.state == contacted).sum()


def test_inflow_needs_cross_border_service() -> None:
    without = NationalStudy.of(load_national(FRANCE, overrides={"cross_border.enabled": False}))
    with pytest.raises(ValueError, match="cross-border"):
        catchment_scenario(without, "office_hours", without.catchments[0], 1, 1, inflow=10)


# -- the country ------------------------------------------------------------------------


def _national(
    tmp_path: Path, enabled: bool, replications: int = 6, posts: int = 4, rule: str = "proportional"
):
    path = small_config(tmp_path, ["19", "23", "86", "87"], cross_border={"enabled": enabled})
    study = NationalStudy.of(load_national(path))
    out = run_national(
        study,
        [Request(posts, rule, "office_hours")],
        tmp_path / f"out_{enabled}",
        LocalBackend(1),
        replications,
        fresh=True,
        show_progress=False,
    )
    rows = out.tables["national"].to_pylist()
    return study, out, {r["metric"]: r for r in rows}


def test_the_country_counts_each_person_once_where_they_live(tmp_path: Path) -> None:
    study, on, national = _national(tmp_path, True)
    _, _off, plain = _national(tmp_path, False)
    # The persons in need do not depend on where they are seen: the two estimates
    # agree within their intervals.
    a, b = national["national_persons_in_need"], plain["national_persons_in_need"]
    assert abs(a["mean"] - b["mean"]) < math.hypot(a["half_width"], b["half_width"])
    # Fewer are unmet for want of a post, and some are contacted across a border.
    assert national["national_unmet_no_post"]["ci_high"] < plain["national_unmet_no_post"]["ci_low"]
    assert national["national_contacted_across_border"]["ci_low"] > 0
    assert plain["national_contacted_across_border"]["mean"] == 0
    assert 0 < national["national_across_border_share"]["mean"] < 1
    # The départements' and catchments' counts add up to the nation's.
    departements = on.tables["departements"].to_pylist()
    catchments = on.tables["catchments"].to_pylist()
    across = national["national_contacted_across_border"]["mean"]
    assert sum(d["contacted_across_border"] for d in departements) == pytest.approx(across)
    assert sum(c["contacted_across_border"] for c in catchments) == pytest.approx(across)
    need = national["national_persons_in_need"]["mean"]
    assert sum(d["persons_in_need"] for d in departements) == pytest.approx(need)
    # Only catchments without a post send; only those with posts receive.
    for c in catchments:
        if c["posts_in_catchment"] > 0:
            assert c["sent_share"] == 0 and c["contacted_across_border"] == 0
        else:
            assert c["received_population"] == 0
    assert any(c["received_population"] > 0 for c in catchments)
    assert study.cross_border


def test_every_simulated_person_is_counted_once_in_every_replication(tmp_path: Path) -> None:
    """Per replication, the nation's persons in need (and unmet) are exactly those the
    posts simulated, their own and those they received, plus the no-post draws; and at
    every post its own persons plus those it received are all it simulated."""
    from sim.measures.catalogue import ALL
    from sim.national.run import CatchmentCounts, national_plan, simulated_points
    from sim.pipeline.results import StoredResults

    # The 2013 rule grows where it was: one catchment gets two posts, others none.
    study, out, _ = _national(tmp_path, True, replications=3, posts=6, rule="historical_2013")
    allocation = next(iter(out.allocations.values()))
    plan = national_plan(study, simulated_points(study, allocation), ["office_hours"], 3, "check")
    stored = StoredResults(tmp_path / "out_True" / "runs").table("replications")
    counts = CatchmentCounts(study, plan, stored)
    totals, per_catchment, _ = counts.national("office_hours", allocation)
    flows, inflow = study.flows(allocation), study.inflow(allocation)
    point = {(p.values["catchment"], p.values["posts"]): p.index for p in plan.points}
    names = ("servable", "unmet", "met", "couple_violence_met")
    simulated = {name: np.zeros(3) for name in names}
    received = np.zeros(3)
    received_somewhere = False
    for c in study.catchments:
        cid = c.catchment_id
        if allocation[cid] == 0:
            drawn = counts.no_post(cid, flows.uptake.get(cid, 0.0))
            for name in simulated:
                simulated[name] += drawn[name]
            continue
        everything = counts._persons("office_hours", point[(cid, allocation[cid])], ALL)
        own, got = counts.of("office_hours", cid, allocation[cid], inflow.get(cid, 0))
        for name in simulated:
            simulated[name] += everything[name]
            if got is not None:
                np.testing.assert_allclose(own[name] + got[name], everything[name])
        if got is not None:
            received += got["servable"]
        received_somewhere |= got is not None and got["servable"].sum() > 0
    assert received_somewhere
    for name in simulated:
        # Couple-violence persons met: a post-level measure times the posts where a
        # post receives nobody, equal to its persons' count up to rounding.
        np.testing.assert_allclose(totals[name], simulated[name], rtol=1e-9, err_msg=name)
    # Where they live: the origins' shares of what the posts received add up to it,
    # whatever the number of origins a post draws from.
    across = sum(per_catchment[c]["across_border"] for c in per_catchment)
    assert (across > 0).all()
    np.testing.assert_allclose(across, received)
    assert any(len(flows.origins(d)) > 1 for d in inflow), "no post draws from two origins"
    assert any(n > 1 for n in allocation.values()), "no catchment has two posts"


def test_cross_border_service_needs_the_boundaries(tmp_path: Path, capsys) -> None:
    path = small_config(tmp_path, ["19"], cross_border={"enabled": True})
    with pytest.raises(ConfigError, match=r"cross_border\.enabled needs boundaries"):
        load_national(path, overrides={"boundaries": None})
    belgium = ROOT / "configs" / "national" / "belgium.yaml"
    code = main(["national", str(belgium), "--posts", "10", "--set", "cross_border.enabled=true"])
    assert code == 2
    assert "cross_border.enabled needs boundaries" in capsys.readouterr().err


def test_without_cross_border_couple_violence_met_is_every_post_s_persons(tmp_path: Path) -> None:
    """With nobody received, a catchment's couple-violence persons met are its posts'
    per-post measure times its posts, which must equal the count of its persons, a
    catchment of two posts included."""
    from sim.measures.catalogue import ALL
    from sim.national.run import CatchmentCounts, national_plan, simulated_points
    from sim.pipeline.results import StoredResults

    study, out, _ = _national(tmp_path, False, replications=2, posts=6, rule="historical_2013")
    allocation = next(iter(out.allocations.values()))
    assert any(n > 1 for n in allocation.values()), "no catchment has two posts"
    plan = national_plan(study, simulated_points(study, allocation), ["office_hours"], 2, "check")
    stored = StoredResults(tmp_path / "out_False" / "runs").table("replications")
    counts = CatchmentCounts(study, plan, stored)
    point = {(p.values["catchment"], p.values["posts"]): p.index for p in plan.points}
    for cid, posts in allocation.items():
        if posts == 0:
            continue
        own, got = counts.of("office_hours", cid, posts)
        persons = counts._persons("office_hours", point[(cid, posts)], ALL)
        assert got is None
        np.testing.assert_allclose(own["couple_violence_met"], persons["couple_violence_met"])
