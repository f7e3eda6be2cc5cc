"""The workflows list: status (glyph + word), type, id, run id, start, close, task queue.

Statuses get tones like services do, so a failed workflow reads as bad in any theme and,
through its glyph, without colour. Row keys are `workflow_id/run_id`. Every cell is a Rich
`Text` from the untrusted-text boundary: a workflow id or type with `[/oops]` in it is shown
literally (a str cell would be parsed as markup and crash the screen).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual.binding import Binding

from console.masking import safe_text
from console.temporal.types import WorkflowRow
from ui.widgets.sized_table import SizedTable
from ui.widgets.status_style import StatusPalette, Tone

STATUS_TONES: dict[str, Tone] = {
    "running": "info", "completed": "ok", "failed": "bad", "timed-out": "bad",
    "terminated": "warn", "canceled": "muted", "continued-as-new": "muted",
}  # fmt: skip
_GLYPHS: dict[str, str] = {
    "running": "▶", "completed": "●", "failed": "✘", "timed-out": "✘",
    "terminated": "■", "canceled": "○", "continued-as-new": "↻",
}  # fmt: skip
COLUMNS = (("Status", "status"), ("Type", "type"), ("Workflow ID", "id"), ("Run", "run"),
           ("Start", "start"), ("Close", "close"), ("Task queue", "queue"))  # fmt: skip


def status_text(status: str, palette: StatusPalette) -> Text:
    """`✘ failed` in the tone of its status."""
    tone = STATUS_TONES.get(status, "muted")
    return safe_text(f"{_GLYPHS.get(status, '·')} {status}", 100, style=palette.tone(tone))


def short_time(at: datetime | None, now: datetime | None = None) -> str:
    """`10:42:07` on the day of `now`, `09-24 18:03` before it: narrow enough for 80 columns."""
    if at is None:
        return "—"
    if now is not None and at.date() == now.date():
        return at.strftime("%H:%M:%S")
    return at.strftime("%m-%d %H:%M")


def row_key(row: WorkflowRow) -> str:
    return f"{row.workflow_id}/{row.run_id}"


class WorkflowTable(SizedTable[str | Text]):
    """One page of workflow executions; the cursor stays on the same execution on refresh."""

    BINDINGS = [  # j/k wherever lists move
        Binding("j", "cursor_down", "Down", show=False, id="workflow_table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="workflow_table.up"),
    ]

    DEFAULT_CSS = """
    WorkflowTable {
        height: 1fr;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.rows_shown: list[WorkflowRow] = []

    def on_mount(self) -> None:
        for label, key in COLUMNS:
            self.add_column(label, key=key)

    def show(self, rows: Sequence[WorkflowRow], palette: StatusPalette,
             now: datetime | None = None) -> None:
        selected = self.selected()
        self.clear()
        self.rows_shown = list(rows)
        for row in rows:
            self.add_row(
                status_text(row.status, palette),
                *(safe_text(cell, 300) for cell in (
                    row.type, row.workflow_id, row.run_id[:8], short_time(row.start, now),
                    short_time(row.close, now), row.task_queue or "—")),
                key=row_key(row),
            )
        if selected is not None and selected in self.rows_shown:
            self.move_cursor(row=self.rows_shown.index(selected), animate=False)

    def selected(self) -> WorkflowRow | None:
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]
