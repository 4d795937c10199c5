"""The national response curves: a stored national study's measures against the number
of posts, for one coverage model and allocation rule, and their interpolation to a
number of posts the study did not simulate.

The metamodel is the simplest that respects what the curves are: a piecewise cubic
Hermite interpolant (SciPy's ``PchipInterpolator``) of each measure's mean against the
logarithm of the number of posts.  It passes through every simulated point, keeps each
curve's monotony between them (unmet demand never rises with a post more where the
simulations say it falls) and never overshoots them, so an estimate lies between the
simulated values on either side.  The log scale is that of the study's post counts
(175 to 2,640): each doubling of posts removes a similar part of the unmet demand.

It is no simulation.  Its error is measured against the simulations themselves: each
interior post count is left out in turn, predicted from the others, and compared with
its simulated mean (``leave_one_out``); an estimate reports the largest such error of its
curve.  The error is a guide, not a bound: leaving a point out
widens a gap, so an estimate between two simulated points is usually closer than the
error of leaving one of them out, but the simulated means carry their own noise too.
Outside the simulated range nothing is estimated (extrapolating a queue's saturation is
how models mislead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

__all__ = ["ESTIMATED_MEASURES", "Estimate", "ResponseCurve", "estimate", "response_curve"]

ESTIMATED_MEASURES: tuple[str, ...] = (
    "national_unmet_share",
    "national_within_24h_share",
    "national_unmet",
    "national_contacted",
    "departement_unmet_max",
    "national_cost_eur_per_year",
)
"""The national measures the page estimates between simulated post counts: those a
policy team compares, each a smooth function of the number of posts (a count of
départements without a post, a step function, is not among them)."""
_LINEAR_IN_POSTS = frozenset({"national_cost_eur_per_year"})


@dataclass(frozen=True)
class ResponseCurve:
    """One measure's simulated means against the number of posts, in increasing order
    of posts (at least two distinct counts)."""

    metric: str
    posts: tuple[int, ...]
    means: tuple[float, ...]
    log_posts: bool = True
    """Interpolate against the logarithm of the posts (False: the posts themselves, for
    a cost, which a post more raises by the same amount whatever the count)."""

    def __post_init__(self) -> None:
        if len(self.posts) < 2:
            raise ValueError(f"{self.metric}: a curve needs two post counts, got {self.posts}")
        if list(self.posts) != sorted(set(self.posts)) or self.posts[0] < 1:
            raise ValueError(f"{self.metric}: posts must be distinct, increasing and >= 1")
        if len(self.means) != len(self.posts):
            raise ValueError(f"{self.metric}: {len(self.means)} means for {len(self.posts)} posts")

    def covers(self, posts: int) -> bool:
        """Whether ``posts`` lies within the simulated range (no extrapolation)."""
        return self.posts[0] <= posts <= self.posts[-1]

    def at(self, posts: int) -> float:
        """The interpolated mean at ``posts`` (the simulated mean at a simulated count)."""
        if not self.covers(posts):
            raise ValueError(
                f"{self.metric}: {posts} posts is outside the simulated range "
                f"{self.posts[0]}-{self.posts[-1]}"
            )
        return _interpolate(self.posts, self.means, posts, self.log_posts)

    def leave_one_out(self) -> dict[int, float]:
        """For each interior post count, the interpolant of the other points there minus
        the simulated mean (in the measure's own unit); empty for fewer than 3 points."""
        errors = {}
        for k in range(1, len(self.posts) - 1):
            posts = self.posts[:k] + self.posts[k + 1 :]
            means = self.means[:k] + self.means[k + 1 :]
            guess = _interpolate(posts, means, self.posts[k], self.log_posts)
            errors[self.posts[k]] = guess - self.means[k]
        return errors


def _interpolate(posts: Sequence[int], means: Sequence[float], at: int, log: bool) -> float:
    scale = np.log if log else np.asarray
    curve = PchipInterpolator(scale(np.asarray(posts, dtype=float)), np.asarray(means))
    return float(curve(scale(float(at))))


def response_curve(
    national: pd.DataFrame, coverage: str, rule: str, metric: str
) -> ResponseCurve | None:
    """The curve of ``metric`` in a stored national table (one row per coverage, rule,
    posts and metric, with its ``mean``), or None where it has fewer than two post
    counts."""
    rows = national[
        (national["coverage"] == coverage)
        & (national["allocation"] == rule)
        & (national["metric"] == metric)
    ].sort_values("posts")
    if rows["posts"].nunique() < 2:
        return None
    return ResponseCurve(
        metric,
        tuple(int(p) for p in rows["posts"]),
        tuple(float(m) for m in rows["mean"]),
        log_posts=metric not in _LINEAR_IN_POSTS,
    )


@dataclass(frozen=True)
class Estimate:
    """A measure estimated at a number of posts: the interpolated ``mean``, the
    simulated post counts it lies ``between`` (the count itself, twice, where it was
    simulated), and ``error``: the largest leave-one-out error of its curve (absolute,
    the measure's unit; NaN for a curve of two points).

    The largest over the curve, not the error at the counts either side: the first and
    last counts cannot be left out, and between 175 and 350 posts the error at 350
    alone (0.1 points of unmet demand) understated the miss a direct simulation found
    at 250 (1.4 points; ``python benchmarks/run.py --parts page_national``)."""

    metric: str
    posts: int
    mean: float
    between: tuple[int, int]
    error: float


def estimate(national: pd.DataFrame, coverage: str, rule: str, posts: int) -> list[Estimate]:
    """The estimated measures at ``posts`` for one coverage model and rule, from a
    stored national table; empty where no curve covers ``posts``."""
    found = []
    for metric in ESTIMATED_MEASURES:
        curve = response_curve(national, coverage, rule, metric)
        if curve is None or not curve.covers(posts):
            continue
        above = int(np.searchsorted(curve.posts, posts))
        if curve.posts[above] == posts:
            between = (posts, posts)
        else:
            between = (curve.posts[above - 1], curve.posts[above])
        errors = [abs(e) for e in curve.leave_one_out().values()]
        error = max(errors, default=float("nan"))
        found.append(Estimate(metric, posts, curve.at(posts), between, error))
    return found
