"""Where a problem is: TOML syntax errors made readable, and line numbers for values.

tomllib says line and column for syntax errors but keeps no positions for values, so
`Locator` finds them by scanning the text for the table header and the key.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from console.stackfile.errors import Path_, StackFileError, quoted

# --- TOML syntax ------------------------------------------------------------------------

_TOML_POS_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_TWICE_RE = re.compile(r"^Cannot declare \((.*)\) twice$")


def load_toml(text: str, source: str) -> dict[str, Any]:
    """tomllib.loads with its error rewritten as `FILE:LINE: ...` (it says line and column)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(str(exc), text, source) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise StackFileError(source, "arrays or inline tables nested too deeply",
                             toml_nesting_line(text)) from None


def toml_nesting_line(text: str, limit: int = 100) -> int | None:
    """The line where `[`/`{` nesting first passes `limit` (strings and comments skipped),
    to name it when tomllib gives up on a hostile file."""
    depth, line, quote, i = 0, 1, "", 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
        elif quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif c in "[{":
            depth += 1
            if depth > limit:
                return line
        elif c in "]}":
            depth -= 1
        i += 1
    return None


def _toml_error(message: str, text: str, source: str) -> StackFileError:
    """Make tomllib's message readable: where it is, and what a duplicate really means."""
    pos = _TOML_POS_RE.search(message)
    problem = message[: pos.start()] if pos else message
    line = len(text.splitlines()) or 1
    column = None
    if pos and pos.group(1):
        line, column = int(pos.group(1)), int(pos.group(2))
    twice = _TWICE_RE.match(problem)
    if twice:
        return StackFileError(source, _declared_twice(twice.group(1)), line)
    if problem == "Cannot overwrite a value":
        key = _key_on_line(text, line)
        what = f"key {quoted(key)}" if key else "a key"
        return StackFileError(source, f"{what} is set twice (a key may be set only once)", line)
    if problem == "Illegal character '\\n'":
        problem = "string not closed before the end of the line"
    where = f" (column {column})" if column else ""
    return StackFileError(source, f"TOML syntax error: {problem}{where}", line)


def _declared_twice(tuple_text: str) -> str:
    """`('services', 'auth')` -> a sentence about a duplicate service or table."""
    keys = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", tuple_text)
    names = [a or b for a, b in keys]
    if len(names) == 2 and names[0] == "services":
        return (
            f"service {quoted(names[1])} is declared twice "
            f"([services.{names[1]}] appears more than once; service names must be unique)"
        )
    return f"table [{'.'.join(names)}] is declared twice"


def _key_on_line(text: str, line: int) -> str | None:
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    m = re.match(r"\s*([^=\s][^=]*?)\s*=", lines[line - 1])
    return m.group(1).strip("\"'") if m else None


# --- where things are: line numbers for values ---------------------------------------


