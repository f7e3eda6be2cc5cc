"""The refresh's unix-socket fast path against the real daemon: same answers as docker-py,
errors in the runtime's terms, and connections that survive being closed by the daemon."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from console.model import RuntimeNames, Service
from console.runtime.docker.runtime import DEFAULT_HOST, DockerActionError, DockerRuntime
from console.runtime.docker.wire import EngineReader, EngineRefused
from tests.dockerlab import DockerLab, free_port

pytestmark = pytest.mark.docker


@pytest.fixture
def reader() -> EngineReader:
    found = EngineReader.for_host(DEFAULT_HOST, 10)
    assert found is not None
    return found


def test_rows_and_details_match_docker_py(reader: EngineReader, docker_lab: DockerLab) -> None:
    container = docker_lab.healthy("wire-web", free_port(), with_healthcheck=False)
    labels = [f"com.docker.compose.project={docker_lab.project}",
              "com.docker.compose.service=wire-web"]
    rows = reader.containers(labels)
    assert [row["Id"] for row in rows] == [container.id]
    client = docker.from_env(version="auto")
    assert reader.api_version == client.api.api_version  # what docker-py negotiates
    client.close()
    # The start history the restart-loop detection reads (the daemon ends it at `until`).
    events = reader.events(time.time() - 300, time.time(),
                           {"label": labels, "type": ["container"], "event": ["start"]})
    assert [e["Actor"]["ID"] for e in events] == [container.id]
    detail = reader.inspect(container.id)
    expected = docker_lab.client.api.inspect_container(container.id)
    assert detail is not None
    assert (detail["Id"], detail["Name"], detail["State"]["Status"]) == (
        expected["Id"], expected["Name"], expected["State"]["Status"])
    # The kept-alive connection is reused, and a dropped one is replaced transparently.
    for conn in reader._idle:
        assert conn.sock is not None
        conn.sock.close()
    assert reader.inspect(container.id) is not None
    reader.close()


def test_gone_container_is_none_and_a_refusal_is_the_daemons_words(
    reader: EngineReader,
) -> None:
    assert reader.inspect("0" * 64) is None
    with pytest.raises(EngineRefused, match="filter"):
        reader.get('/containers/json?filters={"no-such-filter":["x"]}')


def test_only_unix_sockets_take_the_fast_path(tmp_path: Path) -> None:
    assert EngineReader.for_host("tcp://127.0.0.1:2375", 5) is None
    assert EngineReader.for_host("ssh://ops@db1", 5) is None
    dead = EngineReader(str(tmp_path / "no.sock"), 5)
    with pytest.raises(OSError):
        dead.containers(["a=b"])


async def test_a_refusal_reaches_the_operator_as_one_line(docker_lab: DockerLab) -> None:
    runtime = DockerRuntime(docker_lab.project)
    try:
        assert runtime._reader is not None
        with pytest.raises(DockerActionError, match=r"^docker: .*filter"):
            runtime._run(lambda _c: runtime._reader.get(  # type: ignore[union-attr]
                '/containers/json?filters={"no-such-filter":["x"]}'))
    finally:
        await runtime.close()


async def test_docker_py_listing_agrees_with_the_socket_listing(docker_lab: DockerLab) -> None:
    """tcp:// and ssh:// daemons are listed through docker-py; none can run here without
    TLS set-up, so the same daemon is listed both ways and must read the same."""
    docker_lab.healthy("wire-both", free_port(), with_healthcheck=False)
    docker_lab.exited("wire-done", 3)
    services = [Service(n, runtime=RuntimeNames(compose=n)) for n in ("wire-both", "wire-done")]
    fast, slow = DockerRuntime(docker_lab.project), DockerRuntime(docker_lab.project)
    slow._reader = None  # what a tcp:// host gets
    try:
        by_socket = await fast.list_states(services)
        by_docker_py = await slow.list_states(services)
        assert by_socket == by_docker_py
        assert by_socket["wire-done"].exit_code == 3
        assert by_socket["wire-both"].state == "running"
    finally:
        await fast.close()
        await slow.close()
