"""The live service matrix: a DataTable whose rows are updated in place.

Row keys are service names (plus one key per tier header), so a refresh only rewrites the
cells that changed: the cursor, the scroll position and the operator's eye stay where
they were while the stack changes underneath. Rows are added or removed only when the set
of rows itself changes (a filter, a sort with tier headers, a service appearing).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.reactive import reactive
from textual.widgets.data_table import ColumnKey, RowKey

from console.stats import Usage, UsageBoard
from console.status.types import StackStatus
from ui.app_hooks import release_app_hooks
from ui.widgets.look_cached_table import LookCachedTable
from ui.widgets.service_cells import (
    SORT_MODES,
    TIER_ROW_PREFIX,
    USAGE_COLUMNS,
    USAGE_SORTS,
    Column,
    fit_columns,
    row_plan,
    service_cells,
    tier_cells,
)
from ui.widgets.status_style import StatusPalette
from ui.widgets.usage_cells import steady, usage_cells

SCROLLBAR_WIDTH = 1
# Probe latency moves a little on every refresh; a cell that changes makes the DataTable
# repaint every visible row. Jitter under this much (or under 30%) keeps the shown figure
# (the detail screen always shows the exact one): a calm console then repaints nothing.
LATENCY_STEADY_MS = 5.0


class ServiceTable(LookCachedTable):
    """One row per service, grouped by tier, coloured from the active theme."""

    DEFAULT_CSS = """
    ServiceTable {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    ServiceTable > .datatable--header {
        text-style: bold;
        color: $status-info;
        background: $panel;
    }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Details", id="service_table.details"),
        Binding("j", "cursor_down", "Down", id="service_table.down", show=False),
        Binding("k", "cursor_up", "Up", id="service_table.up", show=False),
    ]

    # repaint=False: `_sync` refreshes the rows it changes (and DataTable refreshes itself on
    # added, removed or sorted rows); a repaint redrew all ~46 lines at every status.
    status: reactive[StackStatus | None] = reactive(None, repaint=False)
    filter_text: reactive[str] = reactive("", repaint=False)
    sort_mode: reactive[str] = reactive("tier")
    blast_source: reactive[str | None] = reactive(None, repaint=False)
    usage: reactive[UsageBoard | None] = reactive(None, repaint=False)  # CPU, Mem while measured

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._columns: list[Column] = []
        self._palette = StatusPalette.from_variables({})
        self._latency_shown: dict[str, float | None] = {}
        self._usage_shown: dict[str, Usage | None] = {}
        self._drawn_width = -1  # the width DataTable's caches were drawn at

    # --- lifecycle ------------------------------------------------------------------

    def on_mount(self) -> None:
        self._palette = StatusPalette.for_app(self.app)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def on_unmount(self) -> None:
        release_app_hooks(self)

    def on_resize(self, event: events.Resize) -> None:
        """A new width may change the columns; a new height changes nothing drawn.

        DataTable drops every cached line at any resize (its `_on_resize` bumps the counter
        in all its cache keys). The gauge above the table grows a line when a service goes
        down, so each `docker kill` re-rendered all ~460 cells of a 40-service matrix
        (100-250 ms a frame at 160x50). A height-only resize keeps the caches: a line of
        the table is drawn from its row and the width alone.
        """
        self._layout()
        if event.size.width == self._drawn_width:
            event.prevent_default()
        self._drawn_width = event.size.width

    def _layout(self) -> bool:
        """Pick the columns that fit; rebuild only when the column set or widths change.

        A rebuild is a layout change (terminal resized, Tier column shown or hidden by the
        sort order), never a data refresh: refreshes always update in place.
        """
        columns = fit_columns(self.size.width - SCROLLBAR_WIDTH, self.sort_mode != "tier",
                              self.measuring)
        if columns == self._columns or not self.size.width:
            return False
        keep = self.selected_key
        self._columns = columns
        self.clear(columns=True)
        for column in columns:
            self.add_column(Text(column.label), width=column.width, key=column.key)
        self._sync(keep)
        return True

    def _theme_changed(self, _theme: object) -> None:
        self._palette = StatusPalette.for_app(self.app)
        self._latency_shown.clear()  # every cell takes the new theme's colours
        self._usage_shown.clear()
        self._sync()

    # --- reactives: data down ---------------------------------------------------------

    def watch_status(self) -> None:
        self._sync()

    def watch_filter_text(self) -> None:
        self._sync()

    def watch_sort_mode(self) -> None:
        if not self._layout():
            self._sync()

    def watch_blast_source(self) -> None:
        self._sync()

    def watch_usage(self) -> None:
        """A sampling round (every few seconds): only the CPU and Mem cells are looked at,
        unless the columns come or go or the rows are sorted by them."""
        if self._layout():
            return
        if self.sort_mode in USAGE_SORTS:
            self._sync()
            return
        shown = [c.key for c in self._columns if c.key in USAGE_COLUMNS]
        if not shown or self.status is None:
            return
        for key in self.service_keys:
            cells: dict[str, Text] = {}
            self._usage_into(key, cells)
            for column in shown:
                if not _same(self.get_cell(key, column), cells[column]):
                    self.update_cell(key, column, cells[column])

    @property
    def measuring(self) -> bool:
        """The runtime measures resource usage: the CPU and Mem columns and sorts exist."""
        return self.usage is not None and not self.usage.unavailable

    def validate_sort_mode(self, mode: str) -> str:
        return mode if mode in SORT_MODES else "tier"

    def validate_cursor_coordinate(self, value: Coordinate) -> Coordinate:
        """The cursor rests on service rows only: a tier header is stepped over in the
        direction the cursor moved (so `r`, `l`, enter always have a service)."""
        value = super().validate_cursor_coordinate(value)
        step = 1 if value.row >= self.cursor_coordinate.row else -1
        row = self._service_row_near(value.row, step)
        return value if row is None or row == value.row else Coordinate(row, value.column)

    def _service_row_near(self, row: int, step: int) -> int | None:
        """The first service row from `row` on in the direction `step`, else the other way."""
        rows = self.ordered_rows
        for direction in (step, -step):
            at = row
            while 0 <= at < len(rows):
                if not str(rows[at].key.value).startswith(TIER_ROW_PREFIX):
                    return at
                at += direction
        return None

    # --- what the screen asks ---------------------------------------------------------

    @property
    def selected_key(self) -> str | None:
        """Row key under the cursor (a service name or a tier header key)."""
        if not self.row_count:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        value = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return value

    @property
    def selected_service(self) -> str | None:
        """Service under the cursor; None on a tier header or an empty table."""
        key = self.selected_key
        return None if key is None or key.startswith(TIER_ROW_PREFIX) else key

    @property
    def row_keys(self) -> list[str]:
        """Row keys in display order (tier headers included)."""
        return [str(row.key.value) for row in self.ordered_rows]

    @property
    def service_keys(self) -> list[str]:
        """Service names in display order (tier headers left out)."""
        return [key for key in self.row_keys if not key.startswith(TIER_ROW_PREFIX)]

    def cycle_sort(self) -> str:
        """Next sort order (tier, state, name, latency); returns the new one."""
        modes = [m for m in SORT_MODES if self.measuring or m not in USAGE_SORTS]
        at = modes.index(self.sort_mode) if self.sort_mode in modes else -1
        self.sort_mode = modes[(at + 1) % len(modes)]
        return self.sort_mode

    # --- reconciliation ---------------------------------------------------------------

    def _sync(self, keep: str | None = None) -> None:
        """Make the rows match status, filter and sort, touching only what changed."""
        status = self.status
        if status is None or not self._columns:
            return
        plan = row_plan(status, self.filter_text, self.sort_mode, self.usage)
        wanted = {key for key, _ in plan}
        keep = keep or self.selected_key
        if keep is None or keep not in wanted or keep.startswith(TIER_ROW_PREFIX):
            # Filtered away (or a header): the first service shown, never a tier header.
            keep = next((k for k, t in plan if t is None), None)
        for key in [k for k in self.row_keys if k not in wanted]:
            self.remove_row(key)
        blast = self._blast_set(status)
        issues_width = self._columns[-1].width
        for key, tier in plan:
            if tier is None:
                service = status.get(key)
                cells = service_cells(service, self._palette, key in blast, issues_width)
                self._damp_latency(key, service.latency_ms, cells)
                self._usage_into(key, cells)
            else:
                members = [s for s in status.services if s.tier == tier]
                cells = tier_cells(tier, members, self._palette)
            self._put_row(key, cells)
        self._apply_order([key for key, _ in plan], keep)

    def _damp_latency(self, key: str, latency_ms: float | None, cells: dict[str, Text]) -> None:
        """Keep the latency cell on screen when the new figure is only jitter."""
        if key in self._latency_shown and key in self.rows and any(
            c.key == "latency" for c in self._columns
        ) and _steady(self._latency_shown[key], latency_ms):
            cells["latency"] = self.get_cell(key, "latency")
            return
        self._latency_shown[key] = latency_ms

    def _usage_into(self, key: str, cells: dict[str, Text]) -> None:
        """CPU and Mem cells; figures that moved by jitter only keep the cells on screen."""
        shown = [c.key for c in self._columns if c.key in USAGE_COLUMNS]
        if not shown:
            return
        usage = self.usage.get(key) if self.usage is not None else None
        total = usage.total if usage is not None else None
        if key in self.rows and key in self._usage_shown \
                and steady(self._usage_shown[key], total):
            cells.update({column: self.get_cell(key, column) for column in shown})
            return
        self._usage_shown[key] = total
        cells.update(usage_cells(usage, self._palette))

    def _blast_set(self, status: StackStatus) -> set[str]:
        source = self.blast_source
        if source is None:
            return set()
        try:
            return set(status.get(source).blast_radius)
        except KeyError:
            return set()

    def _put_row(self, key: str, cells: dict[str, Text]) -> None:
        """Add the row, or update in place only the cells whose text or style changed."""
        values = [cells.get(column.key, Text()) for column in self._columns]
        if key not in self.rows:
            self.add_row(*values, key=key)
            return
        pairs = zip(self._columns, values, strict=True)
        changed = {ColumnKey(column.key): value for column, value in pairs
                   if not _same(self.get_cell(key, column.key), value)}
        if changed:
            self._update_row(RowKey(key), changed)

    def _update_row(self, row: RowKey, changed: dict[ColumnKey, Text]) -> None:
        """Several changed cells of one row: the row's caches are dropped once, not per cell
        (dropping walks DataTable's whole line cache)."""
        if row not in self._row_locations \
                or any(column not in self._column_locations for column in changed):
            for column, value in changed.items():
                super().update_cell(row, column, value)
            return
        self._data[row].update(changed)
        index = self.get_row_index(row)
        self._forget_row(row, index)
        self.refresh_row(index)

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Text,
                    *, update_width: bool = False) -> None:
        """One changed cell repaints its own row, not the table.

        DataTable's update_cell bumps a counter that is part of every render cache key, so
        one new latency figure re-rendered all ~470 cells of a 40-service matrix: 0.2-0.7 s
        a frame at 160x50 on a loaded box, most of the time from `docker kill` to the row on
        screen. Here the row's cached renders are dropped and only its line is refreshed.
        It leans on DataTable's caches as the pinned Textual has them; a test
        (tests/ui/test_ui_event_paint.py) checks the new value is what the screen shows.
        """
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if update_width:
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        self._update_row(row, {column: value})

    def _forget_row(self, row: RowKey, index: int) -> None:
        """Drop what DataTable cached for one row: its cells, its renderables, its lines.

        (Textual's LRUCache has `keys()` and `discard()` but is not iterable.)"""
        rows = self._row_render_cache
        for row_entry in [k for k in rows.keys() if k[0] == row]:  # noqa: SIM118
            rows.discard(row_entry)
        cells = self._cell_render_cache
        for cell_entry in [k for k in cells.keys() if k[0] == row]:  # noqa: SIM118
            cells.discard(cell_entry)
        renderables = self._row_renderable_cache
        for renderable in [k for k in renderables.keys() if k[1] == index]:  # noqa: SIM118
            renderables.discard(renderable)
        lines = self._line_cache
        for line in list(lines.keys()):
            try:
                owner = self._get_offsets(line[0])[0]
            except LookupError:
                continue
            if owner == row:
                lines.discard(line)

    def _apply_order(self, order: list[str], keep: str | None) -> None:
        """Reorder rows to `order` (a sort by rank, not a rebuild) and keep the cursor's row."""
        if self.row_keys != order:
            rank = {id(self.get_cell(key, "service")): i for i, key in enumerate(order)}
            self.sort("service", key=lambda cell: rank[id(cell)])
        if keep is not None and keep in self.rows and keep != self.selected_key:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        elif self.selected_key is not None and self.selected_key.startswith(TIER_ROW_PREFIX):
            self.move_cursor(row=self.cursor_row, animate=False)  # validated onto a service


def _steady(shown: float | None, new: float | None) -> bool:
    """True when `new` is within jitter of the figure on screen (same side of 1 s too)."""
    if shown is None or new is None:
        return shown is new
    if (shown >= 1000) != (new >= 1000):
        return False
    return abs(new - shown) < max(LATENCY_STEADY_MS, 0.3 * shown)


def _same(old: Any, new: Text) -> bool:
    """Rich's Text equality ignores the base style; a theme change must still repaint."""
    return (
        isinstance(old, Text)
        and old.plain == new.plain
        and old.style == new.style
        and old.spans == new.spans
    )
