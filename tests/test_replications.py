"""The replications algorithm (Hoad, Robinson and Davies 2010) answers what its
definition says, and the command refuses bad options."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import CONFIGS
from scipy import stats

from sim.commands.cli import main
from sim.run_length.replications import _look_ahead, _solve, relative_half_width, window_lag1


def test_the_relative_half_width_is_the_student_t_interval_over_the_mean():
    values = np.array([9.0, 11.0, 10.5, 9.5, 10.0])
    interval = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
    assert relative_half_width(values) == pytest.approx((interval[1] - interval[0]) / 2 / 10)
    assert relative_half_width(np.array([0.0, 0.0, 0.0])) == math.inf


@pytest.mark.parametrize("seed", range(5))
def test_the_answer_is_the_first_n_whose_precision_holds_through_its_look_ahead(seed):
    column = np.random.default_rng(seed).lognormal(0.0, 0.6, 400)
    answer = _solve("x", column, target=0.1, initial=3, look_ahead=5)
    assert answer is not None
    n = answer.needed

    def holds(m: int) -> bool:
        k = _look_ahead(m, 5)
        return all(relative_half_width(column[: m + j]) <= 0.1 for j in range(k + 1))

    assert holds(n)
    assert not any(holds(m) for m in range(3, n))
    # A noisier measure needs more replications.
    noisier = _solve("y", np.random.default_rng(seed).lognormal(0.0, 1.2, 400), 0.1, 3, 5)
    assert noisier is None or noisier.needed > n


def test_the_look_ahead_grows_beyond_a_hundred_replications():
    assert _look_ahead(50, 5) == 5 and _look_ahead(100, 5) == 5 and _look_ahead(400, 5) == 20


def test_the_command_prints_the_replications_each_measure_needs(capsys):
    config = str(CONFIGS / "france_office_hours.yaml")
    short = ["--set", "simulation={warm_up_days: 14, run_days: 56, drain_days: 14}"]
    options = ["--budget", "12", "--jobs", "1", "--half-width", "0.2"]
    code = main(["replications", config, *short, *options, "--measures", "unmet_share,utilisation"])
    out = capsys.readouterr().out
    assert code == 0 and "unmet_share" in out and "utilisation" in out
    assert main(["replications", config, "--half-width", "2"]) == 2
    assert "--half-width 2.0: give a share between 0 and 1" in capsys.readouterr().err
    assert main(["replications", config, "--measures", "nonsense"]) == 2
    assert "'nonsense' is not a measure of scenario" in capsys.readouterr().err


def test_the_windows_lag1_is_the_correlation_of_consecutive_windows():
    rng = np.random.default_rng(5)
    independent = rng.normal(10.0, 1.0, size=(400, 3))
    assert abs(window_lag1(independent)) < 0.1  # 800 pairs: sd about 0.035
    # Each replication's windows alike, replications apart: correlation 1.
    alike = np.repeat(rng.normal(size=(50, 1)), 3, axis=1)
    assert window_lag1(alike) == pytest.approx(1.0)
    # An AR(1) of coefficient 0.6 across the windows, from its stationary law.
    x = np.empty((2000, 3))
    x[:, 0] = rng.normal(size=2000)
    for k in (1, 2):
        x[:, k] = 0.6 * x[:, k - 1] + rng.normal(scale=0.8, size=2000)
    assert window_lag1(x) == pytest.approx(0.6, abs=0.05)
    assert np.isnan(window_lag1(independent[:, :1]))


def test_the_command_reports_the_windows_lag1_when_a_replication_has_several(capsys):
    config = str(CONFIGS / "france_office_hours.yaml")
    short = ["--set", "simulation={warm_up_days: 14, run_days: 28, windows: 3, drain_days: 14}"]
    options = ["--budget", "6", "--jobs", "1", "--half-width", "0.2"]
    assert main(["replications", config, *short, *options, "--measures", "unmet_share"]) == 0
    out = capsys.readouterr().out
    assert "windows lag-1" in out and "K windows" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("unmet_share"))
    assert -1.0 <= float(row.split()[4]) <= 1.0
