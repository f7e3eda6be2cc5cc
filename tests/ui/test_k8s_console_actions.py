"""Kubernetes actions in the console (scale, delete a pod, previous logs, probe inside),
driven with Pilot against the loopback API server; the requests it recorded are checked
for their exact bodies. The app is built through the real factory, as operators run it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.factory import Options, build_context
from console.runtime.base import RuntimeUnavailable
from console.runtime.kubernetes.runtime import KubernetesRuntime
from tests.k8s_fake_api import FakeKubeAPI
from tests.ui.test_k8s_console import (
    FIXED,
    STACK,
    screen_text,
    serve_scene,
    settle,
    write_files,
)
from tests.ui_data import make_context
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen
from ui.screens.help import help_entries
from ui.screens.kubernetes import ContainerPickerScreen, PodPickerScreen, ScaleScreen
from ui.screens.logs import LogsScreen
from ui.widgets.action_progress import ActionProgress

# auth gets an http check, for probe-inside to run in its pod
CHECKED = STACK.replace('[services.auth]\ntier = "core"',
                        '[services.auth]\ntier = "core"\nports = [3001]\n'
                        'checks = [{ kind = "http", port = 3001, path = "/health" }]')
SIZE = (160, 48)


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    yield from serve_scene()


@pytest.fixture
def files(fake: FakeKubeAPI, tmp_path: Path) -> dict[str, Path]:
    return write_files(fake, tmp_path, CHECKED)


def k8s_app(files: dict[str, Path], which: str = "dev", **options: bool) -> VextrusApp:
    opts = Options(stack_path=str(files["stack"]), runtime="kubernetes",
                   kubeconfig=str(files[which]), state_dir=str(files["state"]), **options)
    ctx = build_context(opts, clock=lambda: FIXED)
    ctx.runtime.clock = lambda: FIXED  # type: ignore[union-attr]
    return build_app(ctx)


async def until(pilot, ok: Callable[[], bool], what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(250):
        if ok():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never happened: {what}")


async def select(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    table = await settle(pilot)
    table.move_cursor(row=table.row_keys.index(name))


def finished(app: VextrusApp) -> bool:
    return isinstance(app.screen, ActionScreen) and app.screen.result != ""


def notices(app: VextrusApp) -> list[str]:
    return [n.message for n in app._notifications]


async def scale_to(pilot, replicas: str) -> ScaleScreen:  # type: ignore[no-untyped-def]
    await pilot.press("x")
    await until(pilot, lambda: isinstance(pilot.app.screen, ScaleScreen), "scale question")
    screen = pilot.app.screen
    screen.query_one("Input").value = ""
    await pilot.press(*replicas)
    return screen


def note(screen: ScaleScreen) -> str:
    return str(screen.query_one("#k8s-note").content)  # type: ignore[attr-defined]


# --- scale ------------------------------------------------------------------------------


async def test_scale_shows_the_autoscaler_and_sends_the_scale_patch(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    app = k8s_app(files)
    fake.run_controller(ready_delay=0.05)  # the action waits for the cluster to reconcile
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ScaleScreen), "scale question")
        shown = screen_text(app)
        assert "deployment/auth: 2/2 ready, 2 desired" in shown
        assert "autoscaler auth: 2 → 3 replicas (min 2, max 6) · cpu 85%/70%" in shown
        screen = app.screen
        assert isinstance(screen, ScaleScreen)
        assert note(screen).startswith("! already 2 desired; autoscaler auth keeps it between")
        screen.query_one("Input").value = ""  # type: ignore[attr-defined]
        await pilot.press("9")
        assert note(screen) == "! autoscaler auth will scale it back down to its maximum, 6"
        await pilot.press("9", "9")  # 999: out of range, enter does nothing
        assert note(screen) == "replicas: a whole number from 0 to 100"
        await pilot.press("enter")
        assert app.screen is screen
        screen.query_one("Input").value = ""  # type: ignore[attr-defined]
        await pilot.press("4", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed is None
        assert confirm.details == [
            "- scale auth to 4 replicas",
            "- wait until the controller has reconciled auth (timeout 120s)",
            "deployment/auth: 2/2 ready, 2 desired",
            "autoscaler auth: 2 → 3 replicas (min 2, max 6) · cpu 85%/70%",
            "! autoscaler auth keeps it between 2 and 6: it may change 4 again on its next sync"]
        assert fake.requests_for("PATCH") == []
        await pilot.press("y")
        await until(pilot, lambda: finished(app), "scale finished")
        assert app.screen.result == "ok"  # type: ignore[attr-defined]
    [patch] = fake.requests_for("PATCH")
    assert (patch.path, patch.content_type, patch.body) == (
        "/apis/apps/v1/namespaces/vextrus/deployments/auth/scale",
        "application/merge-patch+json", {"spec": {"replicas": 4}})
    assert app.ctx.journal is not None
    finished_text, started = sorted(e.text for e in app.ctx.journal.timeline(kinds=["action"]))
    assert started == "scale started"
    assert finished_text.startswith("scale finished: ok: 4/4 replicas ready in ")


async def test_production_asks_for_the_context_typed_out_before_a_scale(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    app = k8s_app(files, "prod", allow_writes=True)
    fake.run_controller(ready_delay=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await scale_to(pilot, "3")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed == "prod-eu"
        assert "context 'prod-eu' is production" in confirm.details
        await pilot.press("y")  # a key is not enough
        await pilot.press(*"prod-us", "enter")  # nor another context's name
        assert app.screen is confirm and fake.requests_for("PATCH") == []
        confirm.query_one("Input").value = ""  # type: ignore[attr-defined]
        await pilot.press(*"prod-eu", "enter")
        await until(pilot, lambda: finished(app), "scale finished")
    assert [(r.path, r.body) for r in fake.requests_for("PATCH")] == [
        ("/apis/apps/v1/namespaces/vextrus/deployments/auth/scale", {"spec": {"replicas": 3}})]


@pytest.mark.parametrize(("which", "options", "why"), [
    ("prod", {}, "refused: context 'prod-eu' matches the production pattern '*prod*': "
                 "read-only (pass --allow-writes to change anything)"),
    ("dev", {"read_only": True}, "refused in read-only mode"),
], ids=["production", "read-only"])
async def test_read_only_refuses_scale_and_delete_before_asking(
    files: dict[str, Path], fake: FakeKubeAPI, which: str, options: dict[str, bool], why: str
) -> None:
    app = k8s_app(files, which, **options)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "configuration")
        await pilot.press("x")
        await pilot.press("ctrl+d")
        await pilot.pause(0.1)
        assert notices(app) == [f"scale: {why}; nothing was done",
                                f"delete pod: {why}; nothing was done"]
        assert not isinstance(app.screen, (ScaleScreen, PodPickerScreen, ActionScreen))
    assert fake.requests_for("PATCH") == [] and fake.requests_for("DELETE") == []


# --- delete a pod -------------------------------------------------------------------------


async def test_delete_pod_offers_the_workloads_pods_and_sends_the_delete(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "configuration")
        await pilot.press("enter", "ctrl+d")  # from the detail screen
        await until(pilot, lambda: isinstance(app.screen, PodPickerScreen), "pod picker")
        picker = app.screen
        options = picker.query_one("OptionList")
        assert [str(options.get_option_at_index(i).prompt)  # type: ignore[attr-defined]
                for i in range(options.option_count)] == [  # type: ignore[attr-defined]
            "configuration-c0 · CrashLoopBackOff · not ready · 9 restarts · last exit 1 Error"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        assert app.screen.details[-1] == (  # type: ignore[attr-defined]
            "the controller of deployment/configuration creates a replacement")
        assert fake.requests_for("DELETE") == []
        await pilot.press("y")
        await until(pilot, lambda: finished(app), "delete finished")
        assert app.screen.result == "ok"  # type: ignore[attr-defined]
    assert [(r.path, r.body) for r in fake.requests_for("DELETE")] == [
        ("/api/v1/namespaces/vextrus/pods/configuration-c0", None)]
    assert "configuration-c0" not in fake.objects["Pod"]


async def test_a_pod_gone_before_the_confirmation_is_a_failed_step_not_a_crash(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "configuration")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, PodPickerScreen), "pod picker")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        fake.delete("Pod", "configuration-c0")  # the controller was faster
        await pilot.press("y")
        await until(pilot, lambda: finished(app), "delete finished")
        result = app.screen.result  # type: ignore[attr-defined]
        assert result.startswith("stopped with 1 failure · configuration: ") and \
            "configuration-c0" in result
        assert [n.title for n in app._notifications if n.severity == "error"] == []


def test_cli_scale_refuses_a_replica_count_out_of_range(
    files: dict[str, Path], fake: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    argv = ["--stack", str(files["stack"]), "--runtime", "kubernetes", "--kubeconfig",
            str(files["dev"]), "--state-dir", str(files["state"]), "scale", "auth", "300", "-y"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "vextrus-console: scale: replicas must be 0 to 100, not 300\n")
    assert fake.requests_for("PATCH") == []


async def test_esc_on_the_pod_picker_deletes_nothing(files: dict[str, Path],
                                                     fake: FakeKubeAPI) -> None:
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, PodPickerScreen), "pod picker")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, (PodPickerScreen, ConfirmScreen, ActionScreen))
    assert fake.requests_for("DELETE") == []


# --- read-only actions: the previous container's logs, probes inside a pod ----------------


async def test_previous_logs_show_the_crashed_run(files: dict[str, Path],
                                                  fake: FakeKubeAPI) -> None:
    fake.logs[("configuration-c0", True)] = ["2025-09-25T10:41:10Z Error: REDIS_URL is not set"]
    fake.logs[("configuration-c0", False)] = ["2025-09-25T10:42:00Z starting again"]
    app = k8s_app(files, "prod")  # reading is fine on a read-only context
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "configuration")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "logs screen")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await until(pilot, lambda: screen.view.line_count > 0, "a log line")
        title = str(screen.query_one("#logs-title").content)  # type: ignore[attr-defined]
        assert title == ("Logs · configuration · previous container (its last run before "
                         "the restart)")
        assert screen.view.entry_at(0).text == "Error: REDIS_URL is not set"  # type: ignore[union-attr]
    [logs] = [r for r in fake.requests_for("GET") if r.path.endswith("/log")]
    assert (logs.query["previous"], logs.query["follow"]) == (["true"], ["false"])


def mesh_sidecar(fake: FakeKubeAPI) -> None:
    """auth's pods get an istio-proxy listed first; the annotation names auth as default."""
    from datetime import timedelta

    from tests.k8s_fake_api import deployment, pod

    fake.put("Deployment", deployment("auth", 2, sidecar="istio-proxy", default_container="auth"))
    for name in ("a0", "a1"):
        fake.put("Pod", pod("auth", name, sidecar="istio-proxy", default_container="auth",
                            started=FIXED - timedelta(hours=2)))


