"""The figures of a sensitivity study, drawn from its tables only: Morris mu* against
sigma, Sobol' indices with their bootstrap intervals (with the shipped choices), each
conclusion's one-way response to its most influential factor with a 95 % band, and
the share of the assumption space where each conclusion holds in each stratum of the
model choices.  Each figure is written as PNG and PDF with the data behind it as CSV,
one panel per conclusion."""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


_FAN = ((6, 2, "left"), (0, 9, "center"), (-6, 2, "right"), (0, -11, "center"))
"""Where the labels of the most influential Morris points go, in turn (points
offset, alignment)."""

_CHOICE = re.compile(r"([a-z_.]+) = ([A-Za-z0-9_.]+)")


def _choice_words(title: str) -> str:
    """A stratum's title in words: ``outreach.log_access = daily_review`` reads
    ``outreach log access: daily review``."""
    return _CHOICE.sub(lambda m: f"{_words(m[1].replace('.', ' '))}: {_words(m[2])}", title)


def _quantity_unit(quantity: str, units: Mapping[str, str] | None = None) -> tuple[str, float]:
    """The unit of a conclusion's quantity (``unmet_share of belgium_24_7 minus
    france_office_hours``), with its base (``percentage points of servable cases``),
    and the scale that puts it in that unit: shares in %, differences of shares in
    percentage points.  ``units`` gives each measure's unit (``% of servable cases``);
    without it, a share's base is not named."""
    measure, _, rest = quantity.partition(" ")
    unit = (units or {}).get(measure, "")
    share = measure.endswith("_share") or measure == "utilisation" or unit.startswith("%")
    if share:
        unit = unit or "%"
        if " minus " in rest:
            unit = unit.replace("%", "percentage points", 1)
        return unit, 100.0
    if not unit and measure.endswith("_eur"):
        unit = "EUR"
    return unit, 1.0


def _quantity_axis(
    quantity: str,
    titles: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
) -> tuple[str, float]:
    """A conclusion's quantity as an axis label in words, the scenarios by their
    titles, with its unit (:func:`_quantity_unit`), and the scale to that unit."""
    measure, _, rest = quantity.partition(" ")
    for name, title in sorted((titles or {}).items(), key=lambda item: -len(item[0])):
        rest = re.sub(rf"\b{re.escape(name)}\b", title, rest)
    words = re.sub(r"\beur\b", "EUR", f"{_words(measure)} {_words(rest)}")
    unit, scale = _quantity_unit(quantity, units)
    return textwrap.fill(f"{words} ({unit})" if unit else words, 44), scale


def _option_words(option: Any, index: int) -> str:
    """An option of a factor as a tick label: a distribution by its mean, a choice by
    its words, anything else by its place in the list."""
    if isinstance(option, dict) and {"values", "weights"} <= set(option):
        mean = np.average(option["values"], weights=option["weights"])
        return f"option {index + 1}: mean {mean:.1f}"
    if isinstance(option, dict) and isinstance(option.get("mean"), (int, float)):
        return f"option {index + 1}: mean {option['mean']:g}"
    if isinstance(option, str):
        return _words(option)
    return f"option {index + 1}"


