"""The ``station-sim`` command line (also ``python -m sim``).

Every user mistake (missing file, bad YAML, unknown or out-of-range setting, bad
option) ends in one message on standard error and exit status 2, before anything is
written.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.commands.app import add_app_commands
from sim.commands.execution import execute_plan, folder_contents
from sim.commands.experiment import add_experiment_commands
from sim.commands.national import add_national_commands
from sim.commands.options import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_backend_options,
    add_folder_options,
    add_set_option,
    parse_overrides,
)
from sim.commands.sensitivity import add_sensitivity_commands
from sim.config.errors import ConfigError
from sim.version import __version__

__all__ = ["main"]


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
        print("\nstation-sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station-sim",
        description="Simulate social intake at police and gendarmerie stations.",
    )
    parser.add_argument("--version", action="version", version=f"station-sim {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a scenario's replications and summarise them",
        description="Run a scenario's replications (an experiment of one scenario at one "
        "point), print the summary table and write the results folder: tables, per-case "
        "and per-worker records (Parquet), summary.txt and manifest.json.",
    )
    run.add_argument("config", help="scenario YAML file (see configs/)")
    run.add_argument("--replications", type=int, help="number of replications (default: config)")
    run.add_argument("--seed", type=int, help="root random seed (default: config)")
    add_set_option(run)
    add_backend_options(run)
    add_folder_options(run, "results/runs/SCENARIO")
    run.add_argument(
        "--no-records",
        action="store_true",
        help="keep the tables only, not the per-case and per-worker records",
    )
    run.add_argument(
        "--csv", action="store_true", help="write the records as CSV too, beside the Parquet"
    )
    run.set_defaults(handler=_run)

    warmup = commands.add_parser(
        "warmup",
        help="weekly mean waits of a run started empty, to choose the warm-up",
        description="Run a scenario from empty, without warm-up, and print week by week "
        "the mean wait and the open caseload over the replications, with the week each "
        "settles by Welch's method and MSER-5's truncation point: how long a warm-up "
        "the config needs (docs/model.md).",
    )
    warmup.add_argument("config", help="scenario YAML file")
    warmup.add_argument("--weeks", type=int, default=16, help="weeks to simulate (default 16)")
    add_backend_options(warmup)
    add_set_option(warmup)
    warmup.set_defaults(handler=_warmup)

    validate = commands.add_parser(
        "validate",
        help="check a scenario file or an experiment spec without running it",
        description="Check a scenario file, or an experiment spec against every scenario "
        "at every design point, exactly as run and experiment would, and say what it holds.",
    )
    validate.add_argument("config", help="scenario YAML file, or experiment spec")
    add_set_option(validate)
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
    add_backend_options(theory)
    theory.add_argument(
        "--case", metavar="TEXT", help="only the cases whose name contains TEXT, e.g. erlang_a"
    )
    theory.set_defaults(handler=_check_theory)

    calibration = commands.add_parser(
        "calibrate",
        help="compare the model with the published figures it can produce",
        description="Run the configs of the calibration targets (configs/calibration/"
        "targets.yaml) and print, for each published figure, its value and source, the "
        "model's value with its 95 % confidence interval and whether it lies in the "
        "target's tolerance band. Exit status 1 if any target is outside its band. With "
        "--scan, run every target at each multiplier of a parameter of the targets file "
        "and say where each holds and which targets conflict.",
    )
    calibration.add_argument(
        "configs",
        nargs="*",
        metavar="CONFIG",
        help="only the targets checked on these configs (names of configs/ or paths)",
    )
    calibration.add_argument(
        "--targets",
        default="configs/calibration/targets.yaml",
        help="targets file (default: configs/calibration/targets.yaml); its configs are "
        "looked up in the folder above it",
    )
    calibration.add_argument("--replications", type=int, help="replications (default: config)")
    calibration.add_argument(
        "--scan",
        metavar="PARAMETER",
        action="append",
        help="run every target at each multiplier of PARAMETER (the targets file's "
        "parameters, e.g. demand_volume) and report where each holds; given twice, "
        "every pair of multipliers of the two (the joint fit)",
    )
    calibration.add_argument(
        "--at",
        metavar="PARAMETER=MULTIPLIER",
        action="append",
        help="check every target with PARAMETER's settings times MULTIPLIER (e.g. "
        "demand_volume=1.45; repeat for several parameters): a point of a scan, in full",
    )
    add_backend_options(calibration)
    calibration.set_defaults(handler=_calibrate)

    replications = commands.add_parser(
        "replications",
        help="how many replications a scenario needs for a target precision",
        description="Run replications of a scenario until the 95 % confidence half-width "
        "of each measure is within --half-width of its mean and stays there over a "
        "look-ahead (the replications algorithm of Hoad, Robinson and Davies 2010), and "
        "print the number each measure needs.",
    )
    replications.add_argument("config", help="scenario YAML file")
    replications.add_argument(
        "--measures",
        default="unmet_share,wait_referral_mean_h,within_24h_share,utilisation",
        help="comma-separated measures of population all (default: %(default)s)",
    )
    replications.add_argument(
        "--half-width",
        type=float,
        default=0.05,
        help="target half-width over the mean, e.g. 0.05 for 5 %% (default: %(default)s)",
    )
    replications.add_argument(
        "--look-ahead", type=int, default=5, help="look-ahead replications (default: 5)"
    )
    replications.add_argument(
        "--budget", type=int, default=200, help="most replications to run (default: 200)"
    )
    add_set_option(replications)
    add_backend_options(replications)
    replications.set_defaults(handler=_replications)

    keys = commands.add_parser(
        "config-keys",
        help="print the reference of every scenario setting (docs/config.md)",
        description="Print, as Markdown, every setting a scenario file may hold, with its "
        "type, default and meaning, generated from the schema the configs are validated "
        "against.",
    )
    keys.set_defaults(handler=_config_keys)

    # experiment, plot, reproduce: defined beside the pipeline they drive; assumptions
    # and sensitivity beside the study they run.
    add_experiment_commands(commands)
    add_sensitivity_commands(commands)
    add_national_commands(commands)
    add_app_commands(commands)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from sim.config.limits import MAX_REPLICATIONS

    overrides = parse_overrides(args.set)
    # The flags' own bounds, checked here so that the message names the flag rather
    # than the config file the value would have gone into.
    for option, path, low, high in (
        ("replications", "simulation.replications", 1, MAX_REPLICATIONS),
        ("seed", "simulation.seed", 0, 2**63 - 1),
    ):
        value = getattr(args, option, None)
        if value is None:
            continue
        if not low <= value <= high:
            raise ConfigError(f"--{option} {value}: allowed {low} to {high:,}")
        overrides[path] = value
    return overrides


def _validate(args: argparse.Namespace) -> int:
    from sim.config.documents import read_mapping
    from sim.config.schema import load_scenario
    from sim.pipeline.plan import load_plan

    document = read_mapping(args.config, "scenario file or experiment spec")
    if document.get("kind") == "national":
        from sim.national.spec import load_national_experiment

        experiment = load_national_experiment(args.config)
        print(
            f"{args.config}: valid national experiment spec '{experiment.name}': "
            f"{len(experiment.requests)} allocations of "
            f"{len(experiment.study.catchments)} catchments"
        )
        return 0
    if "demand_per_100k" in document:
        from sim.national.config import load_national
        from sim.national.run import NationalStudy

        study = NationalStudy.of(load_national(args.config, overrides=parse_overrides(args.set)))
        print(
            f"{args.config}: valid national config '{study.model.config.name}': "
            f"{len(study.model.departements)} départements or zones, "
            f"{len(study.catchments)} catchments, coverage models "
            f"{', '.join(study.model.scenarios)}"
        )
        return 0
    scenario_only = {"base", "populations", "staffing", "stations", "simulation"}
    if not scenario_only & set(document):
        # The project's other YAML files, told apart by their one required key.
        if "targets" in document:
            from sim.calibration.check import load_targets

            targets = load_targets(Path(args.config))
            print(f"{args.config}: valid calibration targets file: {len(targets.targets)} targets")
            return 0
        if "conclusions" in document:
            from sim.sensitivity.spec import load_sensitivity_spec

            study = load_sensitivity_spec(args.config)
            print(
                f"{args.config}: valid sensitivity spec '{study.spec.name}': "
                f"{len(study.factors)} factors, {len(study.spec.conclusions)} conclusions; "
                f"{study.cost()}"
            )
            return 0
        if "assumptions" in document:
            from sim.config.assumptions import load_assumptions

            assumptions = load_assumptions(args.config)
            print(
                f"{args.config}: valid assumptions file: {len(assumptions.factors)} factors "
                f"({len(assumptions.varied)} varied)"
            )
            return 0
    spec_only = {"scenarios", "design", "comparison", "figures", "configs", "overrides"}
    if "scenarios" in document or (spec_only & set(document) and not scenario_only & set(document)):
        if args.set:
            raise ConfigError("--set applies to a scenario; an experiment spec sets overrides")
        plan = load_plan(args.config)
        print(
            f"{args.config}: valid experiment spec '{plan.spec.name}': {len(plan.labels)} "
            f"scenario(s) x {len(plan.points)} design point(s) x {plan.spec.replications} "
            f"replication(s) = {plan.runs} run(s)"
        )
        return 0
    scenario = load_scenario(args.config, _overrides(args))
    print(
        f"{args.config}: valid scenario '{scenario.name}' with {len(scenario.populations)} "
        f"population(s), {len(scenario.stations)} station(s), {scenario.posts} worker(s)"
        + (", on call" if scenario.on_call else "")
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.pipeline.plan import plan_for_scenario
    from sim.pipeline.report import format_report
    from sim.pipeline.results import StoredResults

    if args.csv and args.no_records:
        raise ConfigError("--csv writes the records as CSV; with --no-records there are none")
    plan = plan_for_scenario(args.config, _overrides(args), records=not args.no_records)
    out = Path(args.out) if args.out else Path("results") / "runs" / plan.spec.name
    command = ["station-sim", "run", args.config, *_repeat(args), "--out", str(out)]
    outcome = execute_plan(plan, args, out, command, csv_records=args.csv)
    if isinstance(outcome, int):
        return outcome
    print(format_report(StoredResults(out), plan.labels[0]))
    reused = f" ({outcome.reused} reused)" if outcome.reused else ""
    print(f"\n{outcome.tasks} replication(s){reused} written to {out}/: {folder_contents(out)}")
    return 0


def _repeat(args: argparse.Namespace) -> list[str]:
    """The options of a run that a resume must repeat to make the same plan."""
    repeated = []
    for item in args.set:
        repeated += ["--set", item]
    for option in ("replications", "seed"):
        value = getattr(args, option)
        if value is not None:
            repeated += [f"--{option}", str(value)]
    if args.no_records:
        repeated.append("--no-records")
    if args.csv:
        repeated.append("--csv")
    return repeated


def _warmup(args: argparse.Namespace) -> int:
    from sim.config.schema import load_scenario
    from sim.pipeline.backends import make_backend
    from sim.run_length.warmup import warmup_profile

    if args.weeks < 4 or args.weeks > 520:
        raise ConfigError(f"--weeks {args.weeks}: choose between 4 and 520 weeks")
    scenario = load_scenario(args.config, _overrides(args))
    backend = make_backend(args.jobs, args.scheduler)
    print(
        f"Scenario {scenario.name}: {scenario.simulation.replications} replications started empty"
    )
    try:
        print(warmup_profile(scenario, weeks=args.weeks, backend=backend).format())
    finally:
        backend.close()
    return 0


def _check_theory(args: argparse.Namespace) -> int:
    from sim.pipeline.backends import make_backend
    from sim.pipeline.progress import Progress
    from sim.validation import check_theory, format_table, select_cases

    cases = select_cases(quick=args.quick, pattern=args.case)
    if not cases:
        raise ConfigError(f"--case {args.case!r}: no validation case has that in its name")
    backend = make_backend(args.jobs, args.scheduler)
    replications = sum(case.replications for case in cases)
    subset = "fast subset" if args.quick else "full table"
    if args.case is not None:
        subset += f", names containing {args.case!r}"
    plural = "" if len(cases) == 1 else "s"
    print(
        f"Validation against exact results: {len(cases)} case{plural} ({subset}), "
        f"{replications} replications"
    )
    progress = Progress(replications, "check-theory", unit="replications done")
    try:
        rows = check_theory(cases, backend=backend, on_done=progress.advance)
    finally:
        progress.close()
        backend.close()
    print(format_table(rows))
    return 0 if all(row.passed for row in rows) else 1


def _calibrate(args: argparse.Namespace) -> int:
    from sim.api import run
    from sim.calibration.check import (
        calibrate,
        format_calibration,
        format_grid,
        format_scan,
        grid,
        load_targets,
        scan,
    )
    from sim.pipeline.backends import make_backend

    path = Path(args.targets)
    targets = load_targets(path)
    configs_dir = path.resolve().parent.parent
    only = []
    for name in args.configs:
        given = Path(name)
        if given.suffix in (".yaml", ".yml"):
            try:
                name = given.resolve().relative_to(configs_dir).with_suffix("").as_posix()
            except ValueError:
                raise ConfigError(f"calibrate: {given} is not a config of {configs_dir}") from None
        only.append(name)
    if args.replications is not None and args.replications < 1:
        raise ConfigError(f"--replications {args.replications}: must be at least 1")
    scans = args.scan or []
    for name in scans:
        if name not in targets.parameters:
            raise ConfigError(
                f"--scan {name}: not a parameter of {path}; known: {sorted(targets.parameters)}"
            )
    if len(scans) > 2 or len(set(scans)) < len(scans):
        raise ConfigError(
            f"--scan {' --scan '.join(scans)}: give one parameter, or two different ones "
            "for the joint fit"
        )
    scales = []
    for given in args.at or []:
        name, _, factor = given.partition("=")
        if name not in targets.parameters:
            raise ConfigError(
                f"--at {given}: '{name}' is not a parameter of {path}; known: "
                f"{sorted(targets.parameters)}"
            )
        try:
            multiplier = float(factor)
        except ValueError:
            multiplier = math.nan
        if not 0 < multiplier < 1e6:
            raise ConfigError(f"--at {given}: the multiplier must be a number above 0")
        scales.append((targets.parameters[name], multiplier))
    if scales and scans:
        raise ConfigError("calibrate: --at checks one point; --scan runs a range: give one")
    named = [given.partition("=")[0] for given in args.at or []]
    if len(set(named)) < len(named):
        raise ConfigError(f"calibrate: --at names a parameter twice ({named})")
    backend = make_backend(args.jobs, args.scheduler)

    def run_config(config: Path, overrides: dict):  # type: ignore[no-untyped-def]
        print(f"  running {config.relative_to(configs_dir)} ...", file=sys.stderr, flush=True)
        return run(
            config,
            replications=args.replications,
            set=overrides,
            jobs=args.jobs,
            scheduler=args.scheduler,
            records=False,
        )

    def run_national_config(config: Path, context, overrides: dict, coverage: dict):  # type: ignore[no-untyped-def]
        import tempfile

        from sim.national.config import load_national
        from sim.national.run import NationalStudy
        from sim.national.study import Request, run_national

        print(f"  running {context.describe()} ...", file=sys.stderr, flush=True)
        model = load_national(config, context.coverage, overrides, coverage)
        study = NationalStudy.of(model)
        replications = args.replications or context.replications or model.config.replications
        request = Request(context.posts, context.allocation, context.coverage)
        # A folder of this command's own, removed with what the national run wrote in it.
        with tempfile.TemporaryDirectory(prefix="station-sim-calibrate-") as folder:
            outcome = run_national(
                study, [request], Path(folder) / "national", backend, max(2, replications),
                show_progress=False, maps=[],
            )  # fmt: skip
            return outcome.tables["national"].to_pandas()

    if len(scans) == 2:
        joint = grid(
            targets, (scans[0], scans[1]), configs_dir, run_config, run_national_config, only,
            on_pair=lambda a, b: print(
                f"{scans[0]} x{a:g}, {scans[1]} x{b:g}:", file=sys.stderr, flush=True
            ),
        )  # fmt: skip
        print(format_grid(joint))
        return 0
    if scans:
        result = scan(
            targets, scans[0], configs_dir, run_config, run_national_config, only,
            on_scale=lambda f: print(f"{scans[0]} x{f:g}:", file=sys.stderr, flush=True),
        )  # fmt: skip
        print(format_scan(result))
        return 0
    rows = calibrate(targets, configs_dir, run_config, run_national_config, only, scales)
    if scales:
        at = ", ".join(f"{a}" for a in args.at)
        print(f"Every target with {at} (every other setting as shipped):\n")
    print(format_calibration(rows))
    return 0 if all(row.passed for row in rows) else 1


def _replications(args: argparse.Namespace) -> int:
    from sim.config.limits import MAX_REPLICATIONS
    from sim.config.schema import load_scenario
    from sim.measures.catalogue import measures_for
    from sim.pipeline.backends import make_backend
    from sim.run_length.replications import format_replications, replications_needed

    if not 0 < args.half_width < 1:
        raise ConfigError(f"--half-width {args.half_width}: give a share between 0 and 1")
    if not 1 <= args.look_ahead <= 100:
        raise ConfigError(f"--look-ahead {args.look_ahead}: give 1 to 100 replications")
    if not 5 <= args.budget <= MAX_REPLICATIONS:
        raise ConfigError(f"--budget {args.budget}: give 5 to {MAX_REPLICATIONS:,}")
    scenario = load_scenario(args.config, _overrides(args))
    metrics = [m.strip() for m in args.measures.split(",") if m.strip()]
    known = measures_for(scenario)
    for metric in metrics:
        if metric not in known:
            raise ConfigError(
                f"--measures: '{metric}' is not a measure of scenario '{scenario.name}'; "
                f"known: {', '.join(known.names)}"
            )
    if not metrics:
        raise ConfigError("--measures: name at least one measure")
    backend = make_backend(args.jobs, args.scheduler)
    try:
        answers = replications_needed(
            scenario, metrics, backend, target=args.half_width, look_ahead=args.look_ahead,
            budget=args.budget,
            on_batch=lambda n: print(f"  {n} replications run", file=sys.stderr, flush=True),
        )  # fmt: skip
    finally:
        backend.close()
    print(f"Scenario {scenario.name}:")
    print(format_replications(answers, args.half_width))
    return 0


def _config_keys(args: argparse.Namespace) -> int:
    from sim.config.reference import config_reference

    print(config_reference(), end="")
    return 0
