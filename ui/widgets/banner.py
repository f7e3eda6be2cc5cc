"""The degraded-mode banner: one line saying the runtime is gone and when we retry.

When Docker (or the Kubernetes API) drops away the console keeps working on its last
snapshot; the banner tells the operator that what they see is stale, why, and when the
next attempt happens. It disappears as soon as the link is back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from console.masking import safe_str

_RUNTIME_LABELS = {
    "docker": "Docker daemon",
    "kubernetes": "Kubernetes API",
    "k8s": "Kubernetes API",
}


@dataclass(frozen=True)
class LinkState:
    """The runtime link as the UI sees it: `problem` empty means connected."""

    problem: str = ""
    runtime: str = "docker"
    retry_at: datetime | None = None

    @property
    def down(self) -> bool:
        return bool(self.problem)


def runtime_label(runtime: str) -> str:
    return _RUNTIME_LABELS.get(runtime, f"{runtime} runtime")


class DegradedBanner(Widget):
    """Shown only while the runtime is unreachable; counts down to the next retry."""

    DEFAULT_CSS = """
    DegradedBanner {
        height: 1;
        padding: 0 1;
        background: $status-bad;
        color: $background;
        text-style: bold;
        display: none;
    }
    DegradedBanner.-down {
        display: block;
    }
    """

    link: reactive[LinkState] = reactive(LinkState)

    def __init__(self, clock: Callable[[], datetime] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock or (lambda: datetime.now(UTC))

    def on_mount(self) -> None:
        self.set_interval(1, self._tick)

    def _tick(self) -> None:
        if self.link.down:
            self.refresh()

    def watch_link(self, link: LinkState) -> None:
        self.set_class(link.down, "-down")

    def render(self) -> Text:
        """Shorten the reason, never the countdown: when we retry matters most."""
        link = replace(self.link, problem=safe_str(self.link.problem))  # a daemon's words
        label = f"{runtime_label(link.runtime)} unreachable"
        # The runtime's own message often says it already ("Docker daemon unreachable at
        # unix:///...: connection refused"): say it once.
        head = "" if link.problem.lower().startswith(label.lower()) else f"{label}: "
        tail = self._countdown(link)
        room = max(8, self.content_size.width - cell_len(head) - cell_len(tail))
        return Text(head + shorten_reason(link.problem, room) + tail, no_wrap=True,
                    overflow="ellipsis")

    def _countdown(self, link: LinkState) -> str:
        if link.retry_at is None:
            return ""
        seconds = math.ceil((link.retry_at - self._clock()).total_seconds())
        return f" · retrying in {seconds}s" if seconds > 0 else " · retrying now"


def shorten_reason(reason: str, room: int) -> str:
    """Fit `reason` in `room` cells, keeping its last clause (the cause, e.g. `connection
    refused`) and cutting the middle (usually a long socket path or URL)."""
    if len(reason) <= room:
        return reason
    _, sep, cause = reason.rpartition(": ")
    if sep and len(cause) + 2 < room // 2:
        keep = room - len(cause) - 3
        return reason[:keep] + "…: " + cause
    return reason[: room - 1] + "…"
