"""Clean exits: every headless `workflows` command, run as a real process again and again.

temporalio's Rust core used to outlive the event loop and crash the interpreter at exit
("Fatal Python error: PyGILState_Release", exit 134, now and then 139) in about a third of
runs, after correct output: a script saw a wrong exit code. Each command runs RUNS times as
its own process against the real test server; every run must exit with the documented code
(0 ok) and say nothing fatal. Runs go in small parallel batches to keep the time sane.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from console.temporal.client import TemporalBackend
from console.temporal.types import ListFilter
from tests.integration.test_temporal_backend import po, uid
from tests.temporal_server import TemporalLab

RUNS = 30  # the count: one crash in three runs cannot hide in thirty
BATCH = 4
NO_WORKER_QUEUE = "vextrus-exit-test-no-worker"  # workflows that stay open: nothing runs them


async def _start_all(lab: TemporalLab, ids: Sequence[str], task_queue: str) -> None:
    from temporalio.client import Client

    client = await Client.connect(lab.address, namespace=lab.namespace)
    for wid in ids:
        await client.start_workflow("PurchaseOrderApproval", po("1250000"), id=wid,
                                    task_queue=task_queue)


def _started(lab: TemporalLab, count: int, task_queue: str) -> list[str]:
    ids = [uid("exit") for _ in range(count)]
    asyncio.run(_start_all(lab, ids, task_queue))
    return ids


def _cli(lab: TemporalLab, state: Path, verb: str, *rest: str) -> list[str]:
    return [sys.executable, "-m", "cli", "workflows", verb, "--runtime", "none",
            "--state-dir", str(state), "--temporal-address", lab.address, *rest]


def _run(argv: list[str]) -> tuple[int, str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])
    return done.returncode, done.stderr


def test_every_workflows_command_exits_cleanly_every_time(temporal_lab: TemporalLab,
                                                          tmp_path: Path) -> None:
    lab = temporal_lab
    (queried,) = _started(lab, 1, lab.task_queue)  # the worker answers its queries
    (idle,) = _started(lab, 1, NO_WORKER_QUEUE)
    cancelled = _started(lab, RUNS, NO_WORKER_QUEUE)
    terminated = _started(lab, RUNS, NO_WORKER_QUEUE)
    commands: dict[str, list[list[str]]] = {
        "list": [_cli(lab, tmp_path, "list", "--id", idle)] * RUNS,
        "describe": [_cli(lab, tmp_path, "describe", idle, "--json")] * RUNS,
        "history": [_cli(lab, tmp_path, "history", idle)] * RUNS,
        "query": [_cli(lab, tmp_path, "query", queried, "status")] * RUNS,
        "signal": [_cli(lab, tmp_path, "signal", idle, "approve", "--args", '["x", "y"]',
                        "--yes")] * RUNS,
        "cancel": [_cli(lab, tmp_path, "cancel", wid, "--yes") for wid in cancelled],
        "terminate": [_cli(lab, tmp_path, "terminate", wid, "--reason", "exit test", "--yes")
                      for wid in terminated],
    }
    with ThreadPoolExecutor(BATCH) as pool:
        outcomes = {verb: list(pool.map(_run, runs)) for verb, runs in commands.items()}

    for verb, results in outcomes.items():
        codes = [code for code, _ in results]
        fatal = [err for _, err in results if "Fatal Python error" in err]
        assert codes == [0] * RUNS, f"{verb}: exit codes {codes}; first stderr: {results[0][1]}"
        assert fatal == [], f"{verb}: {len(fatal)} fatal exits: {fatal[0][-400:]}"


def _sdk_threads() -> set[str]:
    """Threads of temporalio's Rust core (tokio workers) in this process right now, by id."""
    tasks = Path("/proc/self/task")
    found = set()
    for tid in os.listdir(tasks):
        try:
            if (tasks / tid / "comm").read_text().startswith("tokio"):
                found.add(tid)
        except OSError:  # ended while being read
            continue
    return found


async def test_closing_the_backend_ends_the_sdk_threads(temporal_lab: TemporalLab) -> None:
    """The cause of the crash, checked directly: after close() no core thread of the
    backend's runtime is left to call into a finalizing interpreter.

    Only the threads that came with the backend are followed: other runtimes alive in this
    test process (the probes' shared one, temporalio's default one that earlier tests'
    clients used) start and end blocking-pool threads of their own, and one that started
    in the same moment as the backend's ends by itself within tokio's 10 s idle time. The
    backend's worker threads end only when close() drops its runtime."""
    gc.collect()  # runtimes other tests dropped go now, not in the middle of this count
    before = _sdk_threads()
    backend = TemporalBackend(temporal_lab.address, temporal_lab.namespace)
    await backend.list_workflows(ListFilter(), page_size=1)
    ours = _sdk_threads() - before
    assert ours
    await backend.close()
    for _ in range(120):
        if not ours & _sdk_threads():
            break
        await asyncio.sleep(0.1)
    assert not ours & _sdk_threads()
