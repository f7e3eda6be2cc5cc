"""The readiness checklist against real Prometheus and PostgreSQL, and faithful stand-ins."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from actions.readiness import Inputs, Mark, evaluate
from actions.readiness.checks_data import leaking
from actions.readiness.model import ITEMS
from actions.readiness.report import as_json, markdown
from console.model import HealthCheck, Service, Stack
from console.results import save_result
from console.status.types import StackStatus
from tests.conftest import require
from tests.fixtures_services import PgRole, postgres_role  # noqa: F401  (fixture)
from tests.readiness_servers import (
    METRICS,
    PrometheusServer,
    free_low_port,
    http_stand_in,
    json_route,
    kafka_stand_in,
)
from tests.ui_data import build_stack, build_status

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RULES = """groups:
  - name: vextrus
    rules:
      - alert: ServiceDown
        expr: up == 0
        for: 1m
"""


def stack_of(*services: Service) -> Stack:
    return Stack(name="t", services=services, source="<test>")


def inputs(stack: Stack, tmp_path: Path | None = None, **kw: object) -> Inputs:
    status = StackStatus("t", NOW, ())
    return Inputs(stack, status, lambda: NOW, timeout=2.0, **kw)  # type: ignore[arg-type]


def card_of(inp: Inputs) -> dict[str, tuple[Mark, str]]:
    card = asyncio.run(evaluate(inp))
    return {v.item.id: (v.mark, v.evidence) for v in card.verdicts}


# --- from the live status ------------------------------------------------------------------


def test_status_items_on_the_seeds_matrix() -> None:
    inp = Inputs(build_stack(), build_status(), lambda: NOW)
    card = card_of(inp)
    assert card["no-restart-loops"] == (Mark.FAIL, "restart loop: zookeeper")
    assert card["uptime"][0] is Mark.FAIL and card["uptime"][1].startswith("not operational: ")
    assert card["health-200"][0] is Mark.FAIL
    assert card["migrations"][0] is Mark.UNKNOWN  # no one-shot job: said, not passed
    assert card["healthchecks"][0] is Mark.FAIL
    assert card["healthchecks"][1].startswith("no health check: temporal-ui, ")
    # Nothing the console could not ask passes: every HTTP API here is down.
    assert card["prometheus"][0] is Mark.UNKNOWN and "connection refused" in card["prometheus"][1]


def test_the_checks_clients_are_prepared_off_the_event_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTTP client built without a TLS context loads the CA bundle (50-90 ms) and
    asyncpg's first import takes ~110 ms: on the event loop, the checklist's keys waited."""
    import importlib
    import threading

    import httpx

    evaluation = importlib.import_module("actions.readiness.evaluate")  # the module, not
    # the function of that name that actions.readiness exports

    made_on: list[str] = []
    create = httpx.create_ssl_context
    monkeypatch.setattr(evaluation, "_TLS", [], raising=False)
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: made_on.append(
        threading.current_thread().name) or create(*a, **k))  # type: ignore[func-returns-value]
    built: list[object] = []
    client = httpx.AsyncClient
    monkeypatch.setattr(httpx, "AsyncClient", lambda *a, **k: built.append(k.get("verify"))
                        or client(*a, **k))  # type: ignore[func-returns-value]
    for _ in range(2):
        card_of(Inputs(build_stack(), build_status(), lambda: NOW))
    assert len(made_on) == 1 and made_on[0] != threading.main_thread().name
    assert len(built) == 2 and all(isinstance(v, ssl.SSLContext) for v in built)


def test_a_settled_healthy_stack_passes_uptime_and_health() -> None:
    status = build_status()
    settled = tuple(replace(s, state=type(s.state).OPERATIONAL, restart_loop=False,
                            restart_count=0, uptime_s=900.0,
                            probes=tuple(replace(p, ok=True, output="HTTP 200 ok", error="")
                                         for p in s.probes))
                    for s in status.services)
    inp = Inputs(build_stack(), replace(status, services=settled), lambda: NOW)
    card = card_of(inp)
    assert card["uptime"] == (Mark.PASS, f"{len(settled)} services up >10 min, no restarts")
    assert card["health-200"][0] is Mark.PASS
    young = tuple(replace(s, uptime_s=120.0) if s.name == "kafka" else s for s in settled)
    card = card_of(replace(inp, status=replace(status, services=young)))
    assert card["uptime"] == (Mark.FAIL, "up less than 10 min: kafka (kafka 120 s)")


