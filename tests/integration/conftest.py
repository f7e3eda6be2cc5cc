"""The integration layer: tests against real servers, and the fixtures that start them.

The Docker daemon (one compose project of containers per session, and a disposable second
daemon a test may kill), PostgreSQL and Redis (tests/fixtures_services.py), the Temporal
test server (tests/temporal_server.py). A missing server is a skip on a developer box and
a failure in CI (`require`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.conftest import _docker_status, require
from tests.dockerlab import DockerLab, ScratchDaemon, sweep_stale
from tests.temporal_server import temporal_lab, temporal_proc  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def docker_lab() -> Iterator[DockerLab]:
    """One compose project per test session; all of its containers go at the end."""
    require(*_docker_status())
    lab = DockerLab(f"vxtest-{os.getpid()}-{secrets.token_hex(3)}")
    sweep_stale(lab.client)
    try:
        yield lab
    finally:
        lab.cleanup()
        lab.client.close()


@pytest.fixture
def scratch_daemon() -> Iterator[ScratchDaemon]:
    """A second, disposable dockerd (own socket and data root) that a test may kill."""
    require(*ScratchDaemon.usable())
    daemon = ScratchDaemon()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.remove()
