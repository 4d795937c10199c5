"""The measures floor: every number reported about a run, defined once.

- :mod:`.catalogue`: the one list of measures (``measures_for``) and measuring a run;
- :mod:`.stats`: means, Student-t intervals and paired differences across replications;
- :mod:`.costs`: the yearly cost of a scenario's staffing.

The national measures belong to the national study (:mod:`sim.national.measures`).
"""

from sim.measures.catalogue import (
    ALL,
    Measure,
    MeasureList,
    measure_run,
    measure_window,
    measures_for,
    threshold_name,
)

__all__ = [
    "ALL",
    "Measure",
    "MeasureList",
    "measure_run",
    "measure_window",
    "measures_for",
    "threshold_name",
]
