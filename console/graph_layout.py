"""Layered layout of the dependency graph on a character grid, headless and unit-tested.

The graph screen draws ~40 services and ~80 dependency edges in a terminal, so the layout is
computed here as plain data (node boxes, edge cell paths, column headers) that a widget only
paints. Dependencies sit to the left of their dependents; each column is a layer: either a
stack phase (split into sub-columns where a phase depends on itself, so bring-up order reads
left to right) or a topological layer.

Edges are bundled per source: in the channel to the right of a column every source owns one
vertical trunk, and long edges run through later columns on a reserved row ("pass") instead of
over other nodes. Nodes of neighbouring columns sit on rows of different parity, so the line
leaving a column and the lines arriving at the next never share a row. Cells carry arm bits
(N/E/S/W) per edge, so the painter can pick box-drawing glyphs and tell junctions from
crossings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from console.model import Service, topological_layers

Mode = Literal["phase", "topo"]
Direction = Literal["left", "right", "up", "down"]

N, E, S, W = 1, 2, 4, 8
LABEL_EXTRA = 2  # a state glyph and a space before the name
HEADER_ROWS = 2  # column header, then one blank row

Cell = tuple[int, int, int]  # x, y, arms
Item = tuple[str, str]  # ("n", name): a node; ("p", source): a source's line passing through


@dataclass(frozen=True)
class NodeBox:
    """Where a service's label sits: `width` cells from (x, y), one row high."""

    name: str
    column: int
    x: int
    y: int
    width: int


@dataclass(frozen=True)
class EdgeRoute:
    """The cells of one dependency edge, `source` (the dependency) to `target` (dependent).

    `cells` are (x, y, arms) with arms a bit set of N/E/S/W; the arrow head sits at `arrow`,
    just left of the target's label.
    """

    source: str
    target: str
    cells: tuple[Cell, ...]
    arrow: tuple[int, int]


@dataclass(frozen=True)
class Header:
    """A column or phase heading, drawn on row `y` from `x`, at most `width` cells."""

    text: str
    x: int
    y: int
    width: int


@dataclass(frozen=True)
class Column:
    """One layer as laid out: its block (0 main, 1 detached bands) and its nodes top down."""

    block: int
    x: int
    width: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class GraphLayout:
    """The whole drawing as data: everything a painter needs, nothing it must compute."""

    mode: Mode
    width: int
    height: int
    nodes: Mapping[str, NodeBox]
    edges: tuple[EdgeRoute, ...]
    headers: tuple[Header, ...]
    columns: tuple[Column, ...]
    unrouted: tuple[tuple[str, str], ...] = ()  # (dependency, dependent) drawn nowhere

    def node_at(self, x: int, y: int) -> str | None:
        """The service whose label covers cell (x, y), for mouse clicks."""
        for box in self.nodes.values():
            if box.y == y and box.x <= x < box.x + box.width:
                return box.name
        return None

    def move(self, name: str, direction: Direction) -> str:
        """The node a cursor key leads to from `name` (itself when there is nowhere to go).

        Left/right go to the nearest row of the neighbouring column that has nodes; up/down
        walk the column and continue into the block above or below at its ends.
        """
        box = self.nodes[name]
        column = self.columns[box.column]
        if direction in ("up", "down"):
            step = -1 if direction == "up" else 1
            index = column.names.index(name) + step
            if 0 <= index < len(column.names):
                return column.names[index]
            return self._across_blocks(box, step) or name
        step = -1 if direction == "left" else 1
        index = box.column + step
        while 0 <= index < len(self.columns):
            candidate = self.columns[index]
            if candidate.block == column.block and candidate.names:
                return min(candidate.names, key=lambda n: abs(self.nodes[n].y - box.y))
            index += step
        return name

    def _across_blocks(self, box: NodeBox, step: int) -> str | None:
        """Leaving a block at its top or bottom: the nearest column of the next block."""
        block = self.columns[box.column].block + step
        columns = [c for c in self.columns if c.block == block and c.names]
        if not columns:
            return None
        column = min(columns, key=lambda c: abs(c.x - box.x))
        return column.names[0] if step > 0 else column.names[-1]


