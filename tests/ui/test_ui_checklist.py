"""The checklist screen: items, evidence, fixes, the header's score; snapshots."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from actions.readiness import ITEMS, Inputs, Mark, Scorecard, Verdict
from tests.pilot_wait import settle
from tests.ui_data import FIXED_NOW, make_context
from ui.factory import build_app
from ui.screens.checklist import ChecklistScreen
from ui.widgets.readiness import ReadinessGauge

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
PASSING = {"no-restart-loops", "kafka-topics", "temporal", "healthchecks", "alerts", "cors"}
UNKNOWN = {"grafana", "logs", "api-p95", "throughput", "memory", "cpu", "memory-leaks"}


def fixed_card() -> Scorecard:
    verdicts = []
    for item in ITEMS:
        mark = (Mark.PASS if item.id in PASSING else
                Mark.UNKNOWN if item.id in UNKNOWN else Mark.FAIL)
        evidence = {"uptime": "not operational: minio, rabbitmq, configuration",
                    "no-hardcoded-secrets": "9 hardcoded: docker-compose.yml:14 (password=***)",
                    "grafana": "Grafana: connection refused"}.get(item.id, f"{item.id} evidence")
        verdicts.append(Verdict(item, mark, evidence, f"asked about {item.id}", FIXED_NOW,
                                "bring-up (B)" if item.id == "uptime" else ""))
    return Scorecard(tuple(verdicts), FIXED_NOW)


async def fixed_evaluator(_inputs: Inputs) -> Scorecard:
    return fixed_card()


def screen() -> ChecklistScreen:
    return ChecklistScreen(evaluator=fixed_evaluator)


async def _opened(pilot) -> ChecklistScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    await app.push_screen(screen())
    checklist = app.screen
    assert isinstance(checklist, ChecklistScreen)
    await settle(pilot, lambda: checklist.card is not None, "the checklist")
    return checklist


async def test_the_first_frame_after_an_evaluation_shows_whole_rows() -> None:
    """A frame drawn right after the rows land (before the table idles) shows the marks and
    whole titles: DataTable measured auto-width columns only when idle, and such a frame
    stayed cached with header-wide columns ("Infr  All   not oper", no marks)."""
    app = build_app(make_context())
    async with app.run_test(size=(160, 48)) as pilot:
        checklist = screen()
        drawn: list[str] = []
        fill = checklist._fill

        def fill_and_draw(card: Scorecard) -> None:  # the first rows, and a frame at once
            fill(card)
            drawn.append(checklist.query_one(DataTable).render_line(1).text)

        checklist._fill = fill_and_draw  # type: ignore[method-assign]
        await app.push_screen(checklist)
        await settle(pilot, lambda: bool(drawn), "the first rows")
        first = drawn[0]
        assert "fail" in first or "pass" in first or "unknown" in first, first
        assert "All services running without restarts for >10 minutes" in first, first


async def test_items_evidence_and_the_header_score() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(120, 40)) as pilot:
        checklist = await _opened(pilot)
        title = str(checklist.query_one("#checklist-title").render())
        assert title == "Readiness checklist · Checklist 25% · 6/24 pass · 11 fail · 7 unknown"
        detail = str(checklist.query_one("#checklist-detail").render())
        assert "All services running without restarts for >10 minutes: fail" in detail
        assert "not operational: minio, rabbitmq, configuration" in detail
        assert "fix: bring-up (B)  (press enter)" in detail
        await pilot.press("j", "j", "j", "j", "j", "j")  # to "Zero hardcoded secrets"
        detail = str(checklist.query_one("#checklist-detail").render())
        assert "Zero hardcoded secrets in codebase: fail" in detail
        assert "password=***" in detail
        assert app.checklist is not None  # the header follows the screen's evaluation
        await pilot.press("escape")
        gauge = app.screen.query_one(ReadinessGauge)
        await settle(pilot, lambda: gauge.checklist is not None, "the header's score")
        assert "Checklist 25% · 6/24 pass" in str(gauge.render())


async def test_enter_runs_the_items_guided_fix_or_says_there_is_none() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(120, 40)) as pilot:
        checklist = await _opened(pilot)
        for _ in range(13):  # down to "Grafana dashboards", which has no guided fix
            await pilot.press("j")
        assert checklist._selected() == "grafana"
        await pilot.press("enter")
        await settle(pilot, lambda: any("no guided fix" in n.message
                                        for n in app._notifications), "the notice")
        assert app.screen is checklist
        for _ in range(13):
            await pilot.press("k")
        assert checklist._selected() == "uptime"  # its fix is the bring-up
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen is not checklist, "the bring-up to open")
        names = [type(s).__name__ for s in app.screen_stack]
        assert names[names.index("ChecklistScreen") + 1] == "ConfirmScreen", names
        assert app.screen.question.startswith("bringup ")  # type: ignore[attr-defined]
        await pilot.press("escape")  # declined: back on the checklist
        await settle(pilot, lambda: app.screen is checklist, "the checklist again")


async def test_capital_c_opens_the_checklist_from_the_matrix() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: app.status is not None, "the first refresh")
        await pilot.press("C")
        await settle(pilot, lambda: isinstance(app.screen, ChecklistScreen), "the checklist")


async def test_the_header_score_fits_an_80_column_line() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.status is not None, "the first refresh")
        app.checklist = fixed_card()
        gauge = app.screen.query_one(ReadinessGauge)
        await settle(pilot, lambda: gauge.checklist is not None, "the header's score")
        headline = str(gauge.render()).splitlines()[0]
        assert "· Checklist 25%" in headline
        assert len(headline) <= gauge.size.width  # one line: the counts line stays below
