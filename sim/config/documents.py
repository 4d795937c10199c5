"""Reading YAML files: scenario configs (with their ``base`` files) and experiment specs.

One loader for every file the project reads, with the same rules and the same messages:

- the file must be UTF-8 text of at most ``MAX_FILE_BYTES`` holding a mapping;
- a key given twice in one mapping is an error (YAML itself would keep the last);
- nesting deeper than ``MAX_DEPTH`` levels, or a document that expands (through YAML
  aliases) to more than ``MAX_NODES`` values, is refused before anything walks it;
- a scenario may name a ``base`` file, a path relative to the file that names it, whose
  settings it extends: mappings are merged key by key, the scenario's own values win,
  lists and values are replaced whole.  Bases may have bases, up to ``MAX_BASES``.
  A ``title`` is not inherited: it says what one file is, and a file that changes its
  base is something else (it gives its own title, or readers see its name).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from sim.config.errors import ConfigError, short_repr

__all__ = [
    "MAX_BASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "read_mapping",
    "read_scenario_document",
]

MAX_FILE_BYTES = 4 * 2**20
"""Largest YAML file read (4 MiB; the shipped configs are a few KiB)."""
MAX_DEPTH = 40
"""Deepest nesting of mappings and lists (the schema needs 6)."""
MAX_NODES = 200_000
"""Most values a document may hold once its aliases are expanded."""
MAX_BASES = 16
"""Longest chain of ``base`` files."""


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                continue  # unhashable: the base class reports it
            if key in seen:
                line = key_node.start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"'{key}' is given twice in one mapping (line {seen[key]} and line {line})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _check_size(node: yaml.Node, path: str) -> None:
    """Refuse a node graph that is too deep or expands to too many values, walking each
    path through shared (aliased) nodes as often as the constructed value would."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(
                f"{path}: the document expands to more than {MAX_NODES:,} values (through "
                "YAML aliases, or simply too large); the limit keeps a malformed file from "
                "exhausting memory"
            )
        if depth > MAX_DEPTH:
            raise ConfigError(f"{path}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in current.value)


def parse_yaml(text: str, where: str) -> Any:
    """The value of a YAML text, read safely and within the bounds above (a key given
    twice, a document too deep or too large are refused); ``where`` names it in
    messages."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_size(root, where)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    except ConfigError:
        raise
    except ValueError:
        # A number too long for Python to read (over 4,300 digits).
        raise ConfigError(f"{where}: holds a number too long to read") from None


def read_mapping(path: str | Path, what: str = "file") -> dict[str, Any]:
    """The top-level mapping of a YAML file; ``what`` names the file in messages."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(
            f"{path}: {path.stat().st_size:,} bytes; a {what} may be at most "
            f"{MAX_FILE_BYTES:,} bytes"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (UTF-8 expected)") from None
    document = parse_yaml(text, str(path))
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings at the top level, got {short_repr(document)}"
        )
    return document


def read_scenario_document(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a scenario file with its ``base`` files merged in."""
    return _read_with_base(Path(path), chain=(), named_by=None)


def _read_with_base(
    path: Path, chain: tuple[Path, ...], named_by: tuple[Path, str] | None
) -> dict[str, Any]:
    """``named_by``: the file whose ``base`` setting led here, and that setting."""
    resolved = path.resolve()
    if resolved in chain:
        raise ConfigError(f"{path}: 'base' files include each other in a loop")
    if len(chain) > MAX_BASES:
        raise ConfigError(f"{path}: more than {MAX_BASES} 'base' files in a chain")
    if named_by is not None and not path.is_file():
        parent, base = named_by
        raise ConfigError(
            f"{parent}: base = '{base}': no such file ({path}); a base path is relative "
            "to the file that names it"
        )
    document = read_mapping(path, "base file" if named_by else "scenario file")
    base = document.pop("base", None)
    if base is None:
        return document
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{path}: base = {short_repr(base)}: expected the path of a YAML file")
    parent = _read_with_base(path.parent / base, (*chain, resolved), (path, base))
    parent.pop("title", None)
    return _deep_merge(parent, document)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
