"""Killing what a given-up exec left running inside a container or a pod.

Neither Docker's exec API nor Kubernetes' has a way to kill an exec'd process, and closing
the stream does not end it: a probe that hangs (`sleep`, a `wget` to a service that never
answers) keeps running inside after the console gave up, and every refresh adds one more.
So each exec carries a tag in its environment (`VEXTRUS_PROBE=<token>`, inherited by
whatever it starts): Docker sets it through the exec's `Env`; Kubernetes' exec has no
environment field, so the command runs under `env VEXTRUS_PROBE=<token> ...`. When an
exec is given up while still running, a second exec runs KILL_SCRIPT, which kills every
process whose environment holds the tag: children first, so the parent shell can still
reap them and none is left a zombie for a container init that never reaps, then the
exec'd process itself. The script needs `sh` and `cat` in the image (busybox, alpine,
debian and most service images have them); without them the process is left to end by
itself and the runtime counts it in `Reaper.unreaped`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

TAG_NAME = "VEXTRUS_PROBE"
REAP_WORKERS = 4
# `$1` is the tag. A process whose parent is tagged too is a child of the probe: killed
# first, then (after a moment for the parent to reap it) the probe's own process.
KILL_SCRIPT = r"""
tag="$1"
tagged() { case "$(cat "/proc/$1/environ" 2>/dev/null)" in *"$tag"*) return 0;; esac; return 1; }
kids=; tops=
for d in /proc/[0-9]*; do
  p="${d#/proc/}"
  tagged "$p" || continue
  read -r stat < "$d/stat" 2>/dev/null || continue
  set -- ${stat##*) }
  if tagged "$2"; then kids="$kids $p"; else tops="$tops $p"; fi
done
if [ -n "$kids" ]; then kill -9 $kids 2>/dev/null; sleep 0.1 2>/dev/null; fi
if [ -n "$tops" ]; then kill -9 $tops 2>/dev/null; fi
"""


def new_tag() -> str:
    """`VEXTRUS_PROBE=<random>`: unique per exec, so the kill never hits another's process."""
    return f"{TAG_NAME}={secrets.token_hex(8)}"


def kill_argv(tag: str) -> list[str]:
    """The second exec: KILL_SCRIPT with the tag as `$1` (`$0` names it in `ps`)."""
    return ["sh", "-c", KILL_SCRIPT, "vextrus-reap", tag]


class Reaper:
    """Runs the kills of given-up execs on threads of its own, so a refresh never waits.

    `pending()` lets `close()` (and tests) wait until every kill has been tried;
    `unreaped` counts execs that could not be killed (no shell in the image, a remote daemon).
    """

    def __init__(self, name: str = "reap") -> None:
        self._pool = ThreadPoolExecutor(REAP_WORKERS, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._futures: set[Future[bool]] = set()
        self.unreaped = 0

    def submit(self, kill: Callable[[], bool]) -> None:
        future = self._pool.submit(self._guarded, kill)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def give_up(self) -> None:
        """An exec left running that nothing can kill (no `env` to tag it with)."""
        with self._lock:
            self.unreaped += 1

    def pending(self) -> list[Future[bool]]:
        with self._lock:
            return list(self._futures)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)

    def _guarded(self, kill: Callable[[], bool]) -> bool:
        try:
            return kill()
        except Exception:  # daemon gone, container removed meanwhile: nothing left to do
            return False

    def _done(self, future: Future[bool]) -> None:
        with self._lock:
            self._futures.discard(future)
            if not future.cancelled() and not future.result():
                self.unreaped += 1