async def test_previous_logs_ask_which_container_of_a_pod_with_a_sidecar(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    mesh_sidecar(fake)
    fake.logs[("auth-a1", "istio-proxy", True)] = ["2025-09-25T10:41:10Z envoy: upstream reset"]
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, ContainerPickerScreen), "picker")
        options = app.screen.query_one("OptionList")
        assert [str(options.get_option_at_index(i).prompt)  # type: ignore[attr-defined]
                for i in range(options.option_count)] == [  # type: ignore[attr-defined]
            "auth · default (kubectl.kubernetes.io/default-container)", "istio-proxy"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "logs screen")
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await until(pilot, lambda: screen.view.line_count > 1, "the log lines")
        texts = [screen.view.entry_at(i).text  # type: ignore[union-attr]
                 for i in range(screen.view.line_count)]
        assert texts[:2] == ["[auth-a0] no previous container: istio-proxy has not restarted",
                             "[auth-a1] envoy: upstream reset"]
    logs = [r.query for r in fake.requests_for("GET") if r.path.endswith("/log")]
    assert [q["container"] for q in logs] == [["istio-proxy"], ["istio-proxy"]]


async def test_probe_inside_uses_the_default_container_unless_chosen(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    mesh_sidecar(fake)
    fake.exec_handler = lambda p, argv: (0, '{"status":"ok"}', "")
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ContainerPickerScreen), "picker")
        await pilot.press("enter")  # the default, on top
        await until(pilot, lambda: finished(app), "probe finished")
        await pilot.press("escape")
        app.request_cluster("container")  # the palette's "choose the container"
        await until(pilot, lambda: isinstance(app.screen, ContainerPickerScreen), "picker")
        await pilot.press("down", "enter")
        assert "auth: logs, exec and probes use container istio-proxy" in notices(app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ContainerPickerScreen), "picker")
        options = app.screen.query_one("OptionList")
        assert str(options.get_option_at_index(0).prompt) == "istio-proxy · chosen"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await until(pilot, lambda: finished(app), "probe finished")
    assert [c[1] for c in fake.exec_calls] == ["auth", "istio-proxy"]


