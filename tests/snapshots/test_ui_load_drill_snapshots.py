"""SVG snapshots of the load and drill screens at 80x24 and 160x48.

Fixed results and reports over the fixed scene (behaviour is tested against a real server
and real Docker in tests/integration/test_ui_load_drill.py); the snapshots pin the layout: the plan
and thresholds, the judged result, the drill's confirmation with its blast radius, and a
finished drill with its times.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets._footer import FooterKey

from actions.base import Progress
from actions.drill.report import DrillReport
from console.loadgen import LoadResult, LoadSnapshot, Verdict
from tests.pilot_wait import settle
from tests.snapshots.test_ui_snapshots import _settled
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.confirm import ConfirmScreen
from ui.screens.drill import DrillScreen
from ui.screens.load import LoadScreen, LoadTicked

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
AT = datetime(2025, 9, 25, 10, 0, tzinfo=UTC)
URL = "http://127.0.0.1:4000/graphql"


def fixed_result() -> LoadResult:
    return LoadResult(
        target=URL, service="", mode="open", rate=1100.0, users=None, duration_s=30.0,
        started_at="2025-09-25T10:00:00+00:00", elapsed_s=30.2, requests=33000, ok=32912,
        errors={"HTTP 503": 61, "timeout": 27}, throughput_rps=1089.4,
        latency_ms={"p50": 41.2, "p90": 180.4, "p95": 342.9, "p99": 812.0, "max": 2210.5,
                    "mean": 77.1},
        verdicts=[Verdict("p95 < 300 ms", 342.9, False),
                  Verdict("throughput > 1000 req/s", 1089.4, True)],
        connections=212, service_ms={"p50": 39.8, "p95": 301.2, "p99": 640.3, "max": 2210.5},
        send_lag_ms={"p50": 0.1, "p99": 1.2, "max": 3.0},
    )


async def _load_screen(pilot, finished: bool) -> None:
    await _settled(pilot)
    screen = LoadScreen(target=URL)
    await pilot.app.push_screen(screen)
    await settle(pilot, lambda: screen.spec is not None, "the load plan")
    if finished:
        screen.show_result(fixed_result())
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_load_plan(snap_compare, size):
    async def run_before(pilot) -> None:
        await _load_screen(pilot, finished=False)

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_load_result(snap_compare, size):
    async def run_before(pilot) -> None:
        await _load_screen(pilot, finished=True)

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=run_before)


def _footer_shows(pilot, key: str) -> bool:
    """The active screen's footer lists a binding for `key`."""
    return any(item.key == key for item in pilot.app.screen.query(FooterKey))


@pytest.mark.parametrize("size", SIZES)
def test_load_live(snap_compare, size):
    async def run_before(pilot) -> None:
        await _settled(pilot)
        screen = LoadScreen(target=URL)
        await pilot.app.push_screen(screen)
        await settle(pilot, lambda: screen.spec is not None, "the load plan")
        screen.running = True
        screen.on_load_ticked(LoadTicked(LoadSnapshot(
            elapsed=12.0, planned=13200, completed=13105, ok=13080,
            errors={"HTTP 503": 19, "timeout": 6}, throughput=1094.0,
            latency_ms={"p50": 38.5, "p90": 120.2, "p95": 260.7, "p99": 640.0, "max": 1830.2},
            in_flight=71, backlog=24, connections=96, duration=30.0)))
        screen.refresh_bindings()  # as `_start` does: the footer drops "enter Start"
        await settle(pilot, lambda: not _footer_shows(pilot, "enter"), "the running footer")

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_drill_confirmation(snap_compare, size):
    async def run_before(pilot) -> None:
        await _settled(pilot)
        await pilot.app.push_screen(DrillScreen(kind="kill", service="kafka"))
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                     "the confirmation")

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=run_before)


def fixed_report() -> DrillReport:
    events = [
        ("ok", "baseline", "kafka operational, probe latency 4.2 ms"),
        ("ok", "inject", "SIGKILL sent to pid 4242; restart policy 'always'"),
        ("ok", "detect", "status starting: restarting (1 so far) after 0.31s"),
        ("ok", "recover", "operational again after 7.84s (restart policy 'always')"),
        ("ok", "restore", "vextrus-kafka-1: running"),
    ]
    report = DrillReport(
        "20250925T100000-kill-abc123", "kill", "kafka", "2025-09-25T10:00:00+00:00",
        fault="SIGKILL to the main process (a crash)", outcome="recovered", detected_s=0.31,
        detection="status starting: restarting (1 so far)", recovered_s=7.84,
        recovery_by="restart policy 'always'", restored=True,
        finished_at="2025-09-25T10:00:09+00:00")
    report.events = [f"{step}: {message}" for _, step, message in events]
    return report


@pytest.mark.parametrize("size", SIZES)
def test_drill_finished(snap_compare, size):
    async def run_before(pilot) -> None:
        await _settled(pilot)
        screen = DrillScreen(kind="kill", service="kafka")
        await pilot.app.push_screen(screen)
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen),
                     "the confirmation")
        await pilot.press("n")
        report = fixed_report()
        for kind, step, message in (
            ("ok", "baseline", "kafka operational, probe latency 4.2 ms"),
            ("ok", "inject", "SIGKILL sent to pid 4242; restart policy 'always'"),
            ("ok", "detect", "status starting: restarting (1 so far) after 0.31s"),
            ("ok", "recover", "operational again after 7.84s (restart policy 'always')"),
            ("ok", "restore", "vextrus-kafka-1: running"),
            ("done", "", report.summary()),
        ):
            screen.progress.apply(Progress(kind, step, message, at=AT))  # type: ignore[arg-type]
        screen.progress.show_plan_only("finished")
        screen.show_report(report)
        await pilot.pause()

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=run_before)
