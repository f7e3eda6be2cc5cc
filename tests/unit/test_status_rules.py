"""Status rules for a system that changes: loops that end, probes that must fail twice,
restarts somebody asked for, transient states, chains and blast radii over diamonds.

Every rule of console/status/engine.py's docstring, on plain data first, then through the monitor
with real processes (the local runtime) and the journal.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.journal import Journal
from console.model import HealthCheck, RuntimeNames, Service, Stack
from console.monitor import Monitor
from console.probes.base import ProbeResult
from console.runtime.base import ContainerState
from console.runtime.local.runtime import LocalRuntime
from console.status.engine import FAIL_AFTER, LOOP_SETTLE, History, evaluate
from console.status.types import State
from tests.unit.test_local_runtime import wait_until

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HTTP = HealthCheck(kind="http", port=3001, path="/health")


def svc(name: str, deps: tuple[str, ...] = (), checks=(HTTP,)) -> Service:
    return Service(name=name, tier="core", depends_on=deps, checks=checks, ports=(3001,))


def running(name: str, up_s: float = 180, **kw) -> ContainerState:
    base = dict(service=name, present=True, state="running",
                started_at=NOW - timedelta(seconds=up_s))
    base.update(kw)
    return ContainerState(**base)  # type: ignore[arg-type]


def ok(where: str = "host") -> ProbeResult:
    return ProbeResult(check=HTTP, ok=True, latency_ms=2.0, output="ok", where=where)


def fail(where: str = "host", error: str = "connection refused") -> ProbeResult:
    return ProbeResult(check=HTTP, ok=False, latency_ms=1.0, error=error, where=where)


def ago(*seconds: float) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(seconds=s) for s in seconds)


# --- restart loops that end ------------------------------------------------------------


def test_a_recovered_loop_ends_after_it_has_passed_for_the_settle_time():
    stack = Stack("t", (svc("cfg"), svc("api", ("cfg",))))
    settled = LOOP_SETTLE.total_seconds() + 5
    states = {"cfg": running("cfg", up_s=settled, restart_count=4,
                             recent_restarts=ago(150, 100, 60, settled)),
              "api": running("api")}
    st = evaluate(stack, states, {"cfg": [ok()], "api": [ok()]}, NOW)
    cfg = st.get("cfg")
    assert cfg.state is State.OPERATIONAL and not cfg.restart_loop and not cfg.root_cause
    assert cfg.issues == ("recent restarts: 4 restarts in 2 min",)
    assert st.get("api").state is State.OPERATIONAL and st.get("api").issues == ()


def test_a_loop_passing_for_less_than_the_settle_time_is_recovering_not_failing():
    stack = Stack("t", (svc("cfg"), svc("api", ("cfg",))))
    states = {"cfg": running("cfg", up_s=12, recent_restarts=ago(100, 60, 12)),
              "api": running("api")}
    st = evaluate(stack, states, {"cfg": [ok()], "api": [ok()]}, NOW)
    cfg = st.get("cfg")
    assert cfg.state is State.STARTING and not cfg.restart_loop
    assert cfg.issues == ("recovering: passing for 12s after 3 restarts in 2 min; "
                          "the restart loop ends at 30s",)
    assert st.get("api").issues == ("blocked by cfg",)


def test_a_loop_whose_probes_still_fail_stays_a_loop_whatever_its_uptime():
    stack = Stack("t", (svc("cfg"),))
    state = running("cfg", up_s=200, exit_code=None, recent_restarts=ago(250, 220, 200))
    cfg = evaluate(stack, {"cfg": state}, {"cfg": [fail()]}, NOW).get("cfg")
    assert cfg.state is State.RESTART_LOOP and cfg.restart_loop
    assert cfg.issues == ("restart loop: 3 restarts in 4 min",)


def test_restarts_the_console_or_operator_asked_for_never_make_a_loop():
    """Three `restart db --yes` within a minute: each start explained by a journaled ask."""
    stack = Stack("t", (svc("db"), svc("auth", ("db",))))
    restarts = ago(50, 30, 10)
    asked = {"db": [t - timedelta(seconds=2) for t in restarts]}
    states = {"db": running("db", up_s=10, recent_restarts=restarts), "auth": running("auth")}
    probes = {"db": [ok()], "auth": [ok()]}
    st = evaluate(stack, states, probes, NOW, history=History(operator_starts=asked))
    assert [s.state for s in st.services] == [State.OPERATIONAL, State.OPERATIONAL]
    assert st.get("db").issues == () and st.get("auth").issues == ()
    # The same restarts with nobody asking are a restart loop (with a fresh, passing
    # service: recovering), and one ask explains one restart only.
    bare = evaluate(stack, states, probes, NOW).get("db")
    assert bare.state is State.STARTING and bare.issues[0].startswith("recovering:")
    one = {"db": [restarts[0] - timedelta(seconds=1)]}
    states["db"] = running("db", up_s=10, recent_restarts=(*restarts, NOW - timedelta(seconds=5)))
    probes["db"] = [fail()]
    partly = evaluate(stack, states, probes, NOW, history=History(operator_starts=one)).get("db")
    assert partly.state is State.RESTART_LOOP
    assert partly.issues == ("restart loop: 3 restarts in 1 min",)


# --- hysteresis ---------------------------------------------------------------------------


def test_an_operational_service_fails_only_after_consecutive_failed_probe_rounds():
    stack = Stack("t", (svc("auth"), svc("api", ("auth",))))
    states = {"auth": running("auth"), "api": running("api")}
    flap = {"auth": [fail(), ok(where="inside")], "api": [ok()]}
    before = History(previous={"auth": State.OPERATIONAL, "api": State.OPERATIONAL},
                     failed_rounds={"auth": 1, "api": 0})
    st = evaluate(stack, states, flap, NOW, history=before)
    auth = st.get("auth")
    assert auth.state is State.OPERATIONAL and st.readiness == 1.0
    assert auth.issues == (f"probe failed 1 of {FAIL_AFTER} times in a row before it counts: "
                           "healthy inside, unreachable from host: port forwarding (:3001)",)
    assert st.get("api").state is State.OPERATIONAL
    again = History(previous={"auth": State.OPERATIONAL}, failed_rounds={"auth": FAIL_AFTER})
    st2 = evaluate(stack, states, flap, NOW, history=again)
    assert st2.get("auth").state is State.UNREACHABLE
    assert st2.get("api").issues == ("blocked by auth",)


def test_without_history_or_from_a_failing_state_a_failed_probe_counts_at_once():
    stack = Stack("t", (svc("auth"),))
    states = {"auth": running("auth")}
    probes = {"auth": [fail(error="HTTP 503")]}
    assert evaluate(stack, states, probes, NOW).get("auth").state is State.UNHEALTHY
    was_starting = History(previous={"auth": State.STARTING}, failed_rounds={"auth": 1})
    assert evaluate(stack, states, probes, NOW, history=was_starting).get(
        "auth").state is State.UNHEALTHY


def test_runtime_facts_apply_at_once_even_after_one_failed_round():
    stack = Stack("t", (svc("auth"),))
    died = {"auth": running("auth", state="exited", exit_code=137)}
    history = History(previous={"auth": State.OPERATIONAL}, failed_rounds={"auth": 1})
    auth = evaluate(stack, died, {"auth": [fail()]}, NOW, history=history).get("auth")
    assert auth.state is State.EXITED and auth.issues == ("exited with code 137",)


# --- transient states -------------------------------------------------------------------


def test_restarting_is_transient_and_blocks_its_dependents():
    stack = Stack("t", (svc("kafka"), svc("orders", ("kafka",))))
    states = {"kafka": running("kafka", state="restarting", restart_count=2, exit_code=1),
              "orders": running("orders")}
    st = evaluate(stack, states, {"orders": [ok()]}, NOW)
    kafka = st.get("kafka")
    assert kafka.state is State.STARTING and not kafka.restart_loop
    assert kafka.issues == ("restarting (2 so far)",)
    assert st.get("orders").state is State.BLOCKED
    assert st.get("orders").issues == ("blocked by kafka",)


def test_a_health_check_still_starting_is_a_grace_not_a_failure():
    stack = Stack("t", (svc("search"),))
    states = {"search": running("search", up_s=3, health="starting")}
    search = evaluate(stack, states, {"search": [fail()]}, NOW).get("search")
    assert search.state is State.STARTING
    assert search.issues == ("starting: health check pending",)
    states = {"search": running("search", up_s=3, health="healthy")}
    assert evaluate(stack, states, {"search": [fail()]}, NOW).get(
        "search").state is State.UNHEALTHY


# --- chains and blast radii ---------------------------------------------------------------


def test_blocked_by_stops_at_the_root_cause_and_never_names_a_healthy_service():
    """api -> auth (failing) -> pg (healthy): api is blocked by auth only."""
    stack = Stack("t", (svc("pg"), svc("auth", ("pg",)), svc("api", ("auth",))))
    states = {n: running(n) for n in ("pg", "auth", "api")}
    probes = {"pg": [ok()], "auth": [fail(error="HTTP 500")], "api": [ok()]}
    st = evaluate(stack, states, probes, NOW)
    api, auth, pg = st.get("api"), st.get("auth"), st.get("pg")
    assert api.issues == ("blocked by auth",) and api.blocked_by == ("auth",)
    assert auth.root_cause and auth.blocked_by == () and auth.blast_radius == ("api",)
    assert pg.operational and pg.blast_radius == () and not pg.root_cause


def test_a_diamond_names_each_dependent_once_in_the_blast_radius():
    """base <- left, right <- top (top needs both): one root, three dependents, once each."""
    stack = Stack("t", (svc("base"), svc("left", ("base",)), svc("right", ("base",)),
                        svc("top", ("left", "right")), svc("aside")))
    states = {n: running(n) for n in ("left", "right", "top", "aside")}
    states["base"] = running("base", state="exited", exit_code=2)
    probes = {n: [ok()] for n in ("left", "right", "top", "aside")}
    st = evaluate(stack, states, probes, NOW)
    assert st.get("base").blast_radius == ("left", "right", "top")
    assert st.get("top").issues == ("blocked by left <- base",)
    assert st.get("top").blocked_by == ("left", "base")
    assert [r.name for r in st.root_causes()] == ["base"]
    assert st.get("aside").operational


# --- through the monitor, with real processes and the journal -----------------------------


HTTPD = textwrap.dedent("""
    import http.server, os, sys
    flag = sys.argv[1]
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if os.path.exists(flag) else 503
            self.send_response(code); self.end_headers(); self.wfile.write(b"x")
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
""")


def local_http(name: str, flag: Path, port: int) -> Service:
    check = HealthCheck("http", port=port, path="/health", timeout=1.0)
    argv = (sys.executable, "-c", HTTPD, str(flag), str(port))
    return Service(name=name, checks=(check,), ports=(port,), runtime=RuntimeNames(local=argv))


async def test_one_lost_probe_round_neither_flips_the_status_nor_reaches_the_journal(
    tmp_path: Path,
) -> None:
    flag = tmp_path / "healthy"
    flag.touch()
    service = local_http("flappy", flag, 24711)
    stack = Stack("flap", (service,))
    runtime = LocalRuntime()
    journal = Journal(tmp_path / "j.sqlite3", stack="flap")
    monitor = Monitor(stack, runtime, journal)
    try:
        await runtime.start(service)
        await wait_until(lambda: _state(monitor, State.OPERATIONAL))
        flag.unlink()
        held = (await monitor.refresh()).get("flappy")
        assert held.state is State.OPERATIONAL
        assert held.issues[0].startswith("probe failed 1 of 2 times in a row before it counts")
        flag.touch()
        assert (await monitor.refresh()).get("flappy").state is State.OPERATIONAL
        flag.unlink()
        await monitor.refresh()
        assert (await monitor.refresh()).get("flappy").state is State.UNHEALTHY
        moves = [(e.old_state, e.new_state) for e in journal.timeline(kinds=["transition"])]
        since_up = moves[[new for _, new in moves].index("operational") + 1:]
        assert since_up == [("operational", "unhealthy")]  # the lost round left no trace
    finally:
        await runtime.close()
        journal.close()


async def _state(monitor: Monitor, state: State) -> bool:
    status = await monitor.refresh()
    return status.services[0].state is state


async def test_local_runtime_counts_restarts_not_the_first_start(tmp_path: Path) -> None:
    """Two kills read two restarts, not three."""
    flag = tmp_path / "healthy"
    flag.touch()
    service = local_http("killed", flag, 24712)
    runtime = LocalRuntime(backoff_start=0.1)
    try:
        await runtime.start(service)
        for n in (1, 2):
            pid = runtime._procs["killed"].pgid
            os.killpg(pid, signal.SIGKILL)
            await wait_until(lambda n=n: runtime._procs["killed"].restart_count == n
                             and runtime._procs["killed"].state == "running")
        state = (await runtime.list_states([service]))["killed"]
        assert state.restart_count == 2 and len(state.recent_restarts) == 2
    finally:
        await runtime.close()


