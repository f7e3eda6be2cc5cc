"""Listing workflows: a visibility query where the server has one, open/closed lists if not.

`ListWorkflowExecutions` takes a visibility query (`WorkflowType = 'X' AND ...`); servers
without advanced visibility, and the Temporal test server, answer UNIMPLEMENTED. Those still
have `ListOpenWorkflowExecutions` and `ListClosedWorkflowExecutions`, which take at most one
filter (id, type, or for closed ones status): the most selective one goes to the server and
the others are applied to the page here. Paging walks the open list, then the closed one;
the page token says which list it is in ("open:…" or "closed:…"). A server that returns
more than a page (the test server ignores the page size) is paged here: the token also
carries how many rows of that server page were already shown.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from console.temporal.types import STATUSES, ListFilter, TemporalError, WorkflowRow

# ExecutionStatus values in visibility queries.
_QUERY_STATUS = {
    "running": "Running", "completed": "Completed", "failed": "Failed",
    "canceled": "Canceled", "terminated": "Terminated",
    "continued-as-new": "ContinuedAsNew", "timed-out": "TimedOut",
}  # fmt: skip


def check_filter(flt: ListFilter) -> None:
    """Refuse what cannot be sent safely: unknown status, quotes inside a value."""
    if flt.status and flt.status not in STATUSES:
        raise TemporalError(f"status {flt.status!r} is not one of {', '.join(STATUSES)}")
    for name, value in (("type", flt.type), ("id", flt.workflow_id)):
        if value and ("'" in value or "\n" in value):
            raise TemporalError(f"{name} {value!r}: quotes and newlines are not allowed")


def visibility_query(flt: ListFilter) -> str:
    """The filter as a visibility query; the operator's own query is ANDed in brackets."""
    check_filter(flt)
    parts = []
    if flt.workflow_id:
        parts.append(f"WorkflowId = '{flt.workflow_id}'")
    if flt.type:
        parts.append(f"WorkflowType = '{flt.type}'")
    if flt.status:
        parts.append(f"ExecutionStatus = '{_QUERY_STATUS[flt.status]}'")
    if flt.query:
        parts.append(f"({flt.query})" if parts else flt.query)
    return " AND ".join(parts)


@dataclass(frozen=True)
class FallbackCursor:
    """Where paging stands in the open/closed walk."""

    phase: str  # open | closed
    server_token: bytes = b""
    skip: int = 0  # rows of this server page already shown

    def encode(self) -> str:
        token = base64.urlsafe_b64encode(self.server_token).decode()
        return f"{self.phase}:{token}:{self.skip}"

    @staticmethod
    def decode(token: str, flt: ListFilter) -> FallbackCursor:
        if not token:
            return FallbackCursor(phases(flt)[0])
        phase, sep, rest = token.partition(":")
        data, _, skip = rest.rpartition(":")
        if not sep or phase not in ("open", "closed"):
            raise TemporalError(f"page token {token[:20]!r} is not one of this console's")
        try:
            return FallbackCursor(phase, base64.urlsafe_b64decode(data.encode()), int(skip))
        except ValueError:
            raise TemporalError("page token is damaged") from None


def phases(flt: ListFilter) -> tuple[str, ...]:
    """Which lists a status filter needs: running -> open; any closed status -> closed."""
    if flt.status is None:
        return ("open", "closed")
    return ("open",) if flt.status == "running" else ("closed",)


def next_cursor(flt: ListFilter, cursor: FallbackCursor, server_next: bytes,
                shown_to: int = 0, server_rows: int = 0) -> str:
    """The token for the page after this one; '' when both lists are done.

    `shown_to` < `server_rows`: the server page was bigger than ours; the rest comes next.
    """
    if shown_to < server_rows:
        return FallbackCursor(cursor.phase, cursor.server_token, shown_to).encode()
    if server_next:
        return FallbackCursor(cursor.phase, server_next).encode()
    order = phases(flt)
    at = order.index(cursor.phase)
    return FallbackCursor(order[at + 1]).encode() if at + 1 < len(order) else ""


def server_filter(flt: ListFilter, phase: str) -> dict[str, object]:
    """The one filter the open/closed list call takes: id, else type, else (closed) status."""
    from temporalio.api.filter.v1 import (
        StatusFilter,
        WorkflowExecutionFilter,
        WorkflowTypeFilter,
    )

    from console.temporal.convert import status_value

    if flt.workflow_id:
        return {"execution_filter": WorkflowExecutionFilter(workflow_id=flt.workflow_id)}
    if flt.type:
        return {"type_filter": WorkflowTypeFilter(name=flt.type)}
    if flt.status and phase == "closed":
        return {"status_filter": StatusFilter(status=status_value(flt.status))}  # type: ignore[arg-type]
    return {}


def matches(row: WorkflowRow, flt: ListFilter) -> bool:
    """The filters the server could not apply, applied to a row here."""
    return ((not flt.status or row.status == flt.status)
            and (not flt.type or row.type == flt.type)
            and (not flt.workflow_id or row.workflow_id == flt.workflow_id))