# --- Prometheus, for real ------------------------------------------------------------------


@pytest.fixture
def metrics_port() -> Iterator[int]:
    with http_stand_in({("GET", "/metrics"): (200, {"Content-Type": "text/plain"},
                                              METRICS)}) as port:
        yield port


def test_prometheus_targets_and_rules_for_real(metrics_port: int) -> None:
    require(*PrometheusServer.available())
    dead = free_low_port()
    prom = PrometheusServer({"auth": metrics_port}, RULES)
    prom.start()
    try:
        prom.wait(lambda ts: ts and all(t["health"] == "up" for t in ts))
        stack = stack_of(Service("prometheus", "observability", ports=(prom.port,)),
                         Service("auth", "core", ports=(metrics_port,)))
        card = card_of(inputs(stack))
        assert card["prometheus"] == (Mark.PASS, "1 targets up")
        assert card["alerts"] == (Mark.PASS, "1 alerting rules: ServiceDown")
        # A core service nobody scrapes is a failure, named.
        more = stack_of(*stack.services, Service("orders", "business", ports=(dead,)))
        assert card_of(inputs(more))["prometheus"] == (Mark.FAIL, "not scraped: orders")
    finally:
        prom.stop()


def test_prometheus_with_a_target_down(metrics_port: int) -> None:
    require(*PrometheusServer.available())
    dead = free_low_port()
    prom = PrometheusServer({"auth": metrics_port, "orders": dead}, "groups: []\n")
    prom.start()
    try:
        prom.wait(lambda ts: len(ts) == 2 and {t["health"] for t in ts} == {"up", "down"})
        stack = stack_of(Service("prometheus", "observability", ports=(prom.port,)))
        card = card_of(inputs(stack))
        mark, words = card["prometheus"]
        assert mark is Mark.FAIL and words.startswith("1/2 targets down: orders (")
        assert "connect: connection refused" in words
        assert card["alerts"] == (Mark.FAIL, "no alerting rules loaded")
    finally:
        prom.stop()


# --- PostgreSQL pg_stat_statements, for real -----------------------------------------------


def _pg_stack(role: PgRole) -> Stack:
    check = HealthCheck("postgres", port=role.port, user=role.user, database=role.database,
                        password_env="VX_TEST_PG_PASSWORD")
    return stack_of(Service("postgres", "infrastructure", ports=(role.port,), checks=(check,)))


async def _queries(role: PgRole, sql: str, times: int) -> None:
    conn = await asyncpg.connect(host=role.host, port=role.port, user=role.user,
                                 password=role.password, database=role.database)
    try:
        for _ in range(times):
            await conn.execute(sql)
    finally:
        await conn.close()


# --- stand-ins: Grafana, Jaeger, admin UIs, CORS, Kafka ------------------------------------


def test_grafana_jaeger_admin_auth_and_cors_pass_when_the_apis_say_so() -> None:
    with http_stand_in({("GET", "/api/search"): json_route([{"title": "Vextrus overview"}]),
                        ("GET", "/"): (302, {"Location": "/login"}, b"")}) as grafana, \
         http_stand_in({("GET", "/api/services"): json_route(
             {"data": ["auth", "jaeger-query"], "total": 2}),
                        ("GET", "/"): (401, {}, b"")}) as jaeger, \
         http_stand_in({("OPTIONS", "/graphql"): (204, {
             "Access-Control-Allow-Origin": "https://erp.vextrus.com"}, b"")}) as gateway:
        stack = stack_of(Service("grafana", "observability", ports=(grafana,)),
                         Service("jaeger", "observability", ports=(jaeger,)),
                         Service("api-gateway", "gateway", ports=(gateway,)))
        card = card_of(inputs(stack))
    assert card["grafana"] == (Mark.PASS, "1 dashboards: Vextrus overview")
    assert card["tracing"] == (Mark.PASS, "traces from 1 services: auth")
    assert card["admin-auth"] == (Mark.PASS, "a login is required: grafana (302), jaeger (401)")
    assert card["cors"][0] is Mark.PASS