# --- public entry point ------------------------------------------------------------------


def layout_graph(
    services: Iterable[Service],
    mode: Mode = "phase",
    phase_labels: Mapping[int, str] | None = None,
) -> GraphLayout:
    """Lay out the services as columns of layers, left (dependencies) to right (dependents)."""
    services = list(services)
    deps = _known_deps(services)
    if mode == "topo":
        layers = topological_layers(services)
        bands = [_Band(f"layer {i}", [layer]) for i, layer in enumerate(layers)]
        blocks = [bands]
    else:
        bands = _phase_bands(services, deps, phase_labels or {})
        blocks = _split_detached(bands, deps)
    return _assemble(mode, blocks, deps)


# --- layering ----------------------------------------------------------------------------


@dataclass
class _Band:
    """A heading over consecutive columns (a phase, or one topological layer)."""

    label: str
    columns: list[list[str]]


def _known_deps(services: Sequence[Service]) -> dict[str, list[str]]:
    names = {s.name for s in services}
    return {s.name: [d for d in s.depends_on if d in names and d != s.name] for s in services}


def _phase_bands(
    services: Sequence[Service], deps: Mapping[str, list[str]], labels: Mapping[int, str]
) -> list[_Band]:
    """One band per phase; inside it, sub-columns by dependency depth within the phase.

    A dependency on a later phase cannot point left-to-right; it is left out of the depth
    (and later reported as unrouted) rather than breaking the phase order.
    """
    bands = []
    for phase in sorted({s.phase for s in services}):
        members = [s.name for s in services if s.phase == phase]
        depth = _depths_within(members, deps)
        columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
        for name in members:
            columns[depth[name]].append(name)
        label = labels.get(phase, "")
        bands.append(_Band(f"{phase} {label}".strip(), columns))
    return bands


