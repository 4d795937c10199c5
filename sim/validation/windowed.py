"""Validation cases of the replication design: a case measured over several windows of
one replication must have the same exact values as measured over one.

A windowed case is another case with its measured days cut into ``windows`` consecutive
windows after one warm-up (``simulation.windows``).  Each replication's statistic is
then its mean over its windows (an ``identity`` count: its sum, which must stay zero),
read window by window as the measures read them (:func:`sim.model.windows.window_views`).
A window whose follow-ups were seen only to its own end, not a drain's length into the
next window, would leave follow-ups unheld in the diary case, and a window cut in the
wrong place would bias the Erlang C waits.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from sim.config.schema import Scenario
from sim.model.records import RunRecords
from sim.model.windows import window_views
from sim.validation.case import ValidationCase, case_seed
from sim.validation.verdict import Observation

__all__ = ["windowed_case"]

Observe = Callable[[RunRecords, Scenario], Observation]


def windowed_case(case: ValidationCase, windows: int) -> ValidationCase:
    """``case`` with its measured days in ``windows`` windows of one replication (the
    same days simulated after the warm-up, the same exact values)."""
    if windows < 2:
        raise ValueError(f"windows must be 2 or more for a windowed case, not {windows}")
    tests = {s.test for s in case.statistics}
    if not tests <= {"mean", "identity"}:
        raise ValueError(f"{case.name}: only mean and identity statistics are windowed")
    name = f"{case.name}/{windows}_windows"
    document = copy.deepcopy(case.document)
    simulation = document["simulation"]
    simulation["run_days"] = simulation["run_days"] / windows
    simulation["windows"] = windows
    simulation["seed"] = case_seed(name)
    document["name"] = name.replace("/", "-").replace(".", "_")
    sums = frozenset(
        key for s in case.statistics if s.test == "identity" for key in (s.key, s.context) if key
    )
    return replace(
        case,
        name=name,
        group="Windows of one replication",
        title=f"{case.title}, {windows} windows a replication",
        document=document,
        observe=partial(_per_window, case.observe, sums),
        quick=case.quick,
    )


def _per_window(
    observe: Observe, sums: frozenset[str], run: RunRecords, scenario: Scenario
) -> Observation:
    """``observe`` applied to each window of ``run``: means over the windows, sums for
    the counts that must balance."""
    per_window = [observe(view, scenario) for view in window_views(run)]
    out: dict[str, float] = {}
    for key in per_window[0]:
        values = np.asarray([float(o[key]) for o in per_window])  # type: ignore[arg-type]
        out[key] = float(values.sum() if key in sums else values.mean())
    return out
