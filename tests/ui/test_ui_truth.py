"""Screens that say what is true: blast radius beside dependents, wrapping without losing
characters, the cursor on service rows only, esc back to where a chain started, the Issues
column at 80x24, and a legend of the glyphs in help."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from tests.ui.test_ui_graph_logs import HostApp, ListRuntime, settle_logs
from tests.ui.test_ui_matrix import new_app, settle, text_of
from ui.screens.confirm import ConfirmScreen
from ui.screens.detail import DetailScreen
from ui.screens.help import HelpScreen
from ui.screens.logs import LogsScreen
from ui.screens.matrix import MatrixScreen
from ui.widgets.log_view import LogView
from ui.widgets.service_cells import TIER_ROW_PREFIX
from ui.widgets.status_style import glyph_legend


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
        await pilot.press("W")  # wrap (w is Workflows)
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


# --- the matrix at 80x24: cursor, Issues column, legend, guided chains ---------------------


async def test_after_a_filter_the_cursor_lands_on_a_service_row_never_a_tier_header():
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await settle(pilot, app)
        for _ in range(6):  # down into the middle of the table, past a few tier headers
            await pilot.press("j")
        assert table.selected_service is not None
        await pilot.press("slash", *"observability", "enter")
        assert table.row_keys[0].startswith(TIER_ROW_PREFIX)  # the tier header is shown...
        assert table.selected_service == table.service_keys[0]  # ...the cursor is not on it
        await pilot.press("k")  # up from the first service: the header is stepped over
        assert table.selected_service == table.service_keys[0]
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, MatrixScreen)  # restart asked about a service
        await pilot.press("escape")


async def test_at_80x24_the_issues_column_gets_the_width_and_says_the_issue():
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await settle(pilot, app)
        widths = {c.key: c.width for c in table._columns}
        assert widths["issues"] >= 32
        assert set(widths) == {"service", "state", "port", "issues"}
        await pilot.pause()
        rows = "\n".join(visible_lines(app))
        assert "◆ restart loop: 7 restarts in 4" in rows  # 20 cells showed "◆ restart loop: 7"


async def test_help_has_a_legend_of_every_glyph():
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        table = " ".join(text_of(app.screen.query_one("#help-legend", Static)).split())
        assert "Glyphs" in table
        for glyph, meaning, _ in glyph_legend():
            assert f"{glyph} {meaning}" in table
        assert "◆" in table and "root cause: failing while its dependencies are fine" in table


async def test_esc_from_a_guided_chain_returns_to_where_it_started(tmp_path, monkeypatch):
    """Secrets: scan -> generate; one esc back to the matrix, not one per step."""
    from dataclasses import replace as dc_replace

    from tests.integration.test_ui_actions import until
    from tests.ui_data import make_context
    from ui.factory import build_app
    from ui.screens.action import ActionScreen

    compose = tmp_path / "docker-compose.yml"
    compose.write_text((Path(__file__).parents[1] / "data" / "compose-realistic.yml").read_text())
    monkeypatch.chdir(tmp_path)
    app = build_app(dc_replace(make_context(), compose_path=str(compose)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ActionScreen)
                    and app.screen.result != "", "scan finished")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "generate confirm")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ActionScreen)
                    and app.screen.action.name == "secrets-generate"
                    and app.screen.result != "", "generate finished")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MatrixScreen)
