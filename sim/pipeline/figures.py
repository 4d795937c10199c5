"""Figures and the comparison table of an experiment, drawn from its stored tables only.

:func:`draw_figures` reads ``RESULTS/manifest.json`` (which figures the spec asked for)
and ``RESULTS/tables/*.parquet``, never the model, and writes into ``RESULTS/figures/``
each figure as PNG and PDF with the data behind it as CSV, and the paired comparison
as Markdown and CSV.  Lines differ by dash pattern and marker as well as colour, and
heatmaps use a colour map whose lightness rises steadily, so the figures read in black
and white.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from sim.config.errors import ConfigError
from sim.config.week import DAY_NAMES
from sim.measures.catalogue import ALL
from sim.pipeline.compare import comparison_markdown
from sim.pipeline.figure_style import (
    HEATMAP,
    SHARE_SCALE_PERCENT,
    plain_log_ticks,
    save_figure,
    series_style,
    wait_ticks,
)
from sim.pipeline.results import StoredResults, factor_title, same_stored, show_number
from sim.pipeline.spec import FigureRequest
from sim.pipeline.store import atomic_folder, foreign_entries

__all__ = ["draw_figures"]


def draw_figures(folder: Path, on_figure: Callable[[str], None] | None = None) -> list[Path]:
    """Draw every figure the experiment's spec asks for, and the comparison table, into
    ``folder/figures/`` (replaced whole); ``on_figure`` is told of each before it is
    drawn.  Returns the files written."""
    results = StoredResults(folder)
    target = results.folder / "figures"
    foreign = [
        p for p in foreign_entries(results.folder, results.manifest) if p.startswith("figures/")
    ]
    if foreign:
        raise ConfigError(
            f"{target}: holds files station-sim did not write ({', '.join(foreign[:5])}); "
            "the figures replace that folder whole, so nothing was drawn. Move them away"
        )
    step = on_figure or (lambda _: None)
    with atomic_folder(target) as staging:
        for request in results.spec.figures:
            step(request.stem)
            _DRAWERS[request.kind](results, request, staging)
        if results.optional_table("comparison") is not None:
            step("comparison")
            _comparison_table(results, staging)
    return sorted(target.iterdir())


def figure_count(folder: Path) -> int:
    """How many steps :func:`draw_figures` takes for a results folder."""
    results = StoredResults(folder)
    return len(results.spec.figures) + (results.optional_table("comparison") is not None)


def _filter(table: pa.Table, **equal: Any) -> pa.Table:
    mask = None
    for column, value in equal.items():
        condition = pc.equal(table[column], value)
        mask = condition if mask is None else pc.and_(mask, condition)
    return table if mask is None else table.filter(mask)


# ---------------------------------------------------------------------------------------
# Time to first contact


def _wait_ecdf(results: StoredResults, request: FigureRequest, folder: Path) -> None:
    point = results.point_at(request.at, request.stem)
    data = _filter(results.table("wait_ecdf"), point=point["point"])
    populations = [p for p in dict.fromkeys(data["population"].to_pylist()) if p != ALL] + [ALL]
    columns = 2
    rows = math.ceil(len(populations) / columns)
    figure = Figure(figsize=(11, 4.2 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True, sharey=True)).ravel()
    for ax, population in zip(axes, populations, strict=False):
        for i, label in enumerate(results.labels):
            part = _filter(data, scenario=label, population=population)
            if len(part) == 0:
                continue
            hours = part["hours"].to_numpy()
            style = series_style(i)
            ax.plot(
                hours,
                100 * part["mean"].to_numpy(),
                label=results.title(label),
                markevery=6,
                markersize=4,
                linewidth=1.4,
                **style,
            )
            ax.fill_between(
                hours,
                100 * part["ci_low"].to_numpy(),
                100 * part["ci_high"].to_numpy(),
                color=style["color"],
                alpha=0.12,
                linewidth=0,
            )
        for threshold in results.measures.thresholds_hours:
            ax.axvline(threshold, color="0.45", linewidth=0.8, linestyle=(0, (2, 2)))
            ax.text(
                threshold * 1.08,
                2,
                f"{threshold:g} h",
                color="0.25",
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
        ax.set_xscale("log")
        ax.set_xlim(WAIT_X_LIMITS)
        wait_ticks(ax.xaxis, *WAIT_X_LIMITS)
        ax.set_ylim(0, 100)
        ax.set_title("all populations" if population == ALL else population.replace("_", " "))
        ax.grid(True, which="major", color="0.9", linewidth=0.6)
        if ax.get_subplotspec().is_last_row():
            ax.set_xlabel("time from referral to first contact, t (log scale)")
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("referred cases contacted within t (%)")
    for ax in axes[len(populations) :]:
        ax.set_visible(False)
    axes[0].legend(title="coverage model", fontsize=8, title_fontsize=8, loc="upper left")
    where = results.describe(point)
    figure.suptitle(
        request.title
        or "Time from referral to first contact, by coverage model and population\n"
        "(mean over replications, 95 % CI band; a share of the cases referred: those "
        "never contacted keep the curve below 100 %,\nand the tables' unmet share counts "
        "every servable case, referred or not"
        + (f"; {where}" if where else "")
        + ")",
        fontsize=11,
    )
    save_figure(figure, data, folder, request.stem)


WAIT_X_LIMITS = (0.01, 1000.0)


# ---------------------------------------------------------------------------------------
# Hour of the week


def _hour_of_week_heatmap(results: StoredResults, request: FigureRequest, folder: Path) -> None:
    point = results.point_at(request.at, request.stem)
    data = _filter(results.table("hour_of_week"), point=point["point"])
    labels = results.labels
    # Column, scale, panel title and the colour bar's unit: the bar carries the unit
    # only, as the long title would run past a one-row figure's height.
    panels = (
        ("wait_mean_h", 1.0, "mean wait from referral (hours, log scale)", "hours"),
        ("unmet_share", 100.0, "unmet demand (% of servable cases)", "% of servable cases"),
    )
    grids: dict[tuple[str, str], np.ndarray] = {}
    for label in labels:
        part = _filter(data, scenario=label)
        order = np.argsort(part["hour_of_week"].to_numpy())
        for column, scale, _, _ in panels:
            values = part[column].to_numpy(zero_copy_only=False)[order] * scale
            grids[(label, column)] = values.reshape(7, 24)
    figure = Figure(figsize=(12, 1.9 * len(labels) + 1.2), layout="constrained")
    axes = np.atleast_2d(figure.subplots(len(labels), 2, sharex=True, sharey=True))
    for c, (column, _, title, unit) in enumerate(panels):
        norm = _heatmap_scale(np.stack([grids[(label, column)] for label in labels]), c == 0)
        image = None
        for r, label in enumerate(labels):
            ax = axes[r, c]
            image = ax.imshow(
                grids[(label, column)],
                aspect="auto",
                cmap=HEATMAP,
                norm=norm,
                interpolation="nearest",
            )
            ax.set_yticks(range(7), [d.capitalize() for d in DAY_NAMES], fontsize=7)
            ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=7)
            if c == 0:
                ax.set_ylabel(
                    textwrap.fill(results.title(label), 26),
                    fontsize=8,
                    rotation=0,
                    ha="right",
                    va="center",
                )
            if r == 0:
                ax.set_title(title, fontsize=9)
            if r == len(labels) - 1:
                ax.set_xlabel("hour of arrival (00-23)")
        bar = figure.colorbar(image, ax=axes[:, c], shrink=0.9, label=unit)
        if c == 0:
            plain_log_ticks(bar.ax.yaxis, subs=(1.0, 3.0))
    where = results.describe(point)
    figure.suptitle(
        request.title
        or "Where the gaps in coverage bite: mean wait and unmet demand by hour of the week "
        "of arrival\n"
        + textwrap.fill(
            "(all populations, pooled over replications"
            + (f"; {where}" if where else "")
            + "; blank: nobody contacted)",
            150,
        ),
        fontsize=11,
    )
    save_figure(figure, data, folder, request.stem)


def _heatmap_scale(values: np.ndarray, logarithmic: bool) -> Normalize:
    """One colour scale for every scenario, so that the rows compare.  Waits span from
    minutes on site to days on the callback list: a log scale shows both.  A share is
    on the fixed 0-100 % scale of every figure and of the page."""
    if not logarithmic:
        return Normalize(*SHARE_SCALE_PERCENT)
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if len(finite) else 1.0
    positive = finite[finite > 0]
    bottom = max(float(positive.min()), 0.1) if len(positive) else 0.1
    return LogNorm(vmin=bottom, vmax=max(top, bottom * 10), clip=True)


# ---------------------------------------------------------------------------------------
# Staffing response


def _staffing_response(results: StoredResults, request: FigureRequest, folder: Path) -> None:
    summary = _filter(results.table("summary"), population=request.population)
    summary = summary.filter(pc.is_in(summary["metric"], pa.array(list(request.metrics))))
    if request.at:
        for name, value in request.at.items():
            summary = summary.filter(
                pa.array([same_stored(v, value) for v in summary[name].to_pylist()])
            )
    many = len(results.labels) > 1
    lines = request.lines or ("scenario" if many and request.panels != "scenario" else None)
    panels = request.panels or (
        "scenario" if many and lines != "scenario" and request.x != "scenario" else None
    )
    panel_values = _levels(results, summary, panels)
    line_values = _levels(results, summary, lines)
    metrics = list(request.metrics)
    figure = Figure(
        figsize=(max(4.2 * len(panel_values) + 1.5, 7.0), 3.2 * len(metrics) + 0.8),
        layout="constrained",
    )
    axes = np.atleast_2d(
        figure.subplots(len(metrics), len(panel_values), sharex=True, sharey="row", squeeze=False)
    )
    for r, metric in enumerate(metrics):
        shown = results.measures.named(metric)
        for c, panel in enumerate(panel_values):
            ax = axes[r, c]
            for i, line in enumerate(line_values):
                part = _filter(summary, metric=metric)
                if panels is not None:
                    part = _select(part, panels, panel)
                if lines is not None:
                    part = _select(part, lines, line)
                if len(part) == 0:
                    continue
                x = part[request.x].to_numpy(zero_copy_only=False)
                order = np.argsort(x, kind="stable")
                x = x[order]
                if request.x == "scenario":
                    x = np.asarray([results.title(str(v)) for v in x])
                elif x.dtype == object:  # a factor of text values: its levels in words
                    x = np.asarray([show_number(v) for v in x])
                style = series_style(i)
                mean = part["mean"].to_numpy()[order] * shown.scale
                low = part["ci_low"].to_numpy()[order] * shown.scale
                high = part["ci_high"].to_numpy()[order] * shown.scale
                name = _level_name(results, lines, line, short=True) if lines else None
                ax.plot(x, mean, label=name, markersize=4, linewidth=1.4, **style)
                ax.fill_between(x, low, high, color=style["color"], alpha=0.15, linewidth=0)
            if r == 0 and panels is not None:
                # Wrapped to the panel (about 4 inches): a factor's title and unit
                # ("referral when nobody can take the case = 1 × ...") run long.
                ax.set_title(textwrap.fill(_level_name(results, panels, panel), 48), fontsize=9)
            if r == len(metrics) - 1:
                ax.set_xlabel(_axis_label(results, request.x))
            if _spans_decades(summary, request.x):
                # Ticks at the design's own values, written plainly (not 3x10^2).
                ax.set_xscale("log")
                levels = sorted(set(summary[request.x].to_pylist()))
                ax.set_xticks(levels, [show_number(v) for v in levels], rotation=45, fontsize=8)
                ax.xaxis.set_minor_locator(NullLocator())
            elif request.x != "scenario" and pa.types.is_integer(summary[request.x].type):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if c == 0:
                # Wrapped: a long measure name would run into the next panel's label.
                ax.set_ylabel(textwrap.fill(shown.label, 40))
            ax.grid(True, color="0.9", linewidth=0.6)
    for ax in axes.ravel():
        # After every panel is drawn, so that the shared scale fits all of them.
        ax.autoscale_view()
        ax.set_ylim(bottom=0)
    if lines is not None:
        # Outside the panels, so that it never hides a line.
        handles, names = axes[0, 0].get_legend_handles_labels()
        # Wrapped, and in as many columns as the figure's width holds (about 2.6 in a
        # column): a one-panel figure cut its three long titles at both edges.
        columns = max(1, min(len(names), 4, int(figure.get_figwidth() // 2.6)))
        figure.legend(
            handles,
            [textwrap.fill(name, 34) for name in names],
            title=_axis_label(results, lines),
            fontsize=8,
            title_fontsize=8,
            loc="outside lower center",
            ncols=columns,
        )
    population = "all populations" if request.population == ALL else request.population
    fixed = ", ".join(results.factor_value(k, v) for k, v in request.at.items())
    figure.suptitle(
        request.title
        or f"Unmet demand and waits against {_axis_label(results, request.x)}\n"
        f"({population}; mean over replications with 95 % CI band"
        + (f"; {fixed}" if fixed else "")
        + ")",
        fontsize=11,
    )
    save_figure(figure, summary, folder, request.stem)


def _spans_decades(table: pa.Table, column: str) -> bool:
    """Whether a numeric axis spans more than a factor 10: then drawn on a log scale."""
    if column == "scenario":
        return False
    kind = table[column].type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return False
    values = np.asarray(table[column].to_pylist(), dtype=float)
    return bool(len(values) and values.min() > 0 and values.max() / values.min() > 10)


def _levels(results: StoredResults, table: pa.Table, column: str | None) -> list[Any]:
    """The values a column takes, in order: scenarios as the spec lists them (so each
    keeps its line style in every figure), factor values ascending."""
    if column is None:
        return [None]
    present = set(table[column].to_pylist())
    if column == "scenario":
        return [label for label in results.labels if label in present]
    return sorted(present, key=_sort_key)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _select(table: pa.Table, column: str, value: Any) -> pa.Table:
    return table.filter(pc.equal(table[column], pa.scalar(value, type=table[column].type)))


def _axis_label(results: StoredResults, column: str) -> str:
    if column == "scenario":
        return "coverage model"
    return results.factors[column].axis_label


def _level_name(results: StoredResults, column: str | None, value: Any, short: bool = False) -> str:
    """A factor level as a panel title (``demand = 1.5 x base``) or, ``short``, as a
    legend entry under a title that names the factor (``1.5 x base``)."""
    if column is None:
        return ""
    if column == "scenario":
        return results.title(str(value))
    factor = results.factors[column]
    text = f"{show_number(value)} {factor.unit}".strip()
    return text if short else f"{factor_title(factor)} = {text}"


# ---------------------------------------------------------------------------------------
# Cost-effectiveness


def _cost_frontier(results: StoredResults, request: FigureRequest, folder: Path) -> None:
    summary = _filter(results.table("summary"), population=ALL)
    catchment_posts = {
        (r["point"], r["scenario"]): r["posts"] for r in results.table("scenarios").to_pylist()
    }
    factor_names = list(results.factors)
    records: list[dict[str, Any]] = []
    chosen = [
        row
        for row in results.design
        if all(same_stored(row[name], value) for name, value in request.at.items())
    ]
    for label in results.labels:
        for row in chosen:
            part = _filter(summary, point=row["point"], scenario=label)
            values = {m: r for m, r in ((r["metric"], r) for r in part.to_pylist())}
            if "unmet_share" not in values or "cost_eur_per_year" not in values:
                continue
            # National cost: one catchment's cost for each of its posts' share of the
            # national posts.
            scale = (
                float(row[request.national_posts]) / catchment_posts[(row["point"], label)]
                if request.national_posts
                else 1.0
            )
            unmet, cost = values["unmet_share"], values["cost_eur_per_year"]
            records.append(
                {
                    "point": row["point"],
                    **{name: row[name] for name in factor_names},
                    "scenario": label,
                    "unmet_share_mean": unmet["mean"],
                    "unmet_share_ci_low": unmet["ci_low"],
                    "unmet_share_ci_high": unmet["ci_high"],
                    "cost_eur_per_year_mean": cost["mean"],
                    "cost_eur_per_year_ci_low": cost["ci_low"],
                    "cost_eur_per_year_ci_high": cost["ci_high"],
                    "cost_multiplier": scale,
                    "plotted_cost_eur_per_year": cost["mean"] * scale,
                }
            )
    on_frontier = _non_dominated(
        [(r["unmet_share_mean"], r["plotted_cost_eur_per_year"]) for r in records]
    )
    for record, flag in zip(records, on_frontier, strict=True):
        record["on_frontier"] = flag

    costs = np.asarray([r["plotted_cost_eur_per_year"] for r in records])
    millions = costs.max() >= 1e6
    unit = 1e6 if millions else 1e3
    figure = Figure(figsize=(8.5, 6), layout="constrained")
    ax = figure.subplots()
    for i, label in enumerate(results.labels):
        mine = [r for r in records if r["scenario"] == label]
        if not mine:
            continue
        style = series_style(i)
        x = 100 * np.asarray([r["unmet_share_mean"] for r in mine])
        xerr = 100 * np.asarray(
            [
                [r["unmet_share_mean"] - r["unmet_share_ci_low"] for r in mine],
                [r["unmet_share_ci_high"] - r["unmet_share_mean"] for r in mine],
            ]
        )
        y = np.asarray([r["plotted_cost_eur_per_year"] for r in mine]) / unit
        yerr = (
            np.asarray(
                [
                    [
                        (r["cost_eur_per_year_mean"] - r["cost_eur_per_year_ci_low"])
                        * r["cost_multiplier"]
                        for r in mine
                    ],
                    [
                        (r["cost_eur_per_year_ci_high"] - r["cost_eur_per_year_mean"])
                        * r["cost_multiplier"]
                        for r in mine
                    ],
                ]
            )
            / unit
        )
        ax.errorbar(
            x,
            y,
            xerr=np.nan_to_num(xerr),
            yerr=np.nan_to_num(yerr),
            label=results.title(label),
            color=style["color"],
            marker=style["marker"],
            linestyle="none",
            markersize=7,
            markerfacecolor="white" if i % 2 else style["color"],
            capsize=2,
            elinewidth=0.8,
        )
        if request.label is not None:
            for xi, yi, r in zip(x, y, mine, strict=True):
                ax.annotate(
                    show_number(r[request.label]),
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(6, 4),
                    fontsize=7,
                    color="0.25",
                )
    frontier = sorted(
        (100 * r["unmet_share_mean"], r["plotted_cost_eur_per_year"] / unit)
        for r in records
        if r["on_frontier"]
    )
    if len(frontier) > 1:
        fx, fy = zip(*frontier, strict=True)
        ax.plot(
            fx,
            fy,
            color="0.5",
            linestyle=(0, (4, 3)),
            linewidth=1,
            label="frontier (no cheaper option with less unmet demand)",
            zorder=0,
        )
    if len(costs) and costs.min() > 0 and costs.max() / costs.min() > 10:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    else:
        # From 0: an axis starting near the cheapest point magnifies every gap.
        ax.set_ylim(bottom=0)
    money = "M EUR" if millions else "k EUR"
    scope = "national cost" if request.national_posts else "cost of the station's coverage"
    ax.set_ylabel(
        f"{scope} ({money} a year" + (", log scale)" if ax.get_yscale() == "log" else ")")
    )
    ax.set_xlabel("unmet demand (% of servable cases, all populations)")
    ax.set_xlim(left=0)
    ax.grid(True, color="0.9", linewidth=0.6)
    legend_title = "coverage model" + (
        f" (labels: {factor_title(results.factors[request.label])})" if request.label else ""
    )
    handles, names = ax.get_legend_handles_labels()
    figure.legend(
        handles,
        names,
        title=legend_title,
        fontsize=8,
        title_fontsize=8,
        loc="outside lower center",
        ncols=2,
    )
    ax.set_title(
        request.title
        or "Cost against unmet demand, one point per coverage model and staffing level\n"
        "(mean over replications with 95 % CIs)",
        fontsize=11,
    )
    table = pa.Table.from_pylist(records) if records else pa.table({})
    save_figure(figure, table, folder, request.stem)


def _non_dominated(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Whether each (unmet, cost) point is on the frontier: no other point is at most as
    costly and at most as unmet, and strictly better in one of the two."""
    flags = []
    for i, (u, c) in enumerate(points):
        dominated = any(
            (u2 <= u and c2 <= c and (u2 < u or c2 < c))
            for j, (u2, c2) in enumerate(points)
            if j != i and not (math.isnan(u2) or math.isnan(c2))
        )
        flags.append(not dominated and not (math.isnan(u) or math.isnan(c)))
    return flags


