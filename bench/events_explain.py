"""Where the console's `docker kill` -> screen time goes, stage by stage, in one process.

Used by bench/events_to_screen.py (`--explain`) on the same stack: the console's App runs
headless (`App.run_test`, 160x50, the factory the CLI uses) with each stage timed from the
kill: the runtime's first event for the victim (the early `die` when the console sees the
container's process end, console/runtime/docker/exits.py; else Docker's own), the event
through the journal, the listing asked for and published, the App's `status` showing the
victim exited, the table row synced, and the next compositor refresh (the frame a terminal
would get; headless, nothing is written to a terminal).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

STAGES = ("event", "journaled", "asked", "listed", "status", "row", "frame")


class Stopwatch:
    """First time each stage saw the victim down, relative to the kill."""

    def __init__(self) -> None:
        self.start = 0.0
        self.marks: dict[str, float] = {}
        self.render_ms = 0.0  # how long the frame with the changed row took to compose

    def arm(self) -> None:
        self.start, self.marks, self.render_ms = time.perf_counter(), {}, 0.0

    def mark(self, stage: str) -> None:
        if self.start and stage not in self.marks:
            self.marks[stage] = (time.perf_counter() - self.start) * 1000


def _wrap_stream(make: Callable[..., AsyncIterator[Any]], watch: Stopwatch, stage: str,
                 victim: Callable[[], str]) -> Callable[..., AsyncIterator[Any]]:
    async def wrapped(*args: Any) -> AsyncIterator[Any]:
        async for item in make(*args):
            if getattr(item, "service", None) == victim():
                watch.mark(stage)
            yield item
    return wrapped


def instrument_streams(ctx: Any, watch: Stopwatch, victim: Callable[[], str]) -> None:
    """Before the App starts: its events worker iterates these once, from its first frame."""
    ctx.runtime.events = _wrap_stream(ctx.runtime.events, watch, "event", victim)
    ctx.monitor.events = _wrap_stream(ctx.monitor.events, watch, "journaled", victim)


def instrument(app: Any, watch: Stopwatch, victim: Callable[[], str]) -> None:
    """Hooks on the App's own objects (the event stream is hooked before it starts)."""
    monitor = app.ctx.monitor
    states = monitor.refresh_states

    async def refresh_states() -> Any:
        watch.mark("asked")
        status = await states()
        if status.get(victim()).state.value == "exited":
            watch.mark("listed")
        return status
    monitor.refresh_states = refresh_states

    def on_status(status: Any) -> None:
        if status is not None and status.get(victim()).state.value == "exited":
            watch.mark("status")
    app.watch(app, "status", on_status, init=False)

    from ui.widgets.service_table import ServiceTable

    table = app.screen.query_one(ServiceTable)
    sync = table._sync

    def synced(keep: str | None = None) -> None:
        sync(keep)
        if victim() in table.rows and "Exited" in str(table.get_cell(victim(), "state")):
            watch.mark("row")
    table._sync = synced
    screen = app.screen
    refresh = screen._compositor_refresh

    def frame() -> None:
        began = time.perf_counter()
        refresh()
        if "row" in watch.marks and "frame" not in watch.marks and watch.start:
            watch.mark("frame")
            watch.render_ms = (time.perf_counter() - began) * 1000
    screen._compositor_refresh = frame


async def explain(stack: Path, project: str, state: Path, client: Any,
                  victims: list[str], rounds: int) -> dict[str, list[float]]:
    """Per stage, the ms from kill to that stage, over ROUNDS kills."""
    from console.factory import Options, build_context
    from ui.factory import build_app

    ctx = build_context(Options(stack_path=str(stack), project=project, state_dir=str(state)))
    watch = Stopwatch()
    current = {"victim": victims[0]}
    instrument_streams(ctx, watch, lambda: current["victim"])
    app = build_app(ctx)
    found: dict[str, list[float]] = {s: [] for s in STAGES}
    async with app.run_test(size=(160, 50)) as pilot:
        while app.status is None or app.status.operational != app.status.total:
            await pilot.pause(0.05)
        instrument(app, watch, lambda: current["victim"])
        await pilot.pause(2.0)
        for i in range(rounds):
            victim = victims[i % len(victims)]
            current["victim"] = victim
            container = client.containers.get(f"{project}-{victim}-1")
            watch.arm()
            await asyncio.to_thread(container.kill)
            deadline = time.perf_counter() + 15
            while "frame" not in watch.marks and time.perf_counter() < deadline:
                await asyncio.sleep(0.005)
            for stage in STAGES:
                if stage in watch.marks:
                    found[stage].append(watch.marks[stage])
            if "frame" in watch.marks:
                found.setdefault("composing the frame", []).append(watch.render_ms)
            watch.start = 0.0
            await asyncio.to_thread(container.start)
            while app.status is None or app.status.get(victim).state.value != "operational":
                await pilot.pause(0.05)
            await pilot.pause(1.0)
    return found


def report(found: dict[str, list[float]]) -> None:
    print("  where the console's time goes (in-process, headless, ms after the kill):")
    for stage in (*STAGES, "composing the frame"):
        got = found.get(stage, [])
        if got:
            print(f"    {stage:19s} median {statistics.median(got):6.0f}   worst {max(got):6.0f}"
                  f"   ({' '.join(f'{v:.0f}' for v in got)})")
        else:
            print(f"    {stage:19s} never reached")
