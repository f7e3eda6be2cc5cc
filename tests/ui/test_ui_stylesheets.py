"""The screens' stylesheets are read once after the first matrix, not at each first opening.

Textual parses every stylesheet again and restyles every widget the first time a screen
with a CSS_PATH of its own is pushed (300-560 ms for the first `r` or `?` of a session at
80x24: bench/keys_pilot.py). After the preload, opening the screens parses nothing.
"""

from __future__ import annotations

from tests.pilot_wait import settle as wait_until
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.detail import DetailScreen
from ui.screens.graph import GraphScreen
from ui.screens.help import HelpScreen
from ui.stylesheets import preload_screen_stylesheets, preload_widget_css, screen_stylesheets


async def test_screens_open_without_parsing_stylesheets_again() -> None:
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.status is not None, "the first matrix")
        paths = [str(path) for path in screen_stylesheets()]
        assert len(paths) >= 15
        await wait_until(pilot, lambda: all(app.stylesheet.has_source(p, "") for p in paths),
                         "the screens' stylesheets read")
        await wait_until(pilot, lambda: app.warmed_up, "the widgets' own CSS read")
        parses: list[str] = []
        reparse, parse = app.stylesheet.reparse, app.stylesheet.parse
        app.stylesheet.reparse = lambda: parses.append("reparse") or reparse()  # type: ignore[method-assign,func-returns-value]
        app.stylesheet.parse = lambda: parses.append("parse") or parse()  # type: ignore[method-assign,func-returns-value]
        for key, screen in (("question_mark", HelpScreen), ("escape", None),
                            ("enter", DetailScreen), ("escape", None), ("g", GraphScreen)):
            await pilot.press(key)
            if screen is not None:
                await wait_until(pilot, lambda s=screen: isinstance(app.screen, s), key)  # type: ignore[misc]
        assert parses == []  # neither the screens' stylesheets nor their widgets' CSS
        assert preload_screen_stylesheets(app) == 0  # nothing left to read
        assert preload_widget_css(app) == 0



async def test_the_warm_up_parses_the_stylesheet_once() -> None:
    """Each parse reads every source again (~100 ms, ~300 while the demo starts), and a key
    pressed meanwhile waits: the screens' stylesheets and the widgets' CSS go in one."""
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.status is not None, "the first matrix")
        parses: list[str] = []
        reparse = app.stylesheet.reparse
        app.stylesheet.reparse = lambda: parses.append("reparse") or reparse()  # type: ignore[method-assign,func-returns-value]
        await wait_until(pilot, lambda: app.warmed_up, "the warm-up")
        assert parses == ["reparse"]
        assert app.settled


async def test_the_css_preload_waits_for_a_pause_in_the_keys(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The parse holds the loop ~100 ms: it waits while keys come (the demo's first `/`
    answered in 120 ms when it landed on the parse), and not for ever."""
    import ui.app
    from ui.idle_gc import IdleCollector

    monkeypatch.setattr(ui.app, "CSS_WAIT_S", 60.0)
    now = [1000.0]
    app = build_app(make_context())
    app._idle_gc = IdleCollector(clock=lambda: now[0])  # a key "just now", until moved
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app._css_waits >= 3, "the preload waiting for a pause")
        assert not app.warmed_up
        now[0] += 0.5  # half a second without keys
        await wait_until(pilot, lambda: app.warmed_up, "the preload in the pause")


async def test_the_css_preload_does_not_wait_for_ever(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ui.app
    from ui.idle_gc import IdleCollector

    monkeypatch.setattr(ui.app, "CSS_WAIT_S", 0.6)
    app = build_app(make_context())
    app._idle_gc = IdleCollector(clock=lambda: 1000.0)  # keys that never stop
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.warmed_up, "the preload after its longest wait")
        assert app._css_waits == 2


def test_the_warm_up_imports_every_screen_module_in_a_fresh_process() -> None:
    """A console that just started has imported the matrix only; the warm-up imports the
    rest (the guided actions' launchers among them), which the first `r` needs."""
    import subprocess
    import sys

    code = ("import sys, ui.app\n"
            "from ui.warm_up import import_screen_modules, screen_modules\n"
            "assert 'ui.screens.guided' not in sys.modules\n"
            "new = import_screen_modules()\n"
            "assert all(name in sys.modules for name in screen_modules())\n"
            "print(len(new), len(screen_modules()), 'ui.screens.guided' in new)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    imported, total, guided = done.stdout.split()
    assert int(total) >= 18 and int(imported) >= 5 and guided == "True"


async def test_the_console_imports_the_screens_off_the_event_loop(monkeypatch) -> None:
    import threading

    import ui.warm_up

    threads: list[str] = []
    monkeypatch.setattr(ui.warm_up, "import_screen_modules",
                        lambda: threads.append(threading.current_thread().name) or [])
    app = build_app(make_context())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: threads != [], "the warm-up after the first matrix")
    assert threads[0] != threading.main_thread().name
