"""The observability services' HTTP APIs, as the demo's stand-ins serve them.

Standard library only (a stand-in imports this at start). Each answer follows its
counterpart's documented shape, so the readiness checklist reads the demo as it reads a
real stack:

- every HTTP stand-in: `GET /metrics` in the Prometheus text exposition format (0.0.4);
- prometheus: `/api/v1/targets` (HTTP API "Targets": activeTargets with labels.job and
  labels.instance, scrapeUrl, health up/down, lastError) and `/api/v1/rules` ("Rules":
  groups of alerting and recording rules);
- grafana: `/api/search` (HTTP API "Folder/Dashboard Search", a viewer token required as a
  real Grafana does) and `/` as a 302 to /login;
- jaeger: `/api/services` as its UI calls it (`{"data": [...], "total": N, ...}`);
- traefik: `/api/http/routers`, `/api/http/middlewares`, `/api/entrypoints` (its API,
  v2 shapes) from the Docker labels of the demo's compose file, read at start as the Docker
  provider reads a recreated container's labels;
- api-gateway: CORS preflight (`OPTIONS` with Origin): `*` until the fault file names the
  allowed origins (`{"cors_origins": [...]}`), as Apollo's `cors: true` does;
- admin UIs (temporal-ui, minio, rabbitmq, traefik, prometheus, jaeger): `/` open (200)
  until the fault file says `{"secured": true}`; then 401 with a `WWW-Authenticate` Basic
  challenge, or a 302 to the login page where `/` is also the service's health check
  (temporal-ui, jaeger: the probe follows the redirect to the login page and stays green).

Where the demo differs from the real component: a secured Prometheus here refuses only its
UI at `/`; a real one behind `--web.config.file` basic auth refuses its API and /metrics too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

Probe = Callable[[str, int], Awaitable[tuple[bool, str]]]
GRAFANA_TOKEN_ENV = "VEXTRUS_GRAFANA_TOKEN"  # noqa: S105 - a variable name; the viewer token the readiness check sends
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"
ADMIN_UIS = ("temporal-ui", "minio", "rabbitmq", "traefik", "prometheus", "jaeger")
LOGIN_REDIRECT = {"temporal-ui": "/login", "jaeger": "/oauth2/sign_in?rd=%2F"}
LOGIN_PAGES = ("/login", "/oauth2/sign_in")
SCRAPE_INTERVAL = "15s"
ALERT_RULES = (
    ("ServiceDown", "up == 0", 60.0, "critical", "{{ $labels.job }} is down"),
    ("HighErrorRate", 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) > 1',
     300.0, "warning", "{{ $labels.job }} answers 5xx"),
)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json; charset=utf-8"


def json_response(data: object, status: int = 200,
                  headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(data).encode(), headers)


@dataclass
class ApiConfig:
    """What a stand-in knows beyond its health paths (from its argv and fault file)."""

    name: str
    faults: Mapping[str, object]
    scrape: list[tuple[str, str, int]] = field(default_factory=list)  # prometheus: job, host, port
    traced: list[tuple[str, str, int]] = field(default_factory=list)  # jaeger: app services
    grafana_token: str = ""
    compose: str = ""  # traefik: the compose file whose labels configure it
    started: float = field(default_factory=time.time)
    requests: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def secured(self) -> bool:
        return bool(self.faults.get("secured"))


async def answer(cfg: ApiConfig, method: str, path: str, query: str,
                 headers: Mapping[str, str], probe: Probe) -> Response | None:
    """The API's answer, or None when the path is not an API path (health, 404 decide)."""
    if method == "OPTIONS" and cfg.name == "api-gateway":
        return preflight(cfg, headers)
    if method != "GET":
        return None
    if path == "/metrics":
        return Response(200, metrics(cfg).encode(), content_type=EXPOSITION)
    ui = admin_ui(cfg, path) if cfg.name in (*ADMIN_UIS, "grafana") else None
    if ui is not None:
        return ui
    if cfg.name == "prometheus" and path == "/api/v1/targets":
        return json_response(await targets(cfg, probe))
    if cfg.name == "prometheus" and path == "/api/v1/rules":
        return json_response(rules())
    if cfg.name == "grafana" and path == "/api/search":
        return grafana_search(cfg, headers)
    if cfg.name == "traefik" and cfg.compose and path.startswith("/api/"):
        if cfg.secured:  # the dashboard's router guards its API too
            return admin_ui(cfg, "/")
        return traefik_api(cfg.compose, path)
    if cfg.name == "jaeger" and path == "/api/services":
        return json_response(await jaeger_services(cfg, probe))
    return None


