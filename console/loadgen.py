"""An open-loop HTTP load generator: constant arrival rate, latency from the intended send time.

Why open loop: a closed-loop tool (each user waits for its answer before sending again) sends
less when the server slows down, so the slow moments are under-sampled and the percentiles
look better than what users see ("coordinated omission"). Here request *i* is due at
`start + i / rate` whatever happens; when every connection is busy it waits in a backlog, and
its latency is measured from when it was due, so queueing behind a slow server counts.

`--users N` (no rate) is the closed-loop k6 style: N connections sending back to back, as
fast as the server answers; the result says which mode it was.

The client is asyncio Protocols on keep-alive HTTP/1.1 connections with no task per request,
so one Python core sustains thousands of requests a second (bench/load.py measures it next
to wrk). Latencies go into a log-linear histogram (HDR style: 128 linear steps per power of
two, under 1% relative error) that is cheap to read while the run goes on.

Targets are bounded: loopback addresses only (127.0.0.0/8, ::1, `localhost`), at most
MAX_RATE requests a second for at most MAX_DURATION seconds. No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import re
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from console.model import Stack

T = TypeVar("T")
MAX_RATE = 20_000.0
MAX_DURATION = 600.0
MAX_CONNECTIONS = 512
MAX_USERS = 1000
DEFAULT_TIMEOUT = 5.0
SUB_BUCKETS = 128  # linear steps per power of two: relative error under 1/128
SCHEMA = 1


class LoadError(Exception):
    """A load run cannot start; str() is one line for the operator."""


# --- targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An HTTP endpoint on this machine's loopback."""

    host: str
    port: int
    path: str = "/"
    service: str = ""  # the stack service it belongs to, when named that way

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


def _loopback_host(host: str, what: str) -> str:
    if host.lower() == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise LoadError(f"{what}: {host!r} is not an IP address on loopback "
                        "(names are refused: load only goes to this machine)") from None
    if not addr.is_loopback:
        raise LoadError(f"{what}: {addr} is not a loopback address (127.0.0.0/8, ::1): "
                        "load tests only go to the stack's services on this machine")
    return str(addr)


