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
        await wait_until(pilot, lambda: app.status is not None and bool(
            app.screen.query(ServiceTable)) and app.screen.query_one(ServiceTable).row_count,
            "the first matrix")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        monitor.table = app.screen.query_one(ServiceTable)
        monitor.status = with_service(monitor.status, "kafka", state=State.EXITED)
        monitor.push(RuntimeEvent("kafka", "die", FIXED_NOW + timedelta(seconds=1)))
        await wait_until(pilot, lambda: bool(monitor.on_screen_at_probe), "the full refresh")
    assert "Exited" in monitor.on_screen_at_probe[0]


async def test_a_status_change_repaints_its_rows_only_and_the_screen_shows_it() -> None:
    """One container exits: its row (and its tier's header count) are rendered again, every
    other row comes from DataTable's cache. Before, one changed cell re-rendered all ~470
    cells of the matrix, most of the time from `docker kill` to the row on screen."""
    monitor = StaticMonitor(build_status())
    ctx = make_context()
    ctx.monitor = monitor  # type: ignore[assignment]
    app = build_app(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.status is not None and bool(
            app.screen.query(ServiceTable)) and app.screen.query_one(ServiceTable).row_count,
            "the first matrix")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        table = app.screen.query_one(ServiceTable)
        # A first change and its frame: from here on the table is in its steady state.
        monitor.status = with_service(monitor.status, "redis", state=State.EXITED)
        monitor.push(RuntimeEvent("redis", "die", FIXED_NOW + timedelta(seconds=1)))
        await wait_until(pilot, lambda: "Exited" in str(table.get_cell("redis", "state")),
                         "redis exited")
        await wait_until(pilot, lambda: idle(app, "states", "refresh"), "quiet workers")
        await pilot.pause(0.2)
        rendered: list[int] = []
        compute = table._compute_row_renderables

        def counting(row_index: int):  # type: ignore[no-untyped-def]
            rendered.append(row_index)
            return compute(row_index)

        table._compute_row_renderables = counting  # type: ignore[method-assign]
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
