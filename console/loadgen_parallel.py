"""The load generator over several processes, for rates one Python process cannot drive.

wrk runs one thread per core; Python needs processes for the same. Worker k of N runs the
same spec with 1/N of the rate (or the users) and its first request due k/rate late, so
the arrivals of all workers interleave into one constant rate. Workers start together at
a shared wall-clock moment, send their counts (`Tally`, histograms included) every tick
and at the end; the parent adds them up, so percentiles are over every request, not an
average of percentiles. `spawn`, not `fork`: the parent may be the console with threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from console.loadgen import (
    LoadError,
    LoadGenerator,
    LoadResult,
    LoadSnapshot,
    LoadSpec,
    Tally,
    result_of,
    snapshot_of,
)

MAX_WORKERS = 8
START_DELAY = 1.0  # seconds for the workers to spawn and import before the common start


def split(spec: LoadSpec, workers: int) -> list[tuple[LoadSpec, float]]:
    """Each worker's spec and its open-loop offset."""
    if not 1 <= workers <= MAX_WORKERS:
        raise LoadError(f"--workers: {workers} is out of range (1-{MAX_WORKERS})")
    if spec.users is not None and spec.users < workers:
        raise LoadError(f"--workers: {workers} workers need at least as many users")
    parts = []
    for k in range(workers):
        if spec.rate is not None:
            part = replace(spec, rate=spec.rate / workers,
                           max_connections=max(1, spec.max_connections // workers))
            parts.append((part, k / spec.rate))
        else:
            assert spec.users is not None
            users = spec.users // workers + (1 if k < spec.users % workers else 0)
            parts.append((replace(spec, users=users), 0.0))
    return parts


def _worker(spec: LoadSpec, offset: float, start_wall: float, tick: float,
            pipe: Connection) -> None:
    """Runs in the worker process: wait for the common start, run, report."""

    async def main() -> None:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(pipe.fileno(), cancel.set)  # anything from the parent means stop
        gen = LoadGenerator(spec, lambda snap: pipe.send(("tick", gen.tally())), tick,
                            offset=offset)
        await asyncio.sleep(max(0.0, start_wall - time.time()))
        await gen.run(cancel)
        pipe.send(("done", gen.tally()))

    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        asyncio.run(main())


async def run_parallel(
    spec: LoadSpec,
    workers: int,
    on_tick: Callable[[LoadSnapshot], None] | None = None,
    cancel: asyncio.Event | None = None,
    tick: float = 1.0,
) -> LoadResult:
    """Run `spec` over `workers` processes and add their counts up."""
    if workers == 1:
        return await LoadGenerator(spec, on_tick, tick).run(cancel)
    ctx = multiprocessing.get_context("spawn")
    start_wall = time.time() + START_DELAY
    started_at = datetime.fromtimestamp(start_wall, UTC).isoformat(timespec="seconds")
    pipes: list[Connection] = []
    procs: list[Any] = []
    for part, offset in split(spec, workers):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(part, offset, start_wall, tick, theirs),
                           daemon=True)
        proc.start()
        theirs.close()
        pipes.append(mine)
        procs.append(proc)
    latest: list[Tally | None] = [None] * workers
    final: list[Tally | None] = [None] * workers
    try:
        await _collect(spec, pipes, procs, latest, final, start_wall, on_tick, cancel)
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        for pipe in pipes:
            pipe.close()
    tallies = [t for t in final if t is not None]
    if not tallies:
        raise LoadError("the load workers ended without a result")
    total = tallies[0]
    for tally in tallies[1:]:
        total = total.merge(tally)
    return result_of(spec, total, started_at, bool(cancel and cancel.is_set()))


async def _collect(spec: LoadSpec, pipes: list[Connection], procs: list[Any],
                   latest: list[Tally | None],
                   final: list[Tally | None], start_wall: float,
                   on_tick: Callable[[LoadSnapshot], None] | None,
                   cancel: asyncio.Event | None) -> None:
    """Read the workers' messages until each has sent its last; pass `cancel` on."""
    loop = asyncio.get_running_loop()
    arrived = asyncio.Event()
    for pipe in pipes:
        loop.add_reader(pipe.fileno(), arrived.set)
    told, last_done, last_t = False, 0, time.monotonic()
    try:
        while any(t is None for t in final):
            if cancel is not None and cancel.is_set() and not told:
                told = True
                for pipe in pipes:
                    with contextlib.suppress(OSError):
                        pipe.send("stop")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), 0.2)
            arrived.clear()
            ticked = _drain(pipes, latest, final)
            if ticked and on_tick is not None and all(t is not None for t in latest):
                total = _sum([t for t in latest if t is not None])
                now = time.monotonic()
                rate = (total.responses - last_done) / (now - last_t) if now > last_t else 0.0
                last_done, last_t = total.responses, now
                on_tick(snapshot_of(spec, total, max(0.0, time.time() - start_wall), rate))
            if not any(p.is_alive() for p in procs) and not _pending(pipes):
                break  # every worker has ended; one that died sent no last word
    finally:
        for pipe in pipes:
            loop.remove_reader(pipe.fileno())


def _pending(pipes: list[Connection]) -> bool:
    return any(not p.closed and p.poll() for p in pipes)


def _drain(pipes: list[Connection], latest: list[Tally | None],
           final: list[Tally | None]) -> bool:
    ticked = False
    for i, pipe in enumerate(pipes):
        while final[i] is None and pipe.poll():
            try:
                kind, tally = pipe.recv()
            except EOFError:
                break
            latest[i] = tally
            if kind == "done":
                final[i] = tally
            ticked = True
    return ticked


def _sum(tallies: list[Tally]) -> Tally:
    total = tallies[0]
    for tally in tallies[1:]:
        total = total.merge(tally)
    return total
