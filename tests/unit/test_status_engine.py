"""The status engine's rules on plain data: what the operator reads for each situation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.model import HealthCheck, Service, Stack
from console.probes.base import ProbeResult
from console.runtime.base import ContainerState
from console.status.engine import evaluate
from console.status.types import State

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HTTP = HealthCheck(kind="http", port=3001, path="/health")


def svc(name: str, deps: tuple[str, ...] = (), checks=(HTTP,), tier: str = "core") -> Service:
    return Service(name=name, tier=tier, depends_on=deps, checks=checks, ports=(3001,))


def running(name: str, **kw) -> ContainerState:
    base = dict(service=name, present=True, state="running", started_at=NOW - timedelta(minutes=3))
    base.update(kw)
    return ContainerState(**base)


def ok(check=HTTP, where="host", ms=3.0) -> ProbeResult:
    return ProbeResult(check=check, ok=True, latency_ms=ms, output="ok", where=where)


def fail(check=HTTP, where="host", error="connection refused", ms=1.0) -> ProbeResult:
    return ProbeResult(check=check, ok=False, latency_ms=ms, error=error, where=where)


def test_all_healthy_is_operational_and_full_readiness():
    stack = Stack("t", (svc("a"), svc("b", ("a",))))
    st = evaluate(stack, {"a": running("a"), "b": running("b")}, {"a": [ok()], "b": [ok()]}, NOW)
    assert [s.state for s in st.services] == [State.OPERATIONAL, State.OPERATIONAL]
    assert st.readiness == 1.0
    assert st.readiness_text == "Readiness 100% · 2/2 operational"
    assert st.get("a").uptime_s == 180
    assert st.root_causes() == []


def test_port_forwarding_fault_is_told_apart_from_a_dead_service():
    stack = Stack("t", (svc("auth"),))
    probes = {"auth": [fail(), ok(where="inside")]}
    s = evaluate(stack, {"auth": running("auth")}, probes, NOW).get("auth")
    assert s.state is State.UNREACHABLE
    assert s.issues == ("healthy inside, unreachable from host: port forwarding (:3001)",)
    assert (s.reachable_host, s.reachable_inside) == (False, True)
    assert s.root_cause


def test_a_404_on_the_health_path_is_no_health_endpoint_and_not_operational():
    """The seeds' workflow and api-gateway: up, but GET /health is not mapped."""
    stack = Stack("t", (svc("workflow"),))
    probes = {"workflow": [fail(error="HTTP 404"), fail(where="inside", error="HTTP 404 (inside)")]}
    s = evaluate(stack, {"workflow": running("workflow")}, probes, NOW).get("workflow")
    assert s.state is State.UNHEALTHY and not s.operational
    assert s.issues == ("no health endpoint: GET /health answers 404",)


def test_unhealthy_carries_the_failing_probe_output():
    stack = Stack("t", (svc("cfg"),))
    probes = {"cfg": [ProbeResult(HTTP, False, 4.0, output="GraphQL conflict", error="HTTP 503")]}
    s = evaluate(stack, {"cfg": running("cfg")}, probes, NOW).get("cfg")
    assert s.state is State.UNHEALTHY
    assert s.issues == ("unhealthy: http 127.0.0.1:3001/health: HTTP 503: GraphQL conflict",)


def test_restart_loop_needs_three_restarts_within_five_minutes():
    stack = Stack("t", (svc("cfg"),))
    looping = running(
        "cfg",
        state="restarting",
        restart_count=7,
        exit_code=3,
        recent_restarts=(NOW - timedelta(seconds=90), NOW - timedelta(seconds=60), NOW),
    )
    s = evaluate(stack, {"cfg": looping}, {}, NOW).get("cfg")
    assert s.state is State.RESTART_LOOP and s.restart_loop
    assert s.issues[0] == "restart loop: 3 restarts in 2 min, last exit code 3"
    old = running("cfg", restart_count=7, recent_restarts=(NOW - timedelta(minutes=9),) * 3)
    s2 = evaluate(stack, {"cfg": old}, {"cfg": [ok()]}, NOW).get("cfg")
    assert s2.state is State.OPERATIONAL and not s2.restart_loop


