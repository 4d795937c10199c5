"""Design points of an experiment: a full grid over listed values, or Latin hypercube or
Sobol points over ranges (``scipy.stats.qmc``), drawn from a seed so that the same spec
always gives the same points."""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.pipeline.spec import Design

__all__ = ["design_points"]


def design_points(design: Design | None, seed: int) -> list[dict[str, Any]]:
    """The value of each factor at each design point, in design order.

    Without a design the experiment has one point with no factors.  ``seed`` is the
    experiment's root seed, used when the design gives none of its own.
    """
    if design is None:
        return [{}]
    names = [f.name for f in design.factors]
    if design.kind == "grid":
        grids = [f.values or () for f in design.factors]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]
    assert design.points is not None  # checked by the spec
    rng = np.random.default_rng(design.seed if design.seed is not None else seed)
    dimensions = len(design.factors)
    if design.kind == "latin_hypercube":
        unit = _sampler(qmc.LatinHypercube, dimensions, rng).random(design.points)
    else:
        m = int(math.log2(design.points))
        unit = _sampler(qmc.Sobol, dimensions, rng, scramble=True).random_base2(m)
    points = []
    for row in unit:
        values: dict[str, Any] = {}
        for factor, u in zip(design.factors, row, strict=True):
            assert factor.range is not None  # checked by the spec
            low, high = factor.range
            if factor.integer:
                # Whole numbers from low to high, each with an equal share of [0, 1),
                # so the Latin hypercube's strata stay balanced.
                first, last = math.ceil(low), math.floor(high)
                values[factor.name] = min(first + int(u * (last - first + 1)), last)
            else:
                values[factor.name] = float(low + u * (high - low))
        points.append(values)
    return points


def _sampler(kind: type, dimensions: int, rng: np.random.Generator, **options: Any) -> Any:
    # SciPy 1.15 renamed the generator argument from ``seed`` to ``rng``; both give the
    # same points for the same generator.
    key = "rng" if "rng" in inspect.signature(kind).parameters else "seed"
    return kind(dimensions, **options, **{key: rng})
