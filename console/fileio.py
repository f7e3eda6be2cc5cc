"""Atomic file writes: a crash or SIGKILL mid-write leaves the old file or the new one whole.

The temporary file is created exclusively (O_EXCL) and without following links (O_NOFOLLOW)
in the target's directory with mode 0600 (it may hold secrets while it exists), written,
fsynced, given its final mode, then renamed over the target; the directory is fsynced so
the rename itself survives a power cut. Temporaries a killed writer left behind
(`.NAME.<hex>.tmp`, older than a minute) are removed by the next write of NAME.

Path problems (a missing directory, a directory where the file should be) are PathError:
one line naming the path, never a traceback with a temporary file's name in it.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from pathlib import Path

STALE_TMP_AGE_S = 60.0  # a temporary this old belongs to no running write


class PathError(OSError):
    """A path that cannot be used as asked; its message names the path (one line)."""


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
    keeps the old file's times and gets mode 0600 unless `backup_mode` says otherwise: a
    backup is the old content set aside for its owner, and a compose file's old content is
    often every plaintext secret the rewrite just removed.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_symlink():
        raise PathError(f"{path}: refusing to write through a symbolic link")
    check_writable_file(path)
    remove_stale_temporaries(path)
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
    mode = 0o600 if mode is None else mode
    _replace_atomic(backup_path, directory, data, mode, times=(info.st_atime_ns, info.st_mtime_ns))


def _replace_atomic(
    path: Path, directory: Path, data: bytes, mode: int, times: tuple[int, int] | None = None
) -> None:
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
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


def check_writable_file(path: Path) -> None:
    """Raise PathError (naming `path`) when a file cannot be written there at all."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise PathError(f"{path}: is a directory; give a file name")
    if not directory.exists():
        raise PathError(f"{path}: directory {directory} does not exist")
    if not directory.is_dir():
        raise PathError(f"{path}: {directory} is not a directory")


def check_state_dir(path: Path) -> None:
    """`--state-dir`: a directory, or a path where one can be made; PathError otherwise."""
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise PathError(f"--state-dir {path}: {parent} is a file, not a directory")
            return


def remove_stale_temporaries(path: Path, max_age: float = STALE_TMP_AGE_S) -> list[Path]:
    """Delete `.NAME.<hex>.tmp` files a killed write of `path` left behind; returns them."""
    directory = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(re.escape(f".{path.name}.") + r"[0-9a-f]{12}\.tmp")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= max_age:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
