"""Resource usage per service: rates from the runtimes' counters, and their recent history.

A runtime reports raw counters (`console.runtime.usage`); CPU % needs two of them, so the
tracker keeps each replica's previous sample and turns the pair into a rate, the way
`docker stats` does: CPU time used over wall time, 100 % being one core. A service's
figure is the sum of its replicas (a scaled service is as heavy as all its containers);
each replica's own figure stays in `replicas` for the detail view. The history (CPU % and
memory) is kept for the sparklines: HISTORY points, one per sampling round.

Headless: no Textual. The App samples on a timer and shows `UsageBoard` snapshots.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from console.runtime.usage import ReplicaUsage, UsageReport

# One round every 5 s: an idle console with 40 services stays well under 3 % of a core
# (bench/stats_idle.py), and ten minutes of history fit in HISTORY points.
SAMPLE_SECONDS = 5.0
HISTORY = 120


@dataclass(frozen=True)
class Usage:
    """One replica's or one service's figures in one round. None: not known (yet)."""

    name: str
    cpu_percent: float | None = None  # 100 = one core
    memory: int | None = None
    memory_limit: int | None = None  # None when no limit is set
    net_rx: int | None = None
    net_tx: int | None = None
    block_read: int | None = None
    block_write: int | None = None
    cpu_limit_cores: float | None = None

    @property
    def memory_percent(self) -> float | None:
        """Share of the limit; None without a limit (the host's total is not a limit)."""
        if self.memory is None or not self.memory_limit:
            return None
        return 100.0 * self.memory / self.memory_limit

    @property
    def cpu_limit_percent(self) -> float | None:
        """CPU as a share of the CPU limit, where one is set (Kubernetes limits)."""
        if self.cpu_percent is None or not self.cpu_limit_cores:
            return None
        return self.cpu_percent / self.cpu_limit_cores


@dataclass(frozen=True)
class ServiceUsage:
    """A service: its replicas summed (`total`) and each replica on its own."""

    total: Usage
    replicas: tuple[Usage, ...] = ()
    cpu_history: tuple[float, ...] = ()
    memory_history: tuple[float, ...] = ()


@dataclass(frozen=True)
class UsageBoard:
    """What the screens show: every measured service, and why a runtime measures none."""

    services: dict[str, ServiceUsage] = field(default_factory=dict)
    unavailable: str = ""
    source: str = ""
    host_memory: int | None = None
    rounds: int = 0

    def get(self, name: str) -> ServiceUsage | None:
        return self.services.get(name)


class UsageTracker:
    """Feeds runtime reports in, gives boards out; remembers what rates need."""

    def __init__(self, history: int = HISTORY) -> None:
        self._previous: dict[tuple[str, str], ReplicaUsage] = {}
        self._cpu: dict[str, deque[float]] = {}
        self._memory: dict[str, deque[float]] = {}
        self._history = history
        self._rounds = 0

    def add(self, report: UsageReport) -> UsageBoard:
        """One round in; the board with rates for replicas seen in the round before."""
        self._rounds += 1
        services: dict[str, ServiceUsage] = {}
        seen: dict[tuple[str, str], ReplicaUsage] = {}
        for service, replicas in report.replicas.items():
            rows = []
            for replica in replicas:
                key = (service, replica.name)
                rows.append(_rate(replica, self._previous.get(key)))
                seen[key] = replica
            total = summed(service, rows)
            services[service] = self._with_history(service, total, tuple(rows))
        self._previous = seen
        for gone in set(self._cpu) - set(services):
            self._cpu.pop(gone, None)
            self._memory.pop(gone, None)
        return UsageBoard(services, report.unavailable, report.source, report.host_memory,
                          self._rounds)

    def _with_history(self, service: str, total: Usage, rows: tuple[Usage, ...]) -> ServiceUsage:
        cpu = self._cpu.setdefault(service, deque(maxlen=self._history))
        memory = self._memory.setdefault(service, deque(maxlen=self._history))
        if total.cpu_percent is not None:
            cpu.append(total.cpu_percent)
        if total.memory is not None:
            memory.append(float(total.memory))
        return ServiceUsage(total, rows, tuple(cpu), tuple(memory))


def _rate(now: ReplicaUsage, before: ReplicaUsage | None) -> Usage:
    """A replica's figures; CPU % from the counter's growth since the round before."""
    cpu = now.cpu_cores * 100.0 if now.cpu_cores is not None else None
    if cpu is None and before is not None and now.cpu_ns is not None \
            and before.cpu_ns is not None and now.clock_ns > before.clock_ns:
        cpu = max(0.0, 100.0 * (now.cpu_ns - before.cpu_ns) / (now.clock_ns - before.clock_ns))
    return Usage(now.name, cpu, now.memory, now.memory_limit, now.net_rx, now.net_tx,
                 now.block_read, now.block_write, now.cpu_limit_cores)


def summed(name: str, rows: Sequence[Usage]) -> Usage:
    """All replicas together; a figure is known when every replica knows it."""
    def total(values: Iterable[float | int | None]) -> float | int | None:
        values = list(values)
        if not values or any(v is None for v in values):
            return None
        return sum(v for v in values if v is not None)

    cpu = total(r.cpu_percent for r in rows)
    return Usage(
        name,
        float(cpu) if cpu is not None else None,
        _int(total(r.memory for r in rows)),
        _int(total(r.memory_limit for r in rows)),
        _int(total(r.net_rx for r in rows)),
        _int(total(r.net_tx for r in rows)),
        _int(total(r.block_read for r in rows)),
        _int(total(r.block_write for r in rows)),
        _float(total(r.cpu_limit_cores for r in rows)),
    )


def _int(value: float | int | None) -> int | None:
    return None if value is None else int(value)


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


# --- words and numbers for the screens and the CLI -----------------------------------------


def format_bytes(value: int | float | None) -> str:
    """1536 -> '1.5K', 73400320 -> '70M' (binary units, as docker stats and kubectl top)."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            if unit == "B":
                return f"{int(size)}B"
            return f"{size:.1f}{unit}" if size < 10 else f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.0f}T"  # pragma: no cover (the loop returns)


def format_percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}%" if value < 100 else f"{value:.0f}%"


def format_pair(first: int | None, second: int | None) -> str:
    """'1.2M / 340K' for read/write or rx/tx; '—' when the runtime has no such counter."""
    if first is None and second is None:
        return "—"
    return f"{format_bytes(first)} / {format_bytes(second)}"


SORT_KEYS = ("cpu", "memory")


def sort_value(board: UsageBoard | None, service: str, key: str) -> float:
    """For sorting the heaviest first: unknown figures sort last (as -1)."""
    usage = board.get(service) if board is not None else None
    if usage is None:
        return -1.0
    value = usage.total.cpu_percent if key == "cpu" else usage.total.memory
    return -1.0 if value is None else float(value)
