"""Describe (k9s `d`/`y`): the service's runtime objects as the runtime has them.

Docker: `docker inspect` of each container (JSON); Kubernetes: the Deployment's or
StatefulSet's YAML and each pod's, read fresh from the API server; local processes: the
command, directory, environment and the group's processes. Scrollable (j/k, page keys)
and searchable (`/`, then `n`/`N` between matches). Everything shown is untrusted text:
it passes the masking boundary (escapes dropped, secrets in the environment masked).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, Static

from console.masking import safe_str
from ui.host import host
from ui.widgets.key_footer import KeyFooter
from ui.widgets.status_style import StatusPalette

if TYPE_CHECKING:
    from ui.host import HostApp

TEXT_LIMIT = 4_000  # characters per line; inspect documents have long Env lines at most


class DescribeScreen(Screen[None]):
    """One service's runtime objects, as text, with search."""

    CSS_PATH = "describe.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back / clear search", id="describe.back"),
        Binding("slash", "search", "Search", id="describe.search"),
        Binding("n", "next_match(1)", "Next match", id="describe.next"),
        Binding("N", "next_match(-1)", "Previous match", id="describe.previous"),
        Binding("j,down", "scroll_lines(1)", "Down", id="describe.down", show=False),
        Binding("k,up", "scroll_lines(-1)", "Up", id="describe.up", show=False),
    ]

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self.documents: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.search_text = ""
        self.matches: list[int] = []
        self.current = -1

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    def compose(self) -> ComposeResult:
        yield Static(f"describe {self.service} · loading…", id="describe-title")
        with VerticalScroll(id="describe-scroll"):
            yield Static(id="describe-body")
        yield Input(placeholder="search (enter keeps it, esc clears)", id="describe-search",
                    compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#describe-scroll").focus()
        self._load()

    @work(group="describe", exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        runtime = self.vextrus.ctx.runtime
        try:
            service = self.vextrus.ctx.stack.service(self.service)
            documents = await runtime.describe(service)  # type: ignore[union-attr]
        except Exception as exc:  # a runtime failure is shown, never raised
            documents = [(self.service, f"describe failed: {str(exc) or type(exc).__name__}")]
        self.show(documents)

    def show(self, documents: list[tuple[str, str]]) -> None:
        """The objects as masked, escape-free lines, each object under its own header."""
        self.documents = documents
        lines: list[str] = []
        for title, body in documents:
            lines.append(f"── {safe_str(title, 200)} ──")
            lines.extend(safe_str(body, TEXT_LIMIT, multiline=True).splitlines())
            lines.append("")
        self.lines = lines
        names = ", ".join(safe_str(t, 80) for t, _ in documents)
        self.query_one("#describe-title", Static).update(
            Text(f"describe {self.service} · {names} · {len(lines)} lines"))
        self._render_body()

    def _render_body(self) -> None:
        palette = StatusPalette.for_app(self.app)
        text = Text("\n".join(self.lines), no_wrap=True, overflow="ignore")
        if self.search_text:
            pattern = re.compile(re.escape(self.search_text), re.IGNORECASE)
            text.highlight_regex(pattern, style=palette.warn + Style(reverse=True))
        for at, line in enumerate(self.lines):
            if line.startswith("── "):
                start = sum(len(x) + 1 for x in self.lines[:at])
                text.stylize(palette.info + Style(bold=True), start, start + len(line))
        self.query_one("#describe-body", Static).update(text)

    # --- search --------------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#describe-search", Input)
        self.set_class(True, "-searching")
        search.value = self.search_text
        search.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        needle = self.search_text.lower()
        self.matches = [i for i, line in enumerate(self.lines) if needle and needle in
                        line.lower()]
        self.current = -1
        self._render_body()
        self.action_next_match(1)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.set_class(False, "-searching")
        self.query_one("#describe-scroll").focus()

    def action_next_match(self, step: int) -> None:
        if not self.matches:
            self._say_matches()
            return
        self.current = (self.current + step) % len(self.matches)
        line = self.matches[self.current]
        self.query_one("#describe-scroll", VerticalScroll).scroll_to(
            y=max(0, line - 3), animate=False)
        self._say_matches()

    def _say_matches(self) -> None:
        names = ", ".join(safe_str(t, 80) for t, _ in self.documents)
        where = ""
        if self.search_text:
            where = (f' · "{self.search_text}": {self.current + 1}/{len(self.matches)}'
                     if self.matches else f' · "{self.search_text}": no match')
        self.query_one("#describe-title", Static).update(
            Text(f"describe {self.service} · {names}{where}"))

    def action_scroll_lines(self, lines: int) -> None:
        scroll = self.query_one("#describe-scroll", VerticalScroll)
        scroll.scroll_to(y=scroll.scroll_y + lines, animate=False)

    def action_back(self) -> None:
        if self.has_class("-searching") or self.search_text:
            self.query_one("#describe-search", Input).value = ""
            self.set_class(False, "-searching")
            self.query_one("#describe-scroll").focus()
            return
        self.app.pop_screen()
