"""The load generator against real loopback servers with a known delay and error rate.

Values are asserted loosely (a delay of 50 ms must read as 50-ish ms, not 0 and not 500);
nothing here times the test itself. Ports 24180-24199 are this file's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from actions.load import LoadTest
from cli import main as cli
from console.forwarder import Fault, Forwarder, ForwarderError, TcpTarget
from console.journal import Journal
from console.loadgen import (
    Histogram,
    LoadError,
    LoadSnapshot,
    LoadSpec,
    parse_duration,
    parse_target,
    target_for_service,
)
from console.model import HealthCheck, Service, Stack
from console.results import latest_result
from tests.loadserver import serving

URL = "http://127.0.0.1:{port}/api"


def spec(port: int, **kwargs: object) -> LoadSpec:
    return LoadSpec(parse_target(URL.format(port=port)), **kwargs)  # type: ignore[arg-type]


async def test_open_loop_reads_a_known_delay_and_counts_errors_by_kind() -> None:
    with serving(24180, delay=0.05, error_every=10) as server:
        result = await LoadTest(spec(24180, rate=200, duration=2.0)).run()
    assert result.requests == 400 == server.count  # every due request was sent and answered
    assert result.errors == {"HTTP 500": 40}
    assert result.ok == 360
    lat = result.latency_ms
    assert 50 <= lat["p50"] < 250  # the delay, plus what a busy machine adds, not 5x it
    assert 50 <= lat["p95"] < 400
    assert lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    verdicts = {v.threshold: v.passed for v in result.verdicts}
    assert verdicts == {"p95 < 300 ms": True, "throughput > 1000 req/s": False}
    assert not result.passed


async def test_a_slow_server_cannot_hide_its_latency_in_the_open_loop() -> None:
    """Two connections at 200 ms each serve 10 req/s; 30 are due in one second. Queued
    requests count from when they were due (open loop), so the tail shows the queue (the
    last ones wait about two seconds); the closed loop with the same two connections only
    ever sees the 200 ms."""
    with serving(24181, delay=0.2):
        open_loop = await LoadTest(spec(24181, rate=30, duration=1.0, max_connections=2)).run()
        closed = await LoadTest(spec(24181, users=2, duration=1.0)).run()
    assert open_loop.errors == {}
    assert open_loop.latency_ms["p90"] > 1200
    assert open_loop.service_ms["p90"] < open_loop.latency_ms["p90"] / 2  # the wait shows
    assert closed.latency_ms["p90"] < 700


async def test_a_refused_target_is_errors_by_kind_and_fails_the_latency_threshold() -> None:
    result = await LoadTest(spec(24182, rate=50, duration=0.5)).run()
    assert result.errors == {"connection refused": 25}
    assert result.ok == 0
    assert not any(v.passed for v in result.verdicts)  # no answer is not a fast answer


async def test_live_snapshots_arrive_while_it_runs() -> None:
    seen: list[LoadSnapshot] = []
    with serving(24183, delay=0.01):
        await LoadTest(spec(24183, rate=100, duration=1.0)).run(seen.append, tick=0.2)
    assert len(seen) >= 3
    assert seen[-1].completed > seen[0].completed
    assert seen[-1].latency_ms["p50"] >= 10


async def test_the_forwarder_adds_the_injected_delay_to_the_load_p95() -> None:
    """Every request through the faulted pipe pays the delay, so it is a floor on the
    percentiles whatever the machine is doing; the clean runs before and after are only
    compared against it (a busy CI box once made the clean run slower than 100 ms)."""
    with serving(24184, delay=0.0):
        fwd = Forwarder("127.0.0.1", 24185, TcpTarget("127.0.0.1", 24184))
        await fwd.start()
        try:
            before = await LoadTest(spec(24185, rate=50, duration=1.0)).run()
            fwd.fault = Fault(delay=0.3)
            during = await LoadTest(spec(24185, rate=50, duration=1.0)).run()
            fwd.fault = Fault(delay=0.1, drop_rate=1.0)
            dropped = await LoadTest(spec(24185, rate=20, duration=0.5, timeout=1.0)).run()
            fwd.fault = None
            after = await LoadTest(spec(24185, rate=50, duration=1.0)).run()
        finally:
            await fwd.stop()
    assert before.errors == {} and during.errors == {} and after.errors == {}
    assert during.latency_ms["p50"] >= 290  # the 300 ms floor (histogram buckets round down)
    assert before.latency_ms["p50"] < during.latency_ms["p50"]
    assert dropped.ok == 0 and dropped.error_count == dropped.requests == 10
    assert fwd.stats.dropped >= 1
    assert after.latency_ms["p50"] < during.latency_ms["p50"]  # taking the fault off heals


async def test_two_worker_processes_add_up_to_one_run() -> None:
    """Two processes share the rate (interleaved) and the counts add up exactly."""
    from console.loadgen_parallel import run_parallel, split

    seen: list[LoadSnapshot] = []
    with serving(24188, delay=0.03, error_every=10) as server:
        result = await run_parallel(spec(24188, rate=100, duration=1.0), 2, seen.append,
                                    tick=0.25)
    assert result.requests == 100 == server.count
    assert result.errors == {"HTTP 500": 10}
    assert 30 <= result.latency_ms["p50"] < 250
    assert seen and seen[-1].completed <= 100
    parts = split(spec(1, rate=100), 2)
    assert [(p.rate, offset) for p, offset in parts] == [(50, 0.0), (50, 0.01)]
    with pytest.raises(LoadError, match="at least as many users"):
        split(spec(1, users=1), 2)


def test_fault_bounds() -> None:
    with pytest.raises(ForwarderError, match="jitter"):
        Fault(delay=0.1, jitter=0.2)
    with pytest.raises(ForwarderError, match="drop rate"):
        Fault(drop_rate=1.5)
    assert Fault(0.2, 0.05, 0.1).describe() == "delay 200 ms, jitter ±50 ms, drop 10%"


@pytest.mark.parametrize(("url", "why"), [
    ("http://10.0.0.5:80/", "not a loopback address"),
    ("http://192.168.1.10/", "not a loopback address"),
    ("http://example.com/", "names are refused"),
    ("https://127.0.0.1/", "only http://"),
])
def test_targets_off_loopback_are_refused(url: str, why: str) -> None:
    with pytest.raises(LoadError, match=why):
        parse_target(url)


def test_targets_on_loopback_and_services_resolve() -> None:
    assert parse_target("http://localhost:3000/health").url == "http://127.0.0.1:3000/health"
    assert parse_target("http://127.0.0.2:80").path == "/"
    stack = Stack("s", (Service("auth", checks=(HealthCheck("tcp", port=5), HealthCheck(
        "http", port=3001, path="/api/v1/health"))), Service("far", checks=(HealthCheck(
            "http", host="10.1.2.3", port=80),)), Service("none")))
    target = target_for_service(stack, "auth")
    assert (target.url, target.service) == ("http://127.0.0.1:3001/api/v1/health", "auth")
    with pytest.raises(LoadError, match="not a loopback address"):
        target_for_service(stack, "far")
    with pytest.raises(LoadError, match="no http check"):
        target_for_service(stack, "none")


def test_rate_duration_and_mode_are_bounded() -> None:
    target = parse_target("http://127.0.0.1:1/")
    with pytest.raises(LoadError, match="--rate"):
        LoadSpec(target, rate=1e6)
    with pytest.raises(LoadError, match="--duration"):
        LoadSpec(target, rate=10, duration=3600)
    with pytest.raises(LoadError, match="either a rate"):
        LoadSpec(target, rate=10, users=5)
    assert parse_duration("30s") == 30 and parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5
    with pytest.raises(LoadError, match="not a duration"):
        parse_duration("soon")


def test_histogram_percentiles_are_within_one_percent() -> None:
    hist = Histogram()
    for ms in range(1, 1001):  # 1..1000 ms, uniformly
        hist.record(ms / 1000)
    for p, truth in ((50, 500), (90, 900), (95, 950), (99, 990)):
        assert abs(hist.percentile(p) - truth) / truth < 0.01
    assert hist.percentiles()["p95"] == hist.percentile(95)
    assert hist.max_us == 1_000_000


def test_cli_load_prints_json_saves_the_result_and_journals_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving(24186, delay=0.005):
        code = cli.main(["--runtime", "none", "--state-dir", str(tmp_path), "load",
                         URL.format(port=24186), "--rate", "100", "--duration", "1s", "--json"])
    assert code == 1  # 100 req/s does not pass "throughput > 1000 req/s"
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and out["kind"] == "load" and out["requests"] == 100
    assert out["latency_ms"]["p50"] >= 5
    assert latest_result(tmp_path, "load") == out
    entries = Journal(tmp_path / "journal.sqlite3").timeline()
    assert any(e.text.startswith("load http://127.0.0.1:24186/api: p95") for e in entries)


def test_cli_load_refuses_a_remote_target_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--runtime", "none", "--state-dir", str(tmp_path), "load",
                     "http://8.8.8.8/", "--duration", "1s"])
    assert code == 2
    assert "not a loopback address" in capsys.readouterr().err
    assert latest_result(tmp_path, "load") is None


def test_load_on_a_production_context_needs_its_name(
    capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from cli.load import confirm_production

    guard = SimpleNamespace(production=True, context="prod-eu")
    ctx = SimpleNamespace(runtime=SimpleNamespace(guard=guard))
    assert not confirm_production(ctx, SimpleNamespace(confirm_context=None))  # type: ignore[arg-type]
    assert "pass --confirm-context prod-eu" in capsys.readouterr().err
    assert not confirm_production(ctx, SimpleNamespace(confirm_context="prod"))  # type: ignore[arg-type]
    assert confirm_production(ctx, SimpleNamespace(confirm_context="prod-eu"))  # type: ignore[arg-type]
    staging = SimpleNamespace(runtime=SimpleNamespace(guard=SimpleNamespace(production=False)))
    assert confirm_production(staging, SimpleNamespace(confirm_context=None))  # type: ignore[arg-type]


def test_cancel_stops_early_and_says_so() -> None:
    async def go():
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, cancel.set)
        with serving(24187):
            return await LoadTest(spec(24187, rate=100, duration=20)).run(cancel=cancel)

    result = asyncio.run(go())
    assert result.cancelled and not result.passed
    assert result.requests < 200
