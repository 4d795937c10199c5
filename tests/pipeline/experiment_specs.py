"""Small experiment specs written for the tests: short runs (28 days) of the shipped
configs, so that a whole experiment takes a second or two."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
EXPERIMENTS = REPO / "experiments"

SHORT = {
    "simulation.run_days": 28,
    "simulation.warm_up_days": 7,
    "simulation.drain_days": 7,
}

TINY: dict[str, Any] = {
    "name": "tiny",
    "configs": str(CONFIGS),
    "scenarios": ["france_office_hours", "belgium_24_7"],
    "overrides": SHORT,
    "design": {
        "kind": "grid",
        "factors": [
            {
                "name": "workers",
                "path": "staffing.workers[0].count",
                "values": [1, 2],
                "unit": "posts",
            },
            {
                "name": "demand",
                "paths": [
                    "populations.victim.arrivals.per_year",
                    "populations.perpetrator.arrivals.per_year",
                    "populations.third_party.arrivals.per_year",
                ],
                "apply": "scale",
                "values": [1, 1.5],
            },
        ],
    },
    "replications": 2,
    "seed": 11,
    "comparison": {"baseline": "france_office_hours"},
    "figures": [],
}

ALL_FIGURES: list[Any] = [
    {"kind": "wait_ecdf", "at": {"workers": 1, "demand": 1}},
    {"kind": "hour_of_week_heatmap", "at": {"workers": 2, "demand": 1.5}},
    {"kind": "staffing_response", "x": "workers", "lines": "scenario", "panels": "demand"},
    {"kind": "cost_frontier", "at": {"demand": 1}, "label": "workers"},
]


def write_spec(folder: Path, name: str = "tiny", **changes: Any) -> Path:
    """Write the tiny spec with top-level ``changes`` (``None`` removes a key)."""
    document = copy.deepcopy(TINY)
    document["name"] = name
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
