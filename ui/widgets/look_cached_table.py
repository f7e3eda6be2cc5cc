"""A DataTable that draws each cell once per look, not once per row position.

DataTable keys its cell cache on a counter that every sort, added or removed row and resize
bumps, and on the focus state. The service matrix's `s` and `/` re-rendered all ~460 cells
through Rich at 160x48 (75-115 ms a frame), and the resources screen, which lays out its
rows again at each sample and sort, did the same. The cells themselves rarely change, so a
cell is drawn once for its text, width and styles and reused wherever its row moves.
It leans on DataTable's `_render_cell` as the pinned Textual has it; a test
(tests/ui/test_ui_cell_looks.py) holds every cell to DataTable's own drawing.
"""

from __future__ import annotations

from typing import Any

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.renderables.styled import Styled
from textual.widgets import DataTable

LOOK_CACHE_SIZE = 4096  # 40 rows x 12 columns x a few looks (cursor, focus) each


class LookCachedTable(DataTable[Text]):
    """DataTable with a cache of drawn cells keyed by what they look like."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._look_cache: LRUCache[tuple[Any, ...], SegmentLines] = LRUCache(LOOK_CACHE_SIZE)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> SegmentLines:
        """A body cell drawn once per look, not once per row position.

        Only the row and column a click reports (the segments' meta) are added per
        position. Header cells, labels and cells that are not one line of Text go
        DataTable's way.
        """
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width,
                                        cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        cell = self._get_row_renderables(row_index).cells[column_index]
        if row_key is None or self.rows[row_key].height != 1 or not isinstance(cell, Text):
            return super()._render_cell(row_index, column_index, base_style, width,
                                        cursor, hover)
        fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
        component, post = self._get_styles_to_render_cell(
            False, False, fixed, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
        )
        look = (cell.plain, str(cell.style), tuple(cell.spans), cell.justify, cell.overflow,
                width, self.cell_padding, base_style, component, post)
        lines = self._look_cache.get(look)
        if lines is None:
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            lines = self.app.console.render_lines(
                Styled(Padding(cell, (0, self.cell_padding)), pre_style=base_style + component,
                       post_style=post),
                options,
            )
            self._look_cache[look] = lines
        where = Style.from_meta({"row": row_index, "column": column_index})
        return [[segment if segment.control else Segment(segment.text, segment.style + where
                                                          if segment.style else where)
                 for segment in line] for line in lines]
