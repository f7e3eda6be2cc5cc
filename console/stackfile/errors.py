"""How a stack-file problem is worded: one line naming the file, the line, the field.

The helpers word the field (`service "auth": checks[0].port`), the value, and the closest
real key when one was misspelt; `reader.Reader` raises with them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

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


# --- reading values -----------------------------------------------------------------------


def _label(path: Path_) -> str:
    """Key path -> the field as an operator reads it: `service "auth": checks[0].port`."""
    if not path:
        return ""
    if path[0] == "services" and len(path) >= 2:
        head, rest = f"service {quoted(str(path[1]))}", path[2:]
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
        return f"unknown key {quoted(key)} (did you mean {quoted(close[0])}?)"
    where = f"[{_label(path)}]" if path else "the top level"
    return f"unknown key {quoted(key)} (allowed in {where}: {', '.join(allowed)})"


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {quoted(close[0])}?)" if close else ""


def describe_value(value: Any) -> str:
    """`integer 5`, `string "x"`, `array`: enough to see the mistake, one line."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {quoted(shown)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def quoted(text: str) -> str:
    """Quote for messages; JSON escaping keeps control characters from breaking the line."""
    return json.dumps(text, ensure_ascii=False)
