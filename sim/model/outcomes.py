"""What a case counts as in the measures: its outcome, and whether it is measured at all.

The model records raw end states (:class:`sim.model.records.EndState`); the report settings
turn them into outcomes here, so that changing a threshold or the window changes the
measures, never the records:

- only cases arriving in the measurement window (after the warm-up, before the drain)
  are measured;
- a contacted case is ``met`` when its first contact came within
  ``measures.late_after_hours`` of its referral, else ``met_late``;
- every other end state is its own outcome.

Every measured case gets exactly one outcome, so lost demand is counted, never dropped:

- ``met``, ``met_late``: contacted (met late is reported apart, and counts as met);
- ``left``: left the station before being seen and was not put on the callback list;
- ``callback_failed``: on the callback list, and every attempt to reach the person failed;
- ``callback_expired``: on the callback list, dropped unreached when it became too old;
- ``waiting_at_end``: referred but still not contacted when the run ended;
- ``not_referred_no_worker``: would have been referred had a worker been reachable;
- ``not_referred``: not referred, whoever was reachable (outside the coverage question).
"""

from __future__ import annotations

from dataclasses import replace
from enum import IntEnum

import numpy as np

from sim.model.records import CaseRecords, EndState, RunRecords

__all__ = ["UNMET_OUTCOMES", "Outcome", "classify", "measured"]


class Outcome(IntEnum):
    """How a measured case ended; see the module docstring."""

    MET = 0
    MET_LATE = 1
    LEFT = 2
    CALLBACK_FAILED = 3
    WAITING_AT_END = 4
    NOT_REFERRED_NO_WORKER = 5
    NOT_REFERRED = 6
    CALLBACK_EXPIRED = 7  # codes are appended, never renumbered

    @property
    def label(self) -> str:
        return self.name.lower()


UNMET_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.LEFT,
    Outcome.CALLBACK_FAILED,
    Outcome.CALLBACK_EXPIRED,
    Outcome.WAITING_AT_END,
    Outcome.NOT_REFERRED_NO_WORKER,
)
"""Outcomes counted as unmet demand (met late is reported apart, as met)."""


def classify(cases: CaseRecords, late_after_minutes: float) -> np.ndarray:
    """The :class:`Outcome` code of each case."""
    outcome = cases.state.copy()
    contacted = cases.state == EndState.CONTACTED
    late = cases.first_contact[contacted] - cases.referral[contacted] > late_after_minutes
    outcome[contacted] = np.where(late, Outcome.MET_LATE, Outcome.MET)
    return outcome


def measured(run: RunRecords) -> RunRecords:
    """The run with only the cases that arrived in its measurement window (worker
    records whole: the measures clip them to the window themselves)."""
    cases = run.cases
    keep = (cases.arrival >= run.window_start) & (cases.arrival < run.window_end)
    if keep.all():
        return run
    window = CaseRecords(**{name: column[keep] for name, column in cases.columns().items()})
    return replace(run, cases=window)
