"""The engine agrees with exact queueing theory: every row of the validation table passes.

The fast subset (``quick`` cases) runs with every test run, in parallel on the cores
available; the full table runs with ``pytest -m slow`` (about 10 minutes on 2 cores).
The cases, their statistics and the verdict rule are in ``sim.validation`` and
``docs/validation.md``; ``station-sim check-theory`` prints the same table.
"""

from __future__ import annotations

import pytest

from sim.pipeline.backends import LocalBackend, default_jobs
from sim.validation import ValidationCase, ValidationRow, all_cases, format_table
from sim.validation.suite import judge_case, run_cases

QUICK = [case for case in all_cases() if case.quick]
SLOW = [case for case in all_cases() if not case.quick]


def _judged(cases: list[ValidationCase]) -> dict[str, list[ValidationRow]]:
    observations = run_cases(cases, LocalBackend(default_jobs()))
    return {case.name: judge_case(case, o) for case, o in zip(cases, observations, strict=True)}


@pytest.fixture(scope="module")
def quick_rows() -> dict[str, list[ValidationRow]]:
    return _judged(QUICK)


@pytest.fixture(scope="module")
def slow_rows() -> dict[str, list[ValidationRow]]:
    return _judged(SLOW)


@pytest.mark.parametrize("case", QUICK, ids=lambda case: case.name)
def test_fast_case_agrees_with_theory(case, quick_rows):
    rows = quick_rows[case.name]
    assert len(rows) == len(case.statistics)
    failed = [row for row in rows if not row.passed]
    assert not failed, "\n" + format_table(failed)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW, ids=lambda case: case.name)
def test_case_agrees_with_theory(case, slow_rows):
    rows = slow_rows[case.name]
    assert len(rows) == len(case.statistics)
    failed = [row for row in rows if not row.passed]
    assert not failed, "\n" + format_table(failed)


def test_the_fast_subset_covers_every_kind_of_case():
    groups = {case.group for case in all_cases()}
    assert {case.group for case in QUICK} == groups
    assert groups == {
        "Erlang C",
        "Erlang A",
        "Priority",
        "Time-varying week",
        "Arrival process",
        "Little's law",
        "Flow conservation",
        "Follow-up diary",
        "Outreach",
        "Windows of one replication",
    }


def test_every_shipped_config_has_its_little_and_conservation_cases():
    from sim.validation.cases import SHIPPED_CONFIGS, SHIPPED_COVERAGE_MODELS

    shipped = {path.stem for path in SHIPPED_CONFIGS.glob("*.yaml")}
    # The table names the shipped configs, so that a user's draft in configs/ does not
    # change it; the list must follow the folder.
    assert shipped == set(SHIPPED_COVERAGE_MODELS)
    assert len(shipped) >= 6
    for group in ("littles_law", "conservation"):
        assert {c.name.split("/")[1] for c in all_cases() if c.name.startswith(group)} == shipped


def test_cases_have_distinct_names_and_their_own_seeds():
    names = [case.name for case in all_cases()]
    assert len(set(names)) == len(names)
    # The shipped-config cases keep their config's seed; every case built for the
    # validation has its own, so that no two share random numbers.
    built = [c for c in all_cases() if c.group not in ("Little's law", "Flow conservation")]
    seeds = {case.document["simulation"]["seed"] for case in built}
    assert len(seeds) == len(built)
