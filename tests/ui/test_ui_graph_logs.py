"""Pilot and snapshot tests of the graph, logs and timeline screens.

Each screen is mounted in `HostApp`, a small App that carries `ctx` and a reactive `status`
exactly as `VextrusApp` does, with the console's own themes. The status is a fixed scene
built from the status dataclasses; the logs come from `ListRuntime`, which streams a list
of real `LogLine`s and then stays open like `docker logs --follow`; the journal is a real
SQLite journal in a temporary directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.app import App
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static

from console.factory import AppContext
from console.journal import Journal, TimelineEntry
from console.model import Service, Stack, dependents_map, transitive
from console.monitor import Monitor
from console.runtime.base import LogLine, RuntimeUnavailable
from console.status.types import ServiceStatus, StackStatus, State
from console.timeline_export import export_markdown
from tests.pilot_wait import idle, settle
from ui.screens.graph import GraphScreen, describe_service, match_service
from ui.screens.logs import LogsScreen
from ui.screens.timeline import TimelineScreen
from ui.themes import register_themes
from ui.widgets.dependency_graph import DependencyGraph
from ui.widgets.log_view import LogView

NOW = datetime(2025, 9, 25, 10, 42, 7, tzinfo=UTC)
BIZ = ("postgres", "redis", "kafka")

# name, tier, phase, depends_on: the Vextrus inventory's shape, fixed here so snapshots
# never drift when the bundled stack file changes.
SERVICES: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("postgres", "infrastructure", 0, ()),
    ("redis", "infrastructure", 0, ()),
    ("zookeeper", "infrastructure", 0, ()),
    ("kafka", "infrastructure", 0, ("zookeeper",)),
    ("elasticsearch", "infrastructure", 0, ()),
    ("temporal", "infrastructure", 0, ("postgres",)),
    ("minio", "infrastructure", 0, ()),
    ("temporal-ui", "infrastructure", 0, ("temporal",)),
    ("auth", "core", 1, ("postgres", "redis")),
    ("master-data", "core", 1, BIZ),
    ("notification", "core", 1, BIZ),
    ("audit", "core", 1, ("postgres", "kafka", "elasticsearch")),
    ("rules-engine", "core", 1, BIZ),
    ("workflow", "core", 1, (*BIZ, "temporal")),
    ("file-storage", "business", 2, (*BIZ, "minio")),
    ("finance", "business", 2, BIZ),
    ("crm", "business", 2, BIZ),
    ("hr", "business", 2, BIZ),
    ("api-gateway", "gateway", 3, ("auth", "master-data", "workflow", "rules-engine")),
    ("traefik", "gateway", 3, ()),
    ("prometheus", "observability", 4, ()),
    ("grafana", "observability", 4, ("prometheus",)),
)
PHASES = {0: "infrastructure", 1: "core services", 2: "business services", 3: "gateway",
          4: "observability"}  # fmt: skip
FAILING = {"zookeeper": State.RESTART_LOOP, "elasticsearch": State.EXITED}
NOT_STARTED = {"minio", "prometheus", "grafana"}


def build_stack() -> Stack:
    services = tuple(
        Service(name, tier=tier, phase=phase, depends_on=deps, ports=(3000 + i,))
        for i, (name, tier, phase, deps) in enumerate(SERVICES)
    )
    return Stack("vextrus", services, phases=PHASES)


def _chain(stack: Stack, name: str, bad: set[str]) -> tuple[str, ...]:
    """Follow the first failing dependency down to a failing service with good deps."""
    chain: list[str] = []
    current = name
    while True:
        unmet = [
            d for d in stack.service(current).depends_on
            if d in bad or _chain(stack, d, bad)
        ]  # fmt: skip
        if not unmet:
            return tuple(chain)
        current = unmet[0]
        chain.append(current)


def build_status(stack: Stack) -> StackStatus:
    """The scene: zookeeper restart-looping (kafka and its users blocked), elasticsearch
    exited (audit blocked), observability never started, the rest operational."""
    bad = set(FAILING) | NOT_STARTED
    reverse = dependents_map(stack.services)
    out = []
    for svc in stack.services:
        chain = _chain(stack, svc.name, bad)
        own = FAILING.get(svc.name) or (
            State.NOT_STARTED if svc.name in NOT_STARTED else State.OPERATIONAL
        )
        state = State.BLOCKED if chain and own is State.OPERATIONAL else own
        failing = state is not State.OPERATIONAL
        unmet = tuple(d for d in svc.depends_on if d in bad or _chain(stack, d, bad))
        out.append(
            ServiceStatus(
                name=svc.name, tier=svc.tier, phase=svc.phase, state=state,
                runtime_state="running", health="healthy" if not failing else "unknown",
                reachable_host=True, reachable_inside=None, deps_met=not unmet,
                unmet_deps=unmet, depends_on=svc.depends_on,
                root_cause=failing and not unmet, blocked_by=chain,
                blast_radius=tuple(transitive(svc.name, reverse)) if failing else (),
                issues=(f"blocked by {' <- '.join(chain)}",) if chain else (),
            )
        )  # fmt: skip
    return StackStatus("vextrus", NOW, tuple(out), tiers=("infrastructure", "core"))


class ListRuntime:
    """Streams a fixed list of LogLines per service, then stays open (like --follow)."""

    name = "list"

    def __init__(self, lines: dict[str, list[str]], fail: dict[str, str] | None = None) -> None:
        self.lines = lines
        self.fail = fail or {}
        self.open_streams: set[str] = set()
        self.cancelled: set[str] = set()

    async def logs(
        self, service: Service, tail: int = 100, follow: bool = False, timestamps: bool = True
    ) -> AsyncIterator[LogLine]:
        if service.name in self.fail:
            raise RuntimeUnavailable(self.fail[service.name])
        for i, text in enumerate(self.lines.get(service.name, [])):
            yield LogLine(service.name, text, NOW + timedelta(seconds=i))
        if follow:
            self.open_streams.add(service.name)
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.add(service.name)
                raise

    def events(self, services: Sequence[Service]) -> AsyncIterator[object]:
        raise NotImplementedError


class HostApp(App[None]):
    """Stands in for VextrusApp: `ctx`, a reactive `status`, the console's themes."""

    status: reactive[StackStatus | None] = reactive(None)

    def __init__(
        self,
        make_screen: Callable[[], Screen[None]],
        runtime: ListRuntime | None = None,
        journal: Journal | None = None,
        status: StackStatus | None = None,
    ) -> None:
        super().__init__()
        stack = build_stack()
        monitor = Monitor(stack, runtime, journal, clock=lambda: NOW)  # type: ignore[arg-type]
        self.ctx = AppContext(stack, runtime, monitor, journal, clock=lambda: NOW)  # type: ignore[arg-type]
        self.make_screen = make_screen
        self.details: list[str] = []
        register_themes(self)
        self.theme = "vextrus-dark"
        self.set_reactive(HostApp.status, status)

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())

    def action_show_detail(self, name: str) -> None:
        self.details.append(name)


