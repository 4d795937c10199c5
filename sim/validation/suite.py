"""Running the validation cases and judging them: the table of ``station-sim
check-theory``.

Every replication of every case is one task: the model runs the case's scenario
(``sim.model.station.simulate``, the engine's own code path), and the case reads its statistics
off the records of its measurement window. Tasks run on a backend of
:mod:`sim.pipeline.backends` (results are identical on any: each replication has its
own random streams). The statistics are then judged
against the exact values at the level that keeps the whole table's chance of failing a
correct engine at ``FAMILY_ALPHA`` (see ``sim.validation.verdict``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sim.model import station as model
from sim.model.outcomes import measured
from sim.pipeline.backends import Backend, LocalBackend, run_all
from sim.validation.cases import ValidationCase, all_cases
from sim.validation.verdict import FAMILY_ALPHA, Observation, ValidationRow, judge

__all__ = [
    "check_theory",
    "format_table",
    "judge_case",
    "observe_replication",
    "row_alpha",
    "run_cases",
    "select_cases",
]


def select_cases(quick: bool = False, pattern: str | None = None) -> list[ValidationCase]:
    """The cases to run: all of them, or the fast subset; optionally only those whose
    name contains ``pattern``."""
    cases = [case for case in all_cases() if case.quick or not quick]
    if pattern is not None:
        cases = [case for case in cases if pattern in case.name]
    return cases


def row_alpha() -> float:
    """The chance each row may fail a correct engine: ``FAMILY_ALPHA`` over the number
    of rows of the full table, whichever subset runs, so that a row's verdict does not
    depend on which other cases ran with it."""
    return FAMILY_ALPHA / sum(len(case.statistics) for case in all_cases())


def observe_replication(case: ValidationCase, replication: int) -> Observation:
    """Run one replication of a case through the model and read its statistics."""
    scenario = case.scenario()
    # Looked up on the module at call time, so that a test can swap in a faulty engine.
    run = model.simulate(scenario, replication)
    return case.observe(measured(run), scenario)


def _observe(task: tuple[ValidationCase, int]) -> Observation:
    return observe_replication(*task)


def run_cases(
    cases: Sequence[ValidationCase],
    backend: Backend | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[list[Observation]]:
    """Every replication's observation, case by case, in replication order.

    The costliest cases go first, so that a pool stays busy to the end; ``on_done`` is
    called after each replication.
    """
    cost = [case.expected_cases() / case.replications for case in cases]
    tasks = [(c, r) for c, case in enumerate(cases) for r in range(case.replications)]
    tasks.sort(key=lambda task: -cost[task[0]])
    observed = run_all(
        backend or LocalBackend(1), [(cases[c], r) for c, r in tasks], _observe, on_done
    )
    results: list[list[Observation | None]] = [[None] * case.replications for case in cases]
    for (c, r), observation in zip(tasks, observed, strict=True):
        results[c][r] = observation
    return [[o for o in per_case if o is not None] for per_case in results]


def judge_case(
    case: ValidationCase, observations: Sequence[Observation], alpha: float | None = None
) -> list[ValidationRow]:
    """The rows of one case: each statistic against its exact value."""
    level = row_alpha() if alpha is None else alpha
    exact = case.exact(case.scenario())
    return [
        judge(s, exact[s.key], observations, level, group=case.group, case=case.title)
        for s in case.statistics
    ]


def check_theory(
    cases: Sequence[ValidationCase],
    backend: Backend | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[ValidationRow]:
    """Run the cases and judge them: the rows of the validation table."""
    observations = run_cases(cases, backend, on_done)
    return [row for case, o in zip(cases, observations, strict=True) for row in judge_case(case, o)]


def _number(x: float) -> str:
    if math.isnan(x):
        return "-"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3e}"
    return f"{x:.4g}"


def format_table(rows: Sequence[ValidationRow]) -> str:
    """The validation table as fixed-width text, one block per group of cases."""
    header = ("case", "statistic", "exact", "simulated", "95 % CI", "hw %", "reps", "check", "")
    lines: list[tuple[str, ...]] = []
    for row in rows:
        ci = "-" if math.isnan(row.ci_low) else f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
        hw = "-" if math.isnan(row.half_width_pct) else f"{row.half_width_pct:.1f}"
        lines.append(
            (
                f"{row.group}: {row.case}",
                row.statistic,
                _number(row.exact),
                _number(row.mean),
                ci,
                hw,
                str(row.replications),
                row.check,
                "pass" if row.passed else "FAIL",
            )
        )
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    right = {2, 3, 5, 6}

    def render(cells: tuple[str, ...]) -> str:
        parts = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [render(header), render(tuple("-" * w for w in widths))]
    previous = None
    for row, line in zip(rows, lines, strict=True):
        if previous is not None and row.group != previous:
            out.append("")
        out.append(render(line))
        previous = row.group
    passed = sum(row.passed for row in rows)
    out.append("")
    out.append(f"{passed} of {len(rows)} rows pass.")
    out.append(
        "Verdict: pass when the exact value lies in the simulation's Student-t interval at\n"
        f"level 1 - {FAMILY_ALPHA:g}/n for the n rows of the full table (split again over the\n"
        "hours of an hour-by-hour row), so that a correct engine fails the table with\n"
        f"probability at most {FAMILY_ALPHA:.0%} (Bonferroni). 'hw %': the 95 % half-width "
        "over the exact value."
    )
    return "\n".join(out)
