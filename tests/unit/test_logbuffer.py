"""Log lines made safe, bounded, searchable and filterable (console.logbuffer, headless)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.logbuffer import (
    MAX_LINE,
    SEQ,
    Level,
    LogBuffer,
    LogFilter,
    compile_query,
    detect_level,
    is_literal,
    may_hold_secret,
    sanitize,
    to_text,
)
from console.masking import mask_secrets
from console.runtime.base import LogLine

# --- sanitising ------------------------------------------------------------------------


def test_a_90000_char_line_is_truncated_with_a_marker() -> None:
    line = "{" + "x" * 89_998 + "}"
    out = sanitize(line)
    assert out.startswith("{xxx")
    assert out.endswith("… [truncated 88,000 chars]")
    assert len(out) == MAX_LINE + len("… [truncated 88,000 chars]")


def test_control_bytes_are_stripped_but_tabs_kept() -> None:
    assert sanitize("a\x00b\x07c\x08d\te\rf\x7fg\x9bh\x0bi") == "abcd\tefgh" + "i"


def test_ansi_escape_sequences_are_stripped_whole() -> None:
    hostile = (
        "\x1b[31;1mred\x1b[0m "  # colours
        "\x1b]0;pwned title\x07"  # OSC window title, BEL-terminated
        "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ "  # OSC 8 hyperlink, ST-terminated
        "\x1b[2J\x1b[Hcleared "  # clear screen, cursor home
        "\x1bPdevice-control\x1b\\"  # DCS string
        "\x1b7saved\x1b8"  # two-byte escapes
    )
    assert sanitize(hostile) == "red link cleared saved"


def test_bidi_overrides_are_stripped() -> None:
    assert sanitize("admin\u202egnp.exe\u202c") == "admingnp.exe"


def test_bytes_are_decoded_with_replacement() -> None:
    assert sanitize(b"ok \xff\xfe done") == "ok \ufffd\ufffd done"


def test_non_ascii_text_survives() -> None:
    assert sanitize("Überweisung → 500 € 完了") == "Überweisung → 500 € 完了"


# --- secrets ---------------------------------------------------------------------------

SECRET_LINES = [
    ("DB_PASSWORD=hunter2 connecting", "hunter2"),
    ('{"password": "s3cr3t!", "user": "vextrus"}', "s3cr3t!"),
    ("redis://:topsecretpw@redis:6379/0", "topsecretpw"),
    ("Authorization: Bearer abc.def123-ghi", "abc.def123-ghi"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl seen", "eyJhbGciOiJIUzI1NiJ9"),
    ("JWT_SECRET: 0123456789abcdef", "0123456789abcdef"),
    ("apiKey=AKIAXYZ0123", "AKIAXYZ0123"),
    ("--requirepass hushhush", "hushhush"),
    ("MINIO_ROOT_PASS=minio-root-9", "minio-root-9"),
]


@pytest.mark.parametrize(("line", "secret"), SECRET_LINES)
def test_secrets_are_redacted_on_the_way_in(line: str, secret: str) -> None:
    buffer = LogBuffer()
    entry = buffer.append("auth", line)
    assert secret not in entry.text
    assert "***" in entry.text
    assert buffer.search(secret) == []  # a search cannot find what was masked


@pytest.mark.parametrize(("line", "secret"), SECRET_LINES)
def test_the_cheap_secret_test_never_skips_a_line_the_masker_would_change(
    line: str, secret: str
) -> None:
    assert may_hold_secret(line)


def test_lines_without_hints_are_left_alone_by_the_masker_too() -> None:
    """The pre-check is only an optimisation: where it says no, masking changes nothing."""
    plain = [
        "[Nest] 1  - 01/05/2025, 10:00:00 AM     LOG [RoutesResolver] AppController {/api}:",
        '{"level":30,"time":1700000000,"msg":"request completed","url":"/x","status":200}',
        "2025-01-05 10:00:00.123 UTC [42] LOG:  checkpoint complete: wrote 3 buffers; user=app",
        "[2025-01-05 10:00:00,000] INFO [Controller id=1] Processing automatic preferred leader",
        'level=warn msg="slow query" duration=1.2s table=orders rows=3',
        "GET /health 200 3ms user-agent: kube-probe/1.29 host: auth:3001",
    ]
    for line in plain:
        assert not may_hold_secret(line)
        assert mask_secrets(line) == line


def test_a_secret_cut_by_truncation_is_still_masked() -> None:
    line = "x" * (MAX_LINE - 12) + " password=abcdefghijklmnop"
    entry = LogBuffer().append("auth", line)
    assert "abcdefgh" not in entry.text
    assert "[truncated" in entry.text


def test_saved_text_is_redacted() -> None:
    buffer = LogBuffer()
    buffer.append("auth", "login ok password=hunter2", datetime(2025, 1, 1, tzinfo=UTC))
    text = to_text(buffer)
    assert "hunter2" not in text
    assert text.startswith("2025-01-01T00:00:00+00:00 auth | login ok password=***")


# --- levels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("[Nest] 19  - 10/01/2025, 9:14:02 AM   ERROR [ExceptionsHandler] boom", Level.ERROR),
        ("[Nest] 19  - 10/01/2025, 9:14:02 AM    WARN [KafkaClient] retrying", Level.WARN),
        ("[Nest] 19  - 10/01/2025, 9:14:02 AM     LOG [NestApplication] started", Level.INFO),
        ("[Nest] 19  - 10/01/2025, 9:14:02 AM   DEBUG [Cache] miss", Level.DEBUG),
        ("[Nest] 19  - 10/01/2025, 9:14:02 AM VERBOSE [Router] mapped", Level.DEBUG),
        ('{"level":"error","msg":"db down"}', Level.ERROR),
        ('{"level":50,"msg":"pino error"}', Level.ERROR),
        ('{"level":40,"msg":"pino warn"}', Level.WARN),
        ('{"level":30,"msg":"pino info"}', Level.INFO),
        ('{"log.level": "WARN", "message": "es"}', Level.WARN),
        ("time=1 level=warning msg=slow", Level.WARN),
        ("2025-01-05 10:00:00 UTC [7] FATAL:  password authentication failed", Level.ERROR),
        ("2025-01-05 10:00:00 UTC [7] LOG:  database system is ready", Level.INFO),
        ("[2025-01-05 10:00:00,000] WARN [Log partition=x] retry (kafka.log)", Level.WARN),
        ("2025/01/05 10:00:00 [error] 7#7: upstream timed out", Level.ERROR),
        ("no level here, just an error word in lower case", None),
        ("ERR_CONNECTION_REFUSED is not a level word", None),
    ],
)
def test_level_detection(line: str, level: Level | None) -> None:
    assert detect_level(line) == level


def test_stack_trace_lines_inherit_the_level_of_their_service() -> None:
    buffer = LogBuffer()
    buffer.append("auth", "ERROR [ExceptionsHandler] TypeError: x is undefined")
    buffer.append("kafka", "INFO started")
    trace = buffer.append("auth", "    at Object.<anonymous> (/app/main.js:3:9)")
    assert trace.level == Level.ERROR
    assert buffer.append("auth", "plain line").level is None


# --- ring buffer -----------------------------------------------------------------------


def test_ring_buffer_keeps_the_newest_and_counts_the_dropped() -> None:
    buffer = LogBuffer(capacity=5)
    for i in range(12):
        buffer.append("svc", f"line {i}")
    assert len(buffer) == 5
    assert buffer.dropped == 7
    assert [e.text for e in buffer] == [f"line {i}" for i in range(7, 12)]
    assert buffer.first_seq == 7 and buffer.next_seq == 12
    entry = buffer.by_seq(9)
    assert entry is not None and entry.text == "line 9"
    assert buffer.by_seq(3) is None


def test_extend_takes_runtime_log_lines() -> None:
    at = datetime(2025, 1, 1, 12, tzinfo=UTC)
    buffer = LogBuffer()
    rows = buffer.extend([LogLine("a", "one", at), LogLine("b", "two", None, "stderr")])
    assert [row[SEQ] for row in rows] == [0, 1]
    assert [(e.service, e.text, e.time, e.stream) for e in buffer] == [
        ("a", "one", at, "stdout"),
        ("b", "two", None, "stderr"),
    ]


# --- search and filter -----------------------------------------------------------------


@pytest.fixture
def mixed() -> LogBuffer:
    buffer = LogBuffer()
    for line in [
        "INFO user logged in id=17",
        "WARN slow query on Orders (1.2s)",
        "ERROR order 17 failed: timeout",
        "DEBUG cache miss orders:17",
        "continuation without level",
        "INFO foo(bar) called",
    ]:
        buffer.append("api", line)
    return buffer


def test_search_substring_is_case_insensitive_unless_capitals(mixed: LogBuffer) -> None:
    assert mixed.search("orders") == [1, 3]
    assert mixed.search("Orders") == [1]


def test_search_regex(mixed: LogBuffer) -> None:
    assert mixed.search(r"\b17\b") == [0, 2, 3]
    assert mixed.search(compile_query(r"^(WARN|ERROR)")) == [1, 2]


def test_an_invalid_regex_is_searched_literally(mixed: LogBuffer) -> None:
    assert is_literal("foo(bar")
    assert not is_literal("foo.*")
    assert mixed.search("foo(bar") == [5]


def test_filter_by_level_and_pattern(mixed: LogBuffer) -> None:
    assert mixed.filter(LogFilter(min_level=Level.WARN)) == [1, 2]
    assert mixed.filter(LogFilter(min_level=Level.ERROR)) == [2]
    assert mixed.filter(LogFilter(min_level=Level.DEBUG)) == [0, 1, 2, 3, 5]
    assert mixed.filter(LogFilter(pattern=compile_query("17"))) == [0, 2, 3]
    both = LogFilter(min_level=Level.WARN, pattern=compile_query("17"))
    assert mixed.filter(both) == [2]
    assert both.describe() == "level ≥WARN &17"
    assert not LogFilter().active


def test_the_consoles_own_notes_pass_every_filter(mixed: LogBuffer) -> None:
    mixed.append("api", "api: log stream ended", note=True)
    assert mixed.filter(LogFilter(min_level=Level.ERROR)) == [2, 6]
