"""The monitor: gathers runtime state and probe results concurrently, then asks the engine.

A full refresh costs the slowest probe, never the sum: the runtime listing and every host
probe start together; only services whose host probe failed while their container runs get
a follow-up probe inside the container (to tell port forwarding from a dead service).
Headless: the CLI's `status` and the console's refresh worker both call `refresh()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from console.journal import Journal
from console.model import HealthCheck, Service, Stack
from console.probes.base import ProbeResult
from console.probes.registry import run_check
from console.runtime.base import (
    ContainerState,
    Runtime,
    RuntimeEvent,
    RuntimeUnavailable,
    StreamStatus,
)
from console.status import evaluate
from console.status_types import StackStatus


def now_utc() -> datetime:
    return datetime.now(UTC)


class Monitor:
    """Produces StackStatus snapshots for one stack on one runtime."""

    def __init__(
        self,
        stack: Stack,
        runtime: Runtime | None,
        journal: Journal | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.stack = stack
        self.runtime = runtime
        self.journal = journal
        self.clock = clock
        self.last: StackStatus | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> StackStatus:
        """One full, consistent snapshot. Concurrent callers share one refresh at a time."""
        async with self._lock:
            started = time.perf_counter()
            states_task = asyncio.ensure_future(self._list_states())
            host_results = await _run_all(self._host_plan(), self.runtime)
            states, error = await states_task
            inside_results = await _run_all(self._inside_plan(states, host_results), self.runtime)
            probes: dict[str, list[ProbeResult]] = {}
            for name, result in [*host_results, *inside_results]:
                probes.setdefault(name, []).append(result)
            status = evaluate(
                self.stack,
                states,
                probes,
                self.clock(),
                runtime_error=error,
                runtime_name=self.runtime.name if self.runtime else "none",
            )
            status = replace(status, refresh_ms=(time.perf_counter() - started) * 1000)
            self._journal_transitions(status)
            self.last = status
            return status

    async def events(self) -> AsyncIterator[RuntimeEvent | StreamStatus]:
        """The runtime's push updates, journaled on the way through."""
        if self.runtime is None:
            return
        async for event in self.runtime.events(self.stack.services):
            if self.journal and isinstance(event, RuntimeEvent):
                await asyncio.to_thread(
                    self.journal.record, "event", event.service, _event_text(event), event.time
                )
            yield event

    # --- planning ---------------------------------------------------------------------

    async def _list_states(self) -> tuple[dict[str, ContainerState], str]:
        if self.runtime is None:
            return {}, ""
        try:
            return await self.runtime.list_states(self.stack.services), ""
        except RuntimeUnavailable as exc:
            return {}, str(exc)

    def _host_plan(self) -> list[tuple[Service, HealthCheck]]:
        # A cluster's pods are not on this host: probing 127.0.0.1 would test the operator's
        # own machine (or a dev stack running on it). Such runtimes set host_probes = False.
        if self.runtime is not None and not getattr(self.runtime, "host_probes", True):
            return []
        return [(s, c) for s in self.stack.services for c in s.checks if c.where == "host"]

    def _inside_plan(
        self,
        states: dict[str, ContainerState],
        host_results: Sequence[tuple[str, ProbeResult]],
    ) -> list[tuple[Service, HealthCheck]]:
        """Inside checks of running services, plus inside repeats of failed host http checks."""
        plan: list[tuple[Service, HealthCheck]] = []
        failed = {(n, r.check) for n, r in host_results if not r.ok}
        for s in self.stack.services:
            st = states.get(s.name)
            if not st or st.state != "running":
                continue
            for c in s.checks:
                if c.where == "inside":
                    plan.append((s, c))
                elif (s.name, c) in failed and c.kind == "http" and c.port:
                    plan.append((s, _inside_variant(c)))
        return plan

    def _journal_transitions(self, status: StackStatus) -> None:
        if not self.journal or status.runtime_error:
            return
        rows = [(s.name, s.state.value, "; ".join(s.issues)) for s in status.services]
        self.journal.record_transitions(rows, at=status.taken_at)


def _inside_variant(check: HealthCheck) -> HealthCheck:
    """The same question asked from inside the container, on its own loopback."""
    return replace(check, host="127.0.0.1", where="inside")


async def _run_all(
    plan: Sequence[tuple[Service, HealthCheck]], runtime: Runtime | None
) -> list[tuple[str, ProbeResult]]:
    results = await asyncio.gather(*(run_check(c, s, runtime) for s, c in plan))
    return [(s.name, r) for (s, _), r in zip(plan, results, strict=True)]


def _event_text(event: RuntimeEvent) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in sorted(event.attributes.items()) if k in _EVENT_KEYS)
    return event.action + (f" ({extra})" if extra else "")


_EVENT_KEYS = {"exitCode", "health", "signal"}
