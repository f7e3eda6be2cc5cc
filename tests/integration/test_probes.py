"""The integration tests of tests/unit/test_probes.py (same subject, other layer).

Probes against real servers on loopback: HTTP/TCP (in-test asyncio servers), the machine's
PostgreSQL and Redis, a private redis-server with a password, and a real Temporal test
server. Kafka cannot run here, so its probe talks to a loopback server that implements the
ApiVersions v0 exchange byte for byte as the Kafka protocol guide describes it.
"""

from __future__ import annotations

import dataclasses

import pytest

from console.probes.registry import run_check
from tests.fixtures_services import *  # noqa: F403  # noqa: F403
from tests.fixtures_services import PgRole, RedisServer, free_port
from tests.unit.test_probes import (
    PG_ENV,
    REDIS_ENV,
    SVC,
    pg_check,
    redis_check,
)


async def test_postgres_login_with_password_from_env(
    postgres_role: PgRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_ENV, postgres_role.password)
    r = await run_check(pg_check(postgres_role), SVC, None)
    assert r.ok, r.error
    assert r.output.startswith("PostgreSQL 15.") and "SELECT 1 ok" in r.output


async def test_postgres_wrong_password(
    postgres_role: PgRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_ENV, "not-" + postgres_role.password)
    r = await run_check(pg_check(postgres_role), SVC, None)
    assert not r.ok
    assert r.error.startswith("authentication failed")
    assert postgres_role.password not in r.error


async def test_postgres_password_env_unset_is_named(
    postgres_role: PgRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PG_ENV, raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    r = await run_check(pg_check(postgres_role), SVC, None)
    assert not r.ok
    assert r.error.startswith(f"authentication failed ({PG_ENV} is not set)")


async def test_postgres_missing_database(
    postgres_role: PgRole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_ENV, postgres_role.password)
    r = await run_check(pg_check(postgres_role, database="vextrus_nope"), SVC, None)
    assert not r.ok
    assert r.error == 'database "vextrus_nope" does not exist'


async def test_postgres_closed_port_is_refused(postgres_role: PgRole) -> None:
    closed = dataclasses.replace(pg_check(postgres_role), port=free_port())
    r = await run_check(closed, SVC, None)
    assert not r.ok and r.error == "connection refused"


async def test_redis_ping(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_ENV, raising=False)
    r = await run_check(redis_check(redis_server), SVC, None)
    assert r.ok, r.error
    assert r.output == "PONG"


async def test_redis_password_sent_to_a_server_without_one(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REDIS_ENV, "s3cret-value")
    r = await run_check(redis_check(redis_server), SVC, None)
    assert not r.ok
    assert r.error == "authentication failed: the server has no password set, but one was sent"
