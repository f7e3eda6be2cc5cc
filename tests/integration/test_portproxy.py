"""The integration tests of tests/unit/test_portproxy.py (same subject, other layer).

`portproxy diagnose | fix`: classification rules, /proc reading, plans, CLI, and the real
faults on loopback (and in Docker, for the container cases).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from actions.base import CancelToken, execute
from actions.portproxy.diagnose import (
    ProbeSettings,
)
from actions.portproxy.fix import (
    ForwarderFix,
    PortProxyDiagnose,
)
from console.forwarder import ExecTarget, Forwarder, ForwarderManager
from console.model import Service
from tests.unit.test_portproxy import (
    ALL_LOOPBACK,
    cli_args,
    cli_context,
    docker,
    free_port,
    get_until,
    http_get,
    http_server,
    loopback_stack,
    run_diagnose,
)


@pytest.fixture
async def docker_rt(docker_lab):
    from console.runtime.docker.runtime import DockerRuntime

    runtime = DockerRuntime(docker_lab.project)
    try:
        yield runtime
    finally:
        await runtime.close()


@docker
async def test_forwarder_through_the_runtime_reaches_a_container_without_network(
    docker_lab, docker_rt
):
    from tests.dockerlab import HEALTH_BODY

    port = free_port(*ALL_LOOPBACK)
    docker_lab.no_network("pp-island", port)
    with pytest.raises(OSError):
        await http_get("127.0.0.1", port)  # the fault: healthy inside, nothing on the host
    state = (await docker_rt.list_states([Service("pp-island")]))["pp-island"]
    target = ExecTarget(state.container_id, port, label="pp-island")
    assert await target.answers(3)
    forwarder = Forwarder("127.0.0.1", port, target, label="pp-island")
    await forwarder.start()
    try:
        replies = await asyncio.gather(*(http_get("127.0.0.1", port) for _ in range(4)))
        for reply in replies:
            assert reply.startswith(b"HTTP/1.1 200 OK") or reply.startswith(b"HTTP/1.0 200 OK")
            assert reply.endswith(b"\r\n\r\n" + HEALTH_BODY)
        await asyncio.sleep(0.2)
        stats = forwarder.stats
        assert (stats.connections_total, stats.connections_active, stats.errors) == (4, 0, 0)
        assert stats.bytes_out == sum(len(r) for r in replies)
        assert stats.target == f"exec pp-island -> 127.0.0.1:{port}"
    finally:
        await forwarder.stop()
    dead = ExecTarget(state.container_id, free_port("127.0.0.1"), label="pp-island")
    assert not await dead.answers(3)


@docker
async def test_diagnose_tells_the_faults_apart_in_docker_and_fix_forwards(docker_lab, docker_rt):
    from tests.dockerlab import HEALTH_BODY

    ports = {name: free_port(*ALL_LOOPBACK) for name in
             ("pp-ok", "pp-broken", "pp-down", "pp-wrong", "pp-taken", "pp-busy")}
    docker_lab.healthy("pp-ok", ports["pp-ok"], with_healthcheck=False)
    docker_lab.no_network("pp-broken", ports["pp-broken"])
    docker_lab.exited("pp-down", 3)
    docker_lab.run("pp-wrong", ["httpd", "-f", "-p", f"127.0.0.2:{ports['pp-wrong']}",
                                "-h", "/www"])
    await get_until("127.0.0.2", ports["pp-wrong"])
    docker_lab.sleeper("pp-busy")  # running, but not what listens on its port
    intruders = [await http_server("127.0.0.1", ports[n], b"intruder")
                 for n in ("pp-taken", "pp-busy")]
    stack = loopback_stack(ports)
    manager = ForwarderManager()
    try:
        diagnose = PortProxyDiagnose(stack, docker_rt, settings=ProbeSettings(timeout=1.0))
        await run_diagnose(diagnose)
        got = {f.service: f for f in diagnose.findings}
        me = f"pid {os.getpid()} ({Path('/proc/self/comm').read_text().strip()})"
        assert {name: f.status for name, f in got.items()} == {
            "pp-ok": "ok",
            "pp-broken": "forwarding broken",
            "pp-down": "service down",
            "pp-wrong": "wrong address",
            "pp-taken": "port taken by another process",
            "pp-busy": "port taken by another process",
        }
        assert got["pp-ok"].detail.startswith(f"answers on 127.0.0.1:{ports['pp-ok']} (pid ")
        assert got["pp-ok"].detail.endswith("(httpd))")  # the listener is in the container
        assert got["pp-broken"].detail == (
            f"answers inside: {HEALTH_BODY.decode().strip()}; host 127.0.0.1:"
            f"{ports['pp-broken']}: connection refused")
        assert got["pp-broken"].container_id == docker_lab.container("pp-broken").id
        assert got["pp-down"].detail.endswith("; container exited 3")
        assert got["pp-wrong"].actual_address == "127.0.0.2"
        assert got["pp-taken"].detail == (
            f"127.0.0.1:{ports['pp-taken']} answers, but pp-taken is not created; {me}")
        assert got["pp-busy"].detail == f"listener {me} is not pp-busy's container"

        fix = ForwarderFix(diagnose.findings, manager)
        events = [e.line() async for e in execute(fix, CancelToken())]
        assert events[-1] == "■ finished: ok · 2 forwarder(s) running"
        down = ports["pp-down"]  # what a forwarder cannot fix is said, not hidden
        assert (f"- pp-down:{down}: service down: start it first (vextrus-console bringup "
                "--only pp-down)") in events
        assert (f"✓ pp-broken:{ports['pp-broken']}: forwarding 127.0.0.1:{ports['pp-broken']}"
                f" -> exec pp-broken -> 127.0.0.1:{ports['pp-broken']}") in events
        for name in ("pp-broken", "pp-wrong"):
            assert (await http_get("127.0.0.1", ports[name])).endswith(HEALTH_BODY)

        again = PortProxyDiagnose(stack, docker_rt, forwarders=manager, only=None,
                                  settings=ProbeSettings(timeout=1.0))
        await run_diagnose(again)
        fixed = {f.service: f.status for f in again.findings if f.rule is None}
        assert fixed["pp-broken"] == fixed["pp-wrong"] == "ok"
        rules = [(f.service, f.status) for f in again.findings if f.rule is not None]
        assert sorted(rules) == [("pp-broken", "ok"), ("pp-wrong", "ok")]
    finally:
        await manager.stop_all()
        for server in intruders:
            server.close()


@docker
def test_cli_fix_forwards_into_the_container_in_the_foreground(docker_lab, capsys):
    from cli.portproxy import run
    from console.runtime.docker.runtime import DockerRuntime
    from tests.dockerlab import HEALTH_BODY

    port = free_port(*ALL_LOOPBACK)
    docker_lab.no_network("pp-cli", port)
    stack = loopback_stack({"pp-cli": port})

    async def scenario() -> tuple[int, bytes]:
        runtime = DockerRuntime(docker_lab.project)  # the CLI closes it
        fix = asyncio.ensure_future(asyncio.to_thread(
            run, cli_args("portproxy", "fix", "--yes", "--forward", "--duration", "2"),
            cli_context(stack, runtime=runtime)))
        reply = await get_until("127.0.0.1", port)
        return await fix, reply

    code, reply = asyncio.run(scenario())
    out = capsys.readouterr().out
    assert code == 0
    assert reply.endswith(HEALTH_BODY)
    assert f"✗ pp-cli:{port}: forwarding broken: answers inside" in out
    assert f"forwarding 127.0.0.1:{port} -> exec pp-cli -> 127.0.0.1:{port}  (pp-cli)" in out
    assert (f"stopped 127.0.0.1:{port} -> exec pp-cli -> 127.0.0.1:{port}  connections 0 "
            "active / 1 total") in out
