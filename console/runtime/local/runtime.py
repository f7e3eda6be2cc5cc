"""The local-process runtime: services as child processes, in the spirit of process-compose.

Each service runs from its stack file `runtime.local` argv (a list, never a shell) as a
child process in its own session and process group, so stopping it stops everything it
started. Its stdout and stderr go into a bounded per-service log ring (one LogLine per text
line, timestamped on arrival). A restart policy (`no`, `on-failure`, `always`,
`unless-stopped`) restarts a process that exits, with exponential backoff, and the times of
those restarts are what the status engine reads as a restart loop.

Everything that touches a process happens in one supervisor thread (spawn, read pipes,
notice exits, back off, restart, signal), driven by a command queue: no locks around
process state beyond one for the snapshots the async methods read, and the asyncio loop
(the UI's) never blocks and is never needed for a restart to happen.

No orphans, however the console ends:
- `close()` stops every process group (SIGTERM, then SIGKILL after the stop timeout);
- a small reaper process (`console.runtime.local.reaper`) holds a pipe from this process;
  when the pipe closes because the console died (SIGKILL, a crash), it kills every process
  group it was told about and every process carrying this runtime's run token;
- children get `VEXTRUS_PARENT_PID`, so a child that cares (the demo's stand-ins) can exit
  by itself when its parent is gone.

"Inside" for a local process: each service may have its own loopback address
(`LocalOptions.loopback`, exported as `VEXTRUS_LOOPBACK`), the way a container has its own
network namespace. `exec()` runs argv as a local subprocess with the service's environment;
`wget`, `nc` and `busybox wget|nc` are small built-in applets (`console.runtime.local.tools`,
run in a thread of the console, not as a process per check) that read 127.0.0.1/localhost
as that loopback. A service
that listens only on 127.0.0.2 while the host expects 127.0.0.1 therefore answers "inside"
and not from the host: the seeds' port-forwarding fault, which a forwarder heals.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import queue
import re
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from console.model import Service
from console.probes.limits import EXEC_SLOTS
from console.runtime.base import (
    RESTART_LOOP_WINDOW,
    ContainerState,
    ExecResult,
    LogLine,
    RuntimeEvent,
    RuntimeUnavailable,
    StreamStatus,
)
from console.runtime.bridge import post_to_loop
from console.runtime.local.tools import is_applet, run_in_process
from console.runtime.usage import UsageReport

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
RESTART_WINDOW_S = RESTART_LOOP_WINDOW.total_seconds()  # how far back `recent_restarts` looks
BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 8.0
BACKOFF_RESET_S = 10.0  # a run that lasted this long was healthy: the next backoff starts over
LOG_LINES = 2000  # per service
LINE_LIMIT = 16_384  # a line longer than this is cut (a runaway writer must not eat memory)
TICK_S = 0.05
ENV_TOKEN = "VEXTRUS_LOCAL_RUN"  # noqa: S105  (a variable name, not a secret)
ENV_PARENT = "VEXTRUS_PARENT_PID"
ENV_LOOPBACK = "VEXTRUS_LOOPBACK"
ENV_SERVICE = "VEXTRUS_SERVICE"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class LocalActionError(RuntimeError):
    """The runtime cannot do what was asked (no command, bad argv); one line for the operator."""


@dataclass(frozen=True)
class LocalOptions:
    """How one service runs locally, beyond its argv."""

    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    loopback: str = "127.0.0.1"  # the service's own "inside" loopback address
    restart: str = "on-failure"

    def __post_init__(self) -> None:
        validate_loopback(self.loopback)
        if self.restart not in RESTART_POLICIES:
            raise LocalActionError(
                f"restart policy {self.restart!r}: choose from {', '.join(RESTART_POLICIES)}"
            )
        for key in self.env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise LocalActionError(f"environment variable name {key!r} is not valid")


def validate_loopback(address: str) -> str:
    """A loopback IPv4 address (127.0.0.0/8): a local service never listens further out."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise LocalActionError(f"loopback {address!r} is not an IPv4 address") from None
    if not ip.is_loopback:
        raise LocalActionError(f"loopback {address!r} is not in 127.0.0.0/8")
    return address


