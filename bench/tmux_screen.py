"""What the bench scripts share to watch real terminal programs: tmux and /proc.

A program runs in its own tmux session on a private tmux server (`tmux -L NAME`), so a bench
never touches anyone's sessions and `close()` ends exactly what it started. The screen is read
with `capture-pane -p` (the text a person would see), polled every POLL_S or, where timing
matters, read when the pane wrote (PaneOutput); CPU is read from
/proc/PID/stat (utime + stime) of the pane's whole process tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

POLL_S = 0.010
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Tmux:
    """One private tmux server; sessions by name; screens as text."""

    def __init__(self, name: str) -> None:
        self.socket = name

    def _tmux(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                             text=True, check=check, timeout=10)
        return out.stdout

    def start(self, session: str, argv: list[str], cwd: str, width: int, height: int,
              env: dict[str, str] | None = None) -> None:
        """A detached session of WIDTHxHEIGHT running ARGV (no shell in between)."""
        env_args: list[str] = []
        for key, value in (env or {}).items():
            env_args += ["-e", f"{key}={value}"]
        self._tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
                   "-c", cwd, *env_args, *argv)

    def screen(self, session: str) -> str:
        return self._tmux("capture-pane", "-p", "-t", session, check=False)

    def keys(self, session: str, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", session, *(["-l"] if literal else []), *keys)

    def output(self, session: str) -> PaneOutput:
        """A waker for SESSION's terminal output (close it when done)."""
        return PaneOutput(self.socket, session)

    def pane_pid(self, session: str) -> int:
        return int(self._tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())

    def close(self) -> None:
        """Kill this private server only (every session on it, nothing else)."""
        self._tmux("kill-server", check=False)

    def wait_screen(self, session: str, ok: Callable[[str], bool], timeout: float,
                    poll: float = POLL_S) -> tuple[float | None, str]:
        """Seconds until `ok(screen)` (None on timeout), and the last screen read."""
        start = time.perf_counter()
        text = ""
        while time.perf_counter() - start < timeout:
            text = self.screen(session)
            if ok(text):
                return time.perf_counter() - start, text
            time.sleep(poll)
        return None, text


class PaneOutput:
    """Wakes a watcher when the pane writes, instead of polling capture-pane blind.

    A tmux control-mode client (`tmux -C attach`, read-only, no size of its own, so the window
    keeps the session's size) prints a `%output` line each time the program writes to its
    terminal. Polling both screens every 10 ms cost about a core on a 2-CPU machine (each
    capture-pane is a fork and exec of tmux), which slowed the very programs being timed; now a
    screen is read only after output arrived (and every FALLBACK_S in case a line was missed).
    """

    FALLBACK_S = 0.100

    def __init__(self, socket: str, session: str) -> None:
        import threading

        self._changed = threading.Event()
        self._proc = subprocess.Popen(["tmux", "-L", socket, "-C", "attach", "-r", "-t", session],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith(b"%output"):
                self._changed.set()

    def wait(self) -> None:
        """Until the pane wrote something since the last wait (or FALLBACK_S passed)."""
        self._changed.wait(self.FALLBACK_S)
        self._changed.clear()

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()  # control mode ends on EOF
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def row(screen: str, name: str) -> str:
    """The first screen line naming NAME as a whole word ('' when it is not on screen)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")
    for line in screen.splitlines():
        if pattern.search(line):
            return line
    return ""


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ROOT and all its descendants (with the ended children they reaped)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        # utime, stime, and cutime, cstime: children that ended and were waited for
        ticks[pid] = sum(int(f) for f in fields[11:15])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / CLOCK_TICKS


def idle_cpu_percent(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Share of one core each process tree used over the same SECONDS window."""
    before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    start = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - start
    return {name: (tree_cpu_seconds(pid) - before[name]) / wall * 100
            for name, pid in pids.items()}


def free_ports(base: int, count: int, host: str = "127.0.0.1") -> list[int]:
    """COUNT ports from BASE upward that nobody listens on now (below the ephemeral range)."""
    import socket

    found: list[int] = []
    port = base
    while len(found) < count:
        if port >= 32768:
            raise RuntimeError(f"no {count} free ports between {base} and 32767")
        with socket.socket() as s:
            try:
                s.bind((host, port))
                found.append(port)
            except OSError:
                pass
        port += 1
    return found
