"""Checklist items measured in the data path: Kafka topics, query times, load and usage.

Database query p95: `pg_stat_statements` keeps mean and standard deviation per statement,
not percentiles; the check estimates each statement's p95 as mean + 1.645 sd (normal
approximation, stated in the evidence) and takes the worst statement with 10+ calls.
API p95 and throughput come from the newest `vextrus-console load` result; CPU, memory and
leaks from the runtime's usage history when the caller has one.
"""

from __future__ import annotations

import itertools
from typing import Any

from actions.readiness.inputs import LOOPBACK, Inputs
from actions.readiness.kafka_metadata import INTERNAL_PREFIX, list_topics
from actions.readiness.model import ITEM_BY_ID, Mark, Verdict
from console.probes.common import error_words
from console.results import latest_result

P95_Z = 1.645
API_P95_MS, DB_P95_MS, MIN_RPS = 300.0, 100.0, 1000.0
MEMORY_PCT, CPU_PCT = 80.0, 70.0
LEAK_MIN_POINTS = 20
LEAK_GROWTH = 0.10  # memory up 10%+ over the window, rising in 80%+ of the steps

DB_SQL = """
SELECT query, calls, mean_exec_time, stddev_exec_time
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = current_database() AND calls >= 10
  AND query NOT ILIKE '%pg_stat_statements%'
ORDER BY mean_exec_time + $1 * stddev_exec_time DESC LIMIT 1
"""


