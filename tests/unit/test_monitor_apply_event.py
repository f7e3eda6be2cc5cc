"""A runtime event is evaluated at once: `die` shows the exit before any listing confirms it.

The runtime here is a loopback-free stand-in (a listing the test controls): what is under
test is the monitor's bookkeeping, the order of guesses and listings.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from console.journal import Journal
from console.model import Service, Stack
from console.monitor import Monitor
from console.runtime.base import ContainerState, RuntimeEvent
from console.status.types import State

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
STACK = Stack("t", (Service("web"),))


class ListedRuntime:
    """list_states answers what `listing` says, after `gate` opens when one is set."""

    name = "docker"

    def __init__(self, state: str) -> None:
        self.listing = {"web": ContainerState("web", present=True, container_id="abc123def",
                                              state=state, exit_code=None)}
        self.gate: asyncio.Event | None = None

    async def list_states(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        snapshot = dict(self.listing)
        if self.gate is not None:
            await self.gate.wait()
        return snapshot


def monitor_on(runtime: ListedRuntime) -> Monitor:
    return Monitor(STACK, runtime, clock=lambda: NOW)  # type: ignore[arg-type]


async def test_die_shows_the_exit_code_before_any_listing() -> None:
    runtime = ListedRuntime("running")
    monitor = monitor_on(runtime)
    assert (await monitor.refresh_states()).get("web").state is not State.EXITED
    died = RuntimeEvent("web", "die", NOW, "abc123", {"exitCode": "137"})
    status = monitor.apply_event(died)
    assert status is not None
    assert status.get("web").state is State.EXITED
    assert status.get("web").issues[0].startswith("exited with code 137")
    started = monitor.apply_event(RuntimeEvent("web", "start", NOW, "abc123def"))
    assert started is not None and started.get("web").state is not State.EXITED


async def test_events_that_say_nothing_certain_change_nothing() -> None:
    monitor = monitor_on(ListedRuntime("running"))
    await monitor.refresh_states()
    assert monitor.apply_event(RuntimeEvent("web", "kill", NOW, "abc123")) is None  # not dead yet
    assert monitor.apply_event(RuntimeEvent("web", "die", NOW, "0ther")) is None  # another one
    assert monitor.apply_event(RuntimeEvent("ghost", "die", NOW, "abc123")) is None


async def test_a_listing_older_than_the_event_does_not_undo_it() -> None:
    """A listing in flight when the container died still says running: it is dropped, and
    the next listing (after the event) is kept."""
    runtime = ListedRuntime("running")
    monitor = monitor_on(runtime)
    await monitor.refresh_states()
    runtime.gate = asyncio.Event()
    stale = asyncio.ensure_future(monitor.refresh_states())  # lists "running", then waits
    await asyncio.sleep(0.05)
    monitor.apply_event(RuntimeEvent("web", "die", NOW, "abc123", {"exitCode": "1"}))
    runtime.listing["web"] = ContainerState("web", present=True, container_id="abc123def",
                                            state="exited", exit_code=1)
    runtime.gate.set()
    assert (await stale).get("web").state is State.EXITED
    assert (await monitor.refresh_states()).get("web").issues[0].startswith("exited with code 1")


class EventRuntime(ListedRuntime):
    """One `die` event on its stream, then nothing."""

    async def events(self, services: Sequence[Service]):  # type: ignore[no-untyped-def]
        yield RuntimeEvent("web", "die", NOW, "abc123def", {"exitCode": "1"})
        await asyncio.Event().wait()


class SlowJournal(Journal):
    """`record` blocks until the test lets it finish: a disk that takes its time."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, stack="t")
        self.release = threading.Event()

    def record(self, kind: str, service: str, text: str, at: datetime | None = None) -> None:
        self.release.wait(10)
        super().record(kind, service, text, at)


async def test_an_event_reaches_the_caller_before_its_journal_write_finishes(
    tmp_path: Path,
) -> None:
    """The journal write is beside the event, not in front of it: with the write stuck, the
    event is still handed on, and once the write finishes the journal holds it."""
    journal = SlowJournal(tmp_path / "j.sqlite3")
    monitor = Monitor(STACK, EventRuntime("running"), journal=journal,  # type: ignore[arg-type]
                      clock=lambda: NOW)
    stream = monitor.events()
    event = await asyncio.wait_for(anext(stream), 5)
    assert isinstance(event, RuntimeEvent) and event.action == "die"
    assert [e.kind for e in journal.timeline(limit=10)] == []  # still being written
    journal.release.set()
    for _ in range(500):
        if journal.timeline(limit=10):
            break
        await asyncio.sleep(0.01)
    assert [(e.kind, e.service) for e in journal.timeline(limit=10)] == [("event", "web")]
    await stream.aclose()
