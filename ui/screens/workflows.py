"""Workflows screen: the namespace's executions, filtered and paged, kept fresh.

One refresh at a time (an exclusive worker group, and the poll skips while one runs). When
Temporal cannot be reached the panel says why and retries with backoff (2 s, 4 s, ... 30 s)
while the rest of the console carries on; the last good list stays on screen, marked stale.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from console.masking import safe_text
from console.temporal.filter_text import format_filter, parse_filter
from console.temporal.types import STATUSES, ListFilter, TemporalError, WorkflowPage
from ui.host import host
from ui.widgets.key_footer import KeyFooter
from ui.widgets.status_style import StatusPalette
from ui.widgets.workflow_table import WorkflowTable

if TYPE_CHECKING:
    from console.factory import AppContext

POLL_SECONDS = 10.0
RETRY_FIRST, RETRY_MAX = 2.0, 30.0
PAGE_SIZE = 50
NO_TEMPORAL = "This stack has no [stack.temporal] table: there is no Temporal to show."


def retry_delay(failures: int, first: float = RETRY_FIRST, cap: float = RETRY_MAX) -> float:
    """Backoff after `failures` failed refreshes in a row: first, 2x, 4x, ... up to cap."""
    return min(cap, first * 2 ** max(failures - 1, 0))


class WorkflowsRefreshed(Message):
    def __init__(self, page: WorkflowPage) -> None:
        super().__init__()
        self.page = page


class WorkflowsFailed(Message):
    def __init__(self, reason: str, reachable: bool) -> None:
        super().__init__()
        self.reason = reason
        self.reachable = reachable  # False: unreachable (retry with backoff)


# 1-7 pick a status (1 running, 2 completed, 3 failed...), 0 shows all; the footer shows one
# entry for the lot, the help overlay each of them.
STATUS_KEYS = [
    Binding("0", "status(0)", "Status: all", show=False, id="workflows.status.all"),
    *(Binding(str(i), f"status({i})", "Status filter" if i == 1 else f"Status: {name}",
              show=i == 1, key_display="0-7" if i == 1 else None, id=f"workflows.status.{name}")
      for i, name in enumerate(STATUSES, start=1)),
]


class WorkflowsScreen(Screen[None]):
    """Temporal executions of the stack's namespace."""

    CSS_PATH = "workflows.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="workflows.back"),
        Binding("enter", "open", "Details", id="workflows.open"),
        Binding("slash", "filter", "Filter", id="workflows.filter"),
        # Digits are quick filters everywhere (logs: levels; here: statuses); the same digit
        # again shows all. `r` restarts services elsewhere, so refresh is ctrl+r as on the app.
        *STATUS_KEYS,
        Binding("ctrl+r,f5", "refresh", "Refresh", id="workflows.refresh"),
        Binding("right_square_bracket", "next_page", "Next page", id="workflows.next_page"),
        Binding("left_square_bracket", "previous_page", "Previous page",
                id="workflows.previous_page"),
    ]

    monotonic = staticmethod(time.monotonic)  # the backoff's clock (snapshots freeze it)
    retry_first = RETRY_FIRST
    retry_max = RETRY_MAX
    poll_seconds = POLL_SECONDS

    def __init__(self, flt: ListFilter | None = None) -> None:
        super().__init__()
        self.filter = flt or ListFilter()
        self.page: WorkflowPage | None = None
        self.problem = ""
        self._tokens: list[str] = [""]  # page tokens: where each page we visited started
        self._busy = False
        self._failures = 0
        self._retry_at: float | None = None  # time.monotonic() of the next attempt

    @property
    def ctx(self) -> AppContext:
        return host(self).ctx

    def compose(self) -> ComposeResult:
        yield Static("Workflows", id="wf-title", markup=False)
        yield Static("", id="wf-problem", markup=False)
        yield Static("", id="wf-note", markup=False)
        if self.ctx.workflows is not None:  # else the reason only: nothing to move over
            yield WorkflowTable(id="wf-table")
            yield Input(placeholder="status:running type:InvoiceApproval id:po-… q:query",
                        id="wf-filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        if self.ctx.workflows is None:
            self._show_problem(NO_TEMPORAL)
            return
        self.query_one(WorkflowTable).focus()
        self.set_interval(self.poll_seconds, self._poll)
        self.set_interval(1.0, self._tick)
        self.refresh_list()

    # --- refreshing -----------------------------------------------------------------------

    def refresh_list(self) -> None:
        if self.ctx.workflows is None:
            return
        self._busy = True
        self._title()
        self._load(self.filter, self._tokens[-1])

    @work(group="workflows-refresh", exclusive=True, exit_on_error=False)
    async def _load(self, flt: ListFilter, token: str) -> None:
        backend = self.ctx.workflows
        assert backend is not None
        try:
            page = await backend.list_workflows(flt, PAGE_SIZE, token)
        except TemporalError as exc:
            from console.temporal.types import TemporalUnavailable

            self.post_message(WorkflowsFailed(str(exc), not isinstance(exc, TemporalUnavailable)))
            return
        self.post_message(WorkflowsRefreshed(page))

    def _poll(self) -> None:
        """The timer: never overlaps a running refresh, and waits out the backoff."""
        if self._busy or (self._retry_at is not None and self.monotonic() < self._retry_at):
            return
        self.refresh_list()

    def _tick(self) -> None:
        if self._retry_at is not None:
            self._show_problem(self.problem)  # the countdown

    def on_workflows_refreshed(self, message: WorkflowsRefreshed) -> None:
        self._busy = False
        self._failures = 0
        self._retry_at = None
        self.page = message.page
        self.problem = ""
        self.set_class(False, "-problem")
        self.set_class(False, "-stale")
        self.query_one(WorkflowTable).show(message.page.rows, StatusPalette.for_app(self.app),
                                          self.ctx.clock())
        note = self.query_one("#wf-note", Static)
        note.update(safe_text(message.page.note))
        note.display = bool(message.page.note)
        self._title()

    def on_workflows_failed(self, message: WorkflowsFailed) -> None:
        self._busy = False
        if message.reachable:  # the server answered "no" (bad query): no point retrying soon
            self._retry_at = None
            self._show_problem(message.reason)
            return
        self._failures += 1
        delay = retry_delay(self._failures, self.retry_first, self.retry_max)
        self._retry_at = self.monotonic() + delay
        self._show_problem(message.reason)

    def _show_problem(self, reason: str) -> None:
        self.problem = reason
        text = reason
        backend = self.ctx.workflows
        if backend is not None and self._retry_at is not None:
            wait = max(0, math.ceil(self._retry_at - self.monotonic()))
            text = f"Temporal at {backend.address} unreachable: {reason} · retrying in {wait}s"
        self.query_one("#wf-problem", Static).update(safe_text(text))
        self.set_class(True, "-problem")
        self.set_class(self.page is not None, "-stale")
        self._title()

    def _title(self) -> None:
        backend = self.ctx.workflows
        if backend is None:
            return
        parts = [f"Workflows · {backend.namespace} @ {backend.address}"]
        if self.page is not None:
            parts.append(f"{len(self.page.rows)} shown, page {len(self._tokens)}"
                         + (" (more: ])" if self.page.next_token else ""))
        parts.append(f"filter: {self.filter.describe()}")
        if self._busy:
            parts.append("refreshing…")
        elif self.problem and self.page is not None:
            parts.append("stale")
        self.query_one("#wf-title", Static).update(safe_text(" · ".join(parts)))

    # --- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A stack without Temporal has no list to filter, page or open: only `esc` is
        offered (the others would be keys that answer nothing)."""
        return self.ctx.workflows is not None or action == "back"

    def action_back(self) -> None:
        if self.has_class("-filtering"):
            self._close_filter()
            return
        self.dismiss()

    def action_refresh(self) -> None:
        self._retry_at = None
        self.refresh_list()

    def action_open(self) -> None:
        row = self.query_one(WorkflowTable).selected()
        if row is None:
            return
        from ui.screens.workflow_detail import WorkflowDetailScreen

        self.app.push_screen(WorkflowDetailScreen(row.workflow_id, row.run_id))

    @on(WorkflowTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    def action_status(self, index: int) -> None:
        """1-7: only workflows in that status (running, completed, failed...); the same digit
        again, or 0, shows all: the quickest triage filter."""
        chosen = STATUSES[index - 1] if 1 <= index <= len(STATUSES) else None
        status = None if chosen == self.filter.status else chosen
        self._apply(ListFilter(status=status, type=self.filter.type,
                               workflow_id=self.filter.workflow_id, query=self.filter.query))

    def action_next_page(self) -> None:
        if self.page is not None and self.page.next_token:
            self._tokens.append(self.page.next_token)
            self.refresh_list()

    def action_previous_page(self) -> None:
        if len(self._tokens) > 1:
            self._tokens.pop()
            self.refresh_list()

    def action_filter(self) -> None:
        field = self.query_one("#wf-filter", Input)
        field.value = format_filter(self.filter)
        self.set_class(True, "-filtering")
        field.focus()

    @on(Input.Submitted, "#wf-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            flt = parse_filter(event.value)
        except TemporalError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self._close_filter()
        self._apply(flt)

    def _close_filter(self) -> None:
        self.set_class(False, "-filtering")
        self.query_one(WorkflowTable).focus()

    def _apply(self, flt: ListFilter) -> None:
        self.filter = flt
        self._tokens = [""]
        self._retry_at = None
        self.refresh_list()
