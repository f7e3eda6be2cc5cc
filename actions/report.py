"""The seeds' tracking document, regenerated from live data instead of kept by hand.

Seed 002 is a Markdown file with a status matrix, a readiness figure, a list of issues and
what was done about them. `build_report` writes the same document from one refresh and the
journal: matrix, readiness, root causes with their blast radius, recent actions and start-up
times. Everything passes through the untrusted-text boundary (`safe_str`): a pasted report
leaks no secret and carries no terminal escape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from console.export import status_to_markdown
from console.journal import TimelineEntry
from console.masking import LINE_LIMIT, safe_str
from console.status.types import StackStatus


def build_report(
    status: StackStatus,
    actions: Sequence[TimelineEntry],
    startup_times: Mapping[str, float],
    generated_at: datetime,
) -> str:
    """The whole document; pure, so a test can pin its every line."""
    parts = [
        f"# {safe_str(status.stack_name).title()} stack report",
        "",
        f"Generated: {generated_at:%Y-%m-%d %H:%M:%S %Z}".rstrip()
        + f" · runtime {status.runtime_name}",
        "",
    ]
    if status.runtime_error:
        parts += [f"> Runtime unreachable: {safe_str(status.runtime_error)}", ""]
    parts += ["## Current Service Status Matrix", "", status_to_markdown(status).rstrip(), ""]
    parts += _issues(status)
    parts += _actions(actions)
    parts += _startup(startup_times)
    # Cells are bounded on their own; the last pass must not cut a table row in two.
    return safe_str("\n".join(parts).rstrip() + "\n", 10 * LINE_LIMIT, multiline=True)


def _issues(status: StackStatus) -> list[str]:
    lines = ["## Root causes", ""]
    roots = status.root_causes()
    if not roots:
        lines.append("None: every failing service is blocked by another, or all are fine."
                     if status.operational < status.total else "None: all operational.")
    for s in roots:
        radius = ", ".join(s.blast_radius) if s.blast_radius else "nothing else"
        issues = safe_str("; ".join(s.issues) or s.state.value)
        lines.append(f"- **{safe_str(s.name)}**: {issues} (blast radius: {safe_str(radius)})")
    blocked = [s for s in status.services if s.blocked_by]
    if blocked:
        lines += ["", "## Blocked", ""]
        lines += [safe_str(f"- {s.name}: blocked by {' <- '.join(s.blocked_by)}") for s in blocked]
    return [*lines, ""]


def _actions(actions: Sequence[TimelineEntry]) -> list[str]:
    lines = ["## Recent actions", ""]
    if not actions:
        return [*lines, "None recorded.", ""]
    lines += ["| When | Target | What |", "|------|--------|------|"]
    for entry in actions:
        text, target = (safe_str(t).replace("|", "\\|") for t in (entry.text, entry.service))
        lines.append(f"| {entry.at:%Y-%m-%d %H:%M:%S} | {target} | {text} |")
    return [*lines, ""]


def _startup(times: Mapping[str, float]) -> list[str]:
    lines = ["## Start-up times", ""]
    if not times:
        return [*lines, "None recorded (run `vextrus-console bringup`).", ""]
    lines += ["| Service | Seconds to healthy |", "|---------|-------------------:|"]
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        cell = safe_str(name).replace("|", "\\|")
        lines.append(f"| {cell} | {seconds:.1f} |")
    return [*lines, ""]
