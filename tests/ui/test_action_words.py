"""An action's last words match the journal's: "finished: ok" only when nothing failed.

A secrets scan with findings (each file with findings is a failed step) is the real case
the operator met: the screen said "finished: ok" while the journal said "done with failures".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cli import secrets as cli_secrets
from cli.main import build_parser
from console.journal import Journal
from tests.integration.test_ui_actions import SIZE, until
from tests.unit.test_secrets import FIXTURE
from ui.screens.action import ActionScreen


def scan_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return compose


def test_cli_last_line_and_journal_say_the_same_number_of_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = scan_dir(tmp_path, monkeypatch)
    journal = Journal(tmp_path / "j.sqlite3")
    args = build_parser().parse_args(["secrets", "scan", str(compose)])
    code = cli_secrets.run(args, False, journal)
    lines = capsys.readouterr().out.splitlines()
    failures = sum(line.startswith("✗ ") for line in lines)
    assert code == 1 and failures >= 1
    plural = "s" if failures != 1 else ""
    done = [line for line in lines if line.startswith("■ ")]  # the action's last line
    assert len(done) == 1 and lines.index(done[0]) > max(
        i for i, line in enumerate(lines) if line.startswith("✗ "))
    assert done[0].startswith(f"■ finished with {failures} failure{plural} · ")
    said = journal.timeline(kinds=["action"])[-1].text
    assert said.startswith(f"secrets-scan finished with {failures} failure{plural}: ")
    journal.close()


def test_clean_scan_says_finished_ok_in_both_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "docker-compose.yml"
    clean.write_text("services:\n  web:\n    image: nginx\n    environment:\n"
                     "      PASSWORD: ${WEB_PASSWORD}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    journal = Journal(tmp_path / "j.sqlite3")
    code = cli_secrets.run(build_parser().parse_args(["secrets", "scan", str(clean)]),
                           False, journal)
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and next(x for x in lines if x.startswith("■ ")).startswith(
        "■ finished: ok · ")
    assert journal.timeline(kinds=["action"])[-1].text.startswith("secrets-scan finished: ok")
    journal.close()


async def test_the_action_screen_title_uses_the_journals_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ui_data import make_context
    from ui.factory import build_app

    compose = scan_dir(tmp_path, monkeypatch)
    journal = Journal(tmp_path / "j.sqlite3")
    app = build_app(replace(make_context(), compose_path=str(compose), journal=journal))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status is not None, "first refresh")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, ActionScreen)
                    and app.screen.result != "", "scan finished")
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        words = journal.timeline(kinds=["action"])[-1].text.split(":")[0]
        assert words.startswith("secrets-scan finished with ")
        title = str(screen.query_one("#action-title").render())
        assert words.removeprefix("secrets-scan ") in title
        assert "finished: ok" not in title
        assert "enter: " in title  # the next step (generate) is offered after findings
    journal.close()
