"""TCP probe: can a connection be opened to host:port at all?

The weakest health question, and the one every other failure is compared against: a
service that accepts TCP but fails its protocol check is alive but sick; one that refuses
is not listening (or not forwarded).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, failed, guarded, hostport

if TYPE_CHECKING:
    from console.runtime.base import Runtime


class TcpProbe:
    """ok when a TCP connection to the check's host:port is accepted."""

    kind = "tcp"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """Connect, then close politely; the connection itself is the answer."""
        if check.port is None:
            return failed(check, "no port configured")
        port = check.port

        async def body() -> Outcome:
            _reader, writer = await asyncio.open_connection(check.host, port)
            await close_writer(writer)
            return Outcome(True, output=f"connected to {hostport(check.host, port)}")

        return await guarded(check, body)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream without letting a peer that already hung up turn success into failure."""
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
