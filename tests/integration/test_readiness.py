"""The integration tests of tests/unit/test_readiness.py (same subject, other layer).

The readiness checklist against real Prometheus and PostgreSQL, and faithful stand-ins.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from dataclasses import replace

import pytest

from actions.readiness import Mark
from tests.fixtures_services import PgRole, postgres_role  # noqa: F401  (fixture)
from tests.unit.test_readiness import (
    _pg_stack,
    _queries,
    card_of,
    inputs,
)


@pytest.fixture
def stats_db(postgres_role: PgRole) -> Iterator[PgRole]:  # noqa: F811
    """A database of its own with pg_stat_statements (preloaded by scripts/test-env.sh)."""
    name = f"{postgres_role.user}_db"

    def psql(sql: str, db: str = "postgres") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["su", "postgres", "-c", f"psql -X -q -v ON_ERROR_STOP=1 -d {db}"],
                              input=sql, capture_output=True, text=True, check=False)

    made = psql(f"CREATE DATABASE {name} OWNER {postgres_role.user};")
    assert made.returncode == 0, made.stderr
    ext = psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n"
               f"GRANT pg_read_all_stats TO {postgres_role.user};", name)
    assert ext.returncode == 0, ext.stderr
    try:
        yield replace(postgres_role, database=name)
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


def test_database_query_p95_from_pg_stat_statements(stats_db: PgRole) -> None:
    env = {"VX_TEST_PG_PASSWORD": stats_db.password}
    inp = inputs(_pg_stack(stats_db), env=env)
    asyncio.run(_queries(stats_db, "SELECT 1", 20))
    mark, words = card_of(inp)["db-p95"]
    assert mark is Mark.PASS and "SELECT $1" in words and "1.645 sd" in words
    asyncio.run(_queries(stats_db, "SELECT pg_sleep(0.12)", 10))
    mark, words = card_of(inp)["db-p95"]
    assert mark is Mark.FAIL and "pg_sleep" in words
    assert float(words.split("≈ ")[1].split(" ms")[0]) >= 120


def test_database_item_is_unknown_with_the_reason_when_it_cannot_log_in(
        stats_db: PgRole) -> None:
    inp = inputs(_pg_stack(stats_db), env={"VX_TEST_PG_PASSWORD": "wrong"})
    mark, words = card_of(inp)["db-p95"]
    assert mark is Mark.UNKNOWN and "password authentication failed" in words
