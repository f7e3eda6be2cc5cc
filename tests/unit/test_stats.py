"""Resource usage per service on every runtime: Docker's stats on the real daemon, /proc for
local processes, the metrics API on the fake API server (and what is said without one).

The figures a user reads: a container burning a core shows near 100 % and an idle one near
0 %, a memory limit set on a container is the denominator of its percentage, a service's
replicas add up while each stays visible on its own.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.model import RuntimeNames, Service
from console.runtime.kubernetes.metrics import NO_METRICS, parse_quantity
from console.runtime.local.runtime import LocalRuntime
from console.runtime.usage import ReplicaUsage, UsageReport
from console.stats import UsageBoard, UsageTracker, format_bytes, format_percent
from tests.k8s_fake_api import FakeKubeAPI, deployment, pod
from tests.unit.test_k8s_runtime import make_runtime


async def two_rounds(runtime: object, services: list[Service], gap: float = 1.0) -> UsageBoard:
    """What the console shows after its second sampling round (rates need two)."""
    tracker = UsageTracker()
    tracker.add(await runtime.usage(services))  # type: ignore[attr-defined]
    await asyncio.sleep(gap)
    return tracker.add(await runtime.usage(services))  # type: ignore[attr-defined]


# --- the arithmetic (no runtime) -----------------------------------------------------------


def test_cpu_percent_is_cpu_time_over_wall_time_and_replicas_add_up() -> None:
    tracker = UsageTracker()
    first = UsageReport({"api": (ReplicaUsage("api-1", cpu_ns=0, clock_ns=0, memory=100),
                                 ReplicaUsage("api-2", cpu_ns=0, clock_ns=0, memory=300))})
    board = tracker.add(first)
    assert board.services["api"].total.cpu_percent is None  # one sample: no rate yet
    second = UsageReport({"api": (
        ReplicaUsage("api-1", cpu_ns=500_000_000, clock_ns=1_000_000_000, memory=100,
                     memory_limit=1000),
        ReplicaUsage("api-2", cpu_ns=250_000_000, clock_ns=1_000_000_000, memory=300,
                     memory_limit=1000),
    )})
    api = tracker.add(second).services["api"]
    assert [r.cpu_percent for r in api.replicas] == [50.0, 25.0]
    assert api.total.cpu_percent == 75.0
    assert api.total.memory == 400 and api.total.memory_percent == 20.0
    assert api.cpu_history == (75.0,)
    assert api.memory_history == (400.0, 400.0)


def test_no_limit_means_no_percentage_and_figures_read_as_an_operator_expects() -> None:
    board = UsageTracker().add(UsageReport({"db": (ReplicaUsage("db", memory=5 << 20),)}))
    assert board.services["db"].total.memory_percent is None
    assert format_bytes(5 << 20) == "5.0M" and format_bytes(300 << 20) == "300M"
    assert format_bytes(None) == "—" and format_percent(None) == "—"
    assert format_percent(12.345) == "12.3%"


def test_kubernetes_quantities() -> None:
    assert parse_quantity("250m") == 0.25
    assert parse_quantity("12345678n") == pytest.approx(0.012345678)
    assert parse_quantity("64Mi") == 64 * 2**20
    assert parse_quantity("1e3") == 1000.0
    assert parse_quantity("lots") is None


# --- Docker: the real daemon -------------------------------------------------------------


# --- local processes: /proc ---------------------------------------------------------------


async def test_local_processes_measured_from_proc() -> None:
    burn = [sys.executable, "-c", "while True: pass"]
    idle = [sys.executable, "-c", "import time; time.sleep(3600)"]
    runtime = LocalRuntime(reaper=False)
    services = [Service("burn", runtime=RuntimeNames(local=tuple(burn))),
                Service("idle", runtime=RuntimeNames(local=tuple(idle)))]
    try:
        for service in services:
            await runtime.start(service)
        board = await two_rounds(runtime, services)
    finally:
        await runtime.close()
    assert board.source == "/proc"
    burning = board.services["burn"].total.cpu_percent or 0
    assert burning > 5 and (board.services["idle"].total.cpu_percent or 0) < burning / 5
    assert (board.services["idle"].total.memory or 0) > 1 << 20  # a Python's resident set
    assert board.services["idle"].total.memory_limit is None


# --- Kubernetes: metrics.k8s.io on the fake API server -----------------------------------


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    server = FakeKubeAPI().start()
    try:
        yield server
    finally:
        server.stop()


def _auth_with_limits(fake: FakeKubeAPI) -> None:
    fake.put("Deployment", deployment("auth", replicas=2))
    for suffix in ("a1", "b2"):
        made = pod("auth", suffix)
        made["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m",
                                                                 "memory": "256Mi"}}
        fake.put("Pod", made)


async def test_kubernetes_metrics_api_per_pod_and_summed(fake: FakeKubeAPI,
                                                         tmp_path: Path) -> None:
    _auth_with_limits(fake)
    fake.pod_metrics = {"auth-a1": {"auth": ("250m", "64Mi")},
                        "auth-b2": {"auth": ("50m", "128Mi")}}
    runtime = make_runtime(fake, tmp_path)
    try:
        board = UsageTracker().add(await runtime.usage([Service("auth")]))
    finally:
        await runtime.close()
    auth = board.services["auth"]
    assert board.source == "metrics.k8s.io"
    assert [r.name for r in auth.replicas] == ["auth-a1", "auth-b2"]
    assert [r.cpu_percent for r in auth.replicas] == [25.0, 5.0]  # a rate at once
    assert auth.replicas[0].memory_percent == 25.0  # 64Mi of a 256Mi limit
    assert auth.replicas[0].cpu_limit_percent == 50.0  # 250m of a 500m limit
    assert auth.total.memory == 192 << 20


async def test_kubernetes_without_metrics_server_says_so(fake: FakeKubeAPI,
                                                         tmp_path: Path) -> None:
    _auth_with_limits(fake)
    runtime = make_runtime(fake, tmp_path)
    try:
        board = UsageTracker().add(await runtime.usage([Service("auth")]))
    finally:
        await runtime.close()
    assert board.unavailable == NO_METRICS
    assert board.services == {}
