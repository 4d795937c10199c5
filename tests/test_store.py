"""The results folder: parts written whole or not at all, readable like any folder, and
never a folder station-sim did not write replaced or mixed with."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import CONFIGS

from sim.config.errors import ConfigError
from sim.pipeline.backends import LocalBackend
from sim.pipeline.execute import run_experiment
from sim.pipeline.plan import plan_for_scenario
from sim.pipeline.provenance import MARKER
from sim.pipeline.store import ResultsFolder, atomic_folder

SHORT = {"simulation.run_days": 28, "simulation.warm_up_days": 7, "simulation.drain_days": 7}


def test_atomic_folder_replaces_target_only_on_success(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.csv").write_text("old\n")
    with pytest.raises(KeyboardInterrupt), atomic_folder(target) as staging:
        (staging / "new.csv").write_text("half\n")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["old.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging left behind

    with atomic_folder(target) as staging:
        (staging / "new.csv").write_text("whole\n")
    assert sorted(p.name for p in target.iterdir()) == ["new.csv"]


def test_atomic_folder_takes_the_mode_of_a_plain_mkdir(tmp_path):
    previous = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "out") as staging:
            (staging / "a.csv").write_text("x\n")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(previous)
    made = stat.S_IMODE((tmp_path / "out").stat().st_mode)
    assert made == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o755


@pytest.fixture(scope="module")
def plan():
    overrides = {**SHORT, "simulation.replications": 2}
    return plan_for_scenario(CONFIGS / "france_office_hours.yaml", overrides)


def test_a_folder_holding_other_files_is_never_used(plan, tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("x")
    for options in ({}, {"fresh": True}, {"resume": True}):
        with pytest.raises(ConfigError, match=r"did not write \(thesis.tex\)"):
            run_experiment(plan, thesis, LocalBackend(1), **options)
    assert [p.name for p in thesis.iterdir()] == ["thesis.tex"]


def test_a_foreign_manifest_does_not_make_a_folder_ours(plan, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"name": "someone else's"}))
    with pytest.raises(ConfigError, match="not a station-sim results folder"):
        run_experiment(plan, other, LocalBackend(1), fresh=True)
    assert (other / "manifest.json").is_file()


def test_fresh_replaces_a_folder_of_ours_and_resume_reuses_it(plan, tmp_path):
    out = tmp_path / "out"
    first = run_experiment(plan, out, LocalBackend(1))
    assert first.computed == 2
    assert json.loads((out / "manifest.json").read_text())["format"] == MARKER
    with pytest.raises(ConfigError, match="already holds results; pass --resume"):
        run_experiment(plan, out, LocalBackend(1))
    again = run_experiment(plan, out, LocalBackend(1), resume=True)
    assert (again.reused, again.computed) == (2, 0)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"did not write \(notes.txt\)"):
        run_experiment(plan, out, LocalBackend(1), fresh=True)
    (out / "notes.txt").unlink()
    replaced = run_experiment(plan, out, LocalBackend(1), fresh=True)
    assert replaced.computed == 2


@pytest.mark.parametrize("target", [".", "..", "/"])
def test_the_current_parent_or_root_folder_is_refused_before_anything_runs(plan, target):
    with pytest.raises(ConfigError, match="not the current, parent or root folder"):
        ResultsFolder(target, plan).check_target(resume=False, fresh=True)


def test_staging_left_by_a_killed_write_is_removed_at_the_next_open(plan, tmp_path):
    out = tmp_path / "out"
    run_experiment(plan, out, LocalBackend(1))
    leftovers = [out / ".tables.abc123", out / "tasks" / ".p0000-x-r0000.1.deadbeef"]
    for leftover in leftovers:
        leftover.mkdir()
        (leftover / "half.arrow").write_bytes(b"x")
    half_config = out / "configs" / ".p0000-france_office_hours.yaml.1.deadbeef"
    half_config.write_text("name: fr")
    run_experiment(plan, out, LocalBackend(1), resume=True)
    assert not any(p.exists() for p in [*leftovers, half_config])


def test_a_file_of_the_user_inside_a_results_subfolder_is_never_replaced(plan, tmp_path):
    out = tmp_path / "out"
    run_experiment(plan, out, LocalBackend(1))
    (out / "tables" / "my_analysis.csv").write_text("mine")
    for options in ({"fresh": True}, {"resume": True}):
        with pytest.raises(ConfigError, match=r"did not write \(tables/my_analysis.csv\)"):
            run_experiment(plan, out, LocalBackend(1), **options)
    assert (out / "tables" / "my_analysis.csv").read_text() == "mine"
