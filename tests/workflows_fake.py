"""A fixed Temporal namespace for snapshots only: the seeded Vextrus workflows, frozen.

Implements WorkflowsBackend with data shaped exactly like what TemporalBackend returns
from the real test server (see tests/integration/test_temporal_backend.py), at the UI
fixtures' fixed time, so snapshots never drift. Every behaviour is tested against the real
server elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from console.temporal.listing import matches
from console.temporal.types import (
    HistoryLine,
    ListFilter,
    PendingActivity,
    TemporalHealth,
    TemporalUnavailable,
    WorkflowDescription,
    WorkflowNotFound,
    WorkflowPage,
    WorkflowRow,
)
from tests.ui_data import FIXED_NOW

QUEUE = "vextrus-workflows"


def _row(wid: str, wtype: str, status: str, started_min: int, closed_min: int | None,
         run: str) -> WorkflowRow:
    start = FIXED_NOW - timedelta(minutes=started_min)
    close = FIXED_NOW - timedelta(minutes=closed_min) if closed_min is not None else None
    return WorkflowRow(wid, run, wtype, status, start, close, QUEUE)


ROWS = (
    _row("onboard-e1043", "EmployeeOnboarding", "running", 12, None, "7c1e2a90-4b1d-4c55"),
    _row("inv-2025-0919", "InvoiceApproval", "running", 14, None, "0b9f3e21-8a77-4f02"),
    _row("inv-2025-0917", "InvoiceApproval", "running", 15, None, "5d2c7b44-1e90-4a6b"),
    _row("po-2025-0142", "PurchaseOrderApproval", "running", 16, None, "a41d9c05-6f3e-4e18"),
    _row("po-2025-0141", "PurchaseOrderApproval", "running", 17, None, "e8b0f6d3-2c4a-49d1"),
    _row("po-2025-0099", "PurchaseOrderApproval", "terminated", 18, 18, "3f6a1b72-9d08-4c3e"),
    _row("onboard-e1042", "EmployeeOnboarding", "completed", 19, 18, "c2e58d19-7b3f-4a60"),
    _row("inv-2025-0918", "InvoiceApproval", "completed", 20, 19, "91d4a6e7-3c25-4b8f"),
    _row("po-2025-0144", "PurchaseOrderApproval", "completed", 21, 20, "6e0c3b58-f1a2-47d9"),
    _row("po-2025-0143", "PurchaseOrderApproval", "completed", 22, 21, "b7f2e9a0-5d61-4e3c"),
    _row("po-2025-0090", "PurchaseOrderApproval", "failed", 90, 88, "d0a7c3e6-4f92-41b5"),
)


def _at(seconds: float) -> Any:
    return FIXED_NOW - timedelta(minutes=12) + timedelta(seconds=seconds)


HISTORY = [
    HistoryLine(1, _at(0), "WorkflowExecutionStarted",
                'EmployeeOnboarding on vextrus-workflows input {"department": "scm", '
                '"employee_id": "E1043", "name": "Imran Hossain"}'),
    HistoryLine(2, _at(0), "WorkflowTaskScheduled", ""),
    HistoryLine(3, _at(0), "WorkflowTaskStarted", ""),
    HistoryLine(4, _at(0.01), "WorkflowTaskCompleted", ""),
    HistoryLine(5, _at(0.01), "ActivityTaskScheduled",
                'OnboardingStep (id 1) input ["create-user-account", {"employee_id": "E1043"}]'),
    HistoryLine(6, _at(0.02), "ActivityTaskStarted", "attempt 1"),
    HistoryLine(7, _at(0.03), "ActivityTaskCompleted",
                'result "create-user-account done for E1043"'),
    HistoryLine(8, _at(0.03), "WorkflowTaskScheduled", ""),
    HistoryLine(9, _at(0.03), "WorkflowTaskStarted", ""),
    HistoryLine(10, _at(0.04), "WorkflowTaskCompleted", ""),
    HistoryLine(11, _at(0.04), "ActivityTaskScheduled",
                'OnboardingStep (id 2) input ["setup-it-equipment", {"employee_id": "E1043"}]'),
]

DESCRIPTIONS = {
    "onboard-e1043": WorkflowDescription(
        row=ROWS[0], history_length=11,
        pending_activities=(PendingActivity(
            "2", "OnboardingStep", "scheduled", attempt=23, maximum_attempts=0,
            last_failure="setup-it-equipment: upstream service unavailable (attempt 22)",
            next_attempt=FIXED_NOW + timedelta(seconds=17)),)),
}


class FakeWorkflows:
    """The fixed namespace; `down` makes every call fail like a refused connection."""

    namespace = "vextrus"
    address = "127.0.0.1:7233"

    def __init__(self, down: str = "") -> None:
        self.down = down
        self.signals: list[tuple[str, str, list[Any]]] = []

    def _check(self) -> None:
        if self.down:
            raise TemporalUnavailable(self.down)

    async def list_workflows(self, flt: ListFilter, page_size: int = 50,
                             token: str = "") -> WorkflowPage:
        self._check()
        rows = tuple(r for r in ROWS if matches(r, flt))
        return WorkflowPage(rows, "", "open/closed",
                            note="server has no visibility queries: open, then closed lists")

    async def describe(self, workflow_id: str, run_id: str = "") -> WorkflowDescription:
        self._check()
        if workflow_id in DESCRIPTIONS:
            return DESCRIPTIONS[workflow_id]
        for row in ROWS:
            if row.workflow_id == workflow_id:
                return WorkflowDescription(row=replace(row), history_length=20)
        raise WorkflowNotFound(f"not found: {workflow_id}")

    async def history(self, workflow_id: str, run_id: str = "") -> list[HistoryLine]:
        self._check()
        return list(HISTORY)

    async def query(self, workflow_id: str, run_id: str, name: str, args: list[Any]) -> Any:
        self._check()
        return {"current": "setup-it-equipment", "done": ["create-user-account"]}

    async def signal(self, workflow_id: str, run_id: str, name: str, args: list[Any]) -> None:
        self._check()
        self.signals.append((workflow_id, name, args))

    async def cancel(self, workflow_id: str, run_id: str = "") -> None:
        self._check()

    async def terminate(self, workflow_id: str, run_id: str, reason: str) -> None:
        self._check()

    async def health(self, task_queues: tuple[str, ...] = ()) -> TemporalHealth:
        return TemporalHealth(reachable=not self.down, problem=self.down)

    async def close(self) -> None:
        pass
