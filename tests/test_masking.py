"""Secret masking and terminal-safe excerpts (console.masking)."""

from __future__ import annotations

import pytest

from console.masking import is_sensitive_key, mask_secrets, sanitize, strip_control


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("POSTGRES_PASSWORD=hunter2", "POSTGRES_PASSWORD=***"),
        ("export DB_PASS='s3 cr3t'", "export DB_PASS='***'"),
        ('{"password": "hunter2", "user": "vextrus"}', '{"password": "***", "user": "vextrus"}'),
        ("jwt_secret: abc123", "jwt_secret: ***"),
        ("JWT=abc.def", "JWT=***"),
        ("apiKey=AKIA123 region=eu", "apiKey=*** region=eu"),
        ("MINIO_ACCESS_KEY: minio", "MINIO_ACCESS_KEY: ***"),
        ("refresh_token=r1; path=/", "refresh_token=***; path=/"),
        ("?user=a&token=t0k3n&x=1", "?user=a&token=***&x=1"),
        (
            "redis-server --requirepass foobared --port 6379",
            "redis-server --requirepass *** --port 6379",
        ),
        ("--password=pw --user=me", "--password=*** --user=me"),
        ("postgres://vextrus:pa55@db:5432/vextrus", "postgres://vextrus:***@db:5432/vextrus"),
        ("amqp://guest:guest@rabbitmq:5672/", "amqp://guest:***@rabbitmq:5672/"),
        ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
        ("Authorization: Bearer abc.def-123", "Authorization: ***"),
        ("curl -H 'X-Api-Key: k-123' http://x", "curl -H 'X-Api-Key: ***' http://x"),
        ("status: down, password=x1", "status: down, password=***"),
    ],
)
def test_secrets_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_bare_jwt_is_masked() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"
    assert mask_secrets(f"got {jwt} from auth") == "got *** from auth"


@pytest.mark.parametrize(
    "text",
    [
        "auth: healthy on :3001",  # the auth *service* is not a credential
        "POSTGRES_PASSWORD=${POSTGRES_PASSWORD}",  # a reference names a secret, reveals none
        "REDIS_PASSWORD=$REDIS_PASSWORD",
        "5 passed, 1 skipped in 2.1s",
        "Basic authentication required",
        'duplicate key value violates unique constraint "users_pkey"',
        "http://vextrus-auth:3001/api/v1/health",
        "started at 12:30:01",
        "",
    ],
)
def test_harmless_text_is_untouched(text: str) -> None:
    assert mask_secrets(text) == text


def test_masking_is_idempotent() -> None:
    once = mask_secrets("password=hunter2 postgres://u:p@h/db Bearer abc-123456")
    assert mask_secrets(once) == once
    assert "hunter2" not in once


def test_sensitive_key_names() -> None:
    for key in ("DB_PASSWORD", "passwd", "client_secret", "apiKey", "JWT", "smtp_pass", "pwd"):
        assert is_sensitive_key(key), key
    for key in ("auth", "passed", "status", "compass_heading", "user"):
        assert not is_sensitive_key(key), key


def test_strip_control_removes_escapes_and_line_breaks() -> None:
    raw = "\x1b[31merror\x1b[0m\r\nline two\tend\x07\x00 \u202eevil\x1b]0;title\x07"
    assert strip_control(raw) == "error line two end evil"


def test_sanitize_masks_then_cuts() -> None:
    text = "password=" + "s" * 300 + " trailing"  # longer than the limit before masking
    out = sanitize(text, limit=50)
    assert out == "password=*** trailing"
    long = sanitize("x" * 2000, limit=100)
    assert len(long) == 100 and long.endswith("…")
    assert sanitize("") == ""
