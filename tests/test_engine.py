"""The SimPy adapter (``sim.model.engine``) against the installed SimPy: the only code that
touches SimPy's internals, so the first to break when SimPy changes them."""

from __future__ import annotations

from importlib.metadata import version

import pytest
import simpy

from sim.model.engine import FIRST, NORMAL, SUPPORTED_SIMPY, Call, Recurring, Spares


def test_the_installed_simpy_is_a_supported_version():
    installed = tuple(int(part) for part in version("simpy").split(".")[:2])
    low, high = SUPPORTED_SIMPY
    assert low <= installed < high


def test_a_call_fires_once_at_its_time_with_its_payload():
    env = simpy.Environment()
    seen = []
    Call(env, 5.0, lambda event: seen.append((env.now, event.payload)), "a")
    Call(env, 2.5, lambda event: seen.append((env.now, event.payload)), "b")
    env.run()
    assert seen == [(2.5, "b"), (5.0, "a")]


def test_events_at_one_instant_go_by_priority_then_in_scheduling_order():
    env = simpy.Environment()
    seen = []

    def log(event):
        seen.append(event.payload)

    Call(env, 1.0, log, "normal 1")
    Call(env, 1.0, log, "first", FIRST)
    Call(env, 1.0, log, "normal 2", NORMAL)
    env.run()
    assert seen == ["first", "normal 1", "normal 2"]


def test_a_recurring_event_fires_again_each_time_it_is_put_back():
    env = simpy.Environment()
    event = Recurring(env)
    times = []

    def again(fired):
        times.append((env.now, fired.payload))
        if fired.payload < 3:
            fired.fire_in(10.0, handlers, fired.payload + 1, NORMAL)

    handlers = [again]
    event.fire_in(1.0, handlers, 0, NORMAL)
    env.run()
    assert times == [(1.0, 0), (11.0, 1), (21.0, 2), (31.0, 3)]
    assert event.callbacks is None  # fired and not put back: not pending


def test_the_model_s_inline_rearm_uses_only_callbacks_and_schedule():
    # What sim.model.station does in its hot paths instead of calling fire_in.
    env = simpy.Environment()
    event = Recurring(env)
    seen = []
    handlers = [lambda fired: seen.append((env.now, fired.payload))]
    event.callbacks = handlers
    event.payload = "inline"
    env.schedule(event, NORMAL, 4.0)
    env.run()
    assert seen == [(4.0, "inline")]


def test_a_handler_s_error_reaches_the_caller():
    env = simpy.Environment()

    def broken(_):
        raise ValueError("in a handler")

    Call(env, 1.0, broken, None)
    with pytest.raises(ValueError, match="in a handler"):
        env.run()


def test_a_run_until_a_time_stops_before_later_events():
    env = simpy.Environment()
    seen = []
    Call(env, 1.0, lambda e: seen.append(env.now), None)
    Call(env, 9.0, lambda e: seen.append(env.now), None)
    env.run(until=5.0)
    assert seen == [1.0] and env.now == 5.0


def test_spare_one_shots_are_reused_and_keep_the_scheduling_order():
    env = simpy.Environment()
    spares = Spares(env)
    seen = []
    objects = set()

    def fired(event):
        spares.release(event)
        objects.add(id(event))
        seen.append((env.now, event.payload))
        if event.payload == "a":
            # Scheduled from inside a handler, after "b" was: at the same instant, "b"
            # still goes first, although "c" reuses the event that has just fired.
            spares.fire_in(1.0, handlers, "c")

    handlers = [fired]
    spares.fire_in(1.0, handlers, "a")
    spares.fire_in(2.0, handlers, "b")
    env.run()
    assert seen == [(1.0, "a"), (2.0, "b"), (2.0, "c")]
    assert len(objects) == 2  # three events fired on two objects
    assert len(spares.spare) == 2  # both handed back, none pending
