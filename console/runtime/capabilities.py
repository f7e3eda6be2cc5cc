"""What a runtime can do beyond the small interface in `base`, stated as interfaces.

k9s does the same (`Scalable`, `Loggable`, `Restartable`, `Nuker`): a caller asks
`isinstance(runtime, Scalable)` instead of testing a runtime's name or poking at attributes
with `hasattr`, so a new runtime gains a verb by implementing it, and the type checker sees
the call. Which runtime has which (docker D, kubernetes K, local L):

    RestartPolicies  D L     set the restart policy (pause a crash loop's restarts)
    Killable         D L     SIGKILL the service's main process
    Describable      D K L   the runtime's own object (inspect, YAML, process facts)
    UsageSource      D K L   CPU, memory, network and block I/O
    ClusterVerbs       K     scale, delete a pod, list pods
    PreviousLogs       K     the crashed container's last run (`kubectl logs --previous`)
    ContainerChoice    K     which container of a multi-container pod
    ComposeCreator   D       create and start containers from the compose project
    WriteGuarded       K     a production context's guard on every write
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from console.model import ComposeSource, Service
    from console.runtime.base import LogLine
    from console.runtime.kubernetes.config import WriteGuard
    from console.runtime.usage import UsageReport


@runtime_checkable
class RestartPolicies(Protocol):
    async def set_restart_policy(self, service: Service, name: str) -> None: ...


@runtime_checkable
class Killable(Protocol):
    async def kill(self, service: Service) -> None: ...


@runtime_checkable
class Describable(Protocol):
    async def describe(self, service: Service) -> list[tuple[str, str]]: ...


@runtime_checkable
class UsageSource(Protocol):
    async def usage(self, services: Sequence[Service]) -> UsageReport: ...


@runtime_checkable
class ClusterVerbs(Protocol):
    async def scale(self, service: Service, replicas: int) -> None: ...
    async def delete_pod(self, service: Service, pod: str) -> None: ...
    def pods(self, service: Service) -> list[str]: ...


@runtime_checkable
class PreviousLogs(Protocol):
    def previous_logs(self, service: Service, tail: int = 100) -> AsyncIterator[LogLine]: ...


@runtime_checkable
class ContainerChoice(Protocol):
    chosen_containers: dict[str, str]

    def choose_container(self, service: str, container: str | None) -> None: ...


@runtime_checkable
class ComposeCreator(Protocol):
    compose: ComposeSource | None

    async def create_and_start(self, services: Sequence[Service],
                               on_line: Callable[[str], None] | None = None) -> None: ...


@runtime_checkable
class WriteGuarded(Protocol):
    guard: WriteGuard
