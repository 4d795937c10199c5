"""The command-line face of the assumptions and the sensitivity study:
``station-sim assumptions`` and ``station-sim sensitivity``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.commands.execution import run_study
from sim.commands.options import add_backend_options, add_folder_options

__all__ = ["add_sensitivity_commands", "format_robustness"]

DEFAULT_ASSUMPTIONS = "configs/common/assumptions.yaml"


def add_sensitivity_commands(commands: Any) -> None:
    assumptions = commands.add_parser(
        "assumptions",
        help="list every assumption of the configs, with its value and plausible range",
        description="Print the factors of an assumptions file (default: "
        f"{DEFAULT_ASSUMPTIONS}) after checking them against the configs: each path "
        "exists, each range is ordered and holds the config's value.",
    )
    assumptions.add_argument(
        "file", nargs="?", default=DEFAULT_ASSUMPTIONS, help="assumptions file"
    )
    assumptions.set_defaults(handler=_assumptions)

    sensitivity = commands.add_parser(
        "sensitivity",
        help="how much each conclusion depends on each assumption (Morris, Sobol')",
        description="Run a sensitivity spec (experiments/sensitivity/): Morris screening of "
        "every assumption factor, Sobol' indices of the most influential, the share of "
        "the assumption space where each conclusion holds, and one-way curves; each stage "
        "an experiment of the pipeline (resumable). Writes tables (Parquet and CSV) and "
        "figures, and prints the robustness table.",
    )
    sensitivity.add_argument("spec", help="sensitivity spec YAML file")
    add_backend_options(sensitivity)
    add_folder_options(sensitivity, "results/SPEC_NAME")
    sensitivity.set_defaults(handler=_sensitivity)


def _assumptions(args: argparse.Namespace) -> int:
    from sim.config.assumptions import load_assumptions

    print(load_assumptions(args.file).format())
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.pipeline.backends import make_backend
    from sim.sensitivity.run import check_study_folder, run_sensitivity
    from sim.sensitivity.spec import load_sensitivity_spec

    study = load_sensitivity_spec(args.spec)
    out = Path(args.out) if args.out else Path("results") / study.spec.name
    check_study_folder(out, args.resume, args.fresh)
    backend = make_backend(args.jobs, args.scheduler)
    print(
        f"Sensitivity study {study.spec.name}: {len(study.factors)} factors, "
        f"{len(study.spec.conclusions)} conclusions, {len(study.scenarios)} scenarios; "
        f"{study.cost()}; on {backend.description}"
    )

    def on_stage(name: str, runs: int) -> None:
        print(f"  stage {name}: {runs:,} runs", file=sys.stderr, flush=True)

    command = ["station-sim", *sys.argv[1:]]
    outcome = run_study(
        lambda: run_sensitivity(
            study, out, backend, resume=args.resume, fresh=args.fresh, command=command,
            on_stage=on_stage,
        ),
        backend,
        out,
    )  # fmt: skip
    if isinstance(outcome, int):
        return outcome
    print(format_robustness(outcome.tables))
    print(f"\nWritten to {out}/: tables/ (Parquet and CSV), figures/, one folder per stage")
    return 0


def format_robustness(tables: dict[str, Any]) -> str:
    """The robustness table as the command prints it: each conclusion, then one
    paragraph per stratum of the model choices."""
    rows = tables["robustness"].to_pylist()
    sobol = tables["sobol"].to_pylist()
    titles = {r["stratum"]: r["title"] for r in tables["strata"].to_pylist()}
    lines = [
        "Robustness: the share of the assumption space where each conclusion holds,",
        "for each setting of the model choices (strata)",
    ]
    statements = dict.fromkeys(row["statement"] for row in rows)
    for statement in statements:
        lines.append(f"\n  {statement}")
        for row in (r for r in rows if r["statement"] == statement):
            decisive = row["most_decisive_factor"]
            top = sorted(
                (
                    r
                    for r in sobol
                    if r["conclusion"] == row["conclusion"] and r["stratum"] == row["stratum"]
                ),
                key=lambda r: -r["ST"],
            )[:3]
            lines.append(f"    with {titles[row['stratum']]}:")
            lines.append(
                f"      holds at {100 * row['holds_share']:.0f} % of {row['points']} points "
                f"(95 % CI {100 * row['ci_low']:.0f}-{100 * row['ci_high']:.0f} %); "
                f"its quantity ranges {row['value_min']:.3g} to {row['value_max']:.3g} "
                f"(median {row['value_median']:.3g})"
            )
            if decisive is not None:
                lines.append(
                    f"      most decisive: {decisive} (holds at "
                    f"{100 * row['holds_share_low_half']:.0f} % in the low half of its "
                    f"range, {100 * row['holds_share_high_half']:.0f} % in the high half)"
                )
            shown = ", ".join(f"{r['factor']} {r['ST']:.2f}" for r in top)
            lines.append(f"      largest Sobol' total indices: {shown}")
    return "\n".join(lines)
