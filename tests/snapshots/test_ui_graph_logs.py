"""The snapshots tests of tests/ui/test_ui_graph_logs.py (same subject, other layer).

Pilot and snapshot tests of the graph, logs and timeline screens.

Each screen is mounted in `HostApp`, a small App that carries `ctx` and a reactive `status`
exactly as `VextrusApp` does, with the console's own themes. The status is a fixed scene
built from the status dataclasses; the logs come from `ListRuntime`, which streams a list
of real `LogLine`s and then stays open like `docker logs --follow`; the journal is a real
SQLite journal in a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.test_ui_graph_logs import (
    LINES,
    SIZES,
    HostApp,
    ListRuntime,
    _graph,
    _journal,
    _timeline_loaded,
    graph_app,
    settle_logs,
)
from ui.screens.logs import LogsScreen
from ui.screens.timeline import TimelineScreen


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_snapshot_graph(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def select_blocked(pilot) -> None:  # type: ignore[no-untyped-def]
        _graph(pilot.app).select("master-data")
        await pilot.pause()

    assert snap_compare(graph_app(), terminal_size=size, run_before=select_blocked)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_snapshot_logs(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = HostApp(lambda: LogsScreen(["auth", "kafka"]), runtime=ListRuntime(LINES))

    async def search(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle_logs(pilot, pilot.app, 7)
        await pilot.press("slash", *"timeout", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=search)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_snapshot_timeline(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = HostApp(TimelineScreen, journal=_journal(tmp_path))

    async def loaded(pilot) -> None:  # type: ignore[no-untyped-def]
        await _timeline_loaded(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=loaded)
