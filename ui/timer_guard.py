"""No Textual timer with a delay of zero or less: one froze the whole console.

Textual 8.2's `Timer._run` (pinned in pyproject.toml), in a one-shot timer (`set_timer`) with
`skip` on, its default, computes `count = int((now - start) / interval + 1)` when the next
tick is already due and goes round again without awaiting. With a negative interval that
count never passes the tick, so the loop spins forever on the event loop: no key, no frame,
100% CPU until the process is killed. With an interval of zero it divides by zero.

The console computes no such delay itself, but Textual does: a toast's timer is its
notification's time left, read when the `Toast` is built, after `ToastRack.show` has checked
that the notification has not expired. A notification that runs out between the two (a
screen switched as a toast ran out, a garbage collection in between) gave a timer of a few
microseconds below zero; `bench/keys_pilot.py` hung that way in one run of six.

`guard_timers` makes every timer's interval at least MIN_INTERVAL_S: a timer already due
fires at the next tick, as `set_timer(0.001)` does.
tests/ui/test_ui_timer_guard.py runs the frozen cases in a child process with a deadline.
"""

from __future__ import annotations

import functools
from typing import Any

from textual.timer import Timer

MIN_INTERVAL_S = 0.001
_GUARD_FLAG = "_vextrus_interval_guard"


def safe_interval(interval: float) -> float:
    """INTERVAL, or MIN_INTERVAL_S for zero, negative or not-a-number delays."""
    # NaN compares false, so it takes the minimum too.
    return interval if interval >= MIN_INTERVAL_S else MIN_INTERVAL_S


def guard_timers() -> None:
    """Wrap `Timer.__init__` once (calling it again changes nothing)."""
    original = Timer.__init__
    if getattr(original, _GUARD_FLAG, False):
        return

    @functools.wraps(original)
    def guarded(self: Timer, event_target: Any, interval: float, *args: Any, **kwargs: Any) -> None:
        original(self, event_target, safe_interval(interval), *args, **kwargs)

    setattr(guarded, _GUARD_FLAG, True)
    Timer.__init__ = guarded  # type: ignore[method-assign]
