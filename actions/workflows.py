"""Writes to Temporal workflows (signal, cancel, terminate) as guided actions.

Being actions, they share the rules every write follows: refused in read-only mode before
anything is sent, journaled (who, what, which workflow, the result), cancellable, with a
plan for `--dry-run`. The console and `vextrus-console workflows` both run them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from actions.base import CancelToken, Progress, Step
from console.temporal.types import TemporalError, WorkflowsBackend

Op = Literal["signal", "cancel", "terminate"]


@dataclass
class WorkflowWrite:
    """One write to one workflow execution; `reason` is required for terminate."""

    backend: WorkflowsBackend
    op: Op
    workflow_id: str
    run_id: str = ""
    signal: str = ""
    args: list[Any] = field(default_factory=list)
    reason: str = ""
    writes: bool = True
    name: str = field(init=False)
    target: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"workflow {self.op}"
        self.target = self.workflow_id
        if self.op == "signal" and not self.signal:
            raise TemporalError("signal: a signal name is required")
        if self.op == "terminate" and not self.reason.strip():
            raise TemporalError("terminate: a reason is required (it is recorded in the history)")

    def describe(self) -> str:
        """What will happen, in one line (the confirmation and the journal say this)."""
        run = f" (run {self.run_id})" if self.run_id else ""
        where = f"{self.workflow_id}{run} in namespace {self.backend.namespace}"
        if self.op == "signal":
            payload = json.dumps(self.args, ensure_ascii=False) if self.args else "no arguments"
            return f"send signal {self.signal!r} with {payload} to {where}"
        if self.op == "cancel":
            return f"request cancellation of {where} (the workflow may clean up first)"
        return f"terminate {where} at once, reason: {self.reason}"

    def plan(self) -> list[Step]:
        return [Step(self.op, self.describe(), self.workflow_id)]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        cancel.check()
        yield Progress("started", self.op, self.describe())
        try:
            if self.op == "signal":
                await self.backend.signal(self.workflow_id, self.run_id, self.signal, self.args)
            elif self.op == "cancel":
                await self.backend.cancel(self.workflow_id, self.run_id)
            else:
                await self.backend.terminate(self.workflow_id, self.run_id, self.reason)
        except TemporalError as exc:
            yield Progress("failed", self.op, str(exc))
            yield Progress("done", "", f"{self.op} failed: {exc}")
            return
        yield Progress("ok", self.op, _done_words(self))
        yield Progress("done", "", _done_words(self))


def _done_words(write: WorkflowWrite) -> str:
    if write.op == "signal":
        return f"signal {write.signal!r} sent to {write.workflow_id}"
    if write.op == "cancel":
        return f"cancellation requested for {write.workflow_id}"
    return f"{write.workflow_id} terminated: {write.reason}"
