"""The degraded banner against a real Docker daemon that goes away and comes back.

A second, disposable dockerd (its own socket and data root) is killed under a running
console built by the CLI's factory: the banner must show the reason and a countdown while
the matrix keeps answering keys, and go away by itself once the daemon is back.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from console.factory import Options, build_context
from tests.dockerlab import ScratchDaemon, free_port
from ui.app import VextrusApp
from ui.factory import build_app
from ui.widgets.banner import DegradedBanner
from ui.widgets.service_table import ServiceTable

pytestmark = pytest.mark.docker


async def _until(pilot, what: str, check, seconds: float = 20) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not check():
            await pilot.pause(0.1)
    assert check(), what


def _banner_text(app: VextrusApp) -> str:
    banner = app.screen.query_one(DegradedBanner)
    return str(banner.render())


async def test_banner_comes_and_goes_with_the_daemon(
    scratch_daemon: ScratchDaemon, tmp_path: Path
) -> None:
    stack = tmp_path / "stack.toml"
    port = free_port()
    stack.write_text(
        '[stack]\nname = "outage"\nproject = "vxoutage-ui"\n'
        f'[services.api]\nports = [{port}]\n'
        f'checks = [{{ kind = "http", port = {port} }}]\n'
    )
    ctx = build_context(Options(stack_path=str(stack), docker_host=scratch_daemon.url,
                                state_dir=str(tmp_path / "state")))
    app = build_app(ctx)
    async with app.run_test(size=(100, 24)) as pilot:
        banner = app.screen.query_one(DegradedBanner)
        await _until(pilot, "first refresh", lambda: app.status is not None)
        assert not banner.display
        assert app.status is not None and app.status.get("api").issues == ("not started",)

        await asyncio.to_thread(scratch_daemon.kill)
        await _until(pilot, "banner shown", lambda: banner.display)
        text = _banner_text(app)
        assert text.startswith("Docker daemon unreachable at unix:///")  # said once
        assert text.count("unreachable") == 1
        # The cause (the stream closed, connection refused or reset: whichever the daemon's
        # death looked like first) survives the shortening, and so does the countdown.
        assert re.search(r": [a-z][a-z ]+ · retrying in \d+s$", text), text
        table = app.screen.query_one(ServiceTable)
        table.focus()
        await pilot.press("s")  # the rest of the console keeps working
        assert table.sort_mode == "state"

        await asyncio.to_thread(scratch_daemon.start)
        await _until(pilot, "banner gone", lambda: not banner.display)
        await _until(pilot, "fresh status", lambda: app.status is not None
                     and not app.status.runtime_error)
