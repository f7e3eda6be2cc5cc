"""The palette has every action on every service with its key ("restart auth", "shell
auth"), a remapped key shows as remapped in the palette and in help, and the keys that a
runtime cannot serve say so instead of failing (the fixed scene's runtime has no describe).
"""

from __future__ import annotations

import time
from typing import Any

from tests.ui_data import make_context
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen
from ui.screens.help import HelpScreen, help_entries
from ui.screens.matrix import MatrixScreen
from ui.screens.service_ops import palette_entries
from ui.widgets.service_table import ServiceTable


async def settled(pilot: Any) -> ServiceTable:
    app = pilot.app
    deadline = time.monotonic() + 20
    while app.status is None or not app.screen.query(ServiceTable) \
            or not app.screen.query_one(ServiceTable).row_count:
        assert time.monotonic() < deadline, "the first refresh never came"
        await pilot.pause(0.02)
    return app.screen.query_one(ServiceTable)


def test_palette_has_every_verb_for_every_service_with_its_key() -> None:
    app = build_app(make_context(keymap={"matrix.shell": "ctrl+o"}))
    entries = {title: help_text for title, help_text, _ in palette_entries(app)}
    assert "key r on its row" in entries["restart auth"]
    assert "key ctrl+o on its row" in entries["shell auth"]  # the remapped key
    assert "key ctrl+k on its row" in entries["kill kafka"]
    assert len(entries) == len(app.ctx.stack.names()) * 11


async def test_palette_entry_runs_the_action_on_that_service() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("colon", *"stop auth")
        await pilot.pause(0.5)
        await pilot.press("enter")
        deadline = time.monotonic() + 10
        while not isinstance(app.screen, ConfirmScreen):
            assert time.monotonic() < deadline, f"no confirmation: {app.screen!r}"
            await pilot.pause(0.05)
        assert app.screen.question == "stop auth?"  # type: ignore[attr-defined]
        await pilot.press("n")  # declined: back on the matrix, nothing opened
        assert isinstance(app.screen, MatrixScreen)
        assert not any(isinstance(s, ActionScreen) for s in app.screen_stack)
        assert any(n.message == "stop auth: not confirmed, nothing was done"
                   for n in app._notifications)


async def test_help_lists_the_new_keys_and_a_remap() -> None:
    app: VextrusApp = build_app(make_context(keymap={"matrix.describe": "ctrl+o"}))
    async with app.run_test(size=(120, 60)) as pilot:
        await settled(pilot)
        entries = {e.description: e for e in help_entries(app, app.screen)}
        assert entries["Describe"].keys == "^o"
        assert entries["Shell"].keys == "E" and entries["Kill"].keys == "^k"
        assert entries["Stop"].keys == "D" and entries["Start"].keys == "U"
        assert entries["Resources"].group == "Go to"
        assert entries["Shell"].group == "Selected service"
        assert entries["Sort"].group == "This screen"
        assert "j" in entries["Down"].keys and "k" in entries["Up"].keys
        assert entries["Quit"].keys in ("^c, q", "q, ^c")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_describe_on_a_runtime_without_it_says_so() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("d")
        await pilot.pause()
        assert any("cannot describe" in n.message for n in app._notifications)
        assert app.screen.query(ServiceTable)
