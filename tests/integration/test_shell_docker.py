"""`E` opens a shell in the selected service: the console suspends itself, a real
`docker exec -it` runs in the operator's terminal, and the console comes back on the same
screen when the shell exits.

Pilot's headless driver cannot suspend, so the console runs for real in a terminal (tmux,
as an operator's SSH session would): keys go in with send-keys, the screen comes back with
capture-pane, and what the shell did is checked inside the busybox container.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console.journal import Journal
from tests.conftest import require
from tests.dockerlab import DockerLab
from tests.integration.test_stats import IDLE

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True).stdout


def _wait(session: str, what: str, check: Callable[[str], bool], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    screen = ""
    while time.monotonic() < deadline:
        screen = _pane(session)
        if check(screen):
            return screen
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}; the screen:\n{screen}")


def _keys(session: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, *keys], check=True)


def test_shell_into_a_busybox_container_and_back(docker_lab: DockerLab, tmp_path: Path) -> None:
    require(shutil.which("tmux") is not None, "tmux is not installed")
    require(shutil.which("docker") is not None, "the docker CLI is not installed")
    docker_lab.run("shellbox", IDLE)
    stack = tmp_path / "stack.toml"
    stack.write_text(f'[stack]\nname = "shell"\nproject = "{docker_lab.project}"\n'
                     '[services.shellbox]\n')
    state = tmp_path / "state"
    session = f"vxshell{time.monotonic_ns() % 10**9}"
    command = [sys.executable, "-m", "cli", "--stack", str(stack),
               "--state-dir", str(state)]
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    "-c", str(ROOT), *command], check=True)
    try:
        _wait(session, "the matrix with shellbox running",
              lambda s: "shellbox" in s and "Running" in s)
        _keys(session, "E")
        _wait(session, "the shell in the container",
              lambda s: "vextrus-console: shell in shellbox" in s and "#" in s)
        _keys(session, "echo made-by-the-shell > /tmp/marker; exit", "Enter")
        _wait(session, "the console back on the matrix",
              lambda s: "shellbox" in s and "Running" in s and "vextrus-console:" not in s)
        marker = docker_lab.container("shellbox").exec_run(["cat", "/tmp/marker"])
        assert marker.output.decode().strip() == "made-by-the-shell"
        _keys(session, "q")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and subprocess.run(
                ["tmux", "has-session", "-t", session], capture_output=True).returncode == 0:
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        docker_lab.container("shellbox").remove(force=True)
    journal = Journal(state / "journal.sqlite3", stack="shell")
    texts = [e.text for e in journal.timeline(kinds=["action"])]
    journal.close()
    opened = [t for t in texts if t.startswith("shell opened:")]
    assert opened and "docker exec -it" in opened[0] and opened[0].endswith(("sh", "ash"))
    assert "shell closed (exit 0)" in texts
