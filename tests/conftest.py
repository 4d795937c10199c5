"""Shared fixtures: small scenarios built in code, so each test states its own rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.config.schema import Scenario, scenario_from_dict

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHIPPED = sorted(p for p in CONFIGS.glob("*.yaml"))
FUZZ_SUITE = REPO / "tests" / "fuzz"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of ``tests/fuzz/`` belongs to the fuzz suite (``pytest -m fuzz``)."""
    for item in items:
        if FUZZ_SUITE in item.path.parents:
            item.add_marker(pytest.mark.fuzz)


def always_on_site(workers: int = 1, **worker: Any) -> dict[str, Any]:
    """Staffing with ``workers`` identical workers on site around the clock."""
    return {
        "workers": [
            {
                "name": "w",
                "count": workers,
                "roster": [{"days": "all", "start": "00:00", "end": "24:00"}],
                **worker,
            }
        ]
    }


def scenario(**parts: Any) -> Scenario:
    """A validated scenario from keyword parts, with a one-population default."""
    document: dict[str, Any] = {
        "name": "test",
        "simulation": {"warm_up_days": 7, "run_days": 28, "drain_days": 7, "seed": 1},
        "populations": {
            "victim": {
                "arrivals": {"per_hour": 1.0},
                "interview": {"dist": "exponential", "mean": 30},
            }
        },
        "staffing": always_on_site(),
        # An outside on-call rota must state its rates; the tests' rotas are unpaid.
        "costs": {"external_on_call_eur_per_hour": 0.0, "external_callout_eur_per_hour": 0.0},
    }
    document.update(parts)
    return scenario_from_dict(document)
