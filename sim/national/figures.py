"""Figures of a national study, drawn from its stored tables and the shipped
boundaries only: the cost-unmet frontier and choropleth maps of the départements.

Maps are plain matplotlib (a ``PolyCollection`` per map, longitude scaled by the cosine
of 46.5 degrees so metropolitan France keeps its shape); the five overseas départements
are drawn in small panels beside it, each at its own scale, and Paris with its inner
ring again, larger, in a corner of the map.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib import colormaps
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke

from sim.national.allocation import RULE_TITLES
from sim.national.optimise import EQUITY_PREFIX
from sim.pipeline.figure_style import (
    COLOURS,
    DASHES,
    DENSITY_SCALE_PER_100K,
    INNER_RING,
    MARKERS,
    OVERSEAS,
    SHARE_SCALE_PERCENT,
    plain_log_ticks,
    save_figure,
)
from sim.pipeline.store import atomic_folder

__all__ = ["draw_national_figures", "replications_text", "rule_title"]

_SHORT_NAMES = {"93": "Seine-St-Denis"}
"""Names too long for the inset's small départements."""
_INSET_LABEL_AT = {"92": (2.2, 48.77)}
"""Where the inset writes a département's label instead of its shipped point, in degrees:
the Hauts-de-Seine's point is so close to Paris's that their labels would overlap."""
_ASPECT = 1 / math.cos(math.radians(46.5))


def draw_national_figures(
    folder: Path, study: Any, maps: Sequence[tuple[str, str, tuple[int, ...]]]
) -> list[Path]:
    """The frontier, and the maps asked for (coverage, allocation, posts: a map at each
    number of posts, and the change from the first to the last), into
    ``folder/figures`` (replaced whole)."""
    tables = {p.stem: pq.read_table(p) for p in (folder / "tables").glob("*.parquet")}
    national = tables["national"].to_pylist()
    departements = tables["departements"].to_pylist()
    shapes = _shapes(study.model.boundaries) if study.model.boundaries is not None else None
    titles = _Titles(
        {n: study.model.coverage_title(n) for n in study.model.config.coverage},
        {d.code: d.name for d in study.model.departements},
    )
    written: list[Path] = []
    with atomic_folder(folder / "figures") as staging:
        written.append(_frontier(national, staging, titles))
        equity = _equity_frontier(national, staging, titles)
        if equity is not None:
            written.append(equity)
        if shapes is not None:
            written.extend(_maps(departements, national, shapes, staging, maps, titles))
    return [folder / "figures" / p.name for p in written]


def rule_title(name: str) -> str:
    """An allocation rule of the national table in words (``historical_2013``: "2013
    map, grown where it was"), including the optimiser's equity weights and a rule
    continued from another's allocation."""
    if name.startswith(EQUITY_PREFIX):
        return f"optimised, W = {name.removeprefix(EQUITY_PREFIX)} to the worst-off"
    start, plus, then = name.partition("+")
    if plus:  # "<rule>_<posts>+<rule>": posts added to a starting allocation
        rule, _, posts = start.rpartition("_")
        return f"{rule_title(rule)} to {posts}, then {rule_title(then)}"
    return RULE_TITLES.get(name, name.replace("_", " "))


class _Titles:
    """Coverage models and allocation rules in the words readers see (the national
    coverage models' titles, :data:`RULE_TITLES`), not in config names."""

    def __init__(self, coverage: dict[str, str], departements: dict[str, str]) -> None:
        self._coverage = coverage
        self._departements = departements

    @property
    def coverages(self) -> list[str]:
        """The coverage models, in the national config's order."""
        return list(self._coverage)

    @property
    def departements(self) -> dict[str, str]:
        """Each département's name, by code (the shipped table's)."""
        return self._departements

    def coverage(self, name: str) -> str:
        return self._coverage.get(name) or name.replace("_", " ")

    def rule(self, name: str) -> str:
        return rule_title(name)

    def cell(self, coverage: str, rule: str) -> str:
        return f"{self.coverage(coverage)}, {self.rule(rule)}"


