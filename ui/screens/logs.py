"""Logs screen: one or many services' streams merged, searchable, filterable, followable.

Every stream runs in its own worker (group "logs") and only appends to a pending queue.
The view takes the queue in batches of 1,000 lines, each in its own timer task so key
presses get the event loop in between, and refreshes the screen once per 50 ms tick: a
flood from forty services costs twenty refreshes a second, not one per line or batch.
When the view falls behind, the streams wait (backpressure) rather than the queue growing.
The workers belong to the screen: leaving it cancels them all.
"""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from console.logbuffer import (
    DEFAULT_CAPACITY,
    Level,
    LogEntry,
    compile_query,
    is_literal,
    to_text,
)
from console.model import Service
from console.runtime.capabilities import PreviousLogs
from console.timeline_export import save_export
from ui.host import host
from ui.widgets.key_footer import KeyFooter
from ui.widgets.log_view import LogView

if TYPE_CHECKING:
    from textual.timer import Timer

    from console.runtime.base import LogLine, Runtime

TICK_SECONDS = 0.05  # how often new lines are shown
TAIL = 200
YIELD_EVERY = 256  # lines a stream reads before letting the event loop breathe
MAX_BATCH = 1_000  # lines per batch: bounds the work between two key presses (~5 ms)
AGAIN_SECONDS = 0.001  # the next batch when lines are still waiting
HIGH_WATER = 20_000  # pending lines at which the streams wait for the view to catch up

_LEVEL_KEYS = {"ERROR": Level.ERROR, "WARN": Level.WARN, "INFO": Level.INFO}


