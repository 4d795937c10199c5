"""Running a plan: cut it into tasks, run those not yet stored on the chosen backend,
store each as it finishes, then build the final tables, the records, the figures and,
for a plan of one scenario at one point, the printed summary.

An interrupted run (Ctrl-C, a killed process, a crashed worker) keeps every finished
task; running again with ``resume=True`` computes only the missing ones, and the final
tables are identical to those of an uninterrupted run because they are always built
from the stored task files, in plan order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sim.pipeline import tasks as task_module
from sim.pipeline.backends import Backend
from sim.pipeline.figures import draw_figures
from sim.pipeline.plan import ExperimentPlan
from sim.pipeline.progress import Progress
from sim.pipeline.report import format_report
from sim.pipeline.results import StoredResults
from sim.pipeline.store import ResultsFolder, run_and_store
from sim.pipeline.tables import build_tables
from sim.pipeline.tasks import Task, plan_tasks

__all__ = ["SUMMARY_TEXT", "ExperimentOutcome", "run_experiment"]

SUMMARY_TEXT = "summary.txt"
_MANIFEST_EVERY_S = 5.0


@dataclass
class ExperimentOutcome:
    """What a call of :func:`run_experiment` did."""

    folder: Path
    status: str  # complete, failed (some tasks raised)
    tasks: int
    reused: int
    computed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    figures: list[Path] = field(default_factory=list)


def run_experiment(
    plan: ExperimentPlan,
    out: Path,
    backend: Backend,
    resume: bool = False,
    fresh: bool = False,
    show_progress: bool = True,
    figures: bool = True,
    csv_records: bool = False,
    command: Sequence[str] = (),
    on_task_done: Callable[[Task], None] | None = None,
    measures_only: bool = False,
    csv_tables: bool = True,
) -> ExperimentOutcome:
    """Run (or finish) a plan into ``out``.

    ``measures_only`` builds the tables of the measures alone (no paired comparison,
    hour-of-week or wait-distribution tables): for a caller that sums the runs into
    tables of its own, like the national model, which also needs no CSV copy of them
    (``csv_tables=False``).

    ``on_task_done`` is called after each task is stored (progress reporting, tests).
    ``csv_records`` writes the records as CSV beside the Parquet files.  An exception or
    interruption leaves the finished tasks stored and the manifest saved, then
    propagates.
    """
    started = time.monotonic()
    folder = ResultsFolder(out, plan)
    folder.open(
        resume=resume,
        fresh=fresh,
        backend=backend.description,
        command=command,
        configs_by_tasks=backend.stores_in_workers,
    )
    tasks = plan_tasks(plan)
    stored = folder.finished_task_ids()
    pending = [t for t in tasks if t.task_id not in stored]
    outcome = ExperimentOutcome(folder.path, "running", len(tasks), len(tasks) - len(pending))
    progress = Progress(
        len(pending),
        plan.spec.name,
        unit="runs done",
        delay_s=1.0 if show_progress else float("inf"),
    )
    last_saved = time.monotonic()

    if backend.stores_in_workers:
        job: Callable[[Task], Any] = partial(run_and_store, folder.tasks_dir)
        store: Callable[[Task, Any], None] = folder.record_done
    else:
        job, store = task_module.run_task, folder.write_task

    def done(task: Task, result: Any) -> None:
        nonlocal last_saved
        store(task, result)
        outcome.computed += 1
        progress.advance()
        if time.monotonic() - last_saved > _MANIFEST_EVERY_S:
            folder.save_manifest()
            last_saved = time.monotonic()
        if on_task_done is not None:
            on_task_done(task)

    def failed(task: Task, error: str) -> None:
        folder.mark_failed(task, error)
        outcome.failed[task.task_id] = error
        progress.advance()

    try:
        backend.run(pending, job, done, failed)
        folder.write_missing_configs()
    except BaseException:
        progress.close()
        folder.close_session("interrupted", tasks)
        raise
    if outcome.failed:
        progress.close()
        folder.close_session("failed", tasks)
        outcome.status = "failed"
        outcome.seconds = time.monotonic() - started
        return outcome
    try:
        build_tables(
            folder,
            tasks,
            csv_records=csv_records,
            on_step=progress.note,
            measures_only=measures_only,
            csv_tables=csv_tables,
        )
        if figures and (plan.spec.figures or len(plan.labels) > 1):
            outcome.figures = draw_figures(
                folder.path, on_figure=lambda name: progress.note(f"drawing {name}")
            )
        if len(plan.scenarios) == 1:
            progress.note("writing the summary")
            text = format_report(StoredResults(folder.path), plan.labels[0])
            (folder.path / SUMMARY_TEXT).write_text(text + "\n", encoding="utf-8")
    except BaseException:
        # Every task is stored: the manifest must say the session ended, so that the
        # tables can be built again (--resume computes nothing) or the figures redrawn
        # (station-sim plot).
        progress.close()
        folder.close_session("failed", tasks)
        raise
    progress.close()
    folder.close_session("complete", tasks)
    outcome.status = "complete"
    outcome.seconds = time.monotonic() - started
    return outcome
