"""A DataTable whose lines are drawn again when its columns' widths change.

DataTable measures auto-width columns when it next idles after rows were added, and its
line and cell caches are keyed without the widths. A frame drawn between the rows and that
idle (the screen's first frame, a refresh landing at that moment) stayed cached at the
header's widths: truncated cells, an empty mark column, until the cursor moved over them.
The checklist's snapshot caught it about twice in a hundred runs; the timeline and the
workflow tables fill the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

CellType = TypeVar("CellType")


class SizedTable(DataTable[CellType]):
    """DataTable that forgets what it drew when a column grows or shrinks."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        before = [column.get_render_width(self) for column in self.ordered_columns]
        super()._update_dimensions(new_rows)
        if [column.get_render_width(self) for column in self.ordered_columns] != before:
            self._clear_caches()
            self.refresh()
