"""Hypothesis strategies that break valid documents the way a hostile or careless user
would: the mutation families of issue 14, applied to the shipped configs and specs.

A mutation is drawn as a path into the document (every mapping key and list index of
it, in a fixed order, so that a run is reproducible) and a family; applying it returns
a new document and the path it touched, so that a test can ask the error message to
name that place.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]

EXTREME_NUMBERS: tuple[Any, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    1e-300,
    -1e-300,
    0,
    0.0,
    -1,
    -0.5,
    0.5,
    1,
    2,
    1e7,
    1e7 + 1,
    10**20,
    2**63,
    -(2**63),
    5_000,
)
"""Numbers at and beyond every bound: non-finite, huge, tiny, zero, negative."""

WRONG_TYPES: tuple[Any, ...] = (
    "abc",
    "",
    "17:00",
    "1e3",
    True,
    False,
    None,
    [],
    {},
    [1, 2],
    {"a": 1},
    [[]],
    "é" * 3,
)
"""Values of another type than any field expects, or of the wrong shape."""

BAD_NAMES: tuple[str, ...] = (
    "all",
    "",
    "a" * 250,
    "a b",
    "1abc",
    "../x",
    "é",
    "x" * 65,
    "name/with/slash",
)
"""Names a file system or the measures would trip on."""

BAD_TIMES: tuple[Any, ...] = ("24:00", "25:00", "00:00", "09:00", "9", "12:60", 1020, -1, "")


def _fresh(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """One of ``values``, copied: a list or mapping put into one document and mutated
    there must not change the constant, or later examples would draw differently
    (Hypothesis refuses such a strategy as flaky)."""
    return st.sampled_from(values).map(copy.deepcopy)


def paths(document: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into ``document`` (mapping keys and list indices), parents first."""
    if isinstance(document, dict):
        for key in sorted(document, key=str):
            yield (*prefix, key)
            yield from paths(document[key], (*prefix, key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def get(document: Any, path: Path) -> Any:
    for part in path:
        document = document[part]
    return document


def _parent(document: Any, path: Path) -> tuple[Any, str | int]:
    return get(document, path[:-1]), path[-1]


def _set(document: Any, path: Path, value: Any) -> None:
    parent, key = _parent(document, path)
    parent[key] = value


def _delete(document: Any, path: Path) -> None:
    parent, key = _parent(document, path)
    del parent[key]


FAMILIES = (
    "delete",
    "unknown_key",
    "wrong_type",
    "extreme_number",
    "empty",
    "duplicate_item",
    "bad_name",
    "bad_time",
    "reversed_shift",
    "overlapping_shift",
)


def _is_shift(node: Any) -> bool:
    return isinstance(node, dict) and "start" in node and "end" in node


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any], rounds: int = 3) -> tuple[Any, list[Path]]:
    """``document`` with one to ``rounds`` mutations, and the path each touched."""
    result = copy.deepcopy(document)
    touched: list[Path] = []
    for _ in range(draw(st.integers(1, rounds))):
        everything = list(paths(result))
        if not everything:
            break
        family = draw(st.sampled_from(FAMILIES))
        path = draw(st.sampled_from(everything))
        node = get(result, path)
        if family == "delete":
            _delete(result, path)
        elif family == "unknown_key":
            target = node if isinstance(node, dict) else get(result, path[:-1])
            if isinstance(target, dict):
                key = draw(st.sampled_from(("zzz", "interview_mean", "Name", "per_years")))
                target[key] = draw(_fresh(WRONG_TYPES + EXTREME_NUMBERS))
                path = (*path, key) if target is node else (*path[:-1], key)
            else:
                _set(result, path, draw(_fresh(WRONG_TYPES)))
        elif family == "wrong_type":
            _set(result, path, draw(_fresh(WRONG_TYPES)))
        elif family == "extreme_number":
            numeric = [p for p in everything if _is_number(get(result, p))]
            if numeric:
                path = draw(st.sampled_from(numeric))
            _set(result, path, draw(st.sampled_from(EXTREME_NUMBERS)))
        elif family == "empty":
            containers = [p for p in everything if isinstance(get(result, p), list | dict)]
            if containers:
                path = draw(st.sampled_from(containers))
            node = get(result, path)
            _set(result, path, type(node)() if isinstance(node, list | dict) else [])
        elif family == "duplicate_item":
            lists = [p for p in everything if isinstance(get(result, p), list) and get(result, p)]
            if lists:
                path = draw(st.sampled_from(lists))
                items = get(result, path)
                items.append(copy.deepcopy(draw(st.sampled_from(items))))
        elif family == "bad_name":
            named = [p for p in everything if p[-1] == "name" or _is_mapping_key(result, p)]
            if named:
                path = draw(st.sampled_from(named))
            bad = draw(st.sampled_from(BAD_NAMES))
            if path and path[-1] != "name" and _is_mapping_key(result, path):
                parent, key = _parent(result, path)
                parent[bad] = parent.pop(key)  # rename a population or a station
                path = (*path[:-1], bad)
            else:
                _set(result, path, bad)
        elif family == "bad_time":
            times = [p for p in everything if p[-1] in ("start", "end", "night_start")]
            if times:
                path = draw(st.sampled_from(times))
            _set(result, path, draw(st.sampled_from(BAD_TIMES)))
        else:  # shifts: reversed, or overlapping a copy of themselves
            shifts = [p for p in everything if _is_shift(get(result, p))]
            if shifts:
                path = draw(st.sampled_from(shifts))
                shift = get(result, path)
                if family == "reversed_shift":
                    shift["start"], shift["end"] = shift["end"], shift["start"]
                else:
                    roster, index = _parent(result, path)
                    if isinstance(roster, list):
                        other = copy.deepcopy(shift)
                        other["days"] = draw(_fresh(("all", "weekdays", ["mon"])))
                        roster.insert(index + 1, other)
        touched.append(path)
    return result, touched


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_mapping_key(document: Any, path: Path) -> bool:
    """Whether ``path`` ends in a key the user chose (a population or station name)."""
    return len(path) == 2 and path[0] in ("populations", "stations") and isinstance(path[1], str)


def segments(path: Path) -> list[str]:
    """The parts of ``path`` a message that names the place would contain."""
    return [str(p) for p in path if isinstance(p, str)]
