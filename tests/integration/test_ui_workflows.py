"""Pilot tests of the workflows screens against a real Temporal test server.

The console is the real App over the fixed service scene (tests/ui_data.py), with the real
TemporalBackend pointed at the test server and the Vextrus worker executing the workflows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from console.journal import Journal
from console.temporal.client import TemporalBackend
from tests.integration.test_temporal_backend import po, start, uid
from tests.pilot_wait import settle
from tests.temporal_server import TemporalLab, TemporalProcess
from tests.ui_data import make_context
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.confirm import ConfirmScreen
from ui.screens.workflow_call import WorkflowCallScreen
from ui.screens.workflow_detail import WorkflowDetailScreen
from ui.screens.workflows import WorkflowsScreen
from ui.widgets.workflow_facts import WorkflowFacts
from ui.widgets.workflow_table import WorkflowTable


def make(address: str, tmp_path: Path, read_only: bool = False) -> VextrusApp:
    journal = Journal(tmp_path / "journal.sqlite3", stack="vextrus")
    backend = TemporalBackend(address, "vextrus", timeout=2.0, query_timeout=2.0)
    return build_app(replace(make_context(read_only=read_only), workflows=backend,
                             journal=journal))


async def until(pilot, ok: Callable[[], bool], what: str, timeout: float = 20) -> None:
    await settle(pilot, ok, what, timeout)


def text_of(app: VextrusApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def facts(app: VextrusApp) -> str:
    """The describe panel as plain text (it renders a Rich table)."""
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(app.screen.query_one(WorkflowFacts).content)
    return console.export_text()


async def open_workflow(pilot, wid: str) -> None:
    """`w`, filter to the id with `/`, `enter` on the row: how an operator gets there."""
    app = pilot.app
    await pilot.press("w")
    await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen), "workflows screen")
    await pilot.press("slash")
    app.screen.query_one("#wf-filter", Input).value = f"id:{wid}"
    await pilot.press("enter")
    table = app.screen.query_one(WorkflowTable)
    await until(pilot, lambda: [r.workflow_id for r in table.rows_shown] == [wid], "the row")
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, WorkflowDetailScreen), "detail screen")
    await until(pilot, lambda: "Status" in facts(app), "describe")


async def test_query_then_approve_signal_to_completion_is_journaled(
    temporal_lab: TemporalLab, tmp_path: Path
) -> None:
    wid = uid("ui-po")
    await start(temporal_lab, "PurchaseOrderApproval", po("1250000.00"), wid)
    app = make(temporal_lab.address, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_workflow(pilot, wid)
        assert "▶ running" in facts(app) and "PurchaseOrderApproval" in facts(app)

        await pilot.press("Q")  # the modal offers the type's query, `status`
        await until(pilot, lambda: isinstance(app.screen, WorkflowCallScreen), "query modal")
        await pilot.press("enter", "enter")
        await until(pilot, lambda: "cfo" in text_of(app, "#wfd-output"), "query answer")
        assert '"approval_tier": "cfo"' in text_of(app, "#wfd-output")

        await pilot.press("exclamation_mark")
        await until(pilot, lambda: isinstance(app.screen, WorkflowCallScreen), "signal modal")
        assert app.screen.query_one("#call-name", Input).value == "approve"
        await pilot.press("enter")
        app.screen.query_one("#call-args", Input).value = '["pilot", "budget ok"]'
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "● completed" in facts(app), "completed", timeout=30)
        assert '"decided_by": "pilot"' in facts(app)
        assert f"signal 'approve' sent to {wid}" in text_of(app, "#wfd-output")
    entries = [e.text for e in Journal(tmp_path / "journal.sqlite3").timeline(kinds=["action"])]
    assert entries == ["workflow signal started",
                       f"workflow signal finished: ok: signal 'approve' sent to {wid}"]


async def test_terminate_wants_a_reason_and_the_id_typed_out(
    temporal_lab: TemporalLab, tmp_path: Path
) -> None:
    wid = uid("ui-po")
    await start(temporal_lab, "PurchaseOrderApproval", po(), wid)
    app = make(temporal_lab.address, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_workflow(pilot, wid)
        await pilot.press("ctrl+k")  # kill, as for a service: terminate
        await until(pilot, lambda: isinstance(app.screen, WorkflowCallScreen), "reason modal")
        await pilot.press("enter")  # no reason: refused in place
        assert "a reason is required" in text_of(app, "#call-hint")
        app.screen.query_one("#call-reason", Input).value = "duplicate order"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "typed confirmation")
        await pilot.press("y")  # a key does not confirm a typed confirmation
        field = app.screen.query_one("#confirm-input", Input)
        field.value = "po-wrong"
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen)
        field.value = wid
        await pilot.press("enter")
        await until(pilot, lambda: "■ terminated" in facts(app), "terminated")
        assert "terminated: duplicate order (by vextrus-console:" in facts(app)


async def test_read_only_refuses_every_write(temporal_lab: TemporalLab, tmp_path: Path) -> None:
    wid = uid("ui-po")
    await start(temporal_lab, "PurchaseOrderApproval", po(), wid)
    app = make(temporal_lab.address, tmp_path, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_workflow(pilot, wid)
        for key in ("exclamation_mark", "D", "ctrl+k"):  # signal, cancel, terminate
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, WorkflowDetailScreen)
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        assert "▶ running" in facts(app)
    assert Journal(tmp_path / "journal.sqlite3").timeline(kinds=["action"]) == []


async def test_status_filter_and_a_bad_filter_line(temporal_lab: TemporalLab,
                                                   tmp_path: Path) -> None:
    await start(temporal_lab, "PurchaseOrderApproval", po(), uid("ui-po"))
    app = make(temporal_lab.address, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen), "workflows")
        table = app.screen.query_one(WorkflowTable)
        await until(pilot, lambda: bool(table.rows_shown), "rows")
        await pilot.press("1")  # all -> running
        await until(pilot, lambda: "filter: status=running" in text_of(app, "#wf-title")
                    and "refreshing" not in text_of(app, "#wf-title"), "filtered")
        assert table.rows_shown and {r.status for r in table.rows_shown} == {"running"}
        await pilot.press("3")  # failed: none here
        await until(pilot, lambda: "filter: status=failed" in text_of(app, "#wf-title")
                    and "refreshing" not in text_of(app, "#wf-title"), "failed only")
        assert table.rows_shown == []
        await pilot.press("3")  # the same digit again: every status
        await until(pilot, lambda: "status=" not in text_of(app, "#wf-title")
                    and "refreshing" not in text_of(app, "#wf-title"), "unfiltered")
        assert table.rows_shown
        await pilot.press("slash")
        app.screen.query_one("#wf-filter", Input).value = "state:running"
        await pilot.press("enter")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert "filter: 'state:running': use status:, type:, id: or q: (query)" in messages


async def test_killed_server_degrades_the_panel_then_recovers(
    temporal_proc: TemporalProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WorkflowsScreen, "retry_first", 0.2)
    monkeypatch.setattr(WorkflowsScreen, "retry_max", 1.0)
    monkeypatch.setattr(WorkflowsScreen, "poll_seconds", 0.3)
    lab = TemporalLab(temporal_proc, worker=None)  # type: ignore[arg-type]
    wid = uid("ui-po")
    await start(lab, "PurchaseOrderApproval", po(), wid, task_queue="nobody")
    app = make(temporal_proc.address, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen), "workflows")
        screen = app.screen
        table = screen.query_one(WorkflowTable)
        await until(pilot, lambda: [r.workflow_id for r in table.rows_shown] == [wid], "row")

        await asyncio.to_thread(temporal_proc.kill)
        await until(pilot, lambda: screen.has_class("-problem"), "the problem panel")
        problem = text_of(app, "#wf-problem")
        assert problem.startswith(f"Temporal at {temporal_proc.address} unreachable: ")
        assert "retrying in" in problem
        assert screen.has_class("-stale") and table.rows_shown  # the last list stays
        assert app.status is not None  # the rest of the console carries on

        await asyncio.to_thread(temporal_proc.start)  # empty again: the test server is in memory
        await until(pilot, lambda: not screen.has_class("-problem"), "recovered by itself",
                    timeout=60)
        assert table.rows_shown == [] and not screen.has_class("-stale")
