"""Running a plan or a resumable study from the command line: the backend it asks for,
the folder rule, and the messages of an interruption or a failure (what is kept, and
the command that finishes it)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.commands.options import EXIT_FAILED, EXIT_INTERRUPTED

__all__ = ["execute_plan", "folder_contents", "resume_command", "run_study"]


def execute_plan(
    plan: Any,
    args: argparse.Namespace,
    out: Path,
    resume_command: Sequence[str],
    figures: bool = True,
    csv_records: bool = False,
    header: str | None = None,
) -> Any:
    """Run a plan as the command line asks (backend, folder rule), with the messages of
    an interruption or a failure; returns the outcome, or an exit status.  ``header``
    is printed, with the backend, once the folder and the backend are checked."""
    from sim.pipeline.backends import make_backend
    from sim.pipeline.execute import run_experiment
    from sim.pipeline.store import ResultsFolder

    # The folder and the backend are checked before anything runs.
    folder = ResultsFolder(out, plan)
    folder.check_target(resume=args.resume, fresh=args.fresh)
    backend = make_backend(args.jobs, args.scheduler)
    if header is not None:
        print(f"{header}, on {backend.description}")
    again = shlex.join([*resume_command, "--resume"])
    hint = f"Finish with:\n  {again}"

    def kept() -> str:
        done = len(folder.finished_task_ids())
        return f"{done} finished run(s) are kept in {out}/" if done else "no run had finished"

    try:
        outcome = run_experiment(
            plan,
            out,
            backend,
            resume=args.resume,
            fresh=args.fresh,
            figures=figures,
            csv_records=csv_records,
            command=["station-sim", *sys.argv[1:]],
        )
    except KeyboardInterrupt:
        print(f"\nstation-sim: interrupted; {kept()}. {hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as error:
        print(f"station-sim: {error}; {kept()}. {hint}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        backend.close()
    if outcome.status != "complete":
        first_id, first_error = next(iter(outcome.failed.items()))
        print(
            f"station-sim: {len(outcome.failed)} of {outcome.tasks} runs failed (errors in "
            f"{out}/manifest.json); the first, {first_id}:\n{first_error}\n"
            f"The other runs are kept; after a fix, finish with:\n  {again}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return outcome


def resume_command() -> list[str]:
    """This command line without ``--fresh`` or ``--resume``: what to run, with
    ``--resume``, to finish it."""
    return ["station-sim", *(a for a in sys.argv[1:] if a not in ("--fresh", "--resume"))]


def run_study(run: Callable[[], Any], backend: Any, out: Path) -> Any:
    """``run()`` for a command of a resumable study (sensitivity, national); after
    Ctrl-C or a failed run, say what is kept in ``out`` and how to finish, and return
    the exit status instead of the outcome.  The backend is closed either way."""
    again = shlex.join([*resume_command(), "--resume"])
    try:
        return run()
    except KeyboardInterrupt:
        print(
            f"\nstation-sim: interrupted; what was computed is kept in {out}/. Finish "
            f"with:\n  {again}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except RuntimeError as error:
        print(f"station-sim: {error}; after a fix, finish with:\n  {again}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        backend.close()


def folder_contents(out: Path) -> str:
    """What a results folder holds, as a list of its parts that exist."""
    parts = []
    if (out / "summary.txt").is_file():
        parts.append("summary.txt")
    parts.append("tables/ (Parquet and CSV)")
    records = (
        sorted(p.name for p in (out / "records").glob("*")) if (out / "records").is_dir() else []
    )
    if records:
        parts.append(f"records/ ({', '.join(records)})")
    if (out / "figures").is_dir():
        parts.append("figures/")
    parts.append("manifest.json")
    return ", ".join(parts)
