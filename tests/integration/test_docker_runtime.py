"""The Docker runtime against a real daemon: states, exec, logs, events, and an outage.

Containers are made by `dockerlab` (busybox FROM scratch, host or no networking, compose
labels). The outage test runs a second, disposable dockerd so the shared one is untouched.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from console.model import RuntimeNames, Service
from console.runtime.base import (
    ContainerState,
    LogLine,
    Runtime,
    RuntimeEvent,
    RuntimeUnavailable,
    StreamStatus,
)
from console.runtime.docker.runtime import (
    DockerActionError,
    DockerRuntime,
)
from tests.dockerlab import IMAGE, DockerLab, ScratchDaemon, free_port

docker = pytest.mark.docker


def svc(compose: str, name: str | None = None) -> Service:
    """A stack service whose stack name may differ from its compose name."""
    return Service(name=name or compose, runtime=RuntimeNames(compose=compose))


@pytest.fixture(scope="module")
def scenario(docker_lab: DockerLab) -> dict[str, int]:
    """The shapes the matrix must tell apart, started once for the module."""
    ports = {"web": free_port(), "sick": free_port(), "island": free_port()}
    docker_lab.healthy("web", ports["web"])
    docker_lab.unhealthy("sick", ports["sick"])
    docker_lab.crash_loop("loop", code=3)
    docker_lab.exited("done", 4)
    docker_lab.no_network("island", ports["island"])
    return ports


@pytest.fixture
async def rt(docker_lab: DockerLab) -> AsyncIterator[DockerRuntime]:
    runtime = DockerRuntime(docker_lab.project)
    try:
        yield runtime
    finally:
        await runtime.close()


def _recent(t: datetime | None, seconds: float = 120) -> bool:
    return t is not None and t.tzinfo is not None and abs(datetime.now(UTC) - t) < timedelta(
        seconds=seconds
    )


# --- list_states --------------------------------------------------------------------------


@docker
async def test_runtime_satisfies_the_protocol(rt: DockerRuntime) -> None:
    assert isinstance(rt, Runtime)
    assert rt.name == "docker"


@docker
async def test_list_states_tells_every_shape_apart(
    rt: DockerRuntime, scenario: dict[str, int], docker_lab: DockerLab
) -> None:
    services = [svc("web", "auth"), svc("sick"), svc("loop"), svc("done"), svc("island"),
                svc("ghost")]
    states = await rt.list_states(services)
    assert set(states) == {"auth", "sick", "loop", "done", "island", "ghost"}

    web = states["auth"]
    assert (web.service, web.present, web.state, web.health) == ("auth", True, "running", "healthy")
    assert web.health_log and web.health_log[-1] == "ok"
    assert web.container_name == f"{docker_lab.project}-web-1"
    assert web.container_id == docker_lab.container("web").id
    assert (web.exit_code, web.oom_killed, web.error) == (None, False, "")
    assert (web.network_mode, web.image, web.ports, web.restart_policy) == ("host", IMAGE, (), "")
    assert web.restart_count == 0
    assert _recent(web.started_at) and web.finished_at is None

    sick = states["sick"]
    assert (sick.state, sick.health) == ("running", "unhealthy")
    assert 1 <= len(sick.health_log) <= 3
    assert sick.health_log[-1] == "wget: server returned error: HTTP/1.1 404 Not Found"

    done = states["done"]
    assert (done.state, done.exit_code, done.health, done.oom_killed) == ("exited", 4, None, False)
    # no order between the two: for a process this quick Docker may stamp FinishedAt first
    assert _recent(done.finished_at) and _recent(done.started_at)

    island = states["island"]
    assert (island.state, island.network_mode, island.health) == ("running", "none", None)

    assert states["ghost"] == ContainerState(service="ghost")


@docker
async def test_a_fresh_runtime_sees_a_restart_loop_at_once(
    rt: DockerRuntime, scenario: dict[str, int]
) -> None:
    """The daemon's event history fills `recent_restarts` on the very first list."""
    loop = (await rt.list_states([svc("loop")]))["loop"]
    assert loop.restart_policy == "always"
    assert loop.restart_count >= 3
    assert len(loop.recent_restarts) >= 3
    assert list(loop.recent_restarts) == sorted(loop.recent_restarts)
    assert all(_recent(t, 300) for t in loop.recent_restarts)
    assert loop.state in ("restarting", "running")
    if loop.state == "restarting":
        assert loop.exit_code == 3


