"""Built-in `wget` and `nc` applets for `LocalRuntime.exec`: the "inside" view of a process.

A container has its own loopback; a local process has the address the runtime gave it
(`VEXTRUS_LOOPBACK`). These applets behave like busybox's (`wget -q -O - [-T N] URL`,
`nc [-w N] HOST PORT`), with the same words on failure (the probes read them), and they
read 127.0.0.1 and localhost as that loopback. They never use a proxy.

    python -m console.runtime.local.tools wget -qO- -T 2 http://127.0.0.1:3001/health
    python -m console.runtime.local.tools nc -w 1 127.0.0.1 5432
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

ENV_LOOPBACK = "VEXTRUS_LOOPBACK"
BODY_LIMIT = 1 << 20


def inside_host(host: str, loopback: str | None = None) -> str:
    """127.0.0.1 / localhost mean the service's own loopback; other hosts stay as they are."""
    loopback = loopback or os.environ.get(ENV_LOOPBACK, "127.0.0.1")
    try:
        if not ipaddress.IPv4Address(loopback).is_loopback:
            loopback = "127.0.0.1"
    except ValueError:
        loopback = "127.0.0.1"
    return loopback if host in ("127.0.0.1", "localhost") else host


def wget(args: list[str], out: Output | None = None, loopback: str | None = None) -> int:
    out = out or _std()
    timeout, url, quiet = 10.0, "", False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-T", "--timeout") and i + 1 < len(args):
            timeout = _number(args[i + 1], 10.0)
            i += 2
            continue
        if a in ("-O", "--output-document") and i + 1 < len(args):
            i += 2  # always stdout
            continue
        if a.startswith("-"):
            quiet = quiet or "q" in a
            i += 1
            continue
        url = a
        i += 1
    if not url:
        out.err("wget: missing URL")
        return 1
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        out.err(f"wget: not an http URL: {url}")
        return 1
    host = inside_host(parts.hostname, loopback)
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "Wget", "Connection": "close"})
        response = conn.getresponse()
        body = response.read(BODY_LIMIT)
    except ConnectionRefusedError:
        out.err(f"wget: can't connect to remote host ({host}): Connection refused")
        return 1
    except TimeoutError:
        out.err("wget: download timed out")
        return 1
    except OSError as exc:
        out.err(f"wget: {exc.strerror or exc}")
        return 1
    except http.client.HTTPException as exc:
        out.err(f"wget: bad response: {exc}")
        return 1
    finally:
        conn.close()
    if response.status >= 400:
        out.err(f"wget: server returned error: HTTP/1.1 {response.status} {response.reason}")
        return 1
    out.data(body)
    return 0


def nc(args: list[str], out: Output | None = None, loopback: str | None = None) -> int:
    out = out or _std()
    timeout = 5.0
    rest: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "-w" and i + 1 < len(args):
            timeout = _number(args[i + 1], 5.0)
            i += 2
            continue
        if args[i].startswith("-"):
            i += 1
            continue
        rest.append(args[i])
        i += 1
    if len(rest) != 2 or not rest[1].isdigit():
        out.err("nc: usage: nc [-w SECONDS] HOST PORT")
        return 1
    host = inside_host(rest[0], loopback)
    try:
        with socket.create_connection((host, int(rest[1])), timeout=timeout):
            return 0
    except ConnectionRefusedError:
        out.err(f"nc: can't connect to remote host ({host}): Connection refused")
    except OSError as exc:
        out.err(f"nc: {exc.strerror or exc}")
    return 1


def _number(text: str, default: float) -> float:
    try:
        return max(0.1, float(text))
    except ValueError:
        return default


class Output:
    """Where an applet writes: the process's stdout and stderr, or one buffer (in-process,
    as `exec` merges stderr into stdout)."""

    def __init__(self, data: Callable[[bytes], object], err: Callable[[bytes], object]) -> None:
        self._data, self._err = data, err

    def data(self, body: bytes) -> None:
        self._data(body)

    def err(self, line: str) -> None:
        self._err(f"{line}\n".encode())


def _std() -> Output:
    def data(body: bytes) -> None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()

    return Output(data, sys.stderr.buffer.write)


def is_applet(argv: list[str]) -> bool:
    """`wget ...`, `nc ...` (a bare name, not a path): what these applets play."""
    return bool(argv) and argv[0] in TOOLS


def run_in_process(argv: list[str], loopback: str) -> tuple[int, bytes]:
    """The applet in this process, for a service on `loopback`: exit code and output.

    The local runtime calls it from a thread for exec checks: a Python interpreter per
    check (40-50 ms of CPU) made a port-proxy diagnosis start 30 of them, and the console's
    keys waited for the CPU while the demo ran."""
    buffer = bytearray()
    code = TOOLS[argv[0]](argv[1:], Output(buffer.extend, buffer.extend), loopback)
    return code, bytes(buffer)


Tool = Callable[[list[str], Output | None, str | None], int]
TOOLS: dict[str, Tool] = {"wget": wget, "nc": nc}


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m console.runtime.local.tools wget|nc ARGS...", file=sys.stderr)
        return 2
    tool = TOOLS.get(os.path.basename(argv[0]))
    if tool is None:
        print(f"{argv[0]}: applet not found", file=sys.stderr)
        return 127
    return tool(argv[1:], None, None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
