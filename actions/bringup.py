"""Phased bring-up: phases in order, dependency layers inside a phase, bounded parallelism.

Each service is started, then waited on until its probes say healthy (its own timeout),
never a fixed sleep. On a compose project Compose creates and starts a whole dependency
layer at once (`up -d --no-deps`, pulls and builds shown as they go), and the console waits
on the probes and Compose's edge conditions: a one-shot job
(`service_completed_successfully`) is waited on until it has exited 0.
On a failure the phase stops, what runs keeps running, and a diagnosis
(exit code, last 30 log lines, failing probe output, unmet dependencies) goes to the
operator's `decide` callback: retry, restart it, skip or abort. A failure that waiting
cannot heal (actions.waiting.permanent_reason: a 404 on the health path, a process that
exited, an image that is missing, a fault unchanged after a restart) stops the wait at once.
A service already running but failing (unhealthy, unreachable) is restarted, not waited
on; the plan names it with its blast radius before anything runs. Every outcome is
journaled under a run id, so `resume=True` continues the last unfinished run after a crash
or a dropped SSH, and re-checks every service the run recorded as done: what is no longer
up is brought back.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from actions.base import ActionError, CancelToken, Progress, Step
from actions.waiting import (
    StatusWaiter,
    WaitOutcome,
    is_completed,
    is_up,
    running_but_failing,
)
from console.journal import Journal
from console.model import Stack, topological_layers, transitive
from console.monitor import Monitor
from console.runtime.base import Runtime
from console.runtime.capabilities import ComposeCreator
from console.status.engine import blast_radius
from console.status.types import ServiceStatus, State

Decision = Literal["retry", "restart", "skip", "abort"]


@dataclass(frozen=True)
class Diagnosis:
    """Why a service did not come up, with the evidence an operator asks for first."""

    service: str
    reason: str
    exit_code: int | None
    logs: tuple[str, ...]
    probe_output: tuple[str, ...]
    unmet: tuple[str, ...]

    def lines(self) -> list[str]:
        out = [f"{self.service}: {self.reason}"]
        if self.exit_code is not None:
            out.append(f"  exit code: {self.exit_code}")
        if self.unmet:
            out.append("  unmet dependencies: " + ", ".join(self.unmet))
        out.extend(f"  probe: {p}" for p in self.probe_output)
        if self.logs:
            out.append(f"  last {len(self.logs)} log lines:")
            out.extend(f"    {line}" for line in self.logs)
        return out


Decide = Callable[[Diagnosis], Awaitable[Decision]]


async def abort_always(_: Diagnosis) -> Decision:
    return "abort"


class BringUp:
    """The `bringup` action."""

    name = "bringup"
    writes = True

    def __init__(
        self,
        stack: Stack,
        runtime: Runtime,
        monitor: Monitor,
        journal: Journal | None = None,
        only: str | None = None,
        resume: bool = False,
        parallel: int = 4,
        timeout: float = 120.0,
        decide: Decide = abort_always,
        poll_interval: float = 0.25,
    ) -> None:
        if only is not None and only not in stack:
            raise ActionError(f"bringup --only: unknown service {only!r}")
        if parallel < 1:
            raise ActionError("bringup --parallel must be at least 1")
        self.stack, self.runtime, self.monitor, self.journal = stack, runtime, monitor, journal
        self.only, self.resume, self.parallel, self.timeout = only, resume, parallel, timeout
        self.decide = decide
        self.waiter = StatusWaiter(monitor, poll_interval)
        self.target = only or stack.name
        self.run_id = ""
        self.startup_seconds: dict[str, float] = {}
        self.failed: list[str] = []
        self.skipped: list[str] = []
        self._started: set[str] = set()  # created and started by a layer's batch

    # --- the plan ---------------------------------------------------------------------

    def selected(self) -> list[str]:
        """The services this run covers: all, or --only with its transitive dependencies."""
        if self.only is None:
            return self.stack.names()
        deps = {s.name: list(s.depends_on) for s in self.stack.services}
        wanted = {self.only, *transitive(self.only, deps)}
        return [n for n in self.stack.names() if n in wanted]

    def order(self) -> list[tuple[int, list[list[str]]]]:
        """(phase, dependency layers inside the phase) in start order."""
        chosen = set(self.selected())
        phases = sorted({self.stack.service(n).phase for n in chosen})
        out = []
        for phase in phases:
            members = [s for s in self.stack.services if s.name in chosen and s.phase == phase]
            out.append((phase, topological_layers(members)))
        return out

    def plan(self) -> list[Step]:
        steps = []
        for phase, layers in self.order():
            label = self.stack.phases.get(phase, f"phase {phase}")
            for i, layer in enumerate(layers):
                for name in layer:
                    steps.append(
                        Step(
                            id=f"{name}",
                            title=f"start {name}, wait until {self._goal(name)} "
                            f"(timeout {self.timeout:g}s)",
                            target=name,
                            detail=f"phase {phase} ({label}), layer {i + 1}, "
                            f"up to {self.parallel} at once",
                        )
                    )
                    steps[-1] = self._restart_step(steps[-1])
        return steps

    def _restart_step(self, step: Step) -> Step:
        """A service running but failing now is restarted: said with its blast radius."""
        last = self.monitor.last
        status = last.get(step.target) if last and step.target in self.stack else None
        if status is None or not running_but_failing(status):
            return step
        radius = blast_radius(self.stack, step.target)
        said = status.issues[0] if status.issues else status.state.value
        return Step(step.id, f"restart {step.target} (running but failing: {said}), wait "
                    f"until {self._goal(step.target)} (timeout {self.timeout:g}s)",
                    step.target, f"blast radius: {', '.join(radius) or 'none'}; {step.detail}")

    # --- running ------------------------------------------------------------------------

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        done_before = self._resume_point()
        try:
            for phase, layers in self.order():
                label = self.stack.phases.get(phase, f"phase {phase}")
                yield Progress("info", "", f"phase {phase}: {label}")
                for layer in layers:
                    cancel.check()
                    aborted = False
                    async for event in self._run_layer(layer, done_before, cancel):
                        aborted = aborted or event.data.get("abort") is True
                        yield event
                    if aborted:
                        yield Progress("failed", "", f"aborted in phase {phase} ({label})")
                        return
            self._mark("*", "finished")
            yield await self._final_report()
        finally:
            await self.waiter.close()

    def _resume_point(self) -> dict[str, float | None]:
        """Services already brought up by the run being resumed (empty for a new run)."""
        last = self.journal.last_bringup() if (self.journal and self.resume) else None
        if last and not last[1]:
            self.run_id = last[0]
            assert self.journal is not None
            results = self.journal.bringup_results(self.run_id)
            return {s: secs for s, (res, secs) in results.items() if res == "ok"}
        self.run_id = secrets.token_hex(4)
        return {}

    async def _run_layer(
        self, layer: list[str], done_before: dict[str, float | None], cancel: CancelToken
    ) -> AsyncIterator[Progress]:
        queue: asyncio.Queue[Progress | None] = asyncio.Queue()
        gate = asyncio.Semaphore(self.parallel)
        abort = asyncio.Event()

        batch = asyncio.ensure_future(self._start_batch(layer, done_before, cancel, queue))

        async def one(name: str) -> None:
            await batch
            # Started by Compose already: waiting costs nothing, so no turn at the gate.
            async with gate if name not in self._started else contextlib.nullcontext():
                if abort.is_set():
                    return
                await self._bring_one(name, done_before, cancel, queue, abort)

        tasks = [asyncio.ensure_future(one(n)) for n in layer]
        waiter = asyncio.ensure_future(_finish(tasks, queue))
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            for t in (batch, *tasks):
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        for t in tasks:
            if not t.cancelled() and t.exception():
                raise t.exception()  # type: ignore[misc]

    async def _start_batch(
        self, layer: list[str], done_before: dict[str, float | None], cancel: CancelToken,
        queue: asyncio.Queue[Progress | None],
    ) -> list[str]:
        """Compose creates and starts the layer's services in one `up -d --no-deps`.

        Only where the runtime can (`create_and_start`); what is already done is left out. A
        batch that fails is not the verdict: each service is then started on its own, so
        the failure is pinned on the service that caused it.
        """
        if not isinstance(self.runtime, ComposeCreator) or self.runtime.compose is None:
            return []
        create = self.runtime.create_and_start
        latest = self.waiter.latest or await self.waiter.fresh()
        todo = [n for n in layer if n not in done_before
                and not self._done(n)(latest.get(n))]
        if len(todo) < 1:
            return []
        cancel.check()
        for name in todo:
            self.monitor.note_operator_start(name, "start")
            self._mark(name, "started")  # on record before Compose touches anything
            await queue.put(Progress("started", name, "creating and starting (compose)"))

        def progress(line: str) -> None:
            queue.put_nowait(Progress("info", "", line))

        try:
            await create([self.stack.service(n) for n in todo], progress)
        except Exception as exc:  # each service is tried on its own next, with its words
            await queue.put(Progress("info", "", f"compose up of the layer failed: {exc}"))
            return []
        self._started.update(todo)
        return todo

    def _goal(self, name: str) -> str:
        service = self.stack.service(name)
        if service.oneshot:
            return "it has completed (exit 0)"
        return "running" if service.ready_when_running and not service.checks else "healthy"

    def _done(self, name: str) -> Callable[[ServiceStatus], bool]:
        """What this service must reach before the next layer: a job completes, others are up."""
        return is_completed if self.stack.service(name).oneshot else is_up

    async def _bring_one(
        self,
        name: str,
        done_before: dict[str, float | None],
        cancel: CancelToken,
        queue: asyncio.Queue[Progress | None],
        abort: asyncio.Event,
    ) -> None:
        current = (self.waiter.latest or await self.waiter.fresh()).get(name)
        if name in done_before:
            if self._done(name)(current):
                await queue.put(Progress("skipped", name, "done in the resumed run, still up"))
                return
            await queue.put(Progress("info", name, "done in the resumed run, now "
                                     f"{current.state.value}: bringing it back"))
        restart = name not in self._started and running_but_failing(current)
        if restart:
            radius = ", ".join(blast_radius(self.stack, name)) or "none"
            await queue.put(Progress("info", name, f"running but failing ({current.issues[0]})"
                                     f": restarting it; blast radius: {radius}"))
        if name not in self._started and self._done(name)(current):
            self._mark(name, "ok", 0.0)
            word = "completed" if is_completed(current) else "healthy"
            await queue.put(Progress("skipped", name, f"already {word}"))
            return
        while True:
            cancel.check()
            if name not in self._started:
                await queue.put(Progress("started", name, "restarting" if restart else "starting"))
            outcome = await self._start_and_wait(name, restart)
            if outcome.ok:
                self.startup_seconds[name] = outcome.seconds
                self._mark(name, "ok", outcome.seconds)
                await queue.put(Progress("ok", name, _ok_words(outcome)))
                return
            diagnosis = await self._diagnose(name, outcome)
            await queue.put(
                Progress("failed", name, outcome.reason, data={"diagnosis": diagnosis.lines()})
            )
            decision = await self.decide(diagnosis)
            restart = decision == "restart"
            if decision in ("retry", "restart"):
                continue
            self._mark(name, "skipped" if decision == "skip" else "failed")
            if decision == "skip":
                self.skipped.append(name)
                await queue.put(Progress("skipped", name, "skipped by the operator"))
                return
            self.failed.append(name)
            abort.set()
            await queue.put(Progress("info", name,
                                     "abort: the phase stops, running services keep running",
                                     data={"abort": True}))
            return

    async def _start_and_wait(self, name: str, restart: bool = False) -> WaitOutcome:
        """Start (unless the layer's batch did; a retry always starts) and wait; `restart`:
        restart it instead, and a fault it still has afterwards is final at once."""
        service = self.stack.service(name)
        if restart:
            self._started.discard(name)
            return await self._restart_and_wait(name)
        if name in self._started:
            self._started.discard(name)  # a retry starts it again
        else:
            try:
                self.monitor.note_operator_start(name, "start")
                self._mark(name, "started")
                await self.runtime.start(service)
            except Exception as exc:  # the runtime's words are the diagnosis
                status = (self.waiter.latest or await self.waiter.fresh()).get(name)
                return WaitOutcome(status, False, 0.0, f"start failed: {exc}")
        return await self.waiter.wait_up(name, self.timeout, self._done(name))

    async def _restart_and_wait(self, name: str) -> WaitOutcome:
        before = (self.waiter.latest or await self.waiter.fresh()).get(name)
        fault = before.issues[0] if running_but_failing(before) and before.issues else ""
        try:
            self.monitor.note_operator_start(name, "restart")
            self._mark(name, "started")
            await self.runtime.restart(self.stack.service(name))
        except Exception as exc:  # the runtime's words are the diagnosis
            return WaitOutcome(before, False, 0.0, f"restart failed: {exc}")
        return await self.waiter.wait_up(name, self.timeout, self._done(name), fault=fault)

    async def _diagnose(self, name: str, outcome: WaitOutcome) -> Diagnosis:
        status: ServiceStatus = outcome.status
        logs: list[str] = []
        with contextlib.suppress(Exception):
            async with asyncio.timeout(3):
                async for line in self.runtime.logs(self.stack.service(name), tail=30):
                    logs.append(line.text)
        probes = tuple(
            f"{p.check.describe()} ({p.where}): {p.error or 'ok'} {p.output[:200]}".strip()
            for p in status.probes
            if not p.ok
        )
        exit_code = status.container.exit_code if status.container else None
        if status.runtime_state == "running":
            exit_code = None
        return Diagnosis(name, outcome.reason, exit_code, tuple(logs[-30:]), probes,
                         status.unmet_deps)

    async def _final_report(self) -> Progress:
        # The snapshot that saw the last service up is this run's result (one refresh less).
        status = self.waiter.latest if self.startup_seconds and self.waiter.latest else \
            await self.waiter.fresh()
        times = ", ".join(f"{n} {s:.1f}s" for n, s in self.startup_seconds.items())
        message = status.readiness_text + (f"; start-up times: {times}" if times else "")
        return Progress(
            "done",
            "",
            message,
            data={"readiness": status.readiness, "failed": self.failed, "skipped": self.skipped},
        )

    def _mark(self, service: str, result: str, seconds: float | None = None) -> None:
        if self.journal:
            self.journal.record_bringup(self.run_id, service, result, seconds)


def _ok_words(outcome: WaitOutcome) -> str:
    seconds = f"{outcome.seconds:.1f}s"
    if is_completed(outcome.status):
        return f"completed (exit 0) in {seconds}"
    if outcome.status.health == "none":
        return f"healthy in {seconds} (no health endpoint)" \
            if outcome.status.state is not State.OPERATIONAL else f"running in {seconds}"
    return f"healthy in {seconds}"


async def _finish(
    tasks: Sequence[asyncio.Future[None]], queue: asyncio.Queue[Progress | None]
) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
    await queue.put(None)
