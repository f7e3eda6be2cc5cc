"""The integration tests of tests/unit/test_compose_project.py (same subject, other layer).

Compose as the engine of record: a real compose project, real Compose, a real daemon.

`tests/data/compose_project` has every dependency condition, a one-shot job, a service
without a healthcheck that others need started, a profile service, `extends`, `include`,
`.env` interpolation and `$$` in a healthcheck. Busybox FROM scratch, host networking,
loopback ports below 32768 (25411, 25412 in its `.env`).
"""
# ruff: noqa: F811  (a fixture imported from the module whose other layer shares it)

from __future__ import annotations

import json
import os
import secrets

import docker
import pytest

from console.compose_import import load_compose_stack
from console.model import ComposeSource
from tests.dockerlab import DockerLab, ensure_image
from tests.unit.test_compose_project import (  # noqa: F401  (helpers and fixtures)
    PROJECT_DIR,
    SERVICES,
    cli,
    project,
)


@pytest.mark.docker
def test_bringup_from_nothing_creates_every_service_then_status_exits_0(project):
    client = docker.from_env(version="auto", timeout=30)
    ensure_image(client)
    name = f"vxtest-{os.getpid()}-{secrets.token_hex(3)}"
    lab = DockerLab(name, client)
    state = project / "state"

    def made() -> dict:
        return {c.labels["com.docker.compose.service"]: c
                for c in client.containers.list(all=True, filters={
                    "label": f"com.docker.compose.project={name}"})}

    try:
        one = cli(["--project", name, "--state-dir", str(state), "bringup", "--only",
                   "sidecar", "--yes"], project)
        assert one.returncode == 0, one.stdout + one.stderr
        assert set(made()) == {"cache", "sidecar"}  # one service with its dependencies
        assert "✓ cache: running" in one.stdout  # no healthcheck: started is up

        up = cli(["--project", name, "--state-dir", str(state), "bringup", "--yes"], project)
        assert up.returncode == 0, up.stdout + up.stderr
        last = up.stdout.splitlines()[-1]
        assert last.startswith("■ ") and "Readiness 100% · 6/6 operational" in last
        assert "✓ migrate: completed (exit 0)" in up.stdout
        assert "- cache: already healthy" in up.stdout
        containers = made()
        assert set(containers) == SERVICES  # created by Compose; the profile service not
        migrate = containers.pop("migrate").attrs["State"]
        assert (migrate["Status"], migrate["ExitCode"]) == ("exited", 0)
        assert {c.status for c in containers.values()} == {"running"}

        status = cli(["--project", name, "--state-dir", str(state), "status", "--json"],
                     project)
        assert status.returncode == 0, status.stdout + status.stderr
        rows = {s["name"]: s for s in json.loads(status.stdout)["services"]}
        assert rows["migrate"]["health"] == "completed"
        assert {s["state"] for s in rows.values()} == {"operational"}

        # `restart: true` on worker's edge: restarting api brings worker back with it
        before = containers["worker"].attrs["State"]["StartedAt"]
        again = cli(["--project", name, "--state-dir", str(state), "restart", "api",
                     "--stop-timeout", "1", "--yes"], project)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "✓ worker: stopped" in again.stdout and "✓ api: restarted" in again.stdout
        containers["worker"].reload()
        assert containers["worker"].status == "running"
        assert containers["worker"].attrs["State"]["StartedAt"] != before
    finally:
        lab.cleanup()


