"""The local-process runtime against real child processes: start, logs, crash and restart
policy, pause, stop of the whole process group, exec "inside", events, and no orphans when
the console is closed, SIGTERMed or SIGKILLed."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.model import HealthCheck, RuntimeNames, Service, Stack
from console.monitor import Monitor
from console.runtime.base import RuntimeEvent, StreamStatus
from console.runtime.local.runtime import LocalActionError, LocalOptions, LocalRuntime
from console.status.engine import evaluate
from console.status.types import State
from tests.fixtures_services import free_port

PY = sys.executable


def svc(name: str, code: str, **kw: object) -> Service:
    return Service(name=name, runtime=RuntimeNames(local=(PY, "-c", textwrap.dedent(code))),
                   **kw)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def runtime() -> AsyncIterator[LocalRuntime]:
    rt = LocalRuntime(backoff_start=0.1, backoff_max=0.4)
    try:
        yield rt
    finally:
        await rt.close()


async def test_start_logs_and_state(runtime: LocalRuntime) -> None:
    s = svc("talker", """
        import sys, time
        print("hello from talker", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        time.sleep(30)
    """)
    await runtime.start(s)
    await wait_until(lambda: len(runtime._procs["talker"].logs) >= 2)
    state = (await runtime.list_states([s]))["talker"]
    assert state.present and state.state == "running"
    assert state.container_id == f"pgid:{runtime.process_groups()['talker']}"
    lines = [line async for line in runtime.logs(s, tail=10)]
    assert {(line.text, line.stream) for line in lines} == {
        ("hello from talker", "stdout"), ("to stderr", "stderr")}
    assert all(line.time is not None for line in lines)
    missing = (await runtime.list_states([Service(name="ghost")]))["ghost"]
    assert not missing.present and missing.state == "missing"


async def test_crash_is_restarted_with_backoff_then_paused(runtime: LocalRuntime) -> None:
    s = svc("crasher", """
        import sys
        print("boom", flush=True)
        sys.exit(3)
    """)
    await runtime.start(s)

    async def three_restarts_listed() -> bool:
        # The count goes up when a restart is scheduled; the listing shows it once it ran
        # (after the backoff), so wait on what the status engine reads.
        return len((await runtime.list_states([s]))["crasher"].recent_restarts) >= 3

    await wait_until(three_restarts_listed, timeout=30)
    state = (await runtime.list_states([s]))["crasher"]
    assert len(state.recent_restarts) >= 3
    now = datetime.now(UTC)
    status = evaluate(Stack("t", (s,)), {"crasher": state}, {}, now, runtime_name="local")
    crasher = status.get("crasher")
    assert crasher.state is State.RESTART_LOOP
    assert crasher.issues[0].startswith("restart loop: ")
    # Backoff grows: the gaps between starts do not shrink to a busy loop.
    starts = state.recent_restarts
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert gaps[-1] >= 0.1
    # Pausing keeps the evidence: it stays exited with its code and its log.
    await runtime.set_restart_policy(s, "no")
    await wait_until(lambda: runtime._procs["crasher"].state == "exited")
    count = runtime._procs["crasher"].restart_count
    await asyncio.sleep(0.6)
    paused = (await runtime.list_states([s]))["crasher"]
    assert paused.state == "exited" and paused.exit_code == 3
    assert runtime._procs["crasher"].restart_count == count
    assert [line.text async for line in runtime.logs(s, tail=1)] == ["boom"]


async def test_stop_ends_the_whole_process_group(runtime: LocalRuntime, tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    s = svc("parent", f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """)
    await runtime.start(s)
    await wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    grandchild = int(pidfile.read_text())
    parent = runtime.process_groups()["parent"]
    await runtime.stop(s, timeout=2)
    await wait_until(lambda: not alive(grandchild) and not alive(parent))
    state = (await runtime.list_states([s]))["parent"]
    assert state.state == "exited" and state.exit_code == 128 + signal.SIGTERM