def parse_target(url: str) -> Target:
    """`http://127.0.0.1:3000/health` -> Target; anything off loopback is refused."""
    parts = urlsplit(url.strip())
    if parts.scheme != "http":
        raise LoadError(f"target: {url!r}: only http:// URLs are supported")
    if not parts.hostname:
        raise LoadError(f"target: {url!r} has no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise LoadError(f"target: {url!r} has a bad port") from None
    host = _loopback_host(parts.hostname, "target")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    if any(c in path for c in "\r\n ") or not path.isascii():
        raise LoadError(f"target: {url!r}: the path must be plain ASCII without spaces")
    return Target(host, port, path)


def target_for_service(stack: Stack, name: str) -> Target:
    """The service's first host HTTP check (its health endpoint), on loopback."""
    if name not in stack:
        raise LoadError(f"unknown service {name!r} (not in {stack.source})")
    service = stack.service(name)
    for check in service.checks:
        if check.kind == "http" and check.where == "host" and check.port:
            host = _loopback_host(check.host, f"{name}'s http check")
            return Target(host, check.port, check.path or "/", service=name)
    raise LoadError(f"{name}: no http check to aim at; give a URL instead")


def resolve_target(stack: Stack | None, text: str) -> Target:
    """A URL, or the name of a service of the stack."""
    if "://" in text:
        return parse_target(text)
    if stack is None:
        raise LoadError(f"{text!r} is not a URL and there is no stack to look it up in")
    return target_for_service(stack, text)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def parse_duration(text: str) -> float:
    """`30s`, `2m`, `500ms` or a plain number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise LoadError(f"duration: {text!r} is not a duration (e.g. 30s, 2m, 500ms)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


# --- the histogram ------------------------------------------------------------------------


class Histogram:
    """Log-linear buckets over microseconds: exact below 256 µs, then 128 steps per octave."""

    def __init__(self) -> None:
        self.counts: list[int] = [0] * (2 * SUB_BUCKETS + 48 * SUB_BUCKETS)
        self._last = len(self.counts) - 1
        self.count = 0
        self.max_us = 0
        self.total_us = 0

    @staticmethod
    def index(us: int) -> int:
        if us < 2 * SUB_BUCKETS:
            return us
        shift = us.bit_length() - 8  # keeps the top 8 bits: 128..255
        return 2 * SUB_BUCKETS + (shift - 1) * SUB_BUCKETS + ((us >> shift) - SUB_BUCKETS)

    @staticmethod
    def value_at(index: int) -> float:
        """The middle of a bucket, in µs."""
        if index < 2 * SUB_BUCKETS:
            return float(index)
        rest = index - 2 * SUB_BUCKETS
        shift, mantissa = rest // SUB_BUCKETS + 1, rest % SUB_BUCKETS + SUB_BUCKETS
        low = mantissa << shift
        return low + ((1 << shift) - 1) / 2

    def record(self, seconds: float) -> None:
        """Hot path (three calls a request): the index inlined, no min kept."""
        us = int(seconds * 1_000_000)
        if us < 2 * SUB_BUCKETS:
            i = us if us > 0 else 0
        else:
            shift = us.bit_length() - 8
            i = (shift + 1) * SUB_BUCKETS + (us >> shift) - SUB_BUCKETS
            if i >= self._last:
                i = self._last
        self.counts[i] += 1
        self.count += 1
        self.total_us += us
        if us > self.max_us:
            self.max_us = us

    def percentile(self, p: float) -> float:
        """The value (ms) below which p percent of the recorded values fall (0 if empty)."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(p / 100 * self.count))
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(self.value_at(i), float(self.max_us)) / 1000
        return self.max_us / 1000

    def percentiles(self, ps: tuple[float, ...] = (50, 90, 95, 99)) -> dict[str, float]:
        """Several percentiles in one pass (ms), keyed `p50`, `p90`..."""
        out: dict[str, float] = {}
        if self.count == 0:
            return {f"p{p:g}": 0.0 for p in ps}
        ranks = [(max(1, math.ceil(p / 100 * self.count)), p) for p in sorted(ps)]
        seen, k = 0, 0
        for i, n in enumerate(self.counts):
            seen += n
            while k < len(ranks) and seen >= ranks[k][0]:
                out[f"p{ranks[k][1]:g}"] = min(self.value_at(i), float(self.max_us)) / 1000
                k += 1
            if k == len(ranks):
                break
        return out

    def merge(self, other: Histogram) -> Histogram:
        """Add another histogram's counts (a worker process's) into this one."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.count += other.count
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)
        return self

    @property
    def mean_ms(self) -> float:
        return self.total_us / self.count / 1000 if self.count else 0.0


# --- thresholds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """One pass/fail rule from the seeds, e.g. `p95 < 300 ms`."""

    metric: str  # p50, p90, p95, p99, max (ms), throughput (req/s), error_rate (%)
    op: Literal["<", ">"]
    limit: float
    unit: str

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.limit:g} {self.unit}".rstrip()

    def judge(self, value: float) -> bool:
        return value < self.limit if self.op == "<" else value > self.limit


# Seed 002: k6 `http_req_duration: ['p(95)<300']` and the checklist's "Throughput > 1000 req/s".
SEED_THRESHOLDS = (Threshold("p95", "<", 300, "ms"), Threshold("throughput", ">", 1000, "req/s"))


# --- the run's description and result ------------------------------------------------------


Mode = Literal["open", "closed"]


@dataclass(frozen=True)
class LoadSpec:
    """What to run: open loop at `rate`, or closed loop with `users` connections."""

    target: Target
    duration: float = 30.0
    rate: float | None = None
    users: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_connections: int = 256  # open loop: connections opened on demand up to this
    thresholds: tuple[Threshold, ...] = SEED_THRESHOLDS

    def __post_init__(self) -> None:
        if (self.rate is None) == (self.users is None):
            raise LoadError("give either a rate (open loop) or a number of users, not both")
        if self.rate is not None and not 0 < self.rate <= MAX_RATE:
            raise LoadError(f"--rate: {self.rate:g} is out of range (0 < rate <= {MAX_RATE:g})")
        if self.users is not None and not 0 < self.users <= MAX_USERS:
            raise LoadError(f"--users: {self.users} is out of range (1-{MAX_USERS})")
        if not 0 < self.duration <= MAX_DURATION:
            raise LoadError(f"--duration: {self.duration:g}s is out of range "
                            f"(0 < duration <= {MAX_DURATION:g}s)")
        if not 0 < self.timeout <= 60:
            raise LoadError(f"--timeout: {self.timeout:g}s is out of range (0-60 s)")
        if not 0 < self.max_connections <= MAX_CONNECTIONS:
            raise LoadError(f"connections: {self.max_connections} is out of range "
                            f"(1-{MAX_CONNECTIONS})")

    @property
    def mode(self) -> Mode:
        return "open" if self.rate is not None else "closed"

    def describe(self) -> str:
        how = (f"{self.rate:g} req/s open loop" if self.rate is not None
               else f"{self.users} users closed loop")
        return f"{self.target.url} · {how} · {self.duration:g}s"


@dataclass(frozen=True)
class LoadSnapshot:
    """The run so far, for a live view."""

    elapsed: float
    planned: int  # requests due so far (open loop) or sent (closed loop)
    completed: int
    ok: int
    errors: dict[str, int]
    throughput: float  # responses a second over the last tick
    latency_ms: dict[str, float]
    in_flight: int
    backlog: int
    connections: int
    duration: float

    @property
    def fraction(self) -> float:
        return min(1.0, self.elapsed / self.duration) if self.duration else 1.0


@dataclass(frozen=True)
class Verdict:
    threshold: str
    value: float
    passed: bool


@dataclass
class LoadResult:
    """The outcome; `to_dict()` is the stable JSON (schema 1) a scorecard reads."""

    target: str
    service: str
    mode: Mode
    rate: float | None
    users: int | None
    duration_s: float
    started_at: str
    elapsed_s: float
    requests: int
    ok: int
    errors: dict[str, int]
    throughput_rps: float
    latency_ms: dict[str, float]
    verdicts: list[Verdict] = field(default_factory=list)
    cancelled: bool = False
    connections: int = 0
    service_ms: dict[str, float] = field(default_factory=dict)  # from the actual send
    send_lag_ms: dict[str, float] = field(default_factory=dict)  # actual send - intended

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        return self.error_count / self.requests if self.requests else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts) and not self.cancelled

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdicts"] = [asdict(v) for v in self.verdicts]
        return {"schema": SCHEMA, "kind": "load", **data, "error_rate": round(self.error_rate, 6),
                "passed": self.passed}

    def lines(self) -> list[str]:
        """The human summary, one fact a line."""
        lat = self.latency_ms
        how = (f"{self.rate:g} req/s open loop" if self.mode == "open"
               else f"{self.users} users closed loop")
        out = [
            f"load {self.target} · {how} · {self.elapsed_s:.1f}s"
            + (" · cancelled" if self.cancelled else ""),
            f"requests {self.requests}  ok {self.ok}  errors {self.error_count} "
            f"({self.error_rate:.1%})  throughput {self.throughput_rps:.0f} req/s",
            "latency  " + "  ".join(f"{k} {lat.get(k, 0):.1f} ms"
                                    for k in ("p50", "p90", "p95", "p99", "max")),
        ]
        if self.service_ms:
            out.append("service  " + "  ".join(f"{k} {self.service_ms.get(k, 0):.1f} ms"
                                                for k in ("p50", "p95", "p99"))
                       + "  (from the actual send)")
        lag = self.send_lag_ms.get("p99", 0.0)
        if self.mode == "open" and lag > max(5.0, 0.1 * lat.get("p50", 0)):
            out.append(f"note     requests left up to {lag:.1f} ms late (p99): every "
                       "connection was busy or this machine was short of CPU; the latency "
                       "above counts the wait, the service time does not")
        if self.errors:
            out.append("errors   " + ", ".join(f"{k}: {n}" for k, n in
                                                sorted(self.errors.items(), key=lambda kv: -kv[1])))
        for v in self.verdicts:
            out.append(f"{'PASS' if v.passed else 'FAIL'} {v.threshold} (measured {v.value:.1f})")
        return out


@dataclass
class Tally:
    """A run's raw counts: what a worker process sends back, and what adds up across them."""

    latency: Histogram
    service: Histogram
    lag: Histogram
    errors: dict[str, int]
    ok: int
    responses: int
    planned: int
    connections: int  # opened over the run
    elapsed: float  # from the start to the last answer
    in_flight: int = 0
    backlog: int = 0
    open_connections: int = 0

    def merge(self, other: Tally) -> Tally:
        errors = dict(self.errors)
        for kind, n in other.errors.items():
            errors[kind] = errors.get(kind, 0) + n
        return Tally(
            _copy(self.latency).merge(other.latency), _copy(self.service).merge(other.service),
            _copy(self.lag).merge(other.lag), errors, self.ok + other.ok,
            self.responses + other.responses, self.planned + other.planned,
            self.connections + other.connections, max(self.elapsed, other.elapsed),
            self.in_flight + other.in_flight, self.backlog + other.backlog,
            self.open_connections + other.open_connections)


def _copy(hist: Histogram) -> Histogram:
    out = Histogram()
    return out.merge(hist)


def snapshot_of(spec: LoadSpec, tally: Tally, elapsed: float, throughput: float
                ) -> LoadSnapshot:
    return LoadSnapshot(
        elapsed=elapsed, planned=tally.planned, completed=tally.responses, ok=tally.ok,
        errors=dict(tally.errors), throughput=throughput,
        latency_ms={**tally.latency.percentiles(), "max": tally.latency.max_us / 1000},
        in_flight=tally.in_flight, backlog=tally.backlog,
        connections=tally.open_connections, duration=spec.duration,
    )


def result_of(spec: LoadSpec, tally: Tally, started_at: str, cancelled: bool) -> LoadResult:
    """The result and the thresholds' verdicts from the counts."""
    elapsed = max(tally.elapsed, 1e-9)
    errors = dict(tally.errors)
    requests = tally.responses + sum(n for k, n in errors.items() if not k.startswith("HTTP "))
    hist = tally.latency
    latency = {**hist.percentiles(), "max": hist.max_us / 1000, "mean": hist.mean_ms}
    throughput = tally.responses / elapsed
    values = {**latency, "throughput": throughput,
              "error_rate": 100 * (sum(errors.values()) / requests if requests else 0)}
    answered = hist.count > 0  # no answer at all fails a latency rule, not passes it
    verdicts = [Verdict(t.text, round(values.get(t.metric, 0.0), 3),
                        t.judge(values.get(t.metric, 0.0))
                        and (answered or t.metric in ("throughput", "error_rate")))
                for t in spec.thresholds]
    t = spec.target
    return LoadResult(
        target=t.url, service=t.service, mode=spec.mode, rate=spec.rate,
        users=spec.users, duration_s=spec.duration, started_at=started_at,
        elapsed_s=round(elapsed, 3), requests=requests, ok=tally.ok, errors=errors,
        throughput_rps=round(throughput, 1), latency_ms=_rounded(latency),
        verdicts=verdicts, cancelled=cancelled, connections=tally.connections,
        service_ms=_rounded({**tally.service.percentiles(), "max": tally.service.max_us / 1000}),
        send_lag_ms=_rounded({**tally.lag.percentiles((50, 99)), "max": tally.lag.max_us / 1000}),
    )


# --- the HTTP/1.1 connection ----------------------------------------------------------------


class _Conn(asyncio.Protocol):
    """One keep-alive connection, one request at a time; parses just enough HTTP/1.1."""

    def __init__(self, run: LoadGenerator) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.intended = 0.0  # when the request in flight was due
        self.sent_at = 0.0
        self.busy = False
        self.closed = False
        self._status = 0
        self._body_start = -1
        self._length = -1  # -1 unknown, -2 chunked, -3 until close
        self._close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, intended: float, now: float) -> None:
        assert self.transport is not None
        self.busy, self.intended, self.sent_at = True, intended, now
        self._status, self._body_start, self._length = 0, -1, -1
        self.transport.write(self.run.request_bytes)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.busy:
            self._parse()

    def _parse(self) -> None:
        if self._body_start < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self._fail("protocol error: header too long")
                return
            if not self._head(bytes(self.buf[:end]).lower()):
                return
            self._body_start = end + 4
        body = len(self.buf) - self._body_start
        if self._length >= 0 and body >= self._length:
            self._done(self._body_start + self._length)
        elif self._length == -2:
            end = _chunked_end(self.buf, self._body_start)
            if end >= 0:
                self._done(end)

    def _head(self, head: bytes) -> bool:
        first, _, rest = head.partition(b"\r\n")
        parts = first.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"http/1.") or not parts[1].isdigit():
            self._fail("protocol error: not an HTTP/1.x response")
            return False
        self._status = int(parts[1])
        self._close_after = b"connection: close" in rest or parts[0] == b"http/1.0"
        i = rest.find(b"content-length:")
        if i >= 0:
            value = rest[i + 15 : rest.find(b"\r\n", i) if rest.find(b"\r\n", i) >= 0 else None]
            self._length = int(value.strip() or 0)
        elif b"transfer-encoding: chunked" in rest:
            self._length = -2
        elif self._status in (204, 304) or 100 <= self._status < 200:
            self._length = 0
        else:
            self._length = -3
            self._close_after = True
        return True

    def _done(self, end: int) -> None:
        del self.buf[:end]
        self.busy = False
        status = self._status
        if self._close_after:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        self.run.completed(self, status)

    def _fail(self, kind: str) -> None:
        was_busy, self.busy, self.closed = self.busy, False, True
        if self.transport is not None:
            self.transport.abort()
        if was_busy:
            self.run.failed(self, kind)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            self.run.lost(self)
            return
        self.closed = True
        if self.busy and self._length == -3 and self._body_start >= 0:
            self.busy = False
            self.run.completed(self, self._status)
        elif self.busy:
            self.busy = False
            self.run.failed(self, "connection reset" if exc else "connection closed")
        self.run.lost(self)


