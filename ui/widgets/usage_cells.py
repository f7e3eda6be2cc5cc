"""Resource usage as text: table cells (CPU, memory), sparklines, and the jitter rule.

Pure functions over `console.stats` figures, shared by the matrix's CPU and Mem columns,
the detail screen and the resources screen. Tones follow the seeds' success metrics:
memory over 80 % of its limit and CPU over 70 % of its limit (or of a core without one)
are warnings, over 95 % bad.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from console.stats import ServiceUsage, Usage, format_bytes, format_percent
from ui.widgets.status_style import StatusPalette, Tone

BARS = "▁▂▃▄▅▆▇█"
CPU_WARN, MEMORY_WARN, BAD = 70.0, 80.0, 95.0
# A figure that moves less than this keeps its cell: a calm console repaints nothing.
CPU_STEADY_POINTS = 0.5
CPU_STEADY_SHARE = 0.25
MEMORY_STEADY_SHARE = 0.05
MEMORY_STEADY_BYTES = 1 << 20  # a small process's resident set breathes by many KiB


def sparkline(values: Sequence[float], width: int, ceiling: float | None = None,
              floor: float = 0.0) -> str:
    """The last `width` values as block characters, from `floor` to `ceiling` (or the max)."""
    if width <= 0:
        return ""
    shown = list(values)[-width:]
    if not shown:
        return " " * width
    top = (ceiling if ceiling else max(shown)) - floor
    if top <= 0:
        return (BARS[0] * len(shown)).rjust(width)
    bars = "".join(BARS[max(0, min(len(BARS) - 1, int((v - floor) / top * (len(BARS) - 1)
                                                     + 0.5)))] for v in shown)
    return bars.rjust(width)


def cpu_tone(usage: Usage) -> Tone:
    share = usage.cpu_limit_percent if usage.cpu_limit_percent is not None \
        else usage.cpu_percent
    return _tone(share, CPU_WARN)


def memory_tone(usage: Usage) -> Tone:
    return _tone(usage.memory_percent, MEMORY_WARN)


def _tone(share: float | None, warn: float) -> Tone:
    if share is None:
        return "muted"
    return "bad" if share >= BAD else ("warn" if share >= warn else "ok")


def cpu_text(usage: Usage) -> str:
    text = format_percent(usage.cpu_percent)
    if usage.cpu_limit_percent is not None:
        text += f" ({format_percent(usage.cpu_limit_percent)} of limit)"
    return text


def memory_text(usage: Usage, with_limit: bool = True) -> str:
    """'120M', or '120M 47%' with a limit ('120M / 256M (47%)' when `with_limit`)."""
    text = format_bytes(usage.memory)
    if usage.memory_percent is not None:
        if with_limit:
            return f"{text} / {format_bytes(usage.memory_limit)} " \
                   f"({format_percent(usage.memory_percent)})"
        return f"{text} {usage.memory_percent:.0f}%"
    return text


def usage_cells(usage: ServiceUsage | None, palette: StatusPalette) -> dict[str, Text]:
    """The matrix's CPU and Mem cells of one service ('—' while nothing is measured)."""
    if usage is None:
        return {"cpu": Text("—", style=palette.muted), "mem": Text("—", style=palette.muted)}
    total = usage.total
    return {
        "cpu": Text(format_percent(total.cpu_percent), style=palette.tone(cpu_tone(total)),
                    justify="right"),
        "mem": Text(memory_text(total, with_limit=False),
                    style=palette.tone(memory_tone(total)), justify="right"),
    }


def steady(shown: Usage | None, new: Usage | None) -> bool:
    """True when `new` differs from the figures on screen by jitter only."""
    if shown is None or new is None:
        return shown is new
    return _close(shown.cpu_percent, new.cpu_percent, CPU_STEADY_POINTS, CPU_STEADY_SHARE) \
        and _close(shown.memory, new.memory, MEMORY_STEADY_BYTES, MEMORY_STEADY_SHARE) \
        and shown.memory_limit == new.memory_limit


def _close(a: float | None, b: float | None, points: float, share: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= max(points, share * abs(a))


def resources_text(usage: ServiceUsage | None, palette: StatusPalette, width: int = 40,
                   unavailable: str = "") -> Text:
    """The detail screen's section: sparklines of CPU and memory, then each replica."""
    if usage is None:
        why = unavailable or "not measured: nothing running, or the first sample is due"
        return Text(why, style=palette.muted)
    total = usage.total
    text = Text()
    text.append("CPU  ", style=palette.muted)
    text.append(sparkline(usage.cpu_history, width), style=palette.tone(cpu_tone(total)))
    text.append(f"  {cpu_text(total)}\n")
    text.append("Mem  ", style=palette.muted)
    floor = 0.9 * min(usage.memory_history) if usage.memory_history else 0.0
    text.append(sparkline(usage.memory_history, width, floor=floor),
                style=palette.tone(memory_tone(total)))
    text.append(f"  {memory_text(total)}\n")
    text.append("Net  ", style=palette.muted)
    text.append(_io(total.net_rx, total.net_tx, "rx", "tx", "host network: no own counters"))
    text.append("   Block  ", style=palette.muted)
    text.append(_io(total.block_read, total.block_write, "read", "written", "not counted"))
    if len(usage.replicas) > 1 or (usage.replicas and usage.replicas[0].name != total.name):
        for replica in usage.replicas:
            text.append(f"\n  {replica.name}", style=palette.info)
            text.append(f"  cpu {cpu_text(replica)}  mem {memory_text(replica)}")
    return text


def _io(first: int | None, second: int | None, a: str, b: str, missing: str) -> str:
    if first is None and second is None:
        return missing
    return f"{format_bytes(first)} {a} / {format_bytes(second)} {b}"