async def test_probe_inside_runs_the_check_in_a_pod(files: dict[str, Path],
                                                    fake: FakeKubeAPI) -> None:
    fake.exec_handler = lambda p, argv: (1, "", "wget: server returned error: HTTP/1.1 503\n")
    app = k8s_app(files, "prod")
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "auth")
        await pilot.press("i")
        await until(pilot, lambda: finished(app), "probe finished")
        progress = app.screen.query_one(ActionProgress)
        assert [(e.kind, e.step) for e in progress.events] == [
            ("failed", "http 127.0.0.1:3001/health (inside)"), ("done", "auth")]
        assert "wget: server returned error: HTTP/1.1 503" in progress.events[0].message
        assert progress.events[-1].message == "0/1 checks pass inside"
    assert fake.requests_for("PATCH") == []  # read-only context: reading is allowed


# --- other runtimes, and exiting ------------------------------------------------------------


async def test_other_runtimes_neither_show_nor_run_the_cluster_keys() -> None:
    app = build_app(make_context())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.status is not None, "first refresh")
        described = {e.description for e in help_entries(app, app.screen)}
        assert "Restart" in described and not described & {
            "Scale", "Delete pod", "Previous logs", "Probe inside"}
        await pilot.press("x", "ctrl+d", "o", "i")
        await pilot.pause(0.1)
        assert app.screen_stack[-1] is app.screen_stack[0]
        app.request_cluster("scale", "postgres")  # the palette's path, were it offered
        await pilot.pause(0.05)
        assert notices(app)[-1] == "scale: the docker runtime cannot do this (Kubernetes only)"
    assert app.ctx.runtime.closed  # type: ignore[union-attr]


