"""Docker's resource figures: the Engine's one-shot stats of every running container.

Why one-shot polls and not a stream per container: a stream makes the daemon send every
container's figures each second, and the console parse 40 documents a second whether
anybody looks or not. A one-shot request (`stream=false&one-shot=true`) returns the
daemon's next collector sample (within a second on Engine 20.10) without the second read
a plain `stream=false` waits for, so a round every few seconds costs one list call and one
small JSON per container. The rounds' requests run concurrently on kept-alive unix-socket
connections in the event loop (no thread per container): all of a round's answers arrive
at the same collector tick.

CPU % needs two samples; this module returns the raw counters (`ReplicaUsage`) and
`console.stats` computes rates, the way `docker stats` does (container CPU time over the
host's CPU time, per core). Memory is usage minus inactive file cache (`docker stats`'
figure); the limit counts only when it is below the host's memory (otherwise the daemon
reports the host's total, which is not a limit anyone set).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from console.model import Service
from console.runtime.usage import ReplicaUsage, UsageReport

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
MAX_IDLE = 64  # one connection per container answers a round at once; 40 services fit
REQUEST_TIMEOUT_S = 5.0


class AsyncEngine:
    """GET with JSON answers over the daemon's unix socket, from the event loop."""

    def __init__(self, socket_path: str, api_version: str = "") -> None:
        self.socket_path = socket_path
        self.api_version = api_version
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._host_memory: int | None = None

    async def get(self, path: str, missing_ok: bool = False) -> Any:
        """One GET at the daemon's API version; None for a 404 when `missing_ok`."""
        if not self.api_version:
            version = await self._request("/version")
            self.api_version = str((version or {}).get("ApiVersion") or "1.41")
        return await self._request(f"/v{self.api_version}{path}", missing_ok)

    async def host_memory(self) -> int | None:
        """The daemon host's memory (`/info` MemTotal), asked once."""
        if self._host_memory is None:
            info = await self.get("/info")
            total = info.get("MemTotal") if isinstance(info, dict) else None
            self._host_memory = int(total) if isinstance(total, int) and total > 0 else 0
        return self._host_memory or None

    async def _request(self, path: str, missing_ok: bool = False) -> Any:
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._open()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status, body = await _exchange(conn, path)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            conn[1].close()
            if not reused:
                raise ConnectionError(f"Docker daemon at {self.socket_path}: {exc}") from exc
            return await self._request(path, missing_ok)  # the daemon closed an idle one
        self._give_back(conn)
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise ConnectionError(f"docker answered HTTP {status}: {body[:200]!r}")
        return json.loads(body or b"null")

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(
            asyncio.open_unix_connection(self.socket_path), REQUEST_TIMEOUT_S
        )

    def _give_back(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        if len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn[1].close()

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for _reader, writer in idle:
            writer.close()


async def _exchange(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str
) -> tuple[int, bytes]:
    """One HTTP/1.1 request and its whole answer (Content-Length or chunked)."""
    reader, writer = conn
    writer.write(f"GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return status, await _read_chunked(reader)
    raise ValueError("answer without a length")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def sample_project(
    engine: AsyncEngine, project: str, services: Sequence[Service]
) -> UsageReport:
    """One round: the project's running containers and one stats sample of each."""
    by_compose = {s.compose_name: s.name for s in services}
    filters = quote(json.dumps({"label": [f"{PROJECT_LABEL}={project}"],
                                "status": ["running"]}, separators=(",", ":")))
    rows = await engine.get(f"/containers/json?filters={filters}")
    chosen = [(by_compose[r["Labels"][SERVICE_LABEL]], r) for r in rows or []
              if (r.get("Labels") or {}).get(SERVICE_LABEL) in by_compose]
    host_memory = await engine.host_memory()
    stats = await asyncio.gather(*(
        engine.get(f"/containers/{quote(r['Id'], safe='')}/stats?stream=false&one-shot=true",
                   missing_ok=True) for _, r in chosen
    ), return_exceptions=True)
    out: dict[str, list[ReplicaUsage]] = {}
    for (service, row), raw in zip(chosen, stats, strict=True):
        if isinstance(raw, dict):
            out.setdefault(service, []).append(replica_from_stats(raw, row, host_memory))
    return UsageReport({k: tuple(sorted(v, key=lambda r: r.name)) for k, v in out.items()},
                       host_memory=host_memory, source="docker stats")


def replica_from_stats(
    raw: Mapping[str, Any], row: Mapping[str, Any], host_memory: int | None
) -> ReplicaUsage:
    """One stats document as raw counters (see the module docstring for each figure)."""
    names = row.get("Names") or [str(raw.get("name") or "")]
    cpu = raw.get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    system, cpus = cpu.get("system_cpu_usage"), cpu.get("online_cpus") or 1
    limit = (raw.get("memory_stats") or {}).get("limit")
    rx, tx = _network(raw.get("networks"))
    read, write = _block(raw.get("blkio_stats"))
    return ReplicaUsage(
        name=str(names[0]).lstrip("/"),
        cpu_ns=int(total) if isinstance(total, int) and isinstance(system, int) else None,
        clock_ns=int(system) // int(cpus) if isinstance(system, int) else 0,
        memory=memory_in_use(raw.get("memory_stats") or {}),
        memory_limit=limit if isinstance(limit, int) and host_memory and
        0 < limit < host_memory else None,
        net_rx=rx, net_tx=tx, block_read=read, block_write=write,
    )


def memory_in_use(memory: Mapping[str, Any]) -> int | None:
    """Usage without the inactive file cache, as the docker CLI shows it (cgroup v1 and v2)."""
    usage = memory.get("usage")
    if not isinstance(usage, int):
        return None
    stats = memory.get("stats") or {}
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    return max(0, usage - cache) if isinstance(cache, int) and cache < usage else usage


def _network(networks: Any) -> tuple[int | None, int | None]:
    """Summed over the container's networks; None for host networking (no own interface)."""
    if not isinstance(networks, dict) or not networks:
        return None, None
    rx = sum(int(n.get("rx_bytes") or 0) for n in networks.values() if isinstance(n, dict))
    tx = sum(int(n.get("tx_bytes") or 0) for n in networks.values() if isinstance(n, dict))
    return rx, tx


def _block(blkio: Any) -> tuple[int | None, int | None]:
    """Bytes read and written (op names are capitalised on cgroup v1, lower on v2)."""
    if not isinstance(blkio, dict):
        return None, None
    entries = blkio.get("io_service_bytes_recursive") or []
    read = sum(int(e.get("value") or 0) for e in entries if str(e.get("op")).lower() == "read")
    write = sum(int(e.get("value") or 0) for e in entries if str(e.get("op")).lower() == "write")
    return read, write


async def usage_of(runtime: Any, services: Sequence[Service]) -> UsageReport:
    """The Docker runtime's `usage`: its engine is made on first use and kept on it."""
    host = str(runtime.host)
    if not host.startswith("unix://"):
        return UsageReport(unavailable=f"resource figures need the daemon's unix socket; "
                           f"{host} is not one", source="docker stats")
    engine = getattr(runtime, "_stats_engine", None)
    if engine is None:
        engine = AsyncEngine(host.removeprefix("unix://"))
        runtime._stats_engine = engine
    try:
        return await sample_project(engine, str(runtime.project), services)
    except (OSError, ValueError) as exc:
        return UsageReport(unavailable=f"docker stats: {exc}", source="docker stats")


def close_usage(runtime: Any) -> None:
    engine = getattr(runtime, "_stats_engine", None)
    if engine is not None:
        engine.close()
