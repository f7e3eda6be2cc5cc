"""How many probes run at once: sized for the machine, so a huge stack is slow, not broken.

Unbounded, a refresh of 10,000 services opens 10,000 sockets at once: past the process's
descriptor limit every further probe fails with EMFILE ("too many open files"), and the
ones that do connect share the CPU so thinly that they time out although the services
answer. Bounded, the probes queue for a slot, and each one's timeout starts when it gets
its slot (see `registry.run_check`), so waiting in the queue is never a false timeout.

Two lanes: network probes (a socket each) share `probe_slots()`; probes that run through
the runtime's exec (exec checks, inside http checks) share EXEC_SLOTS, because each holds
an exec session on the daemon and a thread of the runtime for its whole duration.

Network probes are also paced: at most PACED_PER_CPU per CPU are in their first PACE_HOLD_S
at once. Forty requests fired together on a 2-core box make forty services answer at once
(a busybox httpd forks per request), and each reads ~10x what a lone curl of it reads
(bench/latency_truth.py): that is the console's burst, not the services' latency. A probe
gives its pace slot back when it answers or after PACE_HOLD_S, whichever comes first, so a
hanging service slows the others by PACE_HOLD_S at most, never by its timeout. Measured
here, 40 busybox services, idle machine, one run each: 2 per CPU reads 1.33 ms against a
lone curl's 0.78 (1.7x; unpaced 10.7 ms, 13x) for a full refresh of 96-102 ms (unpaced
67-79 ms); 3 per CPU 2.7x and 49-73 ms; 4 per CPU 3.4x and 80-91 ms.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from dataclasses import dataclass, field

RESERVED_FDS = 128  # the console's own: stdio, journal, runtime clients, event streams, logs
FDS_PER_PROBE = 2  # a socket, and room for what a client library opens beside it
PER_CPU = 64  # more than this in flight per CPU only adds latency to every probe
MIN_SLOTS = 4
MAX_SLOTS = 512
EXEC_SLOTS = 16  # concurrent execs; the Docker runtime keeps as many exec threads
PACED_PER_CPU = 2  # network probes in their first moments at once, per CPU
PACE_HOLD_S = 0.05  # a probe holds its pace slot at most this long


def descriptor_limit() -> int | None:
    """The soft RLIMIT_NOFILE, or None where there is none (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def open_descriptors() -> int:
    """Descriptors open right now (0 where /proc or /dev/fd cannot say)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 0


def probe_slots(limit: int | None = None, in_use: int | None = None,
                cpus: int | None = None) -> int:
    """Concurrent network probes this process can afford: the smaller of what the free
    descriptors allow and what the CPUs can drive, within [MIN_SLOTS, MAX_SLOTS]."""
    limit = descriptor_limit() if limit is None else limit
    cpu_cap = PER_CPU * (cpus or os.cpu_count() or 1)
    if limit is None:
        return max(MIN_SLOTS, min(cpu_cap, MAX_SLOTS))
    used = open_descriptors() if in_use is None else in_use
    fd_cap = (limit - used - RESERVED_FDS) // FDS_PER_PROBE
    return max(MIN_SLOTS, min(fd_cap, cpu_cap, MAX_SLOTS))


@dataclass(frozen=True)
class Lanes:
    network: asyncio.Semaphore
    exec: asyncio.Semaphore
    size: int
    paced: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(PACED_PER_CPU * (os.cpu_count() or 1)))


class PaceSlot:
    """A pace slot, held until the probe answers or PACE_HOLD_S, whichever comes first."""

    def __init__(self, lane: asyncio.Semaphore) -> None:
        self._lane = lane
        self._timer: asyncio.TimerHandle | None = None
        self._held = False

    async def __aenter__(self) -> PaceSlot:
        await self._lane.acquire()
        self._held = True
        self._timer = asyncio.get_running_loop().call_later(PACE_HOLD_S, self.release)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lane.release()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Lanes] = (
    weakref.WeakKeyDictionary()
)


def configure(size: int, exec_size: int | None = None, paced: int | None = None) -> Lanes:
    """Set this event loop's lanes explicitly (a gentler console, or a test's small bound)."""
    if size < 1 or (exec_size is not None and exec_size < 1) or (paced is not None and paced < 1):
        raise ValueError("lane sizes must be at least 1")
    exec_slots = exec_size if exec_size is not None else min(size, EXEC_SLOTS)
    chosen = Lanes(asyncio.Semaphore(size), asyncio.Semaphore(exec_slots), size)
    if paced is not None:
        chosen = Lanes(chosen.network, chosen.exec, size, asyncio.Semaphore(paced))
    _by_loop[asyncio.get_running_loop()] = chosen
    return chosen


def lanes() -> Lanes:
    """This event loop's lanes (a semaphore belongs to one loop; tests and the CLI each
    run their own), sized when the loop first probes."""
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        size = probe_slots()
        found = Lanes(asyncio.Semaphore(size), asyncio.Semaphore(min(size, EXEC_SLOTS)), size)
        _by_loop[loop] = found
    return found
