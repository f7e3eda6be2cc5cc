"""The Docker runtime: a compose project's containers seen through docker-py.

docker-py is blocking, so every call runs in a thread (`asyncio.to_thread`) and the two
long-lived streams (logs with follow, the event stream) each run in their own daemon thread
that feeds an `asyncio.Queue` through `loop.call_soon_threadsafe`. Containers are found by
the labels Docker Compose puts on them, so the console works with stacks it did not start.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from console.model import ComposeSource, Service
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
from console.runtime.docker.exec import ExecHandle, kill_leftovers, run_exec
from console.runtime.docker.exits import MainProcess, ProcessExits
from console.runtime.docker.wire import EngineReader, EngineRefused
from console.runtime.reap import Reaper
from console.runtime.usage import UsageReport

if TYPE_CHECKING:  # docker-py (with requests) costs ~0.15 s to import: only when needed
    import docker
    from docker.errors import APIError
    from docker.types.daemon import CancellableStream

T = TypeVar("T")

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
DEFAULT_HOST = "unix:///var/run/docker.sock"

EVENT_ACTIONS = (
    "start", "die", "restart", "stop", "kill", "oom", "health_status", "create", "destroy",
)
RESTART_WINDOW_S = RESTART_LOOP_WINDOW.total_seconds()  # how far back `recent_restarts` looks
INSPECT_WORKERS = 8  # concurrent inspects: the daemon, not the client, is the bottleneck
POOL_SIZE = 32
REQUEST_TIMEOUT_S = 15  # a hung daemon must not hang a refresh for docker-py's default 60 s
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0
QUEUE_SOFT_LIMIT = 10_000  # a follow thread waits while the consumer is this far behind
HEALTH_LOG_KEEP = 3
INSPECT_REUSE_S = 60.0  # longest a settled container's inspect details are reused
INSPECT_REUSE_UNHEALTHY_S = 10.0  # ... when its row says unhealthy (its health log matters)

ClientFactory = Callable[[], "docker.DockerClient"]


class DockerActionError(RuntimeError):
    """The daemon answered but refused, or the service has no container to act on.

    Distinct from RuntimeUnavailable: the daemon is up, the request itself cannot be done.
    The message is one line meant for the operator.
    """


class DockerRuntime:
    """Runtime over one Docker daemon for one compose project."""

    name = "docker"

    def __init__(
        self,
        project: str,
        base_url: str | None = None,
        client_factory: ClientFactory | None = None,
        compose: ComposeSource | None = None,
    ) -> None:
        self.project = project
        self.base_url = base_url
        self.compose = compose  # set: Compose creates and starts (the engine of record)
        self.host = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self._factory = client_factory or self._default_factory
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        self._closed = False
        self._pool = ThreadPoolExecutor(INSPECT_WORKERS, thread_name_prefix="docker-inspect")
        self._restarts = _RestartMemory(RESTART_WINDOW_S)
        self._history_until: float | None = None  # daemon history read up to here (epoch)
        self._feeds: set[_ThreadFeed] = set()
        self._inspected = _InspectCache(INSPECT_REUSE_S, INSPECT_REUSE_UNHEALTHY_S)
        self._reaper = Reaper("docker-reap")  # kills what given-up execs left in containers
        # Execs block a thread each for their whole run: a pool of their own, as big as the
        # probes' exec lane, so no exec's timeout runs out while it waits for a thread.
        self._exec_pool = ThreadPoolExecutor(EXEC_SLOTS, thread_name_prefix="docker-exec")
        # The listing's fast path on unix sockets: no docker-py on the way to the first frame.
        self._reader = EngineReader.for_host(self.host, REQUEST_TIMEOUT_S)
        # Exits seen by the kernel before the daemon's `die` (a daemon on this machine only;
        # fed by the listings while someone follows events()).
        self._exits = ProcessExits()
        self._local = self.host.startswith("unix:")

    # --- client and errors ------------------------------------------------------------

    def _default_factory(self) -> docker.DockerClient:
        """`auto` version: the daemon may be older than docker-py's default API version."""
        import docker

        if self.base_url:
            return docker.DockerClient(
                base_url=self.base_url, version="auto",
                timeout=REQUEST_TIMEOUT_S, max_pool_size=POOL_SIZE,
            )
        return docker.from_env(
            version="auto", timeout=REQUEST_TIMEOUT_S, max_pool_size=POOL_SIZE
        )

    def _client_sync(self) -> docker.DockerClient:
        """Created lazily in a thread: creating it asks the daemon for its API version."""
        with self._client_lock:
            if self._closed:
                raise RuntimeUnavailable(f"Docker runtime for {self.host} is closed")
            if self._client is None:
                self._client = self._factory()
            return self._client

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """docker-py and requests errors in the operator's words, one line each."""
        try:
            yield
        except (RuntimeUnavailable, DockerActionError):
            raise
        except EngineRefused as exc:
            raise DockerActionError(f"docker: {_one_line(str(exc))}") from exc
        except Exception as exc:
            if _is_docker_py(exc, "APIError"):  # the daemon answered, but it said no
                raise DockerActionError(f"docker: {_one_line(_explain(exc))}") from exc
            if isinstance(exc, OSError) or _is_docker_py(exc, "DockerException") \
                    or _is_requests(exc, "RequestException"):
                raise RuntimeUnavailable(
                    f"Docker daemon unreachable at {self.host}: {short_reason(exc)}"
                ) from exc
            raise

    def _run(self, op: Callable[[docker.DockerClient], T]) -> T:
        """Run one blocking docker-py operation (in the calling thread) with error mapping."""
        with self._translate():
            return op(self._client_sync())

    async def _call(self, op: Callable[[docker.DockerClient], T]) -> T:
        return await asyncio.to_thread(self._run, op)

    # --- finding containers -----------------------------------------------------------

    def _labels(self, service: Service | None = None) -> list[str]:
        labels = [f"{PROJECT_LABEL}={self.project}"]
        if service is not None:
            labels.append(f"{SERVICE_LABEL}={service.compose_name}")
        return labels

    def _rows(self, client: docker.DockerClient, service: Service | None = None) -> list[dict]:
        """The list endpoint's sparse rows: one call, filtered by the compose labels."""
        rows: list[dict] = client.api.containers(all=True, filters={"label": self._labels(service)})
        return rows

    def _require_rows(self, client: docker.DockerClient, service: Service, verb: str) -> list[dict]:
        rows = self._rows(client, service)
        if not rows:
            raise DockerActionError(self._missing_text(service, verb))
        return rows

    def _missing_text(self, service: Service, verb: str) -> str:
        compose = service.compose_name
        text = (
            f"{service.name}: no container of compose service '{compose}' in project "
            f"'{self.project}', nothing to {verb}"
        )
        if verb == "start":
            text += (
                f"; compose would create it (docker compose -p {self.project} up -d {compose})"
            )
        return text

    # --- list_states ------------------------------------------------------------------

    async def list_states(self, services: Sequence[Service]) -> dict[str, ContainerState]:
        """One list call for the project, then inspects of the chosen containers."""
        details = await asyncio.to_thread(self._snapshot, services)
        now = time.time()
        out: dict[str, ContainerState] = {}
        for svc in services:
            detail = details.get(svc.compose_name)
            if detail is None:
                out[svc.name] = ContainerState(service=svc.name)
                continue
            recent = self._restarts.recent(svc.compose_name, now)
            out[svc.name] = state_from_inspect(svc.name, detail, recent)
        if self._local:
            self._exits.watch(main_processes(services, details))
        return out

    def _reads(self) -> EngineReader | _DockerPyReads:
        """Where the listing reads from: the unix socket directly, else docker-py."""
        if self._reader is None:
            return _DockerPyReads(self._client_sync())
        if self._closed:
            raise RuntimeUnavailable(f"Docker runtime for {self.host} is closed")
        return self._reader

    def _snapshot(self, services: Sequence[Service]) -> dict[str, dict]:
        """Inspect details per compose service; the start history is read alongside."""
        with self._translate():
            reads = self._reads()
            history = self._pool.submit(self._load_history, reads)
            wanted = {s.compose_name for s in services}
            chosen = pick_containers(reads.containers(self._labels()), wanted)
            rows = list(chosen.values())
            if reads.parallel:
                inspected = list(self._pool.map(lambda r: self._inspect(r, reads.inspect), rows))
            else:
                inspected = [self._inspect(row, reads.inspect) for row in rows]
            details = {n: d for n, d in zip(chosen, inspected, strict=True) if d is not None}
            self._inspected.keep({row["Id"] for row in rows})
            history.result()
            return details

    def _inspect(self, row: dict, fetch: Callable[[str], dict | None]) -> dict | None:
        """Inspect details, reused for a settled container whose list row has not changed."""
        detail = self._inspected.get(row)
        if detail is None:
            detail = fetch(row["Id"])
            if detail is not None:
                self._inspected.put(row, detail)
        return detail

    def _load_history(self, reads: EngineReader | _DockerPyReads) -> None:
        """Starts since the last read; the first read goes five minutes back.

        The first read makes a restart loop visible the moment the console starts. Later
        reads are short and keep `recent_restarts` right even when nobody consumes
        `events()`; events seen twice (history and stream) are recorded once.
        """
        now = time.time()
        since = self._history_until or now - RESTART_WINDOW_S
        filters = {"label": self._labels(), "type": ["container"], "event": ["start", "restart"]}
        for raw in reads.events(since, now, filters):
            self._restarts.record(raw)
        self._history_until = now

    # --- actions ----------------------------------------------------------------------

    async def start(self, service: Service) -> None:
        if self.compose is not None:
            await self.create_and_start([service])
            return
        await self._act(service, "start", lambda c, cid: c.api.start(cid))

    async def create_and_start(
        self, services: Sequence[Service], on_line: Callable[[str], None] | None = None
    ) -> None:
        """Compose projects: `docker compose up -d --no-deps` creates what does not exist and
        starts what is stopped, exactly as Compose would; the caller waits on the probes.
        Pull and build progress lines go to `on_line`."""
        if self.compose is None:
            for service in services:
                await self.start(service)
            return
        from console.compose import ComposeError, ComposeRefused, compose_up

        names = list(dict.fromkeys(s.compose_name for s in services))
        try:
            await compose_up(self.compose, self.project, names, self.base_url, on_line)
        except ComposeRefused as exc:
            if exc.daemon_gone:
                raise RuntimeUnavailable(
                    f"Docker daemon unreachable at {self.host}: {exc}") from None
            raise DockerActionError(str(exc)) from None
        except ComposeError as exc:
            raise DockerActionError(str(exc)) from None

    async def stop(self, service: Service, timeout: float = 10) -> None:
        await self._act(service, "stop", lambda c, cid: c.api.stop(cid, timeout=int(timeout)))

    async def restart(self, service: Service, timeout: float = 10) -> None:
        await self._act(
            service, "restart", lambda c, cid: c.api.restart(cid, timeout=int(timeout))
        )

    async def set_restart_policy(self, service: Service, name: str) -> None:
        """`no` pauses a restart loop and keeps the crashed container as evidence."""
        def update(client: docker.DockerClient, cid: str) -> None:
            client.api.update_container(cid, restart_policy={"Name": name})
            self._inspected.drop(cid)  # the list row does not show the policy

        await self._act(service, "update", update)

    async def _act(
        self, service: Service, verb: str, op: Callable[[docker.DockerClient, str], Any]
    ) -> None:
        """Apply op to every container of the service (a scaled service has several)."""

        def run(client: docker.DockerClient) -> None:
            for row in self._require_rows(client, service, verb):
                op(client, row["Id"])

        await self._call(run)

    # --- exec -------------------------------------------------------------------------

    async def exec(self, service: Service, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run argv in the service's container; raises TimeoutError past `timeout`.

        An exec given up while still running (timed out, or its caller cancelled) is killed
        inside the container by the reaper (console.runtime.docker.exec), so hanging probes
        do not pile up processes in the container refresh after refresh.
        """
        handle = ExecHandle()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.get_running_loop().run_in_executor(
                    self._exec_pool,
                    partial(self._run, lambda c: self._exec_sync(c, service, list(argv), handle)),
                )
        except TimeoutError:
            raise TimeoutError(
                f"exec in {service.name} did not finish within {timeout:g}s: {' '.join(argv)}"
            ) from None
        finally:
            handle.socket.close()  # unblocks the reading thread after a timeout or cancellation
            if not handle.finished:
                self._reaper.submit(lambda: self._run(lambda c: kill_leftovers(c, handle)))

    def _exec_sync(
        self, client: docker.DockerClient, service: Service, argv: list[str], handle: ExecHandle
    ) -> ExecResult:
        try:
            row = pick_running(self._require_rows(client, service, "exec in"))
            if row.get("State") != "running":
                raise DockerActionError(
                    f"{service.name}: container is {row.get('State')}, cannot exec in it"
                )
            handle.container_id = row["Id"]
            return run_exec(client, handle, argv)
        finally:
            handle.settled.set()

    async def reaped(self, timeout: float = 10.0) -> int:
        """Wait until every given-up exec has been killed (or found impossible to kill).

        Returns how many could not be killed so far. `close()` calls it; so do tests.
        """
        pending = self._reaper.pending()
        if pending:
            await asyncio.to_thread(wait_futures, pending, timeout)
        return self._reaper.unreaped

    # --- logs -------------------------------------------------------------------------

    async def logs(
        self, service: Service, tail: int = 100, follow: bool = False, timestamps: bool = True
    ) -> AsyncGenerator[LogLine, None]:
        """Lines from a reader thread; closing this generator closes the HTTP stream."""
        detail = await self._call(lambda c: self._inspect_best(c, service))
        tty = bool((detail.get("Config") or {}).get("Tty"))
        request = _LogRequest(detail["Id"], service.name, tail, follow, timestamps, tty)
        feed = self._open_feed(f"docker-logs-{service.name}")
        feed.start(lambda f: self._pump_logs(f, request))
        try:
            async for line in feed.items():
                yield line
        finally:
            self._close_feed(feed)

    def _inspect_best(self, client: docker.DockerClient, service: Service) -> dict:
        row = pick_running(self._require_rows(client, service, "read logs of"))
        detail: dict = client.api.inspect_container(row["Id"])
        return detail

    def _pump_logs(self, feed: _ThreadFeed, req: _LogRequest) -> None:
        """Thread body: read frames, reassemble lines, post them to the loop."""
        with self._translate():
            res = self._open_logs(self._client_sync(), req)
            from docker.types.daemon import CancellableStream

            feed.set_closer(CancellableStream(iter(()), res).close)
            assembler = LineAssembler(req.service, req.timestamps, framed=not req.tty)
            chunks = read_raw_chunks(res.raw) if req.tty else read_frames(res.raw)
            try:
                for stream_no, payload in chunks:
                    feed.put_many(assembler.feed(stream_no, payload))
            except Exception as exc:
                stream_ended = isinstance(exc, OSError | ValueError | AttributeError) \
                    or _is_requests(exc, "RequestException")
                if not stream_ended or not feed.stopping.is_set():  # stop() closed it: fine
                    raise
            feed.put_many(assembler.flush())

    def _open_logs(self, client: docker.DockerClient, req: _LogRequest) -> Any:
        """The raw HTTP response: docker-py's log stream loses which stream a frame came from."""
        api = client.api
        params = {
            "stdout": 1, "stderr": 1, "follow": int(req.follow),
            "timestamps": int(req.timestamps), "tail": str(req.tail) if req.tail >= 0 else "all",
        }
        url = api._url("/containers/{0}/logs", req.container_id)
        res = api._get(url, params=params, stream=True)
        api._raise_for_status(res)
        if req.follow:  # an idle container must not time the stream out
            api._disable_socket_timeout(api._get_raw_response_socket(res))
        return res

    # --- events -----------------------------------------------------------------------

    async def events(
        self, services: Sequence[Service]
    ) -> AsyncGenerator[RuntimeEvent | StreamStatus, None]:
        """One event stream for the project, reconnecting with backoff.

        StreamStatus(connected=True) is yielded whenever the stream is (re)established,
        including the first time, so a consumer knows push updates are live and re-lists;
        StreamStatus(connected=False) once per outage.
        """
        names: dict[str, str] = {}
        for svc in services:
            names.setdefault(svc.compose_name, svc.name)
        feed = self._open_feed("docker-events")
        feed.start(lambda f: self._pump_events(f, names))
        self._exits.emit = feed.queue.put_nowait  # on the loop: no thread hop
        try:
            async for item in feed.items():
                yield item
        finally:
            self._exits.close()
            self._close_feed(feed)

    def _pump_events(self, feed: _ThreadFeed, names: dict[str, str]) -> None:
        """Thread body: connect, read, and on any break report it once and retry with backoff."""
        delay, up, since = BACKOFF_START_S, None, None
        seen: deque[tuple[str, str, int]] = deque(maxlen=256)
        while not feed.stopping.is_set():
            reason = f"Docker daemon unreachable at {self.host}: the event stream closed"
            try:
                stream = self._run(partial(self._open_events, since=since))
                feed.set_closer(stream.close)
                if up is not True:
                    feed.put(StreamStatus(connected=True))
                up, delay = True, BACKOFF_START_S
                since = self._read_events(feed, stream, names, seen, since)
            except (RuntimeUnavailable, DockerActionError) as exc:
                reason = str(exc)
            except Exception as exc:  # a garbled stream is a break like any other
                reason = _one_line(f"event stream failed: {type(exc).__name__}: {exc}")
            if feed.stopping.is_set():
                return
            if up is not False:
                feed.put(StreamStatus(connected=False, reason=reason))
                up = False
            feed.stopping.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _open_events(self, client: docker.DockerClient, since: int | None) -> CancellableStream:
        """`since` (the daemon's own time of the last event seen) replays a short break."""
        filters = {"label": self._labels(), "type": "container", "event": list(EVENT_ACTIONS)}
        stamp = f"{since // 1_000_000_000}.{since % 1_000_000_000:09d}" if since else None
        return client.api.events(since=stamp, filters=filters, decode=True)

    def _read_events(
        self,
        feed: _ThreadFeed,
        stream: CancellableStream,
        names: dict[str, str],
        seen: deque[tuple[str, str, int]],
        since: int | None,
    ) -> int | None:
        """Forward events until the stream ends; returns the daemon time of the last one."""
        with self._translate():
            for raw in stream:
                key = _event_key(raw)
                if key in seen:
                    continue  # replayed after a reconnect (`since` is inclusive)
                seen.append(key)
                since = key[2]
                self._restarts.record(raw)
                event = event_from_raw(raw, names)
                if event is not None:
                    feed.put(event)
        return since

    # --- feeds and close ----------------------------------------------------------------

    def _open_feed(self, name: str) -> _ThreadFeed:
        feed = _ThreadFeed(asyncio.get_running_loop(), name)
        self._feeds.add(feed)
        return feed

    def _close_feed(self, feed: _ThreadFeed) -> None:
        feed.stop()
        self._feeds.discard(feed)

    async def usage(self, services: Sequence[Service]) -> UsageReport:
        """Resource figures of the running containers (console.runtime.docker.stats)."""
        from console.runtime.docker.stats import usage_of

        return await usage_of(self, services)

    async def describe(self, service: Service) -> list[tuple[str, str]]:
        """`docker inspect` of each of the service's containers, as the daemon has it."""
        def run(client: docker.DockerClient) -> list[tuple[str, str]]:
            rows = self._require_rows(client, service, "describe")
            return [(str((row.get("Names") or [row["Id"]])[0]).lstrip("/"),
                     json.dumps(client.api.inspect_container(row["Id"]), indent=2))
                    for row in rows]

        return await self._call(run)

    async def kill(self, service: Service) -> None:
        """SIGKILL now (`docker kill`): for a container that ignores a stop."""
        await self._act(service, "kill", lambda c, cid: c.api.kill(cid))

    async def close(self) -> None:
        """Stop the stream threads, then close the client's connections."""
        from console.runtime.docker.stats import close_usage

        close_usage(self)
        self._exits.close()
        await self.reaped(timeout=5.0)  # before the client goes: the kills need it
        self._reaper.shutdown()
        self._exec_pool.shutdown(wait=False, cancel_futures=True)
        for feed in list(self._feeds):
            self._close_feed(feed)
        with self._client_lock:
            self._closed = True
            client, self._client = self._client, None
            reader, self._reader = self._reader, None
        self._pool.shutdown(wait=False, cancel_futures=True)
        if reader is not None:
            reader.close()
        if client is not None:
            await asyncio.to_thread(client.close)


# --- pure helpers: inspect details -> ContainerState ------------------------------------


def pick_containers(rows: Iterable[dict], wanted: set[str]) -> dict[str, dict]:
    """Compose service -> the container row to report (running first, then the newest)."""
    best: dict[str, dict] = {}
    for row in rows:
        name = (row.get("Labels") or {}).get(SERVICE_LABEL)
        if name in wanted and (name not in best or _rank(row) > _rank(best[name])):
            best[name] = row
    return best


def pick_running(rows: Sequence[dict]) -> dict:
    return max(rows, key=_rank)


def _rank(row: dict) -> tuple[bool, int]:
    return row.get("State") == "running", int(row.get("Created") or 0)


class _InspectCache:
    """Inspect details of settled containers, so a refresh is not 40 inspects each time.

    Reused only while the list row's State and Status text are unchanged, the container has
    been running for over a minute ("Up 3 minutes"; a restart would read "Up 2 seconds"),
    and for at most `max_age_s`: the health log text is the one thing the row cannot show,
    so it may lag by that much. Health status, exit codes and restarts change the row. A row
    that says unhealthy keeps its details for `unhealthy_age_s` only, because its failing
    probe's output is what the operator reads; a healthy one's "OK" can wait a minute, which
    keeps the calm 15 s poll from inspecting every container every time (idle CPU).
    """

    def __init__(self, max_age_s: float, unhealthy_age_s: float | None = None) -> None:
        self.max_age_s = max_age_s
        self.unhealthy_age_s = max_age_s if unhealthy_age_s is None else unhealthy_age_s
        self._lock = threading.Lock()
        self._by_id: dict[str, tuple[tuple[str, str], float, dict]] = {}

    @staticmethod
    def _settled(row: dict) -> tuple[str, str] | None:
        state, status = row.get("State") or "", row.get("Status") or ""
        if state != "running" or "second" in status or "starting" in status:
            return None
        return state, status

    def get(self, row: dict) -> dict | None:
        sig = self._settled(row)
        with self._lock:
            hit = self._by_id.get(row["Id"])
        if sig is None or hit is None or hit[0] != sig:
            return None
        limit = self.unhealthy_age_s if "unhealthy" in sig[1] else self.max_age_s
        return hit[2] if time.monotonic() - hit[1] <= limit else None

    def put(self, row: dict, detail: dict) -> None:
        sig = self._settled(row)
        if sig is not None:
            with self._lock:
                self._by_id[row["Id"]] = (sig, time.monotonic(), detail)

    def drop(self, container_id: str) -> None:
        with self._lock:
            self._by_id.pop(container_id, None)

    def keep(self, ids: set[str]) -> None:
        with self._lock:
            for cid in [c for c in self._by_id if c not in ids]:
                del self._by_id[cid]


class _DockerPyReads:
    """The listing's reads through docker-py (tcp and ssh daemons), shaped as EngineReader's.

    Inspects run on the runtime's threads (`parallel`): over a network each one waits.
    """

    parallel = True

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def containers(self, labels: list[str]) -> list[dict]:
        rows: list[dict] = self.client.api.containers(all=True, filters={"label": labels})
        return rows

    def inspect(self, container_id: str) -> dict | None:
        return _inspect_or_none(self.client, container_id)

    def events(self, since: float, until: float, filters: dict[str, list[str]]) -> list[dict]:
        return list(self.client.events(since=f"{since:.6f}", until=f"{until:.6f}",
                                       decode=True, filters=filters))


def _inspect_or_none(client: docker.DockerClient, container_id: str) -> dict | None:
    """A container removed between the list and the inspect simply counts as missing."""
    from docker.errors import NotFound

    try:
        detail: dict = client.api.inspect_container(container_id)
        return detail
    except NotFound:
        return None


def main_processes(services: Sequence[Service], details: dict[str, dict]) -> list[MainProcess]:
    """The running containers' main processes, for the exit watcher. One-shot jobs are left
    out: their exit is their success, and only Docker's `die` says with which code."""
    out = []
    for svc in services:
        state = (details.get(svc.compose_name) or {}).get("State") or {}
        pid = state.get("Pid")
        if not svc.oneshot and state.get("Status") == "running" and isinstance(pid, int):
            out.append(MainProcess(svc.name, details[svc.compose_name].get("Id", ""), pid))
    return out


def state_from_inspect(
    service: str, detail: dict, recent: tuple[datetime, ...] = ()
) -> ContainerState:
    st = detail.get("State") or {}
    host_config = detail.get("HostConfig") or {}
    health = st.get("Health") or None
    status = st.get("Status") or "unknown"
    return ContainerState(
        service=service,
        present=True,
        container_id=detail.get("Id", ""),
        container_name=(detail.get("Name") or "").lstrip("/"),
        state=status,
        health=health.get("Status") if health else None,
        health_log=health_outputs(health),
        restart_count=int(detail.get("RestartCount") or 0),
        recent_restarts=recent,
        started_at=parse_docker_time(st.get("StartedAt")),
        finished_at=parse_docker_time(st.get("FinishedAt")),
        exit_code=st.get("ExitCode") if status in ("exited", "dead", "restarting") else None,
        oom_killed=bool(st.get("OOMKilled")),
        error=st.get("Error") or "",
        ports=published_ports(detail),
        network_mode=host_config.get("NetworkMode") or "",
        image=(detail.get("Config") or {}).get("Image") or detail.get("Image", ""),
        restart_policy=(host_config.get("RestartPolicy") or {}).get("Name") or "",
    )


def health_outputs(health: dict | None) -> tuple[str, ...]:
    """Last outputs of Docker's own healthcheck; an empty output is shown as its exit code."""
    if not health:
        return ()
    outs = []
    for entry in (health.get("Log") or [])[-HEALTH_LOG_KEEP:]:
        text = (entry.get("Output") or "").strip()
        outs.append(text or f"exit code {entry.get('ExitCode')}")
    return tuple(outs)


def published_ports(detail: dict) -> tuple[str, ...]:
    """`HOST:PORT->PORT/proto` for every published binding, like `docker ps`."""
    ports = (detail.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[str] = []
    for container_port, bindings in sorted(ports.items(), key=lambda kv: _port_key(kv[0])):
        for b in bindings or []:
            ip = b.get("HostIp") or "0.0.0.0"  # noqa: S104 - a label, not a bind
            ip = f"[{ip}]" if ":" in ip else ip
            text = f"{ip}:{b.get('HostPort')}->{container_port}"
            if text not in out:
                out.append(text)
    return tuple(out)


def _port_key(spec: str) -> tuple[int, str]:
    number, _, proto = spec.partition("/")
    return (int(number) if number.isdigit() else 0, proto)


_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_docker_time(text: str | None) -> datetime | None:
    """RFC 3339 with up to nanoseconds -> aware datetime; Docker's zero time -> None."""
    if not text or text.startswith("0001-01-01"):
        return None
    m = _TIME_RE.match(text.strip())
    if not m:
        return None
    frac = (m.group(2) or "")[:7]  # Python keeps microseconds: "." + 6 digits
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + frac + zone).astimezone(UTC)


# --- events ---------------------------------------------------------------------------


def _event_key(raw: dict) -> tuple[str, str, int]:
    actor = raw.get("Actor") or {}
    nano = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    return actor.get("ID") or raw.get("id", ""), raw.get("Action") or raw.get("status", ""), nano


def event_from_raw(raw: dict, names: dict[str, str]) -> RuntimeEvent | None:
    """A daemon event as a RuntimeEvent of a stack service, or None when not ours."""
    cid, action, nano = _event_key(raw)
    base, _, detail = action.partition(":")
    attrs = dict((raw.get("Actor") or {}).get("Attributes") or {})
    service = names.get(attrs.get(SERVICE_LABEL, ""))
    if base not in EVENT_ACTIONS or service is None:
        return None
    if base == "health_status":
        attrs["health"] = detail.strip()
    when = datetime.fromtimestamp(nano / 1e9, tz=UTC)
    return RuntimeEvent(service=service, action=base, time=when, container_id=cid, attributes=attrs)


class _RestartMemory:
    """Start/restart times per compose service, from live events and the daemon's history.

    Both sources may report the same event, so events are keyed by (container, action,
    timeNano). `docker restart` emits `start` and then `restart`: that pair counts once.
    """

    def __init__(self, window_s: float) -> None:
        self.window_ns = int(window_s * 1e9)
        self._lock = threading.Lock()
        self._by_service: dict[str, list[tuple[str, str, int]]] = {}

    def record(self, raw: dict) -> None:
        key = _event_key(raw)
        cid, action, nano = key
        service = ((raw.get("Actor") or {}).get("Attributes") or {}).get(SERVICE_LABEL)
        if action not in ("start", "restart") or not service:
            return
        with self._lock:
            entries = self._by_service.setdefault(service, [])
            if key in entries or (action == "restart" and _follows_start(entries, cid, nano)):
                return
            entries.append(key)
            cutoff = time.time_ns() - self.window_ns
            entries[:] = [e for e in entries if e[2] >= cutoff]

    def recent(self, service: str, now: float) -> tuple[datetime, ...]:
        cutoff = int(now * 1e9) - self.window_ns
        with self._lock:
            nanos = sorted(e[2] for e in self._by_service.get(service, ()) if e[2] >= cutoff)
        return tuple(datetime.fromtimestamp(n / 1e9, tz=UTC) for n in nanos)


def _follows_start(entries: list[tuple[str, str, int]], cid: str, nano: int) -> bool:
    return any(c == cid and a == "start" and 0 <= nano - n <= 5_000_000_000 for c, a, n in entries)


# --- logs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _LogRequest:
    container_id: str
    service: str
    tail: int
    follow: bool
    timestamps: bool
    tty: bool


def _read_exactly(raw: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = raw.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_frames(raw: Any) -> Iterator[tuple[int, bytes]]:
    """Docker's multiplexed stream: 8-byte header (stream, length), then the payload.

    Whole frames matter: with timestamps on, every frame starts with its own timestamp,
    including the continuation frames of a line Docker split at 16 KiB.
    """
    while True:
        header = _read_exactly(raw, 8)
        if len(header) < 8:
            return
        stream_no, length = struct.unpack(">BxxxL", header)
        payload = _read_exactly(raw, length)
        yield stream_no, payload
        if len(payload) < length:
            return


def read_raw_chunks(raw: Any) -> Iterator[tuple[int, bytes]]:
    """A TTY container's log stream has no frames: whatever bytes are there, as stdout."""
    while True:
        chunk = raw.read1(65536)
        if not chunk:
            return
        yield 1, chunk


_STAMP_RE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")


def split_stamp(data: bytes) -> tuple[datetime | None, bytes]:
    m = _STAMP_RE.match(data)
    if not m:
        return None, data
    return parse_docker_time(m.group(1).decode()), data[m.end() :]


class LineAssembler:
    """Frames (or raw chunks) -> one LogLine per text line, per stream.

    Bytes are kept until a newline so a multi-byte character split across frames decodes
    whole; invalid UTF-8 becomes U+FFFD rather than an exception.
    """

    def __init__(self, service: str, timestamps: bool, framed: bool = True) -> None:
        self.service, self.timestamps, self.framed = service, timestamps, framed
        self._parts: dict[int, bytearray] = {}
        self._times: dict[int, datetime | None] = {}

    def feed(self, stream_no: int, payload: bytes) -> list[LogLine]:
        buf = self._parts.setdefault(stream_no, bytearray())
        if self.timestamps and self.framed:
            stamp, payload = split_stamp(payload)
            if not buf:
                self._times[stream_no] = stamp
        buf += payload
        lines = []
        while (cut := buf.find(b"\n")) >= 0:
            lines.append(self._line(stream_no, bytes(buf[:cut])))
            del buf[: cut + 1]
        return lines

    def flush(self) -> list[LogLine]:
        """A last line without a newline (the stream ended mid-line) is still a line."""
        lines = [self._line(no, bytes(buf)) for no, buf in self._parts.items() if buf]
        self._parts.clear()
        return lines

    def _line(self, stream_no: int, data: bytes) -> LogLine:
        when = self._times.get(stream_no)
        if self.timestamps and not self.framed:
            when, data = split_stamp(data)
        text = data.decode("utf-8", errors="replace").rstrip("\r")
        stream = "stderr" if stream_no == 2 else "stdout"
        return LogLine(service=self.service, text=text, time=when, stream=stream)


# --- threads feeding the event loop -------------------------------------------------------


_END = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _ThreadFeed:
    """A blocking reader in a daemon thread, its items delivered to the event loop.

    `stop()` (from the loop) sets a flag and calls the closer the thread registered, which
    shuts the stream's socket so the thread's blocking read returns at once.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self.loop, self.name = loop, name
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._closer: Callable[[], None] | None = None
        self.thread: threading.Thread | None = None

    def start(self, body: Callable[[_ThreadFeed], None]) -> None:
        self.thread = threading.Thread(target=self._main, args=(body,), name=self.name, daemon=True)
        self.thread.start()

    def _main(self, body: Callable[[_ThreadFeed], None]) -> None:
        try:
            body(self)
        except BaseException as exc:
            if not self.stopping.is_set():
                self.put(_Failed(exc))
        finally:
            self.put(_END)

    def put(self, item: Any) -> None:
        """Thread side: hand one item to the loop (dropped once stopping)."""
        if self.stopping.is_set() and item is not _END:
            return
        while self.queue.qsize() > QUEUE_SOFT_LIMIT and not self.stopping.wait(0.01):
            pass
        if not post_to_loop(self.loop, self.queue.put_nowait, item):
            self.stopping.set()

    def put_many(self, items: Iterable[Any]) -> None:
        for item in items:
            self.put(item)

    def set_closer(self, closer: Callable[[], None]) -> None:
        with self._lock:
            self._closer = closer
            stopping = self.stopping.is_set()
        if stopping:
            _quietly(closer)

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            closer = self._closer
        if closer is not None:
            _quietly(closer)

    async def items(self) -> AsyncIterator[Any]:
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item


def _quietly(fn: Callable[[], Any]) -> None:
    """Closing something already closed (or half torn down) is fine."""
    with suppress(Exception):
        fn()


# --- error words ----------------------------------------------------------------------


def _explain(exc: APIError) -> str:
    return str(exc.explanation or exc)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes, contexts and exception args (requests nests them there)."""
    todo, seen = [exc], set()
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        nested = [cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args]
        todo.extend(e for e in nested if isinstance(e, BaseException))


def _is_docker_py(exc: BaseException, name: str) -> bool:
    """isinstance against docker.errors.NAME, without importing docker-py to ask."""
    errors = sys.modules.get("docker.errors")
    return errors is not None and isinstance(exc, getattr(errors, name))


def _is_requests(exc: BaseException, name: str) -> bool:
    """isinstance against requests.exceptions.NAME, without importing requests to ask."""
    module = sys.modules.get("requests.exceptions")
    return module is not None and isinstance(exc, getattr(module, name))


def short_reason(exc: BaseException) -> str:
    """The innermost meaningful words: `connection refused`, `no such file or directory`."""
    for cur in _causes(exc):
        if isinstance(cur, socket.timeout | TimeoutError) or _is_requests(cur, "Timeout"):
            return "no answer in time (daemon hung or overloaded)"
        if isinstance(cur, OSError) and cur.strerror:
            return cur.strerror.lower()
        if isinstance(cur, ConnectionError):
            # A daemon killed mid-request: http.client's RemoteDisconnected ("Remote end
            # closed connection without response") carries no errno; the banner has room
            # for a few words only.
            return "connection closed"
    return _one_line(str(exc) or type(exc).__name__, 160)
