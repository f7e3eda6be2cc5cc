"""Resource drills: a memory hog under a limit (oom) and a filled tmpfs or volume (disk).

`oom` starts a hog container from the service's own image under the service's memory
limit (or `--memory` when it has none) and waits for Docker's OOMKilled; the hog is
labelled as a service of the project, so the console's status engine is what detects it
("exited with code 137 (OOM killed)"), and the drill checks that the service and its
blast radius stayed operational: the limit contained it. Docker cannot unset a memory
limit once set (`docker update` refuses 0), so the drill never touches the service's own.

`disk` writes a file of the stated size into a tmpfs or volume mounted in the service
(never a bind mount: that is the host's disk; and never as much as a volume's free space,
which is the host's too), holds it, and deletes it. A health check
that does not look at disk will not notice: the report says so rather than pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actions.base import ActionError, CancelToken, Step
from actions.drill.engine import Drill, DrillOptions, Fault
from actions.drill.faults import DockerAccess, _container_id, _issues
from actions.drill.undo import Op, undo_op
from console.model import Service
from console.status.types import ServiceStatus, StackStatus, State

if TYPE_CHECKING:
    from console.runtime.base import Runtime

HOG_SCRIPT = "x=aaaaaaaa; while :; do x=$x$x; done"  # doubles a string until the limit bites
MiB = 1024 * 1024
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def _suffix(drill: Drill) -> str:
    return drill.drill_id.rsplit("-", 1)[-1]


# --- oom ----------------------------------------------------------------------------------


class OomFault(Fault):
    kind = "oom"

    def __init__(self, service: str, options: DrillOptions, runtime: Runtime | None,
                 project: str) -> None:
        super().__init__(service, options)
        self.docker = DockerAccess(runtime)
        self.project = project
        self.hog_service = f"{service}-oom-drill"
        self.hog_name = ""
        self.limit = options.memory

    def extra_services(self) -> tuple[Service, ...]:
        return (Service(self.hog_service, tier="drill"),)

    def describe(self) -> str:
        return f"a memory hog from {self.service}'s image under its memory limit"

    def inject_title(self) -> str:
        return f"start a memory hog beside {self.service} under a memory limit"

    def restore_title(self) -> str:
        return "remove the hog container"

    def watch_steps(self, options: DrillOptions) -> list[Step]:
        return [Step("detect", "wait until the console shows the hog OOM-killed", self.service),
                Step("contain", f"check that {self.service} and its dependents stayed "
                     "operational", self.service)]

    def undo_ops(self, drill: Drill, base: ServiceStatus) -> list[Op]:
        self.hog_name = f"{self.project}-{self.hog_service}-{_suffix(drill)}"
        return [{"op": "remove", "container": self.hog_name}]

    async def inject(self, drill: Drill, base: ServiceStatus) -> str:
        container = await self.docker.container(_container_id(base))
        limit = int(container.attrs.get("HostConfig", {}).get("Memory") or 0)
        self.limit = limit or self.options.memory
        drill.report.measurements["memory_limit_mib"] = round(self.limit / MiB, 1)
        drill.report.measurements["limit_from"] = "the service" if limit else "--memory"
        image = container.attrs.get("Image") or container.attrs.get("Config", {}).get("Image")
        labels = {PROJECT_LABEL: self.project, SERVICE_LABEL: self.hog_service,
                  "vextrus.drill": drill.drill_id}
        await self.docker.call(lambda: self.docker.client().containers.run(
            image, [HOG_SCRIPT], entrypoint=["sh", "-c"], name=self.hog_name, detach=True,
            labels=labels, network_mode="none", mem_limit=self.limit,
            memswap_limit=self.limit, restart_policy={"Name": "no"}))
        return f"hog {self.hog_name} started with a {self.limit / MiB:g} MiB limit"

    async def watch(self, drill: Drill, base: ServiceStatus, cancel: CancelToken) -> None:
        affected: list[str] = []

        def watch_neighbours(st: StackStatus) -> None:
            for s in st.services:
                if s.name != self.hog_service and not s.operational and s.name not in affected:
                    affected.append(f"{s.name}: {_issues(s)}")

        def killed(st: StackStatus) -> str | None:
            hog = st.get(self.hog_service)
            if hog.state is State.EXITED:
                return f"hog {_issues(hog)}"
            return None

        seen, seconds = await drill.poll(killed, self.options.detect_timeout, cancel,
                                         watch_neighbours)
        attrs = await self._hog_state()
        drill.report.measurements["oom_killed"] = bool(attrs.get("OOMKilled"))
        drill.report.measurements["hog_exit_code"] = attrs.get("ExitCode")
        if seen is None:
            drill.report.outcome = "not detected"
            drill.emit("failed", "detect", f"the hog was not killed in {seconds:.1f}s")
            return
        if not attrs.get("OOMKilled"):
            raise ActionError(f"the hog exited with code {attrs.get('ExitCode')} without an "
                              "OOM kill (does the image have sh?)")
        drill.detected(seen, seconds)
        await drill.poll(lambda st: None, 1.0, cancel, watch_neighbours)  # a second to settle
        drill.report.measurements["service_stayed_operational"] = not affected
        if affected:
            drill.report.outcome = "not contained"
            drill.emit("failed", "contain", "; ".join(affected))
        else:
            drill.report.outcome = "contained"
            drill.report.recovery_by = "contained by the memory limit"
            drill.emit("ok", "contain", f"{self.service} and its dependents stayed operational")

    async def _hog_state(self) -> dict[str, Any]:
        container = await self.docker.container(self.hog_name)
        state: dict[str, Any] = container.attrs.get("State", {})
        return state

    async def restore(self, drill: Drill) -> list[str]:
        try:
            if not self.hog_name:
                return []
            return [await self.docker.call(undo_op, self.docker.client(),
                                           {"op": "remove", "container": self.hog_name})]
        finally:
            self.docker.close()


# --- disk ---------------------------------------------------------------------------------


class DiskFault(Fault):
    kind = "disk"

    def __init__(self, service: str, options: DrillOptions, runtime: Runtime | None) -> None:
        super().__init__(service, options)
        self.docker = DockerAccess(runtime)
        self.container_id = ""
        self.mount = ""
        self.file = ""

    def describe(self) -> str:
        where = self.options.path or "its first tmpfs or volume"
        return f"write {self.options.size / MiB:g} MiB into {where} of {self.service}"

    def inject_title(self) -> str:
        return f"fill {self.options.path or 'a tmpfs or volume'} of {self.service} " \
               f"with {self.options.size / MiB:g} MiB"

    def restore_title(self) -> str:
        return "delete the fill file"

    def watch_steps(self, options: DrillOptions) -> list[Step]:
        return [Step("hold", f"keep it full for {options.hold:g}s, watching the status",
                     self.service),
                Step("recover", "delete the file; wait until everything is operational",
                     self.service)]

    def undo_ops(self, drill: Drill, base: ServiceStatus) -> list[Op]:
        self.container_id = _container_id(base)
        return []  # the file's path is known once the mount is (inject writes it down)

    async def inject(self, drill: Drill, base: ServiceStatus) -> str:
        container = await self.docker.container(self.container_id)
        self.mount, kind = pick_mount(container.attrs, self.options.path, self.service)
        before = await self._df(container)
        count = max(1, self.options.size // MiB)
        if kind == "volume" and before is not None and count >= before:
            raise ActionError(f"drill disk: {count} MiB would fill {self.mount}, a volume on "
                              f"the host's disk ({before} MiB free): every service there would "
                              "be hit, not just this one; give a smaller --size")
        self.file = f"{self.mount.rstrip('/')}/.vextrus-drill-{_suffix(drill)}"
        drill.add_undo({"op": "delete_file", "container": self.container_id, "path": self.file})
        result = await self.docker.call(container.exec_run, [
            "dd", "if=/dev/zero", f"of={self.file}", "bs=1048576", f"count={count}"])
        after = await self._df(container)
        drill.report.measurements.update({
            "mount": self.mount, "free_before_mib": before, "free_during_mib": after})
        output = result.output.decode("utf-8", "replace") if result.output else ""
        full = "no space left" in output.lower()
        drill.report.measurements["disk_full"] = full or after == 0
        return (f"{self.file}: {count} MiB asked, free {before} -> {after} MiB"
                + (" (full: no space left on device)" if full else ""))

    async def _df(self, container: Any) -> int | None:
        result = await self.docker.call(container.exec_run, ["df", "-k", self.mount])
        lines = (result.output or b"").decode("utf-8", "replace").strip().splitlines()
        try:
            return int(lines[-1].split()[3]) // 1024
        except (IndexError, ValueError):
            return None

    async def watch(self, drill: Drill, base: ServiceStatus, cancel: CancelToken) -> None:
        def anything_down(st: StackStatus) -> str | None:
            down = [f"{s.name}: {_issues(s)}" for s in st.services if not s.operational]
            return "; ".join(down) if down else None

        seen, seconds = await drill.poll(anything_down, self.options.hold, cancel)
        if seen is not None:
            drill.detected(seen, seconds)
            rest = self.options.hold - seconds
            if rest > 0:
                await drill.poll(lambda st: None, rest, cancel)
        await self._delete(drill)
        drill.emit("ok", "hold", f"fill file deleted after {drill.elapsed():.1f}s")
        found, seconds = await drill.poll(lambda st: None if anything_down(st) else "up",
                                          self.options.recover_timeout, cancel)
        if seen is None:
            drill.report.outcome = "not detected"
            drill.emit("failed", "detect", f"the status did not change while {self.mount} was "
                       "full: no health check looks at this disk")
        elif found is not None:
            drill.recovered("fault lifted", seconds)
        else:
            drill.report.outcome = "not recovered"

    async def _delete(self, drill: Drill) -> str:
        if not self.file:
            return ""
        note: str = await self.docker.call(undo_op, self.docker.client(), {
            "op": "delete_file", "container": self.container_id, "path": self.file})
        container = await self.docker.container(self.container_id)
        drill.report.measurements["free_after_mib"] = await self._df(container)
        return note

    async def restore(self, drill: Drill) -> list[str]:
        try:
            note = await self._delete(drill)
            return [note] if note else []
        finally:
            self.docker.close()


def pick_mount(attrs: dict[str, Any], wanted: str | None, service: str) -> tuple[str, str]:
    """A tmpfs or volume mounted read-write in the container, and which of the two; bind
    mounts are refused (the host's own files)."""
    candidates: list[tuple[str, str]] = []
    for dest in (attrs.get("HostConfig", {}).get("Tmpfs") or {}):
        candidates.append((dest, "tmpfs"))
    for m in attrs.get("Mounts") or []:
        if m.get("Type") in ("volume", "tmpfs") and m.get("RW", True):
            candidates.append((m.get("Destination", ""), m.get("Type", "")))
    if wanted is not None:
        for dest, kind in candidates:
            if wanted == dest or wanted.startswith(dest.rstrip("/") + "/"):
                return wanted, kind
        raise ActionError(f"drill disk: {wanted} is not on a tmpfs or volume of {service} "
                          f"(found: {', '.join(d for d, _ in candidates) or 'none'})")
    if not candidates:
        raise ActionError(f"drill disk: {service} has no tmpfs or volume to fill (a bind "
                          "mount or the container layer would fill the host's disk)")
    candidates.sort(key=lambda c: c[1] != "tmpfs")  # a tmpfs first: it costs no disk
    return candidates[0]
