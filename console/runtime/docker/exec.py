"""Exec inside a container, and killing what a timed-out exec left running there.

Docker has no API to kill an exec'd process (console/runtime/reap.py says why that matters
and how the tag and the kill script work). Here the tag goes in the exec's `Env`.

Without a shell in the image, the process is killed from the host when the daemon
runs on this machine and the console may signal it (`Pid` from exec inspect, the tag
checked in /proc/PID/environ first so a reused pid is never hit); otherwise it is left to
end by itself, and the runtime counts it in `unreaped`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.runtime.base import ExecResult
from console.runtime.reap import kill_argv, new_tag

if TYPE_CHECKING:
    import docker

REAP_OUTPUT_LIMIT = 4096
SETTLE_WAIT_S = 30.0  # longest a kill waits for the exec's own thread (a slow daemon)


class ExecSocket:
    """The exec output socket, closable from the loop while a thread blocks reading it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Any = None
        self._closed = False

    def attach(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock
            closed = self._closed
        if closed:
            shutdown_socket(sock)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sock = self._sock
        if sock is not None:
            shutdown_socket(sock)


class ExecHandle:
    """One exec: where it runs, its id once created, its tag, whether it has finished."""

    def __init__(self, container_id: str = "") -> None:
        self.container_id = container_id
        self.exec_id = ""
        self.tag = new_tag()
        self.finished = False  # read to its end: nothing left to kill
        self.settled = threading.Event()  # the exec thread is done (created, started or not)
        self.socket = ExecSocket()


def run_exec(client: docker.DockerClient, handle: ExecHandle, argv: list[str]) -> ExecResult:
    """Create, start and read one tagged exec to its end (blocking: runs in a thread)."""
    exec_id = client.api.exec_create(handle.container_id, argv, stdout=True, stderr=True,
                                     environment=[handle.tag])["Id"]
    handle.exec_id = exec_id
    output = _read_all(client, exec_id, handle.socket)
    if handle.socket.closed:  # given up: the caller is gone, the reaper takes over
        return ExecResult(-1, output.decode("utf-8", "replace"))
    result = ExecResult(exit_code(client, exec_id), output.decode("utf-8", "replace"))
    handle.finished = True
    return result


def _read_all(client: docker.DockerClient, exec_id: str, holder: ExecSocket,
              limit: int | None = None) -> bytes:
    sock = client.api.exec_start(exec_id, socket=True)
    holder.attach(sock)
    from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter

    frames = (demux_adaptor(*frame) for frame in frames_iter(sock, tty=False))
    out, err = consume_socket_output(frames, demux=True)
    output = (out or b"") + (err or b"")
    return output if limit is None else output[:limit]


def exit_code(client: docker.DockerClient, exec_id: str) -> int:
    """The exit code can lag the end of the output by a moment: ask a few times."""
    for _ in range(50):
        info = client.api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        time.sleep(0.02)
    return -1


def kill_leftovers(client: docker.DockerClient, handle: ExecHandle) -> bool:
    """Kill what the given-up exec still runs inside; True when nothing of it is left.

    Blocking (a thread). Waits for the exec's own thread first: a caller that gives up
    while the exec is being created would otherwise look for it before it exists. Then
    asks the daemon: an exec that ended on its own needs nothing.
    """
    handle.settled.wait(SETTLE_WAIT_S)
    if not handle.exec_id:
        return True  # never started: nothing runs
    info = client.api.exec_inspect(handle.exec_id)
    if not info.get("Running"):
        return True
    _kill_inside(client, handle)
    if _ended(client, handle.exec_id):
        return True
    return _kill_on_host(int(info.get("Pid") or 0), handle.tag) and _ended(client, handle.exec_id)


def _kill_inside(client: docker.DockerClient, handle: ExecHandle) -> None:
    """The kill script in the same container (an image without `sh` just fails it)."""
    from docker.errors import APIError

    try:
        exec_id = client.api.exec_create(
            handle.container_id, kill_argv(handle.tag),
            stdout=True, stderr=True)["Id"]
        _read_all(client, exec_id, ExecSocket(), REAP_OUTPUT_LIMIT)
    except APIError:  # "executable file not found", container gone meanwhile
        pass


def _ended(client: docker.DockerClient, exec_id: str) -> bool:
    """The daemon notices a killed exec a moment later: ask for up to a second."""
    for _ in range(50):
        if not client.api.exec_inspect(exec_id).get("Running"):
            return True
        time.sleep(0.02)
    return False


def _kill_on_host(pid: int, tag: str) -> bool:
    """SIGKILL by host pid, only when /proc shows that pid still carries our tag."""
    if pid <= 1:
        return False
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        if tag.encode() not in environ.split(b"\0"):
            return False
        os.kill(pid, signal.SIGKILL)
    except OSError:  # not on this host, not ours to signal, or already gone
        return False
    return True


def shutdown_socket(sock: Any) -> None:
    import socket as socket_module
    from contextlib import suppress

    raw = getattr(sock, "_sock", sock)
    with suppress(Exception):
        raw.shutdown(socket_module.SHUT_RDWR)
    with suppress(Exception):
        sock.close()