def count(cfg: ApiConfig, path: str, status: int) -> None:
    key = (path if path in ("/metrics", "/health", "/") else "other", status)
    cfg.requests[key] = cfg.requests.get(key, 0) + 1


def metrics(cfg: ApiConfig) -> str:
    """The process and request metrics every client library exports, in exposition format."""
    lines = [
        "# HELP process_start_time_seconds Start time of the process since unix epoch in "
        "seconds.",
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {cfg.started:.3f}",
        "# HELP http_requests_total Total number of HTTP requests.",
        "# TYPE http_requests_total counter",
    ]
    for (path, status), n in sorted(cfg.requests.items()):
        lines.append(f'http_requests_total{{service="{cfg.name}",path="{path}",'
                     f'code="{status}"}} {n}')
    if not cfg.requests:
        lines.append(f'http_requests_total{{service="{cfg.name}",path="/metrics",code="200"}} 0')
    return "\n".join(lines) + "\n"


def admin_ui(cfg: ApiConfig, path: str) -> Response | None:
    html = f"<!doctype html><title>{cfg.name}</title>".encode()
    if path in LOGIN_PAGES and (cfg.secured or cfg.name == "grafana"):
        return Response(200, html + b"<form>login</form>", content_type="text/html")
    if path != "/":
        return None
    if cfg.name == "grafana":  # Grafana's default: anonymous access off
        return Response(302, b'<a href="/login">Found</a>.', (("Location", "/login"),),
                        "text/html")
    if not cfg.secured:
        return Response(200, html, content_type="text/html")
    if cfg.name in LOGIN_REDIRECT:
        return Response(302, b"", (("Location", LOGIN_REDIRECT[cfg.name]),), "text/html")
    return Response(401, b"401 Unauthorized\n",
                    (("WWW-Authenticate", f'Basic realm="{cfg.name}"'),), "text/plain")


async def targets(cfg: ApiConfig, probe: Probe) -> dict[str, object]:
    active = []
    for job, host, port in cfg.scrape:
        ok, _why = await probe(host, port)
        url = f"http://{host}:{port}/metrics"
        error = "" if ok else (f'Get "{url}": dial tcp {host}:{port}: connect: '
                               "connection refused")
        active.append({
            "discoveredLabels": {"__address__": f"{host}:{port}", "__metrics_path__": "/metrics",
                                 "__scheme__": "http", "job": job},
            "labels": {"instance": f"{host}:{port}", "job": job},
            "scrapePool": job, "scrapeUrl": url, "globalUrl": url,
            "lastError": error, "lastScrape": _rfc3339(time.time()),
            "lastScrapeDuration": 0.002, "health": "up" if ok else "down",
            "scrapeInterval": SCRAPE_INTERVAL, "scrapeTimeout": "10s",
        })
    return {"status": "success", "data": {"activeTargets": active, "droppedTargets": []}}


def rules() -> dict[str, object]:
    alerting = [{"state": "inactive", "name": name, "query": query, "duration": duration,
                 "keepFiringFor": 0,
                 "labels": {"severity": severity}, "annotations": {"summary": summary},
                 "alerts": [], "health": "ok", "evaluationTime": 0.0004,
                 "lastEvaluation": _rfc3339(time.time()), "type": "alerting"}
                for name, query, duration, severity, summary in ALERT_RULES]
    recording = {"name": "job:http_requests:rate5m", "query":
                 "sum by (job) (rate(http_requests_total[5m]))", "health": "ok",
                 "evaluationTime": 0.0002, "lastEvaluation": _rfc3339(time.time()),
                 "type": "recording"}
    group = {"name": "vextrus", "file": "/etc/prometheus/rules/vextrus.yml",
             "rules": [*alerting, recording], "interval": 15, "limit": 0,
             "evaluationTime": 0.0006, "lastEvaluation": _rfc3339(time.time())}
    return {"status": "success", "data": {"groups": [group]}}


DASHBOARDS = (("vextrus-overview", "Vextrus Overview"), ("vextrus-services", "Service Health"),
              ("vextrus-kafka", "Kafka Topics"))


def grafana_search(cfg: ApiConfig, headers: Mapping[str, str]) -> Response:
    given = headers.get("authorization", "")
    if not cfg.grafana_token or given != f"Bearer {cfg.grafana_token}":
        return json_response({"message": "Unauthorized"}, 401)
    found = [{"id": i + 1, "uid": uid, "title": title, "uri": f"db/{uid}",
              "url": f"/d/{uid}/{uid}", "slug": "", "type": "dash-db", "tags": ["vextrus"],
              "isStarred": False, "sortMeta": 0}
             for i, (uid, title) in enumerate(DASHBOARDS)]
    return json_response(found)


