"""The calibration study: the model beside every published figure it can produce
(:mod:`.check`, ``station-sim calibrate``)."""
