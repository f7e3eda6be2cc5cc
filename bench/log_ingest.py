"""Log ingestion benchmark: the console's LogView against Textual's stock `Log`.

Runs headless (`App.run_test`) and prints:

1. end to end: 40 synthetic services streaming as fast as they can through the real
   `LogsScreen` (stream workers -> pending queue -> 50 ms flush -> LogView), lines/s;
2. the same lines written straight into `LogView.write_lines` in flush-sized batches,
   and into Textual's `Log.write_line` one line at a time (how a naive screen would do it),
   lines/s each and the ratio;
3. key latency while 40 streams flood the screen: time from `pilot.press("f")` to the
   binding's effect (follow toggled), several presses, median and worst;
4. resident memory (VmRSS) with 200,000 lines retained.

Targets: >= 100,000 lines/s, key < 50 ms, < 200 MB.  Run: `.venv/bin/python bench/log_ingest.py`.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Log

from console.factory import AppContext
from console.model import Service, Stack
from console.monitor import Monitor
from console.runtime.base import LogLine
from ui.screens.logs import LogsScreen
from ui.themes import register_themes
from ui.widgets.log_view import LogView

SERVICES = 40
RETAINED = 200_000
STREAM_SECONDS = 3.0
SIZE = (160, 48)
T0 = datetime(2025, 9, 25, 10, 0, tzinfo=UTC)

NEST = "[Nest] 1  - 09/25/2025, 10:00:{s:02d} AM"
TEMPLATES = (
    NEST + "     LOG [RouterExplorer] Mapped {{/api/v1/items/{i}, GET}} route",
    '{{"level":30,"time":17587944{i:05d},"pid":1,"hostname":"{svc}",'
    '"msg":"request completed","responseTime":{ms}}}',
    "2025-09-25 10:00:{s:02d}.{ms:03d} UTC [{i}] LOG:  checkpoint complete: wrote {i} buffers",
    "[2025-09-25 10:00:{s:02d},{ms:03d}] INFO [Partition orders-{p} broker=1] ISR updated"
    " (kafka.cluster.Partition)",
    NEST + "    WARN [KafkaClient] request timed out after {ms}ms, retrying",
    NEST + "   ERROR [ExceptionsHandler] connect ECONNREFUSED 127.0.0.1:{p}",
    'level=info msg="GET /health 200" duration={ms}ms user_agent=kube-probe/1.29',
    "DB_PASSWORD=hunter2-{i} loaded from environment",  # a secret now and then
)


def make_lines(service: str, count: int = 1000) -> list[LogLine]:
    """A pool of realistic lines for one service, cycled by the synthetic runtime."""
    out = []
    for i in range(count):
        template = TEMPLATES[i % (len(TEMPLATES) - 1)] if i % 97 else TEMPLATES[-1]
        text = template.format(i=i, s=i % 60, ms=(i * 7) % 1000, p=9000 + i % 50, svc=service)
        out.append(LogLine(service, text, T0 + timedelta(milliseconds=i)))
    return out


class FloodRuntime:
    """Streams each service's pool forever, as fast as the event loop lets it."""

    name = "flood"

    def __init__(self, names: Sequence[str]) -> None:
        self.pools = {name: make_lines(name) for name in names}

    async def logs(
        self, service: Service, tail: int = 100, follow: bool = False, timestamps: bool = True
    ) -> AsyncIterator[LogLine]:
        pool = self.pools[service.name]
        while True:
            for line in pool:
                yield line
            await asyncio.sleep(0)


def build_context(runtime: FloodRuntime | None) -> AppContext:
    services = tuple(Service(f"service-{i:02d}") for i in range(SERVICES))
    stack = Stack("bench", services)
    monitor = Monitor(stack, runtime)  # type: ignore[arg-type]
    return AppContext(stack, runtime, monitor, None, clock=lambda: T0)  # type: ignore[arg-type]


