"""Bring-up, restart and pause headless, against the real Docker daemon.

Busybox containers on 127.0.0.1 (host network), created but not started, the way a
bring-up finds a stack: one slow to become healthy (httpd starts after a sleep), one that
never does (404 on /health), dependencies in layers. The CLI runs as a subprocess where the
test kills it midway and resumes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.base import CancelToken, ReadOnlyRefused, execute
from actions.bringup import BringUp, Diagnosis
from actions.restart import PauseRestarts, Restart
from console.journal import Journal
from console.model import HealthCheck, Service, Stack
from console.monitor import Monitor
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab, ensure_image, free_port

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]


def create(lab: DockerLab, service: str, port: int, delay: float = 0, root: str = "/www",
           restart: str = "no") -> None:
    """Created, never started: httpd on 127.0.0.1:PORT, optionally after `sleep DELAY`."""
    httpd = f"httpd -f -p 127.0.0.1:{port} -h {root}"
    command = ["sh", "-c", f"sleep {delay}; exec {httpd}"] if delay else httpd.split()
    lab.client.containers.create(
        ensure_image(lab.client), command, name=f"{lab.project}-{service}-1",
        labels=lab.labels(service), network_mode="host", restart_policy={"Name": restart},
    )


def svc(name: str, port: int, deps: tuple[str, ...] = (), phase: int = 0) -> Service:
    return Service(name, phase=phase, ports=(port,), depends_on=deps,
                   checks=(HealthCheck("http", port=port, timeout=1.0),))


async def run_all(action, journal=None, read_only=False) -> list:
    return [e async for e in execute(action, CancelToken(), journal, read_only)]


def status_of(lab: DockerLab, service: str) -> str:
    return lab.container(service).attrs["State"]["Status"]


async def test_bringup_orders_by_dependency_waits_for_the_slow_and_diagnoses_the_broken(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    names = {"db": "bu-db", "slow": "bu-slow", "api": "bu-api", "bad": "bu-bad"}
    ports = {k: free_port() for k in names}
    create(docker_lab, names["db"], ports["db"])
    create(docker_lab, names["slow"], ports["slow"], delay=1.5)
    create(docker_lab, names["api"], ports["api"])
    create(docker_lab, names["bad"], ports["bad"], root="/empty")
    stack = Stack("bu", (
        svc(names["db"], ports["db"]),
        svc(names["slow"], ports["slow"], (names["db"],)),
        svc(names["api"], ports["api"], (names["slow"],), phase=1),
        svc(names["bad"], ports["bad"], (names["db"],), phase=1),
    ), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    journal = Journal(tmp_path / "j.sqlite3", stack="bu")
    seen: list[Diagnosis] = []

    async def skip(diagnosis: Diagnosis):
        seen.append(diagnosis)
        return "skip"

    action = BringUp(stack, runtime, Monitor(stack, runtime, journal), journal,
                     timeout=4, decide=skip, poll_interval=0.1)
    try:
        events = await run_all(action, journal)
    finally:
        await runtime.close()
    oks = [e.step for e in events if e.kind == "ok"]
    started = [e.step for e in events if e.kind == "started"]
    assert oks[:2] == [names["db"], names["slow"]]  # a dependency is healthy before the next
    assert started.index(names["api"]) > oks.index(names["slow"])
    assert names["api"] in oks
    assert [d.service for d in seen] == [names["bad"]]
    assert any("HTTP 404" in p for p in seen[0].probe_output)
    assert any(e.kind == "skipped" and e.step == names["bad"] for e in events)
    assert events[-1].kind == "done"
    assert events[-1].message.startswith("Readiness 75% · 3/4 operational")
    assert status_of(docker_lab, names["bad"]) == "running"  # what runs keeps running
    times = journal.startup_times()
    assert set(times) == {names["db"], names["slow"], names["api"]}
    assert times[names["slow"]] > times[names["db"]]  # waited on probes, not a fixed sleep


async def test_bringup_only_brings_a_service_with_its_dependencies(
    docker_lab: DockerLab
) -> None:
    ports = {n: free_port() for n in ("bo-db", "bo-api", "bo-other")}
    for name, port in ports.items():
        create(docker_lab, name, port)
    stack = Stack("bo", (svc("bo-db", ports["bo-db"]),
                         svc("bo-api", ports["bo-api"], ("bo-db",)),
                         svc("bo-other", ports["bo-other"])), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    action = BringUp(stack, runtime, Monitor(stack, runtime), only="bo-api", timeout=5,
                     poll_interval=0.1)
    try:
        assert [s.target for s in action.plan()] == ["bo-db", "bo-api"]
        await run_all(action)
    finally:
        await runtime.close()
    assert status_of(docker_lab, "bo-api") == "running"
    assert status_of(docker_lab, "bo-other") == "created"


def cli(tmp_path: Path, stack: Path, project: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli", "--stack", str(stack), "--project", project,
            "--state-dir", str(tmp_path), *args]


def write_stack(path: Path, services: list[tuple[str, int, list[str]]]) -> Path:
    lines = ['[stack]', 'name = "resume"']
    for name, port, deps in services:
        lines += [f'[services.{name}]', f'ports = [{port}]',
                  'depends_on = [' + ", ".join(f'"{d}"' for d in deps) + ']',
                  f'checks = [{{ kind = "http", port = {port}, timeout = 1.0 }}]']
    path.write_text("\n".join(lines) + "\n")
    return path


def test_resume_after_the_bringup_is_killed_midway(docker_lab: DockerLab, tmp_path: Path):
    first, second = "br-first", "br-second"
    p1, p2 = free_port(), free_port()
    create(docker_lab, first, p1)
    create(docker_lab, second, p2, delay=30)  # still starting when the bring-up is killed
    stack = write_stack(tmp_path / "s.toml", [(first, p1, []), (second, p2, [first])])
    proc = subprocess.Popen(cli(tmp_path, stack, docker_lab.project, "bringup", "--yes",
                                "--timeout", "60"),
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(f"✓ {first}: healthy"):
            break
    os.killpg(proc.pid, signal.SIGKILL)  # a dropped SSH session, a crash
    proc.wait(timeout=10)
    # The second service is then fixed (it would have come up eventually); resume.
    docker_lab.container(second).remove(force=True)
    create(docker_lab, second, p2)
    out = subprocess.run(cli(tmp_path, stack, docker_lab.project, "bringup", "--resume",
                             "--yes", "--timeout", "20"),
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"- {first}: done in the resumed run" in out.stdout
    assert f"✓ {second}: healthy in" in out.stdout
    assert "Readiness 100% · 2/2 operational" in out.stdout


async def test_restart_with_dependents_stops_them_first_and_brings_them_back_in_order(
    docker_lab: DockerLab
) -> None:
    ports = {n: free_port() for n in ("rs-db", "rs-api", "rs-web")}
    for name, port in ports.items():
        docker_lab.healthy(name, port, with_healthcheck=False)
    stack = Stack("rs", (svc("rs-db", ports["rs-db"]),
                         svc("rs-api", ports["rs-api"], ("rs-db",)),
                         svc("rs-web", ports["rs-web"], ("rs-api",))), project=docker_lab.project)
    before = {n: docker_lab.container(n).attrs["State"]["StartedAt"] for n in ports}
    runtime = DockerRuntime(docker_lab.project)
    action = Restart(stack, runtime, Monitor(stack, runtime), "rs-db", with_dependents=True,
                     timeout=10, poll_interval=0.1, stop_timeout=1)
    try:
        assert action.blast_radius() == ["rs-api", "rs-web"]
        titles = [s.title for s in action.plan()]
        assert titles.index("stop rs-web (depends on rs-db)") < titles.index(
            "stop rs-api (depends on rs-db)") < titles.index("restart rs-db")
        events = await run_all(action)
    finally:
        await runtime.close()
    lines = [f"{e.step}: {e.message.split(' in ')[0]}" for e in events if e.kind == "ok"]
    assert lines == ["rs-web: stopped", "rs-api: stopped", "rs-db: restarted",
                     "rs-db: healthy", "rs-api: healthy", "rs-web: healthy"]
    assert events[-1].message == "Readiness 100% · 3/3 operational"
    after = {n: docker_lab.container(n).attrs["State"]["StartedAt"] for n in ports}
    assert all(after[n] != before[n] for n in ports)


async def test_a_restart_loop_is_detected_and_pausing_keeps_the_evidence(
    docker_lab: DockerLab
) -> None:
    docker_lab.crash_loop("pl-config", code=3, restarts=3)
    stack = Stack("pl", (Service("pl-config"),), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    monitor = Monitor(stack, runtime)
    try:
        status = (await monitor.refresh()).get("pl-config")
        assert status.restart_loop
        assert any(i.startswith("restart loop:") for i in status.issues)
        events = await run_all(PauseRestarts(stack, runtime, "pl-config"))
        assert events[-1].message == "restart policy set to 'no': restarts paused"
        attrs = docker_lab.wait_for("pl-config", lambda a: a["State"]["Status"] == "exited",
                                    "exited after the pause")
        assert attrs.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
        count = attrs.attrs["RestartCount"]
        time.sleep(1.0)
        attrs.reload()
        assert attrs.attrs["RestartCount"] == count  # no more restarts
        assert attrs.attrs["State"]["ExitCode"] == 3  # the evidence stays
        logs = [line.text async for line in runtime.logs(stack.service("pl-config"), tail=5)]
        assert "boom" in logs
    finally:
        await runtime.close()


async def test_every_write_action_is_refused_in_read_only_mode(docker_lab: DockerLab) -> None:
    port = free_port()
    create(docker_lab, "ro-db", port)
    stack = Stack("ro", (svc("ro-db", port),), project=docker_lab.project)
    runtime = DockerRuntime(docker_lab.project)
    monitor = Monitor(stack, runtime)
    try:
        for action in (BringUp(stack, runtime, monitor), Restart(stack, runtime, monitor, "ro-db"),
                       PauseRestarts(stack, runtime, "ro-db")):
            with pytest.raises(ReadOnlyRefused, match=f"{action.name}: refused in read-only"):
                await run_all(action, read_only=True)
    finally:
        await runtime.close()
    assert status_of(docker_lab, "ro-db") == "created"


def test_cli_bringup_refuses_without_a_terminal_or_yes_and_dry_run_prints_the_plan(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    port = free_port()
    create(docker_lab, "cl-db", port)
    stack = write_stack(tmp_path / "s.toml", [("cl-db", port, [])])
    dry = subprocess.run(cli(tmp_path, stack, docker_lab.project, "bringup", "--dry-run"),
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert dry.returncode == 0
    assert "start cl-db, wait until healthy (timeout 120s)" in dry.stdout
    refused = subprocess.run(cli(tmp_path, stack, docker_lab.project, "bringup"),
                             cwd=ROOT, capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr
    ro = subprocess.run(cli(tmp_path, stack, docker_lab.project, "--read-only", "bringup",
                            "--yes"), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ro.returncode == 2 and "refused in read-only mode" in ro.stderr
    assert status_of(docker_lab, "cl-db") == "created"
