"""Deterministic UI fixtures: a 37-service Vextrus stack in a bad morning, at a fixed time.

Built straight from the dataclasses (no engine, no runtime) so that UI tests and snapshots
never drift: every time, uptime and latency is fixed here. The real runtime, probes and
status engine are tested against real servers elsewhere; this only feeds the UI.

The scene: zookeeper is in a restart loop (root cause: kafka and most services blocked),
elasticsearch exited (OOM), auth is healthy inside but unreachable from the host (Windows
port forwarding), configuration answers 503, minio/rabbitmq were never started, the
Temporal UI tools and grafana have no health endpoint, and five services are operational.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from console.factory import AppContext
from console.model import HealthCheck, Service, Stack, dependents_map, transitive
from console.probes.base import ProbeResult
from console.runtime.base import (
    ContainerState,
    LogLine,
    RuntimeEvent,
    RuntimeUnavailable,
    StreamStatus,
)
from console.status.types import ServiceStatus, StackStatus, State

FIXED_NOW = datetime(2025, 9, 25, 10, 42, 7, tzinfo=UTC)
TIERS = ("infrastructure", "core", "business", "gateway", "observability")
_BIZ_DEPS = ("postgres", "redis", "kafka")

# name, tier, phase, ports, depends_on
LAYOUT: tuple[tuple[str, str, int, tuple[int, ...], tuple[str, ...]], ...] = (
    ("postgres", "infrastructure", 0, (5432,), ()),
    ("redis", "infrastructure", 0, (6379,), ()),
    ("zookeeper", "infrastructure", 0, (2181,), ()),
    ("kafka", "infrastructure", 0, (9093, 9092), ("zookeeper",)),
    ("elasticsearch", "infrastructure", 0, (9200,), ()),
    ("temporal", "infrastructure", 0, (7233,), ("postgres",)),
    ("minio", "infrastructure", 0, (9000, 9001), ()),
    ("rabbitmq", "infrastructure", 0, (5672,), ()),
    ("temporal-ui", "infrastructure", 0, (8088,), ("temporal",)),
    ("temporal-admintools", "infrastructure", 0, (), ("temporal",)),
    ("auth", "core", 1, (3001,), ("postgres", "redis")),
    ("master-data", "core", 1, (3002,), _BIZ_DEPS),
    ("notification", "core", 1, (3003,), _BIZ_DEPS),
    ("audit", "core", 1, (3009,), ("postgres", "kafka", "elasticsearch")),
    ("rules-engine", "core", 1, (3012,), _BIZ_DEPS),
    ("configuration", "core", 1, (3004,), ("postgres", "redis")),
    ("workflow", "core", 1, (3011,), (*_BIZ_DEPS, "temporal")),
    ("document-generator", "business", 2, (3006,), _BIZ_DEPS),
    ("file-storage", "business", 2, (3008,), (*_BIZ_DEPS, "minio")),
    ("import-export", "business", 2, (3007,), _BIZ_DEPS),
    ("scheduler", "business", 2, (3005,), _BIZ_DEPS),
    ("organization", "business", 2, (3016,), _BIZ_DEPS),
    ("crm", "business", 2, (3013,), _BIZ_DEPS),
    ("finance", "business", 2, (3014,), _BIZ_DEPS),
    ("hr", "business", 2, (3015,), _BIZ_DEPS),
    ("project-management", "business", 2, (3017,), _BIZ_DEPS),
    ("scm", "business", 2, (3018,), _BIZ_DEPS),
    ("api-gateway", "gateway", 3, (4000,), ("auth", "master-data", "workflow", "rules-engine")),
    ("traefik", "gateway", 3, (80, 443, 8080), ()),
    ("prometheus", "observability", 4, (9090,), ()),
    ("grafana", "observability", 4, (3000,), ("prometheus",)),
    ("jaeger", "observability", 4, (16686,), ()),
    ("otel-collector", "observability", 4, (4317, 4318), ()),
    ("signoz-clickhouse", "observability", 4, (9100,), ()),
    ("signoz-query-service", "observability", 4, (), ("signoz-clickhouse",)),
    ("signoz-otel-collector", "observability", 4, (), ("signoz-clickhouse",)),
    ("signoz-frontend", "observability", 4, (3301,), ("signoz-query-service",)),
)

OPERATIONAL = {"postgres": 4.1, "redis": 1.2, "temporal": 18.6, "traefik": 3.4, "prometheus": 7.9}
NO_HEALTH = {"temporal-ui", "temporal-admintools", "grafana"}
NOT_STARTED = {
    "minio",
    "rabbitmq",
    "jaeger",
    "otel-collector",
    "signoz-clickhouse",
    "signoz-query-service",
    "signoz-otel-collector",
    "signoz-frontend",
}
ROOT_CAUSES = {"zookeeper", "elasticsearch", "auth", "configuration"}


def _check(name: str, ports: tuple[int, ...]) -> HealthCheck | None:
    if not ports or name in NO_HEALTH:
        return None
    tier = next(t for n, t, *_ in LAYOUT if n == name)
    if tier in ("core", "business", "gateway"):
        path = "/api/v1/health" if tier == "business" else "/health"
        return HealthCheck("http", port=ports[0], path=path)
    return HealthCheck("tcp", port=ports[0])


def build_stack() -> Stack:
    services = tuple(
        Service(
            name,
            tier=tier,
            phase=phase,
            ports=ports,
            depends_on=deps,
            checks=tuple(c for c in [_check(name, ports)] if c),
        )
        for name, tier, phase, ports, deps in LAYOUT
    )
    return Stack(name="vextrus", services=services, tiers=TIERS, source="<tests/ui_data>")


def _container(name: str, state: str = "running", **kw: object) -> ContainerState:
    ports = next(p for n, _, _, p, _ in LAYOUT if n == name)
    digest = hashlib.sha256(name.encode()).hexdigest()
    base = ContainerState(
        service=name,
        present=True,
        container_id=digest,
        container_name=f"vextrus-{name}-1",
        state=state,
        image=f"vextrus/{name}:1.4.2",
        restart_policy="unless-stopped",
        network_mode="vextrus_default",
        ports=tuple(f"{p}:{p}->{p}/tcp" for p in ports),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _probe(
    name: str, ok: bool, ms: float, out: str = "", err: str = "", where: str = "host"
) -> ProbeResult:
    ports = next(p for n, _, _, p, _ in LAYOUT if n == name)
    check = _check(name, ports) or HealthCheck("tcp", port=ports[0] if ports else None)
    if where == "inside":
        check = replace(check, where="inside")
    return ProbeResult(check=check, ok=ok, latency_ms=ms, output=out, error=err, where=where)


def _own_state(name: str) -> ServiceStatus:
    """Each service judged on its own (before dependencies), with fixed facts."""
    tier, phase, ports, deps = next((t, ph, p, d) for n, t, ph, p, d in LAYOUT if n == name)
    common = {"name": name, "tier": tier, "phase": phase, "ports": ports, "depends_on": deps}
    if name in OPERATIONAL:
        ms = OPERATIONAL[name]
        return ServiceStatus(
            **common,
            state=State.OPERATIONAL,
            runtime_state="running",  # type: ignore[arg-type]
            health="healthy",
            reachable_host=True,
            reachable_inside=None,
            deps_met=True,
            uptime_s=3 * 86400 + 4 * 3600 + 17,
            latency_ms=ms,
            probes=(
                _probe(
                    name, True, ms, out='{"status":"ok"}' if tier != "infrastructure" else "open"
                ),
            ),
            container=_container(
                name, health="healthy", started_at=FIXED_NOW - timedelta(days=3, hours=4)
            ),
        )
    if name in NO_HEALTH:
        return ServiceStatus(
            **common,
            state=State.DEGRADED,
            runtime_state="running",
            health="none",  # type: ignore[arg-type]
            reachable_host=None,
            reachable_inside=None,
            deps_met=True,
            uptime_s=2 * 3600 + 5 * 60,
            issues=("no health endpoint",),
            container=_container(name, started_at=FIXED_NOW - timedelta(hours=2, minutes=5)),
        )
    if name in NOT_STARTED:
        return ServiceStatus(
            **common,
            state=State.NOT_STARTED,
            runtime_state="missing",
            health="unknown",  # type: ignore[arg-type]
            reachable_host=None,
            reachable_inside=None,
            deps_met=True,
            issues=("never started",),
            container=ContainerState(service=name),
        )
    return _SPECIAL[name](common) if name in _SPECIAL else _blocked_candidate(common)


def _zookeeper(common: dict[str, object]) -> ServiceStatus:
    recent = tuple(FIXED_NOW - timedelta(seconds=35 * i) for i in range(7))
    return ServiceStatus(
        **common,
        state=State.RESTART_LOOP,
        runtime_state="restarting",
        health="unhealthy",  # type: ignore[arg-type]
        reachable_host=False,
        reachable_inside=None,
        deps_met=True,
        restart_count=7,
        restart_loop=True,
        uptime_s=12,
        latency_ms=2.3,
        issues=("restart loop: 7 restarts in 4 min, last exit code 3",),
        probes=(_probe("zookeeper", False, 2.3, err="connection refused"),),
        container=_container(
            "zookeeper",
            state="restarting",
            restart_count=7,
            recent_restarts=recent,
            exit_code=3,
            started_at=FIXED_NOW - timedelta(seconds=12),
            restart_policy="always",
        ),
    )


def _elasticsearch(common: dict[str, object]) -> ServiceStatus:
    return ServiceStatus(
        **common,
        state=State.EXITED,
        runtime_state="exited",
        health="unknown",  # type: ignore[arg-type]
        reachable_host=None,
        reachable_inside=None,
        deps_met=True,
        restart_count=1,
        issues=("exited with code 137 (OOM killed)",),
        container=_container(
            "elasticsearch",
            state="exited",
            exit_code=137,
            oom_killed=True,
            restart_count=1,
            started_at=FIXED_NOW - timedelta(minutes=48),
            finished_at=FIXED_NOW - timedelta(minutes=31),
        ),
    )


def _auth(common: dict[str, object]) -> ServiceStatus:
    return ServiceStatus(
        **common,
        state=State.UNREACHABLE,
        runtime_state="running",
        health="healthy",  # type: ignore[arg-type]
        reachable_host=False,
        reachable_inside=True,
        deps_met=True,
        uptime_s=47 * 60 + 3,
        latency_ms=12.0,
        issues=("healthy inside, unreachable from host: port forwarding (:3001)",),
        probes=(
            _probe("auth", False, 2000.0, err="timed out after 2.0s"),
            _probe(
                "auth", True, 12.0, out='{"status":"ok","db":"up","redis":"up"}', where="inside"
            ),
        ),
        container=_container(
            "auth", health="healthy", started_at=FIXED_NOW - timedelta(minutes=47, seconds=3)
        ),
    )


def _configuration(common: dict[str, object]) -> ServiceStatus:
    return ServiceStatus(
        **common,
        state=State.UNHEALTHY,
        runtime_state="running",
        health="unhealthy",  # type: ignore[arg-type]
        reachable_host=True,
        reachable_inside=None,
        deps_met=True,
        restart_count=2,
        uptime_s=9 * 60 + 41,
        latency_ms=1480.0,
        issues=(
            "unhealthy: http 127.0.0.1:3004/health: HTTP 503: "
            '{"status":"error","config":"vault sealed"}',
        ),
        probes=(
            _probe(
                "configuration",
                False,
                1480.0,
                out='{"status":"error","config":"vault sealed"}',
                err="HTTP 503",
            ),
        ),
        container=_container(
            "configuration",
            health="unhealthy",
            restart_count=2,
            started_at=FIXED_NOW - timedelta(minutes=9, seconds=41),
        ),
    )


def _blocked_candidate(common: dict[str, object]) -> ServiceStatus:
    """A service that would start fine but waits on a dependency: created, not running."""
    return ServiceStatus(
        **common,
        state=State.NOT_STARTED,
        runtime_state="created",
        health="unknown",  # type: ignore[arg-type]
        reachable_host=None,
        reachable_inside=None,
        deps_met=True,
        container=_container(str(common["name"]), state="created"),
    )


_SPECIAL = {
    "zookeeper": _zookeeper,
    "elasticsearch": _elasticsearch,
    "auth": _auth,
    "configuration": _configuration,
}


def _chain(name: str, own: dict[str, ServiceStatus]) -> tuple[str, ...]:
    """Path from `name`'s first failing dependency down to a root cause."""
    for dep in own[name].depends_on:
        if not own[dep].operational:
            return (dep, *_chain(dep, own))
    return ()


