"""User mistakes, and the one message each gets.

Every mistake a user can make in a file or an option (a missing file, bad YAML, an
unknown or out-of-range setting, a path that does not exist) raises
:class:`ConfigError` with a message that names the file, the field, the value and what
is allowed; ``station-sim`` prints it with exit status 2, before anything is written.
This module holds the error and the pieces every message is built from, so that the
scenario configs and the experiment specs word their errors alike.
"""

from __future__ import annotations

import difflib
import reprlib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "ConfigError",
    "did_you_mean",
    "dotted",
    "format_validation_error",
    "short_repr",
]


class ConfigError(ValueError):
    """A scenario, experiment spec or option that cannot be used, with a message for the
    user."""


_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 6
_REPR.maxlevel = 3


def short_repr(value: Any, limit: int = 70) -> str:
    """A bounded ``repr`` for messages: never walks more than a few levels or items of
    a value, so that a huge or self-repeating document (a YAML alias bomb) costs
    nothing to describe."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) when ``name`` is close to known
    names, else ``""``: names that contain it count as close (``delay`` ->
    ``phone_delay``), and so do those within a few letters of it."""
    known = [k for k in known if isinstance(k, str)]
    close = [k for k in known if len(name) >= 3 and name in k and k != name]
    close += [k for k in difflib.get_close_matches(name, known, n=3, cutoff=0.75) if k not in close]
    if not close:
        return ""
    quoted = [f"'{k}'" for k in close[:3]]
    return "; did you mean " + " or ".join(quoted) + "?"


def dotted(parts: Sequence[Any]) -> str:
    """``["staffing", "workers", 0, "count"]`` -> ``"staffing.workers[0].count"``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# Names pydantic puts into an error's location for the member of a union it tried; they
# are not settings, so messages leave them out.
_UNION_TAGS = frozenset(
    {
        "exponential",
        "lognormal",
        "gamma",
        "uniform",
        "triangular",
        "fixed",
        "empirical",
        "WeekdayProfile",
        "HourOfWeekProfile",
    }
)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in _UNION_TAGS or part.startswith(("function-", "literal[", "tagged-union["))
    )


_MISSING = object()


def _lookup(document: Any, loc: Sequence[Any]) -> Any:
    node = document
    for part in loc:
        if _is_union_tag(part):
            continue
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        else:
            return _MISSING
    return node


def _known_fields(schema: Any, loc: Sequence[Any]) -> list[str]:
    """The settings the schema allows where ``loc`` points (for "did you mean")."""
    node: Any = schema
    keyed = False  # the node is a mapping of user-named entries (populations)
    for part in loc[:-1]:
        if keyed:
            keyed = False
            continue
        fields = getattr(node, "model_fields", None)
        if fields is None or not isinstance(part, str) or part not in fields:
            if isinstance(part, int):
                continue  # an item of a list of models: the same model
            return []
        annotation = fields[part].annotation
        keyed = typing.get_origin(annotation) is dict
        node = _model_in(annotation)
        if node is None:
            return []
    fields = getattr(node, "model_fields", None)
    return list(fields) if fields else []


def _model_in(annotation: Any) -> Any:
    """The pydantic model an annotation holds (directly, in an Optional, a tuple of
    models, or a dict of them), if there is exactly one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    found = {m for m in (_model_in(a) for a in args) if m is not None}
    return found.pop() if len(found) == 1 else None


_NOT_A_PROFILE = frozenset({"dict_type", "model_type", "model_attributes_type", "literal_error"})
"""Error kinds of a profile that is neither ``flat`` nor a mapping of weights."""


def format_validation_error(
    error: ValidationError,
    document: Any,
    source: str,
    schema: type[BaseModel] | None = None,
    what: str = "configuration",
) -> str:
    """One readable message naming each bad field, its value and what is allowed;
    ``schema`` (the model validated) lets an unknown setting get a "did you mean"."""
    lines = [f"{source}: invalid {what}"]
    items = error.errors(include_url=False)
    seen: set[str] = set()
    for item in _relevant(items):
        loc = tuple(p for p in item["loc"] if not _is_union_tag(p))
        location = dotted(loc) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        kind = item["type"]
        if kind == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), _known_fields(schema, loc)) if loc else ""
            line = f"  {location}: unknown setting{hint or ' (check the spelling)'}"
        elif kind == "missing":
            line = f"  {location}: required setting is missing"
        else:
            if kind == "union_tag_invalid":
                message = f"unknown distribution; allowed: {item['ctx']['expected_tags']}"
            elif kind == "string_pattern_mismatch" and loc and loc[-1] == "name":
                message = (
                    "a name must start with a letter and hold only letters, digits, '_' "
                    "and '-' (e.g. three_workers)"
                )
            elif loc and loc[-1] == "profile" and kind in _NOT_A_PROFILE:
                message = (
                    "an arrival profile is 'flat', a weekday profile (weekday: 24 weights, "
                    "saturday and sunday optional) or hour_of_week: 168 weights"
                )
            elif kind == "string_type" and isinstance(_lookup(document, item["loc"]), int):
                message += (
                    '; a time of day must be quoted ("17:00"), or YAML reads 17:00 as a '
                    "number of minutes"
                )
            if not loc:
                # A check of the whole document: its message names the fields it relates.
                line = f"  {message}"
            else:
                value = _lookup(document, item["loc"])
                shown = "" if value is _MISSING else f" = {short_repr(value)}"
                line = f"  {location}{shown}: {message}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return "\n".join(lines)


def _relevant(items: list[Any]) -> list[Any]:
    """The errors worth showing.

    A list that is "too short" only because its bad entries were rejected says nothing
    new. When pydantic tries each member of a union (an arrival profile: ``flat``, a
    weekday profile or an hour-of-week one), it reports why each failed; only the member
    the user evidently meant (the one with the fewest complaints, unknown settings
    counting last) is kept.
    """
    kept = [
        item
        for item in items
        if not (
            item["type"] == "too_short"
            and any(
                other is not item and other["loc"][: len(item["loc"])] == item["loc"]
                for other in items
            )
        )
    ]
    by_union: dict[tuple[Any, ...], dict[Any, list[Any]]] = {}
    for item in kept:
        loc = item["loc"]
        for depth, part in enumerate(loc):
            if _is_union_tag(part):
                by_union.setdefault(tuple(loc[:depth]), {}).setdefault(part, []).append(item)
                break
    dropped: set[int] = set()
    for members in by_union.values():
        if len(members) < 2:
            continue

        def weight(errors: list[Any]) -> tuple[int, int]:
            unknown = sum(e["type"] in ("extra_forbidden", "literal_error") for e in errors)
            return (unknown, len(errors))

        best = min(members, key=lambda m: weight(members[m]))
        for member, errors in members.items():
            if member != best:
                dropped.update(id(e) for e in errors)
    return [item for item in kept if id(item) not in dropped]
