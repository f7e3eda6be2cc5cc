"""The journal persists status transitions across restarts of the console."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

from console.journal import Journal

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 24, 9, 1, tzinfo=UTC)


def test_only_changes_are_recorded_and_survive_a_restart(tmp_path):
    path = tmp_path / "j.sqlite3"
    j = Journal(path, stack="vx")
    changes = [("auth", "operational", ""), ("cfg", "restart-loop", "x")]
    assert j.record_transitions(changes, T0) == [
        ("auth", "", "operational"),
        ("cfg", "", "restart-loop"),
    ]
    assert j.record_transitions(changes, T1) == []
    j.close()
    again = Journal(path, stack="vx")
    written = again.record_transitions([("auth", "exited", "exited with code 1")], T1)
    assert written == [("auth", "operational", "exited")]
    entries = again.timeline()
    assert [(e.service, e.new_state, e.at) for e in entries] == [
        ("auth", "operational", T0),
        ("cfg", "restart-loop", T0),
        ("auth", "exited", T1),
    ]
    assert entries[-1].old_state == "operational"


def test_secrets_are_masked_before_they_reach_the_disk(tmp_path):
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.record("action", "postgres", "set POSTGRES_PASSWORD=hunter2-very-secret", T0)
    j.close()
    assert b"hunter2-very-secret" not in path.read_bytes()
    assert "hunter2" not in Journal(path).timeline()[0].text


def test_state_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VEXTRUS_STATE_DIR", str(tmp_path / "state"))
    j = Journal()
    assert j.path == tmp_path / "state" / "journal.sqlite3"
    assert j.path.exists()
    assert stat.S_ISREG(os.stat(j.path).st_mode)
