"""The ui tests of tests/integration/test_hostile_text.py (same subject, other layer).

One hostile corpus through every output path: text from services is data (issue 12).

A health body, a Docker healthcheck, a log line, a workflow id, type or failure, a journal
entry: whatever a service or a user's file says reaches the CLI, exports and the TUI through
one boundary (`console.masking`). Each path here gets the same corpus (markup and a stray
closing tag, a Rich hyperlink, OSC 0/8/52, CSI, BEL, NUL, C1, invalid UTF-8, a
100,000-character line, secrets in the forms the scanner knows) and must show none of it raw:
no crash, no escape byte, no secret literal, markup shown literally as text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text

from actions.bringup import Diagnosis
from console.journal import Journal
from console.masking import safe_json, safe_str, safe_text
from tests.integration.test_hostile_text import (
    HOSTILE,
    INVALID_UTF8,
    LONG,
    MARKUP,
    RENDERERS,
    WF_ID,
    HostileAction,
    assert_safe,
    hostile_status,
    hostile_workload,
    shown,
    strings_of,
    until,
)
from ui.factory import build_app


def test_the_boundary_makes_the_whole_corpus_safe() -> None:
    for value in (HOSTILE, HOSTILE.encode() + INVALID_UTF8, f"{HOSTILE} {LONG}"):
        assert_safe(safe_str(value), "safe_str")
        assert_safe(safe_str(value, multiline=True), "safe_str multiline")
        text = safe_text(value)
        assert isinstance(text, Text) and not text.spans
        assert_safe(text.plain, "safe_text")
    assert "\ufffd" in safe_str(INVALID_UTF8)
    assert safe_str(LONG).endswith("chars]")
    assert_safe(strings_of(safe_json({"k": HOSTILE, HOSTILE: [HOSTILE]})), "safe_json")


def test_bare_bearer_and_basic_credentials_are_masked_anywhere() -> None:
    """Not only after `Authorization:`: a mutation dropping that step fails here."""
    assert safe_str("header Bearer abc-123456 failed") == "header Bearer *** failed"
    assert safe_str("Basic dXNlcjpwYXNz== in a log line") == "Basic *** in a log line"


@pytest.mark.parametrize("path", list(RENDERERS))
def test_renderers_and_exports_show_the_corpus_as_data(path: str) -> None:
    out = RENDERERS[path]()
    if "colour" in path:  # our own colours are escapes: drop them, then look for theirs
        import re

        out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert_safe(out, path)


async def test_toasts_dialogs_and_action_progress_show_the_corpus_as_data() -> None:
    from tests.ui_data import make_context
    from ui.screens.action import ActionScreen, open_action
    from ui.screens.confirm import ConfirmScreen, DiagnosisScreen

    app = build_app(make_context())
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        app.notify(f"{HOSTILE} {LONG}", title=MARKUP)
        await until(pilot, lambda: "[/oops]" in shown(app), "the toast")
        assert_safe(shown(app), "toast")
        messages = "\n".join(n.message + n.title for n in app._notifications)
        assert_safe(messages, "notifications")

        app.push_screen(ConfirmScreen(f"restart {HOSTILE}?", details=[HOSTILE, LONG]))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        assert_safe(shown(app), "confirm dialog")
        await pilot.press("n")

        diagnosis = Diagnosis(f"web {MARKUP}", HOSTILE, 3, (HOSTILE, LONG), (HOSTILE,), ())
        app.push_screen(DiagnosisScreen(diagnosis))
        await until(pilot, lambda: isinstance(app.screen, DiagnosisScreen), "diagnosis")
        assert_safe(shown(app), "diagnosis dialog")
        await pilot.press("a")

        screen = open_action(app, HostileAction(), confirm=False)
        await until(pilot, lambda: isinstance(app.screen, ActionScreen) and not screen.running
                    and screen.result != "", "the action's end")
        assert_safe(shown(app), "action progress")
        log = "\n".join(e.line() for e in screen.progress.events)
        assert HOSTILE in log  # the events themselves are untouched: the view made them safe


async def test_timeline_screen_shows_hostile_journal_entries_as_data(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.ui_data import make_context
    from ui.screens.timeline import TimelineScreen

    journal = Journal(tmp_path / "j.sqlite3", stack="vextrus")
    journal.record("action", WF_ID, f"workflow terminate ok: {HOSTILE}")
    app = build_app(replace(make_context(), journal=journal))
    async with app.run_test(size=(200, 40)) as pilot:
        app.push_screen(TimelineScreen())
        await until(pilot, lambda: isinstance(app.screen, TimelineScreen), "timeline")
        await until(pilot, lambda: "po-[/oops]-" in shown(app), "the entry")
        assert_safe(shown(app), "timeline screen")


async def test_detail_and_pod_picker_show_hostile_kubernetes_objects_as_data() -> None:
    from dataclasses import replace

    from tests.ui_data import make_context
    from ui.screens.detail import DetailScreen
    from ui.screens.kubernetes import PodPickerScreen

    status = hostile_status()
    container = status.services[0].container
    assert container is not None
    web = replace(status.services[0], container=replace(container, workload=hostile_workload()))
    app = build_app(make_context(status=replace(status, services=(web,))))
    async with app.run_test(size=(220, 60)) as pilot:
        app.push_screen(DetailScreen("web"))
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        await until(pilot, lambda: "Readiness probe failed" in shown(app), "the workload facts")
        assert_safe(shown(app), "detail of a hostile pod")

        app.push_screen(PodPickerScreen("web", hostile_workload()))
        await until(pilot, lambda: isinstance(app.screen, PodPickerScreen), "pod picker")
        await until(pilot, lambda: "web-7d9f-abcde" in shown(app), "the pod listed")
        assert_safe(shown(app), "pod picker")
