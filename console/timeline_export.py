"""The journal's timeline as a Markdown report, and where exported files are written.

Headless so the CLI and runbooks can produce the same report the TUI's timeline exports.
Every cell is masked again on the way out, whatever the journal already did: a report is
pasted into tickets and chats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from console.fileio import write_text_atomic
from console.masking import safe_str

# operator: a (re)start the console was asked for (it never counts toward a restart loop)
KIND_MARKS = {"transition": "→", "event": "•", "action": "▸", "operator": "↻"}


class EntryLike(Protocol):
    """What a journal TimelineEntry provides (old/new state are optional)."""

    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def text(self) -> str: ...


def entry_summary(entry: EntryLike) -> str:
    """What happened in words: a transition shows `old → new` before its detail."""
    old = getattr(entry, "old_state", "") or ""
    new = getattr(entry, "new_state", "") or ""
    text = entry.text.replace("\n", " ").strip()
    if entry.kind == "transition" and new:
        change = f"{old or 'new'} → {new}"
        return f"{change}: {text}" if text and text != new else change
    return text


def format_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _cell(text: str) -> str:
    """One safe line (the untrusted-text boundary), pipes escaped so the row holds."""
    return safe_str(text).replace("\\", "\\\\").replace("|", "\\|")


def export_markdown(
    entries: Sequence[EntryLike], stack: str = "vextrus", generated: datetime | None = None
) -> str:
    """A Markdown report: heading, counts by kind, then one table row per entry, oldest first."""
    lines = [f"# Timeline: {safe_str(stack)}", ""]
    if generated is not None:
        lines += [f"Generated {format_time(generated)} ({generated.tzname() or 'local'}).", ""]
    if not entries:
        return "\n".join([*lines, "Nothing recorded yet.", ""])
    counts = _counts(entries)
    span = f"from {format_time(entries[0].at)} to {format_time(entries[-1].at)}"
    lines += [
        f"{len(entries)} entries {span}: " + ", ".join(f"{n} {k}" for k, n in counts.items()),
        "",
        "| Time | Kind | Service | What happened |",
        "| --- | --- | --- | --- |",
    ]
    for entry in entries:
        cells = (format_time(entry.at), entry.kind, entry.service, entry_summary(entry))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _counts(entries: Iterable[EntryLike]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
    return counts


# --- where exports go ----------------------------------------------------------------------


def export_dirs() -> list[Path]:
    """The operator's working directory first, then the console's state dir."""
    dirs = [Path.cwd()]
    try:
        from console.journal import default_state_dir
    except ImportError:  # the journal cannot load: the working directory must do
        return dirs
    return [*dirs, default_state_dir() / "exports"]


def save_export(filename: str, text: str, dirs: Sequence[Path] | None = None) -> Path:
    """Write `text` atomically (mode 0600) to the first directory that takes it.

    Raises the last OSError when none does.
    """
    error: OSError | None = None
    for directory in dirs if dirs is not None else export_dirs():
        path = directory / filename
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text, mode=0o600)
        except OSError as exc:
            error = exc
            continue
        return path
    raise error or OSError(f"{filename}: nowhere to write")
