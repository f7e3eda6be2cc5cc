"""Probes against real servers on loopback: HTTP/TCP (in-test asyncio servers), the machine's
PostgreSQL and Redis, a private redis-server with a password, and a real Temporal test
server. Kafka cannot run here, so its probe talks to a loopback server that implements the
ApiVersions v0 exchange byte for byte as the Kafka protocol guide describes it.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from console.model import HealthCheck, Service
from console.probes.common import error_words
from console.probes.exec import inside_http_argv
from console.probes.http import wget_outcome
from console.probes.kafka import decode_api_versions_response, encode_api_versions_request
from console.probes.registry import PROBES, run_check, run_checks
from console.probes.temporal import temporal_error_words
from tests.fixtures_services import *  # noqa: F403
from tests.fixtures_services import PgRole, RedisServer, TemporalServer, free_port

SVC = Service(name="svc")


def check(kind: Any, port: int | None, **kw: Any) -> HealthCheck:
    return HealthCheck(kind=kind, port=port, **kw)


# --- loopback servers -------------------------------------------------------------------


@dataclass
class Loopback:
    """An asyncio TCP server on 127.0.0.1 that counts concurrent connections."""

    port: int = 0
    active: int = 0
    max_active: int = 0
    requests: list[bytes] = field(default_factory=list)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Loopback], Awaitable[None]]


async def serve(handler: Handler) -> tuple[Loopback, asyncio.Server, set[asyncio.Task[Any]]]:
    state = Loopback()
    tasks: set[asyncio.Task[Any]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        state.active += 1
        state.max_active = max(state.max_active, state.active)
        try:
            await handler(reader, writer, state)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            state.active -= 1
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    return state, server, tasks


async def shutdown(server: asyncio.Server, tasks: set[asyncio.Task[Any]]) -> None:
    server.close()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await server.wait_closed()


BROKEN_BODY = "database down: password=hunter2 \x1b[31mred\x1b[0m\r\nsecond line\x07" + "x" * 1000


def http_response(status: int, body: str, headers: dict[str, str] | None = None) -> bytes:
    data = body.encode()
    lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(data)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def http_handler(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Loopback
) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    state.requests.append(head)
    path = head.split(b" ")[1].decode()
    if path == "/health":
        out = http_response(200, '{"status":"ok"}')
    elif path == "/missing":
        out = http_response(404, "<html><body>Cannot GET /missing</body></html>")
    elif path == "/broken":
        out = http_response(503, BROKEN_BODY)
    elif path == "/slow":
        await asyncio.sleep(30)
        out = http_response(200, "late")
    elif path == "/sleep":
        await asyncio.sleep(0.3)
        out = http_response(200, "slept")
    elif path == "/created":
        out = http_response(201, "created")
    elif path == "/teapot":
        out = http_response(418, "short and stout")
    elif path == "/redirect":
        out = http_response(302, "", {"Location": "/health"})
    elif path == "/redirect-away":
        out = http_response(302, "", {"Location": "http://elsewhere.invalid/health"})
    elif path == "/redirect-loop":
        out = http_response(302, "", {"Location": "/redirect-loop"})
    elif path == "/big":
        out = http_response(200, "y" * 1_000_000)
    else:
        out = http_response(500, "no route")
    writer.write(out)
    await writer.drain()


@pytest.fixture
async def http_server() -> AsyncIterator[Loopback]:
    state, server, tasks = await serve(http_handler)
    yield state
    await shutdown(server, tasks)


@pytest.fixture
async def silent_server() -> AsyncIterator[Loopback]:
    """Accepts connections and never says a word: the hung-service case."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: Loopback
    ) -> None:
        await asyncio.sleep(60)

    state, server, tasks = await serve(handler)
    yield state
    await shutdown(server, tasks)


# --- http ---------------------------------------------------------------------------------


async def http(port: int, path: str, **kw: Any) -> Any:
    return await run_check(check("http", port, path=path, **kw), SVC, None)


async def test_http_200_is_ok_with_body_in_output(http_server: Loopback) -> None:
    r = await http(http_server.port, "/health")
    assert r.ok, r.error
    assert r.output == 'HTTP 200 {"status":"ok"}'
    assert r.error == ""
    assert r.where == "host"
    assert 0 < r.latency_ms < 2000
    assert b"User-Agent: vextrus-console-probe" in http_server.requests[0]


