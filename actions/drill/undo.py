"""What a drill must undo, written down before it changes anything.

A drill writes its undo list to `<state dir>/drills/pending/<id>.json` before the fault
goes in and deletes the file once everything is restored. If the console dies in between
(SIGKILL, a crash, a lost SSH session with no SIGHUP handler), the file stays; the next
`drill` command or console start finds it and undoes the leftovers (`undo_leftovers`).
Every undo is idempotent: starting a running container, removing a removed one or deleting
a deleted file is a no-op, so undoing twice is harmless.

Undo operations, as JSON objects:
  {"op": "start", "container": ID}            the service's container must be running
  {"op": "remove", "container": NAME}          a container the drill created (the OOM hog)
  {"op": "delete_file", "container": ID, "path": P}   the disk drill's fill file
  {"op": "forwarder", "listen": "HOST:PORT"}  lives in the process: gone with it (noted)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.fileio import write_text_atomic

if TYPE_CHECKING:
    from console.factory import AppContext
    from console.journal import Journal

Op = dict[str, str]


def pending_dir(state_dir: Path) -> Path:
    return state_dir / "drills" / "pending"


@dataclass
class UndoRecord:
    drill_id: str
    kind: str
    service: str
    pid: int
    ops: list[Op]

    def to_json(self) -> str:
        return json.dumps({"drill": self.drill_id, "kind": self.kind, "service": self.service,
                           "pid": self.pid, "ops": self.ops}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> UndoRecord:
        data = json.loads(text)
        ops = [op for op in data.get("ops", []) if isinstance(op, dict)]
        return cls(str(data["drill"]), str(data["kind"]), str(data["service"]),
                   int(data.get("pid", 0)), ops)


class UndoBook:
    """The pending-undo files of one state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = pending_dir(state_dir)

    def path(self, drill_id: str) -> Path:
        return self.dir / f"{drill_id}.json"

    def write(self, record: UndoRecord) -> None:
        """Written (atomically) before the change it undoes."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path(record.drill_id), record.to_json(), mode=0o600)

    def done(self, drill_id: str) -> None:
        self.path(drill_id).unlink(missing_ok=True)

    def leftovers(self, include_live: bool = False) -> list[UndoRecord]:
        """Records of drills whose process is gone (or all of them with include_live)."""
        found = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                record = UndoRecord.from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if include_live or not _alive(record.pid):
                found.append(record)
        return found


def _alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- doing the undo (docker-py, blocking: call from a thread) ------------------------------


def undo_op(client: Any, op: Op) -> str:
    """Carry out one undo operation; returns what was done, in words."""
    kind = op.get("op", "")
    if kind == "forwarder":
        return f"forwarder {op.get('listen', '?')} ended with the process that ran it"
    import docker

    try:
        container = client.containers.get(op["container"])
    except docker.errors.NotFound:
        return f"{op.get('container', '?')[:12]}: already gone"
    if kind == "start":
        container.reload()
        if container.status == "running":
            return f"{container.name}: running"
        container.start()
        return f"{container.name}: started again"
    if kind == "remove":
        container.remove(force=True)
        return f"{container.name}: removed"
    if kind == "delete_file":
        path = op["path"]
        if not path.startswith("/") or "/.vextrus-drill-" not in path:
            return f"{path}: not a drill file, left alone"
        container.reload()
        if container.status != "running":
            return f"{container.name}: not running, {path} stays until it is"
        result = container.exec_run(["rm", "-f", path])
        return f"{container.name}: {path} deleted" if result.exit_code == 0 else \
            f"{container.name}: rm {path} exited {result.exit_code}"
    return f"unknown undo operation {kind!r}: skipped"


def undo_all(client: Any, record: UndoRecord) -> list[str]:
    """Every op of a record, newest first (the reverse of how they were made)."""
    notes = []
    for op in reversed(record.ops):
        try:
            notes.append(undo_op(client, op))
        except Exception as exc:  # one failed undo must not stop the others
            notes.append(f"{op.get('op')} {op.get('container', '')[:12]}: failed: {exc}")
    return notes


def undo_leftovers(state_dir: Path, client_factory: Callable[[], Any],
                   record_note: Callable[[str, str], None] | None = None) -> list[str]:
    """Undo what crashed drills left behind; returns one line per record."""
    book = UndoBook(state_dir)
    records = book.leftovers()
    if not records:
        return []
    lines = []
    needs_docker = any(op.get("op") != "forwarder" for r in records for op in r.ops)
    client = client_factory() if needs_docker else None
    try:
        for record in records:
            notes = undo_all(client, record)
            line = (f"drill {record.kind} {record.service} ({record.drill_id}) was interrupted:"
                    f" undone: {'; '.join(notes) or 'nothing to undo'}")
            lines.append(line)
            if record_note is not None:
                record_note(record.service, line)
            book.done(record.drill_id)
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
    return lines


def drill_state_dir(journal: Journal | None) -> Path | None:
    """Undo files live beside the journal: one state dir per stack and user."""
    return journal.path.parent if journal is not None else None


def undo_leftovers_for(ctx: AppContext) -> list[str]:
    """What crashed drills left behind, undone (docker-py), journaled; one line each."""
    state_dir = drill_state_dir(ctx.journal)
    if state_dir is None:
        return []

    def client() -> Any:
        import docker

        host = getattr(ctx.runtime, "host", None)
        return (docker.DockerClient(base_url=host, version="auto", timeout=30) if host
                else docker.from_env(version="auto", timeout=30))

    def note(service: str, text: str) -> None:
        if ctx.journal is not None:
            ctx.journal.record("action", service, text)

    return undo_leftovers(state_dir, client, note)