def test_open_admin_ui_and_wildcard_cors_fail() -> None:
    with http_stand_in({("GET", "/"): (200, {}, b"<html>Temporal</html>")}) as ui, \
         http_stand_in({("GET", "/"): (401, {}, b""),
                        ("GET", "/api/search"): (401, {}, b"")}) as grafana, \
         http_stand_in({("OPTIONS", "/graphql"): (204, {
             "Access-Control-Allow-Origin": "*"}, b"")}) as gateway, \
         http_stand_in({("GET", "/api/search"): json_route([])}) as empty:
        stack = stack_of(Service("temporal-ui", "infrastructure", ports=(ui,)),
                         Service("grafana", "observability", ports=(grafana,)),
                         Service("api-gateway", "gateway", ports=(gateway,)))
        card = card_of(inputs(stack))
        assert card["admin-auth"] == (Mark.FAIL, "open without a login: temporal-ui (200)")
        assert card["cors"] == (Mark.FAIL, "Access-Control-Allow-Origin: * for a foreign origin")
        assert card["grafana"][0] is Mark.UNKNOWN and "401" in card["grafana"][1]
        stack = stack_of(Service("grafana", "observability", ports=(empty,)))
        assert card_of(inputs(stack))["grafana"] == (Mark.FAIL, "no dashboards")


def test_hostile_evidence_is_plain_masked_text() -> None:
    evil = "\x1b]0;pwned\x07[link=http://x]dash[/link] password=hunter2"
    with http_stand_in({("GET", "/api/search"): json_route([{"title": evil}])}) as grafana:
        card = asyncio.run(evaluate(inputs(stack_of(
            Service("grafana", "observability", ports=(grafana,))))))
    text = markdown(card, "t") + as_json(card)
    assert "\x1b" not in text and "\x07" not in text and "hunter2" not in text
    assert "[link=http://x]dash[/link]" in markdown(card, "t")  # shown, never rendered


def test_kafka_topics_through_the_metadata_request() -> None:
    with kafka_stand_in([("orders", 1), ("__consumer_offsets", 1)]) as port:
        stack = stack_of(Service("kafka", "infrastructure", ports=(port,),
                                 checks=(HealthCheck("kafka", port=port),)))
        assert card_of(inputs(stack))["kafka-topics"] == (
            Mark.PASS, "1 topics with leaders: orders")
    with kafka_stand_in([("orders", -1)]) as port:
        stack = stack_of(Service("kafka", "infrastructure", ports=(port,),
                                 checks=(HealthCheck("kafka", port=port),)))
        assert card_of(inputs(stack))["kafka-topics"] == (
            Mark.FAIL, "not accessible: orders (error 0, 1 leaderless)")
    with kafka_stand_in([("__consumer_offsets", 1)]) as port:
        stack = stack_of(Service("kafka", "infrastructure", ports=(port,),
                                 checks=(HealthCheck("kafka", port=port),)))
        assert card_of(inputs(stack))["kafka-topics"] == (Mark.FAIL, "no topics")


# --- configuration: Traefik, secrets at rest -----------------------------------------------

TRAEFIK = """services:
  traefik:
    image: traefik:v3.1.2
    command: [--entrypoints.websecure.address=:443]
  auth:
    image: vextrus/auth:1.0.0
    labels:
      - traefik.http.routers.auth.rule=Host(`auth.vextrus.local`)
      - traefik.http.routers.auth.tls=true
      - traefik.http.routers.auth.middlewares=limit
      - traefik.http.middlewares.limit.ratelimit.average=100
  orders:
    image: vextrus/orders:1.0.0
    labels:
      traefik.http.routers.orders.rule: Host(`orders.vextrus.local`)
"""


