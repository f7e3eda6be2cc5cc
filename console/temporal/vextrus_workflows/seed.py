"""Start a realistic handful of Vextrus workflows, for the demo and for screenshots.

    python -m console.temporal.vextrus_workflows.seed \
        --address 127.0.0.1:7233 --namespace vextrus --task-queue vextrus-workflows

or from Python: `await seed_workflows(client, task_queue)`. A worker must be polling the
task queue for the closed ones to close. What it leaves behind: purchase orders waiting for
each approval tier, one approved, one rejected, invoices for each vendor type (one
approved), an onboarding completed and one stuck retrying its IT step, one terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.temporal.vextrus_workflows import TASK_QUEUE

if TYPE_CHECKING:
    from temporalio.client import Client


@dataclass(frozen=True)
class Seed:
    workflow: str
    workflow_id: str
    payload: dict[str, Any]
    then: str = ""  # "", "approve", "reject", "terminate", "wait"


SEEDS: tuple[Seed, ...] = (
    Seed("PurchaseOrderApproval", "po-2025-0141",
         {"po_number": "PO-2025-0141", "amount_bdt": "42500.00", "requester": "nasrin"}),
    Seed("PurchaseOrderApproval", "po-2025-0142",
         {"po_number": "PO-2025-0142", "amount_bdt": "1250000.00", "requester": "karim"}),
    Seed("PurchaseOrderApproval", "po-2025-0143",
         {"po_number": "PO-2025-0143", "amount_bdt": "18000.00", "requester": "rafi"},
         then="approve"),
    Seed("PurchaseOrderApproval", "po-2025-0144",
         {"po_number": "PO-2025-0144", "amount_bdt": "7800000.00", "requester": "tania"},
         then="reject"),
    Seed("InvoiceApproval", "inv-2025-0917",
         {"invoice_number": "INV-2025-0917", "vendor": "Padma Builders",
          "vendor_type": "contractor", "net_amount_bdt": "350000.00"}),
    Seed("InvoiceApproval", "inv-2025-0918",
         {"invoice_number": "INV-2025-0918", "vendor": "Meghna Steel",
          "vendor_type": "supplier", "net_amount_bdt": "88000.00"}, then="approve"),
    Seed("InvoiceApproval", "inv-2025-0919",
         {"invoice_number": "INV-2025-0919", "vendor": "Jamuna IT Services",
          "vendor_type": "service", "net_amount_bdt": "125000.00"}),
    Seed("EmployeeOnboarding", "onboard-e1042",
         {"employee_id": "E1042", "name": "Ayesha Rahman", "department": "finance"},
         then="wait"),
    Seed("EmployeeOnboarding", "onboard-e1043",
         {"employee_id": "E1043", "name": "Imran Hossain", "department": "scm",
          "fail_first": {"setup-it-equipment": 1_000_000}, "max_attempts": 0,
          "max_retry_interval_s": 30}),
    Seed("PurchaseOrderApproval", "po-2025-0099",
         {"po_number": "PO-2025-0099", "amount_bdt": "64000.00", "requester": "sumon"},
         then="terminate"),
)


async def seed_workflows(client: Client, task_queue: str = TASK_QUEUE,
                         seeds: Sequence[Seed] = SEEDS, wait_s: float = 20.0) -> list[str]:
    """Start every seed (an already-running id is left alone), then act on it as `then` says.

    Returns the workflow ids. Waits up to `wait_s` for the ones meant to close.
    """
    from temporalio.common import WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    handles = []
    for seed in seeds:
        try:
            handle = await client.start_workflow(
                seed.workflow, seed.payload, id=seed.workflow_id, task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            continue
        handles.append((seed, handle))
    for seed, handle in handles:
        if seed.then in ("approve", "reject"):
            await handle.signal(seed.then, "seed")
        elif seed.then == "terminate":
            await handle.terminate(reason="duplicate of PO-2025-0141 (seeded)")
    closing = [h.result() for s, h in handles if s.then in ("approve", "reject", "wait")]
    if closing:
        await asyncio.wait_for(asyncio.gather(*closing), wait_s)
    return [seed.workflow_id for seed in seeds]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.temporal.vextrus_workflows.seed")
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--namespace", default="vextrus")
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    args = parser.parse_args(argv)

    async def run() -> list[str]:
        from temporalio.client import Client

        client = await Client.connect(args.address, namespace=args.namespace)
        return await seed_workflows(client, args.task_queue)

    try:
        ids = asyncio.run(run())
    except (RuntimeError, TimeoutError) as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 1
    print("\n".join(ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
