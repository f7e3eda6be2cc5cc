"""What every probe shares: the timeout, the stopwatch, error words and output hygiene.

Each probe only says how to ask its question; `guarded()` makes every probe behave the same
way around it: the check's own timeout, latency from `time.perf_counter` (or the time the
probe took at the socket, which leaves out the console's own scheduling), no exception ever
escapes (a failing probe is a result, not a crash of the refresh), and output and errors
are masked, stripped of control characters and cut to a readable length.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from console.masking import sanitize
from console.model import HealthCheck
from console.probes.base import ProbeResult

OUTPUT_LIMIT = 500
ERROR_LIMIT = 300


class ProbeError(Exception):
    """A failure whose message is already in operator words; shown as it is."""


@dataclass(frozen=True)
class Outcome:
    """What a probe body found out; `guarded()` turns it into a ProbeResult."""

    ok: bool
    output: str = ""
    error: str = ""
    # The service's own time where the probe could take it at the socket (request sent to
    # first response byte); None: the whole body's time is the latency.
    socket_ms: float | None = None


async def guarded(
    check: HealthCheck,
    body: Callable[[], Awaitable[Outcome]],
    where: str | None = None,
) -> ProbeResult:
    """Run one probe body under the check's timeout and turn anything it raises into words.

    Cancellation from outside (the refresh being abandoned) still propagates: only
    `Exception` is caught, and `asyncio.timeout` converts its own cancellation into
    TimeoutError, which is a plain failure here.
    """
    started = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout):
            outcome = await body()
    except Exception as exc:
        outcome = Outcome(False, error=error_words(exc, check.timeout))
    latency_ms = (time.perf_counter() - started) * 1000
    if outcome.socket_ms is not None:
        latency_ms = outcome.socket_ms
    return ProbeResult(
        check=check,
        ok=outcome.ok,
        latency_ms=latency_ms,
        output=sanitize(outcome.output, OUTPUT_LIMIT),
        error=sanitize(outcome.error, ERROR_LIMIT),
        where=where or check.where,
    )


def failed(check: HealthCheck, error: str, where: str | None = None) -> ProbeResult:
    """A result for a check that could not even be attempted (no port, no runtime, ...)."""
    return ProbeResult(check, False, 0.0, error=error, where=where or check.where)


def check_password(check: HealthCheck) -> str | None:
    """The password from the env var the check names; None when unset (none is sent).

    The stack file holds only the variable's name, so the value never lands in a file,
    a journal or an export.
    """
    if not check.password_env:
        return None
    return os.environ.get(check.password_env) or None


def timeout_words(timeout: float) -> str:
    """`timed out after 2.0s`: the operator sees which limit was hit, not a stack trace."""
    return f"timed out after {float(timeout)}s"


def error_words(exc: BaseException, timeout: float) -> str:
    """An exception in the words an operator expects ("connection refused", "no such host").

    Client libraries wrap socket errors (asyncpg, redis, temporal's Rust core
    -> RuntimeError with text), so the cause chain is searched first, then the message.
    """
    if isinstance(exc, ProbeError):
        return str(exc)
    for err in _chain(exc):
        words = _os_error_words(err, timeout)
        if words:
            return words
    text = str(exc).strip()
    lowered = text.lower()
    for needle, words in _TEXT_WORDS:
        if needle in lowered:
            return timeout_words(timeout) if words == "timed out" else words
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def hostport(host: str, port: int | None) -> str:
    """`host:port`, with IPv6 literals bracketed so URLs and gRPC targets parse."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


async def preload(*modules: str) -> None:
    """Import heavy client libraries off the event loop, once.

    h11, asyncpg and temporalio take up to 0.1-0.4 s to import; doing it lazily keeps the
    console's cold start fast, and doing it in a thread keeps the UI responsive while it
    happens. Probes call this before their stopwatch starts, so the first latency shown is
    the service's, not Python's.
    """
    missing = [m for m in modules if m not in sys.modules]
    if missing:
        await asyncio.to_thread(_import_all, missing)


def _import_all(modules: list[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes/contexts, each once (cycles are possible)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # The context is followed even when suppressed (`raise X from None`): a client
        # hides the OSError that way, and it is exactly the part that names the fault.
        current = current.__cause__ or current.__context__


def _os_error_words(err: BaseException, timeout: float) -> str:
    if isinstance(err, TimeoutError) or type(err).__name__.endswith("Timeout"):
        return timeout_words(timeout)
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, socket.gaierror):
        if err.errno in _NO_SUCH_HOST:
            return "no such host"
        return f"name lookup failed: {err.strerror or err}"
    if isinstance(err, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(err, OSError) and err.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[err.errno]
    return ""


_NO_SUCH_HOST = {
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL")
    if hasattr(socket, name)
}
_ERRNO_WORDS = {
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted",
    errno.EADDRNOTAVAIL: "address not available",
    errno.EMFILE: "too many open files (the console's descriptor limit)",
}
# Messages of libraries that flatten the OS error into text (order: most specific first).
_TEXT_WORDS = (
    ("connection refused", "connection refused"),
    ("[errno 111]", "connection refused"),  # asyncio's "Multiple exceptions: ..." summary
    ("name or service not known", "no such host"),
    ("nodename nor servname", "no such host"),
    ("failed to lookup address", "no such host"),
    ("dns error", "no such host"),
    ("no route to host", "host unreachable"),
    ("network is unreachable", "network unreachable"),
    ("connection reset", "connection reset by peer"),
    ("timed out", "timed out"),
)