@docker
async def test_forty_containers_list_quickly(rt: DockerRuntime, docker_lab: DockerLab) -> None:
    names = [f"bulk{i:02d}" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(docker_lab.created, names))
    try:
        services = [svc(n) for n in names]
        started = time.perf_counter()
        states = await rt.list_states(services)
        first_ms = (time.perf_counter() - started) * 1000
        warm = []
        for _ in range(5):
            started = time.perf_counter()
            await rt.list_states(services)
            warm.append((time.perf_counter() - started) * 1000)
        median = statistics.median(warm)
        print(f"\nlist_states, 40 containers: first {first_ms:.1f} ms, warm median {median:.1f} ms")
        assert all(s.state == "created" for s in states.values())
        assert median < 1000  # generous: the figure above is what matters
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: docker_lab.container(n).remove(force=True), names))


# --- actions ------------------------------------------------------------------------------


@docker
async def test_start_of_a_missing_container_says_compose_would_create_it(
    rt: DockerRuntime,
) -> None:
    with pytest.raises(DockerActionError) as err:
        await rt.start(svc("ghost", "billing"))
    text = str(err.value)
    assert "billing" in text and "nothing to start" in text and "compose would create it" in text
    assert "\n" not in text


@docker
async def test_stop_start_restart_and_pause_restarts(
    rt: DockerRuntime, docker_lab: DockerLab
) -> None:
    docker_lab.healthy("cycle", free_port(), with_healthcheck=False)
    service = svc("cycle")
    await rt.stop(service, timeout=1)
    assert (await rt.list_states([service]))["cycle"].state == "exited"
    await rt.start(service)
    assert (await rt.list_states([service]))["cycle"].state == "running"
    before = (await rt.list_states([service]))["cycle"].recent_restarts
    await rt.restart(service, timeout=1)
    after = (await rt.list_states([service]))["cycle"]
    assert after.state == "running"
    assert len(after.recent_restarts) == len(before) + 1  # start+restart of one restart: once
    await rt.set_restart_policy(service, "no")
    assert (await rt.list_states([service]))["cycle"].restart_policy == "no"


# --- exec ---------------------------------------------------------------------------------


@docker
async def test_exec_reaches_inside_what_the_host_cannot(
    rt: DockerRuntime, scenario: dict[str, int]
) -> None:
    port = scenario["island"]
    result = await rt.exec(svc("island"), ["wget", "-qO-", f"http://127.0.0.1:{port}/health"], 5)
    assert (result.exit_code, result.output) == (0, "ok\n")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@docker
async def test_exec_returns_exit_code_and_both_streams(
    rt: DockerRuntime, scenario: dict[str, int]
) -> None:
    result = await rt.exec(svc("island"), ["sh", "-c", "echo out; echo err >&2; exit 7"], 5)
    assert result.exit_code == 7
    assert result.output == "out\nerr\n"


@docker
async def test_exec_timeout_raises_and_frees_the_thread(
    rt: DockerRuntime, scenario: dict[str, int]
) -> None:
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="island"):
        await rt.exec(svc("island"), ["sleep", "5"], 0.5)
    assert time.perf_counter() - started < 2
    result = await rt.exec(svc("island"), ["echo", "still fine"], 5)
    assert result.output == "still fine\n"


@docker
async def test_exec_where_nothing_runs_is_a_clear_error(
    rt: DockerRuntime, scenario: dict[str, int]
) -> None:
    with pytest.raises(DockerActionError, match="nothing to exec in"):
        await rt.exec(svc("ghost"), ["true"], 5)
    with pytest.raises(DockerActionError, match="done: container is exited"):
        await rt.exec(svc("done"), ["true"], 5)


# --- logs ---------------------------------------------------------------------------------

LONG = 70_000  # > 64 KiB: Docker stores and sends it as several 16 KiB messages
CHATTY = (  # stderr first: Docker's two log copiers race, so only per-stream order is sure
    "echo to stderr >&2; sleep 0.05; i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); "
    f"done; yes x | head -n {LONG} | tr -d '\\n'; echo; "
    "printf 'bad \\377 byte\\n'; sleep 0.05; echo done; sleep 3600"
)


