"""The security fixes the demo can make, the way its team would make them.

- Admin interfaces: "deploy" authentication to temporal-ui, MinIO's console, RabbitMQ's
  management, Traefik's dashboard, Prometheus and Jaeger (their fault files say
  `{"secured": true}`; a restart applies it, as a new container would).
- CORS: the gateway allows only the ERP's own origins (`{"cors_origins": [...]}`).
- TLS and rate limits: a documented edit of the compose file's Traefik labels. Every router
  gets `tls=true`, the `letsencrypt` cert resolver and the `api-ratelimit` middleware,
  defined once on Traefik itself (Traefik's docs: "RateLimit" middleware, average/burst):

      - traefik.http.routers.NAME.tls=true
      - traefik.http.routers.NAME.tls.certresolver=letsencrypt
      - traefik.http.routers.NAME.middlewares=api-ratelimit@docker
      - traefik.http.routers.NAME.entrypoints=websecure              (was: web)
      - traefik.http.middlewares.api-ratelimit.ratelimit.average=100   (on traefik)
      - traefik.http.middlewares.api-ratelimit.ratelimit.burst=50

The edit is line-based (comments, `${VAR}` references and the rest stay as they are),
written atomically, and does nothing to a router that already has the labels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from console.demo.apis import ADMIN_UIS
from console.demo.stack import Demo
from console.fileio import write_text_atomic

ALLOWED_ORIGINS = ("https://erp.vextrus.local",)
GATEWAY = "api-gateway"
RATELIMIT = "api-ratelimit"
_RULE_RE = re.compile(r"^(?P<indent>\s*- )\"?traefik\.http\.routers\.(?P<name>[\w-]+)\.rule=")
_ENTRY_RE = re.compile(r"^\s*- \"?traefik\.http\.routers\.(?P<name>[\w-]+)\.entrypoints=web\b")
_TRAEFIK_CMD_RE = re.compile(r"^(?P<indent>\s*)- --api\.dashboard=true\s*$")


def merge_fault(demo: Demo, service: str, **fault: object) -> None:
    path = demo.fault_path(service)
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    current = current if isinstance(current, dict) else {}
    write_text_atomic(path, json.dumps({**current, **fault}) + "\n")


def secure_admin_uis(demo: Demo) -> list[str]:
    """Authentication on every admin UI the demo runs; the names, to restart them."""
    names = [n for n in ADMIN_UIS if n in demo.stack.names()]
    for name in names:
        merge_fault(demo, name, secured=True)
    return names


def restrict_cors(demo: Demo) -> str:
    merge_fault(demo, GATEWAY, cors_origins=list(ALLOWED_ORIGINS))
    return GATEWAY


def tls_and_rate_limit(compose: Path) -> list[str]:
    """Add TLS, the cert resolver and the rate limit to every router; the routers changed."""
    lines = compose.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(lines)
    out: list[str] = []
    changed: list[str] = []
    for line in lines:
        if (m := _ENTRY_RE.match(line)) and m["name"] in changed:
            line = line.replace(".entrypoints=web", ".entrypoints=websecure")
        out.append(line)
        if (m := _RULE_RE.match(line)) and f"routers.{m['name']}.tls=" not in text:
            prefix = f"{m['indent']}traefik.http.routers.{m['name']}"
            out += [f"{prefix}.tls=true\n", f"{prefix}.tls.certresolver=letsencrypt\n",
                    f"{prefix}.middlewares={RATELIMIT}@docker\n"]
            changed.append(m["name"])
        elif (m := _TRAEFIK_CMD_RE.match(line)) and f"middlewares.{RATELIMIT}." not in text:
            item = m["indent"]
            out += [f"{item[:-2]}labels:\n",
                    *(f"{item}- traefik.http.middlewares.{RATELIMIT}.ratelimit.{k}={v}\n"
                      for k, v in (("average", 100), ("burst", 50)))]
    if changed:
        write_text_atomic(compose, "".join(out))
    return changed