@pytest.mark.docker
async def test_a_daemon_that_goes_away_during_a_bringup_is_one_line_and_on_record(
    scratch_daemon, tmp_path
):
    from actions.base import CancelToken, execute
    from actions.bringup import BringUp
    from console.journal import Journal
    from console.monitor import Monitor
    from console.runtime.docker.runtime import DockerRuntime

    client = docker.DockerClient(base_url=scratch_daemon.url, version="auto", timeout=30)
    ensure_image(client)
    name = f"vxtest-{os.getpid()}-{secrets.token_hex(3)}"
    stack = load_compose_stack(ComposeSource(files=(str(PROJECT_DIR / "compose.yaml"),),
                                             project=name))
    runtime = DockerRuntime(stack.project, base_url=scratch_daemon.url, compose=stack.compose)
    journal = Journal(tmp_path / "journal.sqlite3", stack=stack.name)
    action = BringUp(stack, runtime, Monitor(stack, runtime, journal), journal, timeout=60)
    events = []
    try:
        async for event in execute(action, CancelToken(), journal):
            events.append(event)
            if (event.kind, event.step) == ("ok", "db"):
                scratch_daemon.kill()  # the next layer meets a daemon that is gone
    finally:
        await runtime.close()
    failed = [e for e in events if e.kind == "failed" and e.step]
    assert failed, [e.line() for e in events]
    assert all("\n" not in e.message for e in failed)
    assert any("Docker daemon unreachable at " + scratch_daemon.url in e.message
               for e in failed), [e.line() for e in failed]
    assert events[-1].kind == "failed" and "aborted" in events[-1].message
    results = journal.bringup_results(action.run_id)
    assert results["db"][0] == "ok"
    assert {results[f.step][0] for f in failed} == {"failed"}
    # Back up: every container that exists is one the journal speaks of.
    scratch_daemon.start()
    client = docker.DockerClient(base_url=scratch_daemon.url, version="auto", timeout=30)
    made = {c.labels["com.docker.compose.service"] for c in client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={name}"})}
    assert made <= set(results), (made, results)
    for c in client.containers.list(all=True):
        c.remove(force=True)


@pytest.mark.docker
async def test_a_build_during_a_bringup_is_shown_as_progress(tmp_path):
    from actions.base import CancelToken, execute
    from actions.bringup import BringUp
    from console.monitor import Monitor
    from console.runtime.docker.runtime import DockerRuntime

    client = docker.from_env(version="auto", timeout=30)
    ensure_image(client)
    tag = f"vextrus-test/built-{secrets.token_hex(3)}:1"
    (tmp_path / "compose.yaml").write_text(
        "services:\n  built:\n    build:\n      context: .\n      dockerfile_inline: |\n"
        "        FROM vextrus-test/busybox:1\n        LABEL vextrus-test=1\n"
        f"    image: {tag}\n    network_mode: host\n    command: [sleep, '3600']\n")
    name = f"vxtest-{os.getpid()}-{secrets.token_hex(3)}"
    stack = load_compose_stack(ComposeSource(files=(str(tmp_path / "compose.yaml"),),
                                             project=name))
    runtime = DockerRuntime(stack.project, compose=stack.compose)
    try:
        events = [e async for e in execute(BringUp(stack, runtime, Monitor(stack, runtime),
                                                   timeout=60), CancelToken())]
    finally:
        await runtime.close()
        DockerLab(name, client).cleanup()
        client.images.remove(tag, force=True)
    progress = [e.message for e in events if e.kind == "info" and not e.step]
    assert any("Built" in line for line in progress), [e.line() for e in events]
    assert events[-1].kind == "done" and "1/1 operational" in events[-1].message


@pytest.mark.docker
def test_a_service_compose_cannot_create_fails_its_bringup_in_one_line(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  ghost:\n    image: vextrus-test/no-such-image:1\n"
        "    pull_policy: never\n    network_mode: host\n")
    name = f"vxtest-{os.getpid()}-{secrets.token_hex(3)}"
    state = tmp_path / "state"
    up = cli(["--project", name, "--state-dir", str(state), "bringup", "--yes"], tmp_path)
    assert up.returncode == 1, up.stdout + up.stderr
    failed = [ln for ln in up.stdout.splitlines() if ln.startswith("✗ ghost: ")]
    assert failed and "start failed: docker compose up: " in failed[0], up.stdout
    assert "no-such-image" in failed[0] and "unreachable" not in failed[0]
    DockerLab(name).cleanup()
