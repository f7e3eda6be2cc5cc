"""Stack files: TOML in, `console.model.Stack` out, with errors an operator can act on.

A typo in a stack file must not surface later as a baffling status ("blocked by postgress"),
so everything is checked at load time and reported as ONE line naming the file, the line,
the field and the problem, e.g.

    stack.toml:42: service "auth": depends_on: unknown dependency "postgress" (did you mean
    "postgres"?)

(printed on one line). `tomllib` gives no line numbers for values, so `_Locator` finds them
by scanning the text for the table header and the key. The file format is documented in
`docs/stack-file.md`; `dump_stack` writes the same format back (used by the compose importer).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, cast

import tomli_w

from console.model import (
    CHECK_KINDS,
    CheckKind,
    ComposeSource,
    HealthCheck,
    KubernetesSettings,
    RuntimeNames,
    Service,
    Stack,
    TemporalSettings,
    Where,
    find_cycle,
)

BUNDLED_SOURCE = "<bundled>"
BUNDLED_RESOURCE = ("data", "vextrus.toml")

SERVICE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

TOP_KEYS = ("stack", "services")
STACK_KEYS = ("name", "project", "tiers", "phases", "temporal", "kubernetes", "compose")
COMPOSE_KEYS = ("files", "env_files", "profiles", "project_directory")
KUBERNETES_KEYS = ("context", "namespace", "label", "production")
# A namespace is a DNS-1123 label; a label key is an optional DNS prefix and a name.
K8S_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
K8S_LABEL_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
TEMPORAL_KEYS = ("address", "namespace", "task_queues", "tls", "api_key_env")
SERVICE_KEYS = (
    "tier", "phase", "ports", "depends_on", "description", "environment", "checks", "runtime",
)
CHECK_KEYS = tuple(f.name for f in fields(HealthCheck))
RUNTIME_KEYS = ("compose", "k8s", "local")
K8S_KINDS = ("deployment", "statefulset")
WHERES = ("host", "inside")

# Check fields that only mean something for some kinds: a `path` on a tcp check is a
# mistake (the author meant http), not something to ignore silently.
_FIELD_KINDS: dict[str, tuple[str, ...]] = {
    "path": ("http",),
    "expect_status": ("http",),
    "command": ("exec",),
    "user": ("postgres",),
    "database": ("postgres",),
    "password_env": ("postgres", "redis"),
    "namespace": ("temporal",),
    "task_queues": ("temporal",),
}

Path_ = tuple[str | int, ...]


class StackFileError(Exception):
    """A stack (or compose) file problem as one line: `FILE:LINE: FIELD: PROBLEM`.

    The line number is left out when it cannot be found (e.g. a missing table).
    """

    def __init__(self, source: str, problem: str, line: int | None = None) -> None:
        self.source = source
        self.problem = " ".join(problem.split("\n"))
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {self.problem}")


# --- public API -------------------------------------------------------------------------


def load_stack(path: str | Path | None = None) -> Stack:
    """Load a stack file; None loads the bundled Vextrus inventory.

    Unreadable files raise StackFileError too, so callers handle one exception type.
    """
    if path is None:
        resource = resources.files("console").joinpath(*BUNDLED_RESOURCE)
        return parse_stack(resource.read_text(encoding="utf-8"), BUNDLED_SOURCE)
    source = str(path)
    return parse_stack(read_text(path, source), source)


def read_text(path: str | Path, source: str) -> str:
    """Read a UTF-8 text file, turning every OS and decoding error into StackFileError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise StackFileError(source, "file not found") from None
    except IsADirectoryError:
        raise StackFileError(source, "is a directory, not a file") from None
    except PermissionError:
        raise StackFileError(source, "permission denied") from None
    except OSError as exc:
        raise StackFileError(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StackFileError(source, "not UTF-8 text", line) from None


def parse_stack(text: str, source: str) -> Stack:
    """Parse and validate stack-file text; `source` names the file in messages."""
    data = _load_toml(text, source)
    r = _Reader(source, _Locator(text))
    r.known_keys((), data, TOP_KEYS)
    settings = _parse_stack_table(r, data.get("stack", {}), source)
    if settings.compose is not None and "services" not in data:
        data = {**data, "services": {}}  # the compose project declares them
    services = _parse_services(r, data, settings.tiers, settings.compose is not None)
    if settings.compose is None:
        _check_dependencies(r, services)  # with Compose: checked once merged with its model
    return Stack(
        name=settings.name,
        services=tuple(services),
        project=settings.project,
        tiers=settings.tiers,
        phases=settings.phases,
        temporal=settings.temporal,
        source=source,
        kubernetes=settings.kubernetes,
        compose=settings.compose,
    )


def dump_stack(stack: Stack, header: str = "") -> str:
    """Write `stack` as stack-file TOML that `parse_stack` reads back to an equal Stack.

    Fields at their defaults are left out, so generated files stay short and readable.
    `header` (comment lines without the `#`) goes on top.
    """
    doc: dict[str, Any] = {"stack": _stack_table(stack), "services": {}}
    for service in stack.services:
        doc["services"][service.name] = _service_table(service)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + tomli_w.dumps(doc)


# --- TOML syntax ------------------------------------------------------------------------

_TOML_POS_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_TWICE_RE = re.compile(r"^Cannot declare \((.*)\) twice$")


def _load_toml(text: str, source: str) -> dict[str, Any]:
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
        what = f"key {_q(key)}" if key else "a key"
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
            f"service {_q(names[1])} is declared twice "
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


class _Locator:
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


# --- reading values -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    """Carries the source name and locator so each check can fail with file, line, field."""

    source: str
    locator: _Locator

    def fail(self, path: Path_, problem: str, label: Path_ | None = None) -> NoReturn:
        """Raise for the value at `path`; `label` names the field when it differs."""
        where = _label(path if label is None else label)
        text = f"{where}: {problem}" if where else problem
        raise StackFileError(self.source, text, self.locator.line_of(path))

    def known_keys(self, path: Path_, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
        """Reject keys the format does not define, suggesting the closest real one."""
        allowed = list(allowed)
        for key in table:
            if key not in allowed:
                self.fail((*path, key), _unknown_key(key, allowed, path), label=path)

    def table(self, path: Path_, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a table, got {_describe(value)}")
        return value

    def string(self, path: Path_, value: Any, nonempty: bool = True) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_describe(value)}")
        if nonempty and not value.strip():
            self.fail(path, "must not be empty")
        return value

    def integer(self, path: Path_, value: Any, low: int, high: int | None, what: str) -> int:
        """An int within [low, high]; bools are rejected although Python counts them as ints."""
        span = f"{low}-{high}" if high is not None else f">= {low}"
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"expected an integer {span}, got {_describe(value)}")
        if high is None and value < low:
            self.fail(path, f"must be >= {low}, got {value}")
        if high is not None and not low <= value <= high:
            self.fail(path, f"{what} {value} is outside {span}")
        return value

    def strings(self, path: Path_, value: Any) -> tuple[str, ...]:
        items = self.array(path, value)
        return tuple(self.string((*path, i), item) for i, item in enumerate(items))

    def array(self, path: Path_, value: Any) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"expected an array, got {_describe(value)}")
        return value

    def env_name(self, path: Path_, value: Any) -> str:
        """An environment variable NAME; a `NAME=value` is refused without echoing the value."""
        name = self.string(path, value)
        if "=" in name:
            self.fail(path, f"names only, never values: write {_q(name.split('=', 1)[0])}")
        if not ENV_NAME_RE.match(name):
            self.fail(path, f"{_q(name)} is not an environment variable name")
        return name