def _depths_within(members: Sequence[str], deps: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest dependency chain of each member counting only dependencies among `members`."""
    inside = set(members)
    depth: dict[str, int] = {}

    def visit(name: str, trail: frozenset[str]) -> int:
        if name not in depth:
            inner = [d for d in deps[name] if d in inside and d not in trail]
            depth[name] = 1 + max((visit(d, trail | {name}) for d in inner), default=-1)
        return depth[name]

    for name in members:
        visit(name, frozenset())
    return depth


def _split_detached(bands: list[_Band], deps: Mapping[str, list[str]]) -> list[list[_Band]]:
    """Bands with no edge to any other band go in a second block below the first.

    For the bundled stack that moves the observability phase under the rest, so the
    drawing is about half as wide.
    """
    band_of = {n: i for i, b in enumerate(bands) for col in b.columns for n in col}
    linked: set[int] = set()
    for name, ds in deps.items():
        for d in ds:
            if band_of[d] != band_of[name]:
                linked.update((band_of[d], band_of[name]))
    attached = [b for i, b in enumerate(bands) if i in linked or len(bands) == 1]
    detached = [b for i, b in enumerate(bands) if b not in attached]
    if not attached or not detached:
        return [bands]
    return [attached, detached]


# --- assembling blocks -------------------------------------------------------------------


@dataclass
class _Acc:
    """What the blocks add up to, in global coordinates."""

    nodes: dict[str, NodeBox] = field(default_factory=dict)
    edges: list[EdgeRoute] = field(default_factory=list)
    headers: list[Header] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    unrouted: list[tuple[str, str]] = field(default_factory=list)
    width: int = 0
    height: int = 0


def _assemble(mode: Mode, blocks: list[list[_Band]], deps: Mapping[str, list[str]]) -> GraphLayout:
    acc = _Acc()
    col_of = {
        n: i
        for block in blocks
        for i, col in enumerate(c for b in block for c in b.columns)
        for n in col
    }
    block_of = {
        n: bi for bi, block in enumerate(blocks) for b in block for c in b.columns for n in c
    }
    forward: dict[str, list[str]] = {n: [] for n in col_of}
    for name, ds in deps.items():
        for d in ds:
            if block_of[d] == block_of[name] and col_of[d] < col_of[name]:
                forward[name].append(d)
            else:
                acc.unrouted.append((d, name))
    y0 = 0
    for bi, block in enumerate(blocks):
        _BlockLayout(bi, block, forward, acc, y0).run()
        y0 = acc.height + 1
    return GraphLayout(
        mode=mode,
        width=acc.width,
        height=acc.height,
        nodes=dict(acc.nodes),
        edges=tuple(acc.edges),
        headers=tuple(acc.headers),
        columns=tuple(acc.columns),
        unrouted=tuple(acc.unrouted),
    )


class _BlockLayout:
    """Lays out one block: order the columns, place rows, assign trunks, route edges."""

    def __init__(
        self,
        index: int,
        bands: list[_Band],
        forward: Mapping[str, list[str]],
        acc: _Acc,
        y0: int,
    ) -> None:
        self.index = index
        self.bands = bands
        self.acc = acc
        self.y0 = y0
        names = [c for b in bands for c in b.columns]
        self.col_of = {n: i for i, col in enumerate(names) for n in col}
        self.deps = {n: forward[n] for n in self.col_of}
        self.targets: dict[str, list[str]] = {n: [] for n in self.col_of}
        for name, ds in self.deps.items():
            for d in ds:
                self.targets[d].append(name)
        self.items = self._items([list(c) for c in names])

    # -- items and ordering ---------------------------------------------------------------

    def _last_col(self, source: str) -> int:
        return max(self.col_of[t] for t in self.targets[source])

    def _items(self, columns: list[list[str]]) -> list[list[Item]]:
        items: list[list[Item]] = [[("n", n) for n in col] for col in columns]
        for source in self.col_of:
            if self.targets[source]:
                for c in range(self.col_of[source] + 1, self._last_col(source)):
                    items[c].append(("p", source))
        return items

    def _item_in(self, source: str, column: int) -> Item:
        return ("n", source) if self.col_of[source] == column else ("p", source)

    def _preds(self, item: Item, column: int) -> list[Item]:
        kind, name = item
        if kind == "p":
            return [self._item_in(name, column - 1)]
        return [self._item_in(d, column - 1) for d in self.deps[name]]

    def _succs(self, item: Item, column: int) -> list[Item]:
        """Items of the next column this item's lines reach (its targets, its own pass)."""
        _, name = item
        out: list[Item] = [("n", t) for t in self.targets[name] if self.col_of[t] == column + 1]
        if self.targets[name] and self._last_col(name) > column + 1:
            out.append(("p", name))
        return out

    def order(self, sweeps: int = 6) -> None:
        """Barycentre sweeps, keeping the ordering with the fewest crossings."""
        best = [list(c) for c in self.items]
        best_crossings = self._crossings()
        for _ in range(sweeps):
            for c in range(1, len(self.items)):
                self._sort_by(c, c - 1, self._preds)
            for c in range(len(self.items) - 2, -1, -1):
                self._sort_by(c, c + 1, self._succs)
            crossings = self._crossings()
            if crossings < best_crossings:
                best, best_crossings = [list(c) for c in self.items], crossings
        self.items = best

    def _position(self, column: int) -> dict[Item, float]:
        col = self.items[column]
        offset = (self._tallest() - len(col)) / 2
        return {item: offset + i for i, item in enumerate(col)}

    def _tallest(self) -> int:
        return max((len(c) for c in self.items), default=0)

    def _sort_by(self, column: int, other: int, neighbours: object) -> None:
        here = self._position(column)
        there = self._position(other)
        get = neighbours  # Callable[[Item, int], list[Item]]

        def key(item: Item) -> float:
            linked = [there[n] for n in get(item, column) if n in there]  # type: ignore[operator]
            return sum(linked) / len(linked) if linked else here[item]

        self.items[column].sort(key=key)

    def _crossings(self) -> int:
        total = 0
        for c in range(len(self.items) - 1):
            left, right = self._position(c), self._position(c + 1)
            pairs = [(left[a], right[b]) for a in self.items[c] for b in self._succs(a, c)]
            total += sum(
                1
                for i, (a1, b1) in enumerate(pairs)
                for a2, b2 in pairs[i + 1 :]
                if (a1 - a2) * (b1 - b2) < 0
            )
        return total

    # -- geometry -------------------------------------------------------------------------

    def run(self) -> None:
        self.order()
        self.rows = self._rows()
        self.widths = [
            max((len(n) + LABEL_EXTRA for k, n in col if k == "n"), default=1) + 1
            for col in self.items
        ]
        self.tracks = [self._assign_tracks(c) for c in range(len(self.items) - 1)]
        self.xs = self._column_xs()
        self._emit()

    def _rows(self) -> dict[tuple[int, Item], int]:
        """Row of every item: two rows apart, odd columns on odd rows, columns centred."""
        tallest = self._tallest()
        rows = {}
        for c, col in enumerate(self.items):
            offset = (tallest - len(col)) // 2
            for i, item in enumerate(col):
                rows[(c, item)] = self.y0 + HEADER_ROWS + 2 * (offset + i) + c % 2
        return rows

    def _trunk_span(self, source: str, column: int) -> tuple[int, int]:
        ys = [self.rows[(column, self._item_in(source, column))]]
        ys += [self.rows[(column + 1, s)] for s in self._succs(("p", source), column)]
        return min(ys), max(ys)

    def _assign_tracks(self, column: int) -> dict[str, int]:
        """Give every source crossing this channel a vertical track; share when disjoint.

        Greedy interval partitioning, in the order of the sources' rows, so that upper
        sources get the left tracks and their lines cross fewer trunks.
        """
        sources = [name for _, name in self.items[column] if self.targets[name]]
        spans = {s: self._trunk_span(s, column) for s in sources}
        ends: list[int] = []
        out: dict[str, int] = {}
        for source in sorted(sources, key=lambda s: spans[s]):
            top, bottom = spans[source]
            track = next((t for t, end in enumerate(ends) if end < top), len(ends))
            if track == len(ends):
                ends.append(bottom)
            ends[track] = bottom
            out[source] = track
        return out

    def _column_xs(self) -> list[int]:
        xs, x = [], 0
        for c, width in enumerate(self.widths):
            xs.append(x)
            x += width
            if c < len(self.tracks):
                x += _channel_width(self.tracks[c])
        return xs

    # -- output ---------------------------------------------------------------------------

    def _emit(self) -> None:
        acc, base = self.acc, len(self.acc.columns)
        for c, col in enumerate(self.items):
            names = tuple(n for k, n in sorted(col, key=lambda it: self.rows[(c, it)]) if k == "n")
            acc.columns.append(Column(self.index, self.xs[c], self.widths[c], names))
            for name in names:
                y = self.rows[(c, ("n", name))]
                acc.nodes[name] = NodeBox(name, base + c, self.xs[c], y, len(name) + LABEL_EXTRA)
        for target, ds in self.deps.items():
            for source in ds:
                acc.edges.append(self._route(source, target))
        self._emit_headers()
        right = self.xs[-1] + self.widths[-1] if self.xs else 0
        acc.width = max(acc.width, right)
        acc.height = max(acc.height, max(self.rows.values(), default=self.y0) + 1)

    def _emit_headers(self) -> None:
        c = 0
        for band in self.bands:
            first, last = c, c + len(band.columns) - 1
            right = self.xs[last] + self.widths[last]
            if last + 1 < len(self.xs):
                right = self.xs[last + 1] - 1
            self.acc.headers.append(
                Header(band.label, self.xs[first], self.y0, right - self.xs[first])
            )
            c = last + 1

    def _track_x(self, source: str, column: int) -> int:
        return self.xs[column] + self.widths[column] + 1 + self.tracks[column][source]

    def _route(self, source: str, target: str) -> EdgeRoute:
        """The polyline of one edge: out of the source, via trunks and passes, to the arrow."""
        c0, c1 = self.col_of[source], self.col_of[target]
        y = self.rows[(c0, ("n", source))]
        points = [(self.xs[c0] + len(source) + LABEL_EXTRA + 1, y)]
        for column in range(c0, c1):
            track = self._track_x(source, column)
            nxt = ("n", target) if column + 1 == c1 else ("p", source)
            y = self.rows[(column + 1, nxt)]
            points += [(track, points[-1][1]), (track, y)]
        arrow = (self.xs[c1] - 2, y)
        points.append(arrow)
        cells = _polyline(points)
        first = cells[0]
        cells[0] = (first[0], first[1], first[2] | W)
        return EdgeRoute(source, target, tuple(cells), arrow)


def _channel_width(tracks: Mapping[str, int]) -> int:
    """Stub, the trunks, one run-in cell, the arrow head and a space before the label."""
    return 1 + (max(tracks.values()) + 1 if tracks else 0) + 3


def _polyline(points: Sequence[tuple[int, int]]) -> list[Cell]:
    """Cells with arm bits along an orthogonal polyline; a corner gets both of its arms."""
    arms: dict[tuple[int, int], int] = {}
    order: list[tuple[int, int]] = []
    for (x1, y1), (x2, y2) in pairwise(points):
        if (x1, y1) == (x2, y2):
            continue
        dx, dy = (x2 > x1) - (x2 < x1), (y2 > y1) - (y2 < y1)
        forward = {(1, 0): E, (-1, 0): W, (0, 1): S, (0, -1): N}[(dx, dy)]
        back = {E: W, W: E, S: N, N: S}[forward]
        x, y = x1, y1
        while True:
            here = arms.get((x, y))
            if here is None:
                order.append((x, y))
                here = 0
            bits = (forward if (x, y) != (x2, y2) else 0) | (back if (x, y) != (x1, y1) else 0)
            arms[(x, y)] = here | bits
            if (x, y) == (x2, y2):
                break
            x, y = x + dx, y + dy
    return [(x, y, arms[(x, y)]) for x, y in order]


# --- glyphs ------------------------------------------------------------------------------

_ARM_WORDS = {"UP": (N,), "DOWN": (S,), "LEFT": (W,), "RIGHT": (E,),
              "HORIZONTAL": (E, W), "VERTICAL": (N, S)}  # fmt: skip
_WEIGHTS = ("LIGHT", "HEAVY")


def _parse_box_name(name: str) -> dict[int, int] | None:
    """Arms and weights (1 light, 2 heavy) from a Unicode box-drawing character's name.

    Names come in a few shapes ("LIGHT DOWN AND RIGHT", "DOWN LIGHT AND RIGHT HEAVY",
    "UP HEAVY AND RIGHT DOWN LIGHT"); a group's weight word is first or last, and a group
    without one inherits the previous group's.
    """
    words = name.removeprefix("BOX DRAWINGS ").split(" AND ")
    out: dict[int, int] = {}
    weight = 0
    for group in words:
        tokens = group.split()
        weights = [t for t in tokens if t in _WEIGHTS]
        if len(weights) > 1 or any(t not in _ARM_WORDS and t not in _WEIGHTS for t in tokens):
            return None
        if weights:
            weight = 2 if weights[0] == "HEAVY" else 1
        for token in tokens:
            for arm in _ARM_WORDS.get(token, ()):
                out[arm] = weight
    return out if weight and out else None


def _glyph_table() -> dict[tuple[int, int, int, int], str]:
    table: dict[tuple[int, int, int, int], str] = {}
    for code in range(0x2500, 0x2580):
        char = chr(code)
        arms = _parse_box_name(unicodedata.name(char, ""))
        if arms:
            key = (arms.get(N, 0), arms.get(E, 0), arms.get(S, 0), arms.get(W, 0))
            table.setdefault(key, char)
    return table


GLYPHS = _glyph_table()


def glyph(light: int, heavy: int = 0) -> str:
    """The box-drawing character with the given arms, heavy arms overriding light ones."""
    n, e, s, w = (2 if heavy & arm else 1 if light & arm else 0 for arm in (N, E, S, W))
    return GLYPHS.get((n, e, s, w), " ")


def is_crossing(arm_sets: Iterable[int]) -> bool:
    """True when straight lines only cross here: nobody turns, joins or ends in this cell.

    Junction glyphs would suggest the lines connect, so painters draw one line over the
    other instead.
    """
    sets = list(arm_sets)
    straight = all(a in (N | S, E | W) for a in sets)
    return straight and (N | S) in sets and (E | W) in sets