async def test_the_cluster_keys_are_in_help_and_the_palette(files: dict[str, Path]) -> None:
    from ui.app import VextrusCommands

    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = {e.description: e.keys for e in help_entries(app, app.screen)}
        assert {k: keys.get(k) for k in ("Scale", "Delete pod", "Previous logs",
                                         "Probe inside")} == {
            "Scale": "x", "Delete pod": "^d", "Previous logs": "o", "Probe inside": "i"}
        palette = VextrusCommands(app.screen)
        names = [name for name, _, _ in palette._commands()]
        assert [n for n in names if n.startswith("Kubernetes:")] == [
            "Kubernetes: scale the selected service",
            "Kubernetes: delete a pod of the selected service",
            "Kubernetes: logs of the previous container", "Kubernetes: probe inside a pod",
            "Kubernetes: choose the container of the selected service"]


async def test_quitting_closes_the_runtime_and_its_watches(files: dict[str, Path],
                                                           fake: FakeKubeAPI) -> None:
    app = k8s_app(files)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        runtime = app.ctx.runtime
        assert isinstance(runtime, KubernetesRuntime)
        informers = list(runtime.informers.values())
        assert informers and all(i._thread and i._thread.is_alive() for i in informers)
    assert not any(i._thread and i._thread.is_alive() for i in informers)  # watches ended
    with pytest.raises(RuntimeUnavailable, match="Kubernetes runtime is closed"):
        await runtime.list_states(app.ctx.stack.services)
    await runtime.close()  # what the demo does after the app returns: harmless twice


# --- snapshots --------------------------------------------------------------------------


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