def test_exited_not_started_and_no_health_endpoint_in_words():
    stack = Stack("t", (svc("a"), svc("b"), svc("gw", checks=())))
    states = {
        "a": running("a", state="exited", exit_code=137, oom_killed=True),
        "gw": running("gw"),
    }
    st = evaluate(stack, states, {"b": [fail()]}, NOW)
    assert st.get("a").issues == ("exited with code 137 (OOM killed)",)
    assert st.get("b").state is State.NOT_STARTED and st.get("b").issues == ("not started",)
    gw = st.get("gw")
    assert gw.state is State.DEGRADED and gw.issues == ("no health endpoint",)
    assert gw.health == "none" and not gw.operational


def test_blocked_chain_root_cause_and_blast_radius():
    stack = Stack(
        "t",
        (
            svc("zookeeper"),
            svc("kafka", ("zookeeper",)),
            svc("master-data", ("kafka",)),
            svc("api-gateway", ("master-data",)),
            svc("redis"),
        ),
    )
    states = {n: running(n) for n in ("kafka", "master-data", "api-gateway", "redis")}
    states["zookeeper"] = running("zookeeper", state="exited", exit_code=1)
    probes = {n: [ok()] for n in states}
    st = evaluate(stack, states, probes, NOW)
    zk, kafka, md = st.get("zookeeper"), st.get("kafka"), st.get("master-data")
    assert zk.root_cause and zk.state is State.EXITED
    assert zk.blast_radius == ("kafka", "master-data", "api-gateway")
    assert kafka.state is State.BLOCKED and not kafka.root_cause
    assert kafka.issues == ("blocked by zookeeper",)
    assert md.issues == ("blocked by kafka <- zookeeper",)
    assert md.blocked_by == ("kafka", "zookeeper")
    assert st.get("api-gateway").issues == ("blocked by master-data <- kafka <- zookeeper",)
    assert st.get("redis").operational
    assert [r.name for r in st.root_causes()] == ["zookeeper"]
    assert st.readiness_text == "Readiness 20% · 1/5 operational"


def test_service_outside_the_runtime_is_judged_by_its_probes():
    pg = HealthCheck(kind="postgres", port=5432)
    stack = Stack("t", (svc("postgres", checks=(pg,)),))
    s = evaluate(stack, {}, {"postgres": [ok(check=pg)]}, NOW).get("postgres")
    assert s.state is State.OPERATIONAL
    assert s.issues == ("answers on host, not managed here",)


def test_runtime_outage_marks_everything_unknown_with_the_reason():
    stack = Stack("t", (svc("a"),))
    st = evaluate(stack, {}, {}, NOW, runtime_error="Docker daemon unreachable")
    assert st.get("a").state is State.UNKNOWN
    assert st.get("a").issues == ("runtime unreachable: Docker daemon unreachable",)
    assert st.runtime_error == "Docker daemon unreachable"


def test_docker_healthcheck_stands_in_when_no_probe_is_declared():
    stack = Stack("t", (svc("x", checks=()),))
    bad = running("x", health="unhealthy", health_log=("wget: server returned error: 500",))
    s = evaluate(stack, {"x": bad}, {}, NOW).get("x")
    assert s.state is State.UNHEALTHY
    assert s.issues == ("unhealthy (docker healthcheck): wget: server returned error: 500",)


# --- each runtime state in the operator's words -----------------------------------------


def _one(service: Service, container: ContainerState | None, probes=()):  # type: ignore[no-untyped-def]
    stack = Stack("t", (service,))
    states = {service.name: container} if container is not None else {}
    return evaluate(stack, states, {service.name: list(probes)}, NOW).get(service.name)


