"""The national response curves and the page's estimate between simulated post counts
(``sim.national.interpolation``): exact at the simulated points, never outside the
values either side, no extrapolation, and an error measured by leaving points out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.national.interpolation import ResponseCurve, estimate, response_curve

POSTS = (175, 350, 450, 600, 2640)


def _table(curve: dict[int, float], metric: str = "national_unmet_share") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "coverage": "office_hours",
            "allocation": "proportional",
            "posts": list(curve),
            "metric": metric,
            "mean": list(curve.values()),
        }
    )


def test_the_curve_passes_through_every_simulated_point():
    means = (0.75, 0.54, 0.48, 0.42, 0.35)
    curve = ResponseCurve("national_unmet_share", POSTS, means)
    assert [curve.at(p) for p in POSTS] == pytest.approx(means, abs=1e-12)


def test_between_two_points_the_estimate_stays_between_their_values_and_falls():
    curve = ResponseCurve("national_unmet_share", POSTS, (0.75, 0.54, 0.48, 0.42, 0.35))
    grid = np.arange(175, 2641, 5)
    values = np.array([curve.at(int(p)) for p in grid])
    assert (np.diff(values) <= 1e-12).all()  # monotone where the points are
    for low, high, a, b in zip(POSTS, POSTS[1:], curve.means, curve.means[1:], strict=False):
        inside = values[(grid > low) & (grid < high)]
        assert ((inside <= a + 1e-12) & (inside >= b - 1e-12)).all()


def test_a_law_of_the_logarithm_of_posts_is_recovered_exactly_by_leaving_points_out():
    """On a curve linear in log(posts) the interpolant is exact, so each left-out point
    is predicted to rounding: the error measures the metamodel, not the bookkeeping."""
    means = tuple(1.0 - 0.1 * math.log(p) for p in POSTS)
    curve = ResponseCurve("national_unmet_share", POSTS, means)
    errors = curve.leave_one_out()
    assert set(errors) == {350, 450, 600}
    assert max(abs(e) for e in errors.values()) < 1e-12
    assert curve.at(1000) == pytest.approx(1.0 - 0.1 * math.log(1000), abs=1e-12)


def test_leaving_a_point_out_measures_how_far_the_others_miss_it():
    # A kink at 450: the others put 450 on the smooth curve, 0.05 above its value.
    means = (0.70, 0.60, 0.50, 0.48, 0.40)
    curve = ResponseCurve("national_unmet_share", POSTS, means)
    others = ResponseCurve("x", (175, 350, 600, 2640), (0.70, 0.60, 0.48, 0.40))
    assert curve.leave_one_out()[450] == pytest.approx(others.at(450) - 0.50, abs=1e-12)
    assert curve.leave_one_out()[450] > 0


def test_nothing_is_estimated_outside_the_simulated_range():
    curve = ResponseCurve("national_unmet_share", POSTS, (0.75, 0.54, 0.48, 0.42, 0.35))
    with pytest.raises(ValueError, match="outside the simulated range 175-2640"):
        curve.at(100)
    table = _table(dict(zip(POSTS, curve.means, strict=True)))
    assert estimate(table, "office_hours", "proportional", 3000) == []
    assert estimate(table, "office_hours", "proportional", 174) == []


def test_impossible_curves_are_refused_at_construction():
    with pytest.raises(ValueError, match="two post counts"):
        ResponseCurve("m", (350,), (0.5,))
    with pytest.raises(ValueError, match="distinct, increasing"):
        ResponseCurve("m", (350, 175), (0.5, 0.6))
    with pytest.raises(ValueError, match="2 means for 3 posts"):
        ResponseCurve("m", (1, 2, 3), (0.5, 0.6))


def test_an_estimate_names_the_counts_either_side_and_its_curve_s_largest_error():
    means = (0.70, 0.60, 0.50, 0.48, 0.40)
    table = _table(dict(zip(POSTS, means, strict=True)))
    curve = response_curve(table, "office_hours", "proportional", "national_unmet_share")
    largest = max(abs(e) for e in curve.leave_one_out().values())
    (between,) = estimate(table, "office_hours", "proportional", 400)
    assert between.between == (350, 450) and between.error == pytest.approx(largest)
    (first,) = estimate(table, "office_hours", "proportional", 200)
    assert first.between == (175, 350) and first.error == pytest.approx(largest)
    (at,) = estimate(table, "office_hours", "proportional", 450)
    assert at.between == (450, 450) and at.mean == pytest.approx(0.50)
    two = _table({175: 0.7, 350: 0.6})
    (only,) = estimate(two, "office_hours", "proportional", 200)
    assert math.isnan(only.error)


def test_a_cost_is_interpolated_in_posts_not_their_logarithm():
    cost = {p: 42_000.0 * p + 1_000.0 for p in POSTS}
    table = _table(cost, "national_cost_eur_per_year")
    (guess,) = estimate(table, "office_hours", "proportional", 1000)
    assert guess.mean == pytest.approx(42_000.0 * 1000 + 1_000.0)
    assert guess.error == pytest.approx(0.0, abs=1e-6)


def test_the_stored_reference_is_estimated_between_its_counts_within_a_few_points():
    """On the committed national reference, each interior count left out is predicted
    by the others; under office hours and the proportional rule the 350 and 450 targets
    are within a point of unmet demand of their simulation."""
    from sim.app.national import REFERENCE

    path = REFERENCE / "national.csv"
    if not path.is_file():
        pytest.skip("no committed national reference")
    national = pd.read_csv(path)
    curve = response_curve(national, "office_hours", "proportional", "national_unmet_share")
    errors = curve.leave_one_out()
    assert abs(errors[350]) < 0.01 and abs(errors[450]) < 0.01, errors