def build_status(taken_at: datetime = FIXED_NOW, runtime_error: str = "") -> StackStatus:
    """The whole scene, dependencies applied: blocked chains, root causes, blast radius."""
    own = {name: _own_state(name) for name, *_ in LAYOUT}
    reverse = dependents_map(build_stack().services)
    services = []
    for name, *_ in LAYOUT:
        s = own[name]
        unmet = tuple(d for d in s.depends_on if not own[d].operational)
        if (
            unmet
            and s.state in (State.NOT_STARTED, State.STARTING)
            and s.runtime_state == "created"
        ):
            chain = _chain(name, own)
            s = replace(
                s,
                state=State.BLOCKED,
                deps_met=False,
                unmet_deps=unmet,
                blocked_by=chain,
                issues=("blocked by " + " <- ".join(chain),),
            )
        elif unmet:
            s = replace(s, deps_met=False, unmet_deps=unmet)
        if name in ROOT_CAUSES:
            s = replace(s, root_cause=True, blast_radius=tuple(transitive(name, reverse)))
        services.append(s)
    return StackStatus(
        stack_name="vextrus",
        taken_at=taken_at,
        services=tuple(services),
        runtime_name="docker",
        runtime_error=runtime_error,
        refresh_ms=212.0,
        tiers=TIERS,
    )


