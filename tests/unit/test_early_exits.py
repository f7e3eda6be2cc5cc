"""An exit seen before the runtime reports it (RuntimeEvent.early, console/runtime/docker/exits.py).

Two halves: the watcher over real processes (children of the test, watched through pidfds as
the console watches a container's main process) and the monitor's bookkeeping (an early
exit outvotes a listing that still says running, until the runtime's own `die` comes).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import console.monitor as monitor_module
from console.journal import Journal
from console.model import Service, Stack
from console.monitor import Monitor
from console.runtime.base import ContainerState, RuntimeEvent
from console.runtime.docker.exits import MainProcess, ProcessExits, in_container
from console.runtime.docker.runtime import main_processes
from console.status.types import State

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
STARTED = NOW - timedelta(minutes=5)
CID = "c0ffee" * 10 + "abcd"
STACK = Stack("t", (Service("web"), Service("db")))


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


async def _events_after(watcher: ProcessExits, seen: list[RuntimeEvent], seconds: float) -> None:
    for _ in range(int(seconds / 0.01)):
        if seen:
            return
        await asyncio.sleep(0.01)


async def test_a_watched_process_that_dies_is_one_early_die_event(sleeper) -> None:  # type: ignore[no-untyped-def]
    seen: list[RuntimeEvent] = []
    watcher = ProcessExits(seen.append, belongs=lambda pid, cid: True, clock=lambda: NOW)
    watcher.watch([MainProcess("web", CID, sleeper.pid)])
    assert watcher.watched == {CID}
    sleeper.kill()
    await _events_after(watcher, seen, 5)
    await asyncio.sleep(0.05)
    assert seen == [RuntimeEvent("web", "die", NOW, CID, {"source": "process"}, early=True)]
    assert watcher.watched == set()  # watched once: its pidfd is closed


async def test_a_pid_that_is_not_the_containers_is_never_watched(sleeper) -> None:  # type: ignore[no-untyped-def]
    """The pid was reused since the listing: /proc/PID/cgroup does not name the container."""
    seen: list[RuntimeEvent] = []
    asked: list[tuple[int, str]] = []
    watcher = ProcessExits(seen.append, belongs=lambda pid, cid: asked.append((pid, cid)) or False)
    watcher.watch([MainProcess("web", CID, sleeper.pid)])
    watcher.watch([MainProcess("web", CID, sleeper.pid)])  # the next listing: not asked again
    sleeper.kill()
    await asyncio.sleep(0.2)
    assert asked == [(sleeper.pid, CID)]
    assert watcher.watched == set() and seen == []


async def test_a_container_no_longer_listed_or_a_closed_watcher_says_nothing(sleeper) -> None:  # type: ignore[no-untyped-def]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        seen: list[RuntimeEvent] = []
        watcher = ProcessExits(seen.append, belongs=lambda pid, cid: True)
        watcher.watch([MainProcess("web", CID, sleeper.pid),
                       MainProcess("db", "d" * 64, other.pid)])
        watcher.watch([MainProcess("db", "d" * 64, other.pid)])  # web stopped being listed
        sleeper.kill()
        await asyncio.sleep(0.2)
        assert seen == [] and watcher.watched == {"d" * 64}
        watcher.close()
        other.kill()
        await asyncio.sleep(0.2)
        assert seen == [] and watcher.watched == set()
    finally:
        other.kill()
        other.wait()


async def test_a_pid_gone_or_out_of_sight_is_skipped_without_error() -> None:
    seen: list[RuntimeEvent] = []
    watcher = ProcessExits(seen.append, belongs=lambda pid, cid: True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    watcher.watch([MainProcess("web", CID, gone.pid)])
    assert watcher.watched == set() and seen == []
    idle = ProcessExits(None)  # nobody follows events: nothing is opened
    idle.watch([MainProcess("web", CID, os.getpid())])
    assert idle.watched == set()


def test_a_process_belongs_to_a_container_only_when_its_cgroup_names_it() -> None:
    own = Path(f"/proc/{os.getpid()}/cgroup")
    assert not in_container(os.getpid(), CID)
    assert not in_container(1, CID)  # never init
    assert not in_container(os.getpid(), "")  # never a blank id
    line = own.read_text().splitlines()[-1]
    path_tail = line.rsplit("/", 1)[-1]
    if len(path_tail) >= 12:  # the test itself runs in a container: its cgroup names it
        assert in_container(os.getpid(), path_tail)


def test_only_running_long_lived_services_are_watched() -> None:
    services = [Service("web"), Service("migrate", oneshot=True), Service("db"), Service("mq")]
    details = {
        "web": {"Id": "w" * 64, "State": {"Status": "running", "Pid": 4242}},
        "migrate": {"Id": "m" * 64, "State": {"Status": "running", "Pid": 4243}},
        "db": {"Id": "d" * 64, "State": {"Status": "exited", "Pid": 0}},
    }
    assert main_processes(services, details) == [MainProcess("web", "w" * 64, 4242)]


# --- the monitor: an early exit against listings and the runtime's own die ---------------


class EarlyRuntime:
    """A listing the test sets; events the test queues (an early die, then Docker's)."""

    name = "docker"

    def __init__(self) -> None:
        self.listing = {n: ContainerState(n, present=True, container_id=CID if n == "web"
                                          else "d" * 64, state="running", started_at=STARTED)
                        for n in ("web", "db")}
        self.queue: asyncio.Queue[RuntimeEvent] = asyncio.Queue()

    async def list_states(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        return dict(self.listing)

    async def events(self, services: Sequence[Service]) -> AsyncIterator[RuntimeEvent]:
        while True:
            yield await self.queue.get()


EARLY = RuntimeEvent("web", "die", NOW, CID, {"source": "process"}, early=True)
DOCKER_DIE = RuntimeEvent("web", "die", NOW, CID, {"exitCode": "137"})


async def test_a_listing_between_the_early_exit_and_dockers_die_keeps_it_exited() -> None:
    runtime = EarlyRuntime()
    monitor = Monitor(STACK, runtime, clock=lambda: NOW)  # type: ignore[arg-type]
    assert (await monitor.refresh_states()).get("web").state is not State.EXITED
    early = monitor.apply_event(EARLY)
    assert early is not None and early.get("web").state is State.EXITED
    assert early.get("web").issues[0] == "exited (exit code not reported yet)"
    still = await monitor.refresh_states()  # Docker has not processed the exit yet
    assert still.get("web").state is State.EXITED
    assert still.get("db").state is not State.EXITED
    told = monitor.apply_event(DOCKER_DIE)
    assert told is not None and told.get("web").issues[0].startswith("exited with code 137")
    runtime.listing["web"] = ContainerState("web", present=True, container_id=CID,
                                            state="running", started_at=NOW)  # restarted
    assert (await monitor.refresh_states()).get("web").state is not State.EXITED


async def test_a_container_started_again_or_a_silent_daemon_ends_the_early_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = EarlyRuntime()
    monitor = Monitor(STACK, runtime, clock=lambda: NOW)  # type: ignore[arg-type]
    await monitor.refresh_states()
    monitor.apply_event(EARLY)
    runtime.listing["web"] = ContainerState("web", present=True, container_id=CID,
                                            state="running", started_at=NOW)  # a restart policy
    assert (await monitor.refresh_states()).get("web").state is not State.EXITED
    runtime.listing["web"] = ContainerState("web", present=True, container_id=CID,
                                            state="running", started_at=STARTED)
    monitor.apply_event(EARLY)
    monkeypatch.setattr(monitor_module, "EARLY_EXIT_TRUST_S", 0.0)  # Docker never said so
    assert (await monitor.refresh_states()).get("web").state is not State.EXITED


async def test_the_journal_keeps_dockers_die_and_one_transition_not_the_early_sign(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "j.sqlite3", stack="t")
    runtime = EarlyRuntime()
    monitor = Monitor(STACK, runtime, journal=journal, clock=lambda: NOW)  # type: ignore[arg-type]
    await monitor.refresh_states()
    stream = monitor.events()
    for event in (EARLY, DOCKER_DIE):
        runtime.queue.put_nowait(event)
        got = await asyncio.wait_for(anext(stream), 5)
        monitor.apply_event(got)
        await monitor.refresh_states()  # the listing each event asks for
        runtime.listing["web"] = ContainerState("web", present=True, container_id=CID,
                                                state="exited", exit_code=137,
                                                started_at=STARTED)  # once Docker has it
    await stream.aclose()
    for _ in range(200):
        if any(e.kind == "event" for e in journal.timeline(limit=50)):
            break
        await asyncio.sleep(0.01)
    web = [(e.kind, e.text) for e in journal.timeline(limit=50) if e.service == "web"]
    assert [text for kind, text in web if kind == "event"] == ["die (exitCode=137)"]
    # The first listing's transition, then one to exited: never back and forth.
    assert sorted(text for kind, text in web if kind == "transition") == [
        "exited (exit code not reported yet)", "no health endpoint"], web
