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
import threading
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
    run_loop,
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
            data: Connection, control: Connection) -> None:
    """Runs in the worker process: wait for the common start, run, report on `data`.

    The pipes stay blocking (an event loop's reader would make them non-blocking, and a
    large message would then fail half-sent): a thread waits for the parent's stop.
    """

    async def main() -> None:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()

        def wait_for_stop() -> None:
            with contextlib.suppress(EOFError, OSError):
                control.recv()
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                loop.call_soon_threadsafe(cancel.set)

        threading.Thread(target=wait_for_stop, daemon=True).start()
        gen = LoadGenerator(spec, lambda snap: data.send(("tick", gen.tally())), tick,
                            offset=offset)
        await asyncio.sleep(max(0.0, start_wall - time.time()))
        await gen.run(cancel)
        data.send(("done", gen.tally()))

    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        run_loop(main())


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
    pipes: list[tuple[Connection, Connection]] = []  # (data from it, control to it)
    procs: list[Any] = []
    for part, offset in split(spec, workers):
        data_in, data_out = ctx.Pipe(duplex=False)
        control_in, control_out = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, daemon=True,
                           args=(part, offset, start_wall, tick, data_out, control_in))
        proc.start()
        data_out.close()
        control_in.close()
        pipes.append((data_in, control_out))
        procs.append(proc)
    final: list[Tally | None] = [None] * workers
    try:
        await _collect(spec, pipes, final, start_wall, on_tick, cancel)
    finally:
        for proc in procs:
            await asyncio.to_thread(proc.join, 5)
            if proc.is_alive():
                proc.kill()
        for data_in, control_out in pipes:
            data_in.close()
            control_out.close()
    tallies = [t for t in final if t is not None]
    if not tallies:
        raise LoadError("the load workers ended without a result")
    total = tallies[0]
    for tally in tallies[1:]:
        total = total.merge(tally)
    return result_of(spec, total, started_at, bool(cancel and cancel.is_set()))


async def _collect(spec: LoadSpec, pipes: list[tuple[Connection, Connection]],
                   final: list[Tally | None], start_wall: float,
                   on_tick: Callable[[LoadSnapshot], None] | None,
                   cancel: asyncio.Event | None) -> None:
    """Read every worker's messages (a blocking recv in a thread each) until its last one;
    merge the ticks for `on_tick`; pass `cancel` on as a stop message."""
    latest: list[Tally | None] = [None] * len(pipes)
    last = [0, time.monotonic()]

    async def read(i: int, data: Connection) -> None:
        while True:
            try:
                kind, tally = await asyncio.to_thread(data.recv)
            except (EOFError, OSError):
                return  # the worker ended without its last word
            latest[i] = tally
            if kind == "done":
                final[i] = tally
                return
            if on_tick is not None and all(t is not None for t in latest):
                total = _sum([t for t in latest if t is not None])
                now = time.monotonic()
                rate = (total.responses - last[0]) / (now - last[1]) if now > last[1] else 0.0
                last[0], last[1] = total.responses, now
                on_tick(snapshot_of(spec, total, max(0.0, time.time() - start_wall), rate))

    readers = asyncio.gather(*(read(i, data) for i, (data, _) in enumerate(pipes)))
    if cancel is not None:
        async def stop_on_cancel() -> None:
            await cancel.wait()
            for _, control in pipes:
                with contextlib.suppress(OSError):
                    control.send("stop")

        stopper = asyncio.ensure_future(stop_on_cancel())
        try:
            await readers
        finally:
            stopper.cancel()
    else:
        await readers


def _sum(tallies: list[Tally]) -> Tally:
    total = tallies[0]
    for tally in tallies[1:]:
        total = total.merge(tally)
    return total
