"""Experiment specs are checked whole before anything runs: the shipped specs load, bad
specs get one clear message and exit status 2 with nothing written, and designs are the
same every time."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from experiment_specs import CONFIGS, EXPERIMENTS, TINY, write_spec

from sim.commands.cli import main
from sim.config.errors import ConfigError
from sim.config.schema import load_scenario
from sim.pipeline.design import design_points
from sim.pipeline.plan import load_plan
from sim.pipeline.spec import Design


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_resolves(path):
    from sim.national.spec import is_national_spec, load_national_experiment

    if is_national_spec(path):
        # A national spec resolves into allocations of the catchments (tests/test_national.py).
        assert load_national_experiment(path).name == path.stem
        return
    plan = load_plan(path)
    assert plan.spec.name == path.stem
    assert len(plan.scenarios) == len(plan.points) * len(plan.labels)
    # Common random numbers: one seed and one set of replications for every scenario.
    assert {r.scenario.simulation.seed for r in plan.scenarios} == {plan.spec.seed}
    assert {r.scenario.simulation.replications for r in plan.scenarios} == {plan.spec.replications}


def test_the_three_required_experiments_ship():
    assert {p.stem for p in EXPERIMENTS.glob("*.yaml")} >= {
        "france_vs_belgium",
        "staffing_sweep",
        "scale_up_350",
    }


def test_france_vs_belgium_covers_every_coverage_model_of_configs():
    plan = load_plan(EXPERIMENTS / "france_vs_belgium.yaml")
    configs = {p.stem for p in (EXPERIMENTS.parent / "configs").glob("*.yaml")}
    assert set(plan.labels) == configs


# The configs' victims a year, which the factors scale.
VICTIMS = load_scenario(CONFIGS / "belgium_24_7.yaml").populations["victim"].arrivals.per_year


def test_factors_set_their_paths_at_each_point(tmp_path):
    plan = load_plan(write_spec(tmp_path))
    assert [p.values for p in plan.points] == [
        {"workers": 1, "demand": 1},
        {"workers": 1, "demand": 1.5},
        {"workers": 2, "demand": 1},
        {"workers": 2, "demand": 1.5},
    ]
    scenario = plan.scenario_at(3, "belgium_24_7")
    assert scenario.name == "belgium_24_7"
    assert scenario.staffing.workers[0].count == 2
    assert scenario.populations["victim"].arrivals.per_year == VICTIMS * 1.5
    assert scenario.simulation.run_days == 28 and scenario.simulation.seed == 11


def test_national_share_gives_each_catchment_its_posts_share(tmp_path):
    factor = {
        "name": "national_posts",
        "path": "populations.victim.arrivals.per_year",
        "apply": "national_share",
        "reference": 175,
        "values": [175, 350],
    }
    plan = load_plan(write_spec(tmp_path, design={"kind": "grid", "factors": [factor]}))
    one_post = plan.scenario_at(1, "france_office_hours")  # 1 worker
    two_posts = plan.scenario_at(1, "belgium_24_7")  # 2 workers
    assert one_post.populations["victim"].arrivals.per_year == VICTIMS * 175 / 350
    assert two_posts.populations["victim"].arrivals.per_year == VICTIMS * 175 * 2 / 350


def test_national_share_counts_the_posts_another_factor_sets(tmp_path):
    posts = {"name": "workers", "path": "staffing.workers[0].count", "values": [1, 3]}
    share = {
        "name": "national_posts",
        "path": "populations.victim.arrivals.per_year",
        "apply": "national_share",
        "reference": 175,
        "values": [350],
    }
    design = {"kind": "grid", "factors": [posts, share]}
    spec = write_spec(tmp_path, scenarios=["france_office_hours"], comparison=None, design=design)
    plan = load_plan(spec)
    for point, workers in ((0, 1), (1, 3)):
        scenario = plan.scenario_at(point, "france_office_hours")
        assert scenario.staffing.workers[0].count == workers
        # Demand per post: three posts of 350 meet three times what one post meets.
        assert scenario.populations["victim"].arrivals.per_year == VICTIMS * 175 * workers / 350


def test_a_spec_edited_in_its_figures_only_keeps_its_digest(tmp_path):
    a = load_plan(write_spec(tmp_path, name="a"))
    b = load_plan(write_spec(tmp_path, name="a", figures=[{"kind": "cost_frontier"}]))
    c = load_plan(write_spec(tmp_path, name="a", seed=12))
    assert a.digest() == b.digest() != c.digest()


def _bad_factor(**change):
    factor = copy.deepcopy(TINY["design"]["factors"][0])
    factor.update(change)
    return {"kind": "grid", "factors": [factor]}


BAD_SPECS = {
    "unknown scenario": (
        {"scenarios": ["france_office_hours", "belgum_24_7"]},
        "scenarios[1].config = 'belgum_24_7': not a scenario of",
    ),
    "unknown dotted path": (
        {"design": _bad_factor(path="staffing.workerz[0].count")},
        "design.factors[0].paths[0] = 'staffing.workerz[0].count': no setting 'workerz'",
    ),
    "path missing from one base scenario": (
        {"design": _bad_factor(path="on_call.responders")},
        "on_call is not set in scenario 'france_office_hours'",
    ),
    "list index beyond the list": (
        {"overrides": {"staffing.workers[3].count": 2}},
        "staffing.workers has 1 item(s) in scenario 'france_office_hours'",
    ),
    "empty design": ({"design": {"kind": "grid", "factors": []}}, "the design has no factors"),
    "a system measure for one population": (
        {"comparison": {"metrics": ["utilisation"], "populations": ["victim"]}},
        "['utilisation'] are measures of the system, given for population 'all' only",
    ),
    "empty values": ({"design": _bad_factor(values=[])}, "values is empty"),
    "point that does not validate": (
        {"design": _bad_factor(values=[1, 0])},
        "at design point 1 (workers=0): invalid configuration\n  staffing.workers[0].count = 0",
    ),
    "sobol size": (
        {
            "design": {
                "kind": "sobol",
                "points": 10,
                "factors": [{"name": "w", "path": "costs.fte_eur_per_year", "range": [1, 2]}],
            }
        },
        "a Sobol design needs a power of 2",
    ),
    "unknown figure factor": (
        {"figures": [{"kind": "staffing_response", "x": "staff"}]},
        "x = 'staff': not a factor of the design",
    ),
    "figure point needed": (
        {"figures": ["wait_ecdf"]},
        "has 4 design points; choose one with at: {workers: VALUE, demand: VALUE}",
    ),
    "unknown metric": (
        {"comparison": {"metrics": ["unmet_shar"]}},
        "comparison.metrics[0] = 'unmet_shar': not a measure",
    ),
    "misspelt setting": ({"replication": 3}, "replication: unknown setting"),
}


@pytest.mark.parametrize("changes,message", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_a_bad_spec_gets_one_clear_message_and_nothing_runs(tmp_path, capsys, changes, message):
    spec = write_spec(tmp_path, **changes)
    out = tmp_path / "out"
    assert main(["experiment", str(spec), "--out", str(out), "--jobs", "1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("station-sim: error: ")
    assert message in error
    assert not out.exists()


def test_grid_points_vary_the_first_factor_slowest():
    design = Design.model_validate(
        {
            "factors": [
                {"name": "a", "path": "x.y", "values": [1, 2]},
                {"name": "b", "path": "x.z", "values": ["p", "q", "r"]},
            ]
        }
    )
    points = design_points(design, seed=0)
    assert [(p["a"], p["b"]) for p in points] == [
        (1, "p"), (1, "q"), (1, "r"), (2, "p"), (2, "q"), (2, "r"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind,points", [("latin_hypercube", 12), ("sobol", 16)])
def test_space_filling_designs_are_seeded_and_within_range(kind, points):
    document = {
        "kind": kind,
        "points": points,
        "factors": [
            {"name": "a", "path": "x.y", "range": [10.0, 20.0]},
            {"name": "b", "path": "x.z", "range": [1, 4], "integer": True},
        ],
    }
    design = Design.model_validate(document)
    first, again = design_points(design, seed=5), design_points(design, seed=5)
    other = design_points(design, seed=6)
    assert first == again != other
    a = np.asarray([p["a"] for p in first])
    assert len(first) == points and a.min() >= 10 and a.max() < 20
    assert {p["b"] for p in first} <= {1, 2, 3, 4}
    assert all(isinstance(p["b"], int) for p in first)
    if kind == "latin_hypercube":
        # One point in each of the 12 equal strata of the range.
        assert sorted(np.floor((a - 10) / 10 * points).astype(int)) == list(range(points))
        assert sorted(p["b"] for p in first) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_load_plan_rejects_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such experiment spec"):
        load_plan(tmp_path / "nothing.yaml")