async def kafka_topics(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["kafka-topics"]
    kafka = inp.service("kafka")
    port = next((c.port for c in kafka.checks if c.kind == "kafka" and c.port), None) \
        if kafka else None
    if port is None:
        return inp.verdict(item, Mark.UNKNOWN, "no kafka check in the stack file")
    asked = f"Kafka Metadata v0 at {LOOPBACK}:{port}"
    try:
        topics = await list_topics(LOOPBACK, port, inp.timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        return inp.verdict(item, Mark.UNKNOWN, f"Kafka: {error_words(exc, inp.timeout)}", asked)
    own = [t for t in topics if not t.name.startswith(INTERNAL_PREFIX)]
    broken = [t for t in own if t.error_code or t.leaderless]
    if not own:
        return inp.verdict(item, Mark.FAIL, "no topics", asked)
    if broken:
        words = ", ".join(f"{t.name} (error {t.error_code}, {t.leaderless} leaderless)"
                          for t in broken[:4])
        return inp.verdict(item, Mark.FAIL, f"not accessible: {words}", asked)
    names = ", ".join(t.name for t in own[:6])
    return inp.verdict(item, Mark.PASS, f"{len(own)} topics with leaders: {names}", asked)


async def db_p95(inp: Inputs) -> Verdict:
    import asyncpg

    item = ITEM_BY_ID["db-p95"]
    pg = inp.service("postgres", "postgresql")
    check = next((c for c in pg.checks if c.kind == "postgres"), None) if pg else None
    if check is None or check.port is None:
        return inp.verdict(item, Mark.UNKNOWN, "no postgres check in the stack file")
    password = inp.env.get(check.password_env) if check.password_env else None
    asked = f"pg_stat_statements on {check.host}:{check.port}/{check.database or check.user}"
    try:
        conn = await asyncpg.connect(host=check.host, port=check.port, user=check.user,
                                     password=password, database=check.database,
                                     timeout=inp.timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return inp.verdict(item, Mark.UNKNOWN, f"PostgreSQL: {str(exc).splitlines()[0]}", asked)
    try:
        row = await conn.fetchrow(DB_SQL, P95_Z, timeout=inp.timeout)
    except asyncpg.UndefinedTableError:
        return inp.verdict(item, Mark.UNKNOWN, "pg_stat_statements is not installed: "
                           "CREATE EXTENSION pg_stat_statements", asked)
    except asyncpg.PostgresError as exc:
        return inp.verdict(item, Mark.UNKNOWN, str(exc).splitlines()[0], asked)
    finally:
        await conn.close()
    if row is None:
        return inp.verdict(item, Mark.UNKNOWN, "no statement with 10+ calls yet", asked)
    p95 = row["mean_exec_time"] + P95_Z * row["stddev_exec_time"]
    words = (f"slowest statement p95 ≈ {p95:.1f} ms (mean {row['mean_exec_time']:.1f} + "
             f"1.645 sd, {row['calls']} calls): {' '.join(row['query'].split())[:80]}")
    return inp.verdict(item, Mark.PASS if p95 < DB_P95_MS else Mark.FAIL, words, asked)


def _load(inp: Inputs) -> dict[str, Any] | None:
    return latest_result(inp.state_dir, "load") if inp.state_dir else None


def api_p95(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["api-p95"]
    data = _load(inp)
    if data is None:
        return inp.verdict(item, Mark.UNKNOWN, "no load test yet", fix="vextrus-console load "
                           "api-gateway --rate 200 --duration 30s")
    p95 = float((data.get("latency_ms") or {}).get("p95", 0.0))
    asked = f"load result {data.get('target', '?')} at {data.get('started_at', '?')}"
    mark = Mark.PASS if p95 < API_P95_MS else Mark.FAIL
    return inp.verdict(item, mark, f"p95 {p95:.1f} ms", asked)


def throughput(inp: Inputs) -> Verdict:
    item = ITEM_BY_ID["throughput"]
    data = _load(inp)
    if data is None:
        return inp.verdict(item, Mark.UNKNOWN, "no load test yet", fix="vextrus-console load "
                           "api-gateway --rate 1200 --duration 30s")
    rps = float(data.get("throughput_rps", 0.0))
    asked = f"load result {data.get('target', '?')}"
    mark = Mark.PASS if rps > MIN_RPS else Mark.FAIL
    return inp.verdict(item, mark, f"{rps:.0f} req/s", asked)


def _usage_items(inp: Inputs, item_id: str) -> Verdict | list[tuple[str, Any]]:
    item = ITEM_BY_ID[item_id]
    board = inp.usage
    if board is None or not board.services:
        why = getattr(board, "unavailable", "") or "no resource usage measured"
        return inp.verdict(item, Mark.UNKNOWN, why)
    return list(board.services.items())


def memory(inp: Inputs) -> Verdict:
    rows = _usage_items(inp, "memory")
    if isinstance(rows, Verdict):
        return rows
    item = ITEM_BY_ID["memory"]
    limited = [(n, u.total.memory_percent) for n, u in rows if u.total.memory_percent is not None]
    if not limited:
        return inp.verdict(item, Mark.UNKNOWN, "no service has a memory limit",
                           fix="vextrus-console audit --fix (limits from observed usage)")
    over = [(n, p) for n, p in limited if p >= MEMORY_PCT]
    worst = max(limited, key=lambda x: x[1])
    if over:
        return inp.verdict(item, Mark.FAIL, ", ".join(f"{n} {p:.0f}%" for n, p in over[:5]))
    return inp.verdict(item, Mark.PASS, f"{len(limited)} limited services, highest "
                       f"{worst[0]} {worst[1]:.0f}%")


def cpu(inp: Inputs) -> Verdict:
    rows = _usage_items(inp, "cpu")
    if isinstance(rows, Verdict):
        return rows
    item = ITEM_BY_ID["cpu"]
    limited = [(n, u.total.cpu_limit_percent) for n, u in rows
               if u.total.cpu_limit_percent is not None]
    if not limited:
        return inp.verdict(item, Mark.UNKNOWN, "no service has a CPU limit")
    over = [(n, p) for n, p in limited if p >= CPU_PCT]
    if over:
        return inp.verdict(item, Mark.FAIL, ", ".join(f"{n} {p:.0f}%" for n, p in over[:5]))
    worst = max(limited, key=lambda x: x[1])
    return inp.verdict(item, Mark.PASS, f"highest {worst[0]} {worst[1]:.0f}% of its limit")


def leaking(history: tuple[float, ...]) -> bool:
    """A steady climb: up LEAK_GROWTH over the window, rising in 80%+ of the steps."""
    if len(history) < LEAK_MIN_POINTS or history[0] <= 0:
        return False
    rises = sum(1 for a, b in itertools.pairwise(history) if b > a)
    return history[-1] >= history[0] * (1 + LEAK_GROWTH) and rises >= 0.8 * (len(history) - 1)


def memory_leaks(inp: Inputs) -> Verdict:
    rows = _usage_items(inp, "memory-leaks")
    if isinstance(rows, Verdict):
        return rows
    item = ITEM_BY_ID["memory-leaks"]
    watched = [(n, u.memory_history) for n, u in rows if len(u.memory_history) >= LEAK_MIN_POINTS]
    if not watched:
        return inp.verdict(item, Mark.UNKNOWN, f"fewer than {LEAK_MIN_POINTS} memory samples "
                           "per service: watch longer (the resources screen keeps them)")
    leaks = [n for n, h in watched if leaking(h)]
    if leaks:
        return inp.verdict(item, Mark.FAIL, "memory climbing steadily: " + ", ".join(leaks[:5]))
    return inp.verdict(item, Mark.PASS, f"{len(watched)} services, no steady climb")

