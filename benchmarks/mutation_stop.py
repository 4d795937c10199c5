"""A pytest plugin for mutation runs (``-p benchmarks.mutation_stop``): stop at the first
test that fails on an assertion, and go on past tests that fail with any other exception.

A mutant is then classified by whether some test *sees* its behaviour (an assertion
fails) or only trips over it (the model raises): ``-x`` would stop at whichever came
first and call a mutant killed by a crash when a later test checks the behaviour.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator:
    outcome = yield
    report = outcome.get_result()
    seen = (AssertionError, pytest.fail.Exception)
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(seen):
        item.session.shouldstop = "a test saw the mutant"  # benchmarks/mutation.py reads it
