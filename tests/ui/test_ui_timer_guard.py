"""A toast that runs out as it is shown, or a timer of zero or less, must not freeze the console.

Textual's one-shot timer spins forever on the event loop for a negative delay (ui/timer_guard.py
says why), so a failing run never returns: the App runs in a child process with a deadline,
and a frozen console fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ui.timer_guard import MIN_INTERVAL_S, safe_interval

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 60

CHILD = textwrap.dedent('''
    import asyncio, json, time
    from textual.notifications import Notification
    from textual.widgets._toast import Toast
    from tests.ui_data import make_context
    from ui.factory import build_app

    class RunsOutAsItIsShown(Notification):
        """Textual checked it a moment before it expired; the Toast reads its time after."""
        @property
        def has_expired(self) -> bool:
            return False

    async def main() -> None:
        app = build_app(make_context())
        fired = []
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            while app.status is None:
                await pilot.pause(0.02)
            note = RunsOutAsItIsShown("restart kafka: done", timeout=1.0,
                                      raised_at=time.time() - 1.5)
            app._notifications.add(note)
            app._refresh_notifications()  # Textual's own path: ToastRack.show -> Toast
            app.set_timer(0, lambda: fired.append("zero"))
            app.set_timer(-0.5, lambda: fired.append("negative"))
            await pilot.pause(0.2)
            toasts = len(app.screen.query(Toast))
            await pilot.press("question_mark")
            await pilot.pause(0.1)
            print(json.dumps({"fired": sorted(fired), "screen": type(app.screen).__name__,
                              "toasts_left": toasts}))

    asyncio.run(main())
''')


def test_a_toast_that_runs_out_as_it_is_shown_leaves_the_console_answering() -> None:
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True,
                              text=True, timeout=DEADLINE_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the console froze: no answer within {DEADLINE_S} s")
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"fired": ["negative", "zero"], "screen": "HelpScreen", "toasts_left": 0}


@pytest.mark.parametrize(("asked", "given"), [
    (-0.5, MIN_INTERVAL_S), (0, MIN_INTERVAL_S), (float("nan"), MIN_INTERVAL_S), (2.5, 2.5),
])
def test_a_delay_of_zero_or_less_becomes_the_shortest_tick(asked: float, given: float) -> None:
    assert safe_interval(asked) == given