def test_runtime_states_that_are_not_running_say_what_they_are():
    created = _one(svc("a"), running("a", state="created"))
    assert (created.state, created.issues) == (State.NOT_STARTED, ("created but never started",))
    paused = _one(svc("a"), running("a", state="paused"))
    assert (paused.state, paused.issues) == (State.DEGRADED, ("paused",))
    restarting = _one(svc("a"), running("a", state="restarting", restart_count=4))
    assert (restarting.state, restarting.issues) == (State.STARTING, ("restarting (4 so far)",))
    dead = _one(svc("a"), running("a", state="dead", exit_code=1, error="no such file"))
    assert (dead.state, dead.issues) == (State.EXITED, ("exited with code 1: no such file",))
    oom = _one(svc("a"), running("a", state="exited", exit_code=137, oom_killed=True))
    assert oom.issues == ("exited with code 137 (OOM killed)",)
    assert oom.uptime_s is None  # only a running container has an uptime


def test_no_container_but_the_host_answers_is_served_from_elsewhere():
    served = _one(svc("a"), None, [ok()])
    assert (served.state, served.issues) == (
        State.OPERATIONAL, ("answers on host, not managed here",))
    assert served.runtime_state == "missing"
    missing = _one(svc("a"), None, [fail()])
    assert (missing.state, missing.issues) == (State.NOT_STARTED, ("not started",))
    none_asked = _one(svc("a"), None)
    assert none_asked.state is State.NOT_STARTED


def test_without_checks_the_runtimes_own_health_decides():
    bare = svc("a", checks=())
    assert _one(bare, running("a", health="healthy")).state is State.OPERATIONAL
    starting = _one(bare, running("a", health="starting"))
    assert (starting.state, starting.issues) == (
        State.STARTING, ("starting: health check pending",))
    sick = _one(bare, running("a", health="unhealthy", health_log=("x", "curl: (7) refused")))
    assert (sick.state, sick.issues) == (
        State.UNHEALTHY, ("unhealthy (docker healthcheck): curl: (7) refused",))
    silent = _one(bare, running("a", health="unhealthy"))
    assert silent.issues == ("unhealthy (docker healthcheck): no output",)
    unverified = _one(bare, running("a"))
    assert (unverified.state, unverified.issues) == (State.DEGRADED, ("no health endpoint",))
    compose_rule = Service("a", ready_when_running=True)
    assert _one(compose_rule, running("a")).state is State.OPERATIONAL


def test_dockers_unhealthy_wins_over_passing_probes_only_where_compose_declares_it():
    declared = Service("a", checks=(HTTP,), docker_healthcheck=True)
    sick = running("a", health="unhealthy", health_log=("timeout",))
    assert _one(declared, sick, [ok()]).state is State.UNHEALTHY
    undeclared = Service("a", checks=(HTTP,))
    assert _one(undeclared, sick, [ok()]).state is State.OPERATIONAL


def test_failing_probes_while_dockers_check_starts_are_a_grace():
    s = _one(svc("a"), running("a", health="starting"), [fail()])
    assert (s.state, s.issues) == (State.STARTING, ("starting: health check pending",))
    assert _one(svc("a"), running("a", health="healthy"), [fail()]).state is State.UNHEALTHY


def test_one_404_among_other_failures_is_not_called_a_missing_endpoint():
    tcp = HealthCheck(kind="tcp", port=5432)
    s = _one(svc("a", checks=(HTTP, tcp)), running("a"),
             [fail(error="HTTP 404"), fail(check=tcp, error="connection refused")])
    assert s.state is State.UNHEALTHY
    assert not any(i.startswith("no health endpoint") for i in s.issues)
    assert len(s.issues) == 2


# --- Compose's edge conditions ----------------------------------------------------------


