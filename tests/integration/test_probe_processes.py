"""The integration tests of tests/unit/test_probe_processes.py (same subject, other layer).

Probes own their processes: a given-up exec is killed inside; probes are bounded.

A hanging exec or inside check used to leave its `sleep`/`wget` running in the container
after every refresh (11 -> 29 processes in 30 s of `status --watch 2`). Here ten refreshes
of hanging checks run against a real container, whose pid 1 (`sleep`) never reaps
orphans, so a half-killed probe would also show up as a zombie in the count. And a stack
far bigger than the machine's descriptor limit is probed slowly, never with EMFILE or
timeouts that only measured the wait for a turn.
"""
# ruff: noqa: F811  (a fixture imported from the module whose other layer shares it)

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator

import pytest

from console.model import HealthCheck, RuntimeNames, Service, Stack
from console.monitor import Monitor
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab
from tests.unit.test_probe_processes import (  # noqa: F401  (helpers and fixtures)
    REFRESHES,
    _no_shell_image,
    _processes,
    rt,
)


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


@pytest.mark.docker
async def test_without_a_shell_in_the_image_the_exec_is_killed_from_the_host(
    docker_lab: DockerLab, rt: DockerRuntime
) -> None:
    image = await asyncio.to_thread(_no_shell_image, docker_lab)
    container = docker_lab.client.containers.run(
        image, ["sleep", "3600"], detach=True, name=f"{docker_lab.project}-bare-1",
        labels=docker_lab.labels("bare"), network_mode="none")
    before = container.top()["Processes"]
    service = Service("bare", runtime=RuntimeNames(compose="bare"))
    for _ in range(3):
        with pytest.raises(TimeoutError):
            await rt.exec(service, ["sleep", "3600"], 0.5)
    assert await rt.reaped() == 0
    assert len(container.top()["Processes"]) == len(before)
