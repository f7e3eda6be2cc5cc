"""The status engine: runtime facts + probe results -> per-service state, issues in words.

Pure functions, no I/O: `evaluate()` is given what the runtime and the probes said and
decides, so every rule here is unit-testable with plain data. `console.monitor` gathers the
facts (concurrently) and calls it.

Rules, in the order they apply to one service:
1. Runtime unreachable -> unknown. No container -> not started (unless its host checks
   answer: then something outside the runtime serves it, and it is judged by its probes).
2. Exited/dead -> exited with code; 3+ (re)starts in 5 minutes -> restart loop.
3. Running: host checks decide. An http/tcp check the host cannot reach but that answers
   inside the container is a port-forwarding fault, not a dead service. No checks and no
   Docker healthcheck -> "no health endpoint" (running, but not verified: not operational).
4. Dependencies: a service whose dependencies are not operational is blocked, with the
   chain to the root cause. A failing service whose dependencies are fine is a root cause;
   its transitive dependents are its blast radius.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from console.model import Service, Stack, dependents_map, transitive
from console.probes.base import ProbeResult
from console.runtime.base import ContainerState
from console.status_types import ServiceStatus, StackStatus, State
from console.status_workload import judge_workload, workload_notes

RESTART_LOOP_COUNT = 3
RESTART_LOOP_WINDOW = timedelta(minutes=5)
_FAILING_BASES = {State.RESTART_LOOP, State.EXITED, State.UNHEALTHY, State.UNREACHABLE}


@dataclass(frozen=True)
class _Base:
    """A service judged on its own, before dependencies are considered."""

    state: State
    health: str
    issues: tuple[str, ...]
    reachable_host: bool | None = None
    reachable_inside: bool | None = None
    restart_loop: bool = False
    stuck: bool = False


def evaluate(
    stack: Stack,
    states: Mapping[str, ContainerState],
    probes: Mapping[str, Sequence[ProbeResult]],
    now: datetime,
    runtime_error: str = "",
    runtime_name: str = "docker",
) -> StackStatus:
    """Decide every service's status from the facts gathered in one refresh."""
    bases = {
        s.name: _judge(s, states.get(s.name), probes.get(s.name, ()), now, runtime_error)
        for s in stack.services
    }
    reverse = dependents_map(stack.services)
    results = tuple(
        _with_dependencies(s, bases, stack, reverse, states.get(s.name), probes, now)
        for s in stack.services
    )
    return StackStatus(
        stack_name=stack.name,
        taken_at=now,
        services=results,
        runtime_name=runtime_name,
        runtime_error=runtime_error,
        tiers=tuple(stack.tier_order()),
    )


# --- one service on its own -------------------------------------------------------------


def _judge(
    service: Service,
    container: ContainerState | None,
    results: Sequence[ProbeResult],
    now: datetime,
    runtime_error: str,
) -> _Base:
    host = [r for r in results if r.where == "host"]
    if runtime_error:
        return _Base(State.UNKNOWN, "unknown", (f"runtime unreachable: {runtime_error}",))
    if container is None or not container.present:
        if host and all(r.ok for r in host):
            return _judge_probes(service, host, [], note="answers on host, not managed here")
        return _Base(State.NOT_STARTED, "unknown", ("not started",))
    if container.workload is not None and (verdict := judge_workload(container.workload)):
        return _Base(verdict.state, verdict.health, verdict.issues,
                     restart_loop=verdict.restart_loop, stuck=verdict.stuck)
    loop = _restart_loop(container, now)
    if loop:
        return _Base(State.RESTART_LOOP, "unhealthy", (loop,), restart_loop=True)
    if container.state in ("exited", "dead"):
        return _Base(State.EXITED, "unknown", (_exit_text(container),))
    if container.state == "created":
        return _Base(State.NOT_STARTED, "unknown", ("created but never started",))
    if container.state == "restarting":
        return _Base(State.STARTING, "unknown", (f"restarting ({container.restart_count} so far)",))
    if container.state == "paused":
        return _Base(State.DEGRADED, "unknown", ("paused",))
    inside = [r for r in results if r.where == "inside"]
    base = _judge_running(service, container, host, inside)
    if container.workload is not None:
        base = replace(base, issues=base.issues + workload_notes(container.workload))
    return base