def graph_app() -> HostApp:
    stack = build_stack()
    return HostApp(GraphScreen, status=build_status(stack))


def _graph(app: App[None]) -> DependencyGraph:
    return app.screen.query_one(DependencyGraph)


def _arrow_role(graph: DependencyGraph, source: str, target: str) -> str | None:
    edge = next(e for e in graph.graph_layout.edges if (e.source, e.target) == (source, target))
    return graph.role_at(*edge.arrow)


# --- graph -------------------------------------------------------------------------------


async def test_graph_selection_moves_and_highlights_dependencies() -> None:
    app = graph_app()
    async with app.run_test(size=(160, 48)) as pilot:
        graph = _graph(app)
        assert graph.selected == graph.graph_layout.columns[0].names[0]
        await pilot.press("down")
        second = graph.graph_layout.columns[0].names[1]
        assert graph.selected == second
        await pilot.press("k")
        assert graph.selected == graph.graph_layout.columns[0].names[0]
        assert graph.select("auth")
        await pilot.pause()
        # auth needs postgres and redis; api-gateway needs auth; nothing else is lit.
        assert _arrow_role(graph, "postgres", "auth") == "needs"
        assert _arrow_role(graph, "redis", "auth") == "needs"
        assert _arrow_role(graph, "auth", "api-gateway") == "needed-by"
        assert _arrow_role(graph, "postgres", "crm") == "edge"
        box = graph.graph_layout.nodes["auth"]
        assert graph.role_at(box.x, box.y) == "selected"
        postgres = graph.graph_layout.nodes["postgres"]
        assert graph.role_at(postgres.x + 2, postgres.y) == "needs"
        gateway = graph.graph_layout.nodes["api-gateway"]
        assert graph.role_at(gateway.x + 2, gateway.y) == "needed-by"
        # The selection's edges are drawn heavy, the others light.
        start = next(e for e in graph.graph_layout.edges if e.source == "auth").cells[0]
        assert graph._canvas.chars[start[1]][start[0]] == "━"
        await pilot.press("right")
        assert graph.graph_layout.nodes[graph.selected].column == box.column + 1
        await pilot.press("left")
        assert graph.graph_layout.nodes[graph.selected].column == box.column
        selected = graph.selected
        await pilot.press("l")  # logs, as on the matrix: the selected service's
        assert isinstance(app.screen, LogsScreen) and app.screen._requested == [selected]


