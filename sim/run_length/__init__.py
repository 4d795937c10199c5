"""The run-length study: how long a run must warm up (:mod:`.warmup`, ``station-sim
warmup``) and how many replications a precision needs (:mod:`.replications`,
``station-sim replications``)."""
