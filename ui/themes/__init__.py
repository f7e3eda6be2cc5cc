"""Textual themes and shared CSS for the console.

`register_themes(app)` makes the Vextrus themes selectable by name (`--theme`, the config
file, the command palette). Textual's own themes stay available too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App

from ui.themes.palettes import DEFAULT_THEME, STATUS_VARIABLES, THEMES

BASE_TCSS = Path(__file__).with_name("base.tcss")


def register_themes(app: App[Any]) -> None:
    """Register every Vextrus theme on `app` (does not activate one)."""
    for theme in THEMES:
        app.register_theme(theme)


def theme_names() -> list[str]:
    """The Vextrus theme names, default first (for the palette and `--theme` help)."""
    return [theme.name for theme in THEMES]


__all__ = [
    "BASE_TCSS",
    "DEFAULT_THEME",
    "STATUS_VARIABLES",
    "THEMES",
    "register_themes",
    "theme_names",
]
