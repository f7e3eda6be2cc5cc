"""Stack files: TOML in, `console.model.Stack` out, with errors an operator can act on.

A typo in a stack file must not surface later as a baffling status ("blocked by postgress"),
so everything is checked at load time and reported as ONE line naming the file, the line,
the field and the problem, e.g.

    stack.toml:42: service "auth": depends_on: unknown dependency "postgress" (did you mean
    "postgres"?)

(printed on one line). The package, by concern: `schema` (the format's rules, `parse_stack`),
`reader` (reading a value, failing with file, line and field), `errors` (the wording),
`locate` (line numbers: tomllib keeps none for values) and `write` (`dump_stack`, the same
format back, used by the compose importer). The format is documented in
`docs/stack-file.md`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from console.model import Stack
from console.stackfile.errors import StackFileError
from console.stackfile.locate import toml_nesting_line
from console.stackfile.reader import ENV_NAME_RE
from console.stackfile.schema import PROJECT_RE, SERVICE_NAME_RE, parse_stack
from console.stackfile.write import dump_stack

__all__ = [
    "ENV_NAME_RE", "PROJECT_RE", "SERVICE_NAME_RE", "StackFileError", "dump_stack",
    "load_stack", "parse_stack", "read_text", "toml_nesting_line",
]

BUNDLED_SOURCE = "<bundled>"
BUNDLED_RESOURCE = ("data", "vextrus.toml")


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

