"""The two kinds of event the station model schedules on SimPy, and the only code of the
project that touches SimPy's internals.

The model runs no process per case: it schedules events whose callbacks update the
stations' state (handlers in ``sim.model.station``, state in ``sim.model.state``).
SimPy's public ``Timeout`` would do, but allocating one per event costs about half of
SimPy's time per event, so the model uses:

- :class:`Call`, a one-shot event that runs one handler ``delay`` after now;
- :class:`Recurring`, an event that is put back on the queue each time it has fired:
  the model keeps one for the stream of referrals, one for the roster changes and one
  per worker for the end of its current task;
- :class:`Spares`, the one-shot events of a run (appointments coming due, patience,
  retries, call-outs) kept for reuse: a handler hands its event back once it runs, and
  the next one-shot takes it instead of allocating one.

Both carry their data in :attr:`payload` (the model's own attribute), and both are
made "already succeeded" at construction, which is the private state SimPy's
``Environment.step`` reads (``_ok``; ``_value`` for a failure).  That is why the
supported SimPy versions are pinned (``pyproject.toml``) and why
``tests/test_engine.py`` checks these events against the installed SimPy: ordering by
time, then priority, then scheduling order; re-firing; a handler's exception reaching
the caller.

The hot paths of the model re-arm a :class:`Recurring` inline (``event.callbacks = ...;
event.payload = ...; env.schedule(event, NORMAL, delay)``), which uses only SimPy's
public ``callbacks`` attribute and ``schedule`` method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT, Event

__all__ = ["FIRST", "NORMAL", "SUPPORTED_SIMPY", "Call", "Handler", "Recurring", "Spares"]

FIRST = URGENT
"""Priority of the events that must come before everything else at an instant (roster
changes: a referral at exactly 09:00 finds the 09:00 shift on site)."""

SUPPORTED_SIMPY = ((4, 1), (4, 2))
"""SimPy versions this adapter is written and tested for: at least the first, below the
second (``pyproject.toml`` pins the same range)."""

Handler = Callable[[Event], None]


def _succeeded(event: Event, env: simpy.Environment) -> None:
    # What Event.succeed() sets, without its check and its scheduling: the event is
    # scheduled by hand, possibly many times over.
    event.env = env
    event._ok = True
    event._value = None


class Call(Event):
    """An event that runs ``handler(event)`` at ``now + delay`` with ``payload``: a
    ``Timeout`` with a priority."""

    def __init__(
        self,
        env: simpy.Environment,
        delay: float,
        handler: Handler,
        payload: Any,
        priority: int = NORMAL,
    ) -> None:
        _succeeded(self, env)
        self.callbacks = [handler]
        self.payload = payload
        env.schedule(self, priority, delay)


class Recurring(Event):
    """An event that fires again each time :meth:`fire_in` puts it back on the queue.

    It is pending at most once at a time: SimPy's ``step`` takes the callbacks off an
    event before calling them, so setting them again makes it pending again.
    """

    def __init__(self, env: simpy.Environment) -> None:
        _succeeded(self, env)
        self.callbacks = None  # not pending
        self.payload: Any = None

    def fire_in(self, delay: float, handlers: list[Handler], payload: Any, priority: int) -> None:
        """Fire ``delay`` after now, calling ``handlers`` (a list nobody changes)."""
        self.callbacks = handlers
        self.payload = payload
        self.env.schedule(self, priority, delay)


class Spares:
    """The one-shot events of one environment, reused.

    An event is handed back with :meth:`release` from its own handler: SimPy's ``step``
    has taken its callbacks off by then, so it is free to be scheduled again.  Reuse
    changes nothing in the order of events (that is set by ``schedule``'s counter, not
    by the object); it saves the allocation, which costs about as much as SimPy's own
    ``step``.
    """

    __slots__ = ("env", "spare")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.spare: list[Recurring] = []

    def fire_in(self, delay: float, handlers: list[Handler], payload: Any) -> None:
        """Run ``handlers`` (a list nobody changes) ``delay`` after now, at NORMAL
        priority, on a spare event if there is one."""
        spare = self.spare
        event = spare.pop() if spare else Recurring(self.env)
        event.callbacks = handlers
        event.payload = payload
        self.env.schedule(event, NORMAL, delay)

    def release(self, event: Event) -> None:
        """Hand back an event whose handler is running (it must not be pending)."""
        self.spare.append(event)  # type: ignore[arg-type]