async def test_graph_lights_the_path_to_the_root_cause_and_c_jumps_there() -> None:
    app = graph_app()
    async with app.run_test(size=(160, 48)) as pilot:
        graph = _graph(app)
        graph.select("master-data")
        await pilot.pause()
        assert _arrow_role(graph, "kafka", "master-data") == "cause"
        assert _arrow_role(graph, "zookeeper", "kafka") == "cause"
        postgres = graph.graph_layout.nodes["postgres"]
        assert graph.role_at(postgres.x + 2, postgres.y) == "needs"
        kafka = graph.graph_layout.nodes["kafka"]
        assert graph.role_at(kafka.x + 2, kafka.y) == "cause"
        panel = str(app.screen.query_one("#graph-panel", Static).render())
        assert "Blocked by: kafka ← zookeeper (root cause)" in panel
        await pilot.press("c")
        assert graph.selected == "zookeeper"
        panel = str(app.screen.query_one("#graph-panel", Static).render())
        assert "root cause" in panel and "Blast radius, now" in panel


async def test_graph_jump_to_a_service_by_name_and_keep_it_in_view() -> None:
    app = graph_app()
    async with app.run_test(size=(80, 24)) as pilot:
        graph = _graph(app)
        await pilot.press("slash", *"graf", "enter")
        await pilot.pause()
        assert graph.selected == "grafana"
        box = graph.graph_layout.nodes["grafana"]
        assert graph.scroll_y <= box.y < graph.scroll_y + graph.size.height
        assert graph.scroll_x <= box.x < graph.scroll_x + graph.size.width
        await pilot.press("slash", *"nope", "enter")
        assert graph.selected == "grafana"
        assert app.focused is graph
        # The mouse is optional but works: a click on a label selects it.
        kafka = graph.graph_layout.nodes["kafka"]
        graph.scroll_to(x=0, y=max(0, kafka.y - 3), animate=False, immediate=True, force=True)
        await pilot.pause()
        offset = (kafka.x + 2 - int(graph.scroll_x), kafka.y - int(graph.scroll_y))
        assert await pilot.click(DependencyGraph, offset=offset)
        assert graph.selected == "kafka"


