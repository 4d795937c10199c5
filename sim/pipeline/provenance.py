"""What made a set of numbers: the resolved config's digest and the versions of the
package and of the libraries that shape the numbers.  Every results folder records
them (its ``manifest.json``), a resumed run refuses to mix versions, and the workers of
a Dask cluster must match the client."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version

from sim.config.schema import Scenario
from sim.version import __version__

__all__ = ["MARKER", "NUMERIC_VERSIONS", "config_digest", "environment_versions"]

MARKER = "station-sim results folder, format 1"
"""The ``format`` entry of every manifest station-sim writes: a folder whose manifest
lacks it was not written by station-sim, and no command replaces it."""

NUMERIC_VERSIONS = ("station-sim", "numpy", "scipy", "simpy", "pydantic")
"""Versions whose change could move the numbers."""


def config_digest(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario: equal digests, equal inputs."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def environment_versions() -> dict[str, str]:
    """Versions of the package, Python and the libraries that shape or store the
    numbers."""
    versions = {"station-sim": __version__, "python": platform.python_version()}
    for name in ("numpy", "scipy", "simpy", "pydantic", "pyarrow", "pandas"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions
