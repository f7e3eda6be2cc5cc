"""Log lines made safe to show, kept in a bounded buffer, searched and filtered; headless.

Container logs are hostile input: escape sequences that would repaint or retitle the
operator's terminal, control bytes, 90,000-character JSON blobs, credentials printed at
start-up. Every line is sanitised, truncated and redacted here, once, on the way in, so the
view, the search and a saved file only ever see the safe text. The buffer is a ring: a
chatty stack cannot grow the console's memory without bound, and what it drops is counted
so the operator knows lines are missing.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import IntEnum
from typing import Final, NamedTuple, Protocol

from console.masking import (
    mask_secrets,
    may_hold_secret,
    terminal_safe,
    truncation_marker,
)

MAX_LINE = 2000
DEFAULT_CAPACITY = 200_000


def sanitize(line: str | bytes, limit: int = MAX_LINE) -> str:
    """Printable text only (tabs kept), cut at `limit` chars with a marker saying how much.

    The console-wide boundary (`console.masking.terminal_safe`) does the cleaning; very
    long input is cut before it runs, so a multi-megabyte line costs no more than a long one.
    """
    if isinstance(line, bytes | bytearray):
        line = bytes(line).decode("utf-8", errors="replace")
    extra = 0
    if len(line) > 2 * limit:
        extra = len(line) - 2 * limit
        line = line[: 2 * limit]
    line = terminal_safe(line)
    total = len(line) + extra
    if total > limit:
        return line[:limit] + truncation_marker(total - limit)
    return line


# --- secrets -----------------------------------------------------------------------------

# The console-wide masker, so logs hide exactly what every other view and export hides.
mask = mask_secrets


def redact(text: str) -> str:
    """`mask_secrets`, skipped for the many lines that cannot hold a secret."""
    return mask(text) if may_hold_secret(text) else text


# --- levels ------------------------------------------------------------------------------


class Level(IntEnum):
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40

    @property
    def label(self) -> str:
        return self.name


# Plain ints (Level values): reading an enum member's value costs more than the lookup.
_E, _W, _I, _D = int(Level.ERROR), int(Level.WARN), int(Level.INFO), int(Level.DEBUG)
_WORDS = {
    "FATAL": _E, "CRITICAL": _E, "CRIT": _E, "PANIC": _E, "EMERG": _E, "ALERT": _E,
    "ERROR": _E, "ERR": _E, "WARN": _W, "WARNING": _W, "INFO": _I, "NOTICE": _I, "LOG": _I,
    "DEBUG": _D, "VERBOSE": _D, "TRACE": _D,
}  # fmt: skip
_LEVEL = re.compile(
    # The lookahead lets the scan skip digits, spaces and punctuation cheaply (~40% faster).
    r"(?=[A-Za-z\"\[])(?:"
    # JSON ("level":"warn", "log.level":"ERROR", pino's "level":50), logfmt (level=warn),
    # bracketed lower case ([error]), then upper-case words (NestJS `  ERROR [Ctx]`,
    # PostgreSQL `ERROR:`, Kafka/Java `] WARN `).
    r"\"(?:log\.)?(?:level|severity|lvl)\"\s*:\s*\"?(?P<json>[A-Za-z]+|\d+)"
    r"|\b(?:level|lvl|severity)=\"?(?P<kv>[A-Za-z]+)"
    r"|\[(?P<br>error|warn|warning|info|notice|debug|crit|alert|emerg|fatal)\]"
    r"|\b(?P<word>" + "|".join(_WORDS) + r")\b"
    r")"
)
_PINO = ((50, _E), (40, _W), (30, _I), (0, _D))


def detect_level(text: str) -> Level | None:
    """The level a log line declares, from the first level marker found, or None."""
    value = _level_value(text)
    return None if value is None else Level(value)


def _level_value(text: str) -> int | None:
    match = _LEVEL.search(text)
    if match is None:
        return None
    found = match.group("json") or match.group("kv") or match.group("br") or match.group("word")
    if found.isdigit():
        number = int(found)
        return next(level for floor, level in _PINO if number >= floor)
    return _WORDS.get(found.upper())


# --- entries and the buffer ----------------------------------------------------------------


class LogEntry(NamedTuple):
    """One safe line. `seq` counts every line ever added, so it survives ring drops."""

    seq: int
    service: str
    text: str
    time: datetime | None = None
    level: int | None = None  # a Level's value: a plain int keeps the tuple out of the GC
    stream: str = "stdout"
    note: bool = False  # the console's own words about the stream, not a line from it


class LineLike(Protocol):
    """What `extend` needs from a runtime's LogLine."""

    @property
    def service(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def time(self) -> datetime | None: ...
    @property
    def stream(self) -> str: ...


# Field positions, for code that reads stored rows (plain tuples) and LogEntry alike.
SEQ: Final = 0
SERVICE: Final = 1
TEXT: Final = 2
LEVEL: Final = 4
NOTE: Final = 6
Row = tuple[int, str, str, "datetime | None", "int | None", str, bool]
_entry = LogEntry._make


class LogBuffer:
    """A ring of sanitised, redacted entries with a count of what fell off the front.

    Rows are stored as plain tuples of atomic values (str, int, datetime, None), which
    CPython's cycle collector stops tracking; a NamedTuple would stay tracked, and 200,000
    of them add ~45 ms to every full collection, felt as stalls in the UI. They are handed
    out as `LogEntry`.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, limit: int = MAX_LINE) -> None:
        self.capacity = capacity
        self.limit = limit
        self.dropped = 0
        self._rows: deque[Row] = deque(maxlen=capacity)
        self._next = 0
        self._last_level: dict[str, int | None] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> LogEntry:
        return _entry(self._rows[index])

    def __iter__(self) -> Iterator[LogEntry]:
        return map(_entry, self._rows)

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest entry still held."""
        return self._next - len(self._rows)

    @property
    def next_seq(self) -> int:
        return self._next

    def by_seq(self, seq: int) -> LogEntry | None:
        index = seq - self.first_seq
        return _entry(self._rows[index]) if 0 <= index < len(self._rows) else None

    def append(
        self,
        service: str,
        text: str | bytes,
        time: datetime | None = None,
        stream: str = "stdout",
        note: bool = False,
    ) -> LogEntry:
        """Sanitise, truncate, redact, classify and store one line; returns the entry."""
        return _entry(self._add(service, text, time, stream, note))

    def extend(self, lines: Iterable[LineLike]) -> list[Row]:
        """Add runtime lines in order; returns the new rows (some may already be dropped).

        Rows, not LogEntry: this is the hot path of a flood, and callers read a few fields.
        """
        add = self._add
        return [add(ln.service, ln.text, ln.time, ln.stream, False) for ln in lines]

    def _add(
        self, service: str, text: str | bytes, time: datetime | None, stream: str, note: bool
    ) -> Row:
        clean = sanitize(text, self.limit)
        marker = clean.rfind("… [truncated ") if len(clean) > self.limit else -1
        clean = redact(clean) if marker < 0 else redact(clean[:marker]) + clean[marker:]
        level = _level_value(clean)
        if level is None and clean[:1] in (" ", "\t"):  # a stack trace's continuation
            level = self._last_level.get(service)
        else:
            self._last_level[service] = level
        row = (self._next, service, clean, time, level, stream, note)
        if len(self._rows) == self.capacity:
            self.dropped += 1
        self._rows.append(row)
        self._next += 1
        return row

    def clear(self) -> None:
        self._rows.clear()

    def search(self, query: str | re.Pattern[str]) -> list[int]:
        """Indices (into the buffer as it is now) of the entries the query matches."""
        search = (compile_query(query) if isinstance(query, str) else query).search
        return [i for i, row in enumerate(self._rows) if search(row[TEXT])]

    def filter(self, log_filter: LogFilter) -> list[int]:
        """Indices of the entries a filter lets through."""
        accepts = log_filter.accepts
        return [i for i, row in enumerate(self._rows) if accepts(row)]


# --- queries and filters -----------------------------------------------------------------


def compile_query(text: str) -> re.Pattern[str]:
    """A search as the operator typed it: a regex, case-insensitive unless it has capitals.

    Text that is not a valid regex is searched literally, so `foo(` still finds `foo(`.
    """
    flags = 0 if any(c.isupper() for c in text) else re.IGNORECASE
    try:
        return re.compile(text, flags)
    except re.error:
        return re.compile(re.escape(text), flags)


def is_literal(text: str) -> bool:
    """Whether `compile_query` fell back to a literal search for this text."""
    try:
        re.compile(text)
    except re.error:
        return True
    return False


class LogFilter(NamedTuple):
    """Which lines to show: a minimum level and/or a pattern. The console's notes always pass.

    Lines without a level are hidden once a minimum level is set: they cannot be shown to
    meet it (stack-trace continuations inherit their first line's level, see `append`).
    """

    min_level: Level | None = None
    pattern: re.Pattern[str] | None = None

    @property
    def active(self) -> bool:
        return self.min_level is not None or self.pattern is not None

    def accepts(self, entry: Row) -> bool:
        """For a LogEntry or a stored row (fields read by position)."""
        if entry[NOTE]:
            return True
        level = entry[LEVEL]
        if self.min_level is not None and (level is None or level < self.min_level):
            return False
        return self.pattern is None or self.pattern.search(entry[TEXT]) is not None

    def describe(self) -> str:
        parts = []
        if self.min_level is not None:
            name = self.min_level.name
            parts.append("level ERROR" if self.min_level is Level.ERROR else f"level ≥{name}")
        if self.pattern is not None:
            parts.append(f"&{self.pattern.pattern}")
        return " ".join(parts)


# --- plain text out ------------------------------------------------------------------------


def format_plain(entry: LogEntry, with_service: bool = True, with_time: bool = True) -> str:
    """One entry as a line of a saved file: ISO time, service, text (already redacted)."""
    parts = []
    if with_time and entry.time is not None:
        parts.append(entry.time.isoformat())
    if with_service:
        parts.append(f"{entry.service} |")
    parts.append(entry.text)
    return " ".join(parts)


def to_text(entries: Iterable[LogEntry], with_service: bool = True) -> str:
    """The text a saved log file holds; every line is re-masked on the way out as well."""
    return "".join(mask(format_plain(e, with_service)) + "\n" for e in entries)
