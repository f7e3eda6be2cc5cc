"""Temporal probe: connect with the SDK, ask GetSystemInfo, DescribeNamespace, then pollers.

Temporal's frontend accepts gRPC long before its namespace exists, and the Vextrus
workflows fail with "namespace not found" rather than with a connection error, so a
configured namespace is described too. With `task_queues`, DescribeTaskQueue counts the
workers polling each (a server without it says so: "pollers: unknown"); no pollers is
shown, not failed, since the worker is another service's health. temporalio is imported
lazily (and off the event loop): it costs ~0.4 s, which the console's cold start must not
pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, error_words, failed, guarded, hostport, preload

if TYPE_CHECKING:
    from console.runtime.base import Runtime

DEFAULT_NAMESPACE = "default"


class TemporalProbe:
    """ok when the frontend answers GetSystemInfo and the configured namespace is registered."""

    kind = "temporal"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """Connect (which already round-trips once), ask again for the details, describe."""
        if check.port is None:
            return failed(check, "no port configured")
        await preload("temporalio.client")
        address = hostport(check.host, check.port)

        async def body() -> Outcome:
            try:
                return await _ask(address, check.namespace, check.task_queues, check.timeout)
            except Exception as exc:
                return Outcome(False, error=temporal_error_words(exc, check))

        return await guarded(check, body)


async def _ask(
    address: str, namespace: str | None, task_queues: tuple[str, ...] = (), timeout: float = 2.0
) -> Outcome:
    from temporalio.api.workflowservice.v1 import (
        DescribeNamespaceRequest,
        GetSystemInfoRequest,
    )
    from temporalio.client import Client

    from console.temporal import sdk_runtime

    client = await Client.connect(address, namespace=namespace or DEFAULT_NAMESPACE,
                                  runtime=sdk_runtime.shared())
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    parts = [_server_text(info)]
    if namespace:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
        state = _namespace_state(described)
        if state != "registered":
            return Outcome(False, output="; ".join(parts), error=f"namespace {namespace} {state}")
        parts.append(f"namespace {namespace} registered")
    if namespace and task_queues:
        from console.temporal.health import pollers_text, task_queue_pollers
        from console.temporal.types import TemporalError

        try:
            counts, note = await task_queue_pollers(
                client.workflow_service, namespace, task_queues, timeout)
            parts.append(pollers_text(counts, note))
        except TemporalError as exc:
            parts.append(f"pollers: unknown ({exc})")
    return Outcome(True, output="; ".join(parts))


def temporal_error_words(exc: Exception, check: HealthCheck) -> str:
    """gRPC statuses in words; NotFound on the namespace is the classic bring-up fault."""
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND and check.namespace:
            return f"namespace {check.namespace} not registered"
        if exc.status == RPCStatusCode.UNAUTHENTICATED:
            return f"authentication failed: {exc.message}"
        if exc.status == RPCStatusCode.PERMISSION_DENIED:
            return f"permission denied: {exc.message}"
        return f"temporal {exc.status.name.lower()}: {exc.message}"
    return error_words(exc, check.timeout)


def _server_text(info: Any) -> str:
    """`Temporal 1.24.2; capabilities: a, b` from a GetSystemInfoResponse."""
    version = info.server_version or "(version not reported)"
    enabled = [field.name for field, value in info.capabilities.ListFields() if value is True]
    text = f"Temporal {version}"
    if enabled:
        text += "; capabilities: " + ", ".join(enabled)
    return text


def _namespace_state(described: Any) -> str:
    """`registered`, `deprecated`, `deleted` from NAMESPACE_STATE_* enum values."""
    from temporalio.api.enums.v1 import NamespaceState

    name = NamespaceState.Name(described.namespace_info.state)
    return name.removeprefix("NAMESPACE_STATE_").lower()
