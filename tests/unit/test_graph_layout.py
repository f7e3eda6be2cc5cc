"""The headless graph layout: layers, no overlaps, every edge drawn and connected, navigation."""

from __future__ import annotations

import pytest

from console.graph_layout import (
    GLYPHS,
    E,
    GraphLayout,
    N,
    S,
    W,
    glyph,
    is_crossing,
    layout_graph,
)
from console.model import Service, Stack, topological_layers
from console.stackfile import load_stack


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack(None)  # the bundled Vextrus inventory


def _edges(stack: Stack) -> set[tuple[str, str]]:
    return {(d, s.name) for s in stack.services for d in s.depends_on}


@pytest.fixture(scope="module", params=["phase", "topo"])
def layout(request: pytest.FixtureRequest, stack: Stack) -> GraphLayout:
    return layout_graph(stack.services, request.param, stack.phases)


def test_topological_columns_are_the_models_layers(stack: Stack) -> None:
    graph = layout_graph(stack.services, "topo")
    columns = [set(c.names) for c in graph.columns]
    assert columns == [set(layer) for layer in topological_layers(stack.services)]
    assert [h.text for h in graph.headers] == [f"layer {i}" for i in range(len(columns))]


def test_phase_columns_keep_bring_up_order_and_split_inside_a_phase(stack: Stack) -> None:
    graph = layout_graph(stack.services, "phase", stack.phases)
    col = {name: box.column for name, box in graph.nodes.items()}
    # Within phase 0, kafka comes after zookeeper and temporal-ui after temporal.
    assert col["zookeeper"] < col["kafka"]
    assert col["postgres"] < col["temporal"] < col["temporal-ui"]
    # Phases never interleave: every core service is right of every infrastructure one.
    infra = [col[s.name] for s in stack.services if s.phase == 0]
    core = [col[s.name] for s in stack.services if s.phase == 1]
    assert max(infra) < min(core)
    assert graph.headers[0].text == "0 infrastructure"


def test_detached_phase_goes_below_the_connected_ones(stack: Stack) -> None:
    """Observability has no edge to other phases: it is stacked under them, not beside."""
    graph = layout_graph(stack.services, "phase", stack.phases)
    grafana, api = graph.nodes["grafana"], graph.nodes["api-gateway"]
    assert grafana.y > max(b.y for n, b in graph.nodes.items() if n != "grafana" and
                           graph.columns[b.column].block == 0)  # fmt: skip
    assert graph.columns[grafana.column].block == 1
    assert graph.columns[api.column].block == 0


def test_every_service_is_placed_and_no_labels_overlap(stack: Stack, layout: GraphLayout) -> None:
    assert set(layout.nodes) == set(stack.names())
    taken: dict[tuple[int, int], str] = {}
    for box in layout.nodes.values():
        assert box.width == len(box.name) + 2
        for x in range(box.x, box.x + box.width):
            assert (x, box.y) not in taken, f"{box.name} overlaps {taken[(x, box.y)]}"
            taken[(x, box.y)] = box.name
    assert all(0 <= x < layout.width and 0 <= y < layout.height for x, y in taken)


def test_every_dependency_is_an_edge_and_no_edge_crosses_a_label(
    stack: Stack, layout: GraphLayout
) -> None:
    assert {(e.source, e.target) for e in layout.edges} == _edges(stack)
    assert layout.unrouted == ()
    labels = {(x, b.y) for b in layout.nodes.values() for x in range(b.x - 1, b.x + b.width + 1)}
    for edge in layout.edges:
        assert not {(x, y) for x, y, _ in edge.cells} & labels, (edge.source, edge.target)


