""".env files under `secrets scan`, and the finding details the operator reads.

Guards how an env file is read (quotes, escapes, comments, `export`, line numbers), which of
its values count as weak or default secrets, the file-mode finding, and the parts of a
compose finding the operator sees or `apply` relies on: the `(service x)` in its line, the
reasons of fallback/default/entropy hits, the exact span of a quoted secret, list-form
`environment:` items, hits that touch without overlapping, and how files are read.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from actions.secrets.policy import SecretsError
from actions.secrets.scan import (
    EnvEntry,
    Finding,
    assign_variables,
    copy_of,
    parse_env,
    read_text_file,
    scan_compose_text,
    scan_env_text,
    text_hits,
)

WEAK_8 = "weak secret: 8 characters (generate makes 32)"
DEFAULT_REASON = "known default password in a value (review: the key does not say secret)"
ENTROPY_REASON = "high-entropy literal (looks like a generated key; review)"
RANDOM_TOKEN = "Zx8Qp2Lm7Vn4Rt6Yw1Ks9Hd3Fg5Jc0Ab"
HEX_DIGEST = "3f9a2c7e1b8d4f6a9c0e2b4d6f8a1c3e" * 2


def compose_findings(body: str) -> list[Finding]:
    return scan_compose_text("services:\n" + body, "docker-compose.yml").findings


def replaced(f: Finding) -> str:
    """The text `apply` would replace for this finding."""
    assert f.edit is not None
    return f.edit.node_value[f.edit.start:f.edit.end]


# --- reading a .env file ------------------------------------------------------------------


@pytest.mark.parametrize(("line", "value"), [
    ("REDIS_PASSWORD='s3cr3t-redis-pass' # don't commit", "s3cr3t-redis-pass"),
    ("REDIS_PASSWORD=''", ""),
    ("REDIS_PASSWORD='' # set in CI, don't commit", ""),
    ('JWT_SECRET="kq3N8vR2xT7mW9pL4sY6bF1hJ5dG0cZaQe"', "kq3N8vR2xT7mW9pL4sY6bF1hJ5dG0cZaQe"),
    ('POSTGRES_PASSWORD="vextrus\\"dev\\\\2024"', 'vextrus"dev\\2024'),
    ('GRAFANA_ADMIN_PASSWORD="line1\\nline2\\tend"', "line1\nline2\tend"),
    ('RABBITMQ_DEFAULT_PASS="it\'s-vextrus-2024"', "it's-vextrus-2024"),
    ("MINIO_ROOT_PASSWORD=vextrus'minio'2024", "vextrus'minio'2024"),
    ("REDIS_PASSWORD=redis_dev_2024   # too short", "redis_dev_2024"),
], ids=["single-quoted-then-comment", "empty-single", "empty-single-then-comment",
        "double-quoted", "escaped-quote-and-backslash", "newline-and-tab-escapes",
        "apostrophe-inside-double", "apostrophes-in-bare", "bare-then-comment"])
def test_env_values_are_read_as_compose_reads_them(line: str, value: str) -> None:
    """'…' is literal up to the next quote, "…" takes escapes, a bare value ends at ` #`."""
    assert [e.value for e in parse_env(line + "\n")] == [value]


def test_env_entries_keep_their_line_and_export_prefix() -> None:
    text = ("# Vextrus development\n\nexport POSTGRES_PASSWORD=vextrus_dev_2024\n"
            "REDIS_PASSWORD=redis_dev_2024\n")
    assert parse_env(text) == [
        EnvEntry("POSTGRES_PASSWORD", "vextrus_dev_2024", 3, export=True),
        EnvEntry("REDIS_PASSWORD", "redis_dev_2024", 4, export=False),
    ]


# --- what counts in a .env file -------------------------------------------------------------


def test_env_findings_name_the_line_key_reason_and_masked_value() -> None:
    text = ("NODE_ENV=development\nDATABASE_PASSWORD=vextrus_dev_2024\n"
            "REDIS_PASSWORD=hunter22   # too short\n")
    assert scan_env_text(text, ".env", 0o600) == [
        Finding(".env", 2, "DATABASE_PASSWORD", "known default password", "weak", "ve…(16)",
                value="vextrus_dev_2024"),
        Finding(".env", 3, "REDIS_PASSWORD", WEAK_8, "weak", "h…(8)", value="hunter22"),
    ]


@pytest.mark.parametrize(("password", "reason"), [
    ("Xq7vLm2pR9z", "weak secret: 11 characters (generate makes 32)"),
    ("Xq7vLm2pR9zz", None),
])
def test_a_secret_is_weak_below_twelve_characters(password: str, reason: str | None) -> None:
    found = scan_env_text(f"REDIS_PASSWORD={password}\n", ".env", 0o600)
    assert [f.reason for f in found] == ([reason] if reason else [])


@pytest.mark.parametrize("value", ["''", '""', "'' # don't commit"])
def test_an_empty_quoted_secret_is_not_a_finding(value: str) -> None:
    """`KEY=''` sets nothing: there is no hardcoded secret to report, nor a mode to fix."""
    assert scan_env_text(f"POSTGRES_PASSWORD={value}\n", ".env", 0o644) == []


def test_a_readable_env_file_with_secrets_gets_a_mode_finding_on_line_one() -> None:
    text = "NODE_ENV=development\nJWT_SECRET=kq3N8vR2xT7mW9pL4sY6bF1hJ5dG0cZaQe\n"
    found = scan_env_text(text, ".env.production", 0o644)
    assert found == [Finding(
        ".env.production", 1, "(file mode)",
        "secrets readable by group or others (mode 0644): chmod 600 .env.production",
        "mode", "-")]
    assert found[0].location() == ".env.production:1"
    assert found[0].to_dict()["kind"] == "mode"


@pytest.mark.parametrize("text", [
    "NODE_ENV=development\nDATABASE_HOST=postgres\n",
    "DATABASE_URL=postgres://vextrus:${POSTGRES_PASSWORD}@postgres:5432/vextrus\n",
], ids=["no-secret", "url-with-reference"])
def test_a_readable_env_file_without_secrets_is_clean(text: str) -> None:
    assert scan_env_text(text, ".env", 0o644) == []


def test_a_weak_password_inside_an_env_url_is_found() -> None:
    text = "DATABASE_URL=postgres://vextrus:pass@postgres:5432/vextrus\n"
    assert [(f.line, f.key, f.reason, f.masked) for f in scan_env_text(text, ".env", 0o600)] \
        == [(1, "DATABASE_URL", "weak secret: 4 characters (generate makes 32)", "…(4)")]


def test_a_distinctive_default_under_any_env_key_is_found() -> None:
    text = "NODE_ENV=development\nMC_ALIAS=local http://minio:9000 minio minio123\n"
    assert [(f.line, f.key, f.reason, f.masked) for f in scan_env_text(text, ".env", 0o600)] \
        == [(2, "MC_ALIAS", "known default password", "m…(8)")]


# --- compose findings: what the operator reads ----------------------------------------------


def test_describe_names_the_service() -> None:
    found = compose_findings("  postgres:\n    environment:\n"
                             "      POSTGRES_PASSWORD: vextrus_dev_2024\n")
    assert [f.describe() for f in found] == [
        "POSTGRES_PASSWORD (service postgres): hardcoded secret, known default [ve…(16)]"]


@pytest.mark.parametrize("value", ["null", "~", "Null", "true", "false"])
def test_a_secret_key_set_to_null_or_a_boolean_is_unset_not_a_secret(value: str) -> None:
    """libyaml marks plain scalars with style '' (not None): `KEY: null` read as the
    hardcoded secret "null", and `apply` would have rewritten it."""
    found = compose_findings(f"  db:\n    environment:\n      POSTGRES_PASSWORD: {value}\n")
    assert found == []


@pytest.mark.parametrize("value", ["'null'", '"~~~~"'])
def test_a_quoted_null_is_a_string_and_so_a_secret(value: str) -> None:
    found = compose_findings(f"  db:\n    environment:\n      POSTGRES_PASSWORD: {value}\n")
    assert [f.key for f in found] == ["POSTGRES_PASSWORD"]


def test_a_fallback_is_reported_with_its_variable() -> None:
    found = compose_findings("  auth:\n    environment:\n"
                             "      DATABASE_PASSWORD: ${POSTGRES_PASSWORD:-hunter22}\n")
    assert [f.describe() for f in found] == [
        "DATABASE_PASSWORD (service auth): hardcoded fallback in ${POSTGRES_PASSWORD:-…}"
        " [h…(8)]"]


def test_the_files_own_fallback_variable_keeps_its_name() -> None:
    """`${POSTGRES_PASSWORD:-x}` already names its variable: it gets it before a literal
    with another value that would also like that name."""
    found = compose_findings(
        "  db:\n    environment:\n      POSTGRES_PASSWORD: Xq7vLm2pR9zz\n"
        "  auth:\n    environment:\n      DATABASE_URL: "
        "postgres://vextrus:${POSTGRES_PASSWORD:-vextrus_dev_2024}@db:5432/vextrus\n")
    assert [(a.variable, [f.line for f in a.findings]) for a in assign_variables(found)] == [
        ("POSTGRES_PASSWORD", [7]), ("DB_POSTGRES_PASSWORD", [4])]


def test_fallbacks_of_one_variable_share_it_whatever_their_values() -> None:
    found = compose_findings(
        "  auth:\n    environment:\n"
        "      DATABASE_PASSWORD: ${POSTGRES_PASSWORD:-vextrus_dev_2024}\n"
        "  billing:\n    environment:\n      DATABASE_PASSWORD: ${POSTGRES_PASSWORD:-postgres}\n")
    assert [(a.variable, [f.line for f in a.findings]) for a in assign_variables(found)] == [
        ("POSTGRES_PASSWORD", [4, 7])]


def test_a_default_under_a_plain_key_is_for_review() -> None:
    found = compose_findings(
        "  minio-init:\n    command: mc alias set local http://minio:9000 minio minio123\n")
    assert [(f.key, f.kind, f.describe()) for f in found] == [
        ("command", "suspect",
         f"command (service minio-init): {DEFAULT_REASON} [m…(8)]")]


def test_a_generated_key_under_a_plain_key_is_for_review() -> None:
    found = compose_findings(f"  api:\n    environment:\n      SESSION_SEED: {RANDOM_TOKEN}\n")
    assert [(f.key, f.kind, f.reason) for f in found] == [
        ("SESSION_SEED", "entropy", ENTROPY_REASON)]


def test_a_digest_at_the_start_of_a_value_is_public() -> None:
    found = compose_findings(
        f"  api:\n    labels:\n      org.opencontainers.image.base.digest: sha256:{HEX_DIGEST}\n")
    assert found == []


def test_a_token_after_an_image_digest_is_still_checked() -> None:
    found = compose_findings(
        f"  api:\n    command: verify registry/app@sha256:{HEX_DIGEST} && start {RANDOM_TOKEN}\n")
    assert [(f.kind, replaced(f)) for f in found] == [("entropy", RANDOM_TOKEN)]


# --- the exact span apply replaces ------------------------------------------------------------


@pytest.mark.parametrize(("command", "secret", "masked"), [
    ('redis-server --requirepass "Xq7vLm2pR9zz" --appendonly yes', "Xq7vLm2pR9zz", "Xq…(12)"),
    ("sh -c \"PGPASSWORD='hunter22xy' pg_isready -U vextrus\"", "hunter22xy", "h…(10)"),
    ("redis-server --requirepass Xq7vLm2pR9zz --appendonly yes", "Xq7vLm2pR9zz", "Xq…(12)"),
], ids=["double-quoted-flag", "single-quoted-inline", "bare-flag-starting-with-X"])
def test_a_quoted_secret_is_replaced_without_its_quotes(
        command: str, secret: str, masked: str) -> None:
    found = compose_findings(f"  redis:\n    command: {command}\n")
    assert [(replaced(f), f.masked) for f in found] == [(secret, masked)]


@pytest.mark.parametrize("command", [
    'redis-server --requirepass "" --appendonly yes',
    "sh -c \"PGPASSWORD='' pg_isready -U vextrus\"",
])
def test_an_empty_quoted_secret_in_a_command_is_not_a_finding(command: str) -> None:
    assert compose_findings(f"  redis:\n    command: {command}\n") == []


def test_two_secret_options_in_one_command_are_both_found() -> None:
    found = compose_findings(
        "  redis:\n"
        "    command: redis-server --requirepass Xq7vLm2pR9zz --masterauth Zr8kWq3nL5vT\n")
    assert [(f.key, replaced(f)) for f in found] == [
        ("command", "Xq7vLm2pR9zz"), ("command", "Zr8kWq3nL5vT")]


@pytest.mark.parametrize("text", [
    "minio123${DB_PASSWORD:-hunter22}", "${DB_PASSWORD:-hunter22}minio123",
])
def test_hits_that_touch_are_both_reported(text: str) -> None:
    assert sorted((h.kind, text[h.vstart:h.vend]) for h in text_hits(text, "command", "")) == [
        ("fallback", "hunter22"), ("suspect", "minio123")]


# --- list-form environment ------------------------------------------------------------------


def test_list_environment_items_are_split_at_the_first_equals_sign() -> None:
    found = compose_findings(
        "  auth:\n    environment:\n"
        "      - JWT_SECRET=a2xN8vR2xT7mW9pL4sY6bF1hJ5dG0cZaQe==\n"
        "      - DATABASE_URL=postgres://vextrus:hunter22@postgres:5432/vextrus\n"
        '      - "DATABASE_PASSWORD=Xq7vLm2pR9zz  "\n')
    assert [(f.line, f.describe(), replaced(f)) for f in found] == [
        (4, "JWT_SECRET (service auth): hardcoded secret [a2…(36)]",
         "a2xN8vR2xT7mW9pL4sY6bF1hJ5dG0cZaQe=="),
        (5, "DATABASE_URL (service auth): password in a URL [h…(8)]", "hunter22"),
        (6, "DATABASE_PASSWORD (service auth): hardcoded secret [Xq…(12)]", "Xq7vLm2pR9zz"),
    ]


def test_list_environment_secrets_of_two_services_get_service_names() -> None:
    found = compose_findings(
        "  auth:\n    environment:\n      - DATABASE_PASSWORD=Xq7vLm2pR9zz\n"
        "  billing:\n    environment:\n      - DATABASE_PASSWORD=Zr8kWq3nL5vT\n")
    assert [a.variable for a in assign_variables(found)] == [
        "DATABASE_PASSWORD", "BILLING_DATABASE_PASSWORD"]


# --- files ----------------------------------------------------------------------------------


def test_a_file_that_cannot_be_read_is_named_with_the_reason(tmp_path: Path) -> None:
    """A symlink loop: the OS error's own words, not its `[Errno 40]` repr."""
    loop = tmp_path / "docker-compose.yml"
    loop.symlink_to(loop)
    with pytest.raises(SecretsError) as caught:
        read_text_file(loop)
    assert str(caught.value) == f"{loop}: cannot read: {os.strerror(errno.ELOOP)}"


def test_a_file_without_permission_is_named(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=vextrus_dev_2024\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(SecretsError) as caught:
        read_text_file(env)
    assert str(caught.value) == f"{env}: permission denied"


def test_a_five_character_backup_name_is_a_copy() -> None:
    assert copy_of("a.bak") == "a"

