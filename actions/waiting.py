"""Waiting for services to become healthy without `sleep 30`.

One shared poller refreshes the stack while anybody waits, and every waiter wakes on each
new snapshot: ten services waiting in parallel cost one refresh per tick, not ten. A
service is done waiting the moment its probes say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from console.monitor import Monitor
from console.status_types import ServiceStatus, StackStatus, State

FAILED_FAST = {State.EXITED, State.RESTART_LOOP}
RUNTIME_GONE_AFTER = 3  # refreshes in a row that cannot reach the runtime: it is gone


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


def is_completed(status: ServiceStatus) -> bool:
    """A one-shot job that exited 0 (Compose's `service_completed_successfully`)."""
    return status.state is State.OPERATIONAL and status.health == "completed"


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

    async def wait_up(
        self, name: str, timeout: float, done: Callable[[ServiceStatus], bool] = is_up
    ) -> WaitOutcome:
        """Until `name` is up (or `done`, e.g. a job completed), fails for good (exited,
        restart loop, or `stuck`: an image that cannot be pulled) or the timeout passes."""
        started = time.perf_counter()
        deadline = started + timeout
        outage = 0  # snapshots in a row without the runtime: a gone daemon ends the wait
        while True:
            snapshot = await self.fresh()
            status = snapshot.get(name)
            elapsed = time.perf_counter() - started
            if done(status):
                return WaitOutcome(status, True, elapsed)
            outage = outage + 1 if snapshot.runtime_error else 0
            if outage >= RUNTIME_GONE_AFTER:
                return WaitOutcome(status, False, elapsed, snapshot.runtime_error)
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
