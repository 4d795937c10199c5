"""The ``experiment``, ``plot`` and ``reproduce`` subcommands of ``station-sim``.

Thin: they parse arguments and call into the pipeline.  A bad spec or option raises
:class:`~sim.config.errors.ConfigError`, which ``sim.commands.cli.main`` prints with exit status 2
before anything runs.  An interrupted run keeps its finished runs and says how to
resume.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from sim.commands.execution import execute_plan, folder_contents
from sim.commands.options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    add_backend_options,
    add_folder_options,
)
from sim.config.errors import ConfigError

__all__ = ["add_experiment_commands", "print_overview"]


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


def _experiment(args: argparse.Namespace) -> int:
    from sim.national.spec import is_national_spec
    from sim.pipeline.plan import load_plan

    if is_national_spec(Path(args.spec)):
        from sim.commands.national import run_national_spec

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
    from sim.measures.catalogue import ALL
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
    labels = list(dict.fromkeys(label for _, label in pairs))
    # The ids are what a person types (--set, the spec, paths); the titles what the
    # figures and comparison.md show: both, once, so one can be read from the other.
    print("\nScenarios:")
    for label in labels:
        print(f"  {label.ljust(max(map(len, labels)))}  {results.title(label)}")
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
    from sim.commands.reproduce import RELATIVE_TOLERANCE, find_specs, reproduce
    from sim.pipeline.backends import make_backend

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
