"""Python's cyclic garbage collector, paused while a replication simulates.

A replication allocates millions of short-lived containers (the event queue's entries,
the handlers' tuples and lists).  Every 700 of them the collector runs, and now and then
it walks every object the process holds: in a pool process that has imported SciPy,
pandas and pydantic, about 130,000 of them, none of which the run created.  On a sample
of a national study's catchment runs that was 15 % of their time
(``benchmarks/README.md``, sixth pass).

Reference counting still frees everything the run lets go of at once; only garbage in
reference cycles waits, and the model makes almost none while it runs (a fired
event drops its callbacks).  The collector's state is restored on the way out, even
when the run raises, so a caller that turned it off keeps it off, and whatever cycles
the run left are collected by the next automatic collection.  No number depends on it:
nothing in the model reads object addresses (``benchmarks/golden.py --check``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Automatic cyclic garbage collection off inside the block, as it was after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
