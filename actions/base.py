"""Guided actions: plan -> steps -> progress events, headless.

An action says what it will do (`plan()`, the dry run) and then does it as an async
generator of `Progress` events. The console renders the events in a progress widget, the
CLI prints them, the journal records them. Cancellation is checked between every step.
Writes are refused in read-only mode before anything runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from console.journal import Journal

ProgressKind = Literal["plan", "started", "ok", "failed", "skipped", "info", "done"]


class ActionError(Exception):
    """An action could not run; str() is one line for the operator."""


class ReadOnlyRefused(ActionError):
    pass


class Cancelled(ActionError):
    pass


@dataclass(frozen=True)
class Step:
    """One step of a plan, exact enough for a dry run to be read as a runbook."""

    id: str
    title: str
    target: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    kind: ProgressKind
    step: str
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    fraction: float | None = None  # 0.0 - 1.0 where known
    data: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        """How the CLI prints it."""
        mark = {"ok": "✓", "failed": "✗", "skipped": "-", "started": "…", "done": "■"}.get(
            self.kind, "·"
        )
        return f"{mark} {self.step}: {self.message}" if self.step else f"{mark} {self.message}"


class CancelToken:
    """Checked at every step; set from the UI (esc) or a signal handler."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the operator")


class Action(Protocol):
    name: str
    target: str
    writes: bool  # False for read-only actions (scan, diagnose)

    def plan(self) -> list[Step]: ...

    def run(self, cancel: CancelToken) -> AsyncIterator[Progress]: ...


async def execute(
    action: Action,
    cancel: CancelToken,
    journal: Journal | None = None,
    read_only: bool = False,
    on_event: Callable[[Progress], None] | None = None,
) -> AsyncIterator[Progress]:
    """Run an action with the shared rules: read-only refusal, journaling, cancellation."""
    if read_only and action.writes:
        raise ReadOnlyRefused(f"{action.name}: refused in read-only mode")
    _journal(journal, action, "started", "")
    result = "failed"
    last = ""
    any_failed = False
    try:
        async for event in action.run(cancel):
            last = event.message
            if event.kind == "failed":
                any_failed = True
                result = "failed"
            elif event.kind == "done":
                # A step that failed stays on the record even when the action went on.
                result = "done with failures" if any_failed else "ok"
            if on_event:
                on_event(event)
            yield event
            cancel.check()
    except Cancelled:
        result = "cancelled"
        raise
    finally:
        _journal(journal, action, result, last)


def _journal(journal: Journal | None, action: Action, result: str, detail: str) -> None:
    if journal is None:
        return
    text = f"{action.name} {result}" + (f": {detail}" if detail else "")
    journal.record("action", action.target or "-", text)
