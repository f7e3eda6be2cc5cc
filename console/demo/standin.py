"""A stand-in for one Vextrus service: its health endpoints, its dependencies, its logs.

    python -m console.demo.standin --name auth --port 23001 --health /health \\
        --dep postgres=127.0.0.1:25432 --dep redis=127.0.0.1:26379 \\
        --faults faults/auth.json

HTTP stand-ins (the NestJS services, Elasticsearch, MinIO, Prometheus, ...) answer their
counterpart's health paths like NestJS Terminus does: 200 `{"status":"ok","info":{...}}`
when every dependency's port accepts a connection, 503 with the failing ones otherwise,
and 404 for anything else. Redis and Kafka stand-ins speak just enough of their protocol
for the console's probes (PING/AUTH; ApiVersions v0). TCP stand-ins (PostgreSQL, ZooKeeper,
RabbitMQ, ...) accept connections and close them: enough for the demo stack's tcp checks.

It binds to `--bind`, or to the address the local runtime gave the service
(`VEXTRUS_LOOPBACK`), else 127.0.0.1. Misbehaviour comes from a JSON faults file read at
start, so "deploying a fix" is editing that file and restarting the service:

    {"crash_after": 0.3, "exit_code": 1, "reason": "graphql"}   crash: a restart loop
    {"no_health": true}                                         no health endpoint (404)

It exits by itself when its parent (the console) is gone, and on SIGTERM it shuts down
the way Nest does. Standard library only: 37 of these start in about a second.

`python -m console.demo.standin tctl cluster health --address HOST:PORT` is the
admin-tools container's `tctl cluster health`: SERVING when Temporal's port answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import struct
import sys
from datetime import datetime
from pathlib import Path

from console.demo import apis

ENV_PARENT = "VEXTRUS_PARENT_PID"
ENV_LOOPBACK = "VEXTRUS_LOOPBACK"
DEP_TIMEOUT_S = 0.5
PARENT_POLL_S = 0.5
HEARTBEAT_S = 15.0

CRASHES = {
    "graphql": [
        "[GraphQLModule] Mapping GraphQL schema (ApolloFederationDriver)",
        "ERROR [ExceptionHandler] Schema must contain uniquely named types but contains "
        "multiple types named \"Configuration\".",
        "Error: Schema must contain uniquely named types but contains multiple types named "
        "\"Configuration\".",
        "    at GraphQLFederationFactory.mergeWithSchema "
        "(@nestjs/graphql/dist/federation/graphql-federation.factory.js:63:19)",
        "    at ApolloFederationDriver.start (@nestjs/apollo/dist/drivers/"
        "apollo-federation.driver.js:22:46)",
    ],
}


# --- logging in the counterpart's style ---------------------------------------------------


class Log:
    def __init__(self, name: str, flavor: str) -> None:
        self.name, self.flavor, self.pid = name, flavor, os.getpid()

    def line(self, text: str, level: str = "LOG", context: str = "") -> None:
        now = datetime.now()
        if self.flavor == "nest":
            stamp = now.strftime("%m/%d/%Y, %I:%M:%S %p").replace(" 0", " ")
            ctx = f"[{context or self.name}] "
            out = f"[Nest] {self.pid}  - {stamp}  {level:>7} {ctx}{text}"
        elif self.flavor == "postgres":
            out = f"{now:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" UTC [{self.pid}] {level}:  {text}"
        elif self.flavor == "redis":
            out = f"{self.pid}:M {now:%d %b %Y %H:%M:%S.%f}"[:-3] + f" * {text}"
        elif self.flavor in ("kafka", "zookeeper"):
            out = f"[{now:%Y-%m-%d %H:%M:%S,%f}"[:-3] + f"] {level if level != 'LOG' else 'INFO'}" \
                  f" {text} ({context or self.name})"
        else:
            out = json.dumps({"time": now.isoformat(timespec="milliseconds"),
                              "level": "info" if level == "LOG" else level.lower(),
                              "service": self.name, "msg": text})
        stream = sys.stderr if level in ("ERROR", "FATAL") else sys.stdout
        with contextlib.suppress(OSError, ValueError):
            print(out, file=stream, flush=True)


BANNERS = {
    "postgres": ["database system was shut down at {now}", "database system is ready to accept "
                 "connections"],
    "redis": ["Redis version=7.2.4, bits=64, commit=00000000, modified=0, pid={pid}, just started",
              "Ready to accept connections tcp"],
    "zookeeper": ["binding to port {bind}:{port}", "Started AdminServer on address 0.0.0.0, "
                  "port 8080"],
    "kafka": ["Registered broker 1 at path /brokers/ids/1", "[KafkaServer id=1] started"],
    "generic": ["{name} listening on {bind}:{port}"],
}


# --- the server -----------------------------------------------------------------------------


class StandIn:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.name = args.name
        self.log = Log(args.name, args.flavor)
        self.bind = args.bind or os.environ.get(ENV_LOOPBACK) or "127.0.0.1"
        self.faults = _read_faults(args.faults)
        self.deps = [_parse_dep(d) for d in args.dep]
        self.health = [] if self.faults.get("no_health") else list(args.health)
        self.servers: list[asyncio.base_events.Server] = []
        self.api = apis.ApiConfig(
            args.name, self.faults, scrape=[_parse_dep(d) for d in args.scrape],
            traced=[_parse_dep(d) for d in args.trace],
            grafana_token=os.environ.get(apis.GRAFANA_TOKEN_ENV, ""), compose=args.compose or "")
        self.topics = list(args.topic)
        self.worker: asyncio.subprocess.Process | None = None
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        self._banner()
        handler = {"http": self._http, "redis": self._redis,
                   "kafka": self._kafka}.get(self.args.kind, self._tcp)
        for port in [*self.args.port, *self.args.http_port]:
            serve = self._http if port in self.args.http_port else handler
            try:
                server = await asyncio.start_server(serve, self.bind, port, reuse_address=True)
            except OSError as exc:
                self.log.line(f"listen EADDRINUSE: address already in use {self.bind}:{port} "
                              f"({exc.strerror})", "ERROR")
                return 1
            self.servers.append(server)
        self._started()
        tasks = [asyncio.ensure_future(self._watch_parent()),
                 asyncio.ensure_future(self._heartbeat())]
        if self.args.worker_module:
            tasks.append(asyncio.ensure_future(self._run_worker()))
        crash_after = self.faults.get("crash_after")
        code = 0
        try:
            if isinstance(crash_after, int | float):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), float(crash_after))
                if not self.stopping.is_set():
                    return self._crash()
            await self.stopping.wait()
            self.log.line("Received SIGTERM, shutting down gracefully", context="NestApplication")
        finally:
            for task in tasks:
                task.cancel()
            for server in self.servers:
                server.close()
            if self.worker is not None and self.worker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.worker.terminate()
        return code

    def _banner(self) -> None:
        if self.args.flavor == "nest":
            self.log.line("Starting Nest application...", context="NestFactory")
            for module in ("AppModule", "ConfigModule", "TypeOrmModule", "TerminusModule"):
                self.log.line(f"{module} dependencies initialized", context="InstanceLoader")
            return
        port = self.args.port[0] if self.args.port else "-"
        for text in BANNERS.get(self.args.flavor, BANNERS["generic"]):
            self.log.line(text.format(now=datetime.now().isoformat(timespec="seconds"),
                                      pid=os.getpid(), bind=self.bind, port=port,
                                      name=self.name))

    def _started(self) -> None:
        if self.args.flavor != "nest":
            return
        for path in self.health:
            self.log.line(f"Mapped {{{path}, GET}} route", context="RouterExplorer")
        if not self.health:
            self.log.line("no HealthController registered: GET /health is not mapped",
                          "WARN", context="RoutesResolver")
        ports = ", ".join(f"{self.bind}:{p}" for p in self.args.port) or "(no port)"
        self.log.line(f"Nest application successfully started on {ports}",
                      context="NestApplication")

    def _crash(self) -> int:
        lines = CRASHES.get(str(self.faults.get("reason", "")), ["Unhandled exception"])
        for i, text in enumerate(lines):
            self.log.line(text, "ERROR" if i else "LOG",
                          context="ExceptionHandler" if i else "GraphQLModule")
        code = self.faults.get("exit_code", 1)
        return code if isinstance(code, int) and 0 < code < 256 else 1

    async def _watch_parent(self) -> None:
        expected = os.environ.get(ENV_PARENT, "")
        if not expected.isdigit():
            return
        while True:
            await asyncio.sleep(PARENT_POLL_S)
            if os.getppid() != int(expected):
                self.log.line("parent process gone: exiting", "WARN")
                self.stopping.set()
                return

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            states = await self._dep_states()
            if states:
                words = ", ".join(f"{n}: {'up' if ok else 'down'}" for n, (ok, _) in
                                  states.items())
                self.log.line(f"health indicators: {words}", context="HealthCheckService")

    async def _run_worker(self) -> None:
        """The workflow service runs the seeds' workflows worker once Temporal answers.

        Address, namespace and task queue come from the service's environment
        (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE), as in the real
        service. With `--seed-module`, a handful of workflows is started once the worker
        polls, so the console's workflows screen has real executions to show.
        """
        temporal = [d for d in self.deps if d[0] == "temporal"]
        while temporal and not (await _port_open(temporal[0][1], temporal[0][2]))[0]:
            await asyncio.sleep(1.0)
        where = [f"--{key}={os.environ[env]}" for key, env in (
            ("address", "TEMPORAL_ADDRESS"), ("namespace", "TEMPORAL_NAMESPACE"),
            ("task-queue", "TEMPORAL_TASK_QUEUE")) if os.environ.get(env)]
        self.log.line(f"starting Temporal worker ({self.args.worker_module})",
                      context="TemporalWorker")
        try:
            self.worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.args.worker_module, *where,
                stdout=None, stderr=None, stdin=asyncio.subprocess.DEVNULL)
            if self.args.seed_module:
                await self._seed(where)
            code = await self.worker.wait()
            self.log.line(f"Temporal worker exited with code {code}", "WARN",
                          context="TemporalWorker")
        except OSError as exc:
            self.log.line(f"cannot start the Temporal worker: {exc}", "ERROR")

    async def _seed(self, where: list[str]) -> None:
        seeder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.args.seed_module, *where,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL)
        _, err = await seeder.communicate()
        if seeder.returncode == 0:
            self.log.line("seeded the demo's workflows", context="TemporalWorker")
        else:
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            self.log.line(f"seeding workflows failed: {last[0][:200]}", "WARN",
                          context="TemporalWorker")

    # connections -----------------------------------------------------------------------------

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(reader.read(1024), 0.2)
        await _close(writer)

    async def _redis(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Enough RESP for a health check: PING -> +PONG, AUTH -> +OK, anything else -ERR."""
        try:
            while command := await asyncio.wait_for(_read_resp(reader), 30):
                word = command[0].upper()
                reply = {b"PING": b"+PONG\r\n", b"AUTH": b"+OK\r\n", b"QUIT": b"+OK\r\n"}.get(
                    word, b"-ERR unknown command '" + word[:32] + b"'\r\n")
                writer.write(reply)
                await writer.drain()
                if word == b"QUIT":
                    break
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            await _close(writer)

    async def _kafka(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """ApiVersions (key 18) v0, a broker's first answer, and Metadata (key 3) v0 with the
        demo's topics; requests on one connection are answered in order, as a broker does."""
        try:
            while True:
                size = struct.unpack(">i", await asyncio.wait_for(reader.readexactly(4), 5))[0]
                if not 8 <= size <= 1 << 16:
                    return
                request = await asyncio.wait_for(reader.readexactly(size), 5)
                api_key, _version, correlation = struct.unpack(">hhi", request[:8])
                if api_key == 3:
                    body = metadata_v0(correlation, self.bind, self.args.port[0], self.topics)
                else:
                    error = 0 if api_key == 18 else 35
                    keys = [(0, 0, 9), (1, 0, 13), (3, 0, 12), (18, 0, 3)]
                    body = struct.pack(">ihi", correlation, error, len(keys)) + b"".join(
                        struct.pack(">hhh", *k) for k in keys)
                writer.write(struct.pack(">i", len(body)) + body)
                await writer.drain()
        except (OSError, TimeoutError, struct.error, asyncio.IncompleteReadError):
            pass
        finally:
            await _close(writer)

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            first, *lines = head.decode("latin-1").split("\r\n")
            method, target = ([*first.split(), "", ""])[:2]
            path, _, query = target.partition("?")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines if ":" in line)}
            response = await apis.answer(self.api, method, path, query, headers, _port_open)
            if response is None:
                status, body = await self._route(method, path)
                response = apis.json_response(body, status)
            apis.count(self.api, path, response.status)
            writer.write(_http_bytes(response))
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            await _close(writer)

    async def _route(self, method: str, path: str) -> tuple[int, dict[str, object]]:
        if method != "GET" or path not in self.health:
            return 404, {"statusCode": 404, "message": f"Cannot {method} {path}",
                         "error": "Not Found"}
        states = await self._dep_states()
        info = {n: {"status": "up"} for n, (ok, _) in states.items() if ok}
        error = {n: {"status": "down", "message": why} for n, (ok, why) in states.items()
                 if not ok}
        details = {**info, **error}
        if error:
            return 503, {"status": "error", "info": info, "error": error, "details": details}
        return 200, {"status": "ok", "service": self.name, "info": info, "error": {},
                     "details": details}

    async def _dep_states(self) -> dict[str, tuple[bool, str]]:
        results = await asyncio.gather(*(_port_open(h, p) for _, h, p in self.deps))
        return {name: r for (name, _, _), r in zip(self.deps, results, strict=True)}


