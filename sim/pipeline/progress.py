"""A progress line on standard error: for work made of many equal tasks, and for the
steps that follow them (building tables, drawing figures)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Counts finished tasks and shows ``label: done/total, elapsed, ETA`` once the work
    has lasted ``delay_s`` seconds (short runs stay quiet).  On a terminal the line is
    redrawn in place; elsewhere (logs, CI) a line is written at most every
    ``interval_s`` seconds."""

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "done",
        stream: TextIO | None = None,
        delay_s: float = 2.0,
        interval_s: float = 10.0,
    ) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.delay_s = delay_s
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._last_shown = -float("inf")
        self._shown = False
        self._tty = self.stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < self.delay_s:
            return
        if not self._tty and now - self._last_shown < self.interval_s and self.done < self.total:
            return
        self._last_shown = now
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        text = (
            f"{self.label}: {self.done}/{self.total} {self.unit}, {elapsed:.0f} s elapsed, "
            f"about {eta:.0f} s left"
        )
        if self._tty:
            self.stream.write("\r" + text.ljust(78))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown = True

    def note(self, text: str) -> None:
        """Show that a step other than the tasks is under way (e.g. "drawing figures"),
        under the same rule as the count: quiet while the work is short."""
        if time.monotonic() - self.started < self.delay_s:
            return
        line = f"{self.label}: {text}"
        if self._tty:
            self.stream.write("\r" + line.ljust(78))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self._tty:
            self.stream.write("\n")
            self.stream.flush()
