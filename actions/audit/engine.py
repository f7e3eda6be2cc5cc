"""`audit --fix` as a guided action: look, decide, rewrite, verify, write with a backup.

The rules and the text edits are pure (`audit_rules`, `audit_fix`); this module is where
the live system is asked what the fixes need: which exact image is present locally (to pin
to), what each service uses now (limits with headroom), and which probe the stack file
declares (the healthcheck). Docker is optional: without it the pins and limits are left as
findings with the reason, and the healthchecks and log rotation are still written.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from actions.audit.fix import FixInputs, FixResult, Usage, apply_fixes
from actions.audit.rules import (
    AuditError,
    AuditFinding,
    audit_file,
    floating_reason,
    read_compose,
    scalar,
    services_of,
)
from actions.base import ActionError, CancelToken, Progress, Step
from console.fileio import write_text_atomic
from console.model import Stack

VERSION_LABEL = "org.opencontainers.image.version"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


class Observer(Protocol):
    """What the fixes need from the runtime."""

    def pin(self, image: str) -> str | None: ...

    def usage(self, service: str) -> Usage | None: ...


class NoObserver:
    """No runtime: nothing to pin to, nothing observed."""

    def pin(self, image: str) -> str | None:
        return None

    def usage(self, service: str) -> Usage | None:
        return None


class DockerObserver:
    """docker-py, called from a thread: the local image's digest or version, live stats."""

    def __init__(self, client: Any, project: str | None = None) -> None:
        self.client = client
        self.project = project

    def pin(self, image: str) -> str | None:
        """`repo:tag@sha256:...` from a pulled image; `repo:VERSION` from its version label
        (tagged locally so the pinned name resolves); None when neither is known."""
        import docker.errors

        try:
            found = self.client.images.get(image)
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            return None
        repo = _repository(image)
        for digest in found.attrs.get("RepoDigests") or []:
            if digest.split("@")[0] == repo or digest.split("@")[0].endswith("/" + repo):
                return f"{image}@{digest.split('@', 1)[1]}"
        version = (found.labels or {}).get(VERSION_LABEL, "")
        pinned = f"{repo}:{version}"
        if not version or floating_reason(pinned):
            return None
        found.tag(repo, version)
        return pinned

    def usage(self, service: str) -> Usage | None:
        labels = [f"{COMPOSE_SERVICE_LABEL}={service}"]
        if self.project:
            labels.append(f"com.docker.compose.project={self.project}")
        containers = self.client.containers.list(filters={"label": labels})
        if not containers:
            return None
        samples = [c.stats(stream=False) for c in containers]
        return Usage(max(_memory(s) for s in samples), max(_cpu(s) for s in samples))


def _repository(image: str) -> str:
    name = image.split("@")[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]


def _memory(stats: dict[str, Any]) -> int:
    mem = stats.get("memory_stats") or {}
    cache = (mem.get("stats") or {}).get("inactive_file", 0)
    return max(int(mem.get("usage", 0)) - int(cache), 0)


def _cpu(stats: dict[str, Any]) -> float:
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        (pre.get("cpu_usage") or {}).get("total_usage", 0))
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or 1
    return used / system * cores if used > 0 and system > 0 else 0.0


def healthcheck_tests(stack: Stack) -> dict[str, list[str]]:
    """Seed 002's healthcheck for each compose service the stack file probes over http/tcp."""
    tests: dict[str, list[str]] = {}
    for service in stack.services:
        for check in service.checks:
            if check.kind == "http" and check.port:
                tests.setdefault(service.compose_name, [
                    "CMD", "wget", "-qO-", f"http://127.0.0.1:{check.port}{check.path}"])
            elif check.kind == "tcp" and check.port:
                tests.setdefault(service.compose_name, [
                    "CMD", "nc", "-z", "127.0.0.1", str(check.port)])
    return tests


@dataclass
class FilePlan:
    path: Path
    old_text: str
    result: FixResult

    def diff(self) -> list[str]:
        return list(difflib.unified_diff(
            self.old_text.splitlines(), self.result.text.splitlines(),
            fromfile=str(self.path), tofile=f"{self.path} (fixed)", lineterm=""))


def plan_fixes(path: Path, stack: Stack, observer: Observer) -> FilePlan:
    """Audit one file and work out its rewrite; nothing is written."""
    findings = audit_file(path)
    text, root = read_compose(path)
    services = services_of(root, path)
    wanted = {f.service for f in findings}
    pins: dict[str, str] = {}
    usage: dict[str, Usage] = {}
    for svc in services:
        if svc.name not in wanted:
            continue
        image = scalar(svc.get("image"))
        if image and any(f.rule == "unpinned-image" and f.service == svc.name for f in findings):
            pin = observer.pin(image)
            if pin:
                pins[svc.name] = pin
        seen = observer.usage(svc.name)
        if seen is not None:
            usage[svc.name] = seen
    inputs = FixInputs(pins, healthcheck_tests(stack), usage)
    try:
        return FilePlan(path, text, apply_fixes(text, services, findings, inputs))
    except AuditError as exc:
        raise AuditError(f"{path}: {exc}") from None


@dataclass
class AuditFix:
    """Rewrite compose files with the fixes; a backup of each file is kept (`NAME.bak`)."""

    paths: list[Path]
    stack: Stack
    observer: Observer = field(default_factory=NoObserver)
    name: str = "audit --fix"
    writes: bool = True
    plans: list[FilePlan] = field(default_factory=list)
    target: str = ""

    def __post_init__(self) -> None:
        self.target = self.target or ", ".join(str(p) for p in self.paths)

    def plan(self) -> list[Step]:
        return [Step(f"fix:{p}", f"rewrite {p}", str(p),
                     "pin images, add healthchecks, limits and log rotation; keep NAME.bak")
                for p in self.paths]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        for path in self.paths:
            cancel.check()
            plan = await self._plan(path)
            self.plans.append(plan)
            for event in _plan_events(plan):
                yield event
            cancel.check()
            if plan.result.fixed:
                mode = path.stat().st_mode & 0o777
                backup = write_text_atomic(path, plan.result.text, mode=mode, backup=True)
                yield Progress("ok", f"fix:{path}",
                               f"wrote {len(plan.result.fixed)} fixes (backup {backup})")
        yield Progress("done", "", f"{sum(len(p.result.fixed) for p in self.plans)} fixed")

    async def _plan(self, path: Path) -> FilePlan:
        try:
            return await asyncio.to_thread(plan_fixes, path, self.stack, self.observer)
        except AuditError as exc:
            raise ActionError(str(exc)) from None


def _plan_events(plan: FilePlan) -> Iterable[Progress]:
    for finding in plan.result.fixed:
        yield Progress("info", f"fix:{plan.path}", f"{finding.where()}: fixing {finding.message}")
    for finding, why in plan.result.left:
        yield Progress("skipped", f"fix:{plan.path}",
                       f"{finding.where()}: {finding.message}: left: {why}")


def findings_json(findings: list[AuditFinding]) -> list[dict[str, object]]:
    return [f.as_dict() for f in findings]
