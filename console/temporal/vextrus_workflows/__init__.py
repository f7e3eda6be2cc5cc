"""The Vextrus business workflows from the seeds, as a runnable Temporal worker.

Seed 003 lists three workflows: purchase-order approval (tiers by amount in BDT, approve and
reject signals), invoice approval (15% VAT, withholding by vendor type) and employee
onboarding (steps as activities with retries). They are small on purpose: the console's
demo and tests need real executions to list, query, signal, cancel and terminate.

Run a worker:  python -m console.temporal.vextrus_workflows.worker \
                   --address 127.0.0.1:7233 --namespace vextrus --task-queue vextrus-workflows
Seed a few:    python -m console.temporal.vextrus_workflows.seed (same options)
"""

TASK_QUEUE = "vextrus-workflows"

# What the console offers in its query and signal prompts, per workflow type.
QUERIES: dict[str, tuple[str, ...]] = {
    "PurchaseOrderApproval": ("status",),
    "InvoiceApproval": ("status",),
    "EmployeeOnboarding": ("progress",),
}
SIGNALS: dict[str, tuple[str, ...]] = {
    "PurchaseOrderApproval": ("approve", "reject"),
    "InvoiceApproval": ("approve", "reject"),
}
