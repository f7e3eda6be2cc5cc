"""Keys on a service row with the local runtime (real child processes): resources from
/proc, describe (the command, directory, environment masked, the group's processes),
stop (D), start (U), kill (ctrl+k), and where a shell opens (the service's directory, with
its environment).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.factory import Options, build_context
from console.runtime.local.runtime import LocalOptions, LocalRuntime
from console.shell import shell_plan
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen
from ui.screens.describe import DescribeScreen
from ui.widgets.service_table import ServiceTable

TOKEN = "local-token-value-31"
WORK = [sys.executable, "-c", "import time\nwhile True: time.sleep(0.2)"]


async def until(pilot: Any, ok: Callable[[], object], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await pilot.pause(0.05)


def local_app(tmp_path: Path) -> tuple[VextrusApp, LocalRuntime]:
    stack = tmp_path / "stack.toml"
    argv = ", ".join(f'"{a}"' for a in [w.replace("\n", "\\n") for w in WORK])
    stack.write_text('[stack]\nname = "local"\n'
                     f'[services.worker]\nruntime = {{ local = [{argv}] }}\n'
                     '[services.client]\ndepends_on = ["worker"]\n'
                     f'runtime = {{ local = [{argv}] }}\n')
    folder = tmp_path / "worker-dir"
    folder.mkdir()
    runtime = LocalRuntime({"worker": LocalOptions(cwd=str(folder),
                                                   env={"API_TOKEN": TOKEN, "MODE": "demo"})},
                           reaper=False)
    ctx = build_context(Options(stack_path=str(stack), runtime="local",
                                state_dir=str(tmp_path / "state")), runtime=runtime)
    return build_app(ctx), runtime


async def select(pilot: Any, app: VextrusApp, name: str) -> ServiceTable:
    table = app.screen.query_one(ServiceTable)
    await until(pilot, lambda: name in table.service_keys, "rows")
    table.move_cursor(row=table.get_row_index(name), animate=False)
    await pilot.pause()
    return table


def state(app: VextrusApp, name: str) -> str:
    return app.status.get(name).container.state if app.status else ""  # type: ignore[union-attr]


async def test_local_keys_resources_describe_stop_start_kill(tmp_path: Path) -> None:
    app, runtime = local_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        worker = app.ctx.stack.service("worker")
        await runtime.start(worker)
        table = await select(pilot, app, "worker")
        app.request_refresh()
        await until(pilot, lambda: state(app, "worker") == "running", "worker running")
        app.sample_usage()
        await until(pilot, lambda: app.usage is not None and app.usage.get("worker"),
                    "a /proc sample")
        await until(pilot, lambda: "mem" in table.columns, "the Mem column")
        assert str(table.get_cell("worker", "mem")).endswith("M")  # a Python's resident set
        assert str(table.get_cell("client", "mem")) == "—"  # not running: nothing measured

        await pilot.press("d")
        assert isinstance(app.screen, DescribeScreen)
        screen = app.screen
        await until(pilot, lambda: len(screen.lines) > 5, "the description")
        text = "\n".join(screen.lines)
        assert f"cwd: {tmp_path / 'worker-dir'}" in text
        assert "API_TOKEN=***" in text and TOKEN not in text and "MODE=demo" in text
        assert "processes:" in text and "time.sleep" in text
        await pilot.press("escape")

        await select(pilot, app, "worker")
        await pilot.press("D")
        details = " ".join(app.screen.details)  # type: ignore[attr-defined]
        assert "blast radius: client" in details
        await pilot.press("y")
        await until(pilot, lambda: "worker" not in runtime.process_groups(), "worker stopped")
        await pilot.press("escape")
        await select(pilot, app, "worker")
        await pilot.press("U", "y")
        await until(pilot, lambda: "worker" in runtime.process_groups(), "worker started")
        await pilot.press("escape")
        await select(pilot, app, "worker")
        await pilot.press("ctrl+k", "y")
        await until(pilot, lambda: "worker" not in runtime.process_groups(), "worker killed")


async def test_a_local_shell_opens_in_the_services_directory(tmp_path: Path) -> None:
    app, runtime = local_app(tmp_path)
    try:
        plan = await shell_plan(runtime, app.ctx.stack.service("worker"))
    finally:
        await runtime.close()
    assert plan.cwd == str(tmp_path / "worker-dir")
    assert plan.env["API_TOKEN"] == TOKEN and plan.env["VEXTRUS_SERVICE"] == "worker"
    assert plan.argv[0].endswith("sh")


async def test_ctrl_c_asks_while_an_action_runs(tmp_path: Path) -> None:
    """A bring-up waiting on a check nobody answers is running: ctrl+c asks first; no
    keeps the console and the action, yes quits."""
    stack = tmp_path / "stack.toml"
    argv = ", ".join(f'"{a}"' for a in [w.replace("\n", "\\n") for w in WORK])
    stack.write_text('[stack]\nname = "local"\n'
                     f'[services.silent]\nruntime = {{ local = [{argv}] }}\n'
                     'checks = [{ kind = "tcp", port = 9, host = "127.0.0.1" }]\n')
    runtime = LocalRuntime(reaper=False)
    ctx = build_context(Options(stack_path=str(stack), runtime="local",
                                state_dir=str(tmp_path / "state")), runtime=runtime)
    app = build_app(ctx)
    async with app.run_test(size=(120, 30)) as pilot:
        await select(pilot, app, "silent")
        await pilot.press("u", "y")
        await until(pilot, lambda: isinstance(app.screen, ActionScreen) and app.screen.running,
                    "the bring-up running")
        await pilot.press("ctrl+c")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Quit while an action runs?"
        await pilot.press("n")
        assert isinstance(app.screen, ActionScreen) and app.screen.running
        await pilot.press("ctrl+c", "y")
        await until(pilot, lambda: not app.is_running, "the console quit")