def validate_service_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise LocalActionError(f"service name {name!r} is not valid (a-z, 0-9, '.', '_', '-')")
    return name


def container_id_for(pgid: int) -> str:
    """How a local service's "container" is named: its process group."""
    return f"pgid:{pgid}"


# --- one supervised service ---------------------------------------------------------------


@dataclass
class _Proc:
    name: str
    argv: tuple[str, ...]
    options: LocalOptions
    policy: str
    popen: subprocess.Popen[bytes] | None = None
    pgid: int = 0
    state: str = "missing"  # missing, running, restarting, exited
    wanted: bool = False  # the operator wants it running (False after stop)
    started_at: datetime | None = None
    started_mono: float = 0.0
    finished_at: datetime | None = None
    exit_code: int | None = None
    restart_count: int = 0
    recent: list[datetime] = field(default_factory=list)
    backoff: float = BACKOFF_START_S
    restart_due: float | None = None  # monotonic time of the next policy restart
    kill_due: float | None = None  # monotonic time to SIGKILL a group asked to stop
    error: str = ""
    logs: deque[LogLine] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    partial: dict[str, bytearray] = field(default_factory=dict)
    on_exit: list[Future[None]] = field(default_factory=list)

    def snapshot(self, now: float) -> ContainerState:
        cutoff = datetime.now(UTC).timestamp() - RESTART_WINDOW_S
        recent = tuple(t for t in self.recent if t.timestamp() >= cutoff)
        return ContainerState(
            service=self.name,
            present=self.state != "missing",
            container_id=container_id_for(self.pgid) if self.pgid else "",
            container_name=f"local:{self.name}",
            state=self.state,
            health=None,
            restart_count=self.restart_count,
            recent_restarts=recent,
            started_at=self.started_at,
            finished_at=self.finished_at if self.state != "running" else None,
            exit_code=self.exit_code if self.state in ("exited", "restarting") else None,
            error=self.error,
            network_mode=f"loopback {self.options.loopback}",
            image=" ".join(self.argv)[:200],
            restart_policy=self.policy,
        )


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Any]
    service: str | None = None  # None: events; a name: that service's log lines
    names: frozenset[str] = frozenset()

    def put(self, item: Any) -> None:
        post_to_loop(self.loop, self.queue.put_nowait, item)


