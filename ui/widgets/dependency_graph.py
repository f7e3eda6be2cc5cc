"""The dependency graph, painted from `console.graph_layout` onto a scrollable canvas.

Nodes carry the matrix's state glyph (readable without colour, for NO_COLOR and monochrome
SSH; ◆ marks a root cause) and are coloured by state through theme variables. The
selected node's edges are drawn heavy and coloured: what it needs (dependencies) in one
colour, what needs it (dependents) in another, and for a failing service the chain down
to its root cause in the error colour. The canvas is larger than 80x24, so this is a
line-API `ScrollView` that keeps the selection in view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.graph_layout import (
    GraphLayout,
    Mode,
    N,
    S,
    glyph,
    is_crossing,
    layout_graph,
)
from console.model import Stack
from console.status.types import ServiceStatus, StackStatus
from ui.widgets.status_style import state_glyph, state_tone

_MOVE = Binding.Group("Move", compact=True)

NO_STATUS_GLYPH = "·"
ARROW = "▶"

# Edge roles, strongest first: a cell shared by several edges takes the strongest.
CAUSE, NEEDS, NEEDED_BY, PLAIN = "cause", "needs", "needed-by", "edge"
_ROLE_RANK = {CAUSE: 0, NEEDS: 1, NEEDED_BY: 2, PLAIN: 3}


def state_class(status: ServiceStatus | None) -> str:
    """The tone a service is drawn in (ok / warn / bad / muted), as the matrix draws it."""
    return "muted" if status is None else state_tone(status.state)


def node_glyph(status: ServiceStatus | None) -> str:
    """The matrix's glyph for the state (◆ marks a root cause); · before the first refresh."""
    return NO_STATUS_GLYPH if status is None else state_glyph(status)


@dataclass(frozen=True)
class Focus:
    """What the selection lights up: direct neighbours and the root-cause chain."""

    selected: str | None = None
    needs: frozenset[str] = frozenset()  # direct dependencies
    needed_by: frozenset[str] = frozenset()  # direct dependents
    cause_edges: frozenset[tuple[str, str]] = frozenset()  # (dependency, dependent)
    cause_nodes: frozenset[str] = frozenset()

    def edge_role(self, source: str, target: str) -> str:
        if (source, target) in self.cause_edges:
            return CAUSE
        if target == self.selected:
            return NEEDS
        if source == self.selected:
            return NEEDED_BY
        return PLAIN


def focus_for(stack: Stack, status: StackStatus | None, name: str | None) -> Focus:
    """The highlight set for a selection, from the stack's edges and the blocked-by chain."""
    if name is None or name not in stack:
        return Focus()
    needs = frozenset(stack.service(name).depends_on)
    needed_by = frozenset(s.name for s in stack.services if name in s.depends_on)
    chain: tuple[str, ...] = ()
    if status is not None:
        try:
            chain = status.get(name).blocked_by
        except KeyError:
            chain = ()
    path = (name, *chain)
    edges = frozenset((path[i + 1], path[i]) for i in range(len(path) - 1))
    return Focus(name, needs, needed_by, edges, frozenset(chain))


