"""The console holds full garbage collections back while keys arrive (ui/idle_gc.py)."""

from __future__ import annotations

import gc

from tests.pilot_wait import settle
from tests.ui_data import make_context
from ui.factory import build_app
from ui.idle_gc import BACKSTOP


async def test_the_console_collects_in_pauses_and_gives_the_thresholds_back() -> None:
    before = gc.get_threshold()
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.status is not None, "the first matrix")
        assert gc.get_threshold() == (before[0], before[1], BACKSTOP)
        collector = app._idle_gc
        seen = collector._last_input
        await pilot.press("j")
        assert collector._last_input > seen  # a key counts as the operator typing
        gc.collect(1)
        for _ in range(collector.due_after):
            gc.collect(1)  # a full collection is due
        await settle(pilot, lambda: collector.collections >= 1,
                     "a full collection once the keys stopped", timeout=10)
    assert gc.get_threshold() == before


async def test_the_console_freezes_what_it_holds_after_the_warm_up_and_unfreezes_at_exit(
        ) -> None:
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.warmed_up, "the warm-up", timeout=30)
        await settle(pilot, lambda: app._idle_gc.frozen,
                     "the freeze in the first pause", timeout=10)
        assert gc.get_freeze_count() > 10_000  # modules, stylesheets, the first matrix
    assert gc.get_freeze_count() == 0
