"""The snapshots tests of tests/ui/test_k8s_console.py (same subject, other layer).

The console and the CLI on the kubernetes runtime, against the loopback API server.

Built through the real factory (`build_context` with `--runtime kubernetes` options), so the
production guard, the stack file's [stack.kubernetes] and the runtime are what operators run.
"""
# ruff: noqa: F811  (a fixture imported from the module whose other layer shares it)

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pilot_wait import idle
from tests.pilot_wait import settle as wait_until
from tests.ui.test_k8s_console import (  # noqa: F401  (helpers and fixtures)
    _close_runtimes,
    fake,
    files,
    k8s_app,
    settle,
)


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"),
                                  pytest.param((160, 48), id="160x48")])
def test_matrix_snapshot(snap_compare, files: dict[str, Path], size, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("NO_COLOR", raising=False)

    async def settled(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await wait_until(pilot, lambda: idle(pilot.app, "refresh"), "no refresh running")

    assert snap_compare(k8s_app(files), terminal_size=size, run_before=settled)