def _label(path: Path_) -> str:
    """Key path -> the field as an operator reads it: `service "auth": checks[0].port`."""
    if not path:
        return ""
    if path[0] == "services" and len(path) >= 2:
        head, rest = f"service {_q(str(path[1]))}", path[2:]
    else:
        head, rest = "", path
    dotted = ""
    for part in rest:
        dotted += f"[{part}]" if isinstance(part, int) else (f".{part}" if dotted else part)
    if head and dotted:
        return f"{head}: {dotted}"
    return head or dotted


def _unknown_key(key: str, allowed: list[str], path: Path_) -> str:
    if key == "password":
        return 'unknown key "password": passwords are never stored; use password_env'
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key {_q(key)} (did you mean {_q(close[0])}?)"
    where = f"[{_label(path)}]" if path else "the top level"
    return f"unknown key {_q(key)} (allowed in {where}: {', '.join(allowed)})"


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {_q(close[0])}?)" if close else ""


def _describe(value: Any) -> str:
    """`integer 5`, `string "x"`, `array`: enough to see the mistake, one line."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {_q(shown)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _q(text: str) -> str:
    """Quote for messages; JSON escaping keeps control characters from breaking the line."""
    return json.dumps(text, ensure_ascii=False)


# --- [stack] --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    name: str
    project: str
    tiers: tuple[str, ...]
    phases: dict[int, str]
    temporal: TemporalSettings | None
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
    compose: ComposeSource | None = None


def _parse_stack_table(r: _Reader, raw: Any, source: str) -> _Settings:
    """[stack]: optional; a file without it is named after the file."""
    path: Path_ = ("stack",)
    table = r.table(path, raw)
    r.known_keys(path, table, STACK_KEYS)
    default_name = Path(source).stem.strip("<>") or "stack"
    name = r.string((*path, "name"), table.get("name", default_name))
    default_project = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "stack"
    project = r.string((*path, "project"), table.get("project", default_project))
    if not PROJECT_RE.match(project):
        r.fail((*path, "project"), f"{_q(project)} is not a valid compose project name "
               "(lowercase letters, digits, '-' and '_', starting with a letter or digit)")
    tiers = r.strings((*path, "tiers"), table.get("tiers", []))
    _no_duplicates(r, (*path, "tiers"), tiers, "tier")
    phases = _parse_phases(r, table.get("phases", {}))
    temporal = None
    if "temporal" in table:
        temporal = _parse_temporal(r, table["temporal"])
    kubernetes = _parse_kubernetes(r, table.get("kubernetes", {}))
    compose = _parse_compose(r, table["compose"], source) if "compose" in table else None
    return _Settings(name, project, tiers, phases, temporal, kubernetes, compose)


def _parse_compose(r: _Reader, raw: Any, source: str) -> ComposeSource:
    """[stack.compose]: the compose project this stack file adds to (paths relative to it)."""
    path: Path_ = ("stack", "compose")
    table = r.table(path, raw)
    r.known_keys(path, table, COMPOSE_KEYS)
    files = r.strings((*path, "files"), table.get("files", []))
    if not files:
        r.fail((*path, "files"), "name at least one compose file, e.g. [\"compose.yaml\"]")
    base = Path(source).parent if not source.startswith("<") else Path.cwd()

    def here(p: str) -> str:
        return str(base / p) if not Path(p).is_absolute() else p

    project_dir = None
    if "project_directory" in table:
        project_dir = here(r.string((*path, "project_directory"), table["project_directory"]))
    return ComposeSource(
        files=tuple(here(f) for f in files),
        env_files=tuple(here(f) for f in r.strings((*path, "env_files"),
                                                    table.get("env_files", []))),
        profiles=r.strings((*path, "profiles"), table.get("profiles", [])),
        project_dir=project_dir,
    )


def _parse_kubernetes(r: _Reader, raw: Any) -> KubernetesSettings:
    """[stack.kubernetes]: context, namespace, workload label key, production pattern."""
    path: Path_ = ("stack", "kubernetes")
    table = r.table(path, raw)
    r.known_keys(path, table, KUBERNETES_KEYS)
    defaults = KubernetesSettings()
    context = r.string((*path, "context"), table["context"]) if "context" in table else None
    namespace = None
    if "namespace" in table:
        namespace = r.string((*path, "namespace"), table["namespace"])
        if not K8S_NAMESPACE_RE.match(namespace):
            r.fail((*path, "namespace"), f"{_q(namespace)} is not a valid namespace "
                   "(lowercase letters, digits and '-', at most 63, e.g. \"vextrus\")")
    label = r.string((*path, "label"), table.get("label", defaults.label))
    if not K8S_LABEL_KEY_RE.match(label):
        r.fail((*path, "label"), f"{_q(label)} is not a valid label key "
               "(e.g. \"app.kubernetes.io/name\" or \"app\")")
    production = r.string((*path, "production"), table.get("production", defaults.production))
    return KubernetesSettings(context, namespace, label, production)


def _parse_phases(r: _Reader, raw: Any) -> dict[int, str]:
    """[stack.phases]: TOML keys are strings, so "0" = "infrastructure" becomes {0: ...}."""
    path: Path_ = ("stack", "phases")
    table = r.table(path, raw)
    phases: dict[int, str] = {}
    for key, label in table.items():
        if not re.fullmatch(r"\d+", key):
            r.fail((*path, key), f"phase {_q(key)} must be a whole number >= 0")
        phases[int(key)] = r.string((*path, key), label)
    return dict(sorted(phases.items()))


def _parse_temporal(r: _Reader, raw: Any) -> TemporalSettings:
    path: Path_ = ("stack", "temporal")
    table = r.table(path, raw)
    r.known_keys(path, table, TEMPORAL_KEYS)
    defaults = TemporalSettings()
    address = r.string((*path, "address"), table.get("address", defaults.address))
    _check_address(r, (*path, "address"), address)
    tls = table.get("tls", defaults.tls)
    if not isinstance(tls, bool):
        r.fail((*path, "tls"), f"expected true or false, got {_describe(tls)}")
    api_key_env = None
    if "api_key_env" in table:
        api_key_env = r.env_name((*path, "api_key_env"), table["api_key_env"])
    return TemporalSettings(
        address=address,
        namespace=r.string((*path, "namespace"), table.get("namespace", defaults.namespace)),
        task_queues=r.strings(
            (*path, "task_queues"), table.get("task_queues", list(defaults.task_queues))
        ),
        tls=tls,
        api_key_env=api_key_env,
    )


def _check_address(r: _Reader, path: Path_, address: str) -> None:
    """`host:port`, the form the Temporal client takes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        r.fail(path, f"{_q(address)} must be host:port, e.g. \"127.0.0.1:7233\"")
    if not _valid_host(host.strip("[]")):
        r.fail(path, f"{_q(host)} is not a valid IP address or hostname")
    if not 1 <= int(port) <= 65535:
        r.fail(path, f"port {port} is outside 1-65535")


