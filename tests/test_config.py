"""Scenario validation: every mistake is named with its field, value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS, SHIPPED

from sim.config.distributions import Empirical, Gamma, Lognormal, Triangular
from sim.config.errors import ConfigError
from sim.config.paths import apply_overrides, parse_path
from sim.config.schema import load_scenario, scenario_from_dict
from sim.config.week import parse_clock


def _base() -> dict:
    return {
        "name": "t",
        "populations": {
            "victim": {"arrivals": {"per_year": 100}, "interview": {"dist": "fixed", "value": 30}}
        },
        "staffing": {
            "workers": [
                {"name": "w", "roster": [{"days": "weekdays", "start": "09:00", "end": "17:00"}]}
            ]
        },
    }


def _error(overrides: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        scenario_from_dict(apply_overrides(_base(), overrides, "t"))
    return str(caught.value)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path):
    assert load_scenario(path).name == path.stem


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"populations.victim.arrivals.per_year": -5}, "populations.victim.arrivals.per_year = -5"),
        ({"populations.victim.interview": {"dist": "weibull"}}, "unknown distribution"),
        ({"populations.victim.interview": {"dist": "lognormal", "mean": 3}}, "sd: required"),
        ({"populations.victim.colour": "red"}, "populations.victim.colour: unknown setting"),
        (
            {"staffing.workers[0].roster[0].end": "08:00"},
            "staffing.workers[0].roster[0]",
        ),
        ({"staffing.workers[0].roster[0].start": "25:00"}, "not a time of day"),
        ({"staffing.workers[0].roster[0].days": ["monday"]}, "'monday' is not a day"),
        ({"staffing.workers[0].absence.sickness_rate": 1.0}, "sickness_rate = 1.0"),
        ({"staffing.workers[0].absence.leave_weeks": [9]}, "leave_weeks[0] = 9"),
        ({"measures.thresholds_hours": [24, 24]}, "lists a threshold twice"),
        # Two thresholds that would give two measures of one name.
        (
            {"measures.thresholds_hours": [24, 24.000001]},
            "24 and 24.000001 both name the measure within_24h_share",
        ),
        # A boolean (YAML's yes/true) or a quoted number is not a count.
        ({"staffing.workers[0].count": True}, "count = True: a true/false (yes/no) value"),
        ({"staffing.workers[0].count": "2"}, "count = '2': text is not a count"),
        ({"simulation.replications": False}, "replications = False: a true/false"),
        ({"simulation.seed": True}, "seed = True: a true/false"),
        ({"populations.victim.urgent_share": 1.5}, "urgent_share = 1.5"),
        (
            {
                "populations.victim.referral": {
                    "probability": 0.2,
                    "probability_when_no_worker": 0.5,
                }
            },
            "must not exceed probability",
        ),
        ({"staffing.workers[0].roster[0].station": "nowhere"}, "'nowhere' is not a station"),
        (
            {
                "staffing.workers[0].roster": [
                    {"days": "weekdays", "start": "09:00", "end": "13:00"},
                    {"days": ["mon"], "start": "12:00", "end": "17:00"},
                ]
            },
            "roster shifts overlap",
        ),
        ({"simulation.run_days": 0}, "simulation.run_days = 0"),
    ],
)
def test_bad_values_are_named(overrides, expected):
    message = _error(overrides)
    assert expected in message
    assert "Traceback" not in message


def test_a_window_crossing_midnight_is_explained():
    message = _error(
        {"staffing.workers[0].roster[0]": {"days": "all", "start": "17:00", "end": "09:00"}}
    )
    assert "split a window that crosses midnight" in message


def test_overrides_must_name_existing_paths():
    with pytest.raises(ConfigError, match=r"staffing.workers\[4\]"):
        apply_overrides(_base(), {"staffing.workers[4].count": 2}, "t")
    with pytest.raises(ConfigError, match=r"simulation\.run_dayz: unknown setting"):
        scenario_from_dict(apply_overrides(_base(), {"simulation.run_dayz": 3}, "t"))
    with pytest.raises(ConfigError, match="not a dotted path"):
        parse_path("a..b")
    assert parse_path("staffing.workers[0].roster[1].end") == [
        "staffing",
        "workers",
        0,
        "roster",
        1,
        "end",
    ]


def test_base_files_are_merged_and_the_scenario_wins(tmp_path):
    (tmp_path / "common.yaml").write_text(
        "populations:\n  victim:\n    arrivals: {per_year: 100}\n"
        "    interview: {dist: fixed, value: 30}\n"
        "simulation: {seed: 5, replications: 3}\n"
    )
    (tmp_path / "s.yaml").write_text(
        "base: common.yaml\nname: s\nsimulation: {seed: 9}\n"
        "staffing:\n  workers:\n    - name: w\n"
        "      roster: [{days: all, start: '00:00', end: '24:00'}]\n"
    )
    sc = load_scenario(tmp_path / "s.yaml")
    assert sc.simulation.seed == 9 and sc.simulation.replications == 3
    assert sc.populations["victim"].arrivals.per_year == 100


def test_a_title_names_one_file_and_is_not_inherited(tmp_path):
    shipped = load_scenario(CONFIGS / "france_office_hours.yaml")
    assert shipped.plain_title == "French standard: one worker, weekday office hours"
    (tmp_path / "variant.yaml").write_text(
        f"base: {CONFIGS / 'france_office_hours.yaml'}\nname: two_posts_variant\n"
    )
    variant = load_scenario(tmp_path / "variant.yaml")
    assert variant.title == "" and variant.plain_title == "two posts variant"
    (tmp_path / "titled.yaml").write_text(
        f"base: {CONFIGS / 'france_office_hours.yaml'}\nname: t\ntitle: Two posts\n"
    )
    assert load_scenario(tmp_path / "titled.yaml").plain_title == "Two posts"


def test_a_base_loop_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="loop"):
        load_scenario(tmp_path / "a.yaml")


def test_the_common_demand_file_alone_is_not_a_scenario():
    with pytest.raises(ConfigError, match="staffing: required"):
        load_scenario(CONFIGS / "common" / "demand.yaml")


def test_distributions_have_the_means_they_are_given():
    import numpy as np

    rng = np.random.default_rng(0)
    for dist in (
        Lognormal(dist="lognormal", mean=60, sd=30),
        Gamma(dist="gamma", mean=60, sd=30),
        Triangular(dist="triangular", low=10, mode=40, high=130),
        Empirical(dist="empirical", values=(20, 60, 100), weights=(1, 2, 1)),
    ):
        x = dist.sample(rng, 200_000)
        assert abs(x.mean() - dist.expected) < 4 * x.std() / np.sqrt(len(x))
    x = Lognormal(dist="lognormal", mean=60, sd=30).sample(rng, 200_000)
    assert abs(x.std() - 30) < 0.5


def test_clock_parsing():
    assert parse_clock("00:00") == 0 and parse_clock("24:00") == 1440
    assert parse_clock("09:30") == 570
    for bad in ("9h30", "24:01", "12:60", "noon"):
        with pytest.raises(ValueError):
            parse_clock(bad)


def test_a_title_says_what_a_run_set_and_not_the_run_settings() -> None:
    from sim.config.schema import TITLE_LIMIT
    from sim.config.titles import changed_title, describe_changes
    from sim.pipeline.plan import plan_for_scenario

    config = CONFIGS / "france_extended_hours.yaml"
    base = load_scenario(config)
    two = {"staffing.workers[1].count": 2, "simulation.replications": 3}
    assert describe_changes(two, base) == "3 posts"  # 1 early + 2 late; the run's own: none
    assert describe_changes({"simulation.seed": 5}, base) == ""
    other = {"populations.victim.referral.ratio_when_no_worker": 0.3}
    assert describe_changes(other, base) == "victim referral ratio when no worker 0.3"
    # Words, not config ids: a choice de-snaked, each setting named by whose it is.
    words = describe_changes(
        {
            "referral_rule": "on_duty",
            "populations.perpetrator.arrivals.per_year": 50,
            "populations.victim.arrivals.per_year": 100,
            "staffing.workers[1].fte": 0.8,
        },
        base,
    )
    assert words == (
        "referral rule on duty, perpetrator arrivals per year 50, victim arrivals per "
        "year 100, late-shift social workers FTE 0.8"
    )
    plan = plan_for_scenario(config, {**two, **other})
    (resolved,) = plan.scenarios
    assert resolved.scenario.title == (
        f"{base.title} (changed for this run: 3 posts, victim referral ratio when no worker 0.3)"
    )
    # A title the user sets is theirs; settings of the run alone keep the config's.
    assert plan_for_scenario(config, {**two, "title": "Mine"}).scenarios[0].scenario.title == (
        "Mine"
    )
    assert plan_for_scenario(config, {"simulation.seed": 5}).scenarios[0].scenario.title == (
        base.title
    )
    long = changed_title("x" * TITLE_LIMIT, "2 posts", "for this run")
    assert len(long) == TITLE_LIMIT and long.endswith("... (changed for this run: 2 posts)")


def test_an_experiment_s_own_changes_to_a_scenario_retitle_it(tmp_path: Path) -> None:
    import yaml

    from sim.pipeline.plan import load_plan

    office = CONFIGS / "france_office_hours.yaml"
    base = load_scenario(office).title
    spec = {
        "name": "retitled",
        "scenarios": [
            str(office),
            {"config": str(office), "label": "two", "overrides": {"staffing.workers[0].count": 2}},
            {
                "config": str(office),
                "label": "mine",
                "overrides": {"title": "Mine", "staffing.workers[0].count": 3},
            },
        ],
        # Common to every scenario: the experiment's setting, no scenario's change.
        "overrides": {"populations.victim.arrivals.per_year": 500},
        "replications": 2,
        "seed": 1,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    titles = {r.label: r.scenario.title for r in load_plan(path).scenarios}
    assert titles == {
        "france_office_hours": base,
        "two": f"{base} (changed in this experiment: 2 posts)",
        "mine": "Mine",
    }
