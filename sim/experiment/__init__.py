"""Experiments: scenario comparisons and parameter sweeps run from a spec file, on a local
process pool or a Dask cluster, into a resumable results folder, with tidy tables,
paired comparisons and figures (``station-sim experiment``, ``plot``, ``reproduce``).

The flow is one way: spec (:mod:`.spec`, :mod:`.design`) -> tasks (:mod:`.tasks`) run by
a backend (:mod:`.backends`, :mod:`.execute`) -> stored task files (:mod:`.store`) ->
final tables (:mod:`.tables`, :mod:`.compare`) -> figures (:mod:`.figures`), which read
the stored tables only; :mod:`.reproduce` reruns every spec and checks the tables
against the committed reference.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExperimentPlan", "load_plan"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the command line loads this package for its subcommands'
    # arguments, and should not pay for scipy and pyarrow on every `station-sim run`.
    if name in __all__:
        from sim.experiment import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'sim.experiment' has no attribute '{name}'")
