"""Pilot tests of the console's home: matrix, filter, sort, detail, help, banner, themes.

The app is built by the real factory entry point (`build_app`) over the fixed scene in
`tests/ui_data.py`; only the monitor's data is static.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from textual.geometry import Region
from textual.screen import Screen
from textual.widget import Widget

from console.runtime.base import RuntimeEvent, StreamStatus
from console.status.types import StackStatus, State
from tests.pilot_wait import idle
from tests.pilot_wait import settle as wait_until
from tests.ui_data import FIXED_NOW, StaticMonitor, build_status, make_context, with_service
from ui.app import (
    SCREENS,
    RuntimeDisconnected,
    RuntimeReconnected,
    ServicesRefreshed,
    VextrusApp,
)
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen
from ui.screens.detail import DetailScreen
from ui.screens.help import HelpScreen
from ui.screens.matrix import MatrixScreen
from ui.widgets.banner import DegradedBanner
from ui.widgets.service_cells import fit_columns
from ui.widgets.service_table import ServiceTable

SIZE = (80, 24)


def new_app(**kwargs: object) -> VextrusApp:
    return build_app(make_context(**kwargs))  # type: ignore[arg-type]


def text_of(widget: Widget) -> str:
    """What a widget shows on screen, as plain text."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join(strip.text for strip in widget.render_lines(region))


async def wait_group(app: VextrusApp, group: str) -> None:
    """Wait for one worker group (the events worker never completes by design).

    An empty list would make Textual wait for every worker, so only wait when there are some.
    """
    workers = [w for w in app.workers if w.group == group]
    if workers:
        await app.workers.wait_for_complete(workers)


async def settle(pilot, app: VextrusApp) -> ServiceTable:
    """Wait for the first refresh to land in the table."""

    def landed() -> bool:
        tables = app.screen.query(ServiceTable)
        return app.status is not None and bool(tables) and tables.first().row_count > 0

    await wait_until(pilot, landed, "the first refresh to reach the table")
    return app.screen.query_one(ServiceTable)


async def test_matrix_shows_every_service_grouped_by_tier():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        assert isinstance(app.screen, MatrixScreen)
        assert len(table.service_keys) == 37
        assert table.row_keys[0] == "§tier:infrastructure"
        assert table.row_keys.index("§tier:core") < table.row_keys.index("auth")
        assert table.selected_service == "postgres"  # cursor starts on a service, not a header


async def test_filter_narrows_rows_and_esc_restores():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#matrix-filter")
        await pilot.press(*"KAFKA")  # case-insensitive; matches names and issue text
        assert "kafka" in table.service_keys
        assert "postgres" not in table.service_keys
        assert all("kafka" in k or k in _blocked_by_kafka() for k in table.service_keys)
        await pilot.pause()
        assert " postgres " not in _screen(app)  # the screen, not only the table's rows
        await pilot.press("escape")
        assert len(table.service_keys) == 37
        assert app.focused is table
        await pilot.pause()
        assert " postgres " in _screen(app)


