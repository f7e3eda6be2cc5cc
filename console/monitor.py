"""The monitor: gathers runtime state and probe results concurrently, then asks the engine.

A full refresh costs the slowest probe, never the sum: the runtime listing and every host
probe start together; an http check the host cannot answer quickly is also asked inside
its running container, at the same time (to tell port forwarding from a dead service), so
even hanging services cost one probe timeout.
Headless: the CLI's `status` and the console's refresh worker both call `refresh()`.

The monitor also keeps the engine's `History`: the last published states, how many full
probe rounds in a row each service failed (hysteresis: one lost probe does not flip a
service), and the (re)starts the console or the operator asked for (journaled, so a
restart from another process counts too), which never count toward a restart loop.
A read-only monitor (`record_transitions=False`: `status`, `report`) reads the journal but
never writes into it.
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
from console.status.engine import RESTART_LOOP_WINDOW, History, evaluate
from console.status.types import StackStatus

# An http host probe that has not answered after this long is also asked inside.
HEDGE_S = 0.3
# How long an exit seen early outvotes listings that still say running (Docker's `die`
# comes 0.1-0.3 s later; a daemon that never says so within this is believed instead).
EARLY_EXIT_TRUST_S = 10.0
StatesTask = asyncio.Future[tuple[dict[str, ContainerState], str]]


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
        record_transitions: bool = True,
    ) -> None:
        self.stack = stack
        self.runtime = runtime
        self.journal = journal
        self.clock = clock
        self.record_transitions = record_transitions
        self._failed_rounds: dict[str, int] = {}
        self._asked_starts: dict[str, list[datetime]] = {}  # when no journal keeps them
        self.last: StackStatus | None = None
        self._lock = asyncio.Lock()
        self._states_lock = asyncio.Lock()
        self._probes: dict[str, list[ProbeResult]] = {}
        # The newest runtime listing, numbered, so a full refresh that started before an
        # event never publishes the states it listed earlier over the newer ones.
        self._states_seq = 0
        self._states: tuple[dict[str, ContainerState], str] = ({}, "")
        self._journal_writes: set[asyncio.Future[None]] = set()  # events being journaled
        # Exits the runtime saw before its own report (RuntimeEvent.early), kept over
        # listings that still say running: service -> (exited state, when seen).
        self._ended_early: dict[str, tuple[ContainerState, float]] = {}

    async def refresh(self) -> StackStatus:
        """One full, consistent snapshot. Concurrent callers share one refresh at a time."""
        async with self._lock:
            started = time.perf_counter()
            seq = self._states_seq
            states_task = asyncio.ensure_future(self._list_states())
            batches = await asyncio.gather(
                *(self._host_check(s, c, states_task) for s, c in self._host_plan()),
                self._inside_checks(states_task),
            )
            listed = await states_task
            probes: dict[str, list[ProbeResult]] = {}
            for name, result in (pair for batch in batches for pair in batch):
                probes.setdefault(name, []).append(result)
            self._probes = probes
            self._count_failed_rounds(probes)
            if self._states_seq == seq:
                self._keep_states(self._trust_early_exits(listed))
            return self._publish(started)

    async def refresh_states(self) -> StackStatus:
        """A snapshot from a fresh runtime listing and the last probe results.

        What a runtime event calls for: a killed container shows as exited in the time of
        one list call, instead of waiting for a full refresh whose slowest probe may take a
        whole timeout. The full refresh that follows brings the probes up to date.
        """
        async with self._states_lock:
            started = time.perf_counter()
            seq = self._states_seq
            listed = await self._list_states()
            if self._states_seq == seq:  # an event applied meanwhile is newer than this
                self._keep_states(self._trust_early_exits(listed))
            return self._publish(started)

    def apply_event(self, event: RuntimeEvent) -> StackStatus | None:
        """What a runtime event says, evaluated at once, before any listing confirms it.

        Push beats polling: Docker's `die` carries the exit code and `start` means running,
        so the changed row can be on screen in the time of one evaluation instead of one
        list-and-inspect round trip to the daemon (~300 ms on a loaded box, most of the
        time from `docker kill` to the row: bench/events_to_screen.py). Only those two
        actions change a state, only for the container already known for the service; the
        listing the caller requests next replaces the guess within one list call.
        None when the event changes nothing this way.
        """
        states, error = self._states
        known = states.get(event.service)
        if known is None or not _same_container(known.container_id, event.container_id):
            return None
        if event.action == "die":
            code = event.attributes.get("exitCode", "")
            changed = replace(known, state="exited", finished_at=event.time,
                              exit_code=int(code) if code.lstrip("-").isdigit()
                              else known.exit_code)
        elif event.action == "start":
            changed = replace(known, state="running", started_at=event.time, exit_code=None,
                              finished_at=None)
        else:
            return None
        started = time.perf_counter()
        if event.early:
            self._ended_early[event.service] = (changed, time.monotonic())
        else:
            self._ended_early.pop(event.service, None)
        self._keep_states(({**states, event.service: changed}, error))
        return self._publish(started)

    def _trust_early_exits(self, listed: tuple[dict[str, ContainerState], str]
                           ) -> tuple[dict[str, ContainerState], str]:
        """A listing taken between a process's end and the runtime's `die` still says
        running: the exit seen early stays on screen (no flip back and forth, no false
        transitions in the journal) until the runtime agrees, the container starts again,
        or EARLY_EXIT_TRUST_S pass without the runtime saying so."""
        states, error = listed
        for name, (ended, at) in list(self._ended_early.items()):
            now = states.get(name)
            if now is not None and now.state == "running" and now.started_at == ended.started_at \
                    and _same_container(now.container_id, ended.container_id) \
                    and time.monotonic() - at < EARLY_EXIT_TRUST_S:
                states = {**states, name: ended}
            else:
                del self._ended_early[name]
        return states, error

    def _keep_states(self, listed: tuple[dict[str, ContainerState], str]) -> None:
        self._states_seq += 1
        self._states = listed

    def _publish(self, started: float) -> StackStatus:
        """Evaluate the newest states with the newest probes, journal, remember, return."""
        states, error = self._states
        status = evaluate(
            self.stack,
            states,
            self._probes,
            self.clock(),
            runtime_error=error,
            runtime_name=self.runtime.name if self.runtime else "none",
            history=self._history(),
        )
        status = replace(status, refresh_ms=(time.perf_counter() - started) * 1000)
        self._journal_transitions(status)
        self.last = status
        return status

    def note_operator_start(self, service: str, verb: str = "restart") -> None:
        """Say that the console is about to (re)start `service` on someone's request.

        Called right before the runtime call; journaled (kind `operator`) so that every
        console and headless command sees it, and kept here when there is no journal.
        The engine never counts the restart it explains toward a restart loop.
        """
        at = self.clock()
        if self.journal is not None:
            self.journal.record("operator", service, f"{verb} asked by the console", at)
        else:
            self._asked_starts.setdefault(service, []).append(at)

    def _history(self) -> History:
        previous = {s.name: s.state for s in self.last.services} if self.last else {}
        return History(previous, dict(self._failed_rounds), self._operator_starts())

    def _operator_starts(self) -> dict[str, list[datetime]]:
        since = self.clock() - RESTART_LOOP_WINDOW
        if self.journal is not None:
            return self.journal.operator_starts(since)
        return {n: [t for t in ts if t >= since] for n, ts in self._asked_starts.items()}

    def _count_failed_rounds(self, probes: dict[str, list[ProbeResult]]) -> None:
        """One more failed round for each service with a failing probe; others back to 0."""
        for service in self.stack.services:
            failed = any(not r.ok for r in probes.get(service.name, ()))
            self._failed_rounds[service.name] = (
                self._failed_rounds.get(service.name, 0) + 1 if failed else 0)

    async def events(self) -> AsyncIterator[RuntimeEvent | StreamStatus]:
        """The runtime's push updates, journaled on the way through.

        The journal write runs beside the event, in a thread, instead of before it: that
        thread hop was on the path from `docker kill` to the row on screen
        (bench/events_to_screen.py). Entries keep the event's own time.
        """
        if self.runtime is None:
            return
        async for event in self.runtime.events(self.stack.services):
            if self.journal and isinstance(event, RuntimeEvent) and not event.early:
                write = asyncio.ensure_future(asyncio.to_thread(
                    self.journal.record, "event", event.service, _event_text(event), event.time))
                self._journal_writes.add(write)
                write.add_done_callback(self._journal_writes.discard)
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

    async def _host_check(self, service: Service, check: HealthCheck, states_task: StatesTask
                          ) -> list[tuple[str, ProbeResult]]:
        """A host check; an http one that has not answered within the hedge delay is asked
        again inside the running container, at the same time.

        Asking inside tells a dead service from broken port forwarding. Starting it while
        the host probe still waits (instead of after its timeout) keeps a refresh bounded by
        one probe timeout even when services hang; a host answer that comes after all wins
        and the inside question is dropped.
        """
        started = asyncio.Event()  # set when the probe gets its slot (probes are bounded)
        host = asyncio.ensure_future(run_check(check, service, self.runtime, started))
        if check.kind != "http" or not check.port:
            return [(service.name, await host)]
        hedge = min(HEDGE_S, check.timeout / 4)
        await started.wait()  # the hedge counts from the probe's start, not from its queueing
        done, _ = await asyncio.wait({host}, timeout=hedge)
        if done and host.result().ok:
            return [(service.name, host.result())]
        states, _ = await states_task
        state = states.get(service.name)
        if state is None or state.state != "running" or state.health == "starting":
            # Docker's own check is still starting: the verdict is "starting" whatever the
            # inside says, and an exec per starting container is what a bring-up can't afford.
            return [(service.name, await host)]
        # The inside question gets what is left of the host's timeout (at least half a
        # second for the exec round trip), so both end together.
        inside_check = replace(_inside_variant(check),
                               timeout=max(check.timeout - hedge, min(check.timeout, 0.5)))
        inside = asyncio.ensure_future(run_check(inside_check, service, self.runtime))
        host_result = await host
        if host_result.ok:
            inside.cancel()
            return [(service.name, host_result)]
        return [(service.name, host_result), (service.name, await inside)]

    async def _inside_checks(self, states_task: StatesTask) -> list[tuple[str, ProbeResult]]:
        """The stack's own inside checks, of running services, once their states are known."""
        states, _ = await states_task
        plan = [(s, c) for s in self.stack.services for c in s.checks
                if c.where == "inside" and (st := states.get(s.name)) and st.state == "running"]
        return await _run_all(plan, self.runtime)

    def _journal_transitions(self, status: StackStatus) -> None:
        if not self.journal or not self.record_transitions or status.runtime_error:
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


def _same_container(known: str, reported: str) -> bool:
    """Ids may be short or full: the same container when one is a prefix of the other."""
    return bool(known and reported) and (known.startswith(reported) or reported.startswith(known))


def _event_text(event: RuntimeEvent) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in sorted(event.attributes.items()) if k in _EVENT_KEYS)
    return event.action + (f" ({extra})" if extra else "")


_EVENT_KEYS = {"exitCode", "health", "signal"}
