"""The layers, and what every layer shares: `require`, the fake Kubernetes API server.

A missing component is a skip on a developer box and a failure in CI (`CI=true`), so a
broken CI machine cannot pass by skipping everything.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from console.runtime.kubernetes.runtime import KubernetesRuntime

from tests.dockerlab import docker_available
from tests.k8s_fake_api import FakeKubeAPI, make_runtime


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


# --- the layers ---------------------------------------------------------------------------
# A test's folder is its layer, and `-m` picks a layer by the marker its folder gives it:
#   integration/  a real server: the Docker daemon, PostgreSQL/Redis, Temporal
#   snapshots/    an SVG compared with snap_compare
#   ui/           drives the App with Pilot (run_test)
#   unit/         the domain and the CLI headless, with loopback stand-ins at most
# Each folder's conftest.py holds what only its layer needs. A test filed in the wrong
# folder (a unit test that asks for the Docker daemon) stops the collection, naming it.
# `make test-fast` runs unit and ui (the inner loop); `make test` runs everything.
LAYERS = ("unit", "ui", "snapshots", "integration")
DOCKER_FIXTURES = {"docker_lab", "scratch_daemon"}
SERVICE_FIXTURES = {"postgres_role", "redis_server", "temporal_lab", "temporal_proc"}


def layer_of(item: pytest.Item) -> str:
    """The layer a test belongs in, from what it uses."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if item.get_closest_marker("docker") or fixtures & DOCKER_FIXTURES:
        return "integration"
    if fixtures & SERVICE_FIXTURES:
        return "integration"
    if "snap_compare" in fixtures:
        return "snapshots"
    source = getattr(getattr(item, "module", None), "__file__", None)
    if source and "run_test(" in _source(source):
        return "ui"
    return "unit"


def folder_of(item: pytest.Item) -> str:
    """The layer folder the test's file is in (tests/<layer>/test_*.py)."""
    folder = Path(str(item.path)).parent.name
    return folder if folder in LAYERS else ""


@functools.cache
def _source(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


@functools.cache
def _slow_ids() -> frozenset[str]:
    """Tests timed at a second or more (tests/slow.txt, from scripts/slow_tests.py)."""
    path = Path(__file__).parent / "slow.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return frozenset(line for line in lines if line and not line.startswith("#"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misfiled = []
    for item in items:
        if item.nodeid in _slow_ids():
            item.add_marker("slow")
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & DOCKER_FIXTURES and not item.get_closest_marker("docker"):
            item.add_marker("docker")
        if fixtures & SERVICE_FIXTURES:
            item.add_marker("services")
        folder, layer = folder_of(item), layer_of(item)
        if folder != layer:
            here = f"tests/{folder}/" if folder else "tests/"
            misfiled.append(f"{item.nodeid}: belongs in tests/{layer}/ (it is in {here})")
        item.add_marker(folder or layer)
    if misfiled:
        raise pytest.UsageError("tests in the wrong layer folder:\n  " + "\n  ".join(misfiled))
    # Fast layers first, integration last: its session-scoped Docker lab keeps containers
    # (on fixed loopback ports such as 24200) up until the session ends, and a demo started
    # by a unit test after them found its own ports taken (CI, d1be61b).
    items.sort(key=lambda item: LAYERS.index(folder_of(item) or layer_of(item)))


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
