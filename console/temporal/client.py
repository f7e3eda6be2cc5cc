"""The temporalio implementation of WorkflowsBackend: raw WorkflowService calls, no retries.

Raw calls with `retry=False` and a timeout, rather than the SDK's high-level client, so a
dead server costs one timeout (the panel says why and backs off) instead of the SDK's own
minute of retries. The connection is made on first use and dropped when the server goes
away, so the next call reconnects to a server that came back.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from console.temporal import convert, listing, sdk_runtime
from console.temporal.errors import is_timeout, words
from console.temporal.types import (
    HistoryLine,
    ListFilter,
    TemporalError,
    TemporalHealth,
    TemporalUnavailable,
    Unimplemented,
    WorkflowDescription,
    WorkflowPage,
)

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime

    from console.model import TemporalSettings

HISTORY_LIMIT = 5000  # events; a longer history is cut and says so


def identity() -> str:
    """Who did it, as Temporal records it on signals, cancels and terminations."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"vextrus-console:{user}@{socket.gethostname()}"


class TemporalBackend:
    """One namespace on one Temporal frontend."""

    def __init__(self, address: str, namespace: str, tls: bool = False,
                 api_key_env: str | None = None, timeout: float = 5.0,
                 query_timeout: float = 10.0) -> None:
        self.address = address
        self.namespace = namespace
        self.tls = tls
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.query_timeout = query_timeout
        self._client: Client | None = None
        self._runtime: Runtime | None = None  # ours, dropped in close() (see sdk_runtime)
        self._visibility: bool | None = None  # ListWorkflowExecutions implemented?

    @classmethod
    def from_settings(cls, settings: TemporalSettings) -> TemporalBackend:
        """From `[stack.temporal]`. No I/O here: the console connects on first use."""
        return cls(settings.address, settings.namespace, settings.tls, settings.api_key_env)

    def _api_key(self) -> str | None:
        """Read from its env var at connect time, never stored in a file or shown."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise TemporalError(f"[stack.temporal] api_key_env: ${self.api_key_env} is not set")
        return key

    # --- connection -------------------------------------------------------------------

    async def _connect(self) -> Client:
        if self._client is not None:
            return self._client
        from temporalio.client import Client

        api_key = self._api_key()
        if self._runtime is None:
            self._runtime = sdk_runtime.new_runtime(self)
        try:
            async with asyncio.timeout(self.timeout):
                self._client = await Client.connect(
                    self.address, namespace=self.namespace, tls=self.tls, api_key=api_key,
                    identity=identity(), runtime=self._runtime)
        except Exception as exc:
            raise words(exc, self.timeout) from None
        return self._client

    async def _call(self, rpc: str, request: Any, timeout: float | None = None) -> Any:
        """One WorkflowService call; failures become TemporalError, a dead link is dropped."""
        client = await self._connect()
        limit = timeout or self.timeout
        started = time.monotonic()
        try:
            method = getattr(client.workflow_service, rpc)
            return await method(request, retry=False, timeout=timedelta(seconds=limit))
        except Exception as exc:
            # A call that fails once its deadline has passed ran out of time, whatever the
            # transport called it: at the deadline the SDK's HTTP/2 stream is reset, and a
            # clean-clone run read "temporal cancelled: h2 protocol error" for a query that
            # no worker could answer.
            expired = time.monotonic() - started >= limit and not isinstance(exc, TemporalError)
            error = TemporalUnavailable(f"timed out after {limit:g}s") if expired \
                else words(exc, limit)
            if isinstance(error, TemporalUnavailable) and not (expired or is_timeout(exc)):
                self._client = None
            raise error from None

    async def close(self) -> None:
        """Drop the client and its runtime now, while the loop and interpreter still run.

        The runtime's threads are joined here rather than at interpreter exit, where they
        crash CPython (see console.temporal.sdk_runtime). Using the backend again later
        connects with a new runtime.
        """
        if self._runtime is None and self._client is None:
            return
        self.release_sdk()
        sdk_runtime.collect()

    def release_sdk(self) -> None:
        self._client = None
        self._runtime = None

    def _execution(self, workflow_id: str, run_id: str = "") -> Any:
        from temporalio.api.common.v1 import WorkflowExecution

        return WorkflowExecution(workflow_id=workflow_id, run_id=run_id)

    # --- listing ----------------------------------------------------------------------

    async def list_workflows(
        self, flt: ListFilter, page_size: int = 50, token: str = ""
    ) -> WorkflowPage:
        listing.check_filter(flt)
        fallback_token = token.startswith(("open:", "closed:"))
        if self._visibility is not False and not fallback_token:
            try:
                return await self._list_visibility(flt, page_size, token)
            except Unimplemented:
                self._visibility = False
        if flt.query:
            raise TemporalError("this server has no visibility queries (ListWorkflowExecutions"
                                " is unimplemented): filter by status, type or id instead")
        return await self._list_fallback(flt, page_size, token)

    async def _list_visibility(self, flt: ListFilter, size: int, token: str) -> WorkflowPage:
        from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest

        request = ListWorkflowExecutionsRequest(
            namespace=self.namespace, page_size=size, query=listing.visibility_query(flt),
            next_page_token=bytes.fromhex(token.removeprefix("v:")) if token else b"")
        response = await self._call("list_workflow_executions", request)
        self._visibility = True
        rows = tuple(convert.row(info) for info in response.executions)
        nxt = "v:" + response.next_page_token.hex() if response.next_page_token else ""
        return WorkflowPage(rows, nxt, "visibility")

    async def _list_fallback(self, flt: ListFilter, size: int, token: str) -> WorkflowPage:
        from temporalio.api.workflowservice.v1 import (
            ListClosedWorkflowExecutionsRequest,
            ListOpenWorkflowExecutionsRequest,
        )

        cursor = listing.FallbackCursor.decode(token, flt)
        kind = (ListOpenWorkflowExecutionsRequest if cursor.phase == "open"
                else ListClosedWorkflowExecutionsRequest)
        request = kind(namespace=self.namespace, maximum_page_size=size,
                       next_page_token=cursor.server_token,
                       **listing.server_filter(flt, cursor.phase))  # type: ignore[arg-type]
        response = await self._call(f"list_{cursor.phase}_workflow_executions", request)
        executions = response.executions
        end = min(cursor.skip + size, len(executions))
        rows = tuple(r for r in (convert.row(i) for i in executions[cursor.skip:end])
                     if listing.matches(r, flt))
        nxt = listing.next_cursor(flt, cursor, response.next_page_token, end, len(executions))
        return WorkflowPage(rows, nxt, "open/closed",
                            note="server has no visibility queries: open, then closed lists")

    # --- one workflow -----------------------------------------------------------------

    async def describe(self, workflow_id: str, run_id: str = "") -> WorkflowDescription:
        from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

        response = await self._call("describe_workflow_execution", DescribeWorkflowExecutionRequest(
            namespace=self.namespace, execution=self._execution(workflow_id, run_id)))
        info = response.workflow_execution_info
        row = convert.row(info)
        result = failure = None
        if not row.open:
            result, failure = await self._close(workflow_id, row.run_id)
        parent = info.parent_execution.workflow_id if info.HasField("parent_execution") else ""
        return WorkflowDescription(
            row=row, history_length=info.history_length,
            pending_activities=tuple(convert.pending(a) for a in response.pending_activities),
            result=result, failure=failure, parent=parent)

    async def _close(self, workflow_id: str, run_id: str) -> tuple[str | None, str | None]:
        """Result or failure from the close event (asked for alone; scanned if ignored)."""
        from temporalio.api.enums.v1 import HistoryEventFilterType

        events = await self._events(workflow_id, run_id,
                                    HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
        for event in reversed(events):
            if convert.event_kind(event.event_type) in convert.CLOSE_KINDS:
                return convert.close_text(event, await self._decode(event))
        return None, None

    async def _events(self, workflow_id: str, run_id: str, filter_type: int = 0) -> list[Any]:
        from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest

        events: list[Any] = []
        token = b""
        while len(events) < HISTORY_LIMIT:
            response = await self._call("get_workflow_execution_history",
                                        GetWorkflowExecutionHistoryRequest(
                                            namespace=self.namespace,
                                            execution=self._execution(workflow_id, run_id),
                                            next_page_token=token,
                                            history_event_filter_type=filter_type))  # type: ignore[arg-type]
            events.extend(response.history.events)
            token = response.next_page_token
            if not token:
                break
        return events

    async def _decode(self, event: Any) -> list[Any] | None:
        payloads = convert.event_payloads(event)
        if payloads is None or not payloads.payloads:
            return None
        client = await self._connect()
        try:
            return list(await client.data_converter.decode(payloads.payloads))
        except Exception:
            return [f"<{len(payloads.payloads)} payload(s) this console cannot decode>"]

    async def history(self, workflow_id: str, run_id: str = "") -> list[HistoryLine]:
        events = await self._events(workflow_id, run_id)
        lines = [convert.history_line(e, await self._decode(e)) for e in events]
        if len(events) >= HISTORY_LIMIT:
            lines.append(HistoryLine(0, None, "…", f"cut at {HISTORY_LIMIT} events"))
        return lines

    # --- query and writes ---------------------------------------------------------------

    async def _payloads(self, args: list[Any]) -> Any:
        from temporalio.api.common.v1 import Payloads

        client = await self._connect()
        return Payloads(payloads=await client.data_converter.encode(args)) if args else None

    async def query(self, workflow_id: str, run_id: str, name: str, args: list[Any]) -> Any:
        from temporalio.api.query.v1 import WorkflowQuery
        from temporalio.api.workflowservice.v1 import QueryWorkflowRequest

        query = WorkflowQuery(query_type=name, query_args=await self._payloads(args))
        request = QueryWorkflowRequest(namespace=self.namespace, query=query,
                                       execution=self._execution(workflow_id, run_id))
        try:
            response = await self._call("query_workflow", request, self.query_timeout)
        except TemporalUnavailable as exc:
            if "timed out" not in str(exc):
                raise
            raise TemporalError(await self._no_worker_words(workflow_id, run_id)) from None
        if response.HasField("query_rejected"):
            raise TemporalError(f"query rejected: workflow is "
                                f"{convert.status_word(response.query_rejected.status)}")
        client = await self._connect()
        values = await client.data_converter.decode(response.query_result.payloads)
        return values[0] if len(values) == 1 else (list(values) or None)

    async def _no_worker_words(self, workflow_id: str, run_id: str) -> str:
        """A query times out when no worker polls the workflow's task queue: say so."""
        try:
            queue = (await self.describe(workflow_id, run_id)).row.task_queue
        except TemporalError:
            queue = "?"
        return (f"no worker answered within {self.query_timeout:g}s: is a worker polling task"
                f" queue {queue!r}? (queries run on a worker; start it, or check the service"
                " that hosts it)")

    async def signal(self, workflow_id: str, run_id: str, name: str, args: list[Any]) -> None:
        from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest

        await self._call("signal_workflow_execution", SignalWorkflowExecutionRequest(
            namespace=self.namespace, workflow_execution=self._execution(workflow_id, run_id),
            signal_name=name, input=await self._payloads(args), identity=identity(),
            request_id=str(uuid.uuid4())))

    async def cancel(self, workflow_id: str, run_id: str = "") -> None:
        from temporalio.api.workflowservice.v1 import RequestCancelWorkflowExecutionRequest

        await self._call("request_cancel_workflow_execution", RequestCancelWorkflowExecutionRequest(
            namespace=self.namespace, workflow_execution=self._execution(workflow_id, run_id),
            identity=identity(), request_id=str(uuid.uuid4())))

    async def terminate(self, workflow_id: str, run_id: str, reason: str) -> None:
        from temporalio.api.workflowservice.v1 import TerminateWorkflowExecutionRequest

        await self._call("terminate_workflow_execution", TerminateWorkflowExecutionRequest(
            namespace=self.namespace, workflow_execution=self._execution(workflow_id, run_id),
            reason=reason, identity=identity()))

    # --- health -------------------------------------------------------------------------

    async def health(self, task_queues: tuple[str, ...] = ()) -> TemporalHealth:
        from console.temporal.health import check_health

        try:
            client = await self._connect()
        except TemporalError as exc:
            return TemporalHealth(reachable=False, problem=str(exc))
        return await check_health(client.workflow_service, self.namespace, task_queues,
                                  self.timeout)
