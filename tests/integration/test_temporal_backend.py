"""The Temporal backend and the Vextrus workflows against a real Temporal test server.

Workflows are started with the SDK and executed by the Vextrus worker subprocess (the
demo's entrypoint); the console's backend lists, describes, queries, signals, cancels and
terminates them. The test server has no visibility queries, so listing uses the open/closed
fallback here, as it would against a server without advanced visibility.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from console.temporal.client import TemporalBackend
from console.temporal.types import (
    ListFilter,
    TemporalError,
    TemporalUnavailable,
    WorkflowDescription,
    WorkflowNotFound,
)
from tests.temporal_server import TemporalLab, TemporalProcess


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def start(lab: TemporalLab, workflow: str, payload: dict[str, Any], wid: str,
                task_queue: str | None = None) -> None:
    from temporalio.client import Client

    client = await Client.connect(lab.address, namespace=lab.namespace)
    await client.start_workflow(workflow, payload, id=wid,
                                task_queue=task_queue or lab.task_queue)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    """Poll a condition a worker makes true (activities, signals) within a deadline."""
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.1)


async def closed(backend: TemporalBackend, wid: str) -> WorkflowDescription:
    holder: list[WorkflowDescription] = []

    async def done() -> bool:
        holder[:] = [await backend.describe(wid)]
        return not holder[0].row.open

    await until(done)
    return holder[0]


@pytest.fixture
def backend(temporal_lab: TemporalLab) -> TemporalBackend:
    return TemporalBackend(temporal_lab.address, temporal_lab.namespace, query_timeout=2.0)


def po(amount: str = "42500.00", **extra: Any) -> dict[str, Any]:
    return {"po_number": "PO-T", "amount_bdt": amount, "requester": "test", **extra}


async def test_purchase_order_query_signal_to_completion_describe_and_history(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("po")
    await start(temporal_lab, "PurchaseOrderApproval", po("1250000.00"), wid)

    async def awaiting() -> bool:
        status = await backend.query(wid, "", "status", [])
        return status["state"] == "awaiting-approval"

    await until(awaiting)
    status = await backend.query(wid, "", "status", [])
    assert status["approval_tier"] == "cfo" and status["amount_bdt"] == "1250000.00"
    running = await backend.describe(wid)
    assert (running.row.status, running.row.type) == ("running", "PurchaseOrderApproval")
    assert running.row.task_queue == temporal_lab.task_queue and running.result is None

    await backend.signal(wid, "", "approve", ["rahim", "budget ok"])
    done = await closed(backend, wid)
    assert done.row.status == "completed" and done.row.close is not None
    result = json.loads(done.result or "")
    assert (result["state"], result["decided_by"], result["note"]) == (
        "ordered", "rahim", "budget ok")

    history = await backend.history(wid)
    kinds = [line.kind for line in history]
    assert kinds[0] == "WorkflowExecutionStarted" and kinds[-1] == "WorkflowExecutionCompleted"
    started = history[0].text
    assert started.startswith(f"PurchaseOrderApproval on {temporal_lab.task_queue} input {{")
    assert "1250000.00" in started
    signalled = next(line for line in history if line.kind == "WorkflowExecutionSignaled")
    assert signalled.text.startswith("approve from vextrus-console:")
    assert signalled.text.endswith('input ["rahim", "budget ok"]')
    assert any(line.text.startswith("CreatePurchaseOrder") for line in history)
    assert [line.event_id for line in history] == list(range(1, len(history) + 1))


async def test_reject_signal_without_arguments_uses_defaults(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("po")
    await start(temporal_lab, "PurchaseOrderApproval", po(), wid)
    await backend.signal(wid, "", "reject", [])
    result = json.loads((await closed(backend, wid)).result or "")
    assert (result["state"], result["decided_by"]) == ("rejected", "operator")


async def test_purchase_order_times_out_without_a_decision(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("po")
    await start(temporal_lab, "PurchaseOrderApproval", po(timeout_seconds=1), wid)
    result = json.loads((await closed(backend, wid)).result or "")
    assert result["state"] == "timed-out"


async def test_invoice_approval_schedules_payment_with_vat_and_withholding(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("inv")
    await start(temporal_lab, "InvoiceApproval", {
        "invoice_number": "INV-T", "vendor": "Padma Builders", "vendor_type": "contractor",
        "net_amount_bdt": "350000.00"}, wid)
    await backend.signal(wid, "", "approve", ["finance"])
    result = json.loads((await closed(backend, wid)).result or "")
    assert result["state"] == "payment-scheduled"
    assert (result["vat"], result["withholding"], result["payable"]) == (
        "52500.00", "26250.00", "376250.00")


async def test_onboarding_retries_a_failing_step_then_completes(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("onboard")
    await start(temporal_lab, "EmployeeOnboarding", {
        "employee_id": "E1", "fail_first": {"enroll-benefits": 1}}, wid)
    done = await closed(backend, wid)
    assert json.loads(done.result or "")["steps"][-1] == "send-welcome-pack"
    history = await backend.history(wid)
    scheduled = [line.event_id for line in history if line.kind == "ActivityTaskScheduled"
                 and '["enroll-benefits"' in line.text]
    started = next(line for line in history if line.event_id == scheduled[0] + 1)
    # The test server records the retried attempt but, unlike a full server, not its failure.
    assert (started.kind, started.text.split(",")[0]) == ("ActivityTaskStarted", "attempt 2")


async def test_stuck_activity_shows_attempts_and_last_failure_then_cancel(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("onboard")
    await start(temporal_lab, "EmployeeOnboarding", {
        "employee_id": "E2", "fail_first": {"setup-it-equipment": 1000}, "max_attempts": 0,
        "max_retry_interval_s": 1}, wid)

    async def retrying() -> bool:
        pending = (await backend.describe(wid)).pending_activities
        return bool(pending) and pending[0].attempt >= 3

    await until(retrying)
    activity = (await backend.describe(wid)).pending_activities[0]
    assert activity.type == "OnboardingStep" and activity.maximum_attempts == 0
    assert activity.last_failure.startswith("setup-it-equipment: upstream service unavailable")
    progress = await backend.query(wid, "", "progress", [])
    assert progress["current"] == "setup-it-equipment"
    assert progress["done"] == ["create-user-account"]

    await backend.cancel(wid)
    done = await closed(backend, wid)
    assert done.row.status == "canceled" and done.failure == "canceled"


async def test_terminate_records_reason_and_identity(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("po")
    await start(temporal_lab, "PurchaseOrderApproval", po(), wid)
    await backend.terminate(wid, "", "duplicate of PO-1")
    done = await closed(backend, wid)
    assert done.row.status == "terminated"
    assert done.failure is not None
    assert done.failure.startswith("terminated: duplicate of PO-1 (by vextrus-console:")


async def test_list_falls_back_to_open_and_closed_with_filters_and_paging(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    tag = uid("list")
    ids = [f"{tag}-{i}" for i in range(3)]
    for wid in ids:
        await start(temporal_lab, "PurchaseOrderApproval", po(), wid)
    await backend.terminate(ids[0], "", "list test")
    await closed(backend, ids[0])

    page = await backend.list_workflows(ListFilter(workflow_id=ids[1]))
    assert page.source == "open/closed" and "no visibility queries" in page.note
    assert [(r.workflow_id, r.status, r.type) for r in page.rows] == [
        (ids[1], "running", "PurchaseOrderApproval")]
    assert page.rows[0].start is not None  # (the test server leaves task_queue empty here)

    terminated = await _all(backend, ListFilter(status="terminated"))
    assert ids[0] in {r.workflow_id for r in terminated}
    assert all(r.status == "terminated" for r in terminated)
    running = {r.workflow_id for r in await _all(backend, ListFilter(status="running"))}
    assert {ids[1], ids[2]} <= running and ids[0] not in running

    first = await backend.list_workflows(ListFilter(type="PurchaseOrderApproval"), 2)
    assert len(first.rows) == 2 and first.next_token  # a page is a page, whatever the server
    paged = await _all(backend, ListFilter(type="PurchaseOrderApproval"), page_size=2)
    seen = [r.workflow_id for r in paged]
    assert len(seen) == len(set((r.workflow_id, r.run_id) for r in paged))  # no duplicates
    assert set(ids) <= set(seen)
    assert {r.type for r in paged} == {"PurchaseOrderApproval"}


async def _all(backend: TemporalBackend, flt: ListFilter, page_size: int = 50) -> list[Any]:
    rows, token = [], ""
    for _ in range(100):
        page = await backend.list_workflows(flt, page_size, token)
        rows.extend(page.rows)
        token = page.next_token
        if not token:
            return rows
    raise AssertionError("paging never ended")


async def test_visibility_query_on_a_server_without_it_says_so(backend: TemporalBackend) -> None:
    with pytest.raises(TemporalError, match="this server has no visibility queries"):
        await backend.list_workflows(ListFilter(query="WorkflowType = 'InvoiceApproval'"))


async def test_query_without_a_worker_says_so_in_words(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    wid = uid("po")
    await start(temporal_lab, "PurchaseOrderApproval", po(), wid, task_queue="nobody-polls")
    with pytest.raises(TemporalError) as info:
        await backend.query(wid, "", "status", [])
    assert str(info.value) == (
        "no worker answered within 2s: is a worker polling task queue 'nobody-polls'? "
        "(queries run on a worker; start it, or check the service that hosts it)")
    await backend.terminate(wid, "", "test cleanup")


async def test_unknown_workflow_is_not_found(backend: TemporalBackend) -> None:
    with pytest.raises(WorkflowNotFound):
        await backend.signal("no-such-workflow", "", "approve", [])


async def test_health_reports_namespace_and_unknown_pollers(
    backend: TemporalBackend, temporal_lab: TemporalLab
) -> None:
    health = await backend.health((temporal_lab.task_queue,))
    assert health.reachable and health.namespace_state == "registered"
    assert health.pollers == {temporal_lab.task_queue: None}
    assert health.pollers_note == (
        "pollers: unknown (server does not support DescribeTaskQueue)")


async def test_server_killed_then_started_again_recovers(temporal_proc: TemporalProcess) -> None:
    backend = TemporalBackend(temporal_proc.address, "vextrus", timeout=2.0)
    assert (await backend.list_workflows(ListFilter())).rows == ()
    temporal_proc.kill()
    with pytest.raises(TemporalUnavailable):
        await backend.list_workflows(ListFilter())
    temporal_proc.start()
    page = await backend.list_workflows(ListFilter())
    assert page.rows == () and page.source == "open/closed"


async def test_matrix_probe_reports_namespace_and_pollers_where_it_can(
    temporal_lab: TemporalLab,
) -> None:
    """The service matrix's temporal check: reachable, namespace, pollers (unknown here)."""
    from console.model import HealthCheck, Service
    from console.probes.registry import run_check

    port = int(temporal_lab.address.rsplit(":", 1)[1])
    check = HealthCheck(kind="temporal", port=port, namespace="vextrus", timeout=5.0,
                        task_queues=(temporal_lab.task_queue,))
    result = await run_check(check, Service("temporal"))
    assert result.ok, result.error
    assert result.output.endswith(
        "namespace vextrus registered; "
        "pollers: unknown (server does not support DescribeTaskQueue)")


