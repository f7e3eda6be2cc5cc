"""Read-only Engine API calls over the daemon's unix socket, for the refresh's hot path.

Every refresh lists the project's containers and inspects those whose details are not
cached. Through docker-py (requests, urllib3, a thread per inspect) 40 inspects cost about
90 ms of CPU and 115 ms of wall time here; the same calls as plain HTTP/1.1 on a kept-alive
unix-socket connection cost about 15 ms of CPU and 35 ms (measured on the 2-core box). That
CPU is what a cold start and an idle console pay for, so the listing (with the recent
start history) goes this way when the daemon is on a unix socket, and docker-py is not even
imported until something else needs it; actions, logs, the event stream and remote daemons
stay on docker-py. The API version is the daemon's own (`GET /version`), as docker-py's
`version="auto"` picks it.

Against httpx, the customer's named HTTP package, in one run (bench/http_clients.py, 40
containers, 2-core box at load 6.5): list + 40 inspects take 78 ms wall / 18 ms CPU here,
381 ms / 162 ms through `httpx.Client(transport=HTTPTransport(uds=...))` and 527 ms / 232 ms
through `AsyncClient(uds)` with the inspects gathered. The refresh's goal is 50 ms for 40
services, so this stays hand-written.

Blocking, called from the runtime's worker threads. Idle connections are kept in a small
pool; a connection that fails is dropped, and a request on a reused one that fails before
any answer is retried once on a new one (the daemon may have closed it while idle).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import quote

MAX_IDLE = 4


class EngineRefused(RuntimeError):
    """The daemon answered with an error status (not 404); the message is its own."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class EngineReader:
    """GET requests with JSON answers to one daemon's API at one version."""

    parallel = False  # one kept-alive connection answers 40 inspects in ~35 ms

    def __init__(self, socket_path: str, timeout: float, api_version: str = "") -> None:
        self.socket_path = socket_path
        self.api_version = api_version  # "" until the daemon is asked (GET /version)
        self.timeout = timeout
        self._idle: list[_UnixConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def for_host(cls, host: str, timeout: float) -> EngineReader | None:
        """A reader for `unix://` daemons; None for tcp, ssh or npipe (docker-py serves those)."""
        if not host.startswith("unix://"):
            return None
        return cls(host.removeprefix("unix://"), timeout)

    # --- the calls the refresh makes ------------------------------------------------------

    def containers(self, labels: list[str]) -> list[dict]:
        """`GET /containers/json?all=1` filtered by labels (the list endpoint's rows)."""
        filters = quote(json.dumps({"label": labels}, separators=(",", ":")))
        rows = self.get(f"/containers/json?all=1&filters={filters}")
        return rows if isinstance(rows, list) else []

    def inspect(self, container_id: str) -> dict | None:
        """`GET /containers/{id}/json`; None when the container is gone (404)."""
        detail = self.get(f"/containers/{quote(container_id, safe='')}/json", missing_ok=True)
        return detail if isinstance(detail, dict) else None

    def events(self, since: float, until: float, filters: dict[str, list[str]]) -> list[dict]:
        """`GET /events` between two instants: the daemon ends the stream at `until`."""
        query = (f"since={since:.6f}&until={until:.6f}"
                 f"&filters={quote(json.dumps(filters, separators=(',', ':')))}")
        return list(_json_stream(self._get_raw(f"/events?{query}")))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # --- plumbing ---------------------------------------------------------------------------

    def get(self, path: str, missing_ok: bool = False) -> Any:
        """One GET at the daemon's API version; transport failures raise OSError."""
        body = self._get_raw(path, missing_ok)
        return None if body is None else json.loads(body)

    def _get_raw(self, path: str, missing_ok: bool = False) -> bytes | None:
        if not self.api_version:
            version = self._request("/version")
            self.api_version = str(json.loads(version or b"{}").get("ApiVersion") or "1.41")
        return self._request(f"/v{self.api_version}{path}", missing_ok)

    def _request(self, path: str, missing_ok: bool = False) -> bytes | None:
        conn, reused = self._take()
        try:
            status, body = self._exchange(conn, path)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if not reused:
                raise _as_os_error(exc) from exc
            conn, reused = _UnixConnection(self.socket_path, self.timeout), False
            try:
                status, body = self._exchange(conn, path)
            except (OSError, http.client.HTTPException) as exc2:
                conn.close()
                raise _as_os_error(exc2) from exc2
        self._give_back(conn)
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise EngineRefused(_daemon_message(body) or f"HTTP {status}")
        return body

    def _exchange(self, conn: _UnixConnection, path: str) -> tuple[int, bytes]:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()

    def _take(self) -> tuple[_UnixConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return _UnixConnection(self.socket_path, self.timeout), False

    def _give_back(self, conn: _UnixConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()


def _as_os_error(exc: BaseException) -> OSError:
    if isinstance(exc, OSError):
        return exc
    return ConnectionError(f"{type(exc).__name__}: {exc}".rstrip(": "))


def _daemon_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _json_stream(body: bytes | None) -> Any:
    """The JSON values of a stream of concatenated objects (the events endpoint's body)."""
    text = (body or b"").decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        value, at = decoder.raw_decode(text, at)
        yield value
