"""The assumptions of the shipped configs, declared once, and the config comments that
name them.

``configs/common/assumptions.yaml`` lists every number (or choice) that a config marks
ASSUMPTION in a comment, as a *factor*: a name, one line of rationale, and either the
dotted paths it moves with their plausible ranges (``paths``: all of them together, so
that one factor can be "the interview times of every population"), a set of
``options`` for a choice, or ``fixed`` paths that are assumptions but are not varied
(a shape, a split), with the reason.  :func:`load_assumptions` validates the file
against the configs it names: every path exists, every range is ordered and contains
the config's value.  :func:`commented_paths` finds, in a config's YAML text, the
settings whose comment says ASSUMPTION, so that a test can check that the file misses
none of them.

A factor is sampled as a share ``u`` in [0, 1] of its range: each path is set to
``low + u (high - low)`` (rounded when the factor says ``whole``: a count); an options
factor takes option ``floor(u * n)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.config.documents import read_mapping, read_scenario_document
from sim.config.errors import ConfigError, format_validation_error
from sim.config.paths import ABSENT, lookup, parse_path
from sim.config.schema import override_document, scenario_from_dict

__all__ = [
    "Assumptions",
    "Factor",
    "commented_paths",
    "configured",
    "load_assumptions",
    "sets",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Range = tuple[float, float]


class Factor(BaseModel):
    """One assumption factor (see the module docstring)."""

    model_config = _FROZEN
    rationale: str = Field(min_length=1)
    paths: dict[str, Range] = Field(default_factory=dict)
    options: dict[str, tuple[Any, ...]] = Field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    configs: tuple[str, ...] | None = None
    whole: bool = False  # the settings are counts: values are rounded

    @model_validator(mode="after")
    def _one_kind(self) -> Factor:
        kinds = [bool(self.paths), bool(self.options), bool(self.fixed)]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of paths (ranges), options or fixed")
        for path, (low, high) in self.paths.items():
            if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
                raise ValueError(f"paths.{path}: the range [{low}, {high}] must be [low, high]")
        if len(self.options) > 1:
            raise ValueError("options: one setting per options factor")
        for path, values in self.options.items():
            if len(values) < 2 or len(set(map(repr, values))) != len(values):
                raise ValueError(f"options.{path}: list at least two different options")
        return self

    @property
    def varied(self) -> bool:
        return not self.fixed

    @property
    def all_paths(self) -> tuple[str, ...]:
        return (*self.paths, *self.options, *self.fixed)

    def overrides(self, u: float, document: Mapping[str, Any]) -> dict[str, Any]:
        """The settings at share ``u`` of the range, for the paths ``document`` has."""
        out: dict[str, Any] = {}
        for path, (low, high) in self.paths.items():
            if sets(document, path):
                value = low + u * (high - low)
                out[path] = round(value) if self.whole else value
        for path, values in self.options.items():
            if sets(document, path):
                out[path] = values[min(int(u * len(values)), len(values) - 1)]
        return out


class AssumptionsFile(BaseModel):
    model_config = _FROZEN
    configs: str = "."
    assumptions: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Factor] = Field(
        min_length=1
    )


@dataclass(frozen=True)
class Assumptions:
    """The validated assumptions file: its factors and the configs it was checked on."""

    path: Path
    factors: dict[str, Factor]
    documents: dict[str, dict[str, Any]]

    @property
    def varied(self) -> dict[str, Factor]:
        return {name: f for name, f in self.factors.items() if f.varied}

    def overrides(self, values: Mapping[str, float], config: str) -> dict[str, Any]:
        """The settings of config ``config`` at the factor shares ``values``."""
        document = self.documents[config]
        out: dict[str, Any] = {}
        for name, u in values.items():
            out.update(self.factors[name].overrides(u, document))
        return out

    def format(self) -> str:
        """The list as ``station-sim assumptions`` prints it."""
        lines = [f"{len(self.factors)} assumption factors in {self.path}", ""]
        for name, factor in self.factors.items():
            kind = "varied" if factor.varied else "fixed, not varied"
            lines.append(f"{name} ({kind}): {factor.rationale}")
            for path, (low, high) in factor.paths.items():
                values = sorted({_show(configured(d, path)) for d in self._having(path)})
                lines.append(f"    {path}: {', '.join(values)} in [{low:g}, {high:g}]")
            for path, options in factor.options.items():
                values = sorted({_show(configured(d, path)) for d in self._having(path)})
                shown = ", ".join(map(str, options))
                lines.append(f"    {path}: {', '.join(values)} among {shown}")
            for path in factor.fixed:
                lines.append(f"    {path}")
        return "\n".join(lines)

    def _having(self, path: str) -> Iterator[dict[str, Any]]:
        return (d for d in self.documents.values() if sets(d, path))


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def load_assumptions(path: str | Path) -> Assumptions:
    """Read and check an assumptions file against every config of its ``configs``
    folder (each ``*.yaml`` there, ``base`` files merged)."""
    path = Path(path)
    raw = read_mapping(path, "assumptions file")
    try:
        parsed = AssumptionsFile.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(error, raw, str(path), AssumptionsFile, "assumptions file")
        ) from None
    folder = (path.parent / parsed.configs).resolve()
    documents = {p.stem: read_scenario_document(p) for p in sorted(folder.glob("*.yaml"))}
    if not documents:
        raise ConfigError(f"{path}: configs = '{parsed.configs}': no config in {folder}")
    for name, factor in parsed.assumptions.items():
        for config in factor.configs or ():
            if config not in documents:
                raise ConfigError(
                    f"{path}: {name}.configs: '{config}' is not a config of {folder}; "
                    f"known: {sorted(documents)}"
                )
        chosen = {c: d for c, d in documents.items() if c in (factor.configs or documents)}
        for dotted in factor.all_paths:
            try:
                parse_path(dotted)
            except ConfigError as error:
                raise ConfigError(f"{path}: {name}: {error}") from None
            having = [c for c, d in chosen.items() if sets(d, dotted)]
            if not having:
                raise ConfigError(
                    f"{path}: {name}: '{dotted}' is a setting of none of the configs "
                    f"{sorted(chosen)}"
                )
            for config in having:
                _check_value(path, name, factor, dotted, config, chosen[config])
        for config, document in chosen.items():
            for u in (0.0, 1.0):  # the ends of the ranges must make valid scenarios
                overrides = factor.overrides(u, document)
                if overrides:
                    try:
                        scenario_from_dict(override_document(document, overrides, config))
                    except ConfigError as error:
                        raise ConfigError(
                            f"{path}: {name}: at the {'low' if u == 0 else 'high'} end of "
                            f"its range config '{config}' is invalid: {error}"
                        ) from None
    return Assumptions(path, dict(parsed.assumptions), documents)


def _check_value(
    path: Path, name: str, factor: Factor, dotted: str, config: str, document: Any
) -> None:
    value = configured(document, dotted)
    if dotted in factor.paths:
        low, high = factor.paths[dotted]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"{path}: {name}.paths.{dotted}: config '{config}' gives "
                f"{value!r}, not a number; a choice goes in options"
            )
        if not low <= value <= high:
            raise ConfigError(
                f"{path}: {name}.paths.{dotted}: the range [{low:g}, {high:g}] excludes "
                f"the value {value:g} of config '{config}'"
            )
    elif dotted in factor.options and value not in factor.options[dotted]:
        raise ConfigError(
            f"{path}: {name}.options.{dotted}: config '{config}' gives {value!r}, not "
            f"one of {list(factor.options[dotted])}"
        )


def configured(document: Any, dotted: str) -> Any:
    """The value a config document sets itself at ``dotted`` (not left to its
    default), or :data:`sim.config.paths.ABSENT`."""
    return lookup(document, parse_path(dotted))


def sets(document: Any, dotted: str) -> bool:
    """Whether the config document sets ``dotted`` itself."""
    return configured(document, dotted) is not ABSENT


# -- the comments of a config --------------------------------------------------------


def commented_paths(text: str, marker: str = "ASSUMPTION") -> list[tuple[str, int]]:
    """``(dotted path, line)`` of each setting of a YAML text whose comment contains
    ``marker``.  A comment on a setting's line, or on the lines below it indented
    further than the next setting, belongs to that setting; a comment on lines of its
    own at the indentation of the next setting introduces that setting."""
    keys = _key_lines(yaml.compose(text))
    by_line = {}
    for dotted, line, column in keys:
        by_line.setdefault(line, (dotted, column))  # the outermost key of a line
    lines = text.splitlines()
    found: list[tuple[str, int]] = []
    owner: tuple[str, int] | None = None  # the key line a continuation belongs to
    for number, line in enumerate(lines):
        comment = _comment_start(line)
        code = line[:comment].strip() if comment is not None else line.strip()
        if number in by_line:
            owner = by_line[number]
        target: str | None = None
        if code and number in by_line:
            target = by_line[number][0]
        elif code:
            owner = None  # a value line (a list continued, say) of the key above
        elif comment is not None:
            after = next((n for n in sorted(by_line) if n > number), None)
            following = by_line[after] if after is not None else None
            continuation = owner is not None and (following is None or comment > following[1])
            if continuation:
                target = owner[0] if owner else None
            elif following is not None:
                owner = None
                # A comment that introduces a setting sits right above it; one that a
                # blank line separates (the file's header, say) introduces nothing.
                between = lines[number + 1 : after]
                if all(b.strip() for b in between) and number > min(by_line):
                    target = following[0]
        if comment is not None and marker in line[comment:] and target is not None:
            found.append((target, number + 1))
    return found


def _key_lines(node: yaml.Node, prefix: Sequence[str | int] = ()) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, key.value)
            out.append((_dotted(path), key.start_mark.line, key.start_mark.column))
            out.extend(_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = (*prefix, index)
            out.append((_dotted(path), item.start_mark.line, item.start_mark.column))
            out.extend(_key_lines(item, path))
    return out


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _comment_start(line: str) -> int | None:
    """Column of the ``#`` that starts a comment, outside quotes, if any."""
    quote: str | None = None
    for column, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (column == 0 or line[column - 1] in " \t"):
            return column
    return None
