"""The `status` command's human-readable table (Rich, no Textual).

Every cell is a Rich `Text` made by the untrusted-text boundary (`safe_text`): a service
name, a health body or a Docker healthcheck's output is shown literally, never parsed as
markup (`[/oops]` used to crash the command) and never reaches the terminal as an escape.
"""

from __future__ import annotations

import io
import shutil

from rich.console import Console
from rich.table import Table
from rich.text import Text

from console.export import fmt_bool, fmt_duration, fmt_latency
from console.masking import safe_text
from console.status.types import StackStatus, State

_STYLE = {
    State.OPERATIONAL: "green",
    State.DEGRADED: "yellow",
    State.STARTING: "yellow",
    State.BLOCKED: "yellow",
    State.NOT_STARTED: "dim",
    State.UNKNOWN: "dim",
}


def render_status_table(status: StackStatus, color: bool = False, width: int | None = None) -> str:
    """Render the snapshot as a table grouped by tier, with readiness on top."""
    width = width or shutil.get_terminal_size((160, 40)).columns
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system="standard" if color else None,
                      no_color=not color, highlight=False, emoji=False)
    if status.runtime_error:
        console.print(safe_text(f"! {status.runtime_error}", style="bold red"))
    console.print(Text(status.readiness_text, style="bold"))
    console.print(_table(status))
    roots = status.root_causes()
    if roots:
        console.print(safe_text("Root causes: " + ", ".join(
            f"{r.name} (blast radius {len(r.blast_radius)})" for r in roots)))
    return buf.getvalue()


def _table(status: StackStatus) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("Service", "State", "Health", "Port", "Host", "Inside", "Deps", "Restarts",
                "Uptime", "Latency", "Issues"):
        table.add_column(col, overflow="fold" if col == "Issues" else "ellipsis",
                         no_wrap=col != "Issues")
    for tier in status.tiers or sorted({s.tier for s in status.services}):
        members = [s for s in status.services if s.tier == tier]
        if not members:
            continue
        table.add_row(safe_text(tier.upper(), style="bold"))
        for s in members:
            mark = "◆ " if s.root_cause else "  "
            table.add_row(
                safe_text(mark + s.name),
                Text(s.state.value, style=_STYLE.get(s.state, "red")),
                safe_text(s.health),
                *(Text(cell) for cell in (
                    ",".join(str(p) for p in s.ports) or "-",
                    fmt_bool(s.reachable_host),
                    fmt_bool(s.reachable_inside),
                    "ok" if s.deps_met else "NO",
                    str(s.restart_count),
                    fmt_duration(s.uptime_s),
                    fmt_latency(s.latency_ms),
                )),
                safe_text("; ".join(s.issues)),
            )
    return table
