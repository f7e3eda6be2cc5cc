"""The local runtime's reaper: when the console dies, nothing it started survives it.

Started by `LocalRuntime` in its own session, with a pipe from the console on stdin. The
console writes `+PGID` when it starts a process group and `-PGID` when one ended. When the
pipe closes (the console exited, crashed or was SIGKILLed: the kernel closes the write end
in every case), the reaper sends SIGTERM to every group still listed and to every process
whose environment carries the runtime's run token (children that left their group, exec'd
probes in flight), waits a moment, then SIGKILLs what is left, and exits.

Standard library only and no imports from the console: it must start fast and work when
everything else is broken.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

GRACE_S = 2.0
ENV_TOKEN = "VEXTRUS_LOCAL_RUN"  # noqa: S105  (a variable name, not a secret)


def token_pids(token: str, proc_root: str = "/proc") -> set[int]:
    """Processes whose environment holds VEXTRUS_LOCAL_RUN=token (Linux /proc only)."""
    needle = f"{ENV_TOKEN}={token}".encode()
    found: set[int] = set()
    me = os.getpid()
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(os.path.join(proc_root, entry, "environ"), "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if needle in data.split(b"\0"):
            found.add(int(entry))
    return found


def _signal_all(groups: set[int], pids: set[int], sig: int) -> None:
    for pgid in groups:
        if pgid > 1:
            with contextlib.suppress(OSError):
                os.killpg(pgid, sig)
    for pid in pids:
        if pid > 1:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup(groups: set[int], token: str) -> None:
    pids = token_pids(token)
    _signal_all(groups, pids, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        groups = {g for g in groups if _group_alive(g)}
        pids = token_pids(token)
        if not groups and not pids:
            return
        time.sleep(0.05)
    _signal_all(groups, token_pids(token) | pids, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or not argv[0].isalnum():
        print("usage: python -m console.runtime.local.reaper TOKEN [PARENT_PID]", file=sys.stderr)
        return 2
    token = argv[0]
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe closing ends the reaper
    groups: set[int] = set()
    stdin = sys.stdin.buffer
    while True:
        try:
            line = stdin.readline()
        except OSError:
            line = b""
        if not line:
            break
        text = line.strip().decode("ascii", "replace")
        if text[:1] in "+-" and text[1:].isdigit():
            (groups.add if text[0] == "+" else groups.discard)(int(text[1:]))
    cleanup(groups, token)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
