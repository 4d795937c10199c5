"""``station-sim calibrate``: each published figure beside the model's value on its
config, the verdict against its band, exit status 1 when one is outside, and one
message for a bad targets file."""

from __future__ import annotations

import pytest
import yaml
from conftest import CONFIGS

from sim.calibration.check import load_targets
from sim.commands.cli import main
from sim.config.errors import ConfigError

SHORT = (
    "base: {base}\n"
    "simulation: {{warm_up_days: 14, run_days: 56, drain_days: 28, replications: 3}}\n"
    "measures: {{followup_observation_days: 28}}\n"
)


def _targets(folder, band, measure="persons_met_per_post_year", published=100.0):
    configs = folder / "configs"
    (configs / "calibration").mkdir(parents=True)
    (configs / "short.yaml").write_text(SHORT.format(base=CONFIGS / "france_office_hours.yaml"))
    path = configs / "calibration" / "targets.yaml"
    target = {
        "id": "persons",
        "title": "Persons met per post",
        "published": published,
        "source": "[C7]",
        "measure": measure,
        "config": "short",
        "band": band,
        "why": "a test",
    }
    path.write_text(yaml.safe_dump({"targets": [target]}))
    return path


def test_a_target_in_its_band_passes_and_one_outside_fails(tmp_path, capsys):
    inside = _targets(tmp_path / "a", [1, 5000])
    assert main(["calibrate", "--targets", str(inside), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "Persons met per post [persons]" in out and "check      pass" in out
    assert "1 of 1 targets in their band." in out
    outside = _targets(tmp_path / "b", [99, 101])
    assert main(["calibrate", "--targets", str(outside), "--jobs", "1"]) == 1
    assert "check      FAIL" in capsys.readouterr().out


def test_bad_targets_get_one_message(tmp_path, capsys):
    with pytest.raises(ConfigError, match="does not hold the published value"):
        load_targets(_targets(tmp_path / "a", [1, 50]))
    path = _targets(tmp_path / "b", [1, 5000], measure="persons_met_per_post")
    assert main(["calibrate", "--targets", str(path), "--jobs", "1"]) == 2
    assert "no measure 'persons_met_per_post'" in capsys.readouterr().err
    assert main(["calibrate", "nowhere", "--targets", str(path)]) == 2
    assert "no target is checked on 'nowhere'" in capsys.readouterr().err


def test_the_shipped_targets_cite_sources_and_name_measures_that_exist():
    from sim.config.schema import load_scenario
    from sim.measures.catalogue import measures_for

    targets = load_targets(CONFIGS / "calibration" / "targets.yaml")
    assert len(targets.targets) >= 6
    sources = (CONFIGS.parent / "docs" / "sources.md").read_text(encoding="utf-8")
    for target in targets.targets:
        if target.national is not None:
            from sim.national.config import load_national
            from sim.national.measures import NATIONAL_MEASURES

            model = load_national(CONFIGS / f"{target.national.config}.yaml")
            assert target.national.coverage in model.scenarios, target.id
            assert target.measure in NATIONAL_MEASURES, target.id
            continue
        scenario = load_scenario(CONFIGS / f"{target.config}.yaml")
        assert target.measure in measures_for(scenario), target.id
        cited = [part.strip("[],:") for part in target.source.split() if part.startswith("[")]
        assert cited and all(f"[{c}]" in sources for c in cited), target.id


# -- national targets and the scan of a parameter ------------------------------------

SCAN_TARGETS = {
    "parameters": {
        "demand_volume": {
            "title": "the volume of demand",
            "station": ["populations.victim.arrivals.per_year"],
            "national": ["demand_per_100k.victim"],
            "scales": [0.5, 1.0, 2.0],
        }
    },
    "targets": [
        {
            "id": "station_persons",
            "title": "t",
            "published": 100.0,
            "source": "[C7]",
            "measure": "persons_met_per_post_year",
            "config": "station",
            "band": [80, 120],
            "why": "w",
        },
        {
            "id": "national_persons",
            "title": "t",
            "published": 100.0,
            "source": "[C7]",
            "measure": "national_contacted",
            "per_post": True,
            "national": {
                "config": "national",
                "coverage": "office_hours",
                "allocation": "proportional",
                "posts": 10,
            },
            "band": [80, 120],
            "why": "w",
        },
    ],
}


class _Frame:
    """The part of a pandas frame and of a Result the check reads."""

    def __init__(self, metric: str, mean: float, population: str | None = "all"):
        import pandas as pd

        row = {"metric": metric, "mean": mean, "half_width": 1.0, "n": 2}
        if population is not None:
            row["population"] = population
        self.frame = pd.DataFrame([row])
        self.summary = self.frame


def _scan_files(tmp_path, national_slope: float):
    """A targets file, its two configs, and runners whose values grow with the
    multiplied setting: the station's as its per_year, the nation's per post as
    ``national_slope`` times its demand."""
    (tmp_path / "calibration").mkdir()
    (tmp_path / "station.yaml").write_text(
        yaml.safe_dump({"populations": {"victim": {"arrivals": {"per_year": 100}}}})
    )
    (tmp_path / "national.yaml").write_text(
        yaml.safe_dump(
            {
                "demand_per_100k": {"victim": 50},
                "coverage": {"office_hours": {"config": "post.yaml"}},
            }
        )
    )
    (tmp_path / "post.yaml").write_text(
        yaml.safe_dump({"populations": {"victim": {"followups": {"duration": {"mean": 45}}}}})
    )
    path = tmp_path / "calibration" / "targets.yaml"
    path.write_text(yaml.safe_dump(SCAN_TARGETS))
    seen = []

    def run(config, overrides):
        value = overrides.get("populations.victim.arrivals.per_year", 100)
        seen.append(("station", overrides))
        return _Frame("persons_met_per_post_year", value)

    def run_national(config, context, overrides, coverage):
        demand = overrides.get("demand_per_100k.victim", 50)
        # Shorter appointments leave the posts room for more persons.
        work = coverage.get("populations.victim.followups.duration.mean", 45) / 45
        seen.append(("national", overrides))
        if coverage:
            seen.append(("coverage", coverage))
        value = national_slope * demand * context.posts / work
        return _Frame("national_contacted", value, None).frame

    return load_targets(path), tmp_path, run, run_national, seen


def test_a_national_target_is_read_per_post_from_the_national_model(tmp_path):
    from sim.calibration.check import calibrate

    targets, configs, run, run_national, seen = _scan_files(tmp_path, national_slope=1.0)
    rows = calibrate(targets, configs, run, run_national)
    assert [(r.target.id, r.mean, r.half_width, r.passed) for r in rows] == [
        ("station_persons", 100.0, 1.0, True),
        ("national_persons", 50.0, 0.1, False),  # 500 for 10 posts, half-width 1 / 10
    ]
    assert seen == [("station", {}), ("national", {})]


def test_a_scan_finds_where_each_target_holds_and_names_the_conflict(tmp_path):
    from sim.calibration.check import format_scan, scan

    targets, configs, run, run_national, seen = _scan_files(tmp_path, national_slope=1.0)
    result = scan(targets, "demand_volume", configs, run, run_national)
    # The multiplier reaches every config's own value of each setting.
    assert ("station", {"populations.victim.arrivals.per_year": 50.0}) in seen
    assert ("national", {"demand_per_100k.victim": 100.0}) in seen
    assert result.values(0).tolist() == [50.0, 100.0, 200.0]
    assert result.values(1).tolist() == [25.0, 50.0, 100.0]
    # Station: 80-120 between x0.8 (from 50 at x0.5 to 100 at x1) and x1.2 (on the way
    # to 200 at x2); nation: 80 at x1.6 (between 50 at x1 and 100 at x2) to the scan's
    # end at x2, where it is still in the band.
    low, high = result.holds_for(0)
    assert (round(low, 6), round(high, 6)) == (0.8, 1.2)
    low, high = result.holds_for(1)
    assert (round(low, 6), high) == (1.6, 2.0)
    text = format_scan(result)
    assert "national_persons needs at least x1.60, station_persons at most x1.20" in text
    assert "conflict by a factor 1.33" in text


def test_a_scan_says_when_one_multiplier_meets_every_target(tmp_path):
    from sim.calibration.check import format_scan, scan

    targets, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=2.0)
    text = format_scan(scan(targets, "demand_volume", configs, run, run_national))
    assert "Every target holds for demand_volume x0.80 to x1.20." in text


@pytest.mark.parametrize(
    ("declared", "said"),
    [
        (None, "Every target holds for demand_volume x0.80 to x1.20."),
        ([0.5, 2.0], "Every target holds for demand_volume x0.80 to x1.20."),
        (
            [1.0, 1.1],
            "Every target holds for demand_volume x0.80 to x1.20, of which only x1.00 to "
            "x1.10 inside the declared range x1 to x1.1.",
        ),
        (
            [1.0, 1.0],
            "Every target holds for demand_volume x0.80 to x1.20, of which only x1.00 to "
            "x1.00 inside the declared range x1 to x1.",
        ),
    ],
)
def test_a_fit_is_said_against_the_declared_range(tmp_path, declared, said):
    from sim.calibration.check import Targets, format_scan, scan

    _, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=2.0)
    document = yaml.safe_load(yaml.safe_dump(SCAN_TARGETS))
    document["parameters"]["demand_volume"]["declared"] = declared
    targets = Targets.model_validate(document)
    text = format_scan(scan(targets, "demand_volume", configs, run, run_national))
    assert said in text


