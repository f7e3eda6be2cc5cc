"""The snapshots tests of tests/ui/test_k8s_console_actions.py (same subject, other layer).

Kubernetes actions in the console (scale, delete a pod, previous logs, probe inside),
driven with Pilot against the loopback API server; the requests it recorded are checked
for their exact bodies. The app is built through the real factory, as operators run it.
"""
# ruff: noqa: F811  (a fixture imported from the module whose other layer shares it)

from __future__ import annotations

from pathlib import Path

import pytest

from tests.k8s_fake_api import FakeKubeAPI
from tests.ui.test_k8s_console import (
    FIXED,
)
from tests.ui.test_k8s_console_actions import (  # noqa: F401  (helpers and fixtures)
    SIZES,
    fake,
    files,
    k8s_app,
    mesh_sidecar,
    scale_to,
    select,
    until,
)
from ui.screens.kubernetes import ContainerPickerScreen, PodPickerScreen


@pytest.mark.parametrize("size", SIZES)
def test_scale_snapshot(snap_compare, files: dict[str, Path], size, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("NO_COLOR", raising=False)

    async def ask(pilot) -> None:  # type: ignore[no-untyped-def]
        await select(pilot, "auth")
        await scale_to(pilot, "9")
        await pilot.pause(0.05)

    assert snap_compare(k8s_app(files), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES)
def test_pod_picker_snapshot(snap_compare, files: dict[str, Path], fake: FakeKubeAPI, size,  # type: ignore[no-untyped-def]
                             monkeypatch) -> None:
    from datetime import timedelta

    from tests.k8s_fake_api import pod

    monkeypatch.delenv("NO_COLOR", raising=False)
    fake.put("Pod", pod("auth", "a2", phase="Pending", ready=False,
                        waiting=("ContainerCreating", ""), started=FIXED - timedelta(minutes=1)))

    async def ask(pilot) -> None:  # type: ignore[no-untyped-def]
        await select(pilot, "auth")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(pilot.app.screen, PodPickerScreen), "picker")
        await pilot.pause(0.05)

    assert snap_compare(k8s_app(files), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES)
def test_container_picker_snapshot(snap_compare, files: dict[str, Path], fake: FakeKubeAPI,  # type: ignore[no-untyped-def]
                                   size, monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    mesh_sidecar(fake)

    async def ask(pilot) -> None:  # type: ignore[no-untyped-def]
        await select(pilot, "auth")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(pilot.app.screen, ContainerPickerScreen),
                    "picker")
        await pilot.pause(0.05)

    assert snap_compare(k8s_app(files), terminal_size=size, run_before=ask)
