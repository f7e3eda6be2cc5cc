"""PostgreSQL probe: log in the way the services do and run `SELECT 1`.

An open port says little about PostgreSQL: it may refuse logins while starting up, reject
the services' credentials, or lack their database. Logging in with the configured user,
database and password (read from the environment variable the stack file names, never
stored) answers the question the services will ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.model import HealthCheck, Service
from console.probes.base import ProbeResult
from console.probes.common import Outcome, check_password, failed, guarded, preload

if TYPE_CHECKING:
    from console.runtime.base import Runtime


class PostgresProbe:
    """ok when a login succeeds and `SELECT 1` answers 1; output names the server version."""

    kind = "postgres"

    async def run(
        self, check: HealthCheck, service: Service, runtime: Runtime | None
    ) -> ProbeResult:
        """Connect, query, close; asyncpg is imported off the loop before the clock starts."""
        if check.port is None:
            return failed(check, "no port configured")
        await preload("asyncpg")
        password = check_password(check)
        port = check.port

        async def body() -> Outcome:
            return await _login_and_select(check, port, password)

        return await guarded(check, body)


async def _login_and_select(check: HealthCheck, port: int, password: str | None) -> Outcome:
    import asyncpg

    try:
        conn = await asyncpg.connect(
            host=check.host,
            port=port,
            user=check.user,
            database=check.database,
            password=password,
            timeout=check.timeout,
        )
    except asyncpg.PostgresError as exc:
        return Outcome(False, error=postgres_error_words(exc, check, password))
    try:
        value = await conn.fetchval("SELECT 1")
        version = conn.get_settings().server_version  # "15.8 (Debian 15.8-0+deb12u1)"
    except BaseException:
        conn.terminate()  # mid-query failure or timeout: do not wait on a sick server
        raise
    await conn.close(timeout=check.timeout)
    if value != 1:
        return Outcome(False, error=f"SELECT 1 returned {value!r}")
    return Outcome(True, output=f"PostgreSQL {version}; SELECT 1 ok")


def postgres_error_words(exc: Exception, check: HealthCheck, password: str | None) -> str:
    """Server errors in operator words; a missing password env var is named as the cause."""
    import asyncpg

    message = str(exc).strip()
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        if check.password_env and password is None:
            return f"authentication failed ({check.password_env} is not set): {message}"
        return f"authentication failed: {message}"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return message  # the server's own words: database "x" does not exist
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return f"not accepting connections yet: {message}"
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return f"too many connections: {message}"
    return f"postgres error: {message}"
