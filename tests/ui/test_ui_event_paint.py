"""A runtime event: the changed row is on screen before the probes run (issue 14, item 5).

Started together, the full refresh's probes and evaluation shared the event loop with the
listing and the frame, and a killed container's row reached the screen well after its status
(bench/events_to_screen.py). The App now lists, paints, then probes.
"""

from __future__ import annotations

from datetime import timedelta

from console.runtime.base import RuntimeEvent
from console.status.types import State
from tests.pilot_wait import idle
from tests.pilot_wait import settle as wait_until
from tests.ui_data import FIXED_NOW, StaticMonitor, build_status, make_context, with_service
from ui.factory import build_app
from ui.widgets.service_table import ServiceTable

SIZE = (120, 40)


async def first_matrix(pilot, app) -> None:  # type: ignore[no-untyped-def]
    """The matrix is on screen, start-up's one-off work done, no listing or refresh running."""
    await wait_until(pilot, lambda: app.status is not None and bool(
        app.screen.query(ServiceTable)) and app.screen.query_one(ServiceTable).row_count,
        "the first matrix")
    await wait_until(pilot, lambda: app.settled, "start-up settled")
    await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")


async def steady_table(pilot, app) -> ServiceTable:  # type: ignore[no-untyped-def]
    """The first matrix drawn and its frame gone out: the table is in its steady state."""
    await first_matrix(pilot, app)
    await pilot.pause(0.2)
    return app.screen.query_one(ServiceTable)


def count_calls(table: ServiceTable, method: str) -> list[int]:
    """Wrap one of the table's per-row or per-line methods; the list fills with its argument
    at each call (the row indexes rendered, the lines a frame asked for)."""
    seen: list[int] = []
    inner = getattr(table, method)

    def counting(index: int):  # type: ignore[no-untyped-def]
        seen.append(index)
        return inner(index)

    setattr(table, method, counting)
    return seen


def app_on_static_monitor():  # type: ignore[no-untyped-def]
    """The console's App over a monitor whose status the test sets."""
    monitor = StaticMonitor(build_status())
    ctx = make_context()
    ctx.monitor = monitor  # type: ignore[assignment]
    return monitor, build_app(ctx)


class KillMonitor(StaticMonitor):
    """After the kill, the listing says kafka exited; a full refresh notes what was on
    screen when it started."""

    def __init__(self) -> None:
        super().__init__(build_status())
        self.on_screen_at_probe: list[str] = []
        self.table: ServiceTable | None = None

    async def refresh(self):  # type: ignore[no-untyped-def]
        if self.table is not None:
            self.on_screen_at_probe.append(str(self.table.get_cell("kafka", "state")))
        return await super().refresh()


async def test_a_killed_container_is_painted_before_the_probes_start() -> None:
    monitor = KillMonitor()
    ctx = make_context()
    ctx.monitor = monitor  # type: ignore[assignment]
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await first_matrix(pilot, app)
        monitor.table = app.screen.query_one(ServiceTable)
        monitor.status = with_service(monitor.status, "kafka", state=State.EXITED)
        monitor.push(RuntimeEvent("kafka", "die", FIXED_NOW + timedelta(seconds=1)))
        await wait_until(pilot, lambda: bool(monitor.on_screen_at_probe), "the full refresh")
    assert "Exited" in monitor.on_screen_at_probe[0]


async def test_a_status_change_repaints_its_rows_only_and_the_screen_shows_it() -> None:
    """One container exits: its row (and its tier's header count) are rendered again, every
    other row comes from DataTable's cache. Before, one changed cell re-rendered all ~470
    cells of the matrix, most of the time from `docker kill` to the row on screen."""
    monitor, app = app_on_static_monitor()
    async with app.run_test(size=SIZE) as pilot:
        await first_matrix(pilot, app)
        table = app.screen.query_one(ServiceTable)
        # A first change and its frame: from here on the table is in its steady state.
        monitor.status = with_service(monitor.status, "redis", state=State.EXITED)
        monitor.push(RuntimeEvent("redis", "die", FIXED_NOW + timedelta(seconds=1)))
        await wait_until(pilot, lambda: "Exited" in str(table.get_cell("redis", "state")),
                         "redis exited")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        await pilot.pause(0.2)
        rendered = count_calls(table, "_compute_row_renderables")
        kafka = table.get_row_index("kafka")
        header = max(i for i, key in enumerate(table.row_keys)
                     if i < kafka and key not in app.ctx.stack)  # kafka's tier header
        monitor.status = with_service(monitor.status, "kafka", state=State.EXITED)
        monitor.push(RuntimeEvent("kafka", "die", FIXED_NOW + timedelta(seconds=2)))

        def painted() -> bool:
            y = table.header_height + kafka - int(table.scroll_y)
            return "Exited" in "".join(s.text for s in table.render_line(y))

        await wait_until(pilot, painted, "kafka's row on screen saying Exited")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        await pilot.pause()
    assert kafka in rendered
    assert set(rendered) <= {kafka, header}, sorted(set(rendered))


