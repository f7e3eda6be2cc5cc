"""Keys on a service row with the kubernetes runtime (the loopback API server): resources
from the metrics API and what is said without one (m), describe as YAML with secrets in
env masked (d), stop with the context typed out on production (D), shell without kubectl
(E); the console is built by the real factory, as operators run it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.runtime.kubernetes.metrics import NO_METRICS
from tests.k8s_fake_api import FakeKubeAPI, deployment, pod
from tests.ui.test_k8s_console import (
    FIXED,
    STACK,
    _close_runtimes,  # noqa: F401  (fixture: runtimes the apps opened are closed)
    k8s_app,
    serve_scene,
    settle,
    write_files,
)
from ui.app import VextrusApp
from ui.screens.confirm import ConfirmScreen
from ui.screens.describe import DescribeScreen
from ui.screens.resources import ResourcesScreen
from ui.widgets.service_table import ServiceTable

SECRET = "k8s-secret-value-77"
SIZE = (160, 48)


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    yield from serve_scene()


@pytest.fixture
def files(fake: FakeKubeAPI, tmp_path: Path) -> dict[str, Path]:
    return write_files(fake, tmp_path, STACK)


async def until(pilot: Any, ok: Callable[[], object], what: str) -> None:
    for _ in range(500):
        if ok():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


async def select(pilot: Any, name: str) -> ServiceTable:
    table = await settle(pilot)
    table.move_cursor(row=table.row_keys.index(name))
    await pilot.pause()
    return table


def _with_env(fake: FakeKubeAPI) -> None:
    """auth's template and pods carry a secret and a plain variable in env."""
    env = [{"name": "JWT_SECRET", "value": SECRET}, {"name": "LOG_LEVEL", "value": "debug"},
           {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
    made = deployment("auth", 2)
    made["spec"]["template"]["spec"]["containers"][0]["env"] = env
    fake.put("Deployment", made)
    for suffix in ("a0", "a1"):
        one = pod("auth", suffix, started=FIXED)
        one["spec"]["containers"][0]["env"] = env
        one["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "512Mi"}}
        fake.put("Pod", one)


async def test_describe_is_the_workload_and_pods_yaml_with_env_masked(
        fake: FakeKubeAPI, files: dict[str, Path]) -> None:
    _with_env(fake)
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("d")
        assert isinstance(app.screen, DescribeScreen)
        screen = app.screen
        await until(pilot, lambda: len(screen.lines) > 20, "the YAML")
        text = "\n".join(screen.lines)
        assert "── Deployment/auth ──" in text
        assert "── Pod/auth-a0 ──" in text and "── Pod/auth-a1 ──" in text
        assert SECRET not in text and "value: '***'" in text
        assert "value: debug" in text and "secretKeyRef" in text
        await pilot.press("slash", *"jwt_secret", "enter")
        assert len(screen.matches) == 3  # the template and each pod


async def test_resources_from_the_metrics_api(fake: FakeKubeAPI,
                                              files: dict[str, Path]) -> None:
    _with_env(fake)
    fake.pod_metrics = {"auth-a0": {"auth": ("600m", "128Mi")},
                        "auth-a1": {"auth": ("200m", "64Mi")},
                        "postgres-0": {"postgres": ("50m", "300Mi")}}
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot)
        await until(pilot, lambda: app.usage is not None and app.usage.get("auth"), "metrics")
        await until(pilot, lambda: "cpu" in table.columns, "the CPU column")
        assert str(table.get_cell("auth", "cpu")) == "80.0%"  # 600m + 200m, both pods
        assert str(table.get_cell("auth", "mem")) == "192M 19%"  # of 2 x 512Mi
        await pilot.press("m")
        assert isinstance(app.screen, ResourcesScreen)
        status = str(app.screen.query_one("#resources-status").render())
        assert "metrics.k8s.io" in status


async def test_without_metrics_server_the_console_says_so(fake: FakeKubeAPI,
                                                          files: dict[str, Path]) -> None:
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        table = await settle(pilot)
        await until(pilot, lambda: app.usage is not None, "a sampling round")
        assert "cpu" not in table.columns  # no columns of dashes
        await pilot.press("m")
        title = str(app.screen.query_one("#resources-title").render())
        assert NO_METRICS in title


async def test_stop_on_production_asks_for_the_context_typed_out(
        fake: FakeKubeAPI, files: dict[str, Path]) -> None:
    app = k8s_app(files, "prod", allow_writes=True)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "postgres")
        await pilot.press("D")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed == "prod-eu"
        assert any("blast radius: auth, configuration" in d for d in confirm.details)
        await pilot.press(*"prod-us", "enter")  # another context's name does not confirm
        assert app.screen is confirm
        assert not fake.requests_for("PATCH", "statefulsets/postgres/scale")
        confirm.query_one("Input").value = ""  # type: ignore[attr-defined]
        await pilot.press(*"prod-eu", "enter")
        await until(pilot, lambda: fake.requests_for("PATCH", "statefulsets/postgres/scale"),
                    "the scale to 0")
        body = fake.requests_for("PATCH", "statefulsets/postgres/scale")[-1].body
        assert body == {"spec": {"replicas": 0}}


async def test_shell_needs_kubectl_and_says_so(fake: FakeKubeAPI, files: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without kubectl
    app = k8s_app(files, allow_writes=True)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("E")
        await until(pilot, lambda: any("kubectl not found" in n.message
                                       for n in app._notifications), "the notice")
        assert isinstance(app, VextrusApp) and app.screen.query(ServiceTable)


async def test_kill_and_start_from_the_row_on_a_dev_cluster(fake: FakeKubeAPI,
                                                            files: dict[str, Path]) -> None:
    """No kill of its own on Kubernetes: ctrl+k stops with no grace period (scale to 0,
    the replica count kept), U scales back to what it had; j/k move on the way."""
    app = k8s_app(files)
    scales = lambda: fake.requests_for("PATCH", "deployments/auth/scale")  # noqa: E731
    async with app.run_test(size=SIZE) as pilot:
        table = await select(pilot, "auth")
        await pilot.press("k")
        assert table.selected_service == "postgres"
        await pilot.press("j")
        assert table.selected_service == "auth"
        await pilot.press("ctrl+k")
        assert isinstance(app.screen, ConfirmScreen)
        assert any("no grace period" in d for d in app.screen.details)
        await pilot.press("y")
        await until(pilot, lambda: len(scales()) == 1, "the scale to 0")
        assert scales()[-1].body == {"spec": {"replicas": 0}}
        await until(pilot, lambda: fake.objects["Deployment"]["auth"]["spec"]["replicas"] == 0
                    and app.status is not None and app.status.get("auth").container.workload
                    is not None and app.status.get("auth").container.workload.desired == 0,
                    "auth at 0 in the console")
        await pilot.press("escape")
        await select(pilot, "auth")
        await pilot.press("U", "y")
        await until(pilot, lambda: len(scales()) == 2, "the scale back")
        assert scales()[-1].body == {"spec": {"replicas": 2}}
