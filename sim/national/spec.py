"""A national experiment spec (``kind: national``): numbers of posts x allocation rules
x coverage models of one national config, the optimiser's share of it, the "next posts"
question, the maps to draw, and a sanity country to set beside it.  Validated whole,
every request checked against the config, before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.config.documents import read_mapping
from sim.config.errors import ConfigError, format_validation_error
from sim.config.limits import MAX_NAME_LENGTH, MAX_REPLICATIONS, WholeNumber
from sim.national.allocation import RULES
from sim.national.config import load_national
from sim.national.run import NationalStudy
from sim.national.study import Request, check_requests

__all__ = ["NationalExperiment", "load_national_experiment"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Posts = Annotated[WholeNumber, Field(ge=1, le=100_000)]


class Optimise(BaseModel):
    """Which coverage models the optimiser runs for, up to how many posts (its training
    curves cost about one catchment run per post placed and per training replication)."""

    model_config = _FROZEN
    coverage: tuple[str, ...] = Field(min_length=1)
    max_posts: Posts


class NextPosts(BaseModel):
    """Where the next ``add`` posts should go, from ``rule``'s allocation of ``posts``."""

    model_config = _FROZEN
    coverage: str
    rule: Literal["historical_2013", "proportional", "two_per_departement_first"]
    posts: Posts
    add: Posts


class Frontier(BaseModel):
    """The efficiency-equity frontier: the optimiser at ``posts`` posts under
    ``coverage`` for each of ``equity_weights`` (0: the plain optimised rule; 1: the
    worst département first)."""

    model_config = _FROZEN
    coverage: str
    posts: Posts
    equity_weights: tuple[Annotated[float, Field(ge=0, le=1)], ...] = Field(min_length=2)


class MapRequest(BaseModel):
    model_config = _FROZEN
    coverage: str
    allocation: str
    posts: tuple[Posts, ...] = Field(min_length=1)


class Sanity(BaseModel):
    """Another country's national config, run at its own posts, rule and coverage."""

    model_config = _FROZEN
    config: str
    posts: Posts
    allocation: Literal["historical_2013", "proportional", "two_per_departement_first"]
    coverage: str
    compare_posts: tuple[Posts, ...] = ()


class NationalExperimentSpec(BaseModel):
    model_config = _FROZEN
    kind: Literal["national"]
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_NAME_LENGTH)]
    description: str = ""
    config: str
    posts: tuple[Posts, ...] = Field(min_length=1)
    allocations: tuple[str, ...] = Field(min_length=1)
    coverage: tuple[str, ...] = Field(min_length=1)
    optimise: Optimise | None = None
    next_posts: NextPosts | None = None
    frontier: Frontier | None = None
    objective: Literal["unmet", "not_within_24h"] = "unmet"
    replications: Annotated[WholeNumber, Field(ge=2, le=MAX_REPLICATIONS)]
    maps: tuple[MapRequest, ...] = ()
    sanity: Sanity | None = None


@dataclass(frozen=True)
class NationalExperiment:
    """A national spec checked whole: its study, its requests, its sanity country."""

    spec: NationalExperimentSpec
    path: Path
    study: NationalStudy
    requests: tuple[Request, ...]
    sanity: tuple[NationalStudy, Request] | None

    @property
    def name(self) -> str:
        return self.spec.name


def load_national_experiment(path: str | Path) -> NationalExperiment:
    path = Path(path)
    raw = read_mapping(path, "national experiment spec")
    try:
        spec = NationalExperimentSpec.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            format_validation_error(
                error, raw, str(path), NationalExperimentSpec, "national experiment spec"
            )
        ) from None
    unknown = sorted(set(spec.allocations) - set(RULES))
    if unknown:
        raise ConfigError(f"{path}: allocations {unknown}: not rules; known: {list(RULES)}")
    for field in ("posts", "allocations", "coverage"):
        values = list(getattr(spec, field))
        if len(set(values)) != len(values):
            raise ConfigError(f"{path}: {field} = {values}: a value is given twice")
    if spec.optimise is not None:
        stray = sorted(set(spec.optimise.coverage) - set(spec.coverage))
        if stray or "optimised" not in spec.allocations:
            raise ConfigError(
                f"{path}: optimise.coverage: {stray or list(spec.optimise.coverage)} must be "
                f"among coverage {list(spec.coverage)}, with optimised among the allocations"
            )
    if spec.sanity is not None:
        stray_posts = sorted(set(spec.sanity.compare_posts) - set(spec.posts))
        if stray_posts or spec.sanity.coverage not in spec.coverage:
            raise ConfigError(
                f"{path}: sanity: compare_posts {list(spec.sanity.compare_posts)} and coverage "
                f"'{spec.sanity.coverage}' must be cells of the grid (posts {list(spec.posts)}, "
                f"coverage {list(spec.coverage)})"
            )
    study = NationalStudy.of(load_national(path.parent / spec.config))
    constants = study.model.config.allocation
    from sim.national.allocation import minimum_posts

    requests: list[Request] = []
    for coverage in spec.coverage:
        for rule in spec.allocations:
            for posts in spec.posts:
                if posts < minimum_posts(rule, study.catchments, constants):
                    continue  # the rule cannot deal so few: a cell of the grid left empty
                if rule == "optimised" and (
                    spec.optimise is None
                    or coverage not in spec.optimise.coverage
                    or posts > spec.optimise.max_posts
                ):
                    continue
                requests.append(Request(posts, rule, coverage))
    if spec.next_posts is not None:
        n = spec.next_posts
        total = n.posts + n.add
        requests.append(Request(total, "optimised", n.coverage, n.rule, n.posts))
    if spec.frontier is not None:
        f = spec.frontier
        if f.coverage not in spec.coverage or len(set(f.equity_weights)) != len(f.equity_weights):
            raise ConfigError(
                f"{path}: frontier: coverage '{f.coverage}' must be among coverage "
                f"{list(spec.coverage)}, and no equity weight given twice "
                f"({list(f.equity_weights)})"
            )
        plain = Request(f.posts, "optimised", f.coverage)
        for weight in f.equity_weights:
            if weight == 0 and plain in requests:
                continue  # the plain optimised rule of the grid is the weight 0
            requests.append(
                plain
                if weight == 0
                else Request(f.posts, "optimised", f.coverage, equity_weight=weight)
            )
    check_requests(study, requests, str(path))
    keys = {(r.coverage, r.label, r.posts) for r in requests}
    for m in spec.maps:
        for posts in m.posts:
            if (m.coverage, m.allocation, posts) not in keys:
                raise ConfigError(
                    f"{path}: maps: {m.coverage}, {m.allocation}, {posts} posts is not a cell "
                    "of the experiment"
                )
    sanity = None
    if spec.sanity is not None:
        other = NationalStudy.of(load_national(path.parent / spec.sanity.config))
        request = Request(spec.sanity.posts, spec.sanity.allocation, spec.sanity.coverage)
        check_requests(other, [request], f"{path}: sanity")
        sanity = (other, request)
    return NationalExperiment(spec, path, study, tuple(requests), sanity)


def is_national_spec(path: Path) -> bool:
    """Whether a YAML file is a national experiment spec (its ``kind``)."""
    try:
        return read_mapping(path, "experiment spec").get("kind") == "national"
    except ConfigError:
        return False
