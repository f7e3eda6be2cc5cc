"""How a status looks: tone, glyph and Rich style, derived from the active theme.

One place decides that "exited" is bad and "blocked" a warning, so the table, the gauge
and the detail screen agree. Colours come from the theme's `status-*` variables (never a
literal here); glyphs and words carry the meaning on their own, so the console stays
legible with `NO_COLOR` or on a monochrome terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rich.style import Style
from textual.app import App

from console.status.types import ServiceStatus, State

Tone = Literal["ok", "warn", "bad", "muted", "info"]

_STATE_TONES: dict[State, Tone] = {
    State.RESTART_LOOP: "bad",
    State.EXITED: "bad",
    State.UNHEALTHY: "bad",
    State.UNREACHABLE: "bad",
    State.BLOCKED: "warn",
    State.NOT_STARTED: "muted",
    State.STARTING: "warn",
    State.DEGRADED: "warn",
    State.OPERATIONAL: "ok",
    State.UNKNOWN: "muted",
}

_GLYPHS: dict[Tone, str] = {"ok": "●", "warn": "▲", "bad": "✘", "muted": "○", "info": "·"}
_HEALTH_TONES: dict[str, Tone] = {"healthy": "ok", "unhealthy": "bad", "starting": "warn"}
ROOT_CAUSE_GLYPH = "◆"
ROOT_CAUSE_TEXT = f"{ROOT_CAUSE_GLYPH} root cause"


def state_tone(state: State) -> Tone:
    return _STATE_TONES[state]


def state_glyph(service: ServiceStatus) -> str:
    """The state glyph; a root cause gets the diamond so it stands out in any colour mode."""
    return ROOT_CAUSE_GLYPH if service.root_cause else _GLYPHS[state_tone(service.state)]


def state_text(service: ServiceStatus) -> str:
    """`✘ Exited`, `◆ Restarting`: glyph plus the state's label."""
    return f"{state_glyph(service)} {service.label}"


def glyph_legend() -> list[tuple[str, str, Tone]]:
    """(glyph, meaning, tone) for every glyph the matrix and the graph draw, from the same
    tables that draw them: help shows it, so a glyph never needs guessing."""
    rows: list[tuple[str, str, Tone]] = []
    for tone in ("ok", "warn", "bad", "muted"):
        states = [s.value for s in State if _STATE_TONES[s] == tone]
        rows.append((_GLYPHS[tone], ", ".join(states), tone))
    rows.append((ROOT_CAUSE_GLYPH, "root cause: failing while its dependencies are fine",
                 "bad"))
    rows.append(("✔ ✘ ·", "Host, Inside, Deps: yes, no, not probed", "info"))
    return rows


def health_tone(health: str) -> Tone:
    return _HEALTH_TONES.get(health, "muted")


def flag_text(value: bool | None) -> tuple[str, Tone]:
    """Yes / no / not probed, as a glyph and a tone."""
    if value is None:
        return "·", "muted"
    return ("✔", "ok") if value else ("✘", "bad")


@dataclass(frozen=True)
class StatusPalette:
    """Rich styles for each tone, built from the theme's `status-*` variables."""

    ok: Style
    warn: Style
    bad: Style
    muted: Style
    info: Style

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> StatusPalette:
        """Read `status-*` from `app.theme_variables`; a missing one falls back to no colour."""

        def style(tone: str, bold: bool = False) -> Style:
            return Style(color=variables.get(f"status-{tone}"), bold=bold or None)

        return cls(
            ok=style("ok"),
            warn=style("warn"),
            bad=style("bad", bold=True),
            muted=style("muted"),
            info=style("info", bold=True),
        )

    @classmethod
    def for_app(cls, app: App[Any]) -> StatusPalette:
        """The palette of the app's active theme; plain weights when `NO_COLOR` is set.

        Textual turns colours into grey levels under NO_COLOR, which would make red (bad)
        text darker than normal text: the opposite of what an alert needs. So without
        colour, bad is bold, muted is dim and everything else is plain.
        """
        if app.no_color:
            plain = Style()
            return cls(
                ok=plain,
                warn=plain,
                bad=Style(bold=True),
                muted=Style(dim=True),
                info=Style(bold=True),
            )
        return cls.from_variables(app.theme_variables)

    def tone(self, tone: Tone) -> Style:
        style: Style = getattr(self, tone)
        return style


def format_uptime(seconds: float | None, precise: bool = False) -> str:
    """Compact uptime: `<1m` in the first minute, then `4m`, `2h05m`, `3d04h`; `—` when not
    running. `precise` keeps the seconds (`45s`, `4m10s`), for the details of one service.

    The matrix shows whole minutes: a seconds figure changed at every refresh on every row
    that had one and repainted each of them (after a bring-up, all 40: 150-300 ms a frame
    at 160x50 here), in front of the row that really changed (bench/events_to_screen.py),
    telling the operator nothing the State column does not.
    """
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s" if precise else f"{minutes}m"
    return f"{secs}s" if precise else "<1m"


def format_latency(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms / 1000:.1f}s" if ms >= 10_000 else f"{ms:.0f}ms"


def format_ports(ports: tuple[int, ...]) -> str:
    """The first port, `+` when there are more (the detail screen lists them all)."""
    if not ports:
        return "—"
    return f"{ports[0]}+" if len(ports) > 1 else str(ports[0])
