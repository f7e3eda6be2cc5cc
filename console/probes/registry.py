"""Which probe answers which check kind, and running many checks at once.

The monitor, the bring-up waiter and the CLI all come through `run_check` / `run_checks`,
so every caller gets the same guarantees: one result per check, never an exception, each
check bounded by its own timeout, all of them concurrent up to the machine's bound (a
refresh costs the slowest probe, not the sum; a stack bigger than the bound is slower,
never failing for want of descriptors).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from console.model import HealthCheck, Service
from console.probes.base import Probe, ProbeResult
from console.probes.common import error_words, failed
from console.probes.exec import ExecProbe
from console.probes.http import HttpProbe
from console.probes.kafka import KafkaProbe
from console.probes.limits import PaceSlot, lanes
from console.probes.postgres import PostgresProbe
from console.probes.redis import RedisProbe
from console.probes.tcp import TcpProbe
from console.probes.temporal import TemporalProbe

if TYPE_CHECKING:
    from console.runtime.base import Runtime

PROBES: dict[str, Probe] = {
    probe.kind: probe
    for probe in (
        HttpProbe(),
        TcpProbe(),
        PostgresProbe(),
        RedisProbe(),
        KafkaProbe(),
        TemporalProbe(),
        ExecProbe(),
    )
}


async def run_check(
    check: HealthCheck,
    service: Service,
    runtime: Runtime | None = None,
    started: asyncio.Event | None = None,
) -> ProbeResult:
    """Run one check with the probe for its kind; failures come back as results.

    The check first waits for a slot of its lane (console.probes.limits); its timeout and
    latency start only then, and `started` is set (always, before it returns), so a queue
    is slowness, never a false timeout.
    """
    probe = PROBES.get(check.kind)
    if probe is None:
        if started is not None:
            started.set()  # promised before every return: callers may wait on it
        return failed(check, f"unknown check kind {check.kind!r}")
    all_lanes = lanes()
    through_exec = check.kind == "exec" or check.where == "inside"
    lane = all_lanes.exec if through_exec else all_lanes.network
    # Network probes are also paced: a few at a time for their first moments (limits).
    paced = contextlib.nullcontext() if through_exec else PaceSlot(all_lanes.paced)
    async with lane, paced:
        if started is not None:
            started.set()
        try:
            return await probe.run(check, service, runtime)
        except Exception as exc:  # a probe bug must not take the whole refresh down
            return failed(check, f"probe failed: {error_words(exc, check.timeout)}")


async def run_checks(
    pairs: Iterable[tuple[Service, HealthCheck]], runtime: Runtime | None = None
) -> list[ProbeResult]:
    """Run every (service, check) pair concurrently (as many at once as the lanes allow);
    results come back in the same order."""
    return list(
        await asyncio.gather(*(run_check(check, service, runtime) for service, check in pairs))
    )
