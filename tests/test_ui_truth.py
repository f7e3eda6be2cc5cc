"""Screens that say what is true: blast radius beside dependents, wrapping without losing
characters, the cursor on service rows only, esc back to where a chain started, the Issues
column at 80x24, and a legend of the glyphs in help."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import Static

from screens.detail import DetailScreen
from screens.logs import LogsScreen
from tests.test_ui_graph_logs import HostApp, ListRuntime, settle_logs
from tests.test_ui_matrix import new_app, settle, text_of
from widgets.log_view import LogView


async def test_details_of_a_healthy_service_name_what_would_go_if_it_failed():
    """Not "Blast radius none" beside real dependents."""
    app = new_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot, app)
        app.push_screen(DetailScreen("postgres"))
        await pilot.pause()
        blast = str(app.screen.query_one("#detail-blast", Static).render())
        assert app.status is not None
        radius = app.status.radius_if_failing("postgres")
        assert "auth" in radius and len(radius) == len(set(radius))
        assert blast == "none now; if it failed: " + ", ".join(radius)
        dependents = text_of(app.screen.query_one("#detail-dependents"))
        assert dependents.strip() not in ("", "none")


async def test_details_of_a_failing_root_cause_list_its_blast_radius_once_each():
    app = new_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot, app)
        app.push_screen(DetailScreen("zookeeper"))
        await pilot.pause()
        blast = str(app.screen.query_one("#detail-blast", Static).render())
        assert app.status is not None
        radius = app.status.get("zookeeper").blast_radius
        assert radius and blast == ", ".join(radius)


def visible_lines(app) -> list[str]:  # type: ignore[no-untyped-def]
    """What the terminal shows, row by row, scrollbars and all (the compositor's output)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, force_terminal=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


NAMED_TYPES = ("[Nest] 1  - ERROR [GraphQLModule] Schema must contain uniquely named types "
               "but contains multiple types named \"Invoice\"; see the named types list for "
               "the module and the named types again here")


@pytest.mark.parametrize("size", [(80, 24), (97, 30)])
async def test_wrapped_log_lines_lose_no_character_at_any_wrap_point(size) -> None:
    """"named ty|pes" once showed as "named / pes": the scrollbar covered two columns."""
    app = HostApp(lambda: LogsScreen(["auth"]), runtime=ListRuntime({"auth": [NAMED_TYPES] * 40}))
    async with app.run_test(size=size) as pilot:
        await settle_logs(pilot, app, 40)
        await pilot.press("w")
        await pilot.pause()
        rows = visible_lines(app)[1:-2]  # between the title and the status + footer
        starts = [i for i, row in enumerate(rows) if row[:2].isdigit()]
        assert len(starts) >= 2
        first = rows[starts[0]:starts[1]]
        indent = len("10:42:40 ")
        room = app.screen.query_one(LogView).scrollable_content_region.width - indent
        assert room < size[0] - indent  # a scrollbar is there, taking columns
        pieces = [row[indent:indent + room] for row in first]  # left of the scrollbar
        assert "".join(pieces).rstrip() == NAMED_TYPES
