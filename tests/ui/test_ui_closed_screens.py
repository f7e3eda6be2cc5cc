"""A screen the operator closes is gone: nothing of the App holds it (ui/app_hooks.py).

Textual keeps a node in the App's watcher lists until the watched value next changes, and in
a signal's subscriptions until the signal is next published; on a quiet stack that is never,
and every details screen opened stayed in memory with its widgets (~5,000 objects each).
"""

from __future__ import annotations

import gc
from collections import Counter

from tests.pilot_wait import settle
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.detail import DetailScreen
from ui.screens.graph import GraphScreen
from ui.screens.matrix import MatrixScreen
from ui.screens.resources import ResourcesScreen
from ui.screens.timeline import TimelineScreen

# The screens that watch the App's values or its theme, and the key that opens each.
WATCHING_SCREENS = {"enter": DetailScreen, "g": GraphScreen, "t": TimelineScreen,
                    "m": ResourcesScreen}
OPENED = 3


def alive(*classes: type) -> list[str]:
    # Frozen objects (ui/idle_gc.py freezes after the warm-up) are not listed by
    # gc.get_objects: a screen frozen while held would hide. The App unfreezes at exit anyway.
    gc.unfreeze()
    gc.collect()
    return sorted(type(o).__name__ for o in gc.get_objects() if isinstance(o, classes))


async def test_screens_opened_and_closed_leave_no_copy_in_memory() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.status is not None, "the first matrix")
        for key, screen in WATCHING_SCREENS.items():
            for _ in range(OPENED):
                await pilot.press(key)
                await settle(pilot, lambda s=screen: isinstance(app.screen, s), screen.__name__)
                await pilot.press("escape")
                await settle(pilot, lambda: isinstance(app.screen, MatrixScreen), "the matrix")
        await pilot.pause(0.1)  # the last screen's unmount has run
        # None piles up: at most the last one, which the timeline's finished load worker can
        # still reach through its context until a later worker runs (seen in this test).
        left = Counter(alive(*WATCHING_SCREENS.values()))
        assert all(count <= 1 for count in left.values()), left
        assert left[DetailScreen.__name__] == left[GraphScreen.__name__] == 0
        # The App's own hooks now hold only what is on screen.
        watchers = getattr(app, "__watchers", {})
        holders = {type(node).__name__ for entries in watchers.values() for node, _ in entries}
        assert holders == {"MatrixScreen"}
        subscribed = {type(node).__name__ for node in app.theme_changed_signal._subscriptions}
        assert subscribed == {"ServiceTable", "ReadinessGauge"}
