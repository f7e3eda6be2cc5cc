"""Tables that fill after their first frame are drawn again at their columns' widths.

DataTable measures auto-width columns when it idles after new rows, and keeps what it drew
before under cache keys without the widths: a frame drawn in between stayed on screen with
header-wide columns ("Infr  All   not oper" in the checklist, whose snapshot caught it).
The timeline and the workflow tables (SizedTable) fill from workers after their first frame.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from ui.widgets.sized_table import SizedTable

LONG = "restart loop: 3 restarts in 1 min, exit code 1 each time"


class OneTable(App[None]):
    def __init__(self, table: DataTable[str]) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        self.table.add_column("Kind", key="kind")
        self.table.add_column("What happened", key="text")
        yield self.table


async def drawn_before_and_after_idle(table: DataTable[str]) -> tuple[str, str]:
    """New rows, a frame at once (before the table idles, as the compositor may draw one),
    then the frame after it has idled: the first entry's line in each."""
    app = OneTable(table)
    async with app.run_test(size=(100, 20)) as pilot:
        table.focus()
        table.add_row("healthy", "ok", key="first")
        await pilot.pause(0.1)
        table.clear()  # a reload: the rows come again, one of them wider
        table.add_row("exited", LONG, key="first")
        early = table.render_lines(Region(0, 0, 100, 2))[1].text
        await pilot.pause(0.2)
        late = table.render_lines(Region(0, 0, 100, 2))[1].text
    return early, late


async def test_a_frame_drawn_before_the_columns_are_measured_does_not_stay() -> None:
    early, late = await drawn_before_and_after_idle(SizedTable(cursor_type="row"))
    assert LONG not in early  # the frame before the idle: header-wide columns
    assert LONG in late, late


async def test_datatable_alone_keeps_the_early_frame() -> None:
    """Why SizedTable exists: with the pinned Textual the early frame stays. If this fails,
    Textual fixed it, and SizedTable can go."""
    early, late = await drawn_before_and_after_idle(DataTable(cursor_type="row"))
    assert LONG not in late and late.strip() == early.strip()
