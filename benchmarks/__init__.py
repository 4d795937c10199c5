"""Benchmark suite: the M/M/c contenders (the model's reduction, Ciw, SimPy two ways, the
heapq event-loop floor, the Lindley bound), the golden-record guard and the suite's runner.

Not part of the default test run.  ``python benchmarks/run.py`` runs the whole suite
and writes ``benchmarks/results/latest.json``; each contender also runs alone, e.g.
``python -m benchmarks.floor_heapq`` or ``python -m benchmarks.ciw_mmc``.
``python benchmarks/golden.py --save FILE`` / ``--check FILE`` guards an engine change.
"""
