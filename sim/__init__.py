"""station-sim: discrete-event simulation of social intake at police and gendarmerie stations.

The Python API (:mod:`sim.api`)::

    import sim
    result = sim.run("configs/belgium_24_7.yaml", replications=20)
    result.summary                      # a pandas DataFrame
    sim.experiment("experiments/france_vs_belgium.yaml", out="results/fvb")
    sim.load("results/fvb").comparison
"""

from typing import Any

from sim.version import __version__

__all__ = ["ConfigError", "Result", "RunFailed", "__version__", "experiment", "load", "run"]

_API = frozenset({"Result", "RunFailed", "experiment", "load", "run"})


from sim.config.errors import ConfigError  # noqa: E402 - light: the command line needs it anyway


def __getattr__(name: str) -> Any:
    # Imported on first use: the command line imports this package for its version and
    # should not pay for pandas on every `station-sim validate`.
    if name in _API:
        from sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute '{name}'")