class LocalRuntime:
    """Runtime over local child processes, one process group per service."""

    name = "local"

    def __init__(
        self,
        options: Mapping[str, LocalOptions] | None = None,
        default: LocalOptions | None = None,
        backoff_start: float = BACKOFF_START_S,
        backoff_max: float = BACKOFF_MAX_S,
        reaper: bool = True,
        python: str = sys.executable,
    ) -> None:
        self.options = dict(options or {})
        self.default = default or LocalOptions()
        self.backoff_start, self.backoff_max = backoff_start, backoff_max
        self.python = python
        self.token = secrets.token_hex(8)
        self._use_reaper = reaper
        self._reaper: subprocess.Popen[bytes] | None = None
        self._procs: dict[str, _Proc] = {}
        self._lock = threading.Lock()
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._subscribers: list[_Subscriber] = []
        self._closed = False
        # Exec checks start their processes here, not on the event loop: a fork-exec blocks
        # its thread until the child has exec'd, and with the demo's processes starting on
        # two cores that was 10-40 ms per check on the console's loop (keys waited behind).
        self._exec_pool = ThreadPoolExecutor(EXEC_SLOTS, thread_name_prefix="local-exec")
        self._thread = threading.Thread(target=self._main, name="local-runtime", daemon=True)
        self._thread.start()

    # --- the public interface -----------------------------------------------------------

    async def list_states(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        self._check_open()
        now = time.monotonic()
        with self._lock:
            return {
                s.name: self._procs[s.name].snapshot(now)
                if s.name in self._procs
                else ContainerState(service=s.name)
                for s in services
            }

    async def start(self, service: Service) -> None:
        argv = self._argv(service)
        await self._submit(lambda fut: self._do_start(service.name, argv, fut, "start"))

    async def stop(self, service: Service, timeout: float = 10) -> None:
        await self._submit(lambda fut: self._do_stop(service.name, timeout, fut))

    async def restart(self, service: Service, timeout: float = 10) -> None:
        argv = self._argv(service)
        await self.stop(service, timeout)
        await self._submit(lambda fut: self._do_start(service.name, argv, fut, "restart"))

    async def set_restart_policy(self, service: Service, name: str) -> None:
        """`no` pauses a restart loop: the crashed process stays down as evidence."""
        if name not in RESTART_POLICIES:
            raise LocalActionError(
                f"restart policy {name!r}: choose from {', '.join(RESTART_POLICIES)}"
            )

        def body(fut: Future[None]) -> None:
            proc = self._procs.get(service.name)
            if proc is not None:
                with self._lock:
                    proc.policy = name
                    if name == "no" and proc.state == "restarting":
                        proc.state, proc.restart_due = "exited", None
            fut.set_result(None)

        await self._submit(body)

    async def exec(self, service: Service, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run argv locally with the service's environment: the "inside" view of it."""
        if not argv:
            raise LocalActionError(f"{service.name}: nothing to exec (empty command)")
        with self._lock:
            proc = self._procs.get(service.name)
            state = proc.state if proc else "missing"
        if state != "running":
            raise LocalActionError(f"{service.name}: process is {state}, cannot exec in it")
        options = self._options(service.name)
        loop = asyncio.get_running_loop()
        applet = list(argv[1:]) if argv[0] == "busybox" else list(argv)
        if is_applet(applet):  # wget, nc: in a thread here, not a Python per check
            return await self._applet(service, applet, options.loopback, timeout)
        command = list(argv)
        try:
            child = await loop.run_in_executor(self._exec_pool, _spawn, command,
                                               self._env(service.name, options), options.cwd)
        except OSError as exc:
            code = 126 if isinstance(exc, PermissionError) else 127
            return ExecResult(code, f"exec: {argv[0]}: {exc.strerror or exc}")
        try:
            out, _ = await loop.run_in_executor(self._exec_pool, child.communicate, None,
                                                timeout)
        except subprocess.TimeoutExpired:
            _killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await loop.run_in_executor(self._exec_pool, child.wait, 5)
            raise TimeoutError(
                f"exec in {service.name} did not finish within {timeout:g}s: {' '.join(argv)}"
            ) from None
        finally:
            if child.returncode is None:  # cancelled: the group goes, communicate returns
                _killpg(child.pid, signal.SIGKILL)
        code = child.returncode if child.returncode is not None else -1
        return ExecResult(_exit_code(code), out.decode("utf-8", "replace"))

    async def logs(
        self, service: Service, tail: int = 100, follow: bool = False, timestamps: bool = True
    ) -> AsyncIterator[LogLine]:
        """The last `tail` lines of the ring (kept across restarts), then new ones."""
        self._check_open()
        sub = _Subscriber(asyncio.get_running_loop(), asyncio.Queue(), service=service.name)
        with self._lock:
            proc = self._procs.get(service.name)
            lines = list(proc.logs)[-tail:] if proc and tail > 0 else []
            if follow:
                self._subscribers.append(sub)
        try:
            for line in lines:
                yield line if timestamps else _without_time(line)
            while follow:
                item = await sub.queue.get()
                if item is None:
                    return
                yield item if timestamps else _without_time(item)
        finally:
            self._unsubscribe(sub)

    async def events(
        self, services: Sequence[Service]
    ) -> AsyncIterator[RuntimeEvent | StreamStatus]:
        """start, die, restart and stop, pushed the moment the supervisor sees them."""
        self._check_open()
        names = frozenset(s.name for s in services)
        sub = _Subscriber(asyncio.get_running_loop(), asyncio.Queue(), names=names)
        with self._lock:
            self._subscribers.append(sub)
        try:
            yield StreamStatus(connected=True)
            while True:
                item = await sub.queue.get()
                if item is None:
                    yield StreamStatus(connected=False, reason="local runtime closed")
                    return
                yield item
        finally:
            self._unsubscribe(sub)

    async def close(self, timeout: float = 5.0) -> None:
        """Stop every process (the whole group), then the reaper and the supervisor."""
        if self._closed:
            return
        fut: Future[None] = Future()
        self._commands.put(lambda: self._do_close(timeout, fut))
        self._wake()
        await asyncio.wrap_future(fut)
        await asyncio.to_thread(self._thread.join, timeout + 5)
        self._exec_pool.shutdown(wait=False, cancel_futures=True)  # its children went too

    async def usage(self, services: Sequence[Service]) -> UsageReport:
        """Resource figures of the running process groups, from /proc."""
        from console.runtime.proc_stats import sample_groups

        names = {s.name for s in services}
        groups = {n: g for n, g in self.process_groups().items() if n in names}
        return await asyncio.to_thread(sample_groups, groups)

    async def kill(self, service: Service) -> None:
        """SIGKILL the group now (no grace period); the restart policy does not apply."""
        await self.stop(service, 0)

    async def describe(self, service: Service) -> list[tuple[str, str]]:
        """The process as this runtime runs it: argv, directory, environment, state."""
        from console.runtime.proc_stats import describe_group

        options = self._options(service.name)
        with self._lock:
            proc = self._procs.get(service.name)
            facts = {"service": service.name, "argv": list(service.runtime.local),
                     "cwd": options.cwd or os.getcwd(), "loopback": options.loopback,
                     "restart_policy": proc.policy if proc else options.restart,
                     "state": proc.state if proc else "missing",
                     "pgid": proc.pgid if proc else None,
                     "environment": dict(options.env)}
        return [(f"local:{service.name}", describe_group(facts))]

    def shell_directory(self, service: Service) -> tuple[str, dict[str, str]]:
        """Where a shell "into" a local service opens, and with which environment."""
        options = self._options(service.name)
        return options.cwd or os.getcwd(), self._env(service.name, options)

    # --- extras the demo and the tests use ---------------------------------------------------

    def process_groups(self) -> dict[str, int]:
        """Service -> process group id of the processes running now."""
        with self._lock:
            return {n: p.pgid for n, p in self._procs.items() if p.state == "running" and p.pgid}

    def reaper_pid(self) -> int | None:
        return self._reaper.pid if self._reaper is not None else None

    def loopback(self, service: str) -> str:
        return self._options(service).loopback

    # --- helpers on the caller's side ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeUnavailable("local runtime is closed")

    def _argv(self, service: Service) -> tuple[str, ...]:
        validate_service_name(service.name)
        argv = tuple(service.runtime.local)
        if not argv:
            raise LocalActionError(
                f"{service.name}: no local command in the stack file (runtime.local)"
            )
        if any(not isinstance(a, str) or "\0" in a for a in argv):
            raise LocalActionError(f"{service.name}: runtime.local must be a list of strings")
        return argv

    def _options(self, name: str) -> LocalOptions:
        return self.options.get(name, self.default)

    def _env(self, name: str, options: LocalOptions) -> dict[str, str]:
        env = dict(os.environ)
        env.update(options.env)
        env[ENV_TOKEN] = self.token
        env[ENV_PARENT] = str(os.getpid())
        env[ENV_LOOPBACK] = options.loopback
        env[ENV_SERVICE] = name
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    async def _applet(self, service: Service, argv: list[str], loopback: str,
                      timeout: float) -> ExecResult:
        """A built-in applet run in this process for the service's loopback; its own
        timeout (-T, -w) bounds the thread if the exec's is shorter."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._exec_pool, run_in_process, argv, loopback)
        try:
            code, out = await asyncio.wait_for(work, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"exec in {service.name} did not finish within {timeout:g}s: {' '.join(argv)}"
            ) from None
        return ExecResult(code, out.decode("utf-8", "replace"))

    async def _submit(self, body: Callable[[Future[None]], None]) -> None:
        self._check_open()
        fut: Future[None] = Future()

        def run() -> None:
            try:
                body(fut)
            except BaseException as exc:
                if not fut.done():
                    fut.set_exception(exc)

        self._commands.put(run)
        self._wake()
        await asyncio.wrap_future(fut)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def _unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    # --- the supervisor thread -------------------------------------------------------------

    def _main(self) -> None:
        while True:
            for key, _ in self._selector.select(self._next_timeout()):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError, OSError):
                        os.read(self._wake_r, 4096)
                else:
                    self._read(*key.data)
            while True:
                try:
                    command = self._commands.get_nowait()
                except queue.Empty:
                    break
                command()
            self._reap()
            self._escalate()
            self._restart_due()
            if self._closed and not self._alive():
                break
        self._finish()

    def _next_timeout(self) -> float:
        now = time.monotonic()
        dues = [p.restart_due for p in self._procs.values() if p.restart_due is not None]
        dues += [p.kill_due for p in self._procs.values() if p.kill_due is not None]
        if not dues:
            return TICK_S
        return max(0.0, min(TICK_S, min(dues) - now))

    def _alive(self) -> bool:
        return any(p.popen is not None for p in self._procs.values())

    # spawning --------------------------------------------------------------------------------

    def _do_start(self, name: str, argv: tuple[str, ...], fut: Future[None], why: str) -> None:
        if self._closed:
            fut.set_exception(RuntimeUnavailable("local runtime is closed"))
            return
        options = self._options(name)
        proc = self._procs.get(name)
        if proc is None:
            proc = _Proc(name, argv, options, options.restart)
            with self._lock:
                self._procs[name] = proc
        if proc.popen is not None:  # already running: nothing to do (like `docker start`)
            with self._lock:
                proc.wanted = True
            fut.set_result(None)
            return
        with self._lock:
            proc.argv, proc.wanted = argv, True
            proc.restart_due, proc.restart_count, proc.recent = None, 0, []
            proc.backoff = self.backoff_start
        error = self._spawn(proc)
        if error:
            fut.set_exception(LocalActionError(f"{name}: cannot start: {error}"))
            return
        self._emit(name, why)
        fut.set_result(None)

    def _spawn(self, proc: _Proc) -> str:
        """Start the process; '' or the reason it could not be started."""
        try:
            popen = subprocess.Popen(
                list(proc.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env(proc.name, proc.options),
                cwd=proc.options.cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            now = datetime.now(UTC)
            code = 126 if isinstance(exc, PermissionError) else 127
            reason = f"{proc.argv[0]}: {exc.strerror or exc}"
            with self._lock:
                proc.state, proc.exit_code, proc.error = "exited", code, reason
                proc.finished_at = now
                proc.wanted = False
            self._add_line(proc, "stderr", f"exec: {reason}".encode(), now)
            return reason
        self._tell_reaper(f"+{popen.pid}")
        now = datetime.now(UTC)
        with self._lock:
            proc.popen, proc.pgid = popen, popen.pid
            proc.state, proc.started_at, proc.started_mono = "running", now, time.monotonic()
            proc.exit_code, proc.error, proc.kill_due = None, "", None
            proc.partial = {"stdout": bytearray(), "stderr": bytearray()}
        for stream_name, pipe in (("stdout", popen.stdout), ("stderr", popen.stderr)):
            assert pipe is not None
            os.set_blocking(pipe.fileno(), False)
            self._selector.register(pipe, selectors.EVENT_READ, (proc, stream_name, pipe))
        return ""

    # reading ---------------------------------------------------------------------------------

    def _read(self, proc: _Proc, stream: str, pipe: IO[bytes]) -> None:
        try:
            data = os.read(pipe.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._unregister(pipe)
            self._flush(proc, stream)
            return
        self._read_chunk(proc, stream, data)

    def _flush(self, proc: _Proc, stream: str) -> None:
        buf = proc.partial.get(stream)
        if buf:
            self._add_line(proc, stream, bytes(buf), datetime.now(UTC))
            del buf[:]

    def _unregister(self, pipe: IO[bytes]) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(pipe)
        with contextlib.suppress(OSError):
            pipe.close()

    def _add_line(self, proc: _Proc, stream: str, raw: bytes, when: datetime) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        line = LogLine(service=proc.name, text=text, time=when, stream=stream)
        with self._lock:
            proc.logs.append(line)
            subs = [s for s in self._subscribers if s.service == proc.name]
        for sub in subs:
            sub.put(line)

    # exits, stops, restarts ------------------------------------------------------------------

    def _reap(self) -> None:
        for proc in list(self._procs.values()):
            popen = proc.popen
            if popen is None or popen.poll() is None:
                continue
            self._exited(proc, popen)

    def _exited(self, proc: _Proc, popen: subprocess.Popen[bytes]) -> None:
        # What the process left in its pipes belongs to this run's log.
        for pipe, stream in ((popen.stdout, "stdout"), (popen.stderr, "stderr")):
            if pipe is None or pipe.closed:
                continue
            with contextlib.suppress(OSError):
                while chunk := os.read(pipe.fileno(), 65536):
                    self._read_chunk(proc, stream, chunk)
            self._unregister(pipe)
            self._flush(proc, stream)
        _killpg(proc.pgid, signal.SIGKILL)  # the service's "container" ends with its main process
        self._tell_reaper(f"-{proc.pgid}")
        code = _exit_code(popen.returncode)
        now = datetime.now(UTC)
        lasted = time.monotonic() - proc.started_mono
        restart = proc.wanted and _policy_restarts(proc.policy, code)
        with self._lock:
            proc.popen, proc.exit_code, proc.finished_at, proc.kill_due = None, code, now, None
            if lasted >= BACKOFF_RESET_S:
                proc.backoff = self.backoff_start
            if restart:
                proc.state = "restarting"
                proc.restart_due = time.monotonic() + proc.backoff
                proc.backoff = min(proc.backoff * 2, self.backoff_max)
            else:
                proc.state = "exited"
            waiters, proc.on_exit = proc.on_exit, []
        self._emit(proc.name, "die", exitCode=str(code))
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _read_chunk(self, proc: _Proc, stream: str, chunk: bytes) -> None:
        """Whole lines go to the log; a runaway line is cut at LINE_LIMIT."""
        now = datetime.now(UTC)
        buf = proc.partial.setdefault(stream, bytearray())
        buf += chunk
        while (cut := buf.find(b"\n")) >= 0:
            self._add_line(proc, stream, bytes(buf[:cut]), now)
            del buf[: cut + 1]
        if len(buf) > LINE_LIMIT:
            self._add_line(proc, stream, bytes(buf[:LINE_LIMIT]), now)
            del buf[:]

    def _restart_due(self) -> None:
        now = time.monotonic()
        for proc in list(self._procs.values()):
            if proc.restart_due is None or proc.restart_due > now or self._closed:
                continue
            with self._lock:
                proc.restart_due = None
                proc.restart_count += 1
            if self._spawn(proc):
                with self._lock:  # could not even start: back off and try again
                    proc.wanted = True
                    proc.state = "restarting"
                    proc.restart_due = time.monotonic() + proc.backoff
                    proc.backoff = min(proc.backoff * 2, self.backoff_max)
                continue
            with self._lock:  # a restart; the start the operator asked for is not one
                proc.recent.append(proc.started_at or datetime.now(UTC))
            self._emit(proc.name, "restart", restartCount=str(proc.restart_count))

    def _do_stop(self, name: str, timeout: float, fut: Future[None]) -> None:
        proc = self._procs.get(name)
        if proc is None:
            fut.set_result(None)
            return
        with self._lock:
            proc.wanted = False
            proc.restart_due = None
            if proc.state == "restarting":
                proc.state = "exited"
        if proc.popen is None:
            fut.set_result(None)
            return
        proc.on_exit.append(fut)
        self._signal(proc, timeout)
        fut.add_done_callback(lambda _: self._emit(name, "stop"))

    def _signal(self, proc: _Proc, timeout: float) -> None:
        """SIGTERM to the whole group now, SIGKILL when the timeout passes."""
        _killpg(proc.pgid, signal.SIGTERM)
        due = time.monotonic() + max(0.0, timeout)
        proc.kill_due = due if proc.kill_due is None else min(proc.kill_due, due)

    def _escalate(self) -> None:
        now = time.monotonic()
        for proc in self._procs.values():
            if proc.kill_due is not None and proc.kill_due <= now and proc.popen is not None:
                _killpg(proc.pgid, signal.SIGKILL)
                proc.kill_due = None

    def _do_close(self, timeout: float, fut: Future[None]) -> None:
        self._closed = True
        for proc in self._procs.values():
            with self._lock:
                proc.wanted, proc.restart_due = False, None
                if proc.state == "restarting":
                    proc.state = "exited"
            if proc.popen is not None:
                self._signal(proc, timeout)
        self._close_future = fut

    def _finish(self) -> None:
        """Everything has exited: tell the listeners, let the reaper go, release the fds."""
        with self._lock:
            subs, self._subscribers = self._subscribers, []
        for sub in subs:
            sub.put(None)
        if self._reaper is not None:
            with contextlib.suppress(OSError):
                assert self._reaper.stdin is not None
                self._reaper.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._reaper.wait(5)
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        fut = getattr(self, "_close_future", None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    # the reaper --------------------------------------------------------------------------------

    def _tell_reaper(self, line: str) -> None:
        if not self._use_reaper:
            return
        if self._reaper is None:
            try:
                self._reaper = subprocess.Popen(
                    [self.python, "-m", "console.runtime.local.reaper", self.token,
                     str(os.getpid())],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError:
                self._use_reaper = False
                return
        stdin = self._reaper.stdin
        assert stdin is not None
        with contextlib.suppress(OSError, ValueError):
            stdin.write(f"{line}\n".encode())
            stdin.flush()

    # events --------------------------------------------------------------------------------

    def _emit(self, service: str, action: str, **attributes: str) -> None:
        with self._lock:
            proc = self._procs.get(service)
            cid = container_id_for(proc.pgid) if proc and proc.pgid else ""
            subs = [s for s in self._subscribers if s.service is None and service in s.names]
        event = RuntimeEvent(service=service, action=action, time=datetime.now(UTC),
                             container_id=cid, attributes=dict(attributes))
        for sub in subs:
            sub.put(event)


# --- small helpers ----------------------------------------------------------------------------


def _policy_restarts(policy: str, code: int) -> bool:
    if policy in ("always", "unless-stopped"):
        return True
    return policy == "on-failure" and code != 0


def _exit_code(returncode: int) -> int:
    """Killed by signal N reads as 128+N, the way a shell and Docker say it."""
    return 128 - returncode if returncode < 0 else returncode


def _spawn(command: Sequence[str], env: Mapping[str, str],
           cwd: str | None) -> subprocess.Popen[bytes]:
    """An exec check's process in its own group, output and errors in one pipe."""
    return subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=dict(env), cwd=cwd,
                            start_new_session=True)


def _killpg(pgid: int, sig: int) -> None:
    if pgid <= 1:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _without_time(line: LogLine) -> LogLine:
    return LogLine(service=line.service, text=line.text, time=None, stream=line.stream)
