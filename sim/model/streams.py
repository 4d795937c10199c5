"""Random streams: one independent ``numpy.random.Generator`` per purpose.

Each stream is keyed by the root seed, the replication number and a *name* for its
purpose (``"arrivals/victim"``, ``"sickness/post0"``), hashed with CRC-32 into the
``spawn_key`` of a ``SeedSequence``.  Keying by name rather than by position means a
stream never depends on which other streams exist: adding a population, a worker or a
new purpose leaves every other draw unchanged, which is what common random numbers
across scenarios need.  CRC-32 (unlike Python's ``hash``) is the same on every machine.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def stream(seed: int, replication: int, purpose: str) -> np.random.Generator:
    """The generator for one purpose in one replication of a run seeded with ``seed``."""
    key = zlib.crc32(purpose.encode("utf-8"))
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(replication, key))
    return np.random.Generator(np.random.PCG64(sequence))