def test_a_fit_wholly_outside_the_declared_range_says_no_setting_inside_meets_all():
    from sim.calibration.check import Parameter, _against_declared

    parameter = Parameter(title="t", station=("a",), scales=(0.5, 1.0, 2.0), declared=(0.7, 1.4))
    assert _against_declared(parameter, 1.48, 1.56) == (
        ", outside the declared range x0.7 to x1.4: no setting inside it meets every target"
    )
    assert _against_declared(parameter, 0.8, 1.2) == ""
    assert _against_declared(parameter, 1.2, 1.6) == (
        ", of which only x1.20 to x1.40 inside the declared range x0.7 to x1.4"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"declared": [1.2, 1.5]}, "must hold the shipped value"),
        ({"scales": [1.0, 0.5, 2.0]}, "list increasing multipliers"),
        ({"scales": [0.5, 0.8, 2.0]}, r"1 \(as shipped\) among them"),
        ({"station": [], "national": []}, "name the station, national or coverage settings"),
    ],
)
def test_a_bad_parameter_is_refused(tmp_path, change, message):
    document = yaml.safe_load(yaml.safe_dump(SCAN_TARGETS))
    document["parameters"]["demand_volume"].update(change)
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=message):
        load_targets(path)


def test_a_target_needs_one_context_and_per_post_a_national_one(tmp_path):
    document = yaml.safe_load(yaml.safe_dump(SCAN_TARGETS))
    both = document["targets"][1]
    both["config"] = "station"
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="give exactly one of config"):
        load_targets(path)
    document["targets"][1].pop("config")
    document["targets"][0]["per_post"] = True
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="per_post divides a national measure"):
        load_targets(path)


