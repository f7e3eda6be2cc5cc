"""The Latency column is the service's time, not the console's (issue 14, item 4).

40 services that answer curl in 1-3 ms read ~52 ms when a probe's whole coroutine was timed:
waiting for a slot of the probe lane, for the other probes' turns on the event loop, and the
console's own parsing all counted. A probe now times from its request written to the socket
to the first response byte; these tests make the console slow on purpose around that window
and check the latency shown does not move. bench/latency_truth.py compares it with curl.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import h11
import pytest

from console.model import HealthCheck, Service
from console.probes import limits
from console.probes.registry import run_check, run_checks

SERVICE_S = 0.3  # how long the slow endpoint takes to answer
CONSOLE_S = 1.0  # how long the console is made to stall


async def _serve_on_low_port(handler: Any) -> tuple[asyncio.Server, int]:
    for _ in range(50):
        port = random.randrange(24_000, 32_000)
        try:
            return await asyncio.start_server(handler, "127.0.0.1", port), port
        except OSError:
            continue
    raise AssertionError("no free loopback port below 32000")


def _answer_after(seconds: float) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(seconds)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        await writer.drain()
        writer.close()
    return handler


async def test_waiting_for_a_probe_slot_is_not_latency() -> None:
    """One slot, six checks of an endpoint that takes 0.3 s: the last one waits 1.5 s for
    its turn, and every latency shown is still the endpoint's 0.3 s, not the queue."""
    limits.configure(1)
    server, port = await _serve_on_low_port(_answer_after(SERVICE_S))
    async with server:
        check = HealthCheck("http", port=port, timeout=5.0)
        started = time.perf_counter()
        results = await run_checks([(Service(f"s{i}"), check) for i in range(6)])
        waited = time.perf_counter() - started
    assert [r.ok for r in results] == [True] * 6
    assert waited >= 6 * SERVICE_S  # they did queue
    latencies = [r.latency_ms for r in results]
    assert min(latencies) >= SERVICE_S * 1000 * 0.9  # the service's own time counts
    assert max(latencies) < 3 * SERVICE_S * 1000, latencies  # the queue (up to 1.5 s) does not


async def test_the_consoles_own_stall_after_the_answer_is_not_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The endpoint answers at once; the console then stalls 1 s before it parses the
    answer (as when it paints a frame or runs 40 other probes' turns): the latency shown
    is the endpoint's, far below the stall."""
    receive = h11.Connection.receive_data
    stalls: list[float] = []

    def stalled_receive(self: h11.Connection, data: bytes) -> None:
        if not stalls:
            stalls.append(CONSOLE_S)
            time.sleep(CONSOLE_S)  # the event loop itself is held, as busy work would
        receive(self, data)

    monkeypatch.setattr(h11.Connection, "receive_data", stalled_receive)
    server, port = await _serve_on_low_port(_answer_after(0.0))
    async with server:
        started = time.perf_counter()
        result = await run_check(HealthCheck("http", port=port, timeout=5.0), Service("api"))
        took = time.perf_counter() - started
    assert result.ok, result.error
    assert stalls and took >= CONSOLE_S
    assert result.latency_ms < CONSOLE_S * 1000 / 2, result.latency_ms


async def test_a_failed_probe_still_reports_how_long_it_tried() -> None:
    """Refused or timed out, there is no answer to time: the latency is the attempt's."""
    server, port = await _serve_on_low_port(_answer_after(10.0))
    async with server:
        result = await run_check(HealthCheck("http", port=port, timeout=0.5), Service("api"))
    assert not result.ok and result.error == "timed out after 0.5s"
    assert result.latency_ms >= 500


def _count_concurrent(seen: list[int], answer_after: float) -> Any:
    """A handler that notes how many requests it holds at once."""
    holding = [0]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        holding[0] += 1
        seen.append(holding[0])
        await asyncio.sleep(answer_after)
        holding[0] -= 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        await writer.drain()
        writer.close()
    return handler


async def test_a_refresh_never_asks_more_services_at_once_than_its_pace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight services asked in one refresh with a pace of two: never more than two
    requests in the services' hands at once (forty at once on two cores made each read
    ~10x a lone curl: bench/latency_truth.py), and all eight answer."""
    monkeypatch.setattr(limits, "PACE_HOLD_S", 30.0)  # every answer comes within the hold
    limits.configure(64, paced=2)
    seen: list[int] = []
    server, port = await _serve_on_low_port(_count_concurrent(seen, 0.05))
    async with server:
        check = HealthCheck("http", port=port, timeout=10.0)
        results = await run_checks([(Service(f"s{i}"), check) for i in range(8)])
    assert [r.ok for r in results] == [True] * 8
    assert len(seen) == 8 and max(seen) == 2, seen


async def test_a_hanging_service_gives_its_pace_slot_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a pace of one, a service that never answers holds the slot only for the pace's
    hold, not for its timeout: the next service is asked and answers while the hanging
    probe still waits."""
    monkeypatch.setattr(limits, "PACE_HOLD_S", 0.2)
    limits.configure(64, paced=1)
    hang, hang_port = await _serve_on_low_port(_answer_after(60))
    quick, quick_port = await _serve_on_low_port(_answer_after(0))
    async with hang, quick:
        hanging = asyncio.ensure_future(
            run_check(HealthCheck("http", port=hang_port, timeout=20.0), Service("stuck")))
        await asyncio.sleep(0.05)  # the hanging one has the slot
        answered = await asyncio.wait_for(
            run_check(HealthCheck("http", port=quick_port, timeout=10.0), Service("fine")), 15)
        assert answered.ok and not hanging.done()
        hanging.cancel()
