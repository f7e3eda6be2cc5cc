"""Resources: CPU, memory, network and block I/O of every service, with sparklines.

What lazydocker's stats graphs and k9s's CPU/MEM columns give, for the whole stack at
once: the heaviest first (`s` cycles CPU, memory, name), each service's replicas summed,
and the stack's total against the host's memory (the seeds' "39 services may exceed 32 GB
RAM"). It follows the app's `usage` snapshots (one sampling round every few seconds);
a runtime that measures nothing says why on the title line instead of empty columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from console.stats import SAMPLE_SECONDS, UsageBoard, format_bytes, format_pair, format_percent
from ui.app_hooks import release_app_hooks
from ui.host import host
from ui.screens.detail import DetailScreen
from ui.widgets.key_footer import KeyFooter
from ui.widgets.look_cached_table import LookCachedTable
from ui.widgets.status_style import StatusPalette
from ui.widgets.usage_cells import cpu_tone, memory_tone, sparkline

if TYPE_CHECKING:
    from ui.host import HostApp

SORTS = ("cpu", "memory", "name")
WIDE = 120  # from this width on: wider sparklines and the network column


class ResourcesTable(LookCachedTable):
    DEFAULT_CSS = """
    ResourcesTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="resources.down"),
        Binding("k", "cursor_up", "Up", show=False, id="resources.up"),
    ]


class ResourcesScreen(Screen[None]):
    """Every service's resource usage, sortable, with the recent history."""

    CSS_PATH = "resources.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="resources.back"),
        Binding("s", "sort", "Sort", id="resources.sort"),
        Binding("enter", "details", "Details", id="resources.details"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort_mode = "cpu"
        self._wide: bool | None = None

    @property
    def vextrus(self) -> HostApp:
        return host(self)

    @property
    def table(self) -> ResourcesTable:
        return self.query_one(ResourcesTable)

    def compose(self) -> ComposeResult:
        yield Static(id="resources-title")
        yield ResourcesTable(id="resources-table", cursor_type="row")
        yield Static(id="resources-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "usage", self._show, init=True)
        self.table.focus()

    def on_unmount(self) -> None:
        release_app_hooks(self)

    def on_resize(self) -> None:
        self._show(self.vextrus.usage)

    def action_sort(self) -> None:
        self.sort_mode = SORTS[(SORTS.index(self.sort_mode) + 1) % len(SORTS)]
        self._show(self.vextrus.usage)

    def action_details(self) -> None:
        table = self.table
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.push_screen(DetailScreen(str(key)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    # --- rendering -----------------------------------------------------------------------

    def _columns(self, wide: bool) -> list[tuple[str, str, int]]:
        """At 80 columns: no network (host networking has none anyway) and no replica count."""
        if not wide:
            return [("service", "Service", 16), ("cpu", "CPU", 6), ("cpu_hist", "CPU hist", 10),
                    ("mem", "Mem", 6), ("mem_pct", "%limit", 6), ("mem_hist", "Mem hist", 8),
                    ("block", "Block r / w", 13)]
        return [("service", "Service", 20), ("cpu", "CPU", 6), ("cpu_hist", "CPU history", 20),
                ("mem", "Memory", 7), ("mem_pct", "% limit", 7),
                ("mem_hist", "Memory history", 20), ("net", "Net rx / tx", 15),
                ("block", "Block r / w", 15), ("replicas", "Replicas", 8)]

    def _show(self, board: UsageBoard | None) -> None:
        if not self.is_mounted or not self.size.width:
            return
        wide = self.size.width >= WIDE
        table = self.table
        keep = None
        if table.row_count:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if wide != self._wide:
            self._wide = wide
            table.clear(columns=True)
            for key, label, width in self._columns(wide):
                table.add_column(label, width=width, key=key)
        table.clear()
        palette = StatusPalette.for_app(self.app)
        widths = {key: width for key, _, width in self._columns(wide)}
        for name in self._order(board):
            table.add_row(*self._cells(board, name, palette, widths), key=name)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self._title(board, palette)

    def _order(self, board: UsageBoard | None) -> list[str]:
        names = self.vextrus.ctx.stack.names()
        if self.sort_mode == "name":
            return sorted(names)

        def weight(name: str) -> float:
            usage = board.get(name) if board else None
            if usage is None:
                return -1.0
            value = usage.total.cpu_percent if self.sort_mode == "cpu" else usage.total.memory
            return -1.0 if value is None else float(value)

        return sorted(names, key=lambda n: (-weight(n), n))

    def _cells(self, board: UsageBoard | None, name: str, palette: StatusPalette,
               widths: dict[str, int]) -> list[Text]:
        usage = board.get(name) if board else None
        if usage is None:
            blank = Text("—", style=palette.muted)
            return [Text(name), *([blank] * (len(widths) - 1))]
        total = usage.total
        cpu_style, mem_style = palette.tone(cpu_tone(total)), palette.tone(memory_tone(total))
        cells = {
            "service": Text(name),
            "cpu": Text(format_percent(total.cpu_percent), style=cpu_style, justify="right"),
            "cpu_hist": Text(sparkline(usage.cpu_history, widths["cpu_hist"]), style=cpu_style),
            "mem": Text(format_bytes(total.memory), style=mem_style, justify="right"),
            "mem_pct": Text(format_percent(total.memory_percent), style=mem_style,
                            justify="right"),
            "mem_hist": Text(sparkline(usage.memory_history, widths["mem_hist"],
                                       floor=_memory_floor(usage.memory_history)),
                             style=mem_style),
            "net": Text(format_pair(total.net_rx, total.net_tx)),
            "block": Text(format_pair(total.block_read, total.block_write)),
            "replicas": Text(str(len(usage.replicas)), justify="right"),
        }
        return [cells[key] for key in widths]

    def _title(self, board: UsageBoard | None, palette: StatusPalette) -> None:
        title = Text("Resources", style=palette.info)
        if board is None:
            title.append(" · waiting for the first sample", style=palette.muted)
        elif board.unavailable:
            title.append(f" · {board.unavailable}", style=palette.warn)
        else:
            measured = [u.total for u in board.services.values()]
            cpu = sum(u.cpu_percent or 0.0 for u in measured)
            memory = sum(u.memory or 0 for u in measured)
            title.append(f" · {len(measured)} running · CPU {format_percent(cpu)} · "
                         f"memory {format_bytes(memory)}")
            if board.host_memory:
                title.append(f" of {format_bytes(board.host_memory)}")
        self.query_one("#resources-title", Static).update(title)
        source = board.source if board is not None and board.source else "no source"
        self.query_one("#resources-status", Static).update(
            Text(f"sort: {self.sort_mode} · {source} every {SAMPLE_SECONDS:g} s · "
                 "100% CPU = one core", style=palette.muted))


def _memory_floor(history: tuple[float, ...]) -> float:
    """Memory rarely moves far from its level: drawing from 90 % of the lowest point makes
    a slow climb (a leak) visible instead of a flat bar at the top."""
    return 0.9 * min(history) if history else 0.0
