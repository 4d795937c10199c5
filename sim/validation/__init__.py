"""Validation of the engine against exact queueing theory and probability laws.

``sim.validation.theory`` holds the exact queueing results (Erlang C and A, priority
queues, time-varying loads), ``sim.validation.cases`` defines the cases (scenarios for
the model, their statistics and exact values), ``sim.validation.observables`` reads the
statistics off a run's records, ``sim.validation.verdict`` judges them, and
``sim.validation.suite`` runs the cases and prints the table of ``station-sim
check-theory``. ``docs/validation.md`` describes the method.
"""

from sim.validation.cases import ValidationCase, all_cases
from sim.validation.suite import check_theory, format_table, row_alpha, select_cases
from sim.validation.verdict import FAMILY_ALPHA, ValidationRow

__all__ = [
    "FAMILY_ALPHA",
    "ValidationCase",
    "ValidationRow",
    "all_cases",
    "check_theory",
    "format_table",
    "row_alpha",
    "select_cases",
]
