"""HTTP probe: GET a health endpoint from the host, or from inside the container.

From the host it is a plain HTTP/1.1 GET spoken with h11; `where="inside"` runs the seeds' own
`wget -qO- http://127.0.0.1:PORT/PATH` through the runtime, which is how a healthy service
behind broken port forwarding is told apart from a dead one.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, SupportsIndex
from urllib.parse import urljoin, urlsplit

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import (
    Outcome,
    ProbeError,
    failed,
    guarded,
    hostport,
    preload,
    timeout_words,
)
from console.probes.exec import inside_http_argv

if TYPE_CHECKING:
    import h11

    from console.runtime.base import Runtime

BODY_LIMIT = 4096  # bytes read from a response: enough for any health JSON, bounded for a 1 GB one
MAX_REDIRECTS = 5
BODY_IN_ERROR = 200
USER_AGENT = "vextrus-console-probe"


class HttpProbe:
    """ok when the endpoint answers 2xx/3xx (or exactly `expect_status` when configured)."""

    kind = "http"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """Dispatch on where the question is asked: host (h11) or inside (runtime exec)."""
        if check.port is None:
            return failed(check, "no port configured")
        if check.where == "inside":
            return await _run_inside(check, service, runtime)
        return await _run_host(check)


def status_ok(check: HealthCheck, status: int) -> bool:
    """The check's notion of success: its expected status, else any 2xx/3xx."""
    if check.expect_status is not None:
        return status == check.expect_status
    return 200 <= status < 400


def status_error(check: HealthCheck, status: int, body: str) -> str:
    """`HTTP 404`, or `HTTP 503: <body>` for server errors (health endpoints explain them).

    A 4xx body is a framework's generic error page and only noise; a 5xx body from a health
    endpoint usually names the failing dependency, so its start goes into the error.
    """
    words = f"HTTP {status}"
    if check.expect_status is not None and 200 <= status < 400:
        return f"{words} (expected {check.expect_status})"
    excerpt = body.strip()[:BODY_IN_ERROR]
    if status >= 500 and excerpt:
        return f"{words}: {excerpt}"
    return words


# --- from the host --------------------------------------------------------------------


async def _run_host(check: HealthCheck) -> ProbeResult:
    """GET over a fresh connection, spoken with h11 (the HTTP/1.1 engine under httpx).

    A probe is one plain-http GET to loopback with no pooling, TLS, proxies or cookies, so
    the client layers above h11 only cost time: 40 probes take ~14 ms this way against
    ~55 ms through httpx.AsyncClient on the project's machines (bench/refresh.py). Under
    load (bench/http_clients.py, load 6.5): 70 ms wall / 34 ms CPU, against 422 / 185 ms
    with a pooled AsyncClient and 4.6 s / 1.9 s with a fresh AsyncClient per probe (the
    probe's semantics: a reused connection would hide a dead listener).
    """
    await preload("h11")
    target = (check.host, check.port or 0)
    url = f"http://{hostport(check.host, check.port)}{check.path}"

    async def body() -> Outcome:
        return await _get_same_origin(target, url, check)

    return await guarded(check, body)


async def _get_same_origin(target: tuple[str, int], url: str, check: HealthCheck) -> Outcome:
    """GET, following redirects only while they stay on the same scheme, host and port.

    A health endpoint that redirects to another host (a login page, an external status
    page) is not followed: the probe must not wander off the stack it checks. The 3xx
    itself then decides, like any other status.
    """
    origin = urlsplit(url)[:2]
    socket_ms = 0.0
    for _ in range(MAX_REDIRECTS + 1):
        status, location, text, took_ms = await _get(target, url)
        socket_ms += took_ms
        if not (300 <= status < 400 and location):
            break
        destination = urljoin(url, location)
        if urlsplit(destination)[:2] != origin:
            text = f"redirect to {destination} not followed (other host)"
            break
        url = destination
    else:
        return Outcome(False, error=f"more than {MAX_REDIRECTS} redirects", socket_ms=socket_ms)
    if status_ok(check, status):
        return Outcome(True, output=f"HTTP {status} {text}".strip(), socket_ms=socket_ms)
    return Outcome(False, output=text, error=status_error(check, status, text),
                   socket_ms=socket_ms)


