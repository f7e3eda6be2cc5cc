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
from typing import Any

SCREENS_DIR = Path(__file__).resolve().parent / "screens"


def screen_stylesheets() -> list[Path]:
    """The .tcss files the screens name in CSS_PATH (Textual resolves them beside the
    screen's module, as here)."""
    return sorted(SCREENS_DIR.glob("*.tcss"))


def preload_screen_stylesheets(app: Any) -> int:
    """Read the screens' stylesheets the App has not read yet; one parse for all of them.
    Returns how many were new."""
    stylesheet = app.stylesheet
    new = [path for path in screen_stylesheets() if not stylesheet.has_source(str(path), "")]
    for path in new:
        stylesheet.read(path)
    if new:
        stylesheet.reparse()
        stylesheet.update(app)
    return len(new)