@pytest.fixture(scope="module")
def chatty(docker_lab: DockerLab) -> Service:
    docker_lab.run("chatty", ["sh", "-c", CHATTY], network_mode="none")
    docker_lab.wait_for(
        "chatty", lambda _: b"done" in docker_lab.container("chatty").logs(tail=1), "done"
    )
    return svc("chatty", "reports")


async def _collect(lines: AsyncIterator[LogLine]) -> list[LogLine]:
    return [line async for line in lines]


@docker
async def test_logs_reassemble_a_line_split_across_frames(
    rt: DockerRuntime, chatty: Service, docker_lab: DockerLab
) -> None:
    frames = docker_lab.client.api.logs(
        docker_lab.container("chatty").id, stream=True, follow=False, timestamps=True
    )
    assert sum(1 for f in frames if b"xxxx" in f) > 1  # the daemon really splits it

    lines = await _collect(rt.logs(chatty, tail=-1, timestamps=True))
    assert [(line.stream, line.text) for line in lines[:2]] == [
        ("stderr", "to stderr"), ("stdout", "line 0")
    ]
    texts = [line.text for line in lines[1:]]
    assert texts[:300] == [f"line {i}" for i in range(300)]
    assert texts[300] == "x" * LONG
    assert texts[301:] == ["bad \ufffd byte", "done"]  # json-file already stores U+FFFD
    assert all(line.service == "reports" for line in lines)
    times = [line.time for line in lines]
    assert all(_recent(t) for t in times)
    assert times == sorted(times)  # type: ignore[type-var]


@docker
async def test_logs_tail_and_no_timestamps(rt: DockerRuntime, chatty: Service) -> None:
    tail = await _collect(rt.logs(chatty, tail=2, timestamps=True))
    assert [line.text for line in tail] == ["bad \ufffd byte", "done"]
    plain = await _collect(rt.logs(chatty, tail=-1, timestamps=False))
    assert len(plain) == 304 and all(line.time is None for line in plain)
    assert plain[301].text == "x" * LONG


@docker
async def test_logs_of_a_tty_container_have_no_frames(
    rt: DockerRuntime, docker_lab: DockerLab
) -> None:
    docker_lab.run("tty", ["sh", "-c", "echo one; echo two; sleep 3600"], "none", tty=True)
    docker_lab.wait_for("tty", lambda _: b"two" in docker_lab.container("tty").logs(), "two")
    lines = await _collect(rt.logs(svc("tty"), tail=-1))
    assert [line.text for line in lines] == ["one", "two"]  # the tty's \r\n ends are gone
    assert all(_recent(line.time) for line in lines)


def _threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


async def _gone(prefix: str, timeout: float = 3) -> bool:
    """The reader thread ends shortly after the stream is closed, not at the same instant."""
    deadline = time.monotonic() + timeout
    while _threads(prefix) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return not _threads(prefix)


@docker
async def test_follow_picks_up_new_lines_and_aclose_stops_the_thread(
    rt: DockerRuntime, chatty: Service, docker_lab: DockerLab
) -> None:
    stream = rt.logs(chatty, tail=1, follow=True)
    async with asyncio.timeout(10):
        assert (await anext(stream)).text == "done"  # the stream is open from here on
        docker_lab.container("chatty").exec_run(["sh", "-c", "echo fresh-1 > /proc/1/fd/1"])
        fresh = await anext(stream)
    assert fresh.text == "fresh-1" and _recent(fresh.time)
    assert _threads("docker-logs-reports")
    await stream.aclose()
    assert await _gone("docker-logs-reports")


# --- events -------------------------------------------------------------------------------


async def _next_event(
    events: AsyncIterator[RuntimeEvent | StreamStatus], want: str, service: str
) -> RuntimeEvent:
    async for item in events:
        if isinstance(item, RuntimeEvent) and (item.action, item.service) == (want, service):
            return item
    raise AssertionError("event stream ended")


