"""The assumptions file lists every ASSUMPTION of the shipped configs, and nothing that
is not a setting of them; bad entries are refused in one message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS

from sim.commands.cli import main
from sim.config.assumptions import commented_paths, load_assumptions
from sim.config.errors import ConfigError
from sim.config.paths import ABSENT, lookup, parse_path

ASSUMPTIONS = CONFIGS / "common" / "assumptions.yaml"
SCENARIO_FILES = [*sorted(CONFIGS.glob("*.yaml")), CONFIGS / "common" / "demand.yaml"]


def _covered(commented: str, listed: list[str]) -> bool:
    """A commented setting is covered by a listed path equal to it, inside it (the mean
    of a distribution), or around it (a whole roster)."""
    return any(
        path == commented
        or path.startswith((f"{commented}.", f"{commented}["))
        or commented.startswith((f"{path}.", f"{path}["))
        for path in listed
    )


def _uncovered(listed: list[str]) -> list[str]:
    missing = []
    for config in SCENARIO_FILES:
        for path, line in commented_paths(config.read_text()):
            if not _covered(path, listed):
                missing.append(f"{config.name}:{line} {path}")
    return missing


def test_every_setting_a_config_comment_calls_an_assumption_is_listed():
    listed = [p for f in load_assumptions(ASSUMPTIONS).factors.values() for p in f.all_paths]
    missing = _uncovered(listed)
    assert not missing, "ASSUMPTION comments not in assumptions.yaml:\n" + "\n".join(missing)
    # The check can fail: without one factor, its settings are reported.
    without = [p for p in listed if p != "diary.horizon_days"]
    lines = (CONFIGS / "common" / "demand.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.lstrip().startswith("horizon_days"))
    assert _uncovered(without) == [f"demand.yaml:{line} diary.horizon_days"]


def test_the_comment_reader_finds_settings_on_their_line_above_and_continued():
    text = (
        "a:\n"
        "  b: 1  # ASSUMPTION on the line\n"
        "  c: 2  # a source\n"
        "        # continued: an ASSUMPTION too\n"
        "  # ASSUMPTION above d\n"
        "  d: {x: 1}\n"
        "  e: 3\n"
    )
    assert commented_paths(text) == [("a.b", 2), ("a.c", 4), ("a.d", 5)]


def test_the_listed_factors_hold_the_configs_values(capsys):
    assumptions = load_assumptions(ASSUMPTIONS)
    assert len(assumptions.varied) >= 30
    for name, factor in assumptions.varied.items():
        for path in factor.paths:
            values = [d for d in assumptions.documents.values() if _has(d, path)]
            assert values, (name, path)
    assert main(["assumptions"]) == 0
    out = capsys.readouterr().out
    assert "referral_when_no_worker (varied)" in out
    assert "populations.victim.referral.ratio_when_no_worker: 0.65 in [0.3, 1]" in out


def _has(document, dotted):
    return lookup(document, parse_path(dotted)) is not ABSENT


def _write(tmp_path: Path, factors: dict) -> Path:
    path = tmp_path / "common" / "assumptions.yaml"
    path.parent.mkdir()
    for config in ("france_office_hours", "belgium_24_7"):
        text = (CONFIGS / f"{config}.yaml").read_text()
        text = text.replace(
            "base: common/demand.yaml", f"base: {CONFIGS / 'common' / 'demand.yaml'}"
        )
        (tmp_path / f"{config}.yaml").write_text(text)
    path.write_text(yaml.safe_dump({"configs": "..", "assumptions": factors}))
    return path


@pytest.mark.parametrize(
    ("factor", "message"),
    [
        (
            {"rationale": "r", "paths": {"diary.horizon_days": [50, 84]}},
            "the range [50, 84] excludes the value 42 of config",
        ),
        (
            {"rationale": "r", "paths": {"diary.horizon_days": [84, 21]}},
            "the range [84.0, 21.0] must be [low, high]",
        ),
        (
            {"rationale": "r", "paths": {"diary.horizon_day": [21, 84]}},
            "'diary.horizon_day' is a setting of none of the configs",
        ),
        (
            {"rationale": "r", "options": {"referral_rule": ["on_duty", "nobody"]}},
            "gives 'can_take_now', not one of ['on_duty', 'nobody']",
        ),
        (
            {"rationale": "r", "paths": {"populations.victim.urgent_share": [0.1, 1.5]}},
            "at the high end of its range config",
        ),
        ({"rationale": "r"}, "give exactly one of paths (ranges), options or fixed"),
        (
            {"rationale": "r", "paths": {"referral_rule": [0, 1]}},
            "a choice goes in options",
        ),
    ],
)
def test_a_bad_factor_is_refused_in_one_message(tmp_path, factor, message):
    path = _write(tmp_path, {"x": factor})
    with pytest.raises(ConfigError, match=None) as caught:
        load_assumptions(path)
    assert message in str(caught.value)
