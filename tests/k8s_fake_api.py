"""A loopback Kubernetes API server for tests: no cluster can run on the project's machines.

Stdlib `http.server` on 127.0.0.1 and a free port, one thread per connection. It keeps the
objects of one namespace and serves them the way these documents describe:

* Kubernetes API concepts (https://kubernetes.io/docs/reference/using-api/api-concepts/):
  - lists `{"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion"}, "items"}`;
  - "Efficient detection of changes": watches (`?watch=true&resourceVersion=N&
    allowWatchBookmarks=true&timeoutSeconds=S`) as chunked `{"type", "object"}` lines,
    replaying what changed after N; BOOKMARK events only when asked for; a version older
    than the compaction point gets an ERROR event carrying a `Status` with code 410
    (reason Expired), then the stream ends;
  - "Retrieving large results sets in chunks": `limit` and an opaque `continue` token,
    every page from the snapshot of the first (same resourceVersion),
    `remainingItemCount`, and 410 Expired for a token older than the compaction point;
  - field selectors (`fieldSelector=type=Warning`, `=`, `==`, `!=`, on the fields the API
    indexes; any other field is a 400 "field label not supported"), on lists and watches;
* PATCH of workloads (strategic-merge or merge patch) and of the `scale` subresource,
  any other Content-Type refused with 415; a change of `spec` bumps
  `metadata.generation`, as the API does for Deployments and StatefulSets;
* DELETE of a pod; pod logs (container, tailLines, previous, timestamps, follow) with the
  API's 400s: a container name needed for a pod of several, an unknown container, no
  previous terminated container;
* exec over a websocket (the apiserver's wsstream channel protocol; KEP-4006 /
  "TranslateStreamCloseWebsocketRequests" for `v5.channel.k8s.io`): the server picks the
  first of the client's subprotocols it speaks (`exec_protocols`), stdout on 1, stderr on
  2, with v5 the close signal (255, channel), and a metav1.Status on 3: Success,
  NonZeroExitCode with an ExitCode cause, or any Status a test hands in (InternalError);
* over time, with `run_controller()`: the deployment and statefulset controllers and the
  kubelet (tests/k8s_fake_controller.py: rollouts with surge, a readiness delay, scale
  that reconciles, progress deadline, events), judged by the client the way `kubectl
  rollout status` (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go) judges them.

Every request is recorded (method, path, query, content type, body) so tests can check the
exact bodies the console sends. Test hooks change objects, send bookmarks, expire versions,
close streams and take the whole server down and back up on the same port.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import queue
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from console.runtime.kubernetes.runtime import KubernetesRuntime
    from tests.k8s_fake_controller import Controller

NS = "vextrus"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# kind -> (URL prefix of the group/version, plural, list kind, apiVersion)
KINDS: dict[str, tuple[str, str, str]] = {
    "Deployment": ("/apis/apps/v1", "deployments", "apps/v1"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", "apps/v1"),
    "Pod": ("/api/v1", "pods", "v1"),
    "Event": ("/api/v1", "events", "v1"),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers",
                                "autoscaling/v2"),
}
PLURALS = {plural: kind for kind, (_, plural, _) in KINDS.items()}
PATCH_TYPES = ("application/strategic-merge-patch+json", "application/merge-patch+json",
               "application/json-patch+json")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str = ""
    body: Any = None


@dataclass
class _Watcher:
    kind: str
    events: queue.Queue[Any] = field(default_factory=queue.Queue)
    bookmarks: bool = False
    selector: list[tuple[str, str, str]] = field(default_factory=list)


_CLOSE = object()


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubeAPI:
    """The server and its state; `url` is http://127.0.0.1:PORT."""

    def __init__(self, namespace: str = NS) -> None:
        self.namespace = namespace
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict]] = {k: {} for k in KINDS}
        self.history: list[tuple[int, str, str, dict]] = []  # rv, kind, type, object
        self.rv = 1000
        self.compacted = 0  # versions at or below this are gone (410)
        self.requests: list[Recorded] = []
        self.watchers: list[_Watcher] = []
        # (pod, previous) -> the first container's lines; (pod, container, previous) -> any's
        self.logs: dict[tuple, list[str]] = {}
        self.log_followers: dict[str, list[queue.Queue[Any]]] = {}
        # pod, argv -> (exit code, stdout, stderr); a dict for the code is the Status to send
        self.exec_handler: Callable[[str, list[str]], tuple[int | dict, str, str]] = (
            lambda pod, argv: (0, "", "")
        )
        self.exec_delay = 0.0
        self.exec_calls: list[tuple[str, str, list[str]]] = []  # pod, container, argv
        self.exec_protocols = ("v5.channel.k8s.io", "v4.channel.k8s.io")  # 1.30+: both
        self.exec_protocol = ""  # the one the last exec agreed on
        self.controller: Controller | None = None
        self.never_ready: set[str] = set()  # images whose readiness probe keeps failing
        self.snapshots: dict[tuple[int, str], list[dict]] = {}  # paged lists: (rv, kind)
        self.on_list_page: Callable[[], None] | None = None  # test hook: a page went out
        # image -> the kubelet's waiting reason for it (ErrImagePull, ImagePullBackOff,
        # InvalidImageName): the pods it makes for such an image never become ready
        self.unpullable: dict[str, str] = {}
        # metrics.k8s.io (metrics-server): pod -> container -> (cpu, memory) quantities;
        # None: the cluster has no metrics API and answers 404, as one without metrics-server
        self.pod_metrics: dict[str, dict[str, tuple[str, str]]] | None = None
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeKubeAPI:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def run_controller(self, ready_delay: float = 0.3, tick: float = 0.05,
                       grace: float = 0.0) -> Controller:
        """Controllers and kubelet from now on (tests/k8s_fake_controller.py)."""
        from tests.k8s_fake_controller import Controller

        if self.controller is None:
            self.controller = Controller(self, ready_delay, tick, grace).start()
        else:
            self.controller.ready_delay, self.controller.grace = ready_delay, grace
        return self.controller

    @property
    def controller_delay(self) -> float | None:
        return self.controller.ready_delay if self.controller else None

    @controller_delay.setter
    def controller_delay(self, value: float) -> None:
        self.run_controller(ready_delay=value)

    def stop(self) -> None:
        """Take the server down: the port refuses connections, open streams are cut."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self.lock:
            watchers, self.watchers = self.watchers, []
            sockets = list(self._sockets)
        for w in watchers:
            w.events.put(_CLOSE)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path, context: str = "dev-cluster",
                         namespace: str | None = None) -> Path:
        """A kubeconfig whose one context points at this server (plain http, no auth)."""
        ctx: dict[str, Any] = {"cluster": "fake", "user": "tester"}
        if namespace:
            ctx["namespace"] = namespace
        doc = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "contexts": [{"name": context, "context": ctx}],
            "users": [{"name": "tester", "user": {"token": "test-token"}}],
        }
        path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
        return path

    # --- state changes (test hooks) -------------------------------------------------------

    def put(self, kind: str, obj: dict) -> dict:
        """Create or replace an object; watchers get ADDED or MODIFIED."""
        with self.lock:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta.setdefault("namespace", self.namespace)
            meta.setdefault("uid", hashlib.sha1(f"{kind}/{meta['name']}".encode()).hexdigest()[:36])
            name = meta["name"]
            kind_of = "MODIFIED" if name in self.objects[kind] else "ADDED"
            self._bump(kind, kind_of, obj)
            self.objects[kind][name] = obj
            return obj

    def set_image(self, kind: str, name: str, image: str) -> dict:
        """What `kubectl set image` does: a new template, so a new generation (a rollout)."""
        with self.lock:
            before = self.objects[kind][name]
            after = copy.deepcopy(before)
            after["spec"]["template"]["spec"]["containers"][-1]["image"] = image
            return self.put(kind, _next_generation(before, after))

    def delete(self, kind: str, name: str) -> dict | None:
        with self.lock:
            obj = self.objects[kind].pop(name, None)
            if obj is not None:
                self._bump(kind, "DELETED", obj)
            return obj

    def _bump(self, kind: str, event_type: str, obj: dict) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        snapshot = copy.deepcopy(obj)
        self.history.append((self.rv, kind, event_type, snapshot))
        for w in self.watchers:
            if w.kind == kind and fields_match(w.selector, snapshot):
                w.events.put({"type": event_type, "object": snapshot})

    def bookmark(self, kind: str) -> None:
        """A BOOKMARK to every watcher of `kind` that asked for them (only the version)."""
        with self.lock:
            self.rv += 1
            api_version = KINDS[kind][2]
            event = {"type": "BOOKMARK", "object": {
                "kind": kind, "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self.rv)}}}
            for w in self.watchers:
                if w.kind == kind and w.bookmarks:
                    w.events.put(event)

    def expire(self, kind: str | None = None) -> None:
        """Compact history: current watchers get ERROR 410 and every older version is gone."""
        with self.lock:
            self.compacted = self.rv
            self.rv += 1
            self.snapshots = {k: v for k, v in self.snapshots.items() if k[0] > self.compacted}
            for w in self.watchers:
                if kind is None or w.kind == kind:
                    w.events.put(_gone_event(self.compacted))
                    w.events.put(_CLOSE)

    def close_watches(self, kind: str | None = None) -> None:
        """End watch streams cleanly, as the server does when timeoutSeconds runs out."""
        with self.lock:
            for w in self.watchers:
                if kind is None or w.kind == kind:
                    w.events.put(_CLOSE)

    def watcher_count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for w in self.watchers if w.kind == kind)

    def append_log(self, pod: str, line: str) -> None:
        with self.lock:
            self.logs.setdefault((pod, False), []).append(line)
            for q in self.log_followers.get(pod, []):
                q.put(line)

    def requests_for(self, method: str, pattern: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    # --- serving ---------------------------------------------------------------------------

    def list_body(self, kind: str, query: dict[str, list[str]] | None = None) -> dict:
        """A list, filtered by `fieldSelector`, in pages when `limit` asks (API concepts,
        "Retrieving large results sets in chunks"): every page of one list comes from the
        snapshot of its first page and carries that page's resourceVersion; `continue`
        names where the next page starts; a token older than the compaction point is a
        410 Expired (raised as ListExpired)."""
        query = query or {}
        selector = parse_selector(query.get("fieldSelector", [""])[0])
        limit = int(query.get("limit", ["0"])[0] or 0)
        token = query.get("continue", [""])[0]
        with self.lock:
            if token:
                version, start = _read_token(token)
                if version <= self.compacted or (version, kind) not in self.snapshots:
                    raise ListExpired()
                items = self.snapshots[(version, kind)]
            else:
                version, start = self.rv, ""
                items = sorted((copy.deepcopy(o) for o in self.objects[kind].values()),
                               key=lambda o: o["metadata"]["name"])
                if limit and len(items) > limit:  # a continue token will name it
                    self.snapshots[(version, kind)] = items
            chosen = [o for o in items if o["metadata"]["name"] > start and
                      fields_match(selector, o)]
            meta: dict[str, Any] = {"resourceVersion": str(version)}
            if limit and len(chosen) > limit:
                meta["continue"] = _make_token(version, chosen[limit - 1]["metadata"]["name"])
                meta["remainingItemCount"] = len(chosen) - limit
                chosen = chosen[:limit]
            return {"kind": f"{kind}List", "apiVersion": KINDS[kind][2], "metadata": meta,
                    "items": chosen}

    def open_watch(self, kind: str, since: str, bookmarks: bool,
                   selector: list[tuple[str, str, str]] | None = None) -> _Watcher:
        with self.lock:
            watcher = _Watcher(kind, bookmarks=bookmarks, selector=selector or [])
            version = int(since) if since.isdigit() else 0
            if version and version <= self.compacted:
                watcher.events.put(_gone_event(self.compacted))
                watcher.events.put(_CLOSE)
                return watcher
            for rv, k, event_type, obj in self.history:
                if k == kind and rv > version and fields_match(watcher.selector, obj):
                    watcher.events.put({"type": event_type, "object": obj})
            self.watchers.append(watcher)
            return watcher

    def drop_watch(self, watcher: _Watcher) -> None:
        with self.lock:
            if watcher in self.watchers:
                self.watchers.remove(watcher)


def _gone_event(compacted: int) -> dict:
    return {"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {compacted} ({compacted + 1})",
        "reason": "Expired", "code": 410}}


class ListExpired(Exception):
    """A continue token from before the compaction point."""


class BadSelector(ValueError):
    """A field selector naming a field the kind does not index."""


# Fields a field selector may name, per the API (metadata.* for every kind; events and pods
# index a few more). Anything else is a 400 "field label not supported", as the server says.
SELECTABLE = {"metadata.name", "metadata.namespace", "type", "reason", "source",
              "involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
              "involvedObject.uid", "status.phase", "spec.nodeName"}


def parse_selector(text: str) -> list[tuple[str, str, str]]:
    """`type=Warning,involvedObject.kind!=Node` -> [(field, op, value)]."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.match(r"^([A-Za-z.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m or m.group(1) not in SELECTABLE:
            raise BadSelector(f'"{part}" is not a known field selector: field label not '
                              f"supported: {m.group(1) if m else part}")
        out.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return out


def fields_match(selector: list[tuple[str, str, str]], obj: dict) -> bool:
    for path, op, value in selector:
        cur: Any = obj
        for key in path.split("."):
            cur = cur.get(key) if isinstance(cur, dict) else None
        actual = "" if cur is None else str(cur if not isinstance(cur, dict) else "")
        if (actual == value) != (op == "="):
            return False
    return True


def _make_token(version: int, after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": version, "start": after}).encode()).decode()


def _read_token(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError):
        return 0, ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeKubeAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-stream is normal here (closed watches, cut logs)."""


_PATH_RE = re.compile(
    r"^(?P<prefix>/api/v1|/apis/[a-z.]+/v[0-9a-z]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>[a-z]+))?$"
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeKubeAPI:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake._sockets.add(self.connection)

    def finish(self) -> None:
        with self.fake.lock:
            self.fake._sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    # --- plumbing --------------------------------------------------------------------------

    def _record(self) -> tuple[str, dict[str, list[str]], Any]:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self.fake.lock:
            self.fake.requests.append(Recorded(self.command, parts.path, query,
                                               self.headers.get("Content-Type", ""), body))
        return parts.path, query, body

    def _send_json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": message, "reason": reason,
                               "code": code})

    def _route(self, path: str) -> tuple[str, str | None, str | None] | None:
        m = _PATH_RE.match(path)
        if not m or m.group("ns") != self.fake.namespace:
            return None
        kind = PLURALS.get(m.group("plural"))
        if kind is None or KINDS[kind][0] != m.group("prefix"):
            return None
        return kind, m.group("name"), m.group("sub")

    # --- verbs ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path, query, _ = self._record()
        if path == f"/apis/metrics.k8s.io/v1beta1/namespaces/{self.fake.namespace}/pods" \
                and self.fake.pod_metrics is not None:
            self._send_json(200, _pod_metrics_list(self.fake))
            return
        route = self._route(path)
        if route is None:
            self._status(404, "NotFound", "the server could not find the requested resource")
            return
        kind, name, sub = route
        if name is None:
            self._collection(kind, query)
            return
        if kind == "Pod" and sub == "log":
            self._logs(name, query)
            return
        if kind == "Pod" and sub == "exec":
            self._exec(name, query)
            return
        obj = self.fake.objects[kind].get(name)
        if obj is None:
            self._status(404, "NotFound", f'{KINDS[kind][1]} "{name}" not found')
        else:
            self._send_json(200, obj)

    def _collection(self, kind: str, query: dict[str, list[str]]) -> None:
        try:
            selector = parse_selector(query.get("fieldSelector", [""])[0])
            if query.get("watch", [""])[0] in ("true", "1", "True"):
                self._watch(kind, query, selector)
            else:
                body = self.fake.list_body(kind, query)
                self._send_json(200, body)
                if body["metadata"].get("continue") and self.fake.on_list_page is not None:
                    self.fake.on_list_page()
        except BadSelector as exc:
            self._status(400, "BadRequest", str(exc))
        except ListExpired:
            self._status(410, "Expired", "The provided continue parameter is too old to "
                         "display a consistent list result. You can start a new list without "
                         "the continue parameter.")

    def do_PATCH(self) -> None:
        path, _, body = self._record()
        route = self._route(path)
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if route is None:
            self._status(404, "NotFound", "the server could not find the requested resource")
            return
        if content_type not in PATCH_TYPES:
            self._status(415, "UnsupportedMediaType",
                         f"the body of the request was in an unknown format - accepted media "
                         f"types include: {', '.join(PATCH_TYPES)}")
            return
        kind, name, sub = route
        with self.fake.lock:
            obj = self.fake.objects[kind].get(name or "")
            if obj is None:
                self._status(404, "NotFound", f'{KINDS[kind][1]} "{name}" not found')
                return
            if content_type == "application/json-patch+json" or not isinstance(body, dict):
                self._status(422, "Invalid", "the fake serves merge patches only")
                return
            if sub == "scale":
                replicas = (body.get("spec") or {}).get("replicas")
                updated = copy.deepcopy(obj)
                updated["spec"]["replicas"] = replicas
                stored = self.fake.put(kind, _next_generation(obj, updated))
                self._send_json(200, _scale_of(stored))
                return
            updated = _merge(copy.deepcopy(obj), body)
            stored = self.fake.put(kind, _next_generation(obj, updated))
        self._send_json(200, stored)

    def do_DELETE(self) -> None:
        path, _, _ = self._record()
        route = self._route(path)
        if route is None or route[1] is None:
            self._status(404, "NotFound", "the server could not find the requested resource")
            return
        kind, name, _ = route
        controller = self.fake.controller
        with self.fake.lock:
            if kind == "Pod" and controller is not None and controller.grace > 0:
                obj = controller.terminate(name or "")  # Terminating for the grace period
            else:
                obj = self.fake.delete(kind, name or "")
        if obj is None:
            self._status(404, "NotFound", f'{KINDS[kind][1]} "{name}" not found')
        else:
            self._send_json(200, obj)

    # --- streams ------------------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _watch(self, kind: str, query: dict[str, list[str]],
               selector: list[tuple[str, str, str]]) -> None:
        since = query.get("resourceVersion", [""])[0]
        bookmarks = query.get("allowWatchBookmarks", [""])[0] in ("true", "True", "1")
        timeout = float(query.get("timeoutSeconds", ["1800"])[0])
        watcher = self.fake.open_watch(kind, since, bookmarks, selector)
        deadline = time.monotonic() + timeout
        self._start_chunked("application/json")
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    event = watcher.events.get(timeout=min(left, 0.2))
                except queue.Empty:
                    if self.fake._server is None:
                        return
                    continue
                if event is _CLOSE:
                    break
                self._chunk(json.dumps(event).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            return
        finally:
            self.fake.drop_watch(watcher)
            self.close_connection = True

    def _logs(self, pod: str, query: dict[str, list[str]]) -> None:
        obj = self.fake.objects["Pod"].get(pod)
        if obj is None:
            self._status(404, "NotFound", f'pods "{pod}" not found')
            return
        names = [c["name"] for c in obj["spec"]["containers"]]
        container = query.get("container", [""])[0]
        if not container and len(names) > 1:
            self._status(400, "BadRequest", f"a container name must be specified for pod "
                         f"{pod}, choose one of: [{' '.join(names)}]")
            return
        container = container or names[0]
        if container not in names:
            self._status(400, "BadRequest", f"container {container} is not valid for pod {pod}")
            return
        previous = query.get("previous", ["false"])[0] in ("true", "True")
        lines = self.fake.logs.get((pod, container, previous))
        if lines is None and container == names[0]:
            lines = self.fake.logs.get((pod, previous))
        if lines is None and previous:
            self._status(400, "BadRequest", f'previous terminated container "{container}" in '
                         f'pod "{pod}" not found')
            return
        lines = list(lines or [])
        if "tailLines" in query:
            lines = lines[-int(query["tailLines"][0]):] if int(query["tailLines"][0]) else []
        stamps = query.get("timestamps", ["false"])[0] in ("true", "True")
        shown = [line if stamps else line.partition(" ")[2] for line in lines]
        if query.get("follow", ["false"])[0] not in ("true", "True"):
            data = "".join(f"{s}\n" for s in shown).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        follower: queue.Queue[Any] = queue.Queue()
        with self.fake.lock:
            self.fake.log_followers.setdefault(pod, []).append(follower)
        self._start_chunked("text/plain")
        try:
            for s in shown:
                self._chunk(f"{s}\n".encode())
            while self.fake._server is not None:
                try:
                    line = follower.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._chunk(f"{line if stamps else line.partition(' ')[2]}\n".encode())
        except OSError:
            return
        finally:
            with self.fake.lock:
                self.fake.log_followers[pod].remove(follower)
            self.close_connection = True

    def _exec(self, pod: str, query: dict[str, list[str]]) -> None:
        """The websocket handshake, the output on channels 1/2, a Status on 3.

        The server picks the first subprotocol it speaks from the client's list (RFC 6455
        4.2.2; the apiserver's wsstream). With v5 (KEP-4006, 1.30+) it also sends the close
        signal (channel 255, then the closed channel's number) for stdout and stderr
        before the Status, as the stream translator does when the kubelet's streams end.
        """
        key = self.headers.get("Sec-WebSocket-Key", "")
        offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            self._status(400, "BadRequest", "Upgrade request required")
            return
        chosen = next((p for p in offered if p in self.fake.exec_protocols), "")
        if not chosen:
            self._status(400, "BadRequest", "no supported subprotocol offered")
            return
        obj = self.fake.objects["Pod"].get(pod)
        names = [c["name"] for c in obj["spec"]["containers"]] if obj else []
        container = query.get("container", [""])[0] or (names[0] if names else "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", chosen)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        argv = query.get("command", [])
        with self.fake.lock:
            self.fake.exec_protocol = chosen
            self.fake.exec_calls.append((pod, container, argv))
        if self.fake.exec_delay:
            time.sleep(self.fake.exec_delay)
        code, out, err = self.fake.exec_handler(pod, argv)
        status = code if isinstance(code, dict) else _exit_status(code)
        try:
            if out:
                self._ws_frame(2, b"\x01" + out.encode())
            if err:
                self._ws_frame(2, b"\x02" + err.encode())
            if chosen == "v5.channel.k8s.io":
                self._ws_frame(2, b"\xff\x01")
                self._ws_frame(2, b"\xff\x02")
            self._ws_frame(2, b"\x03" + json.dumps(status).encode())
            self._ws_frame(8, struct.pack(">H", 1000))
            self.connection.settimeout(1.0)
            self.rfile.read(2)  # the client's close frame (or nothing): then hang up
        except OSError:
            pass

    def _ws_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack(">H", n)
        else:
            header += bytes([127]) + struct.pack(">Q", n)
        self.wfile.write(header + payload)
        self.wfile.flush()


def _exit_status(code: int) -> dict:
    """What the kubelet sends on the error channel (metav1.Status), by exit code."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _next_generation(before: dict, after: dict) -> dict:
    """metadata.generation counts changes of the spec (not of metadata or status)."""
    if before.get("spec") != after.get("spec") and "generation" in after["metadata"]:
        after["metadata"]["generation"] = before["metadata"].get("generation", 1) + 1
    return after


def _merge(target: dict, patch: dict) -> dict:
    """JSON merge patch (RFC 7386); for the maps patched here, strategic merge is the same."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _scale_of(obj: dict) -> dict:
    """autoscaling/v1 Scale, what the scale subresource returns."""
    meta = obj["metadata"]
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "resourceVersion": meta["resourceVersion"]},
            "spec": {"replicas": obj["spec"].get("replicas")},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)}}


# --- real-shaped objects ------------------------------------------------------------------


def deployment(name: str, replicas: int = 1, ready: int | None = None, kind: str = "Deployment",
               image: str | None = None, labels: dict | None = None,
               annotations: dict | None = None, sidecar: str | None = None,
               default_container: str | None = None) -> dict:
    """apps/v1 Deployment (or StatefulSet) selecting pods labelled app=NAME; `sidecar`
    puts a container before the service's own (a mesh proxy), `default_container` sets
    the kubectl.kubernetes.io/default-container annotation on the pod template."""
    ready = replicas if ready is None else ready
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": replicas,
                              "updatedReplicas": replicas}
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    obj = {
        "metadata": {"name": name, "namespace": NS, "generation": 1,
                     "labels": {"app.kubernetes.io/name": name, **(labels or {})},
                     "annotations": dict(annotations or {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": name,
                                                  "image": image or f"vextrus/{name}:1.4.2"}]}},
        },
        "status": status,
    }
    template = obj["spec"]["template"]
    if sidecar:
        template["spec"]["containers"].insert(0, {"name": sidecar, "image": f"mesh/{sidecar}:1"})
    if default_container:
        template["metadata"]["annotations"] = {DEFAULT_CONTAINER: default_container}
    if kind == "StatefulSet":
        obj["spec"]["serviceName"] = name
    return obj


def pod(workload: str, suffix: str, *, phase: str = "Running", ready: bool = True,
        restarts: int = 0, waiting: tuple[str, str] | None = None,
        last_terminated: tuple[int, str, datetime] | None = None,
        started: datetime | None = None, sidecar: str | None = None,
        default_container: str | None = None) -> dict:
    """v1 Pod of a workload, with its container statuses shaped like the kubelet's."""
    started = started or datetime.now(UTC) - timedelta(hours=2)
    state: dict[str, Any]
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    elif phase == "Running":
        state = {"running": {"startedAt": stamp(started)}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    last: dict[str, Any] = {}
    if last_terminated:
        code, reason, finished = last_terminated
        last = {"terminated": {"exitCode": code, "reason": reason,
                               "startedAt": stamp(finished - timedelta(seconds=20)),
                               "finishedAt": stamp(finished), "containerID": "containerd://x"}}
    name = f"{workload}-{suffix}"
    made: dict[str, Any] = {
        "metadata": {"name": name, "namespace": NS, "labels": {"app": workload,
                                                                "pod-template-hash": "7d9f"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": f"{workload}-7d9f", "uid": "rs-uid",
                                          "controller": True}]},
        "spec": {"containers": [{"name": workload, "image": f"vextrus/{workload}:1.4.2"}],
                 "nodeName": "node-1"},
        "status": {
            "phase": phase,
            "startTime": stamp(started),
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{
                "name": workload, "ready": ready, "restartCount": restarts,
                "image": f"vextrus/{workload}:1.4.2", "imageID": "", "started": ready,
                "state": state, "lastState": last,
            }],
        },
    }
    if sidecar:
        made["spec"]["containers"].insert(0, {"name": sidecar, "image": f"mesh/{sidecar}:1"})
        made["status"]["containerStatuses"].insert(0, {
            "name": sidecar, "ready": True, "restartCount": 0, "image": f"mesh/{sidecar}:1",
            "imageID": "", "started": True, "state": {"running": {"startedAt": stamp(started)}},
            "lastState": {}})
    if default_container:
        made["metadata"]["annotations"] = {DEFAULT_CONTAINER: default_container}
    return made


def pod_from_template(owner: dict, name: str, labels: dict) -> dict:
    """A new pod as a controller makes it: the template's labels, annotations and
    containers, Pending in ContainerCreating until the kubelet starts it."""
    template = owner["spec"]["template"]
    containers = copy.deepcopy(template["spec"]["containers"])
    meta = template.get("metadata") or {}
    return {
        "metadata": {"name": name, "namespace": NS,
                     "labels": {**meta.get("labels", {}), **labels},
                     "annotations": dict(meta.get("annotations") or {}),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": owner["metadata"]["name"], "uid": "rs-uid",
                                          "controller": True}]},
        "spec": {"containers": containers, "nodeName": "node-1"},
        "status": {
            "phase": "Pending", "startTime": stamp(datetime.now(UTC)),
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": c["name"], "ready": False, "restartCount": 0, "image": c["image"],
                "imageID": "", "started": False,
                "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
            } for c in containers],
        },
    }


