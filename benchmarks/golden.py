"""Golden-record guard of the engine: digests of every record a set of runs leaves.

An optimisation of the engine must not change a single number, so before one is made
the digests of the current engine are saved, and after it they are compared::

    python benchmarks/golden.py --save /tmp/golden.json
    python benchmarks/golden.py --check /tmp/golden.json

The runs cover every shipped config (shortened to 56 days, two replications; the
Belgian one also for a whole year), variants that switch on the rules the shipped
configs leave off (other callback orders, immediate retries, people lost when they
leave, on call for every case with a cap and two responders, a station so overloaded
that people leave and queues are sent away at shift ends), and the M/M/c reduction the
benchmark times.  A digest is the SHA-256 of the raw bytes of every column of the case,
worker and appointment records, and of every measure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

try:
    from benchmarks.model_mmc import mmc_reduction
except ModuleNotFoundError:  # run as a script: python benchmarks/golden.py
    from model_mmc import mmc_reduction  # type: ignore[no-redef]

from sim.config.schema import Scenario, load_scenario
from sim.model.records import RunRecords
from sim.pipeline.tasks import run_replication

REPO = Path(__file__).resolve().parents[1]
SHORT = {"simulation.run_days": 56}

# Rules the shipped configs leave off, switched on one group at a time.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "belgium_variant_newest_lost": (
        "belgium_24_7",
        {
            "simulation.run_days": 112,
            "callbacks.order": "newest_first",
            "callbacks.retry_after_hours": 0,
            "callbacks.left_before_seen": "lost",
            "on_call.eligible": "all",
            "on_call.max_callouts_per_window": 1,
            "on_call.responders": 2,
        },
    ),
    "rural_variant_oldest": (
        "shared_rural",
        {
            "simulation.run_days": 112,
            "callbacks.order": "oldest_first",
            "callbacks.expire_after_days": 3,
            "callbacks.max_attempts": 5,
            "callbacks.retry_after_hours": 2,
        },
    ),
    "office_hours_overloaded": (
        "france_office_hours",
        {
            "simulation.run_days": 56,
            "populations.victim.arrivals.per_year": 4000,
            "populations.perpetrator.arrivals.per_year": 1500,
        },
    ),
    "belgium_full_year": ("belgium_24_7", {}),
    # Outreach from the police log, read at each day's first shift and as written.
    "office_hours_daily_review": (
        "france_office_hours",
        {"simulation.run_days": 112, "outreach.log_access": "daily_review"},
    ),
    "rural_networked_log": (
        "shared_rural",
        {"simulation.run_days": 112, "outreach.log_access": "networked"},
    ),
    # Follow-ups of no duration among others: the diary search's edge cases (an
    # appointment starting where another ends, at the instant being tried).
    "office_hours_zero_length_followups": (
        "france_office_hours",
        {
            "simulation.run_days": 84,
            "populations.victim.followups.duration": {"dist": "empirical", "values": [0, 45]},
        },
    ),
}


def mmc_scenario(
    c: int = 3, load: float = 0.9, mean_service: float = 60.0, days: float = 200.0, seed: int = 1
) -> Scenario:
    """The M/M/c reduction of the model (``benchmarks.model_mmc``) at ``load``."""
    return mmc_reduction(c, load * c / mean_service * 60.0, mean_service, days, seed)


def golden_runs() -> Iterator[tuple[str, Scenario, int]]:
    """``(label, scenario, replication)`` of every run the guard digests."""
    for path in sorted((REPO / "configs").glob("*.yaml")):
        scenario = load_scenario(path, SHORT)
        for replication in (0, 1):
            yield f"{path.stem}/r{replication}", scenario, replication
    for label, (config, overrides) in VARIANTS.items():
        scenario = load_scenario(REPO / "configs" / f"{config}.yaml", overrides)
        yield f"{label}/r0", scenario, 0
    yield "mm3/r0", mmc_scenario(), 0


def digest(records: RunRecords, measures: dict[str, np.ndarray]) -> str:
    """SHA-256 of every case, worker and appointment column (name, dtype, bytes) and every
    measure."""
    h = hashlib.sha256()
    for table in (records.cases, records.workers, records.appointments):
        for name, column in table.columns().items():
            array = np.ascontiguousarray(column)
            h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            h.update(array.tobytes())
    h.update(np.ascontiguousarray(records.on_call_windows, dtype=float).tobytes())
    rows = zip(measures["population"], measures["metric"], measures["value"].tolist(), strict=True)
    h.update(repr(list(rows)).encode())
    return h.hexdigest()


def digests() -> dict[str, str]:
    """The digest of every golden run, by label."""
    out = {}
    for label, scenario, replication in golden_runs():
        result = run_replication(scenario, replication)
        out[label] = digest(result.records, result.measures)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", type=Path, help="write the digests to this JSON file")
    action.add_argument("--check", type=Path, help="compare with the digests in this file")
    args = parser.parse_args(argv)
    found = digests()
    if args.save:
        args.save.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
        print(f"saved {len(found)} digests to {args.save}")
        return 0
    expected = json.loads(args.check.read_text(encoding="utf-8"))
    differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
    for label in differ:
        print(f"DIFFERS: {label}")
    print(f"{len(found) - len(differ)} of {len(found)} runs bit-identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
