"""Dotted paths into a scenario: ``staffing.workers[0].count``.

``station-sim run --set PATH=VALUE``, the overrides of an experiment spec and its design
factors all name settings this way.  A path is checked against the *resolved* scenario
(every setting, defaults included) before it is applied, so a misspelt or missing name
is refused with the names that exist there, instead of creating a new setting that
validation would then report as something else.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sim.config.errors import ConfigError, did_you_mean, dotted, short_repr

__all__ = ["ABSENT", "apply_overrides", "check_path", "lookup", "parse_path"]

Path = list[str | int]

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d{1,6})\]")

ABSENT = object()
"""What :func:`lookup` returns for a path that leads nowhere."""

# Mappings whose keys are names the user chose, and what one entry is called.
_NAMED_ENTRIES = {("populations",): "population"}


def parse_path(path: str) -> Path:
    """``"staffing.workers[0].count"`` -> ``["staffing", "workers", 0, "count"]``."""
    if not isinstance(path, str) or len(path) > 300:
        raise ConfigError(f"{short_repr(path)} is not a dotted path like staffing.workers[0].count")
    parts: Path = []
    for chunk in path.split("."):
        matches = list(_PART.finditer(chunk))
        if not chunk or "".join(m.group(0) for m in matches) != chunk:
            raise ConfigError(f"'{path}' is not a dotted path like staffing.workers[0].count")
        for match in matches:
            parts.append(match.group(1) if match.group(1) else int(match.group(2)))
    return parts


def lookup(node: Any, parts: Path) -> Any:
    """The value at ``parts`` in nested mappings and lists, or :data:`ABSENT`."""
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return ABSENT
        elif not isinstance(node, dict) or part not in node:
            return ABSENT
        node = node[part]
    return node


def check_path(path: str, resolved: dict[str, Any], where: str, scenario: str) -> Path:
    """The parts of ``path``, once checked to lead to a setting of ``resolved`` (a
    resolved scenario as a mapping); ``where`` and ``scenario`` name the path's origin
    and the scenario in the message."""
    parts = parse_path(path)
    node: Any = resolved
    for depth, part in enumerate(parts):
        so_far = dotted(parts[:depth]) or "the top level"
        prefix = f"{where} = '{path}'"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(f"{prefix}: {so_far} is not a list in scenario '{scenario}'")
            if part >= len(node):
                raise ConfigError(
                    f"{prefix}: {so_far} has {len(node)} item(s) in scenario '{scenario}', "
                    f"so [{part}] does not exist"
                )
        else:
            if node is None:
                raise ConfigError(
                    f"{prefix}: {so_far} is not set in scenario '{scenario}', so '{part}' "
                    f"does not exist there; set {so_far} itself"
                )
            if isinstance(node, list):
                raise ConfigError(
                    f"{prefix}: {so_far} is a list in scenario '{scenario}'; name an item, "
                    f"e.g. {so_far}[0].{part}"
                )
            if not isinstance(node, dict):
                raise ConfigError(
                    f"{prefix}: {so_far} is a value, not a section, in scenario '{scenario}'"
                )
            if part not in node:
                noun = _NAMED_ENTRIES.get(tuple(parts[:depth]))
                known = sorted(node)
                hint = did_you_mean(part, known)
                if noun is not None:
                    raise ConfigError(
                        f"{prefix}: unknown {noun} '{part}' in scenario '{scenario}' "
                        f"(known: {', '.join(known)}){hint}"
                    )
                raise ConfigError(
                    f"{prefix}: no setting '{part}' in {so_far} of scenario '{scenario}'"
                    f"{hint or f'; known: {known}'}"
                )
        node = node[part]
    return parts


def apply_overrides(
    document: dict[str, Any],
    overrides: dict[str, Any],
    where: str,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with each dotted path set to its value.

    Mapping keys that the document leaves to their defaults are created on the way (the
    paths are checked with :func:`check_path` first, so they exist in the schema).  A
    list the document leaves to its default is copied from ``defaults`` (the resolved
    scenario) when a path indexes into it; otherwise list items must exist.
    """
    result = copy.deepcopy(document)
    for path, value in overrides.items():
        parts = parse_path(path)
        node: Any = result
        default: Any = defaults
        for depth, part in enumerate(parts[:-1]):
            following = parts[depth + 1]
            wanted: type = list if isinstance(following, int) else dict
            default = lookup(default, [part]) if default is not None else None
            if default is ABSENT:
                default = None
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                node = node[part]
            elif isinstance(part, str) and isinstance(node, dict):
                if not isinstance(node.get(part), wanted):
                    node[part] = copy.deepcopy(default) if isinstance(default, wanted) else wanted()
                node = node[part]
            else:
                raise ConfigError(
                    f"{where}: override '{path}': '{dotted(parts[: depth + 1])}' does not "
                    "exist in the scenario"
                )
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise ConfigError(f"{where}: override '{path}': index [{last}] does not exist")
        elif not isinstance(node, dict):
            raise ConfigError(f"{where}: override '{path}': '{last}' is not inside a mapping")
        node[last] = copy.deepcopy(value)
    return result