def replications_text(national: list[dict[str, Any]]) -> str:
    """How many replications the national table's means are over, in words."""
    counts = sorted({int(r["n"]) for r in national if r["metric"] == "national_unmet_share"})
    if not counts:
        return "no replications"
    if len(counts) == 1:
        return f"{counts[0]} replication{'s' if counts[0] != 1 else ''}"
    return f"{counts[0]}-{counts[-1]} replications"


def _error_bars(rows: list[dict[str, Any]], metric: str) -> np.ndarray:
    """The (below, above) lengths of the error bars of a share's rows, in %: the
    interval's own ends, which stop at 0 and 100 %."""
    return (
        100
        * np.array(
            [[r[metric] - r[f"{metric}_ci_low"], r[f"{metric}_ci_high"] - r[metric]] for r in rows]
        ).T
    )


def _value(national: list[dict[str, Any]], key: tuple[str, str, int], metric: str) -> dict:
    for row in national:
        if (row["coverage"], row["allocation"], row["posts"]) == key and row["metric"] == metric:
            return row
    raise KeyError((key, metric))


def _frontier(national: list[dict[str, Any]], staging: Path, titles: _Titles) -> Path:
    # The equity weights of the optimiser are one cell each: their own figure.
    keys = sorted(
        {
            (r["coverage"], r["allocation"], r["posts"])
            for r in national
            if not r["allocation"].startswith(EQUITY_PREFIX)
        },
        key=lambda k: (k[0], k[1], k[2]),
    )
    series: dict[tuple[str, str], list[tuple[float, float, float, float, int]]] = {}
    rows = []
    for key in keys:
        cost = _value(national, key, "national_cost_eur_per_year")["mean"]
        unmet = _value(national, key, "national_unmet_share")
        series.setdefault(key[:2], []).append(
            (cost, unmet["mean"], unmet["ci_low"], unmet["ci_high"], key[2])
        )
        rows.append(
            {
                "coverage": key[0],
                "allocation": key[1],
                "posts": key[2],
                "cost_eur_per_year": cost,
                "unmet_share": unmet["mean"],
                "unmet_share_ci_low": unmet["ci_low"],
                "unmet_share_ci_high": unmet["ci_high"],
            }
        )
    # One panel per coverage model, on shared axes: eleven series on one plot crossed
    # and hid each other. Within a panel colour, dash and marker say the rule.
    coverages = [c for c in titles.coverages if any(k[0] == c for k in series)]
    allocations = sorted({k[1] for k in series})
    width = max(4.8 * len(coverages) + 1.0, 9.0)  # the title's width, for one panel too
    figure = Figure(figsize=(width, 6.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(coverages), sharex=True, sharey=True))
    handles: dict[str, Any] = {}
    for ax, coverage in zip(axes, coverages, strict=True):
        for allocation in allocations:
            points = sorted(series.get((coverage, allocation), []))
            if not points:
                continue
            x = np.array([p[0] for p in points]) / 1e6
            y = np.array([p[1] for p in points]) * 100
            # The interval's own ends (within 0-100 %), not mean ± half-width.
            err = np.nan_to_num(np.array([[p[1] - p[2], p[3] - p[1]] for p in points]).T * 100)
            a = allocations.index(allocation)
            handles[allocation] = ax.errorbar(
                x,
                y,
                yerr=err,
                color=COLOURS[a % len(COLOURS)],
                linestyle=DASHES[a % len(DASHES)],
                marker=MARKERS[a % len(MARKERS)],
                capsize=2,
            )
            if allocation == "proportional":  # the posts of each point, on one rule's line
                for k, (xi, yi, point) in enumerate(zip(x, y, points, strict=True)):
                    last = k == len(points) - 1  # written above, inside the panel
                    ax.annotate(
                        f"{point[4]:,}",
                        (xi, yi),
                        textcoords="offset points",
                        xytext=(0, 7) if last else (5, 3),
                        ha="center" if last else "left",
                        fontsize="x-small",
                        color=COLOURS[a % len(COLOURS)],
                    )
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel("National cost (million EUR a year, log scale)")
        ax.set_title(textwrap.fill(titles.coverage(coverage), 44), fontsize="medium")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("Unmet demand (% of persons in need)")
    axes[0].set_ylim(bottom=0)
    figure.suptitle(
        "Cost against unmet demand, by coverage model (panels) and allocation rule\n"
        "(labels: posts nationally, on the proportional lines; 95 % CIs from the "
        f"catchments' {replications_text(national)})"
    )
    figure.legend(
        [handles[a] for a in allocations if a in handles],
        [titles.rule(a) for a in allocations if a in handles],
        loc="outside lower center",
        fontsize="small",
        ncols=2,
        title="allocation rule",
    )
    save_figure(figure, pa.Table.from_pylist(rows), staging, "frontier")
    return staging / "frontier.png"


