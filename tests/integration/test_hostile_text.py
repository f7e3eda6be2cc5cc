"""One hostile corpus through every output path: text from services is data (issue 12).

A health body, a Docker healthcheck, a log line, a workflow id, type or failure, a journal
entry: whatever a service or a user's file says reaches the CLI, exports and the TUI through
one boundary (`console.masking`). Each path here gets the same corpus (markup and a stray
closing tag, a Rich hyperlink, OSC 0/8/52, CSI, BEL, NUL, C1, invalid UTF-8, a
100,000-character line, secrets in the forms the scanner knows) and must show none of it raw:
no crash, no escape byte, no secret literal, markup shown literally as text.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from actions.base import CancelToken, Progress, Step
from actions.report import build_report
from console.export import status_to_json, status_to_markdown
from console.factory import Options, build_context
from console.journal import Journal, TimelineEntry
from console.masking import echo
from console.model import HealthCheck
from console.probes.base import ProbeResult
from console.render_text import render_status_table
from console.runtime.base import ContainerState
from console.status.types import ServiceStatus, StackStatus, State
from console.timeline_export import export_markdown
from tests.dockerlab import DockerLab, healthcheck
from ui.factory import build_app

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

MARKUP = "[/oops] [link=http://markup.example]y[/link] [bold]b[/bold]"
ESCAPES = (
    "\x1b]0;PWNED-TITLE\x07"  # OSC 0: the terminal's (tmux's) title
    "\x1b[2J\x1b[H"  # CSI: clear the screen, cursor home
    "\x1b]52;c;Q0xJUEJPQVJE\x07"  # OSC 52: write the operator's clipboard
    "\x1b]8;;http://osc8.example\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    " BEL\x07 NUL\x00 C1\x9b31m"
)
SECRETS = (
    "password=hunter2 DB_PASSWORD=hunter3 url=postgres://admin:s3cr3tpw@db:5432/x "
    "header Bearer abc-123456 failed, retried with Basic dXNlcjpwYXNz== KEY=VALUE"
)
HOSTILE = f"{MARKUP} {ESCAPES} {SECRETS}"
INVALID_UTF8 = b"bytes \xff\xfe\xc3( end"
LONG = "L" * 100_000
# Nothing of these may come out: escape bytes, the payloads of the escape sequences, secrets.
FORBIDDEN = (
    "\x1b", "\x07", "\x00", "\x9b", "PWNED-TITLE", "Q0xJUEJPQVJE", "osc8.example",
    "hunter2", "hunter3", "s3cr3tpw", "abc-123456", "dXNlcjpwYXNz", "VALUE",
)  # fmt: skip
LINE_BOUND = 10_000  # no output line carries the 100k line whole


def assert_safe(out: str, where: str, markup_shown: bool = True, whole: bool = True) -> None:
    """None of the corpus raw in `out`; its markup shown literally when `markup_shown`
    (the `[link=...]` too when the `whole` corpus is expected, not just a hostile id)."""
    for token in FORBIDDEN:
        assert token not in out, f"{where}: {token!r} came out raw"
    longest = max((len(line) for line in out.splitlines()), default=0)
    assert longest < LINE_BOUND, f"{where}: a {longest}-character line came out"
    if markup_shown:
        assert "[/oops]" in out, f"{where}: the markup was not shown as text:\n{out[:2000]}"
    if markup_shown and whole:
        assert "[link=http://markup.example]" in out, f"{where}: [link=] became a link"


def strings_of(value: Any) -> str:
    """Every string inside a decoded JSON document, one per line (JSON escapes undone)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(strings_of(k) + "\n" + strings_of(v) for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(strings_of(v) for v in value)
    return ""


# --- the boundary itself --------------------------------------------------------------------


# --- renderers and exports (pure) -----------------------------------------------------------

CHECK = HealthCheck("http", port=23170)


def hostile_status() -> StackStatus:
    """A snapshot in which everything a service controls is the corpus."""
    said = HOSTILE + " " + INVALID_UTF8.decode("utf-8", "surrogateescape")
    probe = ProbeResult(CHECK, False, 3.0, output=said, error=said)
    container = ContainerState("web", present=True, state="running", error=said,
                               health="unhealthy", health_log=(said,))
    web = ServiceStatus(
        name="web", tier="core", phase=1, state=State.UNHEALTHY, runtime_state="running",
        health=HOSTILE, reachable_host=False, reachable_inside=None, deps_met=True,
        issues=(said, LONG), probes=(probe,), container=container, ports=(23170,),
        root_cause=True,
    )
    return StackStatus("t", NOW, (web,), runtime_error=HOSTILE, tiers=("core",))


def _table(color: bool) -> str:
    return render_status_table(hostile_status(), color=color, width=400)


def _echo() -> str:
    import io

    buf = io.StringIO()
    echo(HOSTILE, LONG, file=buf)
    return buf.getvalue()


RENDERERS: dict[str, Callable[[], str]] = {
    "status table": lambda: _table(False),
    "status table, colour": lambda: _table(True),
    "status --markdown": lambda: status_to_markdown(hostile_status()),
    "status --json": lambda: strings_of(json.loads(status_to_json(hostile_status()))),
    "report": lambda: build_report(
        hostile_status(), [TimelineEntry(NOW, "action", HOSTILE, f"restart ok: {HOSTILE}")],
        {HOSTILE: 3.0}, NOW),
    "timeline export": lambda: export_markdown(
        [TimelineEntry(NOW, "event", HOSTILE, f"{HOSTILE} {LONG}")], stack=HOSTILE),
    "cli echo": _echo,
}


# --- the CLI against real containers --------------------------------------------------------


def _octal(data: bytes) -> str:
    """`printf %b` input for any bytes: every byte as \\0NNN, so the shell sees none raw."""
    return "".join(f"\\0{b:03o}" for b in data)


def _quiet_port() -> int:
    """A loopback port below the ephemeral range that nobody holds right now."""
    for port in range(24170, 24270):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 24170-24269")


@dataclass
class HostileStack:
    lab: DockerLab
    stack: Path
    state: Path


@pytest.fixture(scope="module")
def hostile_stack(docker_lab: DockerLab, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[HostileStack]:
    """Three services that say the corpus: a 503 health body, a Docker healthcheck, logs."""
    lab = DockerLab(f"vxtest-{os.getpid()}-{secrets.token_hex(3)}", docker_lab.client)
    port = _quiet_port()
    body = _octal(HOSTILE.encode() + b" " + INVALID_UTF8)
    response = _octal(b"HTTP/1.0 503 Bad\r\nContent-Type: text/plain\r\n\r\n") + body
    try:
        lab.run("hx-health", ["sh", "-c", f"printf '%b' '{response}' > /tmp/r; "
                              f"while true; do nc -l -p {port} < /tmp/r; done"])
        lab.run("hx-dh", ["sleep", "3600"],
                healthcheck=healthcheck(["sh", "-c", f"printf '%b' '{body}'; exit 1"]))
        lab.run("hx-logs", ["sh", "-c", f"printf '%b\\n' '{body}'; head -c 100000 /dev/zero "
                            "| tr '\\000' L; echo; sleep 3600"])
        lab.wait_health("hx-dh", "unhealthy")
        tmp = tmp_path_factory.mktemp("hostile")
        stack = tmp / "s.toml"
        stack.write_text(
            f'[stack]\nname = "hostile"\nproject = "{lab.project}"\n'
            f'[services.hx-health]\nports = [{port}]\n'
            f'checks = [{{ kind = "http", port = {port}, timeout = 2.0 }}]\n'
            "[services.hx-dh]\n[services.hx-logs]\n"
        )
        yield HostileStack(lab, stack, tmp)
    finally:
        lab.cleanup()


WIDE_ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "400"}  # the Issues column shown


def cli(h: HostileStack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "--stack", str(h.stack), "--state-dir",
         str(h.state), *args],
        cwd=ROOT, capture_output=True, timeout=timeout, text=True, errors="surrogateescape",
        env=WIDE_ENV,
    )


