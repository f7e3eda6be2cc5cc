"""Probes own their processes: a given-up exec is killed inside; probes are bounded.

A hanging exec or inside check used to leave its `sleep`/`wget` running in the container
after every refresh (11 -> 29 processes in 30 s of `status --watch 2`). Here ten refreshes
of hanging checks run against a real container, whose pid 1 (`sleep`) never reaps
orphans, so a half-killed probe would also show up as a zombie in the count. And a stack
far bigger than the machine's descriptor limit is probed slowly, never with EMFILE or
timeouts that only measured the wait for a turn.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import subprocess
import sys
import tarfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from console.model import HealthCheck, RuntimeNames, Service
from console.probes import limits
from console.probes.registry import run_checks
from console.runtime.docker.runtime import DockerRuntime
from console.runtime.local.runtime import LocalRuntime
from tests.dockerlab import BUSYBOX, DockerLab

REFRESHES = 10
ROOT = Path(__file__).resolve().parents[2]


def _processes(lab: DockerLab, service: str) -> list[str]:
    """`ps` inside the container, without the header and the ps itself."""
    out = lab.container(service).exec_run(["ps", "-o", "pid,stat,args"]).output.decode()
    return [line for line in out.splitlines()[1:] if line.split()[2:3] != ["ps"]]


@pytest.fixture
async def rt(docker_lab: DockerLab) -> AsyncIterator[DockerRuntime]:
    runtime = DockerRuntime(docker_lab.project)
    try:
        yield runtime
    finally:
        await runtime.close()


# --- many services: bounded probes --------------------------------------------------------

FLOOD = 5_000
FLOOD_NOFILE = 256  # far fewer descriptors than services


class _HealthServer:
    """An HTTP/1.1 server answering `200 ok` on a loopback port, on a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        for _ in range(50):
            port = random.randrange(24_000, 32_000)
            try:
                server = self.loop.run_until_complete(
                    asyncio.start_server(self._answer, "127.0.0.1", port, backlog=4096))
                break
            except OSError:
                continue
        self.port = port
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    def __enter__(self) -> _HealthServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def test_thousands_of_services_are_slow_not_failing() -> None:
    """5,000 http checks under a 256-descriptor limit: every one answers ok; none fails
    with EMFILE, none times out while it waits for its turn."""
    with _HealthServer() as server:
        done = subprocess.run(
            [sys.executable, "-m", "tests.probe_flood", str(server.port), str(FLOOD),
             str(FLOOD_NOFILE)],
            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["errors"] == {} and report["ok"] == FLOOD
    assert report["slots"] < FLOOD_NOFILE // 2  # the bound came from the descriptor limit


async def test_a_probe_waiting_for_its_turn_does_not_time_out() -> None:
    """Two slots, eight checks of an endpoint that takes 1 s: the last ones start after
    3 s in the queue, past their 2.5 s timeout, and still answer ok (the timeout counts
    from a probe's start, not from the refresh's)."""

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(1.0)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        await writer.drain()
        writer.close()

    limits.configure(2)
    server, port = await _serve_on_low_port(slow)
    async with server:
        check = HealthCheck("http", port=port, timeout=2.5)
        results = await run_checks([(Service(f"s{i}"), check) for i in range(8)])
    assert [(r.ok, r.error) for r in results] == [(True, "")] * 8


async def _serve_on_low_port(handler: Any) -> tuple[asyncio.Server, int]:
    for _ in range(50):
        port = random.randrange(24_000, 32_000)
        try:
            return await asyncio.start_server(handler, "127.0.0.1", port), port
        except OSError:
            continue
    raise AssertionError("no free loopback port below 32000")


# --- local runtime: the exec's whole process group ------------------------------------------


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


async def _pids_written(path: Path) -> list[int]:
    for _ in range(200):
        if path.exists() and path.read_text().endswith("\n"):
            return [int(p) for p in path.read_text().split()]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} was never written")


@pytest.mark.parametrize("ending", ["timeout", "cancel"])
async def test_local_exec_given_up_kills_its_process_group(tmp_path: Path, ending: str) -> None:
    """A shell and the sleep it started in the background: both end when the exec is
    given up, whether by its own timeout or by its caller."""
    pids = tmp_path / "pids"
    host = Service("host", runtime=RuntimeNames(local=(sys.executable, "-c",
                                                       "import time; time.sleep(300)")))
    rt = LocalRuntime()
    try:
        await rt.start(host)
        argv = ["sh", "-c", f"sleep 300 & echo $! $$ > {pids}; wait"]
        if ending == "timeout":
            with pytest.raises(TimeoutError):
                await rt.exec(host, argv, 2.0)
            written = await _pids_written(pids)
        else:
            task = asyncio.ensure_future(rt.exec(host, argv, 60))
            written = await _pids_written(pids)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        for _ in range(100):  # SIGKILL is delivered at once; the state shows a moment later
            if not any(_alive(p) for p in written):
                break
            await asyncio.sleep(0.05)
        assert [p for p in written if _alive(p)] == []
    finally:
        await rt.close()


# --- an image without a shell: the kill comes from the host ---------------------------------

NO_SHELL_IMAGE = "vextrus-test/no-shell:1"


def _no_shell_image(lab: DockerLab) -> str:
    """busybox with `sleep` as its only command: no sh, no cat, no kill (like distroless)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _tar_add(tar, "Dockerfile", b'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n')
        _tar_add(tar, "rootfs/bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
        link = tarfile.TarInfo("rootfs/bin/sleep")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    buf.seek(0)
    lab.client.images.build(fileobj=buf, custom_context=True, tag=NO_SHELL_IMAGE, rm=True,
                            forcerm=True, network_mode="none", labels={"vextrus-test": "1"})
    return NO_SHELL_IMAGE


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


