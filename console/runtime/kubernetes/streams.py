"""Exec in a pod and read a workload's logs: the two streaming calls of the kubernetes runtime.

Exec goes through the API's websocket (`kubernetes.stream`'s WSClient, opened by
`KubeHttp.websocket`), offering `v5.channel.k8s.io` then `v4.channel.k8s.io`: a 1.30+
server picks v5 (KEP-4006: the same channels plus a close signal, channel 255), an older
one v4. stdout and stderr come back on channels 1 and 2, and a metav1.Status on channel 3:
Success, NonZeroExitCode with the code in `details.causes` (reason ExitCode), or any other
failure (InternalError when the command cannot even start) whose message is the answer.
An exec that times out or is abandoned is killed inside the pod by a second exec (PodExec).
Logs are one reader thread per pod (GET .../pods/NAME/log, raw), merged: the tail of
every pod sorted by timestamp, then followed lines as they arrive, each tagged with its pod.
Every call names its container: the one asked for, else the pod's
`kubectl.kubernetes.io/default-container`, else the first (what kubectl does).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any

from console.runtime.base import ExecResult, LogLine, RuntimeUnavailable
from console.runtime.bridge import post_to_loop
from console.runtime.kubernetes.errors import KubernetesActionError
from console.runtime.kubernetes.http import ApiError, KubeHttp
from console.runtime.kubernetes.mapping import (
    containers_of,
    d,
    default_container,
    name_of,
    parse_time,
    terminating,
)
from console.runtime.reap import Reaper, kill_argv, new_tag

Describe = Callable[[BaseException], str]
ERROR_CHANNEL = 3


def pick_pod(pods: list[dict]) -> dict | None:
    """A Ready pod first, else any Running one: probes ask the pod that serves traffic
    (never a Terminating one: it may still say Ready, but it is on its way out)."""
    running = [p for p in pods if d(p, "status").get("phase") == "Running"
               and not terminating(p)]
    ready = [p for p in running if any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in d(p, "status").get("conditions") or [] if isinstance(c, dict)
    )]
    chosen = ready or running
    return chosen[0] if chosen else None


def container_for(pod: dict, wanted: str | None) -> str:
    """The container to talk to: `wanted` if given, else kubectl's default for the pod."""
    if wanted:
        names = containers_of(d(pod, "spec"))
        if names and wanted not in names:

            raise KubernetesActionError(f"{name_of(pod)} has no container {wanted!r} "
                                        f"(it has {', '.join(names)})")
        return wanted
    return default_container(pod, d(pod, "spec"))


# Start failures whose words say what a shell's exit code would: 127 not found, 126 cannot run
NOT_FOUND = ("executable file not found", "no such file or directory")


def exec_outcome(text: str) -> tuple[int, str]:
    """(exit code, words) from the error channel's metav1.Status, whatever its reason."""
    if not text.strip():
        return -1, "exec: the stream closed without a status"
    try:
        status = json.loads(text)
    except ValueError:
        return -1, "exec: unreadable status: " + " ".join(text.split())[:200]
    if not isinstance(status, dict):
        return -1, "exec: unreadable status"
    if status.get("status") == "Success":
        return 0, ""
    for cause in d(status, "details").get("causes") or []:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            value = str(cause.get("message") or "").strip()
            if value.lstrip("-").isdigit():
                return int(value), ""
    message = " ".join(str(status.get("message") or status.get("reason") or "").split())
    lowered = message.lower()
    if any(words in lowered for words in NOT_FOUND):
        code = 127
    elif "permission denied" in lowered:
        code = 126
    else:
        code = -1
    return code, f"exec failed: {_essential(message) or 'no reason given'}"


# The container runtime's words come wrapped in three layers of "failed to ..." from the
# API server, the kubelet and containerd: the innermost one says what happened.
_WRAPPERS = ("unable to start container process: ", "OCI runtime exec failed: ")


