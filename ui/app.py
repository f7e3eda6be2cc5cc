"""The Textual App: owns the live status, runs the I/O workers, routes between screens.

The app is the only place that talks to the monitor. Workers do the I/O (a refresh worker
and an events worker); their results arrive as messages and land in two reactives,
`status` and `link`, which the screens watch (data down, messages up). Refreshes never
overlap: at most one runs and at most one waits, however many runtime events arrive.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.driver import Driver
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from actions.readiness.model import Scorecard
from console.forwarder import ForwarderManager
from console.masking import safe_str
from console.runtime.base import StreamStatus
from console.runtime.usage import UsageReport, UsageSource
from console.stats import SAMPLE_SECONDS, UsageBoard, UsageTracker
from console.status.types import StackStatus
from ui.idle_gc import CHECK_EVERY_S, IdleCollector
from ui.screens.help import HelpScreen, help_entries
from ui.screens.matrix import MatrixScreen
from ui.themes import BASE_TCSS, DEFAULT_THEME, register_themes, theme_names
from ui.themes.palettes import VEXTRUS_DARK
from ui.timer_guard import guard_timers
from ui.widgets.banner import LinkState

if TYPE_CHECKING:
    from console.factory import AppContext

# When every service is operational and the events stream is up, push carries the news and
# a full probe sweep every 15 s is enough: an idle console then costs well under 2% CPU.
CALM_POLL_SECONDS = 15.0

# Screens owned elsewhere, imported on first use: "module:Class". A screen is built with
# keyword arguments only (e.g. LogsScreen(services=["auth"])) and reads `app.ctx` / `app.status`.
SCREENS: dict[str, str] = {
    "graph": "ui.screens.graph:GraphScreen",
    "logs": "ui.screens.logs:LogsScreen",
    "timeline": "ui.screens.timeline:TimelineScreen",
    "workflows": "ui.screens.workflows:WorkflowsScreen",
    "load": "ui.screens.load:LoadScreen",
    "drill": "ui.screens.drill:DrillScreen",
    "resources": "ui.screens.resources:ResourcesScreen",
    "checklist": "ui.screens.checklist:ChecklistScreen",
    "detail": "ui.screens.detail:DetailScreen",
}
# The readiness checklist asks HTTP APIs, Kafka and PostgreSQL: once a minute is plenty for
# the score in the header (the checklist screen asks again on demand).
CHECKLIST_SECONDS = 60.0
# The screens' stylesheets are read this long after the first matrix (ui/stylesheets.py).
PRELOAD_CSS_AFTER_S = 0.5
CSS_QUIET_S = 0.3  # the CSS preload waits for this long without a key...
CSS_WAIT_S = 6.0  # ...but not longer than this in all


class ServicesRefreshed(Message):
    """A full refresh finished (posted by the refresh worker)."""

    def __init__(self, status: StackStatus) -> None:
        super().__init__()
        self.status = status


class RuntimeDisconnected(Message):
    """The runtime's event stream dropped; `reason` is one readable line."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class RuntimeReconnected(Message):
    """The runtime's event stream is back."""


class UsageSampled(Message):
    """A resource-usage round finished (posted by the usage worker)."""

    def __init__(self, board: UsageBoard) -> None:
        super().__init__()
        self.board = board


