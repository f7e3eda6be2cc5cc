"""The matrix and the resources table draw a cell once per look (issue 14, item 8).

DataTable re-rendered every cell through Rich after each sort and each focus change (its
cache keys carry a counter and the focus state): `s` and `/` took 75-115 ms a frame at
160x48. LookCachedTable keeps a cell's drawing by its text, width and styles and adds only
the row and column a click reports. These tests hold it to DataTable's own drawing, segment
by segment, and check that a sort the table has seen before draws no cell again.
"""

from __future__ import annotations

from textual.widgets import DataTable

from tests.pilot_wait import settle
from tests.ui.test_ui_event_paint import steady_table
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.resources import ResourcesTable
from ui.widgets.look_cached_table import LookCachedTable

SIZE = (160, 48)


def drawn_both_ways(table: LookCachedTable, cursor_row: int) -> list[tuple[object, object]]:
    """Every visible body cell drawn by ServiceTable and by DataTable itself, in pairs."""
    table._pseudo_class_state = table.get_pseudo_class_state()
    base = table.rich_style
    pairs = []
    for row in range(table.row_count):
        for column, column_info in enumerate(table.ordered_columns):
            width = column_info.get_render_width(table)
            for cursor in (row == cursor_row, True, False):
                for hover in (False, True):
                    ours = table._render_cell(row, column, base, width, cursor, hover)
                    theirs = DataTable._render_cell(table, row, column, base, width, cursor,
                                                    hover)
                    pairs.append((ours, theirs))
    return pairs


async def test_cells_are_drawn_as_datatable_draws_them_in_every_state() -> None:
    """Same text, same styles (theme colours, cursor, hover, focus), same click meta."""
    app = build_app(make_context())
    async with app.run_test(size=SIZE) as pilot:
        table = await steady_table(pilot, app)
        states = 0
        for _ in range(2):  # focused, then blurred (the filter prompt takes the focus)
            pairs = drawn_both_ways(table, table.cursor_row)
            assert pairs and all(ours == theirs for ours, theirs in pairs)
            states += 1
            await pilot.press("slash")
            await settle(pilot, lambda: not table.has_focus, "the table lost the focus")
        table.cycle_sort()  # rows move: each cell's meta must name its new row
        await pilot.pause()
        pairs = drawn_both_ways(table, table.cursor_row)
        assert all(ours == theirs for ours, theirs in pairs)
        assert states == 2


async def test_a_sort_seen_before_draws_no_cell_again() -> None:
    """Cycling the sort orders twice: the second round finds every cell's look drawn."""
    app = build_app(make_context())
    async with app.run_test(size=SIZE) as pilot:
        table = await steady_table(pilot, app)
        drawn: list[object] = []
        console = app.console
        inner = console.render_lines

        def counting(renderable, *args, **kwargs):  # type: ignore[no-untyped-def]
            drawn.append(renderable)
            return inner(renderable, *args, **kwargs)

        modes = 0
        first_round = 0
        for round_ in range(2):
            console.render_lines = counting  # type: ignore[method-assign]
            while True:
                await pilot.press("s")
                await pilot.pause(0.05)
                modes += 1
                if table.sort_mode == "tier":
                    break
            console.render_lines = inner  # type: ignore[method-assign]
            if round_ == 0:
                first_round = len(drawn)
                drawn.clear()
        assert first_round > 100, "the first round of sorts draws the table's cells"
        # The second round draws the header row again at each order (DataTable's way,
        # a dozen cells), never the table's 40 rows of cells.
        rounds = modes // 2
        cells = [r for r in drawn if type(r).__name__ == "Styled"]
        assert len(cells) <= rounds * (len(table.ordered_columns) + 2), (len(cells), rounds)


async def test_the_resources_table_draws_as_datatable_draws_after_a_sort() -> None:
    """The resources screen lays its rows out again at each sample and sort."""
    app = build_app(make_context())
    async with app.run_test(size=SIZE) as pilot:
        await steady_table(pilot, app)
        await pilot.press("m")
        await settle(pilot, lambda: bool(app.screen.query(ResourcesTable))
                     and app.screen.query_one(ResourcesTable).row_count > 0, "resources")
        table = app.screen.query_one(ResourcesTable)
        await pilot.press("s")
        await settle(pilot, lambda: "sort: memory" in str(
            app.screen.query_one("#resources-status").render()), "the rows laid out again")
        pairs = drawn_both_ways(table, table.cursor_row)
        assert pairs and all(ours == theirs for ours, theirs in pairs)
