"""The ``experiment``, ``plot`` and ``reproduce`` subcommands of ``station-sim``.

Thin: they parse arguments and call into :mod:`sim.experiment`.  A bad spec or option
raises :class:`~sim.config.ConfigError`, which ``sim.cli.main`` prints with exit
status 2 before anything runs.  An interrupted experiment keeps its finished runs and
says how to resume.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from sim.config import ConfigError

__all__ = ["add_experiment_commands"]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

_OVERVIEW_METRICS = (
    ("unmet_share", "unmet %", 100.0, 1),
    ("wait_referral_mean_h", "mean wait h", 1.0, 1),
    ("wait_referral_p90_h", "p90 wait h", 1.0, 1),
    ("within_24h_share", "<=24h %", 100.0, 1),
    ("cost_eur_per_year", "EUR a year", 1.0, 0),
)


def add_experiment_commands(commands: Any) -> None:
    """Add the three subcommands to the ``station-sim`` subparsers."""
    experiment = commands.add_parser(
        "experiment",
        help="run an experiment spec: scenario comparisons and parameter sweeps",
        description="Run every scenario of an experiment spec (experiments/*.yaml) at every "
        "design point, with common random numbers, on a local process pool or a Dask "
        "cluster; write tidy tables, paired comparisons and figures to the results folder. "
        "An interrupted run resumes with --resume.",
    )
    experiment.add_argument("spec", help="experiment spec YAML file (see experiments/)")
    _add_backend_options(experiment)
    experiment.add_argument("--out", help="results folder (default: results/EXPERIMENT_NAME)")
    experiment.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run in --out: only the missing runs are computed",
    )
    experiment.add_argument(
        "--fresh", action="store_true", help="discard the results already in --out and start over"
    )
    experiment.add_argument(
        "--no-figures", action="store_true", help="write the tables only (draw later with plot)"
    )
    experiment.set_defaults(handler=_experiment)

    plot = commands.add_parser(
        "plot",
        help="redraw the figures and comparison table of an experiment's results folder",
        description="Draw the figures the spec asks for from the stored tables of a results "
        "folder (never from a fresh run), as PNG and PDF with their data as CSV.",
    )
    plot.add_argument("results", help="results folder of an experiment run")
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
    _add_backend_options(reproduce)
    reproduce.set_defaults(handler=_reproduce)


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes of the local pool (default: all cores; 1 runs in this process)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786) "
        "instead of the local pool; needs pip install -e '.[dask]'",
    )


def _experiment(args: argparse.Namespace) -> int:
    from sim.experiment.backends import make_backend
    from sim.experiment.execute import run_experiment
    from sim.experiment.spec import load_plan
    from sim.experiment.tasks import plan_tasks

    if args.resume and args.fresh:
        raise ConfigError("--resume and --fresh contradict each other; choose one")
    plan = load_plan(args.spec)
    out = Path(args.out) if args.out else Path("results") / plan.spec.name
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    backend = make_backend(args.workers, args.scheduler)
    runs = len(plan_tasks(plan))
    print(
        f"Experiment {plan.spec.name}: {len(plan.points)} design point(s) x "
        f"{len(plan.labels)} scenario(s) x {plan.spec.replications} replications = {runs} "
        f"runs, seed {plan.spec.seed} (common random numbers), on {backend.description}"
    )
    resume_hint = f"station-sim experiment {args.spec} --out {out} --resume"
    try:
        outcome = run_experiment(
            plan,
            out,
            backend,
            resume=args.resume,
            fresh=args.fresh,
            figures=not args.no_figures,
            command=["station-sim", *sys.argv[1:]],
        )
    except KeyboardInterrupt:
        print(
            f"\nstation-sim: interrupted; the finished runs are kept in {out}/. "
            f"Finish with:\n  {resume_hint}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except RuntimeError as error:
        print(
            f"station-sim: {error}; finished runs are kept. Finish with:\n  {resume_hint}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    if outcome.status != "complete":
        first_id, first_error = next(iter(outcome.failed.items()))
        print(
            f"station-sim: {len(outcome.failed)} of {runs} runs failed (errors in "
            f"{out}/manifest.json); the first, {first_id}:\n{first_error}\n"
            f"The other runs are kept; after a fix, finish with:\n  {resume_hint}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    reused = f", {outcome.reused} reused from the earlier run" if outcome.reused else ""
    print(f"{outcome.computed} runs computed{reused} in {outcome.seconds:.1f} s")
    _print_overview(out)
    if args.no_figures:
        written = f"tables/ (Parquet and CSV), manifest.json; draw with: station-sim plot {out}"
    else:
        written = "tables/ (Parquet and CSV), figures/, manifest.json"
    print(f"\nWritten to {out}/: {written}")
    if (out / "figures" / "comparison.md").is_file():
        print(f"Paired comparison: {out}/figures/comparison.md")
    return 0


def _print_overview(out: Path) -> None:
    """Headline measures of each scenario, when the experiment is small enough to read."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    summary = pq.read_table(out / "tables" / "summary.parquet")
    summary = summary.filter(pc.equal(summary["population"], "all"))
    pairs = list(
        dict.fromkeys(
            zip(summary["point"].to_pylist(), summary["scenario"].to_pylist(), strict=True)
        )
    )
    if len(pairs) > 12:
        return
    cells = {(r["point"], r["scenario"], r["metric"]): r for r in summary.to_pylist()}
    several = len({p for p, _ in pairs}) > 1
    header = ["point"] * several + ["scenario"] + [title for _, title, _, _ in _OVERVIEW_METRICS]
    body = []
    for point, label in pairs:
        row = [str(point)] * several + [label]
        for metric, _, scale, digits in _OVERVIEW_METRICS:
            cell = cells.get((point, label, metric))
            if cell is None or cell["mean"] is None or math.isnan(cell["mean"]):
                row.append("-")
                continue
            text = f"{cell['mean'] * scale:.{digits}f}"
            if cell["half_width"] is not None and not math.isnan(cell["half_width"]):
                text += f" ±{cell['half_width'] * scale:.{digits}f}"
            row.append(text)
        body.append(row)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    print("\nAll populations, mean over replications ± 95 % CI half-width:")
    for row in [header, *body]:
        print(
            "  "
            + "  ".join(
                c.ljust(w) if i < 1 + several else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _plot(args: argparse.Namespace) -> int:
    from sim.experiment.figures import draw_figures

    folder = Path(args.results)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such results folder")
    written = draw_figures(folder)
    print(f"Drew {len(written)} files into {folder}/figures/ from {folder}/tables/")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from sim.experiment.backends import make_backend
    from sim.experiment.reproduce import RELATIVE_TOLERANCE, find_specs, reproduce

    plans = find_specs(Path(args.experiments), args.only)
    backend = make_backend(args.workers, args.scheduler)
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
        close = getattr(backend, "close", None)
        if close is not None:
            close()
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