def _essential(message: str) -> str:
    for marker in _WRAPPERS:
        at = message.rfind(marker)
        if at >= 0:
            return message[at + len(marker):]
    return message


KILL_TIMEOUT_S = 10.0  # the kill exec itself: a pod too busy to answer in that is left be


def _exec_query(container: str, argv: list[str]) -> list[tuple[str, object]]:
    return [("command", argv), ("container", container), ("stderr", "true"),
            ("stdin", "false"), ("stdout", "true"), ("tty", "false")]


class PodExec:
    """Exec in pods, killing what a given-up exec leaves running (console/runtime/reap.py).

    The pod exec API has no environment field, so the tag rides in through `env`:
    `env VEXTRUS_PROBE=<token> wget ...` (env execs the command: same process, tag in its
    environment). A container whose image has no `env` (distroless) answers "executable file
    not found" for `env` itself; it is remembered, its commands run as given, and one that
    hangs cannot be killed (counted in the reaper's `unreaped`).
    """

    def __init__(self, http: KubeHttp, describe: Describe, reaper: Reaper,
                 without_env: set[tuple[str, str]]) -> None:
        self.http, self.describe, self.reaper = http, describe, reaper
        self.without_env = without_env  # (pod, container) whose image has no `env`

    async def run(self, path: str, pod: dict, argv: list[str], timeout: float,
                  container: str | None = None) -> ExecResult:
        """Run argv in the pod's chosen (or default) container; past `timeout` the websocket
        is closed and what it started is killed inside."""
        chosen = container_for(pod, container)
        where = (name_of(pod), chosen)
        if where not in self.without_env:
            tag = new_tag()
            result, env_missing = await self._once(path, pod, chosen, argv, timeout, tag)
            if not env_missing:
                return result
            self.without_env.add(where)
        result, _ = await self._once(path, pod, chosen, argv, timeout, "")
        return result

    async def _once(self, path: str, pod: dict, container: str, argv: list[str],
                    timeout: float, tag: str) -> tuple[ExecResult, bool]:
        holder: list[Any] = []
        ended = threading.Event()  # read to its end: nothing left running inside
        sent = ["env", tag, *argv] if tag else argv

        def run() -> tuple[ExecResult, bool]:
            try:
                ws = self.http.websocket(path, _exec_query(container, sent))
            except ApiError as exc:
                ended.set()  # never started
                raise RuntimeUnavailable(self.describe(exc)) from exc
            holder.append(ws)
            ws.run_forever(timeout=timeout)
            if ws.is_open():
                ws.close()
                raise TimeoutError
            ended.set()
            output = ws.read_stdout(timeout=0) or ""
            output += ws.read_stderr(timeout=0) or ""
            code, words = exec_outcome(ws.read_channel(ERROR_CHANNEL, timeout=0) or "")
            if words:
                output += ("\n" if output and not output.endswith("\n") else "") + words
            return ExecResult(code, output), bool(tag) and code == 127 and '"env"' in words

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
            if not ended.is_set():  # timed out or its caller gave up: still running inside
                self._kill_later(path, container, tag)

    def _kill_later(self, path: str, container: str, tag: str) -> None:
        if not tag:
            self.reaper.give_up()
            return
        self.reaper.submit(lambda: kill_in_pod(self.http, path, container, tag))


