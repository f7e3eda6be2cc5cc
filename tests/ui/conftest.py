"""The ui layer: Pilot tests that drive the App in-process.

They run the App as an operator would, so they must not read the operator's own config
file (a theme, key overrides) or write into the operator's journal: the config and state
directories point into the test's temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_config_and_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
