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
from urllib.parse import urlsplit

ENV_LOOPBACK = "VEXTRUS_LOOPBACK"
BODY_LIMIT = 1 << 20


def inside_host(host: str) -> str:
    """127.0.0.1 / localhost mean the service's own loopback; other hosts stay as they are."""
    loopback = os.environ.get(ENV_LOOPBACK, "127.0.0.1")
    try:
        if not ipaddress.IPv4Address(loopback).is_loopback:
            loopback = "127.0.0.1"
    except ValueError:
        loopback = "127.0.0.1"
    return loopback if host in ("127.0.0.1", "localhost") else host


def wget(args: list[str]) -> int:
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
        print("wget: missing URL", file=sys.stderr)
        return 1
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        print(f"wget: not an http URL: {url}", file=sys.stderr)
        return 1
    host = inside_host(parts.hostname)
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "Wget", "Connection": "close"})
        response = conn.getresponse()
        body = response.read(BODY_LIMIT)
    except ConnectionRefusedError:
        print(f"wget: can't connect to remote host ({host}): Connection refused", file=sys.stderr)
        return 1
    except TimeoutError:
        print("wget: download timed out", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"wget: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except http.client.HTTPException as exc:
        print(f"wget: bad response: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if response.status >= 400:
        print(f"wget: server returned error: HTTP/1.1 {response.status} {response.reason}",
              file=sys.stderr)
        return 1
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0


def nc(args: list[str]) -> int:
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
        print("nc: usage: nc [-w SECONDS] HOST PORT", file=sys.stderr)
        return 1
    host = inside_host(rest[0])
    try:
        with socket.create_connection((host, int(rest[1])), timeout=timeout):
            return 0
    except ConnectionRefusedError:
        print(f"nc: can't connect to remote host ({host}): Connection refused", file=sys.stderr)
    except OSError as exc:
        print(f"nc: {exc.strerror or exc}", file=sys.stderr)
    return 1


def _number(text: str, default: float) -> float:
    try:
        return max(0.1, float(text))
    except ValueError:
        return default


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m console.runtime.local.tools wget|nc ARGS...", file=sys.stderr)
        return 2
    tools = {"wget": wget, "nc": nc}
    tool = tools.get(os.path.basename(argv[0]))
    if tool is None:
        print(f"{argv[0]}: applet not found", file=sys.stderr)
        return 127
    return tool(argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
