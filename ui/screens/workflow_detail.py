"""One workflow execution: describe, readable history, result or failure; query and act.

Reads run in an exclusive worker group (describe and history together), so a refresh
replaces a slow one instead of piling up. Writes (signal, cancel, terminate) are guided
actions: refused in read-only mode, confirmed first (terminate by typing the workflow id),
journaled, and followed by a refresh so the operator sees their effect.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from actions.base import read_only_refusal
from console.masking import safe_text
from console.temporal.types import HistoryLine, TemporalError, WorkflowDescription
from console.temporal.vextrus_workflows import QUERIES, SIGNALS
from ui.host import host
from ui.screens.workflow_call import Call, WorkflowCallScreen
from ui.widgets.key_footer import KeyFooter
from ui.widgets.sized_table import SizedTable
from ui.widgets.status_style import StatusPalette
from ui.widgets.workflow_facts import WorkflowFacts, facts_text
from ui.widgets.workflow_table import short_time

if TYPE_CHECKING:
    from console.factory import AppContext

BUILTIN_QUERIES = ("__stack_trace",)


class WorkflowDescribed(Message):
    def __init__(self, description: WorkflowDescription, history: list[HistoryLine]) -> None:
        super().__init__()
        self.description = description
        self.history = history


class WorkflowDetailFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class WorkflowAnswered(Message):
    """A query answered or a write finished; `text` is what the output line shows."""

    def __init__(self, text: str, ok: bool, refresh: bool = False) -> None:
        super().__init__()
        self.text = text
        self.ok = ok
        self.refresh = refresh


# A running workflow's facts and history are read again this often while shown.
OPEN_POLL_SECONDS = 3.0


class WorkflowDetailScreen(Screen[None]):
    CSS_PATH = "workflow_detail.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="workflow_detail.back"),
        # One meaning per key across the console: D stops gracefully (a service: stop; a
        # workflow: cancel), ctrl+k kills (a service: SIGKILL; a workflow: terminate).
        Binding("ctrl+r,f5", "refresh", "Refresh", id="workflow_detail.refresh"),
        Binding("Q", "query", "Query", id="workflow_detail.query"),
        Binding("exclamation_mark", "signal", "Signal", id="workflow_detail.signal"),
        Binding("D", "cancel_workflow", "Stop (cancel)", id="workflow_detail.cancel"),
        Binding("ctrl+k", "terminate", "Kill (terminate)", id="workflow_detail.terminate"),
    ]

    def __init__(self, workflow_id: str, run_id: str = "") -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.description: WorkflowDescription | None = None

    @property
    def ctx(self) -> AppContext:
        return host(self).ctx

    def compose(self) -> ComposeResult:
        yield Static(safe_text(f"Workflow · {self.workflow_id}"), id="wfd-title")
        yield WorkflowFacts("loading…", id="wfd-facts")
        yield Static("", id="wfd-output", markup=False)
        table: SizedTable[str | Text] = SizedTable(id="wfd-history", cursor_type="row")
        for label, key in (("#", "id"), ("Time", "time"), ("Event", "kind"),
                           ("Details", "text")):
            table.add_column(label, key=key)
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#wfd-output", Static).display = False
        self.query_one(DataTable).focus()
        self.action_refresh()
        self.set_interval(OPEN_POLL_SECONDS, self._poll)

    # --- reading ----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._load()

    def _poll(self) -> None:
        """A running workflow moves on by itself (a worker took the signal just sent, an
        activity finished): its facts and history follow while the screen is open. A
        closed one does not change; a read still in flight is not doubled."""
        if self.description is not None and not self.description.row.open:
            return
        if any(w.node is self and w.group == "workflow-detail" and w.is_running
               for w in self.workers):
            return
        self._load()

    @work(group="workflow-detail", exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        backend = self.ctx.workflows
        if backend is None:
            self.post_message(WorkflowDetailFailed("no Temporal configured"))
            return
        try:
            description, history = await asyncio.gather(
                backend.describe(self.workflow_id, self.run_id),
                backend.history(self.workflow_id, self.run_id))
        except TemporalError as exc:
            self.post_message(WorkflowDetailFailed(str(exc)))
            return
        self.post_message(WorkflowDescribed(description, history))

    def on_workflow_described(self, message: WorkflowDescribed) -> None:
        d = self.description = message.description
        self.query_one("#wfd-title", Static).update(
            safe_text(f"Workflow · {d.row.type} · {d.row.workflow_id}"))
        palette = StatusPalette.for_app(self.app)
        self.query_one(WorkflowFacts).update(facts_text(d, palette, self.ctx.clock()))
        table = self.query_one(DataTable)
        table.clear()
        now = self.ctx.clock()
        for line in message.history:
            # Workflow-task events are the SDK's bookkeeping: shown, but quietly.
            style = palette.muted if line.kind.startswith("WorkflowTask") else ""
            table.add_row(str(line.event_id), short_time(line.at, now),
                          safe_text(line.kind, 200, style=style), safe_text(line.text, style=style))

    def on_workflow_detail_failed(self, message: WorkflowDetailFailed) -> None:
        self._output(f"cannot read {self.workflow_id}: {message.reason}", ok=False)
        if self.description is None:
            self.query_one(WorkflowFacts).update(safe_text(message.reason, multiline=True))

    def _output(self, text: str, ok: bool) -> None:
        out = self.query_one("#wfd-output", Static)
        out.update(safe_text(text, multiline=True))  # query results and errors: the workflow's
        out.display = True
        out.set_class(not ok, "-failed")

    # --- query ------------------------------------------------------------------------------

    def _type(self) -> str:
        return self.description.row.type if self.description else ""

    def action_query(self) -> None:
        names = (*QUERIES.get(self._type(), ()), *BUILTIN_QUERIES)
        self.app.push_screen(
            WorkflowCallScreen("query", self.workflow_id, names, default=names[0]),
            self._query_entered)

    def _query_entered(self, call: Call | None) -> None:
        if call is not None:
            self._run_query(call)

    @work(group="workflow-query", exclusive=True, exit_on_error=False)
    async def _run_query(self, call: Call) -> None:
        backend = self.ctx.workflows
        assert backend is not None
        try:
            result = await backend.query(self.workflow_id, self.run_id, call.name,
                                         list(call.args))
        except TemporalError as exc:
            self.post_message(WorkflowAnswered(f"query {call.name}: {exc}", ok=False))
            return
        text = json.dumps(result, ensure_ascii=False, sort_keys=True, default=str)
        self.post_message(WorkflowAnswered(f"query {call.name} → {text}", ok=True))

    def on_workflow_answered(self, message: WorkflowAnswered) -> None:
        self._output(message.text, message.ok)
        if message.refresh:
            self.action_refresh()

    # --- writes -----------------------------------------------------------------------------

    def _refused(self, op: str) -> bool:
        if self.ctx.read_only:
            self.notify(read_only_refusal(f"workflow {op}", self.ctx.read_only_reason),
                        severity="warning")
            return True
        return False

    def action_signal(self) -> None:
        if self._refused("signal"):
            return
        names = SIGNALS.get(self._type(), ())
        self.app.push_screen(
            WorkflowCallScreen("signal", self.workflow_id, names,
                               default=names[0] if names else ""),
            partial(self._confirm_write, "signal"))

    def action_cancel_workflow(self) -> None:
        if not self._refused("cancel"):
            self._confirm_write("cancel", Call())

    def action_terminate(self) -> None:
        if self._refused("terminate"):
            return
        self.app.push_screen(WorkflowCallScreen("terminate", self.workflow_id),
                             partial(self._confirm_write, "terminate"))

    def _confirm_write(self, op: str, call: Call | None) -> None:
        """The last question before a write: what exactly will be sent, to which run."""
        from actions.workflows import WorkflowWrite
        from ui.screens.confirm import ConfirmScreen

        backend = self.ctx.workflows
        if call is None or backend is None:
            return
        try:
            write = WorkflowWrite(backend, op, self.workflow_id, self.run_id,  # type: ignore[arg-type]
                                  signal=call.name, args=list(call.args), reason=call.reason)
        except TemporalError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        typed = self.workflow_id if op == "terminate" else None
        self.app.push_screen(
            ConfirmScreen(f"{op.capitalize()} workflow {self.workflow_id}?",
                          [write.describe()], typed=typed),
            partial(self._confirmed, write))

    def _confirmed(self, write: Any, yes: bool | None) -> None:
        if yes:
            self._write(write)

    @work(group="workflow-write", exclusive=False, exit_on_error=False)
    async def _write(self, write: Any) -> None:
        from actions.base import ActionError, CancelToken, execute

        last, ok = "", True
        try:
            async for event in execute(write, CancelToken(), self.ctx.journal,
                                       self.ctx.read_only):
                ok = ok and event.kind != "failed"
                last = event.message
        except ActionError as exc:
            last, ok = str(exc), False
        self.post_message(WorkflowAnswered(last, ok, refresh=True))

    def action_back(self) -> None:
        self.dismiss()
