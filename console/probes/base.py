"""The probe interface: one kind of health question (http, tcp, postgres, ...).

Probes are independent and concurrent; each has its own timeout and measures its own
latency, so a full refresh costs the slowest probe, never the sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from console.model import HealthCheck, Service

if TYPE_CHECKING:
    from console.runtime.base import Runtime


@dataclass(frozen=True)
class ProbeResult:
    """The answer to one health check."""

    check: HealthCheck
    ok: bool
    latency_ms: float
    output: str = ""  # what the service said (body excerpt, PONG, exec output), masked
    error: str = ""  # why it failed, in words ("connection refused", "timed out after 2.0s")
    where: str = "host"  # host or inside (an http check repeated inside says inside)

    @property
    def refused(self) -> bool:
        return "refused" in self.error


class Probe(Protocol):
    kind: str

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult: ...
