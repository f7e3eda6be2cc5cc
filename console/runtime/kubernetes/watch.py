"""List then watch one resource kind, the way client-go's reflector does, in a thread.

One `Informer` per kind keeps a store of the namespace's objects as plain JSON dicts:

* list (paginated with `limit`/`continue`), remember the list's resourceVersion;
* watch from it with `allowWatchBookmarks`, applying ADDED/MODIFIED/DELETED and moving the
  resourceVersion on every event and BOOKMARK;
* a stream the server ends (its timeoutSeconds, a proxy) is resumed from the last
  resourceVersion, without a new list;
* `410 Gone` (an ERROR event with a Status of code 410, or the HTTP status) means the
  version is too old for the server's watch cache: list again;
* a connection error reports the link down with the reason, backs off, and tries again;
  the first success reports it up.

Responses are read raw and parsed with `json`: the client's model classes would cost more
than the rest of a refresh, and a store of dicts is all the mapping needs.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from console.runtime.kubernetes.mapping import meta

LIST_PAGE = 500
WATCH_TIMEOUT_S = 290  # server side; kubectl and client-go pick 5-10 minutes at random
CONNECT_TIMEOUT_S = 5.0
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 5.0

# GET of the kind's collection: (query parameters, (connect, read) timeout) -> raw response
Fetch = Callable[[dict[str, object], tuple[float, float]], Any]
OnChange = Callable[[str, "dict | None"], None]  # kind, the changed object (None: a list)
OnLink = Callable[[str, bool, str], None]


class Gone(Exception):
    """410: the resourceVersion is older than the server's watch window."""


@dataclass
class Counters:
    """What an informer did, for tests and the status line: lists, watches, bookmarks."""

    lists: int = 0
    watches: int = 0
    bookmarks: int = 0
    gone: int = 0
    events: int = 0
    resumed_from: list[str] = field(default_factory=list)