class BenchApp(App[None]):
    """Carries `ctx` and `status` as VextrusApp does, and opens one screen."""

    status: reactive[object] = reactive(None)

    def __init__(self, ctx: AppContext, screen: Screen[None] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self._first = screen
        register_themes(self)  # the screens' CSS reads the console's $status-* variables
        self.theme = "vextrus-dark"

    def on_mount(self) -> None:
        if self._first is not None:
            self.push_screen(self._first)


class OneWidget(Screen[None]):
    def __init__(self, widget: LogView | Log) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- 1 and 3: the real screen under a flood ------------------------------------------------


async def bench_screen() -> tuple[float, list[float], int]:
    """Lines/s through LogsScreen for STREAM_SECONDS, then key latencies while flooding."""
    runtime = FloodRuntime([f"service-{i:02d}" for i in range(SERVICES)])
    app = BenchApp(build_context(runtime), LogsScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        view = app.screen.query_one(LogView)
        start_seq, start = view.buffer.next_seq, time.perf_counter()
        await asyncio.sleep(STREAM_SECONDS)
        rate = (view.buffer.next_seq - start_seq) / (time.perf_counter() - start)
        latencies = await key_latencies(pilot, view)
        retained = len(view.buffer)
        app.screen.query_one(LogView)  # still alive
    return rate, latencies, retained


async def key_latencies(pilot, view: LogView, presses: int = 15) -> list[float]:  # type: ignore[no-untyped-def]
    """Time from pilot.press("f") to follow actually flipping, while lines keep flooding."""
    flips: list[float] = []
    view.watch(view, "follow", lambda _value: flips.append(time.perf_counter()), init=False)
    out = []
    for _ in range(presses):
        seen = len(flips)
        start = time.perf_counter()
        press = asyncio.create_task(pilot.press("f"))
        while len(flips) == seen:
            if time.perf_counter() - start > 5:
                raise TimeoutError("the key press never took effect")
            await asyncio.sleep(0.0005)
        out.append((flips[seen] - start) * 1000)
        await press
        await asyncio.sleep(0.05)
    return out


# --- 2: the widgets alone ---------------------------------------------------------------------


def pool(total: int) -> list[LogLine]:
    per = [make_lines(f"service-{i:02d}") for i in range(SERVICES)]
    lines = [line for group in zip(*per, strict=True) for line in group]
    return (lines * (total // len(lines) + 1))[:total]


async def bench_logview(lines: list[LogLine], batch: int = 5000) -> tuple[float, float]:
    """LogView.write_lines in flush-sized batches; returns (lines/s, RSS MB when retained)."""
    view = LogView(capacity=RETAINED)
    app = BenchApp(build_context(None), OneWidget(view))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        gc.collect()
        start = time.perf_counter()
        for i in range(0, len(lines), batch):
            view.write_lines(lines[i : i + batch])
            await pilot.pause(0)  # let the screen refresh between batches, as the timer does
        await pilot.pause()
        elapsed = time.perf_counter() - start
        gc.collect()
        memory = rss_mb()
        assert len(view.buffer) == min(len(lines), RETAINED)
    return len(lines) / elapsed, memory


async def bench_stock_log(lines: list[LogLine]) -> float:
    """Textual's Log, one write_line per line (its own size worker per call included)."""
    log = Log(max_lines=RETAINED)
    app = BenchApp(build_context(None), OneWidget(log))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        for i, line in enumerate(lines):
            log.write_line(f"{line.service} {line.text}")
            if i % 5000 == 4999:
                await pilot.pause(0)
        await app.workers.wait_for_complete()
        await pilot.pause()
        return len(lines) / (time.perf_counter() - start)


async def main() -> None:
    base = rss_mb()
    print(f"python {sys.version.split()[0]}, {SERVICES} services, terminal {SIZE[0]}x{SIZE[1]}")
    print(f"RSS at start: {base:.0f} MB")

    rate, latencies, retained = await bench_screen()
    print(f"\n1. LogsScreen, {SERVICES} flooding streams, {STREAM_SECONDS:.0f} s:")
    print(f"   {rate:,.0f} lines/s ingested end to end ({retained:,} retained)")

    print(f"\n3. key press while flooding ({len(latencies)} presses of f):")
    print(f"   median {statistics.median(latencies):.1f} ms, worst {max(latencies):.1f} ms")

    lines = pool(RETAINED + 50_000)
    ours, memory = await bench_logview(lines)
    stock_lines = lines[:50_000]
    stock = await bench_stock_log(stock_lines)
    print("\n2. widgets alone, same lines:")
    print(f"   LogView.write_lines (batches of 5,000): {ours:,.0f} lines/s ({len(lines):,})")
    print(f"   Log.write_line (one at a time):        {stock:,.0f} lines/s ({len(stock_lines):,})")
    print(f"   ratio: {ours / stock:,.1f}x")

    print(f"\n4. RSS with {RETAINED:,} lines retained in LogView: {memory:.0f} MB")
    ok = rate >= 100_000 and max(latencies) < 50 and memory < 200
    print("\ntargets (>=100,000 lines/s, key < 50 ms, < 200 MB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    asyncio.run(main())
