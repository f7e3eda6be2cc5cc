"""The drill screen: plan and blast radius, confirmation, the fault live, times, restore.

Opened on a service with a kind (kill, latency, oom, disk). The plan and the blast radius
are on screen before anything happens and in the confirmation; read-only mode refuses
before asking. While the drill runs, its events fill the log and the measures line shows
time to detection, to recovery and the MTTR as they become known. `esc` cancels: the drill
restores what it changed before it ends (so does leaving the console: the worker's
cancellation runs the same restore). A kill that no restart policy undoes asks whether to
restart (the guided restart).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from actions.base import ActionError, CancelToken, Progress
from actions.drill.engine import Drill, DrillOptions
from actions.drill.kinds import make_drill
from actions.drill.report import DrillReport
from actions.drill.undo import drill_state_dir
from console.masking import safe_str
from ui.host import host
from ui.screens.confirm import ConfirmScreen
from ui.widgets.action_progress import ActionProgress
from ui.widgets.key_footer import KeyFooter
from ui.widgets.status_style import StatusPalette

if TYPE_CHECKING:
    from ui.host import HostApp


class DrillProgressed(Message):
    def __init__(self, event: Progress) -> None:
        super().__init__()
        self.event = event


class DrillFinished(Message):
    def __init__(self, report: DrillReport) -> None:
        super().__init__()
        self.report = report


def render_measures(report: DrillReport | None, radius: list[str], fault: str,
                    palette: StatusPalette, width: int = 80) -> Text:
    """Blast radius and fault, then detection, recovery and MTTR once they are known; one
    line each, the blast radius shortened to fit (`+N more`)."""
    text = Text()
    text.append(f"blast radius ({len(radius)}) ", style=palette.muted)
    text.append(safe_str(_fit(radius, width - 20)), style=palette.warn if radius else "")
    text.append("\nfault ", style=palette.muted)
    text.append(safe_str(fault))
    if report is None:
        return text

    def secs(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}s"

    text.append("\ndetected ", style=palette.muted)
    text.append(secs(report.detected_s) + "  ")
    text.append("recovered ", style=palette.muted)
    text.append(secs(report.recovered_s) + "  ")
    text.append("MTTR ", style=palette.muted)
    text.append(secs(report.mttr_s), style="bold")
    if report.finished_at:
        text.append("  ")
        text.append(safe_str(report.outcome), style=palette.ok if report.passed else palette.bad)
        text.append("  restored ", style=palette.muted)
        text.append("yes" if report.restored else "NO",
                    style=palette.ok if report.restored else palette.bad)
    return text


def _fit(names: list[str], room: int) -> str:
    """As many names as fit in `room` columns, then `+N more`."""
    if not names:
        return "none"
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = f", +{rest} more" if rest else ""
        if shown and len(", ".join([*shown, name]) + tail) > room:
            return ", ".join(shown) + f", +{len(names) - len(shown)} more"
        shown.append(name)
    return ", ".join(shown)


class DrillScreen(Screen[None]):
    """One drill; built by name with keyword arguments (kind, service)."""

    CSS_PATH = "drill.tcss"
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel (restores) / back", id="drill.back"),
        Binding("q", "quit_after_restore", "Quit (restores first)", id="drill.quit"),
    ]

    def __init__(self, kind: str = "kill", service: str = "",
                 options: DrillOptions | None = None) -> None:
        super().__init__()
        self.kind, self.service, self.options = kind, service, options
        self.drill: Drill | None = None
        self.problem = ""
        self.cancel = CancelToken()
        self.running = False
        self.report: DrillReport | None = None
        self.quit_when_done = False

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    def compose(self) -> ComposeResult:
        ctx = self.vextrus.ctx
        try:
            self.drill = make_drill(self.kind, ctx.stack, ctx.runtime, self.service,
                                    self.options, journal=ctx.journal,
                                    state_dir=drill_state_dir(ctx.journal),
                                    ask_restart=self._ask_restart)
        except ActionError as exc:
            self.problem = str(exc)
        yield Static(id="drill-title")
        yield Static(id="drill-measures")
        yield ActionProgress(self.drill.plan() if self.drill else [], id="drill-progress")
        yield KeyFooter()

    def _title(self, state: str) -> None:
        name = f"drill {self.kind} · {self.service}"
        self.query_one("#drill-title", Static).update(Text(safe_str(f"{name} · {state}")))

    def _measures(self) -> None:
        radius = self.drill.blast_radius() if self.drill else []
        fault = self.drill.fault.describe() if self.drill else "-"
        self.query_one("#drill-measures", Static).update(
            render_measures(self.report, radius, fault, StatusPalette.for_app(self.app),
                            self.app.size.width))

    @property
    def progress(self) -> ActionProgress:
        return self.query_one(ActionProgress)

    def on_mount(self) -> None:
        ctx = self.vextrus.ctx
        self._measures()
        if self.drill is None:
            self._title("cannot run · esc back")
            self.progress.show_plan_only(self.problem)
            return
        if ctx.read_only:
            why = ctx.read_only_reason or "read-only mode"
            self._title("refused · esc back")
            self.progress.show_plan_only(f"{self.drill.name}: refused: {why}; nothing was done")
            return
        self._title("waiting for confirmation")
        self.progress.show_plan_only("waiting for confirmation")
        lines = [f"- {s.title}" for s in self.drill.plan()]
        lines.append(f"blast radius: {', '.join(self.drill.blast_radius()) or 'none'}")
        if ctx.confirm_word:
            lines.append(f"context {ctx.confirm_word!r} is production")
        self.app.push_screen(ConfirmScreen(f"{self.drill.name} {self.service}?", lines,
                                           typed=ctx.confirm_word), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if not yes:
            self._title("not started · esc back")
            self.progress.show_plan_only("cancelled before it started: nothing was done")
            return
        self.running = True
        self._title("running · esc cancels and restores")
        self.progress.show_plan_only("running")
        self._run()

    @work(group="drill", exclusive=True, exit_on_error=False)
    async def _run(self) -> None:
        assert self.drill is not None
        self.report = self.drill.report
        def progressed(event: Progress) -> None:
            self.post_message(DrillProgressed(event))

        report = await self.drill.execute(self.cancel, progressed)
        self.post_message(DrillFinished(report))

    async def _ask_restart(self, question: str) -> bool:
        """The guided restart: a confirmation on top of the drill, answered by the operator."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(yes: bool | None) -> None:
            if not answer.done():
                answer.set_result(bool(yes))

        self.app.push_screen(ConfirmScreen(question, ["the container is started again; the "
                                                      "drill times the recovery"]), answered)
        return await answer

    def on_drill_progressed(self, message: DrillProgressed) -> None:
        self.progress.apply(message.event)
        self._measures()

    def on_drill_finished(self, message: DrillFinished) -> None:
        self.show_report(message.report)
        if self.quit_when_done:
            self.app.exit()
            return
        self.vextrus.request_refresh()

    def show_report(self, report: DrillReport) -> None:
        """The end state (also how snapshot tests show a finished drill)."""
        self.running = False
        self.report = report
        saved = self.drill.saved if self.drill else None
        where = f" · report {saved.name}" if saved else ""
        self._title(f"finished: {report.outcome}{where} · esc back")
        self._measures()

    def action_quit_after_restore(self) -> None:
        """Quitting mid-drill cancels it and leaves once everything is restored."""
        if not self.running:
            self.app.exit()
            return
        self.quit_when_done = True
        self.action_cancel_or_back()
        self._title("quitting once restored…")

    def action_cancel_or_back(self) -> None:
        if self.running:
            self.cancel.cancel()
            self._title("cancelling: restoring…")
            self.progress.show_plan_only("cancelling: restoring what the drill changed…")
        else:
            self.app.pop_screen()


def palette_entries(app: HostApp) -> list[tuple[str, str, Callable[[], Any]]]:
    """Command palette: load test and drills on the service selected (matrix row, detail)."""
    from ui.screens.kubernetes import selected_service

    def open_on(name: str, **kwargs: object) -> Callable[[], None]:
        def go() -> None:
            service = selected_service(app)
            if service is None:
                app.notify("select a service first (matrix row or detail)", severity="warning")
                return
            key = "target" if name == "load" else "service"
            app.open_screen(name, **{key: service, **kwargs})

        return go

    entries = [("Load test the selected service",
                "open loop, p50-p99, errors, seed 002's thresholds (p95 < 300 ms, > 1000 req/s)",
                open_on("load"))]
    for kind, help_text in (
        ("kill", "SIGKILL its main process; time detection and recovery (MTTR)"),
        ("latency", "add delay through the console's forwarder; probe latency and load p95"),
        ("oom", "a memory hog from its image under its limit, until OOMKilled"),
        ("disk", "fill a tmpfs or volume of it, then free it"),
    ):
        entries.append((f"Drill: {kind} the selected service", help_text,
                        open_on("drill", kind=kind)))
    return entries
