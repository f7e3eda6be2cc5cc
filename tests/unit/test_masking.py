"""Secret masking and terminal-safe excerpts (console.masking)."""

from __future__ import annotations

import pytest

from console.masking import (
    is_sensitive_key,
    mask_secrets,
    safe_json,
    safe_str,
    safe_text,
    sanitize,
    strip_control,
)


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
        # Bare credentials anywhere in a line, with no `Authorization:` key before them.
        ("header Bearer abc-123456 failed", "header Bearer *** failed"),
        ("retry with Basic dXNlcjpwYXNz== now", "retry with Basic *** now"),
        ("Basic dXNlcjpwYXNz", "Basic ***"),  # user:pass, no padding, no digit
        ("sent bearer AbCdEfGhIj", "sent bearer ***"),
        ("token=x; Token abc123def", "token=***; Token ***"),
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
        "Basic Authentication failed",
        "bearer tokens expire after 5 minutes",
        "redis: hardcoded secret after --requirepass re…(14)",  # the scanner's masked form
        "DB_PASSWORD: m…(8)",
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


# --- the boundary: safe_str / safe_text / safe_json -------------------------------------


def test_safe_str_drops_escapes_and_controls_and_masks() -> None:
    hostile = ("a\x1b]0;title\x07b\x1b[2Jc\x1b]52;c;aGk=\x07d\x1b]8;;http://x\x1b\\e"
               "\x00\x07\x9b\r f password=hunter2")
    assert safe_str(hostile) == "abcde f password=***"


def test_safe_str_replaces_invalid_utf8_and_lone_surrogates() -> None:
    assert safe_str(b"ok \xff done") == "ok \ufffd done"
    assert safe_str("ok \udcff done") == "ok \ufffd done"


def test_safe_str_bounds_a_100k_line_and_masks_before_the_cut() -> None:
    out = safe_str("token=abcdefghijklmnop " + "x" * 100_000, limit=100)
    assert out.startswith("token=*** xxx")
    assert out.endswith("chars]") and len(out) < 130
    assert "abcdefgh" not in out


def test_safe_str_multiline_keeps_lines_and_bounds_each() -> None:
    assert safe_str("one\r\ntwo\x1b[31m\nthree", multiline=True) == "one\ntwo\nthree"
    assert safe_str("a\nb") == "a b"


def test_safe_text_is_never_markup() -> None:
    text = safe_text("[/oops] [link=http://x]y[/link] [bold]b[/bold]")
    assert text.plain == "[/oops] [link=http://x]y[/link] [bold]b[/bold]"
    assert not text.spans


def test_safe_json_walks_keys_and_values() -> None:
    doc = safe_json({"id\x1b[2J": ["x\x9b1", {"why": "password=hunter2"}], "n": 3})
    assert doc == {"id": ["x1", {"why": "password=***"}], "n": 3}


# --- exact edges of the boundary (what an operator would see change) --------------------


def test_safe_str_cut_says_exactly_how_much_was_dropped() -> None:
    assert safe_str("x" * 10, limit=10) == "x" * 10  # at the limit: nothing cut, no marker
    assert safe_str("x" * 11, limit=10) == "x" * 10 + "… [truncated 1 chars]"
    # Past the bounded prefix (2 * limit + 256), the count still covers every dropped char.
    assert safe_str("y" * 5000, limit=10) == "y" * 10 + "… [truncated 4,990 chars]"


def test_safe_str_mask_false_shows_the_secret_but_still_cleans_it() -> None:
    assert safe_str("password=hunter2\x1b[2J", mask=False) == "password=hunter2"
    assert safe_str("a\nb password=x", multiline=True, mask=False) == "a\nb password=x"
    assert safe_str("a\npassword=x", multiline=True) == "a\npassword=***"


def test_safe_str_of_none_bytes_and_objects() -> None:
    assert safe_str(None) == ""
    assert safe_str(memoryview(b"mv \x1b[1mok")) == "mv ok"
    assert safe_str(bytearray(b"ba\x07")) == "ba"
    assert safe_str(42) == "42"
    assert safe_str("tab\tkept") == "tab\tkept"
    assert safe_str("bare\rreturn") == "barereturn"  # a CR cannot overwrite the line


