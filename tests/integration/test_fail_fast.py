"""Actions that fail fast and resume from what is true now, against the real Docker daemon.

A permanent failure (404 on the health path, a fault unchanged after a restart) stops the
wait at once instead of after the whole timeout; "restart it" sits beside retry, skip and
abort; a bring-up restarts a running-but-failing service after naming its blast radius;
a resumed bring-up re-checks what its run recorded as done and brings back what is down.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.base import CancelToken, execute
from actions.bringup import BringUp, Diagnosis
from actions.restart import Restart
from console.journal import Journal
from console.model import HealthCheck, Service, Stack
from console.monitor import Monitor
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab, ensure_image

pytestmark = pytest.mark.docker
LONG = 90.0  # a timeout no test may wait out: each failure here must be called at once


def svc(name: str, port: int, deps: tuple[str, ...] = (), where: str = "host") -> Service:
    check = HealthCheck("http", port=port, timeout=1.0, where=where)  # type: ignore[arg-type]
    return Service(name, ports=(port,), depends_on=deps, checks=(check,))


def healed_by_a_restart(lab: DockerLab, service: str, port: int, start: bool) -> None:
    """httpd with no /health (404) on its first start, with /health after any restart."""
    script = (f"if [ -f /tmp/started ]; then exec httpd -f -p 127.0.0.1:{port} -h /www; fi; "
              f"touch /tmp/started; exec httpd -f -p 127.0.0.1:{port} -h /empty")
    container = lab.client.containers.create(
        ensure_image(lab.client), ["sh", "-c", script], name=f"{lab.project}-{service}-1",
        labels=lab.labels(service), network_mode="host")
    if start:
        container.start()


def plain_httpd(lab: DockerLab, service: str, port: int) -> None:
    lab.client.containers.create(
        ensure_image(lab.client), ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
        name=f"{lab.project}-{service}-1", labels=lab.labels(service), network_mode="host")


async def run_all(action, journal=None) -> list:  # type: ignore[no-untyped-def]
    return [e async for e in execute(action, CancelToken(), journal)]


async def test_a_404_stops_the_wait_at_once_and_restart_it_heals_it(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    healed_by_a_restart(docker_lab, "ff-api", 24731, start=False)
    stack = Stack("ff", (svc("ff-api", 24731),), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    seen: list[Diagnosis] = []

    async def restart_it(diagnosis: Diagnosis):  # type: ignore[no-untyped-def]
        seen.append(diagnosis)
        return "restart"

    action = BringUp(stack, runtime, Monitor(stack, runtime), timeout=LONG, decide=restart_it)
    try:
        events = await run_all(action)
    finally:
        await runtime.close()
    failed = [e for e in events if e.kind == "failed"]
    assert [e.message for e in failed] == ["no health endpoint: GET /health answers 404"]
    assert "not healthy after" not in failed[0].message  # called, not waited out
    assert [d.service for d in seen] == ["ff-api"]
    assert [(e.kind, e.message) for e in events if e.step == "ff-api"][-2:] == [
        ("started", "restarting"), ("ok", events[-2].message)]
    assert events[-1].kind == "done" and "1/1 operational" in events[-1].message


async def test_a_restart_that_leaves_the_fault_in_place_fails_at_once(
    docker_lab: DockerLab,
) -> None:
    """Port forwarding: healthy inside, unreachable from the host, before and after."""
    port = 24732
    docker_lab.no_network("ff-fwd", port)
    stack = Stack("ff", (svc("ff-fwd", port),), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    monitor = Monitor(stack, runtime)
    try:
        before = (await monitor.refresh()).get("ff-fwd")
        fault = f"healthy inside, unreachable from host: port forwarding (:{port})"
        assert before.issues == (fault,)
        events = await run_all(Restart(stack, runtime, monitor, "ff-fwd", timeout=LONG,
                                       stop_timeout=1))
    finally:
        await runtime.close()
    assert [(e.kind, e.message) for e in events] == [
        ("ok", "restarted"), ("failed", f"unchanged after a restart: {fault}")]


async def test_bringup_restarts_a_running_but_failing_service_after_naming_its_blast_radius(
    docker_lab: DockerLab,
) -> None:
    healed_by_a_restart(docker_lab, "ff-core", 24733, start=True)
    plain_httpd(docker_lab, "ff-edge", 24734)
    stack = Stack("ff", (svc("ff-core", 24733), svc("ff-edge", 24734, ("ff-core",))),
                  project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    monitor = Monitor(stack, runtime)
    try:
        for _ in range(40):  # until httpd answers (with its 404)
            core = (await monitor.refresh()).get("ff-core")
            if "answers 404" in " ".join(core.issues):
                break
        assert core.state.value == "unhealthy"
        action = BringUp(stack, runtime, monitor, timeout=LONG)
        plan = {s.target: s for s in action.plan()}
        assert plan["ff-core"].title.startswith(
            "restart ff-core (running but failing: no health endpoint: GET /health answers 404)")
        assert plan["ff-core"].detail.startswith("blast radius: ff-edge; ")
        assert plan["ff-edge"].title.startswith("start ff-edge")
        events = await run_all(action)
    finally:
        await runtime.close()
    core = [(e.kind, e.message) for e in events if e.step == "ff-core"]
    assert core[0] == ("info", "running but failing (no health endpoint: GET /health answers "
                               "404): restarting it; blast radius: ff-edge")
    assert core[1] == ("started", "restarting") and core[2][0] == "ok"
    assert events[-1].line().startswith("■ finished: ok · Readiness 100% · 2/2 operational")


async def test_resume_rechecks_what_the_run_recorded_as_done_and_brings_back_the_stopped(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    plain_httpd(docker_lab, "ff-db", 24735)
    healed_by_a_restart(docker_lab, "ff-app", 24736, start=False)
    stack = Stack("ff", (svc("ff-db", 24735), svc("ff-app", 24736, ("ff-db",))),
                  project=docker_lab.project)
    journal = Journal(tmp_path / "j.sqlite3", stack="ff")
    runtime = DockerRuntime(docker_lab.project)

    async def abort(_: Diagnosis):  # type: ignore[no-untyped-def]
        return "abort"

    try:
        first = await run_all(BringUp(stack, runtime, Monitor(stack, runtime, journal),
                                      journal, timeout=LONG, decide=abort), journal)
        assert [e.kind for e in first if e.step == "ff-db"][-1] == "ok"
        assert first[-1].message.startswith("aborted in phase")
        docker_lab.container("ff-db").stop(timeout=1)  # done in that run, down since
        resumed = BringUp(stack, runtime, Monitor(stack, runtime, journal), journal,
                          resume=True, timeout=LONG, decide=abort)
        events = await run_all(resumed, journal)
    finally:
        await runtime.close()
        journal.close()
    said = [(e.step, e.kind, e.message) for e in events]
    assert ("ff-db", "info", "done in the resumed run, now exited: bringing it back") in said
    assert ("ff-db", "skipped", "done in the resumed run") not in said
    assert [k for s, k, _ in said if s == "ff-db"][-1] == "ok"
    assert [k for s, k, _ in said if s == "ff-app"][-1] == "ok"  # running but failing: restarted
    assert events[-1].kind == "done" and "2/2 operational" in events[-1].message


async def test_B_in_the_console_resumes_an_unfinished_run_and_brings_back_what_is_down(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    """The console died mid-run (its services with it): B resumes, re-checks, brings back."""
    from tests.integration.test_ui_actions import SIZE, make_app, screen_text, until, write_stack
    from ui.screens.action import ActionScreen
    from ui.screens.confirm import ConfirmScreen

    db = "ff-ui-db"
    plain_httpd(docker_lab, db, 24737)  # created, not running: what the reaper left
    stack = write_stack(tmp_path / "s.toml", docker_lab.project, {db: (24737, [])})
    journal = Journal(tmp_path / "journal.sqlite3", stack="uiact")
    journal.record_bringup("cafe0001", db, "ok", 0.4)  # that run brought db up, then died
    journal.close()
    app = make_app(tmp_path, stack, docker_lab.project)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status is not None, "first refresh")
        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        assert isinstance(app.screen, ConfirmScreen)
        shown = "\n".join(app.screen.details)
        assert "resumes the unfinished run cafe0001" in shown
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ActionScreen)
                    and app.screen.result != "", "bring-up finished", 40)
        text = screen_text(app)
        assert f"{db}: done in the resumed run, now not-started: bringing it back" in text
        assert app.screen.result == "ok", text
    assert app.ctx.journal is not None
    assert app.ctx.journal.last_bringup() == ("cafe0001", True)
    assert docker_lab.container(db).attrs["State"]["Status"] == "running"