def _judge_running(
    service: Service,
    container: ContainerState,
    host: Sequence[ProbeResult],
    inside: Sequence[ProbeResult],
) -> _Base:
    if not service.checks or (container.workload is not None and not host and not inside):
        # No checks, or none run from here (a cluster's pods are not on this host): the
        # runtime's own health (Docker healthcheck, Kubernetes readiness) decides.
        if container.health == "healthy":
            return _Base(State.OPERATIONAL, "healthy", (), reachable_host=None)
        if container.health == "unhealthy":
            return _Base(State.UNHEALTHY, "unhealthy", (_docker_health_text(container),))
        return _Base(State.DEGRADED, "none", ("no health endpoint",))
    base = _judge_probes(service, host, inside)
    if base.state is not State.OPERATIONAL and container.health == "starting":
        return replace(base, state=State.STARTING, issues=("starting: health check pending",))
    return base


def _judge_probes(
    service: Service,
    host: Sequence[ProbeResult],
    inside: Sequence[ProbeResult],
    note: str = "",
) -> _Base:
    """Judge by probes: all pass -> operational; host fails but inside passes -> unreachable."""
    failed = [r for r in host if not r.ok]
    inside_failed = [r for r in inside if not r.ok]
    reach_host = (not failed) if host else None
    reach_inside = (not inside_failed) if inside else None
    if not failed and not inside_failed:
        issues: tuple[str, ...] = (note,) if note else ()
        return _Base(State.OPERATIONAL, "healthy", issues, reach_host, reach_inside)
    if failed and inside and not inside_failed:
        port = failed[0].check.port
        text = f"healthy inside, unreachable from host: port forwarding (:{port})"
        return _Base(State.UNREACHABLE, "healthy", (text,), False, True)
    missing = _missing_endpoints(failed + inside_failed)
    if missing and len(missing) == len(failed + inside_failed):
        # Still unhealthy (nothing vouches for it: a bring-up must not count it as up).
        text = "no health endpoint: " + ", ".join(sorted(set(missing))) + " answers 404"
        return _Base(State.UNHEALTHY, "none", (text,), reach_host, reach_inside)
    issues = tuple(dict.fromkeys(_probe_failure_text(r) for r in failed + inside_failed))
    return _Base(State.UNHEALTHY, "unhealthy", issues, reach_host, reach_inside)


def _missing_endpoints(results: Sequence[ProbeResult]) -> list[str]:
    """`GET /health` for each http check whose server answers 404: the route is not mapped.

    The service is up (something answered), but nobody can tell whether it is healthy: the
    seeds' "no health endpoint", not a failing health check.
    """
    return [f"GET {r.check.path}" for r in results
            if r.check.kind == "http" and r.error.startswith("HTTP 404")]


def _probe_failure_text(result: ProbeResult) -> str:
    detail = result.error or "failed"
    if result.output and result.output not in detail:
        detail = f"{detail}: {result.output.strip()[:120]}"
    inside = result.where == "inside" and "(inside)" not in result.check.describe()
    where = " (inside)" if inside else ""
    return f"unhealthy: {result.check.describe()}{where}: {detail}"


def _restart_loop(container: ContainerState, now: datetime) -> str:
    """Words for a restart loop (3+ starts within 5 minutes), or '' when there is none."""
    recent = [t for t in container.recent_restarts if now - t <= RESTART_LOOP_WINDOW]
    if len(recent) >= RESTART_LOOP_COUNT:
        minutes = max(1, round((now - min(recent)).total_seconds() / 60))
        text = f"restart loop: {len(recent)} restarts in {minutes} min"
        if container.exit_code not in (None, 0):
            text += f", last exit code {container.exit_code}"
        return text
    return ""


