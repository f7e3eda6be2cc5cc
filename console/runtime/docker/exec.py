"""Exec inside a container, and killing what a timed-out exec left running there.

Docker has no API to kill an exec'd process, and closing its output socket does not end
it: a probe that hangs (`sleep`, a `wget` to a service that never answers) keeps running
inside after the probe gave up, and every refresh adds one more. So each exec carries a
tag in its environment (`VEXTRUS_PROBE=<token>`, inherited by whatever it starts) and, when
it is given up while still running, a second exec kills every process whose environment
holds the tag: children first, so the parent shell can still reap them and none is left a
zombie for a container init that never reaps, then the exec'd process itself.

The kill script needs `sh` and `cat` in the image (busybox, alpine, debian and most service
images have them). Without a shell, the process is killed from the host when the daemon
runs on this machine and the console may signal it (`Pid` from exec inspect, the tag
checked in /proc/PID/environ first so a reused pid is never hit); otherwise it is left to
end by itself, and the runtime counts it in `unreaped`.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.runtime.base import ExecResult

if TYPE_CHECKING:
    import docker

TAG_NAME = "VEXTRUS_PROBE"
REAP_WORKERS = 4
REAP_OUTPUT_LIMIT = 4096
SETTLE_WAIT_S = 30.0  # longest a kill waits for the exec's own thread (a slow daemon)
# `$1` is the tag. A process whose parent is tagged too is a child of the probe: killed
# first, then (after a moment for the parent to reap it) the probe's own process.
KILL_SCRIPT = r"""
tag="$1"
tagged() { case "$(cat "/proc/$1/environ" 2>/dev/null)" in *"$tag"*) return 0;; esac; return 1; }
kids=; tops=
for d in /proc/[0-9]*; do
  p="${d#/proc/}"
  tagged "$p" || continue
  read -r stat < "$d/stat" 2>/dev/null || continue
  set -- ${stat##*) }
  if tagged "$2"; then kids="$kids $p"; else tops="$tops $p"; fi
done
if [ -n "$kids" ]; then kill -9 $kids 2>/dev/null; sleep 0.1 2>/dev/null; fi
if [ -n "$tops" ]; then kill -9 $tops 2>/dev/null; fi
"""


def new_tag() -> str:
    """`VEXTRUS_PROBE=<random>`: unique per exec, so the kill never hits another's process."""
    return f"{TAG_NAME}={secrets.token_hex(8)}"


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
            handle.container_id, ["sh", "-c", KILL_SCRIPT, "vextrus-reap", handle.tag],
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


class Reaper:
    """Runs the kills of given-up execs on threads of its own, so a refresh never waits.

    `pending()` lets `close()` (and tests) wait until every kill has been tried;
    `unreaped` counts execs that could not be killed (no shell, remote daemon).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(REAP_WORKERS, thread_name_prefix="docker-reap")
        self._lock = threading.Lock()
        self._futures: set[Future[bool]] = set()
        self.unreaped = 0

    def submit(self, kill: Callable[[], bool]) -> None:
        future = self._pool.submit(self._guarded, kill)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def pending(self) -> list[Future[bool]]:
        with self._lock:
            return list(self._futures)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)

    def _guarded(self, kill: Callable[[], bool]) -> bool:
        try:
            return kill()
        except Exception:  # daemon gone, container removed meanwhile: nothing left to do
            return False

    def _done(self, future: Future[bool]) -> None:
        with self._lock:
            self._futures.discard(future)
            if not future.cancelled() and not future.result():
                self.unreaped += 1


def shutdown_socket(sock: Any) -> None:
    import socket as socket_module
    from contextlib import suppress

    raw = getattr(sock, "_sock", sock)
    with suppress(Exception):
        raw.shutdown(socket_module.SHUT_RDWR)
    with suppress(Exception):
        sock.close()