def with_service(status: StackStatus, name: str, **changes: object) -> StackStatus:
    """The same snapshot with one service changed (for in-place update tests)."""
    services = tuple(replace(s, **changes) if s.name == name else s for s in status.services)  # type: ignore[arg-type]
    return replace(status, services=services)


def fixed_clock() -> datetime:
    return FIXED_NOW


class StaticMonitor:
    """A Monitor stand-in: returns a given snapshot; tests push runtime events by hand."""

    def __init__(self, status: StackStatus) -> None:
        self.status = status
        self.last: StackStatus | None = None
        self.refresh_calls = 0
        self.states_calls = 0
        self._events: asyncio.Queue[RuntimeEvent | StreamStatus | None] = asyncio.Queue()

    async def refresh(self) -> StackStatus:
        self.refresh_calls += 1
        self.last = self.status
        return self.status

    async def refresh_states(self) -> StackStatus:
        self.states_calls += 1
        self.last = self.status
        return self.status

    async def events(self) -> AsyncIterator[RuntimeEvent | StreamStatus]:
        while (item := await self._events.get()) is not None:
            yield item

    def push(self, item: RuntimeEvent | StreamStatus | None) -> None:
        self._events.put_nowait(item)

    def apply_event(self, event: RuntimeEvent) -> StackStatus | None:
        """A stand-in knows no states to change: the listing (`refresh_states`) answers."""
        return None


