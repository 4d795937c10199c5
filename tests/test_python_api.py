"""The Python API: the documented examples run as written, and the API gives what the
command line gives, with the same messages for mistakes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import CONFIGS, REPO

import sim
from sim.config.errors import ConfigError

SHORT = {"simulation.run_days": 28, "simulation.warm_up_days": 7, "simulation.drain_days": 7}


def test_the_documented_examples_run_as_written(tmp_path):
    text = (REPO / "docs" / "python_api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 5
    # From a copy of the repository's root: the examples' paths are relative to it, and
    # what they write must not land in the repository.
    for name in ("configs", "experiments"):
        (tmp_path / name).symlink_to(REPO / name)
    script = tmp_path / "examples.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Scenario belgium_24_7: Belgian model" in done.stdout
    assert "\n5 replication(s)" in done.stdout
    assert (tmp_path / "results" / "api_fvb" / "figures" / "comparison.md").is_file()


def test_a_result_kept_in_memory_has_every_table_and_no_folder():
    result = sim.run(CONFIGS / "france_office_hours.yaml", replications=2, set=SHORT, jobs=1)
    assert result.folder is None and "in memory" in repr(result)
    assert set(result.summary["scenario"]) == {"france_office_hours"}
    assert result.comparison is None
    assert len(result.cases) > 0 and set(result.workers["replication"]) == {0, 1}
    assert result.report().startswith(
        "Scenario france_office_hours: French standard: one worker, weekday office hours\n"
        "2 replication(s)"
    )


def test_without_records_the_result_says_how_to_keep_them():
    result = sim.run(
        CONFIGS / "france_office_hours.yaml", replications=2, set=SHORT, records=False, jobs=1
    )
    with pytest.raises(ConfigError, match="kept no cases records"):
        _ = result.cases


def test_mistakes_get_the_command_line_s_messages(tmp_path):
    with pytest.raises(ConfigError, match="unknown population 'victims'"):
        sim.run(CONFIGS / "france_office_hours.yaml", set={"populations.victims.urgent_share": 1})
    with pytest.raises(ConfigError, match="no such scenario file"):
        sim.run(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not a station-sim results folder"):
        sim.load(tmp_path)
