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
        scenario = load_scenario(CONFIGS / f"{target.config}.yaml")
        assert target.measure in measures_for(scenario), target.id
        cited = [part.strip("[],:") for part in target.source.split() if part.startswith("[")]
        assert cited and all(f"[{c}]" in sources for c in cited), target.id