class LogsScreen(Screen[None]):
    """Live logs of the chosen services (None: every service of the stack, merged)."""

    CSS_PATH = "logs.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("f", "toggle_follow", "Follow", id="logs.toggle_follow"),
        Binding("slash", "open_prompt('search')", "Search", id="logs.open_prompt.search"),
        Binding("n", "next_match", "Next match", id="logs.next_match"),
        Binding("N", "previous_match", "Previous match", id="logs.previous_match"),
        Binding(
            "ampersand", "open_prompt('filter')", "Filter (regex)", id="logs.open_prompt.filter"
        ),
        # Digits are quick filters (as the workflow statuses); w is Workflows and i probes
        # inside elsewhere, so wrap is W and timestamps ctrl+t.
        Binding("1", "level('ERROR')", "Errors only", id="logs.level.error"),
        Binding("2", "level('WARN')", "Warn+", id="logs.level.warn"),
        Binding("3", "level('INFO')", "Info+", id="logs.level.info"),
        Binding("W", "toggle_wrap", "Wrap", id="logs.toggle_wrap"),
        Binding("ctrl+t", "toggle_time", "Timestamps", show=False, id="logs.toggle_time"),
        Binding("ctrl+s", "save", "Save", id="logs.save"),
    ]

    def __init__(self, services: list[str] | None = None, *, capacity: int = DEFAULT_CAPACITY,
                 previous: bool = False):
        super().__init__()
        self._requested = services
        # Kubernetes: the crashed container's last run (`kubectl logs --previous`), read once.
        self._previous = previous
        self._view = LogView(
            capacity, merged=services is None or len(services) != 1, id="logs-view"
        )
        self._pending: deque[LogLine] = deque(maxlen=capacity)
        self._overflow = 0
        self._room = asyncio.Event()  # set while the pending queue is below HIGH_WATER
        self._room.set()
        self._again: Timer | None = None  # the one-shot timer of the next batch
        self._prompt_mode = "search"
        self._last_status = ""

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        names = self._service_names()
        yield Static(self._title(names), id="logs-title", markup=False)
        yield self._view
        yield Static("", id="logs-status", markup=False)
        yield Input(id="logs-prompt", classes="-hidden")
        yield KeyFooter()

    @property
    def view(self) -> LogView:
        return self._view

    def _service_names(self) -> list[str]:
        stack = host(self).ctx.stack
        if self._requested is None:
            return list(stack.names())
        return [n for n in self._requested if n in stack]

    def _title(self, names: list[str]) -> str:
        if self._requested is None:
            return f"Logs · all {len(names)} services"
        shown = ", ".join(names[:6]) + (f" +{len(names) - 6}" if len(names) > 6 else "")
        previous = " · previous container (its last run before the restart)"
        return f"Logs · {shown or 'no known service'}{previous if self._previous else ''}"

    # --- streaming ---------------------------------------------------------------------

    def on_mount(self) -> None:
        self.view.focus()
        unknown = [n for n in self._requested or [] if n not in host(self).ctx.stack]
        for name in unknown:
            self.view.write_note(name, f"{name}: not a service of this stack")
        self.set_interval(TICK_SECONDS, self._tick, name="logs-tick")
        runtime: Runtime | None = host(self).ctx.runtime
        if runtime is None:
            self.view.write_note(
                "console", "No runtime: the console runs with --runtime none, so no logs stream."
            )
        else:
            stack = host(self).ctx.stack
            for name in self._service_names():
                self.run_worker(
                    self._stream(runtime, stack.service(name)),
                    name=f"logs {name}",
                    group="logs",
                    exit_on_error=False,
                )
        self._update_status()

    async def _stream(self, runtime: Runtime, service: Service) -> None:
        """Read one service's stream into the pending queue; say why when it stops.

        When the view falls behind, the stream waits (backpressure: the runtime keeps the
        lines, nothing is lost) instead of the queue growing or the UI stalling.
        """
        pending = self._pending
        count = 0
        if self._previous and isinstance(runtime, PreviousLogs):  # a finished run
            lines = runtime.previous_logs(service, tail=TAIL)
        else:
            lines = runtime.logs(service, tail=TAIL, follow=True)
        try:
            async for line in lines:
                if len(pending) == pending.maxlen:
                    self._overflow += 1
                pending.append(line)
                count += 1
                if len(pending) >= HIGH_WATER:
                    self._room.clear()
                    await self._room.wait()
                elif count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the reason is shown in the view, not raised into the app
            self._note(service.name, f"{service.name}: log stream failed: {_reason(exc)}")
        else:
            self._note(service.name, f"{service.name}: log stream ended")

    def _note(self, service: str, text: str) -> None:
        """The console's own line about a stream, after every line that came before it."""
        while self._pending:
            self._take_batch()
        self.view.write_note(service, text)

    def _tick(self) -> None:
        """Every 50 ms: take a batch, then show everything taken since the last tick."""
        if not self._view.is_attached:  # a timer that fires while the screen closes
            return
        self._take_batch()
        self.view.sync()
        self._update_status()

    def _take_batch(self) -> None:
        """Move up to MAX_BATCH pending lines into the view's buffer (not yet on screen).

        While more are waiting, the next batch runs from a one-shot timer in its own task,
        so key presses and the streams get the event loop between batches; the screen is
        refreshed only by the 50 ms tick, so a flood costs 20 refreshes a second, not one
        per batch (each refresh sends the compositor several messages).
        """
        pending = self._pending
        if not pending:
            return
        batch = [pending.popleft() for _ in range(min(len(pending), MAX_BATCH))]
        if self._overflow:
            self.view.buffer.dropped += self._overflow
            self._overflow = 0
        self.view.write_lines(batch, refresh=False)
        if len(pending) < HIGH_WATER:
            self._room.set()
        if pending and self._again is None:
            self._again = self.set_timer(AGAIN_SECONDS, self._drain, name="logs-more")

    def _drain(self) -> None:
        self._again = None
        if self._view.is_attached:
            self._take_batch()

    def cancel_streams(self) -> None:
        self.workers.cancel_group(self, "logs")

    def on_unmount(self) -> None:
        self.cancel_streams()
        if self._again is not None:
            self._again.stop()

    # --- status ------------------------------------------------------------------------

    @on(LogView.Changed)
    def _view_changed(self) -> None:
        self._update_status()

    def _update_status(self) -> None:
        text = status_text(self.view)
        if text != self._last_status:
            self._last_status = text
            self.query_one("#logs-status", Static).update(text, layout=False)

    # --- actions -----------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc: close the prompt if it is open, else leave (which stops every stream)."""
        prompt = self.query_one("#logs-prompt", Input)
        if not prompt.has_class("-hidden"):
            self._close_prompt()
            return
        self.cancel_streams()
        self.dismiss()

    def action_toggle_follow(self) -> None:
        self.view.follow = not self.view.follow

    def action_toggle_wrap(self) -> None:
        self.view.wrap = not self.view.wrap

    def action_toggle_time(self) -> None:
        self.view.show_time = not self.view.show_time

    def action_next_match(self) -> None:
        if not self.view.next_match(1):
            self._no_search()

    def action_previous_match(self) -> None:
        if not self.view.next_match(-1):
            self._no_search()

    def _no_search(self) -> None:
        if self.view.pattern is None:
            self.notify("No search yet: press / to search", timeout=3)
        else:
            self.notify("No matches", timeout=3)

    def action_level(self, name: str) -> None:
        """1 / 2 / 3: show ERROR, WARN and up, INFO and up; the same key again shows all."""
        level = _LEVEL_KEYS[name]
        current = self.view.log_filter
        chosen = None if current.min_level is level else level
        self.view.set_filter(current._replace(min_level=chosen))

    def action_open_prompt(self, mode: str) -> None:
        self._prompt_mode = mode
        prompt = self.query_one("#logs-prompt", Input)
        if mode == "search":
            prompt.placeholder = "search: regex, case-insensitive unless capitals · enter / esc"
            pattern = self.view.pattern
        else:
            prompt.placeholder = "filter: show only lines matching this regex · empty clears"
            pattern = self.view.log_filter.pattern
        prompt.value = pattern.pattern if pattern is not None else ""
        prompt.remove_class("-hidden")
        prompt.focus()

    def _close_prompt(self) -> None:
        self.query_one("#logs-prompt", Input).add_class("-hidden")
        self.view.focus()

    @on(Input.Submitted, "#logs-prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        query = event.value
        self._close_prompt()
        if query and is_literal(query):
            self.notify("Not a valid regex: matching the text literally", timeout=3)
        if self._prompt_mode == "filter":
            pattern = compile_query(query) if query else None
            self.view.set_filter(self.view.log_filter._replace(pattern=pattern))
            return
        count = self.view.search(query or None)
        if query and not count:
            self.notify(f"No match for {query}", timeout=3, markup=False)

    def action_save(self) -> None:
        """ctrl+s: write the lines shown (filter applied, secrets masked) to a file."""
        view = self.view
        entries = [e for e in (view.entry_at(i) for i in range(view.line_count)) if e]
        stamp = host(self).ctx.clock().strftime("%Y%m%d-%H%M%S")
        self.run_worker(
            lambda: save_log(entries, f"vextrus-logs-{stamp}.log", self.app),
            thread=True,
            group="save",
            exit_on_error=False,
        )


def save_log(entries: list[LogEntry], filename: str, app: App[object]) -> Path | None:
    """Thread worker: write the entries (masked again) and tell the operator where."""
    try:
        path = save_export(filename, to_text(entries))
    except OSError as exc:
        app.call_from_thread(app.notify, f"Could not save the logs: {exc}", severity="error")
        return None
    app.call_from_thread(
        app.notify, f"Saved {len(entries):,} lines to {path}", title="Logs saved", markup=False
    )
    return path


def status_text(view: LogView) -> str:
    """One line for the status bar: counts, dropped lines, modes, filter and search."""
    parts = [f"{view.shown_count:,} lines"]
    if view.dropped:
        parts.append(f"{view.dropped:,} dropped")
    parts.append("FOLLOW" if view.follow else "paused (f follows)")
    if view.wrap:
        parts.append("wrap")
    if view.log_filter.active:
        parts.append(view.log_filter.describe())
    if view.pattern is not None:
        current = view.current_match or 0
        parts.append(f"/{view.pattern.pattern} {current}/{view.match_count}")
    return " · ".join(parts)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
