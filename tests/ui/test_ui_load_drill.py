"""The ui tests of tests/integration/test_ui_load_drill.py (same subject, other layer).

The load and drill screens, driven by keys: a real loopback server, real Docker drills.

The load screen runs against tests/loadserver.py with a known delay and error rate; the
drill screen runs real drills on busybox containers (host network, 127.0.0.1): a kill
drill recovered by the restart policy, an `esc` mid-drill that restores the service, and
read-only refusal. Ports 24230-24239.
"""

from __future__ import annotations

from tests.integration.test_ui_load_drill import (
    SIZE,
    panel_text,
)
from tests.loadserver import serving
from tests.pilot_wait import settle
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.load import LoadScreen


async def test_load_screen_runs_and_judges_the_thresholds() -> None:
    app = build_app(make_context())
    with serving(24230, delay=0.02, error_every=5):
        async with app.run_test(size=SIZE) as pilot:
            screen = LoadScreen(target="http://127.0.0.1:24230/api", rate=50, duration=1.0)
            await app.push_screen(screen)
            await settle(pilot, lambda: screen.spec is not None, "the plan")
            assert "p95 < 300 ms" in panel_text(screen)
            await pilot.press("enter")
            await settle(pilot, lambda: screen.result is not None, "the load run", 30)
            result = screen.result
            assert result is not None and result.requests == 50
            assert result.errors == {"HTTP 500": 10}
            text = panel_text(screen)
            assert "p95 < 300 ms  (measured" in text  # judged; how fast is this machine's
            assert "FAIL  throughput > 1000 req/s" in text
            assert result.latency_ms["p50"] >= 20
            assert "HTTP 500: 10" in text
            await pilot.press("escape")
            assert not isinstance(app.screen, LoadScreen)


async def test_load_screen_refuses_a_target_off_loopback() -> None:
    app = build_app(make_context())
    async with app.run_test(size=SIZE) as pilot:
        screen = LoadScreen(target="http://10.1.2.3/")
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.spec is None
        assert "not a loopback address" in panel_text(screen)
        assert not screen.check_action("start", ())
