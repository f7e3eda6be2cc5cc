"""The load screen: an open-loop load test on one service, live, judged against the seeds.

It shows what will run (target, rate, duration, the thresholds) and waits for `enter`;
a production context asks for its name typed out first. While it runs, the panel is
redrawn from the generator's snapshot once a second (throughput, requests, errors by kind,
p50/p90/p95/p99/max); at the end, each threshold says PASS or FAIL. `esc` stops a run
(the partial result is kept and marked cancelled) or goes back. The result is saved for
the readiness scorecard and journaled, as the CLI's `load` does.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ProgressBar, Static

from actions.load import LoadTest, production_context
from console.loadgen import (
    LoadError,
    LoadResult,
    LoadSnapshot,
    LoadSpec,
    resolve_target,
    run_loop,
)
from console.masking import safe_str
from ui.host import host
from ui.screens.confirm import ConfirmScreen
from ui.widgets.key_footer import KeyFooter
from ui.widgets.status_style import StatusPalette

if TYPE_CHECKING:
    from ui.host import HostApp

PERCENTILES = ("p50", "p90", "p95", "p99", "max")


class LoadTicked(Message):
    """The generator's snapshot of the run so far."""

    def __init__(self, snapshot: LoadSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class LoadFinished(Message):
    """The run ended (finished or cancelled) with this result."""

    def __init__(self, result: LoadResult) -> None:
        super().__init__()
        self.result = result


def render_live(snap: LoadSnapshot, palette: StatusPalette) -> Text:
    """The running panel: pace, counts, errors, percentiles so far."""
    text = Text()
    errors = sum(snap.errors.values())
    text.append(f"elapsed {snap.elapsed:5.1f}s of {snap.duration:g}s   "
                f"throughput {snap.throughput:6.0f} req/s\n")
    text.append(f"requests {snap.completed}   ok {snap.ok}   ")
    text.append(f"errors {errors}", style=palette.bad if errors else palette.muted)
    text.append(f"\nin flight {snap.in_flight}   backlog {snap.backlog}   "
                f"connections {snap.connections}\n\n")
    text.append_text(_latency_row(snap.latency_ms, palette))
    text.append_text(_errors(snap.errors, palette))
    return text


def render_result(result: LoadResult, palette: StatusPalette) -> Text:
    """The finished panel: totals, percentiles, errors by kind, each threshold judged."""
    text = Text()
    state = "cancelled" if result.cancelled else "finished"
    text.append(f"{state} after {result.elapsed_s:.1f}s   "
                f"throughput {result.throughput_rps:.0f} req/s\n")
    text.append(f"requests {result.requests}   ok {result.ok}   ")
    text.append(f"errors {result.error_count} ({result.error_rate:.1%})",
                style=palette.bad if result.error_count else palette.muted)
    text.append(f"   connections {result.connections}\n\n")
    text.append_text(_latency_row(result.latency_ms, palette))
    if result.service_ms:
        text.append("service time (from the send)  " + "  ".join(
            f"{k} {result.service_ms.get(k, 0):.1f}" for k in ("p50", "p95", "p99")) + " ms\n",
            style=palette.muted)
    text.append_text(_errors(result.errors, palette))
    text.append("\n")
    for verdict in result.verdicts:
        style = palette.ok if verdict.passed else palette.bad
        text.append(f"{'PASS' if verdict.passed else 'FAIL'}  ", style=style)
        text.append(f"{verdict.threshold}  (measured {verdict.value:.1f})\n")
    return text


def _latency_row(latency: dict[str, float], palette: StatusPalette) -> Text:
    text = Text("latency (ms)  ", style=palette.muted)
    for key in PERCENTILES:
        text.append(f"{key} ", style=palette.muted)
        text.append(f"{latency.get(key, 0.0):.1f}   ")
    text.append("\n")
    return text


def _errors(errors: dict[str, int], palette: StatusPalette) -> Text:
    if not errors:
        return Text()
    text = Text("errors by kind  ", style=palette.muted)
    ranked = sorted(errors.items(), key=lambda kv: -kv[1])
    text.append(safe_str(", ".join(f"{kind}: {n}" for kind, n in ranked)), style=palette.bad)
    text.append("\n")
    return text


class LoadScreen(Screen[None]):
    """`enter` starts, `esc` stops or goes back; built by name with keyword arguments."""

    CSS_PATH = "load.tcss"
    BINDINGS = [
        Binding("enter", "start", "Start", id="load.start"),
        Binding("escape", "stop_or_back", "Stop / back", id="load.back"),
    ]

    def __init__(self, target: str = "", rate: float | None = 1100.0,
                 users: int | None = None, duration: float = 30.0) -> None:
        super().__init__()
        self.target_text = target
        self.rate, self.users, self.duration = rate, users, duration
        self.spec: LoadSpec | None = None
        self.problem = ""
        self.running = False
        self.result: LoadResult | None = None
        self._cancel = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    def compose(self) -> ComposeResult:
        yield Static(id="load-title")
        yield ProgressBar(total=100, show_eta=False, id="load-bar")
        yield Static(id="load-panel")
        yield KeyFooter()

    def on_mount(self) -> None:
        try:
            target = resolve_target(self.vextrus.ctx.stack, self.target_text)
            self.spec = LoadSpec(target, duration=self.duration,
                                 rate=None if self.users else self.rate, users=self.users)
        except LoadError as exc:
            self.problem = str(exc)
        self._show_plan()

    def _title(self, state: str) -> None:
        what = self.spec.target.url if self.spec else safe_str(self.target_text or "-")
        self.query_one("#load-title", Static).update(Text(f"load · {what} · {state}"))

    def _show_plan(self) -> None:
        palette = StatusPalette.for_app(self.app)
        panel = Text()
        if self.spec is None:
            self._title("cannot run")
            panel.append(safe_str(self.problem), style=palette.bad)
            self.query_one("#load-panel", Static).update(panel)
            return
        self._title("ready")
        spec = self.spec
        pace = (f"{spec.rate:g} req/s, open loop: requests leave on schedule, latency counts "
                "from when each was due" if spec.rate is not None else
                f"{spec.users} users, closed loop: each waits for its answer")
        panel.append(f"target   {spec.target.url}\npace     {pace}\n"
                     f"for      {spec.duration:g}s\n\n")
        panel.append("thresholds (seed 002)\n", style=palette.muted)
        for threshold in self.spec.thresholds:
            panel.append(f"  {threshold.text}\n")
        panel.append("\nenter starts · esc back", style=palette.muted)
        self.query_one("#load-panel", Static).update(panel)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return self.spec is not None and not self.running
        return True

    def action_start(self) -> None:
        if self.spec is None or self.running:
            return
        word = production_context(self.vextrus.ctx)
        if word is None:
            self._start()
            return
        self.app.push_screen(ConfirmScreen(
            f"load {self.spec.target.url}?", [self.spec.describe(),
                                              f"context {word!r} is production"], typed=word),
            lambda yes: self._start() if yes else None)

    def _start(self) -> None:
        self.running = True
        self.result = None
        self._loop = None
        self._title("running · esc stops")
        self.refresh_bindings()
        self._run()

    @work(group="load", exclusive=True, exit_on_error=False, thread=True)
    def _run(self) -> None:
        """In a thread with its own event loop: the screen's rendering must not delay a
        request, or the latency measured from the intended time would include it."""
        assert self.spec is not None
        ctx = self.vextrus.ctx
        state_dir = ctx.journal.path.parent if ctx.journal is not None else None
        test = LoadTest(self.spec, ctx.journal, state_dir)

        def ticked(snap: LoadSnapshot) -> None:
            self.post_message(LoadTicked(snap))

        async def main() -> LoadResult:
            self._loop = asyncio.get_running_loop()
            return await test.run(ticked, self._cancel)

        self._cancel = asyncio.Event()
        result = run_loop(main())
        self.post_message(LoadFinished(result))

    def on_load_ticked(self, message: LoadTicked) -> None:
        if not self.running:
            return
        snap = message.snapshot
        self._title(f"running {snap.elapsed:.0f}s of {snap.duration:g}s · esc stops")
        self.query_one(ProgressBar).update(progress=100 * snap.fraction)
        self.query_one("#load-panel", Static).update(
            render_live(snap, StatusPalette.for_app(self.app)))

    def on_load_finished(self, message: LoadFinished) -> None:
        self.show_result(message.result)

    def show_result(self, result: LoadResult) -> None:
        """The end state (also how snapshot tests show a finished run)."""
        self.running = False
        self.result = result
        verdict = "thresholds passed" if result.passed else "thresholds failed"
        self._title("cancelled" if result.cancelled else verdict)
        self.query_one(ProgressBar).update(progress=100)
        self.query_one("#load-panel", Static).update(
            render_result(result, StatusPalette.for_app(self.app)))
        self.refresh_bindings()

    def action_stop_or_back(self) -> None:
        if self.running:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._cancel.set)
            self._title("stopping…")
        else:
            self.app.pop_screen()