def _edges(dep_state: ContainerState, condition: str, required: bool = True,
           dep_probes=(), dep: Service | None = None):  # type: ignore[no-untyped-def]
    from console.model import Dependency

    dependency = dep or svc("db")
    app = Service("app", depends_on=("db",), checks=(HTTP,),
                  edges=(Dependency("db", condition, required),))  # type: ignore[arg-type]
    stack = Stack("t", (dependency, app))
    states = {"db": dep_state, "app": running("app")}
    return evaluate(stack, states, {"db": list(dep_probes), "app": [ok()]}, NOW).get("app")


def test_service_started_is_met_by_any_started_container_or_a_completed_job():
    unhealthy_db = running("db")
    assert _edges(unhealthy_db, "service_started", dep_probes=[fail()]).state \
        is State.OPERATIONAL
    assert _edges(running("db", state="exited", exit_code=1), "service_started").state \
        is State.BLOCKED
    job = Service("db", oneshot=True)
    done = running("db", state="exited", exit_code=0)
    assert _edges(done, "service_started", dep=job).state is State.OPERATIONAL


def test_service_healthy_needs_the_dependency_operational():
    blocked = _edges(running("db"), "service_healthy", dep_probes=[fail()])
    assert (blocked.state, blocked.blocked_by) == (State.BLOCKED, ("db",))
    assert blocked.issues[-1] == "blocked by db"
    assert _edges(running("db"), "service_healthy", dep_probes=[ok()]).state \
        is State.OPERATIONAL


def test_service_completed_successfully_needs_exit_zero_and_optional_edges_never_block():
    job = Service("db", oneshot=True)
    assert _edges(running("db", state="exited", exit_code=0),
                  "service_completed_successfully", dep=job).state is State.OPERATIONAL
    assert _edges(running("db"), "service_completed_successfully", dep=job,
                  dep_probes=[ok()]).state is State.BLOCKED  # still running: not done
    assert _edges(running("db", state="exited", exit_code=2), "service_completed_successfully",
                  dep=job).blocked_by == ("db",)
    assert _edges(running("db", state="exited", exit_code=2), "service_healthy",
                  required=False).state is State.OPERATIONAL


def test_healthy_means_the_dependencys_own_edges_are_met_too():
    """web -> api (operational) -> db (failing): web is blocked, the chain names api <- db,
    and the root cause is db, not the operational api."""
    stack = Stack("t", (svc("db"), svc("api", ("db",)), svc("web", ("api",))))
    states = {n: running(n) for n in ("db", "api", "web")}
    st = evaluate(stack, states, {"db": [fail()], "api": [ok()], "web": [ok()]}, NOW)
    web = st.get("web")
    assert (web.state, web.blocked_by, web.issues[-1]) == (
        State.BLOCKED, ("api", "db"), "blocked by api <- db")
    assert [s.name for s in st.services if s.root_cause] == ["db"]
    assert st.get("db").blast_radius == ("api", "web")
    assert st.get("api").state is State.BLOCKED
    assert st.get("api").blast_radius == ("web",)  # blocked counts as failing: web goes too
    assert st.get("web").blast_radius == ()  # nothing depends on web


# --- every field the matrix, details and JSON read -----------------------------------------


