"""Global sensitivity analysis of the conclusions to the assumptions: the spec
(:mod:`sim.sensitivity.spec`), the stages (:mod:`sim.sensitivity.run`) and the figures
(:mod:`sim.sensitivity.figures`)."""