async def test_http_404_is_an_error_without_the_error_page(http_server: Loopback) -> None:
    r = await http(http_server.port, "/missing")
    assert not r.ok
    assert r.error == "HTTP 404"
    assert "Cannot GET" in r.output


async def test_http_503_carries_the_body_cleaned_and_masked(http_server: Loopback) -> None:
    r = await http(http_server.port, "/broken")
    assert not r.ok
    assert r.error.startswith("HTTP 503: database down: password=*** red second line")
    assert len(r.error) <= len("HTTP 503: ") + 200
    assert "hunter2" not in r.error + r.output
    assert not any(ord(c) < 32 or ord(c) == 0x7F for c in r.error + r.output)
    assert len(r.output) <= 500


async def test_http_slow_endpoint_times_out_in_its_own_timeout(http_server: Loopback) -> None:
    r = await http(http_server.port, "/slow", timeout=0.5)
    assert not r.ok
    assert r.error == "timed out after 0.5s"
    assert 450 <= r.latency_ms < 1500


async def test_http_expect_status(http_server: Loopback) -> None:
    teapot = await http(http_server.port, "/teapot", expect_status=418)
    created = await http(http_server.port, "/created", expect_status=204)
    assert teapot.ok
    assert not created.ok
    assert created.error == "HTTP 201 (expected 204)"


async def test_http_follows_same_origin_redirects_only(http_server: Loopback) -> None:
    same = await http(http_server.port, "/redirect")
    away = await http(http_server.port, "/redirect-away")
    loop = await http(http_server.port, "/redirect-loop")
    assert same.ok and same.output.startswith("HTTP 200")
    assert away.ok  # a 3xx is a living endpoint; the other host is never contacted
    assert "not followed" in away.output and "elsewhere.invalid" in away.output
    assert not loop.ok and loop.error == "more than 5 redirects"


async def test_http_big_body_is_cut(http_server: Loopback) -> None:
    r = await http(http_server.port, "/big")
    assert r.ok
    assert len(r.output) <= 500


async def test_http_connection_refused() -> None:
    r = await http(free_port(), "/health")
    assert not r.ok
    assert r.error == "connection refused"
    assert r.refused


async def test_http_inside_without_runtime_says_so() -> None:
    r = await http(8080, "/api/v1/health", where="inside")
    assert not r.ok
    assert r.error == "no runtime to exec in"
    assert r.where == "inside"


def test_inside_http_argv_is_the_seeds_wget() -> None:
    c = check("http", 8080, path="/api/v1/health", host="10.0.0.9", timeout=2.5, where="inside")
    assert inside_http_argv(c) == [
        "wget",
        "-qO-",
        "-T",
        "2",
        "http://127.0.0.1:8080/api/v1/health",
    ]
    assert inside_http_argv(check("http", 80, timeout=0.2))[3] == "1"


def test_wget_output_is_read_in_words() -> None:
    c = check("http", 8080, where="inside", timeout=2.0)
    busybox_503 = "wget: server returned error: HTTP/1.1 503 Service Unavailable"
    assert wget_outcome(c, 1, busybox_503).error == "HTTP 503 (inside)"
    refused = "wget: can't connect to remote host (127.0.0.1): Connection refused"
    assert wget_outcome(c, 1, refused).error == "connection refused (inside)"
    assert wget_outcome(c, 1, "wget: download timed out").error == "timed out after 2.0s (inside)"
    assert wget_outcome(c, 127, "sh: wget: not found").error.startswith("wget not available")
    assert wget_outcome(c, 0, '{"status":"ok"}').ok


# --- tcp ----------------------------------------------------------------------------------


async def test_tcp_accepted_and_refused(http_server: Loopback) -> None:
    up = await run_check(check("tcp", http_server.port), SVC, None)
    down = await run_check(check("tcp", free_port()), SVC, None)
    assert up.ok and up.output == f"connected to 127.0.0.1:{http_server.port}"
    assert not down.ok and down.error == "connection refused"