def metadata_v0(correlation_id: int, host: str, port: int, topics: list[str]) -> bytes:
    """Metadata response v0 (Kafka protocol guide): one broker (node 1), each topic one
    partition led by it, replicas and ISR [1]."""
    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack(">h", len(raw)) + raw

    body = struct.pack(">i", correlation_id)
    body += struct.pack(">ii", 1, 1) + string(host) + struct.pack(">i", port)
    body += struct.pack(">i", len(topics))
    for name in topics:
        body += struct.pack(">h", 0) + string(name) + struct.pack(">i", 1)
        body += struct.pack(">hii", 0, 0, 1) + struct.pack(">ii", 1, 1) + struct.pack(">ii", 1, 1)
    return body


REASONS = {200: "OK", 204: "No Content", 302: "Found", 401: "Unauthorized", 404: "Not Found",
           503: "Service Unavailable"}


def _http_bytes(response: apis.Response) -> bytes:
    head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, '')}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}", "Connection: close",
            *(f"{k}: {v}" for k, v in response.headers)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body


async def _port_open(host: str, port: int) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), DEP_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        why = "ECONNREFUSED" if isinstance(exc, ConnectionRefusedError) else "ETIMEDOUT"
        return False, f"connect {why} {host}:{port}"
    await _close(writer)
    return True, ""


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _read_resp(reader: asyncio.StreamReader) -> list[bytes]:
    """One command: a RESP array of bulk strings, or an inline command line."""
    line = (await reader.readuntil(b"\r\n"))[:-2]
    if not line.startswith(b"*"):
        return line.split() or [b""]
    count = int(line[1:])
    if not 0 < count <= 64:
        raise ValueError("bad RESP array")
    parts = []
    for _ in range(count):
        head = (await reader.readuntil(b"\r\n"))[:-2]
        length = int(head[1:]) if head.startswith(b"$") else -1
        if not 0 <= length <= 1 << 16:
            raise ValueError("bad RESP bulk string")
        parts.append((await reader.readexactly(length + 2))[:-2])
    return parts