async def test_graph_enter_opens_details_esc_leaves_v_switches_layers() -> None:
    app = graph_app()
    async with app.run_test(size=(120, 40)) as pilot:
        graph = _graph(app)
        graph.select("crm")
        await pilot.press("enter")
        assert app.details == ["crm"]
        await pilot.press("v")
        assert graph.mode == "topo" and graph.selected == "crm"
        assert "dependency layers" in str(app.screen.query_one("#graph-title", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, GraphScreen)


async def test_graph_follows_new_status_snapshots() -> None:
    app = graph_app()
    async with app.run_test(size=(120, 40)) as pilot:
        graph = _graph(app)
        assert app.status is not None
        healed = tuple(
            ServiceStatus(**{**s.__dict__, "state": State.OPERATIONAL, "blocked_by": ()})
            for s in app.status.services
        )
        app.status = StackStatus("vextrus", NOW, healed)
        await pilot.pause()
        assert graph.stack_status is app.status
        title = str(app.screen.query_one("#graph-title", Static).render())
        assert f"{len(healed)}/{len(healed)} operational" in title


def test_describe_service_and_match_service() -> None:
    stack = build_stack()
    text = describe_service(stack, build_status(stack), "audit").plain
    assert "Needs (1/3 met): ✔ postgres, ✖ kafka, ✖ elasticsearch" in text
    assert "Blocked by: kafka ← zookeeper (root cause)" in text
    assert describe_service(stack, None, "postgres").plain.startswith("postgres  · no status")
    assert match_service(stack.names(), "KAFKA") == "kafka"
    assert match_service(stack.names(), "temp") == "temporal"
    assert match_service(stack.names(), "gate") == "api-gateway"
    assert match_service(stack.names(), "zzz") is None


# --- logs --------------------------------------------------------------------------------

LINES = {
    "auth": [
        "[Nest] 1  - 09/25/2025, 10:42:07 AM     LOG [NestApplication] started",
        "[Nest] 1  - 09/25/2025, 10:42:08 AM   ERROR [Db] connect timeout after 5000ms",
        "[Nest] 1  - 09/25/2025, 10:42:09 AM     LOG [Auth] login ok password=hunter2",
        "[Nest] 1  - 09/25/2025, 10:42:10 AM    WARN [Db] retrying after timeout",
    ],
    "kafka": [
        "[2025-09-25 10:42:07,000] INFO [KafkaServer id=1] starting (kafka.server.KafkaServer)",
        "[2025-09-25 10:42:08,000] WARN Session 0x0 for server zookeeper:2181, timeout",
        "[2025-09-25 10:42:09,000] ERROR Fatal error during KafkaServer startup",
    ],
}


async def settle_logs(pilot, app: App[None], lines: int) -> LogView:  # type: ignore[no-untyped-def]
    await settle(pilot, lambda: app.screen.query_one(LogView).shown_count >= lines,
                 f"{lines} lines in the log view")
    return app.screen.query_one(LogView)


def _status(app: App[None]) -> str:
    return str(app.screen.query_one("#logs-status", Static).render())


async def test_logs_search_highlights_and_n_N_move_between_matches() -> None:
    runtime = ListRuntime(LINES)
    app = HostApp(lambda: LogsScreen(["auth", "kafka"]), runtime=runtime)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await settle_logs(pilot, app, 7)
        await pilot.press("slash", *"timeout", "enter")
        assert view.match_count == 3
        assert view.current_match == 1
        assert "/timeout 1/3" in _status(app)
        first = view.current_match_line
        await pilot.press("n")
        assert view.current_match == 2 and view.current_match_line != first
        await pilot.press("n", "n")
        assert view.current_match == 1  # wraps around
        await pilot.press("N")
        assert view.current_match == 3
        # The match is drawn in the current-match style on its line.
        line = view.current_match_line
        assert line is not None
        y = line - int(view.scroll_y)
        strip = view.render_line(y)
        current = view.get_component_rich_style("log-view--match-current")
        assert any(s.text == "timeout" and s.style and s.style.reverse for s in strip)
        assert current.reverse


async def test_logs_follow_toggle_and_scrolling_up_pauses() -> None:
    lines = {"auth": [f"request {i} done" for i in range(200)]}
    app = HostApp(lambda: LogsScreen(["auth"]), runtime=ListRuntime(lines))
    async with app.run_test(size=(80, 24)) as pilot:
        view = await settle_logs(pilot, app, 200)
        assert view.follow and view.scroll_y == view.max_scroll_y
        await pilot.press("f")
        assert not view.follow and "paused" in _status(app)
        await pilot.press("f")
        assert view.follow and "FOLLOW" in _status(app)
        await pilot.press("pageup")
        await pilot.pause()
        assert not view.follow
        await pilot.press("end")
        await pilot.pause()
        assert view.follow and view.scroll_y == view.max_scroll_y
        bottom = view.scroll_y
        await pilot.press("k", "k")  # j/k move, as in every list
        await settle(pilot, lambda: view.scroll_y == bottom - 2, "two lines up")
        assert not view.follow
        await pilot.press("j")
        await settle(pilot, lambda: view.scroll_y == bottom - 1, "one line down")


async def test_logs_dropped_count_is_visible_after_overflow() -> None:
    lines = {"auth": [f"line {i}" for i in range(250)]}
    app = HostApp(lambda: LogsScreen(["auth"], capacity=100), runtime=ListRuntime(lines))
    async with app.run_test(size=(80, 24)) as pilot:
        view = await settle_logs(pilot, app, 100)
        await settle(pilot, lambda: view.dropped == 150, "150 lines dropped")
        assert view.dropped == 150
        assert "150 dropped" in _status(app)
        view.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        banner = "".join(s.text for s in view.render_line(0))
        assert "150 earlier lines dropped" in banner
        first = view.entry_at(1)
        assert first is not None and first.text == "line 150"


async def test_logs_level_filter_wrap_and_redaction() -> None:
    app = HostApp(lambda: LogsScreen(["auth", "kafka"]), runtime=ListRuntime(LINES))
    async with app.run_test(size=(80, 24)) as pilot:
        view = await settle_logs(pilot, app, 7)
        await pilot.press("1")
        assert view.shown_count == 2 and "level ERROR" in _status(app)
        await pilot.press("2")
        assert view.shown_count == 4
        await pilot.press("2")
        assert view.shown_count == 7  # the same digit again shows everything
        await pilot.press("ampersand", *"kafka", "enter")
        assert view.shown_count == 2  # the filter matches the text, not the service name
        await pilot.press("W")
        assert view.wrap
        texts = [e.text for e in (view.entry_at(i) for i in range(view.line_count)) if e]
        assert all("hunter2" not in t for t in texts)


async def test_logs_without_runtime_or_failing_streams_say_why() -> None:
    app = HostApp(lambda: LogsScreen(["auth"]), runtime=None)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await settle_logs(pilot, app, 1)
        note = view.entry_at(0)
        assert note is not None and note.note and "--runtime none" in note.text
    runtime = ListRuntime(LINES, fail={"kafka": "docker daemon not reachable"})
    app = HostApp(lambda: LogsScreen(["auth", "kafka", "ghost"]), runtime=runtime)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await settle_logs(pilot, app, 6)
        notes = [e.text for e in view.buffer if e.note]
        assert "kafka: log stream failed: docker daemon not reachable" in notes
        assert "ghost: not a service of this stack" in notes


async def test_leaving_the_logs_screen_cancels_every_stream() -> None:
    runtime = ListRuntime(LINES)
    app = HostApp(LogsScreen, runtime=runtime)  # None: every service, merged
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_logs(pilot, app, 7)
        assert runtime.open_streams == set(build_stack().names())
        screen = app.screen
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, LogsScreen)
        assert runtime.cancelled == runtime.open_streams
        assert not [w for w in screen.workers if w.group == "logs" and w.is_running]


