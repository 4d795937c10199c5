"""The command-line face of the national model: ``station-sim national``, and the
national experiment specs that ``station-sim experiment`` hands over here."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.commands.execution import run_study
from sim.commands.options import add_backend_options, add_folder_options, parse_overrides
from sim.config.errors import ConfigError

__all__ = ["add_national_commands", "format_national", "run_national_spec"]


def add_national_commands(commands: Any) -> None:
    national = commands.add_parser(
        "national",
        help="France as a whole: every catchment, under an allocation of N posts",
        description="Cut every département of a national config into catchments, allocate "
        "N posts to them by a named rule (historical_2013, proportional, "
        "two_per_departement_first, optimised), simulate every catchment with a post "
        "(common random numbers across N, rules and coverage models) and count the persons "
        "of the catchments without one as unmet (reason: no post). Prints the national "
        "table; writes national, per-département and per-catchment tables and maps.",
    )
    national.add_argument("config", help="national config (e.g. configs/national/france.yaml)")
    size = national.add_mutually_exclusive_group(required=True)
    size.add_argument("--posts", type=int, metavar="N", help="number of posts nationally")
    size.add_argument(
        "--budget",
        type=float,
        metavar="EUR",
        help="a yearly budget instead: as many posts as it pays at the FTE cost of a post",
    )
    national.add_argument(
        "--allocation", default="proportional", metavar="RULE", help="allocation rule"
    )
    national.add_argument("--coverage", metavar="MODEL", help="coverage model (default: the first)")
    national.add_argument(
        "--replications", type=int, metavar="R", help="replications (default: the config's)"
    )
    national.add_argument(
        "--objective",
        default="unmet",
        choices=("unmet", "not_within_24h", "equity", "mix"),
        help="what the optimised rule minimises: unmet persons (default), persons not "
        "contacted within 24 h, the worst département's unmet share first (equity), or a "
        "share of the posts for the worst département and the rest for unmet persons "
        "(mix, with --equity-weight)",
    )
    national.add_argument(
        "--equity-weight",
        type=float,
        metavar="W",
        help="with --objective mix: the share of the optimised posts dealt to the "
        "worst-off département first, between 0 and 1 (docs/national.md)",
    )
    national.add_argument(
        "--next",
        type=int,
        metavar="K",
        help="where the next K posts should go, from the rule's allocation of N posts "
        "(the optimiser places them)",
    )
    national.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change a setting of the national config, e.g. demand_per_100k.victim=700 "
        "(repeatable)",
    )
    add_backend_options(national)
    add_folder_options(national, "results/national/CONFIG-RULE-N")
    national.set_defaults(handler=_national)


def _national(args: argparse.Namespace) -> int:
    from sim.national.config import load_national
    from sim.national.run import NationalStudy
    from sim.national.study import Request, check_objective, check_requests

    model = load_national(args.config, args.coverage, parse_overrides(args.set))
    study = NationalStudy.of(model)
    coverage = args.coverage or next(iter(model.scenarios))
    from sim.config.limits import MAX_REPLICATIONS
    from sim.national.study import MAX_POSTS

    if args.budget is not None:
        per_post = model.scenarios[coverage].costs.fte_eur_per_year
        if not math.isfinite(args.budget) or not 0 < args.budget <= MAX_POSTS * per_post:
            raise ConfigError(
                f"--budget {args.budget:g}: give a positive number of EUR a year, at most "
                f"{MAX_POSTS * per_post:,.0f} ({MAX_POSTS:,} posts)"
            )
        posts = math.floor(args.budget / per_post)
        if posts < 1:
            raise ConfigError(
                f"--budget {args.budget:g}: pays no post (one costs {per_post:,.0f} EUR a year)"
            )
        print(f"A budget of {args.budget:,.0f} EUR a year pays {posts} posts at {per_post:,.0f}")
    else:
        posts = args.posts
        if not 1 <= posts <= MAX_POSTS:
            raise ConfigError(f"--posts {posts}: allowed 1 to {MAX_POSTS:,}")
    replications = args.replications if args.replications is not None else model.config.replications
    if not 2 <= replications <= MAX_REPLICATIONS:
        raise ConfigError(
            f"--replications {replications}: allowed 2 (for intervals) to {MAX_REPLICATIONS:,}"
        )
    if args.next is not None and not 1 <= args.next <= MAX_POSTS:
        raise ConfigError(f"--next {args.next}: allowed 1 to {MAX_POSTS:,}")
    if args.next is not None:
        request = Request(posts + args.next, "optimised", coverage, args.allocation, posts)
        check_requests(study, [Request(posts, args.allocation, coverage)], "--allocation")
        requests = [Request(posts, args.allocation, coverage), request]
    else:
        requests = [Request(posts, args.allocation, coverage)]
    check_requests(study, requests, "station-sim national")
    check_objective(args.objective, args.equity_weight)
    facts = model.config.allocation.historical_2013
    if args.allocation == "historical_2013" and facts.has_facts and posts == facts.posts:
        print(format_historical_facts(study, posts))
    name = f"{model.config.name}-{args.allocation}-{posts}" + (
        f"-next{args.next}" if args.next else ""
    )
    if args.objective != "unmet" and (args.allocation == "optimised" or args.next):
        name += f"-{args.objective}" + (f"{args.equity_weight:g}" if args.equity_weight else "")
    out = Path(args.out) if args.out else Path("results") / "national" / name
    return _execute(
        lambda backend, note: _run(study, requests, out, backend, replications, args, note),
        args,
        out,
        [r.key for r in requests],
        f"{model.config.name}: {len(study.catchments)} catchments, {replications} replications",
        study,
    )


def _run(
    study: Any, requests: Any, out: Path, backend: Any, replications: int, args: Any, note: Any
) -> Any:
    from sim.national.study import run_national

    return run_national(
        study, requests, out, backend, replications, objective=args.objective,
        equity_weight=args.equity_weight,
        resume=args.resume, fresh=args.fresh, command=["station-sim", *sys.argv[1:]], note=note,
    )  # fmt: skip


def run_national_spec(args: argparse.Namespace) -> int:
    """``station-sim experiment`` on a spec of ``kind: national``."""
    from sim.national.spec import load_national_experiment
    from sim.national.study import run_national_experiment

    experiment = load_national_experiment(args.spec)
    out = Path(args.out) if args.out else Path("results") / experiment.name
    header = (
        f"National experiment {experiment.name}: {len(experiment.requests)} allocations of "
        f"{len(experiment.study.catchments)} catchments, {experiment.spec.replications} "
        "replications"
    )

    def run(backend: Any, note: Any) -> Any:
        return run_national_experiment(
            experiment, out, backend, resume=args.resume, fresh=args.fresh,
            command=["station-sim", *sys.argv[1:]], note=note,
        )  # fmt: skip

    return _execute(run, args, out, [r.key for r in experiment.requests], header, experiment.study)


def _execute(
    run: Any, args: argparse.Namespace, out: Path, keys: list[str], header: str, study: Any
) -> int:
    from sim.national.study import MANIFEST, OWN_ENTRIES, PASSED_ON_RUNS
    from sim.pipeline.backends import make_backend
    from sim.pipeline.store import check_own_folder

    check_own_folder(out, args.resume, args.fresh, MANIFEST, OWN_ENTRIES, "a national study")
    backend = make_backend(args.jobs, args.scheduler)
    print(f"{header}; on {backend.description}")

    def note(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    outcome = run_study(lambda: run(backend, note), backend, out)
    if isinstance(outcome, int):
        return outcome
    print(format_national(outcome.tables, study.model.coverage_title))
    runs = f"runs/, {PASSED_ON_RUNS}/" if (out / PASSED_ON_RUNS).is_dir() else "runs/"
    print(f"\nWritten to {out}/: tables/ (Parquet and CSV), figures/, {runs}")
    return 0


def format_historical_facts(study: Any, posts: int) -> str:
    """The 2013 map's facts (docs/national.md) beside the allocation's values."""
    from sim.national.allocation import allocate, historical_facts

    constants = study.model.config.allocation
    allocation = allocate("historical_2013", posts, study.catchments, constants)
    names = {d.code: d.name for d in study.model.departements}
    lines = [f"The 2013 map at {posts} posts, beside the source's facts (docs/national.md):"]
    for fact, source, value in historical_facts(
        allocation, study.catchments, constants.historical_2013, names
    ):
        lines.append(f"  {fact:<34} source {source:>6}   map {value:>6}")
    return "\n".join(lines)


def format_national(
    tables: dict[str, Any], coverage_title: Callable[[str], str] = lambda name: name
) -> str:
    """The national table as the commands print it: one block per allocation, named in
    words with the ids a person types, each measure's mean with its 95 % CI (within the
    measure's support)."""
    from sim.national.figures import replications_text, rule_title
    from sim.national.measures import NATIONAL_MEASURES

    shown = (
        "national_posts",
        "national_persons_in_need",
        "national_contacted",
        "national_unmet_share",
        "national_unmet_not_referred_share",
        "national_unmet_capacity_share",
        "national_unmet_no_post",
        "national_within_24h_share",
        "departement_unmet_max",
        "departement_unmet_p90",
        "departement_unmet_gini",
        "national_across_border_share",
        "national_cost_eur_per_year",
    )
    rows = tables["national"].to_pylist()
    keys = list(dict.fromkeys((r["coverage"], r["allocation"], r["posts"]) for r in rows))
    lines = [f"National table (mean over {replications_text(rows)}, with its 95 % CI)"]
    for key in keys:
        chosen = {
            r["metric"]: r for r in rows if (r["coverage"], r["allocation"], r["posts"]) == key
        }
        lines.append(
            f"\n  {coverage_title(key[0])}, {rule_title(key[1])}, {key[2]} posts "
            f"(--coverage {key[0]} --allocation {key[1]}):"
        )
        for name in shown:
            m = NATIONAL_MEASURES.named(name)
            row = chosen[name]
            low, high = row["ci_low"], row["ci_high"]
            interval = (
                "" if low is None or math.isnan(low) else f"  [{m.show(low)} to {m.show(high)}]"
            )
            lines.append(f"    {m.title:<48} {m.show(row['mean']):>9} {m.unit}{interval}")
        # The counts by reason (the shares of the two parts are shown above).
        reasons = [
            n
            for n in NATIONAL_MEASURES.names
            if n.startswith("national_unmet_")
            and NATIONAL_MEASURES.named(n).unit == "persons a year"
            and n != "national_unmet"
        ]
        by_reason = ", ".join(
            f"{n.removeprefix('national_unmet_').replace('_', ' ')} "
            f"{NATIONAL_MEASURES.named(n).show(chosen[n]['mean'])}"
            for n in reasons
        )
        lines.append(f"    unmet by reason (persons a year): {by_reason}")
        lines.append(
            f"    départements without a post: {chosen['departements_without_post']['mean']:.0f}"
        )
    gains = tables.get("gains")
    if gains is not None and gains.num_rows:
        lines.append("\nPaired differences in unmet demand (percentage points, 95 % CI):")
        for g in gains.to_pylist():
            if g["metric"] != "national_unmet_share":
                continue
            lines.append(
                f"  {g['coverage']}: {g['allocation']} at {g['posts']} minus "
                f"{g['baseline']} at {g['baseline_posts']}: {100 * g['difference']:+.2f} "
                f"({100 * g['ci_low']:+.2f} to {100 * g['ci_high']:+.2f})"
            )
    return "\n".join(lines)
