"""The console and the CLI on the kubernetes runtime, against the loopback API server.

Built through the real factory (`build_context` with `--runtime kubernetes` options), so the
production guard, the stack file's [stack.kubernetes] and the runtime are what operators run.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from cli.main import main
from console.factory import Options, build_context
from console.stackfile import StackFileError, parse_stack
from tests.k8s_fake_api import FakeKubeAPI, deployment, event, hpa, pod
from tests.pilot_wait import settle as wait_until
from ui.app import VextrusApp
from ui.factory import build_app
from ui.screens.action import ActionScreen
from ui.screens.confirm import ConfirmScreen
from ui.screens.detail import DetailScreen
from ui.widgets.service_table import ServiceTable

FIXED = datetime(2025, 9, 25, 10, 42, 7, tzinfo=UTC)

STACK = """
[stack]
name = "vextrus"
tiers = ["infrastructure", "core"]

[stack.kubernetes]
namespace = "vextrus"

[services.postgres]
tier = "infrastructure"
runtime = { k8s = "statefulset/postgres" }

[services.auth]
tier = "core"
phase = 1
depends_on = ["postgres"]

[services.configuration]
tier = "core"
phase = 1
depends_on = ["postgres"]

[services.notification]
tier = "core"
phase = 1
depends_on = ["postgres"]
"""


def scene(fake: FakeKubeAPI) -> None:
    """postgres fine, auth fine with an HPA, configuration crash-looping, notification
    waiting on a bad image; times fixed so the snapshot does not move."""
    fake.put("StatefulSet", deployment("postgres", 1, kind="StatefulSet"))
    fake.put("Pod", pod("postgres", "0", started=FIXED - timedelta(hours=5)))
    fake.put("Deployment", deployment("auth", 2))
    fake.put("Pod", pod("auth", "a0", started=FIXED - timedelta(hours=2)))
    fake.put("Pod", pod("auth", "a1", started=FIXED - timedelta(hours=2)))
    fake.put("HorizontalPodAutoscaler", hpa("auth", 2, 3, 2, 6, cpu_now=85))
    fake.put("Deployment", deployment("configuration", 1, ready=0))
    fake.put("Pod", pod("configuration", "c0", ready=False, restarts=9,
                        waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
                        last_terminated=(1, "Error", FIXED - timedelta(seconds=50)),
                        started=FIXED - timedelta(minutes=30)))
    fake.put("Event", event("configuration-c0", "BackOff", "Back-off restarting failed container",
                            count=40, when=FIXED - timedelta(seconds=20)))
    fake.put("Deployment", deployment("notification", 1, ready=0, image="vextrus/notify:9.9"))
    fake.put("Pod", pod("notification", "n0", phase="Pending", ready=False,
                        waiting=("ImagePullBackOff", 'Back-off pulling image "vextrus/notify:9.9"'),
                        started=FIXED - timedelta(minutes=3)))


def serve_scene() -> Iterator[FakeKubeAPI]:
    """The fake API server with the scene loaded, for the `fake` fixtures."""
    server = FakeKubeAPI().start()
    scene(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake() -> Iterator[FakeKubeAPI]:
    yield from serve_scene()


def write_files(fake: FakeKubeAPI, tmp_path: Path, stack_text: str) -> dict[str, Path]:
    """The stack file, a dev and a production kubeconfig on the fake, a state directory."""
    stack = tmp_path / "stack.toml"
    stack.write_text(stack_text, encoding="utf-8")
    return {"stack": stack, "dev": fake.write_kubeconfig(tmp_path / "dev", "dev-cluster"),
            "prod": fake.write_kubeconfig(tmp_path / "prod", "prod-eu"), "state": tmp_path}


@pytest.fixture
def files(fake: FakeKubeAPI, tmp_path: Path) -> dict[str, Path]:
    return write_files(fake, tmp_path, STACK)


OPENED: list[VextrusApp] = []


@pytest.fixture(autouse=True)
async def _close_runtimes() -> AsyncIterator[None]:
    """The app closes its runtime when it exits; this also covers an app a test built but
    never ran (closing twice is harmless)."""
    yield
    while OPENED:
        runtime = OPENED.pop().ctx.runtime
        if runtime is not None:
            await runtime.close()


def k8s_app(files: dict[str, Path], which: str = "dev", allow_writes: bool = False) -> VextrusApp:
    opts = Options(stack_path=str(files["stack"]), runtime="kubernetes",
                   kubeconfig=str(files[which]), allow_writes=allow_writes,
                   state_dir=str(files["state"]))
    ctx = build_context(opts, clock=lambda: FIXED)
    ctx.runtime.clock = lambda: FIXED  # type: ignore[union-attr]
    app = build_app(ctx)
    OPENED.append(app)
    return app


def screen_text(app: VextrusApp) -> str:
    """Every Static of the screen rendered as plain text (rich tables included)."""
    console = Console(width=200, record=True, file=io.StringIO())
    for widget in app.screen.query("Static"):
        console.print(widget.content)  # type: ignore[attr-defined]
    return console.export_text()


async def settle(pilot) -> ServiceTable:  # type: ignore[no-untyped-def]
    def filled() -> bool:
        tables = pilot.app.screen.query(ServiceTable)
        return pilot.app.status is not None and bool(tables) and tables.first().row_count > 0

    await wait_until(pilot, filled, "the first refresh to reach the table")
    return pilot.app.screen.query(ServiceTable).first()


# --- the console --------------------------------------------------------------------------


async def test_matrix_and_detail_on_the_cluster(files: dict[str, Path]) -> None:
    app = k8s_app(files)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        status = app.status
        assert status is not None and status.runtime_name == "kubernetes"
        states = {s.name: s.state.value for s in status.services}
        assert states == {"postgres": "operational", "auth": "operational",
                          "configuration": "restart-loop", "notification": "not-started"}
        app.push_screen(DetailScreen("configuration"))
        await pilot.pause(0.2)
        shown = screen_text(app)
        assert "restart loop: CrashLoopBackOff, 9 restarts, last exit code 1" in shown
        assert "configuration-c0 CrashLoopBackOff · 9 restarts · last exit 1 Error" in shown
        assert "Back-off restarting failed container (x40)" in shown
        app.pop_screen()
        app.push_screen(DetailScreen("auth"))
        await pilot.pause(0.2)
        shown = screen_text(app)
        assert "2 → 3 replicas (min 2, max 6) · cpu 85%/70%" in shown


async def test_production_context_refuses_a_restart_in_the_console(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    app = k8s_app(files, "prod")
    assert app.ctx.read_only
    async with app.run_test(size=(160, 48)) as pilot:
        table = await settle(pilot)
        table.move_cursor(row=table.row_keys.index("auth"))
        await pilot.press("r")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ActionScreen)
        assert app.screen.result.startswith("restart: refused: context 'prod-eu' matches")
    assert fake.requests_for("PATCH") == []


async def test_allowed_writes_ask_for_the_context_typed_out(
    files: dict[str, Path], fake: FakeKubeAPI
) -> None:
    app = k8s_app(files, "prod", allow_writes=True)
    async with app.run_test(size=(160, 48)) as pilot:
        table = await settle(pilot)
        table.move_cursor(row=table.row_keys.index("auth"))
        await pilot.press("r")
        await pilot.pause(0.2)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed == "prod-eu"
        await pilot.press("y")  # a key is not enough
        assert app.screen is confirm
        await pilot.press(*"prod-us", "enter")  # nor a wrong name
        assert app.screen is confirm and fake.requests_for("PATCH") == []
        confirm.query_one("Input").value = ""  # type: ignore[attr-defined]
        await pilot.press(*"prod-eu", "enter")
        await wait_until(pilot, lambda: fake.requests_for("PATCH"), "the PATCH")
        patch = fake.requests_for("PATCH")[0]
        assert patch.path.endswith("/deployments/auth")
        assert "kubectl.kubernetes.io/restartedAt" in str(patch.body)


# --- the CLI ------------------------------------------------------------------------------


def cli(files: dict[str, Path], which: str, *argv: str) -> list[str]:
    return ["--stack", str(files["stack"]), "--runtime", "kubernetes", "--kubeconfig",
            str(files[which]), "--state-dir", str(files["state"]), *argv]


def test_cli_refuses_writes_on_production(files: dict[str, Path], fake: FakeKubeAPI,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(cli(files, "prod", "scale", "auth", "3", "--yes")) == 2
    assert capsys.readouterr().err.strip() == (
        "vextrus-console: scale: refused: context 'prod-eu' matches the production pattern "
        "'*prod*': read-only (pass --allow-writes to change anything)")
    assert main(cli(files, "prod", "--allow-writes", "restart", "auth", "--yes")) == 2
    assert "pass --confirm-context prod-eu (no terminal to ask; --yes is not enough)" in \
        capsys.readouterr().err
    assert main(cli(files, "prod", "--allow-writes", "scale", "auth", "3",
                    "--confirm-context", "prod-us")) == 2
    assert "'prod-us' is not the context 'prod-eu'" in capsys.readouterr().err
    assert fake.requests_for("PATCH") == []


def test_cli_scale_with_the_context_confirmed(files: dict[str, Path], fake: FakeKubeAPI,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    fake.run_controller(ready_delay=0.05)  # the scale returns once the cluster reconciled
    code = main(cli(files, "prod", "--allow-writes", "scale", "auth", "4",
                    "--confirm-context", "prod-eu"))
    assert code == 0, capsys.readouterr().err
    patch = fake.requests_for("PATCH")[0]
    assert (patch.path, patch.body) == (
        "/apis/apps/v1/namespaces/vextrus/deployments/auth/scale", {"spec": {"replicas": 4}})
    out = capsys.readouterr().out
    assert "desired replicas set to 4" in out and "4/4 replicas ready in " in out


def test_cli_logs_previous(files: dict[str, Path], fake: FakeKubeAPI,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    fake.logs[("configuration-c0", True)] = ["2025-09-25T10:41:10Z Error: REDIS_URL is not set"]
    assert main(cli(files, "dev", "logs", "configuration", "--previous")) == 0
    assert capsys.readouterr().out == "2025-09-25T10:41:10 Error: REDIS_URL is not set\n"


def test_cli_status_without_kubeconfig_degrades(files: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--stack", str(files["stack"]), "--runtime", "kubernetes", "--kubeconfig",
                 str(tmp_path / "missing"), "--state-dir", str(tmp_path), "status", "--json"])
    out = capsys.readouterr()
    assert code == 1 and out.err == ""
    assert f"kubeconfig {tmp_path / 'missing'}: not found" in out.out


def test_stack_file_kubernetes_errors_name_file_line_and_field() -> None:
    with pytest.raises(StackFileError) as bad:
        parse_stack('[stack]\nname = "x"\n[stack.kubernetes]\nnamespace = "Prod_NS"\n', "s.toml")
    assert str(bad.value).startswith('s.toml:4: stack.kubernetes.namespace: "Prod_NS" is not a '
                                     "valid namespace")
    with pytest.raises(StackFileError, match=r'unknown key "contex" \(did you mean "context"'):
        parse_stack('[stack]\nname = "x"\n[stack.kubernetes]\ncontex = "a"\n', "s.toml")
    settings = parse_stack(STACK, "s.toml").kubernetes
    assert (settings.namespace, settings.production, settings.label) == (
        "vextrus", "*prod*", "app.kubernetes.io/name")


def test_no_kubernetes_import_until_chosen() -> None:
    """Cold start: the docker console must not pay for the kubernetes client."""
    import subprocess
    import sys

    code = ("import sys, cli.main, console.factory, console.runtime.kubernetes.runtime; "
            "print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "False"