def test_a_scan_says_which_published_value_is_never_reached(tmp_path):
    from sim.calibration.check import format_scan, scan

    targets, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=0.5)
    text = format_scan(scan(targets, "demand_volume", configs, run, run_national))
    assert "national_persons never reaches its published 100 in the scan (at most 50, at x2)" in (
        text
    )
    assert "No multiplier in x0.5 to x2 puts national_persons in its band" in text


def test_a_target_fitted_by_another_setting_is_left_out_of_the_conflicts(tmp_path):
    from sim.calibration.check import Targets, format_scan, scan

    targets, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=1.0)
    document = targets.model_dump()
    document["targets"][0]["fitted_by"] = "ramp_up.initial_share"
    text = format_scan(scan(Targets.model_validate(document), "demand_volume", configs, run,
                            run_national))  # fmt: skip
    assert "Left out of the conflicts, fitted by another setting: station_persons" in text
    assert "Every target holds for demand_volume x1.60 to x2.00." in text
    assert "conflict by" not in text


def test_a_failed_target_says_how_far_it_is_from_its_band(tmp_path, capsys):
    from sim.calibration.check import calibrate, format_calibration

    targets, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=1.0)
    text = format_calibration(calibrate(targets, configs, run, run_national))
    assert "check      FAIL: 30 below its band, -50 % from the published value" in text


def _joint(document: dict) -> dict:
    """The scan targets with a second parameter: the duration of a follow-up, in the
    national model's coverage config."""
    document = yaml.safe_load(yaml.safe_dump(document))
    document["parameters"]["followup_work"] = {
        "title": "the work of a follow-up",
        "coverage": ["populations.victim.followups.duration.mean"],
        "scales": [0.5, 1.0, 2.0],
    }
    return document


