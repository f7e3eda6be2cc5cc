"""Live progress of a guided action: a bar over the plan's steps and one line per event.

The action (headless, in `actions/`) yields `Progress` events; this widget only renders
them. The bar counts finished steps (ok, failed, skipped) against the plan, so a bring-up
of 37 services reads "12/37" while it runs. Tones come from the theme's status colours.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import ProgressBar, RichLog, Static

from actions.base import Progress, Step
from console.masking import safe_str, safe_text
from ui.widgets.status_style import StatusPalette, Tone

_TONES: dict[str, Tone] = {
    "ok": "ok", "failed": "bad", "skipped": "warn", "started": "info", "info": "muted",
    "done": "ok", "plan": "muted",
}
_FINISHING = ("ok", "failed", "skipped")
WIDE = 120


class ActionProgress(Vertical):
    """Plan-sized progress bar, a one-line state and the event log."""

    DEFAULT_CSS = """
    ActionProgress { height: 1fr; }
    ActionProgress > #action-state { height: 1; padding: 0 1; background: $panel; }
    ActionProgress > ProgressBar { height: 1; padding: 0 1; }
    ActionProgress > ProgressBar > Bar { width: 1fr; }
    ActionProgress > #action-plan-scroll { height: auto; max-height: 35%; padding: 0 1; }
    ActionProgress > RichLog { height: 1fr; padding: 0 1; background: $surface; }
    """

    finished_steps: reactive[int] = reactive(0)
    state_text: reactive[str] = reactive("")

    def __init__(self, plan: Sequence[Step], id: str | None = None) -> None:
        super().__init__(id=id)
        self.plan = list(plan)
        self.events: list[Progress] = []
        self._finished: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static(id="action-state")
        yield ProgressBar(total=max(len(self.plan), 1), show_eta=False, id="action-bar")
        with VerticalScroll(id="action-plan-scroll"):
            yield Static(id="action-plan")
        yield RichLog(wrap=True, markup=False, highlight=False, min_width=20, id="action-log")

    def on_mount(self) -> None:
        muted = StatusPalette.for_app(self.app).muted
        wide = self.app.size.width >= WIDE  # details would wrap every line at 80 columns
        plan = Text(style=muted)
        for number, step in enumerate(self.plan, 1):
            detail = f"  [{step.detail}]" if step.detail and wide else ""
            plan.append(safe_str(f"{number:>3}. {step.title}{detail}") + "\n")
        plan.rstrip()
        self.query_one("#action-plan", Static).update(plan)

    def show_plan_only(self, text: str) -> None:
        self.state_text = text

    def apply(self, event: Progress) -> None:
        """Render one event: a log line, and the bar moves when a step finishes."""
        self.events.append(event)
        palette = StatusPalette.for_app(self.app)
        self.query_one(RichLog).write(
            safe_text(event.line(), style=palette.tone(_TONES[event.kind]), multiline=True))
        if event.kind in _FINISHING and event.step and event.step not in self._finished:
            self._finished.add(event.step)
            self.finished_steps = len(self._finished)
        if event.kind == "done":
            self.finished_steps = len(self.plan)
        self.state_text = event.message if event.kind in ("done", "failed") else self.state_text

    def watch_finished_steps(self, value: int) -> None:
        self.query_one(ProgressBar).update(progress=min(value, len(self.plan) or 1))
        self._render_state()

    def watch_state_text(self, _value: str) -> None:
        self._render_state()

    def _render_state(self) -> None:
        if not self.is_mounted:
            return
        counts = f"{self.finished_steps}/{len(self.plan)} steps"
        text = f"{counts} · {self.state_text}" if self.state_text else counts
        self.query_one("#action-state", Static).update(safe_text(text))
