"""Bring-up benchmark: 40 services from nothing created, three ways, in one run.

A generated compose project (busybox FROM scratch, host networking, loopback ports
26100-26139) in dependency layers like the Vextrus stack: 8 infrastructure, 12 core,
16 business, 4 gateway; every service has a Docker healthcheck (a wget of its /health) and
depends on two services of the layer before with `condition: service_healthy`.

1. The console: `vextrus-console bringup --yes`'s action, phased by layer. Compose creates
   and starts each layer (`up -d --no-deps`), the console waits on its probes and the edge
   conditions.
2. Compose's own `docker compose up -d --wait` on the same project.
3. The seeds' script: `docker compose up -d SERVICE` then `sleep 30`, one service after
   another. Its 40 `up` commands are run for real and timed; its sleeps are NOT slept (that
   would be 20 minutes): they are added as what they are, exactly 30 s each.

Everything is removed (`docker compose down`) before each run, so each starts from nothing.
Printed: the three wall times and the ratios; the goal is at most 1.2x Compose's `up --wait`.

Run: `.venv/bin/python bench/bringup.py` (needs a Docker daemon).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.base import CancelToken, execute
from actions.bringup import BringUp
from console.compose import find_compose, source_args
from console.compose_import import load_compose_stack
from console.model import ComposeSource, Stack
from console.monitor import Monitor
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import IMAGE, DockerLab, docker_available, ensure_image

LAYERS = (("infra", 8), ("core", 12), ("business", 16), ("gateway", 4))
FIRST_PORT = 26100  # below the ephemeral range, unlikely to clash with the tests' ports
SEEDS_SLEEP = 30.0


def compose_text() -> str:
    """The project: one service per port, each depending on two of the layer before."""
    lines = ["services:"]
    port = FIRST_PORT
    previous: list[str] = []
    for tier, count in LAYERS:
        names = [f"{tier}{i:02d}" for i in range(count)]
        for i, name in enumerate(names):
            deps = previous[i % len(previous): i % len(previous) + 2] if previous else []
            lines += [
                f"  {name}:",
                f"    image: {IMAGE}",
                "    pull_policy: never",
                "    network_mode: host",
                "    stop_grace_period: 1s",
                f'    command: ["httpd", "-f", "-p", "127.0.0.1:{port}", "-h", "/www"]',
                "    healthcheck:",
                f'      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:{port}/health"]',
                "      interval: 2s",
                "      retries: 60",
            ]
            if deps:
                lines.append("    depends_on:")
                for dep in deps:
                    lines += [f"      {dep}:", "        condition: service_healthy"]
            port += 1
        previous = names
    return "\n".join(lines) + "\n"


def ports_free() -> list[int]:
    taken = []
    for port in range(FIRST_PORT, FIRST_PORT + sum(n for _, n in LAYERS)):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                taken.append(port)
    return taken


def compose(source: ComposeSource, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_compose().path, *source_args(source), *args],
                          capture_output=True, text=True, check=False)


def down(source: ComposeSource) -> None:
    compose(source, "down", "-t", "1", "--remove-orphans")


async def console_bringup(stack: Stack) -> tuple[float, str]:
    runtime = DockerRuntime(stack.project, compose=stack.compose)
    monitor = Monitor(stack, runtime, None)
    action = BringUp(stack, runtime, monitor, None, parallel=4, timeout=120)
    start = time.perf_counter()
    last = ""
    try:
        async for event in execute(action, CancelToken()):
            if event.kind == "failed":
                print(f"    failed: {event.line()}")
            last = event.message
    finally:
        await runtime.close()
    return time.perf_counter() - start, last


def compose_up_wait(source: ComposeSource) -> float:
    start = time.perf_counter()
    done = compose(source, "up", "-d", "--wait")
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(f"    compose up --wait failed: {done.stderr.strip()[-300:]}")
    return wall


def seeds_commands(source: ComposeSource, names: list[str]) -> float:
    """The script's `docker compose up -d SERVICE` lines, one after another, for real."""
    start = time.perf_counter()
    for name in names:
        compose(source, "up", "-d", name)
    return time.perf_counter() - start


def main() -> int:
    ok, reason = docker_available()
    if not ok:
        print(f"bench/bringup: {reason}", file=sys.stderr)
        return 2
    taken = ports_free()
    if taken:
        print(f"bench/bringup: ports in use: {taken}", file=sys.stderr)
        return 2
    lab = DockerLab(f"vxbench-up-{os.getpid()}")
    ensure_image(lab.client)
    with tempfile.TemporaryDirectory(prefix="vxbench-") as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(compose_text())
        source = ComposeSource(files=(str(path),), project=lab.project)
        stack = load_compose_stack(source)
        names = stack.names()
        binary = find_compose()
        print(f"{len(names)} services in {len(stack.phases)} phases (dependency layers), "
              f"compose {binary.version()} ({binary.origin})")
        try:
            down(source)
            wall, summary = asyncio.run(console_bringup(stack))
            readiness = summary.split(";")[0]
            print(f"console bring-up (phased, waits on probes):  {wall:7.1f} s   -> {readiness}")
            down(source)
            up_wait = compose_up_wait(source)
            print(f"docker compose up -d --wait:                 {up_wait:7.1f} s")
            down(source)
            commands = seeds_commands(source, names)
            seeds = commands + SEEDS_SLEEP * len(names)
            print(f"seeds' script: {len(names)} x `docker compose up -d SERVICE` measured "
                  f"{commands:.1f} s + {len(names)} x sleep 30 (added, not slept) = "
                  f"{seeds:.1f} s")
            print(f"ratio console / compose up --wait: {wall / up_wait:.2f}x (goal <= 1.2x)")
            print(f"ratio seeds' script / console: {seeds / wall:.0f}x faster")
        finally:
            down(source)
            lab.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
