"""Waiting for services to become healthy without `sleep 30`.

One shared poller refreshes the stack while anybody waits, and every waiter wakes on each
new snapshot: ten services waiting in parallel cost one refresh per tick, not ten. A
service is done waiting the moment its probes say so, and a wait ends at once on a failure
that waiting cannot heal (`permanent_reason`: exited, restart loop, a stuck image, a 404 on
the health path, the same fault after a restart); transient states (starting, restarting,
recovering, blocked) are waited on up to the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from console.monitor import Monitor
from console.status.types import ServiceStatus, StackStatus, State

FAILED_FAST = {State.EXITED, State.RESTART_LOOP}
RUNTIME_GONE_AFTER = 3  # refreshes in a row that cannot reach the runtime: it is gone
MISSING_ROUTE_AFTER = 2  # snapshots in a row with the health path answering 404
UNCHANGED_AFTER_S = 5.0  # up this long after a restart with the same fault: it stays
RUNNING_FAILING = {State.UNHEALTHY, State.UNREACHABLE}  # running, answering wrongly


@dataclass(frozen=True)
class WaitOutcome:
    status: ServiceStatus
    ok: bool
    seconds: float
    reason: str = ""
    permanent: bool = False  # waiting longer would not change it: stopped at once


def permanent_reason(status: ServiceStatus, fault: str = "", waited_s: float = 0.0) -> str:
    """Why waiting cannot help (a permanent failure, stop now), or '' (transient: wait).

    Permanent: the process exited or loops (FAILED_FAST), the runtime says it is stuck (an
    image that cannot be pulled), or `fault` (what was wrong before a restart) is what the
    restarted service says again after UNCHANGED_AFTER_S of its new uptime. A 404 on the
    health path is judged by the waiter over MISSING_ROUTE_AFTER snapshots.
    Transient: not started yet, starting, restarting, recovering, blocked, refused
    connections while it comes up.
    """
    if status.state in FAILED_FAST or status.stuck:
        return "; ".join(status.issues) or status.state.value
    if fault and status.issues and status.issues[0] == fault and status.uptime_s is not None:
        fresh = status.uptime_s <= waited_s + 2.0  # this is the restarted instance
        if fresh and status.uptime_s >= UNCHANGED_AFTER_S:
            return f"unchanged after a restart: {fault}"
    return ""


def missing_route(status: ServiceStatus) -> bool:
    """Up, but the health path answers 404: no amount of waiting maps the route."""
    return status.state is State.UNHEALTHY and status.health == "none" and any(
        "answers 404" in issue for issue in status.issues)


def running_but_failing(status: ServiceStatus) -> bool:
    """Running and answering wrongly (a bring-up restarts these instead of waiting)."""
    return status.runtime_state == "running" and status.state in RUNNING_FAILING


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
        self, name: str, timeout: float, done: Callable[[ServiceStatus], bool] = is_up,
        fault: str = "",
    ) -> WaitOutcome:
        """Until `name` is up (or `done`, e.g. a job completed), fails for good (see
        `permanent_reason`: then at once, never after the whole timeout) or the timeout
        passes. `fault`: the issue the service had before a restart."""
        started = time.perf_counter()
        deadline = started + timeout
        outage = 0  # snapshots in a row without the runtime: a gone daemon ends the wait
        missing = 0  # snapshots in a row with a 404 on the health path
        while True:
            snapshot = await self.fresh()
            status = snapshot.get(name)
            elapsed = time.perf_counter() - started
            if done(status):
                return WaitOutcome(status, True, elapsed)
            outage = outage + 1 if snapshot.runtime_error else 0
            if outage >= RUNTIME_GONE_AFTER:
                return WaitOutcome(status, False, elapsed, snapshot.runtime_error, True)
            missing = missing + 1 if missing_route(status) else 0
            why = permanent_reason(status, fault, elapsed)
            if not why and missing >= MISSING_ROUTE_AFTER:
                why = "; ".join(status.issues)
            if why:
                return WaitOutcome(status, False, elapsed, why, permanent=True)
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
