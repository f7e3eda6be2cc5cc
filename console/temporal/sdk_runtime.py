"""The temporalio core runtimes the console owns, shut down before the interpreter exits.

Why this exists: temporalio's default `Runtime` is a module global whose Rust (tokio)
worker threads live until the interpreter finalizes. During finalization the global is
dropped and a worker thread that still calls into Python (completing an RPC future,
dropping a Python object) asks for the GIL; CPython 3.11 ends such a thread with a forced
unwind, whose GIL guard then releases a thread state that is not current: "Fatal Python
error: PyGILState_Release" (exit 134), now and then a segfault, after correct output.

So no console client uses the default runtime. A long-lived owner (the workflows backend)
creates its own runtime with `new_runtime()` and drops it in its `close()`; short-lived
clients (a probe) share `shared()`. The last reference to a runtime joins its threads
(temporalio releases the GIL while it waits), and the client objects sit in reference
cycles, so dropping them needs `gc.collect()`. `shutdown()` runs from `atexit`, which
CPython calls before it starts finalizing: whatever an owner forgot to close is released
while Python can still take calls from those threads.
"""

from __future__ import annotations

import atexit
import gc
import threading
import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from temporalio.runtime import Runtime


class RuntimeOwner(Protocol):
    def release_sdk(self) -> None:
        """Drop every client and runtime reference (synchronous, no I/O)."""


_lock = threading.Lock()
_shared: Runtime | None = None
_owners: weakref.WeakSet[RuntimeOwner] = weakref.WeakSet()
_hooked = False


def new_runtime(owner: RuntimeOwner) -> Runtime:
    """A runtime of the owner's own; `owner.release_sdk()` is called at exit if still held."""
    from temporalio.runtime import Runtime, TelemetryConfig

    with _lock:
        _owners.add(owner)
        _hook()
    return Runtime(telemetry=TelemetryConfig())


def shared() -> Runtime:
    """One runtime for short-lived clients (each probe connects anew); dropped at exit."""
    global _shared
    from temporalio.runtime import Runtime, TelemetryConfig

    with _lock:
        if _shared is None:
            _shared = Runtime(telemetry=TelemetryConfig())
            _hook()
        return _shared


def collect() -> None:
    """Free unreachable clients now, so the runtimes they hold join their threads now."""
    gc.collect()


def shutdown() -> None:
    """Release every owner and the shared runtime, then collect: no tokio thread survives."""
    global _shared
    with _lock:
        owners = list(_owners)
        _shared = None
    for owner in owners:
        owner.release_sdk()
    collect()


def _hook() -> None:
    global _hooked
    if not _hooked:
        atexit.register(shutdown)
        _hooked = True
