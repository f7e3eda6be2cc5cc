"""A headless TCP forwarder: the Linux/macOS fix for "healthy inside, unreachable from host".

`Forwarder(listen_host, listen_port, target)` accepts connections on a local address and
carries each one to its target, which is either another address (`TcpTarget`: a service
bound to 127.0.0.2 while clients expect 127.0.0.1) or a stream into a container through
the runtime (`ExecTarget`: `docker exec -i CONTAINER nc 127.0.0.1 PORT`, which reaches a
service even in a container with no network at all).

The exec target uses the docker CLI as a subprocess with an argv list (never a shell): the
CLI already handles the attach protocol, stdin half-close and DOCKER_HOST, and a crashed
`nc` costs one connection, not the forwarder. Each connection is two pumps, one per
direction; EOF on one side is passed on as a half-close so request/response protocols that
close their write side first (HTTP/1.0, `nc`) still get their answer.

Only local addresses may listen: a forwarder is an unauthenticated tunnel into a container,
so exposing it beyond this machine is refused rather than made easy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import shutil
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

CHUNK = 65536


class ForwarderError(Exception):
    """A forwarder cannot be set up; str() is one line for the operator."""


# --- validation ---------------------------------------------------------------------------


def validate_port(value: object, what: str = "port") -> int:
    """An int in 1..65535 (digit strings accepted, since they come from the command line)."""
    if isinstance(value, bool):
        raise ForwarderError(f"{what}: {value!r} is not a port number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ForwarderError(f"{what}: {value!r} is not a port number")
    if not 1 <= value <= 65535:
        raise ForwarderError(f"{what}: {value} is out of range (1-65535)")
    return value


def _parse_ip(text: object, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(text, str):
        raise ForwarderError(f"{what}: {text!r} is not an IP address")
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise ForwarderError(f"{what}: {text!r} is not an IP address") from None


def validate_listen_address(text: object, local: Iterable[str] | None = None) -> str:
    """A loopback address, or an address assigned to this machine; anything else refused.

    The unspecified address (0.0.0.0, ::) is refused on purpose: it would publish the tunnel
    on every interface. `local` is the machine's own addresses (read from /proc when None).
    """
    addr = _parse_ip(text, "listen address")
    if addr.is_unspecified:
        raise ForwarderError(
            f"listen address: {addr} would expose the forwarder on every interface; "
            "use a loopback address such as 127.0.0.1"
        )
    if addr.is_loopback:
        return str(addr)
    own = set(local_addresses() if local is None else local)
    if str(addr) not in own:
        raise ForwarderError(f"listen address: {addr} is not an address of this machine")
    return str(addr)


def validate_target_address(text: object) -> str:
    """Where to connect: a concrete IP address (names are refused: no DNS surprises)."""
    addr = _parse_ip(text, "target address")
    if addr.is_unspecified or addr.is_multicast:
        raise ForwarderError(f"target address: {addr} cannot be connected to")
    return str(addr)


def local_addresses() -> list[str]:
    """This machine's addresses: /proc/net/fib_trie on Linux, the host name elsewhere."""
    try:
        text = Path("/proc/net/fib_trie").read_text(encoding="utf-8")
        return local_ipv4_from_fib_trie(text)
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


def local_ipv4_from_fib_trie(text: str) -> list[str]:
    """The IPv4 addresses assigned to this machine, from /proc/net/fib_trie's Local table.

    Reading /proc needs no tool (`ip`, `hostname -I`) that a slim distribution might lack.
    On WSL2 the first non-loopback one is "the current address" Windows must connect to.
    """
    found: list[str] = []
    in_local = False
    last = ""
    for raw in text.splitlines():
        line = raw.strip()
        if raw and not raw[0].isspace():
            in_local = line.startswith("Local:")
            continue
        if not in_local:
            continue
        if line == "/32 host LOCAL" and last and last not in found:
            found.append(last)
        last = line[3:].strip() if line.startswith("|--") else ""  # only the line just above
    return found


# --- targets ------------------------------------------------------------------------------


