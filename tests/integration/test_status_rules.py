"""The integration tests of tests/unit/test_status_rules.py (same subject, other layer).

Status rules for a system that changes: loops that end, probes that must fail twice,
restarts somebody asked for, transient states, chains and blast radii over diamonds.

Every rule of console/status/engine.py's docstring, on plain data first, then through the monitor
with real processes (the local runtime) and the journal.
"""

from __future__ import annotations

from pathlib import Path

from console.journal import Journal
from console.model import HealthCheck, Service, Stack
from console.monitor import Monitor
from console.status.types import State


async def test_three_operator_restarts_in_a_minute_are_no_restart_loop_on_docker(
    docker_lab, tmp_path: Path
) -> None:
    """`restart db --yes` three times (each its own monitor, as separate CLI runs)."""
    from actions.base import CancelToken, execute
    from actions.restart import Restart
    from console.runtime.docker.runtime import DockerRuntime
    from tests.dockerlab import ensure_image

    port = 24714
    name = "sr-db"
    docker_lab.client.containers.run(
        ensure_image(docker_lab.client), ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
        name=f"{docker_lab.project}-{name}-1", labels=docker_lab.labels(name),
        network_mode="host", detach=True)
    check = HealthCheck("http", port=port, timeout=1.0)
    stack = Stack("sr", (Service(name, ports=(port,), checks=(check,)),),
                  project=docker_lab.project)
    journal = Journal(tmp_path / "j.sqlite3", stack="sr")
    try:
        for _ in range(3):
            runtime = DockerRuntime(docker_lab.project)
            action = Restart(stack, runtime, Monitor(stack, runtime, journal), name,
                             timeout=20, stop_timeout=1)
            events = [e async for e in execute(action, CancelToken(), journal)]
            assert events[-1].message == "Readiness 100% · 1/1 operational"
            await runtime.close()
        runtime = DockerRuntime(docker_lab.project)
        state = (await runtime.list_states(stack.services))[name]
        assert len(state.recent_restarts) >= 3  # Docker saw every start
        db = (await Monitor(stack, runtime, journal, record_transitions=False).refresh()).get(name)
        assert db.state is State.OPERATIONAL and not db.restart_loop and db.issues == ()
        unexplained = (await Monitor(stack, runtime).refresh()).get(name)
        assert unexplained.state is not State.OPERATIONAL  # the same starts, nobody asked
        await runtime.close()
    finally:
        journal.close()
