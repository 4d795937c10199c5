"""The ``experiment``, ``plot`` and ``reproduce`` subcommands of ``station-sim``, and the
options every command that runs a plan shares.

Thin: they parse arguments and call into the pipeline.  A bad spec or option raises
:class:`~sim.errors.ConfigError`, which ``sim.cli.main`` prints with exit status 2
before anything runs.  An interrupted run keeps its finished runs and says how to
resume.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.errors import ConfigError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "add_backend_options",
    "add_experiment_commands",
    "add_folder_options",
    "execute_plan",
    "resume_command",
    "run_study",
]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """``--jobs`` and ``--scheduler``: where the runs go (the numbers never depend on it)."""
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes running in parallel (default: all cores; 1 runs in this process); "
        "results are identical whatever N",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786) "
        "instead of local processes; needs pip install -e '.[dask]'",
    )


def add_folder_options(parser: argparse.ArgumentParser, default: str) -> None:
    """``--out``, ``--resume`` and ``--fresh``: the same rule for an existing results
    folder in every command."""
    parser.add_argument("--out", metavar="DIR", help=f"results folder (default: {default})")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--resume",
        action="store_true",
        help="finish or reuse the results already in the folder: only missing runs are computed",
    )
    choice.add_argument(
        "--fresh",
        action="store_true",
        help="replace the results already in the folder (only a folder station-sim wrote)",
    )


def add_experiment_commands(commands: Any) -> None:
    """Add the three subcommands to the ``station-sim`` subparsers."""
    experiment = commands.add_parser(
        "experiment",
        help="run an experiment spec: scenario comparisons and parameter sweeps",
        description="Run every scenario of an experiment spec (experiments/*.yaml) at every "
        "design point, with common random numbers, on local processes or a Dask cluster; "
        "write tidy tables, paired comparisons and figures to the results folder. An "
        "interrupted run resumes with --resume.",
    )
    experiment.add_argument("spec", help="experiment spec YAML file (see experiments/)")
    add_backend_options(experiment)
    add_folder_options(experiment, "results/EXPERIMENT_NAME")
    experiment.add_argument(
        "--no-figures", action="store_true", help="write the tables only (draw later with plot)"
    )
    experiment.set_defaults(handler=_experiment)

    plot = commands.add_parser(
        "plot",
        help="redraw the figures and comparison table of a results folder",
        description="Draw the figures the spec asks for from the stored tables of a results "
        "folder (never from a fresh run), as PNG and PDF with their data as CSV.",
    )
    plot.add_argument("results", help="results folder of an experiment")
    plot.set_defaults(handler=_plot)

    reproduce = commands.add_parser(
        "reproduce",
        help="rerun every experiment spec and check the tables against the reference",
        description="Rerun every spec in the experiments folder from scratch, regenerate its "
        "tables and figures under the results folder, and compare the tables with the "
        "committed reference tables (results/reference/); exit status 1 on any difference "
        "beyond floating-point noise.",
    )
    reproduce.add_argument(
        "--experiments", default="experiments", help="folder of specs (default: experiments)"
    )
    reproduce.add_argument("--results", default="results", help="results folder (default: results)")
    reproduce.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="only this experiment"
    )
    reproduce.add_argument(
        "--update-reference",
        action="store_true",
        help="rewrite the reference tables from this run instead of checking them",
    )
    add_backend_options(reproduce)
    reproduce.set_defaults(handler=_reproduce)


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


def _experiment(args: argparse.Namespace) -> int:
    from sim.national.spec import is_national_spec
    from sim.pipeline.plan import load_plan

    if is_national_spec(Path(args.spec)):
        from sim.national.commands import run_national_spec

        return run_national_spec(args)
    plan = load_plan(args.spec)
    out = Path(args.out) if args.out else Path("results") / plan.spec.name
    header = (
        f"Experiment {plan.spec.name}: {len(plan.points)} design point(s) x "
        f"{len(plan.labels)} scenario(s) x {plan.spec.replications} replications = "
        f"{plan.runs} runs, seed {plan.spec.seed} (common random numbers)"
    )
    command = ["station-sim", "experiment", args.spec, "--out", str(out)]
    if args.no_figures:
        command.append("--no-figures")
    outcome = execute_plan(plan, args, out, command, figures=not args.no_figures, header=header)
    if isinstance(outcome, int):
        return outcome
    reused = f", {outcome.reused} reused from the earlier run" if outcome.reused else ""
    print(
        f"{outcome.computed} runs computed{reused}; {outcome.seconds:.1f} s with the tables"
        + (" and figures" if not args.no_figures else "")
    )
    print_overview(out)
    print(f"\nWritten to {out}/: {folder_contents(out)}")
    if args.no_figures:
        print(f"Draw the figures with: station-sim plot {out}")
    if (out / "figures" / "comparison.md").is_file():
        print(f"Paired comparison: {out}/figures/comparison.md")
    return 0


def print_overview(out: Path) -> None:
    """The measures of the ``overview`` list for each scenario (all populations), when
    the experiment is small enough to read."""
    from sim.measures import ALL
    from sim.pipeline.results import StoredResults

    results = StoredResults(out)
    shown = results.measures.in_list("overview")
    rows = [r for r in results.table("summary").to_pylist() if r["population"] == ALL]
    pairs = list(dict.fromkeys((r["point"], r["scenario"]) for r in rows))
    if len(pairs) > 12:
        print(
            f"\n{len(pairs)} point x scenario pairs: too many to print; every measure's mean "
            f"and CI is in {out}/tables/summary.csv"
        )
        return
    cells = {(r["point"], r["scenario"], r["metric"]): r for r in rows}
    several = len({p for p, _ in pairs}) > 1
    header = ["point"] * several + ["scenario"] + [m.short for m in shown]
    body = []
    for point, label in pairs:
        row = [str(point)] * several + [label]
        for measure in shown:
            cell = cells.get((point, label, measure.name))
            if cell is None or cell["mean"] is None or math.isnan(cell["mean"]):
                row.append("-")
                continue
            text = measure.show(cell["mean"])
            if cell["half_width"] is not None and not math.isnan(cell["half_width"]):
                text += f" ±{measure.show(cell['half_width'])}"
            row.append(text)
        body.append(row)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    print(
        "\nAll populations, mean over replications ± 95 % CI half-width "
        "(waits over the cases contacted):"
    )
    for row in [header, *body]:
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i < 1 + several else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _plot(args: argparse.Namespace) -> int:
    from sim.pipeline.figures import draw_figures, figure_count

    folder = Path(args.results)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such results folder")
    for manifest, kind, again in (
        (
            "national.json",
            "national",
            "station-sim national CONFIG ... --out FOLDER --resume, or station-sim "
            "experiment SPEC --resume for a national experiment",
        ),
        ("sensitivity.json", "sensitivity", "station-sim sensitivity SPEC --resume"),
    ):
        if (folder / manifest).is_file() and not (folder / "manifest.json").is_file():
            raise ConfigError(
                f"{folder}: a {kind} results folder, which station-sim plot does not draw; "
                f"{again} reuses every stored run and draws its figures again"
            )
    total = figure_count(folder)
    if total == 0:
        print(
            f"{folder}: nothing to draw (its spec asks for no figures, and with one "
            "scenario there is no comparison)"
        )
        return 0
    done = 0

    def drawing(name: str) -> None:
        nonlocal done
        done += 1
        print(f"  drawing {name} ({done}/{total})", file=sys.stderr, flush=True)

    written = draw_figures(folder, on_figure=drawing)
    print(f"Drew {len(written)} files into {folder}/figures/ from {folder}/tables/")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from sim.pipeline.backends import make_backend
    from sim.pipeline.reproduce import RELATIVE_TOLERANCE, find_specs, reproduce

    plans = find_specs(Path(args.experiments), args.only)
    backend = make_backend(args.jobs, args.scheduler)
    print(
        f"Reproducing {len(plans)} experiment(s) from {args.experiments}/ into "
        f"{args.results}/ on {backend.description}"
    )
    try:
        checks = reproduce(
            plans,
            Path(args.results),
            backend,
            update_reference=args.update_reference,
            command=["station-sim", *sys.argv[1:]],
        )
    except KeyboardInterrupt:
        print("\nstation-sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        backend.close()
    failed = False
    for check in checks:
        if check.updated:
            verdict = f"reference rewritten in {args.results}/reference/{check.name}/"
        elif check.passed:
            verdict = f"tables match the reference (relative tolerance {RELATIVE_TOLERANCE:g})"
        else:
            failed = True
            shown = "\n    ".join(check.differences[:10])
            more = len(check.differences) - 10
            verdict = f"DIFFERS from the reference:\n    {shown}" + (
                f"\n    ... and {more} more" if more > 0 else ""
            )
        print(f"  {check.name}: {check.runs} runs in {check.seconds:.1f} s; {verdict}")
    return EXIT_FAILED if failed else 0