def event(pod_name: str, reason: str, message: str, count: int = 1,
          when: datetime | None = None, event_type: str = "Warning",
          involved_kind: str = "Pod") -> dict:
    """v1 Event (core), Warning unless told, about a pod unless told."""
    when = when or datetime.now(UTC) - timedelta(seconds=30)
    return {
        "metadata": {"name": f"{pod_name}.{abs(hash((reason, message))) % 10**12:x}",
                     "namespace": NS},
        "involvedObject": {"kind": involved_kind, "namespace": NS, "name": pod_name,
                           "apiVersion": "v1" if involved_kind == "Pod" else "apps/v1"},
        "reason": reason, "message": message, "type": event_type, "count": count,
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": stamp(when - timedelta(minutes=2)), "lastTimestamp": stamp(when),
    }


def hpa(target: str, current: int, desired: int, low: int, high: int, cpu_now: int,
        cpu_target: int = 70, limited: bool = False) -> dict:
    """autoscaling/v2 HorizontalPodAutoscaler on a Deployment, CPU utilisation metric."""
    conditions = [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                  {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"}]
    if limited:
        conditions.append({"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
                           "message": "the desired replica count is more than the maximum "
                                      "replica count"})
    return {
        "metadata": {"name": target, "namespace": NS},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "minReplicas": low, "maxReplicas": high,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization",
                                               "averageUtilization": cpu_target}}}]},
        "status": {"currentReplicas": current, "desiredReplicas": desired,
                   "currentMetrics": [{"type": "Resource", "resource": {
                       "name": "cpu", "current": {"averageUtilization": cpu_now,
                                                  "averageValue": "350m"}}}],
                   "conditions": conditions},
    }