def _no_duplicates(r: _Reader, path: Path_, items: Iterable[Any], what: str) -> None:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if item in seen:
            r.fail((*path, i), f"{what} {_q(str(item))} is listed twice")
        seen.add(item)


# --- [services] ---------------------------------------------------------------------------


def _parse_services(
    r: _Reader, data: Mapping[str, Any], tiers: tuple[str, ...], overlay: bool = False
) -> list[Service]:
    if "services" not in data:
        r.fail((), "no [services] table: a stack file must declare at least one service")
    table = r.table(("services",), data["services"])
    if not table and not overlay:
        r.fail(("services",), "[services] is empty: declare at least one service")
    return [_parse_service(r, name, raw, tiers) for name, raw in table.items()]


def _parse_service(r: _Reader, name: str, raw: Any, tiers: tuple[str, ...]) -> Service:
    path: Path_ = ("services", name)
    if not SERVICE_NAME_RE.match(name):
        r.fail(path, "invalid service name: use lowercase letters, digits and '-', "
               "starting with a letter or digit, at most 63 characters")
    table = r.table(path, raw)
    r.known_keys(path, table, SERVICE_KEYS)
    tier = r.string((*path, "tier"), table.get("tier", "core"))
    if tiers and tier not in tiers:
        r.fail((*path, "tier"), f"unknown tier {_q(tier)}{_did_you_mean(tier, tiers)} "
               f"(stack.tiers: {', '.join(tiers)})")
    ports = tuple(
        r.integer((*path, "ports", i), p, 1, 65535, "port")
        for i, p in enumerate(r.array((*path, "ports"), table.get("ports", [])))
    )
    _no_duplicates(r, (*path, "ports"), ports, "port")
    depends_on = r.strings((*path, "depends_on"), table.get("depends_on", []))
    _no_duplicates(r, (*path, "depends_on"), depends_on, "dependency")
    environment = tuple(
        r.env_name((*path, "environment", i), e)
        for i, e in enumerate(r.array((*path, "environment"), table.get("environment", [])))
    )
    return Service(
        name=name,
        tier=tier,
        phase=r.integer((*path, "phase"), table.get("phase", 0), 0, None, "phase"),
        ports=ports,
        checks=_parse_checks(r, path, table.get("checks", [])),
        depends_on=depends_on,
        runtime=_parse_runtime(r, (*path, "runtime"), table.get("runtime", {})),
        description=r.string((*path, "description"), table.get("description", ""), False),
        environment=environment,
    )