def test_error_words_for_name_lookup_and_unreachable() -> None:
    assert error_words(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), 2) == (
        "no such host"
    )
    assert error_words(OSError(113, "No route to host"), 2) == "host unreachable"
    assert error_words(TimeoutError(), 2.0) == "timed out after 2.0s"
    wrapped = RuntimeError("Failed client connect: dns error: failed to lookup address")
    assert error_words(wrapped, 2) == "no such host"


# --- concurrency --------------------------------------------------------------------------


async def test_twenty_probes_run_concurrently(http_server: Loopback) -> None:
    pairs = [(SVC, check("http", http_server.port, path="/sleep")) for _ in range(20)]
    results = await run_checks(pairs)
    assert len(results) == 20 and all(r.ok for r in results)
    assert http_server.max_active == 20  # all twenty were in the server at the same time
    assert all(r.latency_ms >= 290 for r in results)


# --- exec and registry ----------------------------------------------------------------------


async def test_exec_without_runtime() -> None:
    r = await run_check(check("exec", None, command=("tctl", "cluster", "health")), SVC, None)
    assert not r.ok
    assert r.error == "no runtime to exec in"
    assert r.where == "inside"


async def test_registry_covers_every_kind_and_never_raises() -> None:
    assert set(PROBES) == {"http", "tcp", "postgres", "redis", "kafka", "temporal", "exec"}
    unknown = await run_check(check("smtp", 25), SVC, None)
    portless = await run_check(check("tcp", None), SVC, None)
    assert not unknown.ok and unknown.error == "unknown check kind 'smtp'"
    assert not portless.ok and portless.error == "no port configured"


# --- postgres -----------------------------------------------------------------------------

PG_ENV = "VEXTRUS_TEST_PG_PASSWORD"


def pg_check(role: PgRole, **kw: Any) -> HealthCheck:
    base: dict[str, Any] = {
        "user": role.user,
        "database": role.database,
        "password_env": PG_ENV,
        "timeout": 5.0,
    }
    return check("postgres", role.port, host=role.host, **{**base, **kw})


# --- redis --------------------------------------------------------------------------------

REDIS_ENV = "VEXTRUS_TEST_REDIS_PASSWORD"


def redis_check(server: RedisServer) -> HealthCheck:
    return check("redis", server.port, host=server.host, password_env=REDIS_ENV)


