"""A changed scenario's title: what a reader sees for a config run with settings of its
own (``station-sim run --set``, the web page), so that a figure of two posts does not
say "one worker".

The title stays the config's, followed by where and to what it was changed, in a few
words: ``French standard: one worker, weekday office hours (changed for this run: 2
posts)``; the config's words first, so that "one worker" reads as what was changed,
not as what ran.  The settings of the run rather than of the model (``simulation.*``:
seed, replications, windows) change no title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sim.config.schema import TITLE_LIMIT, Scenario

__all__ = ["changed_title", "describe_changes"]

_INDEX = re.compile(r"\[\d+\]")


def describe_changes(overrides: Mapping[str, Any], scenario: Scenario) -> str:
    """The model settings ``overrides`` change in ``scenario``, in a few words
    (empty when they change none): posts summed over the worker entries, rosters and
    on-call hours named as such, any other setting by its last two path segments in
    words with its value."""
    model = {k: v for k, v in overrides.items() if not k.startswith("simulation.") and k != "title"}
    parts = []
    if any(_is_worker_field(k, "count") for k in model):
        posts = sum(
            model.get(f"staffing.workers[{i}].count", w.count)
            for i, w in enumerate(scenario.staffing.workers)
        )
        parts.append(f"{posts:g} post{'s' if posts != 1 else ''}")
    if any(_is_worker_field(k, "roster") for k in model):
        parts.append("its own hours")
    if "on_call.windows" in model:
        parts.append("its own on-call hours")
    if "on_call.eligible" in model:
        parts.append(f"{model['on_call.eligible']} cases on call")
    rostered = {k.rsplit(".", 1)[0] for k in model if _is_worker_field(k, "roster")}
    for key, value in model.items():
        if _is_worker_field(key, "count") or _is_worker_field(key, "roster"):
            continue
        if _is_worker_field(key, "fte") and key.rsplit(".", 1)[0] in rostered:
            continue  # a roster set on the page is paid for its hours: said by the roster
        if key in ("on_call.windows", "on_call.eligible"):
            continue
        parts.append(f"{_setting_words(key, scenario)} {_plain(value)}")
    return ", ".join(parts)


def _setting_words(key: str, scenario: Scenario) -> str:
    """A setting's path in words: the population or worker it belongs to kept
    (``populations.victim.arrivals.per_year``: "victim arrivals per year";
    ``staffing.workers[1].fte``: "late-shift social workers FTE")."""
    worker = re.fullmatch(r"staffing\.workers\[(\d+)\]\.(.+)", key)
    if worker and int(worker[1]) < len(scenario.staffing.workers):
        owner = scenario.staffing.workers[int(worker[1])].plain_title
        words = f"{owner} {worker[2].replace('.', ' ')}"
    else:
        segments = _INDEX.sub("", key).split(".")
        if len(segments) > 2 or segments[0] in ("populations", "staffing", "stations"):
            segments = segments[1:]  # the section a setting sits in says little
        words = " ".join(segments)
    words = words.replace("_", " ")
    for short in ("eur", "fte"):
        words = re.sub(rf"\b{short}\b", short.upper(), words)
    return words


def changed_title(base: str, changes: str, where: str) -> str:
    """``base`` followed by ``where`` it was changed (``"for this run"``) and
    ``changes``, held to the title's length limit (the base is shortened, never the
    changes)."""
    if not changes:
        return base
    suffix = f" (changed {where}: {changes})"
    room = TITLE_LIMIT - len(suffix)
    if room < 12:  # too many changes to name: say so
        suffix = f" (settings changed {where})"
        room = TITLE_LIMIT - len(suffix)
    shown = base if len(base) <= room else base[: room - 3] + "..."
    return shown + suffix


def _is_worker_field(key: str, field: str) -> bool:
    return re.fullmatch(rf"staffing\.workers\[\d+\]\.{field}", key) is not None


def _plain(value: Any) -> str:
    """A setting's value in words: a number as written, a choice with spaces for its
    underscores (``on_duty``: "on duty"), a list or mapping as given."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple, dict)):
        return "as given"
    return str(value).replace("_", " ")
