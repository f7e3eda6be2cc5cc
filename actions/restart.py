"""Restart a service, optionally with its dependents, and pause a restart loop.

The blast radius (transitive dependents) is known before anything happens, so the operator
confirms with it in front of them. With dependents, they are stopped first (dependents of
dependents first), the service is restarted and waited on, then the dependents are started
back in dependency order and waited on, one layer at a time.

Compose's `restart: true` on a `depends_on` edge is honoured without being asked: a
dependent declared so is stopped and brought back with the service, as `docker compose
restart` does. A one-shot job brought back is waited on until it has completed (exit 0).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from actions.base import ActionError, CancelToken, Progress, Step
from actions.waiting import StatusWaiter, is_completed, is_up, running_but_failing
from console.model import Stack, dependents_map, topological_layers, transitive
from console.monitor import Monitor
from console.runtime.base import Runtime
from console.runtime.capabilities import RestartPolicies
from console.status.types import ServiceStatus


class Restart:
    name = "restart"
    writes = True

    def __init__(
        self,
        stack: Stack,
        runtime: Runtime,
        monitor: Monitor,
        service: str,
        with_dependents: bool = False,
        timeout: float = 60.0,
        poll_interval: float = 0.25,
        stop_timeout: float = 10.0,
    ) -> None:
        if service not in stack:
            raise ActionError(f"restart: unknown service {service!r}")
        self.stack, self.runtime, self.monitor = stack, runtime, monitor
        self.target, self.with_dependents, self.timeout = service, with_dependents, timeout
        self.waiter = StatusWaiter(monitor, poll_interval)
        self.stop_timeout = stop_timeout  # seconds between SIGTERM and SIGKILL, as compose

    def blast_radius(self) -> list[str]:
        """Every service that depends on the target, directly or not, in stack order."""
        found = set(transitive(self.target, dependents_map(self.stack.services)))
        return [n for n in self.stack.names() if n in found]

    def restart_followers(self) -> list[str]:
        """Dependents whose edge says `restart: true`, and theirs in turn, in stack order."""
        found: set[str] = set()
        frontier = [self.target]
        while frontier:
            current = frontier.pop()
            for s in self.stack.services:
                if s.name not in found and current in s.depends_on and s.edge(current).restart:
                    found.add(s.name)
                    frontier.append(s.name)
        return [n for n in self.stack.names() if n in found]

    def _dependent_layers(self) -> list[list[str]]:
        chosen = set(self.blast_radius() if self.with_dependents else self.restart_followers())
        members = [s for s in self.stack.services if s.name in chosen]
        return topological_layers(members)

    def _done(self, name: str) -> Callable[[ServiceStatus], bool]:
        return is_completed if self.stack.service(name).oneshot else is_up

    def plan(self) -> list[Step]:
        steps: list[Step] = []
        layers = self._dependent_layers()
        for layer in reversed(layers):
            steps.extend(
                Step(f"stop {n}", f"stop {n} (depends on {self.target})", n) for n in layer
            )
        steps.append(Step(f"restart {self.target}", f"restart {self.target}", self.target))
        steps.append(Step(f"wait {self.target}", f"wait until {self.target} is healthy "
                          f"(timeout {self.timeout:g}s)", self.target))
        for layer in layers:
            steps.extend(Step(f"start {n}", f"start {n}, wait until healthy", n) for n in layer)
        return steps

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        layers = self._dependent_layers()
        try:
            for layer in reversed(layers):
                for name in layer:
                    cancel.check()
                    await self.runtime.stop(self.stack.service(name), self.stop_timeout)
                    yield Progress("ok", name, "stopped")
            cancel.check()
            fault = await self._fault()
            self.monitor.note_operator_start(self.target, "restart")
            await self.runtime.restart(self.stack.service(self.target), self.stop_timeout)
            yield Progress("ok", self.target, "restarted")
            outcome = await self.waiter.wait_up(self.target, self.timeout,
                                                self._done(self.target), fault=fault)
            if not outcome.ok:
                yield Progress("failed", self.target, outcome.reason)
                return
            yield Progress("ok", self.target, f"healthy in {outcome.seconds:.1f}s")
            for layer in layers:
                for name in layer:
                    cancel.check()
                    self.monitor.note_operator_start(name, "start")
                    await self.runtime.start(self.stack.service(name))
                    got = await self.waiter.wait_up(name, self.timeout, self._done(name))
                    if got.ok:
                        yield Progress("ok", name, f"healthy in {got.seconds:.1f}s")
                    else:
                        yield Progress("failed", name, got.reason)
            final = await self.waiter.fresh()
            yield Progress("done", "", final.readiness_text)
        finally:
            await self.waiter.close()


    async def _fault(self) -> str:
        """What is wrong with the target before the restart, if it runs but fails: the
        same words after the restart mean the restart did not help (stop at once)."""
        status = (self.monitor.last or await self.waiter.fresh()).get(self.target)
        return status.issues[0] if running_but_failing(status) and status.issues else ""


class PauseRestarts:
    """Set the restart policy to `no` so a crash-looping container stays down as evidence."""

    name = "pause-restarts"
    writes = True

    def __init__(self, stack: Stack, runtime: Runtime, service: str) -> None:
        if service not in stack:
            raise ActionError(f"pause-restarts: unknown service {service!r}")
        if not isinstance(runtime, RestartPolicies):
            raise ActionError(f"pause-restarts: the {runtime.name} runtime has no restart policy")
        self.stack, self.runtime, self.target = stack, runtime, service

    def plan(self) -> list[Step]:
        return [Step("policy", f"set the restart policy of {self.target} to 'no'", self.target,
                     "the last exit code and log lines stay for triage")]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        cancel.check()
        set_policy = self.runtime.set_restart_policy
        await set_policy(self.stack.service(self.target), "no")
        yield Progress("done", self.target, "restart policy set to 'no': restarts paused")
