"""Full-refresh benchmark on a real 40-container stack, against the seeds' method.

The seeds check a stack by hand: `docker exec CONTAINER wget -qO- http://127.0.0.1:PORT/health`
for one service after another. The console lists the runtime once and runs every probe
concurrently. Both run here, in the same run, against the same 40 busybox containers
(host networking, 127.0.0.1 only), and the script prints:

1. median full refresh (console) vs median sequential `docker exec ... wget` sweep, and the
   ratio, on a just-started stack and on a settled one (containers up over a minute, whose
   inspect details are reused: target at least 30x, under 100 ms when all are healthy);
2. the same refresh with 5 services hanging (they accept a connection and never answer),
   against one probe timeout (target: bounded by one timeout, not five);
3. the time from `docker kill` to the changed status reaching the console through the
   events stream (target: under 500 ms).

Run: `make bench` or `.venv/bin/python bench/refresh.py` (needs a Docker daemon).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.model import HealthCheck, Service, Stack
from console.monitor import Monitor
from console.runtime.docker.runtime import DockerRuntime
from tests.dockerlab import DockerLab, docker_available, free_port

SERVICES = 40
HANGING = 5
ROUNDS = 7
PROBE_TIMEOUT = 1.0
SETTLE_S = 65.0


def build_stack(project: str, ports: dict[str, int]) -> Stack:
    services = tuple(
        Service(
            name=name,
            tier="core",
            ports=(port,),
            checks=(HealthCheck("http", port=port, path="/health", timeout=PROBE_TIMEOUT),),
        )
        for name, port in ports.items()
    )
    return Stack(name="bench", services=services, project=project)


def start_containers(lab: DockerLab, ports: dict[str, int]) -> None:
    for name, port in ports.items():
        lab.healthy(name, port, with_healthcheck=False)


def seeds_sweep(lab: DockerLab, ports: dict[str, int]) -> float:
    """The seeds' way: one `docker exec ... wget` after another. Returns seconds."""
    start = time.perf_counter()
    for name, port in ports.items():
        subprocess.run(
            ["docker", "exec", f"{lab.project}-{name}-1", "wget", "-qO-",
             f"http://127.0.0.1:{port}/health"],
            capture_output=True, check=False,
        )
    return time.perf_counter() - start


async def console_refreshes(monitor: Monitor, rounds: int) -> list[float]:
    await monitor.refresh()  # warm: the first call opens the client connection pool
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        status = await monitor.refresh()
        times.append(time.perf_counter() - start)
    print(f"    last refresh: {status.readiness_text}")
    return times


async def kill_to_status(lab: DockerLab, monitor: Monitor, victim: str) -> float:
    """docker kill -> events stream -> the victim no longer operational, as the console does
    it: each runtime event is answered at once by `refresh_states` (one list call with the
    last probe results), while the full refresh with probes runs behind it."""
    events = monitor.events()
    waiter = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.3)  # let the stream connect before the kill
    start = time.perf_counter()
    await asyncio.to_thread(lab.kill, victim)
    behind: list[asyncio.Future[object]] = []
    while True:
        await waiter
        behind.append(asyncio.ensure_future(monitor.refresh()))  # the console does both
        status = await monitor.refresh_states()
        if status.get(victim).state.value != "operational":
            elapsed = time.perf_counter() - start
            break
        waiter = asyncio.ensure_future(anext(events))
    await asyncio.gather(*behind)
    await events.aclose()
    return elapsed


def hang(lab: DockerLab, name: str, port: int) -> None:
    """Replace a healthy service by one that accepts connections and never answers."""
    lab.container(name).remove(force=True)
    lab.hanging(name, port)


async def main() -> int:
    ok, reason = docker_available()
    if not ok:
        print(f"bench/refresh: {reason}", file=sys.stderr)
        return 2
    project = f"vxbench-{os.getpid()}"
    lab = DockerLab(project)
    ports = {f"svc{i:02d}": free_port() for i in range(SERVICES)}
    print(f"starting {SERVICES} busybox httpd containers (host network, 127.0.0.1) ...")
    runtime = DockerRuntime(project)
    try:
        start_containers(lab, ports)
        monitor = Monitor(build_stack(project, ports), runtime, None)

        started = time.monotonic()
        print("1. all healthy, just started (every container inspected on each refresh)")
        fresh = statistics.median(await console_refreshes(monitor, ROUNDS))
        seeds = [seeds_sweep(lab, ports) for _ in range(3)]
        s_med = statistics.median(seeds)
        print(f"    console full refresh, median of {ROUNDS}: {fresh * 1000:8.1f} ms")
        print(f"    seeds' sequential docker exec wget, median of 3: {s_med * 1000:8.1f} ms")
        print(f"    ratio: {s_med / fresh:6.1f}x faster")
        # Containers up for over a minute are "settled": their inspect details are reused
        # while the list row is unchanged (the steady state an operator watches).
        await asyncio.sleep(max(0.0, SETTLE_S - (time.monotonic() - started)))
        print("1b. all healthy, settled (up over a minute)")
        settled = statistics.median(await console_refreshes(monitor, ROUNDS))
        print(f"    console full refresh, median of {ROUNDS}: {settled * 1000:8.1f} ms"
              "   (target < 100 ms)")
        print(f"    ratio: {s_med / settled:6.1f}x faster than the seeds' sweep"
              "   (target >= 30x)")

        print(f"2. {HANGING} services hanging (probe timeout {PROBE_TIMEOUT:.1f} s)")
        for name in list(ports)[:HANGING]:
            hang(lab, name, ports[name])
        hung = await console_refreshes(monitor, 3)
        h_med = statistics.median(hung)
        print(f"    console full refresh, median of 3: {h_med * 1000:8.1f} ms"
              f"   (bound: one timeout, {PROBE_TIMEOUT * 1000:.0f} ms, plus overhead;"
              f" sequential would be >= {HANGING * PROBE_TIMEOUT * 1000:.0f} ms)")

        print(f"3. docker kill -> changed status (the {HANGING} hanging services still there)")
        victim = list(ports)[-1]
        latency = await kill_to_status(lab, monitor, victim)
        print(f"    {victim}: {latency * 1000:.0f} ms   (target < 500 ms)")
    finally:
        await runtime.close()
        lab.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
