"""The four faults a drill injects: kill, latency, oom, disk.

Each says what it will do (`describe`, plan steps), what undoes it (`undo_ops`, written
before `inject`), how the console should see it (`watch`) and how to take it back
(`restore`, idempotent). Docker work goes through docker-py in threads; the latency fault
needs no runtime at all (the console's own forwarder sits in front of the service's port).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from actions.base import ActionError, CancelToken, Step
from actions.drill.engine import Drill, DrillOptions, Fault
from actions.drill.undo import Op, undo_op
from console.forwarder import Fault as LinkFault
from console.forwarder import Forwarder, ForwarderError, TcpTarget
from console.loadgen import LoadGenerator, LoadSpec, Target
from console.model import HealthCheck, Service, Stack
from console.status.types import ServiceStatus, StackStatus, State

if TYPE_CHECKING:
    from console.runtime.base import Runtime

VIA_HOST = "127.0.0.77"  # the forwarder's loopback address: the service's port stays the same
VIA_SPARE_PORTS = range(24900, 25000)


# --- docker access ----------------------------------------------------------------------


class DockerAccess:
    """A docker-py client for the runtime's daemon, used from threads."""

    def __init__(self, runtime: Runtime | None) -> None:
        if runtime is None or runtime.name != "docker":
            name = runtime.name if runtime is not None else "none"
            raise ActionError(f"this drill needs the docker runtime (not {name})")
        self.host = str(getattr(runtime, "host", "") or "")
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import docker

            self._client = (docker.DockerClient(base_url=self.host, version="auto", timeout=30)
                            if self.host else docker.from_env(version="auto", timeout=30))
        return self._client

    async def call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def container(self, ident: str) -> Any:
        return await self.call(self.client().containers.get, ident)

    @property
    def local(self) -> bool:
        return self.host.startswith("unix://") or self.host == ""

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _container_id(base: ServiceStatus) -> str:
    if base.container is None or not base.container.container_id:
        raise ActionError(f"{base.name}: no container to drill")
    return base.container.container_id


def _issues(status: ServiceStatus) -> str:
    return "; ".join(status.issues) or status.state.value


# --- kill ---------------------------------------------------------------------------------


class KillFault(Fault):
    """SIGKILL to the service's main process, as a crash; recovery by its restart policy."""

    kind = "kill"

    def __init__(self, service: str, options: DrillOptions, runtime: Runtime | None) -> None:
        super().__init__(service, options)
        self.docker = DockerAccess(runtime)
        self.container_id = ""

    def describe(self) -> str:
        return "SIGKILL to the main process (a crash)"

    def inject_title(self) -> str:
        return f"kill {self.service}'s main process (SIGKILL)"

    def restore_title(self) -> str:
        return f"make sure {self.service}'s container runs"

    def watch_steps(self, options: DrillOptions) -> list[Step]:
        return [
            Step("detect", f"wait until the console's status shows it (up to "
                 f"{options.detect_timeout:g}s)", self.service),
            Step("recover", f"wait until {self.service} is operational again (restart policy; "
                 f"a guided restart is offered after {options.restart_after:g}s)", self.service),
        ]

    def undo_ops(self, drill: Drill, base: ServiceStatus) -> list[Op]:
        self.container_id = _container_id(base)
        return [{"op": "start", "container": self.container_id}]

    async def inject(self, drill: Drill, base: ServiceStatus) -> str:
        container = await self.docker.container(self.container_id)
        policy = (container.attrs.get("HostConfig", {}).get("RestartPolicy") or {}).get("Name")
        drill.report.measurements["restart_policy"] = policy or "no"
        pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        if self.docker.local and pid > 0 and os.path.exists(f"/proc/{pid}"):
            try:
                os.kill(pid, signal.SIGKILL)
                return f"SIGKILL sent to pid {pid}; restart policy {policy or 'no'!r}"
            except PermissionError:
                pass
        await self.docker.call(container.kill)
        return ("docker kill sent (Docker counts it as a manual stop: the restart policy will "
                "not restart it)")

    async def watch(self, drill: Drill, base: ServiceStatus, cancel: CancelToken) -> None:
        seen, seconds = await drill.poll(lambda st: _down_or_restarted(st.get(self.service), base),
                                         self.options.detect_timeout, cancel)
        if seen is None:
            drill.report.outcome = "not detected"
            drill.emit("failed", "detect", f"the status did not change in {seconds:.1f}s")
            return
        drill.detected(seen, seconds)

        def up(st: StackStatus) -> str | None:
            return "up" if st.get(self.service).state is State.OPERATIONAL else None

        wait = min(self.options.restart_after, self.options.recover_timeout)
        found, seconds = await drill.poll(up, wait, cancel)
        if found is not None:
            drill.recovered(f"restart policy {drill.report.measurements['restart_policy']!r}",
                            seconds)
            return
        if not await self._guided_restart(drill, seconds):
            drill.report.outcome = "not recovered"
            drill.emit("failed", "recover", f"still down after {seconds:.1f}s; no restart")
            return
        left = max(1.0, self.options.recover_timeout - seconds)
        found, seconds = await drill.poll(up, left, cancel)
        if found is not None:
            drill.recovered("guided restart", seconds)
        else:
            drill.report.outcome = "not recovered"
            drill.emit("failed", "recover", f"not operational {seconds:.1f}s after the fault")

    async def _guided_restart(self, drill: Drill, seconds: float) -> bool:
        question = (f"{self.service} is still down {seconds:.0f}s after the kill "
                    "(its restart policy did not bring it back): restart it now?")
        if drill.ask_restart is None or not await drill.ask_restart(question):
            return False
        drill.emit("info", "recover", "guided restart: starting the container")
        container = await self.docker.container(self.container_id)
        await self.docker.call(container.start)
        return True

    async def restore(self, drill: Drill) -> list[str]:
        try:
            if not self.container_id:
                return []
            return [await self.docker.call(undo_op, self.docker.client(),
                                           {"op": "start", "container": self.container_id})]
        finally:
            self.docker.close()


