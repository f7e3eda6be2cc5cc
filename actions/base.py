"""Guided actions: plan -> steps -> progress events, headless.

An action says what it will do (`plan()`, the dry run) and then does it as an async
generator of `Progress` events. The console renders the events in a progress widget, the
CLI prints them, the journal records them. Cancellation is checked between every step.
Writes are refused in read-only mode before anything runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from console.journal import Journal

ProgressKind = Literal["plan", "started", "ok", "failed", "skipped", "info", "done"]


class ActionError(Exception):
    """An action could not run; str() is one line for the operator."""


class ReadOnlyRefused(ActionError):
    pass


def read_only_refusal(what: str, reason: str = "") -> str:
    """The one wording of a write refused read-only, everywhere (CLI, toasts, journal):
    `what: refused in read-only mode`, or the reason when one forced it (a production
    context: `what: refused: context prod-eu is production...`)."""
    return f"{what}: refused: {reason}" if reason else f"{what}: refused in read-only mode"


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
        message = self.message
        verdict = self.data.get("verdict") if self.kind == "done" else None
        if verdict:  # the journal's words lead the last line: `finished with 2 failures · ...`
            message = f"{verdict} · {message}" if message else str(verdict)
        return f"{mark} {self.step}: {message}" if self.step else f"{mark} {message}"


@dataclass
class Tally:
    """What an action came to, counted one way for the journal, the CLI and the screen.

    Every `failed` event is a failure, even when the action went on (a scan finding, a
    failed check, a service skipped after it failed). The words are the last line
    everywhere: "finished: ok" only when the action finished with no failure.
    """

    failures: int = 0
    finished: bool = False
    cancelled: bool = False

    def add(self, event: Progress) -> None:
        if event.kind == "failed":
            self.failures += 1
        elif event.kind == "done":
            self.finished = True

    @property
    def ok(self) -> bool:
        return self.finished and not self.failures and not self.cancelled

    def words(self) -> str:
        """`finished: ok`, `finished with 3 failures`, `stopped with 1 failure`, ..."""
        if self.cancelled:
            return "cancelled"
        if self.ok:
            return "finished: ok"
        plural = "s" if self.failures != 1 else ""
        if self.finished:
            return f"finished with {self.failures} failure{plural}"
        if self.failures:
            return f"stopped with {self.failures} failure{plural}"
        return "ended without finishing"


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
        raise ReadOnlyRefused(read_only_refusal(action.name))
    _journal(journal, action, "started", "")
    tally = Tally()
    last = ""
    try:
        async for event in action.run(cancel):
            last = event.message
            tally.add(event)
            if event.kind == "done":
                event = replace(event, data={**event.data, "verdict": tally.words()})
            if on_event:
                on_event(event)
            yield event
            cancel.check()
    except Cancelled:
        tally.cancelled = True
        raise
    finally:
        _journal(journal, action, tally.words(), last)


def _journal(journal: Journal | None, action: Action, result: str, detail: str) -> None:
    if journal is None:
        return
    text = f"{action.name} {result}" + (f": {detail}" if detail else "")
    journal.record("action", action.target or "-", text)
