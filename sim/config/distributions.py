"""Probability distributions named in scenario configs, sampled in blocks.

A distribution is written in YAML as a mapping whose ``dist`` key names the family, e.g.
``{dist: lognormal, mean: 45, sd: 20}``.  Durations are in minutes unless the field
that holds the distribution says otherwise.  Every family is parametrised so that its
mean is easy to read off, and each one draws a whole block of values from a
``numpy.random.Generator`` at once: the model pre-draws per-case attributes, so a
scenario's random numbers do not depend on the order in which events happen.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.config.limits import MAX_MAGNITUDE, MAX_SPREAD, MIN_DURATION

__all__ = [
    "Distribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Triangular",
    "Uniform",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Scale = Annotated[float, Field(ge=MIN_DURATION, le=MAX_MAGNITUDE, allow_inf_nan=False)]
"""A mean or a standard deviation (minutes, or the unit the field says)."""
Bound = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE, allow_inf_nan=False)]
"""An end or a value of a distribution."""


def _check_spread(mean: float, sd: float) -> None:
    if sd > MAX_SPREAD * mean:
        raise ValueError(
            f"sd {sd:g} is more than {MAX_SPREAD:g} times the mean {mean:g}: a spread that "
            "wide overflows the arithmetic"
        )


class Exponential(BaseModel):
    """Exponential distribution with the given mean."""

    model_config = _FROZEN
    dist: Literal["exponential"]
    mean: Scale

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)

    @property
    def expected(self) -> float:
        return self.mean


class Lognormal(BaseModel):
    """Lognormal distribution given by the mean and standard deviation of the value itself
    (not of its logarithm)."""

    model_config = _FROZEN
    dist: Literal["lognormal"]
    mean: Scale
    sd: Scale

    @model_validator(mode="after")
    def _spread(self) -> Lognormal:
        _check_spread(self.mean, self.sd)
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)

    @property
    def expected(self) -> float:
        return self.mean


class Gamma(BaseModel):
    """Gamma distribution given by its mean and standard deviation."""

    model_config = _FROZEN
    dist: Literal["gamma"]
    mean: Scale
    sd: Scale

    @model_validator(mode="after")
    def _spread(self) -> Gamma:
        _check_spread(self.mean, self.sd)
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = (self.mean / self.sd) ** 2
        return rng.gamma(shape, self.sd**2 / self.mean, size)

    @property
    def expected(self) -> float:
        return self.mean


class Uniform(BaseModel):
    """Continuous uniform distribution on [low, high]."""

    model_config = _FROZEN
    dist: Literal["uniform"]
    low: Bound
    high: Bound

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def expected(self) -> float:
        return (self.low + self.high) / 2


class Triangular(BaseModel):
    """Triangular distribution on [low, high] with the given mode."""

    model_config = _FROZEN
    dist: Literal["triangular"]
    low: Bound
    mode: Bound
    high: Bound

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                f"need low <= mode <= high and low < high, got low={self.low}, "
                f"mode={self.mode}, high={self.high}"
            )
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, size)

    @property
    def expected(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Fixed(BaseModel):
    """A constant: every draw is ``value``."""

    model_config = _FROZEN
    dist: Literal["fixed"]
    value: Bound

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        # Consume nothing from the stream: a fixed value must not shift later draws.
        return np.full(size, self.value)

    @property
    def expected(self) -> float:
        return self.value


class Empirical(BaseModel):
    """Discrete distribution over observed ``values``, optionally with ``weights``
    (relative frequencies; equal weights when omitted)."""

    model_config = _FROZEN
    dist: Literal["empirical"]
    values: tuple[Bound, ...] = Field(min_length=1, max_length=10_000)
    weights: tuple[Bound, ...] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if sum(self.weights) <= 0:
                raise ValueError("weights must not all be zero")
        return self

    def _probabilities(self) -> np.ndarray:
        if self.weights is None:
            return np.full(len(self.values), 1 / len(self.values))
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        cumulative = np.cumsum(self._probabilities())
        index = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
        return np.asarray(self.values, dtype=float)[np.minimum(index, len(self.values) - 1)]

    @property
    def expected(self) -> float:
        return float(np.dot(self._probabilities(), self.values))


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Uniform | Triangular | Fixed | Empirical,
    Field(discriminator="dist"),
]
"""Any of the distribution families, chosen by the ``dist`` key."""