class Locator:
    """Finds the line of a value in TOML text, given its key path.

    tomllib drops positions, so this scans the text: table headers (`[services.auth]`,
    `[[services.auth.checks]]`), `key =` lines inside a table's section, and elements of
    inline arrays/tables. Strings and comments are blanked first so their contents never
    look like syntax. Returns None when it cannot tell; messages then omit the line.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.masked = _mask(text)
        self.starts = _line_starts(text)
        self.headers = self._find_headers()

    def line_of(self, path: Path_) -> int | None:
        offset = self._offset_of(path)
        return None if offset is None else self._line(offset)

    def _offset_of(self, path: Path_) -> int | None:
        """Deepest table header on the path, then the key inside it, then inline steps."""
        if not path:
            return None
        for depth in range(len(path), -1, -1):
            start, end = self._table_span(path[:depth])
            if start is None or end is None:
                continue
            if depth == len(path):
                return start
            found = self._find_key(start, end, path[depth], path[depth + 1 :])
            return found if found is not None or depth == 0 else start
        return None

    def _table_span(self, prefix: Path_) -> tuple[int | None, int | None]:
        """Offsets of the header of table `prefix` and of the end of its own keys.

        A prefix may end with an index: the n-th `[[array.of.tables]]` header.
        """
        if not prefix:
            return 0, (self.headers[0][0] if self.headers else len(self.text))
        if any(isinstance(k, int) for k in prefix[:-1]):
            return None, None
        index = prefix[-1] if isinstance(prefix[-1], int) else 0
        keys = tuple(k for k in prefix if isinstance(k, str))
        matches = [i for i, (_, hkeys) in enumerate(self.headers) if hkeys == keys]
        if len(matches) > index:
            i = matches[index]
            end = self.headers[i + 1][0] if i + 1 < len(self.headers) else len(self.text)
            return self.headers[i][0], end
        if isinstance(prefix[-1], str):  # implicit parent: [services.auth] makes [services]
            for offset, hkeys in self.headers:
                if hkeys[: len(keys)] == keys:
                    return offset, offset
        return None, None

    def _find_key(self, start: int, end: int, key: str | int, rest: Path_) -> int | None:
        """Find `key =` inside [start, end), then follow `rest` into its inline value."""
        if isinstance(key, int):
            return None
        k = re.escape(key)
        pattern = re.compile(rf"^[ \t]*(?:{k}|\"{k}\"|'{k}')[ \t]*([=.])", re.M)
        for m in pattern.finditer(self.text, start, end):
            if self.masked[m.start(1)] != m.group(1):
                continue  # inside a string or comment
            if m.group(1) == "=" and rest:
                return self._follow(m.end(1), rest)
            return m.start()
        return None

    def _follow(self, pos: int, rest: Path_) -> int:
        """Walk into an inline array (int steps) or inline table (str steps) from `pos`."""
        for step in rest:
            found = self._element(pos, step)
            if found is None:
                return pos
            pos = found
        return pos

    def _element(self, pos: int, step: str | int) -> int | None:
        """Offset of item `step` (index or key) of the inline array/table at `pos`."""
        m = self.masked
        pos = self._skip_space(pos)
        if pos >= len(m) or m[pos] not in "[{":
            return None
        depth, index = 0, 0
        for i in range(pos, len(m)):
            starts_item = False
            if m[i] in "[{":
                depth += 1
                starts_item = depth == 1
            elif m[i] in "]}":
                depth -= 1
                if depth == 0:
                    return None
            elif m[i] == "," and depth == 1:
                index += 1
                starts_item = True
            if starts_item:
                item = self._skip_space(i + 1)
                if isinstance(step, int) and index == step:
                    return item
                if isinstance(step, str) and (eq := self._key_at(item, step)) is not None:
                    return eq
        return None

    def _key_at(self, pos: int, key: str) -> int | None:
        m = re.compile(rf"{re.escape(key)}[ \t]*=").match(self.masked, pos)
        return m.end() if m else None

    def _skip_space(self, pos: int) -> int:
        while pos < len(self.masked) and self.masked[pos] in " \t\r\n":
            pos += 1
        return pos

    def _find_headers(self) -> list[tuple[int, tuple[str, ...]]]:
        headers = []
        for m in re.finditer(r"^[ \t]*\[\[?(.*?)\]\]?[ \t]*$", self.masked, re.M):
            raw = self.text[m.start(1) : m.end(1)]
            keys = _split_dotted(raw)
            if keys is not None:
                headers.append((m.start() + len(m.group(0)) - len(m.group(0).lstrip()), keys))
        return headers

    def _line(self, offset: int) -> int:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def _split_dotted(raw: str) -> tuple[str, ...] | None:
    """`services."my-svc" . checks` -> ("services", "my-svc", "checks"); None if not keys."""
    part = r"[ \t]*(?:([A-Za-z0-9_-]+)|\"((?:[^\"\\]|\\.)*)\"|'([^']*)')[ \t]*"
    m = re.fullmatch(rf"{part}(?:\.{part})*", raw)
    if not m:
        return None
    keys = re.findall(part, raw)
    return tuple(a or b or c for a, b, c in keys)


def _mask(text: str) -> str:
    """Blank string contents and comments (same length, newlines kept) so scans skip them."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith(('"""', "'''"), i):
            close = text.find(text[i : i + 3], i + 3)
            j = n if close < 0 else close + 3
            _blank(out, i + 3, j - 3)
            i = j
            continue
        elif ch in "\"'":
            j = _string_end(text, i)
            _blank(out, i + 1, j - 1)
            i = j
            continue
        else:
            i += 1
            continue
        _blank(out, i, j)
        i = j
    return "".join(out)


def _string_end(text: str, i: int) -> int:
    """End offset (after the closing quote) of the one-line string opening at `i`."""
    quote, j = text[i], i + 1
    while j < len(text) and text[j] not in (quote, "\n"):
        j += 2 if quote == '"' and text[j] == "\\" else 1
    return min(j + 1, len(text))


def _blank(out: list[str], start: int, end: int) -> None:
    for k in range(start, max(start, end)):
        if out[k] != "\n":
            out[k] = " "