async def test_ctrl_s_saves_the_shown_lines_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = HostApp(lambda: LogsScreen(["auth"]), runtime=ListRuntime(LINES))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_logs(pilot, app, 4)
        await pilot.press("ctrl+s")
        saved = tmp_path / "vextrus-logs-20250925-104207.log"
        await settle(pilot, saved.exists, "the saved log file")
    text = saved.read_text()
    assert "hunter2" not in text and "password=***" in text
    assert text.count("\n") == 4
    assert oct(saved.stat().st_mode & 0o777) == "0o600"


# --- timeline ----------------------------------------------------------------------------


def _journal(tmp_path: Path) -> Journal:
    journal = Journal(tmp_path / "journal.sqlite3", stack="vextrus")
    journal.record_transitions(
        [("zookeeper", "operational", ""), ("kafka", "operational", "")], at=NOW
    )
    journal.record_transitions(
        [("zookeeper", "restart-loop", "restart loop: 5 restarts in 2 min")],
        at=NOW + timedelta(minutes=3),
    )
    journal.record("event", "zookeeper", "die (exit 1)", at=NOW + timedelta(minutes=2))
    journal.record(
        "action", "kafka", "restart requested | token=abc123", at=NOW + timedelta(minutes=4)
    )
    return journal


def test_export_markdown_is_a_table_oldest_first_masked_and_escaped() -> None:
    entries = [
        TimelineEntry(NOW, "transition", "kafka", "blocked by zookeeper", "operational", "blocked"),
        TimelineEntry(NOW + timedelta(seconds=5), "action", "kafka", "restart | password=x"),
    ]
    text = export_markdown(entries, stack="vextrus", generated=NOW)
    lines = text.splitlines()
    assert lines[0] == "# Timeline: vextrus"
    assert "Generated 2025-09-25 10:42:07 (UTC)." in text
    assert "| Time | Kind | Service | What happened |" in lines
    assert (
        "| 2025-09-25 10:42:07 | transition | kafka | operational → blocked: blocked by zookeeper |"
        in lines
    )
    assert "| 2025-09-25 10:42:12 | action | kafka | restart \\| password=*** |" in lines
    assert (
        "2 entries from 2025-09-25 10:42:07 to 2025-09-25 10:42:12: 1 transition, 1 action" in text
    )
    assert "Nothing recorded yet." in export_markdown([], generated=NOW)


