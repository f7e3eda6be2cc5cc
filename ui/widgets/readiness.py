"""The readiness gauge: the one number the seeds' hand-kept matrix led with.

"Readiness 13% · 5/39 operational", a bar, and how many services are in each state, so
the operator sees at a glance whether the stack is coming up or falling over.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from actions.readiness.model import Scorecard
from console.status.types import StackStatus, State
from ui.app_hooks import release_app_hooks
from ui.widgets.status_style import StatusPalette, Tone, state_tone

BAR_WIDTH = 20
_COUNT_WORDS = {
    State.RESTART_LOOP: "restart loop",
    State.EXITED: "exited",
    State.UNHEALTHY: "unhealthy",
    State.UNREACHABLE: "unreachable",
    State.BLOCKED: "blocked",
    State.NOT_STARTED: "not started",
    State.STARTING: "starting",
    State.DEGRADED: "unverified",
    State.OPERATIONAL: "operational",
    State.UNKNOWN: "unknown",
}


class ReadinessGauge(Widget):
    """Readiness line, bar and per-state counts for one StackStatus."""

    DEFAULT_CSS = """
    ReadinessGauge {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    """

    # The counts line stays when nothing fails ("nothing failing"), so a service going down
    # does not move the table: no layout, no redraw of every row below (a new layout
    # re-sent ~40 KB of screen at 160x50 and took 50-70 ms a frame, half the time from
    # `docker kill` to the row on screen), and the row under the operator's eyes stays put.
    # A layout only when the counts need another line at a narrow width (watch_status).
    status: reactive[StackStatus | None] = reactive(None)
    # Seed 002's checklist score beside the service readiness, once it has been evaluated.
    checklist: reactive[Scorecard | None] = reactive(None)
    _height_lines = 1

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def on_unmount(self) -> None:
        release_app_hooks(self)

    def watch_status(self, status: StackStatus | None) -> None:
        lines = self._lines(status)
        if lines != self._height_lines:
            self._height_lines = lines
            self.refresh(layout=True)

    def _lines(self, status: StackStatus | None) -> int:
        if status is None:
            return 1
        counts = counts_text(status, StatusPalette.for_app(self.app), self.size.width)
        return 2 + counts.plain.count("\n")

    def on_resize(self) -> None:
        # The layout that resized it measured the height at the new width; remember it.
        self._height_lines = self._lines(self.status)

    def render(self) -> Text:
        status = self.status
        if status is None:
            return Text("Readiness: waiting for the first refresh…")
        palette = StatusPalette.for_app(self.app)
        counts = counts_text(status, palette, self.size.width) \
            or Text("nothing failing", style=palette.tone("ok"))
        return Text("\n").join([self._headline(status, palette), counts])

    def _append_checklist(self, line: Text, palette: StatusPalette, room: int) -> None:
        """Seed 002's checklist score after the service readiness, shortened to fit."""
        card = self.checklist
        if card is None:
            return
        words = _checklist_words(card, room - line.cell_len)
        if line.cell_len + 3 + len(words) > room:
            return  # no room at all: the checklist screen (C) has it
        tone: Tone = "ok" if card.all_pass else ("warn" if card.passed else "bad")
        line.append(" · ", style=palette.muted)
        line.append(words, style=palette.tone(tone))

    def _headline(self, status: StackStatus, palette: StatusPalette) -> Text:
        """`Readiness 13% · 5/39 operational ████░░░ vextrus @ docker 10:42:07`."""
        tone: Tone = "ok" if status.readiness >= 1 else ("warn" if status.readiness else "bad")
        line = Text()
        line.append(status.readiness_text, style=palette.tone(tone))
        where = f"{status.stack_name} @ {status.runtime_name} {status.taken_at:%H:%M:%S}"
        if self.checklist is not None:
            self._append_checklist(line, palette, self.size.width - len(where) - 2)
        room = self.size.width - line.cell_len - len(where) - 4
        if room >= BAR_WIDTH:
            filled = round(status.readiness * BAR_WIDTH)
            line.append("  ")
            line.append("█" * filled, style=palette.tone(tone))
            line.append("░" * (BAR_WIDTH - filled), style=palette.muted)
        line.append(" " * max(2, self.size.width - line.cell_len - len(where)))
        line.append(where, style=palette.muted)
        return line


def _checklist_words(card: Scorecard, room: int) -> str:
    """`Checklist 42% · 10/24 pass`, or just `Checklist 42%` where the line is short."""
    full = card.score_text()
    return full if len(full) + 3 <= room else f"Checklist {card.score:.0%}"


def counts_text(status: StackStatus, palette: StatusPalette, width: int = 0) -> Text:
    """`2 restart loop · 1 exited · …`, worst state first, each in its tone.

    Operational is left out (the headline counts it). With a `width`, lines break between
    items, never inside one ("8 not" / "started" reads as two facts).
    """
    counts = status.counts()
    text = Text()
    line_len = 0
    for state in sorted(counts, key=lambda s: s.severity):
        if state is State.OPERATIONAL:
            continue
        item = f"{counts[state]} {_COUNT_WORDS[state]}"
        if line_len and width and line_len + 3 + len(item) > width:
            text.append("\n")
            line_len = 0
        elif line_len:
            text.append(" · ", style=palette.muted)
            line_len += 3
        text.append(item, style=palette.tone(state_tone(state)))
        line_len += len(item)
    return text
