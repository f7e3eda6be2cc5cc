"""A container's main process ending, seen the moment it ends, before Docker says so.

Docker reports a crash with its `die` event only after containerd has reaped the process
and the daemon has processed the exit: 80-290 ms after a `docker kill` on the 2-core
build box (bench/events_to_screen.py --explain), most of the time from the kill to the
row on screen. When the daemon runs on this machine and the console sees its processes
(the same PID namespace: a dev box, not Docker Desktop's VM, not a remote DOCKER_HOST),
the kernel says it sooner: a pidfd (`os.pidfd_open`, Linux 5.3) of the container's main
process becomes readable when that process exits, within a millisecond.

What it yields is a `die` event without an exit code (only the parent may read that);
Docker's own `die` follows and brings the code. A pid is watched only after its
/proc/PID/cgroup names the container, checked after the pidfd is open: a pidfd refers to
one process for good, so a pid reused since the listing is never watched in its place.
Where any of this is not possible the watcher watches nothing and Docker's events carry
on alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from console.runtime.base import RuntimeEvent

SOURCE = "process"  # the `source` attribute of the events this module makes


@dataclass(frozen=True)
class MainProcess:
    """A running container's main process as the daemon's inspect named it."""

    service: str
    container_id: str
    pid: int


def in_container(pid: int, container_id: str) -> bool:
    """True when /proc/PID/cgroup names the container (Docker's cgroup v1 and v2 paths
    both end in the full container id)."""
    if pid <= 1 or len(container_id) < 12:
        return False
    try:
        return container_id in Path(f"/proc/{pid}/cgroup").read_text(errors="replace")
    except OSError:  # gone already, another PID namespace, or not Linux
        return False


class ProcessExits:
    """Watches main processes on the event loop; calls `emit` once when one ends.

    `watch()` is given the whole set of running main processes after each listing: new ones
    are watched, the ones no longer listed are dropped. Nothing blocks: the pidfds sit in
    the loop's selector (`add_reader`).
    """

    def __init__(self, emit: Callable[[RuntimeEvent], None] | None = None,
                 belongs: Callable[[int, str], bool] = in_container,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.emit = emit
        self._belongs = belongs
        self._clock = clock
        self._fds: dict[str, tuple[MainProcess, int]] = {}
        self._refused: set[tuple[str, int]] = set()  # not ours to watch: asked once only
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def watched(self) -> set[str]:
        """Container ids being watched."""
        return set(self._fds)

    def watch(self, running: list[MainProcess]) -> None:
        """Called on the loop with every running main process of the last listing."""
        if self.emit is None or not hasattr(os, "pidfd_open"):
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop (a headless command's asyncio.run)
            for container_id in list(self._fds):
                self._drop(container_id)
            self._loop = loop
        wanted = {p.container_id: p for p in running}
        self._refused &= {(p.container_id, p.pid) for p in running}
        for container_id in [c for c in self._fds if c not in wanted]:
            self._drop(container_id)
        for proc in wanted.values():
            known = self._fds.get(proc.container_id)
            if known is not None and known[0].pid == proc.pid:
                continue
            if known is not None:
                self._drop(proc.container_id)
            self._open(proc)

    def _open(self, proc: MainProcess) -> None:
        if (proc.container_id, proc.pid) in self._refused:
            return
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:  # not visible from here (another PID namespace) or gone
            self._refused.add((proc.container_id, proc.pid))
            return
        if not self._belongs(proc.pid, proc.container_id):
            os.close(fd)
            self._refused.add((proc.container_id, proc.pid))
            return
        assert self._loop is not None
        self._fds[proc.container_id] = (proc, fd)
        self._loop.add_reader(fd, self._ended, proc.container_id)

    def _ended(self, container_id: str) -> None:
        entry = self._fds.get(container_id)
        if entry is None:
            return
        proc = entry[0]
        self._drop(container_id)
        if self.emit is not None:
            self.emit(RuntimeEvent(service=proc.service, action="die", time=self._clock(),
                                   container_id=container_id, attributes={"source": SOURCE},
                                   early=True))

    def _drop(self, container_id: str) -> None:
        _, fd = self._fds.pop(container_id)
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def close(self) -> None:
        """Stop watching (the emitter goes too: no event after close)."""
        self.emit = None
        for container_id in list(self._fds):
            self._drop(container_id)
        self._refused.clear()
