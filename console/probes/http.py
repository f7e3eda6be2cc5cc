"""HTTP probe: GET a health endpoint from the host, or from inside the container.

From the host it is a real HTTP client (httpx); `where="inside"` runs the seeds' own
`wget -qO- http://127.0.0.1:PORT/PATH` through the runtime, which is how a healthy service
behind broken port forwarding is told apart from a dead one.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, failed, guarded, hostport, preload, timeout_words
from console.probes.exec import inside_http_argv

if TYPE_CHECKING:
    import ssl

    import httpx

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
        """Dispatch on where the question is asked: host (httpx) or inside (runtime exec)."""
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
    """GET with a fresh client per probe (see `_ssl_context` for why that is cheap)."""
    # httpx imports its transport (httpcore, h11, anyio) on the first request: ~50 ms.
    await preload("httpx", "httpcore", "h11", "anyio._backends._asyncio")
    if _ssl_context.cache_info().currsize == 0:
        await asyncio.to_thread(_ssl_context)  # loads the CA bundle; keep it off the loop
    import httpx

    ssl_context = _ssl_context()
    url = f"http://{hostport(check.host, check.port)}{check.path}"

    async def body() -> Outcome:
        async with httpx.AsyncClient(
            timeout=check.timeout,
            follow_redirects=False,
            trust_env=False,  # HTTP(S)_PROXY must not swallow loopback health checks
            verify=ssl_context,
            headers={"User-Agent": USER_AGENT},
        ) as client:
            return await _get_same_origin(client, url, check)

    return await guarded(check, body)


async def _get_same_origin(client: httpx.AsyncClient, url: str, check: HealthCheck) -> Outcome:
    """GET, following redirects only while they stay on the same scheme, host and port.

    A health endpoint that redirects to another host (a login page, an external status
    page) is not followed: the probe must not wander off the stack it checks. The 3xx
    itself then decides, like any other status.
    """
    origin = urlsplit(url)[:2]
    for _ in range(MAX_REDIRECTS + 1):
        status, location, text = await _get(client, url)
        if not (300 <= status < 400 and location):
            break
        target = urljoin(url, location)
        if urlsplit(target)[:2] != origin:
            text = f"redirect to {target} not followed (other host)"
            break
        url = target
    else:
        return Outcome(False, error=f"more than {MAX_REDIRECTS} redirects")
    if status_ok(check, status):
        return Outcome(True, output=f"HTTP {status} {text}".strip())
    return Outcome(False, output=text, error=status_error(check, status, text))


async def _get(client: httpx.AsyncClient, url: str) -> tuple[int, str, str]:
    """Status, Location and the first BODY_LIMIT bytes of the body (decoded leniently)."""
    async with client.stream("GET", url) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= BODY_LIMIT:
                break
        raw = b"".join(chunks)[:BODY_LIMIT]
        text = raw.decode(response.encoding or "utf-8", errors="replace")
        return response.status_code, response.headers.get("location", ""), text


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building it loads the CA bundle (~30 ms).

    Probes only speak plain http, but httpx builds a context for every client unless it is
    given one; reusing this one makes a fresh client cost ~0.5 ms, so each probe gets its
    own client and nothing is shared across event loops (tests run one loop per test).
    """
    import httpx

    return httpx.create_ssl_context()


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
