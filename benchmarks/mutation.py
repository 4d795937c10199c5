"""Mutation testing of the model: do the engine's fast tests see a wrong rule?

A seeded sample of the mutants cosmic-ray makes of the model's modules (operators,
comparisons, constants, boolean operators, loops and exceptions) is run against the
engine's fast tests, each mutant in a copy of the repository so that the working tree is
never touched::

    python benchmarks/mutation.py                      # the sample of pyproject.toml
    python benchmarks/mutation.py --size 40 --seed 7   # a smaller, other sample

The modules, the test command, the timeout, the operators left out and the sample's
size and seed are set in ``pyproject.toml`` (``[tool.cosmic-ray]``).  A full run of
every mutant does not fit these machines (about 4,000 mutants at 10-35 s each), hence
the sample; a fresh seed gives a fresh sample, so a score cannot be raised by tests aimed
at a list of mutants.

Each mutant's outcome is one of:

- ``killed: assertion``: a test failed on an assertion (a behaviour the tests check);
- ``killed: crash``: the only failures were exceptions raised by the model, in every
  test that was run (the tests run on past a crash, and stop at the first assertion
  that fails: ``benchmarks/mutation_stop.py``);
- ``killed: timeout``: the tests ran past the timeout;
- ``survived``: every test passed.

The report (``benchmarks/results/mutation.json`` by default) gives every mutant with its
class, diff and outcome, and the score by class; ``docs/testing.md`` reads it.  It is a
benchmark part, never a test: it takes about half an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "mutation.json"
SURVIVORS = REPO / "benchmarks" / "results" / "mutation_survivors.yaml"
"""The review of a stored sample's survivors: each killed since by a named test, or
equivalent (with the reason), or open."""

CLASSES = {
    "operator": (
        "ReplaceBinaryOperator",
        "ReplaceComparisonOperator",
        "ReplaceUnaryOperator",
        "ReplaceAndWithOr",
        "ReplaceOrWithAnd",
        "AddNot",
    ),
    "constant": ("NumberReplacer", "ReplaceTrueWithFalse", "ReplaceFalseWithTrue"),
    "control flow": (
        "ReplaceBreakWithContinue",
        "ReplaceContinueWithBreak",
        "ZeroIterationForLoop",
        "ExceptionReplacer",
        "RemoveDecorator",
    ),
}
"""The classes the score is given by, from cosmic-ray's operator names."""

_FAILED = re.compile(r"^(?:FAILED|ERROR) ", re.MULTILINE)
# pytest's traceback (--tb=short) gives each failure's exception on an "E" line.
_SAW = re.compile(r"^E\s+(?:AssertionError|assert\b|Failed:)", re.MULTILINE)
STOP_MESSAGE = "a test saw the mutant"
"""What benchmarks/mutation_stop.py stops the session with."""


def mutant_class(operator: str) -> str:
    """The class of a cosmic-ray operator (``core/ReplaceBinaryOperator_Add_Sub``)."""
    name = operator.split("/")[-1].split("_")[0]
    for title, operators in CLASSES.items():
        if name in operators:
            return title
    return "other"


def kill_kind(output: str) -> str:
    """How the tests stopped a killed mutant, from pytest's short summary (``-rfE``)."""
    if output.strip() == "timeout":
        return "killed: timeout"
    if not _FAILED.search(output):
        # pytest stopped before any test failed (a usage or collection error).
        return "not run: error"
    if STOP_MESSAGE in output or _SAW.search(output):
        return "killed: assertion"
    return "killed: crash"