def _exit_text(container: ContainerState) -> str:
    text = f"exited with code {container.exit_code}"
    if container.oom_killed:
        text += " (OOM killed)"
    if container.error:
        text += f": {container.error}"
    return text


def _docker_health_text(container: ContainerState) -> str:
    last = container.health_log[-1] if container.health_log else "no output"
    return f"unhealthy (docker healthcheck): {last}"


# --- dependencies, root causes, blast radius -----------------------------------------


def _with_dependencies(
    service: Service,
    bases: Mapping[str, _Base],
    stack: Stack,
    reverse: Mapping[str, list[str]],
    container: ContainerState | None,
    probes: Mapping[str, Sequence[ProbeResult]],
    now: datetime,
) -> ServiceStatus:
    base = bases[service.name]
    deps = [d for d in service.depends_on if d in bases]
    unmet = tuple(d for d in deps if _effective_ok(d, bases, stack) is False)
    chain = _chain_to_root(service.name, bases, stack) if unmet else ()
    state, issues = base.state, base.issues
    if unmet:
        issues = (*issues, "blocked by " + " <- ".join(chain))
        if state in (State.OPERATIONAL, State.DEGRADED, State.STARTING):
            state = State.BLOCKED
    failing = state not in (State.OPERATIONAL, State.UNKNOWN)
    root = failing and not unmet
    return ServiceStatus(
        name=service.name,
        tier=service.tier,
        phase=service.phase,
        state=state,
        runtime_state=container.state if container else "missing",
        health=base.health,
        reachable_host=base.reachable_host,
        reachable_inside=base.reachable_inside,
        deps_met=not unmet,
        unmet_deps=unmet,
        restart_count=container.restart_count if container else 0,
        restart_loop=base.restart_loop,
        stuck=base.stuck,
        uptime_s=_uptime(container, now),
        latency_ms=_latency(probes.get(service.name, ())),
        issues=issues,
        probes=tuple(probes.get(service.name, ())),
        container=container,
        ports=service.ports,
        depends_on=service.depends_on,
        root_cause=root,
        blocked_by=chain,
        blast_radius=tuple(transitive(service.name, reverse)) if failing else (),
    )


def _effective_ok(
    name: str, bases: Mapping[str, _Base], stack: Stack, seen: frozenset = frozenset()
) -> bool:
    """A dependency counts as met when it is operational and its own dependencies are met."""
    if name in seen:
        return False
    if bases[name].state is not State.OPERATIONAL:
        return False
    return all(
        _effective_ok(d, bases, stack, seen | {name})
        for d in stack.service(name).depends_on
        if d in bases
    )


def _chain_to_root(name: str, bases: Mapping[str, _Base], stack: Stack) -> tuple[str, ...]:
    """Follow the first unmet dependency until a failing service whose deps are all met."""
    chain: list[str] = []
    current = name
    while True:
        unmet = [
            d
            for d in stack.service(current).depends_on
            if d in bases and not _effective_ok(d, bases, stack) and d not in chain
        ]
        if not unmet:
            return tuple(chain)
        # Prefer a dependency that is itself failing (the likelier culprit) over a blocked one.
        unmet.sort(key=lambda d: bases[d].state is State.OPERATIONAL)
        current = unmet[0]
        chain.append(current)


def _uptime(container: ContainerState | None, now: datetime) -> float | None:
    if not container or container.state != "running" or not container.started_at:
        return None
    return max(0.0, (now - container.started_at).total_seconds())


def _latency(results: Sequence[ProbeResult]) -> float | None:
    if not results:
        return None
    failed = [r.latency_ms for r in results if not r.ok]
    return max(failed) if failed else max(r.latency_ms for r in results)
