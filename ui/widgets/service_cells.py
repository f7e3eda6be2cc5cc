"""What the service table shows: its columns, the cells of a row, filtering and ordering.

Pure functions over `StackStatus`, kept apart from the DataTable subclass so the rules
(which columns survive at 80 columns, what a filter matches, what "sort by state" means)
are readable and testable without a running App.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from console.masking import safe_str
from console.stats import UsageBoard, sort_value
from console.status.types import ServiceStatus, StackStatus
from ui.widgets.status_style import (
    ROOT_CAUSE_GLYPH,
    ROOT_CAUSE_TEXT,
    StatusPalette,
    Tone,
    flag_text,
    format_latency,
    format_ports,
    format_uptime,
    health_tone,
    state_text,
    state_tone,
)

SORT_MODES = ("tier", "state", "name", "latency", "cpu", "memory")
USAGE_SORTS = ("cpu", "memory")  # offered only while the runtime measures usage
USAGE_COLUMNS = ("cpu", "mem")
TIER_ROW_PREFIX = "§tier:"  # compose service names never contain "§"
CELL_PADDING = 1  # DataTable default: one cell of space on each side of every column


@dataclass(frozen=True)
class Column:
    """One table column; `priority` decides which columns survive on narrow terminals."""

    key: str
    label: str
    width: int
    priority: int  # lower survives longer; 0 = always shown


# Display order. Issues takes whatever width is left (at least ISSUES_MIN_WIDTH).
COLUMNS: tuple[Column, ...] = (
    Column("service", "Service", 21, 0),
    Column("tier", "Tier", 14, 9),
    Column("state", "State", 13, 0),
    Column("health", "Health", 9, 4),
    Column("port", "Port", 5, 1),
    Column("host", "Host", 4, 2),
    Column("inside", "Inside", 6, 6),
    Column("deps", "Deps", 4, 3),
    Column("restarts", "Rst", 3, 5),
    Column("cpu", "CPU", 6, 5),
    Column("mem", "Mem", 9, 6),
    Column("uptime", "Uptime", 6, 8),
    Column("latency", "Latency", 7, 7),
    Column("issues", "Issues", 0, 0),
)
# At 80x24 the issue in words is what the operator reads: it keeps 32 cells before any
# optional column (the port first; reachability and deps are said in the issue too).
ISSUES_MIN_WIDTH = 32
ROOT_CAUSE_WIDTH = 40  # Issues narrower than this mark root causes with the glyph only


def fit_columns(available: int, with_tier: bool = True, with_usage: bool = False) -> list[Column]:
    """The columns that fit `available` cells, most important first, Issues filling the rest.

    Why: over SSH at 80x24 the matrix must still show name, state, reachability and the
    issue in words; uptime, latency and the inside probe are the first to go. The Tier
    column is left out when tier header rows already say it (`with_tier=False`).
    """
    cost = lambda c: c.width + 2 * CELL_PADDING  # noqa: E731
    chosen = {c.key for c in COLUMNS if c.priority == 0}
    used = sum(cost(c) for c in COLUMNS if c.key in chosen and c.key != "issues")
    used += ISSUES_MIN_WIDTH + 2 * CELL_PADDING
    candidates = [c for c in COLUMNS if (with_tier or c.key != "tier")
                  and (with_usage or c.key not in USAGE_COLUMNS)]
    for column in sorted(candidates, key=lambda c: c.priority):
        if column.key not in chosen and used + cost(column) <= available:
            chosen.add(column.key)
            used += cost(column)
    fixed = sum(cost(c) for c in COLUMNS if c.key in chosen and c.key != "issues")
    issues_width = max(ISSUES_MIN_WIDTH, available - fixed - 2 * CELL_PADDING)
    return [
        Column(c.key, c.label, issues_width, 0) if c.key == "issues" else c
        for c in COLUMNS
        if c.key in chosen
    ]


def service_cells(
    service: ServiceStatus,
    palette: StatusPalette,
    highlighted: bool = False,
    issues_width: int = 80,
) -> dict[str, Text]:
    """Every cell of one service's row, styled by tone (words and glyphs carry the meaning)."""
    host, host_tone = flag_text(service.reachable_host)
    inside, inside_tone = flag_text(service.reachable_inside)
    deps, deps_tone = flag_text(service.deps_met) if service.depends_on else ("—", "muted")
    restarts_tone: Tone = (
        "bad" if service.restart_loop else ("warn" if service.restart_count else "muted")
    )
    latency_tone: Tone = "warn" if (service.latency_ms or 0) >= 1000 else "muted"
    return {
        "service": Text(safe_str(service.name, 200),
                        style=_name_style(service, palette, highlighted)),
        "tier": Text(safe_str(service.tier, 200), style=palette.muted),
        "state": Text(state_text(service), style=palette.tone(state_tone(service.state))),
        "health": Text(
            safe_str(_health_word(service.health), 200),
            style=palette.tone(health_tone(service.health)),
        ),
        "port": Text(format_ports(service.ports)),
        "host": Text(host, style=palette.tone(host_tone)),
        "inside": Text(inside, style=palette.tone(inside_tone)),
        "deps": Text(deps, style=palette.tone(deps_tone)),
        "restarts": Text(str(service.restart_count), style=palette.tone(restarts_tone)),
        "uptime": Text(format_uptime(service.uptime_s), style=palette.muted),
        "latency": Text(format_latency(service.latency_ms), style=palette.tone(latency_tone)),
        "issues": issues_text(service, palette, spell_out=issues_width >= ROOT_CAUSE_WIDTH),
    }


