"""The home screen: the live service matrix that replaces the hand-kept Markdown table.

Data flows down: the app's `status` and `link` reactives are mirrored here and bound into
the gauge, the banner and the table. Intent flows up: keys become app calls (open a
screen, request a restart) and never touch the runtime from a handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from actions.readiness.model import Scorecard
from console.masking import safe_text
from console.stats import UsageBoard
from console.status.types import StackStatus
from ui.host import host
from ui.screens.detail import DetailScreen, run_service_op
from ui.verbs import bindings
from ui.widgets.banner import DegradedBanner, LinkState
from ui.widgets.key_footer import KeyFooter
from ui.widgets.readiness import ReadinessGauge
from ui.widgets.service_table import ServiceTable

if TYPE_CHECKING:
    from ui.host import HostApp


class MatrixScreen(Screen[None]):
    """Readiness, degraded banner and the service table, with filter, sort and blast radius."""

    CSS_PATH = "matrix.tcss"
    BINDINGS = [  # the per-service verbs from ui.verbs, in footer and help order
        *bindings("matrix", ["details"], shown=["details"]),
        Binding("slash", "filter", "Filter", id="matrix.filter"),
        *bindings("matrix", ["logs", "restart", "restart_dependents", "pause_restarts",
                             "bringup_one"], shown=["logs", "restart"]),
        Binding("s", "sort", "Sort", id="matrix.sort"),
        *bindings("matrix", ["blast", "describe", "shell", "stop", "kill", "start"],
                  shown=["blast"]),
        Binding("escape", "clear", "Clear filter / blast", id="matrix.clear", show=False),
        *bindings("matrix", ["scale", "delete_pod", "previous_logs", "probe_inside"]),
    ]

    # repaint=False: the screen draws nothing itself; a repaint here redrew every widget on
    # it at each status (the rows that changed repaint themselves, bench/events_to_screen.py).
    status: reactive[StackStatus | None] = reactive(None, repaint=False)
    link: reactive[LinkState] = reactive(LinkState, repaint=False)

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    @property
    def table(self) -> ServiceTable:
        return self.query_one(ServiceTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#matrix-filter", Input)

    def compose(self) -> ComposeResult:
        yield DegradedBanner(clock=self.vextrus.ctx.clock).data_bind(MatrixScreen.link)
        yield ReadinessGauge().data_bind(MatrixScreen.status)
        yield ServiceTable(id="services").data_bind(MatrixScreen.status)
        yield Static(id="matrix-status")
        yield Input(
            placeholder="filter: name, tier, state or issue", id="matrix-filter", compact=True
        )
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "status", self._take_status, init=True)
        self.watch(self.app, "link", self._take_link, init=True)
        self.watch(self.app, "usage", self._take_usage, init=True)
        self.watch(self.app, "checklist", self._take_checklist, init=True)
        self.watch(self.app, "refreshing_by_hand", self._take_refreshing, init=False)
        self.table.focus()

    def _take_checklist(self, card: Scorecard | None) -> None:
        self.query_one(ReadinessGauge).checklist = card

    def _take_status(self, status: StackStatus | None) -> None:
        self.status = status
        self._show_state_line()

    def _take_refreshing(self, _refreshing: bool) -> None:
        self._show_state_line()

    def _take_link(self, link: LinkState) -> None:
        self.link = link

    def _take_usage(self, usage: UsageBoard | None) -> None:
        self.table.usage = usage

    # --- filter -----------------------------------------------------------------------

    def action_filter(self) -> None:
        """Open the filter prompt (k9s `/`), keeping the current query for editing."""
        self.filter_input.value = self.table.filter_text
        self._show_filter(True)
        self.filter_input.focus()

    @property
    def filtering(self) -> bool:
        return bool(self.filter_input.display)

    def _show_filter(self, shown: bool) -> None:
        """The prompt takes the state line's place. Both are one line, so the table keeps
        its size; set on the two widgets, not as a class of the screen: a screen class
        restyles every widget, and the table drew all its cells again (136 ms at 160x48)."""
        self.query_one("#matrix-status").display = not shown
        self.filter_input.display = shown

    def on_input_changed(self, event: Input.Changed) -> None:
        self.table.filter_text = event.value.strip()
        self._show_state_line()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close_filter()

    def action_clear(self) -> None:
        """esc: close and clear the filter, then drop the blast-radius highlight."""
        if self.filtering or self.table.filter_text:
            self.filter_input.value = ""
            self.table.filter_text = ""
            self._close_filter()
        else:
            self.table.blast_source = None
        self._show_state_line()

    def _close_filter(self) -> None:
        self._show_filter(False)
        self.table.focus()

    # --- table actions ----------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_details(self) -> None:
        name = self._selected()
        if name:
            self.app.push_screen(DetailScreen(name))

    def action_logs(self) -> None:
        name = self._selected()
        if name:
            self.vextrus.open_screen("logs", services=[name])

    def action_restart(self, with_dependents: bool = False) -> None:
        name = self._selected()
        if name:
            self.vextrus.request_restart(name, with_dependents)

    def action_pause_restarts(self) -> None:
        name = self._selected()
        if name:
            self.vextrus.request_pause_restarts(name)

    def action_bringup_one(self) -> None:
        name = self._selected()
        if name:
            self.vextrus.request_bringup(only=name)

    def action_cluster(self, verb: str) -> None:
        name = self._selected()
        if name:
            self.vextrus.request_cluster(verb, name)

    def action_service_op(self, verb: str) -> None:
        """describe, shell, stop, kill, start of the service under the cursor."""
        name = self._selected()
        if name:
            run_service_op(self.vextrus, verb, name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.vextrus.on_cluster if action == "cluster" else True

    def action_sort(self) -> None:
        self.table.cycle_sort()
        self._show_state_line()

    def action_blast(self) -> None:
        """Toggle highlighting everything that breaks when the selected service fails."""
        table = self.table
        if table.blast_source is not None:
            table.blast_source = None
        elif (name := self._selected()) and self.status is not None:
            if self.status.get(name).blast_radius:
                table.blast_source = name
            else:
                self.notify(f"{name}: no blast radius (nothing fails because of it)")
        self._show_state_line()

    def _selected(self) -> str | None:
        name = self.table.selected_service
        if name is None:
            self.notify("select a service row first", severity="warning")
        return name

    def _show_state_line(self) -> None:
        """`sort: tier · filter "kafka": 4 of 37 · blast radius of kafka: 12`."""
        table, status = self.table, self.status
        parts = [f"sort: {table.sort_mode}"]
        if self.vextrus.refreshing_by_hand:
            parts.append("refreshing…")
        if status is not None and table.filter_text:
            shown = len(table.service_keys)
            parts.append(f'filter "{table.filter_text}": {shown} of {status.total}')
        if status is not None and table.blast_source:
            radius = len(status.get(table.blast_source).blast_radius)
            parts.append(f"blast radius of {table.blast_source}: {radius} (esc clears)")
        # The filter is what the operator typed (`[` included): plain text, never markup.
        # One line by the stylesheet: a new text never needs a layout of the screen.
        self.query_one("#matrix-status", Static).update(safe_text(" · ".join(parts)),
                                                        layout=False)