# ---------------------------------------------------------------------------------------
# Comparison table


def _comparison_table(results: StoredResults, folder: Path) -> None:
    comparison = results.table("comparison")
    options = results.spec.comparison
    chosen_metrics = options.metrics if options is not None else None
    shown = (
        [results.measures.named(m) for m in chosen_metrics]
        if chosen_metrics
        else list(results.measures.in_list("comparison"))
    )
    metrics = [m.name for m in shown]
    populations = list(options.populations) if options else [ALL]
    baseline = comparison["baseline"][0].as_py() if len(comparison) else ""
    chosen = comparison.filter(
        pc.and_(
            pc.is_in(comparison["metric"], pa.array(metrics)),
            pc.is_in(comparison["population"], pa.array(populations)),
        )
    )
    sections = []
    for row in results.design:
        rows = _filter(chosen, point=row["point"]).to_pylist()
        where = results.describe(row)
        notes = [
            f"Experiment `{results.spec.name}`: {results.spec.replications} replications, "
            f"seed {results.spec.seed}, every scenario on the same demand (common random "
            "numbers).",
            "Difference: scenario minus baseline, replication by replication; its 95 % CI "
            "is the paired Student-t interval. The unpaired half-width is what a "
            "comparison of independent runs of the same size would give. Differences of "
            "shares (%) are in percentage points.",
        ]
        title = f"Comparison with {results.title(baseline)} (`{baseline}`)" + (
            f" ({where})" if where else ""
        )
        sections.append(
            comparison_markdown(
                rows,
                [label for label in results.labels if label != baseline],
                baseline,
                shown,
                populations,
                title,
                notes,
                results.title,
            )
        )
    (folder / "comparison.md").write_text("\n\n".join(sections), encoding="utf-8")
    pacsv.write_csv(chosen, folder / "comparison.csv")


_DRAWERS = {
    "wait_ecdf": _wait_ecdf,
    "hour_of_week_heatmap": _hour_of_week_heatmap,
    "staffing_response": _staffing_response,
    "cost_frontier": _cost_frontier,
}
