"""Loopback servers for the readiness tests: a real Prometheus, and faithful stand-ins.

Prometheus is the real one (Debian's `prometheus`), scraping a loopback `/metrics`
endpoint. Grafana's `/api/search`, Jaeger's `/api/services`, admin UIs and a gateway's CORS
answers are stand-ins that answer in the documented shapes (Grafana HTTP API "Search",
Jaeger query service `/api/services` as its UI calls it); a Kafka stand-in answers the
Metadata v0 request of the Kafka protocol guide.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Route = tuple[int, dict[str, str], bytes]


def free_low_port() -> int:
    """A free loopback port below the ephemeral range (listeners there race outgoing ones)."""
    start = random.randrange(21000, 31000)
    for port in range(start, 32000, 7):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32000")


class _Handler(BaseHTTPRequestHandler):
    routes: dict[tuple[str, str], Route] = {}

    def _answer(self, method: str) -> None:
        path = self.path.split("?")[0]
        status, headers, body = self.routes.get((method, path), (404, {}, b"not found"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_OPTIONS(self) -> None:
        self._answer("OPTIONS")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_stand_in(routes: dict[tuple[str, str], Route]) -> Iterator[int]:
    """Serve fixed answers on a loopback port; yields the port."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    port = free_low_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def json_route(data: object, status: int = 200) -> Route:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


METRICS = b"# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 42\n"


class PrometheusServer:
    """The real Prometheus on loopback, scraping given targets every second."""

    def __init__(self, targets: dict[str, int], rules: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vx-prom-"))
        self.port = free_low_port()
        (self.dir / "rules.yml").write_text(rules)
        jobs = "".join(f"  - job_name: {job}\n    static_configs:\n"
                       f"      - targets: ['127.0.0.1:{port}']\n"
                       for job, port in targets.items())
        (self.dir / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files: [rules.yml]\nscrape_configs:\n" + jobs)
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> tuple[bool, str]:
        found = shutil.which("prometheus")
        return (found is not None, "prometheus not installed (apt-get install prometheus)")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.dir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, ok: object, timeout: float = 30) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/targets").json()
                if callable(ok) and ok(data["data"]["activeTargets"]):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise AssertionError("Prometheus never reached the expected targets")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _metadata_response(correlation_id: int, topics: list[tuple[str, int]]) -> bytes:
    """Metadata v0: one broker; each topic one partition with `leader` (-1: none)."""
    def string(s: str) -> bytes:
        return struct.pack(">h", len(s)) + s.encode()

    body = struct.pack(">i", correlation_id)
    body += struct.pack(">i", 1) + struct.pack(">i", 1) + string("127.0.0.1") + \
        struct.pack(">i", 9092)
    body += struct.pack(">i", len(topics))
    for name, leader in topics:
        body += struct.pack(">h", 0) + string(name) + struct.pack(">i", 1)
        body += struct.pack(">hii", 0, 0, leader) + struct.pack(">ii", 1, 1) + \
            struct.pack(">ii", 1, 1)
    return struct.pack(">i", len(body)) + body


@contextmanager
def kafka_stand_in(topics: list[tuple[str, int]]) -> Iterator[int]:
    port = free_low_port()
    listener = socket.create_server(("127.0.0.1", port))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                size = struct.unpack(">i", conn.recv(4))[0]
                request = b""
                while len(request) < size:
                    request += conn.recv(size - len(request))
                api_key, _version, correlation = struct.unpack_from(">hhi", request)
                assert api_key == 3  # Metadata
                conn.sendall(_metadata_response(correlation, topics))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(2)
        listener.close()