def _down_or_restarted(now: ServiceStatus, base: ServiceStatus) -> str | None:
    """What the console shows that it did not before: a state, a restart, a new container."""
    if now.state is not State.OPERATIONAL:
        return f"status {now.state.value}: {_issues(now)}"
    if now.restart_count > base.restart_count:
        return f"restarted (restart count {base.restart_count} -> {now.restart_count})"
    was, new = base.container, now.container
    if was is not None and new is not None:
        if new.container_id != was.container_id:
            return "replaced by a new container"
        if new.started_at and was.started_at and new.started_at != was.started_at:
            return "restarted (a new start time)"
    return None


# --- latency ------------------------------------------------------------------------------


def _free_via(port: int) -> tuple[str, int]:
    """The service's own port on VIA_HOST when free, else a spare port there."""
    for candidate in (port, *VIA_SPARE_PORTS):
        with socket.socket() as s:
            try:
                s.bind((VIA_HOST, candidate))
            except OSError:
                continue
            return VIA_HOST, candidate
    raise ActionError(f"no free port on {VIA_HOST} for the drill's forwarder")


class LatencyFault(Fault):
    """Delay (and jitter, drops) through the console's forwarder in front of the port."""

    kind = "latency"

    def __init__(self, service: str, options: DrillOptions, stack: Stack) -> None:
        super().__init__(service, options)
        self.link = LinkFault(options.delay, options.jitter, options.drop)
        check = _http_check(stack.service(service))
        self.check = check
        assert check.port is not None
        self.via = _free_via(check.port)
        self.forwarder: Forwarder | None = None

    def describe(self) -> str:
        return f"{self.link.describe()} via {self.via[0]}:{self.via[1]}"

    def inject_title(self) -> str:
        return f"add {self.link.describe()} to {self.service}'s port {self.check.port}"

    def restore_title(self) -> str:
        return "lift the delay and stop the forwarder"

    def stack_for(self, stack: Stack) -> Stack:
        """The drill's view: the service's checks on that port go through the forwarder."""
        service = stack.service(self.service)
        checks = tuple(
            replace(c, host=self.via[0], port=self.via[1])
            if c.where == "host" and c.port == self.check.port and c.kind in ("http", "tcp")
            else c for c in service.checks)
        services = tuple(replace(s, checks=checks) if s.name == self.service else s
                         for s in stack.services)
        return replace(stack, services=services)

    def watch_steps(self, options: DrillOptions) -> list[Step]:
        return [
            Step("detect", "wait until the probe latency shows the delay", self.service),
            Step("load", f"load {options.load_rate:g} req/s for {options.load_seconds:g}s "
                 "before and during the fault: p95", self.service),
            Step("hold", f"keep the fault for {options.hold:g}s, then lift it", self.service),
            Step("recover", "wait until the latency is back to the baseline", self.service),
        ]

    def undo_ops(self, drill: Drill, base: ServiceStatus) -> list[Op]:
        return [{"op": "forwarder", "listen": f"{self.via[0]}:{self.via[1]}"}]

    async def prepare(self, drill: Drill) -> None:
        assert self.check.port is not None
        try:
            forwarder = Forwarder(self.via[0], self.via[1],
                                  TcpTarget(self.check.host, self.check.port),
                                  label=f"drill {self.service}")
            await forwarder.start()
        except ForwarderError as exc:
            raise ActionError(f"drill latency: {exc}") from None
        self.forwarder = forwarder

    async def _load(self, drill: Drill, when: str) -> float | None:
        """A short open-loop load through the forwarder; its p50 and p95 go to the report."""
        if not self.options.load_seconds:
            return None
        target = Target(self.via[0], self.via[1], self.check.path or "/", self.service)
        spec = LoadSpec(target, duration=self.options.load_seconds, rate=self.options.load_rate,
                        timeout=max(2.0, self.options.delay * 4), thresholds=())
        result = await LoadGenerator(spec).run()
        p95 = result.latency_ms.get("p95", 0.0)
        drill.report.measurements[f"load_p50_{when}_ms"] = round(result.latency_ms["p50"], 1)
        drill.report.measurements[f"load_p95_{when}_ms"] = round(p95, 1)
        return p95

    async def inject(self, drill: Drill, base: ServiceStatus) -> str:
        assert self.forwarder is not None
        before = await self._load(drill, "before")
        if before is not None:
            drill.emit("ok", "load", f"baseline p95 {before:.1f} ms")
        self.forwarder.fault = self.link
        return f"{self.link.describe()} on {self.via[0]}:{self.via[1]} -> :{self.check.port}"

    async def watch(self, drill: Drill, base: ServiceStatus, cancel: CancelToken) -> None:
        base_ms = base.latency_ms or 0.0
        limit = base_ms + self.options.delay * 1000 / 2
        peak = [0.0]

        def slow(st: StackStatus) -> str | None:
            now = st.get(self.service)
            peak[0] = max(peak[0], now.latency_ms or 0.0)
            if now.state is not State.OPERATIONAL:
                return f"status {now.state.value}: {_issues(now)}"
            if now.latency_ms is not None and now.latency_ms >= limit:
                return f"probe latency {now.latency_ms:.0f} ms (baseline {base_ms:.0f} ms)"
            return None

        started = drill.elapsed()
        seen, seconds = await drill.poll(slow, self.options.hold, cancel)
        if seen is not None:
            drill.detected(seen, seconds)
        during = await self._load(drill, "during")
        if during is not None:
            drill.emit("ok", "load", f"p95 under the fault {during:.1f} ms")
        held = drill.elapsed() - started
        if held < self.options.hold:
            await drill.poll(lambda st: slow(st) and None, self.options.hold - held, cancel)
        drill.report.measurements["probe_latency_peak_ms"] = round(peak[0], 1)
        assert self.forwarder is not None
        self.forwarder.fault = None
        lifted = drill.elapsed()
        drill.emit("ok", "hold", f"fault lifted after {lifted:.1f}s")

        def normal(st: StackStatus) -> str | None:
            now = st.get(self.service)
            ok = now.state is State.OPERATIONAL and (now.latency_ms or 0.0) < limit
            return "normal" if ok else None

        found, seconds = await drill.poll(normal, self.options.recover_timeout, cancel)
        if seen is None:
            drill.report.outcome = "not detected"
            drill.emit("failed", "detect", "the probe latency never showed the delay")
        elif found is not None:
            drill.recovered("fault lifted", seconds)
            drill.report.measurements["normal_after_lift_s"] = round(seconds - lifted, 2)
        else:
            drill.report.outcome = "not recovered"

    async def restore(self, drill: Drill) -> list[str]:
        if self.forwarder is None:
            return []
        self.forwarder.fault = None
        await self.forwarder.stop()
        stats = self.forwarder.stats
        return [f"forwarder {self.forwarder.listen} stopped ({stats.connections_total} "
                f"connections, {stats.dropped} dropped on purpose)"]


def _http_check(service: Service) -> HealthCheck:
    for check in service.checks:
        if check.where == "host" and check.kind in ("http", "tcp") and check.port:
            return check
    raise ActionError(f"drill latency: {service.name} has no host http or tcp check on a port")
