"""One workflow execution in words: what it is, where it stands, what it is stuck on.

Pending activities come first after the status because a stuck workflow is almost always
an activity retrying against a dead service: its attempt count and last failure are the
evidence on-call needs.
"""

from __future__ import annotations

from datetime import datetime

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from console.masking import safe_text
from console.temporal.types import WorkflowDescription
from ui.widgets.status_style import StatusPalette, Tone
from ui.widgets.workflow_table import short_time, status_text


def facts_text(d: WorkflowDescription, palette: StatusPalette,
               now: datetime | None = None) -> Table:
    """Label/value rows (values wrap in their own column); the outcome last.

    Every value is a `Text` from the untrusted-text boundary: ids, types, failures and results
    come from the workflow, never markup, escape-free, masked.
    """
    row = d.row
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True, min_width=13)
    grid.add_column(ratio=1)
    grid.add_row("Status", status_text(row.status, palette))
    grid.add_row("Type", safe_text(row.type))
    grid.add_row("Run ID", safe_text(row.run_id))
    grid.add_row("Task queue", safe_text(row.task_queue or "—"))
    grid.add_row("Started", short_time(row.start, now))
    grid.add_row("Closed", short_time(row.close, now))
    grid.add_row("History", f"{d.history_length} events")
    if d.parent:
        grid.add_row("Parent", safe_text(d.parent))
    for a in d.pending_activities:
        limit = a.maximum_attempts or "unlimited"
        tone: Tone = "warn" if a.attempt > 1 else "info"
        grid.add_row("Pending", safe_text(f"{a.type} ({a.state}) attempt {a.attempt} of {limit}",
                                          style=palette.tone(tone)))
        if a.last_failure:
            grid.add_row("Last failure", _said(a.last_failure, palette.tone("bad")))
    if d.result is not None:
        grid.add_row("Result", _said(d.result, palette.tone("ok")))
    if d.failure:
        grid.add_row("Outcome", _said(d.failure, palette.tone("bad")))
    return grid


def _said(text: str, style: Style) -> Text:
    """What the workflow said (a failure, a result): several lines kept, each bounded."""
    return safe_text(text, style=style, multiline=True)


class WorkflowFacts(Static):
    """The describe panel of the detail screen."""

    DEFAULT_CSS = """
    WorkflowFacts {
        height: auto;
        max-height: 14;
        padding: 0 1;
        overflow-y: auto;
    }
    """