async def test_time_passing_repaints_no_row_but_one_in_a_new_minute() -> None:
    """Seven seconds later every uptime has grown: the matrix counts whole minutes (`<1m`
    in the first), so no row is rendered again, not even the service up for seconds, except
    one that crosses into a new minute. Seconds repainted every such row at every refresh
    (after a bring-up, all 40), in front of the row that really changed."""
    from dataclasses import replace

    monitor, app = app_on_static_monitor()
    async with app.run_test(size=(160, 48)) as pilot:  # wide: the Uptime column shows
        table = await steady_table(pilot, app)

        async def seconds_later(seconds: int) -> None:
            later = tuple(replace(s, uptime_s=None if s.uptime_s is None else s.uptime_s + seconds)
                          for s in monitor.status.services)
            monitor.status = replace(monitor.status, services=later,
                                     taken_at=monitor.status.taken_at + timedelta(seconds=seconds))
            app.request_refresh()
            await wait_until(pilot, lambda: app.status is monitor.status, "the later snapshot")
            await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
            await pilot.pause(0.2)

        await seconds_later(1)  # a first refresh and its frame: the table's steady state
        before = {s.name: s.uptime_s for s in monitor.status.services}
        rendered = count_calls(table, "_compute_row_renderables")
        await seconds_later(7)
        assert any(c.key == "uptime" for c in table._columns)
        assert any(up is not None and up < 60 for up in before.values()), "a young service"
        seen = set(rendered)  # before the App closes (its teardown re-renders everything)
        moved = {table.get_row_index(name) for name, up in before.items()
                 if up is not None and int(up) // 60 != int(up + 7) // 60}
    assert seen <= moved, sorted(seen)


def test_uptime_counts_whole_minutes_in_the_matrix_and_seconds_in_details() -> None:
    from ui.widgets.status_style import format_uptime

    shown = [format_uptime(s) for s in (None, 0, 59.9, 60, 250, 3599, 3600, 7500, 90061)]
    assert shown == ["—", "<1m", "<1m", "1m", "4m", "59m", "1h00m", "2h05m", "1d01h"]
    assert format_uptime(250, precise=True) == "4m10s"
    assert format_uptime(45, precise=True) == "45s"


async def test_every_cell_that_changed_in_one_row_is_what_the_screen_shows() -> None:
    """A container exits: its State, Issues and more change in one refresh. The row's caches
    are dropped once for all of them; the line on screen must carry each new cell, not the
    first one with the rest from before."""
    monitor, app = app_on_static_monitor()
    async with app.run_test(size=(160, 48)) as pilot:
        await first_matrix(pilot, app)
        table = app.screen.query_one(ServiceTable)
        name = [s.name for s in monitor.status.services  # not the cursor's row: cached
                if s.state is State.OPERATIONAL and s.latency_ms is not None][3]
        before = [cell.plain for cell in table.get_row(name)]
        monitor.status = with_service(monitor.status, name, state=State.EXITED,
                                      runtime_state="exited", health="unknown",
                                      reachable_host=None, latency_ms=None, uptime_s=None,
                                      issues=("exited (code 137)",))
        app.request_refresh()  # one snapshot with every change (an event shows State first)
        await wait_until(pilot, lambda: "Exited" in str(table.get_cell(name, "state")),
                         f"{name} exited")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        await pilot.pause(0.1)
        after = [cell.plain for cell in table.get_row(name)]
        screen = [strip.text for strip in app.screen._compositor.render_strips()]
        line = next(text for text in screen if f" {name} " in text)
    changed = [new for old, new in zip(before, after, strict=True) if old != new and new.strip()]
    assert len(changed) >= 2, (before, after)
    for text in changed:
        assert text.strip()[:12] in line, (text, line)


async def test_a_status_change_draws_the_changed_lines_not_the_whole_matrix() -> None:
    """After one container exits, the frame asks the table for its changed lines only (the
    row and its tier header). A repaint of the screen or the table at every status (their
    `status` reactives) made the frame draw all ~46 lines of the matrix again, and a layout
    of the readiness gauge arranged the whole screen: 40-60 ms a frame on a busy machine."""
    monitor, app = app_on_static_monitor()
    async with app.run_test(size=(160, 50)) as pilot:
        table = await steady_table(pilot, app)
        asked = count_calls(table, "render_line")
        sent: list[str] = []  # the kind of each update the terminal would be sent
        display = app._display

        def displayed(screen, update):  # type: ignore[no-untyped-def]
            sent.append(type(update).__name__)
            return display(screen, update)

        app._display = displayed  # type: ignore[method-assign]
        monitor.status = with_service(monitor.status, "kafka", state=State.EXITED)
        monitor.push(RuntimeEvent("kafka", "die", FIXED_NOW + timedelta(seconds=1)))
        await wait_until(pilot, lambda: "Exited" in str(table.get_cell("kafka", "state")),
                         "kafka exited")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        await pilot.pause(0.2)
    assert asked, "the changed row was never drawn"
    assert len(set(asked)) <= 4, sorted(set(asked))
    # Only the changed regions go to the terminal: a whole-screen update (the App's own
    # `status` repainting the screen) sent ~40 KB at 160x50 for one row.
    assert sent and "LayoutUpdate" not in sent, sent


async def test_a_taller_or_shorter_table_draws_no_row_again() -> None:
    """A height-only resize (the gauge's counts wrap onto another line, the terminal is made
    shorter) keeps DataTable's caches: its own resize handler drops them all, and the frame
    after it rendered every cell of the matrix again (100-250 ms at 160x50)."""
    _monitor, app = app_on_static_monitor()
    async with app.run_test(size=(160, 48)) as pilot:
        table = await steady_table(pilot, app)
        rendered = count_calls(table, "_compute_row_renderables")
        await pilot.resize_terminal(160, 40)
        await pilot.pause(0.2)
        shorter = table.size.height
        seen = set(rendered)
        await pilot.resize_terminal(150, 40)  # a new width: every row is drawn again
        await pilot.pause(0.2)
        wider = set(rendered) - seen
    assert shorter < 44
    assert not seen, sorted(seen)
    assert wider, "a new width must draw the rows again"
