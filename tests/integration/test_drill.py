"""Chaos drills against the real Docker daemon: busybox services on 127.0.0.1 (host network).

kill: a crash under restart policy `always` is detected and recovered, times reported;
under `no`, the guided restart brings it back. latency: the probe latency and a load test's
p95 rise by the injected delay through the console's forwarder, and fall back. oom: a hog
under a memory limit ends OOMKilled while the service stays up. disk: a tmpfs is filled
and freed. Interrupted drills (SIGTERM, a crash) restore everything. Ports 24200-24229.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.base import ActionError, CancelToken, Progress, ReadOnlyRefused
from actions.drill.engine import DrillOptions
from actions.drill.kinds import make_drill
from actions.drill.undo import UndoBook, UndoRecord
from console.journal import Journal
from console.model import HealthCheck, Service, Stack
from console.results import latest_result
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab, ensure_image

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
FAST = {"interval": 0.1, "detect_timeout": 20, "recover_timeout": 30}


def httpd(lab: DockerLab, service: str, port: int, restart: str = "no", **kwargs: object) -> None:
    """busybox httpd on 127.0.0.1:PORT serving /www/health, waited until it answers."""
    lab.run(service, ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
            restart_policy={"Name": restart}, **kwargs)
    deadline = time.monotonic() + 10
    while lab.container(service).exec_run(["wget", "-qO-", f"http://127.0.0.1:{port}/health"]
                                          ).exit_code != 0:
        assert time.monotonic() < deadline, f"{service} never answered on {port}"
        time.sleep(0.05)


def stack_of(lab: DockerLab, *services: tuple[str, int, tuple[str, ...]]) -> Stack:
    return Stack("drill", tuple(
        Service(name, ports=(port,), depends_on=deps,
                checks=(HealthCheck("http", port=port, timeout=2.0),))
        for name, port, deps in services), project=lab.project)


async def drill_run(kind: str, stack: Stack, service: str, state_dir: Path,
                    ask: bool | None = None, cancel: CancelToken | None = None,
                    **options: object):
    runtime = DockerRuntime(stack.project)
    events: list[Progress] = []

    async def answer(question: str) -> bool:
        return bool(ask)

    drill = make_drill(kind, stack, runtime, service, DrillOptions(**{**FAST, **options}),
                       journal=Journal(state_dir / "journal.sqlite3", stack="drill"),
                       state_dir=state_dir, ask_restart=answer if ask is not None else None)
    try:
        report = await drill.execute(cancel or CancelToken(), events.append)
    finally:
        await runtime.close()
    return drill, report, events


async def test_kill_drill_under_restart_always_is_detected_and_recovered(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "dk-web", 24200, restart="always")
    httpd(docker_lab, "dk-api", 24201)
    stack = stack_of(docker_lab, ("dk-web", 24200, ()), ("dk-api", 24201, ("dk-web",)))
    before = docker_lab.container("dk-web").attrs["RestartCount"]
    drill, report, events = await drill_run("kill", stack, "dk-web", tmp_path)
    assert report.outcome == "recovered", report.events
    assert report.blast_radius == ["dk-api"]
    assert report.detected_s is not None and report.recovered_s is not None
    assert 0 <= report.detected_s <= report.recovered_s
    assert report.mttr_s == report.recovered_s
    assert report.recovery_by == "restart policy 'always'"
    assert report.restored and report.passed
    assert docker_lab.container("dk-web").attrs["RestartCount"] == before + 1  # it crashed
    saved = latest_result(tmp_path, "drill-kill")
    assert saved is not None and saved["outcome"] == "recovered" and saved["mttr_s"] > 0
    assert drill.saved is not None
    markdown = drill.saved.with_suffix(".md").read_text()
    assert "| Time to detection |" in markdown and "| MTTR |" in markdown
    timeline = [e.text for e in Journal(tmp_path / "journal.sqlite3", stack="drill").timeline()]
    assert any(t.startswith("drill kill dk-web: recovered, detected in") for t in timeline)
    assert not UndoBook(tmp_path).leftovers(include_live=True)
    assert events[-1].kind == "done"


async def test_kill_drill_without_a_restart_policy_offers_the_guided_restart(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "dk-solo", 24202)
    stack = stack_of(docker_lab, ("dk-solo", 24202, ()))
    _, report, _ = await drill_run("kill", stack, "dk-solo", tmp_path, ask=True,
                                   restart_after=1.0)
    assert report.outcome == "recovered", report.events
    assert report.detection.startswith("status exited")
    assert report.recovery_by == "guided restart"
    assert docker_lab.container("dk-solo").status == "running"


async def test_latency_drill_raises_probe_latency_and_load_p95_by_the_delay(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "dl-web", 24203)
    stack = stack_of(docker_lab, ("dl-web", 24203, ()))
    _, report, _ = await drill_run("latency", stack, "dl-web", tmp_path, delay=0.15,
                                   hold=1.0, load_seconds=1.0, load_rate=20)
    m = report.measurements
    assert report.outcome == "recovered", report.events
    assert report.detection.startswith("probe latency")
    added = m["load_p50_during_ms"] - m["load_p50_before_ms"]
    assert 0.9 * 150 <= added < 2 * 150  # the injected 150 ms, give or take a busy machine
    assert m["load_p95_during_ms"] >= 150
    assert m["probe_latency_peak_ms"] >= 150
    assert report.recovery_by == "fault lifted"
    assert report.restored and any("forwarder 127.0.0.77" in n for n in report.restore_notes)


async def test_oom_drill_ends_in_oomkilled_and_the_service_stays_up(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "do-web", 24204)
    stack = stack_of(docker_lab, ("do-web", 24204, ()))
    _, report, _ = await drill_run("oom", stack, "do-web", tmp_path, memory=16 * 1024 * 1024)
    m = report.measurements
    assert m["oom_killed"] is True and m["hog_exit_code"] == 137
    assert "OOM" in report.detection
    assert report.outcome == "contained" and m["service_stayed_operational"] is True
    assert report.restored
    hogs = docker_lab.client.containers.list(all=True, filters={"label": "vextrus.drill"})
    assert [c.name for c in hogs if docker_lab.project in c.name] == []  # the hog is gone


async def test_disk_drill_fills_a_tmpfs_and_frees_it(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "dd-web", 24205, tmpfs={"/data": "size=8m"})
    stack = stack_of(docker_lab, ("dd-web", 24205, ()))
    _, report, _ = await drill_run("disk", stack, "dd-web", tmp_path, size=16 * 1024 * 1024,
                                   hold=0.5)
    m = report.measurements
    assert m["mount"] == "/data" and m["disk_full"] is True
    assert m["free_during_mib"] == 0 and m["free_after_mib"] >= 7
    assert report.outcome == "not detected"  # httpd's health check never looks at disk
    assert report.restored
    listing = docker_lab.container("dd-web").exec_run(["ls", "-a", "/data"]).output.decode()
    assert ".vextrus-drill" not in listing


def test_disk_drill_picks_a_tmpfs_before_a_volume_and_never_a_bind_mount() -> None:
    from actions.drill.resources import pick_mount

    attrs = {"HostConfig": {"Tmpfs": {"/run/cache": "size=8m"}}, "Mounts": [
        {"Type": "bind", "Destination": "/etc/app", "RW": True},
        {"Type": "volume", "Destination": "/var/lib/data", "RW": True}]}
    assert pick_mount(attrs, None, "svc") == ("/run/cache", "tmpfs")
    assert pick_mount(attrs, "/var/lib/data/pg", "svc") == ("/var/lib/data/pg", "volume")
    with pytest.raises(ActionError, match="not on a tmpfs or volume"):
        pick_mount(attrs, "/etc/app", "svc")


async def test_disk_drill_refuses_a_service_without_a_tmpfs_or_volume(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    httpd(docker_lab, "dd-bare", 24206)
    stack = stack_of(docker_lab, ("dd-bare", 24206, ()))
    _, report, _ = await drill_run("disk", stack, "dd-bare", tmp_path)
    assert report.outcome.startswith("failed: drill disk: dd-bare has no tmpfs or volume")
    assert report.restored


async def test_a_drill_is_refused_read_only_and_on_an_unhealthy_service(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    stack = stack_of(docker_lab, ("dr-none", 24207, ()))
    runtime = DockerRuntime(stack.project)
    try:
        drill = make_drill("kill", stack, runtime, "dr-none")
        with pytest.raises(ReadOnlyRefused):
            await drill.execute(CancelToken(), read_only=True)
        report = await drill.execute(CancelToken())
    finally:
        await runtime.close()
    assert "not operational before the drill" in report.outcome
    with pytest.raises(ActionError, match="unknown service"):
        make_drill("kill", stack, None, "nope")


def cli(tmp_path: Path, stack: Path, project: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "cli", "--stack", str(stack), "--project", project,
            "--state-dir", str(tmp_path), *args]


def write_stack(path: Path, name: str, port: int) -> Path:
    path.write_text(f'[stack]\nname = "drill"\n[services.{name}]\nports = [{port}]\n'
                    f'checks = [{{ kind = "http", port = {port}, timeout = 1.0 }}]\n')
    return path


def test_sigterm_mid_drill_restores_everything(docker_lab: DockerLab, tmp_path: Path) -> None:
    """A kill drill on a service nobody restarts, stopped by SIGTERM while it waits: the
    CLI restores (starts the container), reports 'cancelled' and leaves no undo file."""
    httpd(docker_lab, "di-web", 24208)
    stack = write_stack(tmp_path / "s.toml", "di-web", 24208)
    proc = subprocess.Popen(cli(tmp_path, stack, docker_lab.project, "drill", "kill", "di-web",
                                "--restart-after", "60s", "--json"),
                            cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # No terminal and no --yes: refused before anything runs.
    assert proc.wait(60) == 2
    proc = subprocess.Popen(cli(tmp_path, stack, docker_lab.project, "drill", "kill", "di-web",
                                "--restart-after", "60s", "--yes", "--json"),
                            cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("✓ detect:"):
            break
    assert docker_lab.container("di-web").status == "exited"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + out
    report = json.loads(out[out.index("{"):])
    assert report["outcome"] == "cancelled" and report["restored"] is True
    assert docker_lab.container("di-web").status == "running"
    assert not UndoBook(tmp_path).leftovers(include_live=True)


def test_a_crashed_drill_is_undone_at_the_next_start(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    """What a SIGKILLed drill left (a stopped service, a hog, a fill file) is undone by the
    next `drill` before it plans anything."""
    httpd(docker_lab, "dc-web", 24209, tmpfs={"/data": "size=4m"})
    web = docker_lab.container("dc-web")
    assert web.exec_run(["dd", "if=/dev/zero", "of=/data/.vextrus-drill-abc123",
                         "bs=1048576", "count=2"]).exit_code == 0
    hog = docker_lab.client.containers.create(ensure_image(docker_lab.client), ["true"],
                                              name=f"{docker_lab.project}-dc-hog")
    web.kill()
    UndoBook(tmp_path).write(UndoRecord("crashed-1", "kill", "dc-web", 999_999_999, [
        {"op": "delete_file", "container": web.id, "path": "/data/.vextrus-drill-abc123"},
        {"op": "remove", "container": hog.name},
        {"op": "start", "container": web.id},
    ]))
    stack = write_stack(tmp_path / "s.toml", "dc-web", 24209)
    done = subprocess.run(cli(tmp_path, stack, docker_lab.project, "drill", "kill", "dc-web",
                              "--dry-run"), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "drill kill dc-web (crashed-1) was interrupted: undone:" in done.stderr
    web.reload()
    assert web.status == "running"
    assert ".vextrus-drill" not in web.exec_run(["ls", "-a", "/data"]).output.decode()
    assert hog.name not in [c.name for c in docker_lab.client.containers.list(all=True)]
    assert not UndoBook(tmp_path).leftovers(include_live=True)
    timeline = [e.text for e in Journal(tmp_path / "journal.sqlite3", stack="drill").timeline()]
    assert any("was interrupted: undone" in t for t in timeline)


def test_cli_drill_is_refused_read_only_and_dry_run_shows_the_blast_radius(
    tmp_path: Path
) -> None:
    stack = tmp_path / "s.toml"
    stack.write_text('[stack]\nname = "ro"\n'
                     '[services.db]\nchecks = [{ kind = "http", port = 24210 }]\n'
                     '[services.api]\ndepends_on = ["db"]\n'
                     'checks = [{ kind = "http", port = 24211 }]\n')
    base = [sys.executable, "-m", "cli", "--stack", str(stack), "--runtime", "none",
            "--state-dir", str(tmp_path)]
    dry = subprocess.run([*base, "drill", "latency", "db", "--dry-run"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "blast radius: api" in dry.stdout and "add delay 200 ms" in dry.stdout
    refused = subprocess.run([*base, "--read-only", "drill", "latency", "db", "--yes"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "refused in read-only mode" in refused.stderr
    kill = subprocess.run([*base, "drill", "kill", "db", "--yes"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert kill.returncode == 2 and "needs the docker runtime (not none)" in kill.stderr
    assert latest_result(tmp_path, "drill-latency") is None  # nothing ran
