"""Temporal's health as the service matrix needs it: reachable, namespace, pollers.

Pollers come from DescribeTaskQueue, which some servers (the Temporal test server among
them) do not implement: then the count is unknown and the note says why, rather than the
console guessing "no workers".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from console.temporal.errors import words
from console.temporal.types import TemporalError, TemporalHealth, Unimplemented

NO_DESCRIBE_TASK_QUEUE = "pollers: unknown (server does not support DescribeTaskQueue)"


async def task_queue_pollers(
    service: Any, namespace: str, queues: tuple[str, ...], timeout: float
) -> tuple[dict[str, int | None], str]:
    """Workflow pollers per task queue; (None for each, note) when the server cannot say."""
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    counts: dict[str, int | None] = {}
    for queue in queues:
        request = DescribeTaskQueueRequest(namespace=namespace, task_queue=TaskQueue(name=queue))
        try:
            response = await service.describe_task_queue(
                request, retry=False, timeout=timedelta(seconds=timeout))
        except Exception as exc:
            error = words(exc, timeout)
            if isinstance(error, Unimplemented):
                return dict.fromkeys(queues), NO_DESCRIBE_TASK_QUEUE
            raise error from None
        counts[queue] = len(response.pollers)
    return counts, ""


def pollers_text(counts: dict[str, int | None], note: str) -> str:
    """`pollers: vextrus-workflows 2` / `no worker polls vextrus-workflows` / the note."""
    if note:
        return note
    parts = [f"{queue} {n}" if n else f"{queue} 0 (no worker polls it)"
             for queue, n in counts.items()]
    return "pollers: " + ", ".join(parts) if parts else ""


async def check_health(
    service: Any, namespace: str, queues: tuple[str, ...], timeout: float
) -> TemporalHealth:
    """GetSystemInfo, DescribeNamespace, then pollers; the first failure is the problem."""
    from temporalio.api.enums.v1 import NamespaceState
    from temporalio.api.workflowservice.v1 import (
        DescribeNamespaceRequest,
        GetSystemInfoRequest,
    )

    limit = timedelta(seconds=timeout)
    try:
        info = await service.get_system_info(GetSystemInfoRequest(), retry=False, timeout=limit)
        server = f"Temporal {info.server_version or '(version not reported)'}"
        described = await service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), retry=False, timeout=limit)
        state = NamespaceState.Name(described.namespace_info.state)
        state = state.removeprefix("NAMESPACE_STATE_").lower()
        counts, note = await task_queue_pollers(service, namespace, queues, timeout)
    except TemporalError as exc:
        return TemporalHealth(reachable=True, problem=str(exc))
    except Exception as exc:
        error = words(exc, timeout)
        if "not found" in str(error).lower() or type(error).__name__ == "WorkflowNotFound":
            return TemporalHealth(reachable=True, namespace_state="not registered",
                                  problem=f"namespace {namespace} not registered")
        return TemporalHealth(reachable=False, problem=str(error))
    return TemporalHealth(reachable=True, server=server, namespace_state=state, pollers=counts,
                          pollers_note=note)
