"""The runtime interface: how the console talks to Docker, Kubernetes or local processes.

Small on purpose (like Harlequin's adapter): list service states, start, stop, restart,
stream logs, exec a probe inside, watch events. Every method is async; implementations
backed by blocking clients (docker-py, kubernetes) run those calls in threads so the event
loop, and therefore the UI, never blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from console.model import Service

# The restart-loop window, in one place: the status engine counts restarts within it
# (RESTART_LOOP_COUNT of them make a loop) and every runtime remembers restarts that far back.
RESTART_LOOP_WINDOW = timedelta(minutes=5)


class RuntimeUnavailable(Exception):
    """The runtime cannot be reached (daemon down, socket missing, API server gone).

    The message is shown to the operator as the reason, so it must be one readable line.
    """


@dataclass(frozen=True)
class PodSummary:
    """One pod of a Kubernetes workload, as much as the triage view needs."""

    name: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    ready: bool = False
    restarts: int = 0
    reason: str = ""  # waiting reason (CrashLoopBackOff, ImagePullBackOff) or ""
    message: str = ""  # the waiting message, e.g. 'Back-off pulling image "x:9"'
    last_exit_code: int | None = None
    last_reason: str = ""  # last termination reason: Error, OOMKilled, Completed
    node: str = ""


@dataclass(frozen=True)
class Autoscaler:
    """A HorizontalPodAutoscaler aimed at the workload (autoscaling/v2)."""

    name: str
    current: int
    desired: int
    min_replicas: int
    max_replicas: int
    metrics: tuple[str, ...] = ()  # "cpu 85%/70%", "memory 300Mi/512Mi"
    limited: str = ""  # why it cannot scale further (ScalingLimited), or ""


@dataclass(frozen=True)
class Workload:
    """What a Kubernetes runtime knows beyond a container: replicas, pods, probes, HPA.

    `None` on ContainerState for runtimes without workloads (Docker, local processes).
    """

    kind: str  # Deployment or StatefulSet
    name: str
    namespace: str
    desired: int
    ready: int
    updated: int = 0
    available: int = 0
    pods: tuple[PodSummary, ...] = ()
    probe_failures: tuple[str, ...] = ()  # recent Unhealthy events, newest first
    warnings: tuple[str, ...] = ()  # other recent Warning events (FailedScheduling, ...)
    autoscaler: Autoscaler | None = None
    context: str = ""
    # The rollout as `kubectl rollout status` judges it: what is still to do ("2/3 updated"),
    # "" once complete; `stalled`: the ProgressDeadlineExceeded message (waiting won't help)
    rollout: str = ""
    stalled: str = ""
    containers: tuple[str, ...] = ()  # the pod template's containers, in order
    default_container: str = ""  # the kubectl.kubernetes.io/default-container one, or first


@dataclass(frozen=True)
class ContainerState:
    """What the runtime knows about one service's container (or pod, or process)."""

    service: str
    present: bool = False  # False: never created / not found
    container_id: str = ""
    container_name: str = ""
    state: str = "missing"  # running, exited, restarting, created, paused, dead, missing
    health: str | None = None  # healthy, unhealthy, starting, or None when no healthcheck
    health_log: tuple[str, ...] = ()  # last outputs of the runtime's own healthcheck
    restart_count: int = 0
    recent_restarts: tuple[datetime, ...] = ()  # restart/start times seen recently
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    ports: tuple[str, ...] = ()  # published ports as "HOST:PORT->PORT/tcp"
    network_mode: str = ""
    image: str = ""
    restart_policy: str = ""
    workload: Workload | None = None  # Kubernetes only: replicas, pods, probes, autoscaler


@dataclass(frozen=True)
class RuntimeEvent:
    """A push notification from the runtime: something changed for a service."""

    service: str
    action: str  # start, die, restart, stop, kill, oom, health_status, create, destroy
    time: datetime
    container_id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    # Seen before the runtime reported it (a container's process ended: docker/exits.py);
    # the runtime's own event follows with the details and is the one the journal keeps.
    early: bool = False


@dataclass(frozen=True)
class StreamStatus:
    """Posted on the event stream when the connection itself changes (lost / back)."""

    connected: bool
    reason: str = ""


@dataclass(frozen=True)
class LogLine:
    service: str
    text: str
    time: datetime | None = None
    stream: str = "stdout"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


@runtime_checkable
class Runtime(Protocol):
    """What every runtime provides. `services` are the stack's services it manages."""

    name: str

    async def list_states(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        """State for every service (a `present=False` state for the ones with nothing)."""
        ...

    async def start(self, service: Service) -> None: ...

    async def stop(self, service: Service, timeout: float = 10) -> None: ...

    async def restart(self, service: Service, timeout: float = 10) -> None: ...

    async def exec(self, service: Service, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run argv inside the service's container; raises TimeoutError past timeout."""
        ...

    def logs(
        self, service: Service, tail: int = 100, follow: bool = False, timestamps: bool = True
    ) -> AsyncIterator[LogLine]:
        """Log lines, reassembled from the runtime's frames (one LogLine per text line)."""
        ...

    def events(self, services: Sequence[Service]) -> AsyncIterator[RuntimeEvent | StreamStatus]:
        """Push updates; reconnects by itself and yields StreamStatus when the link changes."""
        ...

    async def close(self) -> None: ...
