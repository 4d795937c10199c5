"""The benchmark suite still runs: a quick sweep writes its JSON and its tables.  (It
measures nothing here: timings belong to ``python benchmarks/run.py``, not to tests.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_benchmark_suite_runs_a_part_and_writes_its_results(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick"]
    done = subprocess.run(
        [*command, "--parts", "replication_sweep", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    sweep = results["sweeps"]["replications"]
    assert set(sweep["jobs"]) >= {"1"} and sweep["station_years"] == 16
    assert all(j["seconds"] > 0 for j in sweep["jobs"].values())
    assert "| jobs | seconds |" in done.stdout
    assert results["meta"]["command"].endswith(f"--out {out}")
