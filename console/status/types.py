"""What "status" means, as data: the status engine's output, read by the CLI and the UI.

Kept apart from the engine so that views, exports and tests can build and read snapshots
without pulling in runtimes or probes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from console.probes.base import ProbeResult
from console.runtime.base import ContainerState


class State(StrEnum):
    """Overall state of a service, worst first when sorting by severity."""

    RESTART_LOOP = "restart-loop"
    EXITED = "exited"
    UNHEALTHY = "unhealthy"
    UNREACHABLE = "unreachable"  # healthy inside, host cannot reach it
    BLOCKED = "blocked"  # a dependency is not operational
    NOT_STARTED = "not-started"
    STARTING = "starting"
    DEGRADED = "degraded"  # running, but cannot be verified (no health endpoint)
    OPERATIONAL = "operational"
    UNKNOWN = "unknown"  # runtime unreachable

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def severity(self) -> int:
        return _ORDER.index(self)


_ORDER = [
    State.RESTART_LOOP,
    State.EXITED,
    State.UNHEALTHY,
    State.UNREACHABLE,
    State.BLOCKED,
    State.NOT_STARTED,
    State.STARTING,
    State.DEGRADED,
    State.UNKNOWN,
    State.OPERATIONAL,
]

_LABELS = {
    State.RESTART_LOOP: "Restarting",
    State.EXITED: "Exited",
    State.UNHEALTHY: "Unhealthy",
    State.UNREACHABLE: "Unreachable",
    State.BLOCKED: "Blocked",
    State.NOT_STARTED: "Not Started",
    State.STARTING: "Starting",
    State.DEGRADED: "Running",
    State.OPERATIONAL: "Running",
    State.UNKNOWN: "Unknown",
}


@dataclass(frozen=True)
class ServiceStatus:
    """Everything the operator needs about one service at one moment."""

    name: str
    tier: str
    phase: int
    state: State
    runtime_state: str  # what the runtime said: running, exited, restarting, missing, ...
    health: str  # healthy, unhealthy, unknown, none (no health endpoint)
    reachable_host: bool | None  # None: not probed (not running, or no host check)
    reachable_inside: bool | None
    deps_met: bool
    unmet_deps: tuple[str, ...] = ()
    restart_count: int = 0
    restart_loop: bool = False
    stuck: bool = False  # failing in a way waiting will not heal (a bad image): fail fast
    uptime_s: float | None = None
    latency_ms: float | None = None  # slowest passing probe, or the failing one
    issues: tuple[str, ...] = ()
    probes: tuple[ProbeResult, ...] = ()
    container: ContainerState | None = None
    ports: tuple[int, ...] = ()
    depends_on: tuple[str, ...] = ()
    root_cause: bool = False  # failing while its own dependencies are fine
    blocked_by: tuple[str, ...] = ()  # chain to the root cause: (dep, dep-of-dep, ..., root)
    blast_radius: tuple[str, ...] = ()  # transitive dependents (only for failing services)

    @property
    def operational(self) -> bool:
        return self.state is State.OPERATIONAL

    @property
    def label(self) -> str:
        """The state's label; a one-shot job that exited 0 reads "Completed", not "Running"."""
        return "Completed" if self.health == "completed" else self.state.label


@dataclass(frozen=True)
class StackStatus:
    """One full snapshot of the stack."""

    stack_name: str
    taken_at: datetime
    services: tuple[ServiceStatus, ...]
    runtime_name: str = "docker"
    runtime_error: str = ""  # set when the runtime could not be reached
    refresh_ms: float = 0.0
    tiers: tuple[str, ...] = ()
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def operational(self) -> int:
        return sum(1 for s in self.services if s.operational)

    @property
    def total(self) -> int:
        return len(self.services)

    @property
    def readiness(self) -> float:
        """Operational / total, as the seeds count it (0.0 - 1.0)."""
        return self.operational / self.total if self.total else 0.0

    @property
    def readiness_text(self) -> str:
        return f"Readiness {self.readiness:.0%} · {self.operational}/{self.total} operational"

    def get(self, name: str) -> ServiceStatus:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    def radius_if_failing(self, name: str) -> tuple[str, ...]:
        """Who would go down if `name` failed: its transitive dependents, each once, in
        stack order (what `blast_radius` holds for a service that is failing now)."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for s in self.services:
                if current in s.depends_on and s.name not in found and s.name != name:
                    found.add(s.name)
                    frontier.append(s.name)
        return tuple(s.name for s in self.services if s.name in found)

    def root_causes(self) -> list[ServiceStatus]:
        return [s for s in self.services if s.root_cause]

    def counts(self) -> dict[State, int]:
        out: dict[State, int] = {}
        for s in self.services:
            out[s.state] = out.get(s.state, 0) + 1
        return out
