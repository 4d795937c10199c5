"""Replications of a scenario, run one after another or in a local process pool.

Replication ``r`` of a scenario seeded ``s`` draws every random number from streams
keyed by ``(s, r, purpose)`` (``sim.streams``), so a replication gives the same records
whether it runs alone, in a pool, or on another machine: parallel runs are identical
to serial ones, only faster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

from sim.config import Scenario
from sim.model import simulate
from sim.records import RunRecords
from sim.summary import MeasureRow, measure_run

__all__ = ["ReplicationResult", "default_jobs", "run_replication", "run_replications"]


@dataclass(frozen=True)
class ReplicationResult:
    """One replication's records (unless dropped to save memory) and its measures."""

    replication: int
    records: RunRecords | None
    measures: tuple[MeasureRow, ...]


def run_replication(
    scenario: Scenario, replication: int, keep_records: bool = True
) -> ReplicationResult:
    """Simulate and measure one replication."""
    records = simulate(scenario, replication)
    measures = tuple(measure_run(records, scenario))
    return ReplicationResult(replication, records if keep_records else None, measures)


def default_jobs() -> int:
    """Worker processes to use by default: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_replications(
    scenario: Scenario,
    replications: Sequence[int],
    jobs: int = 1,
    keep_records: bool = True,
    on_done: Callable[[ReplicationResult], None] | None = None,
    records_sink: Callable[[RunRecords], None] | None = None,
) -> list[ReplicationResult]:
    """Run the given replications and return their results in replication order.

    ``on_done`` is called with each result as soon as it is finished (in completion
    order), e.g. to report progress or to save it before the others are done.

    ``records_sink``, when given, receives the records of every replication in
    replication order, each as soon as it and those before it are finished (e.g. a
    :class:`sim.store.RecordsStream`, which appends them to files).  With
    ``keep_records=False`` the results then hold only the measures, so the records of
    a long sweep go to disk without piling up in memory.
    """
    results = {}
    ship = keep_records or records_sink is not None
    held: dict[int, RunRecords] = {}  # finished early, waiting for their turn
    position = 0
    for result in _iterate(scenario, replications, jobs, ship):
        if records_sink is not None and result.records is not None:
            held[result.replication] = result.records
            while position < len(replications) and replications[position] in held:
                records_sink(held.pop(replications[position]))
                position += 1
            if not keep_records:
                result = replace(result, records=None)
        results[result.replication] = result
        if on_done is not None:
            on_done(result)
    return [results[r] for r in replications]


_CHUNKS_PER_JOB = 16
"""Chunks of replications handed to each pool process, on average.  A task of one
replication (about 20 ms for a station-year) pays about 1 ms to pickle its scenario
and results and to pass through the pool; chunks spread that over several
replications, and many chunks per process keep the cores evenly busy to the end."""


def _run_chunk(
    scenario: Scenario, replications: Sequence[int], keep_records: bool
) -> list[ReplicationResult]:
    return [run_replication(scenario, r, keep_records) for r in replications]


def _iterate(
    scenario: Scenario, replications: Sequence[int], jobs: int, keep_records: bool
) -> Iterator[ReplicationResult]:
    if jobs <= 1 or len(replications) <= 1:
        for replication in replications:
            yield run_replication(scenario, replication, keep_records)
        return
    size = max(1, len(replications) // (jobs * _CHUNKS_PER_JOB))
    chunks = [replications[i : i + size] for i in range(0, len(replications), size)]
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks))) as pool:
        futures = [pool.submit(_run_chunk, scenario, chunk, keep_records) for chunk in chunks]
        try:
            for future in as_completed(futures):
                yield from future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