def kill_in_pod(http: KubeHttp, path: str, container: str, tag: str) -> bool:
    """The kill script through a second exec (blocking: a reaper thread). True when it ran
    to its end: every process carrying the tag was sent SIGKILL (or none was left)."""
    try:
        ws = http.websocket(path, _exec_query(container, kill_argv(tag)))
    except ApiError:
        return False  # the pod went away meanwhile, or the API is gone
    try:
        ws.run_forever(timeout=KILL_TIMEOUT_S)
        if ws.is_open():
            return False
        code, _ = exec_outcome(ws.read_channel(ERROR_CHANNEL, timeout=0) or "")
        return code == 0
    finally:
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
    container: str | None = None,
) -> AsyncIterator[LogLine]:
    """The tail of every pod merged by time, then (with follow) lines as they come.

    `previous` over several pods: a pod whose container never restarted has no previous
    run (the API answers 400); it is named in a note line and skipped, so the crashed
    replica's last words still show. Only when no pod has one is that an error.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    readers = [_PodReader(http, path_of("Pod", name_of(pod), "log"), service, pod, tail, follow,
                          previous, len(pods) > 1, describe, loop, queue,
                          container_for(pod, container)) for pod in pods]
    for reader in readers:
        reader.start()
    try:
        tails: list[LogLine] = []
        missing: list[tuple[str, str]] = []  # (pod, container) without a previous run
        pending_tails, ended = len(readers), 0
        while ended < len(readers):
            kind, payload = await queue.get()
            if kind == "no-previous" and len(readers) > 1:
                missing.append(payload[:2])
                continue
            if kind in ("error", "no-previous"):
                raise payload if kind == "error" else payload[2]
            if kind == "end":
                ended += 1
            elif kind == "line":
                yield payload
            else:  # one "tail" batch per pod; all in, they go out merged by time
                tails.extend(payload)
                pending_tails -= 1
                if pending_tails == 0:
                    if missing and len(missing) == len(readers):
                        raise _none_restarted(service, sorted(pod for pod, _ in missing))
                    for pod, container in sorted(missing):
                        yield LogLine(service, f"[{pod}] no previous container: {container} "
                                      "has not restarted", None, "note")
                    for line in sorted(tails, key=_time_key):
                        yield line
    finally:
        for reader in readers:
            reader.stop()


def _none_restarted(service: str, pods: list[str]) -> Exception:

    return KubernetesActionError(f"{service}: no previous container in any pod "
                                 f"({', '.join(pods)} have not restarted)")


def _time_key(line: LogLine) -> float:
    return line.time.timestamp() if line.time else 0.0


class _PodReader:
    """One pod's log stream in a daemon thread: first its tail as one batch, then lines."""

    def __init__(self, http: KubeHttp, path: str, service: str, pod: dict, tail: int,
                 follow: bool, previous: bool, tag: bool, describe: Describe,
                 loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any],
                 container: str) -> None:
        self.http, self.path, self.service, self.pod = http, path, service, pod
        self.container = container
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
        from console.runtime.kubernetes.watch import _close

        if self._response is not None:
            _close(self._response)

    def _post(self, kind: str, payload: Any) -> None:
        post_to_loop(self.loop, self.queue.put_nowait, (kind, payload))

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
            if self.stopping.is_set():
                pass
            elif self._no_previous(exc):
                self._post("no-previous", (name_of(self.pod), self.container, self._error(exc)))
            else:
                self._post("error", self._error(exc))
        finally:
            if not tail_sent:
                self._post("tail", [])
            self._post("end", None)

    def _open(self) -> Any:
        query: dict[str, object] = {
            "container": self.container, "follow": self.follow,
            "previous": self.previous, "timestamps": True,
        }
        if self.tail >= 0:
            query["tailLines"] = self.tail
        read_timeout = 3600.0 if self.follow else 30.0
        return self.http.request("GET", self.path, query=query, timeout=(5.0, read_timeout))

    def _no_previous(self, exc: Exception) -> bool:
        """The API's 400 for a container that has no terminated run to show."""
        return self.previous and isinstance(exc, ApiError) and exc.status == 400 and \
            "previous terminated container" in exc.message

    def _line(self, raw: str) -> LogLine:
        when, text = split_stamp(raw.rstrip("\r"))
        return LogLine(service=self.service, text=self.prefix + text, time=when)

    def _error(self, exc: Exception) -> Exception:

        if isinstance(exc, ApiError) and exc.status:
            return KubernetesActionError(f"{name_of(self.pod)}: kubernetes: {exc}")
        return RuntimeUnavailable(self.describe(exc))