async def test_exec_inside_sees_the_services_own_loopback() -> None:
    """A service on 127.0.0.2 answers `wget http://127.0.0.1:PORT` inside, not the host."""
    port = 18931
    server = svc("web", f"""
        import http.server, os
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(b"ok-inside")
            def log_message(self, *a): pass
        http.server.HTTPServer((os.environ["VEXTRUS_LOOPBACK"], {port}), H).serve_forever()
    """, checks=(HealthCheck(kind="http", port=port),))
    rt = LocalRuntime({"web": LocalOptions(loopback="127.0.0.2")})
    try:
        await rt.start(server)

        async def answers() -> bool:
            r = await rt.exec(server, ["wget", "-q", "-O", "-", f"http://127.0.0.1:{port}/"], 2)
            return r.exit_code == 0 and "ok-inside" in r.output

        await wait_until(answers)
        with pytest.raises(OSError):
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        refused = await rt.exec(server, ["nc", "-w", "1", "127.0.0.3", str(port)], 3)
        assert refused.exit_code != 0
    finally:
        await rt.close()


async def test_exec_starts_its_process_off_the_event_loop(
        runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork-exec holds its thread until the child has exec'd (10-40 ms a check on a loaded
    2-core box): on the event loop, every key waited behind the exec checks of a refresh."""
    import threading

    loop_thread = threading.current_thread()
    spawned_on: list[threading.Thread] = []
    popen = subprocess.Popen

    def recording_popen(*args, **kwargs):  # type: ignore[no-untyped-def]
        spawned_on.append(threading.current_thread())
        return popen(*args, **kwargs)

    server = svc("idle", "import time; time.sleep(60)")
    await runtime.start(server)
    await wait_until(lambda: runtime._procs["idle"].state == "running")
    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    results = await asyncio.gather(*[runtime.exec(server, ["echo", f"n{n}"], 5)
                                     for n in range(4)])
    assert [r.output.strip() for r in results] == ["n0", "n1", "n2", "n3"]
    assert len(spawned_on) == 4 and loop_thread not in spawned_on


async def test_wget_and_nc_inside_run_in_the_console_with_busyboxs_words(
        runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The applets run in a thread of the console, no Python started per check (40-50 ms
    of CPU each; a port-proxy diagnosis started 30), and say what the process applet says."""
    import http.server
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404 if self.path == "/missing" else 200)
            self.end_headers()
            self.wfile.write(b"body-ok")

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    idle = svc("idle", "import time; time.sleep(60)")
    await runtime.start(idle)
    await wait_until(lambda: runtime._procs["idle"].state == "running")
    commands = [["wget", "-qO-", "-T", "2", f"http://127.0.0.1:{port}/ok"],
                ["busybox", "wget", "-q", "-O", "-", f"http://localhost:{port}/missing"],
                ["nc", "-w", "1", "127.0.0.1", str(port)],
                ["wget", "-qO-", "-T", "1", "http://127.0.0.1:9/"]]
    popen = subprocess.Popen
    started: list[object] = []
    monkeypatch.setattr(subprocess, "Popen",
                        lambda *a, **k: started.append(a) or popen(*a, **k))  # type: ignore[func-returns-value]
    results = [await runtime.exec(idle, command, 5) for command in commands]
    monkeypatch.setattr(subprocess, "Popen", popen)
    assert started == []
    server.shutdown()
    assert (results[0].exit_code, results[0].output) == (0, "body-ok")
    assert results[1].exit_code == 1
    assert "server returned error: HTTP/1.1 404" in results[1].output
    assert results[2].exit_code == 0
    assert results[3].exit_code == 1
    assert "can't connect to remote host (127.0.0.1): Connection refused" in results[3].output
    as_process = subprocess.run([PY, "-m", "console.runtime.local.tools", *commands[3]],
                                capture_output=True, text=True, check=False, timeout=30)
    assert (as_process.returncode, as_process.stderr) == (1, results[3].output)


