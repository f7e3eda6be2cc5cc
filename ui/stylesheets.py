"""Every screen's stylesheet read once, while the console is idle, not at its first opening.

Textual reads a screen's CSS_PATH the first time that screen is pushed, then parses every
stylesheet of the App again and applies the result to every widget on every screen: the
first `r`, `?` or `enter` of a session took 300-560 ms at 80x24 on the 2-core build box,
the same key 100-200 ms later on (bench/keys_pilot.py). Reading them all at once, shortly
after the first matrix is on screen, pays that parse once, when nobody is waiting for a key.
Every stylesheet under ui/screens/ belongs to a screen and selects its own widgets, so
loading one early changes nothing on the screens already shown (the snapshots say so).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.widget import Widget

SCREENS_DIR = Path(__file__).resolve().parent / "screens"


def screen_stylesheets() -> list[Path]:
    """The .tcss files the screens name in CSS_PATH (Textual resolves them beside the
    screen's module, as here)."""
    return sorted(SCREENS_DIR.glob("*.tcss"))


def preload_screen_stylesheets(app: Any, *, apply: bool = True) -> int:
    """Read the screens' stylesheets the App has not read yet; one parse for all of them
    (none with `apply=False`: the caller parses). Returns how many were new."""
    stylesheet = app.stylesheet
    new = [path for path in screen_stylesheets() if not stylesheet.has_source(str(path), "")]
    for path in new:
        stylesheet.read(path)
    if new and apply:
        stylesheet.reparse()
        stylesheet.update(app)
    return len(new)


def preload_all_css(app: Any) -> int:
    """The screens' stylesheets and the imported widgets' CSS, in one parse.

    Each parse reads every source again (about 100 ms on the 2-core box, three times that
    while the demo starts its processes), and a key that comes meanwhile waits for it: the
    warm-up parsed twice, and the demo's first `/` took 250-450 ms. Returns how many sources
    were new."""
    new = preload_screen_stylesheets(app, apply=False) + preload_widget_css(app, apply=False)
    if new:
        app.stylesheet.reparse()
        app.stylesheet.update(app)
    return new


def widget_classes() -> list[type[Widget]]:
    """Every widget class imported so far (Textual's and the console's), once each."""
    from textual.widget import Widget

    found: list[type[Widget]] = []
    todo: list[type[Widget]] = [Widget]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def preload_widget_css(app: Any, *, apply: bool = True) -> int:
    """Add the DEFAULT_CSS of every imported widget class; one parse for all of them.

    Textual adds a widget class's DEFAULT_CSS the first time one is mounted, and the next
    styling parses the whole stylesheet again: the first details screen of a session (its
    scroll, columns) took 100-110 ms to its first frame, later ones 45-55. Run after the
    screens' modules are imported (ui/warm_up.py), so their widgets are among the classes.
    Rules for a type never mounted select nothing. Returns how many sources were new.
    """
    from types import SimpleNamespace

    from textual.dom import DOMNode

    stylesheet = app.stylesheet
    before = len(stylesheet.source)
    for cls in widget_classes():
        node = SimpleNamespace(_node_bases=cls._css_bases(cls))  # all _get_default_css reads
        for read_from, css, tie_breaker, scope in DOMNode._get_default_css(node):  # type: ignore[arg-type]
            stylesheet.add_source(css, read_from=read_from, is_default_css=True,
                                  tie_breaker=tie_breaker, scope=scope)
    new = len(stylesheet.source) - before
    if new and apply:
        stylesheet.reparse()
        stylesheet.update(app)
    return new
