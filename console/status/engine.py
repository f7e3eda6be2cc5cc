"""The status engine: runtime facts + probe results -> per-service state, issues in words.

Pure functions, no I/O: `evaluate()` is given what the runtime and the probes said (and,
from the monitor, a little `History` of earlier refreshes) and decides, so every rule here
is unit-testable with plain data. `console.monitor` gathers the facts and calls it.

Rules, in the order they apply to one service:
1. Runtime unreachable -> unknown. No container -> not started (unless its host checks
   answer: then something outside the runtime serves it, and it is judged by its probes).
2. Restarts: a restart is a start after the service's first one (the runtime reports only
   those). Restarts that the console or the operator made (journaled, `History.
   operator_starts`: each explains one restart up to OPERATOR_MATCH after it was asked for)
   never count. RESTART_LOOP_COUNT (3) or more counted restarts within RESTART_LOOP_WINDOW
   (5 min) -> restart loop, with these exceptions:
   - a running service whose own probes pass and whose last start is LOOP_SETTLE (30 s) or
     more ago has left the loop: operational, with a "recent restarts" note;
   - the same, up for less than LOOP_SETTLE -> starting ("recovering"), a transient state
     a bring-up waits on rather than fails on.
3. Exited/dead -> exited with code. `restarting` (the runtime is about to start it again)
   and a Docker health check still `starting` with failing probes -> starting (transient).
4. Running: host checks decide. An http/tcp check the host cannot reach but that answers
   inside the container is a port-forwarding fault, not a dead service. No checks and no
   Docker healthcheck -> "no health endpoint" (running, but not verified: not operational).
5. Hysteresis: a service that was operational is called unhealthy or unreachable by its
   probes only after FAIL_AFTER (2) consecutive probe rounds failed
   (`History.failed_rounds`); until then it stays operational with the failed probe as a
   note. Runtime facts (exited, restart loop, not started) apply at once. Without history
   (the first refresh, a one-shot `status`) a failing probe counts at once.
6. Dependencies: a service whose dependencies are not operational is blocked, with the
   chain to the root cause; the chain stops at the first failing service whose own
   dependencies are met (a healthy service is never in it). A failing service whose
   dependencies are fine is a root cause; its transitive dependents, each once and in
   stack order, are its blast radius (`blast_radius()`: the same list everywhere).
   Edges keep Compose's condition: `service_started` (running, or a job that completed),
   `service_healthy` (operational with its own edges met; the stack file's default),
   `service_completed_successfully` (exited 0); `required: false` never blocks.
7. Compose: a one-shot job (`Service.oneshot`) that exited 0 is completed: operational,
   done. A service with no healthcheck at all is ready once running (`ready_when_running`);
   where Docker runs a healthcheck, its "unhealthy" is the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from console.model import Dependency, Service, Stack, dependents_map, transitive
from console.probes.base import ProbeResult
from console.runtime.base import RESTART_LOOP_WINDOW, ContainerState
from console.status.types import ServiceStatus, StackStatus, State
from console.status.workload import judge_workload, workload_notes

RESTART_LOOP_COUNT = 3
LOOP_SETTLE = timedelta(seconds=30)  # up and passing this long ends a restart loop
OPERATOR_MATCH = timedelta(seconds=30)  # a journaled restart explains a start this soon after
FAIL_AFTER = 2  # consecutive failed probe rounds before an operational service fails
_PROBE_FAILURES = {State.UNHEALTHY, State.UNREACHABLE}
_FAILING_BASES = {State.RESTART_LOOP, State.EXITED, State.UNHEALTHY, State.UNREACHABLE}
# A container that has started (Compose's `service_started`), whatever its health says.
_STARTED = {State.OPERATIONAL, State.DEGRADED, State.STARTING, State.UNHEALTHY,
            State.UNREACHABLE}


@dataclass(frozen=True)
class History:
    """What the engine may know of earlier refreshes (kept by the monitor).

    previous: each service's state in the last published snapshot.
    failed_rounds: consecutive full probe rounds in which a probe of the service failed.
    operator_starts: when the console or the operator (re)started each service (journaled).
    """

    previous: Mapping[str, State] = field(default_factory=dict)
    failed_rounds: Mapping[str, int] = field(default_factory=dict)
    operator_starts: Mapping[str, Sequence[datetime]] = field(default_factory=dict)


NO_HISTORY = History()


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
    history: History = NO_HISTORY,
) -> StackStatus:
    """Decide every service's status from the facts gathered in one refresh."""
    bases = {
        s.name: _settled(
            _judge(s, states.get(s.name), probes.get(s.name, ()), now, runtime_error, history),
            s.name, history)
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


def blast_radius(
    stack: Stack, name: str, reverse: Mapping[str, list[str]] | None = None
) -> tuple[str, ...]:
    """Everything that depends on `name`, directly or not: each service once, stack order.

    The one definition the engine, the restart confirmation and the screens share.
    """
    found = set(transitive(name, reverse if reverse is not None
                           else dependents_map(stack.services)))
    return tuple(n for n in stack.names() if n in found)


# --- one service on its own -------------------------------------------------------------


def _judge(
    service: Service,
    container: ContainerState | None,
    results: Sequence[ProbeResult],
    now: datetime,
    runtime_error: str,
    history: History = NO_HISTORY,
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
    own = _judge_own(service, container, results)
    restarts = counted_restarts(container, history.operator_starts.get(service.name, ()), now)
    if len(restarts) < RESTART_LOOP_COUNT:
        return own
    return _judge_loop(container, own, restarts, now)


def _judge_own(
    service: Service, container: ContainerState, results: Sequence[ProbeResult]
) -> _Base:
    """A present container judged by its runtime state and probes, restarts aside."""
    if container.state in ("exited", "dead"):
        if _completed(service, container):
            return _Base(State.OPERATIONAL, "completed", ("completed: exited with code 0",))
        return _Base(State.EXITED, "unknown", (_exit_text(container),))
    if container.state == "created":
        return _Base(State.NOT_STARTED, "unknown", ("created but never started",))
    if container.state == "restarting":
        return _Base(State.STARTING, "unknown", (f"restarting ({container.restart_count} so far)",))
    if container.state == "paused":
        return _Base(State.DEGRADED, "unknown", ("paused",))
    host = [r for r in results if r.where == "host"]
    inside = [r for r in results if r.where == "inside"]
    base = _judge_running(service, container, host, inside)
    if container.workload is not None:
        base = replace(base, issues=base.issues + workload_notes(container.workload))
    return base


def _judge_loop(
    container: ContainerState, own: _Base, restarts: Sequence[datetime], now: datetime
) -> _Base:
    """Enough restarts for a loop: a loop, unless the service is up and passing again."""
    up_for = _uptime(container, now)
    words = _restarts_words(restarts, now)
    if own.state is State.OPERATIONAL and up_for is not None:
        if up_for >= LOOP_SETTLE.total_seconds():
            return replace(own, issues=(*own.issues, f"recent restarts: {words}"))
        settle = LOOP_SETTLE.total_seconds()
        text = (f"recovering: passing for {up_for:.0f}s after {words}; "
                f"the restart loop ends at {settle:.0f}s")
        return replace(own, state=State.STARTING, issues=(text,))
    text = f"restart loop: {words}"
    if container.exit_code not in (None, 0):
        text += f", last exit code {container.exit_code}"
    return _Base(State.RESTART_LOOP, "unhealthy", (text,), restart_loop=True)


def _settled(base: _Base, name: str, history: History) -> _Base:
    """Hysteresis: an operational service fails by its probes only FAIL_AFTER rounds in a row.

    One slow or lost probe (a loaded machine, a forwarded port that hiccups) must not flip
    the matrix, the readiness and the journal back and forth.
    """
    if base.state not in _PROBE_FAILURES or history.previous.get(name) is not State.OPERATIONAL:
        return base
    rounds = history.failed_rounds.get(name, FAIL_AFTER)
    if rounds >= FAIL_AFTER:
        return base
    said = base.issues[0] if base.issues else base.state.value
    note = f"probe failed {rounds} of {FAIL_AFTER} times in a row before it counts: {said}"
    return _Base(State.OPERATIONAL, "healthy", (note,), base.reachable_host, base.reachable_inside)


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
        if container.health == "starting":
            return _Base(State.STARTING, "unknown", ("starting: health check pending",))
        if service.ready_when_running and container.health is None:
            return _Base(State.OPERATIONAL, "none", ())  # Compose's own rule: started is up
        return _Base(State.DEGRADED, "none", ("no health endpoint",))
    if container.health == "unhealthy" and service.docker_healthcheck:
        return _Base(State.UNHEALTHY, "unhealthy", (_docker_health_text(container),))
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


def counted_restarts(
    container: ContainerState, operator_starts: Sequence[datetime], now: datetime
) -> list[datetime]:
    """Restarts within the loop window that nobody asked for.

    Each journaled operator or console (re)start explains the first restart at or after
    the moment it was asked for (a second of clock slack), up to OPERATOR_MATCH later.
    """
    recent = sorted(t for t in container.recent_restarts if now - t <= RESTART_LOOP_WINDOW)
    slack = timedelta(seconds=1)
    for asked in sorted(operator_starts):
        for t in recent:
            if asked - slack <= t <= asked + OPERATOR_MATCH:
                recent.remove(t)
                break
    return recent


def _restarts_words(restarts: Sequence[datetime], now: datetime) -> str:
    """`3 restarts in 2 min`."""
    minutes = max(1, round((now - min(restarts)).total_seconds() / 60))
    return f"{len(restarts)} restarts in {minutes} min"


def _completed(service: Service, container: ContainerState) -> bool:
    """A one-shot job that exited 0 has done its work: done, never a failure."""
    return service.oneshot and container.state == "exited" and container.exit_code == 0


def _exit_text(container: ContainerState) -> str:
    if container.exit_code is None:  # its process ended; the runtime's report is on its way
        return "exited (exit code not reported yet)"
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
    unmet = _unmet(service, bases, stack)
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
        blast_radius=blast_radius(stack, service.name, reverse) if failing else (),
    )


def _unmet(service: Service, bases: Mapping[str, _Base], stack: Stack) -> tuple[str, ...]:
    """The dependencies whose edge condition does not hold, in declaration order."""
    return tuple(d for d in service.depends_on
                 if d in bases and not _edge_met(service.edge(d), bases, stack))


def _edge_met(edge: Dependency, bases: Mapping[str, _Base], stack: Stack,
              seen: frozenset = frozenset()) -> bool:
    """Compose's conditions: started (running, or a job that completed), healthy (operational
    with its own edges met), completed successfully (exited 0). `required: false` never
    blocks."""
    if not edge.required:
        return True
    base = bases[edge.name]
    if edge.condition == "service_completed_successfully":
        return base.health == "completed"
    if edge.condition == "service_started":
        return base.health == "completed" or base.state in _STARTED
    return _effective_ok(edge.name, bases, stack, seen)


def _effective_ok(
    name: str, bases: Mapping[str, _Base], stack: Stack, seen: frozenset = frozenset()
) -> bool:
    """A dependency counts as healthy when it is operational and its own edges are met."""
    if name in seen:
        return False
    if bases[name].state is not State.OPERATIONAL:
        return False
    service = stack.service(name)
    return all(
        _edge_met(service.edge(d), bases, stack, seen | {name})
        for d in service.depends_on
        if d in bases
    )


def _chain_to_root(name: str, bases: Mapping[str, _Base], stack: Stack) -> tuple[str, ...]:
    """Follow the first unmet dependency until a failing service whose deps are all met."""
    chain: list[str] = []
    current = name
    while True:
        unmet = [d for d in _unmet(stack.service(current), bases, stack) if d not in chain]
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