def settings() -> dict[str, Any]:
    """The ``[tool.cosmic-ray]`` table of pyproject.toml."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["tool"]["cosmic-ray"]


def _copy_tree(target: Path) -> None:
    # Tracked files and new ones git does not ignore: the tree as it is being worked on.
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())


def _config(config: dict[str, Any], copy: Path) -> str:
    # cosmic-ray reads its own [cosmic-ray] table; the sample keys are ours.  The copy
    # is put first on the tests' path, so that they import its mutated package and not
    # the installed one.
    own = {k: v for k, v in config.items() if k not in ("sample-size", "sample-seed")}
    own["test-command"] = f"env PYTHONPATH={copy} {sys.executable} -m " + own["test-command"]
    lines = ["[cosmic-ray]"]
    for key, value in own.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {json.dumps(value)}")
    lines += ["", "[cosmic-ray.distributor]", 'name = "local"']
    return "\n".join(lines) + "\n"


def _cosmic_ray(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], cwd=cwd, check=True)


def _key(mutation: Any) -> str:
    # A session's job ids are random; a mutant is named by module, operator and
    # occurrence, the same in every session of the same source.
    return json.dumps((str(mutation.module_path), mutation.operator_name, mutation.occurrence))


def _run_share(copy: Path, config_text: str, keys: set[str]) -> list[dict[str, Any]]:
    """Run the mutants named by ``keys`` in a fresh session in ``copy``."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    (copy / "cosmic-ray.toml").write_text(config_text)
    _cosmic_ray("init", "cosmic-ray.toml", "session.sqlite", cwd=copy)
    with use_db(str(copy / "session.sqlite"), WorkDB.Mode.open) as db:
        pending = list(db.pending_work_items)
        job_ids = {item.job_id for item in pending if _key(item.mutations[0]) in keys}
        others = [item.job_id for item in pending if item.job_id not in job_ids]
        db.set_multiple_results(
            others, WorkResult(output="not in the sample", worker_outcome=WorkerOutcome.SKIPPED)
        )
    _cosmic_ray("exec", "cosmic-ray.toml", "session.sqlite", cwd=copy)
    rows = []
    with use_db(str(copy / "session.sqlite"), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if item.job_id not in job_ids:
                continue
            mutation = item.mutations[0]
            outcome = result.test_outcome
            kind = (
                kill_kind(result.output or "")
                if outcome == "killed"
                else ("survived" if outcome == "survived" else f"not run: {outcome}")
            )
            rows.append(
                {
                    "job_id": item.job_id,
                    "module": str(mutation.module_path),
                    "line": mutation.start_pos[0],
                    "operator": mutation.operator_name,
                    "occurrence": mutation.occurrence,
                    "class": mutant_class(mutation.operator_name),
                    "outcome": kind,
                    "diff": result.diff,
                    # The end of pytest's output: the short summary says what failed.
                    "output": (result.output or "")[-1500:],
                }
            )
    return rows


def _baseline(config: dict[str, Any], copy: Path) -> None:
    """Run the test command on the unmutated tree: a mutant's outcome means something
    only if the tests pass without it."""
    copy.mkdir()
    _copy_tree(copy)
    command = _config(config, copy).split("test-command = ", 1)[1].split("\n", 1)[0]
    done = subprocess.run(shlex.split(json.loads(command)), cwd=copy, capture_output=True)
    if done.returncode != 0:
        tail = done.stdout.decode(errors="replace")[-2000:]
        raise SystemExit(f"the tests fail without any mutant; fix them first:\n{tail}")


def _stop_leftovers(scratch: Path) -> None:
    """Kill the test runs still going in ``scratch`` (after Ctrl-C, say): cosmic-ray
    starts each in a session of its own, out of reach of the terminal's signal."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(scratch):
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def function_lines(modules: list[str], names: tuple[str, ...]) -> dict[str, list[range]]:
    """The lines of the functions (or methods) called ``names`` in ``modules``, by module
    path: the code a sample ``--within`` them mutates."""
    spans: dict[str, list[range]] = {}
    found = set()
    for module in modules:
        tree = ast.parse((REPO / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
                end = node.end_lineno or node.lineno
                spans.setdefault(module, []).append(range(node.lineno, end + 1))
                found.add(node.name)
    missing = sorted(set(names) - found)
    if missing:
        raise SystemExit(f"--within: no function {', '.join(missing)} in {', '.join(modules)}")
    return spans


def _within(mutation: Any, spans: dict[str, list[range]] | None) -> bool:
    if spans is None:
        return True
    lines = spans.get(Path(mutation.module_path).as_posix(), [])
    return any(mutation.start_pos[0] in span for span in lines)


def _sample(
    config: dict[str, Any], size: int, seed: int, within: tuple[str, ...] = ()
) -> tuple[list[str], int]:
    """The keys of the sample, ``size`` drawn from every mutant of a fresh session (the
    operators left out excluded; only those in the functions ``within``, if named), and
    how many mutants there were to draw from."""
    from cosmic_ray.work_db import WorkDB, use_db

    spans = function_lines(config["module-path"], within) if within else None

    with tempfile.TemporaryDirectory(prefix="station-sim-mutants-") as scratch:
        copy = Path(scratch)
        _copy_tree(copy)
        (copy / "cosmic-ray.toml").write_text(_config(config, copy))
        _cosmic_ray("init", "cosmic-ray.toml", "session.sqlite", cwd=copy)
        with use_db(str(copy / "session.sqlite"), WorkDB.Mode.open) as db:
            # Filter the operators left out, then sort: job ids are random per session,
            # so the sample is drawn from a key that is the same in every session.
            excluded = re.compile("|".join(config.get("exclude-operators", ())) or "$^")
            keys = sorted(
                _key(item.mutations[0])
                for item in db.pending_work_items
                if not excluded.search(item.mutations[0].operator_name)
                and _within(item.mutations[0], spans)
            )
    return sorted(random.Random(seed).sample(keys, min(size, len(keys)))), len(keys)


def score(rows: list[dict[str, Any]], by: str = "class") -> dict[str, dict[str, int]]:
    """Mutants by ``by`` (``class`` or ``module``) and outcome, with an ``all`` row."""
    table: dict[str, Counter[str]] = {}
    for row in rows:
        for title in (row[by], "all"):
            table.setdefault(title, Counter())[row["outcome"]] += 1
    return {title: dict(counts) for title, counts in sorted(table.items())}


def run(
    size: int,
    seed: int,
    jobs: int,
    within: tuple[str, ...] = (),
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Draw the sample (of the mutants in the functions ``within``, if named) and run it
    over ``jobs`` copies of the repository (``config``: the settings, by default those
    of pyproject.toml)."""
    config = settings() if config is None else config
    keys, population = _sample(config, size, seed, within)
    shares = [keys[i::jobs] for i in range(jobs)]
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="station-sim-mutants-") as scratch:
        _baseline(config, Path(scratch) / "baseline")

        def one(i: int) -> list[dict[str, Any]]:
            copy = Path(scratch) / f"copy{i}"
            copy.mkdir()
            _copy_tree(copy)
            return _run_share(copy, _config(config, copy), set(shares[i]))

        try:
            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                for part in pool.map(one, range(jobs)):
                    rows += part
        finally:
            _stop_leftovers(Path(scratch))
    rows.sort(key=lambda r: (r["module"], r["line"], r["operator"], r["occurrence"]))
    return {
        "tool": "cosmic-ray",
        "modules": config["module-path"],
        "test_command": config["test-command"],
        "excluded_operators": config.get("exclude-operators", []),
        "sample_size": len(rows),
        "seed": seed,
        "within": list(within),
        "seconds": round(time.monotonic() - started),
        "population": population,
        "score": score(rows),
        "score_by_module": score(rows, "module"),
        "mutants": rows,
    }


