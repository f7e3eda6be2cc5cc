"""SVG snapshots of the resources screen (80x24 over SSH and 160x48) and of the matrix with
its CPU and Mem columns, on the fixed scene with fixed, deterministic usage figures.

The figures go through the real `UsageTracker` (thirty rounds, so the sparklines have a
history); the runtime of the fixed scene measures nothing itself, so no sampling round
replaces them while the snapshot is taken.
"""

from __future__ import annotations

import time

import pytest

from console.runtime.usage import ReplicaUsage, UsageReport
from console.stats import UsageBoard, UsageTracker
from tests.ui_data import build_stack, make_context
from ui.app import VextrusApp
from ui.factory import build_app
from ui.widgets.service_table import ServiceTable

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
MIB = 1 << 20


def fixed_board() -> UsageBoard:
    """Twelve running services, a few with memory limits (one near it), thirty rounds."""
    tracker = UsageTracker()
    names = build_stack().names()[:12]
    board = UsageBoard()
    for round_no in range(30):
        replicas = {}
        for i, name in enumerate(names):
            cpu = ((i * 7 + round_no * 3) % 20) / 100 + (0.8 if name == names[3] else 0.0)
            limit = 512 * MIB if i % 3 == 0 else None
            memory = (470 * MIB if i == 0 else (40 + i * 23) * MIB) + round_no * MIB
            replicas[name] = tuple(
                ReplicaUsage(f"vextrus-{name}-{n + 1}", cpu_cores=cpu / (n + 1),
                             memory=memory, memory_limit=limit, block_read=i * 3 * MIB,
                             block_write=i * MIB)
                for n in range(2 if name == names[5] else 1))
        board = tracker.add(UsageReport(replicas, host_memory=24 << 30, source="docker stats"))
    return board


async def _settled(pilot) -> None:
    app = pilot.app
    deadline = time.monotonic() + 20
    while app.status is None or not app.screen.query(ServiceTable) or \
            not app.screen.query_one(ServiceTable).row_count:
        assert time.monotonic() < deadline, "the first refresh never came"
        await pilot.pause(0.02)


def _app() -> VextrusApp:
    return build_app(make_context())


@pytest.mark.parametrize("size", SIZES)
def test_resources_screen(snap_compare, size):
    async def open_resources(pilot) -> None:
        await _settled(pilot)
        pilot.app.usage = fixed_board()
        await pilot.press("m")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=size, run_before=open_resources)


def test_matrix_with_cpu_and_memory_columns(snap_compare):
    async def measured(pilot) -> None:
        await _settled(pilot)
        pilot.app.usage = fixed_board()
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=(160, 48), run_before=measured)


