"""Resource usage as a runtime reports it: raw counters per replica, no rates yet.

A runtime that can measure its services (Docker's stats, /proc for local processes, the
Kubernetes metrics API) implements `UsageSource.usage`. It answers with what it read, as
it read it: cumulative CPU time and I/O byte counters (Docker, /proc) or an instantaneous
CPU rate (the metrics API). Turning counters into percentages needs two samples, which
`console.stats` keeps; a runtime stays stateless about usage.

`unavailable` carries the reason there are no figures at all ("the cluster serves no
metrics API"), said to the operator as it is, instead of empty columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from console.model import Service


@dataclass(frozen=True)
class ReplicaUsage:
    """One container, pod or process group at one instant. None: the runtime cannot tell."""

    name: str  # container name, pod name, or "pid 1234"
    cpu_ns: int | None = None  # cumulative CPU time used (Docker, /proc)
    clock_ns: int = 0  # when cpu_ns was read, on a clock shared by the samples of a runtime
    cpu_cores: float | None = None  # instantaneous rate in cores (the metrics API)
    memory: int | None = None  # bytes in use (without the page cache, as `docker stats`)
    memory_limit: int | None = None  # bytes; None when no limit is set
    net_rx: int | None = None  # cumulative bytes; None with host networking or no counter
    net_tx: int | None = None
    block_read: int | None = None  # cumulative bytes
    block_write: int | None = None
    cpu_limit_cores: float | None = None  # Kubernetes limits / Docker NanoCpus


@dataclass(frozen=True)
class UsageReport:
    """One sampling round: the replicas of every service that has running ones."""

    replicas: dict[str, tuple[ReplicaUsage, ...]] = field(default_factory=dict)
    unavailable: str = ""  # why there are no figures at all, in the operator's words
    host_memory: int | None = None  # total memory of the machine the replicas run on
    source: str = ""  # "docker stats", "/proc", "metrics.k8s.io"


@runtime_checkable
class UsageSource(Protocol):
    """A runtime that can measure its services' resource usage."""

    async def usage(self, services: Sequence[Service]) -> UsageReport: ...
