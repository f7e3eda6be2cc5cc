"""The `?` overlay: every key that works right now, generated from the live bindings.

Built from `Screen.active_bindings` of the screen underneath (app, screen and focused
widget bindings, after the user's keymap), so it can never drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ui.verbs import VERBS
from ui.widgets.status_style import StatusPalette, glyph_legend


@dataclass(frozen=True)
class HelpEntry:
    group: str  # "This screen", "Global", or the focused widget's name
    keys: str  # as displayed, e.g. "ctrl+r, f5"
    description: str
    binding_id: str = ""  # what a `[keys]` override in the config file names


def help_entries(app: App[Any], screen: Screen[Any]) -> list[HelpEntry]:
    """Bindings active on `screen`, one entry per action, grouped by where they live."""
    merged: dict[tuple[str, str], list[str]] = {}
    ids: dict[tuple[str, str], str] = {}
    for key, active in screen.active_bindings.items():
        binding: Binding = active.binding
        group = _group_name(active.node, app, screen)
        if not binding.description or binding.system or (group != "Navigation" and not binding.id):
            continue  # Textual's own app/screen plumbing (focus cycling, copy) is not ours
        slot = (group, binding.description)
        display = app.get_key_display(Binding(key, binding.action))
        if display not in merged.setdefault(slot, []):
            merged[slot].append(display)
        ids.setdefault(slot, binding.id or "")
    entries = [HelpEntry(_topic(g, ids[(g, d)]), ", ".join(keys), d, ids[(g, d)])
               for (g, d), keys in merged.items()]
    return sorted(entries, key=lambda e: GROUP_ORDER.get(e.group, len(GROUP_ORDER)))


# Groups an operator looks for, by binding id: what acts on the selected service, what
# this screen does, where to go, what acts on the whole stack, the console itself.
SERVICE_ACTIONS = set(VERBS)  # the per-service verbs (ui.verbs), grouped under the service
APP_TOPICS = {
    "Go to": {"graph", "logs_all", "timeline", "workflows", "resources", "checklist"},
    "Stack actions": {"bringup", "preflight", "portproxy", "secrets", "refresh"},
    "Console": {"quit", "quit_ctrl_c", "help", "command_palette", "command_palette_alt"},
}
GROUP_ORDER = {"Selected service": 0, "This screen": 1, "Go to": 2, "Stack actions": 3,
               "Console": 4, "Global": 5, "Navigation": 6}


def _topic(group: str, binding_id: str) -> str:
    """`group` refined: a screen's per-service keys and the app's keys by what they do."""
    if group == "This screen" and binding_id.rpartition(".")[2] in SERVICE_ACTIONS:
        return "Selected service"
    if group == "Global":
        return next((t for t, ids in APP_TOPICS.items() if binding_id in ids), group)
    return group


def _group_name(node: object, app: App[Any], screen: Screen[Any]) -> str:
    if node is app:
        return "Global"
    if node is screen:
        return "This screen"
    return "Navigation"  # the focused widget's own keys (table cursor, input editing)


class HelpScreen(ModalScreen[None]):
    """A centred, scrollable table of keys; esc (or ?) closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,question_mark", "dismiss", "Help (close)", id="help.close")]

    def __init__(self, entries: Iterable[HelpEntry], title: str = "Keys") -> None:
        super().__init__()
        self._entries = list(entries)
        self._title = title

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = self._title
            box.border_subtitle = "esc to close"
            yield Static(id="help-table")
            yield Static(id="help-legend")

    def on_mount(self) -> None:
        palette = StatusPalette.for_app(self.app)
        self.query_one("#help-table", Static).update(KeyColumns(self._entries, palette))
        self.query_one("#help-legend", Static).update(legend_text(palette))


class KeyColumns:
    """Key, description and binding id in three columns, as lines of text.

    What rich's Table drew (key at least 10 wide, the id right-aligned, 2 spaces between,
    the description taking the rest and cut with an ellipsis), for a fraction of its cost:
    the table was measured and drawn again at each layout, ~150-300 ms before `?` showed
    anything at 80x24 (bench/keys_pilot.py). Widths come from the render's own width.
    """

    GAP = 2

    def __init__(self, entries: list[HelpEntry], palette: StatusPalette) -> None:
        self._entries = entries
        self._palette = palette
        self._key_width = max([10, *(len(e.keys) for e in entries)])
        self._id_width = max([0, *(len(e.binding_id) for e in entries)])

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = max([0, *(len(e.description) for e in self._entries)])
        return Measurement(self._key_width, self._key_width + widest + self._id_width
                           + 2 * self.GAP)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        room = width - self._key_width - self._id_width - 2 * self.GAP
        group: str | None = None
        for entry in self._entries:
            if entry.group != group:
                if group is not None:
                    yield Text("")
                yield Text(entry.group, style=self._palette.muted + Style(bold=True),
                           no_wrap=True, overflow="ellipsis")
                group = entry.group
            yield self._line(entry, room, width)

    def _line(self, entry: HelpEntry, room: int, width: int) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis", end="\n")
        line.append(entry.keys.ljust(self._key_width), style=self._palette.info)
        gap = " " * self.GAP
        description = entry.description
        if len(description) > room:
            description = description[:max(0, room - 1)] + "…" if room > 0 else ""
        line.append(gap + description.ljust(max(room, 0)) + gap)
        line.append(entry.binding_id.rjust(self._id_width), style=self._palette.muted)
        line.truncate(width, overflow="ellipsis")
        return line


def legend_text(palette: StatusPalette) -> Text:
    """What each glyph of the matrix and the graph means, after the keys (wrapped)."""
    text = Text("\nGlyphs\n", style=palette.muted + Style(bold=True))
    for glyph, meaning, tone in glyph_legend():
        text.append(f"{glyph:<13}", style=palette.tone(tone))
        text.append(meaning + "\n", style=Style())
    text.rstrip()
    return text
