"""Bring-up benchmark: a 40-service stack, the console's phased bring-up vs the seeds' script.

The seeds' start-up script runs `docker compose up -d SERVICE` and then `sleep 30`, one
service after another, whether the service took one second or never came up. The console
starts each dependency layer with bounded parallelism and waits on the probes instead.

Both run here against the same 40 busybox containers (host networking, 127.0.0.1), in
dependency layers like the Vextrus stack (8 infrastructure, 12 core, 16 business,
4 gateway). The seeds' script is run for real (its `docker start` calls, one by one) and its
sleeps are added as what they are: exactly 30 s each. Printed: both wall times and the ratio.

Run: `.venv/bin/python bench/bringup.py` (needs a Docker daemon).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.base import CancelToken, execute
from actions.bringup import BringUp
from console.model import HealthCheck, Service, Stack
from console.monitor import Monitor
from console.runtime.docker import DockerRuntime
from tests.dockerlab import DockerLab, docker_available, ensure_image, free_port

LAYERS = (("infra", 8, 0), ("core", 12, 1), ("business", 16, 2), ("gateway", 4, 3))
SEEDS_SLEEP = 30.0


def build_stack(project: str) -> tuple[Stack, dict[str, int]]:
    services: list[Service] = []
    ports: dict[str, int] = {}
    previous: list[str] = []
    for tier, count, phase in LAYERS:
        names = [f"{tier}{i:02d}" for i in range(count)]
        for i, name in enumerate(names):
            ports[name] = free_port()
            deps = tuple(previous[i % len(previous): i % len(previous) + 2]) if previous else ()
            services.append(Service(
                name=name, tier=tier, phase=phase, ports=(ports[name],), depends_on=deps,
                checks=(HealthCheck("http", port=ports[name], path="/health", timeout=1.0),),
            ))
        previous = names
    phases = {phase: tier for tier, _, phase in LAYERS}
    return Stack("bench", tuple(services), project=project, phases=phases), ports


def create_all(lab: DockerLab, ports: dict[str, int]) -> None:
    image = ensure_image(lab.client)
    for name, port in ports.items():
        lab.client.containers.create(
            image, ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"],
            name=f"{lab.project}-{name}-1", labels=lab.labels(name), network_mode="host",
        )


def stop_all(lab: DockerLab, ports: dict[str, int]) -> None:
    names = [f"{lab.project}-{n}-1" for n in ports]
    subprocess.run(["docker", "stop", "-t", "1", *names], capture_output=True, check=False)


async def console_bringup(stack: Stack, project: str) -> tuple[float, str]:
    runtime = DockerRuntime(project)
    monitor = Monitor(stack, runtime, None)
    action = BringUp(stack, runtime, monitor, None, parallel=4, timeout=60)
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


def seeds_script(lab: DockerLab, ports: dict[str, int]) -> float:
    """The seeds' loop without its sleeps: `docker start` one service after another."""
    start = time.perf_counter()
    for name in ports:
        subprocess.run(["docker", "start", f"{lab.project}-{name}-1"], capture_output=True,
                       check=False)
    return time.perf_counter() - start


def main() -> int:
    ok, reason = docker_available()
    if not ok:
        print(f"bench/bringup: {reason}", file=sys.stderr)
        return 2
    project = f"vxbench-up-{os.getpid()}"
    lab = DockerLab(project)
    stack, ports = build_stack(project)
    try:
        create_all(lab, ports)
        print(f"{len(ports)} services in {len(LAYERS)} phases, parallelism 4")
        wall, summary = asyncio.run(console_bringup(stack, project))
        readiness = summary.split(";")[0]
        print(f"console bring-up (waits on probes):   {wall:8.1f} s   -> {readiness}")
        stop_all(lab, ports)
        starts = seeds_script(lab, ports)
        seeds = starts + SEEDS_SLEEP * len(ports)
        print(f"seeds' script: docker start x{len(ports)} measured {starts:.1f} s"
              f" + sleep 30 x{len(ports)} = {seeds:8.1f} s")
        print(f"ratio: {seeds / wall:.0f}x faster")
    finally:
        lab.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
