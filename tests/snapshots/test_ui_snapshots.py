"""SVG snapshots of the matrix, detail and help screens at 80x24 (SSH) and 160x48.

Deterministic by construction: fixed scene, fixed clock (uptimes and the banner countdown
come from data, not from the wall clock), no spinners. Regenerate after an intended
change with `pytest tests/snapshots/test_ui_snapshots.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import pytest

from tests.pilot_wait import idle, settle
from tests.ui_data import make_context
from ui.app import RuntimeDisconnected, VextrusApp
from ui.factory import build_app
from ui.screens.detail import DetailScreen
from ui.widgets.service_table import ServiceTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def _settled(pilot) -> None:
    """Until the first refresh is in the table and no refresh or log worker is busy."""
    app = pilot.app

    def settled() -> bool:
        tables = app.screen.query(ServiceTable)
        return (app.status is not None and idle(app, "refresh", "detail-logs")
                and (not tables or tables.first().row_count > 0))

    await settle(pilot, settled, "the first refresh and the detail logs")


def _app(**kwargs: object) -> VextrusApp:
    return build_app(make_context(**kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", SIZES)
def test_matrix(snap_compare, size):
    assert snap_compare(_app(), terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_matrix_degraded_banner(snap_compare, size):
    async def disconnect(pilot) -> None:
        await _settled(pilot)
        pilot.app.post_message(RuntimeDisconnected("Cannot connect to the Docker daemon"))
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=size, run_before=disconnect)


@pytest.mark.parametrize("size", SIZES)
def test_detail(snap_compare, size):
    async def open_auth(pilot) -> None:
        await _settled(pilot)
        pilot.app.push_screen(DetailScreen("auth"))
        await _settled(pilot)

    assert snap_compare(_app(), terminal_size=size, run_before=open_auth)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, size):
    async def help_open(pilot) -> None:
        await _settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=size, run_before=help_open)


def test_matrix_sorted_by_state_with_blast_radius(snap_compare):
    async def triage(pilot) -> None:
        await _settled(pilot)
        table = pilot.app.screen.query_one(ServiceTable)
        table.move_cursor(row=table.get_row_index("zookeeper"))
        await pilot.press("s")  # worst first: zookeeper on top, still under the cursor
        await pilot.press("b")  # what breaks because of it
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=triage)


def test_matrix_light_theme(snap_compare):
    assert snap_compare(_app(theme="vextrus-light"), terminal_size=(80, 24), run_before=_settled)


def test_matrix_no_color(snap_compare, monkeypatch):
    """NO_COLOR: glyphs and words must carry every state on their own."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_settled)
