"""The bounds every input is checked against, stated once.

A scenario, a spec or an option outside them is refused with a message naming the
field, the value and the bound, before anything runs: no setting may ask for a run that
could not finish, exhaust memory or overflow the arithmetic.  The bounds are far beyond
any real use (a station simulated for a thousand years, an interview of a year), and
``docs/config.md`` lists them.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Field

__all__ = [
    "LIMITS",
    "MAX_CASES",
    "MAX_DAYS",
    "MAX_DESIGN_POINTS",
    "MAX_MAGNITUDE",
    "MAX_NAME_LENGTH",
    "MAX_REPLICATIONS",
    "MAX_SPREAD",
    "MAX_WINDOWS",
    "MIN_DURATION",
    "Magnitude",
    "PositiveMagnitude",
    "WholeNumber",
]

MAX_DAYS = 365_000.0
"""Longest warm-up, measurement window or drain: about a thousand years each, the
length of a single long run read by batch means, which one core simulates in minutes."""
MAX_REPLICATIONS = 10_000
"""Most replications of a scenario or an experiment."""
MAX_WINDOWS = 1_000
"""Most measurement windows in one replication."""
MAX_NAME_LENGTH = 64
"""Longest name of a scenario, station, population, worker or experiment (names become
file names)."""
MAX_MAGNITUDE = 1e7
"""Largest rate, duration (minutes, about 19 years), count or weight a setting may hold."""
MIN_DURATION = 1e-6
"""Smallest mean or spread of a distribution that must be positive (minutes)."""
MAX_SPREAD = 100.0
"""Largest ratio of a distribution's standard deviation to its mean."""
MAX_CASES = 4_000_000
"""Most cases one replication may expect (arrivals over warm-up, window and drain).
With its follow-ups a case holds about two kilobytes until the run ends (a run of a
thousand Belgian station-years, 1.55 million cases, peaks at 3.4 GiB), so this bound
keeps a replication under about 9 GiB; longer studies take more replications."""
MAX_DESIGN_POINTS = 100_000
"""Most points of an experiment's design."""


def _a_whole_number(value: Any) -> Any:
    # YAML reads ``yes``/``no``/``on``/``true`` as booleans, and Python's bool is an int:
    # without this check ``responders: yes`` would be one responder.
    if isinstance(value, bool | np.bool_):
        raise ValueError("a true/false (yes/no) value is not a count; write a whole number")
    if isinstance(value, str):
        raise ValueError("text is not a count; write the whole number unquoted")
    return value


WholeNumber = Annotated[int, BeforeValidator(_a_whole_number)]
"""An integer where a count, a number of replications or a seed is meant: a whole
number, never a boolean (``yes``, ``true``) or a quoted string."""

Magnitude = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE, allow_inf_nan=False)]
"""A non-negative number at most :data:`MAX_MAGNITUDE`."""
PositiveMagnitude = Annotated[float, Field(gt=0, le=MAX_MAGNITUDE, allow_inf_nan=False)]
"""A positive number at most :data:`MAX_MAGNITUDE`."""

LIMITS: tuple[tuple[str, str], ...] = (
    ("warm-up, window and drain", f"at most {MAX_DAYS:,.0f} days each"),
    ("replications", f"at most {MAX_REPLICATIONS:,}"),
    ("measurement windows", f"at most {MAX_WINDOWS:,} a replication, {MAX_DAYS:,.0f} days in all"),
    ("cases a replication expects", f"at most {MAX_CASES:,} over warm-up, window and drain"),
    ("names", f"at most {MAX_NAME_LENGTH} characters: a letter, then letters, digits, _ or -"),
    ("rates, durations, counts and weights", f"at most {MAX_MAGNITUDE:g}"),
    (
        "distributions",
        f"means and spreads of at least {MIN_DURATION:g} minutes, sd at most "
        f"{MAX_SPREAD:g} times the mean",
    ),
    ("design points of an experiment", f"at most {MAX_DESIGN_POINTS:,}"),
    ("a YAML file", "at most 4 MiB, 40 levels deep, 200,000 values once aliases are expanded"),
    ("base files", "at most 16 in a chain"),
)
"""The bounds as ``docs/config.md`` lists them."""
