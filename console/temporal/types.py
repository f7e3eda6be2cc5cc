"""What the workflows backend hands to the screens and the CLI: plain, frozen data.

The screens and the headless commands never see a protobuf: everything a Temporal server
says is turned into these types (with times in UTC and statuses as short words) inside the
backend, so a fake backend for snapshots and the real one produce the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# Statuses as operators say them (Temporal's WORKFLOW_EXECUTION_STATUS_* names, shortened).
STATUSES = (
    "running", "completed", "failed", "canceled", "terminated", "continued-as-new", "timed-out",
)  # fmt: skip
OPEN_STATUSES = ("running",)

ListSource = Literal["visibility", "open/closed"]


class TemporalError(Exception):
    """A Temporal call failed; str() is one line for the operator."""


class TemporalUnavailable(TemporalError):
    """The server cannot be reached (refused, timed out, unavailable): retry later."""


class WorkflowNotFound(TemporalError):
    pass


class Unimplemented(TemporalError):
    """The server does not implement the call (the test server, servers without visibility)."""


@dataclass(frozen=True)
class WorkflowRow:
    """One execution as the list shows it."""

    workflow_id: str
    run_id: str
    type: str
    status: str
    start: datetime | None = None
    close: datetime | None = None
    task_queue: str = ""

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class ListFilter:
    """What the operator filters by; `query` is a visibility query (advanced servers)."""

    status: str | None = None
    type: str | None = None
    workflow_id: str | None = None
    query: str | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("status", self.status), ("type", self.type),
                                          ("id", self.workflow_id)) if v]
        if self.query:
            parts.append(f"query: {self.query}")
        return ", ".join(parts) or "all"


@dataclass(frozen=True)
class WorkflowPage:
    """One page of the list; `next_token` is empty on the last page."""

    rows: tuple[WorkflowRow, ...]
    next_token: str = ""
    source: ListSource = "visibility"
    note: str = ""  # e.g. why the visibility query was not used


@dataclass(frozen=True)
class PendingActivity:
    activity_id: str
    type: str
    state: str  # scheduled, started, cancel-requested
    attempt: int
    maximum_attempts: int  # 0: unlimited
    last_failure: str = ""
    next_attempt: datetime | None = None


@dataclass(frozen=True)
class WorkflowDescription:
    """describe + the close event: what on-call needs to judge one execution."""

    row: WorkflowRow
    history_length: int = 0
    pending_activities: tuple[PendingActivity, ...] = ()
    result: str | None = None  # JSON text of the result, for a completed workflow
    failure: str | None = None  # failure, cancellation, termination or timeout in words
    parent: str = ""


@dataclass(frozen=True)
class HistoryLine:
    """One history event in words: `12  10:42:07  ActivityTaskFailed  ValidateBudget: ...`."""

    event_id: int
    at: datetime | None
    kind: str
    text: str = ""


@dataclass(frozen=True)
class TemporalHealth:
    """Server reachable, namespace registered, pollers per task queue (None: unknown)."""

    reachable: bool
    server: str = ""
    namespace_state: str = ""
    pollers: dict[str, int | None] = field(default_factory=dict)
    problem: str = ""
    pollers_note: str = ""


class WorkflowsBackend(Protocol):
    """The console's view of a Temporal namespace. One implementation talks gRPC (temporalio);
    tests may inject another. Every method raises TemporalError (or TemporalUnavailable) with
    a one-line message, never a raw gRPC error."""

    namespace: str
    address: str

    async def list_workflows(
        self, flt: ListFilter, page_size: int = 50, token: str = ""
    ) -> WorkflowPage: ...

    async def describe(self, workflow_id: str, run_id: str = "") -> WorkflowDescription: ...

    async def history(self, workflow_id: str, run_id: str = "") -> list[HistoryLine]: ...

    async def query(self, workflow_id: str, run_id: str, name: str, args: list[Any]) -> Any: ...

    async def signal(self, workflow_id: str, run_id: str, name: str, args: list[Any]) -> None: ...

    async def cancel(self, workflow_id: str, run_id: str = "") -> None: ...

    async def terminate(self, workflow_id: str, run_id: str, reason: str) -> None: ...

    async def health(self, task_queues: tuple[str, ...] = ()) -> TemporalHealth: ...

    async def close(self) -> None: ...
