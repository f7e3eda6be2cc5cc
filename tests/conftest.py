"""Shared fixtures for tests that talk to real components (README: "The two commands").

A missing component is a skip on a developer box and a failure in CI (`CI=true`), so a
broken CI machine cannot pass by skipping everything.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from console.runtime.kubernetes.runtime import KubernetesRuntime

from tests.dockerlab import DockerLab, ScratchDaemon, docker_available, sweep_stale
from tests.k8s_fake_api import FakeKubeAPI, make_runtime
from tests.temporal_server import temporal_lab, temporal_proc  # noqa: F401  (fixtures)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require(available: bool, reason: str) -> None:
    """Stop a test whose real component is missing: fail in CI, skip elsewhere."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing component is a failure)", pytrace=False)
    pytest.skip(reason)


@functools.cache
def _docker_status() -> tuple[bool, str]:
    return docker_available()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("docker"):
        require(*_docker_status())


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


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    """A fake Kubernetes API server on loopback (files may define their own `fake`)."""
    server = FakeKubeAPI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def runtime(fake: FakeKubeAPI, tmp_path: Path) -> AsyncIterator[KubernetesRuntime]:
    """The console's kubernetes runtime on the fake API server, closed afterwards."""
    rt = make_runtime(fake, tmp_path)
    try:
        yield rt
    finally:
        await rt.close()
