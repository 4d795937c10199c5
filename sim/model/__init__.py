"""The model floor: one replication of a scenario, in SimPy only (no files, no command
line, no reporting rules).

Before the run, every random draw is made: the demand (:mod:`.demand`, with
:mod:`.arrivals` and the per-activity streams of :mod:`.streams`), the coverage plan
(:mod:`.roster`) and the referral decision (:mod:`.referrals`).  The run is the
station's event handlers (:mod:`.station`) on the engine's reusable events
(:mod:`.engine`), over the run's vocabulary (:mod:`.state`).  After it, the run's state
becomes flat records (:mod:`.recording` into the types of :mod:`.records`), whose cases
:mod:`.outcomes` classifies, so that lost demand is counted, never dropped.
"""

from sim.model.station import StationModel, simulate

__all__ = ["StationModel", "simulate"]
