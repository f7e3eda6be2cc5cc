"""Checklist items answered by asking HTTP APIs: Prometheus, Grafana, Jaeger, admin UIs, CORS.

Every question goes to the stack's own services on loopback, at the ports the stack file
gives them. An API that does not answer makes its item `unknown` with the reason (the
console cannot tell "no dashboards" from "Grafana is down"); only an answer can pass or fail.
"""

from __future__ import annotations

from typing import Any

import httpx

from actions.readiness.inputs import Inputs
from actions.readiness.model import ITEM_BY_ID, Mark, Verdict
from console.masking import safe_str

FOREIGN_ORIGIN = "https://evil.example"
# Admin interfaces of the stack and which of their ports serves the UI (-1: the last one).
ADMIN_UIS: tuple[tuple[str, int], ...] = (
    ("grafana", 0), ("temporal-ui", 0), ("traefik", -1), ("rabbitmq", -1), ("minio", -1),
    ("prometheus", 0), ("jaeger", 0), ("kibana", 0),
)
LOGIN_WORDS = ("login", "signin", "sign-in", "auth")


def _unreachable(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url.path}"
    words = {httpx.ConnectError: "connection refused", httpx.TimeoutException: "timed out"}
    for kind, text in words.items():
        if isinstance(exc, kind):
            return text
    return safe_str(str(exc) or type(exc).__name__, 120)


async def get_json(http: httpx.AsyncClient, url: str, **kw: Any) -> Any:
    response = await http.get(url, **kw)
    response.raise_for_status()
    return response.json()


async def _ask_api(inp: Inputs, http: httpx.AsyncClient, item_id: str, names: tuple[str, ...],
                   path: str, label: str) -> tuple[Any, str] | Verdict:
    """The JSON a service's API answers at `path`, with what was asked; or the `unknown`
    verdict saying why there is no answer (no such service, not reachable, not JSON)."""
    item = ITEM_BY_ID[item_id]
    base = inp.url(names)
    if base is None:
        return inp.verdict(item, Mark.UNKNOWN, f"no {names[0]} service in the stack file")
    asked = f"GET {base}{path}"
    try:
        return await get_json(http, f"{base}{path}"), asked
    except (httpx.HTTPError, ValueError) as exc:
        return inp.verdict(item, Mark.UNKNOWN, f"{label}: {_unreachable(exc)}", asked)


