"""The snapshots layer: every screen as an SVG at 80x24 and a larger size.

An operator's NO_COLOR must not change the colour snapshots (the one test about NO_COLOR
sets it itself); the scenes and clocks are fixed in tests/ui_data.py.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _colour_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