def _parse_dep(text: str) -> tuple[str, str, int]:
    name, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    if not name or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"standin: --dep {text!r}: expected NAME=HOST:PORT")
    return name, host, int(port)


def _read_faults(path: str | None) -> dict[str, object]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        print(f"standin: faults file {path}: {exc}", file=sys.stderr)
        return {}
    return data if isinstance(data, dict) else {}


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port: {text!r}")
    return int(text)


def tctl(argv: list[str]) -> int:
    """`tctl cluster health`: SERVING when the frontend's port accepts a connection."""
    parser = argparse.ArgumentParser(prog="tctl")
    parser.add_argument("words", nargs="*")
    parser.add_argument("--address", default=os.environ.get("TEMPORAL_ADDRESS",
                                                            "127.0.0.1:7233"))
    args = parser.parse_args(argv)
    host, _, port = args.address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            print("temporal.api.workflowservice.v1.WorkflowService: SERVING")
            return 0
    except (OSError, ValueError) as exc:
        print(f"Error: Unable to get cluster health: connection error: {exc}")
        return 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["tctl"]:
        return tctl(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m console.demo.standin")
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=_port, action="append", default=[])
    parser.add_argument("--bind", default=None)
    parser.add_argument("--kind", choices=("http", "tcp", "redis", "kafka", "idle"), default="http")
    parser.add_argument("--health", action="append", default=[], metavar="PATH")
    parser.add_argument("--dep", action="append", default=[], metavar="NAME=HOST:PORT")
    parser.add_argument("--faults", default=None, metavar="FILE")
    parser.add_argument("--flavor", default="nest")
    parser.add_argument("--worker-module", default=None)
    parser.add_argument("--seed-module", default=None)
    parser.add_argument("--http-port", type=_port, action="append", default=[],
                        help="a port that speaks HTTP whatever --kind says (a management UI)")
    parser.add_argument("--scrape", action="append", default=[], metavar="JOB=HOST:PORT",
                        help="prometheus: a scrape target")
    parser.add_argument("--trace", action="append", default=[], metavar="NAME=HOST:PORT",
                        help="jaeger: a service that sends traces while its port answers")
    parser.add_argument("--compose", default=None, metavar="FILE",
                        help="traefik: the compose file whose labels configure its routers")
    parser.add_argument("--topic", action="append", default=[], metavar="NAME",
                        help="kafka: a topic in the Metadata answer")
    args = parser.parse_args(argv)
    if args.kind == "idle":
        args.port = []
    return asyncio.run(StandIn(args).run())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
