"""The pipeline of every run: ``station-sim run`` (one scenario at one point) and
``station-sim experiment`` (scenario comparisons and parameter sweeps) alike, on this
process, a local process pool or a Dask cluster, into a resumable results folder, with
tidy tables, paired comparisons and figures.

The flow is one way: spec (:mod:`.spec`) -> plan (:mod:`.plan`, :mod:`.design`,
:mod:`.checks`) -> tasks (:mod:`.tasks`) run by a backend (:mod:`.backends`,
:mod:`.execute`, with :mod:`.progress`) -> stored task files (:mod:`.store`, stamped by
:mod:`.provenance`) -> final tables (:mod:`.tables`, named in :mod:`.layout`) ->
figures and reports (:mod:`.figures` in the style of :mod:`.figure_style`,
:mod:`.compare`, :mod:`.report`), which read the stored tables only (:mod:`.results`).
The command line of it all is :mod:`sim.commands`.
"""