def test_a_service_status_carries_every_fact_the_screens_show():
    tcp = HealthCheck(kind="tcp", port=5432)
    db = Service("db", tier="infrastructure", phase=0, checks=(tcp,), ports=(5432,))
    api = Service("api", tier="core", phase=2, depends_on=("db",), checks=(HTTP,),
                  ports=(3001, 3002))
    stack = Stack("t", (db, api), tiers=("infrastructure", "core"))
    container = running("api", restart_count=2, health="healthy")
    probes = {"db": [ok(check=tcp, ms=4.0)],
              "api": [ok(ms=7.5), ok(where="inside", ms=2.0)]}
    st = evaluate(stack, {"db": running("db"), "api": container}, probes, NOW,
                  runtime_name="kubernetes")
    a = st.get("api")
    assert (a.name, a.tier, a.phase, a.state, a.runtime_state, a.health) == (
        "api", "core", 2, State.OPERATIONAL, "running", "healthy")
    assert (a.reachable_host, a.reachable_inside, a.deps_met, a.unmet_deps) == (
        True, True, True, ())
    assert (a.restart_count, a.restart_loop, a.stuck, a.uptime_s) == (2, False, False, 180)
    assert a.latency_ms == 7.5  # the slowest probe when all pass
    assert (a.ports, a.depends_on, a.container) == ((3001, 3002), ("db",), container)
    assert a.probes == tuple(probes["api"])
    assert (a.root_cause, a.blocked_by, a.blast_radius, a.issues) == (False, (), (), ())
    assert (st.stack_name, st.taken_at, st.runtime_name, st.runtime_error, st.tiers) == (
        "t", NOW, "kubernetes", "", ("infrastructure", "core"))


def test_latency_shown_is_the_failing_probes_when_one_fails():
    tcp = HealthCheck(kind="tcp", port=5432)
    s = _one(svc("a", checks=(HTTP, tcp)), running("a"),
             [ok(ms=9.0), fail(check=tcp, ms=2.0)])
    assert s.latency_ms == 2.0
    assert _one(svc("a", checks=()), running("a", health="healthy")).latency_ms is None


def test_an_unreachable_runtime_is_unknown_for_every_service_and_says_why():
    stack = Stack("t", (svc("a"), svc("b", ("a",))))
    st = evaluate(stack, {}, {}, NOW, runtime_error="connection refused")
    assert [(s.state, s.issues[0]) for s in st.services] == [
        (State.UNKNOWN, "runtime unreachable: connection refused")] * 2
    assert st.runtime_error == "connection refused"
    assert [s.root_cause for s in st.services] == [False, False]  # unknown is no culprit
    assert st.get("a").blast_radius == ()


def test_a_dependency_missing_from_the_stack_never_blocks():
    s = evaluate(Stack("t", (svc("a", ("elsewhere",)),)), {"a": running("a")},
                 {"a": [ok()]}, NOW).get("a")
    assert (s.state, s.deps_met, s.unmet_deps) == (State.OPERATIONAL, True, ())


def test_blocked_keeps_its_own_issues_and_names_what_blocks_it():
    stack = Stack("t", (svc("db"), svc("api", ("db",))))
    st = evaluate(stack, {"db": running("db", state="exited", exit_code=3), "api": running("api")},
                  {"api": [fail()]}, NOW)
    api = st.get("api")
    assert api.state is State.UNHEALTHY  # failing on its own: not merely blocked
    assert api.issues == ("unhealthy: http 127.0.0.1:3001/health: connection refused",
                          "blocked by db")
    assert (api.deps_met, api.unmet_deps, api.root_cause) == (False, ("db",), False)
    assert st.get("db").issues == ("exited with code 3",)
    assert [s.name for s in st.root_causes()] == ["db"]


def test_restart_words_round_to_minutes_and_count_only_the_window():
    from console.status.engine import RESTART_LOOP_COUNT

    recent = tuple(NOW - timedelta(seconds=s) for s in (400, 150, 95, 20))  # 400 s: outside
    s = _one(svc("a"), running("a", recent_restarts=recent, restart_count=4,
                               started_at=NOW - timedelta(seconds=20)), [fail()])
    assert RESTART_LOOP_COUNT == 3
    assert s.state is State.RESTART_LOOP and s.restart_loop
    assert s.issues == ("restart loop: 3 restarts in 2 min",)
    two = _one(svc("a"), running("a", recent_restarts=recent[2:]), [fail()])
    assert two.state is State.UNHEALTHY  # two restarts are not a loop


# --- the Health column, and the edges of the loop and hysteresis rules ---------------------


