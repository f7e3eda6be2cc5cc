"""gRPC and connection failures in the words an operator expects, as TemporalError types.

A Temporal call can fail in three ways that matter to on-call: the server is not there
(retry later: TemporalUnavailable), the server does not implement the call (the console
falls back), or the server said no (a one-line TemporalError with its reason).
"""

from __future__ import annotations

from console.probes.common import error_words
from console.temporal.types import (
    TemporalError,
    TemporalUnavailable,
    Unimplemented,
    WorkflowNotFound,
)

_UNREACHABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"}


def is_timeout(exc: BaseException) -> bool:
    """A call that ran out of time; the test server says "Timeout expired" as UNKNOWN."""
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, RPCError) and (
        exc.status == RPCStatusCode.DEADLINE_EXCEEDED or "timeout expired" in exc.message.lower()
    )


def words(exc: BaseException, timeout: float) -> TemporalError:
    """Map any failure of a Temporal call to a TemporalError with a one-line message."""
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(exc, TemporalError):
        return exc
    if isinstance(exc, RPCError):
        message = _first_line(exc.message)
        name = exc.status.name if exc.status is not None else "UNKNOWN"
        if is_timeout(exc):
            return TemporalUnavailable(f"timed out after {timeout:g}s")
        if name in _UNREACHABLE:
            return TemporalUnavailable(f"temporal {name.lower()}: {message}")
        if exc.status == RPCStatusCode.UNIMPLEMENTED:
            return Unimplemented(f"unimplemented: {message}")
        if exc.status == RPCStatusCode.NOT_FOUND:
            return WorkflowNotFound(f"not found: {message}")
        return TemporalError(f"{name.lower().replace('_', ' ')}: {message}")
    if isinstance(exc, TimeoutError):
        return TemporalUnavailable(f"timed out after {timeout:g}s")
    text = error_words(exc, timeout)
    lowered = text.lower()
    for needle, said in _CONNECT_WORDS:  # the Rust core's connect errors, as on-call says them
        if needle in lowered:
            return TemporalUnavailable(said)
    return TemporalUnavailable(_first_line(text))


_CONNECT_WORDS = (
    ("connectionreset", "connection reset by the server"),
    ("connection reset", "connection reset by the server"),
    ("transport error", "connection lost (transport error)"),
    ("tcp connect error", "cannot connect (tcp connect error)"),
)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "(no message)"
    return line if len(line) <= 300 else line[:299] + "…"