class VextrusCommands(Provider):
    """Command palette entries: every screen, filter, refresh, help, themes, quit."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = cast("VextrusApp", self.app)
        goto = [
            (f"Go to {name}", help_text, partial(app.open_screen, name))
            for name, help_text in (
                ("matrix", "the service matrix (home)"),
                ("graph", "the dependency graph"),
                ("logs", "logs of all services, merged"),
                ("timeline", "status transitions and events"),
                ("workflows", "Temporal workflows"),
                ("resources", "CPU, memory, network and block I/O of every service (m)"),
            )
        ]
        themes = [
            (f"Theme: {name}", "switch the colour theme", partial(app.action_set_theme, name))
            for name in theme_names()
        ]
        return [
            *goto,
            (
                "Filter services",
                "filter the matrix by name, tier, state or issue",
                app.action_filter,
            ),
            ("Refresh now", "run a full refresh of every service", app.action_refresh),
            ("Bring up the stack", "phased start-up, waiting on health", app.action_bringup),
            ("Pre-flight checks", "Docker, disk, memory, ports, vm.max_map_count",
             app.action_preflight),
            ("Port-proxy diagnose and fix", "host access to every service port",
             app.action_portproxy),
            ("Secrets: scan, generate, apply",
             "hardcoded secrets -> .env.production (0600) -> ${VAR} in compose",
             app.action_secrets),
            ("Stop all forwarders", "stop the port-proxy forwarders this console runs",
             app.action_stop_forwarders),
            *_cluster_commands(app),
            *_chaos_commands(app),
            ("Help", "every key binding of this screen", app.action_help),
            *themes,
            ("Quit", "leave the console", app.action_quit),
            *service_commands(app),
        ]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def _cluster_commands(app: VextrusApp) -> list[tuple[str, str, Callable[[], Any]]]:
    """Kubernetes only: the actions on the service selected (matrix row or detail)."""
    if not app.on_cluster:
        return []
    return [(f"Kubernetes: {title}", help_text, partial(app.request_cluster, verb))
            for verb, title, help_text in (
                ("scale", "scale the selected service", "set its replicas (x)"),
                ("delete_pod", "delete a pod of the selected service",
                 "its controller replaces it (ctrl+d)"),
                ("previous_logs", "logs of the previous container",
                 "the crashed run, like kubectl logs --previous (o)"),
                ("probe_inside", "probe inside a pod",
                 "the service's http and exec checks, run in a pod (i)"),
                ("container", "choose the container of the selected service",
                 "logs, exec and probes go to it, like kubectl -c (a sidecar listed first)"),
            )]


def service_commands(app: VextrusApp) -> list[tuple[str, str, Callable[[], Any]]]:
    """"restart auth", "shell auth", ...: every action on every service, with its key."""
    from ui.screens.service_ops import palette_entries

    return palette_entries(app)


def _chaos_commands(app: VextrusApp) -> list[tuple[str, str, Callable[[], Any]]]:
    """Load test and drills (kill, latency, oom, disk) on the selected service."""
    from ui.screens.drill import palette_entries

    return palette_entries(app)


class VextrusApp(App[None]):
    """The operations console."""

    TITLE = "Vextrus console"
    CSS_PATH = BASE_TCSS
    COMMANDS: ClassVar = {VextrusCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        # ctrl+c quits too (asking first while a guided action runs), even from an input
        Binding("ctrl+c", "quit_asking", "Quit", id="quit_ctrl_c", show=False, priority=True),
        Binding("m", "goto('resources')", "Resources", id="resources", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("colon", "command_palette", "Commands", id="command_palette"),
        Binding("ctrl+p", "command_palette", "Commands", id="command_palette_alt", show=False),
        Binding("g", "goto('graph')", "Graph", id="graph", show=False),
        Binding("L", "goto('logs')", "All logs", id="logs_all", show=False),
        Binding("t", "goto('timeline')", "Timeline", id="timeline", show=False),
        Binding("w", "goto('workflows')", "Workflows", id="workflows", show=False),
        Binding("ctrl+r,f5", "refresh", "Refresh", id="refresh", show=False),
        Binding("B", "bringup", "Bring up", id="bringup", show=False),
        Binding("F", "preflight", "Pre-flight", id="preflight", show=False),
        Binding("P", "portproxy", "Port-proxy", id="portproxy", show=False),
        Binding("S", "secrets", "Secrets", id="secrets", show=False),
        Binding("C", "goto('checklist')", "Checklist", id="checklist", show=False),
    ]

    MODES: ClassVar = {"matrix": MatrixScreen}
    DEFAULT_MODE = "matrix"

    # The App draws nothing itself: its screens and widgets take these (data_bind, watch)
    # and repaint what changed. A repainting reactive here redrew the whole screen at each
    # status (~40 KB to the terminal at 160x50 for one changed row).
    status: reactive[StackStatus | None] = reactive(None, repaint=False)
    link: reactive[LinkState] = reactive(LinkState, repaint=False)
    usage: reactive[UsageBoard | None] = reactive(None, repaint=False)  # once measured
    checklist: reactive[Scorecard | None] = reactive(None, repaint=False)  # seed 002's
    # The operator asked for a refresh (ctrl+r): the matrix says "refreshing…" until the
    # last refresh asked for has landed, so the key is answered even when nothing changed.
    refreshing_by_hand: reactive[bool] = reactive(False, repaint=False)

    def __init__(self, ctx: AppContext) -> None:
        guard_timers()  # before any timer: a toast's could freeze the loop (ui/timer_guard.py)
        super().__init__()
        self.ctx = ctx
        self.forwarders = ForwarderManager()
        self._refreshes = OneInFlight(self._refresh_worker)
        self._listings = OneInFlight(self._states_worker)
        self._probe_after_paint = False  # a runtime event's full refresh waits for its frame
        self._poll_timer: Timer | None = None
        self._polls_skipped = 0
        self._watching = False
        # Start-up's one-off work is done (the screens' stylesheets read): from here on a
        # frame draws only what changed. Tests that count what a frame draws wait for it.
        self.settled = False
        self.warmed_up = False  # the screens' modules imported and their widgets' CSS read
        self._css_waits = 0  # times the CSS preload waited for a pause in the keys
        self._usage = UsageTracker()
        self._idle_gc = IdleCollector()  # full collections wait for a pause in the keys
        self._sampling = False
        register_themes(self)
        self.theme = ctx.theme if self.get_theme(ctx.theme) else DEFAULT_THEME
        self.set_keymap(ctx.keymap)
        self.set_reactive(VextrusApp.link, LinkState(runtime=self._runtime_name()))

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, with an `esc` that does not wait for the input thread's next
        wake-up on Linux (ui/terminal_driver.py)."""
        from ui.terminal_driver import prompt_escape

        return prompt_escape(super().get_driver_class())

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Status colours for themes that do not define them (Textual's built-in ones)."""
        return {**super().get_theme_variable_defaults(), **VEXTRUS_DARK.variables}

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast crosses the untrusted-text boundary (screens' notify lands here).

        Messages quote service names, workflow ids and errors from services: they are shown
        literally (never markup: `[/oops]` would crash the toast), escape-free and masked.
        """
        super().notify(safe_str(message, 1000, multiline=True), title=safe_str(title, 200),
                       severity=severity, timeout=timeout, markup=False)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self._idle_gc.input_seen()
        await super().on_event(event)

    def on_load(self) -> None:
        """The first refresh starts before the screens are composed: the stack answers
        while Textual lays out and paints the first frame (cold start)."""
        self.request_refresh()

    def on_mount(self) -> None:
        self._idle_gc.start()
        self.set_interval(CHECK_EVERY_S, self._idle_gc.tick)
        self._start_sampling()
        if self.theme != self.ctx.theme:
            self.notify(
                f"unknown theme {self.ctx.theme!r}: using {DEFAULT_THEME}", severity="warning"
            )
        if self.ctx.auto_poll:
            self._poll_timer = self.set_interval(self.ctx.poll_seconds, self._poll)
        from ui.screens.drill_leftovers import undo_drill_leftovers

        undo_drill_leftovers(self)  # what a crashed drill left behind

    # --- resource usage: one sampling round at a time, every SAMPLE_SECONDS ----------------

    def _start_sampling(self) -> None:
        """Only for runtimes that measure; a round never overlaps the one before."""
        if isinstance(self.ctx.runtime, UsageSource):
            self.sample_usage()
            self.set_interval(SAMPLE_SECONDS, self.sample_usage)

    def sample_usage(self) -> None:
        if self._sampling or not isinstance(self.ctx.runtime, UsageSource):
            return
        self._sampling = True
        self._usage_worker()

    @work(group="usage", exclusive=True, exit_on_error=False)
    async def _usage_worker(self) -> None:
        try:
            runtime = cast(UsageSource, self.ctx.runtime)
            try:
                report = await runtime.usage(self.ctx.stack.services)
            except Exception as exc:  # said on the resources screen, never a crash
                report = UsageReport(unavailable=safe_str(exc, 200) or type(exc).__name__)
            self.post_message(UsageSampled(self._usage.add(report)))
        finally:
            self._sampling = False

    def on_usage_sampled(self, message: UsageSampled) -> None:
        self.usage = message.board

    def _runtime_name(self) -> str:
        return self.ctx.runtime.name if self.ctx.runtime is not None else "none"

    # --- refreshing: one in flight, one pending, polls never overlap ----------------------

    def request_refresh(self) -> None:
        """Start a refresh, or remember that one is wanted once the running one ends."""
        self._refreshes.request()

    @property
    def _refreshing(self) -> bool:
        return self._refreshes.running

    @work(group="refresh", exclusive=True, exit_on_error=False)
    async def _refresh_worker(self) -> None:
        self.post_message(ServicesRefreshed(await self.ctx.monitor.refresh()))

    @work(group="states", exclusive=True, exit_on_error=False)
    async def _states_worker(self) -> None:
        """The runtime's news on screen at once; the full refresh behind it adds probes."""
        self.post_message(ServicesRefreshed(await self.ctx.monitor.refresh_states()))

    def _poll(self) -> None:
        """The fallback poll: skipped while a refresh runs, and thinned out while all is calm."""
        if self._refreshing:
            return
        self._polls_skipped += 1
        if self._calm() and self._polls_skipped * self.ctx.poll_seconds < CALM_POLL_SECONDS:
            return
        self._polls_skipped = 0
        self.request_refresh()

    def _calm(self) -> bool:
        status = self.status
        return (status is not None and not self.link.down and status.total > 0
                and status.operational == status.total)

    @work(group="events", exit_on_error=False)
    async def _watch_events(self) -> None:
        """Runtime events show at once (states only), then schedule a full refresh; stream
        changes become connect messages."""
        first_connect = True
        async for item in self.ctx.monitor.events():
            if isinstance(item, StreamStatus) and item.connected and first_connect:
                first_connect = False
                self._listings.request()  # whatever changed since the first listing
            if isinstance(item, StreamStatus):
                self.post_message(
                    RuntimeReconnected() if item.connected else RuntimeDisconnected(item.reason)
                )
            else:
                # The listing first, painted, then the probes: started together, the full
                # refresh's 40 probes and its evaluation share the loop with the listing and
                # the frame, and the changed row reached the screen ~0.8 s after its status
                # (bench/events_to_screen.py --explain).
                guessed = self.ctx.monitor.apply_event(item)  # die/start: on screen now
                if guessed is not None:
                    self.post_message(ServicesRefreshed(guessed))
                self._listings.request()  # the listing confirms (or corrects) it
                self._probe_after_paint = True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place background failures surface: logged, notified, app keeps running."""
        worker = event.worker
        runs = {"refresh": self._refreshes, "states": self._listings}.get(worker.group)
        if runs is not None and event.state in _FINISHED:
            runs.finished()
            if runs is self._refreshes and not runs.running:
                self.refreshing_by_hand = False
            if runs is self._listings and self._probe_after_paint:
                self._probe_after_paint = False
                self.call_after_refresh(self.request_refresh)
        if event.state is WorkerState.ERROR:
            self.log.error(f"worker {worker.name!r} ({worker.group}) failed: {worker.error!r}")
            self.notify(
                f"{worker.group}: {worker.error}", title="Background task failed", severity="error"
            )

    # --- messages: results land in the reactives ----------------------------------------

    def on_services_refreshed(self, message: ServicesRefreshed) -> None:
        first = self.status is None
        self.status = message.status
        if first:  # the screens' stylesheets, once the first matrix has gone out
            self.set_timer(PRELOAD_CSS_AFTER_S, self._preload_stylesheets)
        if first and self.ctx.auto_poll:
            # Not at once: the first minute belongs to the matrix (and a cold start stays
            # lean); the checklist screen (C) evaluates on demand and updates the score.
            self.set_interval(CHECKLIST_SECONDS, self._checklist_worker)
        if not self._watching:
            # The event stream starts once the first frame is on its way: connecting it
            # (docker-py's import, a thread) would otherwise compete with the first refresh.
            self._watching = True
            self._watch_events()
        if message.status.runtime_error:
            self._runtime_down(message.status.runtime_error)
        elif self.link.down:
            self.link = LinkState(runtime=self._runtime_name())

    def _preload_stylesheets(self) -> None:
        self._import_screens()

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _import_screens(self) -> None:
        """The screens' and guided actions' modules, imported off the event loop
        (ui/warm_up.py): the first `r` of a session does not wait for them."""
        from ui.warm_up import import_screen_modules

        try:
            import_screen_modules()
        finally:  # a screen that cannot be imported fails at its key; the CSS still loads
            self.call_from_thread(self._preload_css)

    def _preload_css(self) -> None:
        """The screens' stylesheets and the imported widgets' own CSS, parsed once now
        (ui/stylesheets.py), not at the first screen that mounts one of them.

        The parse holds the event loop for ~100 ms (more on a busy machine): while keys are
        coming it waits for a pause in them (CSS_QUIET_S), for at most CSS_WAIT_S."""
        from ui.stylesheets import preload_all_css

        waited = self._css_waits * CSS_QUIET_S
        if not self._idle_gc.quiet_for(CSS_QUIET_S) and waited < CSS_WAIT_S:
            self._css_waits += 1
            self.set_timer(CSS_QUIET_S, self._preload_css)
            return
        preload_all_css(self)
        self._idle_gc.freeze_when_idle()  # what lives as long as the console (ui/idle_gc.py)
        self.settled = True
        self.warmed_up = True

    @work(group="checklist", exclusive=True, exit_on_error=False)
    async def _checklist_worker(self) -> None:
        """The checklist's score for the header; the screen shows the items."""
        from actions.readiness import Inputs, evaluate
        from console.factory import compose_path

        if self.status is None:
            return
        ctx = self.ctx
        state_dir = ctx.journal.path.parent if ctx.journal is not None else None
        self.checklist = await evaluate(Inputs(ctx.stack, self.status, ctx.clock,
                                               compose_path(ctx), state_dir, usage=self.usage))

    def on_runtime_disconnected(self, message: RuntimeDisconnected) -> None:
        self._runtime_down(message.reason)

    def on_runtime_reconnected(self, message: RuntimeReconnected) -> None:
        """After an outage, a full refresh; the stream's first connect needs none (the
        refresh on mount is already under way, and a second one would slow the first frame)."""
        was_down = self.link.down
        self.link = LinkState(runtime=self._runtime_name())
        if was_down:
            self.request_refresh()

    def _runtime_down(self, reason: str) -> None:
        """Show the banner and line the countdown up with the next poll."""
        if self._poll_timer is not None:
            self._poll_timer.reset()
        retry_at = self.ctx.clock() + timedelta(seconds=self.ctx.poll_seconds)
        self.link = replace(self.link, problem=reason, retry_at=retry_at)

    # --- navigation and actions ---------------------------------------------------------

    def open_screen(self, name: str, **kwargs: object) -> None:
        """Push a screen by name; one that does not exist yet is a notice, not a crash."""
        if name == "matrix":
            self._go_home()
            return
        screen_class = load_screen(name)
        if screen_class is None:
            self.notify(f"{name}: not available yet", severity="warning")
        elif not isinstance(self.screen, screen_class) or kwargs:
            self.push_screen(cast(Callable[..., Screen[Any]], screen_class)(**kwargs))

    def _go_home(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_goto(self, name: str) -> None:
        self.open_screen(name)

    def action_refresh(self) -> None:
        self.refreshing_by_hand = True
        self.request_refresh()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        title = f"Keys · {type(self.screen).__name__.removesuffix('Screen').lower()}"
        self.push_screen(HelpScreen(help_entries(self, self.screen), title=title))

    def action_filter(self) -> None:
        self._go_home()
        cast(MatrixScreen, self.screen).action_filter()

    def action_set_theme(self, name: str) -> None:
        self.theme = name

    # --- guided actions: each opens an ActionScreen (screens.guided) ----------------------

    def request_restart(self, service: str, with_dependents: bool = False) -> None:
        from ui.screens.guided import open_restart

        open_restart(self, service, with_dependents)

    def request_pause_restarts(self, service: str) -> None:
        from ui.screens.guided import open_pause_restarts

        open_pause_restarts(self, service)

    @property
    def on_cluster(self) -> bool:
        """The kubernetes runtime: its own actions (scale, delete pod, ...) are offered."""
        return self._runtime_name() == "kubernetes"

    def request_cluster(self, verb: str, service: str | None = None) -> None:
        """A Kubernetes action (screens.kubernetes) on `service`, or on the one selected."""
        from ui.screens.kubernetes import open_cluster_action, selected_service

        open_cluster_action(self, verb, service or selected_service(self))

    def request_lifecycle(self, service: str, verb: str) -> None:
        """stop, kill or start one service (screens.service_ops)."""
        from ui.screens.service_ops import open_lifecycle

        open_lifecycle(self, service, verb)

    def request_describe(self, service: str) -> None:
        from ui.screens.service_ops import open_describe

        open_describe(self, service)

    def request_shell(self, service: str) -> None:
        from ui.screens.service_ops import open_shell

        open_shell(self, service)

    def action_quit_asking(self) -> None:
        """ctrl+c: quit at once, unless a guided action is running: then ask first."""
        from ui.screens.action import ActionScreen
        from ui.screens.confirm import ConfirmScreen

        running = [s for s in self.screen_stack if isinstance(s, ActionScreen) and s.running]
        if not running:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen):
            return
        names = ", ".join(f"{s.action.name} {s.action.target}" for s in running)
        self.push_screen(ConfirmScreen("Quit while an action runs?", [
            f"running: {names}", "quitting stops it between two steps"]),
            lambda yes: self.exit() if yes else None)

    def request_bringup(self, only: str | None = None) -> None:
        from ui.screens.guided import open_bringup

        open_bringup(self, only)

    def action_bringup(self) -> None:
        self.request_bringup()

    def action_preflight(self) -> None:
        from ui.screens.guided import open_preflight

        open_preflight(self)

    def action_portproxy(self) -> None:
        from ui.screens.guided import open_portproxy

        open_portproxy(self)

    def action_secrets(self) -> None:
        from ui.screens.guided import open_secrets

        open_secrets(self)

    async def action_stop_forwarders(self) -> None:
        count = len(self.forwarders.list())
        await self.forwarders.stop_all()
        self.notify(f"stopped {count} forwarder(s)")

    async def on_unmount(self) -> None:
        """Forwarders and the runtime's connections live as long as the console: quitting
        stops the forwarders, then the workers that use the runtime, then closes it (watch
        streams, client pools). Closing twice is harmless, so a caller that closes the
        runtime itself afterwards (the demo) may."""
        self._idle_gc.stop()
        await self.forwarders.stop_all()
        self.workers.cancel_all()
        if self.ctx.runtime is not None:
            try:
                await self.ctx.runtime.close()
            except Exception as exc:  # quitting goes on: the process ends anyway
                self.log.error(f"closing the {self.ctx.runtime.name} runtime: {exc!r}")


_FINISHED = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


class OneInFlight:
    """One run at a time and at most one more queued: a burst of requests costs two runs,
    and the last one starts after the burst, so it sees everything the burst announced."""

    def __init__(self, start: Callable[[], object]) -> None:
        self._start = start
        self.running = False
        self._again = False

    def request(self) -> None:
        if self.running:
            self._again = True
            return
        self.running = True
        self._start()

    def finished(self) -> None:
        self.running = False
        if self._again:
            self._again = False
            self.request()


def load_screen(name: str) -> type[Screen[Any]] | None:
    """Import a registered screen class lazily; None if it is not registered or not written."""
    target = SCREENS.get(name)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    screen_class = getattr(module, class_name, None)
    return screen_class if isinstance(screen_class, type) else None