async def prometheus(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    """Every active target up, and every app service of the stack among the scraped jobs."""
    item = ITEM_BY_ID["prometheus"]
    answer = await _ask_api(inp, http, "prometheus", ("prometheus",), "/api/v1/targets",
                            "Prometheus")
    if isinstance(answer, Verdict):
        return answer
    data, asked = answer
    targets = data.get("data", {}).get("activeTargets", [])
    down = [t for t in targets if t.get("health") != "up"]
    scraped = {str(v) for t in targets for k, v in t.get("labels", {}).items()
               if k in ("job", "service", "instance")}
    ports = {s.split(":")[-1] for s in scraped}
    app = [s for s in inp.stack.services if s.tier in ("core", "business", "gateway")]
    missing = [s.name for s in app if s.name not in scraped
               and not {str(p) for p in s.ports} & ports]
    if not targets:
        return inp.verdict(item, Mark.FAIL, "no scrape targets", asked)
    if down:
        words = ", ".join(f"{t['labels'].get('job', '?')} ({safe_str(t.get('lastError', ''), 160)})"
                          for t in down[:4])
        return inp.verdict(item, Mark.FAIL, f"{len(down)}/{len(targets)} targets down: {words}",
                           asked)
    if missing:
        return inp.verdict(item, Mark.FAIL, f"not scraped: {', '.join(missing[:6])}"
                           + (f" and {len(missing) - 6} more" if len(missing) > 6 else ""), asked)
    return inp.verdict(item, Mark.PASS, f"{len(targets)} targets up", asked)


async def alerts(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    item = ITEM_BY_ID["alerts"]
    answer = await _ask_api(inp, http, "alerts", ("prometheus",), "/api/v1/rules", "Prometheus")
    if isinstance(answer, Verdict):
        return answer
    data, asked = answer
    rules = [r for g in data.get("data", {}).get("groups", []) for r in g.get("rules", [])
             if r.get("type") == "alerting"]
    if not rules:
        return inp.verdict(item, Mark.FAIL, "no alerting rules loaded", asked)
    names = ", ".join(safe_str(r.get("name", "?"), 40) for r in rules[:5])
    return inp.verdict(item, Mark.PASS, f"{len(rules)} alerting rules: {names}", asked)


async def grafana(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    item = ITEM_BY_ID["grafana"]
    base = inp.url(("grafana",))
    if base is None:
        return inp.verdict(item, Mark.UNKNOWN, "no grafana service in the stack file")
    asked = f"GET {base}/api/search?type=dash-db"
    token = inp.env.get("VEXTRUS_GRAFANA_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await http.get(f"{base}/api/search", params={"type": "dash-db"},
                                  headers=headers)
        if response.status_code in (401, 403):
            return inp.verdict(item, Mark.UNKNOWN, f"Grafana answered {response.status_code}: "
                               "set VEXTRUS_GRAFANA_TOKEN (a viewer token)", asked)
        response.raise_for_status()
        found = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return inp.verdict(item, Mark.UNKNOWN, f"Grafana: {_unreachable(exc)}", asked)
    if not found:
        return inp.verdict(item, Mark.FAIL, "no dashboards", asked)
    titles = ", ".join(safe_str(d.get("title", "?"), 40) for d in found[:4])
    return inp.verdict(item, Mark.PASS, f"{len(found)} dashboards: {titles}", asked)


async def tracing(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    item = ITEM_BY_ID["tracing"]
    answer = await _ask_api(inp, http, "tracing", ("jaeger", "signoz"), "/api/services",
                            "Jaeger")
    if isinstance(answer, Verdict):
        return answer
    data, asked = answer
    services = [str(s) for s in (data.get("data") or []) if not str(s).startswith("jaeger")]
    if not services:
        return inp.verdict(item, Mark.FAIL, "no service has sent a trace", asked)
    return inp.verdict(item, Mark.PASS, f"traces from {len(services)} services: "
                       + safe_str(", ".join(services[:5]), 120), asked)


async def logs(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    item = ITEM_BY_ID["logs"]
    base = inp.url(("loki",))
    if base is None:
        return inp.verdict(item, Mark.UNKNOWN, "the stack names no log aggregator (loki): "
                           "the console's merged log view is not aggregation")
    asked = f"GET {base}/ready"
    try:
        response = await http.get(f"{base}/ready")
    except httpx.HTTPError as exc:
        return inp.verdict(item, Mark.UNKNOWN, f"Loki: {_unreachable(exc)}", asked)
    ok = response.status_code == 200
    return inp.verdict(item, Mark.PASS if ok else Mark.FAIL,
                       f"Loki /ready answered {response.status_code}", asked)


def _looks_like_login(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (301, 302, 303, 307, 308):
        location = response.headers.get("location", "").lower()
        return any(word in location for word in LOGIN_WORDS)
    return False


async def admin_auth(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    """An unauthenticated request to each admin UI must be refused or sent to a login."""
    item = ITEM_BY_ID["admin-auth"]
    asked_urls: list[str] = []
    open_uis: list[str] = []
    refused: list[str] = []
    silent: list[str] = []
    for name, index in ADMIN_UIS:
        url = inp.url((name,), index)
        if url is None:
            continue
        asked_urls.append(url)
        try:
            response = await http.get(f"{url}/", follow_redirects=False)
        except httpx.HTTPError as exc:
            silent.append(f"{name} ({_unreachable(exc)})")
            continue
        code = response.status_code
        if _looks_like_login(response):
            refused.append(f"{name} ({code})")
        elif 200 <= code < 300:
            open_uis.append(f"{name} ({code})")
        else:
            silent.append(f"{name} (HTTP {code} at /)")
    asked = "GET / without credentials: " + ", ".join(asked_urls)
    if open_uis:
        return inp.verdict(item, Mark.FAIL, "open without a login: " + ", ".join(open_uis),
                           asked)
    if not refused:
        return inp.verdict(item, Mark.UNKNOWN, "no admin interface answered: "
                           + (", ".join(silent) or "none in the stack file"), asked)
    # Not "credentials: NAME": the secret masker would hide the first name as a value.
    evidence = "a login is required: " + ", ".join(refused)
    if silent:
        return inp.verdict(item, Mark.UNKNOWN, evidence + "; no answer: " + ", ".join(silent),
                           asked)
    return inp.verdict(item, Mark.PASS, evidence, asked)


async def cors(inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    """A preflight from a foreign origin must not be allowed (no `*`, no echo)."""
    item = ITEM_BY_ID["cors"]
    base = inp.url(("api-gateway", "gateway"))
    if base is None:
        return inp.verdict(item, Mark.UNKNOWN, "no api-gateway service in the stack file")
    asked = f"OPTIONS {base}/graphql, Origin: {FOREIGN_ORIGIN}"
    try:
        response = await http.options(f"{base}/graphql", headers={
            "Origin": FOREIGN_ORIGIN, "Access-Control-Request-Method": "POST"})
    except httpx.HTTPError as exc:
        return inp.verdict(item, Mark.UNKNOWN, f"gateway: {_unreachable(exc)}", asked)
    allowed = response.headers.get("access-control-allow-origin", "")
    if allowed in ("*", FOREIGN_ORIGIN):
        return inp.verdict(item, Mark.FAIL, f"Access-Control-Allow-Origin: {safe_str(allowed, 80)}"
                           " for a foreign origin", asked)
    shown = safe_str(allowed, 80) if allowed else "none"
    return inp.verdict(item, Mark.PASS, f"foreign origin refused (Allow-Origin: {shown}, "
                       f"HTTP {response.status_code})", asked)
