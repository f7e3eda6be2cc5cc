"""Dependency edges with Compose's conditions, on plain data: what the operator reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.model import Dependency, Service, Stack
from console.runtime.base import ContainerState
from console.status.engine import evaluate
from console.status.types import State

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def compose_svc(name: str, *edges: Dependency, oneshot: bool = False,
                healthcheck: bool = False) -> Service:
    """A service as the compose loader makes it (no console probes)."""
    return Service(name=name, depends_on=tuple(e.name for e in edges), edges=edges,
                   oneshot=oneshot, ready_when_running=not healthcheck,
                   docker_healthcheck=healthcheck)


def running(name: str, health: str | None = None) -> ContainerState:
    return ContainerState(service=name, present=True, state="running", health=health,
                          started_at=NOW - timedelta(seconds=30))


def exited(name: str, code: int) -> ContainerState:
    return ContainerState(service=name, present=True, state="exited", exit_code=code)


def test_service_started_is_met_by_a_running_dependency_without_a_healthcheck():
    stack = Stack("t", (compose_svc("cache"),
                        compose_svc("api", Dependency("cache", "service_started"))))
    status = evaluate(stack, {"cache": running("cache"), "api": running("api")}, {}, NOW)
    assert status.get("cache").state is State.OPERATIONAL  # running is ready: nothing to verify
    assert status.get("api").deps_met and status.get("api").state is State.OPERATIONAL
    assert status.readiness_text == "Readiness 100% · 2/2 operational"


def test_service_healthy_waits_for_dockers_verdict_and_says_blocked_by():
    stack = Stack("t", (compose_svc("db", healthcheck=True),
                        compose_svc("api", Dependency("db", "service_healthy"))))
    starting = evaluate(stack, {"db": running("db", "starting"), "api": running("api")}, {}, NOW)
    assert starting.get("db").state is State.STARTING
    api = starting.get("api")
    assert api.state is State.BLOCKED and api.blocked_by == ("db",)
    assert "blocked by db" in api.issues
    healthy = evaluate(stack, {"db": running("db", "healthy"), "api": running("api")}, {}, NOW)
    assert healthy.get("api").state is State.OPERATIONAL


def test_dockers_unhealthy_is_the_verdict_with_its_output():
    stack = Stack("t", (compose_svc("db", healthcheck=True),))
    state = ContainerState(service="db", present=True, state="running", health="unhealthy",
                           health_log=("pg_isready: no response",))
    db = evaluate(stack, {"db": state}, {}, NOW).get("db")
    assert db.state is State.UNHEALTHY
    assert db.issues == ("unhealthy (docker healthcheck): pg_isready: no response",)


def test_a_job_that_exited_0_is_completed_operational_and_unblocks_its_dependents():
    stack = Stack("t", (compose_svc("migrate", oneshot=True),
                        compose_svc("api", Dependency("migrate",
                                                      "service_completed_successfully"))))
    status = evaluate(stack, {"migrate": exited("migrate", 0), "api": running("api")}, {}, NOW)
    migrate = status.get("migrate")
    assert migrate.state is State.OPERATIONAL and migrate.health == "completed"
    assert not migrate.root_cause
    assert migrate.label == "Completed"  # not "Running": the matrix and the graph say so
    assert status.get("api").state is State.OPERATIONAL
    assert status.operational == 2
    from console.export import status_to_markdown

    assert "| migrate | ✅ Completed |" in status_to_markdown(status)


def test_a_job_still_running_blocks_a_completed_successfully_edge():
    stack = Stack("t", (compose_svc("migrate", oneshot=True),
                        compose_svc("api", Dependency("migrate",
                                                      "service_completed_successfully"))))
    status = evaluate(stack, {"migrate": running("migrate"), "api": running("api")}, {}, NOW)
    assert status.get("api").state is State.BLOCKED


def test_a_job_that_failed_is_the_root_cause():
    stack = Stack("t", (compose_svc("migrate", oneshot=True),
                        compose_svc("api", Dependency("migrate",
                                                      "service_completed_successfully"))))
    status = evaluate(stack, {"migrate": exited("migrate", 1), "api": running("api")}, {}, NOW)
    assert status.get("migrate").state is State.EXITED and status.get("migrate").root_cause
    assert status.get("api").blocked_by == ("migrate",)


def test_a_service_that_is_not_a_job_exiting_0_is_still_exited():
    stack = Stack("t", (compose_svc("web"),))
    assert evaluate(stack, {"web": exited("web", 0)}, {}, NOW).get("web").state is State.EXITED


def test_an_optional_dependency_never_blocks():
    stack = Stack("t", (compose_svc("debug"),
                        compose_svc("api", Dependency("debug", "service_started",
                                                      required=False))))
    status = evaluate(stack, {"api": running("api")}, {}, NOW)
    assert status.get("debug").state is State.NOT_STARTED
    assert status.get("api").state is State.OPERATIONAL and status.get("api").deps_met


def test_stack_file_edges_still_mean_healthy():
    """The seeds' inventory: a dependency is met only when it is operational."""
    stack = Stack("t", (Service("kafka"), Service("auth", depends_on=("kafka",))))
    status = evaluate(stack, {"kafka": running("kafka"), "auth": running("auth")}, {}, NOW)
    assert status.get("kafka").state is State.DEGRADED  # no health endpoint
    assert status.get("auth").unmet_deps == ("kafka",)