def _parse_runtime(r: _Reader, path: Path_, raw: Any) -> RuntimeNames:
    table = r.table(path, raw)
    r.known_keys(path, table, RUNTIME_KEYS)
    compose = r.string((*path, "compose"), table["compose"]) if "compose" in table else None
    k8s = r.string((*path, "k8s"), table["k8s"]) if "k8s" in table else None
    if k8s and "/" in k8s:
        kind = k8s.split("/", 1)[0]
        if kind not in K8S_KINDS:
            hint = _did_you_mean(kind, K8S_KINDS)
            r.fail((*path, "k8s"), f"unknown workload kind {_q(kind)}{hint} "
                   "(use deployment/NAME, statefulset/NAME or a plain NAME)")
    local = r.strings((*path, "local"), table.get("local", []))
    return RuntimeNames(compose=compose, k8s=k8s, local=local)


# --- checks ---------------------------------------------------------------------------------


def _parse_checks(r: _Reader, service_path: Path_, raw: Any) -> tuple[HealthCheck, ...]:
    path = (*service_path, "checks")
    items = r.array(path, raw)
    return tuple(_parse_check(r, (*path, i), item) for i, item in enumerate(items))


def _parse_check(r: _Reader, path: Path_, raw: Any) -> HealthCheck:
    """One health check; every field is checked against its kind so typos fail early."""
    table = r.table(path, raw)
    r.known_keys(path, table, CHECK_KEYS)
    kind = _check_kind(r, path, table)
    for key, kinds in _FIELD_KINDS.items():
        if key in table and kind not in kinds:
            r.fail((*path, key), f"applies to {' and '.join(kinds)} checks only, "
                   f"not to a {kind} check")
    port = _check_port(r, path, table, kind)
    defaults = HealthCheck(kind=kind)
    return HealthCheck(
        kind=kind,
        port=port,
        host=_check_host(r, (*path, "host"), table.get("host", defaults.host)),
        path=_check_path(r, (*path, "path"), table.get("path", defaults.path)),
        where=_check_where(r, (*path, "where"), table.get("where", _default_where(kind))),
        timeout=_check_timeout(r, (*path, "timeout"), table.get("timeout", defaults.timeout)),
        expect_status=_optional_status(r, (*path, "expect_status"), table.get("expect_status")),
        command=_check_command(r, path, table, kind),
        user=_optional_str(r, (*path, "user"), table.get("user")),
        database=_optional_str(r, (*path, "database"), table.get("database")),
        password_env=_optional_env(r, (*path, "password_env"), table.get("password_env")),
        namespace=_optional_str(r, (*path, "namespace"), table.get("namespace")),
        task_queues=r.strings((*path, "task_queues"), table.get("task_queues", [])),
    )


