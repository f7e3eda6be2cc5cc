"""A load test as the console runs it: validated, bounded, saved and journaled.

The generator (`console.loadgen`) only measures. This wraps it with the console's rules:
the target is the stack's service or a loopback URL, a production context needs its name
typed out (load is not a write, but it is not harmless either), the result is written where
the readiness scorecard reads it (`console.results`) and lands in the timeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from console.loadgen import LoadGenerator, LoadResult, LoadSnapshot, LoadSpec
from console.results import save_result
from console.runtime.capabilities import WriteGuarded

if TYPE_CHECKING:
    from console.factory import AppContext
    from console.journal import Journal


def production_context(ctx: AppContext) -> str | None:
    """The context's name when the runtime says it is production, else None."""
    if isinstance(ctx.runtime, WriteGuarded) and ctx.runtime.guard.production:
        return str(ctx.runtime.guard.context)
    return None


def summary(result: LoadResult) -> str:
    """One line for the timeline."""
    lat = result.latency_ms
    verdict = "passed" if result.passed else "failed"
    return (f"load {result.target}: p95 {lat.get('p95', 0):.1f} ms, p99 {lat.get('p99', 0):.1f} ms,"
            f" {result.throughput_rps:.0f} req/s, errors {result.error_count}/{result.requests}:"
            f" thresholds {verdict}" + (" (cancelled)" if result.cancelled else ""))


class LoadTest:
    """Runs one spec; saves and journals the result (also when cancelled)."""

    name = "load"
    writes = False

    def __init__(self, spec: LoadSpec, journal: Journal | None = None,
                 state_dir: Path | None = None, workers: int = 1) -> None:
        self.spec = spec
        self.workers = workers  # processes (console.loadgen_parallel); 1: this one
        self.journal = journal
        self.state_dir = state_dir
        self.saved: Path | None = None

    @property
    def target(self) -> str:
        return self.spec.target.service or self.spec.target.url

    async def run(self, on_tick: Callable[[LoadSnapshot], None] | None = None,
                  cancel: asyncio.Event | None = None, tick: float = 1.0) -> LoadResult:
        if self.workers > 1:
            from console.loadgen_parallel import run_parallel

            result = await run_parallel(self.spec, self.workers, on_tick, cancel, tick)
        else:
            result = await LoadGenerator(self.spec, on_tick, tick).run(cancel)
        if self.state_dir is not None:
            self.saved = save_result(self.state_dir, "load", result.to_dict())
        if self.journal is not None:
            self.journal.record("action", self.spec.target.service or "-", summary(result))
        return result
