"""Atomic file writes: a crash or SIGKILL mid-write leaves the old file or the new one whole.

The temporary file is created exclusively (O_EXCL) and without following links (O_NOFOLLOW)
in the target's directory, written, fsynced, given its final mode, then renamed over the
target; the directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def write_text_atomic(
    path: Path,
    text: str,
    mode: int = 0o644,
    backup: bool = False,
    backup_mode: int | None = None,
) -> Path | None:
    """Write `text` to `path` atomically. Returns the backup path when one was made.

    The backup (`NAME.bak`) is written the same way as the file, so it is whole after a
    crash too and an existing `.bak` symlink is replaced rather than written through. It
    keeps the old file's mode and times unless `backup_mode` is given (a file of secrets
    wants 0600 for its backup even if the old file was more open).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_symlink():
        raise OSError(f"{path}: refusing to write through a symbolic link")
    backup_path = None
    if backup and path.exists():
        backup_path = path.with_name(path.name + ".bak")
        _backup(path, backup_path, directory, backup_mode)
    _replace_atomic(path, directory, text.encode("utf-8"), mode)
    _fsync_dir(directory)
    return backup_path


def _backup(path: Path, backup_path: Path, directory: Path, mode: int | None) -> None:
    """Copy `path` to `backup_path` through a temporary file and a rename."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        data = handle.read()
    mode = stat.S_IMODE(info.st_mode) if mode is None else mode
    _replace_atomic(backup_path, directory, data, mode, times=(info.st_atime_ns, info.st_mtime_ns))


def _replace_atomic(
    path: Path, directory: Path, data: bytes, mode: int, times: tuple[int, int] | None = None
) -> None:
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if times is not None:
            os.utime(tmp, ns=times)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
