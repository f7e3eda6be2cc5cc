"""Pre-flight checks before a bring-up: what would make it fail, found before it starts.

The seeds' bring-ups failed late on things that could be seen up front: Docker not running,
a host port already held by another process (a local PostgreSQL on 5432), Elasticsearch's
`vm.max_map_count` below 262144, a full disk. Each check is one `Progress` event ("ok" or
"failed" with the fix in words); nothing is changed, so read-only mode allows it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from actions.base import CancelToken, Progress, Step
from actions.portproxy.diagnose import Snapshot, read_snapshot
from console.model import Stack
from console.runtime.base import ContainerState, Runtime, RuntimeUnavailable

ES_MAP_COUNT = 262_144  # Elasticsearch's documented minimum for vm.max_map_count
GIB = 1024**3


@dataclass(frozen=True)
class Limits:
    """Thresholds, so a small dev box and a CI runner can say what they need."""

    min_disk_gib: float = 5.0
    min_memory_gib: float = 4.0


@dataclass(frozen=True)
class CheckResult:
    step: str
    ok: bool
    message: str


class Preflight:
    """Docker reachable, disk and memory free, host ports free, vm.max_map_count."""

    name = "preflight"
    writes = False

    def __init__(
        self,
        stack: Stack,
        runtime: Runtime | None,
        *,
        disk_path: Path = Path("/"),
        proc_root: Path = Path("/proc"),
        limits: Limits = Limits(),
    ) -> None:
        self.stack = stack
        self.runtime = runtime
        self.target = stack.name
        self.disk_path = disk_path
        self.proc_root = proc_root
        self.limits = limits
        self.results: list[CheckResult] = []

    def _wants_map_count(self) -> bool:
        return any("elasticsearch" in s.name for s in self.stack.services)

    def plan(self) -> list[Step]:
        steps = [
            Step("runtime", f"{self._runtime_name()} reachable"),
            Step("disk", f"at least {self.limits.min_disk_gib:g} GiB free on {self.disk_path}"),
            Step("memory", f"at least {self.limits.min_memory_gib:g} GiB memory available"),
            Step("ports", "host ports of services not running are free"),
        ]
        if self.stack.compose is not None:
            steps.insert(1, Step("compose", "docker compose v2 runs: which one and its version",
                                 detail="a host plugin when present, else the bundled one"))
        if self._wants_map_count():
            steps.append(Step("max_map_count", f"vm.max_map_count >= {ES_MAP_COUNT}",
                              detail="Elasticsearch refuses to start below it"))
        return steps

    def _runtime_name(self) -> str:
        return self.runtime.name if self.runtime is not None else "no runtime"

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        states, runtime_check = await self._check_runtime()
        checks: list[Callable[[], CheckResult]] = [
            self._check_disk,
            self._check_memory,
        ]
        yield self._emit(runtime_check)
        if self.stack.compose is not None:
            cancel.check()
            yield self._emit(await asyncio.to_thread(_check_compose))
        for check in checks:
            cancel.check()
            yield self._emit(check())
        cancel.check()
        yield self._emit(await self._check_ports(states))
        if self._wants_map_count():
            cancel.check()
            yield self._emit(self._check_map_count())
        failed = [r.step for r in self.results if not r.ok]
        summary = f"{len(self.results) - len(failed)}/{len(self.results)} checks passed"
        yield Progress("done", "", summary + (f"; failed: {', '.join(failed)}" if failed else ""))

    def _emit(self, result: CheckResult) -> Progress:
        self.results.append(result)
        return Progress("ok" if result.ok else "failed", result.step, result.message)

    # --- the checks ------------------------------------------------------------------------

    async def _check_runtime(self) -> tuple[dict[str, ContainerState] | None, CheckResult]:
        if self.runtime is None:
            return None, CheckResult("runtime", True, "no runtime chosen (--runtime none)")
        try:
            states = await self.runtime.list_states(self.stack.services)
        except RuntimeUnavailable as exc:
            return None, CheckResult("runtime", False, f"{self.runtime.name}: {exc}")
        running = sum(1 for s in states.values() if s.state == "running")
        return states, CheckResult(
            "runtime", True, f"{self.runtime.name} answers ({running} services running)"
        )

    def _check_disk(self) -> CheckResult:
        try:
            free = shutil.disk_usage(self.disk_path).free / GIB
        except OSError as exc:
            return CheckResult("disk", False, f"{self.disk_path}: {exc.strerror or exc}")
        ok = free >= self.limits.min_disk_gib
        need = "" if ok else f" (need {self.limits.min_disk_gib:g} GiB: free space or prune images)"
        return CheckResult("disk", ok, f"{free:.1f} GiB free on {self.disk_path}{need}")

    def _check_memory(self) -> CheckResult:
        available = _meminfo_available(self.proc_root / "meminfo")
        if available is None:
            return CheckResult("memory", True, "unknown here (no /proc/meminfo): not checked")
        gib = available / GIB
        ok = gib >= self.limits.min_memory_gib
        need = "" if ok else f" (need {self.limits.min_memory_gib:g} GiB)"
        return CheckResult("memory", ok, f"{gib:.1f} GiB available{need}")

    async def _check_ports(self, states: dict[str, ContainerState] | None) -> CheckResult:
        """A port is taken when something listens on it while its service is not running."""
        idle = [
            (s.name, port)
            for s in self.stack.services
            for port in s.ports
            if states is None or states.get(s.name, ContainerState(s.name)).state != "running"
        ]
        snapshot = await asyncio.to_thread(read_snapshot, [p for _, p in idle], self.proc_root)
        if not snapshot.available:
            return CheckResult("ports", True, "no /proc/net/tcp here: not checked")
        taken = _taken(idle, snapshot)
        if not taken:
            return CheckResult("ports", True, f"{len(idle)} ports of idle services are free")
        return CheckResult("ports", False, "taken by other processes: " + "; ".join(taken))

    def _check_map_count(self) -> CheckResult:
        path = self.proc_root / "sys" / "vm" / "max_map_count"
        try:
            value = int(path.read_text().strip())
        except (OSError, ValueError):
            return CheckResult("max_map_count", True, f"{path} unreadable: not checked")
        if value >= ES_MAP_COUNT:
            return CheckResult("max_map_count", True, f"vm.max_map_count = {value}")
        return CheckResult(
            "max_map_count", False,
            f"vm.max_map_count = {value}, Elasticsearch needs {ES_MAP_COUNT}: run "
            f"`sysctl -w vm.max_map_count={ES_MAP_COUNT}` (WSL2: in the docker-desktop distro)",
        )


def _check_compose() -> CheckResult:
    """Which compose the bring-up will run (path and version), or why there is none."""
    from console.compose import ComposeError, find_compose

    try:
        binary = find_compose()
        version = binary.version()
    except ComposeError as exc:
        return CheckResult("compose", False, str(exc))
    return CheckResult("compose", True, f"docker compose {version} ({binary.origin}: "
                                        f"{binary.path})")


def _taken(idle: Iterable[tuple[str, int]], snapshot: Snapshot) -> list[str]:
    out = []
    for service, port in idle:
        listeners = snapshot.on_port(port)
        if not listeners:
            continue
        owners = snapshot.owners_of(listeners)
        who = ", ".join(o.describe() for o in owners) or "a process of another user"
        out.append(f"{port} ({service}) by {who}")
    return out


def _meminfo_available(path: Path) -> int | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None
