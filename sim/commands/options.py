"""The options several ``station-sim`` commands share, and the exit statuses.

One definition each, so that ``--jobs``, ``--out``/``--resume``/``--fresh`` and
``--set`` mean the same in every command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sim.config.documents import parse_yaml
from sim.config.errors import ConfigError, short_repr

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "add_backend_options",
    "add_folder_options",
    "add_set_option",
    "parse_overrides",
]

EXIT_USAGE = 2

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


def add_set_option(parser: argparse.ArgumentParser) -> None:
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
            raise ConfigError(
                f"--set {short_repr(item)}: expected PATH=VALUE, e.g. simulation.seed=7"
            )
        overrides[path.strip()] = parse_yaml(text, f"--set {short_repr(item)}")
    return overrides