def _health_word(health: str) -> str:
    """`unknown` on most rows is noise; a dash says "not known" more quietly."""
    return "—" if health == "unknown" else health


def _name_style(service: ServiceStatus, palette: StatusPalette, highlighted: bool) -> Style:
    """Blast-radius rows are reversed (visible without colour); root causes are bold."""
    if highlighted:
        return palette.warn + Style(reverse=True, bold=True)
    return palette.bad if service.root_cause else Style()


def issues_text(service: ServiceStatus, palette: StatusPalette, spell_out: bool = True) -> Text:
    """Issues in words, the root-cause mark first so it survives truncation.

    In a narrow Issues column the mark shrinks to its glyph: the issue itself matters more.
    """
    text = Text(no_wrap=True, overflow="ellipsis")
    if service.root_cause:
        text.append(ROOT_CAUSE_TEXT if spell_out else ROOT_CAUSE_GLYPH, style=palette.bad)
        if service.issues:
            text.append(" · " if spell_out else " ")
    text.append(safe_str("; ".join(service.issues), 1000))  # said by services: escapes, secrets
    return text


def tier_cells(
    tier: str, members: Sequence[ServiceStatus], palette: StatusPalette
) -> dict[str, Text]:
    """A tier header row: the tier's name and how many of its services are operational."""
    up = sum(1 for s in members if s.operational)
    tone: Tone = "ok" if up == len(members) else ("bad" if up == 0 else "warn")
    return {
        "service": Text(safe_str(tier.upper(), 200), style=palette.info),
        "state": Text(f"{up}/{len(members)} up", style=palette.tone(tone)),
    }


def matches(service: ServiceStatus, query: str) -> bool:
    """Case-insensitive match on name, tier, state or issue text; every word must match."""
    haystack = " ".join(
        (service.name, service.tier, service.state.value, service.state.label, *service.issues)
    ).lower()
    if service.root_cause:
        haystack += " " + ROOT_CAUSE_TEXT
    return all(word in haystack for word in query.lower().split())


def ordered_services(status: StackStatus, query: str, mode: str,
                     usage: UsageBoard | None = None) -> list[ServiceStatus]:
    """The services to show, filtered by `query` and ordered by sort `mode`."""
    tiers = {tier: i for i, tier in enumerate(status.tiers)}
    tier_rank = lambda s: tiers.get(s.tier, len(tiers))  # noqa: E731
    position = {s.name: i for i, s in enumerate(status.services)}
    keys = {
        "tier": lambda s: (tier_rank(s), position[s.name]),
        "state": lambda s: (s.state.severity, not s.root_cause, tier_rank(s), position[s.name]),
        "name": lambda s: s.name,
        "latency": lambda s: (s.latency_ms is None, -(s.latency_ms or 0.0), s.name),
        "cpu": lambda s: (-sort_value(usage, s.name, "cpu"), s.name),
        "memory": lambda s: (-sort_value(usage, s.name, "memory"), s.name),
    }
    shown = [s for s in status.services if matches(s, query)]
    return sorted(shown, key=keys[mode])


def row_plan(status: StackStatus, query: str, mode: str,
             usage: UsageBoard | None = None) -> list[tuple[str, str | None]]:
    """Rows in display order as (row key, tier of a header row or None for a service).

    Sorted by tier, each tier gets a header row, like the seeds' hand-kept matrix; the other
    sort orders are flat lists, because grouping would hide what they sort by.
    """
    services = ordered_services(status, query, mode, usage)
    if mode != "tier":
        return [(s.name, None) for s in services]
    plan: list[tuple[str, str | None]] = []
    current: str | None = None
    for s in services:
        if s.tier != current:
            current = s.tier
            plan.append((TIER_ROW_PREFIX + s.tier, s.tier))
        plan.append((s.name, None))
    return plan
