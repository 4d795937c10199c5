"""The pipeline of every run: ``station-sim run`` (one scenario at one point) and
``station-sim experiment`` (scenario comparisons and parameter sweeps) alike, on this
process, a local process pool or a Dask cluster, into a resumable results folder, with
tidy tables, paired comparisons and figures.

The flow is one way: spec (:mod:`.spec`) -> plan (:mod:`.plan`, :mod:`.design`,
:mod:`.checks`) -> tasks (:mod:`.tasks`) run by a backend (:mod:`.backends`,
:mod:`.execute`) -> stored task files (:mod:`.store`) -> final tables (:mod:`.tables`)
-> figures and reports (:mod:`.figures`, :mod:`.compare`, :mod:`sim.pipeline.report`), which read
the stored tables only (:mod:`.results`); :mod:`.reproduce` reruns every spec and
checks the tables against the committed reference.  :mod:`.commands` is the command
line of it all.
"""
