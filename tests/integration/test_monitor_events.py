"""A killed container shows at once, even while a full refresh waits on a hanging probe.

Against the real Docker daemon: one healthy service, one that accepts connections and never
answers (its probe costs a whole timeout). The runtime's news (`refresh_states`) must not
wait for that probe, and the full refresh already in flight when the kill happened must not
publish the states it listed before the kill over the newer ones.
"""

from __future__ import annotations

import asyncio

import pytest

from console.model import HealthCheck, RuntimeNames, Service, Stack
from console.monitor import Monitor
from console.runtime.docker.runtime import DockerRuntime
from console.status.types import State
from tests.dockerlab import DockerLab, free_port

pytestmark = pytest.mark.docker

HANG_TIMEOUT_S = 3.0


def _service(name: str, port: int, timeout: float) -> Service:
    return Service(name, ports=(port,), runtime=RuntimeNames(compose=name),
                   checks=(HealthCheck("http", port=port, timeout=timeout),))


async def test_kill_shows_before_the_slow_refresh_and_is_not_undone_by_it(
    docker_lab: DockerLab,
) -> None:
    ports = {"me-web": free_port(), "me-hang": free_port()}
    docker_lab.healthy("me-web", ports["me-web"], with_healthcheck=False)
    docker_lab.hanging("me-hang", ports["me-hang"])
    stack = Stack("me", (_service("me-web", ports["me-web"], 2.0),
                         _service("me-hang", ports["me-hang"], HANG_TIMEOUT_S)),
                  project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    try:
        monitor = Monitor(stack, runtime)
        for _ in range(20):  # httpd takes a moment to listen
            if (await monitor.refresh()).get("me-web").state is State.OPERATIONAL:
                break
            await asyncio.sleep(0.2)
        before = monitor.last
        assert before is not None and before.get("me-web").state is State.OPERATIONAL
        assert before.get("me-hang").state is not State.OPERATIONAL

        slow = asyncio.ensure_future(monitor.refresh())  # lists states now, then hangs
        await asyncio.sleep(0.3)
        await asyncio.to_thread(docker_lab.kill, "me-web")
        quick = await monitor.refresh_states()
        assert not slow.done(), "the full refresh should still wait on the hanging probe"
        assert quick.get("me-web").state is State.EXITED
        assert quick.get("me-web").issues[0].startswith("exited with code 137")
        # The last probe results are kept: the hanging one still reads as failing.
        assert quick.get("me-hang").state is before.get("me-hang").state

        full = await slow
        assert full.get("me-web").state is State.EXITED  # not the pre-kill listing
        assert monitor.last is full
    finally:
        await runtime.close()
