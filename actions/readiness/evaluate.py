"""Evaluate every checklist item at once; one slow or broken check never holds up the rest."""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from actions.readiness import checks_config, checks_data, checks_http, checks_status
from actions.readiness.inputs import Inputs
from actions.readiness.model import ITEMS, Item, Mark, Scorecard, Verdict

Check = Callable[..., Verdict | Awaitable[Verdict]]

CHECKS: dict[str, Check] = {
    "uptime": checks_status.uptime,
    "health-200": checks_status.health_200,
    "no-restart-loops": checks_status.no_restart_loops,
    "migrations": checks_status.migrations,
    "kafka-topics": checks_data.kafka_topics,
    "temporal": checks_status.temporal,
    "no-hardcoded-secrets": checks_config.no_hardcoded_secrets,
    "https": checks_config.https,
    "admin-auth": checks_http.admin_auth,
    "rate-limiting": checks_config.rate_limiting,
    "cors": checks_http.cors,
    "secrets-stored": checks_config.secrets_stored,
    "prometheus": checks_http.prometheus,
    "grafana": checks_http.grafana,
    "logs": checks_http.logs,
    "alerts": checks_http.alerts,
    "tracing": checks_http.tracing,
    "healthchecks": checks_status.healthchecks,
    "api-p95": checks_data.api_p95,
    "db-p95": checks_data.db_p95,
    "memory": checks_data.memory,
    "cpu": checks_data.cpu,
    "throughput": checks_data.throughput,
    "memory-leaks": checks_data.memory_leaks,
}


async def _run(item: Item, check: Check, inp: Inputs, http: httpx.AsyncClient) -> Verdict:
    """A check that raises or hangs is `unknown` with the reason, not a crash."""
    wants_http = "http" in inspect.signature(check).parameters
    args: tuple[Any, ...] = (inp, http) if wants_http else (inp,)
    try:
        if inspect.iscoroutinefunction(check):
            return await asyncio.wait_for(check(*args), inp.timeout * 3)
        return await asyncio.to_thread(check, *args)  # type: ignore[arg-type]
    except TimeoutError:
        return inp.verdict(item, Mark.UNKNOWN, f"no answer within {inp.timeout * 3:.0f} s")
    except Exception as exc:  # a bug or a surprise answer: said, not raised
        return inp.verdict(item, Mark.UNKNOWN, f"check failed: {type(exc).__name__}: {exc}")


_TLS: list[ssl.SSLContext] = []  # made once per process, off the event loop


def _prepare() -> ssl.SSLContext:
    """What the checks need before they run, made in a thread: the TLS context (an HTTP
    client built without one loads the CA bundle, 50-90 ms) and PostgreSQL's client (its
    first import, ~110 ms). On the event loop, the checklist's keys waited behind them."""
    import asyncpg  # noqa: F401

    if not _TLS:
        _TLS.append(httpx.create_ssl_context())
    return _TLS[0]


async def evaluate(inp: Inputs) -> Scorecard:
    tls = await asyncio.to_thread(_prepare)
    async with httpx.AsyncClient(timeout=inp.timeout, trust_env=False, verify=tls) as http:
        verdicts = await asyncio.gather(*(_run(item, CHECKS[item.id], inp, http)
                                          for item in ITEMS))
    return Scorecard(tuple(verdicts), inp.clock())