def _default_where(kind: str) -> str:
    """An exec check runs a command inside the container, so that is where it lives."""
    return "inside" if kind == "exec" else "host"


def _check_kind(r: _Reader, path: Path_, table: Mapping[str, Any]) -> CheckKind:
    if "kind" not in table:
        r.fail(path, f"check has no kind (one of: {', '.join(CHECK_KINDS)})")
    kind = r.string((*path, "kind"), table["kind"])
    if kind not in CHECK_KINDS:
        hint = _did_you_mean(kind, CHECK_KINDS) or f" (one of: {', '.join(CHECK_KINDS)})"
        r.fail((*path, "kind"), f"unknown check kind {_q(kind)}{hint}")
    return cast(CheckKind, kind)


def _check_port(r: _Reader, path: Path_, table: Mapping[str, Any], kind: str) -> int | None:
    """Every kind but exec connects somewhere, so it needs a port."""
    if "port" not in table:
        if kind == "exec":
            return None
        r.fail(path, f"{kind} check has no port")
    return r.integer((*path, "port"), table["port"], 1, 65535, "port")


def _check_host(r: _Reader, path: Path_, value: Any) -> str:
    host = r.string(path, value)
    if not _valid_host(host):
        r.fail(path, f"{_q(host)} is not a valid IP address or hostname")
    return host