@docker
async def test_kill_arrives_as_a_die_event(rt: DockerRuntime, docker_lab: DockerLab) -> None:
    docker_lab.healthy("victim", free_port(), with_healthcheck=False)
    events = rt.events([svc("victim", "ledger")])
    try:
        async with asyncio.timeout(10):
            assert await anext(events) == StreamStatus(connected=True)
            started = time.perf_counter()
            await asyncio.to_thread(docker_lab.kill, "victim")
            killed = time.perf_counter()
            die = await _next_event(events, "die", "ledger")
        arrived, now = time.perf_counter(), datetime.now(UTC)
        print(
            f"\nkill -> die event: {(arrived - started) * 1000:.1f} ms from the kill request, "
            f"{(arrived - killed) * 1000:.1f} ms after it returned, "
            f"{(now - die.time).total_seconds() * 1000:.1f} ms after the daemon stamped it"
        )
        assert die.container_id == docker_lab.container("victim").id
        assert die.attributes["exitCode"] == "137"
        assert die.time.tzinfo is not None
    finally:
        await events.aclose()


@docker
async def test_a_killed_process_is_told_before_dockers_die(
    rt: DockerRuntime, docker_lab: DockerLab
) -> None:
    """The daemon runs on this machine: the container's main process ending is an early
    `die` (no exit code yet), then Docker's own `die` brings the code."""
    docker_lab.healthy("goner", free_port(), with_healthcheck=False)
    service = svc("goner", "ledger")
    events = rt.events([service])
    try:
        async with asyncio.timeout(10):
            assert await anext(events) == StreamStatus(connected=True)
            await rt.list_states([service])  # the listing names the process to watch
            started = time.perf_counter()
            await asyncio.to_thread(docker_lab.kill, "goner")
            early = await _next_event(events, "die", "ledger")
            early_at = time.perf_counter()
            told = await _next_event(events, "die", "ledger")
            told_at = time.perf_counter()
        print(f"\nkill call {(early_at - started) * 1000:.1f} ms; the process's end was seen "
              f"{(told.time - early.time).total_seconds() * 1000:.1f} ms before the daemon "
              f"stamped its die ({(told_at - early_at) * 1000:.1f} ms between the two here)")
        container = docker_lab.container("goner").id
        assert (early.early, early.container_id, early.attributes) == (
            True, container, {"source": "process"})
        assert (told.early, told.attributes["exitCode"]) == (False, "137")
    finally:
        await events.aclose()


@docker
async def test_health_status_event_carries_the_health(
    rt: DockerRuntime, docker_lab: DockerLab
) -> None:
    events = rt.events([svc("late", "cache")])
    try:
        async with asyncio.timeout(15):
            assert await anext(events) == StreamStatus(connected=True)
            await asyncio.to_thread(docker_lab.healthy, "late", free_port())
            event = await _next_event(events, "health_status", "cache")
        assert event.attributes["health"] == "healthy"
    finally:
        await events.aclose()
    assert await _gone("docker-events")


# --- the daemon going away ------------------------------------------------------------------


async def _expect_status(events: AsyncIterator[RuntimeEvent | StreamStatus]) -> StreamStatus:
    async with asyncio.timeout(15):
        async for item in events:
            if isinstance(item, StreamStatus):
                return item
    raise AssertionError("event stream ended")


@docker
async def test_daemon_outage_is_reported_and_recovered(scratch_daemon: ScratchDaemon) -> None:
    runtime = DockerRuntime("vxoutage", base_url=scratch_daemon.url)
    service = svc("api")
    events = runtime.events([service])
    try:
        assert (await runtime.list_states([service]))["api"].present is False
        assert await _expect_status(events) == StreamStatus(connected=True)

        scratch_daemon.kill()
        down = await _expect_status(events)
        assert down.connected is False and scratch_daemon.url in down.reason
        with pytest.raises(RuntimeUnavailable) as err:
            await runtime.list_states([service])
        assert str(err.value) == (
            f"Docker daemon unreachable at {scratch_daemon.url}: connection refused"
        )

        started = time.perf_counter()
        await asyncio.to_thread(scratch_daemon.start)
        assert await _expect_status(events) == StreamStatus(connected=True)
        print(f"\nreconnected {time.perf_counter() - started:.2f} s after the restart began")
        assert (await runtime.list_states([service]))["api"] == ContainerState(service="api")
    finally:
        await events.aclose()
        await runtime.close()
