"""`secrets scan | generate | apply` on a copy of a realistic compose file.

The fixture (tests/data/compose-realistic.yml) holds the seeds' hardcoded passwords in
every shape compose allows: environment mappings and `KEY=value` lists, a flow mapping,
`command:` strings, exec-form and shell-form healthchecks, URLs, a merge key, a scalar
anchor and a `${VAR:-fallback}`. Every test works on a copy in tmp_path.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from actions.base import CancelToken, ReadOnlyRefused, execute
from actions.secrets.apply import RewriteError, SecretsApply, render_k8s_secret, verify_rewrite
from actions.secrets.generate import SecretsGenerate, new_key, plan_env
from actions.secrets.policy import (
    SEED_SECRETS,
    is_secret_flag,
    is_secret_name,
    looks_random,
    mask_value,
    service_prefixed,
)
from actions.secrets.scan import (
    SecretsScan,
    assign_variables,
    load_compose,
    parse_env,
    scan_compose_text,
    scan_env_text,
    scan_toml_text,
    text_hits,
)
from cli import secrets as cli_secrets
from cli.common import add_common
from console.fileio import write_text_atomic
from console.journal import Journal

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "compose-realistic.yml"
ENV_FIXTURE = ROOT / "tests" / "data" / "compose-realistic.env"

# Every literal secret in the fixture. None of them may ever show in output unmasked.
SECRET_VALUES = (
    "vextrus_dev_2024", "minio123", "vextrus_grafana_2024", "redis_dev_2024",
    "clickhouse_dev_2024", "vextrus-jwt-secret-change-me-in-production",
    "insecure-dev-session", "3f9a2c7e1b8d4f6a9c0e2b4d6f8a1c3e",
)


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture
def compose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture as docker-compose.yml in a fresh working directory."""
    path = tmp_path / "docker-compose.yml"
    path.write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VEXTRUS_STATE_DIR", str(tmp_path / "state"))
    return path


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle` (the fixture decides numbers)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the fixture")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vextrus-console")
    add_common(parser)
    cli_secrets.add_parser(parser.add_subparsers(dest="command"), add_common)
    return parser.parse_args(argv)


def cli(capsys: pytest.CaptureFixture[str], *argv: str, read_only: bool = False,
        journal: Journal | None = None) -> tuple[int, str, str]:
    code = cli_secrets.run(parse(["secrets", *argv]), read_only, journal)
    out, err = capsys.readouterr()
    return code, out, err


def env_values(path: Path) -> dict[str, str]:
    return {e.key: e.value for e in parse_env(path.read_text(encoding="utf-8"))}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_no_secret(*texts: str, values: tuple[str, ...] = SECRET_VALUES) -> None:
    for text in texts:
        for value in values:
            assert value not in text, f"secret {mask_value(value)} leaked"


def collect(action: object, read_only: bool = False, journal: Journal | None = None) -> list:
    async def go() -> list:
        return [e async for e in execute(action, CancelToken(), journal, read_only)]  # type: ignore[arg-type]

    return asyncio.run(go())


# --- the vocabulary ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS", "JWT_SECRET", "GITHUB_TOKEN", "STRIPE_KEY",
    "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "PGPASSWORD", "DB_PWD", "apiKey", "password",
    "GF_SECURITY_ADMIN_PASSWORD", "db.password",
])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "POSTGRES_USER", "PWD", "POSTGRES_PASSWORD_FILE", "JWT_EXPIRES_IN", "monkey", "PASSED",
    "KEYCLOAK_URL", "password_env", "TOKEN_TTL",
])
def test_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


def test_secret_flags() -> None:
    assert all(map(is_secret_flag, ["--requirepass", "--password", "--api-key", "--masterauth"]))
    assert not any(map(is_secret_flag, ["--port", "--appendonly", "-p", "--keyfile"]))


def test_mask_shows_start_and_length_never_the_value() -> None:
    assert mask_value("vextrus_dev_2024") == "ve…(16)"
    assert mask_value("minio123") == "m…(8)"
    assert mask_value("guest") == "…(5)"


def test_entropy_flags_generated_keys_not_names() -> None:
    # Every key `secrets generate` makes is flagged (one in 200 was missed, by chance: the
    # test failed once that way); 2,000 of them would have missed about ten.
    missed = [key for key in (new_key(32) for _ in range(2000)) if not looks_random(key)]
    assert len(missed) <= 2, missed  # the old threshold missed ~10 of 2,000
    assert looks_random("3f9a2c7e1b8d4f6a9c0e2b4d6f8a1c3e")
    for text in ("KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP", "vextrus_business_service_2024",
                 "--entrypoints.websecure.address", "temporalio/auto-setup", "short1A"):
        assert not looks_random(text), text


def test_service_prefix_does_not_repeat_words() -> None:
    assert service_prefixed("temporal-postgres", "POSTGRES_PASSWORD") == \
        "TEMPORAL_POSTGRES_PASSWORD"
    assert service_prefixed("auth", "JWT_SECRET") == "AUTH_JWT_SECRET"


@pytest.mark.parametrize(("text", "kind", "secret"), [
    ("postgres://vextrus:s3cretpw@db:5432/x", "url", "s3cretpw"),
    ("redis-server --requirepass hunter22 --appendonly yes", "flag", "hunter22"),
    ("redis-cli -a hunter22 ping", "flag", "hunter22"),
    ("curl -fsu elastic:changeme http://localhost:9200", "suspect", "changeme"),
    ("curl -u elastic:hunter22 http://localhost:9200", "flag", "hunter22"),
    ("PGPASSWORD=hunter22 psql -h db", "inline", "hunter22"),
    ("${POSTGRES_PASSWORD:-postgres}", "fallback", "postgres"),
    ("mc alias set local http://minio:9000 minio minio123", "suspect", "minio123"),
])
def test_text_detectors(text: str, kind: str, secret: str) -> None:
    hits = text_hits(text, "command", "svc")
    assert [(h.kind, text[h.vstart:h.vend]) for h in hits] == [(kind, secret)]


@pytest.mark.parametrize("text", [
    "postgres://vextrus:${POSTGRES_PASSWORD}@db/x", "--requirepass ${REDIS_PASSWORD}",
    "--requirepass $$REDIS_PASSWORD", "${POSTGRES_PASSWORD}", "${POSTGRES_PASSWORD:?required}",
    "pg_isready -U vextrus -d vextrus_dev", "--api.insecure=false",
])
def test_references_and_plain_text_are_not_findings(text: str) -> None:
    assert text_hits(text, "command", "svc") == []


# --- scan ----------------------------------------------------------------------------------------


def test_scan_finds_every_secret_with_file_line_and_masked_value(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = compose.read_text()
    code, out, err = cli(capsys, "scan", str(compose))
    assert code == 1
    expected = {
        ("REDIS_PASSWORD: &redis-password redis_dev_2024", "REDIS_PASSWORD", "re…(14)"),
        ("POSTGRES_PASSWORD: vextrus_dev_2024", "POSTGRES_PASSWORD", "ve…(16)"),
        ("--requirepass redis_dev_2024", "command", "re…(14)"),
        ('"redis-cli", "-a", "redis_dev_2024"', "test", "re…(14)"),
        ("- MINIO_ROOT_PASSWORD=minio123", "MINIO_ROOT_PASSWORD", "m…(8)"),
        ("RABBITMQ_DEFAULT_PASS: 'guest'", "RABBITMQ_DEFAULT_PASS", "…(5)"),
        ("CLICKHOUSE_PASSWORD: clickhouse_dev_2024", "CLICKHOUSE_PASSWORD", "cl…(19)"),
        ("- POSTGRES_PWD=vextrus_dev_2024", "POSTGRES_PWD", "ve…(16)"),
        ("PGPASSWORD=vextrus_dev_2024 psql", "PGPASSWORD", "ve…(16)"),
        ("GF_SECURITY_ADMIN_PASSWORD: vextrus_grafana_2024", "GF_SECURITY_ADMIN_PASSWORD",
         "ve…(20)"),
        ("DATABASE_PASSWORD: vextrus_dev_2024", "DATABASE_PASSWORD", "ve…(16)"),
        ("DATABASE_URL: postgres://vextrus:vextrus_dev_2024@", "DATABASE_URL", "ve…(16)"),
        ('JWT_SECRET: "vextrus-jwt-secret', "JWT_SECRET", "ve…(42)"),
        ("SENTRY_DSN:", "SENTRY_DSN", "3f…(32)"),
        ("${SESSION_SECRET:-insecure-dev-session}", "SESSION_SECRET", "in…(20)"),
        ("amqp://vextrus:guest@rabbitmq", "RABBITMQ_URL", "…(5)"),
        ("MINIO_ACCESS_KEY: minio", "MINIO_ACCESS_KEY", "…(5)"),
        ("MINIO_SECRET_KEY: minio123", "MINIO_SECRET_KEY", "m…(8)"),
    }
    for needle, key, masked in expected:
        line = f"{compose}:{line_of(text, needle)}: {key}"
        matching = [x for x in out.splitlines() if line in x]
        assert matching, f"no finding {line}\n{out}"
        assert masked in matching[0]
    assert sum(x.startswith(f"· {compose}:") for x in out.splitlines()) == len(expected)
    assert_no_secret(out, err)


def test_scan_leaves_names_references_and_public_strings_alone(compose: Path) -> None:
    text = compose.read_text()
    lines = {f.line for f in load_compose(compose).findings}
    for needle in ("POSTGRES_USER: vextrus", "GF_SECURITY_ADMIN_USER: admin", "@sha256:",
                   "acme.email=admin@vextrus.com", "DATABASE_PASSWORD: ${DATABASE_PASSWORD}",
                   "pg_isready -U vextrus", "CACHE_PASSWORD: *redis-password",
                   "- MINIO_ROOT_USER=minio"):
        assert line_of(text, needle) not in lines, needle


def test_scan_json_is_stable_and_has_no_values(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "scan", "--json", str(compose))
    doc = json.loads(out)
    assert code == 1
    assert doc["count"] == len(doc["findings"]) == 18
    assert doc["files"] == [str(compose), "<bundled stack file>"]
    first = doc["findings"][0]
    assert set(first) == {"file", "line", "key", "service", "kind", "reason", "masked",
                          "rewritable"}
    assert sum(not f["rewritable"] for f in doc["findings"]) == 1  # SENTRY_DSN: review
    assert_no_secret(out)


def test_scan_defaults_to_the_current_directory_and_env_files(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = compose.parent / ".env"
    env.write_text(ENV_FIXTURE.read_text())
    env.chmod(0o644)
    code, out, _ = cli(capsys, "scan")
    assert code == 1
    env_lines = [x for x in out.splitlines() if x.startswith("· .env:")]
    assert any("DATABASE_PASSWORD: known default password" in x for x in env_lines)
    assert any("REDIS_PASSWORD: weak secret: 8 characters" in x for x in env_lines)
    assert any("(file mode): secrets readable by group or others (mode 0644)" in x
               for x in env_lines)
    assert not any("JWT_SECRET" in x for x in env_lines)  # strong: where it belongs
    assert_no_secret(out, values=(*SECRET_VALUES, "hunter22"))


def test_strong_env_file_with_mode_0600_is_clean(tmp_path: Path) -> None:
    text = f"POSTGRES_PASSWORD={new_key(24)}\nPOSTGRES_USER=vextrus\n"
    assert scan_env_text(text, ".env.production", 0o600) == []


def test_stack_file_with_a_literal_password_is_a_finding() -> None:
    text = ('[services.postgres]\ntier = "infrastructure"\nchecks = [{ kind = "postgres", '
            'port = 5432, password = "vextrus_dev_2024" }]\n')
    findings = scan_toml_text(text, "stack.toml")
    assert [(f.line, f.key, f.masked) for f in findings] == [(3, "password", "ve…(16)")]


def test_bundled_stack_file_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "scan")
    assert code == 0, out
    assert "✓ <bundled stack file>: no hardcoded secrets" in out


def test_scan_is_read_only(compose: Path) -> None:
    action = SecretsScan([])
    assert action.writes is False
    events = collect(SecretsScan(cli_secrets.discover([str(compose)], None)), read_only=True)
    assert events[-1].kind == "done"


# --- generate ------------------------------------------------------------------------------


def test_generate_writes_every_secret_0600(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = compose.parent / ".env.production"
    code, out, err = cli(capsys, "generate")
    assert code == 0, err
    assert mode(env) == 0o600
    values = env_values(env)
    needed = {*SEED_SECRETS, "CLICKHOUSE_PASSWORD", "SESSION_SECRET", "MINIO_ACCESS_KEY"}
    assert needed <= set(values)
    assert values["DATABASE_PASSWORD"] == values["POSTGRES_PASSWORD"]
    jwt = values["JWT_SECRET"]
    assert len(base64.urlsafe_b64decode(jwt + "=" * (-len(jwt) % 4))) >= 32
    for name in SEED_SECRETS:
        assert len(values[name]) >= 32
        assert values[name] not in SECRET_VALUES
    assert values["MINIO_ACCESS_KEY"] == "minio"  # an id issued elsewhere: carried over
    assert "values not shown; pass --reveal" in out
    assert_no_secret(out, err, values=tuple(v for v in values.values() if len(v) > 8))
    assert "ALTER ROLE vextrus" in out  # the compose file's password was in use
    assert not list(compose.parent.glob(".env.production.bak"))


def test_generate_reveal_prints_values(compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "generate", "--reveal")
    values = env_values(compose.parent / ".env.production")
    assert code == 0
    assert f"POSTGRES_PASSWORD={values['POSTGRES_PASSWORD']}" in out


def test_generate_again_keeps_every_value(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = compose.parent / ".env.production"
    cli(capsys, "generate")
    before = env.read_text()
    code, out, _ = cli(capsys, "generate")
    assert code == 0
    assert env.read_text() == before
    assert "up to date: nothing to write" in out
    assert "generated" not in out and "rotated" not in out


def test_rotate_changes_only_that_secret(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = compose.parent / ".env.production"
    cli(capsys, "generate")
    old_text, old = env.read_text(), env_values(env)
    code, out, _ = cli(capsys, "generate", "--rotate", "REDIS_PASSWORD")
    new = env_values(env)
    assert code == 0
    assert new["REDIS_PASSWORD"] != old["REDIS_PASSWORD"]
    assert {k: v for k, v in new.items() if k != "REDIS_PASSWORD"} == \
        {k: v for k, v in old.items() if k != "REDIS_PASSWORD"}
    backup = env.with_name(".env.production.bak")
    assert backup.read_text() == old_text and mode(backup) == 0o600
    assert "ALTER ROLE" not in out


def test_rotate_postgres_changes_the_pair_and_warns(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = compose.parent / ".env.production"
    cli(capsys, "generate")
    old = env_values(env)
    code, out, _ = cli(capsys, "generate", "--rotate", "POSTGRES_PASSWORD")
    new = env_values(env)
    assert code == 0
    assert new["POSTGRES_PASSWORD"] != old["POSTGRES_PASSWORD"]
    assert new["DATABASE_PASSWORD"] == new["POSTGRES_PASSWORD"]
    assert new["JWT_SECRET"] == old["JWT_SECRET"]
    warning = next(x for x in out.splitlines() if "warning: POSTGRES_PASSWORD changed" in x)
    assert "would no longer accept the new one" in warning
    assert "ALTER ROLE vextrus" in warning and "Before restarting" in warning
    assert new["POSTGRES_PASSWORD"] not in out


def test_rotate_unknown_name_is_a_usage_error(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "generate", "--rotate", "NOPE_PASSWORD")
    assert code == 2
    assert "--rotate NOPE_PASSWORD: not a secret of this stack" in err
    assert not (compose.parent / ".env.production").exists()


def test_existing_file_keeps_layout_and_gets_the_missing_keys(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = compose.parent / ".env.production"
    mine = "# ops: rotated 2025-01 by ana\nexport POSTGRES_PASSWORD='Old-pg-Passw0rd-2025'\n"
    env.write_text(mine)
    env.chmod(0o644)
    code, out, _ = cli(capsys, "generate")
    text = env.read_text()
    assert code == 0
    assert text.startswith(mine)
    values = env_values(env)
    assert values["POSTGRES_PASSWORD"] == values["DATABASE_PASSWORD"] == "Old-pg-Passw0rd-2025"
    assert mode(env) == 0o600
    backup = env.with_name(".env.production.bak")
    assert backup.read_text() == mine and mode(backup) == 0o600
    assert "ALTER ROLE" not in out  # postgres keeps the password it has


def test_adopt_moves_the_compose_values_unchanged(compose: Path) -> None:
    plan = plan_env(compose.parent / ".env.production", None, load_compose(compose), adopt=True)
    values = plan.values()
    assert values["POSTGRES_PASSWORD"] == values["DATABASE_PASSWORD"] == "vextrus_dev_2024"
    assert values["GRAFANA_ADMIN_PASSWORD"] == "vextrus_grafana_2024"
    assert values["SESSION_SECRET"] == "insecure-dev-session"
    assert any("RABBITMQ_DEFAULT_PASS is weak (a known default)" in w for w in plan.warnings)
    assert not any("ALTER ROLE" in w for w in plan.warnings)


def test_values_in_the_projects_dot_env_count_as_in_use(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (compose.parent / ".env").write_text("POSTGRES_PASSWORD=from-dot-env-0123456789\n")
    compose.write_text(compose.read_text().replace("vextrus_dev_2024", "${POSTGRES_PASSWORD}"))
    plan = SecretsGenerate(compose.parent / ".env.production", compose).prepare()
    assert any("POSTGRES_PASSWORD changed" in w for w in plan.warnings)
    adopted = SecretsGenerate(compose.parent / ".env.production", compose, adopt=True).prepare()
    assert adopted.values()["POSTGRES_PASSWORD"] == "from-dot-env-0123456789"
    assert adopted.values()["DATABASE_PASSWORD"] == "from-dot-env-0123456789"


def test_generate_events_never_carry_values(compose: Path) -> None:
    env = compose.parent / ".env.production"
    action = SecretsGenerate(env, compose)
    plan = action.prepare()
    events = collect(action)
    blob = repr(events) + repr(action.plan()) + repr(plan)
    assert_no_secret(blob, values=tuple(v for v in plan.values().values() if len(v) > 8))
    assert events[-1].kind == "done"


def test_generate_dry_run_writes_nothing(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "generate", "--dry-run")
    assert code == 0
    assert "plan: secrets-generate" in out and "write .env.production atomically" in out
    assert not (compose.parent / ".env.production").exists()


# --- apply ---------------------------------------------------------------------------------


def generated(compose: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert cli(capsys, "generate")[0] == 0
    return env_values(compose.parent / ".env.production")


def test_apply_rewrites_secrets_and_nothing_else(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generated(compose, capsys)
    original = compose.read_text()
    code, out, err = cli(capsys, "apply", "--yes")
    assert code == 0, err
    new = compose.read_text()
    changed = {line_of(original, n) for n in (
        "REDIS_PASSWORD: &redis-password", "POSTGRES_PASSWORD: vextrus_dev_2024",
        "--requirepass redis_dev_2024", '"-a", "redis_dev_2024"', "MINIO_ROOT_PASSWORD=minio123",
        "RABBITMQ_DEFAULT_PASS: 'guest'", "CLICKHOUSE_PASSWORD", "POSTGRES_PWD=",
        "PGPASSWORD=", "GF_SECURITY_ADMIN_PASSWORD:", "DATABASE_PASSWORD: vextrus_dev_2024",
        "DATABASE_URL:", "JWT_SECRET:", "SESSION_SECRET:", "RABBITMQ_URL:", "MINIO_ACCESS_KEY:",
        "MINIO_SECRET_KEY:")}
    old_lines, new_lines = original.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        assert (a != b) == (number in changed), f"line {number}: {a!r} -> {b!r}"
    assert_no_secret(new, values=SECRET_VALUES[:-1])  # SENTRY_DSN stays for review
    expected_lines = [
        "  REDIS_PASSWORD: &redis-password ${REDIS_PASSWORD}   # same as --requirepass below",
        "        POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}      # TODO(seed 002): move to "
        ".env.production",
        "    command: redis-server --requirepass ${REDIS_PASSWORD} --appendonly yes",
        '      test: ["CMD", "redis-cli", "-a", "${REDIS_PASSWORD}", "ping"]',
        "     - MINIO_ROOT_PASSWORD=${MINIO_ROOT_PASSWORD}",
        "      RABBITMQ_DEFAULT_PASS: '${RABBITMQ_DEFAULT_PASS}'",
        '    environment: { CLICKHOUSE_USER: signoz, '
        'CLICKHOUSE_PASSWORD: "${CLICKHOUSE_PASSWORD}" }',
        "      DATABASE_URL: postgres://vextrus:${POSTGRES_PASSWORD}@postgres:5432/vextrus_dev"
        "?schema=auth",
        '      JWT_SECRET: "${JWT_SECRET}"',
        "      SESSION_SECRET: ${SESSION_SECRET}",
        "      MINIO_SECRET_KEY: ${MINIO_ROOT_PASSWORD}",
    ]
    for line in expected_lines:
        assert line in new_lines, line
    data = yaml.safe_load(new)
    assert data["services"]["auth"]["environment"]["REDIS_PASSWORD"] == "${REDIS_PASSWORD}"
    assert data["services"]["master-data"]["environment"]["CACHE_PASSWORD"] == "${REDIS_PASSWORD}"
    backup = compose.with_name("docker-compose.yml.bak")
    assert backup.read_text() == original
    assert "--- " in out and "+++ " in out and "@@" in out  # the diff was shown
    assert "-        POSTGRES_PASSWORD: ve…(16)" in out
    assert_no_secret(out, err)
    assert "docker compose --env-file .env.production up -d" in out


def test_apply_is_idempotent(compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generated(compose, capsys)
    assert cli(capsys, "apply", "--yes")[0] == 0
    after = compose.read_bytes()
    backup = compose.with_name("docker-compose.yml.bak").read_bytes()
    code, out, _ = cli(capsys, "apply", "--yes")
    assert code == 0
    assert "no changes:" in out and "@@" not in out
    assert compose.read_bytes() == after
    assert compose.with_name("docker-compose.yml.bak").read_bytes() == backup
    remaining = [f for f in load_compose(compose).findings if f.rewritable]
    assert remaining == []


def test_generate_and_apply_agree_on_every_variable(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = generated(compose, capsys)
    cli(capsys, "apply", "--yes")
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", compose.read_text()))
    assert used <= set(values)
    # Places that shared a password still share one variable.
    groups = {a.variable: {f.key for f in a.findings}
              for a in assign_variables(load_compose(Path(FIXTURE)).findings)}
    assert groups["POSTGRES_PASSWORD"] == {"POSTGRES_PASSWORD", "POSTGRES_PWD", "PGPASSWORD",
                                           "DATABASE_PASSWORD", "DATABASE_URL"}
    assert groups["REDIS_PASSWORD"] == {"REDIS_PASSWORD", "command", "test"}
    assert groups["MINIO_ROOT_PASSWORD"] == {"MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY"}


def test_apply_without_a_terminal_refuses(
        compose: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    generated(compose, capsys)
    original = compose.read_text()
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    code, out, err = cli(capsys, "apply")
    assert code == 2
    assert "@@" in out  # the diff is still shown
    assert err.strip().count("\n") == 0
    assert "stdin is not a terminal; pass --yes" in err
    assert compose.read_text() == original


@pytest.mark.parametrize(("answer", "applied"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_apply_asks_on_a_terminal(compose: Path, capsys: pytest.CaptureFixture[str],
                                  answer: str, applied: bool) -> None:
    generated(compose, capsys)
    original = compose.read_text()
    controller, terminal = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.secrets", "secrets", "apply"],
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=compose.parent, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(terminal)
    os.write(controller, answer.encode())
    _, err = proc.communicate(timeout=60)
    os.close(controller)
    assert b"[y/N]" in err
    assert proc.returncode == (0 if applied else 2), err
    assert (compose.read_text() != original) == applied


def test_apply_needs_the_env_file_first(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = compose.read_text()
    code, _, err = cli(capsys, "apply", "--yes")
    assert code == 2
    assert ".env.production: no value for REDIS_PASSWORD, POSTGRES_PASSWORD" in err
    assert "secrets generate" in err
    assert compose.read_text() == original


def test_apply_dry_run_and_reveal(compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generated(compose, capsys)
    original = compose.read_text()
    code, out, _ = cli(capsys, "apply", "--dry-run", "--reveal")
    assert code == 0
    assert "-        POSTGRES_PASSWORD: vextrus_dev_2024" in out
    assert compose.read_text() == original
    code, out, _ = cli(capsys, "apply", "--dry-run")
    assert "-     - MINIO_ROOT_PASSWORD=m…(8)" in out
    assert "      - MINIO_ROOT_USER=minio\n" in out  # a user name that equals a secret stays


# --- precision on real compose files (issue 13) ----------------------------------------------

CORPUS = ROOT / "tests" / "data" / "compose_corpus"
# The hand count (see compose_corpus/SOURCE.md): every finding the scanner reports on the
# corpus, as (file, line, key) -> True for a hardcoded secret, False for a false alarm. A
# finding not listed here fails the test until someone judges it and adds it.
CORPUS_VERDICTS: dict[tuple[str, int, str], bool] = {
    ("airflow-docker-compose.yaml", 57, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"): True,
    ("airflow-docker-compose.yaml", 58, "AIRFLOW__CELERY__RESULT_BACKEND"): True,
    ("airflow-docker-compose.yaml", 90, "POSTGRES_PASSWORD"): True,
    ("airflow-docker-compose.yaml", 241, "_AIRFLOW_WWW_USER_PASSWORD"): True,
    ("awesome-compose-bunkerweb-mariadb.yaml", 7, "DATABASE_URI"): True,
    ("awesome-compose-bunkerweb-mariadb.yaml", 57, "MYSQL_PASSWORD"): True,
    ("awesome-compose-gitea-postgres.yaml", 9, "DB_PASSWD"): True,
    ("awesome-compose-gitea-postgres.yaml", 19, "POSTGRES_PASSWORD"): True,
    ("awesome-compose-graylog.yaml", 57, "GRAYLOG_PASSWORD_SECRET"): True,
    ("awesome-compose-graylog.yaml", 59, "GRAYLOG_ROOT_PASSWORD_SHA2"): True,
    ("awesome-compose-nextcloud-redis-mariadb.yaml", 17, "MYSQL_PASSWORD"): True,
    ("awesome-compose-nextcloud-redis-mariadb.yaml", 34, "MYSQL_ROOT_PASSWORD"): True,
    ("awesome-compose-nextcloud-redis-mariadb.yaml", 35, "MYSQL_PASSWORD"): True,
    ("awesome-compose-nginx-golang-postgres-rabbitmq.yaml", 44, "RABBITMQ_DEFAULT_PASS"): True,
    ("awesome-compose-odoo-postgres.yaml", 26, "POSTGRES_PASSWORD"): True,
    ("temporal-docker-compose-postgres.yml", 6, "POSTGRES_PASSWORD"): True,
    ("temporal-docker-compose-postgres.yml", 23, "POSTGRES_PWD"): True,
    ("temporal-docker-compose.yml", 23, "POSTGRES_PASSWORD"): True,
    ("temporal-docker-compose.yml", 41, "POSTGRES_PWD"): True,
}


def test_corpus_precision_on_real_compose_files() -> None:
    """At least 90% of the findings on 14 public compose files are real secrets, and every
    secret the hand count found is still found (Temporal's `temporal` password used to be
    reported in every name, host and path that contains the word)."""
    files = sorted(CORPUS.glob("*.y*ml"))
    assert len(files) >= 10
    found = {(path.name, f.line, f.key)
             for path in files for f in load_compose(path).findings}
    unjudged = found - CORPUS_VERDICTS.keys()
    assert not unjudged, f"judge these findings and add them to CORPUS_VERDICTS: {unjudged}"
    true = sum(CORPUS_VERDICTS[k] for k in found)
    assert true / len(found) >= 0.9
    missed = {k for k, real in CORPUS_VERDICTS.items() if real} - found
    assert not missed, missed


@pytest.mark.parametrize(("text", "names"), [
    ("container_name: temporal\n", []), ("networks: [temporal-network]\n", []),
    ("environment: [TEMPORAL_ADDRESS=temporal:7233]\n", []),
    ("volumes: [./dc:/etc/temporal/config]\n", []), ("environment: [POSTGRES_USER=temporal]\n", []),
    ("command: pg_isready -U temporal\n", []), ("depends_on: [temporal]\n", []),
    ("command: psql --password temporal\n", ["command"]),
    ("environment: [PGRST_SECRET_COPY=temporal]\n", ["POSTGRES_PASSWORD"]),
    ("environment: {OTHER_SETTING: temporal}\n", ["POSTGRES_PASSWORD"]),
    ("command: [run, --with, temporal]\n", ["POSTGRES_PASSWORD"]),
])
def test_a_repeated_secret_counts_only_as_a_whole_value(text: str, names: list[str]) -> None:
    head = "services:\n  db:\n    environment: {POSTGRES_PASSWORD: temporal}\n  app:\n    "
    findings = scan_compose_text(head + text, "c.yml").findings
    assert [f.key for f in findings if f.line == 5] == names


def test_the_linear_diff_is_difflibs_diff() -> None:
    """apply's diff of a rewrite (same line count) is difflib's output, made in one pass."""
    import difflib
    import random

    from actions.secrets.apply import same_length_diff

    rng = random.Random(12)
    for _ in range(500):
        old = [f"line {i}\n" for i in range(rng.randint(1, 80))]
        share = rng.choice([0.05, 0.2, 0.5, 0.9])
        new = [x.upper() if rng.random() < share else x for x in old]
        assert same_length_diff(old, new, "a", "b") == list(
            difflib.unified_diff(old, new, fromfile="a", tofile="b"))


# --- secrets at rest ---------------------------------------------------------------------------


def test_apply_backup_is_0600_and_scan_names_it(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The backup keeps every plaintext secret: 0600 (the file was 0644), and the scan of the
    directory reports it under its own name instead of skipping it."""
    compose.chmod(0o644)
    generated(compose, capsys)
    assert cli(capsys, "apply", "--yes")[0] == 0
    backup = compose.parent / "docker-compose.yml.bak"
    assert mode(backup) == 0o600 and mode(compose) == 0o644
    code, out, err = cli(capsys, "scan")
    assert code == 1
    in_backup = [x for x in out.splitlines() if x.startswith("· docker-compose.yml.bak:")]
    assert any("POSTGRES_PASSWORD" in x for x in in_backup)
    assert not any("(file mode)" in x for x in in_backup)  # 0600: no one else can read it
    assert_no_secret(out, err)
    backup.chmod(0o644)  # as an older version left it
    _, out, _ = cli(capsys, "scan", "docker-compose.yml")  # a named file brings its copies
    assert any(x.startswith("· docker-compose.yml.bak:1: (file mode): a copy with secrets "
                            "readable by group or others (mode 0644)") for x in out.splitlines())


def test_leftover_temporaries_are_scanned_then_cleaned_up(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A write killed before its rename leaves `.NAME.<hex>.tmp` with the secrets in it,
    possibly cut short: the scan names it, the next write of NAME deletes it."""
    leftover = compose.parent / ".docker-compose.yml.0123456789ab.tmp"
    leftover.write_text(compose.read_text()[:700])  # cut in the middle: not valid YAML
    leftover.chmod(0o644)
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    _, out, _ = cli(capsys, "scan")
    assert any(x.startswith(f"· {leftover.name}:") and "REDIS_PASSWORD" in x
               for x in out.splitlines()), out
    assert any(x.startswith(f"· {leftover.name}:1: (file mode)") for x in out.splitlines())
    generated(compose, capsys)
    assert cli(capsys, "apply", "--yes")[0] == 0
    assert not leftover.exists()
    assert not list(compose.parent.glob(".*.tmp"))


def test_temporary_files_are_created_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before it gets its final mode the temporary copy is 0600 (it may hold secrets)."""
    import console.fileio as fileio

    seen: list[int] = []
    real_chmod = os.chmod

    def spy(path: object, mode_: int, **kw: object) -> None:
        seen.append(stat.S_IMODE(os.stat(path).st_mode))  # type: ignore[arg-type]
        real_chmod(path, mode_, **kw)  # type: ignore[arg-type]

    target = tmp_path / "compose.yml"
    target.write_text("services: {}\n")
    target.chmod(0o644)
    monkeypatch.setattr(fileio.os, "chmod", spy)
    write_text_atomic(target, "services: {a: {}}\n", mode=0o644, backup=True)
    assert seen and all(m == 0o600 for m in seen)
    assert mode(target) == 0o644


FOLDED = """\
services:
  db:
    image: postgres
    environment:
      POSTGRES_PASSWORD: hunter2-is-long
      SHORT_PASSWORD: >-
        Qz7
      QUOTED_SECRET: "Wk\\x39!"
      LITERAL_TOKEN: |
        Jp4
    command: >
      redis-server
      --requirepass Yx5
"""


def test_dry_run_diff_masks_every_secret_whatever_its_length_or_style(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compose.write_text(FOLDED)
    generated(compose, capsys)
    code, out, _ = cli(capsys, "apply", "--dry-run")
    assert code == 0
    assert "-      POSTGRES_PASSWORD: hu…(15)" in out  # the diff is there
    for value in ("hunter2-is-long", "Qz7", "Wk\\x39!", "Wk9!", "Jp4", "Yx5"):
        assert value not in out, value
    assert "        …(3)\n" in out  # the folded line, masked in place


def test_writing_where_no_file_can_be_is_one_line(tmp_path: Path) -> None:
    from console.fileio import PathError

    with pytest.raises(PathError, match=f"{tmp_path / 'missing'}.* does not exist"):
        write_text_atomic(tmp_path / "missing" / "x.toml", "x")
    with pytest.raises(PathError, match="is a directory"):
        write_text_atomic(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []  # no temporary left behind


def test_apply_emits_a_kubernetes_secret(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = generated(compose, capsys)
    code, out, err = cli(capsys, "apply", "--yes", "--emit", "k8s", "--namespace", "vextrus")
    assert code == 0, err
    manifest = compose.parent / "vextrus-secrets.k8s.yaml"
    assert mode(manifest) == 0o600
    doc = yaml.safe_load(manifest.read_text())
    assert (doc["apiVersion"], doc["kind"], doc["type"]) == ("v1", "Secret", "Opaque")
    assert doc["metadata"]["name"] == "vextrus-secrets"
    assert doc["metadata"]["namespace"] == "vextrus"
    decoded = {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}
    assert decoded == values
    assert_no_secret(out, values=tuple(v for v in values.values() if len(v) > 8))


def test_apply_emits_docker_secret_files(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = generated(compose, capsys)
    code, out, _ = cli(capsys, "apply", "--yes", "--emit", "docker-secrets")
    directory = compose.parent / "secrets"
    assert code == 0
    assert mode(directory) == 0o700
    assert (directory / "jwt_secret").read_text() == values["JWT_SECRET"]
    assert mode(directory / "jwt_secret") == 0o600
    assert "    file: ./secrets/postgres_password" in out


def test_bad_kubernetes_name_is_a_usage_error(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "apply", "--yes", "--emit", "k8s", "--secret-name", "Bad_Name")
    assert code == 2
    assert "--secret-name 'Bad_Name': not a valid Kubernetes name" in err


def test_rewrite_check_refuses_any_other_change() -> None:
    old = "services:\n  a:\n    environment:\n      X_PASSWORD: abc\n      Y: 1\n"
    scan = scan_compose_text(old, "c.yml")
    start = scan.findings[0].edit.node_start  # type: ignore[union-attr]
    verify_rewrite(old, old.replace("abc", "${X_PASSWORD}"), {start: "${X_PASSWORD}"}, "c.yml")
    with pytest.raises(RewriteError, match="the value at line 5"):
        verify_rewrite(old, old.replace("abc", "${X_PASSWORD}").replace("Y: 1", "Y: 2"),
                       {start: "${X_PASSWORD}"}, "c.yml")


def test_escaped_or_multiline_secrets_are_left_for_review(tmp_path: Path) -> None:
    text = ('services:\n  a:\n    environment:\n      A_PASSWORD: "esc\\u0061ped"\n'
            "      B_PASSWORD: >\n        folded\n        value\n")
    findings = scan_compose_text(text, "c.yml").findings
    assert [(f.key, f.rewritable) for f in findings] == [("A_PASSWORD", False),
                                                         ("B_PASSWORD", False)]


def test_k8s_manifest_renders_base64() -> None:
    doc = yaml.safe_load(render_k8s_secret({"A_PASSWORD": "p@ss"}, "n", None))
    assert doc["data"] == {"A_PASSWORD": base64.b64encode(b"p@ss").decode()}
    assert "namespace" not in doc["metadata"]


def test_apply_events_and_journal_never_carry_values(compose: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    generated(compose, capsys)
    journal = Journal(tmp_path / "j.sqlite3")
    action = SecretsApply(compose, compose.parent / ".env.production")
    events = collect(action, journal=journal)
    blob = repr(events) + repr(action.plan()) + repr(action.prepare())
    assert_no_secret(blob, *(e.text for e in journal.timeline()))
    assert any("secrets-apply finished: ok" in e.text for e in journal.timeline())


# --- read-only mode -----------------------------------------------------------------------------


def test_read_only_refuses_generate_and_apply(
        compose: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = compose.read_text()
    code, _, err = cli(capsys, "generate", read_only=True)
    assert code == 2 and "secrets-generate: refused in read-only mode" in err
    assert not (compose.parent / ".env.production").exists()
    (compose.parent / ".env.production").write_text(ENV_FIXTURE.read_text())
    code, _, err = cli(capsys, "apply", "--yes", read_only=True)
    assert code == 2 and "secrets-apply: refused in read-only mode" in err
    assert compose.read_text() == original
    assert cli(capsys, "scan", read_only=True)[0] == 1  # reading is fine
    with pytest.raises(ReadOnlyRefused):
        collect(SecretsGenerate(compose.parent / ".env.x", compose), read_only=True)


# --- invalid input ------------------------------------------------------------------------------


def one_line_error(err: str, name: str) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert name in err


@pytest.mark.parametrize("argv", [
    ["scan", "missing.yml"], ["generate", "--compose", "missing.yml"],
    ["apply", "--compose", "missing.yml"],
])
def test_missing_file_is_a_one_line_error(compose: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str]) -> None:
    code, _, err = cli(capsys, *argv)
    assert code == 2
    one_line_error(err, "missing.yml: file not found")


@pytest.mark.parametrize(("content", "problem"), [
    ("services:\n  a: [unclosed\n", "broken.yml:3: not valid YAML"),
    ("- just\n- a list\n", "broken.yml: not a compose file"),
    ("version: '3'\n", "broken.yml: not a compose file: no `services:`"),
    ("services:\n\tbad: tab\n", "broken.yml:2: not valid YAML"),
])
@pytest.mark.parametrize("command", ["scan", "generate", "apply"])
def test_invalid_compose_is_a_one_line_error(
        compose: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str,
        command: str) -> None:
    broken = compose.parent / "broken.yml"
    broken.write_text(content)
    argv = [command, str(broken)] if command == "scan" else [command, "--compose", str(broken)]
    code, _, err = cli(capsys, *argv)
    assert code == 2
    one_line_error(err, problem)


def alias_bomb(where: str) -> str:
    """Nine levels of nine aliases: 387 million list items once expanded, 1 KB of YAML."""
    lines = ['x-a: &a ["A=1", "A=1", "A=1", "A=1", "A=1", "A=1", "A=1", "A=1", "A=1"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"x-{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return "\n".join(lines) + f"\nservices:\n  web:\n    image: busybox\n    {where}: *i\n"


@pytest.mark.parametrize(("content", "problem"), [
    (alias_bomb("environment"), "bomb.yml:7: refused: aliases expand to more than 1,000,000"),
    (alias_bomb("depends_on"), "bomb.yml:7: refused: aliases expand to more than 1,000,000"),
    ("services:\n  a:\n    environment:\n" + "".join(
        "      " + "  " * i + "k:\n" for i in range(5000)),
     "bomb.yml:100: refused: nested deeper than 100 levels"),
    ("services:\n  a:\n    command: " + "[" * 5000 + "]" * 5000 + "\n",
     "bomb.yml:3: refused: nested deeper than 100 levels"),
    ("x-loop: &loop [*loop]\nservices:\n  a:\n    command: *loop\n",
     "bomb.yml:1: refused: an alias refers to a node that contains it"),
], ids=["bomb-environment", "bomb-depends_on", "deep-block", "deep-flow", "recursive"])
@pytest.mark.parametrize("command", ["scan", "generate", "apply"])
def test_hostile_yaml_is_refused_in_one_line(
        compose: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str,
        command: str) -> None:
    """An alias bomb ran past 60 s and 1.2 GB; 5000-deep nesting was a RecursionError."""
    bomb = compose.parent / "bomb.yml"
    bomb.write_text(content)
    argv = [command, str(bomb)] if command == "scan" else [
        command, "--compose", str(bomb), "--dry-run"]
    code, out, err = cli(capsys, *argv)
    assert code == 2
    one_line_error(err, problem)
    assert "Traceback" not in out + err


@pytest.mark.parametrize("value", [
    "a" * 200_000 + " postgres://u:hunter22@db/x",  # a long word, then a URL
    "${A_PASSWORD:-x " * 20_000, "redis-cli " * 20_000, "curl " * 20_000,
    "--password " * 20_000, "A=" * 50_000, "Ab1" * 100_000,
], ids=["word-then-url", "open-fallbacks", "redis-cli", "curl", "flags", "inline", "token"])
def test_one_huge_scalar_is_scanned_in_linear_time(value: str) -> None:
    """Each detector looks a bounded distance ahead of each starting point (the URL pattern
    once tried every letter of a 20 KB word as a scheme: 22 s). A quadratic detector would
    keep this test running for hours; it ends in seconds."""
    text = "services:\n  a:\n    command: '" + value.replace("'", "''") + "'\n"
    findings = scan_compose_text(text, "big.yml").findings
    assert all(f.line == 3 for f in findings)


def test_huge_env_and_stack_file_lines_are_scanned_in_linear_time() -> None:
    """`.*?\\s*$` on a line of blanks and a backtracking TOML key were quadratic."""
    env = "A_PASSWORD=x" + " " * 200_000 + "y # comment\n"
    assert parse_env(env)[0].value == "x" + " " * 200_000 + "y"
    assert scan_env_text(env, ".env", 0o600) == []  # long: not weak; 0600: not readable
    toml = "a" * 200_000 + " = 1\n" + 'x = "' + "b" * 200_000 + '"\n'
    assert scan_toml_text(toml, "stack.toml") == []


def test_anchors_and_merge_keys_within_the_limits_still_load(tmp_path: Path) -> None:
    common = "x-env: &env\n  LOG_LEVEL: info\n  API_TOKEN: Zx81kQm2Lp0aVb7Rt5Yw\n"
    services = "".join(f"  s{i}:\n    environment:\n      <<: *env\n" for i in range(2000))
    scan = scan_compose_text(common + "services:\n" + services, "anchors.yml")
    assert [(f.line, f.key) for f in scan.findings] == [(3, "API_TOKEN")]  # found once


def test_ten_thousand_services_scan_in_one_pass() -> None:
    """10,000 services, each with its own password and a reuse of it in a command."""
    lines = ["services:"]
    for i in range(10_000):
        pw = f"pw{i:05d}-Xq7"
        lines += [f"  s{i}:", f"    environment: {{S{i}_PASSWORD: {pw}}}",
                  f"    command: run --db {pw}"]
    findings = scan_compose_text("\n".join(lines) + "\n", "big.yml").findings
    assert len(findings) == 20_000
    assert {f.kind for f in findings} == {"literal", "reuse"}
    assert (findings[-1].line, findings[-1].kind) == (30_001, "reuse")


def test_no_compose_file_in_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "apply", "--yes")
    assert code == 2
    one_line_error(err, "no compose file")


def test_symlinked_env_file_is_refused(compose: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere.env"
    elsewhere.write_text("KEEP=me\n")
    (compose.parent / ".env.production").symlink_to(elsewhere)
    code, _, err = cli(capsys, "generate")
    assert code == 2
    one_line_error(err, ".env.production: refusing to write through a symbolic link")
    assert elsewhere.read_text() == "KEEP=me\n"
    assert (compose.parent / ".env.production").is_symlink()


def test_symlinked_compose_file_is_refused(compose: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    generated(compose, capsys)
    link = tmp_path / "linked.yml"
    link.symlink_to(compose)
    original = compose.read_text()
    code, _, err = cli(capsys, "apply", "--yes", "--compose", str(link))
    assert code == 2
    one_line_error(err, "linked.yml: refusing to rewrite a symbolic link")
    assert compose.read_text() == original


def test_write_text_atomic_refuses_symlinks_and_backup_links(tmp_path: Path) -> None:
    target, link = tmp_path / "t", tmp_path / "l"
    target.write_text("old")
    link.symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        write_text_atomic(link, "new")
    # A planted .bak symlink is replaced, never written through.
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (tmp_path / "t.bak").symlink_to(victim)
    write_text_atomic(target, "new", mode=0o600, backup=True, backup_mode=0o600)
    assert victim.read_text() == "untouched"
    assert (tmp_path / "t.bak").read_text() == "old"
    assert not (tmp_path / "t.bak").is_symlink()
    assert mode(tmp_path / "t.bak") == 0o600


# --- crash safety: SIGKILL during the write ------------------------------------------------------

KILL_SCRIPT = r"""
import os, re, sys, time
from pathlib import Path
from console import fileio

target, point = Path(sys.argv[1]), sys.argv[2]
payload = sys.stdin.read()
real_fsync, real_replace, real_fdopen = os.fsync, os.replace, os.fdopen
# The target's temporary file, not the backup's (.NAME.bak.<hex>.tmp).
temp_name = re.compile(r"\." + re.escape(target.name) + r"\.[0-9a-f]+\.tmp")

def is_target_temp(fd):
    return bool(temp_name.fullmatch(Path(os.readlink(f"/proc/self/fd/{fd}")).name))

def pause(name):
    if name == point:
        print("AT " + name, flush=True)
        time.sleep(60)

class HalfThenPause:
    # Writes half the data, then pauses: a kill here leaves a half-written temp file.
    def __init__(self, handle):
        self.handle = handle
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)
    def write(self, data):
        half = len(data) // 2
        self.handle.write(data[:half])
        self.handle.flush()
        pause("mid-write")
        return self.handle.write(data[half:])
    def __getattr__(self, name):
        return getattr(self.handle, name)

def fdopen(fd, *args, **kwargs):
    handle = real_fdopen(fd, *args, **kwargs)
    return HalfThenPause(handle) if is_target_temp(fd) else handle

def fsync(fd):
    if is_target_temp(fd):
        pause("before-fsync")
    real_fsync(fd)

def replace(src, dst):
    if Path(dst) == target:
        pause("before-rename")
        real_replace(src, dst)
        pause("after-rename")
    else:
        real_replace(src, dst)

os.fdopen, os.fsync, os.replace = fdopen, fsync, replace
print("START", flush=True)
fileio.write_text_atomic(target, payload, mode=0o600, backup=True, backup_mode=0o600)
print("DONE", flush=True)
time.sleep(60)
"""


def _old_and_new(tmp_path: Path) -> tuple[Path, str, str]:
    target = tmp_path / ".env.production"
    old = "".join(f"OLD_{i}_PASSWORD=old-value-{i:07d}\n" for i in range(200_000))
    new = "".join(f"NEW_{i}_PASSWORD=new-value-{i:07d}\n" for i in range(300_000))
    target.write_text(old)
    target.chmod(0o600)
    return target, old, new


def _spawn(target: Path, point: str, payload: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(target), point],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdin is not None
    proc.stdin.write(payload)
    proc.stdin.close()
    return proc


def _assert_whole(target: Path, old: str, new: str) -> str:
    content = target.read_text()
    assert content in (old, new), "the target is neither the old nor the new file"
    assert mode(target) == 0o600
    return "old" if content == old else "new"


@pytest.mark.parametrize(("point", "expected"), [
    ("mid-write", "old"), ("before-fsync", "old"), ("before-rename", "old"),
    ("after-rename", "new"),
])
def test_sigkill_at_each_step_leaves_the_old_or_the_new_file_whole(
        tmp_path: Path, point: str, expected: str) -> None:
    """Killed at a known step of the target's write (after its backup is complete).

    A killed writer cannot clean up, so its temporary file (`.NAME.<hex>.tmp`, in the same
    directory, mode 0600 like the target) may linger until removed by hand; the target is
    always whole, and the backup is the old file.
    """
    target, old, new = _old_and_new(tmp_path)
    proc = _spawn(target, point, new)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "START\n"
    assert proc.stdout.readline() == f"AT {point}\n"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _assert_whole(target, old, new) == expected
    assert target.with_name(target.name + ".bak").read_text() == old
    lingering = list(tmp_path.glob(".*.tmp"))
    assert len(lingering) == (1 if expected == "old" else 0)
    assert all(mode(t) == 0o600 for t in lingering)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
def test_sigkill_at_random_moments_leaves_the_file_whole(tmp_path: Path, delay: float) -> None:
    target, old, new = _old_and_new(tmp_path)
    proc = _spawn(target, "never", new)
    assert proc.stdout is not None
    proc.stdout.readline()  # START: the payload is read, the write begins
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _assert_whole(target, old, new)
    backup = target.with_name(target.name + ".bak")
    if backup.exists():
        assert backup.read_text() == old


# --- what `secrets scan` reads, and how it names what it cannot read --------------------


def test_files_are_read_or_refused_in_one_line_naming_them(tmp_path: Path) -> None:
    from actions.secrets.scan import SecretsError, read_text_file

    good = tmp_path / "compose.yml"
    good.write_text("services: {}\n")
    assert read_text_file(good) == "services: {}\n"
    with pytest.raises(SecretsError, match=r"^.*compose-missing\.yml: file not found$"):
        read_text_file(tmp_path / "compose-missing.yml")
    with pytest.raises(SecretsError, match=r": is a directory, not a file$"):
        read_text_file(tmp_path)
    latin = tmp_path / "latin.env"
    latin.write_bytes(b"PASSWORD=caf\xe9\n")
    with pytest.raises(SecretsError, match=r"latin\.env: not UTF-8 text$"):
        read_text_file(latin)


def test_kinds_and_copies_by_name() -> None:
    from actions.secrets.scan import classify, copy_of

    assert [classify(Path(n)) for n in ("stack.toml", ".env", ".env.production", "prod.env",
                                        "compose.yml", "docker-compose.override.yaml")] == [
        "toml", "env", "env", "env", "compose", "compose"]
    assert copy_of("docker-compose.yml.bak") == "docker-compose.yml"
    assert copy_of("..env.0123456789ab.tmp") == ".env"  # `.x.<hex>.tmp` is a temporary of x
    assert copy_of(".compose.yml.0123456789ab.tmp") == "compose.yml"
    assert copy_of(".bak") is None
    assert copy_of("compose.yml") is None
    assert copy_of(".compose.yml.xyz.tmp") is None  # not the console's temporary


def test_a_directory_yields_compose_env_files_and_their_copies(tmp_path: Path) -> None:
    from actions.secrets.scan import discover

    for name in ("compose.yml", "compose.yml.bak", ".env", "notes.txt", "docker-compose.ci.yml"):
        (tmp_path / name).write_text("x: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.env").symlink_to(tmp_path / ".env")
    targets = discover([str(tmp_path)], None)
    named = {Path(t.label).name: (t.kind, t.copy) for t in targets if t.path is not None}
    assert named == {"compose.yml": ("compose", False), "compose.yml.bak": ("compose", True),
                     ".env": ("env", False), "docker-compose.ci.yml": ("compose", False)}
    assert targets[-1].label == "<bundled stack file>"


def test_a_named_file_brings_its_copies_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    from actions.secrets.scan import SecretsError, discover

    compose = tmp_path / "compose.yml"
    compose.write_text("services: {}\n")
    (tmp_path / "compose.yml.bak").write_text("services: {}\n")
    (tmp_path / ".compose.yml.0123456789ab.tmp").write_text("services: {}\n")
    (tmp_path / "other.yml.bak").write_text("x\n")
    labels = [Path(t.label).name for t in discover([str(compose)], None) if t.path]
    assert labels == ["compose.yml", ".compose.yml.0123456789ab.tmp", "compose.yml.bak"]
    with pytest.raises(SecretsError, match=r"nowhere\.yml: file not found"):
        discover([str(tmp_path / "nowhere.yml")], None)
    with pytest.raises(SecretsError, match=r"nostack\.toml: file not found"):
        discover([str(compose)], str(tmp_path / "nostack.toml"))


def test_a_copy_cut_short_is_still_scanned_line_by_line(tmp_path: Path) -> None:
    """A `.bak` left by a crash mid-write is not valid YAML but holds the secrets: it is
    read line by line; the original file in the same state is an error, not a guess."""
    from actions.secrets.scan import ScanTarget, SecretsError, scan_target

    cut = "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: Xq7!vLm2pR9\n  web: [\n"
    copy = tmp_path / "compose.yml.bak"
    copy.write_text(cut)
    copy.chmod(0o644)
    found = scan_target(ScanTarget(str(copy), "compose", copy, copy=True))
    assert [(f.line, f.key) for f in found][:1] == [(4, "POSTGRES_PASSWORD")]
    assert found[-1].kind == "mode" and "(mode 0644)" in found[-1].reason
    copy.chmod(0o600)
    assert not [f for f in scan_target(ScanTarget(str(copy), "compose", copy, copy=True))
                if f.kind == "mode"]
    original = tmp_path / "compose.yml"
    original.write_text(cut)
    with pytest.raises(SecretsError):
        scan_target(ScanTarget(str(original), "compose", original))


def test_environment_items_without_a_value_pass_through() -> None:
    text = ("services:\n  api:\n    environment:\n      - JWT_SECRET\n"
            "      - DB_PASSWORD=Zr8#kWq3nL5\n")
    found = scan_compose_text(text, "c.yml").findings
    assert [(f.line, f.key) for f in found] == [(5, "DB_PASSWORD")]


def test_image_digests_are_not_generated_keys_but_random_tokens_are() -> None:
    import secrets as random_source

    def findings(value: str) -> list[str]:
        text = f"services:\n  api:\n    environment:\n      BASE_IMAGE: \"{value}\"\n"
        return [f.kind for f in scan_compose_text(text, "c.yml").findings]

    assert findings(f"registry/app@sha256:{random_source.token_hex(32)}") == []
    assert findings("Zx8Qp2Lm7Vn4Rt6Yw1Ks9Hd3Fg5Jc0Ab") == ["entropy"]


def test_a_stack_file_nested_too_deep_is_refused_naming_the_line() -> None:
    from actions.secrets.scan import SecretsError

    deep = "x = 1\ny = " + "[" * 2000 + "]" * 2000 + "\n"
    with pytest.raises(SecretsError, match=r"^s\.toml:2: refused: arrays or inline tables"):
        scan_toml_text(deep, "s.toml")
    with pytest.raises(SecretsError, match=r"^s\.toml: not valid TOML"):
        scan_toml_text("a = [\n", "s.toml")
