"""One running demo: its files, its local runtime, and the seeds' starting situation.

`DemoSession.open()` refuses to start when any demo port is already taken (a second demo,
or anything else listening there) and names every taken port; otherwise it prepares the
demo directory, starts the services seed 002 found running, and waits until the stand-ins
listen. `close()` stops every process group; the local runtime's reaper covers a console
that dies without closing (SIGKILL, a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from console.demo.apis import GRAFANA_TOKEN_ENV
from console.demo.stack import (
    DEFAULT_OFFSET,
    GRAFANA_TOKEN_FILE,
    RUNNING_AT_START,
    Demo,
    DemoError,
    DemoSettings,
    prepare,
)
from console.fileio import write_text_atomic
from console.model import Stack
from console.runtime.local.runtime import LocalRuntime

LISTEN_WAIT_S = 20.0


@dataclass(frozen=True)
class TakenPort:
    service: str
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.address}:{self.port} ({self.service})"


class PortsTaken(DemoError):
    """Some demo ports are in use; `taken` lists them."""

    def __init__(self, taken: Sequence[TakenPort]) -> None:
        shown = ", ".join(str(t) for t in taken[:8])
        more = f" and {len(taken) - 8} more" if len(taken) > 8 else ""
        super().__init__(
            f"demo: {len(taken)} port(s) already taken: {shown}{more}; is another demo "
            "running? stop it, or pick other ports with --port-offset")
        self.taken = list(taken)


def taken_ports(demo_ports: Sequence[tuple[str, str, int]]) -> list[TakenPort]:
    """Ports someone already listens on (a bind test, as the stand-ins will bind)."""
    taken = []
    for service, address, port in demo_ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    taken.append(TakenPort(service, address, port))
                else:
                    raise DemoError(f"demo: cannot bind {address}:{port} ({service}): "
                                    f"{exc.strerror}") from None
    return taken


@dataclass
class DemoSession:
    settings: DemoSettings
    demo: Demo | None = None
    runtime: LocalRuntime | None = None
    started: list[str] = field(default_factory=list)

    @property
    def stack(self) -> Stack:
        assert self.demo is not None
        return self.demo.stack

    async def open(self, start: Sequence[str] = RUNNING_AT_START) -> DemoSession:
        """Prepare the files, refuse on taken ports, start the seeds' running services."""
        self.demo = prepare(self.settings)
        taken = taken_ports(self.demo.host_ports())
        if taken:
            raise PortsTaken(taken)
        self.runtime = LocalRuntime(self.demo.options, backoff_start=0.25, backoff_max=4.0)
        write_marker(self.demo)  # `status --demo` finds it from here
        self._export_grafana_token()
        for name in start:
            await self.runtime.start(self.stack.service(name))
            self.started.append(name)
        await self.wait_listening(start)
        return self

    async def wait_listening(self, names: Sequence[str], timeout: float = LISTEN_WAIT_S) -> None:
        """Until each started service's first port accepts a connection on its loopback."""
        assert self.demo is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for name in names:
            service = self.stack.service(name)
            if not service.ports or name in ("configuration",):
                continue
            address = self.demo.options[name].loopback
            while loop.time() < deadline and not await _answers(address, service.ports[0]):
                await asyncio.sleep(0.05)

    def _export_grafana_token(self) -> None:
        """The console this process runs (checklist screen, `C`) asks the demo's Grafana
        with its viewer token, unless the operator set one already."""
        assert self.demo is not None
        if not os.environ.get(GRAFANA_TOKEN_ENV):
            os.environ[GRAFANA_TOKEN_ENV] = self.demo.grafana_token
            self._exported_token = True

    async def close(self) -> None:
        if getattr(self, "_exported_token", False):
            os.environ.pop(GRAFANA_TOKEN_ENV, None)
            self._exported_token = False
        if self.demo is not None:
            remove_marker(self.demo.directory)
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None


async def _answers(address: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def default_directory(port_offset: int = DEFAULT_OFFSET) -> Path:
    """`STATE_DIR/demo` (STATE_DIR honours VEXTRUS_STATE_DIR); another port offset gets its
    own `STATE_DIR/demo-OFFSET`, so two demos never share files or a journal."""
    from console.journal import default_state_dir

    name = "demo" if port_offset == DEFAULT_OFFSET else f"demo-{port_offset}"
    return default_state_dir() / name


# --- a running demo, discoverable by headless commands ---------------------------------


def demo_env(stack_source: str) -> dict[str, str]:
    """The process environment, plus the demo Grafana's viewer token when the stack file is
    a demo's (its directory holds the token) and the operator set none."""
    env = dict(os.environ)
    token_file = Path(stack_source).parent / GRAFANA_TOKEN_FILE
    if not env.get(GRAFANA_TOKEN_ENV) and not stack_source.startswith("<"):
        with contextlib.suppress(OSError):
            env[GRAFANA_TOKEN_ENV] = token_file.read_text(encoding="utf-8").strip()
    return env

MARKER = "running.json"


@dataclass(frozen=True)
class RunningDemo:
    """What `status --demo` needs to look at a demo another process runs."""

    pid: int
    directory: Path
    stack_path: Path
    port_offset: int


def write_marker(demo: Demo) -> None:
    """Say in the demo directory that this process runs it (removed by `remove_marker`)."""
    data = {"pid": os.getpid(), "stack": str(demo.stack_path),
            "port_offset": demo.settings.port_offset}
    write_text_atomic(demo.directory / MARKER, json.dumps(data) + "\n")


def remove_marker(directory: Path) -> None:
    marker = directory / MARKER
    with contextlib.suppress(OSError, ValueError):
        if json.loads(marker.read_text()).get("pid") == os.getpid():
            marker.unlink()


def running_demos(state_dir: Path | None = None) -> list[RunningDemo]:
    """Demos whose process is alive, found under the state directory."""
    from console.journal import default_state_dir

    found = []
    for marker in sorted((state_dir or default_state_dir()).glob(f"demo*/{MARKER}")):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(marker.read_text())
            pid = int(data["pid"])
            if _alive(pid):
                found.append(RunningDemo(pid, marker.parent, Path(data["stack"]),
                                         int(data["port_offset"])))
    return found


def find_demo(offset: int | None = None, state_dir: Path | None = None) -> RunningDemo:
    """The running demo (the one on `offset` when given); DemoError says what is there."""
    from console.journal import default_state_dir

    state_dir = state_dir or default_state_dir()
    demos = [d for d in running_demos(state_dir) if offset is None or d.port_offset == offset]
    if len(demos) == 1:
        return demos[0]
    if not demos:
        where = f" on port offset {offset}" if offset is not None else ""
        raise DemoError(f"--demo: no running demo{where} under "
                        f"{state_dir}; start one with `vextrus-console demo`")
    offsets = ", ".join(str(d.port_offset) for d in demos)
    raise DemoError(f"--demo: {len(demos)} demos are running (port offsets {offsets}): "
                    "say which with --demo OFFSET")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
