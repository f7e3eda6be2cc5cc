"""SVG snapshots of the workflows list, the workflow detail and the unreachable panel.

Fixed data (tests/workflows_fake.py, shaped like the real server's answers) and the UI
fixtures' fixed clock. Regenerate with `--snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.pilot_wait import settle
from tests.snapshots.test_ui_snapshots import _settled
from tests.ui_data import make_context
from tests.workflows_fake import FakeWorkflows
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.workflow_detail import WorkflowDetailScreen
from ui.screens.workflows import WorkflowsScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def _app(down: str = "") -> VextrusApp:
    return build_app(replace(make_context(), workflows=FakeWorkflows(down)))


async def _quiet(pilot) -> None:
    """Until no workflows worker is running."""
    def quiet() -> bool:
        busy = [w for w in pilot.app.workers if w.group.startswith("workflow") and w.is_running]
        screen = pilot.app.screen
        shown = not isinstance(screen, WorkflowsScreen) or screen.page or screen.problem
        return not busy and bool(shown)

    await settle(pilot, quiet, "the workflows workers")


async def _open_list(pilot) -> None:
    await _settled(pilot)
    await pilot.press("w")
    await _quiet(pilot)
    assert isinstance(pilot.app.screen, WorkflowsScreen)


@pytest.mark.parametrize("size", SIZES)
def test_workflows_list(snap_compare, size):
    assert snap_compare(_app(), terminal_size=size, run_before=_open_list)


@pytest.mark.parametrize("size", SIZES)
def test_workflows_unreachable(snap_compare, size, monkeypatch):
    # A frozen backoff clock: the countdown reads "2s" however slow the machine is.
    monkeypatch.setattr(WorkflowsScreen, "monotonic", staticmethod(lambda: 1000.0))
    assert snap_compare(_app(down="connection refused"), terminal_size=size,
                        run_before=_open_list)


@pytest.mark.parametrize("size", SIZES)
def test_workflow_detail_stuck_activity(snap_compare, size):
    async def open_detail(pilot) -> None:
        await _open_list(pilot)
        pilot.app.push_screen(WorkflowDetailScreen("onboard-e1043"))
        await _quiet(pilot)

    assert snap_compare(_app(), terminal_size=size, run_before=open_detail)