async def test_redis_requirepass(
    redis_with_password: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = redis_check(redis_with_password)
    assert redis_with_password.password is not None
    monkeypatch.delenv(REDIS_ENV, raising=False)
    missing = await run_check(c, SVC, None)
    monkeypatch.setenv(REDIS_ENV, "wrong")
    wrong = await run_check(c, SVC, None)
    monkeypatch.setenv(REDIS_ENV, redis_with_password.password)
    right = await run_check(c, SVC, None)
    assert not missing.ok and missing.error == f"authentication required ({REDIS_ENV} is not set)"
    assert not wrong.ok and wrong.error == "authentication failed"
    assert right.ok and right.output == "PONG", right.error


async def test_redis_closed_port_is_refused() -> None:
    r = await run_check(check("redis", free_port()), SVC, None)
    assert not r.ok and r.error == "connection refused"


# --- kafka (loopback broker speaking ApiVersions v0) ---------------------------------------

API_KEYS = [(0, 0, 9), (1, 0, 13), (3, 0, 12), (18, 0, 3), (19, 0, 7)]


def api_versions_v0_response(correlation_id: int, error_code: int = 0) -> bytes:
    body = struct.pack(">ih", correlation_id, error_code) + struct.pack(">i", len(API_KEYS))
    body += b"".join(struct.pack(">hhh", *k) for k in API_KEYS)
    return struct.pack(">i", len(body)) + body


def parse_request(frame: bytes) -> tuple[int, int, int, bytes]:
    api_key, version, correlation_id, client_len = struct.unpack_from(">hhih", frame, 0)
    return api_key, version, correlation_id, frame[10 : 10 + client_len]


def broker(mode: str) -> Handler:
    """A broker's ApiVersions exchange, or one of the ways a non-broker gets it wrong."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: Loopback
    ) -> None:
        if mode == "drop":
            return  # closes with the request unread: the kernel may answer with a reset
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        frame = await reader.readexactly(size)
        state.requests.append(frame)
        _, _, correlation_id, _ = parse_request(frame)
        if mode == "ok":
            writer.write(api_versions_v0_response(correlation_id))
        elif mode == "unsupported":
            writer.write(api_versions_v0_response(correlation_id, error_code=35))
        elif mode == "mismatch":
            writer.write(api_versions_v0_response(correlation_id + 1))
        elif mode == "garbage":
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        elif mode == "close":
            return  # read the request, then hang up without a word
        elif mode == "truncated":
            writer.write(api_versions_v0_response(correlation_id)[:12])
        await writer.drain()

    return handler


async def kafka_against(mode: str, timeout: float = 2.0) -> tuple[Any, Loopback]:
    state, server, tasks = await serve(broker(mode))
    try:
        result = await run_check(check("kafka", state.port, timeout=timeout), SVC, None)
    finally:
        await shutdown(server, tasks)
    return result, state


async def test_kafka_api_versions_ok() -> None:
    r, state = await kafka_against("ok")
    assert r.ok, r.error
    assert r.output == f"ApiVersions v0 ok: {len(API_KEYS)} API keys"
    api_key, version, _, client_id = parse_request(state.requests[0])
    assert (api_key, version, client_id) == (18, 0, b"vextrus-console")


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("unsupported", "ApiVersions failed: UNSUPPORTED_VERSION"),
        ("mismatch", "not a Kafka response (correlation id mismatch)"),
        ("garbage", "not a Kafka response (frame size 1213486160)"),
        ("close", "connection closed without a response"),
        ("truncated", "connection closed in the middle of a response"),
    ],
)
async def test_kafka_non_brokers_are_named(mode: str, error: str) -> None:
    r, _ = await kafka_against(mode)
    assert not r.ok
    assert r.error == error


async def test_kafka_peer_dropping_the_connection() -> None:
    r, _ = await kafka_against("drop")
    assert not r.ok
    assert r.error in ("connection reset by peer", "connection closed without a response")


async def test_kafka_silent_port_times_out(silent_server: Loopback) -> None:
    r = await run_check(check("kafka", silent_server.port, timeout=0.3), SVC, None)
    assert not r.ok and r.error == "timed out after 0.3s"


def test_kafka_codec_round_trip() -> None:
    request = encode_api_versions_request(7)
    assert struct.unpack(">i", request[:4])[0] == len(request) - 4
    assert parse_request(request[4:]) == (18, 0, 7, b"vextrus-console")
    decoded = decode_api_versions_response(api_versions_v0_response(7)[4:])
    assert decoded.correlation_id == 7 and decoded.error_code == 0
    assert list(decoded.api_keys) == API_KEYS


# --- temporal -------------------------------------------------------------------------------


async def test_temporal_system_info_and_namespace(temporal_server: TemporalServer) -> None:
    c = check("temporal", temporal_server.port, namespace="vextrus", timeout=5.0)
    r = await run_check(c, SVC, None)
    assert r.ok, r.error
    assert r.output.startswith("Temporal ")
    assert "capabilities:" in r.output
    assert r.output.endswith("namespace vextrus registered")


async def test_temporal_refused_port() -> None:
    r = await run_check(check("temporal", free_port(), timeout=2.0), SVC, None)
    assert not r.ok
    assert r.error == "connection refused"
    assert r.latency_ms < 2000


async def test_temporal_silent_port_times_out_within_its_timeout(silent_server: Loopback) -> None:
    r = await run_check(check("temporal", silent_server.port, timeout=1.0), SVC, None)
    assert not r.ok
    assert r.error == "timed out after 1.0s"
    assert r.latency_ms < 1500


def test_temporal_not_found_names_the_namespace() -> None:
    from temporalio.service import RPCError, RPCStatusCode

    c = check("temporal", 7233, namespace="vextrus")
    exc = RPCError("Namespace vextrus is not found.", RPCStatusCode.NOT_FOUND, b"")
    assert temporal_error_words(exc, c) == "namespace vextrus not registered"
    unavailable = RPCError("upstream connect error", RPCStatusCode.UNAVAILABLE, b"")
    assert temporal_error_words(unavailable, c) == "temporal unavailable: upstream connect error"
