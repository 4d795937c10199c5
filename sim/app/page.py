"""The Streamlit script that ``station-sim app`` serves: three tabs, one station
(compare coverage models), France (national programmes) and the model's rules.

It only lays out the form and the results: the inputs become a
:class:`~sim.app.request.ComparisonRequest`, checked and resolved by
:mod:`sim.app.request`, run and read back by :mod:`sim.app.results`.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from sim.app import national
from sim.app.catalog import (
    REPOSITORY,
    AssumptionControl,
    CoverageModel,
    assumption_controls,
    coverage_models,
    load_page_assumptions,
)
from sim.app.charts import cost_against_unmet, hour_of_week_heatmap, time_to_first_contact
from sim.app.maps import MAP_NOTE, departement_map
from sim.app.request import (
    DEMAND_RANGE,
    POPULATIONS,
    POSTS_RANGE,
    REPLICATIONS_RANGE,
    SPEC_NAME,
    ComparisonRequest,
    ModelSettings,
    OnCallSettings,
    ResolvedRequest,
    WorkerSettings,
    resolve_request,
)
from sim.app.results import (
    POPULATION_TITLES,
    ComparisonTables,
    comparison_table,
    load_comparison,
    results_folder,
    run_comparison,
    summary_table,
)
from sim.app.rosters import (
    CUSTOM,
    ON_CALL_PRESETS,
    ROSTER_PRESETS,
    describe_week,
)
from sim.config.errors import ConfigError
from sim.pipeline.backends import default_jobs

DEFAULT_MODELS = ("france_office_hours", "belgium_24_7")
FOLLOWUP_PATH = "populations.victim.followups.count"


@st.cache_data(show_spinner=False, max_entries=64)
def cached_tables(folder: str, key: str) -> ComparisonTables:
    """The tables of a finished request, read once per request digest ``key``."""
    return load_comparison(Path(folder))


def _title(models: dict[str, CoverageModel]) -> Any:
    return lambda name: models[name].title if name in models else name


def _control(control: AssumptionControl, key: str) -> Any:
    """A page widget for one assumption, with its rationale as help."""
    if control.options:
        index = control.options.index(control.default)
        chosen = st.selectbox(
            control.title,
            range(len(control.options)),
            index=index,
            format_func=lambda i: control.option_titles[i],
            help=control.help,
            key=key,
        )
        return control.options[chosen]
    if control.whole:
        return st.slider(
            control.title,
            int(control.low),
            int(control.high),
            int(control.default),
            step=1,
            help=control.help,
            key=key,
        )
    return st.slider(
        control.title,
        float(control.low),
        float(control.high),
        float(control.default),
        step=(control.high - control.low) / 100,
        help=control.help,
        key=key,
    )


def _followup_title(option: dict[str, Any], default: Any) -> str:
    values, weights = option.get("values", []), option.get("weights", [])
    mean = sum(v * w for v, w in zip(values, weights, strict=True)) / max(sum(weights), 1)
    if option == default:
        return f"As calibrated: {mean:.1f} follow-ups a victim on average"
    return f"{'More' if mean > 3.7 else 'Fewer'}: {mean:.1f} follow-ups a victim on average"


def _model_settings(
    model: CoverageModel, on_call_controls: list[AssumptionControl]
) -> ModelSettings:
    """The settings of one chosen model, in an expander of their own."""
    scenario = model.scenario
    workers = []
    with st.expander(f"Settings of: {model.title}"):
        st.caption(model.description)
        for index, worker in enumerate(scenario.staffing.workers):
            week = describe_week(
                s.model_dump(mode="json", exclude_none=True) for s in worker.roster
            )
            left, right = st.columns([1, 2])
            posts = left.number_input(
                f"Posts: {worker.plain_title}",
                value=worker.count,
                step=1,
                key=f"{model.name}.{index}.posts",
                help=f"Social workers on this roster ({POSTS_RANGE[0]}-{POSTS_RANGE[1]}). "
                f"Source: configs/{model.name}.yaml.",
            )
            presets = ROSTER_PRESETS if model.single_station else ROSTER_PRESETS[:1]
            roster = right.selectbox(
                f"Roster: {worker.plain_title}",
                [p.key for p in presets],
                format_func={p.key: p.title for p in presets}.get,
                key=f"{model.name}.{index}.roster",
                help=f"The model has: {week}. Assumption: no national opening hours are "
                "published [N2]. A roster changed here is paid for the hours it rosters.",
            )
            custom = ""
            if roster == CUSTOM:
                custom = right.text_input(
                    "Custom roster",
                    value=week,
                    key=f"{model.name}.{index}.custom",
                    help='Days and hours, shifts separated by ";", e.g. "mon-fri 09:00-17:00; '
                    'sat 09:00-12:00" (days: mon..sun, weekdays, weekend, all).',
                )
            workers.append(WorkerSettings(posts, roster, custom))
        on_call = None
        values: dict[str, Any] = {}
        if scenario.on_call is not None:
            st.markdown("**On-call rota** (reached by officers when nobody is on site)")
            windows = describe_week(w.model_dump(mode="json") for w in scenario.on_call.windows)
            left, right = st.columns(2)
            hours = left.selectbox(
                "On-call hours",
                [p.key for p in ON_CALL_PRESETS],
                format_func={p.key: p.title for p in ON_CALL_PRESETS}.get,
                key=f"{model.name}.on_call.hours",
                help=f"The model has: {windows}. Source: [S14] (reachable 24 hours a day). "
                "The rota's own workers cannot be on call while on site.",
            )
            custom_hours = ""
            if hours == CUSTOM:
                custom_hours = left.text_input(
                    "Custom on-call hours",
                    value=windows,
                    key=f"{model.name}.on_call.custom",
                    help='Days and hours, e.g. "weekdays 17:00-24:00; weekend 00:00-24:00".',
                )
            eligible = right.selectbox(
                "Passed to on call",
                ["urgent", "all"],
                index=["urgent", "all"].index(scenario.on_call.eligible),
                format_func={
                    "urgent": "Urgent cases only (shelter tonight)",
                    "all": "Every referral",
                }.get,
                key=f"{model.name}.on_call.eligible",
                help="Source: [C22], the 24-hour rota is for extreme urgency.",
            )
            on_call = OnCallSettings(hours, custom_hours, eligible)
            for control in on_call_controls:
                if model.name in control.configs:
                    values[control.name] = _control(control, f"{model.name}.{control.name}")
    return ModelSettings(model.name, tuple(workers), on_call, values)


def one_station_tab() -> None:
    """Compare coverage models at one station."""
    models = coverage_models()
    assumptions = load_page_assumptions()
    title = _title(models)
    st.markdown(
        "Choose two or more ways of staffing a station, change their settings if you "
        "wish, and run: every model meets **the same people with the same needs**, so the "
        "differences are the coverage's."
    )
    names = st.multiselect(
        "Coverage models to compare",
        list(models),
        default=[m for m in DEFAULT_MODELS if m in models],
        format_func=title,
        key="models",
        help="The scenario files of configs/; each states its sources and assumptions.",
    )
    baseline = None
    if names:
        baseline = st.selectbox(
            "Compare with",
            names,
            format_func=title,
            key="baseline",
            help="The model the others are compared with, person by person.",
        )
    chosen = tuple(names)
    on_call_controls = assumption_controls(assumptions, chosen, on_call=True)
    settings = [_model_settings(models[n], on_call_controls) for n in names]

    followup = assumptions.factors["followup_count"]
    options = list(followup.options[FOLLOWUP_PATH])
    default_followups = options[1]
    if names:
        default_followups = models[names[0]].document["populations"]["victim"]["followups"]["count"]
    st.markdown("**Demand and follow-ups** (the same for every model)")
    left, middle = st.columns(2)
    demand = left.number_input(
        "Demand level (1 = as calibrated)",
        value=1.0,
        step=0.1,
        key="demand",
        help="Multiplies the people reaching the station a year (1,550 as calibrated to "
        "370 couple-violence persons per French post [C7]). Allowed "
        f"{DEMAND_RANGE[0]:g}-{DEMAND_RANGE[1]:g}; assumption, plausible range 0.7-1.5.",
    )
    followups = middle.selectbox(
        "Follow-ups wanted",
        range(len(options)),
        index=options.index(default_followups) if default_followups in options else 1,
        format_func=lambda i: _followup_title(options[i], default_followups),
        key="followups",
        help=f"Assumption: {' '.join(followup.rationale.split())}.",
    )
    common_controls = assumption_controls(assumptions, chosen)
    common: dict[str, Any] = {}
    with st.expander("Key assumptions (each within its plausible range)"):
        st.caption(
            "From configs/common/assumptions.yaml. A slider left where it is keeps the "
            "models as they are."
        )
        columns = st.columns(2)
        for i, control in enumerate(common_controls):
            with columns[i % 2]:
                common[control.name] = _control(control, f"assumption.{control.name}")
    left, right = st.columns(2)
    replications = left.number_input(
        "Replications (independent runs, each measuring three years)",
        value=9,
        step=1,
        key="replications",
        help=f"More give narrower intervals and take longer ({REPLICATIONS_RANGE[0]}-"
        f"{REPLICATIONS_RANGE[1]}). 9 give half-widths of a few % on mean waits "
        "(docs/model.md).",
    )
    seed = right.number_input(
        "Random seed",
        value=20130613,
        step=1,
        key="seed",
        help="The same seed gives the same numbers, on any machine.",
    )
    request = ComparisonRequest(
        models=tuple(settings),
        baseline=baseline,
        demand_level=demand,
        followups=options[followups],
        assumptions=common,
        replications=replications,
        seed=seed,
    )
    try:
        resolved, problems = resolve_request(
            request, models, common_controls, on_call_controls, options
        )
    except (ConfigError, ValidationError, ValueError) as error:  # a check the form missed
        resolved, problems = None, []
        st.error(f"These settings cannot be run: {error}")
    for problem in problems:
        st.error(f"**{problem.field}**: {problem.message}")
    pressed = st.button("Run the comparison", type="primary", disabled=resolved is None, key="run")
    if pressed and resolved is not None:
        bar = st.progress(0.0, text="Starting the runs")
        try:
            seconds = run_comparison(
                resolved,
                lambda done, total: bar.progress(done / total, text=f"{done} of {total} runs done"),
            )
        except (ConfigError, ValidationError) as error:
            st.error(f"These settings cannot be run: {error}")
        except Exception as error:  # the page must say it, not crash
            st.error(f"The run failed: {error}")
        else:
            bar.empty()
            st.session_state["shown"] = resolved
            st.session_state["seconds"] = seconds
    shown: ResolvedRequest | None = st.session_state.get("shown")
    if shown is not None:
        if resolved is None or shown.key() != resolved.key():
            st.info("The results below are for the settings of the last run.")
        _comparison_results(shown, models, st.session_state.get("seconds", 0.0))


def _comparison_results(
    request: ResolvedRequest, models: dict[str, CoverageModel], seconds: float
) -> None:
    """The tables, figures and downloads of a finished request."""
    # Headings and legends name each model as it was run (a model changed on the page
    # says so in its title), not as the config it started from.
    models = {
        **models,
        **{
            label: replace(models[label], title=request.scenarios[label].plain_title)
            for label in request.labels
            if label in models
        },
    }
    folder = results_folder(request)
    tables = cached_tables(str(folder), request.key())
    where = (
        f"computed in {seconds:.1f} s on {default_jobs()} cores"
        if seconds
        else "read from the page's cache (computed earlier)"
    )
    st.success(f"{len(request.labels)} models x {request.replications} replications: {where}.")
    population = st.radio(
        "People shown",
        POPULATIONS,
        format_func=POPULATION_TITLES.get,
        horizontal=True,
        key="population",
        help="The measures for everyone, or for one group of people.",
    )
    baseline = models[request.baseline].title if request.baseline in models else request.baseline
    st.subheader(f"What each model changes, compared with: {baseline}")
    comparison = comparison_table(tables, models, population)
    # A static table: it wraps its words, so that every column shows whole at the
    # page's width (a data frame cut the last one and the models' titles).
    numbers = [c for c in comparison.columns if pd.api.types.is_numeric_dtype(comparison[c])]
    st.table(comparison.set_index("Measure").style.format("{:,.10g}", subset=numbers, na_rep="-"))
    st.caption(
        "Difference = this model minus the baseline, for the same people in the same "
        "simulated years; its 95 % confidence interval. A clear difference is one whose "
        "interval does not include zero."
    )
    st.subheader("Each model's results")
    summary = summary_table(tables, models, population)
    st.dataframe(summary, hide_index=True, width="stretch")

    left, right = st.columns(2)
    with left:
        st.markdown("**How soon people are contacted after being referred**")
        st.altair_chart(
            time_to_first_contact(tables.wait_ecdf, models, population),
            width="stretch",
        )
        st.caption(
            "Mean over replications, 95 % CI band. A share of the people referred: those "
            "never contacted keep a curve below 100 %; the table's unmet share counts "
            "every servable case, referred or not."
        )
    with right:
        st.markdown("**Cost against unmet demand** (lower left is better)")
        st.altair_chart(cost_against_unmet(tables.summary, models), width="stretch")
    shown = st.radio(
        "Heatmap shows",
        ["unmet_share", "wait_mean_h"],
        format_func={"unmet_share": "unmet demand", "wait_mean_h": "mean wait"}.get,
        horizontal=True,
        key="heatmap",
    )
    st.markdown("**When in the week people arrive that the service misses** (everyone)")
    st.altair_chart(hour_of_week_heatmap(tables.hour_of_week, models, shown))
    _take_away(request, comparison, summary)


def _take_away(request: ResolvedRequest, comparison: pd.DataFrame, summary: pd.DataFrame) -> None:
    st.subheader("Take it away")
    st.markdown(
        "The same numbers from a terminal, on any machine with station-sim installed: "
        "save the experiment spec as `experiments/page_comparison.yaml` and run"
    )
    st.code(f"station-sim experiment experiments/{SPEC_NAME}.yaml", language="bash")
    with st.expander("The experiment spec"):
        st.code(request.spec_text(), language="yaml")
    columns = st.columns(3)
    columns[0].download_button(
        "Experiment spec (YAML)",
        request.spec_text(),
        file_name=f"{SPEC_NAME}.yaml",
        mime="text/yaml",
    )
    columns[1].download_button(
        "Comparison table (CSV)",
        comparison.to_csv(index=False),
        file_name="comparison.csv",
        mime="text/csv",
    )
    columns[2].download_button(
        "Results table (CSV)", summary.to_csv(index=False), file_name="results.csv", mime="text/csv"
    )
    for label in request.labels:
        with st.expander(f"One model alone: {label}"):
            st.markdown("Its numbers, from its config file with the page's settings:")
            st.code(request.run_command(label), language="bash")
            st.markdown("or from its resolved config (every setting written out):")
            st.download_button(
                f"Resolved config of {label} (YAML)",
                request.resolved_config(label),
                file_name=f"{label}.yaml",
                mime="text/yaml",
                key=f"download.{label}",
            )
            st.code(request.resolved_config(label), language="yaml")


def france_tab() -> None:
    """National programmes: N posts, an allocation rule, a coverage model."""
    st.markdown(
        "France as a whole: choose how many posts the country funds, how they are "
        "placed and how each works. Results already computed by "
        "`experiments/national_scale_up.yaml` show at once; between them the page "
        "estimates at once from those results, and simulates on request, with a bar that "
        "shows the catchment runs done and the time left."
    )
    try:
        coverages = national.coverage_titles()
    except (ConfigError, OSError, KeyError) as error:
        st.warning(f"The national config cannot be read: {error}")
        return
    stored = national.stored_posts()
    columns = st.columns(4)
    posts = columns[0].number_input(
        "Posts nationally",
        value=450,
        step=25,
        key="national.posts",
        help="175 in 2013 [S2], 350 the target [S3], about 450 in 2023-24 [C5], 600 the "
        "target [C5]. Stored results: " + (", ".join(map(str, stored)) if stored else "none yet"),
    )
    rule = columns[1].selectbox(
        "Allocation rule",
        list(national.ALLOCATION_TITLES),
        format_func=national.ALLOCATION_TITLES.get,
        key="national.rule",
        help="How the posts are shared among the catchments (docs/national.md).",
    )
    coverage = columns[2].selectbox(
        "Coverage model",
        list(coverages),
        format_func=coverages.get,
        key="national.coverage",
        help="How each post works: the one-station models of configs/.",
    )
    replications = columns[3].number_input(
        "Replications",
        value=2,
        step=1,
        key="national.replications",
        help="Per catchment; the stored results use 2 (experiments/national_scale_up.yaml).",
    )
    problems = []
    if not float(posts).is_integer() or not 1 <= posts <= 10_000:
        problems.append("**Posts nationally**: give a whole number from 1 to 10,000")
    if not float(replications).is_integer() or not 2 <= replications <= 50:
        problems.append("**Replications**: give a whole number from 2 to 50")
    for problem in problems:
        st.error(problem)
    if problems:
        return
    posts, replications = int(posts), int(replications)
    view = national.stored_national(coverage, rule, posts)
    if view is None:
        view = national.computed_national(coverage, rule, posts, replications)
    if st.button("Compute this allocation now", key="national.run"):
        bar = st.progress(0.0, text="Allocating the posts")
        started = time.monotonic()

        def on_run(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            bar.progress(done / total, text=national.progress_text(done, total, elapsed))

        try:
            view = national.compute_national(
                coverage, rule, posts, replications, on_run=on_run,
                note=lambda step: bar.progress(0.0, text=step.strip()),
            )  # fmt: skip
        except (ConfigError, ValidationError) as error:
            st.error(f"This allocation cannot be run: {error}")
        except Exception as error:  # the page must say it, not crash
            st.error(f"The national run failed: {error}")
        else:
            bar.empty()
    if view is None:
        estimated = national.estimated_national(coverage, rule, posts)
        if estimated is None:
            st.info(
                "No stored result on both sides of this number of posts for this choice: "
                "press *Compute this allocation now*."
            )
        else:
            st.subheader(
                f"France, {posts} posts: {national.ALLOCATION_TITLES[rule]} "
                "(estimated from the stored results)"
            )
            st.dataframe(estimated, hide_index=True, width="stretch")
            st.caption(national.ESTIMATE_NOTE)
        planned_map(rule, posts, coverage)
        st.markdown("The simulation of this allocation from a terminal:")
        st.code(national.national_command(posts, rule, coverage, replications), language="bash")
        return
    source = {
        "stored": "stored results",
        "reference": "the committed reference results",
    }.get(view.source, "computed on this page")
    st.subheader(f"France, {posts} posts: {national.ALLOCATION_TITLES[rule]} ({source})")
    table = national.national_table(view.national)
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(national.interval_note(view.national))
    if not view.departements.empty:
        shown = st.radio(
            "Map shows",
            ["unmet", "density"],
            format_func={"unmet": "unmet demand", "density": "posts per 100,000"}.get,
            horizontal=True,
            key="national.map",
        )
        st.altair_chart(departement_map(view.departements, shown))
        st.caption(MAP_NOTE)
        departements = national.departement_table(view.departements)
        st.dataframe(departements, hide_index=True, width="stretch")
        note = national.no_post_note(view.departements, rule)
        if note is not None:
            st.info(note)
        st.download_button(
            "Départements (CSV)", departements.to_csv(index=False), "departements.csv", "text/csv"
        )
    elif view.map_image is not None:
        st.image(str(view.map_image))
    else:
        planned_map(rule, posts, coverage)
    st.download_button(
        "National table (CSV)", table.to_csv(index=False), "national.csv", "text/csv"
    )
    st.markdown("The same numbers from a terminal:")
    st.code(national.national_command(posts, rule, coverage, replications), language="bash")


def planned_map(rule: str, posts: int, coverage: str) -> None:
    """The map of where a rule puts the posts, before any simulation (the optimiser's
    from its stored response curves)."""
    planned = national.planned_departements(rule, posts, coverage)
    if planned is None:
        if rule == "optimised":
            trained = national.stored_curves_posts(coverage)
            reach = (
                f"reach {trained} posts under this coverage model"
                if trained is not None
                else "are not stored for this coverage model"
            )
            st.caption(
                f"The optimiser's stored response curves {reach}: its map for "
                f"{posts} posts needs its training and a simulation (*Compute this "
                "allocation now*)."
            )
        return
    how = "replayed from the optimiser's stored response curves, " if rule == "optimised" else ""
    st.markdown(
        f"**Where the rule puts these posts** ({how}no simulation needed; unmet demand "
        "by département needs one: *Compute this allocation now*)"
    )
    st.altair_chart(departement_map(planned, "density"))
    st.caption(MAP_NOTE)
    note = national.no_post_note(planned, rule)
    if note is not None:
        st.info(note)


def rules_tab() -> None:
    """The model's rules in plain English, then its full description."""
    st.markdown((Path(__file__).parent / "rules.md").read_text(encoding="utf-8"))
    model = REPOSITORY / "docs" / "model.md"
    if model.is_file():
        with st.expander("The full rules, as the model's documentation states them"):
            # The test references are for reviewers of the code, not for this page.
            text = re.sub(r"\n\s*\*Tests?:\*[^\n]*(\n {3,}[^\n]+)*", "", model.read_text("utf-8"))
            st.markdown(text)


def main() -> None:
    """The whole page."""
    st.set_page_config(page_title="station-sim: social workers at police stations", layout="wide")
    st.title("Social workers at police stations: what does each coverage model buy?")
    one, france, rules = st.tabs(
        [
            "One station: compare coverage models",
            "France: national programmes",
            "How the model works",
        ]
    )
    with one:
        one_station_tab()
    with france:
        france_tab()
    with rules:
        rules_tab()


main()
