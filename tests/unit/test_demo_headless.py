"""The demo and headless commands: ports outside the kernel's ephemeral range, one directory
per demo, a running demo found by `status --demo` / `report --demo`, and read-only commands
that never write into a journal."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from console.demo.session import DemoSession, default_directory, running_demos
from console.demo.stack import DEFAULT_OFFSET, DemoError, DemoSettings, ephemeral_range, prepare
from console.journal import Journal
from tests.unit.test_demo import CLI, ROOT, wait_gone

README = ROOT / "README.md"


def test_an_offset_that_puts_ports_in_the_ephemeral_range_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    first, last = ephemeral_range()
    assert (first, last) == tuple(
        int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    with pytest.raises(DemoError) as caught:
        prepare(DemoSettings(directory=tmp_path, port_offset=30000))
    said = str(caught.value)
    assert said.startswith("--port-offset 30000: ")
    assert f"fall in the kernel's ephemeral range {first}-{last}" in said
    assert "/proc/sys/net/ipv4/ip_local_port_range" in said and "use 0 to " in said
    assert not (tmp_path / "stack.toml").exists()  # nothing half-written
    result = subprocess.run([*CLI, "demo", "--script", "--dir", str(tmp_path),
                             "--port-offset", "40000"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "ephemeral range" in result.stderr


def test_the_default_offset_and_every_readme_offset_stay_below_the_ephemeral_range(
    tmp_path: Path,
) -> None:
    offsets = [int(x) for x in re.findall(r"--port-offset (\d+)", README.read_text())]
    assert offsets, "the README shows a --port-offset example"
    for offset in {DEFAULT_OFFSET, *offsets}:
        demo = prepare(DemoSettings(directory=tmp_path / str(offset), port_offset=offset))
        top = max(port for _, _, port in demo.host_ports())
        assert top < ephemeral_range()[0], offset


def test_each_demo_has_its_own_directory_under_vextrus_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEXTRUS_STATE_DIR", str(tmp_path))
    assert default_directory() == tmp_path / "demo"
    assert default_directory(12000) == tmp_path / "demo-12000"
    assert default_directory(DEFAULT_OFFSET) != default_directory(12000)


async def test_status_and_report_find_the_running_demo_and_never_write_its_journal(
    tmp_path: Path,
) -> None:
    offset = 15500
    directory = tmp_path / f"demo-{offset}"
    session = DemoSession(DemoSettings(directory=directory, port_offset=offset))
    env = {**os.environ, "VEXTRUS_STATE_DIR": str(tmp_path)}
    try:
        await session.open(start=("postgres", "redis"))
        assert [d.port_offset for d in running_demos(tmp_path)] == [offset]
        journal = Journal(directory / "journal.sqlite3", stack=session.stack.name)
        journal.record_transitions([("postgres", "operational", "")])
        before = journal.timeline()
        status = subprocess.run([*CLI, "status", "--demo", "--json"], capture_output=True,
                                text=True, cwd=ROOT, env=env, timeout=60)
        assert status.returncode == 1, status.stderr  # most of the demo is not started
        states = {s["name"]: s["state"] for s in json.loads(status.stdout)["services"]}
        assert states["postgres"] == "operational" and states["redis"] == "operational"
        assert states["kafka"] == "not-started"
        report = subprocess.run([*CLI, "report", "--demo", str(offset)], capture_output=True,
                                text=True, cwd=ROOT, env=env, timeout=60)
        assert report.returncode == 0, report.stderr
        assert "postgres" in report.stdout
        assert journal.timeline() == before  # looked at, not written: no false transitions
        journal.close()
    finally:
        await session.close()
    assert wait_gone(directory) == []
    assert running_demos(tmp_path) == []  # the marker goes with the demo
    gone = subprocess.run([*CLI, "status", "--demo"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)
    assert gone.returncode == 2
    assert gone.stderr.strip() == (f"vextrus-console: --demo: no running demo under {tmp_path}; "
                                   "start one with `vextrus-console demo`")