def _pod_metrics_list(fake: FakeKubeAPI) -> dict:
    """A PodMetricsList as metrics-server serves it: only pods that exist now."""
    with fake.lock:
        pods = dict(fake.objects["Pod"])
        metrics = dict(fake.pod_metrics or {})
    items = [{"metadata": {"name": name, "namespace": fake.namespace,
                           "labels": (pods[name].get("metadata") or {}).get("labels", {})},
              "timestamp": stamp(datetime.now(UTC)), "window": "15s",
              "containers": [{"name": c, "usage": {"cpu": cpu, "memory": memory}}
                             for c, (cpu, memory) in containers.items()]}
             for name, containers in metrics.items() if name in pods]
    return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {}, "items": items}


def make_runtime(fake: FakeKubeAPI, tmp_path: Path, context: str = "dev-cluster",
                 allow_writes: bool = False, **settings: str) -> KubernetesRuntime:
    """A kubernetes runtime of the console pointed at this fake through a kubeconfig."""
    from console.model import KubernetesSettings
    from console.runtime.kubernetes.runtime import build_kubernetes_runtime

    config = fake.write_kubeconfig(tmp_path / "kubeconfig", context=context, namespace="vextrus")
    rt = build_kubernetes_runtime(KubernetesSettings(**settings), str(config),
                                  allow_writes=allow_writes)
    rt.sync_timeout = 5.0
    return rt
