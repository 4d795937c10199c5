"""The sensitivity study, reduced to seconds: a planted influential factor is ranked
first, a planted inert one gets a total index within its interval of zero, the
robustness share is what the points say, and bad specs are refused before anything
runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.commands.cli import main
from sim.config.errors import ConfigError
from sim.pipeline.backends import LocalBackend
from sim.sensitivity.run import run_sensitivity
from sim.sensitivity.spec import load_sensitivity_spec

SMALL = {
    "simulation": {"warm_up_days": 2, "run_days": 14, "drain_days": 5, "seed": 3},
    "populations": {
        "victim": {
            "arrivals": {"per_hour": 0.25},
            "referral": {"probability": 0.9},
            "interview": {"dist": "exponential", "mean": 40},
        }
    },
    "costs": {"overtime_eur_per_hour": 30},
}
ROSTER = [{"days": "weekdays", "start": "09:00", "end": "17:00"}]


def _study(tmp_path: Path, **changes) -> Path:
    configs = tmp_path / "configs"
    (configs / "common").mkdir(parents=True)
    for name, posts in (("one_post", 1), ("two_posts", 2)):
        document = {
            **SMALL,
            "name": name,
            "staffing": {"workers": [{"name": "w", "count": posts, "roster": ROSTER}]},
        }
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(document))
    assumptions = {
        "configs": "..",
        "assumptions": {
            "interview": {  # planted influential: waits grow with the interview time
                "rationale": "r",
                "paths": {"populations.victim.interview.mean": [20, 120]},
            },
            "overtime_rate": {  # planted inert: a cost rate moves no wait
                "rationale": "r",
                "paths": {"costs.overtime_eur_per_hour": [20, 45]},
            },
            "referral": {
                "rationale": "r",
                "paths": {"populations.victim.referral.probability": [0.85, 1.0]},
            },
            "demand_level": {  # a choice run as its own stratum: twice the demand
                "rationale": "r",
                "options": {"populations.victim.arrivals.per_hour": [0.25, 0.5]},
            },
        },
    }
    (configs / "common" / "assumptions.yaml").write_text(yaml.safe_dump(assumptions))
    spec = {
        "name": "planted",
        "assumptions": "configs/common/assumptions.yaml",
        "configs": "configs",
        "replications": 1,
        "seed": 5,
        "strata": ["demand_level"],
        "conclusions": [
            {
                "name": "waits_exceed_ten_minutes",
                "statement": "One post keeps people waiting over 10 minutes on average",
                "measure": "wait_referral_mean_h",
                "scenario": "one_post",
                "above": 10 / 60,
            },
            {
                "name": "second_post_cuts_waits",
                "statement": "A second post cuts the mean wait",
                "measure": "wait_referral_mean_h",
                "scenario": "two_posts",
                "baseline": "one_post",
                "below": 0,
            },
        ],
        "morris": {"trajectories": 4, "levels": 4},
        "sobol": {"factors": 3, "samples": 8, "bootstrap": 50},
        "robustness": {"points": 16},
        "one_way": {"levels": 3, "replications": 2},
        **changes,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("planted")
    study = load_sensitivity_spec(_study(tmp_path))
    outcome = run_sensitivity(study, tmp_path / "out", LocalBackend(1), show_progress=False)
    return tmp_path, outcome.tables


def test_the_planted_influential_factor_is_ranked_first_and_the_inert_one_is_zero(planted):
    _, tables = planted
    for conclusion in ("waits_exceed_ten_minutes", "second_post_cuts_waits"):
        morris = [r for r in tables["morris"].to_pylist() if r["conclusion"] == conclusion]
        ranked = sorted(morris, key=lambda r: -r["mu_star"])
        assert ranked[0]["factor"] == "interview"
        inert = next(r for r in morris if r["factor"] == "overtime_rate")
        assert inert["mu_star"] == 0  # common random numbers: no noise to screen out
        for stratum in ("shipped", "demand_level-0_5"):
            sobol = {
                r["factor"]: r
                for r in tables["sobol"].to_pylist()
                if r["conclusion"] == conclusion and r["stratum"] == stratum
            }
            assert sobol["interview"]["ST"] > 0.5
            assert abs(sobol["overtime_rate"]["ST"]) <= sobol["overtime_rate"]["ST_conf"] + 1e-12


def test_a_choice_named_in_strata_is_run_as_its_own_stratum_never_sampled(planted):
    tmp_path, tables = planted
    strata = tables["strata"].to_pylist()
    assert [(r["stratum"], r["title"]) for r in strata] == [
        ("shipped", "the shipped choices"),
        ("demand_level-0_5", "populations.victim.arrivals.per_hour = 0.5"),
    ]
    assert yaml.safe_load(strata[1]["settings"]) == {"populations.victim.arrivals.per_hour": 0.5}
    assert "demand_level" not in set(tables["morris"]["factor"].to_pylist())
    assert "demand_level" not in set(tables["sobol"]["factor"].to_pylist())
    # Each stratum's stages ran with its own choice at every point, and only there.
    from sim.pipeline.results import StoredResults

    for stratum, per_hour in (("shipped", 0.25), ("demand_level-0_5", 0.5)):
        for stage in ("sobol", "robustness"):
            folder = tmp_path / "out" / stage / stratum
            configs = sorted((folder / "configs").glob("*.yaml"))
            assert configs, folder
            for config in configs:
                document = yaml.safe_load(config.read_text(encoding="utf-8"))
                assert document["populations"]["victim"]["arrivals"]["per_hour"] == per_hour
            assert StoredResults(folder).table("replications").num_rows > 0
    for stage in ("morris", "one_way"):
        for config in (tmp_path / "out" / stage / "configs").glob("*.yaml"):
            document = yaml.safe_load(config.read_text(encoding="utf-8"))
            assert document["populations"]["victim"]["arrivals"]["per_hour"] == 0.25
    # Twice the demand, longer waits: each stratum's robustness reports its own values.
    rows = {(r["stratum"], r["conclusion"]): r for r in tables["robustness"].to_pylist()}
    assert (
        rows[("demand_level-0_5", "waits_exceed_ten_minutes")]["value_median"]
        > rows[("shipped", "waits_exceed_ten_minutes")]["value_median"]
    )


def test_robustness_counts_the_points_where_each_conclusion_holds(planted):
    tmp_path, tables = planted
    rows = {
        r["conclusion"]: r for r in tables["robustness"].to_pylist() if r["stratum"] == "shipped"
    }
    waits = rows["waits_exceed_ten_minutes"]
    assert waits["points"] == 16 and 0 <= waits["ci_low"] <= waits["holds_share"]
    assert waits["holds_share"] <= waits["ci_high"] <= 1
    # The share is the points' own: recount from the stored robustness stage.
    from sim.pipeline.results import StoredResults
    from sim.sensitivity.run import conclusion_replicates
    from sim.sensitivity.spec import load_sensitivity_spec as load

    study = load(tmp_path / "spec.yaml")
    conclusion = study.spec.conclusions[0]
    stored = StoredResults(tmp_path / "out" / "robustness" / "shipped")
    values = conclusion_replicates(stored, conclusion, 16)
    assert waits["holds_share"] == np.mean(values.mean(axis=1) > 10 / 60)
    assert {p.name for p in (tmp_path / "out" / "figures").glob("*.png")} == {
        "morris.png",
        "sobol.png",
        "one_way.png",
        "robustness.png",
    }
    curve = [r for r in tables["one_way"].to_pylist() if r["conclusion"] == conclusion.name]
    assert [r["factor"] for r in curve] == ["interview"] * 3
    assert curve[0]["mean"] < curve[-1]["mean"]  # longer interviews, longer waits


def test_a_finished_study_is_refused_unless_resumed_and_resumes_without_rerunning(planted):
    tmp_path, _ = planted
    spec = str(tmp_path / "spec.yaml")
    out = str(tmp_path / "out")
    assert main(["sensitivity", spec, "--out", out, "--jobs", "1"]) == 2
    assert main(["sensitivity", spec, "--out", out, "--jobs", "1", "--resume"]) == 0


def test_a_stage_keeps_the_replications_the_study_reads_as_parquet_only(planted):
    tmp_path, _ = planted
    stages = [tmp_path / "out" / "morris", tmp_path / "out" / "sobol" / "shipped"]
    for stage in stages:
        names = {p.name for p in (stage / "tables").iterdir()}
        assert {"replications.parquet", "summary.parquet"} <= names
        assert not {n for n in names if n.endswith(".csv")}
        assert not names & {"comparison.parquet", "hour_of_week.parquet", "wait_ecdf.parquet"}
    assert (tmp_path / "out" / "tables" / "morris.csv").is_file()  # the study's own: CSV too


def test_reproduce_keeps_a_study_s_tables_whole_and_catches_a_changed_number(planted):
    from sim.commands.reproduce import compare_with_reference, find_specs, write_reference

    tmp_path, tables = planted
    reference = tmp_path / "reference"
    write_reference(tmp_path / "out", reference)
    assert {p.stem for p in reference.glob("*.csv")} == set(tables)
    assert compare_with_reference(tmp_path / "out" / "tables", reference) == []
    sobol = reference / "sobol.csv"
    text = sobol.read_text(encoding="utf-8").splitlines()
    header, first = text[0].split(","), text[1].split(",")
    st = header.index('"ST"')
    first[st] = repr(float(first[st]) + 0.01)
    sobol.write_text("\n".join([text[0], ",".join(first), *text[2:]]) + "\n", encoding="utf-8")
    differences = compare_with_reference(tmp_path / "out" / "tables", reference)
    assert len(differences) == 1 and "sobol" in differences[0] and "ST" in differences[0]
    # The shipped sensitivity studies are among the specs reproduce runs.
    experiments = Path(__file__).resolve().parents[1] / "experiments"
    names = {getattr(p, "spec", p).name for p in find_specs(experiments)}
    assert "sensitivity_headlines" in names


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sobol": {"samples": 10}}, "samples = 10: Sobol' sequences need a power of 2"),
        ({"morris": {"levels": 3}}, "Morris needs an even number of levels"),
        (
            {
                "conclusions": [
                    {
                        "name": "x",
                        "statement": "s",
                        "measure": "unmet_shares",
                        "scenario": "one_post",
                        "below": 0,
                    }
                ]
            },
            "measure = 'unmet_shares': not a measure of scenario 'one_post'",
        ),
        (
            {
                "conclusions": [
                    {
                        "name": "x",
                        "statement": "s",
                        "measure": "unmet_share",
                        "scenario": "three_posts",
                        "below": 0,
                    }
                ]
            },
            "'three_posts' is not a scenario of",
        ),
        (
            {
                "conclusions": [
                    {
                        "name": "x",
                        "statement": "s",
                        "measure": "unmet_share",
                        "scenario": "one_post",
                    }
                ]
            },
            "give exactly one of below and above",
        ),
        ({"factors": ["interview", "nothing"]}, "'nothing' is not a varied assumption"),
        (
            {"strata": ["interview"]},
            "strata[0] = 'interview': not a varied assumption of options",
        ),
        (
            {"factors": ["interview", "demand_level"]},
            "'demand_level' is one of the strata",
        ),
    ],
)
def test_a_bad_spec_is_refused_before_anything_runs(tmp_path, changes, message, capsys):
    path = _study(tmp_path, **changes)
    with pytest.raises(ConfigError) as caught:
        load_sensitivity_spec(path)
    assert message in str(caught.value)
    assert main(["sensitivity", str(path), "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
