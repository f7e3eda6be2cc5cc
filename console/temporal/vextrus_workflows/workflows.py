"""The three Vextrus workflows (seed 003), deterministic and small.

Inputs and results are JSON objects with amounts as strings (exact Decimal on both ends).
Approval workflows take `approve(approver, comment)` and `reject(approver, reason)` signals,
answer a `status` query, and give up after `timeout_seconds` (default 7 days).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from console.temporal.vextrus_workflows import activities as acts
    from console.temporal.vextrus_workflows.calc import (
        approval_tier,
        invoice_totals,
        parse_bdt,
    )

DEFAULT_TIMEOUT_S = 7 * 24 * 3600
QUICK = timedelta(seconds=30)
ONBOARDING_STEPS = ("create-user-account", "setup-it-equipment", "enroll-benefits",
                    "send-welcome-pack")  # fmt: skip


class _Approval:
    """Signals, query and the wait shared by the two approval workflows."""

    def __init__(self) -> None:
        self.state = "validating"
        self.decided_by = ""
        self.note = ""
        self.decision: str | None = None
        self.facts: dict[str, Any] = {}

    @workflow.signal
    def approve(self, approver: str = "operator", comment: str = "") -> None:
        if self.decision is None:
            self.decision, self.decided_by, self.note = "approved", approver, comment

    @workflow.signal
    def reject(self, approver: str = "operator", reason: str = "") -> None:
        if self.decision is None:
            self.decision, self.decided_by, self.note = "rejected", approver, reason

    @workflow.query
    def status(self) -> dict[str, Any]:
        return {"state": self.state, "decided_by": self.decided_by, "note": self.note,
                **self.facts}  # fmt: skip

    async def wait_for_decision(self, timeout_s: float) -> str:
        self.state = "awaiting-approval"
        try:
            await workflow.wait_condition(lambda: self.decision is not None,
                                          timeout=timedelta(seconds=timeout_s))
        except TimeoutError:
            self.decision = "timed-out"
        self.state = self.decision or "timed-out"
        return self.state


@workflow.defn(name="PurchaseOrderApproval")
class PurchaseOrderApproval(_Approval):
    @workflow.run
    async def run(self, po: dict[str, Any]) -> dict[str, Any]:
        amount = parse_bdt(po["amount_bdt"])
        tier = approval_tier(amount)
        self.facts = {"po_number": po.get("po_number", ""), "amount_bdt": str(amount),
                      "approval_tier": tier}  # fmt: skip
        await workflow.execute_activity(acts.validate_budget, po, start_to_close_timeout=QUICK)
        await workflow.execute_activity(
            acts.notify_approver,
            {"role": tier, "subject": f"purchase order {po.get('po_number')}"},
            start_to_close_timeout=QUICK,
        )
        decision = await self.wait_for_decision(po.get("timeout_seconds", DEFAULT_TIMEOUT_S))
        if decision == "approved":
            await workflow.execute_activity(acts.create_purchase_order, po,
                                            start_to_close_timeout=QUICK)
            self.state = "ordered"
        return self.status()


@workflow.defn(name="InvoiceApproval")
class InvoiceApproval(_Approval):
    @workflow.run
    async def run(self, invoice: dict[str, Any]) -> dict[str, Any]:
        totals = invoice_totals(parse_bdt(invoice["net_amount_bdt"]), invoice["vendor_type"])
        self.facts = {"invoice_number": invoice.get("invoice_number", ""),
                      "vendor": invoice.get("vendor", ""),
                      "vendor_type": invoice["vendor_type"], **totals.as_dict()}  # fmt: skip
        decision = await self.wait_for_decision(
            invoice.get("timeout_seconds", DEFAULT_TIMEOUT_S))
        if decision == "approved":
            await workflow.execute_activity(acts.schedule_payment, self.facts,
                                            start_to_close_timeout=QUICK)
            self.state = "payment-scheduled"
        return self.status()


@workflow.defn(name="EmployeeOnboarding")
class EmployeeOnboarding:
    """Each step is an activity retried with backoff; a step that keeps failing is visible."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.current = ""

    @workflow.query
    def progress(self) -> dict[str, Any]:
        return {"done": list(self.done), "current": self.current,
                "remaining": [s for s in ONBOARDING_STEPS if s not in self.done]}  # fmt: skip

    @workflow.run
    async def run(self, employee: dict[str, Any]) -> dict[str, Any]:
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=float(employee.get("max_retry_interval_s", 30))),
            maximum_attempts=int(employee.get("max_attempts", 5)),
        )
        for step in ONBOARDING_STEPS:
            self.current = step
            await workflow.execute_activity(
                acts.onboarding_step, args=[step, employee],
                start_to_close_timeout=QUICK, retry_policy=retry,
            )
            self.done.append(step)
        self.current = ""
        return {"employee_id": employee.get("employee_id", ""), "steps": list(self.done)}


ALL = [PurchaseOrderApproval, InvoiceApproval, EmployeeOnboarding]