@pytest.mark.parametrize("args", [("status",), ("status", "--markdown"), ("report",)])
def test_status_and_report_show_hostile_health_as_data(
    hostile_stack: HostileStack, args: tuple[str, ...]
) -> None:
    proc = cli(hostile_stack, *args)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1), proc.stderr
    assert_safe(proc.stdout + proc.stderr, " ".join(args))
    assert "hx-dh" in proc.stdout and "docker healthcheck" in proc.stdout
    assert "HTTP 503" in proc.stdout


def test_status_json_masks_and_cleans_every_string(hostile_stack: HostileStack) -> None:
    proc = cli(hostile_stack, "status", "--json")
    assert proc.returncode == 1, proc.stderr
    assert_safe(strings_of(json.loads(proc.stdout)), "status --json")


def test_status_watch_survives_hostile_health(hostile_stack: HostileStack) -> None:
    """Two refreshes printed and still running: the old MarkupError killed the first one."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "--stack", str(hostile_stack.stack),
         "--state-dir", str(hostile_stack.state), "status", "--watch", "0.5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env=WIDE_ENV,
    )
    try:
        assert proc.stdout is not None
        seen, out = 0, b""
        deadline = time.monotonic() + 60
        while seen < 2 and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            out += line
            seen += line.startswith(b"Readiness")
        assert seen == 2 and proc.poll() is None, proc.stderr.read().decode() if proc.stderr \
            else out.decode()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        # What this test guards is the output; the exit after SIGTERM waits for probe
        # threads still blocked in their timeouts (asyncio.run joins its executor), which
        # took over 10 s once on a box running a mutation run beside the suite.
        proc.wait(30)
    assert_safe(out.decode(errors="surrogateescape"), "status --watch")


def test_logs_print_the_corpus_as_data(hostile_stack: HostileStack) -> None:
    proc = cli(hostile_stack, "logs", "hx-logs")
    assert proc.returncode == 0, proc.stderr
    assert_safe(proc.stdout, "logs")
    assert "\ufffd" in proc.stdout  # the invalid bytes, replaced
    assert "[truncated 98,020 chars]" in proc.stdout  # the 100k line (+ its stamp), bounded


# --- the CLI and the TUI against a real Temporal test server ----------------------------------

WF_ID = f"po-[/oops]-\x1b]0;PWNED-TITLE\x07-{secrets.token_hex(3)}"
WF_TYPE = "PurchaseOrder[/oops]\x1b[2JApproval"
REASON = f"{HOSTILE} {LONG}"


@pytest.fixture(scope="module")
def hostile_workflow(temporal_lab: Any) -> str:
    """A workflow whose id and type are hostile, terminated with the corpus as the reason.

    Started from a child process: a Temporal client left behind by a closed event loop in
    this process would stand in the way of the TUI test's own client.
    """
    script = (
        "import asyncio, json, os, sys\n"
        "from temporalio.client import Client\n"
        "address, wid, wtype, queue, reason = json.loads(sys.stdin.read())\n"
        "async def go():\n"
        "    client = await Client.connect(address, namespace='vextrus')\n"
        "    handle = await client.start_workflow(wtype, {'x': 1}, id=wid, task_queue=queue)\n"
        "    await handle.terminate(reason=reason)\n"
        "asyncio.run(go())\n"
        # Leave without finalizing temporalio's runtime threads: a helper's exit under load
        # once died in PyGILState_Release. (The console's own clean exit is what
        # tests/integration/test_cli_workflows_exit.py checks; this is only the fixture's helper.)
        "sys.stdout.flush(); os._exit(0)\n"
    )
    args = [temporal_lab.address, WF_ID, WF_TYPE, f"nobody-{secrets.token_hex(3)}", REASON]
    proc = subprocess.run([sys.executable, "-c", script], input=json.dumps(args), text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return str(temporal_lab.address)


def wf_cli(address: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "--runtime", "none", "--state-dir", str(tmp_path),
         "workflows", args[0], "--temporal-address", address, "--temporal-namespace",
         "vextrus", *args[1:]],
        cwd=ROOT, capture_output=True, timeout=60, text=True, errors="surrogateescape",
    )


@pytest.mark.parametrize("verb", ["list", "describe", "history"])
@pytest.mark.parametrize("as_json", [False, True])
def test_workflows_commands_show_hostile_ids_types_and_failures_as_data(
    hostile_workflow: str, tmp_path: Path, verb: str, as_json: bool
) -> None:
    args = [verb, *(["--status", "terminated"] if verb == "list" else [WF_ID])]
    proc = wf_cli(hostile_workflow, tmp_path, *args, *(["--json"] if as_json else []))
    assert proc.returncode == 0, proc.stderr
    out = strings_of(json.loads(proc.stdout)) if as_json else proc.stdout
    assert_safe(out + proc.stderr, f"workflows {verb}", whole=verb != "list")
    if verb != "history":  # the id, its escape removed, its markup as text
        assert "po-[/oops]-" in out
    if verb != "list":
        assert "password=***" in out  # the termination reason, masked


# --- the TUI ----------------------------------------------------------------------------------


async def until(pilot: Any, ok: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    await pilot.pause(0.05)
    while not ok():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await pilot.pause(0.05)


def shown(app: Any) -> str:
    """What the terminal would show: the screen exported as SVG, one element a line."""
    import html

    svg = html.unescape(str(app.export_screenshot()))  # an escape as an entity counts too
    return svg.replace("\xa0", " ").replace("><", ">\n<")


def rendered(renderable: Any, width: int = 300) -> str:
    import io

    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_matrix_detail_and_logs_show_hostile_services_as_data(
    hostile_stack: HostileStack,
) -> None:
    from textual.widgets import Static

    from ui.screens.detail import DetailScreen
    from ui.screens.logs import LogsScreen
    from ui.widgets.log_view import LogView
    from ui.widgets.service_table import ServiceTable

    ctx = build_context(Options(stack_path=str(hostile_stack.stack),
                                state_dir=str(hostile_stack.state)))
    app = build_app(ctx)
    async with app.run_test(size=(260, 50)) as pilot:
        table = app.screen.query_one(ServiceTable)
        await until(pilot, lambda: app.status is not None and table.row_count >= 4, "matrix")
        await until(pilot, lambda: "[/oops]" in shown(app), "the Issues column")
        cells = "\n".join(c.plain for key in ("hx-health", "hx-dh")
                          for c in table.get_row(key) if isinstance(c, Text))
        assert_safe(cells, "matrix cells")
        assert_safe(shown(app), "matrix screen")

        app.push_screen(DetailScreen("hx-dh"))
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        await until(pilot, lambda: "docker healthcheck" in shown(app), "detail issues")
        bodies = app.screen.query(".section-body").results(Static)
        sections = "\n".join(rendered(w.content) for w in bodies)
        assert_safe(sections, "detail sections")
        assert_safe(shown(app), "detail screen")

        app.push_screen(LogsScreen(services=["hx-logs"]))
        await until(pilot, lambda: isinstance(app.screen, LogsScreen), "logs")
        view = app.screen.query_one(LogView)
        await until(pilot, lambda: "[/oops]" in shown(app), "the hostile log line")
        lines = "\n".join(e.text for e in view.buffer)
        assert_safe(lines, "log view", markup_shown=True)
        assert_safe(shown(app), "logs screen")


async def test_workflows_screens_show_hostile_workflows_as_data(
    hostile_workflow: str, tmp_path: Path
) -> None:
    from dataclasses import replace

    from console.temporal.client import TemporalBackend
    from console.temporal.types import ListFilter
    from tests.ui_data import make_context
    from ui.screens.workflow_detail import WorkflowDetailScreen
    from ui.screens.workflows import WorkflowsScreen
    from ui.widgets.workflow_facts import WorkflowFacts
    from ui.widgets.workflow_table import WorkflowTable

    backend = TemporalBackend(hostile_workflow, "vextrus", timeout=5.0, query_timeout=5.0)
    app = build_app(replace(make_context(), workflows=backend,
                            journal=Journal(tmp_path / "j.sqlite3", stack="vextrus")))
    async with app.run_test(size=(260, 50)) as pilot:
        # Filtered to its id (the session's server holds other tests' workflows too): the
        # title then shows the hostile id as well.
        app.push_screen(WorkflowsScreen(ListFilter(status="terminated", workflow_id=WF_ID)))
        await until(pilot, lambda: isinstance(app.screen, WorkflowsScreen), "workflows screen")
        table = app.screen.query_one(WorkflowTable)
        await until(pilot, lambda: any(r.workflow_id == WF_ID for r in table.rows_shown),
                    "the hostile workflow listed")
        await until(pilot, lambda: "po-[/oops]-" in shown(app), "the hostile row painted")
        assert_safe(shown(app), "workflows list", markup_shown=False)

        app.push_screen(WorkflowDetailScreen(WF_ID))
        await until(pilot, lambda: isinstance(app.screen, WorkflowDetailScreen), "detail")
        facts = app.screen.query_one(WorkflowFacts)
        await until(pilot, lambda: "terminated" in rendered(facts.content), "describe")
        await until(pilot, lambda: "password=***" in shown(app), "the reason in the history")
        assert_safe(rendered(facts.content), "workflow facts", markup_shown=False)
        assert_safe(shown(app), "workflow detail")


class HostileAction:
    """An action whose steps and events quote what a service said (as a restart's do)."""

    name = "restart"
    target = f"web {MARKUP}"
    writes = False

    def plan(self) -> list[Step]:
        return [Step("s1", f"restart {HOSTILE}", detail=HOSTILE)]

    async def run(self, cancel: CancelToken) -> Any:
        yield Progress("started", "s1", f"restarting: {HOSTILE}")
        yield Progress("failed", "s1", f"{HOSTILE} {LONG}")


def hostile_workload() -> Any:
    """Kubernetes objects say things too: pod reasons, event messages, HPA metrics."""
    from console.runtime.base import PodSummary, Workload

    pod = PodSummary("web-7d9f-abcde", "Running", reason=HOSTILE, message=HOSTILE,
                     last_exit_code=1, last_reason=MARKUP)
    return Workload("Deployment", "web", "vextrus", desired=2, ready=1, pods=(pod,),
                    probe_failures=(f"Readiness probe failed: {HOSTILE}",),
                    warnings=(f"{HOSTILE} {LONG}",))


