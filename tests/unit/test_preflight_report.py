"""Pre-flight checks and the Markdown report, as an operator reads them before and after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from actions.base import CancelToken, execute
from actions.preflight import Limits, Preflight
from actions.report import build_report
from console.journal import Journal, TimelineEntry
from console.model import HealthCheck, Service, Stack
from console.probes.base import ProbeResult
from console.runtime.base import ContainerState
from console.runtime.docker.runtime import DockerRuntime
from console.status.engine import evaluate
from tests.dockerlab import free_port

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def fake_proc(tmp_path: Path, map_count: int, mem_kib: int = 8 * 1024 * 1024) -> Path:
    root = tmp_path / "proc"
    (root / "sys" / "vm").mkdir(parents=True)
    (root / "sys" / "vm" / "max_map_count").write_text(f"{map_count}\n")
    (root / "meminfo").write_text(f"MemTotal: 16000000 kB\nMemAvailable: {mem_kib} kB\n")
    return root


async def run_preflight(action: Preflight) -> list:
    return [e async for e in execute(action, CancelToken(), read_only=True)]


def by_step(events: list) -> dict:
    return {e.step: e for e in events if e.step}


async def test_a_port_held_by_another_process_is_named_with_its_pid() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack = Stack("t", (Service("db", ports=(port,)), Service("cache", ports=(free_port(),))))
        events = await run_preflight(Preflight(stack, None, limits=Limits(0, 0)))
    ports = by_step(events)["ports"]
    assert ports.kind == "failed"
    assert f"{port} (db) by pid {os.getpid()}" in ports.message
    assert "cache" not in ports.message
    assert events[-1].kind == "done" and "failed: ports" in events[-1].message


async def test_elasticsearch_needs_max_map_count_and_memory_is_checked(tmp_path: Path) -> None:
    stack = Stack("t", (Service("elasticsearch", ports=(free_port(),)),))
    low = Preflight(stack, None, proc_root=fake_proc(tmp_path, 65530, mem_kib=1024 * 1024),
                    limits=Limits(min_disk_gib=0, min_memory_gib=2))
    steps = by_step(await run_preflight(low))
    assert steps["max_map_count"].kind == "failed"
    assert "sysctl -w vm.max_map_count=262144" in steps["max_map_count"].message
    assert steps["memory"].kind == "failed"
    assert steps["memory"].message == "1.0 GiB available (need 2 GiB)"

    fine = Preflight(stack, None, proc_root=fake_proc(tmp_path / "b", 262144),
                     limits=Limits(min_disk_gib=0, min_memory_gib=2))
    steps = by_step(await run_preflight(fine))
    assert steps["max_map_count"].kind == "ok"
    assert steps["memory"].kind == "ok"


async def test_no_elasticsearch_no_map_count_check() -> None:
    plan = Preflight(Stack("t", (Service("auth"),)), None).plan()
    assert [s.id for s in plan] == ["runtime", "disk", "memory", "ports"]


async def test_disk_threshold_says_how_much_is_needed(tmp_path: Path) -> None:
    action = Preflight(Stack("t", (Service("auth"),)), None, disk_path=tmp_path,
                       limits=Limits(min_disk_gib=10**6, min_memory_gib=0))
    disk = by_step(await run_preflight(action))["disk"]
    assert disk.kind == "failed" and "need 1e+06 GiB" in disk.message


async def test_a_dead_docker_daemon_fails_the_runtime_check(tmp_path: Path) -> None:
    runtime = DockerRuntime("vx", base_url=f"unix://{tmp_path}/no.sock")
    try:
        events = await run_preflight(Preflight(Stack("t", (Service("auth"),)), runtime,
                                               limits=Limits(0, 0)))
    finally:
        await runtime.close()
    assert by_step(events)["runtime"].kind == "failed"
    assert "docker" in by_step(events)["runtime"].message


def test_cli_preflight_exits_1_on_a_failed_check_and_runs_read_only(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack = tmp_path / "s.toml"
        stack.write_text(f'[stack]\nname = "t"\n[services.db]\nports = [{port}]\n')
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "--read-only", "--runtime", "none",
             "--stack", str(stack), "--state-dir", str(tmp_path), "preflight",
             "--min-disk-gib", "0", "--min-memory-gib", "0"],
            capture_output=True, text=True, timeout=60,
        )
    assert proc.returncode == 1, proc.stderr
    assert f"✗ ports: taken by other processes: {port} (db) by pid" in proc.stdout


# --- the report ---------------------------------------------------------------------------

HTTP = HealthCheck("http", port=3001)


def _status():
    stack = Stack("vextrus", (
        Service("zookeeper", tier="infrastructure", ports=(2181,), checks=(HTTP,)),
        Service("kafka", tier="infrastructure", ports=(9092,), depends_on=("zookeeper",),
                checks=(HTTP,)),
        Service("auth", tier="core", ports=(3001,), checks=(HTTP,)),
    ), tiers=("infrastructure", "core"))
    up = dict(present=True, state="running", started_at=NOW - timedelta(minutes=5))
    states = {
        "zookeeper": ContainerState("zookeeper", present=True, state="exited", exit_code=137,
                                    oom_killed=True),
        "kafka": ContainerState("kafka", **up),
        "auth": ContainerState("auth", **up),
    }
    ok = ProbeResult(HTTP, True, 2.0, "ok")
    return evaluate(stack, states, {"kafka": [ok], "auth": [ok]}, NOW)


def test_report_has_matrix_root_causes_actions_and_startup_times_and_masks_secrets() -> None:
    actions = [
        TimelineEntry(NOW, "action", "postgres", "secrets-generate ok: password=hunter2secret"),
        TimelineEntry(NOW + timedelta(seconds=9), "action", "auth", "restart ok"),
    ]
    text = build_report(_status(), actions, {"auth": 4.25, "kafka": 12.0}, NOW)
    assert text.startswith("# Vextrus stack report\n")
    assert "Current Readiness: 33% (1/3 services operational)" in text
    zookeeper = ("| zookeeper | ❌ Exited | ❌ Failed | 2181 | N/A |"
                 " exited with code 137 (OOM killed) |")
    assert zookeeper in text
    assert "| kafka | ⚠️ Blocked | ✅ Healthy | 9092 | ❌ zookeeper | blocked by zookeeper |" in text
    assert "- **zookeeper**: exited with code 137 (OOM killed) (blast radius: kafka)" in text
    assert "- kafka: blocked by zookeeper" in text
    assert "| 2026-11-24 12:00:09 | auth | restart ok |" in text
    assert "hunter2secret" not in text
    times = text.split("## Start-up times")[1]
    assert times.index("| kafka | 12.0 |") < times.index("| auth | 4.2 |")


def test_cli_report_writes_the_file_with_recent_actions(tmp_path: Path) -> None:
    stack = tmp_path / "s.toml"
    stack.write_text('[stack]\nname = "t"\n[services.web]\nports = [1]\n'
                     'checks = [{ kind = "tcp", port = 1 }]\n')
    journal = Journal(tmp_path / "journal.sqlite3", stack="t")
    journal.record("action", "web", "restart ok")
    journal.record_bringup("run1", "web", "ok", 3.5)
    journal.close()
    out = tmp_path / "report.md"
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "--runtime", "none", "--stack", str(stack),
         "--state-dir", str(tmp_path), "report", "--markdown", "-o", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "| web | restart ok |" in text
    assert "| web | 3.5 |" in text
    assert "Current Readiness: 0% (0/1 services operational)" in text
