"""Keys on a service row against the real Docker daemon: resource columns and the
resources screen (m), describe (d/y), stop (D), kill (ctrl+k), start (U), shell refused
read-only (E), j/k, ctrl+c; each as an operator presses it in the console.

The console is built by the CLI's factory on a compose-labelled busybox project: `web`
(httpd, with a secret in its environment), `busy` (a busy loop) and `front`, which depends
on web, so web's blast radius is front.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.factory import Options, build_context
from tests.dockerlab import DockerLab, free_port
from tests.integration.test_stats import BURN, IDLE
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen
from ui.screens.describe import DescribeScreen
from ui.screens.detail import DetailScreen
from ui.screens.resources import ResourcesScreen, ResourcesTable
from ui.widgets.service_table import ServiceTable

pytestmark = pytest.mark.docker
SECRET = "s3cr3t-jwt-value-9f"


async def until(pilot: Any, what: str, check: Callable[[], object], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.05)


@pytest.fixture(scope="module")
def ops_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DockerLab, Path]]:
    from tests.conftest import _docker_status, require

    require(*_docker_status())
    lab = DockerLab(f"vxops-{int(time.time())}")
    port = free_port()
    folder = tmp_path_factory.mktemp("ops")
    try:
        lab.run("web", ["/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/"],
                environment={"JWT_SECRET": SECRET, "LOG_LEVEL": "debug"})
        lab.run("busy", BURN)
        lab.run("front", IDLE)
        stack = folder / "stack.toml"
        stack.write_text(
            f'[stack]\nname = "ops"\nproject = "{lab.project}"\n'
            f'[services.web]\nports = [{port}]\n'
            f'checks = [{{ kind = "tcp", port = {port} }}]\n'
            '[services.busy]\n'
            '[services.front]\ndepends_on = ["web"]\n'
        )
        yield lab, stack
    finally:
        lab.cleanup()
        lab.client.close()


def make_app(stack: Path, tmp_path: Path, read_only: bool = False) -> VextrusApp:
    ctx = build_context(Options(stack_path=str(stack), read_only=read_only,
                                state_dir=str(tmp_path / "state")))
    return build_app(ctx)


async def select(pilot: Any, app: VextrusApp, service: str) -> None:
    table = app.screen.query_one(ServiceTable)
    await until(pilot, "rows", lambda: service in table.service_keys)
    table.move_cursor(row=table.get_row_index(service), animate=False)
    await pilot.pause()


async def test_resource_columns_sort_and_the_resources_screen(
        ops_lab: tuple[DockerLab, Path], tmp_path: Path) -> None:
    _lab, stack = ops_lab
    app = make_app(stack, tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, "two sampling rounds",
                    lambda: app.usage is not None and app.usage.rounds >= 2
                    and (app.usage.get("busy") is not None)
                    and app.usage.get("busy").total.cpu_percent is not None)  # type: ignore
        table = app.screen.query_one(ServiceTable)
        await until(pilot, "CPU column", lambda: "cpu" in table.columns)
        assert "mem" in table.columns
        table.focus()
        while table.sort_mode != "cpu":
            await pilot.press("s")
        assert table.service_keys[0] == "busy"  # the busy loop is the heaviest
        await pilot.press("m")
        assert isinstance(app.screen, ResourcesScreen)
        resources = app.screen.query_one(ResourcesTable)
        await until(pilot, "resource rows", lambda: resources.row_count == 3)
        first = resources.coordinate_to_cell_key((0, 0)).row_key.value  # type: ignore[arg-type]
        assert first == "busy"
        title = str(app.screen.query_one("#resources-title").render())
        assert "3 running" in title
        assert "docker stats every 5 s" in str(app.screen.query_one("#resources-status").render())
        await pilot.press("j", "enter")
        assert isinstance(app.screen, DetailScreen)
        await until(pilot, "sparklines", lambda: "CPU" in str(
            app.screen.query_one("#detail-resources").render()))


async def test_describe_masks_the_environment_and_searches(
        ops_lab: tuple[DockerLab, Path], tmp_path: Path) -> None:
    _lab, stack = ops_lab
    app = make_app(stack, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await select(pilot, app, "web")
        await pilot.press("d")
        assert isinstance(app.screen, DescribeScreen)
        screen = app.screen
        await until(pilot, "inspect JSON", lambda: len(screen.lines) > 50)
        text = "\n".join(screen.lines)
        assert '"JWT_SECRET=***"' in text and SECRET not in text
        assert '"LOG_LEVEL=debug"' in text
        assert f'"com.docker.compose.project": "{_lab.project}"' in text
        await pilot.press("slash", *"jwt_secret", "enter")
        assert len(screen.matches) == 1
        assert "1/1" in str(screen.query_one("#describe-title").render())
        await pilot.press("escape")  # clears the search
        await pilot.press("escape")  # back to the matrix
        assert app.screen.query(ServiceTable)
        await pilot.press("y")  # k9s's yaml key opens the same view
        assert isinstance(app.screen, DescribeScreen)


async def test_stop_start_and_kill_from_the_row(ops_lab: tuple[DockerLab, Path],
                                                tmp_path: Path) -> None:
    lab, stack = ops_lab
    app = make_app(stack, tmp_path)

    def state() -> str:
        container = lab.container("web")
        container.reload()
        return str(container.status)

    async with app.run_test(size=(120, 30)) as pilot:
        await select(pilot, app, "web")
        await pilot.press("D")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        shown = " ".join(str(s.render()) for s in confirm.query("Static"))
        assert "blast radius: front" in shown
        await pilot.press("y")
        await until(pilot, "web stopped", lambda: state() == "exited")
        await pilot.press("escape")
        await select(pilot, app, "web")
        await pilot.press("U", "y")
        await until(pilot, "web started", lambda: state() == "running")
        await pilot.press("escape")
        await select(pilot, app, "web")
        await pilot.press("ctrl+k", "y")
        await until(pilot, "web killed", lambda: state() == "exited")
        assert lab.container("web").attrs["State"]["ExitCode"] == 137  # SIGKILL
        await pilot.press("escape")
        await select(pilot, app, "web")
        await pilot.press("U", "y")
        await until(pilot, "web back", lambda: state() == "running")
        assert app.ctx.journal is not None
        texts = [e.text for e in app.ctx.journal.timeline(kinds=["action"])]
        assert any("stop" in t for t in texts) and any("kill" in t for t in texts)
        assert any("start" in t for t in texts)


async def test_read_only_refuses_stop_and_shell(ops_lab: tuple[DockerLab, Path],
                                                tmp_path: Path) -> None:
    lab, stack = ops_lab
    app = make_app(stack, tmp_path, read_only=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await select(pilot, app, "web")
        await pilot.press("D")
        assert isinstance(app.screen, ActionScreen)
        await until(pilot, "refusal", lambda: "read-only" in app.screen.result)  # type: ignore
        await pilot.press("escape")
        await select(pilot, app, "web")
        await pilot.press("E")
        await pilot.pause()
        assert app.ctx.journal is not None
        texts = [e.text for e in app.ctx.journal.timeline(kinds=["action"])]
        assert "shell web: refused in read-only mode" in texts
        lab.container("web").reload()
        assert lab.container("web").status == "running"


async def test_j_k_move_and_ctrl_c_quits(ops_lab: tuple[DockerLab, Path],
                                         tmp_path: Path) -> None:
    _lab, stack = ops_lab
    app = make_app(stack, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await select(pilot, app, "web")
        table = app.screen.query_one(ServiceTable)
        table.focus()
        first, second = table.service_keys[:2]
        await select(pilot, app, first)
        await pilot.press("j")
        assert table.selected_service == second
        await pilot.press("k")
        assert table.selected_service == first
        await pilot.press("ctrl+c")
        await asyncio.sleep(0)
    assert app.return_code == 0
