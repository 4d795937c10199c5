"""The layout of a results folder: the names of the tables and records it holds.

One list, read by the writer of the tables (:mod:`sim.pipeline.tables`), by the folder
that decides which files it may replace (:mod:`sim.pipeline.store`) and by the Python
API; what each table holds is described in :mod:`sim.pipeline.tables`.
"""

from __future__ import annotations

__all__ = ["RECORDS", "TABLES"]

TABLES: tuple[str, ...] = (
    "design",
    "scenarios",
    "replications",
    "summary",
    "comparison",
    "hour_of_week",
    "wait_ecdf",
    "measures",
)
"""The final tables under ``tables/``, each as Parquet and CSV."""

RECORDS: tuple[str, ...] = ("cases", "workers", "appointments")
"""The per-run records under ``records/`` when an experiment keeps them."""
