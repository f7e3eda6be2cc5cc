"""JSON arguments for queries and signals, checked before anything is sent.

Operators type them (`--args '["rahim", "budget ok"]'` or in the console's dialog), so a
mistake must come back as one line that says what is wrong and where, not a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from console.temporal.types import TemporalError

MAX_ARGS_BYTES = 64 * 1024


class ArgsError(TemporalError):
    """Bad JSON arguments; str() is one line."""


def parse_args(text: str | None) -> list[Any]:
    """A JSON array of arguments ("" or None: no arguments). A lone object is one argument."""
    if text is None or not text.strip():
        return []
    if len(text.encode()) > MAX_ARGS_BYTES:
        raise ArgsError(f"arguments: more than {MAX_ARGS_BYTES // 1024} KiB of JSON")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgsError(f"arguments: invalid JSON at line {exc.lineno} column {exc.colno}:"
                        f" {exc.msg}") from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise ArgsError("arguments: expected a JSON array of arguments, e.g. "
                        '["rahim", "budget ok"], or one JSON object')
    return value


def check_name(kind: str, name: str) -> str:
    """A query or signal name: non-empty, printable, no spaces around it."""
    name = name.strip()
    if not name or any(not c.isprintable() for c in name) or len(name) > 200:
        raise ArgsError(f"{kind} name {name!r} must be 1-200 printable characters")
    return name
