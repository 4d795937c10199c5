"""The ``station-sim`` command line (also ``python -m sim``).

Every user mistake (missing file, bad YAML, unknown or out-of-range setting) ends in
one message on standard error and exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

import sim
from sim.config import ConfigError, Scenario, load_scenario
from sim.experiment.commands import add_experiment_commands

__all__ = ["main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"station-sim: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nstation-sim: interrupted; no partial output was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station-sim",
        description="Simulate social intake at police and gendarmerie stations.",
    )
    parser.add_argument("--version", action="version", version=f"station-sim {sim.__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario's replications and summarise them")
    run.add_argument("config", help="scenario YAML file (see configs/)")
    run.add_argument("--replications", type=int, help="number of replications (default: config)")
    run.add_argument("--seed", type=int, help="root random seed (default: config)")
    run.add_argument("--out", help="output folder (default: results/runs/SCENARIO)")
    run.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes for replications in parallel (results are identical; default 1)",
    )
    _add_set_option(run)
    run.add_argument(
        "--no-records",
        action="store_true",
        help="write measures and summary only, not the per-case and worker records",
    )
    run.set_defaults(handler=_run)

    warmup = commands.add_parser(
        "warmup", help="weekly mean waits of a run started empty, to choose the warm-up"
    )
    warmup.add_argument("config", help="scenario YAML file")
    warmup.add_argument("--weeks", type=int, default=16, help="weeks to simulate (default 16)")
    warmup.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    _add_set_option(warmup)
    warmup.set_defaults(handler=_warmup)

    validate = commands.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("config", help="scenario YAML file")
    _add_set_option(validate)
    validate.set_defaults(handler=_validate)

    theory = commands.add_parser(
        "check-theory",
        help="validate the engine against exact queueing results and print the table",
        description="Run the validation cases (docs/validation.md) through the model and "
        "print, for each statistic, its exact value, the simulated mean, its 95 % "
        "confidence interval and the verdict. Exit status 1 if any row fails.",
    )
    theory.add_argument(
        "--quick", action="store_true", help="only the fast subset that the tests run"
    )
    theory.add_argument(
        "--jobs", type=int, default=1, help="processes for replications in parallel (default 1)"
    )
    theory.add_argument(
        "--case", metavar="TEXT", help="only the cases whose name contains TEXT, e.g. erlang_a"
    )
    theory.set_defaults(handler=_check_theory)

    # experiment, plot, reproduce: defined beside the experiment package they drive.
    add_experiment_commands(commands)
    return parser


def _add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a setting by dotted path, e.g. staffing.workers[0].count=2 "
        "(VALUE is read as YAML; repeatable)",
    )


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["a.b=2", "c=[1, 2]"]`` -> ``{"a.b": 2, "c": [1, 2]}`` (values read as YAML)."""
    overrides: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError(f"--set {item!r}: expected PATH=VALUE, e.g. simulation.seed=7")
        try:
            overrides[path.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
    return overrides


def _load(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> Scenario:
    overrides = parse_overrides(args.set)
    overrides.update(extra or {})
    return load_scenario(args.config, overrides)


def _validate(args: argparse.Namespace) -> int:
    scenario = _load(args)
    workers = sum(w.count for w in scenario.staffing.workers)
    print(
        f"{args.config}: valid scenario '{scenario.name}' with {len(scenario.populations)} "
        f"population(s), {len(scenario.stations)} station(s), {workers} worker(s)"
        + (", on call" if scenario.on_call else "")
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.progress import Progress
    from sim.report import format_report
    from sim.runner import run_replications
    from sim.store import write_run_folder
    from sim.summary import summarise

    started = datetime.now(UTC)
    extra: dict[str, Any] = {}
    if args.replications is not None:
        extra["simulation.replications"] = args.replications
    if args.seed is not None:
        extra["simulation.seed"] = args.seed
    scenario = _load(args, extra)
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be at least 1")
    out = Path(args.out) if args.out else Path("results") / "runs" / scenario.name
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")

    replications = range(scenario.simulation.replications)
    progress = Progress(len(replications), f"{scenario.name}: replications")
    finished: list[Any] = []

    def on_done(result: Any) -> None:
        finished.append(result)
        progress.advance()

    def write(folder: Path, results: list[Any], complete: bool) -> str:
        results = sorted(results, key=lambda r: r.replication)
        measures = [row for result in results for row in result.measures]
        summary = summarise(measures)
        report = format_report(scenario, summary)
        write_run_folder(
            folder,
            scenario,
            config_path=args.config,
            overrides=parse_overrides(args.set) | extra,
            runs=[r.records for r in results if r.records is not None],
            measures=measures,
            summary=summary,
            started=started,
            command=["station-sim", *sys.argv[1:]],
            report=report,
            complete=complete,
        )
        return report

    try:
        results = run_replications(
            scenario,
            replications,
            jobs=args.jobs,
            keep_records=not args.no_records,
            on_done=on_done,
        )
    except KeyboardInterrupt:
        progress.close()
        if not finished:
            raise
        # Keep what was computed, apart from the real output so nobody mistakes it for
        # a complete run.
        partial = out.with_name(out.name + ".interrupted")
        write(partial, finished, complete=False)
        print(
            f"\nstation-sim: interrupted after {len(finished)} of {len(replications)} "
            f"replications; those are saved in {partial}/ (marked incomplete)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    progress.close()
    report = write(out, results, complete=True)
    print(report)
    print(f"\nWritten to {out}/ (cases.csv, workers.csv, summary.csv, manifest.json, ...)")
    return 0


def _warmup(args: argparse.Namespace) -> int:
    from sim.warmup import warmup_profile

    if args.weeks < 4:
        raise ConfigError(f"--weeks {args.weeks}: at least 4 weeks are needed")
    scenario = _load(args)
    print(
        f"Scenario {scenario.name}: {scenario.simulation.replications} replications started empty"
    )
    print(warmup_profile(scenario, weeks=args.weeks, jobs=max(args.jobs, 1)).format())
    return 0


def _check_theory(args: argparse.Namespace) -> int:
    from sim.progress import Progress
    from sim.validation import check_theory, format_table, select_cases

    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be at least 1")
    cases = select_cases(quick=args.quick, pattern=args.case)
    if not cases:
        raise ConfigError(f"--case {args.case!r}: no validation case has that in its name")
    replications = sum(case.replications for case in cases)
    subset = "fast subset" if args.quick else "full table"
    if args.case is not None:
        subset += f", names containing {args.case!r}"
    plural = "" if len(cases) == 1 else "s"
    print(
        f"Validation against exact results: {len(cases)} case{plural} ({subset}), "
        f"{replications} replications"
    )
    progress = Progress(replications, "check-theory: replications")
    rows = check_theory(cases, jobs=args.jobs, on_done=progress.advance)
    progress.close()
    print(format_table(rows))
    return 0 if all(row.passed for row in rows) else 1