class _TimedReader(asyncio.StreamReader):
    """A stream reader that notes when the first bytes came off the socket.

    `feed_data` runs in the transport's read callback, as soon as the event loop sees the
    socket readable; the coroutine that parses the bytes may run much later (behind the
    other probes of a refresh, or a frame being painted), and that wait is the console's,
    not the service's.
    """

    first_byte: float | None = None

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        if self.first_byte is None and data:
            self.first_byte = time.perf_counter()
        super().feed_data(data)


async def _get(target: tuple[str, int], url: str) -> tuple[int, str, str, float]:
    """Status, Location, the first BODY_LIMIT bytes of the body (decoded leniently), and the
    service's time in ms: from the request written to the socket to the first response byte.

    The request is built before the stopwatch starts and the response parsed after it
    stopped, so neither the console's own work nor its scheduling counts (issue 14: 40
    services answering curl in 1-3 ms read ~52 ms when the whole coroutine was timed).
    """
    import h11

    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    reader = _TimedReader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(lambda: protocol, *target)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    try:
        conn = h11.Connection(h11.CLIENT)
        request = conn.send(h11.Request(method="GET", target=path, headers=[
            ("Host", parts.netloc), ("User-Agent", USER_AGENT), ("Accept", "*/*"),
            ("Connection", "close")])) + conn.send(h11.EndOfMessage())
        sent = time.perf_counter()
        writer.write(request)
        status, location, text = await _read_response(conn, reader)
        answered = reader.first_byte if reader.first_byte is not None else time.perf_counter()
        return status, location, text, (answered - sent) * 1000
    finally:
        writer.close()


async def _read_response(conn: h11.Connection, reader: asyncio.StreamReader
                         ) -> tuple[int, str, str]:
    import h11

    status, location, charset, body = 0, "", "utf-8", bytearray()
    while len(body) < BODY_LIMIT:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(16384))
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in event.headers}
            location = headers.get("location", "")
            charset = _charset(headers.get("content-type", "")) or charset
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    if not status:
        raise ProbeError("connection closed before an HTTP response")
    return status, location, bytes(body[:BODY_LIMIT]).decode(charset, errors="replace")


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    if not match:
        return None
    try:
        codecs.lookup(match.group(1))
    except LookupError:
        return None
    return match.group(1)


# --- from inside the container ----------------------------------------------------------

_WGET_STATUS_RE = re.compile(r"HTTP/\d(?:\.\d)?\s+(\d{3})")


async def _run_inside(check: HealthCheck, service: Service, runtime: Runtime | None) -> ProbeResult:
    """Run busybox/GNU wget inside the container and read its exit code and complaint."""
    if runtime is None:
        return failed(check, "no runtime to exec in", where="inside")
    argv = inside_http_argv(check)
    rt = runtime

    async def body() -> Outcome:
        result = await rt.exec(service, argv, check.timeout)
        if result.exit_code == SEGFAULT and not result.output.strip():
            # Some busybox builds (Debian's static 1.35) crash on `-T`: ask again without
            # it; the probe's own deadline still bounds the call.
            result = await rt.exec(service, without_timeout_flag(argv), check.timeout)
        return wget_outcome(check, result.exit_code, result.output)

    return await guarded(check, body, where="inside")


SEGFAULT = 139  # 128 + SIGSEGV, as a shell reports a crashed command


def without_timeout_flag(argv: list[str]) -> list[str]:
    """The same wget command line with its `-T SECONDS` removed."""
    if "-T" not in argv:
        return argv
    at = argv.index("-T")
    return argv[:at] + argv[at + 2 :]


def wget_outcome(check: HealthCheck, exit_code: int, output: str) -> Outcome:
    """Judge wget's exit code and its stderr wording (it prints no body on errors)."""
    match = _WGET_STATUS_RE.search(output)
    status = int(match.group(1)) if match else None
    if exit_code == 0:
        return Outcome(True, output=output or "wget exit 0")
    if status is not None:
        if status_ok(check, status):
            return Outcome(True, output=output)
        return Outcome(False, output=output, error=f"HTTP {status} (inside)")
    return Outcome(False, output=output, error=_wget_words(check, exit_code, output))


def _wget_words(check: HealthCheck, exit_code: int, output: str) -> str:
    lowered = output.lower()
    if exit_code in (126, 127) or ("not found" in lowered and "wget" in lowered):
        return "wget not available inside the container"
    if "refused" in lowered:
        return "connection refused (inside)"
    if "timed out" in lowered:
        return timeout_words(check.timeout) + " (inside)"
    if "bad address" in lowered or "unable to resolve" in lowered:
        return "no such host (inside)"
    return f"wget exit code {exit_code} (inside)"
