"""Atomic file writes: a crash or SIGKILL mid-write leaves the old file or the new one whole.

The temporary file is created exclusively (O_EXCL) and without following links (O_NOFOLLOW)
in the target's directory, written, fsynced, given its final mode, then renamed over the
target; the directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def write_text_atomic(
    path: Path, text: str, mode: int = 0o644, backup: bool = False
) -> Path | None:
    """Write `text` to `path` atomically. Returns the backup path when one was made."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_symlink():
        raise OSError(f"{path}: refusing to write through a symbolic link")
    backup_path = None
    if backup and path.exists():
        backup_path = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup_path)
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return backup_path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