def _valid_host(host: str) -> bool:
    """An IP address (v4 or v6) or an RFC 1123 hostname such as localhost or kafka.internal."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if not host or len(host) > 253 or re.fullmatch(r"[\d.]+", host):
        return False  # all-digit "hostnames" are mistyped IPs
    return all(_HOST_LABEL_RE.match(label) for label in host.rstrip(".").split("."))


def _check_path(r: _Reader, path: Path_, value: Any) -> str:
    text = r.string(path, value)
    if not text.startswith("/"):
        r.fail(path, f"{_q(text)} must start with \"/\"")
    if any(c.isspace() for c in text):
        r.fail(path, f"{_q(text)} must not contain spaces")
    return text


def _check_where(r: _Reader, path: Path_, value: Any) -> Where:
    where = r.string(path, value)
    if where not in WHERES:
        r.fail(path, f"{_q(where)} must be \"host\" or \"inside\"")
    return cast(Where, where)


def _check_timeout(r: _Reader, path: Path_, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        r.fail(path, f"expected seconds (a number > 0), got {_describe(value)}")
    if not math.isfinite(value) or value <= 0:
        r.fail(path, f"must be > 0 seconds, got {value}")
    return float(value)


def _check_command(
    r: _Reader, path: Path_, table: Mapping[str, Any], kind: str
) -> tuple[str, ...]:
    if kind != "exec":
        return ()
    if "command" not in table:
        r.fail(path, "exec check has no command")
    command = r.strings((*path, "command"), table["command"])
    if not command:
        r.fail((*path, "command"), "must not be empty")
    return command


def _optional_status(r: _Reader, path: Path_, value: Any) -> int | None:
    return None if value is None else r.integer(path, value, 100, 599, "HTTP status")


def _optional_str(r: _Reader, path: Path_, value: Any) -> str | None:
    return None if value is None else r.string(path, value)


def _optional_env(r: _Reader, path: Path_, value: Any) -> str | None:
    return None if value is None else r.env_name(path, value)


# --- dependencies ---------------------------------------------------------------------------


def _check_dependencies(r: _Reader, services: list[Service]) -> None:
    """Unknown names and self-loops first (clearest), then cycles, then phase order."""
    names = [s.name for s in services]
    for s in services:
        for i, dep in enumerate(s.depends_on):
            path: Path_ = ("services", s.name, "depends_on", i)
            if dep == s.name:
                r.fail(path, f"{_q(dep)} depends on itself")
            if dep not in names:
                r.fail(path, f"unknown dependency {_q(dep)}{_did_you_mean(dep, names)}")
    cycle = find_cycle(services)
    if cycle:
        first = cycle[0]
        r.fail(("services", first, "depends_on"), f"dependency cycle: {' -> '.join(cycle)}")
    _check_phase_order(r, services)


def _check_phase_order(r: _Reader, services: list[Service]) -> None:
    """A phased bring-up starts phase by phase: a dependency in a later phase would block it."""
    phase = {s.name: s.phase for s in services}
    for s in services:
        for i, dep in enumerate(s.depends_on):
            if phase[dep] > s.phase:
                r.fail(("services", s.name, "depends_on", i),
                       f"{_q(dep)} starts in phase {phase[dep]}, after this service "
                       f"(phase {s.phase}); a dependency must be in the same or an earlier phase")


# --- writing --------------------------------------------------------------------------------


def _stack_table(stack: Stack) -> dict[str, Any]:
    table: dict[str, Any] = {"name": stack.name, "project": stack.project}
    if stack.tiers:
        table["tiers"] = list(stack.tiers)
    if stack.phases:
        table["phases"] = {str(k): v for k, v in sorted(stack.phases.items())}
    if stack.temporal is not None:
        table["temporal"] = _temporal_table(stack.temporal)
    if stack.kubernetes != KubernetesSettings():
        k8s = {"context": stack.kubernetes.context, "namespace": stack.kubernetes.namespace,
               "label": stack.kubernetes.label, "production": stack.kubernetes.production}
        table["kubernetes"] = {k: v for k, v in k8s.items() if v is not None}
    return table


def _temporal_table(t: TemporalSettings) -> dict[str, Any]:
    table: dict[str, Any] = {
        "address": t.address, "namespace": t.namespace, "task_queues": list(t.task_queues),
    }
    if t.tls:
        table["tls"] = True
    if t.api_key_env:
        table["api_key_env"] = t.api_key_env
    return table


def _service_table(s: Service) -> dict[str, Any]:
    table: dict[str, Any] = {"tier": s.tier, "phase": s.phase, "ports": list(s.ports),
                             "depends_on": list(s.depends_on)}
    if s.description:
        table["description"] = s.description
    if s.environment:
        table["environment"] = list(s.environment)
    runtime = _runtime_table(s.runtime)
    if runtime:
        table["runtime"] = runtime
    if s.checks:
        table["checks"] = [_check_table(c) for c in s.checks]
    return table


def _runtime_table(rt: RuntimeNames) -> dict[str, Any]:
    table: dict[str, Any] = {}
    if rt.compose:
        table["compose"] = rt.compose
    if rt.k8s:
        table["k8s"] = rt.k8s
    if rt.local:
        table["local"] = list(rt.local)
    return table


def _check_table(c: HealthCheck) -> dict[str, Any]:
    """Only the fields that differ from what the loader would fill in."""
    defaults = HealthCheck(kind=c.kind)
    table: dict[str, Any] = {"kind": c.kind}
    for f in fields(HealthCheck):
        value = getattr(c, f.name)
        default = _default_where(c.kind) if f.name == "where" else getattr(defaults, f.name)
        keep = c.kind == "http" and f.name == "path"  # the one field a reader looks for
        if f.name == "kind" or value is None or (value == default and not keep):
            continue
        table[f.name] = list(value) if isinstance(value, tuple) else value
    return table
