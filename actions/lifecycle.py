"""Stop, kill and start one service: what lazydocker's `s` and k9s's `ctrl+k` do, guided.

One service only, never its dependents: the blast radius (everything that depends on it,
directly or not) is computed before anything happens, so the operator confirms with it in
front of them, and the journal keeps what was done. Stop is graceful (SIGTERM, SIGKILL
after the timeout, as compose); kill is SIGKILL now, for a service that ignores a stop
(a runtime without a kill of its own stops with no grace period); start starts what
exists (on Kubernetes: scales back to the replicas it had).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from actions.base import ActionError, CancelToken, Progress, Step
from console.model import Stack, dependents_map, transitive
from console.monitor import Monitor
from console.runtime.base import Runtime
from console.runtime.capabilities import Killable

VERBS = ("stop", "kill", "start")
STOP_TIMEOUT_S = 10.0


class Lifecycle:
    """`verb` one service; `writes`: refused read-only, confirmed (typed on production)."""

    writes = True

    def __init__(self, stack: Stack, runtime: Runtime, monitor: Monitor | None,
                 service: str, verb: str, stop_timeout: float = STOP_TIMEOUT_S) -> None:
        if verb not in VERBS:
            raise ActionError(f"{verb}: not one of {', '.join(VERBS)}")
        if service not in stack:
            raise ActionError(f"{verb}: unknown service {service!r}")
        self.stack, self.runtime, self.monitor = stack, runtime, monitor
        self.target, self.verb, self.name = service, verb, verb
        self.stop_timeout = stop_timeout

    def blast_radius(self) -> list[str]:
        """Every service that depends on the target, directly or not, in stack order."""
        found = set(transitive(self.target, dependents_map(self.stack.services)))
        return [n for n in self.stack.names() if n in found]

    def details(self) -> list[str]:
        """What the confirmation shows under the plan."""
        radius = self.blast_radius()
        if self.verb == "start":
            return []
        if not radius:
            return ["blast radius: none (nothing depends on it)"]
        return [f"blast radius: {', '.join(radius)}",
                f"they keep running without {self.target} until it is back"]

    def plan(self) -> list[Step]:
        title = {
            "stop": f"stop {self.target} (SIGTERM, SIGKILL after {self.stop_timeout:g}s)",
            "kill": f"kill {self.target} (SIGKILL now)" if isinstance(self.runtime, Killable)
            else f"kill {self.target}: stop with no grace period (the {self.runtime.name} "
                 "runtime has no kill of its own)",
            "start": f"start {self.target}",
        }[self.verb]
        return [Step(self.verb, title, self.target)]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        cancel.check()
        service = self.stack.service(self.target)
        if self.verb == "stop":
            await self.runtime.stop(service, self.stop_timeout)
        elif self.verb == "kill":
            if isinstance(self.runtime, Killable):
                await self.runtime.kill(service)
            else:
                await self.runtime.stop(service, 0)
        else:
            if self.monitor is not None:
                self.monitor.note_operator_start(self.target, "start")
            await self.runtime.start(service)
        yield Progress("done", self.target, f"{self.verb} sent")