async def _timeline_loaded(pilot) -> None:  # type: ignore[no-untyped-def]
    """The journal in the table, and the table's column widths measured (DataTable does
    that when its own queue is idle: a snapshot taken before, on a busy CI box, showed
    every column as wide as its label)."""
    screen = pilot.app.screen
    await settle(pilot, lambda: isinstance(screen, TimelineScreen) and screen._loaded
                 and idle(pilot.app, "timeline-load")
                 and not screen.query_one(DataTable)._require_update_dimensions,
                 "the journal on screen")


async def test_timeline_lists_journal_entries_in_time_order(tmp_path: Path) -> None:
    app = HostApp(TimelineScreen, journal=_journal(tmp_path))
    async with app.run_test(size=(120, 30)) as pilot:
        await _timeline_loaded(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 5
        times = [table.get_row_at(i)[0] for i in range(5)]
        assert times == ["10:42:07", "10:42:07", "10:44:07", "10:45:07", "10:46:07"]
        title = str(app.screen.query_one("#timeline-title", Static).render())
        assert title == "Timeline · 5 entries, oldest first · 2025-09-25"
        assert table.cursor_row == 4  # newest selected
        assert not app.screen.has_class("-empty")
        await pilot.press("k", "k", "k")  # j/k move, as in every list
        assert table.cursor_row == 1
        await pilot.press("j")
        assert table.cursor_row == 2


async def test_timeline_ctrl_s_saves_markdown(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = HostApp(TimelineScreen, journal=_journal(tmp_path))
    saved = tmp_path / "vextrus-timeline-20250925-104207.md"
    async with app.run_test(size=(120, 30)) as pilot:
        await _timeline_loaded(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot, saved.exists, "the exported file")
        await settle(pilot, lambda: idle(app), "the export to finish")
    text = saved.read_text()
    assert text.startswith("# Timeline: vextrus")
    assert "operational → restart-loop: restart loop: 5 restarts in 2 min" in text
    assert "abc123" not in text


async def test_an_empty_journal_shows_a_friendly_empty_state(tmp_path: Path) -> None:
    app = HostApp(TimelineScreen, journal=Journal(tmp_path / "j.sqlite3"))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.has_class("-empty")
        empty = app.screen.query_one("#timeline-empty", Static)
        assert empty.display and "Nothing recorded yet" in str(empty.render())


# --- snapshots ---------------------------------------------------------------------------

SIZES = [(80, 24), (160, 48)]


