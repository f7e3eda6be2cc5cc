"""The resources screen and the matrix's CPU and Mem columns, driven with Pilot on the
fixed scene and fixed usage figures of tests/snapshots/test_resources_snapshots.py.
"""

from __future__ import annotations

from tests.snapshots.test_resources_snapshots import (
    _app,
    _settled,
    fixed_board,
)
from tests.ui_data import build_stack
from ui.widgets.service_table import ServiceTable


async def test_usage_sorts_exist_only_while_measured() -> None:
    app = _app()
    async with app.run_test(size=(160, 48)) as pilot:
        await _settled(pilot)
        table = app.screen.query_one(ServiceTable)
        table.focus()
        seen = set()
        for _ in range(5):
            await pilot.press("s")
            seen.add(table.sort_mode)
        assert "cpu" not in seen and "cpu" not in table.columns
        app.usage = fixed_board()
        await pilot.pause()
        assert "cpu" in table.columns
        while table.sort_mode != "cpu":
            await pilot.press("s")
        assert table.service_keys[0] == build_stack().names()[3]  # the heaviest
        await pilot.press("s")
        assert table.sort_mode == "memory"
        assert table.service_keys[0] == build_stack().names()[0]  # 470M and counting