def test_the_health_column_for_each_situation():
    from console.status.engine import History

    job = Service("migrate", oneshot=True)
    seen = {
        "running, probes pass": _one(svc("a"), running("a"), [ok()]).health,
        "probe fails": _one(svc("a"), running("a"), [fail()]).health,
        "no container": _one(svc("a"), None).health,
        "created": _one(svc("a"), running("a", state="created")).health,
        "exited": _one(svc("a"), running("a", state="exited", exit_code=1)).health,
        "job done": _one(job, running("migrate", state="exited", exit_code=0)).health,
        "no checks": _one(svc("a", checks=()), running("a")).health,
        "404 only": _one(svc("a"), running("a"), [fail(error="HTTP 404")]).health,
        "forwarding": _one(svc("a"), running("a"), [fail(), ok(where="inside")]).health,
        "docker unhealthy": _one(svc("a", checks=()), running("a", health="unhealthy")).health,
    }
    assert seen == {
        "running, probes pass": "healthy", "probe fails": "unhealthy", "no container": "unknown",
        "created": "unknown", "exited": "unknown", "job done": "completed", "no checks": "none",
        "404 only": "none", "forwarding": "healthy", "docker unhealthy": "unhealthy"}
    done = _one(job, running("migrate", state="exited", exit_code=0))
    assert (done.state, done.issues) == (State.OPERATIONAL, ("completed: exited with code 0",))
    st = evaluate(Stack("t", (svc("a"),)), {}, {}, NOW, runtime_error="down")
    assert (st.get("a").health, st.runtime_name) == ("unknown", "docker")
    # A probe failure held back by hysteresis reads healthy and keeps what was reachable.
    held = evaluate(Stack("t", (svc("a"),)), {"a": running("a")},
                    {"a": [fail(), ok(where="inside")]}, NOW,
                    history=History({"a": State.OPERATIONAL}, {"a": 1})).get("a")
    assert (held.state, held.health, held.reachable_host, held.reachable_inside) == (
        State.OPERATIONAL, "healthy", False, True)
    assert held.issues[0].startswith("probe failed 1 of 2 times in a row before it counts:")
    unknown_rounds = evaluate(Stack("t", (svc("a"),)), {"a": running("a")}, {"a": [fail()]},
                              NOW, history=History({"a": State.OPERATIONAL}, {})).get("a")
    assert unknown_rounds.state is State.UNHEALTHY  # no count kept: it counts at once


def test_a_loop_ends_exactly_at_the_settle_time_and_names_a_nonzero_last_exit():
    from console.status.engine import LOOP_SETTLE

    settle = LOOP_SETTLE.total_seconds()
    restarts = tuple(NOW - timedelta(seconds=s) for s in (120, 90, settle))
    at_settle = _one(svc("a"), running("a", recent_restarts=restarts,
                                       started_at=NOW - timedelta(seconds=settle)), [ok()])
    assert at_settle.state is State.OPERATIONAL
    assert at_settle.issues == ("recent restarts: 3 restarts in 2 min",)
    looping = _one(svc("a"), running("a", recent_restarts=restarts, exit_code=0), [fail()])
    assert (looping.issues, looping.health) == (("restart loop: 3 restarts in 2 min",),
                                                "unhealthy")
    crashed = _one(svc("a"), running("a", recent_restarts=restarts, exit_code=1), [fail()])
    assert crashed.issues == ("restart loop: 3 restarts in 2 min, last exit code 1",)


def test_blast_radius_on_its_own_matches_the_snapshots():
    from console.status.engine import blast_radius

    stack = Stack("t", (svc("db"), svc("a", ("db",)), svc("b", ("a",)), svc("c")))
    assert blast_radius(stack, "db") == ("a", "b")
    assert blast_radius(stack, "c") == ()
    st = evaluate(stack, {n: running(n) for n in ("db", "a", "b", "c")},
                  {"db": [fail()], "a": [ok()], "b": [ok()], "c": [ok()]}, NOW)
    assert st.get("db").blast_radius == blast_radius(stack, "db")
