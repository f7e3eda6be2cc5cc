"""The console's three themes as Textual `Theme` objects.

Status colours live in each theme's `variables` (`status-ok`, `status-warn`, `status-bad`,
`status-muted`, `status-info`) so .tcss (`$status-bad`) and code
(`app.theme_variables["status-bad"]`) read the same source, and switching theme recolours
the whole console at once. No widget holds a colour of its own.
"""

from __future__ import annotations

from textual.theme import Theme

STATUS_VARIABLES = ("status-ok", "status-warn", "status-bad", "status-muted", "status-info")

VEXTRUS_DARK = Theme(
    name="vextrus-dark",
    primary="#4C9BE8",
    secondary="#2F6DB3",
    accent="#F0A84B",
    warning="#E5B84B",
    error="#E5605C",
    success="#5DBB7A",
    foreground="#D8DEE9",
    background="#11161D",
    surface="#18202A",
    panel="#1F2A36",
    dark=True,
    variables={
        "status-ok": "#5DBB7A",
        "status-warn": "#E5B84B",
        "status-bad": "#F0625D",
        "status-muted": "#7D8896",
        "status-info": "#6CB6FF",
        "footer-key-foreground": "#6CB6FF",
    },
)

VEXTRUS_LIGHT = Theme(
    name="vextrus-light",
    primary="#1F5FA8",
    secondary="#3B7BC4",
    accent="#B35C00",
    warning="#9A6700",
    error="#B42318",
    success="#1A7F37",
    foreground="#1F2328",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#E7ECF2",
    dark=False,
    variables={
        "status-ok": "#1A7F37",
        "status-warn": "#9A6700",
        "status-bad": "#B42318",
        "status-muted": "#57606A",
        "status-info": "#0B5CAD",
        "footer-key-foreground": "#0B5CAD",
    },
)

VEXTRUS_HIGH_CONTRAST = Theme(
    name="vextrus-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    warning="#FFFF00",
    error="#FF3030",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    dark=True,
    luminosity_spread=0.25,
    text_alpha=1.0,
    variables={
        "status-ok": "#00FF00",
        "status-warn": "#FFFF00",
        "status-bad": "#FF3030",
        "status-muted": "#C0C0C0",
        "status-info": "#00FFFF",
        "footer-key-foreground": "#FFFF00",
    },
)

THEMES: tuple[Theme, ...] = (VEXTRUS_DARK, VEXTRUS_LIGHT, VEXTRUS_HIGH_CONTRAST)
DEFAULT_THEME = VEXTRUS_DARK.name
