"""Waiting in Pilot tests on a condition, never on a number of `pause()` calls.

A count of pauses is a guess about how fast the machine is: on a loaded CI box, fifty
pauses can pass before a worker thread has even started. `settle` waits until what the test
needs is true, with a generous deadline that only turns a hang into a clear failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

DEADLINE_SECONDS = 20.0


async def settle(pilot: Any, until: Callable[[], object], what: str,
                 timeout: float = DEADLINE_SECONDS) -> None:
    """Let the App run until `until()` is true; fail naming `what` if it never becomes so."""
    deadline = time.monotonic() + timeout
    await pilot.pause(0.02)  # the App runs at least once: messages already posted land first
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.02)


def idle(app: Any, *groups: str) -> bool:
    """No worker of the given groups (every group when none is named) is running."""
    return not [w for w in app.workers
                if w.is_running and (not groups or w.group in groups)]