def test_safe_text_keeps_the_style_and_the_options() -> None:
    text = safe_text("line one\npassword=x", style="bold red", multiline=True)
    assert text.plain == "line one\npassword=***"
    assert str(text.style) == "bold red"
    assert safe_text("x" * 12, limit=4).plain == "xxxx… [truncated 8 chars]"
    assert safe_text("password=x", mask=False).plain == "password=x"
    assert safe_text("a\nb").plain == "a b"


def test_safe_json_keeps_structure_and_bounds_strings() -> None:
    doc = safe_json({1: ("a\nb", None, 2.5, True), "k": "z" * 9}, limit=4)
    assert doc == {1: ["a\nb", None, 2.5, True], "k": "zzzz… [truncated 5 chars]"}
    assert safe_json("password=x") == "password=***"
    assert safe_json(["\x1b]0;t\x07ok"]) == ["ok"]


def test_sanitize_edges() -> None:
    assert sanitize("a" * 50, limit=50) == "a" * 50  # exactly the limit: whole
    assert sanitize("word " * 20, limit=11) == "word word…"  # the cut drops trailing blanks
    assert sanitize("  padded\t\tline  ") == "padded line"
    assert sanitize("token=abc\x1b[31m") == "token=***"


def test_strip_control_collapses_every_run_of_blanks() -> None:
    assert strip_control("a \t  b\t\tc") == "a b c"
    assert strip_control("  edge  ") == "edge"


def test_echo_prints_each_line_cleaned_and_masked() -> None:
    import io

    from console.masking import echo

    out = io.StringIO()
    echo("one\x1b[2J", "password=x\ntwo", 3, file=out)
    echo("token=y", file=out, mask=False)
    assert out.getvalue() == "one password=***\ntwo 3\ntoken=y\n"


def test_bound_cuts_each_line_on_its_own() -> None:
    from console.masking import bound

    assert bound("abc", 3) == "abc"
    assert bound("abcd\nxy", 3) == "abc… [truncated 1 chars]\nxy"
    assert bound("abcdef", 3) == "abc… [truncated 3 chars]"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('password: "hunter2"', 'password: "***"'),  # quotes kept around the mask
        ("password: 'p'", "password: '***'"),
        ("password: null", "password: null"),  # nothing to hide
        ("password: None", "password: None"),
        ("password: ***", "password: ***"),
        ("password: ****", "password: ****"),
        ('password: "', 'password: "'),  # one quote is not a quoted value
        ("Token abcdef", "Token abcdef"),  # a plain word after the scheme
        ("Token abcDef", "Token ***"),  # mixed case: a credential
        ("Bearer " + "a" * 20, "Bearer ***"),  # a long run
        ("Basic abcdefgh", "Basic abcdefgh"),  # decodes, but to no user:pass
        ("Basic zgjjwjrl", "Basic ***"),  # lower-case letters only, yet base64 with a colon
        ("Basic zzzz!", "Basic zzzz!"),  # not base64
        ("--token abc --verbose", "--token *** --verbose"),
        ("--tokens abc", "--tokens ***"),
        ("--color always", "--color always"),  # a harmless flag keeps its value
        ("-p secret", "-p secret"),  # a one-letter flag says nothing
    ],
)
def test_masked_value_edges(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize("line", [
    "proxy said Ba\u017fic dXNlcjpwYXNz",  # U+017F long s: matches `s` when case is ignored
    "upstream sent BA\u017fIC dXNlcjpwYXNz back",
])
def test_unicode_case_variants_of_a_secret_are_masked(line: str) -> None:
    """The regexes ignore case the Unicode way; the quick pre-check must not let such a line
    skip them (the long s once printed a Basic credential in the clear)."""
    assert "dXNlcjpwYXNz" not in mask_secrets(line)