async def test_events_report_start_die_and_restart(runtime: LocalRuntime) -> None:
    s = svc("blinker", "import time; time.sleep(0.3)")
    seen: list[str] = []

    async def collect() -> None:
        async for item in runtime.events([s]):
            if isinstance(item, RuntimeEvent):
                seen.append(item.action)

    task = asyncio.ensure_future(collect())
    await asyncio.sleep(0.05)
    await runtime.set_restart_policy(s, "always")  # no-op before it exists
    await runtime.start(s)
    await wait_until(lambda: "die" in seen)
    task.cancel()
    assert seen[0] == "start" and "die" in seen


async def test_bad_commands_are_clear_errors(runtime: LocalRuntime) -> None:
    with pytest.raises(LocalActionError, match="no local command"):
        await runtime.start(Service(name="empty"))
    with pytest.raises(LocalActionError, match="not valid"):
        await runtime.start(Service(name="Bad Name", runtime=RuntimeNames(local=("true",))))
    with pytest.raises(LocalActionError, match=r"not in 127\.0\.0\.0/8"):
        LocalOptions(loopback="10.0.0.1")
    missing = Service(name="nothere", runtime=RuntimeNames(local=("/nonexistent/binary",)))
    with pytest.raises(LocalActionError, match="cannot start"):
        await runtime.start(missing)
    state = (await runtime.list_states([missing]))["nothere"]
    assert state.state == "exited" and state.exit_code == 127


async def test_monitor_on_local_runtime_judges_a_running_process(tmp_path: Path) -> None:
    port = 18932
    s = svc("api", f"""
        import http.server
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *a): pass
        http.server.HTTPServer(("127.0.0.1", {port}), H).serve_forever()
    """, checks=(HealthCheck(kind="http", port=port, path="/health"),))
    rt = LocalRuntime()
    monitor = Monitor(Stack("t", (s,)), rt, None)
    try:
        await rt.start(s)

        async def operational() -> bool:
            return (await monitor.refresh()).get("api").operational

        await wait_until(operational)
        first = await anext(aiter(rt.events([s])))
        assert isinstance(first, StreamStatus) and first.connected
    finally:
        await rt.close()


CHILD = """
import asyncio, sys, textwrap
from console.model import RuntimeNames, Service
from console.runtime.local.runtime import LocalRuntime

async def main():
    rt = LocalRuntime()
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', " \\
           "'import time; time.sleep(120)']); time.sleep(120)"
    for n in ("one", "two"):
        await rt.start(Service(name=n, runtime=RuntimeNames(local=(sys.executable, "-c", code))))
    print("READY", rt.reaper_pid(), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    if sys.argv[1] == "close":
        await rt.close()
        print("CLOSED", flush=True)
        return
    await asyncio.sleep(120)

asyncio.run(main())
"""


def _children_of_run(console_pid: int) -> list[int]:
    """Processes whose environment names this console as their parent (VEXTRUS_PARENT_PID)."""
    needle = f"VEXTRUS_PARENT_PID={console_pid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if needle in Path(f"/proc/{entry}/environ").read_bytes() and alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("how", ["close", "sigterm", "sigkill"])
def test_no_orphans_however_the_console_ends(how: str) -> None:
    mode = "close" if how == "close" else "wait"
    proc = subprocess.Popen([PY, "-c", CHILD, mode], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdin is not None
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    deadline = time.monotonic() + 10
    while len(_children_of_run(proc.pid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_children_of_run(proc.pid)) == 4  # two services, each with a grandchild
    if how == "close":
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().startswith("CLOSED")
    elif how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif how == "sigkill":
        proc.kill()
    proc.wait(15)
    deadline = time.monotonic() + 10
    while _children_of_run(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children_of_run(proc.pid) == []