def _screen(app) -> str:  # type: ignore[no-untyped-def]
    """What the terminal would show, line by line, from the compositor."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_filter_matches_state_and_tier_and_typing_does_not_trigger_keys():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        await pilot.press("slash", *"not started")
        assert set(table.service_keys) == {
            s.name for s in build_status().services if s.state is State.NOT_STARTED
        }
        assert table.sort_mode == "tier"  # the "s" typed into the filter did not sort
        await pilot.press("enter")  # keeps the filter, back to the table
        assert app.focused is table and table.filter_text == "not started"
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"observability")
        assert all(build_status().get(k).tier == "observability" for k in table.service_keys)


async def test_sort_cycles_tier_state_name_latency():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        await pilot.press("s")
        assert table.sort_mode == "state"
        assert table.row_keys[0] == "zookeeper"  # restart loop is the worst state
        assert not any(k.startswith("§tier:") for k in table.row_keys)
        await pilot.press("s")
        assert table.service_keys == sorted(table.service_keys)
        await pilot.press("s")
        assert table.sort_mode == "latency"
        assert table.row_keys[:2] == ["configuration", "temporal"]  # slowest first
        await pilot.press("s")
        assert table.sort_mode == "tier"


async def test_sort_keeps_the_cursor_on_the_same_service():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        await pilot.press("down", "down")
        chosen = table.selected_service
        await pilot.press("s")
        assert table.selected_service == chosen


async def test_enter_opens_detail_with_probe_output_and_logs():
    app = new_app()
    async with app.run_test(size=(120, 48)) as pilot:
        table = await settle(pilot, app)
        table.move_cursor(row=table.get_row_index("auth"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        probes = text_of(app.screen.query_one("#detail-probes"))
        assert "timed out after 2.0s" in probes
        assert '"db":"up"' in probes  # the inside probe's output
        deps = text_of(app.screen.query_one("#detail-deps"))
        assert "postgres" in deps and "met" in deps
        await wait_group(app, "detail-logs")
        await pilot.pause()
        logs = text_of(app.screen.query_one("#detail-logs"))
        assert "request 24 handled" in logs
        assert "hunter2" not in logs  # secrets masked
        await pilot.press("escape")
        assert isinstance(app.screen, MatrixScreen)


async def test_detail_shows_log_failure_as_text():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.push_screen(DetailScreen("elasticsearch"))
        await pilot.pause()
        await wait_group(app, "detail-logs")
        await pilot.pause()
        logs = text_of(app.screen.query_one("#detail-logs"))
        assert "logs unavailable: container vextrus-elasticsearch-1 is not running" in logs
        assert "137" in text_of(app.screen.query_one("#detail-container"))


async def test_help_lists_bindings_of_app_and_screen():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = text_of(app.screen.query_one("#help-table"))
        for description in (
            "Filter",
            "Sort",
            "Blast radius",
            "Restart",
            "Quit",
            "Refresh",
            "Commands",
        ):
            assert description in text
        await pilot.press("escape")
        assert isinstance(app.screen, MatrixScreen)


async def test_user_keymap_overrides_a_binding():
    app = new_app(keymap={"matrix.sort": "o"})
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        await pilot.press("s")
        assert table.sort_mode == "tier"
        await pilot.press("o")
        assert table.sort_mode == "state"


async def test_theme_switch_through_the_command_palette(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)  # colours are what this test compares
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        before = table.get_cell("postgres", "state").style
        await pilot.press("colon", *"vextrus-light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "vextrus-light"
        assert table.get_cell("postgres", "state").style != before  # recoloured in place


async def test_banner_shows_on_disconnect_and_hides_on_reconnect():
    app = new_app()
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot, app)
        banner = app.screen.query_one(DegradedBanner)
        assert not banner.display
        app.post_message(RuntimeDisconnected("Cannot connect to /var/run/docker.sock"))
        await pilot.pause()
        assert banner.display
        text = text_of(banner)
        assert "Docker daemon unreachable: Cannot connect to /var/run/docker.sock" in text
        assert "retrying in 5s" in text
        app.screen.query_one(ServiceTable).focus()
        await pilot.press("s")  # the rest of the screen keeps working
        assert app.screen.query_one(ServiceTable).sort_mode == "state"
        app.post_message(RuntimeReconnected())
        await pilot.pause()
        assert not banner.display


async def test_event_stream_drives_banner_and_refresh():
    app = new_app()
    monitor: StaticMonitor = app.ctx.monitor  # type: ignore[assignment]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        calls = monitor.refresh_calls
        monitor.push(StreamStatus(connected=False, reason="daemon gone"))
        await pilot.pause()
        assert app.link.down and app.link.problem == "daemon gone"
        monitor.push(StreamStatus(connected=True))
        await wait_until(pilot, lambda: not app.link.down, "the banner to go")
        await wait_until(pilot, lambda: monitor.refresh_calls > calls,
                         "the reconnect's full refresh")


async def test_refresh_with_runtime_error_shows_banner():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.post_message(ServicesRefreshed(build_status(runtime_error="connection refused")))
        await pilot.pause()
        assert app.screen.query_one(DegradedBanner).display


async def test_event_stream_starts_after_the_first_frame_and_catches_up_on_connect():
    app = new_app()
    monitor: StaticMonitor = app.ctx.monitor  # type: ignore[assignment]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert [w for w in app.workers if w.group == "events"]  # watching once a frame is up
        refreshes, states = monitor.refresh_calls, monitor.states_calls
        monitor.push(StreamStatus(connected=True))
        await wait_until(pilot, lambda: monitor.states_calls > states, "the catch-up listing")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        assert monitor.states_calls == states + 1  # what changed before the stream connected
        assert monitor.refresh_calls == refreshes  # not a second full refresh


async def test_event_bursts_coalesce_into_one_pending_refresh():
    app = new_app()
    monitor: StaticMonitor = app.ctx.monitor  # type: ignore[assignment]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await wait_group(app, "refresh")
        await pilot.pause()
        calls = monitor.refresh_calls
        for i in range(20):
            monitor.push(RuntimeEvent("kafka", "die", FIXED_NOW + timedelta(seconds=i)))
        await wait_until(pilot, lambda: monitor.refresh_calls > calls, "the burst's refresh")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        assert 1 <= monitor.refresh_calls - calls <= 2  # one in flight + at most one pending
        # The runtime's news is shown before the probes, and a burst lists at most twice.
        assert 1 <= monitor.states_calls <= 2


async def test_refresh_updates_one_cell_in_place():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        keys_before = list(table.row_keys)
        rows_before = {key: table.rows[key] for key in keys_before}
        other_cell = table.get_cell("redis", "state")
        cleared: list[bool] = []
        original_clear = table.clear
        table.clear = lambda *a, **k: (cleared.append(True), original_clear(*a, **k))[1]  # type: ignore[method-assign]
        changed = with_service(
            app.status, "redis", state=State.EXITED, issues=("exited with code 1",)
        )
        app.post_message(ServicesRefreshed(changed))
        await pilot.pause()
        assert table.row_keys == keys_before
        assert not cleared
        assert all(table.rows[key] is row for key, row in rows_before.items())
        assert "Exited" in table.get_cell("redis", "state").plain
        assert table.get_cell("redis", "issues").plain == "exited with code 1"
        assert table.get_cell("postgres", "state") is not None
        assert table.get_cell("redis", "service").plain == "redis"
        assert other_cell is not table.get_cell("redis", "state")


async def test_counts_line_comes_and_goes_with_trouble():
    from dataclasses import replace

    from ui.widgets.readiness import ReadinessGauge

    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        gauge = app.screen.query_one(ReadinessGauge)
        trouble = app.status
        assert trouble is not None
        troubled_height = gauge.size.height
        assert troubled_height >= 2  # headline, then "1 restart loop · ..." (wrapped at 80)
        calm = replace(trouble, services=tuple(
            replace(s, state=State.OPERATIONAL, issues=()) for s in trouble.services))
        app.post_message(ServicesRefreshed(calm))
        await pilot.pause()
        await pilot.pause()
        assert gauge.size.height == 2  # the counts line stays, calm
        assert gauge.render().plain.splitlines()[1] == "nothing failing"
        app.post_message(ServicesRefreshed(trouble))
        await pilot.pause()
        await pilot.pause()
        assert gauge.size.height == troubled_height  # the counts are back, not clipped


async def test_table_stays_put_when_a_service_goes_down():
    """One exit does not move the table (no layout: only the changed lines are drawn)."""
    from dataclasses import replace

    from ui.widgets.readiness import ReadinessGauge

    app = new_app()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await settle(pilot, app)
        gauge = app.screen.query_one(ReadinessGauge)
        trouble = app.status
        assert trouble is not None
        calm = replace(trouble, services=tuple(
            replace(s, state=State.OPERATIONAL, issues=()) for s in trouble.services))
        app.post_message(ServicesRefreshed(calm))
        await pilot.pause()
        await pilot.pause()
        calm_region = table.region
        first = calm.services[0].name
        one_down = replace(calm, services=tuple(
            replace(s, state=State.EXITED) if s.name == first else s for s in calm.services))
        app.post_message(ServicesRefreshed(one_down))
        await pilot.pause()
        await pilot.pause()
        assert gauge.render().plain.splitlines()[1] == "1 exited"
        assert table.region == calm_region


async def test_latency_jitter_does_not_repaint_but_a_real_change_does():
    app = new_app()
    async with app.run_test(size=(160, 48)) as pilot:  # wide enough for the Latency column
        table = await settle(pilot, app)
        status = app.status
        assert status is not None
        for ms, shown in ((300.0, "300ms"), (3.0, "3ms"), (6.0, "3ms"), (2.0, "3ms"),
                          (40.0, "40ms"), (48.0, "40ms"), (1400.0, "1400ms"), (None, "—")):
            status = with_service(status, "redis", latency_ms=ms)
            app.post_message(ServicesRefreshed(status))
            await pilot.pause()
            assert table.get_cell("redis", "latency").plain == shown, ms
        app.theme = "vextrus-light"  # a theme change repaints with the new colours
        await pilot.pause()
        assert table.get_cell("redis", "latency").plain == "—"


async def test_blast_radius_toggle_and_restart_refusals():
    app = new_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        table.move_cursor(row=table.get_row_index("zookeeper"))
        await pilot.press("b")
        assert table.blast_source == "zookeeper"
        assert table.get_cell("kafka", "service").style.reverse
        assert not table.get_cell("postgres", "service").style
        await pilot.press("r")
        await pilot.pause()
        assert any("read-only mode: refused" in n.message for n in app._notifications)
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to confirm: refused
        await pilot.press("escape")
        assert isinstance(app.screen, MatrixScreen)
        await pilot.press("b")
        assert table.blast_source is None


async def test_restart_asks_first_with_the_blast_radius_and_n_does_nothing():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        table.move_cursor(row=table.get_row_index("kafka"))
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "restart kafka?"
        radius = [d for d in app.screen.details if d.startswith("blast radius: ")]
        assert radius and "master-data" in radius[0] and "api-gateway" in radius[0]
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MatrixScreen)  # straight back: nothing opened
        assert not any(isinstance(s, ActionScreen) for s in app.screen_stack)
        assert any(n.message == "restart kafka: not confirmed, nothing was done"
                   for n in app._notifications)


async def test_screens_not_written_yet_are_a_notice(monkeypatch):
    from ui import app as app_module

    # Every screen named so far exists now; register one whose module is not written.
    monkeypatch.setitem(app_module.SCREENS, "incidents", "ui.screens.incidents:IncidentsScreen")
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.open_screen("incidents")
        await pilot.pause()
        assert isinstance(app.screen, MatrixScreen)
        assert any("incidents: not available yet" in n.message for n in app._notifications)


async def test_worker_errors_are_notified_and_the_app_keeps_running():
    app = new_app()

    async def broken() -> None:
        raise RuntimeError("probe exploded")

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.ctx.monitor.refresh = broken  # type: ignore[method-assign]
        app.request_refresh()
        await wait_until(pilot, lambda: any("probe exploded" in n.message
                                            for n in app._notifications), "the error notice")
        await wait_until(pilot, lambda: not app._refreshing, "the refresh to end")
        assert app.is_running
        assert any("probe exploded" in n.message for n in app._notifications)
        assert not app._refreshing  # the next poll can run


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_columns_fit_the_terminal(width: int):
    columns = fit_columns(width - 1)
    used = sum(c.width + 2 for c in columns)
    assert used <= width - 1
    keys = [c.key for c in columns]
    assert keys[0] == "service" and keys[-1] == "issues" and "state" in keys
    if width == 80:
        assert not {"inside", "uptime", "latency"} & set(keys)
    if width == 160:
        assert {"inside", "uptime", "latency", "health", "restarts"} <= set(keys)


def _blocked_by_kafka() -> set[str]:
    return {s.name for s in build_status().services if any("kafka" in i for i in s.issues)}


class FakeLogsScreen(Screen[None]):
    """Stands in for the logs screen (owned elsewhere) to test routing by name."""

    def __init__(self, services: list[str] | None = None) -> None:
        super().__init__()
        self.services = services


async def test_screens_open_by_name_with_arguments(monkeypatch):
    monkeypatch.setitem(SCREENS, "logs", "tests.ui.test_ui_matrix:FakeLogsScreen")
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        table.move_cursor(row=table.get_row_index("kafka"))
        await pilot.press("l")
        assert isinstance(app.screen, FakeLogsScreen) and app.screen.services == ["kafka"]
        app.pop_screen()
        await pilot.press("L")
        assert isinstance(app.screen, FakeLogsScreen) and app.screen.services is None


async def test_palette_filter_command_opens_the_filter():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("colon", *"Filter services")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#matrix-filter")


async def tick(pilot, app: VextrusApp) -> None:
    """One 5-second poll tick, then wait until its refresh (if any) has landed."""
    app._poll()
    await wait_until(pilot, lambda: not app._refreshing, "the poll's refresh to finish")


async def test_polls_thin_out_while_all_is_operational_and_resume_on_trouble():
    from dataclasses import replace as dc_replace

    from console.status.types import State as S

    calm = build_status()
    calm = dc_replace(calm, services=tuple(dc_replace(s, state=S.OPERATIONAL)
                                           for s in calm.services))
    app = new_app(status=calm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        monitor = app.ctx.monitor
        before = monitor.refresh_calls  # type: ignore[attr-defined]
        for _ in range(6):  # six 5-second ticks = 30 s: two sweeps, not six
            await tick(pilot, app)
        assert monitor.refresh_calls - before == 2  # type: ignore[attr-defined]
        monitor.status = build_status()  # trouble: something is not operational
        app.request_refresh()  # as a runtime event would
        await wait_until(pilot, lambda: not app._refreshing, "the event's refresh to finish")
        after = monitor.refresh_calls  # type: ignore[attr-defined]
        for _ in range(3):
            await tick(pilot, app)
        assert monitor.refresh_calls - after == 3  # type: ignore[attr-defined]


def test_a_long_reason_keeps_its_cause_and_loses_the_middle():
    from ui.widgets.banner import shorten_reason

    reason = "Docker daemon unreachable at unix:///tmp/vxd-63yet0z0/d.sock: connection refused"
    assert shorten_reason(reason, 200) == reason
    short = shorten_reason(reason, 60)
    assert len(short) == 60 and short.endswith("…: connection refused")
    assert short.startswith("Docker daemon unreachable at unix://")
    assert shorten_reason("no clause here at all, just a long sentence", 20) == \
        "no clause here at a…"


class GatedMonitor(StaticMonitor):
    """Refreshes wait until the test opens the gate, as a slow stack would make them."""

    def __init__(self) -> None:
        super().__init__(build_status())
        self.gate = asyncio.Event()
        self.gate.set()

    async def refresh(self) -> StackStatus:
        await self.gate.wait()
        return await super().refresh()


async def test_ctrl_r_says_refreshing_until_the_refresh_lands():
    monitor = GatedMonitor()
    app = build_app(replace(make_context(), monitor=monitor))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        line = app.screen.query_one("#matrix-status")
        assert "refreshing" not in text_of(line)
        monitor.gate.clear()
        calls = monitor.refresh_calls
        await pilot.press("ctrl+r")  # answered at once, though the stack has not answered
        await wait_until(pilot, lambda: "refreshing…" in text_of(line), "refreshing… shown")
        assert monitor.refresh_calls == calls
        monitor.gate.set()
        await wait_until(pilot, lambda: "refreshing" not in text_of(line), "the note gone")
        assert monitor.refresh_calls == calls + 1


async def test_the_filter_prompt_takes_the_state_lines_place():
    """`/` swaps the state line for the prompt: the table keeps its place and size (a
    table that moves or resizes draws every cell again)."""
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, MatrixScreen)
        line, prompt = screen.query_one("#matrix-status"), screen.filter_input
        before, line_y = table.region, line.region.y
        await pilot.press("slash")
        await wait_until(pilot, lambda: prompt.has_focus, "the prompt")
        assert (line.display, prompt.display) == (False, True)
        assert prompt.region.y == line_y
        assert table.region == before
        await pilot.press(*"kafka", "escape")
        await wait_until(pilot, lambda: table.has_focus, "the table again")
        assert (line.display, prompt.display) == (True, False)
        assert table.region == before