def mutant_key(row: dict[str, Any]) -> str:
    """How the survivors' review names a mutant: ``module:line operator``."""
    return f"{row['module']}:{row['line']} {row['operator']}"


def reviewed_score(report: dict[str, Any], review: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The sample's score by class with the equivalent survivors left out, and the
    survivors killed since by a test apart (``killed since``), from ``review``."""
    verdicts = review.get("survivors", {})
    rows = []
    for row in report["mutants"]:
        if row["outcome"] == "survived":
            verdict = verdicts.get(mutant_key(row))
            if verdict is None:
                raise SystemExit(f"survivor {mutant_key(row)} is not in the review")
            if "equivalent" in verdict:
                continue
            row = {**row, "outcome": "killed since" if "killed_by" in verdict else "survived"}
        rows.append(row)
    return score(rows)


def format_reviewed(table: dict[str, dict[str, int]]) -> str:
    """The reviewed score: killed in the sample and since, over non-equivalent mutants."""
    lines = [f"{'class':<14}{'non-equivalent':>16}{'killed %':>10}{'killed since':>14}"]
    for title, counts in table.items():
        total = sum(counts.values())
        since = counts.get("killed since", 0)
        killed = total - since - counts.get("survived", 0)
        lines.append(
            f"{title:<14}{total:>16}{100 * killed / total if total else float('nan'):>9.1f}%"
            f"{since:>14}"
        )
    return "\n".join(lines)


def format_score(report: dict[str, Any], key: str = "score") -> str:
    """A score table, one row per class (``score``) or module (``score_by_module``)."""
    kinds = ("killed: assertion", "killed: crash", "killed: timeout", "survived")
    width = max(len(t) for t in report[key]) + 2
    head = "class" if key == "score" else "module"
    lines = [f"{head:<{width}}" + "".join(f"{k:>19}" for k in kinds) + f"{'killed %':>10}"]
    for title, counts in report[key].items():
        total = sum(counts.get(k, 0) for k in kinds)
        killed = total - counts.get("survived", 0)
        lines.append(
            f"{title:<{width}}"
            + "".join(f"{counts.get(k, 0):>19}" for k in kinds)
            + f"{100 * killed / total if total else float('nan'):>9.0f}%"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    config = settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=config["sample-size"])
    parser.add_argument("--seed", type=int, default=config["sample-seed"])
    parser.add_argument("--jobs", type=int, default=2, help="copies run at once")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--within",
        action="append",
        default=[],
        metavar="FUNCTION",
        help="draw only mutants of this function or method of the modules (repeatable): "
        "the score of new code",
    )
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="PATH",
        help="mutate this module instead of pyproject.toml's (repeatable), e.g. "
        "sim/national/neighbours.py",
    )
    parser.add_argument(
        "--tests",
        nargs="+",
        metavar="TEST",
        help="run these test files or node ids against each mutant instead of "
        "pyproject.toml's (same pytest options)",
    )
    parser.add_argument(
        "--show", type=Path, metavar="REPORT", help="print the scores of a stored report"
    )
    parser.add_argument(
        "--review",
        type=Path,
        default=SURVIVORS,
        help=f"the survivors' review of the report (default {SURVIVORS.relative_to(REPO)})",
    )
    args = parser.parse_args(argv)
    if args.show:
        report = json.loads(args.show.read_text())
        for row in report["mutants"]:  # classified again, by this version's rule
            if row["outcome"].startswith("killed") and "output" in row:
                row["outcome"] = kill_kind(row["output"])
        report["score"] = score(report["mutants"])
        report["score_by_module"] = score(report["mutants"], "module")
        args.out, args.seed = args.show, report["seed"]
        report.setdefault("population", "?")
    else:
        if args.module:
            config = {**config, "module-path": args.module}
        if args.tests:
            # The pyproject command's pytest options, with other tests.
            options = [w for w in config["test-command"].split() if not w.startswith("tests")]
            config = {**config, "test-command": " ".join([*options, *args.tests])}
        report = run(args.size, args.seed, args.jobs, tuple(args.within), config)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(format_score(report))
    print()
    print(format_score(report, "score_by_module"))
    survivors = [r for r in report["mutants"] if r["outcome"] == "survived"]
    for row in survivors:
        print(f"survived: {mutant_key(row)}")
    if args.show and args.review.exists():
        import yaml

        review = yaml.safe_load(args.review.read_text(encoding="utf-8"))
        if review.get("seed") == report["seed"]:
            print()
            print(f"without the equivalent mutants ({args.review}):")
            print(format_reviewed(reviewed_score(report, review)))
    print(
        f"{report['sample_size']} of {report['population']} mutants, seed {args.seed}, "
        f"{report['seconds']} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