def test_a_joint_scan_finds_the_pairs_where_every_target_holds(tmp_path):
    from sim.calibration.check import Targets, format_grid, grid

    _, configs, run, run_national, seen = _scan_files(tmp_path, national_slope=1.0)
    targets = Targets.model_validate(_joint(SCAN_TARGETS))
    result = grid(targets, ("demand_volume", "followup_work"), configs, run, run_national)
    # The second parameter reaches the coverage config's own value.
    assert ("coverage", {"populations.victim.followups.duration.mean": 22.5}) in seen
    # National per post: demand (25, 50, 100) over work (0.5, 1, 2); band 80-120.
    national = [[cell[1].mean for cell in line] for line in result.rows]
    assert national == [[50.0, 25.0, 12.5], [100.0, 50.0, 25.0], [200.0, 100.0, 50.0]]
    text = format_grid(result)
    # The station holds at demand x1 only (100); the nation at (x1, x0.5) and (x2, x1).
    assert "Every target holds at demand_volume x1 with followup_work x0.5." in text
    assert "Closest pair: demand_volume x1, followup_work x0.5, 2 of 2 targets" in text
    assert "never together" not in text


def test_a_joint_fit_outside_a_declared_range_is_marked(tmp_path):
    from sim.calibration.check import Targets, format_grid, grid

    _, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=1.0)
    document = _joint(SCAN_TARGETS)
    document["parameters"]["followup_work"]["declared"] = [0.75, 1.5]
    targets = Targets.model_validate(document)
    text = format_grid(grid(targets, ("demand_volume", "followup_work"), configs, run,
                            run_national))  # fmt: skip
    assert (
        "Every target holds at demand_volume x1 with followup_work x0.5 (followup_work "
        "x0.5 outside its declared x0.75 to x1.5)." in text
    )


def test_a_joint_scan_names_the_targets_that_never_hold_together(tmp_path):
    from sim.calibration.check import Targets, format_grid, grid

    _, configs, run, run_national, _ = _scan_files(tmp_path, national_slope=0.5)
    targets = Targets.model_validate(_joint(SCAN_TARGETS))
    text = format_grid(grid(targets, ("demand_volume", "followup_work"), configs, run,
                            run_national))  # fmt: skip
    # The nation holds only at (x2, x0.5), 0.5 * 100 / 0.5; the station at demand x1 only.
    assert "Each holds somewhere, never together: station_persons and national_persons." in text
    assert "Every target holds" not in text
    assert "Closest pair: demand_volume x1, followup_work x0.5, 1 of 2 targets" in text
    assert "national_persons: 50, below its band 80-120 (-50 % from the published 100)" in text


def test_two_parameters_may_not_multiply_the_same_setting(tmp_path):
    document = _joint(SCAN_TARGETS)
    document["parameters"]["followup_work"]["national"] = ["demand_per_100k.victim"]
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(
        ConfigError, match=r"both multiply national setting demand_per_100k\.victim"
    ):
        load_targets(path)


def test_the_joint_scan_takes_two_different_parameters(capsys):
    path = str(CONFIGS / "calibration" / "targets.yaml")
    for scans in (["followup_work", "followup_work"], ["a", "b", "c"]):
        argv = ["calibrate", "--targets", path]
        for name in scans:
            argv += ["--scan", name]
        assert main(argv) == 2
        assert capsys.readouterr().err.count("error:") == 1


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (["nope=1"], "'nope' is not a parameter"),
        (["demand_volume=x"], "must be a number above 0"),
        (["demand_volume=0"], "must be a number above 0"),
        (["demand_volume=1", "demand_volume=2"], "names a parameter twice"),
    ],
)
def test_a_point_of_the_scan_is_named_by_known_parameters(capsys, at, message):
    argv = ["calibrate", "--targets", str(CONFIGS / "calibration" / "targets.yaml")]
    for given in at:
        argv += ["--at", given]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and message in err


def test_coverage_settings_reach_only_the_coverage_model_of_the_target():
    from sim.national.config import load_national

    path = "populations.victim.followups.duration.mean"
    shipped = load_national(CONFIGS / "national" / "france.yaml", "office_hours", None, {})
    model = load_national(CONFIGS / "national" / "france.yaml", "office_hours", None, {path: 30.0})
    before = {
        n: s.populations["victim"].followups.duration.mean for n, s in shipped.scenarios.items()
    }
    duration = {n: s.populations["victim"].followups.duration for n, s in model.scenarios.items()}
    assert before["office_hours"] != 30.0
    assert duration["office_hours"].mean == 30.0
    assert all(d.mean == before[n] for n, d in duration.items() if n != "office_hours")
