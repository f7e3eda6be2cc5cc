"""Exec in a pod and read a workload's logs: the two streaming calls of the kubernetes runtime.

Exec goes through the API's websocket (`kubernetes.stream`'s WSClient, channel protocol v4/v5,
opened by `KubeHttp.websocket`): stdout
and stderr come back on their channels and the exit code as a Status on the error channel.
Logs are one reader thread per pod (GET .../pods/NAME/log, raw), merged: the tail of
every pod sorted by timestamp, then followed lines as they arrive, each tagged with its pod.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any

from console.runtime.base import ExecResult, LogLine, RuntimeUnavailable
from console.runtime.kubernetes_http import ApiError, KubeHttp
from console.runtime.kubernetes_mapping import d, name_of, parse_time

Describe = Callable[[BaseException], str]


def pick_pod(pods: list[dict]) -> dict | None:
    """A Ready pod first, else any Running one: probes ask the pod that serves traffic."""
    running = [p for p in pods if d(p, "status").get("phase") == "Running"]
    ready = [p for p in running if any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in d(p, "status").get("conditions") or [] if isinstance(c, dict)
    )]
    chosen = ready or running
    return chosen[0] if chosen else None


def first_container(pod: dict) -> str:
    containers = d(pod, "spec").get("containers") or [{}]
    return str(containers[0].get("name") or "")


async def exec_in_pod(
    http: KubeHttp, path: str, pod: dict, argv: list[str], timeout: float, describe: Describe
) -> ExecResult:
    """Run argv in the pod's first container; past `timeout` the websocket is closed."""
    holder: list[Any] = []
    query: list[tuple[str, object]] = [
        ("command", argv), ("container", first_container(pod)), ("stderr", "true"),
        ("stdin", "false"), ("stdout", "true"), ("tty", "false"),
    ]

    def run() -> ExecResult:
        try:
            ws = http.websocket(path, query)
        except ApiError as exc:
            raise RuntimeUnavailable(describe(exc)) from exc
        holder.append(ws)
        ws.run_forever(timeout=timeout)
        if ws.is_open():
            ws.close()
            raise TimeoutError
        output = ws.read_stdout(timeout=0) or ""
        output += ws.read_stderr(timeout=0) or ""
        code = ws.returncode
        return ExecResult(-1 if code is None else int(code), output)

    try:
        async with asyncio.timeout(timeout + 2.0):
            return await asyncio.to_thread(run)
    except TimeoutError:
        raise TimeoutError(
            f"exec in {name_of(pod)} did not finish within {timeout:g}s: {' '.join(argv)}"
        ) from None
    finally:
        for ws in holder:
            with suppress(Exception):
                ws.close()


def split_stamp(line: str) -> tuple[Any, str]:
    """`2025-09-25T10:42:07.123456789Z text` -> (time, text), as `timestamps=true` gives."""
    stamp, sep, rest = line.partition(" ")
    when = parse_time(stamp) if sep else None
    return (when, rest) if when is not None else (None, line)


async def merged_logs(
    http: KubeHttp,
    path_of: Callable[..., str],
    service: str,
    pods: list[dict],
    tail: int,
    follow: bool,
    previous: bool,
    describe: Describe,
) -> AsyncIterator[LogLine]:
    """The tail of every pod merged by time, then (with follow) lines as they come."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    readers = [_PodReader(http, path_of("Pod", name_of(pod), "log"), service, pod, tail, follow,
                          previous, len(pods) > 1, describe, loop, queue) for pod in pods]
    for reader in readers:
        reader.start()
    try:
        tails: list[LogLine] = []
        pending_tails, ended = len(readers), 0
        while ended < len(readers):
            kind, payload = await queue.get()
            if kind == "error":
                raise payload
            if kind == "end":
                ended += 1
            elif kind == "line":
                yield payload
            else:  # one "tail" batch per pod; all in, they go out merged by time
                tails.extend(payload)
                pending_tails -= 1
                if pending_tails == 0:
                    for line in sorted(tails, key=_time_key):
                        yield line
    finally:
        for reader in readers:
            reader.stop()


def _time_key(line: LogLine) -> float:
    return line.time.timestamp() if line.time else 0.0


class _PodReader:
    """One pod's log stream in a daemon thread: first its tail as one batch, then lines."""

    def __init__(self, http: KubeHttp, path: str, service: str, pod: dict, tail: int,
                 follow: bool, previous: bool, tag: bool, describe: Describe,
                 loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        self.http, self.path, self.service, self.pod = http, path, service, pod
        self.tail, self.follow, self.previous, self.describe = tail, follow, previous, describe
        self.prefix = f"[{name_of(pod)}] " if tag else ""
        self.loop, self.queue = loop, queue
        self.stopping = threading.Event()
        self._response: Any = None

    def start(self) -> None:
        threading.Thread(target=self._main, name=f"k8s-logs-{name_of(self.pod)}",
                         daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        from console.runtime.kubernetes_watch import _close

        if self._response is not None:
            _close(self._response)

    def _post(self, kind: str, payload: Any) -> None:
        with suppress(RuntimeError):  # the loop is gone: nobody reads any more
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, payload))

    def _main(self) -> None:
        tail_sent = False
        try:
            response = self._open()
            self._response = response
            if self.stopping.is_set():
                return
            if not self.follow:
                text = response.data.decode("utf-8", "replace")
                response.release_conn()
                self._post("tail", [self._line(t) for t in text.splitlines()])
                tail_sent = True
                return
            self._post("tail", [])  # a follow stream's tail arrives as ordinary lines
            tail_sent = True
            buffer = bytearray()
            for chunk in response.stream(amt=None, decode_content=False):
                buffer.extend(chunk)
                while (cut := buffer.find(b"\n")) >= 0:
                    self._post("line", self._line(buffer[:cut].decode("utf-8", "replace")))
                    del buffer[: cut + 1]
        except Exception as exc:
            if not self.stopping.is_set():
                self._post("error", self._error(exc))
        finally:
            if not tail_sent:
                self._post("tail", [])
            self._post("end", None)

    def _open(self) -> Any:
        query: dict[str, object] = {
            "container": first_container(self.pod), "follow": self.follow,
            "previous": self.previous, "timestamps": True,
        }
        if self.tail >= 0:
            query["tailLines"] = self.tail
        read_timeout = 3600.0 if self.follow else 30.0
        return self.http.request("GET", self.path, query=query, timeout=(5.0, read_timeout))

    def _line(self, raw: str) -> LogLine:
        when, text = split_stamp(raw.rstrip("\r"))
        return LogLine(service=self.service, text=self.prefix + text, time=when)

    def _error(self, exc: Exception) -> Exception:
        from console.runtime.kubernetes import KubernetesActionError

        if isinstance(exc, ApiError) and exc.status:
            return KubernetesActionError(f"{name_of(self.pod)}: kubernetes: {exc}")
        return RuntimeUnavailable(self.describe(exc))
