"""Temporal protobufs -> the console's plain types (rows, descriptions, history lines).

Kept apart from the client so the readable forms (statuses, failures, history) are unit
tested on real protobuf messages without a server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from console.temporal.types import HistoryLine, PendingActivity, WorkflowRow

MAX_TEXT = 300


def status_word(value: int) -> str:
    """WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW -> continued-as-new."""
    from temporalio.api.enums.v1 import WorkflowExecutionStatus

    name = WorkflowExecutionStatus.Name(value)  # type: ignore[arg-type]
    name = name.removeprefix("WORKFLOW_EXECUTION_STATUS_")
    return name.lower().replace("_", "-")


def status_value(word: str) -> int:
    from temporalio.api.enums.v1 import WorkflowExecutionStatus

    return int(WorkflowExecutionStatus.Value(
        "WORKFLOW_EXECUTION_STATUS_" + word.upper().replace("-", "_")))


def when(ts: Any) -> datetime | None:
    """A protobuf Timestamp in UTC; unset (zero) is None."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=UTC)


def row(info: Any) -> WorkflowRow:
    """A WorkflowExecutionInfo as one list row."""
    return WorkflowRow(
        workflow_id=info.execution.workflow_id,
        run_id=info.execution.run_id,
        type=info.type.name,
        status=status_word(info.status),
        start=when(info.start_time),
        close=when(info.close_time) if info.HasField("close_time") else None,
        task_queue=info.task_queue,
    )


def pending(activity: Any) -> PendingActivity:
    from temporalio.api.enums.v1 import PendingActivityState

    state = PendingActivityState.Name(activity.state).removeprefix("PENDING_ACTIVITY_STATE_")
    failure = activity.last_failure.message if activity.HasField("last_failure") else ""
    return PendingActivity(
        activity_id=activity.activity_id,
        type=activity.activity_type.name,
        state=state.lower().replace("_", "-"),
        attempt=activity.attempt,
        maximum_attempts=activity.maximum_attempts,
        last_failure=clip(failure),
        next_attempt=when(activity.next_attempt_schedule_time)
        if activity.HasField("next_attempt_schedule_time") else None,
    )


def failure_text(failure: Any) -> str:
    """`message (cause: message)` down the cause chain, on one line."""
    parts: list[str] = []
    while failure is not None and (failure.message or parts == []):
        parts.append(failure.message or "(no message)")
        failure = failure.cause if failure.HasField("cause") else None
    return clip(" (cause: ".join(parts) + ")" * (len(parts) - 1))


def clip(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def values_text(values: list[Any]) -> str:
    """Decoded payloads as compact JSON: one value bare, several as an array."""
    value: Any = values[0] if len(values) == 1 else values
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def event_kind(event_type: int) -> str:
    """EVENT_TYPE_ACTIVITY_TASK_SCHEDULED -> ActivityTaskScheduled."""
    from temporalio.api.enums.v1 import EventType

    name = EventType.Name(event_type)  # type: ignore[arg-type]
    name = name.removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def close_text(event: Any, decoded: list[Any] | None) -> tuple[str | None, str | None]:
    """(result JSON, failure words) from a workflow's close event."""
    kind = event_kind(event.event_type)
    attrs = _attributes(event)
    if kind == "WorkflowExecutionCompleted":
        return (values_text(decoded) if decoded else "null"), None
    if kind == "WorkflowExecutionFailed":
        return None, "failed: " + failure_text(attrs.failure)
    if kind == "WorkflowExecutionTerminated":
        who = f" (by {attrs.identity})" if attrs.identity else ""
        return None, f"terminated: {attrs.reason or 'no reason given'}{who}"
    if kind == "WorkflowExecutionCanceled":
        return None, "canceled"
    if kind == "WorkflowExecutionTimedOut":
        return None, "timed out (workflow run or execution timeout)"
    if kind == "WorkflowExecutionContinuedAsNew":
        return None, f"continued as new: run {attrs.new_execution_run_id}"
    return None, None


CLOSE_KINDS = {"WorkflowExecutionCompleted", "WorkflowExecutionFailed",
               "WorkflowExecutionTerminated", "WorkflowExecutionCanceled",
               "WorkflowExecutionTimedOut", "WorkflowExecutionContinuedAsNew"}  # fmt: skip


def history_line(event: Any, decoded: list[Any] | None = None) -> HistoryLine:
    """One event in words; `decoded` are its payloads (input, result, signal input)."""
    kind = event_kind(event.event_type)
    if kind in CLOSE_KINDS:
        result, failure = close_text(event, decoded)
        text = failure or f"result {result}"
    else:
        text = _detail(kind, _attributes(event), decoded)
    return HistoryLine(event.event_id, when(event.event_time), kind, clip(text))


def event_payloads(event: Any) -> Any:
    """The Payloads an event carries worth showing (input, result, signal input), or None."""
    attrs = _attributes(event)
    for name in ("input", "result"):
        if attrs is not None and name in attrs.DESCRIPTOR.fields_by_name and attrs.HasField(name):
            return getattr(attrs, name)
    return None


def _attributes(event: Any) -> Any:
    which = event.WhichOneof("attributes")
    return getattr(event, which) if which else None


def _detail(kind: str, a: Any, decoded: list[Any] | None) -> str:
    data = values_text(decoded) if decoded else ""
    if a is None:
        return ""
    if kind == "WorkflowExecutionStarted":
        return f"{a.workflow_type.name} on {a.task_queue.name}" + (f" input {data}" if data else "")
    if kind == "ActivityTaskScheduled":
        return f"{a.activity_type.name} (id {a.activity_id})" + (f" input {data}" if data else "")
    if kind == "ActivityTaskStarted":
        return f"attempt {a.attempt}" + (f", last failure: {failure_text(a.last_failure)}"
                                         if a.HasField("last_failure") else "")
    if kind == "ActivityTaskCompleted":
        return f"result {data}" if data else "result null"
    if kind in ("ActivityTaskFailed", "WorkflowExecutionFailed", "WorkflowTaskFailed"):
        return failure_text(a.failure)
    if kind == "ActivityTaskTimedOut":
        return failure_text(a.failure)
    if kind == "WorkflowExecutionSignaled":
        who = f" from {a.identity}" if a.identity else ""
        return f"{a.signal_name}{who}" + (f" input {data}" if data else "")
    if kind == "TimerStarted":
        return f"timer {a.timer_id} fires in {a.start_to_fire_timeout.ToTimedelta()}"
    if kind == "WorkflowExecutionCancelRequested":
        return (a.cause or "cancel requested") + (f" by {a.identity}" if a.identity else "")
    return data

