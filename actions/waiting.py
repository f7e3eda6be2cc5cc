"""Waiting for services to become healthy without `sleep 30`.

One shared poller refreshes the stack while anybody waits, and every waiter wakes on each
new snapshot: ten services waiting in parallel cost one refresh per tick, not ten. A
service is done waiting the moment its probes say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from console.monitor import Monitor
from console.status_types import ServiceStatus, StackStatus, State

FAILED_FAST = {State.EXITED, State.RESTART_LOOP}


@dataclass(frozen=True)
class WaitOutcome:
    status: ServiceStatus
    ok: bool
    seconds: float
    reason: str = ""


def is_up(status: ServiceStatus) -> bool:
    """Operational, or running with no health endpoint to wait on (nothing more to learn)."""
    if status.state is State.OPERATIONAL:
        return True
    return status.state is State.DEGRADED and status.health == "none"


class StatusWaiter:
    """Shares one refresh loop among all waiters."""

    def __init__(self, monitor: Monitor, interval: float = 0.25) -> None:
        self.monitor = monitor
        self.interval = interval
        self.latest: StackStatus | None = monitor.last
        self._cond = asyncio.Condition()
        self._waiters = 0
        self._task: asyncio.Task[None] | None = None

    async def fresh(self) -> StackStatus:
        """A snapshot taken after this call started."""
        self._waiters += 1
        self._ensure_loop()
        try:
            async with self._cond:
                await self._cond.wait()
                assert self.latest is not None
                return self.latest
        finally:
            self._waiters -= 1

    async def wait_up(self, name: str, timeout: float) -> WaitOutcome:
        """Until `name` is up, fails for good (exited, restart loop, or `stuck`: an image
        that cannot be pulled) or the timeout passes."""
        started = time.perf_counter()
        deadline = started + timeout
        while True:
            status = (await self.fresh()).get(name)
            elapsed = time.perf_counter() - started
            if is_up(status):
                return WaitOutcome(status, True, elapsed)
            if status.state in FAILED_FAST or status.stuck:
                return WaitOutcome(status, False, elapsed, "; ".join(status.issues))
            if time.perf_counter() >= deadline:
                reason = f"not healthy after {timeout:g}s: " + ("; ".join(status.issues) or "-")
                return WaitOutcome(status, False, elapsed, reason)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _ensure_loop(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while self._waiters > 0:
            tick = time.perf_counter()
            status = await self.monitor.refresh()
            async with self._cond:
                self.latest = status
                self._cond.notify_all()
            await asyncio.sleep(max(0.0, self.interval - (time.perf_counter() - tick)))
