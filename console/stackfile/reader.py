"""Reading values: each check of a value fails with the file, the line and the field.

`Reader` carries the source name and the locator, so `fail` can name all three; the typed
readers (`table`, `string`, `integer`, ...) say what was expected and what was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from console.stackfile.errors import (
    Path_,
    StackFileError,
    _label,
    _unknown_key,
    describe_value,
    quoted,
)
from console.stackfile.locate import Locator

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")  # a variable's NAME, never its value


@dataclass(frozen=True)
class Reader:
    """Carries the source name and locator so each check can fail with file, line, field."""

    source: str
    locator: Locator

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
            self.fail(path, f"expected a table, got {describe_value(value)}")
        return value

    def string(self, path: Path_, value: Any, nonempty: bool = True) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {describe_value(value)}")
        if nonempty and not value.strip():
            self.fail(path, "must not be empty")
        return value

    def integer(self, path: Path_, value: Any, low: int, high: int | None, what: str) -> int:
        """An int within [low, high]; bools are rejected although Python counts them as ints."""
        span = f"{low}-{high}" if high is not None else f">= {low}"
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(path, f"expected an integer {span}, got {describe_value(value)}")
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
            self.fail(path, f"expected an array, got {describe_value(value)}")
        return value

    def env_name(self, path: Path_, value: Any) -> str:
        """An environment variable NAME; a `NAME=value` is refused without echoing the value."""
        name = self.string(path, value)
        if "=" in name:
            self.fail(path, f"names only, never values: write {quoted(name.split('=', 1)[0])}")
        if not ENV_NAME_RE.match(name):
            self.fail(path, f"{quoted(name)} is not an environment variable name")
        return name
