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
