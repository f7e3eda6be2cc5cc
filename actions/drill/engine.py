"""Chaos drills: inject one fault into one service, time detection and recovery, restore.

A drill shows its plan and the blast radius (the service's transitive dependents) first,
then: a baseline from the status engine; the undo list written down (`drill_undo`); the
fault; the console's status polled until it shows the fault (time to detection) and until
the service is operational again (time to recovery: by the restart policy, by the guided
restart the drill offers, or once the fault is lifted); then everything restored and a
report saved and journaled. Restoring happens in a `finally`, so `esc`, SIGTERM or an error
restore too; a crash leaves the undo file for the next start (`undo_leftovers`).

The faults themselves (kill, latency, oom, disk) live in `drill_faults`. Status comes from
the console's own Monitor over the service, its dependencies and its blast radius, so a
drill costs a few probes per tick, not a sweep of the whole stack.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actions.base import (
    ActionError,
    Cancelled,
    CancelToken,
    Progress,
    ReadOnlyRefused,
    Step,
    read_only_refusal,
)
from actions.drill.report import DrillReport
from actions.drill.undo import Op, UndoBook, UndoRecord
from console.model import Service, Stack, dependents_map, transitive
from console.monitor import Monitor
from console.status.types import ServiceStatus, StackStatus, State

if TYPE_CHECKING:
    from console.journal import Journal
    from console.runtime.base import Runtime

KINDS = ("kill", "latency", "oom", "disk")
AskRestart = Callable[[str], Awaitable[bool]]
MiB = 1024 * 1024


class Fault:
    """The interface every fault implements (defaults for the optional parts)."""

    kind = ""

    def __init__(self, service: str, options: DrillOptions) -> None:
        self.service = service
        self.options = options

    def stack_for(self, stack: Stack) -> Stack:
        return stack

    def extra_services(self) -> tuple[Service, ...]:
        return ()

    def describe(self) -> str:
        return self.kind

    def inject_title(self) -> str:
        return f"inject {self.kind} into {self.service}"

    def restore_title(self) -> str:
        return "nothing to restore"

    def watch_steps(self, options: DrillOptions) -> list[Step]:
        return []

    async def prepare(self, drill: Drill) -> None:
        """Before the baseline (e.g. the forwarder the baseline is measured through)."""

    def undo_ops(self, drill: Drill, base: ServiceStatus) -> list[Op]:
        return []

    async def inject(self, drill: Drill, base: ServiceStatus) -> str:
        raise NotImplementedError

    async def watch(self, drill: Drill, base: ServiceStatus, cancel: CancelToken) -> None:
        raise NotImplementedError

    async def restore(self, drill: Drill) -> list[str]:
        return []


@dataclass(frozen=True)
class DrillOptions:
    """Knobs, each with a safe default and a bound (checked in `validate`)."""

    delay: float = 0.2  # latency: seconds added to each request
    jitter: float = 0.0
    drop: float = 0.0  # latency: share of connections dropped
    memory: int = 64 * MiB  # oom: the hog's limit when the service has none
    size: int = 64 * MiB  # disk: how much to write
    path: str | None = None  # disk: which mount to fill (default: the first tmpfs/volume)
    hold: float = 5.0  # latency, disk: how long the fault stays in
    detect_timeout: float = 30.0
    recover_timeout: float = 60.0
    restart_after: float = 10.0  # kill: offer the guided restart after this long
    interval: float = 0.2  # status poll period
    load_seconds: float = 2.0  # latency: a short load before and during (0: none)
    load_rate: float = 50.0

    def validate(self) -> DrillOptions:
        checks = [
            (0 < self.hold <= 600, f"--hold: {self.hold:g}s is out of range (0-600 s)"),
            (8 * MiB <= self.memory <= 2048 * MiB, "--memory: must be 8m-2g"),
            (MiB <= self.size <= 4096 * MiB, "--size: must be 1m-4g"),
            (0 < self.detect_timeout <= 600, "--timeout: out of range (0-600 s)"),
            (0 < self.recover_timeout <= 600, "--timeout: out of range (0-600 s)"),
            (0 <= self.load_seconds <= 30, "load seconds: out of range (0-30 s)"),
            (0 < self.load_rate <= 2000, "load rate: out of range (0-2000 req/s)"),
            (0.02 <= self.interval <= 5, "interval: out of range (0.02-5 s)"),
        ]
        for ok, text in checks:
            if not ok:
                raise ActionError(f"drill: {text}")
        if self.path is not None and (not self.path.startswith("/") or ".." in self.path):
            raise ActionError(f"drill: --path {self.path!r} must be an absolute path")
        return self


def sub_stack(stack: Stack, service: str, extra: tuple[Service, ...] = ()) -> Stack:
    """The service, what it depends on and what depends on it: all a drill watches."""
    deps = {s.name: s.depends_on for s in stack.services}
    wanted = {service, *transitive(service, deps),
              *transitive(service, dependents_map(stack.services))}
    services = tuple(s for s in stack.services if s.name in wanted) + extra
    return replace(stack, services=services)


def blast_radius(stack: Stack, service: str) -> list[str]:
    found = set(transitive(service, dependents_map(stack.services)))
    return [n for n in stack.names() if n in found]


class Drill:
    """One drill run: `plan()` for the dry run, `execute()` to do it (restoring always)."""

    writes = True

    def __init__(
        self,
        fault: Fault,
        stack: Stack,
        runtime: Runtime | None,
        *,
        options: DrillOptions | None = None,
        journal: Journal | None = None,
        state_dir: Path | None = None,
        ask_restart: AskRestart | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fault.service not in stack:
            raise ActionError(f"drill: unknown service {fault.service!r}")
        self.fault = fault
        self.stack, self.runtime = stack, runtime
        self.options = (options or DrillOptions()).validate()
        self.journal, self.state_dir = journal, state_dir
        self.ask_restart = ask_restart
        self.clock = clock
        self.drill_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{fault.kind}-{secrets.token_hex(3)}"
        self.report = DrillReport(self.drill_id, fault.kind, fault.service,
                                  datetime.now(UTC).isoformat(timespec="seconds"))
        self.monitor = Monitor(sub_stack(fault.stack_for(stack), fault.service,
                                         fault.extra_services()), runtime)
        self.saved: Path | None = None
        self._book = UndoBook(state_dir) if state_dir is not None else None
        self._injected_at = 0.0
        self._undo: UndoRecord | None = None
        self._on_event: Callable[[Progress], None] = lambda e: None

    @property
    def name(self) -> str:
        return f"drill {self.fault.kind}"

    @property
    def target(self) -> str:
        return self.fault.service

    def blast_radius(self) -> list[str]:
        return blast_radius(self.stack, self.fault.service)

    def plan(self) -> list[Step]:
        s = self.fault.service
        return [
            Step("baseline", f"check that {s} is operational now (the baseline)", s),
            Step("inject", self.fault.inject_title(), s, self.fault.describe()),
            *self.fault.watch_steps(self.options),
            Step("restore", f"restore: {self.fault.restore_title()}", s,
                 "also on esc, SIGTERM or an error; after a crash, at the next start"),
            Step("report", "report in Markdown and JSON, journaled", s),
        ]

    # --- running ------------------------------------------------------------------------------

    def emit(self, kind: str, step: str, message: str, **data: Any) -> None:
        """An event for the screen/CLI, and a line of the report."""
        event = Progress(kind, step, message, data=dict(data))  # type: ignore[arg-type]
        self.report.events.append(f"{self.elapsed_text()}{step}: {message}")
        self._on_event(event)

    def elapsed(self) -> float:
        return self.clock() - self._injected_at if self._injected_at else 0.0

    def elapsed_text(self) -> str:
        return f"+{self.elapsed():.2f}s " if self._injected_at else ""

    async def execute(self, cancel: CancelToken, on_event: Callable[[Progress], None] | None = None,
                      read_only: bool = False) -> DrillReport:
        """The whole drill. Never leaves the fault in: restore runs in `finally`."""
        if read_only:
            raise ReadOnlyRefused(read_only_refusal(self.name))
        self._on_event = on_event or (lambda e: None)
        report = self.report
        report.plan = [s.title for s in self.plan()]
        report.blast_radius = self.blast_radius()
        report.fault = self.fault.describe()
        self._journal(f"drill {self.fault.kind} {self.fault.service} started: {report.fault}")
        try:
            await self._run(cancel)
        except Cancelled:
            report.outcome = "cancelled"
            self.emit("info", "cancel", "cancelled by the operator: restoring")
        except ActionError as exc:
            report.outcome = f"failed: {exc}"
            self.emit("failed", "drill", str(exc))
        finally:
            await asyncio.shield(self._restore())
        self.emit("done", "", report.summary())
        return report

    async def _run(self, cancel: CancelToken) -> None:
        await self.fault.prepare(self)
        base = await self._baseline()
        cancel.check()
        self._undo = UndoRecord(self.drill_id, self.fault.kind, self.fault.service, _pid(),
                                self.fault.undo_ops(self, base))
        if self._book is not None:
            self._book.write(self._undo)
        self.emit("started", "inject", self.fault.inject_title())
        note = await self.fault.inject(self, base)
        self._injected_at = self.clock()
        self.emit("ok", "inject", note)
        await self.fault.watch(self, base, cancel)

    def add_undo(self, op: Op) -> None:
        """One more thing to undo, written down before the fault makes it necessary."""
        if self._undo is None:
            return
        self._undo.ops.append(op)
        if self._book is not None:
            self._book.write(self._undo)

    async def _baseline(self) -> ServiceStatus:
        self.emit("started", "baseline", "asking the status engine")
        status = (await self.monitor.refresh()).get(self.fault.service)
        if status.state is not State.OPERATIONAL:
            issues = "; ".join(status.issues) or status.state.value
            raise ActionError(f"{self.fault.service} is not operational before the drill "
                              f"({issues}): a drill starts from a healthy service")
        latency = f", probe latency {status.latency_ms:.1f} ms" if status.latency_ms else ""
        self.emit("ok", "baseline", f"{self.fault.service} operational{latency}")
        self.report.measurements["probe_latency_before_ms"] = _ms(status.latency_ms)
        return status

    async def _restore(self) -> None:
        self.emit("started", "restore", self.fault.restore_title())
        try:
            notes = await self.fault.restore(self)
            self.report.restored = True
        except Exception as exc:  # the undo file stays: the next start tries again
            notes = [f"restore failed: {exc}"]
            self.report.restored = False
        self.report.restore_notes = notes
        if self.report.restored and self._book is not None:
            self._book.done(self.drill_id)
        self.emit("ok" if self.report.restored else "failed", "restore",
                  "; ".join(notes) or "nothing to restore")
        self.report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        if self.state_dir is not None:
            self.saved = self.report.save(self.state_dir)
        self._journal(self.report.summary())

    def _journal(self, text: str) -> None:
        if self.journal is not None:
            self.journal.record("action", self.fault.service, text)

    # --- helpers for the faults ------------------------------------------------------------

    async def poll(self, until: Callable[[StackStatus], str | None], timeout: float,
                   cancel: CancelToken, on_each: Callable[[StackStatus], None] | None = None
                   ) -> tuple[str | None, float]:
        """Refresh until `until(status)` returns a text; (text, seconds since injection).

        (None, elapsed) when the timeout passes first.
        """
        deadline = self.clock() + timeout
        while True:
            cancel.check()
            status = await self.monitor.refresh()
            if on_each is not None:
                on_each(status)
            found = until(status)
            if found is not None:
                return found, self.elapsed()
            if self.clock() >= deadline:
                return None, self.elapsed()
            await _sleep_checking(self.options.interval, cancel)

    def detected(self, text: str, seconds: float) -> None:
        self.report.detected_s = round(seconds, 3)
        self.report.detection = text
        self.emit("ok", "detect", f"{text} after {seconds:.2f}s", seconds=seconds)

    def recovered(self, by: str, seconds: float) -> None:
        self.report.recovered_s = round(seconds, 3)
        self.report.recovery_by = by
        self.report.outcome = "recovered"
        self.emit("ok", "recover", f"operational again after {seconds:.2f}s ({by})",
                  seconds=seconds)


async def _sleep_checking(seconds: float, cancel: CancelToken) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        cancel.check()
        await asyncio.sleep(min(left, 0.05))
    cancel.check()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _pid() -> int:
    import os

    return os.getpid()
