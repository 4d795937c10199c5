"""The figures of a sensitivity study, drawn from its tables only: Morris mu* against
sigma, Sobol' indices with their bootstrap intervals (with the shipped choices), each
conclusion's one-way response to its most influential factor with a 95 % band, and
the share of the assumption space where each conclusion holds in each stratum of the
model choices.  Each figure is written as PNG and PDF with the data behind it as CSV,
one panel per conclusion."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from matplotlib.figure import Figure

from sim.pipeline.figure_style import save_figure
from sim.pipeline.store import atomic_folder
from sim.sensitivity.spec import SHIPPED

__all__ = ["FIGURES", "draw_sensitivity_figures"]

FIGURES = ("morris", "sobol", "one_way", "robustness")


def _panels(n: int) -> tuple[Figure, list]:  # type: ignore[type-arg]
    columns = min(n, 2)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(6.2 * columns, 4.2 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[n:]:
        extra.set_visible(False)
    return figure, axes[:n]


def _rows(table: pa.Table, conclusion: str, stratum: str | None = None) -> dict[str, np.ndarray]:
    chosen = table.filter(pc.equal(table["conclusion"], conclusion))
    if stratum is not None:
        chosen = chosen.filter(pc.equal(chosen["stratum"], stratum))
    return {name: chosen[name].to_numpy(zero_copy_only=False) for name in chosen.column_names}


def _words(name: str) -> str:
    """A factor's or a measure's name as words (``referral_when_no_worker``: referral
    when no worker)."""
    return name.replace("_", " ")


_CHOICE = re.compile(r"([a-z_.]+) = ([A-Za-z0-9_.]+)")


def _choice_words(title: str) -> str:
    """A stratum's title in words: ``outreach.log_access = daily_review`` reads
    ``outreach log access: daily review``."""
    return _CHOICE.sub(lambda m: f"{_words(m[1].replace('.', ' '))}: {_words(m[2])}", title)


def _quantity_axis(quantity: str, titles: Mapping[str, str] | None = None) -> tuple[str, float]:
    """A conclusion's quantity (``unmet_share of belgium_24_7 minus
    france_office_hours``) as an axis label with its unit, the scenarios by their
    titles, and the scale that puts it in that unit: shares in % (differences of shares
    in percentage points)."""
    measure, _, rest = quantity.partition(" ")
    for name, title in sorted((titles or {}).items(), key=lambda item: -len(item[0])):
        rest = re.sub(rf"\b{re.escape(name)}\b", title, rest)
    words = f"{_words(measure)} {_words(rest)}"
    unit, scale = "", 1.0
    if measure.endswith("_share") or measure == "utilisation":
        unit, scale = ("percentage points" if " minus " in rest else "%"), 100.0
    elif measure.endswith("_eur"):
        unit = "EUR"
    return textwrap.fill(f"{words} ({unit})" if unit else words, 44), scale


def draw_sensitivity_figures(
    tables: dict[str, pa.Table], folder: Path, titles: Mapping[str, str] | None = None
) -> list[Path]:
    """Draw the four figures into ``folder`` (replaced whole); ``titles`` names the
    scenarios of the conclusions in words (by default, their names with spaces)."""
    conclusions = tables["conclusions"]
    names = conclusions["conclusion"].to_pylist()
    statements = dict(zip(names, conclusions["statement"].to_pylist(), strict=True))
    with atomic_folder(folder) as staging:
        figure, axes = _panels(len(names))
        for ax, name in zip(axes, names, strict=True):
            rows = _rows(tables["morris"], name)
            ax.scatter(rows["mu_star"], rows["sigma"], s=18, color="#1f77b4")
            order = np.argsort(-rows["mu_star"])[:6]
            for rank, k in enumerate(order):
                # Alternate the labels above and below their points: the most
                # influential factors often sit close together.
                ax.annotate(
                    _words(rows["factor"][k]), (rows["mu_star"][k], rows["sigma"][k]), fontsize=7,
                    xytext=(4, 4 if rank % 2 == 0 else -10), textcoords="offset points",
                )  # fmt: skip
            ax.set_xlabel("mu* (mean absolute elementary effect)")
            ax.set_ylabel("sigma (spread of the effects)")
            ax.set_title(statements[name], fontsize=9)
        save_figure(figure, tables["morris"], staging, "morris")

        figure, axes = _panels(len(names))
        for ax, name in zip(axes, names, strict=True):
            rows = _rows(tables["sobol"], name, SHIPPED)
            order = np.argsort(-rows["ST"])
            y = np.arange(len(order))
            ax.barh(y - 0.2, rows["S1"][order], 0.4, xerr=rows["S1_conf"][order],
                    label="first order S1", color="#9ecae1")  # fmt: skip
            ax.barh(y + 0.2, rows["ST"][order], 0.4, xerr=rows["ST_conf"][order],
                    label="total ST", color="#08519c")  # fmt: skip
            ax.set_yticks(y, [_words(rows["factor"][k]) for k in order], fontsize=8)
            ax.invert_yaxis()
            ax.axvline(0, color="black", linewidth=0.6)
            ax.set_xlabel("Sobol' index (95 % bootstrap interval), shipped model choices")
            ax.set_title(statements[name], fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
        figure.suptitle(
            "Sobol' indices are estimated from a small sample: a first-order index below 0 "
            "or a total index above 1 is sampling noise, and the intervals carry the "
            "information",
            fontsize=9,
        )
        save_figure(figure, tables["sobol"], staging, "sobol")

        figure, axes = _panels(len(names))
        thresholds = {
            n: (b if b is not None else a)
            for n, b, a in zip(
                names, conclusions["below"].to_pylist(), conclusions["above"].to_pylist(),
                strict=True,
            )
        }  # fmt: skip
        quantities = dict(zip(names, conclusions["quantity"].to_pylist(), strict=True))
        for ax, name in zip(axes, names, strict=True):
            rows = _rows(tables["one_way"], name)
            u = rows["share_of_range"]
            label, scale = _quantity_axis(quantities[name], titles)
            ax.plot(u, scale * rows["mean"], marker="o", color="#08519c")
            ax.fill_between(u, scale * rows["ci_low"], scale * rows["ci_high"], alpha=0.25,
                            color="#6baed6")  # fmt: skip
            ax.axhline(scale * thresholds[name], color="#d62728", linestyle="--", linewidth=1,
                       label="threshold of the conclusion")  # fmt: skip
            ax.set_xlabel(f"{_words(rows['factor'][0])}: share of its range (0 = low, 1 = high)")
            ax.set_ylabel(label, fontsize=8)
            ax.set_title(statements[name], fontsize=9)
            ax.legend(fontsize=7)
        save_figure(figure, tables["one_way"], staging, "one_way")

        strata = dict(
            zip(tables["strata"]["stratum"].to_pylist(), tables["strata"]["title"].to_pylist(),
                strict=True)
        )  # fmt: skip
        figure, axes = _panels(len(names))
        for ax, name in zip(axes, names, strict=True):
            rows = _rows(tables["robustness"], name)
            y = np.arange(len(rows["stratum"]))
            share = 100 * rows["holds_share"]
            error = np.vstack([share - 100 * rows["ci_low"], 100 * rows["ci_high"] - share])
            ax.errorbar(share, y, xerr=error, fmt="o", color="#08519c", capsize=3)
            ax.set_yticks(y, [_choice_words(strata[s]) for s in rows["stratum"]], fontsize=8)
            ax.invert_yaxis()
            ax.set_xlim(-2, 102)
            ax.set_xlabel("share of the assumption space where it holds, % (Wilson 95 % CI)")
            ax.set_title(statements[name], fontsize=9)
        save_figure(figure, tables["robustness"], staging, "robustness")
    return [folder / f"{stem}.png" for stem in FIGURES]
