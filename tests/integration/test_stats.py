"""The integration tests of tests/unit/test_stats.py (same subject, other layer).

Resource usage per service on every runtime: Docker's stats on the real daemon, /proc for
local processes, the metrics API on the fake API server (and what is said without one).

The figures a user reads: a container burning a core shows near 100 % and an idle one near
0 %, a memory limit set on a container is the denominator of its percentage, a service's
replicas add up while each stays visible on its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.model import Service
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab
from tests.unit.test_stats import two_rounds

BURN = ["/bin/busybox", "sh", "-c", "while :; do :; done"]
IDLE = ["/bin/busybox", "sleep", "3600"]


@pytest.fixture
def stats_lab(docker_lab: DockerLab) -> Iterator[DockerLab]:
    """A busy service with a 64 MiB limit, an idle one, and a service of two replicas."""
    lab = docker_lab
    lab.run("st-burn", BURN, mem_limit="64m")
    lab.run("st-idle", IDLE)
    first = lab.run("st-pair", IDLE)
    second = lab.client.containers.run(first.image, IDLE, detach=True,
                                       name=f"{lab.project}-st-pair-2",
                                       labels=lab.labels("st-pair"), network_mode="host")
    try:
        yield lab
    finally:
        for name in ("st-burn", "st-idle", "st-pair"):
            lab.container(name).remove(force=True)
        second.remove(force=True)


@pytest.mark.docker
async def test_docker_stats_of_a_busy_an_idle_and_a_scaled_service(stats_lab: DockerLab) -> None:
    runtime = DockerRuntime(stats_lab.project)
    services = [Service("st-burn"), Service("st-idle"), Service("st-pair"), Service("st-none")]
    try:
        board = await two_rounds(runtime, services)
    finally:
        await runtime.close()
    assert board.source == "docker stats" and not board.unavailable
    burn, idle, pair = (board.services[n] for n in ("st-burn", "st-idle", "st-pair"))
    # The machine is shared: a busy loop gets what the scheduler leaves it, but it is
    # always far above a sleeping process.
    assert burn.total.cpu_percent is not None and burn.total.cpu_percent > 5
    assert idle.total.cpu_percent is not None
    assert idle.total.cpu_percent < burn.total.cpu_percent / 5
    assert burn.total.memory_limit == 64 << 20
    assert burn.total.memory_percent is not None and 0 < burn.total.memory_percent < 100
    assert idle.total.memory_limit is None  # the host's memory is no limit anyone set
    assert idle.total.net_rx is None  # host networking: no interface of its own
    assert idle.total.block_read is not None
    assert [r.name for r in pair.replicas] == [f"{stats_lab.project}-st-pair-1",
                                               f"{stats_lab.project}-st-pair-2"]
    assert pair.total.memory == sum(r.memory or 0 for r in pair.replicas)
    assert "st-none" not in board.services  # nothing running: no figures, not zeros