def test_https_and_rate_limits_from_traefik_labels(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(TRAEFIK)
    card = card_of(inputs(stack_of(), compose_path=compose))
    assert card["https"] == (Mark.FAIL, "routers without TLS: orders")
    assert card["rate-limiting"] == (Mark.FAIL, "routers without a rate limit: orders")
    compose.write_text(TRAEFIK.replace(
        "Host(`orders.vextrus.local`)\n",
        "Host(`orders.vextrus.local`)\n      traefik.http.routers.orders.tls: 'true'\n"
        "      traefik.http.routers.orders.middlewares: limit@docker\n"))
    card = card_of(inputs(stack_of(), compose_path=compose))
    assert card["https"] == (Mark.PASS, "2 routers on TLS")
    assert card["rate-limiting"] == (Mark.PASS, "2 routers rate-limited")


def test_secrets_at_rest_mode_and_git_ignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  db:\n    image: postgres:15.5\n"
                       "    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n")
    env = tmp_path / ".env.production"
    env.write_text("POSTGRES_PASSWORD=Zx81kq0PqLrT\n")
    env.chmod(0o644)
    card = card_of(inputs(stack_of(), compose_path=compose))
    assert card["no-hardcoded-secrets"][0] is Mark.PASS
    assert card["secrets-stored"][0] is Mark.FAIL
    assert card["secrets-stored"][1] == ".env.production: mode 644 (want 600), not ignored by git"
    env.chmod(0o600)
    (tmp_path / ".gitignore").write_text(".env.production\n")
    assert card_of(inputs(stack_of(), compose_path=compose))["secrets-stored"] == (
        Mark.PASS, ".env.production: mode 600, git-ignored")
    compose.write_text("services:\n  db:\n    image: postgres:15.5\n"
                       "    environment:\n      POSTGRES_PASSWORD: Zx81kq0PqLrT\n")
    mark, words = card_of(inputs(stack_of(), compose_path=compose))["no-hardcoded-secrets"]
    assert mark is Mark.FAIL and "docker-compose.yml:5" in words and "Zx81kq0PqLrT" not in words


# --- performance items from the load test's result; leaks from usage history -------------


def test_api_p95_and_throughput_from_the_latest_load_result(tmp_path: Path) -> None:
    inp = inputs(stack_of(), state_dir=tmp_path)
    card = card_of(inp)
    assert card["api-p95"][0] is Mark.UNKNOWN and card["api-p95"][1] == "no load test yet"
    save_result(tmp_path, "load", {"target": "api-gateway", "latency_ms": {"p95": 412.0},
                                   "throughput_rps": 1500.0})
    card = card_of(inp)
    assert card["api-p95"] == (Mark.FAIL, "p95 412.0 ms")
    assert card["throughput"] == (Mark.PASS, "1500 req/s")


def test_a_steady_climb_is_a_leak_and_noise_is_not() -> None:
    assert leaking(tuple(100.0 + 2 * i for i in range(30)))
    assert not leaking(tuple(100.0 + (i % 3) for i in range(30)))
    assert not leaking(tuple(100.0 + 2 * i for i in range(5)))  # too short to say


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_markdown_reads_like_the_seed_and_json_is_stable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    out = tmp_path / "checklist.md"
    state = tmp_path / "state"
    argv = ["--runtime", "none", "--state-dir", str(state), "readiness", "--timeout", "0.5"]
    assert main([*argv, "--markdown", "-o", str(out)]) == 1
    text = out.read_text()
    for heading in ("### Infrastructure Health ✅", "### Security Compliance 🔒",
                    "### Operational Readiness 📊", "### Performance Baselines 🚀",
                    "### Bangladesh ERP Requirements 🇧🇩"):
        assert heading in text
    assert "- [ ] TIN validation (10 digits): out of the console's scope" in text
    assert main([*argv, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == 1 and data["total"] == len(ITEMS) == 24
    assert {i["mark"] for i in data["items"]} <= {"pass", "fail", "unknown"}