def _setting_unit(path: str) -> str:
    """The unit of a setting, from its name, as it follows the axis label: a share or a
    probability is a fraction, a ratio a ratio; times and costs say theirs already."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf.endswith(("_share", "probability", "_rate")) or leaf in ("no_show", "floor"):
        return " (fraction, 0-1)"
    if "ratio" in leaf:
        return " (ratio)"
    if leaf in ("count", "max_attempts", "max_rebookings") or leaf.endswith("_count"):
        return " (number)"
    return ""


def _setting_axis(factor: str, settings: Mapping[str, Any]) -> tuple[str, str]:
    """The setting a one-way plot moves, as the x axis shows it: the factor's first
    setting (``populations.victim.urgent_share``), and the axis label in words."""
    # The victims' setting where the factor moves every population's: theirs is the
    # population the seed is about.
    path = next((p for p in settings if ".victim." in p), next(iter(settings)))
    segments = path.split(".")
    words = _words(" ".join(segments[1:] if len(segments) > 2 else segments[-1:]))
    words = re.sub(r"\beur\b", "EUR", words)
    others = len(settings) - 1
    label = f"{_words(factor)}: {words}{_setting_unit(path)}"
    if others:
        label += f"\n(its {others} other setting{'s' if others > 1 else ''} moved with it)"
    return path, label


def draw_sensitivity_figures(
    tables: dict[str, pa.Table],
    folder: Path,
    titles: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
) -> list[Path]:
    """Draw the four figures into ``folder`` (replaced whole); ``titles`` names the
    scenarios of the conclusions in words (by default, their names with spaces) and
    ``units`` gives each measure's unit, so that the axes name their base."""
    conclusions = tables["conclusions"]
    names = conclusions["conclusion"].to_pylist()
    statements = dict(zip(names, conclusions["statement"].to_pylist(), strict=True))
    quantities = dict(zip(names, conclusions["quantity"].to_pylist(), strict=True))
    with atomic_folder(folder) as staging:
        figure, axes = _panels(len(names))
        for ax, name in zip(axes, names, strict=True):
            rows = _rows(tables["morris"], name)
            # In the conclusion's own unit: an effect of 0.17 on a share is 17 points.
            unit, scale = _quantity_unit(quantities[name], units)
            mu, sigma = scale * rows["mu_star"], scale * rows["sigma"]
            ax.scatter(mu, sigma, s=18, color="#1f77b4")
            order = np.argsort(-mu)[:6]
            for rank, k in enumerate(order):
                # Labels fan out from their points in turn (right, above, left, below):
                # the most influential factors often sit close together.
                dx, dy, ha = _FAN[rank % len(_FAN)]
                ax.annotate(
                    _words(rows["factor"][k]), (mu[k], sigma[k]), fontsize=7, ha=ha,
                    xytext=(dx, dy), textcoords="offset points",
                    arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5},
                )  # fmt: skip
            ax.set_xlabel(
                textwrap.fill(f"mu*: mean absolute effect of moving the factor across its "
                              f"range ({unit or 'unit of the conclusion'})", 60)
            )  # fmt: skip
            ax.set_ylabel(
                textwrap.fill(f"sigma: spread of those effects ({unit or 'same unit'})", 45),
                fontsize=8,
            )
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
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
        factor_settings = {
            f: json.loads(v)
            for f, v in zip(tables["factors"]["factor"].to_pylist(),
                            tables["factors"]["settings"].to_pylist(), strict=True)
        }  # fmt: skip
        for ax, name in zip(axes, names, strict=True):
            rows = _rows(tables["one_way"], name)
            factor = str(rows["factor"][0])
            label, scale = _quantity_axis(quantities[name], titles, units)
            path, x_label = _setting_axis(factor, factor_settings[factor])
            x = [json.loads(setting)[path] for setting in rows["setting"]]
            mean, low, high = (scale * rows[k] for k in ("mean", "ci_low", "ci_high"))
            if all(isinstance(v, (int, float)) for v in x):  # a range: a line and its band
                ax.plot(x, mean, marker="o", color="#08519c")
                ax.fill_between(x, low, high, alpha=0.25, color="#6baed6")
                if min(x) >= 0:
                    ax.set_xlim(left=0)  # a setting's size reads from 0 (a cost, a share)
            else:  # options (three follow-up distributions, say): a point per option
                options = list(dict.fromkeys(json.dumps(v, sort_keys=True) for v in x))
                at = np.array([options.index(json.dumps(v, sort_keys=True)) for v in x])
                ax.errorbar(at, mean, yerr=[mean - low, high - mean], fmt="o",
                            color="#08519c", capsize=3)  # fmt: skip
                ax.set_xticks(range(len(options)),
                              [_option_words(json.loads(o), k) for k, o in enumerate(options)],
                              fontsize=8)  # fmt: skip
            ax.axhline(scale * thresholds[name], color="#d62728", linestyle="--", linewidth=1,
                       label="threshold of the conclusion")  # fmt: skip
            ax.set_xlabel(x_label, fontsize=8)
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
            ax.set_xlabel(
                "share of the assumption space where it holds\n(%, Wilson 95 % CI)", fontsize=8
            )
            ax.set_title(textwrap.fill(statements[name], 60), fontsize=9)
        save_figure(figure, tables["robustness"], staging, "robustness")
    return [folder / f"{stem}.png" for stem in FIGURES]
