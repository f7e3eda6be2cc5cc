"""Python's full garbage collections, moved to moments when nobody is waiting for a key.

Every screen or dialog the operator opens and closes leaves a few thousand objects in
reference cycles (widgets point at their parents, styles at their nodes). CPython frees them
in its full (generation 2) collection, which walks every object the console holds: ~200,000
after a few minutes, 70-280 ms on the 2-core build box. Left to CPython, that pause comes
whenever the allocation counters say so, which is most often in the middle of the next key:
bench/keys_pilot.py saw keys that take 40 ms answer in 300 ms, a different key in each run.

While the console runs, this collector raises CPython's threshold for full collections to a
backstop (a console that is never idle still collects, only less often) and runs the full
collection itself when one is due as CPython would count it (`due_after` young collections
since the last full one) and no key or click came for `idle_after_s`. The young generations
are left to CPython: they only walk new objects and take well under a millisecond.
Stopping gives CPython its own thresholds back.

Once the console has warmed up (modules, stylesheets, the first matrix: ~75,000 objects that
live as long as it does), `freeze_when_idle` moves what is alive then to CPython's permanent
generation at the next pause (`gc.freeze`), so later full collections stop walking it: one
with 26,000 objects to free took 72 ms before and 19 ms after (bench: the App after six
screens opened and closed). A frozen object that dies later is still freed by its reference
count; only reference cycles among frozen objects stay (at most what was alive at the freeze,
once). Stopping unfreezes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

# No key or click for this long: the operator is reading, a pause is not felt.
IDLE_AFTER_S = 1.0
# How often the App asks (a timer): cheap, one counter read.
CHECK_EVERY_S = 0.5
# A full collection without waiting for idle once this many young collections piled up
# (CPython's own rule is 10): typing for minutes must not grow memory without bound.
BACKSTOP = 200


class IdleCollector:
    """Full collections when due and idle; `input_seen` on every key and click."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 idle_after_s: float = IDLE_AFTER_S, backstop: int = BACKSTOP) -> None:
        self._clock = clock
        self._idle_after_s = idle_after_s
        self._backstop = backstop
        self._saved: tuple[int, int, int] | None = None
        self._last_input = clock()
        self._freeze_pending = False
        self.frozen = False
        self.collections = 0  # run by this collector, for tests and the curious

    @property
    def due_after(self) -> int:
        """Young collections since the last full one that make a full one due (CPython's
        threshold while the collector is stopped)."""
        return (self._saved or gc.get_threshold())[2]

    def start(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, self._backstop)

    def stop(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def quiet_for(self, seconds: float) -> bool:
        """No key or click for `seconds`: other one-off work may take the loop now."""
        return self._clock() - self._last_input >= seconds

    def freeze_when_idle(self) -> None:
        """At the next pause, collect and freeze what is alive (once per start)."""
        if not self.frozen:
            self._freeze_pending = True

    def tick(self) -> bool:
        """Collect now if a full collection (or the freeze) is due and nobody typed for a
        while."""
        if self._saved is None or not self.quiet_for(self._idle_after_s):
            return False
        if self._freeze_pending:
            gc.collect()
            gc.freeze()
            self._freeze_pending, self.frozen = False, True
        elif gc.get_count()[2] >= self.due_after:
            gc.collect()
        else:
            return False
        self.collections += 1
        return True
