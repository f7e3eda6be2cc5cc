"""The footer keeps its keys while they stay the same, and shows a change at once.

Textual's Footer built every key widget again each time its screen came back to the top or
said its bindings changed; after `esc` the operator's next key waited ~50 ms behind it at
80x24 (bench/keys_pilot.py). KeyFooter rebuilds only when what it shows changes.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tests.pilot_wait import settle
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.detail import DetailScreen
from ui.screens.matrix import MatrixScreen
from ui.widgets.key_footer import KeyFooter


def footer_keys(screen: Screen[object]) -> list[FooterKey]:
    return list(screen.query_one(KeyFooter).query(FooterKey))


async def test_the_matrix_footer_is_not_rebuilt_when_the_matrix_comes_back() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.status is not None and footer_keys(app.screen) != [],
                     "the matrix and its footer")
        matrix = app.screen
        before = footer_keys(matrix)
        assert "Filter" in [k.description for k in before]
        for _ in range(2):
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, DetailScreen), "details")
            await settle(pilot, lambda: footer_keys(app.screen) != [], "the details' footer")
            await pilot.press("escape")
            await settle(pilot, lambda: isinstance(app.screen, MatrixScreen), "the matrix")
            await pilot.pause(0.2)
        after = footer_keys(matrix)
        assert [k.key for k in after] == [k.key for k in before]
        assert all(a is b for a, b in zip(after, before, strict=True))  # the same widgets


class Toggling(Screen[None]):
    """A screen whose one key is enabled or not, as a finished action's `enter` is."""

    BINDINGS = [Binding("n", "next_step", "Next step"), Binding("x", "other", "Other")]
    ready = False

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return (self.ready or None) if action == "next_step" else True  # None: dimmed

    def action_next_step(self) -> None:
        pass

    def action_other(self) -> None:
        pass


class FooterApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Toggling())


async def test_a_key_that_becomes_enabled_is_shown_enabled() -> None:
    app = FooterApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, Toggling)
                     and len(footer_keys(app.screen)) == 2, "the footer's two keys")
        screen = app.screen
        assert isinstance(screen, Toggling)
        first = {k.key: k.has_class("-disabled") for k in footer_keys(screen)}
        assert first == {"n": True, "x": False}
        screen.refresh_bindings()  # nothing changed: the same widgets
        kept = footer_keys(screen)
        await pilot.pause(0.1)
        assert all(a is b for a, b in zip(footer_keys(screen), kept, strict=True))
        screen.ready = True
        screen.refresh_bindings()
        await settle(pilot, lambda: {k.key: k.has_class("-disabled") for k in footer_keys(screen)}
                     == {"n": False, "x": False}, "Next step enabled in the footer")


async def test_without_temporal_the_workflows_screen_offers_only_back() -> None:
    """The fixed scene has no [stack.temporal]: filters, pages and refresh would answer
    nothing, so they are not offered (the footer) and do nothing; esc still goes back."""
    from ui.screens.workflows import NO_TEMPORAL, WorkflowsScreen

    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.status is not None, "the first matrix")
        await pilot.press("w")
        await settle(pilot, lambda: isinstance(app.screen, WorkflowsScreen)
                     and footer_keys(app.screen) != [], "the workflows screen and its footer")
        screen = app.screen
        assert NO_TEMPORAL in str(screen.query_one("#wf-problem", Static).render())
        shown = [k.description for k in footer_keys(screen)]
        assert shown[0] == "Back" and not {"Details", "Filter", "Refresh"} & set(shown)
        assert not any(b.enabled for key, b in screen.active_bindings.items()
                       if key in ("1", "0", "enter", "slash"))
        await pilot.press("1")
        assert screen.filter.status is None  # the status filter did not move
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, MatrixScreen), "back on the matrix")
