"""The integration tests of tests/unit/test_preflight_report.py (same subject, other layer).

Pre-flight checks and the Markdown report, as an operator reads them before and after.
"""

from __future__ import annotations

import pytest

from actions.preflight import Limits, Preflight
from console.model import Service, Stack
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab, free_port
from tests.unit.test_preflight_report import (
    by_step,
    run_preflight,
)


@pytest.mark.docker
async def test_a_running_service_owns_its_port_so_it_is_not_taken(docker_lab: DockerLab) -> None:
    port = free_port()
    docker_lab.healthy("pf-web", port, with_healthcheck=False)
    stack = Stack("t", (Service("pf-web", ports=(port,)),), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    try:
        steps = by_step(await run_preflight(Preflight(stack, runtime, limits=Limits(0, 0))))
    finally:
        await runtime.close()
    assert steps["runtime"].kind == "ok" and "1 services running" in steps["runtime"].message
    assert steps["ports"].kind == "ok"