async def jaeger_services(cfg: ApiConfig, probe: Probe) -> dict[str, object]:
    names = ["jaeger-all-in-one"]
    for name, host, port in cfg.traced:
        if (await probe(host, port))[0]:
            names.append(name)
    return {"data": sorted(names), "total": len(names), "limit": 0, "offset": 0,
            "errors": None}


def preflight(cfg: ApiConfig, headers: Mapping[str, str]) -> Response:
    """Apollo/Express `cors`: `*` by default; a list reflects only a listed origin."""
    allowed = cfg.faults.get("cors_origins")
    origin = headers.get("origin", "")
    out = [("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")]
    if not isinstance(allowed, list):
        out.insert(0, ("Access-Control-Allow-Origin", "*"))
    elif origin in allowed:
        out[:0] = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    else:
        out.insert(0, ("Vary", "Origin"))
    if requested := headers.get("access-control-request-headers"):
        out.append(("Access-Control-Allow-Headers", requested))
    return Response(204, b"", tuple(out), "text/plain")


def _rfc3339(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"


# --- Traefik's API (v2 `api@internal`), built from the compose file's Docker labels -------


def traefik_api(compose: str, path: str) -> Response | None:
    """`/api/http/routers`, `/api/http/middlewares`, `/api/entrypoints` as Traefik's Docker
    provider reports them from the labels of the compose file the stand-in started with."""
    if path not in ("/api/http/routers", "/api/http/middlewares", "/api/entrypoints"):
        return None
    services, command = _compose_labels(compose)
    if path == "/api/entrypoints":
        points = [arg.split("=", 1) for arg in command if arg.startswith("--entrypoints.")
                  and ".address=" in arg]
        return json_response([{"name": key.split(".")[1], "address": value, "transport": {},
                               "http": {}} for key, value in points])
    routers: dict[str, dict[str, object]] = {}
    middlewares: dict[str, dict[str, object]] = {}
    for service, labels in services.items():
        for key, value in labels.items():
            parts = key.split(".")
            if parts[:3] == ["traefik", "http", "routers"] and len(parts) >= 5:
                router = routers.setdefault(parts[3], {
                    "entryPoints": [], "service": service, "status": "enabled",
                    "name": f"{parts[3]}@docker", "provider": "docker"})
                _router_label(router, parts[4:], value)
            elif parts[:3] == ["traefik", "http", "middlewares"] and len(parts) >= 6:
                mw = middlewares.setdefault(parts[3], {
                    "type": parts[4], "status": "enabled", "usedBy": [],
                    "name": f"{parts[3]}@docker", "provider": "docker"})
                kind = "rateLimit" if parts[4] == "ratelimit" else parts[4]
                config = mw.setdefault(kind, {})
                assert isinstance(config, dict)
                config[parts[5]] = int(value) if value.isdigit() else value
    for name, router in routers.items():
        for used in router.get("middlewares", []):  # type: ignore[attr-defined]
            target = middlewares.get(str(used).split("@")[0])
            if target is not None:
                target["usedBy"].append(f"{name}@docker")  # type: ignore[attr-defined]
    items = routers if path == "/api/http/routers" else middlewares
    return json_response([items[k] for k in sorted(items)])


def _router_label(router: dict[str, object], key: list[str], value: str) -> None:
    if key == ["rule"]:
        router["rule"] = value
    elif key == ["entrypoints"]:
        router["entryPoints"] = router["using"] = value.split(",")
    elif key == ["middlewares"]:
        router["middlewares"] = value.split(",")
    elif key[0] == "tls":
        tls = router.setdefault("tls", {})
        assert isinstance(tls, dict)
        if key[1:] == ["certresolver"]:
            tls["certResolver"] = value


def _compose_labels(compose: str) -> tuple[dict[str, dict[str, str]], list[str]]:
    from pathlib import Path

    from console.bounded_yaml import load_yaml  # Traefik's stand-in only: PyYAML at start

    try:
        data = load_yaml(Path(compose).read_text(encoding="utf-8"))
    except Exception:  # unreadable, or a compose file Docker would refuse: no routes
        return {}, []
    services: dict[str, dict[str, str]] = {}
    command: list[str] = []
    for name, body in ((data or {}).get("services") or {}).items():
        if not isinstance(body, dict):
            continue
        raw = body.get("labels") or {}
        pairs = (str(x).split("=", 1) for x in raw) if isinstance(raw, list) else (
            (str(k), str(v)) for k, v in raw.items())
        services[str(name)] = {p[0]: p[1] for p in pairs if len(p) == 2}
        if name == "traefik" and isinstance(body.get("command"), list):
            command = [str(x) for x in body["command"]]
    return services, command
