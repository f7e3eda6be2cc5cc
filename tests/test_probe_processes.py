"""Probes own their processes: a given-up exec is killed inside, probes are bounded.

A hanging exec or inside check used to leave its `sleep`/`wget` running in the container
after every refresh (11 -> 29 processes in 30 s of `status --watch 2`). Here ten refreshes
of hanging checks run against a real container, whose pid 1 (`sleep`) never reaps
orphans, so a half-killed probe would also show up as a zombie in the count.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from console.model import HealthCheck, RuntimeNames, Service, Stack
from console.monitor import Monitor
from console.runtime.docker import DockerRuntime
from tests.dockerlab import DockerLab

REFRESHES = 10


def _processes(lab: DockerLab, service: str) -> list[str]:
    """`ps` inside the container, without the header and the ps itself."""
    out = lab.container(service).exec_run(["ps", "-o", "pid,stat,args"]).output.decode()
    return [line for line in out.splitlines()[1:] if line.split()[2:3] != ["ps"]]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        for _ in range(50):
            port = random.randrange(24_000, 32_000)
            try:
                listener.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        listener.listen(128)
        yield port


@pytest.fixture
async def rt(docker_lab: DockerLab) -> AsyncIterator[DockerRuntime]:
    runtime = DockerRuntime(docker_lab.project)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.mark.docker
async def test_hanging_exec_and_inside_checks_leave_no_process_behind(
    docker_lab: DockerLab, rt: DockerRuntime, silent_port: int
) -> None:
    port = silent_port  # the host's loopback is the containers' too (host networking)
    docker_lab.sleeper("stuck")  # pid 1 is `sleep 3600`: it reaps nobody
    docker_lab.sleeper("mute", network_mode="host")
    hang = HealthCheck("exec", command=("sleep", "3600"), where="inside", timeout=0.4)
    with_child = HealthCheck("exec", command=("sh", "-c", "sleep 3600; echo never"),
                             where="inside", timeout=0.4)
    wget = HealthCheck("http", port=port, where="inside", timeout=0.4)
    stack = Stack("t", (
        Service("stuck", checks=(hang, with_child), runtime=RuntimeNames(compose="stuck")),
        Service("mute", checks=(wget,), runtime=RuntimeNames(compose="mute")),
    ), project=docker_lab.project)
    before = {name: _processes(docker_lab, name) for name in ("stuck", "mute")}

    monitor = Monitor(stack, rt)
    for _ in range(REFRESHES):
        status = await monitor.refresh()
        errors = [r.error for s in status.services for r in s.probes]
        assert len(errors) == 3 and all("timed out" in e for e in errors), errors
    assert await rt.reaped() == 0

    after = {name: _processes(docker_lab, name) for name in ("stuck", "mute")}
    assert after == before


@pytest.mark.docker
async def test_an_exec_cancelled_by_its_caller_is_killed_too(
    docker_lab: DockerLab, rt: DockerRuntime
) -> None:
    docker_lab.sleeper("quitter")
    before = _processes(docker_lab, "quitter")
    service = Service("quitter", runtime=RuntimeNames(compose="quitter"))
    task = asyncio.ensure_future(rt.exec(service, ["sleep", "3600"], 60))
    for _ in range(100):  # until it runs inside
        await asyncio.sleep(0.05)
        if len(_processes(docker_lab, "quitter")) > len(before):
            break
    assert any("sleep 3600" in p for p in _processes(docker_lab, "quitter")[len(before):])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await rt.reaped() == 0
    assert _processes(docker_lab, "quitter") == before
