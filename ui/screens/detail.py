"""One service in full: probes, container facts, dependencies, blast radius, last logs.

Opened with `enter` from the matrix. It follows the app's live status, so a refresh
updates it in place; the log tail is loaded once in a worker, and a runtime that cannot
give logs becomes a line of text, never a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from console.masking import safe_text
from console.runtime.base import LogLine
from console.runtime.usage import UsageSource
from console.stats import UsageBoard
from console.status.types import ServiceStatus, StackStatus
from ui.app_hooks import release_app_hooks
from ui.host import host
from ui.verbs import bindings
from ui.widgets.key_footer import KeyFooter
from ui.widgets.service_facts import (
    LOG_TAIL,
    container_table,
    dependencies_text,
    dependents_of,
    issues_renderable,
    log_text,
    names_text,
    probes_text,
    summary_text,
)
from ui.widgets.status_style import StatusPalette
from ui.widgets.usage_cells import resources_text

if TYPE_CHECKING:
    from ui.host import HostApp

NARROW_WIDTH = 110


class DetailScreen(Screen[None]):
    """Everything the console knows about one service."""

    CSS_PATH = "detail.tcss"
    BINDINGS = [  # the per-service verbs from ui.verbs; the footer has room for Scale
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        *bindings("detail", ["logs", "restart", "pause_restarts", "describe", "shell", "stop",
                             "kill", "start", "scale", "delete_pod", "previous_logs",
                             "probe_inside"], shown=["logs", "restart", "pause_restarts",
                                                     "scale"]),
    ]

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._logs: list[LogLine] | str = "loading logs…"

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    def compose(self) -> ComposeResult:
        # Narrow or not from the start: a class set at the first resize restyled and laid
        # out the whole screen a second time before it settled (~40 ms at 80x24).
        self.set_class(self.app.size.width < NARROW_WIDTH, "-narrow")
        yield Static(id="detail-summary")
        with VerticalScroll(id="detail-scroll"):
            yield from _section("Issues", "detail-issues")
            yield from _section("Probes", "detail-probes")
            if isinstance(self.vextrus.ctx.runtime, UsageSource):
                yield from _section("Resources", "detail-resources")
            with Horizontal(id="detail-columns"):
                with Vertical(classes="detail-column"):
                    yield from _section("Container", "detail-container")
                with Vertical(classes="detail-column"):
                    yield from _section("Dependencies", "detail-deps")
                    yield from _section("Dependents", "detail-dependents")
                    yield from _section("Blast radius", "detail-blast")
            yield from _section(f"Last {LOG_TAIL} log lines", "detail-logs")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "status", self._show, init=True)
        self.app.theme_changed_signal.subscribe(
            self, lambda _theme: self._show(self.vextrus.status)
        )
        self._load_logs()
        self.watch(self.app, "usage", self._show_usage, init=True)

    def on_unmount(self) -> None:
        release_app_hooks(self)

    def _show_usage(self, board: UsageBoard | None) -> None:
        """CPU and memory sparklines, net and block I/O, each replica (widgets.usage_cells)."""
        if not isinstance(self.vextrus.ctx.runtime, UsageSource):
            return
        if board is None:
            text = Text("not measured yet", style=StatusPalette.for_app(self.app).muted)
        else:
            width = max(10, min(60, self.size.width - 40))
            text = resources_text(board.get(self.service), StatusPalette.for_app(self.app),
                                  width, board.unavailable)
        self.query_one("#detail-resources", Static).update(text)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(self.size.width < NARROW_WIDTH, "-narrow")

    def _show(self, status: StackStatus | None) -> None:
        """Re-render every section from the latest snapshot."""
        if status is None:
            return
        try:
            service = status.get(self.service)
        except KeyError:
            self.query_one("#detail-summary", Static).update(
                safe_text(f"{self.service}: not in the stack"))
            return
        palette = StatusPalette.for_app(self.app)
        updates = {
            "#detail-summary": summary_text(service, palette),
            "#detail-issues": issues_renderable(service, palette),
            "#detail-probes": probes_text(service, palette),
            "#detail-container": container_table(service.container, palette),
            "#detail-deps": dependencies_text(service, status, palette),
            "#detail-dependents": names_text(dependents_of(service.name, status), palette),
            "#detail-blast": _blast_text(service, status, palette),
            "#detail-logs": log_text(self._logs, palette),
        }
        for selector, renderable in updates.items():
            self.query_one(selector, Static).update(renderable)

    @work(group="detail-logs", exclusive=True, exit_on_error=False)
    async def _load_logs(self) -> None:
        """Tail the service's log through the runtime; failures become the text shown."""
        self._logs = await fetch_logs(self.vextrus, self.service)
        palette = StatusPalette.for_app(self.app)
        self.query_one("#detail-logs", Static).update(log_text(self._logs, palette))

    def action_logs(self) -> None:
        self.vextrus.open_screen("logs", services=[self.service])

    def action_restart(self) -> None:
        self.vextrus.request_restart(self.service)

    def action_pause_restarts(self) -> None:
        self.vextrus.request_pause_restarts(self.service)

    def action_cluster(self, verb: str) -> None:
        self.vextrus.request_cluster(verb, self.service)

    def action_service_op(self, verb: str) -> None:
        run_service_op(self.vextrus, verb, self.service)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.vextrus.on_cluster if action == "cluster" else True


async def fetch_logs(app: HostApp, name: str) -> list[LogLine] | str:
    """The last LOG_TAIL lines, or one line of text saying why there are none."""
    runtime = app.ctx.runtime
    if runtime is None:
        return "no runtime: logs are not available"
    try:
        service = app.ctx.stack.service(name)
        return [line async for line in runtime.logs(service, tail=LOG_TAIL, follow=False)]
    except Exception as exc:  # any runtime failure is shown, not raised
        return f"logs unavailable: {str(exc) or type(exc).__name__}"


def run_service_op(app: HostApp, verb: str, service: str) -> None:
    """describe / shell / stop / kill / start, shared by the matrix and this screen."""
    if verb == "describe":
        app.request_describe(service)
    elif verb == "shell":
        app.request_shell(service)
    else:
        app.request_lifecycle(service, verb)


def _section(title: str, body_id: str) -> ComposeResult:
    yield Static(title, classes="section-title")
    yield Static(id=body_id, classes="section-body")


def _blast_text(service: ServiceStatus, status: StackStatus, palette: StatusPalette) -> Text:
    """Failing: who is down because of it. Healthy: who would go if it failed (never a bare
    "none" beside a list of dependents)."""
    if service.blast_radius:
        return names_text(service.blast_radius, palette)
    radius = status.radius_if_failing(service.name)
    if not radius:
        return Text("none: nothing depends on it", style=palette.muted)
    text = Text("none now; if it failed: ", style=palette.muted)
    return text.append_text(names_text(radius, palette))
