"""Timeline screen: what happened to the stack, from the journal, oldest first.

Status transitions, runtime events and guided actions in one table, so an on-call operator
can see what changed before an incident; `x` turns it into a Markdown report for the ticket.
The journal is SQLite, so reading and exporting run in thread workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from console.masking import safe_text, sanitize
from console.timeline_export import (
    KIND_MARKS,
    EntryLike,
    entry_summary,
    export_markdown,
    save_export,
)
from ui.app_hooks import release_app_hooks
from ui.host import host
from ui.widgets.key_footer import KeyFooter
from ui.widgets.sized_table import SizedTable

if TYPE_CHECKING:
    from console.status.types import StackStatus

LIMIT = 500
SAME_DAY = "%H:%M:%S"
EMPTY_TEXT = (
    "Nothing recorded yet.\n\n"
    "Status transitions, runtime events and guided actions appear here as they happen,\n"
    "and stay across restarts of the console."
)


class TimelineScreen(Screen[None]):
    """The journal's newest entries in time order, exportable as Markdown."""

    CSS_PATH = "timeline.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back", id="timeline.back"),
        Binding("ctrl+s", "export", "Save (Markdown)", id="timeline.export"),
        Binding("j", "cursor('down')", "Down", show=False, id="timeline.down"),
        Binding("k", "cursor('up')", "Up", show=False, id="timeline.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[EntryLike] = []
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Static("Timeline", id="timeline-title", markup=False)
        table: SizedTable[str | Text] = SizedTable(id="timeline-table", cursor_type="row")
        table.add_column("Time", key="time")
        table.add_column("Kind", key="kind")
        table.add_column("Service", key="service")
        table.add_column("What happened", key="text")
        yield table
        yield Static(EMPTY_TEXT, id="timeline-empty", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.watch(self.app, "status", self._status_changed, init=False)
        self.reload()

    def on_unmount(self) -> None:
        release_app_hooks(self)

    def _status_changed(self, status: StackStatus | None) -> None:
        self.reload()  # the monitor journals transitions on each refresh

    @work(thread=True, exclusive=True, group="timeline-load", exit_on_error=False)
    def reload(self) -> None:
        """Read the journal off the event loop; the table fills on the main thread."""
        journal = host(self).ctx.journal
        if journal is None:
            self.app.call_from_thread(self._show, [], "No journal: nothing is being recorded.")
            return
        try:
            entries = journal.timeline(limit=LIMIT)
        except Exception as exc:  # a broken journal is shown, not raised into the app
            self.app.call_from_thread(self._show, [], f"The journal cannot be read: {exc}")
            return
        self.app.call_from_thread(self._show, entries, None)

    def _show(self, entries: list[EntryLike], problem: str | None) -> None:
        table = self.query_one(DataTable)
        at_end = not self._loaded or table.cursor_row >= table.row_count - 1
        self.entries = list(entries)
        self._loaded = True
        table.clear()
        time_format = _time_format(self.entries)
        for entry in self.entries:
            table.add_row(*_row(entry, time_format))
        empty = not self.entries
        self.set_class(empty, "-empty")
        if problem:
            self.query_one("#timeline-empty", Static).update(problem)
        title = f"Timeline · {len(self.entries)} entries, oldest first"
        if self.entries and time_format == SAME_DAY:
            title += f" · {self.entries[0].at:%Y-%m-%d}"
        if len(self.entries) >= LIMIT:
            title += f" (newest {LIMIT})"
        self.query_one("#timeline-title", Static).update("Timeline" if empty else title)
        if at_end and self.entries:
            table.move_cursor(row=len(self.entries) - 1, animate=False)

    def action_back(self) -> None:
        self.dismiss()

    def action_cursor(self, direction: str) -> None:
        table = self.query_one(DataTable)
        table.action_cursor_down() if direction == "down" else table.action_cursor_up()

    def action_export(self) -> None:
        """x: write the timeline as Markdown (cwd, else the state dir) and show the path."""
        ctx = host(self).ctx
        now = ctx.clock()
        text = export_markdown(self.entries, stack=ctx.stack.name, generated=now)
        filename = f"vextrus-timeline-{now.strftime('%Y%m%d-%H%M%S')}.md"
        self.run_worker(
            lambda: _export(filename, text, len(self.entries), self.app),
            thread=True,
            group="timeline-export",
            exit_on_error=False,
        )


def _export(filename: str, text: str, count: int, app: App[object]) -> None:
    try:
        path = save_export(filename, text)
    except OSError as exc:
        app.call_from_thread(app.notify, f"Could not export: {exc}", severity="error")
        return
    app.call_from_thread(
        app.notify, f"Exported {count} entries to {path}", title="Timeline", markup=False
    )


def _time_format(entries: list[EntryLike]) -> str:
    """Times only when everything happened on one day (the title names it), else dates too.

    Keeps the narrow 80-column table for what happened rather than repeated dates.
    """
    days = {entry.at.date() for entry in entries}
    return SAME_DAY if len(days) <= 1 else "%m-%d %H:%M:%S"


def _row(entry: EntryLike, time_format: str) -> tuple[str | Text, ...]:
    mark = KIND_MARKS.get(entry.kind, " ")
    kind = Text(f"{mark} {entry.kind}", style="bold" if entry.kind == "action" else "")
    summary = sanitize(entry_summary(entry), 1000)  # one masked line, whatever was stored
    # The target may be a workflow id: a str cell would be parsed as markup.
    return (entry.at.strftime(time_format), kind, safe_text(entry.service, 200), Text(summary))