class Informer:
    """The store of one kind in one namespace, kept current by a watch."""

    def __init__(
        self,
        kind: str,
        call: Fetch,
        on_change: OnChange,
        on_link: OnLink,
        *,
        required: bool = True,
        field_selector: str | None = None,
        describe_error: Callable[[BaseException], str] = str,
        is_gone: Callable[[BaseException], bool] = lambda exc: False,
        is_optional: Callable[[BaseException], bool] = lambda exc: False,
        watch_timeout: int = WATCH_TIMEOUT_S,
    ) -> None:
        self.kind, self.call, self.required = kind, call, required
        self.on_change, self.on_link = on_change, on_link
        self.field_selector = field_selector
        self.describe_error, self.is_gone, self.is_optional = describe_error, is_gone, is_optional
        self.watch_timeout = watch_timeout
        self.store: dict[str, dict] = {}
        self.lock = threading.Lock()
        # key -> the last resourceVersions applied to it: a writer waits until its own write
        # is in the store (versions are opaque: compared for equality only, never ordered)
        self._seen: dict[str, deque[str]] = {}
        self._applied = threading.Condition(self.lock)
        self.resource_version = ""
        self.synced = threading.Event()
        self.stopping = threading.Event()
        self.problem = ""  # the link problem in words, "" while connected
        self.note = ""  # an optional kind the server refused (RBAC): said once, not an outage
        self.counters = Counters()
        self._response: Any = None
        self._streamed = False  # the last watch was connected (its end is not an outage)
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=f"k8s-{self.kind}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        response = self._response
        if response is not None:
            _close(response)

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def items(self) -> list[dict]:
        with self.lock:
            return list(self.store.values())

    # --- the loop -------------------------------------------------------------------------

    def _main(self) -> None:
        backoff = BACKOFF_START_S
        while not self.stopping.is_set():
            try:
                if not self.resource_version:
                    self._list()
                    self._link(True, "")
                self._watch()
                backoff = BACKOFF_START_S
            except Gone:
                self.counters.gone += 1
                self.resource_version = ""  # the next pass lists again
            except Exception as exc:
                if self.stopping.is_set():
                    return
                if self.is_gone(exc):  # 410 as the HTTP status of the watch request
                    self.counters.gone += 1
                    self.resource_version = ""
                    continue
                if self._streamed:  # a cut stream is not an outage yet: resume at once,
                    self._streamed = False  # and let the reconnect say what is wrong
                    continue
                if self.is_optional(exc) and not self.required:
                    self._give_up(exc)
                    return
                self._link(False, self.describe_error(exc))
                if self.stopping.wait(backoff):
                    return
                backoff = min(BACKOFF_MAX_S, backoff * 2)

    def _give_up(self, exc: BaseException) -> None:
        """An optional kind the server refuses: the console works without it, and says so."""
        self.note = f"{self.kind}: {self.describe_error(exc)}"
        with self.lock:
            self.store.clear()
        self.synced.set()
        self._link(True, "")

    def _link(self, connected: bool, reason: str) -> None:
        """Report only changes: down with a new reason, or back up."""
        problem = "" if connected else (reason or "disconnected")
        if problem != self.problem:
            self.problem = problem
            self.on_link(self.kind, connected, problem)

    def _list(self) -> None:
        """All pages, then swap the store at once so readers never see half a list."""
        items: dict[str, dict] = {}
        token: str | None = None
        version = ""
        while True:
            query: dict[str, object] = {"limit": LIST_PAGE}
            if token:
                query["continue"] = token
            if self.field_selector:
                query["fieldSelector"] = self.field_selector
            body = _json(self.call(query, (CONNECT_TIMEOUT_S, 30.0)))
            self._raise_if_status(body)
            for obj in body.get("items") or []:
                items[_key(obj)] = obj
            version = str(meta(body).get("resourceVersion") or "")
            token = meta(body).get("continue") or None
            if not token:
                break
        self.counters.lists += 1
        with self.lock:
            self.store = items
            for key, obj in items.items():
                self._remember(key, obj)
        self.resource_version = version
        self.synced.set()
        self.on_change(self.kind, None)

    def _watch(self) -> None:
        query: dict[str, object] = {
            "watch": True, "allowWatchBookmarks": True,
            "resourceVersion": self.resource_version, "timeoutSeconds": self.watch_timeout,
        }
        if self.field_selector:
            query["fieldSelector"] = self.field_selector
        self.counters.watches += 1
        self.counters.resumed_from.append(self.resource_version)
        response = self.call(query, (CONNECT_TIMEOUT_S, self.watch_timeout + 30.0))
        self._response = response
        self._streamed = True
        try:
            if self.stopping.is_set():
                return
            self._link(True, "")
            for line in _lines(response):
                if self.stopping.is_set():
                    return
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            self._response = None
            _close(response)

    def _apply(self, event: dict) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code") if isinstance(obj, dict) else None
            if code == 410:
                raise Gone(str(obj.get("message") or "resource version too old"))
            raise WatchError(str(obj.get("message") or obj.get("reason") or "watch error"))
        version = str(meta(obj).get("resourceVersion") or "")
        if kind == "BOOKMARK":
            self.counters.bookmarks += 1
            self.resource_version = version or self.resource_version
            return
        with self.lock:
            if kind == "DELETED":
                self.store.pop(_key(obj), None)
            elif kind in ("ADDED", "MODIFIED"):
                self.store[_key(obj)] = obj
            self._remember(_key(obj), obj)
        self.resource_version = version or self.resource_version
        self.counters.events += 1
        self.on_change(self.kind, obj)

    def _remember(self, key: str, obj: dict) -> None:
        """Under the lock: note the version and wake writers waiting for it."""
        version = str(meta(obj).get("resourceVersion") or "")
        if version:
            self._seen.setdefault(key, deque(maxlen=64)).append(version)
            self._applied.notify_all()

    def wait_for(self, namespace: str, name: str, version: str, timeout: float) -> bool:
        """Until the store holds `version` of the object (or a later event moved past it):
        after a write, a refresh must not show the object as it was before the write."""
        key = f"{namespace}/{name}"
        deadline = time.monotonic() + timeout
        with self.lock:
            while version not in self._seen.get(key, ()):
                left = deadline - time.monotonic()
                if left <= 0 or self.stopping.is_set():
                    return False
                self._applied.wait(min(left, 0.2))
            return True

    def _raise_if_status(self, body: dict) -> None:
        if body.get("kind") == "Status" and body.get("status") == "Failure":
            if body.get("code") == 410:
                raise Gone(str(body.get("message") or ""))
            raise WatchError(str(body.get("message") or "list failed"))


class WatchError(Exception):
    """The server ended a watch with an ERROR event other than 410."""


def _key(obj: dict) -> str:
    m = meta(obj)
    return f"{m.get('namespace') or ''}/{m.get('name') or ''}"


def _json(response: Any) -> dict:
    try:
        data = response.data
    finally:
        _close(response)
    body = json.loads(data)
    return body if isinstance(body, dict) else {}


def _lines(response: Any) -> Iterator[str]:
    """Whole lines from a chunked watch response, however the chunks cut them."""
    buffer = bytearray()
    for chunk in response.stream(amt=None, decode_content=False):
        buffer.extend(chunk)
        while (cut := buffer.find(b"\n")) >= 0:
            yield buffer[:cut].decode("utf-8", "replace")
            del buffer[: cut + 1]
    if buffer.strip():
        yield buffer.decode("utf-8", "replace")


def _close(response: Any) -> None:
    """Close a streaming response from another thread: its blocking read returns."""
    with suppress(Exception):
        sock = getattr(getattr(getattr(response, "_fp", None), "fp", None), "raw", None)
        inner = getattr(sock, "_sock", None)
        if inner is not None:
            import socket

            inner.shutdown(socket.SHUT_RDWR)
    with suppress(Exception):
        response.release_conn()
    with suppress(Exception):
        response.close()


def wait_synced(informers: list[Informer], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    for informer in informers:
        if not informer.synced.wait(max(0.0, deadline - time.monotonic())):
            return False
    return True