def _equity_frontier(national: list[dict[str, Any]], staging: Path, titles: _Titles) -> Path | None:
    """National unmet against the worst département's, at the cell of the equity
    weights: the optimiser's weights as a line (weight 0 is the plain optimised rule),
    the fixed rules of the same cell as points."""
    cells = {
        (r["coverage"], r["posts"]) for r in national if r["allocation"].startswith(EQUITY_PREFIX)
    }
    if not cells:
        return None
    coverage, posts = sorted(cells)[0]
    here = sorted(
        {r["allocation"] for r in national if (r["coverage"], r["posts"]) == (coverage, posts)}
    )
    rows = []
    for allocation in here:
        key = (coverage, allocation, posts)
        weight = (
            float(allocation.removeprefix(EQUITY_PREFIX))
            if allocation.startswith(EQUITY_PREFIX)
            else 0.0
            if allocation == "optimised"
            else None
        )
        rows.append(
            {
                "coverage": coverage,
                "posts": posts,
                "allocation": allocation,
                "equity_weight": weight,
                **{
                    f"{metric}{'' if field == 'mean' else '_' + field}": _value(
                        national, key, metric
                    )[field]
                    for metric in ("national_unmet_share", "departement_unmet_max")
                    for field in ("mean", "ci_low", "ci_high")
                },
            }
        )
    figure = Figure(figsize=(8.5, 5.5), layout="constrained")
    ax = figure.subplots()
    line = sorted(
        (r for r in rows if r["equity_weight"] is not None), key=lambda r: r["equity_weight"]
    )
    ax.errorbar(
        [100 * r["national_unmet_share"] for r in line],
        [100 * r["departement_unmet_max"] for r in line],
        xerr=_error_bars(line, "national_unmet_share"),
        yerr=_error_bars(line, "departement_unmet_max"),
        color=COLOURS[0],
        marker="o",
        capsize=2,
        label="optimised, a share W of its posts to the worst-off first",
    )
    for r in line:
        ax.annotate(
            f"W = {r['equity_weight']:g}",
            (100 * r["national_unmet_share"], 100 * r["departement_unmet_max"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize="small",
        )
    for k, r in enumerate(r for r in rows if r["equity_weight"] is None):
        ax.errorbar(
            [100 * r["national_unmet_share"]],
            [100 * r["departement_unmet_max"]],
            xerr=_error_bars([r], "national_unmet_share"),
            yerr=_error_bars([r], "departement_unmet_max"),
            color=COLOURS[(k + 1) % len(COLOURS)],
            marker=MARKERS[(k + 1) % len(MARKERS)],
            linestyle="none",
            capsize=2,
            label=titles.rule(r["allocation"]),
        )
    ax.set_xlabel("Unmet demand, France (% of persons in need)")
    ax.set_ylabel("Unmet demand, worst département (% of its persons in need)")
    ax.set_title(
        f"Efficiency against equity, {posts} posts, {titles.coverage(coverage)}\n"
        "(down and left is better; 95 % CIs, France's from its catchments', the worst\n"
        f"département's over the {replications_text(national)})"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(figure, pa.Table.from_pylist(rows), staging, "frontier_equity")
    return staging / "frontier_equity.png"


class _Shape(NamedTuple):
    """One département as a map draws it: its rings and the point its label sits at
    (the shipped boundaries' ``lon``/``lat``), longitude scaled by :data:`_ASPECT`."""

    rings: list[np.ndarray]
    label_at: tuple[float, float]


def _shapes(path: Path) -> dict[str, _Shape]:
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    shapes: dict[str, _Shape] = {}
    for feature in features:
        geometry = feature["geometry"]
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        rings = [np.asarray(polygon[0], dtype=float) for polygon in polygons]
        for ring in rings:
            ring[:, 0] /= _ASPECT
        properties = feature["properties"]
        shapes[properties["code"]] = _Shape(
            rings, (float(properties["lon"]) / _ASPECT, float(properties["lat"]))
        )
    return shapes


def _choropleth(
    figure: Figure,
    shapes: dict[str, _Shape],
    values: dict[str, float],
    title: str,
    norm: Normalize,
    cmap: str,
    unit: str,
    names: dict[str, str],
    labels: dict[str, str] | None = None,
) -> None:
    """A map of ``values`` by département into ``figure``; ``labels`` (by code), where
    given, are written on each département, in the overseas panels' titles and beside
    the inset's names; otherwise each mainland département outside the inset carries
    its number (the overseas panels and the inset are named)."""
    numbered = labels is None
    labels = labels or {}
    grid = figure.add_gridspec(5, 6)
    main = figure.add_subplot(grid[:, 1:])
    colours = colormaps[cmap].with_extremes(bad="0.85")  # grey: no value

    def draw(ax: Any, codes: Sequence[str]) -> PolyCollection:
        rings = [(ring, values.get(code, np.nan)) for code in codes for ring in shapes[code].rings]
        collection = PolyCollection(
            [ring for ring, _ in rings],
            array=np.asarray([value for _, value in rings]),
            cmap=colours,
            norm=norm,
            edgecolors="0.4",
        )
        collection.set_linewidth(0.3)
        ax.add_collection(collection)
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set_axis_off()
        return collection

    def write(ax: Any, text: str, size: float, at: tuple[float, float]) -> None:
        ax.annotate(
            text, at, ha="center", va="center", fontsize=size,
            path_effects=[withStroke(linewidth=1.2, foreground="white")],
        )  # fmt: skip

    inner = [c for c in INNER_RING if c in shapes]
    mainland = [c for c in shapes if c not in OVERSEAS]
    collection = draw(main, mainland)
    for code in mainland:
        # The inner ring's labels would cover each other on the map: the inset has them.
        if code in inner:
            continue
        if code in labels:
            write(main, labels[code], 5.5, shapes[code].label_at)
        elif numbered:
            write(main, code, 4.5, shapes[code].label_at)
    for row, code in enumerate(OVERSEAS):
        ax = figure.add_subplot(grid[row, 0])
        if code in shapes:
            draw(ax, [code])
        ax.set_axis_off()
        suffix = f": {labels[code]}" if code in labels else ""
        ax.set_title(names.get(code, code) + suffix, fontsize="x-small")
    if inner:
        # Paris and its inner ring hold a tenth of the people and of the posts in a few
        # pixels of the map: drawn again, larger, over the sea off the Basque coast,
        # which the map leaves empty.
        zoom = main.inset_axes((0.0, 0.0, 0.24, 0.26))
        draw(zoom, inner)
        zoom.set_axis_on()
        zoom.set_xticks([])
        zoom.set_yticks([])
        zoom.set_title("Paris and its inner ring", fontsize="x-small")
        for code in inner:
            name = _SHORT_NAMES.get(code, names.get(code, code))
            lon, lat = _INSET_LABEL_AT.get(code, (None, None))
            at = shapes[code].label_at if lon is None else (lon / _ASPECT, lat)
            write(zoom, f"{name}\n{labels[code]}" if code in labels else name, 5, at)
        main.indicate_inset_zoom(zoom, edgecolor="0.3")
    # Wrapped to the panel: a coverage model's title and a rule's words run long.
    wrapped = "\n".join(textwrap.fill(line, 72) for line in title.split("\n"))
    figure.suptitle(wrapped, fontsize="medium")
    above = any(v > norm.vmax for v in values.values() if not math.isnan(v))
    figure.colorbar(
        collection, ax=main, shrink=0.6, label=unit, extend="max" if above else "neither"
    )


def _maps(
    departements: list[dict[str, Any]],
    national: list[dict[str, Any]],
    shapes: dict[str, _Shape],
    staging: Path,
    maps: Sequence[tuple[str, str, tuple[int, ...]]],
    titles: _Titles,
) -> list[Path]:
    written = []

    def rows_of(coverage: str, allocation: str, posts: int) -> list[dict[str, Any]]:
        key = (coverage, allocation, posts)
        return [r for r in departements if (r["coverage"], r["allocation"], r["posts"]) == key]

    for coverage, allocation, levels in maps:
        for posts in levels:
            rows = rows_of(coverage, allocation, posts)
            stem = f"map_{coverage}_{allocation}_{posts}"
            figure = Figure(figsize=(13, 5.5), layout="constrained")
            left, right = figure.subfigures(1, 2)
            density = {r["departement"]: r["posts_per_100k"] for r in rows}
            posts_in = {r["departement"]: f"{r['posts_in_departement']:.0f}" for r in rows}
            unmet = {r["departement"]: r["unmet_share"] * 100 for r in rows}
            # Every national measure of a cell rests on the same replications.
            key = (coverage, allocation, posts)
            replications = _value(national, key, "national_unmet_share")["n"]
            _choropleth(
                left,
                shapes,
                density,
                "Posts per 100,000 inhabitants (colour, one scale for every map) "
                "and posts (number)\n"
                f"{titles.cell(coverage, allocation)}, {posts} posts",
                Normalize(*DENSITY_SCALE_PER_100K),
                "cividis",
                "posts per 100,000",
                titles.departements,
                posts_in,
            )
            _choropleth(
                right,
                shapes,
                unmet,
                f"Unmet demand (% of persons in need), {posts} posts, "
                f"mean of {replications} replications; numbers: département codes\n"
                + _equity_line(national, (coverage, allocation, posts)),
                Normalize(*SHARE_SCALE_PERCENT),
                "cividis_r",
                "% unmet",
                titles.departements,
            )
            save_figure(figure, pa.Table.from_pylist(rows), staging, stem)
            written.append(staging / f"{stem}.png")
        if len(levels) < 2:
            continue
        low, high = levels[0], levels[-1]
        before = _unmet_by_departement(rows_of(coverage, allocation, low))
        after = _unmet_by_departement(rows_of(coverage, allocation, high))
        change = {code: after[code] - before[code] for code in before}
        stem = f"map_change_{coverage}_{allocation}_{low}_to_{high}"
        figure = Figure(figsize=(7, 5.5), layout="constrained")
        spread = max(1e-9, max(abs(v) for v in change.values()))
        _choropleth(
            figure,
            shapes,
            change,
            f"Change in unmet demand, {low} to {high} posts (below 0: less unmet, better)\n"
            f"{titles.cell(coverage, allocation)}; numbers: département codes",
            TwoSlopeNorm(0.0, -spread, spread),
            "PuOr_r",
            "percentage points (of persons in need)",
            titles.departements,
        )
        table = pa.Table.from_pylist(
            [{"departement": c, "before": before[c], "after": after[c], "change": v}
             for c, v in change.items()]
        )  # fmt: skip
        save_figure(figure, table, staging, stem)
        written.append(staging / f"{stem}.png")
    return written


def _equity_line(national: list[dict[str, Any]], key: tuple[str, str, int]) -> str:
    """The equity measures of one allocation, in the words of a panel title."""
    worst = _value(national, key, "departement_unmet_max")["mean"]
    p90 = _value(national, key, "departement_unmet_p90")["mean"]
    gini = _value(national, key, "departement_unmet_gini")["mean"]
    return (
        f"worst département {100 * worst:.0f} %, "
        f"90th-percentile person {100 * p90:.0f} %, Gini {gini:.2f}"
    )


def _unmet_by_departement(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {r["departement"]: r["unmet_share"] * 100 for r in rows}
