"""The load and drill screens, driven by keys: a real loopback server, real Docker drills.

The load screen runs against tests/loadserver.py with a known delay and error rate; the
drill screen runs real drills on busybox containers (host network, 127.0.0.1): a kill
drill recovered by the restart policy, an `esc` mid-drill that restores the service, and
read-only refusal. Ports 24230-24239.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from actions.drill.engine import DrillOptions
from actions.drill.undo import UndoBook
from console.factory import Options, build_context
from tests.dockerlab import DockerLab
from tests.integration.test_drill import httpd
from tests.pilot_wait import settle
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.confirm import ConfirmScreen
from ui.screens.drill import DrillScreen
from ui.screens.load import LoadScreen

SIZE = (100, 30)


def panel_text(screen: LoadScreen) -> str:
    return str(screen.query_one("#load-panel").render())


# A busy box (two CPU hogs beside the suite) once took longer than the default 30 s to
# show the kill; the test is about what the screen does, so it waits as long as it must.
PATIENT = DrillOptions(detect_timeout=120, recover_timeout=120)


def detected_or_ended(screen: DrillScreen) -> bool:
    """The drill saw its kill, or it is over without seeing it (then the test says why)."""
    report = screen.report
    return report is not None and (report.detected_s is not None or not screen.running)


def drill_app(tmp_path: Path, lab: DockerLab, service: str, port: int,
              read_only: bool = False) -> VextrusApp:
    stack = tmp_path / "s.toml"
    stack.write_text(f'[stack]\nname = "uidrill"\n[services.{service}]\nports = [{port}]\n'
                     f'checks = [{{ kind = "http", port = {port}, timeout = 5.0 }}]\n')
    opts = Options(stack_path=str(stack), project=lab.project, state_dir=str(tmp_path),
                   read_only=read_only)
    ctx = build_context(opts)
    ctx.auto_poll = False  # the test drives refreshes
    return build_app(ctx)


@pytest.mark.docker
async def test_drill_screen_kill_is_confirmed_detected_recovered_and_reported(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "ud-web", 24231, restart="always")
    app = drill_app(tmp_path, docker_lab, "ud-web", 24231)
    async with app.run_test(size=SIZE) as pilot:
        screen = DrillScreen(kind="kill", service="ud-web", options=PATIENT)
        await app.push_screen(screen)
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        details = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "blast radius: none" in details and "SIGKILL" in details
        await pilot.press("y")
        await settle(pilot, lambda: screen.report is not None and not screen.running,
                     "the drill to finish", 240)
        report = screen.report
        assert report is not None and report.outcome == "recovered", report.events
        measures = str(screen.query_one("#drill-measures").render())
        assert "MTTR" in measures and "restored yes" in measures
        assert "finished: recovered" in str(screen.query_one("#drill-title").render())
    assert (tmp_path / "results" / "latest-drill-kill.json").exists()


@pytest.mark.docker
async def test_esc_mid_drill_restores_the_service(docker_lab: DockerLab, tmp_path: Path) -> None:
    """A kill under restart policy `no`: the drill waits for a recovery that will not come;
    esc cancels, and the drill starts the container again before it ends."""
    httpd(docker_lab, "ud-solo", 24232)
    app = drill_app(tmp_path, docker_lab, "ud-solo", 24232)
    async with app.run_test(size=SIZE) as pilot:
        screen = DrillScreen(kind="kill", service="ud-solo", options=PATIENT)
        await app.push_screen(screen)
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await settle(pilot, lambda: detected_or_ended(screen), "the kill to be detected", 150)
        assert screen.report is not None and screen.report.detected_s is not None, \
            screen.report.events if screen.report else "no report"
        assert docker_lab.container("ud-solo").status == "exited"
        await pilot.press("escape")
        await settle(pilot, lambda: not screen.running, "the drill to restore and end", 60)
        assert screen.report is not None and screen.report.outcome == "cancelled"
        assert screen.report.restored
    deadline = time.monotonic() + 10
    while docker_lab.container("ud-solo").status != "running":
        assert time.monotonic() < deadline, "ud-solo was not started again"
        time.sleep(0.1)


@pytest.mark.docker
async def test_quitting_mid_drill_restores_first(docker_lab: DockerLab, tmp_path: Path) -> None:
    httpd(docker_lab, "uq-solo", 24234)
    app = drill_app(tmp_path, docker_lab, "uq-solo", 24234)
    async with app.run_test(size=SIZE) as pilot:
        screen = DrillScreen(kind="kill", service="uq-solo", options=PATIENT)
        await app.push_screen(screen)
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await settle(pilot, lambda: detected_or_ended(screen), "the kill to be detected", 150)
        assert screen.report is not None and screen.report.detected_s is not None, \
            screen.report.events if screen.report else "no report"
        await pilot.press("q")
        await settle(pilot, lambda: not app.is_running, "the console to quit", 60)
    assert screen.report is not None and screen.report.restored
    assert docker_lab.container("uq-solo").status == "running"
    assert not UndoBook(tmp_path).leftovers(include_live=True)  # nothing left for next time


@pytest.mark.docker
async def test_drill_screen_is_refused_read_only(docker_lab: DockerLab, tmp_path: Path) -> None:
    app = drill_app(tmp_path, docker_lab, "ud-ro", 24233, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = DrillScreen(kind="kill", service="ud-ro")
        await app.push_screen(screen)
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert "refused" in str(screen.query_one("#drill-title").render())
        assert screen.report is None
