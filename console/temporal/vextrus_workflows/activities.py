"""Activities of the Vextrus workflows: the side effects, kept trivial and observable.

In the real stack these call the finance, notification and HR services. Here they log and
return, except that a step can be told to fail its first N attempts (`fail_first`), so
on-call can see what a retrying activity looks like (attempts, last failure) in the console.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError


def _maybe_fail(step: str, fail_first: dict[str, int] | None) -> None:
    """Fail attempts 1..N of `step` with the error an outage of its service would give."""
    budget = (fail_first or {}).get(step, 0)
    attempt = activity.info().attempt
    if attempt <= budget:
        raise ApplicationError(f"{step}: upstream service unavailable (attempt {attempt})")


@activity.defn(name="ValidateBudget")
async def validate_budget(po: dict[str, Any]) -> bool:
    activity.logger.info("budget check for %s", po.get("po_number"))
    return True


@activity.defn(name="NotifyApprover")
async def notify_approver(request: dict[str, Any]) -> str:
    return f"notified {request.get('role')} about {request.get('subject')}"


@activity.defn(name="CreatePurchaseOrder")
async def create_purchase_order(po: dict[str, Any]) -> str:
    return f"PO {po.get('po_number')} issued"


@activity.defn(name="SchedulePayment")
async def schedule_payment(invoice: dict[str, Any]) -> str:
    return f"payment of BDT {invoice.get('payable')} to {invoice.get('vendor')} scheduled"


@activity.defn(name="OnboardingStep")
async def onboarding_step(step: str, employee: dict[str, Any]) -> str:
    _maybe_fail(step, employee.get("fail_first"))
    return f"{step} done for {employee.get('employee_id')}"


ALL: list[Callable[..., Any]] = [
    validate_budget, notify_approver, create_purchase_order, schedule_payment, onboarding_step,
]
