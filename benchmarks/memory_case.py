"""One peak-memory measurement of the benchmark suite, run in a fresh process.

Peak resident set size is a per-process high-water mark, so ``benchmarks/run.py`` runs
each case as ``python benchmarks/memory_case.py NAME`` and reads the JSON line it
prints.  The peak is Linux's ``VmHWM`` (``getrusage``'s ``ru_maxrss`` would carry the
parent's peak over ``fork`` and ``exec``).  Only what the case needs is imported, so
the baseline is the simulator's own.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.config.schema import load_scenario
from sim.pipeline.tasks import run_replication

BELGIUM = Path(__file__).resolve().parents[1] / "configs" / "belgium_24_7.yaml"
MiB = 2**20

CASES: dict[str, tuple[str, int, str]] = {
    # name: (layout, station-years, what is done with the per-case records)
    "100 replications x 1 year, records kept": ("replications", 100, "kept"),
    "100 replications x 1 year, summary only": ("replications", 100, "summary"),
    "1 run x 100 years, records kept": ("horizon", 100, "kept"),
    "1 run x 100 years, summary only": ("horizon", 100, "summary"),
    "1000 replications x 1 year, records kept": ("replications", 1000, "kept"),
    "1000 replications x 1 year, records stored by the pipeline": ("replications", 1000, "stored"),
    "1000 replications x 1 year, summary only": ("replications", 1000, "summary"),
    "1 run x 1000 years, summary only": ("horizon", 1000, "summary"),
}
"""Belgian 24/7 station-years laid out as replications of a year or as one long run."""


def _peak_bytes() -> int:
    """This process's peak resident set size (``VmHWM``, Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise OSError("no VmHWM in /proc/self/status (Linux only)")


def measure(name: str) -> dict[str, Any]:
    """Run one case and report its peak RSS, and the RSS after the imports."""
    layout, years, records = CASES[name]
    baseline = _peak_bytes()
    t0 = time.perf_counter()
    in_memory = 0
    if layout == "replications":
        if records == "stored":
            import sim  # the pipeline: pandas and pyarrow, imported only when used

            with tempfile.TemporaryDirectory() as folder:
                sim.run(BELGIUM, replications=years, jobs=1, out=Path(folder) / "run")
        else:
            scenario = load_scenario(BELGIUM, {"simulation.replications": years})
            kept = []
            for replication in range(years):
                result = run_replication(scenario, replication)
                kept.append(result if records == "kept" else result.measures)
            in_memory = sum(len(r.records.cases) for r in kept if records == "kept")
    else:
        scenario = load_scenario(BELGIUM, {"simulation.run_days": 364 * years})
        result = run_replication(scenario, 0)
        in_memory = len(result.records.cases) if records == "kept" else 0
        del result
    elapsed = time.perf_counter() - t0
    return {
        "layout": layout,
        "station_years": years,
        "records": records,
        "peak_rss_mib": _peak_bytes() / MiB,
        "imports_rss_mib": baseline / MiB,
        "seconds": elapsed,
        "cases_in_memory": in_memory,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])))
