"""SIGTERM on a headless command ends it like ctrl+c: exit 143, nothing left running inside.

`status --watch` under a supervisor (systemd, a CI timeout, `kill`) gets SIGTERM, not
SIGINT. Before, the process died on the spot and the exec probe it had started inside a
container kept running there; now the runtime is closed on the way out, which kills it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dockerlab import DockerLab

ROOT = Path(__file__).resolve().parents[2]


def _sleeps(lab: DockerLab, service: str) -> int:
    out = lab.container(service).exec_run(["ps", "-o", "args"]).output.decode()
    return sum(1 for line in out.splitlines() if line.strip() == "sleep 3600")


def _until(ok: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.mark.docker
def test_sigterm_on_status_watch_exits_143_and_kills_its_probe(
        docker_lab: DockerLab, tmp_path: Path) -> None:
    docker_lab.run("held", ["sleep", "7200"])
    stack = tmp_path / "stack.toml"
    stack.write_text(f"""[stack]\nname = "sig"\nproject = "{docker_lab.project}"\n
[services.held]\ntier = "core"
checks = [{{ kind = "exec", where = "inside", command = ["sleep", "3600"], timeout = 30 }}]
""")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--stack", str(stack), "--state-dir",
         str(tmp_path / "state"), "status", "--watch", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        _until(lambda: _sleeps(docker_lab, "held") == 1, "the probe to run inside")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    _until(lambda: _sleeps(docker_lab, "held") == 0, "the probe to be killed", 10)
    assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")
