"""Redis probe: optional AUTH, then PING, spoken as raw RESP over an asyncio stream.

Two commands do not justify a client library dependency. AUTH and PING are pipelined (one
round trip), and Redis's own error codes (NOAUTH, WRONGPASS, LOADING, DENIED) are turned
into words an operator can act on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, ProbeError, check_password, failed, guarded
from console.probes.tcp import close_writer

if TYPE_CHECKING:
    from console.runtime.base import Runtime

REPLY_LIMIT = 64 * 1024


class RedisProbe:
    """ok when PING answers +PONG (after a successful AUTH when a password is configured)."""

    kind = "redis"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """Open a connection, pipeline AUTH + PING, judge the replies in order."""
        if check.port is None:
            return failed(check, "no port configured")
        password = check_password(check)
        port = check.port

        async def body() -> Outcome:
            reader, writer = await asyncio.open_connection(check.host, port, limit=REPLY_LIMIT)
            try:
                return await _auth_and_ping(check, reader, writer, password)
            finally:
                await close_writer(writer)

        return await guarded(check, body)


def encode_command(*args: str) -> bytes:
    """A RESP array of bulk strings, the form every Redis version accepts."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def _auth_and_ping(
    check: HealthCheck,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    password: str | None,
) -> Outcome:
    request = encode_command("PING")
    if password is not None:
        request = encode_command("AUTH", password) + request
    writer.write(request)
    await writer.drain()
    if password is not None:
        auth = await read_reply(reader)
        if auth != "+OK":
            return Outcome(False, error=auth_error_words(auth))
    pong = await read_reply(reader)
    if pong == "+PONG":
        return Outcome(True, output="PONG")
    return Outcome(False, output=pong, error=reply_error_words(check, pong, password))


async def read_reply(reader: asyncio.StreamReader) -> str:
    """One RESP reply line without CRLF; an early close is an error in words."""
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProbeError("connection closed in the middle of a reply") from None
        raise ProbeError("connection closed without a reply") from None
    except asyncio.LimitOverrunError:
        raise ProbeError("not a Redis reply (no line end)") from None
    return line[:-2].decode("utf-8", errors="replace")


def auth_error_words(reply: str) -> str:
    """Why AUTH failed: wrong password, or a server that has no password at all."""
    if "without any password configured" in reply or "no password is set" in reply:
        return "authentication failed: the server has no password set, but one was sent"
    if reply.startswith(("-WRONGPASS", "-ERR invalid password", "-ERR invalid username")):
        return "authentication failed"
    return reply_error_words(None, reply, "x")


def reply_error_words(check: HealthCheck | None, reply: str, password: str | None) -> str:
    """PING's reply when it is not +PONG: Redis error codes, or not Redis at all."""
    if reply.startswith("-NOAUTH"):
        hint = ""
        if check is not None and check.password_env and password is None:
            hint = f" ({check.password_env} is not set)"
        return f"authentication required{hint}"
    if reply.startswith("-LOADING"):
        return "loading the dataset into memory, not ready yet"
    if reply.startswith("-DENIED"):
        return "denied: " + reply[len("-DENIED") :].strip()
    if reply.startswith("-MASTERDOWN"):
        return "replica cannot reach its master"
    if reply.startswith("-"):
        return "redis error: " + reply[1:].removeprefix("ERR").strip()
    return f"not a Redis reply: {reply[:80]}"