class DependencyGraph(ScrollView, can_focus=True):
    """Scrollable, navigable drawing of the stack's dependency graph."""

    BINDINGS = [
        Binding("j", "move('down')", "Down", group=_MOVE, id="dependency_graph.move.down"),
        Binding("k", "move('up')", "Up", group=_MOVE, id="dependency_graph.move.up"),
        Binding("left", "move('left')", "Left", group=_MOVE, id="dependency_graph.arrow.left"),
        Binding("down", "move('down')", "Down", show=False, id="dependency_graph.arrow.down"),
        Binding("up", "move('up')", "Up", show=False, id="dependency_graph.arrow.up"),
        Binding("right", "move('right')", "Right", group=_MOVE,
                id="dependency_graph.arrow.right"),
    ]

    COMPONENT_CLASSES = {
        "dependency-graph--header",
        "dependency-graph--edge",
        "dependency-graph--needs",
        "dependency-graph--needed-by",
        "dependency-graph--cause",
        "dependency-graph--ok",
        "dependency-graph--warn",
        "dependency-graph--bad",
        "dependency-graph--muted",
        "dependency-graph--info",
        "dependency-graph--selected",
    }

    DEFAULT_CSS = """
    DependencyGraph {
        background: $surface;
        color: $foreground;
        overflow: auto auto;
        scrollbar-size: 1 1;
        & > .dependency-graph--header { color: $text-muted; text-style: bold underline; }
        & > .dependency-graph--edge { color: $foreground 35%; }
        & > .dependency-graph--needs { color: $text-accent; text-style: bold; }
        & > .dependency-graph--needed-by { color: $text-primary; text-style: bold; }
        & > .dependency-graph--cause { color: $text-error; text-style: bold; }
        & > .dependency-graph--ok { color: $text-success; }
        & > .dependency-graph--warn { color: $text-warning; }
        & > .dependency-graph--bad { color: $text-error; }
        & > .dependency-graph--muted { color: $text-muted; }
        & > .dependency-graph--info { color: $text-primary; }
        & > .dependency-graph--selected {
            color: $accent; background: $surface; text-style: bold reverse;
        }
    }
    """

    mode: var[Mode] = var("phase", init=False)
    """phase: columns are bring-up phases; topo: columns are dependency depth."""
    selected: var[str | None] = var(None, init=False)
    """The service under the cursor."""

    class Selected(Message):
        """The cursor moved to another service."""

        def __init__(self, graph: DependencyGraph, name: str) -> None:
            super().__init__()
            self.graph = graph
            self.name = name

        @property
        def control(self) -> DependencyGraph:
            return self.graph

    def __init__(
        self,
        stack: Stack,
        status: StackStatus | None = None,
        mode: Mode = "phase",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.stack = stack
        self.stack_status = status
        self._rows: list[Strip] = []
        self._canvas = _Canvas(0, 0)
        self._dirty = True
        self._styles: dict[str, Style] = {}
        self.set_reactive(DependencyGraph.mode, mode)
        self.graph_layout = self._compute_layout(mode)
        first = next(iter(self._ordered_names()), None)
        self.set_reactive(DependencyGraph.selected, first)

    # --- state -------------------------------------------------------------------------

    def _compute_layout(self, mode: Mode) -> GraphLayout:
        graph = layout_graph(self.stack.services, mode, self.stack.phases)
        self.virtual_size = Size(graph.width + 1, graph.height)
        return graph

    def _ordered_names(self) -> Iterable[str]:
        for column in self.graph_layout.columns:
            yield from column.names

    @property
    def focus_set(self) -> Focus:
        return focus_for(self.stack, self.stack_status, self.selected)

    def set_status(self, status: StackStatus | None) -> None:
        """A new snapshot: repaint the states (and the cause chain of the selection)."""
        self.stack_status = status
        self._repaint()

    def service_status(self, name: str) -> ServiceStatus | None:
        if self.stack_status is None:
            return None
        try:
            return self.stack_status.get(name)
        except KeyError:
            return None

    def select(self, name: str) -> bool:
        """Put the cursor on `name` (if it is a service here) and scroll it into view."""
        if name not in self.graph_layout.nodes:
            return False
        self.selected = name
        return True

    def watch_selected(self, name: str | None) -> None:
        self._repaint()
        if name is not None:
            self.call_after_refresh(self.scroll_to_selected)
            self.post_message(self.Selected(self, name))

    def watch_mode(self, mode: Mode) -> None:
        self.graph_layout = self._compute_layout(mode)
        self._repaint()
        self.call_after_refresh(self.scroll_to_selected)

    def scroll_to_selected(self) -> None:
        if self.selected is None or self.selected not in self.graph_layout.nodes:
            return
        box = self.graph_layout.nodes[self.selected]
        region = Region(box.x, box.y, box.width, 1)
        self.scroll_to_region(region.grow((2, 4, 2, 4)), animate=False, immediate=True, force=True)

    def action_move(self, direction: str) -> None:
        """Cursor keys and hjkl: to the neighbouring node in that direction."""
        if self.selected is None:
            return
        target = self.graph_layout.move(self.selected, direction)  # type: ignore[arg-type]
        if target != self.selected:
            self.selected = target

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        name = self.graph_layout.node_at(
            offset.x + int(self.scroll_x), offset.y + int(self.scroll_y)
        )
        if name is not None:
            self.selected = name

    # --- painting ----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._repaint()

    def _style(self, role: str) -> Style:
        style = self._styles.get(role)
        if style is None:
            style = self._styles[role] = self.get_component_rich_style(f"dependency-graph--{role}")
        return style

    def _repaint(self) -> None:
        """Mark the canvas stale; it is redrawn once, on the next render."""
        self._dirty = True
        self.refresh()

    def _paint(self) -> None:
        """Draw the whole canvas (a few thousand cells) into per-row strips."""
        self._dirty = False
        canvas = _Canvas(self.graph_layout.width + 1, self.graph_layout.height)
        focus = self.focus_set
        self._paint_edges(canvas, focus)
        self._paint_headers(canvas)
        self._paint_nodes(canvas, focus)
        base = self.rich_style
        self._rows = [Strip(row).apply_style(base) for row in canvas.segments(self._style)]
        self._canvas = canvas

    def role_at(self, x: int, y: int) -> str | None:
        """How the cell at canvas (x, y) is drawn: needs, needed-by, cause, edge, ok, ...

        For tests and for tools that describe the drawing in words.
        """
        if self._dirty:
            self._paint()
        if 0 <= y < len(self._canvas.roles) and 0 <= x < self._canvas.width:
            return self._canvas.roles[y][x]
        return None

    def on_mount(self) -> None:
        self.call_after_refresh(self.scroll_to_selected)

    def _paint_headers(self, canvas: _Canvas) -> None:
        for header in self.graph_layout.headers:
            canvas.text(header.x, header.y, header.text[: max(0, header.width)], "header")

    def _paint_edges(self, canvas: _Canvas, focus: Focus) -> None:
        cells: dict[tuple[int, int], list[tuple[int, str]]] = {}
        arrows: dict[tuple[int, int], list[str]] = {}
        for edge in self.graph_layout.edges:
            role = focus.edge_role(edge.source, edge.target)
            for x, y, arms in edge.cells:
                cells.setdefault((x, y), []).append((arms, role))
            arrows.setdefault(edge.arrow, []).append(role)
        for (x, y), parts in cells.items():
            canvas.put(x, y, *_edge_cell(parts))
        for (x, y), roles in arrows.items():
            canvas.put(x, y, ARROW, min(roles, key=_ROLE_RANK.__getitem__))

    def _paint_nodes(self, canvas: _Canvas, focus: Focus) -> None:
        for name, box in self.graph_layout.nodes.items():
            status = self.service_status(name)
            family = state_class(status)
            mark = node_glyph(status)
            name_role = _node_role(name, family, focus)
            if name == focus.selected:
                canvas.text(box.x, box.y, f"{mark} {name}", "selected")
            else:
                canvas.put(box.x, box.y, mark, family)
                canvas.text(box.x + 1, box.y, " ", None)
                canvas.text(box.x + 2, box.y, name, name_role)

    def render_line(self, y: int) -> Strip:
        if self._dirty:
            self._paint()
        scroll_x, scroll_y = int(self.scroll_x), int(self.scroll_y)
        width = self.size.width
        line = scroll_y + y
        if line >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        return self._rows[line].crop_extend(scroll_x, scroll_x + width, self.rich_style)


def _node_role(name: str, family: str, focus: Focus) -> str | None:
    if name in focus.cause_nodes:
        return CAUSE
    if name in focus.needs:
        return NEEDS
    if name in focus.needed_by:
        return NEEDED_BY
    return family if family == "bad" else None


def _edge_cell(parts: list[tuple[int, str]]) -> tuple[str, str]:
    """Glyph and role of one cell that one or more edges pass through.

    Where lines only cross, one is drawn over the other (the highlighted one, else the
    vertical trunk) so a crossing never looks like a junction. Elsewhere the glyph joins
    every arm, with the highlighted edges' arms drawn heavy.
    """
    role = min((r for _, r in parts), key=_ROLE_RANK.__getitem__)
    if is_crossing(a for a, _ in parts):
        lit = [a for a, r in parts if r != PLAIN]
        arms = lit[0] if lit else N | S
        return glyph(arms, arms if lit else 0), role
    light = heavy = 0
    for arms, r in parts:
        light |= arms
        if r != PLAIN:
            heavy |= arms if r == role else 0
    return glyph(light, heavy), role


class _Canvas:
    """A grid of (char, role) cells turned into runs of styled segments."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.chars = [[" "] * width for _ in range(height)]
        self.roles: list[list[str | None]] = [[None] * width for _ in range(height)]

    def put(self, x: int, y: int, char: str, role: str | None) -> None:
        if 0 <= y < len(self.chars) and 0 <= x < self.width:
            self.chars[y][x] = char
            self.roles[y][x] = role

    def text(self, x: int, y: int, text: str, role: str | None) -> None:
        for i, char in enumerate(text):
            self.put(x + i, y, char, role)

    def segments(self, style_of: object) -> list[list[Segment]]:
        get = style_of  # Callable[[str], Style]
        rows = []
        for chars, roles in zip(self.chars, self.roles, strict=True):
            row: list[Segment] = []
            start = 0
            for x in range(1, self.width + 1):
                if x == self.width or roles[x] != roles[start]:
                    role = roles[start]
                    style = get(role) if role else None  # type: ignore[operator]
                    row.append(Segment("".join(chars[start:x]), style))
                    start = x
            rows.append(row)
        return rows


__all__ = ["ARROW", "DependencyGraph", "Focus", "focus_for", "node_glyph", "state_class"]