class StaticRuntime:
    """Only what the detail screen asks of a runtime: a fixed log tail (or a failure)."""

    name = "docker"

    async def logs(
        self, service: Service, tail: int = 100, follow: bool = False, timestamps: bool = True
    ) -> AsyncIterator[LogLine]:
        if service.name == "elasticsearch":
            raise RuntimeUnavailable("container vextrus-elasticsearch-1 is not running")
        for i in range(25)[-tail:]:
            at = FIXED_NOW - timedelta(seconds=(25 - i) * 3)
            stream = "stderr" if i % 7 == 6 else "stdout"
            yield LogLine(
                service.name, f"[{service.name}] request {i} handled password=hunter2", at, stream
            )

    def events(self, services: Sequence[Service]) -> AsyncIterator[RuntimeEvent | StreamStatus]:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True  # the app closes its runtime when it exits


def make_context(
    status: StackStatus | None = None,
    read_only: bool = False,
    theme: str = "vextrus-dark",
    keymap: dict[str, str] | None = None,
) -> AppContext:
    """An AppContext over the fixed scene, the fixed clock and the static monitor."""
    return AppContext(
        stack=build_stack(),
        runtime=StaticRuntime(),  # type: ignore[arg-type]
        monitor=StaticMonitor(status or build_status()),  # type: ignore[arg-type]
        journal=None,
        read_only=read_only,
        theme=theme,
        clock=fixed_clock,
        keymap=dict(keymap or {}),
        auto_poll=False,  # the tests drive refreshes; the App's timer never races them
    )
