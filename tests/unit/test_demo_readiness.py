"""The demo's observability stand-ins through the readiness checklist: each item passes or
fails as the demo's fault files and compose file say, with the exact evidence; and a real
Prometheus (Debian's) scrapes the stand-ins' /metrics and answers in the shapes the
prometheus stand-in imitates."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from actions.readiness import Inputs, Mark, evaluate
from console.demo import hardening
from console.demo.apis import GRAFANA_TOKEN_ENV
from console.demo.session import DemoSession
from console.demo.stack import APP_TIERS, KAFKA_TOPICS, DemoSettings
from console.journal import Journal
from console.status.types import StackStatus
from tests.conftest import require
from tests.readiness_servers import PrometheusServer
from tests.unit.test_demo import CLI, ROOT, wait_gone

OFFSET = 5450  # no port shared with the other demo tests' offsets
STARTED = ("prometheus", "grafana", "jaeger", "api-gateway", "traefik", "temporal-ui", "minio",
           "rabbitmq", "kafka", "crm", "hr")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RULES = json.dumps({"groups": [{"name": "vextrus", "rules": [
        {"alert": "ServiceDown", "expr": "up == 0", "for": "1m",
         "labels": {"severity": "critical"}, "annotations": {"summary": "down"}}]}]})
CHECKS = ("admin-auth", "cors", "prometheus", "alerts", "grafana", "tracing", "kafka-topics",
          "https", "rate-limiting")


@pytest.fixture
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoSession]:
    directory = tmp_path_factory.mktemp("demo-ready")
    demo = DemoSession(DemoSettings(directory=directory, port_offset=OFFSET))
    try:
        await demo.open(start=STARTED)
        yield demo
    finally:
        await demo.close()
    assert wait_gone(directory) == []


async def card(session: DemoSession, token: str | None) -> dict[str, tuple[Mark, str]]:
    assert session.demo is not None
    env = {GRAFANA_TOKEN_ENV: token} if token else {}
    inp = Inputs(session.stack, StackStatus("vextrus-demo", NOW, ()), lambda: NOW,
                 session.demo.compose_path, timeout=3.0, env=env)
    found = await evaluate(inp)
    return {v.item.id: (v.mark, v.evidence) for v in found.verdicts if v.item.id in CHECKS}


def port(session: DemoSession, name: str, index: int = 0) -> int:
    return session.stack.service(name).ports[index]


async def test_demo_checklist_items_follow_its_faults_and_compose_file(
    session: DemoSession,
) -> None:
    assert session.demo is not None and session.runtime is not None
    apps = [s for s in session.stack.services if s.tier in APP_TIERS and s.ports]
    up = {"api-gateway", "traefik", "crm", "hr"}
    before = await card(session, session.demo.grafana_token)
    assert before["admin-auth"] == (Mark.FAIL, "open without a login: temporal-ui (200), "
                                    "traefik (200), rabbitmq (200), minio (200), "
                                    "prometheus (200), jaeger (200)")
    assert before["cors"] == (Mark.FAIL, "Access-Control-Allow-Origin: * for a foreign origin")
    first_down = next(s for s in apps if s.name not in up)
    mark, evidence = before["prometheus"]
    assert mark is Mark.FAIL
    assert evidence.startswith(f"{len(apps) - len(up)}/{len(apps)} targets down: "
                               f"{first_down.name} (Get \"http://127.0.0.1:"
                               f"{first_down.ports[0]}/metrics\": dial tcp 127.0.0.1:"
                               f"{first_down.ports[0]}: connect: connection refused)")
    assert before["alerts"] == (Mark.PASS, "2 alerting rules: ServiceDown, HighErrorRate")
    assert before["grafana"] == (Mark.PASS, "3 dashboards: Vextrus Overview, Service Health, "
                                 "Kafka Topics")
    assert before["tracing"] == (Mark.PASS, "traces from 4 services: api-gateway, crm, hr, "
                                 "traefik")
    assert before["kafka-topics"] == (Mark.PASS,
                                      f"6 topics with leaders: {', '.join(KAFKA_TOPICS)}")
    assert before["https"] == (Mark.FAIL, "routers without TLS: auth, api-gateway, grafana")
    assert before["rate-limiting"] == (Mark.FAIL, "no ratelimit middleware defined")
    # Without the viewer token, Grafana refuses like a real one: unknown, with the reason.
    assert (await card(session, None))["grafana"] == (
        Mark.UNKNOWN, "Grafana answered 401: set VEXTRUS_GRAFANA_TOKEN (a viewer token)")

    secured = hardening.secure_admin_uis(session.demo)
    hardening.restrict_cors(session.demo)
    for name in [*secured, "api-gateway"]:
        await session.runtime.restart(session.stack.service(name))
    await asyncio.sleep(0.5)
    await session.wait_listening([*secured, "api-gateway"])
    assert hardening.tls_and_rate_limit(session.demo.compose_path) == [
        "auth", "api-gateway", "grafana"]
    after = await card(session, session.demo.grafana_token)
    assert after["admin-auth"] == (Mark.PASS, "a login is required: grafana (302), "
                                   "temporal-ui (302), traefik (401), rabbitmq (401), "
                                   "minio (401), prometheus (401), jaeger (302)")
    assert after["cors"] == (Mark.PASS, "foreign origin refused (Allow-Origin: none, HTTP 204)")
    assert after["https"] == (Mark.PASS, "3 routers on TLS")
    assert after["rate-limiting"] == (Mark.PASS, "3 routers rate-limited")
    async with httpx.AsyncClient(trust_env=False) as http:
        # The ERP's own origin is still allowed; the UIs whose / is their health check
        # send the probe to a login page that answers 200.
        own = await http.options(f"http://127.0.0.1:{port(session, 'api-gateway')}/graphql",
                                 headers={"Origin": hardening.ALLOWED_ORIGINS[0]})
        assert own.headers["access-control-allow-origin"] == hardening.ALLOWED_ORIGINS[0]
        login = await http.get(f"http://127.0.0.1:{port(session, 'temporal-ui')}/",
                               follow_redirects=True)
        assert (login.status_code, login.url.path) == (200, "/login")
        api = await http.get(f"http://127.0.0.1:{port(session, 'traefik', -1)}/api/http/routers")
        assert api.status_code == 401  # the dashboard's guard covers its API
    # Observability APIs that stop answering make their items unknown, with the reason;
    # a scrape target that goes away is counted down (crm, beside the never-started ones).
    for name in ("grafana", "jaeger", "crm"):
        await session.runtime.stop(session.stack.service(name))
    gone = await card(session, session.demo.grafana_token)
    assert gone["grafana"] == (Mark.UNKNOWN, "Grafana: connection refused")
    assert gone["tracing"] == (Mark.UNKNOWN, "Jaeger: connection refused")
    assert gone["prometheus"][1].startswith(f"{len(apps) - len(up) + 1}/{len(apps)} targets "
                                            "down: ")


async def test_readiness_demo_from_another_terminal_reads_the_demo_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """`readiness --demo`: the demo's compose file and Grafana token are found from its
    stack file; the journal is read, never written (a look is not an event)."""
    offset = OFFSET + 25
    directory = tmp_path / f"demo-{offset}"
    session = DemoSession(DemoSettings(directory=directory, port_offset=offset))
    env = {k: v for k, v in os.environ.items() if k != GRAFANA_TOKEN_ENV}
    env["VEXTRUS_STATE_DIR"] = str(tmp_path)
    try:
        await session.open(start=("grafana", "api-gateway"))
        journal = Journal(directory / "journal.sqlite3", stack=session.stack.name)
        journal.record_transitions([("grafana", "operational", "")])
        before = journal.timeline()
        done = await asyncio.to_thread(
            subprocess.run, [*CLI, "readiness", "--demo", str(offset), "--json"],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert done.returncode == 1, done.stderr  # most of the demo is not started
        items = {i["id"]: (i["mark"], i["evidence"]) for i in json.loads(done.stdout)["items"]}
        assert items["grafana"] == ("pass", "3 dashboards: Vextrus Overview, Service Health, "
                                    "Kafka Topics")
        assert items["https"] == ("fail", "routers without TLS: auth, api-gateway, grafana")
        assert items["cors"] == ("fail", "Access-Control-Allow-Origin: * for a foreign origin")
        assert journal.timeline() == before
        journal.close()
    finally:
        await session.close()
    assert wait_gone(directory) == []


async def test_a_real_prometheus_scrapes_the_stand_ins_and_answers_in_their_shape(
    session: DemoSession,
) -> None:
    require(*PrometheusServer.available())
    jobs = {"crm": port(session, "crm"), "hr": port(session, "hr"),
            "api-gateway": port(session, "api-gateway"), "grafana": port(session, "grafana")}
    prom = PrometheusServer(jobs, RULES)
    prom.start()
    try:
        await asyncio.to_thread(prom.wait, lambda ts: len(ts) == len(jobs) and all(
            t["health"] == "up" for t in ts))
        async with httpx.AsyncClient(trust_env=False) as http:
            real = (await http.get(f"http://127.0.0.1:{prom.port}/api/v1/targets")).json()
            ours = (await http.get(f"http://127.0.0.1:{port(session, 'prometheus')}"
                                   "/api/v1/targets")).json()
            real_rules = (await http.get(f"http://127.0.0.1:{prom.port}/api/v1/rules")).json()
            our_rules = (await http.get(f"http://127.0.0.1:{port(session, 'prometheus')}"
                                        "/api/v1/rules")).json()
            query = (await http.get(f"http://127.0.0.1:{prom.port}/api/v1/query",
                                    params={"query": "http_requests_total"})).json()
    finally:
        prom.stop()
    # Every target scraped and parsed (a bad exposition format would be health "down").
    assert {t["labels"]["job"]: t["lastError"] for t in real["data"]["activeTargets"]} == {
        job: "" for job in jobs}
    assert {r["metric"]["service"] for r in query["data"]["result"]} == set(jobs)
    # The stand-in answers with the keys the real one has, at each level.
    real_target, our_target = real["data"]["activeTargets"][0], ours["data"]["activeTargets"][0]
    assert set(real) == set(ours) and set(real["data"]) == set(ours["data"])
    assert set(real_target) <= set(our_target)
    assert set(real_target["labels"]) == set(our_target["labels"])
    real_group, our_group = real_rules["data"]["groups"][0], our_rules["data"]["groups"][0]
    assert set(real_group) <= set(our_group)
    assert set(real_group["rules"][0]) <= set(our_group["rules"][0])
    assert real_group["rules"][0]["type"] == our_group["rules"][0]["type"] == "alerting"


async def test_traefik_api_reports_the_routers_its_compose_labels_configure(
    session: DemoSession,
) -> None:
    """Traefik's API (v2 shapes) from the demo's labels: plain HTTP routers at first; after
    the documented label edit and a recreate (restart), TLS and the rate limit."""
    assert session.demo is not None and session.runtime is not None
    base = f"http://127.0.0.1:{port(session, 'traefik', -1)}/api"
    async with httpx.AsyncClient(trust_env=False) as http:
        routers = (await http.get(f"{base}/http/routers")).json()
        assert [(r["name"], r["entryPoints"], "tls" in r) for r in routers] == [
            ("api-gateway@docker", ["web"], False), ("auth@docker", ["web"], False),
            ("grafana@docker", ["web"], False)]
        assert (await http.get(f"{base}/http/middlewares")).json() == []
        hardening.tls_and_rate_limit(session.demo.compose_path)
        await session.runtime.restart(session.stack.service("traefik"))
        await asyncio.sleep(0.5)
        await session.wait_listening(["traefik"])
        routers = (await http.get(f"{base}/http/routers")).json()
        assert {r["name"]: (r["entryPoints"], r["tls"], r["middlewares"]) for r in routers} == {
            f"{n}@docker": (["websecure"], {"certResolver": "letsencrypt"},
                            ["api-ratelimit@docker"]) for n in ("auth", "api-gateway", "grafana")}
        (limit,) = (await http.get(f"{base}/http/middlewares")).json()
        assert (limit["name"], limit["type"], limit["rateLimit"]) == (
            "api-ratelimit@docker", "ratelimit", {"average": 100, "burst": 50})
        assert sorted(limit["usedBy"]) == ["api-gateway@docker", "auth@docker",
                                           "grafana@docker"]
        points = (await http.get(f"{base}/entrypoints")).json()
        assert [(p["name"], p["address"]) for p in points] == [("web", ":80"),
                                                               ("websecure", ":443")]

