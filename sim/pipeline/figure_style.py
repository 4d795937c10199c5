"""The look every figure of the project shares, and how a figure is saved.

One place for the series' colours, dash patterns and markers (so that a scenario keeps
its look across the station, national and sensitivity figures) and for the three files
each figure is written as: PNG to look at, PDF to print (without a creation date, so
that the same tables give the same file) and the CSV of the numbers drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

__all__ = [
    "COLOURS",
    "DASHES",
    "DENSITY_SCALE_PER_100K",
    "HEATMAP",
    "INNER_RING",
    "MARKERS",
    "OVERSEAS",
    "SHARE_SCALE_PERCENT",
    "WAIT_TICKS_HOURS",
    "plain_log_ticks",
    "save_figure",
    "series_style",
    "wait_ticks",
]

COLOURS: tuple[str, ...] = (
    "#000000",
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
)
"""Colour-blind-safe colours (Okabe-Ito), in the order series take them."""
DASHES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3)))
"""Dash patterns, one per colour, so that series stay apart in grey."""
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "x", "P")
"""Markers, one per colour."""
HEATMAP = "cividis"
"""The colour map of heatmaps: its lightness rises monotonically, readable in grey."""
OVERSEAS: tuple[str, ...] = ("971", "972", "973", "974", "976")
"""The overseas départements, which every map draws in panels of their own."""
INNER_RING: tuple[str, ...] = ("75", "92", "93", "94")
"""Paris and its inner ring, which every map draws again, larger, beside the mainland."""
DENSITY_SCALE_PER_100K: tuple[float, float] = (0.0, 3.0)
"""The one colour scale of every map of posts per 100,000 inhabitants, PNG and page, so
that a colour means the same density on each. Its top is about the densest département
of the shipped allocations up to 600 posts (2.6); denser départements (the 2,640-post
programme averages 3.9) take the top colour, which the colour bar marks."""


SHARE_SCALE_PERCENT: tuple[float, float] = (0.0, 100.0)
"""The one colour scale of every heatmap and map of a share (unmet demand, %), PNG and
page: a colour means the same share on every figure, and a uniform figure reads as what
it is, not as the spread of its own values stretched to the whole colour map."""


def series_style(i: int) -> dict[str, Any]:
    """The matplotlib style of the ``i``-th series: colour, dash pattern and marker."""
    return {
        "color": COLOURS[i % len(COLOURS)],
        "linestyle": DASHES[i % len(DASHES)],
        "marker": MARKERS[i % len(MARKERS)],
    }


WAIT_TICKS_HOURS: tuple[tuple[float, str], ...] = (
    (1 / 60, "1 min"),
    (10 / 60, "10 min"),
    (1.0, "1 h"),
    (8.0, "8 h"),
    (24.0, "1 day"),
    (168.0, "1 week"),
    (720.0, "30 days"),
)
"""Ticks of a wait axis in hours, labelled in the units a reader thinks in."""


def plain_log_ticks(axis: Axis, subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Label a log-scale axis with plain numbers at ``subs`` of each decade (``20``,
    ``50``, ``100``), not with powers of ten that hide the values between them."""
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.10g}"))
    axis.set_minor_formatter(NullFormatter())


def wait_ticks(axis: Axis, low_hours: float, high_hours: float) -> None:
    """Tick a log-scale wait axis (hours) at the :data:`WAIT_TICKS_HOURS` between its
    limits, labelled in minutes, hours, days and weeks."""
    shown = [(v, text) for v, text in WAIT_TICKS_HOURS if low_hours <= v <= high_hours]
    axis.set_major_locator(FixedLocator([v for v, _ in shown]))
    axis.set_major_formatter(FuncFormatter(lambda value, i: dict(shown).get(value, "")))
    axis.set_minor_formatter(NullFormatter())


def save_figure(figure: Figure, data: pa.Table, folder: Path, stem: str) -> None:
    """Write ``figure`` as ``stem.png`` and ``stem.pdf`` and the numbers it draws as
    ``stem.csv`` into ``folder``."""
    figure.savefig(folder / f"{stem}.png", dpi=120)
    figure.savefig(folder / f"{stem}.pdf", metadata={"CreationDate": None})
    pacsv.write_csv(data, folder / f"{stem}.csv")
