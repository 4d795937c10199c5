"""What a validation case is: a scenario for the model, the statistics read off each
replication's records, and their exact values (:class:`ValidationCase`), with the
constants the cases share."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.config.schema import Scenario, override_document, scenario_from_dict
from sim.model.records import RunRecords
from sim.validation.verdict import Observation, Statistic

__all__ = [
    "ALWAYS",
    "INTERVIEW_MEAN",
    "SERVICE_RATE",
    "ExactValues",
    "FloatArray",
    "ValidationCase",
    "case_seed",
]

FloatArray = npt.NDArray[np.float64]
ExactValues = Mapping[str, float | FloatArray]

INTERVIEW_MEAN = 10.0
"""Mean interview (service) time of the queueing cases, in minutes; it sets their clock."""

SERVICE_RATE = 1.0 / INTERVIEW_MEAN

ALWAYS = {"days": "all", "start": "00:00", "end": "24:00"}
"""A roster entry that keeps a worker on site at all times (touching shifts are joined)."""


@dataclass(frozen=True)
class ValidationCase:
    """A scenario for the model, the statistics read off each replication's records, and
    the exact values those statistics must have.

    ``document`` is a complete scenario mapping: its ``simulation`` section holds the run
    lengths, the number of replications and the seed. ``observe`` turns one
    replication's records into an :data:`Observation` holding every statistic's ``key``;
    ``exact`` gives the exact value of each key (for a ``chi-square`` statistic, the
    expected counts per replication). ``quick`` cases form the fast subset that runs with
    every test run; the others run with ``pytest -m slow`` and ``station-sim
    check-theory``.
    """

    name: str
    group: str
    title: str
    document: dict[str, Any] = field(compare=False)
    statistics: tuple[Statistic, ...]
    observe: Callable[[RunRecords, Scenario], Observation] = field(compare=False)
    exact: Callable[[Scenario], ExactValues] = field(compare=False)
    quick: bool = False

    @property
    def replications(self) -> int:
        """Number of independent replications."""
        return int(self.document["simulation"]["replications"])

    def scenario(self) -> Scenario:
        """The validated scenario the model runs."""
        return scenario_from_dict(self.document, source=self.name)

    def with_simulation(self, **settings: float) -> ValidationCase:
        """The same case with some ``simulation`` settings changed (e.g. fewer
        replications, for a check that only needs to see a gross error)."""
        overrides = {f"simulation.{key}": value for key, value in settings.items()}
        return replace(self, document=override_document(self.document, overrides, self.name))

    def expected_cases(self) -> float:
        """Expected number of arrivals over all replications: the case's cost."""
        scenario = self.scenario()
        per_minute = sum(
            float(p.arrivals.hourly_rates().mean()) for p in scenario.populations.values()
        )
        return per_minute * scenario.simulation.horizon_minutes * self.replications


def case_seed(name: str) -> int:
    """A case's seed: the CRC-32 of its name (fixed, distinct, chosen by no one)."""
    return zlib.crc32(name.encode("utf-8"))