class Channel(Protocol):
    """One open connection to a target: a reader, a writer, and how to let it go."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def aclose(self, force: bool = False) -> str:
        """Release it (at once when `force`); returns an error worth showing, or ""."""
        ...


class Target(Protocol):
    def describe(self) -> str: ...

    async def open(self) -> Channel: ...

    async def answers(self, timeout: float = 2.0) -> bool:
        """Whether something listens at the target now (the stale-rule check)."""
        ...


@dataclass
class _TcpChannel:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def aclose(self, force: bool = False) -> str:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
        return ""


@dataclass(frozen=True)
class TcpTarget:
    """Connect to host:port (another address of this machine, usually)."""

    host: str
    port: int
    connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", validate_target_address(self.host))
        validate_port(self.port, "target port")

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def open(self) -> Channel:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.connect_timeout
        )
        return _TcpChannel(reader, writer)

    async def answers(self, timeout: float = 2.0) -> bool:
        try:
            channel = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout
            )
        except (OSError, TimeoutError):
            return False
        await _TcpChannel(*channel).aclose()
        return True


@dataclass
class _ExecChannel:
    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    stderr: asyncio.Task[bytes]

    async def aclose(self, force: bool = False) -> str:
        """Let `nc` finish on its own (it exits after the server closes), then reap it."""
        if not self.writer.is_closing():
            self.writer.close()
        try:
            await asyncio.wait_for(self.process.wait(), 0.0 if force else 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        err = await self.stderr
        text = err.decode("utf-8", "replace").strip().splitlines()
        return text[-1] if text and self.process.returncode else ""


@dataclass(frozen=True)
class ExecTarget:
    """A stream into a container: `docker exec -i CONTAINER nc HOST PORT`, one per connection.

    Works whatever the container's network mode, since `nc` runs inside its network
    namespace. Needs the docker CLI and `nc` in the image (busybox has it).
    """

    container: str
    port: int
    host: str = "127.0.0.1"
    docker: str = "docker"
    docker_host: str | None = None  # passed as DOCKER_HOST to the CLI
    label: str = ""  # service name, for listings
    nc: tuple[str, ...] = ("nc",)  # ("busybox", "nc") for images without applet links

    def __post_init__(self) -> None:
        if not self.container or self.container.startswith("-"):
            raise ForwarderError(f"container: {self.container!r} is not a container name or id")
        validate_port(self.port, "target port")
        validate_target_address(self.host)

    def describe(self) -> str:
        name = self.label or self.container[:12]
        return f"exec {name} -> {self.host}:{self.port}"

    def argv(self) -> list[str]:
        return [self.docker, "exec", "-i", self.container, *self.nc, self.host, str(self.port)]

    def _env(self) -> dict[str, str] | None:
        if self.docker_host is None:
            return None
        return {**os.environ, "DOCKER_HOST": self.docker_host}

    async def _spawn(self) -> asyncio.subprocess.Process:
        if shutil.which(self.docker) is None:
            raise ForwarderError(f"exec target: the {self.docker!r} command was not found")
        return await asyncio.create_subprocess_exec(
            *self.argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env(),
        )

    async def open(self) -> Channel:
        proc = await self._spawn()
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stderr = asyncio.ensure_future(proc.stderr.read())
        return _ExecChannel(proc, proc.stdout, proc.stdin, stderr)

    async def answers(self, timeout: float = 2.0) -> bool:
        """Connect with stdin closed: a refusal ends `nc` at once with an error; a listener
        keeps it waiting for the server (killed at the timeout) or lets it exit cleanly."""
        try:
            proc = await self._spawn()
        except (ForwarderError, OSError):
            return False
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return True
        return proc.returncode == 0


# --- the forwarder --------------------------------------------------------------------------


@dataclass
class ForwarderStats:
    """What a listing shows: where, to what, how busy."""

    listen: str
    target: str
    connections_total: int = 0
    connections_active: int = 0
    bytes_in: int = 0  # client -> target
    bytes_out: int = 0  # target -> client
    errors: int = 0
    last_error: str = ""
    running: bool = False
    dropped: int = 0  # connections closed on purpose by an injected fault
    label: str = ""

    def line(self) -> str:
        return (f"{self.listen} -> {self.target}  connections {self.connections_active} active"
                f" / {self.connections_total} total  bytes in {self.bytes_in} out {self.bytes_out}"
                + (f"  last error: {self.last_error}" if self.last_error else ""))


@dataclass(frozen=True)
class Fault:
    """Injected trouble for a latency drill: each client->target chunk waits `delay` ±
    `jitter` seconds, and a `drop_rate` share of new connections is closed at once.

    A request on a keep-alive connection is one chunk, so every request pays the delay.
    """

    delay: float = 0.0
    jitter: float = 0.0
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.delay <= 60:
            raise ForwarderError(f"delay: {self.delay:g}s is out of range (0-60 s)")
        if not 0 <= self.jitter <= self.delay:
            raise ForwarderError(f"jitter: {self.jitter:g}s must be between 0 and the delay")
        if not 0 <= self.drop_rate <= 1:
            raise ForwarderError(f"drop rate: {self.drop_rate:g} is out of range (0-1)")

    def pause(self, rng: random.Random) -> float:
        if not self.jitter:
            return self.delay
        return max(0.0, self.delay + rng.uniform(-self.jitter, self.jitter))

    def describe(self) -> str:
        parts = [f"delay {self.delay * 1000:g} ms"]
        if self.jitter:
            parts.append(f"jitter ±{self.jitter * 1000:g} ms")
        if self.drop_rate:
            parts.append(f"drop {self.drop_rate:.0%}")
        return ", ".join(parts)


@dataclass
class Forwarder:
    """Listen on a local address and carry every connection to one target."""

    listen_host: str
    listen_port: int
    target: Target
    label: str = ""
    local: tuple[str, ...] | None = None  # this machine's addresses (tests); None: read them
    fault: Fault | None = None  # a drill's injected delay and drops; None: a clean pipe
    stats: ForwarderStats = field(init=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.listen_host = validate_listen_address(self.listen_host, self.local)
        self.listen_port = validate_port(self.listen_port, "listen port")
        self.stats = ForwarderStats(self.listen, self.target.describe(), label=self.label)

    @property
    def listen(self) -> str:
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{host}:{self.listen_port}"

    async def start(self) -> None:
        """Bind now, so a taken port is reported here and not at the first client."""
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(
                self._accept, self.listen_host, self.listen_port, reuse_address=True
            )
        except OSError as exc:
            raise ForwarderError(f"cannot listen on {self.listen}: {os_reason(exc)}") from None
        self.stats.running = True

    async def stop(self) -> None:
        """Stop accepting, cut open connections, and wait until every pump has ended."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        self.stats.running = False

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Hand the connection to a task of our own, so `stop()` can cancel it without
        asyncio's accept callback reporting the cancellation as an error."""
        self.stats.connections_total += 1
        self.stats.connections_active += 1
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.stats.connections_active -= 1
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            self._error(_reason(exc))

    def _pause(self) -> float:
        """Seconds the next client->target chunk waits (0 without a fault)."""
        fault = self.fault
        return fault.pause(self._rng) if fault is not None else 0.0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self.fault
        if fault is not None and fault.drop_rate and self._rng.random() < fault.drop_rate:
            self.stats.dropped += 1
            await _close(writer)
            return
        try:
            channel = await self.target.open()
        except (OSError, TimeoutError, ForwarderError) as exc:
            self._error(f"target {self.target.describe()}: {_reason(exc)}")
            await _close(writer)
            return
        error, force = "", True
        try:
            await _bridge(reader, writer, channel, self.stats, self._pause)
            force = False
        except (OSError, asyncio.IncompleteReadError) as exc:
            error = _reason(exc)
        finally:
            await _close(writer)
            error = await channel.aclose(force) or error
        if error:
            self._error(error)

    def _error(self, text: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return os_reason(exc)


def os_reason(exc: BaseException) -> str:
    """"connection refused", not asyncio's "Connect call failed ('127.0.0.2', 80)"."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


async def _bridge(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    channel: Channel,
    stats: ForwarderStats,
    pause: Callable[[], float] | None = None,
) -> None:
    """Both directions at once; each ends with a half-close of its destination.

    If one direction fails (a reset), the other is cancelled: the connection is over.
    """

    def count_in(n: int) -> None:
        stats.bytes_in += n

    def count_out(n: int) -> None:
        stats.bytes_out += n

    up = asyncio.ensure_future(_pump(reader, channel.writer, count_in, pause))
    down = asyncio.ensure_future(_pump(channel.reader, writer, count_out))
    try:
        done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)


async def _pump(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: _Counter,
    pause: Callable[[], float] | None = None,
) -> None:
    while data := await source.read(CHUNK):
        if pause is not None and (wait := pause()) > 0:
            await asyncio.sleep(wait)
        sink.write(data)
        count(len(data))
        await sink.drain()
    if not sink.is_closing() and sink.can_write_eof():
        sink.write_eof()
    elif not sink.is_closing():
        sink.close()  # a pipe without half-close: closing is the EOF


class _Counter(Protocol):
    def __call__(self, n: int, /) -> None: ...


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


# --- several forwarders ------------------------------------------------------------------


class ForwarderManager:
    """Runs several forwarders, lists them, stops them; one per listen address and port."""

    def __init__(self) -> None:
        self._forwarders: dict[tuple[str, int], Forwarder] = {}

    async def add(self, forwarder: Forwarder) -> Forwarder:
        key = (forwarder.listen_host, forwarder.listen_port)
        if key in self._forwarders:
            raise ForwarderError(f"{forwarder.listen}: a forwarder already listens there")
        await forwarder.start()
        self._forwarders[key] = forwarder
        return forwarder

    def forwarders(self) -> list[Forwarder]:
        return list(self._forwarders.values())

    def list(self) -> list[ForwarderStats]:
        return [f.stats for f in self._forwarders.values()]

    async def stop(self, listen_host: str, listen_port: int) -> bool:
        forwarder = self._forwarders.pop((listen_host, listen_port), None)
        if forwarder is None:
            return False
        await forwarder.stop()
        return True

    async def stop_all(self) -> None:
        forwarders, self._forwarders = list(self._forwarders.values()), {}
        await asyncio.gather(*(f.stop() for f in forwarders), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._forwarders)