def _chunked_end(buf: bytearray, start: int) -> int:
    """Where a complete chunked body ends, or -1 while it is still coming."""
    i = start
    while True:
        line_end = buf.find(b"\r\n", i)
        if line_end < 0:
            return -1
        size_text = bytes(buf[i:line_end]).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return -1
        if size == 0:
            trailer = buf.find(b"\r\n\r\n", line_end)
            if buf[line_end : line_end + 4] == b"\r\n\r\n":
                return line_end + 4
            return trailer + 4 if trailer >= 0 else -1
        i = line_end + 2 + size + 2
        if i > len(buf):
            return -1


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "connect timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


# --- the generator --------------------------------------------------------------------------


class LoadGenerator:
    """Runs one LoadSpec; `on_tick(snapshot)` is called about once a `tick` seconds."""

    def __init__(
        self,
        spec: LoadSpec,
        on_tick: Callable[[LoadSnapshot], None] | None = None,
        tick: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
        offset: float = 0.0,
    ) -> None:
        self.spec = spec
        self.offset = offset  # open loop: this worker's first request is due this late
        self.on_tick = on_tick
        self.tick = tick
        self.clock = clock
        t = spec.target
        host = f"[{t.host}]" if ":" in t.host else t.host
        self.request_bytes = (
            f"GET {t.path} HTTP/1.1\r\nHost: {host}:{t.port}\r\n"
            "User-Agent: vextrus-console-load\r\nAccept: */*\r\n\r\n"
        ).encode("ascii")
        self.hist = Histogram()  # from the intended send time: what users see
        self.service_hist = Histogram()  # from the actual send: the server's own time
        self.lag_hist = Histogram()  # how late requests left: queueing and our own lag
        self.errors: dict[str, int] = {}
        self.ok = 0
        self.responses = 0
        self.planned = 0
        self._idle: list[_Conn] = []
        self._conns: set[_Conn] = set()
        self._connecting = 0
        self._backlog: deque[float] = deque()
        self._stop_sending = False
        self._connect_failures = 0
        self._settled = asyncio.Event()
        self._start = 0.0
        self._last_done = 0.0
        self._tick_count = 0
        self._max_conns = spec.users or spec.max_connections
        self._connections_opened = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # --- bookkeeping, called by the connections ---------------------------------------------

    def _error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def completed(self, conn: _Conn, status: int) -> None:
        now = self.clock()
        self._last_done = now
        self.responses += 1
        self.hist.record(now - conn.intended)
        self.service_hist.record(now - conn.sent_at)
        self.lag_hist.record(conn.sent_at - conn.intended)
        if 200 <= status < 400:
            self.ok += 1
        else:
            self._error(f"HTTP {status}")
        self._next(conn, now)

    def failed(self, conn: _Conn, kind: str) -> None:
        self._error(kind)
        self._last_done = self.clock()
        self._conns.discard(conn)
        self._check_settled()

    def lost(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        self._refill()
        self._check_settled()

    def _next(self, conn: _Conn, now: float) -> None:
        """A connection is free: the next due request, or back to the idle pool."""
        if conn.closed:
            self._refill()
            self._check_settled()
            return
        if self.spec.mode == "closed":
            if not self._stop_sending:
                self.planned += 1
                conn.send(now, now)
                return
        else:
            self._expire_backlog(now)
            if self._backlog:
                conn.send(self._backlog.popleft(), now)
                return
        self._idle.append(conn)
        self._check_settled()

    def _expire_backlog(self, now: float) -> None:
        """Requests that waited longer than the timeout for a connection are timeouts."""
        limit = now - self.spec.timeout
        while self._backlog and self._backlog[0] < limit:
            self._backlog.popleft()
            self._error("timeout")

    # --- connections ------------------------------------------------------------------------

    def _refill(self) -> None:
        """Open connections while requests wait (open loop) or users lack one (closed)."""
        if self.spec.mode == "open":
            need = len(self._backlog) - self._connecting
        else:
            need = 0 if self._stop_sending else self._max_conns - len(self._conns)
            need -= self._connecting
        room = self._max_conns - len(self._conns) - self._connecting
        for _ in range(max(0, min(need, room))):
            self._connecting += 1
            task = asyncio.ensure_future(self._connect())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        t = self.spec.target
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(self), t.host, t.port), self.spec.timeout)
        except (OSError, TimeoutError) as exc:
            self._connecting -= 1
            self._connect_failed(_error_kind(exc))
            return
        self._connecting -= 1
        self._connections_opened += 1
        conn = proto
        self._conns.add(conn)
        if self._stop_sending and self.spec.mode == "closed":
            conn.closed = True
            if conn.transport is not None:
                conn.transport.close()
            return
        if self.spec.mode == "closed":
            now = self.clock()
            self.planned += 1
            conn.send(now, now)
        else:
            self._next(conn, self.clock())

    def _connect_failed(self, kind: str) -> None:
        """A refused connection costs the request waiting for it, not the whole run."""
        self._last_done = self.clock()
        if self.spec.mode == "open":
            if self._backlog:
                self._backlog.popleft()
                self._error(kind)
        else:
            self.planned += 1
            self._error(kind)
        self._connect_failures += 1
        if self.spec.mode == "closed" and not self._stop_sending:
            asyncio.get_running_loop().call_later(0.01, self._refill)  # users retry
        self._check_settled()

    def _dispatch(self, intended: float, now: float) -> None:
        self.planned += 1
        if self._idle:
            self._idle.pop().send(intended, now)
            return
        self._backlog.append(intended)
        self._refill()

    def _check_settled(self) -> None:
        if self._stop_sending and self.in_flight == 0 and not self._backlog \
                and self._connecting == 0:
            self._settled.set()

    @property
    def in_flight(self) -> int:
        return sum(1 for c in self._conns if c.busy)

    # --- the run ----------------------------------------------------------------------------

    def snapshot(self, throughput: float = 0.0) -> LoadSnapshot:
        elapsed = self.clock() - self._start if self._start else 0.0
        return snapshot_of(self.spec, self.tally(), elapsed, throughput)

    async def run(self, cancel: asyncio.Event | None = None) -> LoadResult:
        """Send for `duration`, then wait for what is in flight (up to the timeout)."""
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._start = self.clock()
        ticker = asyncio.ensure_future(self._ticker())
        sweeper = asyncio.ensure_future(self._sweeper())
        cancelled = False
        try:
            if self.spec.mode == "open":
                cancelled = await self._open_loop(cancel)
            else:
                cancelled = await self._closed_loop(cancel)
            self._stop_sending = True
            self._check_settled()
            await self._drain(cancel)
        finally:
            ticker.cancel()
            sweeper.cancel()
            self._stop_sending = True
            for conn in list(self._conns):
                if conn.transport is not None:
                    conn.closed = True
                    conn.transport.abort()
        return self._result(started_at, cancelled or bool(cancel and cancel.is_set()))

    async def _open_loop(self, cancel: asyncio.Event | None) -> bool:
        rate = float(self.spec.rate or 1)
        total = max(1, int(rate * self.spec.duration))
        start, sent = self._start + self.offset, 0
        while sent < total:
            if cancel is not None and cancel.is_set():
                return True
            now = self.clock()
            due = min(total, int((now - start) * rate) + 1)
            while sent < due:
                self._dispatch(start + sent / rate, now)
                sent += 1
            self._expire_backlog(now)
            wait = start + sent / rate - self.clock()
            await asyncio.sleep(max(wait, 0.0005 if rate > 2000 else 0.0))
        return False

    async def _closed_loop(self, cancel: asyncio.Event | None) -> bool:
        self._refill()
        end = self._start + self.spec.duration
        while self.clock() < end:
            if cancel is not None and cancel.is_set():
                return True
            await asyncio.sleep(min(0.05, max(0.0, end - self.clock())))
        return False

    async def _drain(self, cancel: asyncio.Event | None) -> None:
        """In-flight requests get up to the timeout; whatever is left then timed out."""
        if cancel is not None and cancel.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), self.spec.timeout)
        left = self.in_flight + len(self._backlog)
        if left:
            self.errors["timeout"] = self.errors.get("timeout", 0) + left
            self._backlog.clear()

    async def _sweeper(self) -> None:
        """A request in flight longer than the timeout is a timeout; its connection goes."""
        while True:
            await asyncio.sleep(min(0.25, self.spec.timeout / 4))
            limit = self.clock() - self.spec.timeout
            for conn in [c for c in self._conns if c.busy and c.sent_at < limit]:
                conn._fail("timeout")
            self._refill()

    async def _ticker(self) -> None:
        last_done, last_t = 0, self.clock()
        while True:
            await asyncio.sleep(self.tick)
            now = self.clock()
            rate = (self.responses - last_done) / (now - last_t) if now > last_t else 0.0
            last_done, last_t = self.responses, now
            if self.on_tick is not None:
                self.on_tick(self.snapshot(rate))

    def tally(self) -> Tally:
        """The counts so far (a copy-free view: read it on the loop's thread)."""
        end = self._last_done or self.clock()
        return Tally(self.hist, self.service_hist, self.lag_hist, dict(self.errors), self.ok,
                     self.responses, self.planned, self._connections_opened,
                     max(end - self._start, 0.0) if self._start else 0.0,
                     self.in_flight, len(self._backlog), len(self._conns))

    def _result(self, started_at: str, cancelled: bool) -> LoadResult:
        return result_of(self.spec, self.tally(), started_at, cancelled)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in values.items()}


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a load on its own event loop: uvloop's when installed (about a third of the CPU
    per request of asyncio's own loop, measured), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
