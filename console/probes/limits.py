"""How many probes run at once: sized for the machine, so a huge stack is slow, not broken.

Unbounded, a refresh of 10,000 services opens 10,000 sockets at once: past the process's
descriptor limit every further probe fails with EMFILE ("too many open files"), and the
ones that do connect share the CPU so thinly that they time out although the services
answer. Bounded, the probes queue for a slot, and each one's timeout starts when it gets
its slot (see `registry.run_check`), so waiting in the queue is never a false timeout.

Two lanes: network probes (a socket each) share `probe_slots()`; probes that run through
the runtime's exec (exec checks, inside http checks) share EXEC_SLOTS, because each holds
an exec session on the daemon and a thread of the runtime for its whole duration.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from dataclasses import dataclass

RESERVED_FDS = 128  # the console's own: stdio, journal, runtime clients, event streams, logs
FDS_PER_PROBE = 2  # a socket, and room for what a client library opens beside it
PER_CPU = 64  # more than this in flight per CPU only adds latency to every probe
MIN_SLOTS = 4
MAX_SLOTS = 512
EXEC_SLOTS = 16  # concurrent execs; the Docker runtime keeps as many exec threads


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


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Lanes] = (
    weakref.WeakKeyDictionary()
)


def configure(size: int, exec_size: int | None = None) -> Lanes:
    """Set this event loop's lanes explicitly (a gentler console, or a test's small bound)."""
    if size < 1 or (exec_size is not None and exec_size < 1):
        raise ValueError("lane sizes must be at least 1")
    exec_slots = exec_size if exec_size is not None else min(size, EXEC_SLOTS)
    chosen = Lanes(asyncio.Semaphore(size), asyncio.Semaphore(exec_slots), size)
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
