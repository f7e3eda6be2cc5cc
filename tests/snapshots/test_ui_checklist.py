"""The snapshots tests of tests/ui/test_ui_checklist.py (same subject, other layer).

The checklist screen: items, evidence, fixes, the header's score; snapshots.
"""

from __future__ import annotations

import pytest

from tests.ui.test_ui_checklist import (
    SIZES,
    _opened,
)
from tests.ui_data import make_context
from ui.factory import build_app


@pytest.mark.parametrize("size", SIZES)
def test_checklist_snapshot(snap_compare, size) -> None:  # type: ignore[no-untyped-def]
    async def opened(pilot) -> None:  # type: ignore[no-untyped-def]
        await _opened(pilot)

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=opened)
