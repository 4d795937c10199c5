"""The cyclic garbage collector is paused while a replication simulates, and left as it
was found afterwards, whatever happens inside."""

from __future__ import annotations

import contextlib
import gc

import pytest
from conftest import CONFIGS

import sim.model.station as station
from sim.config.schema import load_scenario
from sim.model.garbage import collector_paused


def test_the_collector_is_off_inside_and_as_it_was_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()


def test_the_collector_comes_back_when_the_run_raises():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a handler failed")
    assert gc.isenabled()


def test_a_replication_simulates_with_the_collector_paused(monkeypatch):
    seen = []
    run = station.StationModel.run

    def watched(model):
        seen.append(gc.isenabled())
        return run(model)

    monkeypatch.setattr(station.StationModel, "run", watched)
    short = {"simulation.run_days": 14, "simulation.warm_up_days": 7, "simulation.drain_days": 7}
    station.simulate(load_scenario(CONFIGS / "france_office_hours.yaml", short))
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize("config", ["belgium_24_7", "france_office_hours", "shared_rural"])
def test_a_replication_makes_no_cyclic_garbage_while_it_runs(monkeypatch, config):
    # What pausing the collector rests on: with it running, its collections during a
    # run find nothing to free, so a long run paused piles nothing up.
    monkeypatch.setattr(station, "collector_paused", contextlib.nullcontext)
    short = {"simulation.run_days": 56, "simulation.warm_up_days": 14}
    scenario = load_scenario(CONFIGS / f"{config}.yaml", short)
    collected = []

    def count(phase, info):
        if phase == "stop":
            collected.append(info["collected"])

    thresholds = gc.get_threshold()
    gc.collect()
    gc.set_threshold(50)  # a collection every 50 allocations: many in a short run
    gc.callbacks.append(count)
    try:
        station.simulate(scenario)
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*thresholds)
    assert len(collected) > 20  # the collector did run
    assert sum(collected) == 0