def test_edges_are_connected_paths_from_source_to_arrow(layout: GraphLayout) -> None:
    """Each route starts right of its source, steps cell to cell, and ends at the arrow."""
    for edge in layout.edges:
        src, dst = layout.nodes[edge.source], layout.nodes[edge.target]
        first, last = edge.cells[0], edge.cells[-1]
        assert (first[0], first[1]) == (src.x + src.width + 1, src.y)
        assert (last[0], last[1]) == edge.arrow == (dst.x - 2, dst.y)
        for (x1, y1, a1), (x2, y2, a2) in zip(edge.cells, edge.cells[1:], strict=False):
            assert abs(x1 - x2) + abs(y1 - y2) == 1
            step = {(1, 0): (E, W), (-1, 0): (W, E), (0, 1): (S, N), (0, -1): (N, S)}
            out_arm, in_arm = step[(x2 - x1, y2 - y1)]
            assert a1 & out_arm and a2 & in_arm, "neighbouring cells must join"


def test_horizontal_lines_only_share_cells_when_they_share_an_end(layout: GraphLayout) -> None:
    """Neighbouring columns use rows of different parity, so two horizontal runs overlap
    only as one source's bundle or as a merge into one target, never as unrelated lines."""
    runs: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for edge in layout.edges:
        for x, y, arms in edge.cells:
            if arms & (E | W) and not arms & (N | S):
                runs.setdefault((x, y), []).append((edge.source, edge.target))
    for cell, edges in runs.items():
        for a in edges:
            for b in edges:
                assert a[0] == b[0] or a[1] == b[1], f"{a} and {b} overlap at {cell}"


def test_the_bundled_stack_is_legible_at_200_by_60(stack: Stack) -> None:
    """With a 38-column side panel and a title and footer row, nothing needs scrolling."""
    for mode in ("phase", "topo"):
        graph = layout_graph(stack.services, mode, stack.phases)  # type: ignore[arg-type]
        assert graph.width <= 200 - 38 - 2, mode
        assert graph.height <= 60 - 3, mode


def test_navigation_moves_between_columns_and_rows(stack: Stack) -> None:
    graph = layout_graph(stack.services, "phase", stack.phases)
    column = graph.columns[graph.nodes["postgres"].column]
    below = column.names[column.names.index("postgres") + 1]
    assert graph.move("postgres", "down") == below
    assert graph.move(below, "up") == "postgres"
    right = graph.move("zookeeper", "right")
    assert graph.nodes[right].column == graph.nodes["zookeeper"].column + 1
    assert graph.move(right, "left") in column.names
    top = graph.columns[0].names[0]
    assert graph.move(top, "up") == top  # nowhere to go: stays
    # Off the bottom of the main block into the detached observability block.
    bottom = graph.columns[0].names[-1]
    assert graph.columns[graph.nodes[graph.move(bottom, "down")].column].block == 1


def test_node_at_finds_labels(stack: Stack) -> None:
    graph = layout_graph(stack.services, "topo")
    box = graph.nodes["kafka"]
    assert graph.node_at(box.x + 3, box.y) == "kafka"
    assert graph.node_at(box.x - 3, box.y) is None


def test_dependency_on_a_later_phase_is_reported_not_drawn_backwards() -> None:
    services = [
        Service("db", phase=1),
        Service("early", phase=0, depends_on=("db",)),
        Service("app", phase=1, depends_on=("db",)),
    ]
    graph = layout_graph(services, "phase", {0: "first", 1: "second"})
    assert graph.unrouted == (("db", "early"),)
    assert {(e.source, e.target) for e in graph.edges} == {("db", "app")}
    # Topological layers have no such problem.
    assert layout_graph(services, "topo").unrouted == ()


def test_empty_and_single_service_stacks() -> None:
    assert layout_graph([], "topo").nodes == {}
    graph = layout_graph([Service("solo")], "phase")
    assert graph.nodes["solo"].x == 0 and graph.edges == ()


def test_box_drawing_table_has_every_light_heavy_combination() -> None:
    assert len(GLYPHS) == 80  # 3**4 arm weights minus "no arms"
    assert glyph(N | S) == "│" and glyph(E | W) == "─"
    assert glyph(N | E | S | W) == "┼"
    assert glyph(N | S, N | S) == "┃"
    assert glyph(N | E | S, E) == "┝"  # light trunk, heavy branch


def test_crossings_are_told_from_junctions() -> None:
    assert is_crossing([N | S, E | W])
    assert not is_crossing([N | S, E | W, N | E])  # one of them turns here: a junction
    assert not is_crossing([N | S, N | S])
