"""Checks of an experiment's outputs against its plan: every comparison and figure must
name scenarios, factors, measures, populations and design points that exist, so that a
mistake is reported before anything runs, not after hours of simulation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sim.config.errors import ConfigError, did_you_mean
from sim.measures.catalogue import ALL
from sim.pipeline.spec import FigureRequest, same_factor_value

if TYPE_CHECKING:
    from sim.pipeline.plan import DesignPoint, ExperimentPlan

__all__ = ["check_outputs", "matching_points", "select_point"]


def check_outputs(plan: ExperimentPlan, source: str) -> None:
    """Refuse a comparison or figure that names a scenario, factor, measure, population
    or design point the plan does not have."""
    spec = plan.spec
    factor_names = [f.name for f in plan.factors]
    populations = [*plan.population_names, ALL]

    def system_only(metrics: Sequence[str], chosen: Sequence[str], where: str) -> None:
        # A system measure (utilisation, cost) exists for all populations together only.
        system = [m for m in metrics if plan.measures.named(m).scope == "system"]
        others = [p for p in chosen if p != ALL]
        if system and others:
            raise ConfigError(
                f"{source}: {where}: {system} are measures of the system, given for "
                f"population '{ALL}' only, not for {others}"
            )

    def known_metric(metric: str, where: str) -> None:
        if metric not in plan.measures:
            names = plan.measures.names
            hint = did_you_mean(metric, names) or f"; known: {list(names)}"
            raise ConfigError(f"{source}: {where} = '{metric}': not a measure{hint}")

    if spec.comparison is not None:
        if len(plan.labels) < 2:
            raise ConfigError(
                f"{source}: comparison: needs at least two scenarios, the spec has "
                f"{list(plan.labels)}"
            )
        if spec.comparison.baseline is not None and spec.comparison.baseline not in plan.labels:
            raise ConfigError(
                f"{source}: comparison.baseline = '{spec.comparison.baseline}': not a scenario "
                f"of this experiment; known: {list(plan.labels)}"
            )
        for k, metric in enumerate(spec.comparison.metrics or ()):
            known_metric(metric, f"comparison.metrics[{k}]")
        system_only(spec.comparison.metrics or (), spec.comparison.populations, "comparison")
        for k, population in enumerate(spec.comparison.populations):
            if population not in populations:
                raise ConfigError(
                    f"{source}: comparison.populations[{k}] = '{population}': not a "
                    f"population; known: {populations}"
                )

    for i, figure in enumerate(spec.figures):
        where = f"figures[{i}] ({figure.kind})"
        if figure.kind in ("wait_ecdf", "hour_of_week_heatmap"):
            select_point(plan, figure.at, f"{source}: {where}")
        if figure.kind == "cost_frontier":
            _check_at(plan, figure.at, f"{source}: {where}")
        for option in ("x", "lines", "panels", "label", "national_posts"):
            value = getattr(figure, option)
            allowed = (
                [*factor_names, "scenario"]
                if option in ("x", "lines", "panels")
                else (factor_names)
            )
            if value is not None and value not in allowed:
                raise ConfigError(
                    f"{source}: {where}.{option} = '{value}': not a factor of the design; "
                    f"known: {allowed}"
                )
        if figure.national_posts is not None:
            factor = plan.factors[factor_names.index(figure.national_posts)]
            if factor.apply != "national_share":
                raise ConfigError(
                    f"{source}: {where}.national_posts = '{figure.national_posts}': the "
                    "factor must count posts nationally (apply: national_share)"
                )
        if figure.kind == "staffing_response":
            chosen = [v for v in (figure.x, figure.lines, figure.panels) if v is not None]
            if len(set(chosen)) != len(chosen):
                raise ConfigError(f"{source}: {where}: x, lines and panels must differ")
            _check_fixed(plan, figure, chosen, f"{source}: {where}")
            for k, metric in enumerate(figure.metrics):
                known_metric(metric, f"{where}.metrics[{k}]")
            system_only(figure.metrics, [figure.population], where)
            if figure.population not in populations:
                raise ConfigError(
                    f"{source}: {where}.population = '{figure.population}': not a "
                    f"population; known: {populations}"
                )


def _check_fixed(
    plan: ExperimentPlan, figure: FigureRequest, chosen: list[str], where: str
) -> None:
    """A grid factor that is neither drawn nor fixed by ``at`` would mix design points
    in one line: refuse it."""
    unknown = sorted(set(figure.at) - {f.name for f in plan.factors})
    if unknown:
        raise ConfigError(f"{where}: at names {unknown}, not factors")
    if plan.spec.design is None or plan.spec.design.kind != "grid":
        return
    for factor in plan.factors:
        values = factor.values or ()
        if factor.name in chosen:
            continue
        if factor.name not in figure.at and len(values) > 1:
            raise ConfigError(
                f"{where}: factor '{factor.name}' takes {len(values)} values but is not drawn "
                f"(x, lines, panels); fix it with at: {{{factor.name}: VALUE}}"
            )
        if factor.name in figure.at and not any(
            same_factor_value(v, figure.at[factor.name]) for v in values
        ):
            raise ConfigError(
                f"{where}: at.{factor.name} = {figure.at[factor.name]!r}: not one of the "
                f"factor's values {list(values)}"
            )
    if len(plan.labels) > 1 and "scenario" not in chosen and len(chosen) == 3:
        raise ConfigError(
            f"{where}: x, lines and panels are all factors, which leaves no place for the "
            f"scenarios {list(plan.labels)}; make one of them 'scenario'"
        )


def _check_at(plan: ExperimentPlan, at: dict[str, Any], where: str) -> None:
    """``at`` must name factors and select at least one design point."""
    if not matching_points(plan, at, where):
        raise ConfigError(f"{where}: at = {at}: no design point has these values")


def matching_points(plan: ExperimentPlan, at: dict[str, Any], where: str) -> list[DesignPoint]:
    """The design points whose factor values are those ``at`` gives (by factor name)."""
    factor_names = [f.name for f in plan.factors]
    unknown = sorted(set(at) - set(factor_names))
    if unknown:
        raise ConfigError(f"{where}: at names {unknown}, not factors; known: {factor_names}")
    return [
        p
        for p in plan.points
        if all(same_factor_value(p.values[name], value) for name, value in at.items())
    ]


def select_point(plan: ExperimentPlan, at: dict[str, Any], where: str) -> DesignPoint:
    """The one design point whose factor values match ``at`` (the only point when the
    experiment has one)."""
    factor_names = [f.name for f in plan.factors]
    matches = matching_points(plan, at, where)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ConfigError(
            f"{where}: at = {at}: no design point has these values; points: "
            f"{[p.description for p in plan.points][:10]}"
        )
    if not at:
        raise ConfigError(
            f"{where}: the experiment has {len(matches)} design points; choose one with "
            f"at: {{{', '.join(f'{name}: VALUE' for name in factor_names)}}}"
        )
    raise ConfigError(
        f"{where}: at = {at} matches {len(matches)} design points; give a value for each of "
        f"{factor_names}"
    )
