"""SVG snapshots of the guided-action screens at 80x24 and 160x48.

A scripted action with fixed events (the behaviour is tested against real Docker in
tests/integration/test_ui_actions.py); the snapshot pins the layout: title, bar, plan,
events, footer, and the confirmation and diagnosis modals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from actions.base import CancelToken, Progress, Step
from actions.bringup import Diagnosis
from tests.pilot_wait import settle
from tests.snapshots.test_ui_snapshots import _settled
from tests.ui_data import make_context
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen, DiagnosisScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
AT = datetime(2025, 9, 25, 10, 0, tzinfo=UTC)


class ScriptedBringUp:
    """Fixed plan and events, as a bring-up of the infrastructure phase reports them."""

    name = "bringup"
    target = "vextrus"
    writes = False  # no confirmation: the snapshot shows the run itself

    def plan(self) -> list[Step]:
        return [Step(n, f"start {n}, wait until healthy (timeout 120s)", n,
                     "phase 0 (infrastructure), layer 1, up to 4 at once")
                for n in ("postgres", "redis", "zookeeper", "kafka")]

    async def run(self, cancel: CancelToken) -> AsyncIterator[Progress]:
        yield Progress("started", "", "phase 0 (infrastructure): 4 services", at=AT)
        yield Progress("ok", "postgres", "healthy in 2.1s", at=AT)
        yield Progress("ok", "redis", "healthy in 0.4s", at=AT)
        yield Progress("failed", "zookeeper", "not healthy after 120s: tcp :2181 refused", at=AT)


async def _action_ran(pilot) -> None:
    await _settled(pilot)
    screen = ActionScreen(ScriptedBringUp())  # type: ignore[arg-type]
    await pilot.app.push_screen(screen)
    await settle(pilot, lambda: screen.result, "the scripted action to finish")


@pytest.mark.parametrize("size", SIZES)
def test_action_progress(snap_compare, size):
    app = build_app(make_context())
    assert snap_compare(app, terminal_size=size, run_before=_action_ran)


@pytest.mark.parametrize("size", SIZES)
def test_confirm_restart(snap_compare, size):
    async def ask(pilot) -> None:
        await _settled(pilot)
        await pilot.app.push_screen(ConfirmScreen(
            "restart kafka?",
            ["- stop master-data (depends on kafka)", "- restart kafka",
             "- wait until kafka is healthy", "- start master-data, wait until healthy",
             "blast radius: master-data, notification, audit, rules-engine, workflow"],
        ))
        await pilot.pause()

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=ask)


@pytest.mark.parametrize("size", SIZES)
def test_diagnosis(snap_compare, size):
    diagnosis = Diagnosis(
        "configuration", "exited with code 1", 1,
        ("[Nest] 1  - ERROR [GraphQLModule] Schema must contain uniquely named types",
         "[Nest] 1  - ERROR [ExceptionHandler] Cannot determine a GraphQL output type"),
        ("http 127.0.0.1:3004/health (host): connection refused",), (),
    )

    async def ask(pilot) -> None:
        await _settled(pilot)
        await pilot.app.push_screen(DiagnosisScreen(diagnosis))
        await pilot.pause()

    assert snap_compare(build_app(make_context()), terminal_size=size, run_before=ask)
